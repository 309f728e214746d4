package validator

import (
	"cmp"
	"slices"
	"strconv"
	"strings"

	"flowgate"
)

// Rule is one EN 16931 business rule, under its official id, as bound to
// UBL by the CEN Schematron (v1.3.16). Each check reproduces the XPath of
// that Schematron, including what it does with absent elements, so that the
// CEN unit tests can serve as the oracle.
type Rule struct {
	ID    string
	Field string // the business term or group concerned
	FR    string // message in French
	EN    string // message in English (the official text)
	check func(*flowgate.Invoice, func(hit))
}

// Check runs the rule alone on inv and returns its findings (one per
// failing context: a rule on lines fails once per bad line), at most
// MaxPerRule of them and a summary that counts the rest.
func (r *Rule) Check(inv *flowgate.Invoice) []flowgate.Finding {
	var fs findings
	r.run(inv, &fs)
	return fs.list()
}

// run adds the rule's findings on inv to fs.
func (r *Rule) run(inv *flowgate.Invoice, fs *findings) {
	r.check(inv, func(h hit) {
		if fs.keeps(r.ID) {
			fs.add(r.finding(h))
			return
		}
		fs.add(flowgate.Finding{Code: r.ID, Severity: flowgate.Fatal, Field: cmp.Or(h.field, r.Field)})
	})
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

// atLeastZero is XPath's untyped value >= 0 (BR-27, BR-28) as Saxon, the
// official artefact's processor, evaluates it: the literal is cast to
// xs:double (space, tab, CR, LF around it; exponents, INF, +INF, -INF,
// NaN), and the comparison orders -0.0 below 0 and NaN above every number,
// as Java's Double.compare does; a literal without '.' or exponent is read
// as an integer, so "-0" is 0 but "-0.0" is below it. A literal that is
// not an xs:double fails the cast, which stops the artefact on the whole
// document: flowgate fails the comparison.
func atLeastZero(raw string) bool {
	s := strings.Trim(raw, " \t\r\n")
	if s == "NaN" {
		return true
	}
	neg := false
	if s != "" && (s[0] == '+' || s[0] == '-') {
		neg, s = s[0] == '-', s[1:]
	}
	if s == "INF" {
		return !neg
	}
	mant, exp, hasExp := strings.Cut(strings.ToLower(s), "e")
	if hasExp {
		if exp != "" && (exp[0] == '+' || exp[0] == '-') {
			exp = exp[1:]
		}
		if !digits(exp) || exp == "" {
			return false
		}
	}
	intPart, frac, hasDot := strings.Cut(mant, ".")
	if !digits(intPart) || !digits(frac) || intPart == "" && frac == "" {
		return false
	}
	if !hasDot && !hasExp {
		return !neg || strings.Trim(intPart, "0") == ""
	}
	return !neg
}

// digits reports whether s holds only ASCII digits ("" does).
func digits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
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
	return Rule{ID: id, Field: field, FR: fr, EN: en, check: func(inv *flowgate.Invoice, fail func(hit)) {
		if blank(get(inv)) {
			fail(hit{})
		}
	}}
}

func totalPresent(id, field, fr, en string, get func(*flowgate.MonetaryTotal) flowgate.Amount) Rule {
	return Rule{ID: id, Field: field, FR: fr, EN: en, check: func(inv *flowgate.Invoice, fail func(hit)) {
		totals(inv, func(t *flowgate.MonetaryTotal) {
			if !get(t).Present {
				fail(hit{})
			}
		})
	}}
}

// eachLine is a rule on each invoice line (context cac:InvoiceLine): bad
// returns the value of the rule's term on that line, and whether it fails.
func eachLine(id, field, fr, en string, bad func(l *flowgate.Line) (string, bool)) Rule {
	return Rule{ID: id, Field: field, FR: fr, EN: en, check: func(inv *flowgate.Invoice, fail func(hit)) {
		for i := range inv.Lines {
			if v, isBad := bad(&inv.Lines[i]); isBad {
				fail(lineHit(v, inv, i))
			}
		}
	}}
}

// lineHit is a failure on line i, quoting value.
func lineHit(value string, inv *flowgate.Invoice, i int) hit {
	return hit{value: value, at: onLine, pos: i + 1, line: &inv.Lines[i]}
}

// isVAT is the Schematron's predicate on a tax scheme,
// normalize-space(upper-case(cac:TaxScheme/cbc:ID)) = 'VAT'.
func isVAT(scheme string) bool {
	return strings.ToUpper(strings.Trim(scheme, " \t\r\n")) == "VAT"
}

// hasVATID is exists(cac:PartyTaxScheme[cac:TaxScheme is VAT]/cbc:CompanyID).
func hasVATID(p *flowgate.Party) bool {
	for _, ts := range p.TaxSchemes {
		if ts.HasCompanyID && isVAT(ts.TaxScheme) {
			return true
		}
	}
	return false
}

// vatCategory is exists(X[cac:TaxScheme is VAT]/cbc:ID) over a tax
// category and the ones written after it.
func vatCategory(c *flowgate.TaxCategory) bool {
	if c.HasID && isVAT(c.TaxScheme) {
		return true
	}
	for i := range c.More {
		if m := &c.More[i]; m.HasID && isVAT(m.TaxScheme) {
			return true
		}
	}
	return false
}

// hasReason is exists(cbc:AllowanceChargeReason) or exists(cbc:AllowanceChargeReasonCode).
func hasReason(ac *flowgate.AllowanceCharge) bool { return ac.HasReason || ac.HasReasonCode }

// anyEqual is XPath's general comparison a = b on two sequences of strings.
// Its cost is linear: a document may give a party thousands of identifiers.
func anyEqual(a, b []string) bool {
	if len(a) > len(b) {
		a, b = b, a
	}
	if len(a) <= 8 {
		for _, x := range a {
			if slices.Contains(b, x) {
				return true
			}
		}
		return false
	}
	seen := make(map[string]struct{}, len(a))
	for _, x := range a {
		seen[x] = struct{}{}
	}
	for _, y := range b {
		if _, ok := seen[y]; ok {
			return true
		}
	}
	return false
}

func identifierValues(ids []flowgate.Identifier) []string {
	out := make([]string, len(ids))
	for i, id := range ids {
		out[i] = id.Value
	}
	return out
}

// parties are the parties whose cac:PartyTaxScheme flowgate reads.
func parties(inv *flowgate.Invoice) [4]*flowgate.Party {
	return [...]*flowgate.Party{&inv.Seller, &inv.Buyer, &inv.TaxRepresentative, &inv.Payee}
}

