package validator

import (
	"flowgate"
)

// Rule is one EN 16931 business rule, under its official id, as bound to
// UBL by the CEN Schematron (v1.3.13). Each check reproduces the XPath of
// that Schematron, including what it does with absent elements, so that the
// CEN unit tests can serve as the oracle.
type Rule struct {
	ID    string
	Field string // the business term or group concerned
	FR    string // message in French
	EN    string // message in English (the official text)
	check func(*flowgate.Invoice, func(value string))
}

// Check runs the rule alone on inv and returns its findings (one per
// failing context: a rule on lines fails once per bad line).
func (r *Rule) Check(inv *flowgate.Invoice) []flowgate.Finding {
	var out []flowgate.Finding
	r.check(inv, func(value string) {
		out = append(out, flowgate.Finding{Code: r.ID, Severity: flowgate.Fatal, Field: r.Field,
			Value: value, MessageFR: r.FR, Message: r.EN})
	})
	return out
}

// Rules returns the EN 16931 rules flowgate implements, in report order.
func Rules() []Rule { return enRules }

// blank is XPath's normalize-space(x) = ”.
func blank(s string) bool {
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case ' ', '\t', '\n', '\r':
		default:
			return false
		}
	}
	return true
}

// sum2 is XPath's round(sum(xs:decimal(...)) * 10 * 10) div 100 over the
// present amounts; ok is false when one of them is not a decimal (the
// Schematron would raise a dynamic error, which fails the assertion).
func sum2(amounts []flowgate.Amount) (flowgate.Decimal, bool) {
	var total flowgate.Decimal
	for _, a := range amounts {
		if !a.Present {
			continue
		}
		if !a.OK {
			return total, false
		}
		total = total.Add(a.Value)
	}
	return total.Round(2), true
}

// eq is XPath's xs:decimal(a) = b with b already computed: false when a is
// absent or not a decimal.
func eq(a flowgate.Amount, b flowgate.Decimal) bool {
	return a.Present && a.OK && a.Value.Equal(b)
}

// val is the decimal value of a present, valid amount.
func val(a flowgate.Amount) (flowgate.Decimal, bool) { return a.Value, a.Present && a.OK }

func lineAmounts(inv *flowgate.Invoice) []flowgate.Amount {
	out := make([]flowgate.Amount, len(inv.Lines))
	for i := range inv.Lines {
		out[i] = inv.Lines[i].LineExtension
	}
	return out
}

func allowanceAmounts(inv *flowgate.Invoice, charge bool) ([]flowgate.Amount, int) {
	var out []flowgate.Amount
	n := 0
	for i := range inv.AllowanceCharges {
		ac := &inv.AllowanceCharges[i]
		if charge && ac.IsCharge() || !charge && ac.IsAllowance() {
			out = append(out, ac.Amount)
			n++
		}
	}
	return out, n
}

// totals runs fn once per cac:LegalMonetaryTotal: rules whose context is
// that element do not fire when it is absent.
func totals(inv *flowgate.Invoice, fn func(t *flowgate.MonetaryTotal)) {
	if inv.Count.LegalMonetaryTotal > 0 {
		fn(&inv.Totals)
	}
}

// document-level presence rules, context /Invoice | /CreditNote.
func present(id, field, fr, en string, get func(*flowgate.Invoice) string) Rule {
	return Rule{ID: id, Field: field, FR: fr, EN: en, check: func(inv *flowgate.Invoice, fail func(string)) {
		if blank(get(inv)) {
			fail("")
		}
	}}
}

func totalPresent(id, field, fr, en string, get func(*flowgate.MonetaryTotal) flowgate.Amount) Rule {
	return Rule{ID: id, Field: field, FR: fr, EN: en, check: func(inv *flowgate.Invoice, fail func(string)) {
		totals(inv, func(t *flowgate.MonetaryTotal) {
			if !get(t).Present {
				fail("")
			}
		})
	}}
}

