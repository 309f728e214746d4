package validator

import (
	"strings"
	"unicode/utf8"

	"flowgate"
)

// The decimal places rules BR-DEC-nn of the CEN artefacts v1.3.16: each
// is string-length(substring-after(amount, '.')) <= 2 on the amount as
// written, so trailing zeros, spaces and anything after the first '.'
// count as characters. Not implemented: BR-DEC-02, BR-DEC-06, BR-DEC-25
// and BR-DEC-28 (the base amounts BT-93, BT-100, BT-137, BT-142, which the
// parser does not read).

// overTwoDecimals is not(string-length(substring-after(a, '.')) <= 2) on
// the amount a as written: true when more than two characters (Unicode
// code points, as string-length counts) follow its first '.'. An absent
// amount has none.
func overTwoDecimals(a flowgate.Amount) bool {
	if !a.Present {
		return false
	}
	_, after, ok := strings.Cut(a.Raw, ".")
	return ok && utf8.RuneCountInString(after) > 2
}

// decimalsFR is the French message of a decimal places rule on term.
func decimalsFR(term string) string {
	return "Le nombre de décimales autorisé pour " + term + " est au plus 2."
}

// totalDecimals is a decimal places rule on one amount of
// cac:LegalMonetaryTotal (context cac:LegalMonetaryTotal).
func totalDecimals(id, field, term, en string, get func(*flowgate.MonetaryTotal) flowgate.Amount) Rule {
	return Rule{ID: id, Field: field, FR: decimalsFR(term), EN: en, check: func(inv *flowgate.Invoice, fail func(hit)) {
		totals(inv, func(t *flowgate.MonetaryTotal) {
			if a := get(t); overTwoDecimals(a) {
				fail(hit{value: a.Raw})
			}
		})
	}}
}

// allowanceDecimals fails an allowance or charge whose amount has more
// than two decimals.
func allowanceDecimals(ac *flowgate.AllowanceCharge) (hit, bool) {
	return hit{value: ac.Amount.Raw}, overTwoDecimals(ac.Amount)
}

// breakdownDecimals is a decimal places rule on an amount of each VAT
// breakdown, context cac:TaxTotal/cac:TaxSubtotal: those of the document
// level cac:TaxTotal (positions counted across them), of the lines and of
// any other cac:TaxTotal.
func breakdownDecimals(id, field, term, en string, get func(*flowgate.TaxSubtotal) flowgate.Amount) Rule {
	return Rule{ID: id, Field: field, FR: decimalsFR(term), EN: en, check: func(inv *flowgate.Invoice, fail func(hit)) {
		n := 0
		for _, tt := range inv.TaxTotals {
			for i := range tt.Subtotals {
				n++
				if st := &tt.Subtotals[i]; overTwoDecimals(get(st)) {
					fail(hit{value: get(st).Raw, at: onBreakdown, pos: n, st: st})
				}
			}
		}
		eachDetail(inv, func(i int, d *flowgate.LineDetails) {
			for _, tt := range d.TaxTotals {
				for j := range tt.Subtotals {
					if a := get(&tt.Subtotals[j]); overTwoDecimals(a) {
						fail(lineHit(a.Raw, inv, i))
					}
				}
			}
		})
		for _, tt := range inv.OtherTaxTotals {
			for j := range tt.Subtotals {
				if a := get(&tt.Subtotals[j]); overTwoDecimals(a) {
					fail(hit{value: a.Raw})
				}
			}
		}
	}}
}

// neverFires is the check of a rule whose official XPath cannot fail.
func neverFires(*flowgate.Invoice, func(hit)) {}