// vatIDTerms names, for each party of parties, the business term of its
// VAT identifier and the sentence that says whose it is. The payee's
// cac:PartyTaxScheme, which the Schematron reads too, has no term of its own.
var vatIDTerms = [...]struct {
	field string
	note  text
}{
	{"BT-31", text{"Numéro de TVA du vendeur (BT-31)", "Seller VAT identifier (BT-31)"}},
	{"BT-48", text{"Numéro de TVA de l'acheteur (BT-48)", "Buyer VAT identifier (BT-48)"}},
	{"BT-63", text{"Numéro de TVA du représentant fiscal du vendeur (BT-63)", "Seller tax representative VAT identifier (BT-63)"}},
	{"BG-10", text{"Identifiant fiscal du bénéficiaire (BG-10, PayeeParty/PartyTaxScheme/CompanyID)", "Payee tax identifier (BG-10, PayeeParty/PartyTaxScheme/CompanyID)"}},
}

// otherVATIDNote says whose VAT identifier BR-CO-09 found in
// Invoice.OtherTaxSchemes.
var otherVATIDNote = text{"Numéro de TVA d'une autre partie (PartyTaxScheme/CompanyID)", "VAT identifier of another party (PartyTaxScheme/CompanyID)"}

// isoCountryPrefixes is the list BR-CO-09 searches with contains(): ISO
// 3166-1 alpha-2 codes, with EL for Greece and XI for Northern Ireland.
const isoCountryPrefixes = " 1A AD AE AF AG AI AL AM AO AQ AR AS AT AU AW AX AZ BA BB BD BE BF BG BH BI BJ BL BM BN BO BQ BR BS BT BV BW BY BZ CA CC CD CF CG CH CI CK CL CM CN CO CR CU CV CW CX CY CZ DE DJ DK DM DO DZ EC EE EG EH EL ER ES ET FI FJ FK FM FO FR GA GB GD GE GF GG GH GI GL GM GN GP GQ GR GS GT GU GW GY HK HM HN HR HT HU ID IE IL IM IN IO IQ IR IS IT JE JM JO JP KE KG KH KI KM KN KP KR KW KY KZ LA LB LC LI LK LR LS LT LU LV LY MA MC MD ME MF MG MH MK ML MM MN MO MP MQ MR MS MT MU MV MW MX MY MZ NA NC NE NF NG NI NL NO NP NR NU NZ OM PA PE PF PG PH PK PL PM PN PR PS PT PW PY QA RE RO RS RU RW SA SB SC SD SE SG SH SI SJ SK SL SM SN SO SR SS ST SV SX SY SZ TC TD TF TG TH TJ TK TL TM TN TO TR TT TV TW TZ UA UG UM US UY UZ VA VC VE VG VI VN VU WF WS XI YE YT ZA ZM ZW "

// substring2 is XPath's substring(s, 1, 2): the first two characters.
func substring2(s string) string {
	n := 0
	for i := range s {
		if n == 2 {
			return s[:i]
		}
		n++
	}
	return s
}

// allowanceRule is a rule on each document level allowance (charge false)
// or charge (charge true): context /*/cac:AllowanceCharge[cbc:ChargeIndicator = false()|true()].
// bad returns what the finding quotes of ac, and whether it fails.
func allowanceRule(id, field, fr, en string, charge bool, bad func(ac *flowgate.AllowanceCharge) (hit, bool)) Rule {
	at := onAllowance
	if charge {
		at = onCharge
	}
	return Rule{ID: id, Field: field, FR: fr, EN: en, check: func(inv *flowgate.Invoice, fail func(hit)) {
		n := 0
		for i := range inv.AllowanceCharges {
			ac := &inv.AllowanceCharges[i]
			if !(charge && ac.IsCharge() || !charge && ac.IsAllowance()) {
				continue
			}
			n++
			if h, isBad := bad(ac); isBad {
				h.at, h.pos, h.ac = at, n, ac
				fail(h)
			}
		}
	}}
}

// lineAllowanceRule is a rule on each invoice line allowance or charge:
// context //cac:InvoiceLine/cac:AllowanceCharge[cbc:ChargeIndicator = false()|true()].
// bad returns what the finding quotes of ac, and whether it fails.
func lineAllowanceRule(id, field, fr, en string, charge bool, bad func(ac *flowgate.AllowanceCharge) (hit, bool)) Rule {
	at := onLineAllowance
	if charge {
		at = onLineCharge
	}
	return Rule{ID: id, Field: field, FR: fr, EN: en, check: func(inv *flowgate.Invoice, fail func(hit)) {
		for i := range inv.Lines {
			d := inv.Lines[i].Details
			if d == nil {
				continue
			}
			n := 0
			for j := range d.AllowanceCharges {
				ac := &d.AllowanceCharges[j]
				if !(charge && ac.IsCharge() || !charge && ac.IsAllowance()) {
					continue
				}
				n++
				if h, isBad := bad(ac); isBad {
					h.at, h.pos, h.line, h.sub = at, i+1, &inv.Lines[i], n
					fail(h)
				}
			}
		}
	}}
}

// noAmount fails an allowance or charge without an amount (BT-92, BT-99,
// BT-136, BT-141).
func noAmount(ac *flowgate.AllowanceCharge) (hit, bool) { return hit{}, !ac.Amount.Present }

// noReason fails an allowance or charge with neither reason nor reason
// code (BT-97/98, BT-104/105, BT-139/140, BT-144/145).
func noReason(ac *flowgate.AllowanceCharge) (hit, bool) { return hit{}, !hasReason(ac) }

// noVATCategory fails a document level allowance or charge without a VAT
// category (BT-95, BT-102): the category code as written, which may be
// there under another tax scheme than VAT.
func noVATCategory(ac *flowgate.AllowanceCharge) (hit, bool) {
	return hit{value: ac.TaxCategory.ID, cat: &ac.TaxCategory}, !vatCategory(&ac.TaxCategory)
}

// eachDetail runs fn on the details of each line that has some, with the
// line's index in inv.Lines.
func eachDetail(inv *flowgate.Invoice, fn func(i int, d *flowgate.LineDetails)) {
	for i := range inv.Lines {
		if d := inv.Lines[i].Details; d != nil {
			fn(i, d)
		}
	}
}