func eachLine(id, field, fr, en string, bad func(l *flowgate.Line) (string, bool)) Rule {
	return Rule{ID: id, Field: field, FR: fr, EN: en, check: func(inv *flowgate.Invoice, fail func(string)) {
		for i := range inv.Lines {
			if v, isBad := bad(&inv.Lines[i]); isBad {
				fail(v)
			}
		}
	}}
}

var enRules = []Rule{
	present("BR-01", "BT-24",
		"La facture doit avoir un identifiant de spécification (BT-24, CustomizationID).",
		"An Invoice shall have a Specification identifier (BT-24).",
		func(inv *flowgate.Invoice) string { return inv.CustomizationID }),
	present("BR-02", "BT-1",
		"La facture doit avoir un numéro de facture (BT-1).",
		"An Invoice shall have an Invoice number (BT-1).",
		func(inv *flowgate.Invoice) string { return inv.Number }),
	present("BR-03", "BT-2",
		"La facture doit avoir une date d'émission (BT-2).",
		"An Invoice shall have an Invoice issue date (BT-2).",
		func(inv *flowgate.Invoice) string { return inv.IssueDate }),
	present("BR-04", "BT-3",
		"La facture doit avoir un code de type de facture (BT-3).",
		"An Invoice shall have an Invoice type code (BT-3).",
		func(inv *flowgate.Invoice) string { return inv.TypeCode }),
	present("BR-05", "BT-5",
		"La facture doit avoir un code de devise (BT-5).",
		"An Invoice shall have an Invoice currency code (BT-5).",
		func(inv *flowgate.Invoice) string { return inv.Currency }),
	present("BR-06", "BT-27",
		"La facture doit contenir la raison sociale du vendeur (BT-27).",
		"An Invoice shall contain the Seller name (BT-27).",
		func(inv *flowgate.Invoice) string { return inv.Seller.Name }),
	present("BR-07", "BT-44",
		"La facture doit contenir la raison sociale de l'acheteur (BT-44).",
		"An Invoice shall contain the Buyer name (BT-44).",
		func(inv *flowgate.Invoice) string { return inv.Buyer.Name }),
	{ID: "BR-08", Field: "BG-5",
		FR: "La facture doit contenir l'adresse postale du vendeur (BG-5).",
		EN: "An Invoice shall contain the Seller postal address (BG-5).",
		check: func(inv *flowgate.Invoice, fail func(string)) {
			if !inv.Seller.HasAddress {
				fail("")
			}
		}},
	{ID: "BR-09", Field: "BT-40",
		FR: "L'adresse postale du vendeur (BG-5) doit contenir un code pays (BT-40).",
		EN: "The Seller postal address (BG-5) shall contain a Seller country code (BT-40).",
		check: func(inv *flowgate.Invoice, fail func(string)) {
			if inv.Seller.HasAddress && blank(inv.Seller.CountryCode) {
				fail("")
			}
		}},
	{ID: "BR-10", Field: "BG-8",
		FR: "La facture doit contenir l'adresse postale de l'acheteur (BG-8).",
		EN: "An Invoice shall contain the Buyer postal address (BG-8).",
		check: func(inv *flowgate.Invoice, fail func(string)) {
			if !inv.Buyer.HasAddress {
				fail("")
			}
		}},
	{ID: "BR-11", Field: "BT-55",
		FR: "L'adresse postale de l'acheteur (BG-8) doit contenir un code pays (BT-55).",
		EN: "The Buyer postal address shall contain a Buyer country code (BT-55).",
		check: func(inv *flowgate.Invoice, fail func(string)) {
			if inv.Buyer.HasAddress && blank(inv.Buyer.CountryCode) {
				fail("")
			}
		}},
	totalPresent("BR-12", "BT-106",
		"La facture doit avoir la somme des montants nets des lignes (BT-106).",
		"An Invoice shall have the Sum of Invoice line net amount (BT-106).",
		func(t *flowgate.MonetaryTotal) flowgate.Amount { return t.LineExtension }),
	totalPresent("BR-13", "BT-109",
		"La facture doit avoir le montant total hors TVA (BT-109).",
		"An Invoice shall have the Invoice total amount without VAT (BT-109).",
		func(t *flowgate.MonetaryTotal) flowgate.Amount { return t.TaxExclusive }),
	totalPresent("BR-14", "BT-112",
		"La facture doit avoir le montant total TVA comprise (BT-112).",
		"An Invoice shall have the Invoice total amount with VAT (BT-112).",
		func(t *flowgate.MonetaryTotal) flowgate.Amount { return t.TaxInclusive }),
	totalPresent("BR-15", "BT-115",
		"La facture doit avoir le montant à payer (BT-115).",
		"An Invoice shall have the Amount due for payment (BT-115).",
		func(t *flowgate.MonetaryTotal) flowgate.Amount { return t.Payable }),
	{ID: "BR-16", Field: "BG-25",
		FR: "La facture doit avoir au moins une ligne (BG-25).",
		EN: "An Invoice shall have at least one Invoice line (BG-25).",
		check: func(inv *flowgate.Invoice, fail func(string)) {
			if len(inv.Lines) == 0 {
				fail("")
			}
		}},
	eachLine("BR-21", "BT-126",
		"Chaque ligne de facture (BG-25) doit avoir un identifiant de ligne (BT-126).",
		"Each Invoice line (BG-25) shall have an Invoice line identifier (BT-126).",
		func(l *flowgate.Line) (string, bool) { return "", blank(l.ID) }),
	eachLine("BR-22", "BT-129",
		"Chaque ligne de facture (BG-25) doit avoir une quantité facturée (BT-129).",
		"Each Invoice line (BG-25) shall have an Invoiced quantity (BT-129).",
		func(l *flowgate.Line) (string, bool) { return l.ID, !l.Quantity.Present }),
	eachLine("BR-23", "BT-130",
		"Chaque ligne de facture (BG-25) doit avoir une unité de mesure de la quantité (BT-130, attribut unitCode).",
		"An Invoice line (BG-25) shall have an Invoiced quantity unit of measure code (BT-130).",
		func(l *flowgate.Line) (string, bool) { return l.ID, !l.HasUnit }),
	eachLine("BR-24", "BT-131",
		"Chaque ligne de facture (BG-25) doit avoir un montant net (BT-131).",
		"Each Invoice line (BG-25) shall have an Invoice line net amount (BT-131).",
		func(l *flowgate.Line) (string, bool) { return l.ID, !l.LineExtension.Present }),
	eachLine("BR-25", "BT-153",
		"Chaque ligne de facture (BG-25) doit contenir le nom de l'article (BT-153).",
		"Each Invoice line (BG-25) shall contain the Item name (BT-153).",
		func(l *flowgate.Line) (string, bool) { return l.ID, blank(l.ItemName) }),
	eachLine("BR-26", "BT-146",
		"Chaque ligne de facture (BG-25) doit contenir le prix net de l'article (BT-146).",
		"Each Invoice line (BG-25) shall contain the Item net price (BT-146).",
		func(l *flowgate.Line) (string, bool) { return l.ID, !l.Price.Present }),
	eachLine("BR-27", "BT-146",
		"Le prix net de l'article (BT-146) ne doit pas être négatif.",
		"The Item net price (BT-146) shall NOT be negative.",
		func(l *flowgate.Line) (string, bool) {
			v, ok := val(l.Price)
			return l.Price.Raw, !ok || v.Sign() < 0
		}),
	{ID: "BR-55", Field: "BT-25",
		FR: "Chaque référence à une facture antérieure (BG-3) doit contenir le numéro de cette facture (BT-25).",
		EN: "Each Preceding Invoice reference (BG-3) shall contain a Preceding Invoice reference (BT-25).",
		check: func(inv *flowgate.Invoice, fail func(string)) {
			for _, ref := range inv.Preceding {
				if !ref.HasID {
					fail("")
				}
			}
		}},
	{ID: "BR-CO-10", Field: "BT-106",
		FR: "La somme des montants nets des lignes (BT-106) doit être égale à la somme des montants nets de chaque ligne (BT-131).",
		EN: "Sum of Invoice line net amount (BT-106) = Σ Invoice line net amount (BT-131).",
		check: func(inv *flowgate.Invoice, fail func(string)) {
			totals(inv, func(t *flowgate.MonetaryTotal) {
				s, ok := sum2(lineAmounts(inv))
				if !ok || !eq(t.LineExtension, s) {
					fail(t.LineExtension.Raw)
				}
			})
		}},
	{ID: "BR-CO-11", Field: "BT-107",
		FR: "Le total des remises au niveau du document (BT-107) doit être égal à la somme des remises du document (BT-92).",
		EN: "Sum of allowances on document level (BT-107) = Σ Document level allowance amount (BT-92).",
		check: func(inv *flowgate.Invoice, fail func(string)) {
			totals(inv, func(t *flowgate.MonetaryTotal) {
				amounts, n := allowanceAmounts(inv, false)
				if !t.AllowanceTotal.Present && n == 0 {
					return
				}
				if s, ok := sum2(amounts); !ok || !eq(t.AllowanceTotal, s) {
					fail(t.AllowanceTotal.Raw)
				}
			})
		}},
	{ID: "BR-CO-12", Field: "BT-108",
		FR: "Le total des charges au niveau du document (BT-108) doit être égal à la somme des charges du document (BT-99).",
		EN: "Sum of charges on document level (BT-108) = Σ Document level charge amount (BT-99).",
		check: func(inv *flowgate.Invoice, fail func(string)) {
			totals(inv, func(t *flowgate.MonetaryTotal) {
				amounts, n := allowanceAmounts(inv, true)
				if !t.ChargeTotal.Present && n == 0 {
					return
				}
				if s, ok := sum2(amounts); !ok || !eq(t.ChargeTotal, s) {
					fail(t.ChargeTotal.Raw)
				}
			})
		}},
	{ID: "BR-CO-13", Field: "BT-109",
		FR: "Le montant total hors TVA (BT-109) doit être égal à la somme des montants nets des lignes (BT-106) moins les remises (BT-107) plus les charges (BT-108) du document.",
		EN: "Invoice total amount without VAT (BT-109) = Σ Invoice line net amount (BT-131) - Sum of allowances on document level (BT-107) + Sum of charges on document level (BT-108).",
		check: func(inv *flowgate.Invoice, fail func(string)) {
			totals(inv, func(t *flowgate.MonetaryTotal) {
				if !taxExclusiveConsistent(t) {
					fail(t.TaxExclusive.Raw)
				}
			})
		}},
	{ID: "BR-CO-14", Field: "BT-110",
		FR: "Le montant total de TVA (BT-110) doit être égal à la somme des montants de TVA par catégorie (BT-117).",
		EN: "Invoice total VAT amount (BT-110) = Σ VAT category tax amount (BT-117).",
		check: func(inv *flowgate.Invoice, fail func(string)) {
			for _, tt := range inv.TaxTotals {
				if len(tt.Subtotals) == 0 {
					continue
				}
				amounts := make([]flowgate.Amount, len(tt.Subtotals))
				for i, st := range tt.Subtotals {
					amounts[i] = st.TaxAmount
				}
				if s, ok := sum2(amounts); !ok || !eq(tt.TaxAmount, s) {
					fail(tt.TaxAmount.Raw)
				}
			}
		}},
	{ID: "BR-CO-15", Field: "BT-112",
		FR: "Le montant total TVA comprise (BT-112) doit être égal au montant total hors TVA (BT-109) plus le montant total de TVA (BT-110).",
		EN: "Invoice total amount with VAT (BT-112) = Invoice total amount without VAT (BT-109) + Invoice total VAT amount (BT-110).",
		check: func(inv *flowgate.Invoice, fail func(string)) {
			if inv.Currency == "" {
				return // "every $Currency in cbc:DocumentCurrencyCode" holds vacuously
			}
			var vat []flowgate.Amount
			for _, tt := range inv.TaxTotals {
				if tt.TaxAmount.Present && tt.TaxAmount.Currency == inv.Currency {
					vat = append(vat, tt.TaxAmount)
				}
			}
			t := &inv.Totals
			excl, okE := val(t.TaxExclusive)
			if len(vat) != 1 || !vat[0].OK || !okE || inv.Count.LegalMonetaryTotal != 1 ||
				!eq(t.TaxInclusive, excl.Add(vat[0].Value).Round(2)) {
				fail(t.TaxInclusive.Raw)
			}
		}},
	{ID: "BR-CO-16", Field: "BT-115",
		FR: "Le montant à payer (BT-115) doit être égal au montant TVA comprise (BT-112) moins le montant déjà payé (BT-113) plus l'arrondi (BT-114).",
		EN: "Amount due for payment (BT-115) = Invoice total amount with VAT (BT-112) -Paid amount (BT-113) +Rounding amount (BT-114).",
		check: func(inv *flowgate.Invoice, fail func(string)) {
			totals(inv, func(t *flowgate.MonetaryTotal) {
				if !payableConsistent(t) {
					fail(t.Payable.Raw)
				}
			})
		}},
	{ID: "BR-CO-18", Field: "BG-23",
		FR: "La facture doit avoir au moins un détail de TVA par catégorie (BG-23).",
		EN: "An Invoice shall at least have one VAT breakdown group (BG-23).",
		check: func(inv *flowgate.Invoice, fail func(string)) {
			for _, tt := range inv.TaxTotals {
				if len(tt.Subtotals) > 0 {
					return
				}
			}
			fail("")
		}},
	{ID: "BR-CO-25", Field: "BT-9",
		FR: "Si le montant à payer (BT-115) est positif, la date d'échéance (BT-9) ou les conditions de paiement (BT-20) doivent être présentes.",
		EN: "In case the Amount due for payment (BT-115) is positive, either the Payment due date (BT-9) or the Payment terms (BT-20) shall be present.",
		check: func(inv *flowgate.Invoice, fail func(string)) {
			// Context /ubl:Invoice/cac:LegalMonetaryTotal/cbc:PayableAmount:
			// invoices only, not credit notes, in this Schematron version.
			p := inv.Totals.Payable
			if inv.Kind != flowgate.KindInvoice || inv.Count.LegalMonetaryTotal == 0 || !p.Present {
				return
			}
			if !p.OK {
				fail(p.Raw)
				return
			}
			if p.Value.Sign() > 0 && !inv.HasDueDate && !inv.HasPaymentTerms {
				fail(p.Raw)
			}
		}},
}

