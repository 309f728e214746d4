package validator

import (
	"slices"
	"testing"

	"flowgate"
)

// vatFired runs the VAT category rules alone on inv, BR-S-02 first, and
// returns the ids that fired, in that order.
func vatFired(inv *flowgate.Invoice) []string {
	var ids []string
	for _, r := range append([]Rule{ruleBRS02}, vatRules...) {
		if len(r.Check(inv)) > 0 {
			ids = append(ids, r.ID)
		}
	}
	return ids
}

// TestVATCategoryXPath holds the corners where each family's XPath, not
// the norm's text, decides; the CEN unit tests and the differential test
// against the official artefact cover the rest.
func TestVATCategoryXPath(t *testing.T) {
	cat := func(id, scheme string) flowgate.TaxCategory {
		return flowgate.TaxCategory{ID: id, HasID: true, TaxScheme: scheme}
	}
	breakdown := func(code, tax, pct string) flowgate.TaxSubtotal {
		return flowgate.TaxSubtotal{TaxableAmount: amount("100.00"), TaxAmount: amount(tax), Category: code,
			Percent: pct, HasPercent: pct != "", TaxScheme: "VAT"}
	}
	setLines := func(c flowgate.TaxCategory) func(*flowgate.Invoice) {
		return func(inv *flowgate.Invoice) {
			for i := range inv.Lines {
				inv.Lines[i].TaxCategory = c
			}
		}
	}
	tests := []struct {
		name   string
		want   []string
		change func(*flowgate.Invoice)
	}{
		{"good invoice", nil, func(*flowgate.Invoice) {}},
		// BR-S-01 and -02 read the line's S whatever its tax scheme.
		{"S under another scheme", []string{"BR-S-02"}, setLines(cat("S", "GST"))},
		{"S under another scheme, no S breakdown", []string{"BR-S-02", "BR-S-01"}, func(inv *flowgate.Invoice) {
			setLines(cat("S", "GST"))(inv)
			inv.TaxTotals[0].Subtotals[0].Category = "X"
		}},
		// The others ask for the VAT scheme: a Z under GST is no Z.
		{"Z under another scheme", []string{"BR-S-01"}, setLines(cat("Z", "GST"))},
		// The code is trimmed of XML space only: U+00A0 stays.
		{"no-break space", []string{"BR-S-01"}, setLines(cat("\u00a0S", "VAT"))},
		{"XML space", nil, setLines(cat(" S\n", "vat "))},
		{"S without rate", []string{"BR-S-09"}, func(inv *flowgate.Invoice) { inv.TaxTotals[0].Subtotals[0].HasPercent = false }},
		{"S tax off by one", []string{"BR-S-09"}, func(inv *flowgate.Invoice) { inv.TaxTotals[0].Subtotals[0].TaxAmount = amount("41.08") }},
		{"S tax off by less than one", nil, func(inv *flowgate.Invoice) { inv.TaxTotals[0].Subtotals[0].TaxAmount = amount("-41.07") }},
		// -01: exactly one breakdown for Z, E, AE, K, G, O.
		{"two Z breakdowns", []string{"BR-Z-01"}, func(inv *flowgate.Invoice) {
			setLines(cat("Z", "VAT"))(inv)
			inv.TaxTotals[0].Subtotals = []flowgate.TaxSubtotal{breakdown("Z", "0", "0"), breakdown("Z", "0", "0")}
		}},
		{"Z with tax", []string{"BR-Z-09"}, func(inv *flowgate.Invoice) {
			setLines(cat("Z", "VAT"))(inv)
			inv.TaxTotals[0].Subtotals = []flowgate.TaxSubtotal{breakdown("Z", "0.01", "0")}
		}},
		// BR-G-02 asks for a VAT identifier; BR-E-02 for any tax identifier.
		{"G and E, seller's identifier under another scheme", []string{"BR-G-02"}, func(inv *flowgate.Invoice) {
			inv.Lines[0].TaxCategory, inv.Lines[1].TaxCategory = cat("G", "VAT"), cat("E", "VAT")
			inv.Seller.TaxSchemes[0].TaxScheme = "TAX"
			inv.TaxTotals[0].Subtotals = []flowgate.TaxSubtotal{breakdown("G", "0", "0"), breakdown("E", "0", "0")}
		}},
		// BR-AE-02: the buyer's legal identifier will do.
		{"AE, buyer with a legal identifier", nil, func(inv *flowgate.Invoice) {
			setLines(cat("AE", "VAT"))(inv)
			inv.Buyer.HasLegalID = true
			inv.TaxTotals[0].Subtotals = []flowgate.TaxSubtotal{breakdown("AE", "0", "0")}
		}},
		{"AE, buyer without identifier", []string{"BR-AE-02"}, func(inv *flowgate.Invoice) {
			setLines(cat("AE", "VAT"))(inv)
			inv.TaxTotals[0].Subtotals = []flowgate.TaxSubtotal{breakdown("AE", "0", "0")}
		}},
		// BR-O: no VAT identifier, and no other category beside O; a
		// category without a code is another category.
		{"O", []string{"BR-O-02"}, func(inv *flowgate.Invoice) {
			setLines(cat("O", "VAT"))(inv)
			inv.TaxTotals[0].Subtotals = []flowgate.TaxSubtotal{breakdown("O", "0", "")}
		}},
		{"O beside a line without code", []string{"BR-O-12"}, func(inv *flowgate.Invoice) {
			inv.Seller.TaxSchemes = nil
			inv.Lines[0].TaxCategory = cat("O", "VAT")
			inv.Lines[1].TaxCategory = flowgate.TaxCategory{TaxScheme: "VAT"}
			inv.TaxTotals[0].Subtotals = []flowgate.TaxSubtotal{breakdown("O", "0", "")}
		}},
		{"O beside an S allowance, no seller identifier", []string{"BR-S-01", "BR-S-03", "BR-O-13"}, func(inv *flowgate.Invoice) {
			inv.Seller.TaxSchemes = nil
			setLines(cat("O", "VAT"))(inv)
			ac := docAC(false, "1.00")
			ac.TaxCategory = vatS
			inv.AllowanceCharges = append(inv.AllowanceCharges, ac)
			inv.TaxTotals[0].Subtotals = []flowgate.TaxSubtotal{breakdown("O", "0", "")}
		}},
		// BR-AF-01 reads the breakdown code as written (cbc:ID = 'L').
		{"L breakdown untrimmed", []string{"BR-AF-01"}, func(inv *flowgate.Invoice) {
			setLines(cat("L", "VAT"))(inv)
			inv.TaxTotals[0].Subtotals = []flowgate.TaxSubtotal{breakdown(" L", "7.00", "7")}
		}},
		{"L", nil, func(inv *flowgate.Invoice) {
			setLines(cat("L", "VAT"))(inv)
			inv.TaxTotals[0].Subtotals = []flowgate.TaxSubtotal{breakdown("L", "7.00", "7")}
		}},
		// BR-AF-04 reads the charge's code as written; BR-AG-04 trims it.
		{"untrimmed L and M charges, no seller identifier", []string{"BR-S-02", "BR-AG-04"}, func(inv *flowgate.Invoice) {
			inv.Seller.TaxSchemes = nil
			l, m := docAC(true, "1.00"), docAC(true, "1.00")
			l.TaxCategory, m.TaxCategory = cat("L ", "VAT"), cat("M ", "VAT")
			inv.AllowanceCharges = append(inv.AllowanceCharges, l, m)
			inv.TaxTotals[0].Subtotals = append(inv.TaxTotals[0].Subtotals, breakdown("L", "0", "0"), breakdown("M", "0", "0"))
		}},
	}
	for _, tt := range tests {
		inv := goodInvoice()
		tt.change(inv)
		if got := vatFired(inv); !slices.Equal(got, tt.want) {
			t.Errorf("%s: fired %v, want %v", tt.name, got, tt.want)
		}
	}
}