// taxRepresentative runs fn once per cac:TaxRepresentativeParty.
func taxRepresentative(inv *flowgate.Invoice, fn func(p *flowgate.Party)) {
	if inv.Count.TaxRepresentativeParty > 0 {
		fn(&inv.TaxRepresentative)
	}
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
		// normalize-space(cbc:InvoiceTypeCode) != '' or normalize-space(cbc:CreditNoteTypeCode) != '',
		// whatever the document's kind: blank of the two joined is blank of each.
		func(inv *flowgate.Invoice) string { return inv.TypeCode + inv.OtherTypeCode }),
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
		check: func(inv *flowgate.Invoice, fail func(hit)) {
			if !inv.Seller.HasAddress {
				fail(hit{})
			}
		}},
	{ID: "BR-09", Field: "BT-40",
		FR: "L'adresse postale du vendeur (BG-5) doit contenir un code pays (BT-40).",
		EN: "The Seller postal address (BG-5) shall contain a Seller country code (BT-40).",
		check: func(inv *flowgate.Invoice, fail func(hit)) {
			if inv.Seller.HasAddress && blank(inv.Seller.CountryCode) {
				fail(hit{})
			}
		}},
	{ID: "BR-10", Field: "BG-8",
		FR: "La facture doit contenir l'adresse postale de l'acheteur (BG-8).",
		EN: "An Invoice shall contain the Buyer postal address (BG-8).",
		check: func(inv *flowgate.Invoice, fail func(hit)) {
			if !inv.Buyer.HasAddress {
				fail(hit{})
			}
		}},
	{ID: "BR-11", Field: "BT-55",
		FR: "L'adresse postale de l'acheteur (BG-8) doit contenir un code pays (BT-55).",
		EN: "The Buyer postal address shall contain a Buyer country code (BT-55).",
		check: func(inv *flowgate.Invoice, fail func(hit)) {
			if inv.Buyer.HasAddress && blank(inv.Buyer.CountryCode) {
				fail(hit{})
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
		check: func(inv *flowgate.Invoice, fail func(hit)) {
			if len(inv.Lines) == 0 {
				fail(hit{})
			}
		}},
	{ID: "BR-17", Field: "BT-59",
		FR: "Le nom du bénéficiaire (BT-59) doit figurer sur la facture si le bénéficiaire (BG-10) est différent du vendeur (BG-4).",
		EN: "The Payee name (BT-59) shall be provided in the Invoice, if the Payee (BG-10) is different from the Seller (BG-4)",
		check: func(inv *flowgate.Invoice, fail func(hit)) {
			// Context cac:PayeeParty. As the Schematron writes it, the payee
			// must be named and differ from the seller by trading name and
			// by identifier.
			if inv.Count.PayeeParty == 0 {
				return
			}
			p, s := &inv.Payee, &inv.Seller
			if len(p.TradingNames) == 0 || anyEqual(p.TradingNames, s.TradingNames) ||
				anyEqual(identifierValues(p.Identifiers), identifierValues(s.Identifiers)) {
				fail(hit{})
			}
		}},
	{ID: "BR-18", Field: "BT-62",
		FR: "Le nom du représentant fiscal du vendeur (BT-62) doit figurer sur la facture si le vendeur (BG-4) a un représentant fiscal (BG-11).",
		EN: "The Seller tax representative name (BT-62) shall be provided in the Invoice, if the Seller (BG-4) has a Seller tax representative party (BG-11)",
		check: func(inv *flowgate.Invoice, fail func(hit)) {
			taxRepresentative(inv, func(p *flowgate.Party) {
				// normalize-space() of several names is a type error.
				if len(p.TradingNames) != 1 || blank(p.TradingNames[0]) {
					fail(hit{})
				}
			})
		}},
	{ID: "BR-19", Field: "BG-12",
		FR: "L'adresse postale du représentant fiscal du vendeur (BG-12) doit figurer sur la facture si le vendeur (BG-4) a un représentant fiscal (BG-11).",
		EN: "The Seller tax representative postal address (BG-12) shall be provided in the Invoice, if the Seller (BG-4) has a Seller tax representative party (BG-11).",
		check: func(inv *flowgate.Invoice, fail func(hit)) {
			taxRepresentative(inv, func(p *flowgate.Party) {
				if !p.HasAddress {
					fail(hit{})
				}
			})
		}},
	{ID: "BR-20", Field: "BT-69",
		FR: "L'adresse postale du représentant fiscal du vendeur (BG-12) doit contenir un code pays (BT-69).",
		EN: "The Seller tax representative postal address (BG-12) shall contain a Tax representative country code (BT-69), if the Seller (BG-4) has a Seller tax representative party (BG-11).",
		check: func(inv *flowgate.Invoice, fail func(hit)) {
			taxRepresentative(inv, func(p *flowgate.Party) {
				if p.HasAddress && blank(p.CountryCode) {
					fail(hit{})
				}
			})
		}},
	eachLine("BR-21", "BT-126",
		"Chaque ligne de facture (BG-25) doit avoir un identifiant de ligne (BT-126).",
		"Each Invoice line (BG-25) shall have an Invoice line identifier (BT-126).",
		func(l *flowgate.Line) (string, bool) { return "", blank(l.ID) }),
	eachLine("BR-22", "BT-129",
		"Chaque ligne de facture (BG-25) doit avoir une quantité facturée (BT-129).",
		"Each Invoice line (BG-25) shall have an Invoiced quantity (BT-129).",
		func(l *flowgate.Line) (string, bool) { return "", !l.Quantity.Present }),
	eachLine("BR-23", "BT-130",
		"Chaque ligne de facture (BG-25) doit avoir une unité de mesure de la quantité (BT-130, attribut unitCode).",
		"An Invoice line (BG-25) shall have an Invoiced quantity unit of measure code (BT-130).",
		func(l *flowgate.Line) (string, bool) { return "", !l.HasUnit }),
	eachLine("BR-24", "BT-131",
		"Chaque ligne de facture (BG-25) doit avoir un montant net (BT-131).",
		"Each Invoice line (BG-25) shall have an Invoice line net amount (BT-131).",
		func(l *flowgate.Line) (string, bool) { return "", !l.LineExtension.Present }),
	eachLine("BR-25", "BT-153",
		"Chaque ligne de facture (BG-25) doit contenir le nom de l'article (BT-153).",
		"Each Invoice line (BG-25) shall contain the Item name (BT-153).",
		func(l *flowgate.Line) (string, bool) { return l.ItemName, blank(l.ItemName) }),
	eachLine("BR-26", "BT-146",
		"Chaque ligne de facture (BG-25) doit contenir le prix net de l'article (BT-146).",
		"Each Invoice line (BG-25) shall contain the Item net price (BT-146).",
		func(l *flowgate.Line) (string, bool) { return "", !l.Price.Present }),
	eachLine("BR-27", "BT-146",
		"Le prix net de l'article (BT-146) ne doit pas être négatif.",
		"The Item net price (BT-146) shall NOT be negative.",
		func(l *flowgate.Line) (string, bool) {
			// (cac:Price/cbc:PriceAmount) >= 0: false when absent.
			return l.Price.Raw, !l.Price.Present || !atLeastZero(l.Price.Raw)
		}),
	{ID: "BR-28", Field: "BT-148",
		FR: "Le prix brut de l'article (BT-148) ne doit pas être négatif.",
		EN: "The Item gross price (BT-148) shall NOT be negative.",
		check: func(inv *flowgate.Invoice, fail func(hit)) {
			// (cac:Price/cac:AllowanceCharge/cbc:BaseAmount) >= 0 or not(exists(...)):
			// a general comparison, which holds when one of the sequence does.
			eachDetail(inv, func(i int, d *flowgate.LineDetails) {
				g := d.GrossPrice
				if !g.Present || atLeastZero(g.Raw) || slices.ContainsFunc(d.OtherGrossPrices, func(a flowgate.Amount) bool { return atLeastZero(a.Raw) }) {
					return
				}
				fail(lineHit(g.Raw, inv, i))
			})
		}},
	allowanceRule("BR-31", "BT-92",
		"Chaque remise au niveau du document (BG-20) doit avoir un montant (BT-92).",
		"Each Document level allowance (BG-20) shall have a Document level allowance amount (BT-92).",
		false, noAmount),
	allowanceRule("BR-32", "BT-95",
		"Chaque remise au niveau du document (BG-20) doit avoir un code de catégorie de TVA (BT-95).",
		"Each Document level allowance (BG-20) shall have a Document level allowance VAT category code (BT-95).",
		false, noVATCategory),
	allowanceRule("BR-33", "BT-97",
		"Chaque remise au niveau du document (BG-20) doit avoir un motif (BT-97) ou un code de motif (BT-98).",
		"Each Document level allowance (BG-20) shall have a Document level allowance reason (BT-97) or a Document level allowance reason code (BT-98).",
		false, noReason),
	allowanceRule("BR-36", "BT-99",
		"Chaque charge au niveau du document (BG-21) doit avoir un montant (BT-99).",
		"Each Document level charge (BG-21) shall have a Document level charge amount (BT-99).",
		true, noAmount),
	allowanceRule("BR-37", "BT-102",
		"Chaque charge au niveau du document (BG-21) doit avoir un code de catégorie de TVA (BT-102).",
		"Each Document level charge (BG-21) shall have a Document level charge VAT category code (BT-102).",
		true, noVATCategory),
	allowanceRule("BR-38", "BT-104",
		"Chaque charge au niveau du document (BG-21) doit avoir un motif (BT-104) ou un code de motif (BT-105).",
		"Each Document level charge (BG-21) shall have a Document level charge reason (BT-104) or a Document level charge reason code (BT-105).",
		true, noReason),
	lineAllowanceRule("BR-41", "BT-136",
		"Chaque remise sur une ligne de facture (BG-27) doit avoir un montant (BT-136).",
		"Each Invoice line allowance (BG-27) shall have an Invoice line allowance amount (BT-136).",
		false, noAmount),
	lineAllowanceRule("BR-42", "BT-139",
		"Chaque remise sur une ligne de facture (BG-27) doit avoir un motif (BT-139) ou un code de motif (BT-140).",
		"Each Invoice line allowance (BG-27) shall have an Invoice line allowance reason (BT-139) or an Invoice line allowance reason code (BT-140).",
		false, noReason),
	lineAllowanceRule("BR-43", "BT-141",
		"Chaque charge sur une ligne de facture (BG-28) doit avoir un montant (BT-141).",
		"Each Invoice line charge (BG-28) shall have an Invoice line charge amount (BT-141).",
		true, noAmount),
	lineAllowanceRule("BR-44", "BT-144",
		"Chaque charge sur une ligne de facture (BG-28) doit avoir un motif (BT-144) ou un code de motif (BT-145).",
		"Each Invoice line charge shall have an Invoice line charge reason or an invoice line allowance reason code.",
		true, noReason),
	{ID: "BR-49", Field: "BT-81",
		FR: "Chaque instruction de paiement (BG-16) doit indiquer le code du moyen de paiement (BT-81).",
		EN: "A Payment instruction (BG-16) shall specify the Payment means type code (BT-81).",
		check: func(inv *flowgate.Invoice, fail func(hit)) {
			for i := range inv.PaymentMeans {
				if pm := &inv.PaymentMeans[i]; !pm.HasCode {
					fail(hit{at: onPayment, pos: i + 1, pm: pm})
				}
			}
		}},
	{ID: "BR-50", Field: "BT-84",
		FR: "L'identifiant du compte de paiement (BT-84) doit être présent si des informations de virement (BG-17) sont fournies.",
		EN: "A Payment account identifier (BT-84) shall be present if Credit transfer (BG-17) information is provided in the Invoice.",
		check: func(inv *flowgate.Invoice, fail func(hit)) {
			// Context cac:PaymentMeans[cbc:PaymentMeansCode='30' or ...='58']/cac:PayeeFinancialAccount.
			for i := range inv.PaymentMeans {
				if pm := &inv.PaymentMeans[i]; pm.HasAccount && (pm.Code == "30" || pm.Code == "58") && blank(pm.AccountID) {
					fail(hit{value: pm.AccountID, at: onPayment, pos: i + 1, pm: pm})
				}
			}
		}},
	{ID: "BR-53", Field: "BT-111",
		FR: "Si le code de devise de comptabilisation de la TVA (BT-6) est présent, le montant total de TVA dans cette devise (BT-111) doit être fourni.",
		EN: "If the VAT accounting currency code (BT-6) is present, then the Invoice total VAT amount in accounting currency (BT-111) shall be provided.",
		check: func(inv *flowgate.Invoice, fail func(hit)) {
			if !inv.HasTaxCurrency {
				return
			}
			// //cac:TaxTotal/cbc:TaxAmount[@currencyID=$taxcurrency], in
			// lines too: an empty code needs a currencyID written empty.
			in := func(tts []flowgate.TaxTotal) bool {
				return slices.ContainsFunc(tts, func(tt flowgate.TaxTotal) bool {
					return tt.TaxAmount.Present && tt.TaxAmount.HasCurrency && tt.TaxAmount.Currency == inv.TaxCurrency
				})
			}
			if in(inv.TaxTotals) || in(inv.OtherTaxTotals) || slices.ContainsFunc(inv.Lines, func(l flowgate.Line) bool { return l.Details != nil && in(l.Details.TaxTotals) }) {
				return
			}
			fail(hit{detail: func() text {
				c := clipValue(inv.TaxCurrency)
				return text{"Devise de comptabilisation de la TVA BT-6 « " + c + " »", "VAT accounting currency BT-6 '" + c + "'"}
			}})
		}},
	{ID: "BR-54", Field: "BG-32",
		FR: "Chaque attribut d'article (BG-32) doit contenir un nom (BT-160) et une valeur (BT-161).",
		EN: "Each Item attribute (BG-32) shall contain an Item attribute name (BT-160) and an Item attribute value (BT-161).",
		check: func(inv *flowgate.Invoice, fail func(hit)) {
			eachDetail(inv, func(i int, d *flowgate.LineDetails) {
				for _, a := range d.Attributes {
					if !a.HasName || !a.HasValue {
						fail(lineHit("", inv, i))
					}
				}
			})
		}},
	{ID: "BR-55", Field: "BT-25",
		FR: "Chaque référence à une facture antérieure (BG-3) doit contenir le numéro de cette facture (BT-25).",
		EN: "Each Preceding Invoice reference (BG-3) shall contain a Preceding Invoice reference (BT-25).",
		check: func(inv *flowgate.Invoice, fail func(hit)) {
			for i, ref := range inv.Preceding {
				if !ref.HasID {
					fail(hit{at: onGroup, pos: i + 1, group: precedingGroup})
				}
			}
			// Context cac:BillingReference: one in a line too.
			eachDetail(inv, func(i int, d *flowgate.LineDetails) {
				for _, ref := range d.BillingRefs {
					if !ref.HasID {
						fail(lineHit("", inv, i))
					}
				}
			})
		}},
	{ID: "BR-56", Field: "BT-63",
		FR: "Le représentant fiscal du vendeur (BG-11) doit avoir un numéro de TVA (BT-63).",
		EN: "Each Seller tax representative party (BG-11) shall have a Seller tax representative VAT identifier (BT-63).",
		check: func(inv *flowgate.Invoice, fail func(hit)) {
			taxRepresentative(inv, func(p *flowgate.Party) {
				if !hasVATID(p) {
					fail(hit{})
				}
			})
		}},
	{ID: "BR-57", Field: "BT-80",
		FR: "Chaque adresse de livraison (BG-15) doit contenir un code pays (BT-80).",
		EN: "Each Deliver to address (BG-15) shall contain a Deliver to country code (BT-80).",
		check: func(inv *flowgate.Invoice, fail func(hit)) {
			for i, a := range inv.DeliveryAddresses {
				if !a.HasCountryCode {
					fail(hit{at: onGroup, pos: i + 1, group: deliveryGroup})
				}
			}
		}},
	{ID: "BR-61", Field: "BT-84",
		FR: "Si le moyen de paiement (BT-81) est un virement (SEPA, local ou international hors SEPA), l'identifiant du compte de paiement (BT-84) doit être présent.",
		EN: "If the Payment means type code (BT-81) means SEPA credit transfer, Local credit transfer or Non-SEPA international credit transfer, the Payment account identifier (BT-84) shall be present.",
		check: func(inv *flowgate.Invoice, fail func(hit)) {
			for i := range inv.PaymentMeans {
				if pm := &inv.PaymentMeans[i]; !pm.HasAccountID {
					if code := strings.Trim(pm.Code, " \t\r\n"); code == "30" || code == "58" {
						fail(hit{at: onPayment, pos: i + 1, pm: pm})
					}
				}
			}
		}},
	{ID: "BR-62", Field: "BT-34",
		FR: "L'adresse électronique du vendeur (BT-34) doit avoir un identifiant de schéma (attribut schemeID).",
		EN: "The Seller electronic address (BT-34) shall have a Scheme identifier.",
		check: func(inv *flowgate.Invoice, fail func(hit)) {
			if p := &inv.Seller; p.HasEndpoint && !p.Endpoint.HasSchemeID {
				fail(hit{value: p.Endpoint.Value})
			}
		}},
	{ID: "BR-63", Field: "BT-49",
		FR: "L'adresse électronique de l'acheteur (BT-49) doit avoir un identifiant de schéma (attribut schemeID).",
		EN: "The Buyer electronic address (BT-49) shall have a Scheme identifier.",
		check: func(inv *flowgate.Invoice, fail func(hit)) {
			if p := &inv.Buyer; p.HasEndpoint && !p.Endpoint.HasSchemeID {
				fail(hit{value: p.Endpoint.Value})
			}
		}},
	{ID: "BR-64", Field: "BT-157",
		FR: "L'identifiant standard de l'article (BT-157) doit avoir un identifiant de schéma (attribut schemeID).",
		EN: "The Item standard identifier (BT-157) shall have a Scheme identifier.",
		check: func(inv *flowgate.Invoice, fail func(hit)) {
			eachDetail(inv, func(i int, d *flowgate.LineDetails) {
				for _, id := range d.StandardIDs {
					if !id.HasSchemeID {
						fail(lineHit(id.Value, inv, i))
					}
				}
			})
		}},
	{ID: "BR-65", Field: "BT-158",
		FR: "L'identifiant de classification de l'article (BT-158) doit avoir un identifiant de schéma (attribut listID).",
		EN: "The Item classification identifier (BT-158) shall have a Scheme identifier.",
		check: func(inv *flowgate.Invoice, fail func(hit)) {
			eachDetail(inv, func(i int, d *flowgate.LineDetails) {
				for _, c := range d.Classifications {
					if !c.HasListID {
						fail(lineHit(c.Value, inv, i))
					}
				}
			})
		}},
	{ID: "BR-CO-03", Field: "BT-7",
		FR: "La date d'exigibilité de la TVA (BT-7) et son code (BT-8) s'excluent mutuellement.",
		EN: "Value added tax point date (BT-7) and Value added tax point date code (BT-8) are mutually exclusive.",
		check: func(inv *flowgate.Invoice, fail func(hit)) {
			if !inv.HasTaxPointDate {
				return
			}
			for _, p := range inv.Periods {
				if p.HasDescriptionCode {
					fail(hit{value: inv.TaxPointDate})
					return
				}
			}
		}},
	{ID: "BR-CO-04", Field: "BT-151",
		FR: "Chaque ligne de facture (BG-25) doit avoir un code de catégorie de TVA de l'article (BT-151).",
		EN: "Each Invoice line (BG-25) shall be categorized with an Invoiced item VAT category code (BT-151).",
		check: func(inv *flowgate.Invoice, fail func(hit)) {
			for i := range inv.Lines {
				if c := &inv.Lines[i].TaxCategory; !vatCategory(c) {
					h := lineHit(c.ID, inv, i)
					h.cat = c
					fail(h)
				}
			}
		}},
	{ID: "BR-CO-09", Field: "BT-31",
		FR: "Les numéros de TVA du vendeur (BT-31), de son représentant fiscal (BT-63) et de l'acheteur (BT-48) doivent commencer par un code pays ISO 3166-1 alpha-2 (EL pour la Grèce).",
		EN: "The Seller VAT identifier (BT-31), the Seller tax representative VAT identifier (BT-63) and the Buyer VAT identifier (BT-48) shall have a prefix in accordance with ISO code ISO 3166-1 alpha-2 by which the country of issue may be identified. Nevertheless, Greece may use the prefix ‘EL’.",
		check: func(inv *flowgate.Invoice, fail func(hit)) {
			// Context //cac:PartyTaxScheme[VAT]; without a CompanyID,
			// substring() is "" and contains() holds.
			for k, p := range parties(inv) {
				for _, ts := range p.TaxSchemes {
					if isVAT(ts.TaxScheme) && !strings.Contains(isoCountryPrefixes, substring2(ts.CompanyID)) {
						fail(hit{value: ts.CompanyID, field: vatIDTerms[k].field, note: vatIDTerms[k].note})
					}
				}
			}
			for _, ts := range inv.OtherTaxSchemes {
				if isVAT(ts.TaxScheme) && !strings.Contains(isoCountryPrefixes, substring2(ts.CompanyID)) {
					fail(hit{value: ts.CompanyID, note: otherVATIDNote})
				}
			}
		}},
	{ID: "BR-CO-10", Field: "BT-106",
		FR: "La somme des montants nets des lignes (BT-106) doit être égale à la somme des montants nets de chaque ligne (BT-131).",
		EN: "Sum of Invoice line net amount (BT-106) = Σ Invoice line net amount (BT-131).",
		check: func(inv *flowgate.Invoice, fail func(hit)) {
			totals(inv, func(t *flowgate.MonetaryTotal) {
				amounts := lineAmounts(inv)
				s, ok := sum2(amounts)
				if !ok || !eq(t.LineExtension, s) {
					fail(hit{value: t.LineExtension.Raw, detail: func() text {
						return sumDetail("BT-106", t.LineExtension, text{"somme des lignes (Σ BT-131) calculée", "sum of lines (Σ BT-131) computed"},
							sumOf("BT-131", amounts))
					}})
				}
			})
		}},
	{ID: "BR-CO-11", Field: "BT-107",
		FR: "Le total des remises au niveau du document (BT-107) doit être égal à la somme des remises du document (BT-92).",
		EN: "Sum of allowances on document level (BT-107) = Σ Document level allowance amount (BT-92).",
		check: func(inv *flowgate.Invoice, fail func(hit)) {
			totals(inv, func(t *flowgate.MonetaryTotal) {
				amounts, n := allowanceAmounts(inv, false)
				if !t.AllowanceTotal.Present && n == 0 {
					return
				}
				if s, ok := sum2(amounts); !ok || !eq(t.AllowanceTotal, s) {
					fail(hit{value: t.AllowanceTotal.Raw, detail: func() text {
						return sumDetail("BT-107", t.AllowanceTotal,
							text{"somme des remises du document (Σ BT-92) calculée", "sum of document level allowances (Σ BT-92) computed"},
							sumOf("BT-92", amounts))
					}})
				}
			})
		}},
	{ID: "BR-CO-12", Field: "BT-108",
		FR: "Le total des charges au niveau du document (BT-108) doit être égal à la somme des charges du document (BT-99).",
		EN: "Sum of charges on document level (BT-108) = Σ Document level charge amount (BT-99).",
		check: func(inv *flowgate.Invoice, fail func(hit)) {
			totals(inv, func(t *flowgate.MonetaryTotal) {
				amounts, n := allowanceAmounts(inv, true)
				if !t.ChargeTotal.Present && n == 0 {
					return
				}
				if s, ok := sum2(amounts); !ok || !eq(t.ChargeTotal, s) {
					fail(hit{value: t.ChargeTotal.Raw, detail: func() text {
						return sumDetail("BT-108", t.ChargeTotal,
							text{"somme des charges du document (Σ BT-99) calculée", "sum of document level charges (Σ BT-99) computed"},
							sumOf("BT-99", amounts))
					}})
				}
			})
		}},
	{ID: "BR-CO-13", Field: "BT-109",
		FR: "Le montant total hors TVA (BT-109) doit être égal à la somme des montants nets des lignes (BT-106) moins les remises (BT-107) plus les charges (BT-108) du document.",
		EN: "Invoice total amount without VAT (BT-109) = Σ Invoice line net amount (BT-131) - Sum of allowances on document level (BT-107) + Sum of charges on document level (BT-108).",
		check: func(inv *flowgate.Invoice, fail func(hit)) {
			totals(inv, func(t *flowgate.MonetaryTotal) {
				if !taxExclusiveConsistent(t) {
					fail(hit{value: t.TaxExclusive.Raw, detail: func() text {
						return sumDetail("BT-109", t.TaxExclusive,
							text{"BT-106 − BT-107 + BT-108 calculé", "BT-106 − BT-107 + BT-108 computed"}, taxExclusiveWant(t))
					}})
				}
			})
		}},
	{ID: "BR-CO-14", Field: "BT-110",
		FR: "Le montant total de TVA (BT-110) doit être égal à la somme des montants de TVA par catégorie (BT-117).",
		EN: "Invoice total VAT amount (BT-110) = Σ VAT category tax amount (BT-117).",
		check: func(inv *flowgate.Invoice, fail func(hit)) {
			for _, tt := range inv.TaxTotals {
				if len(tt.Subtotals) == 0 {
					continue
				}
				amounts := make([]flowgate.Amount, len(tt.Subtotals))
				for i, st := range tt.Subtotals {
					amounts[i] = st.TaxAmount
				}
				if s, ok := sum2(amounts); !ok || !eq(tt.TaxAmount, s) {
					fail(hit{value: tt.TaxAmount.Raw, detail: func() text {
						return sumDetail("BT-110", tt.TaxAmount,
							text{"somme des montants de TVA par catégorie (Σ BT-117) calculée", "sum of VAT category tax amounts (Σ BT-117) computed"},
							sumOf("BT-117", amounts))
					}})
				}
			}
		}},
	{ID: "BR-CO-15", Field: "BT-112",
		FR: "Le montant total TVA comprise (BT-112) doit être égal au montant total hors TVA (BT-109) plus le montant total de TVA (BT-110).",
		EN: "Invoice total amount with VAT (BT-112) = Invoice total amount without VAT (BT-109) + Invoice total VAT amount (BT-110).",
		check: func(inv *flowgate.Invoice, fail func(hit)) {
			if !inv.HasCurrency {
				return // "every $Currency in cbc:DocumentCurrencyCode" holds vacuously
			}
			// An empty or untrimmed code is compared as written: a VAT
			// total must carry that very currencyID.
			var vat []flowgate.Amount
			for _, tt := range inv.TaxTotals {
				// cbc:TaxAmount[@currencyID=$Currency]: the attribute must exist.
				if tt.TaxAmount.Present && tt.TaxAmount.HasCurrency && tt.TaxAmount.Currency == inv.Currency {
					vat = append(vat, tt.TaxAmount)
				}
			}
			t := &inv.Totals
			excl, okE := val(t.TaxExclusive)
			if len(vat) != 1 || !vat[0].OK || !okE || inv.Count.LegalMonetaryTotal != 1 ||
				!eq(t.TaxInclusive, excl.Add(vat[0].Value).Round(2)) {
				fail(hit{value: t.TaxInclusive.Raw, detail: func() text {
					return sumDetail("BT-112", t.TaxInclusive, text{"BT-109 + BT-110 calculé", "BT-109 + BT-110 computed"},
						taxInclusiveWant(inv, vat))
				}})
			}
		}},
	{ID: "BR-CO-16", Field: "BT-115",
		FR: "Le montant à payer (BT-115) doit être égal au montant TVA comprise (BT-112) moins le montant déjà payé (BT-113) plus l'arrondi (BT-114).",
		EN: "Amount due for payment (BT-115) = Invoice total amount with VAT (BT-112) -Paid amount (BT-113) +Rounding amount (BT-114).",
		check: func(inv *flowgate.Invoice, fail func(hit)) {
			totals(inv, func(t *flowgate.MonetaryTotal) {
				if !payableConsistent(t) {
					fail(hit{value: t.Payable.Raw, detail: func() text {
						return sumDetail("BT-115", t.Payable,
							text{"BT-112 − BT-113 + BT-114 calculé", "BT-112 − BT-113 + BT-114 computed"}, payableWant(t))
					}})
				}
			})
		}},
	{ID: "BR-CO-17", Field: "BT-117",
		FR: "Le montant de TVA par catégorie (BT-117) doit être égal à la base imposable (BT-116) multipliée par le taux (BT-119) divisé par 100, arrondi à deux décimales.",
		EN: "VAT category tax amount (BT-117) = VAT category taxable amount (BT-116) x (VAT category rate (BT-119) / 100), rounded to two decimals.",
		check: func(inv *flowgate.Invoice, fail func(hit)) {
			n := 0
			for _, tt := range inv.TaxTotals {
				for i := range tt.Subtotals {
					n++
					if st := &tt.Subtotals[i]; !vatAmountConsistent(st) {
						fail(hit{value: st.TaxAmount.Raw, at: onBreakdown, pos: n, st: st, detail: func() text { return vatAmountDetail(st) }})
					}
				}
			}
			// Context cac:TaxTotal/cac:TaxSubtotal: one in an allowance
			// or a line too.
			for _, tt := range inv.OtherTaxTotals {
				for i := range tt.Subtotals {
					if st := &tt.Subtotals[i]; !vatAmountConsistent(st) {
						fail(hit{value: st.TaxAmount.Raw, detail: func() text { return vatAmountDetail(st) }})
					}
				}
			}
			eachDetail(inv, func(i int, d *flowgate.LineDetails) {
				for _, tt := range d.TaxTotals {
					for j := range tt.Subtotals {
						if st := &tt.Subtotals[j]; !vatAmountConsistent(st) {
							h := lineHit(st.TaxAmount.Raw, inv, i)
							h.detail = func() text { return vatAmountDetail(st) }
							fail(h)
						}
					}
				}
			})
		}},
	{ID: "BR-CO-18", Field: "BG-23",
		FR: "La facture doit avoir au moins un détail de TVA par catégorie (BG-23).",
		EN: "An Invoice shall at least have one VAT breakdown group (BG-23).",
		check: func(inv *flowgate.Invoice, fail func(hit)) {
			for _, tt := range inv.TaxTotals {
				if len(tt.Subtotals) > 0 {
					return
				}
			}
			fail(hit{})
		}},
	{ID: "BR-CO-19", Field: "BG-14",
		FR: "Si la période de facturation (BG-14) est utilisée, sa date de début (BT-73) ou sa date de fin (BT-74), ou les deux, doivent être renseignées.",
		EN: "If Invoicing period (BG-14) is used, the Invoicing period start date (BT-73) or the Invoicing period end date (BT-74) shall be filled, or both.",
		check: func(inv *flowgate.Invoice, fail func(hit)) {
			// A period holding only the tax point date code (BT-8) passes.
			for i, p := range inv.Periods {
				if !p.HasStartDate && !p.HasEndDate && !p.HasDescriptionCode {
					fail(hit{at: onGroup, pos: i + 1, group: periodGroup})
				}
			}
		}},
	{ID: "BR-CO-20", Field: "BG-26",
		FR: "Si la période de la ligne de facture (BG-26) est utilisée, sa date de début (BT-134) ou sa date de fin (BT-135), ou les deux, doivent être renseignées.",
		EN: "If Invoice line period (BG-26) is used, the Invoice line period start date (BT-134) or the Invoice line period end date (BT-135) shall be filled, or both.",
		check: func(inv *flowgate.Invoice, fail func(hit)) {
			eachDetail(inv, func(i int, d *flowgate.LineDetails) {
				for _, p := range d.Periods {
					if !p.HasStartDate && !p.HasEndDate {
						fail(lineHit("", inv, i))
					}
				}
			})
		}},
	allowanceRule("BR-CO-21", "BT-97",
		"Chaque remise au niveau du document (BG-20) doit contenir un motif (BT-97) ou un code de motif (BT-98), ou les deux.",
		"Each Document level allowance (BG-20) shall contain a Document level allowance reason (BT-97) or a Document level allowance reason code (BT-98), or both.",
		false, noReason),
	allowanceRule("BR-CO-22", "BT-104",
		"Chaque charge au niveau du document (BG-21) doit contenir un motif (BT-104) ou un code de motif (BT-105), ou les deux.",
		"Each Document level charge (BG-21) shall contain a Document level charge reason (BT-104) or a Document level charge reason code (BT-105), or both.",
		true, noReason),
	lineAllowanceRule("BR-CO-23", "BT-139",
		"Chaque remise sur une ligne de facture (BG-27) doit contenir un motif (BT-139) ou un code de motif (BT-140), ou les deux.",
		"Each Invoice line allowance (BG-27) shall contain an Invoice line allowance reason (BT-139) or an Invoice line allowance reason code (BT-140), or both.",
		false, noReason),
	lineAllowanceRule("BR-CO-24", "BT-144",
		"Chaque charge sur une ligne de facture (BG-28) doit contenir un motif (BT-144) ou un code de motif (BT-145), ou les deux.",
		"Each Invoice line charge (BG-28) shall contain an Invoice line charge reason (BT-144) or an Invoice line charge reason code (BT-145), or both.",
		true, noReason),
	{ID: "BR-CO-26", Field: "BT-29",
		FR: "Pour que l'acheteur identifie automatiquement le fournisseur, l'identifiant du vendeur (BT-29), son numéro d'immatriculation légale (BT-30) ou son numéro de TVA (BT-31) doit être présent.",
		EN: "In order for the buyer to automatically identify a supplier, the Seller identifier (BT-29), the Seller legal registration identifier (BT-30) and/or the Seller VAT identifier (BT-31) shall be present.",
		check: func(inv *flowgate.Invoice, fail func(hit)) {
			// Context cac:AccountingSupplierParty. Since v1.3.16 a
			// cac:PartyIdentification/cbc:ID with schemeID SEPA (a SEPA
			// creditor identifier, BT-90) does not identify the seller.
			if s := &inv.Seller; inv.Count.AccountingSupplierParty > 0 && !slices.ContainsFunc(s.Identifiers, notSEPA) && !s.HasLegalID && !hasVATID(s) {
				fail(hit{})
			}
		}},
}

// The code list and decimal places rules (codelists.go, decimals.go) follow
// the rules above in the report order.
func init() { enRules = append(enRules, slices.Concat(codeListRules, decimalRules)...) }

// notSEPA is cbc:ID[not(@schemeID = 'SEPA')]: an identifier without a
// scheme, or under another scheme than SEPA as written.
func notSEPA(id flowgate.Identifier) bool { return !id.HasSchemeID || id.SchemeID != "SEPA" }

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

// taxExclusiveWant is BT-106 - BT-107 + BT-108 as taxExclusiveConsistent
// computes it, for the message of BR-CO-13.
func taxExclusiveWant(t *flowgate.MonetaryTotal) computed {
	want, ok := val(t.LineExtension)
	if !ok {
		return notComputable("BT-106", t.LineExtension, 0)
	}
	if t.ChargeTotal.Present {
		c, ok := val(t.ChargeTotal)
		if !ok {
			return notComputable("BT-108", t.ChargeTotal, 0)
		}
		want = want.Add(c)
	}
	if t.AllowanceTotal.Present {
		a, ok := val(t.AllowanceTotal)
		if !ok {
			return notComputable("BT-107", t.AllowanceTotal, 0)
		}
		want = want.Sub(a)
	}
	if t.ChargeTotal.Present || t.AllowanceTotal.Present {
		want = want.Round(2)
	}
	return computed{v: want, ok: true}
}

// taxInclusiveWant is BT-109 + BT-110 as BR-CO-15 computes it, vat being
// the VAT totals in the document currency, or why it cannot.
func taxInclusiveWant(inv *flowgate.Invoice, vat []flowgate.Amount) computed {
	if n := inv.Count.LegalMonetaryTotal; n != 1 {
		return computed{why: text{strconv.Itoa(n) + " totaux du document (BG-22) au lieu d'un",
			strconv.Itoa(n) + " document totals (BG-22) instead of one"}}
	}
	if len(vat) != 1 {
		c := clipValue(inv.Currency)
		if len(vat) == 0 {
			return computed{why: text{"aucun montant total de TVA (BT-110) dans la devise du document « " + c + " »",
				"no Invoice total VAT amount (BT-110) in the document currency '" + c + "'"}}
		}
		return computed{why: text{strconv.Itoa(len(vat)) + " montants totaux de TVA (BT-110) dans la devise du document « " + c + " » au lieu d'un",
			strconv.Itoa(len(vat)) + " Invoice total VAT amounts (BT-110) in the document currency '" + c + "' instead of one"}}
	}
	if !vat[0].OK {
		return notComputable("BT-110", vat[0], 0)
	}
	excl, ok := val(inv.Totals.TaxExclusive)
	if !ok {
		return notComputable("BT-109", inv.Totals.TaxExclusive, 0)
	}
	return computed{v: excl.Add(vat[0].Value).Round(2), ok: true}
}

// payableWant is BT-112 - BT-113 + BT-114 as payableConsistent computes
// it, for the message of BR-CO-16.
func payableWant(t *flowgate.MonetaryTotal) computed {
	due, ok := val(t.TaxInclusive)
	if !ok {
		return notComputable("BT-112", t.TaxInclusive, 0)
	}
	if t.Prepaid.Present {
		pre, ok := val(t.Prepaid)
		if !ok {
			return notComputable("BT-113", t.Prepaid, 0)
		}
		due = due.Sub(pre).Round(2)
	}
	if t.Rounding.Present {
		r, ok := val(t.Rounding)
		if !ok {
			return notComputable("BT-114", t.Rounding, 0)
		}
		due = due.Add(r)
	}
	return computed{v: due, ok: true}
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

var (
	hundredth = flowgate.MustDecimal("0.01")
	one       = flowgate.DecimalFromInt(1)
)

func abs(d flowgate.Decimal) flowgate.Decimal {
	if d.Sign() < 0 {
		return d.Neg()
	}
	return d
}

// vatAmountDetail is what BR-CO-17 found on st: the tax amount declared
// and the one computed as vatAmountConsistent does.
func vatAmountDetail(st *flowgate.TaxSubtotal) text {
	zero := text{"valeur attendue (taux nul ou absent)", "expected value (zero or no rate)"}
	if !isVAT(st.TaxScheme) || !st.HasPercent {
		return sumDetail("BT-117", st.TaxAmount, zero, computed{v: flowgate.DecimalFromInt(0), ok: true})
	}
	rate, err := flowgate.ParseDecimal(st.Percent)
	if err != nil {
		p := clipValue(st.Percent)
		return sumDetail("BT-117", st.TaxAmount, text{"BT-116 × BT-119 / 100 calculé", "BT-116 × BT-119 / 100 computed"},
			computed{why: text{"« " + p + " » (BT-119) n'est pas un nombre décimal", "'" + p + "' (BT-119) is not a decimal"}})
	}
	if rate.Round(0).Sign() == 0 {
		return sumDetail("BT-117", st.TaxAmount, zero, computed{v: flowgate.DecimalFromInt(0), ok: true})
	}
	what := text{"BT-116 × BT-119 / 100 calculé", "BT-116 × BT-119 / 100 computed"}
	base, ok := val(st.TaxableAmount)
	if !ok {
		return sumDetail("BT-117", st.TaxAmount, what, notComputable("BT-116", st.TaxableAmount, 0))
	}
	return sumDetail("BT-117", st.TaxAmount, what, computed{v: base.Mul(rate).Mul(hundredth).Round(2), ok: true})
}

// vatAmountConsistent is BR-CO-17 as the Schematron writes it, for one
// VAT breakdown: with a VAT rate that rounds to 0, or without a VAT rate,
// the tax amount must round to 0; otherwise |BT-117| must be within 1 of
// round(|BT-116| × BT-119 / 100, 2), bounds excluded. A literal that is not
// a decimal is a dynamic error, which fails the assertion.
func vatAmountConsistent(st *flowgate.TaxSubtotal) bool {
	tax, okT := val(st.TaxAmount)
	if !isVAT(st.TaxScheme) || !st.HasPercent {
		return okT && tax.Round(0).Sign() == 0
	}
	rate, err := flowgate.ParseDecimal(st.Percent)
	if err != nil || !okT {
		return false
	}
	if rate.Round(0).Sign() == 0 {
		return tax.Round(0).Sign() == 0
	}
	base, okB := val(st.TaxableAmount)
	if !okB {
		return false
	}
	want := abs(base).Mul(rate).Mul(hundredth).Round(2)
	t := abs(tax)
	return t.Sub(one).Cmp(want) < 0 && t.Add(one).Cmp(want) > 0
}