// taxExclusiveConsistent is BR-CO-13 as the Schematron writes it: BT-109
// against BT-106 - BT-107 + BT-108, rounded, each branch by which of
// BT-107 and BT-108 are present.
func taxExclusiveConsistent(t *flowgate.MonetaryTotal) bool {
	lines, okL := val(t.LineExtension)
	if !okL {
		return false
	}
	want := lines
	if t.ChargeTotal.Present {
		c, ok := val(t.ChargeTotal)
		if !ok {
			return false
		}
		want = want.Add(c)
	}
	if t.AllowanceTotal.Present {
		a, ok := val(t.AllowanceTotal)
		if !ok {
			return false
		}
		want = want.Sub(a)
	}
	if t.ChargeTotal.Present || t.AllowanceTotal.Present {
		want = want.Round(2)
	}
	return eq(t.TaxExclusive, want)
}

// payableConsistent is BR-CO-16 as the Schematron writes it.
func payableConsistent(t *flowgate.MonetaryTotal) bool {
	incl, okI := val(t.TaxInclusive)
	pay, okP := val(t.Payable)
	if !okI || !okP {
		return false
	}
	due := incl
	if t.Prepaid.Present {
		pre, ok := val(t.Prepaid)
		if !ok {
			return false
		}
		due = incl.Sub(pre).Round(2)
	}
	if t.Rounding.Present {
		r, ok := val(t.Rounding)
		if !ok {
			return false
		}
		return pay.Sub(r).Round(2).Equal(due)
	}
	return pay.Equal(due)
}