var decimalRules = []Rule{
	allowanceRule("BR-DEC-01", "BT-92",
		decimalsFR("le montant de la remise au niveau du document (BT-92)"),
		"The allowed maximum number of decimals for the Document level allowance amount (BT-92) is 2.",
		false, allowanceDecimals),
	allowanceRule("BR-DEC-05", "BT-99",
		decimalsFR("le montant de la charge au niveau du document (BT-99)"),
		"The allowed maximum number of decimals for the Document level charge amount (BT-99) is 2.",
		true, allowanceDecimals),
	totalDecimals("BR-DEC-09", "BT-106", "la somme des montants nets des lignes (BT-106)",
		"The allowed maximum number of decimals for the Sum of Invoice line net amount (BT-106) is 2.",
		func(t *flowgate.MonetaryTotal) flowgate.Amount { return t.LineExtension }),
	totalDecimals("BR-DEC-10", "BT-107", "la somme des remises au niveau du document (BT-107)",
		"The allowed maximum number of decimals for the Sum of allowanced on document level (BT-107) is 2.",
		func(t *flowgate.MonetaryTotal) flowgate.Amount { return t.AllowanceTotal }),
	totalDecimals("BR-DEC-11", "BT-108", "la somme des charges au niveau du document (BT-108)",
		"The allowed maximum number of decimals for the Sum of charges on document level (BT-108) is 2.",
		func(t *flowgate.MonetaryTotal) flowgate.Amount { return t.ChargeTotal }),
	totalDecimals("BR-DEC-12", "BT-109", "le montant total hors TVA (BT-109)",
		"The allowed maximum number of decimals for the Invoice total amount without VAT (BT-109) is 2.",
		func(t *flowgate.MonetaryTotal) flowgate.Amount { return t.TaxExclusive }),
	// BR-DEC-13 and BR-DEC-15 select
	// //cac:TaxTotal/cbc:TaxAmount[@currencyID = cbc:DocumentCurrencyCode]
	// (cbc:TaxCurrencyCode): inside the predicate the context is the
	// cbc:TaxAmount, which has no such child, so the selection is always
	// empty and the assertion always holds. v1.3.16 never fires them.
	{ID: "BR-DEC-13", Field: "BT-110", FR: decimalsFR("le montant total de TVA (BT-110)"),
		EN:    "The allowed maximum number of decimals for the Invoice total VAT amount (BT-110) is 2.",
		check: neverFires},
	totalDecimals("BR-DEC-14", "BT-112", "le montant total TVA comprise (BT-112)",
		"The allowed maximum number of decimals for the Invoice total amount with VAT (BT-112) is 2.",
		func(t *flowgate.MonetaryTotal) flowgate.Amount { return t.TaxInclusive }),
	{ID: "BR-DEC-15", Field: "BT-111", FR: decimalsFR("le montant total de TVA en devise de comptabilisation (BT-111)"),
		EN:    "The allowed maximum number of decimals for the Invoice total VAT amount in accounting currency (BT-111) is 2.",
		check: neverFires},
	totalDecimals("BR-DEC-16", "BT-113", "le montant payé (BT-113)",
		"The allowed maximum number of decimals for the Paid amount (BT-113) is 2.",
		func(t *flowgate.MonetaryTotal) flowgate.Amount { return t.Prepaid }),
	totalDecimals("BR-DEC-17", "BT-114", "le montant d'arrondi (BT-114)",
		"The allowed maximum number of decimals for the Rounding amount (BT-114) is 2.",
		func(t *flowgate.MonetaryTotal) flowgate.Amount { return t.Rounding }),
	totalDecimals("BR-DEC-18", "BT-115", "le montant à payer (BT-115)",
		"The allowed maximum number of decimals for the Amount due for payment (BT-115) is 2.",
		func(t *flowgate.MonetaryTotal) flowgate.Amount { return t.Payable }),
	breakdownDecimals("BR-DEC-19", "BT-116", "la base imposable de la catégorie de TVA (BT-116)",
		"The allowed maximum number of decimals for the VAT category taxable amount (BT-116) is 2.",
		func(st *flowgate.TaxSubtotal) flowgate.Amount { return st.TaxableAmount }),
	breakdownDecimals("BR-DEC-20", "BT-117", "le montant de TVA de la catégorie (BT-117)",
		"The allowed maximum number of decimals for the VAT category tax amount (BT-117) is 2.",
		func(st *flowgate.TaxSubtotal) flowgate.Amount { return st.TaxAmount }),
	eachLine("BR-DEC-23", "BT-131",
		decimalsFR("le montant net de la ligne (BT-131)"),
		"The allowed maximum number of decimals for the Invoice line net amount (BT-131) is 2.",
		func(l *flowgate.Line) (string, bool) { return l.LineExtension.Raw, overTwoDecimals(l.LineExtension) }),
	lineAllowanceRule("BR-DEC-24", "BT-136",
		decimalsFR("le montant de la remise de ligne (BT-136)"),
		"The allowed maximum number of decimals for the Invoice line allowance amount (BT-136) is 2.",
		false, allowanceDecimals),
	lineAllowanceRule("BR-DEC-27", "BT-141",
		decimalsFR("le montant de la charge de ligne (BT-141)"),
		"The allowed maximum number of decimals for the Invoice line charge amount (BT-141) is 2.",
		true, allowanceDecimals),
}
