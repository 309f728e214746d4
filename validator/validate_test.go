package validator

import (
	"slices"
	"testing"

	"flowgate"
	"flowgate/directory"
)

const (
	supplierSIRET   = "73282932000074" // valid (DOMAIN.md §4)
	publicSupplier  = "26000006000012" // a structure of the directory acting as supplier
	plainRecipient  = "21000001000012"
	serviceRequired = "22000002000010"
	engagementReq   = "23000003000018"
	serviceOrEng    = "24000004000016"
	inactive        = "25000005000014"
	laPoste         = "35600000049837" // fails Luhn, valid under the La Poste rule
	badKeyListed    = "21000001000013" // fails Luhn but is in the directory
	unknownValid    = "99000009000011"
)

func testDirectory() *directory.Snapshot {
	return directory.New([]directory.Structure{
		{SIRET: plainRecipient, Name: "Commune", Active: true},
		{SIRET: serviceRequired, Name: "Département", ServiceRequired: true, Active: true},
		{SIRET: engagementReq, Name: "Hôpital", EngagementRequired: true, Active: true},
		{SIRET: serviceOrEng, Name: "Syndicat", ServiceOrEngagementRequired: true, Active: true},
		{SIRET: inactive, Name: "Ancienne", Active: false},
		{SIRET: publicSupplier, Name: "Régie", Active: true},
		{SIRET: laPoste, Name: "La Poste", Active: true},
		{SIRET: badKeyListed, Name: "Lycée", Active: true},
	}, []directory.Service{
		{SIRET: serviceRequired, Code: "COMPTA", Name: "Finances", Active: true},
		{SIRET: serviceRequired, Code: "ARCHIVES", Name: "Archives", Active: false},
		{SIRET: serviceRequired, Code: "TRAVAUX", Name: "Travaux", EngagementRequired: true, Active: true},
	})
}

func amount(s string) flowgate.Amount {
	return flowgate.Amount{Present: true, Raw: s, Currency: "EUR", Value: flowgate.MustDecimal(s), OK: true}
}

// goodInvoice passes every check against testDirectory.
func goodInvoice() *flowgate.Invoice {
	inv := &flowgate.Invoice{
		Kind: flowgate.KindInvoice, CustomizationID: "urn:cen.eu:en16931:2017", Number: "FA-2026-001",
		IssueDate: "2026-11-02", TypeCode: "380", Currency: "EUR", HasDueDate: true,
		Seller: flowgate.Party{Identifiers: []flowgate.Identifier{{Value: supplierSIRET, SchemeID: "0009"}},
			Name: "Fournisseur", HasAddress: true, CountryCode: "FR"},
		Buyer: flowgate.Party{Identifiers: []flowgate.Identifier{{Value: plainRecipient, SchemeID: "0009"}},
			Name: "Commune", HasAddress: true, CountryCode: "FR"},
		Totals: flowgate.MonetaryTotal{LineExtension: amount("200.40"), TaxExclusive: amount("200.40"),
			TaxInclusive: amount("240.48"), Payable: amount("240.48")},
		TaxTotals: []flowgate.TaxTotal{{TaxAmount: amount("40.08"),
			Subtotals: []flowgate.TaxSubtotal{{TaxableAmount: amount("200.40"), TaxAmount: amount("40.08"), Category: "S", Percent: "20"}}}},
		Lines: []flowgate.Line{
			{ID: "1", Quantity: amount("10"), Unit: "C62", HasUnit: true, LineExtension: amount("125.00"), ItemName: "Papier", Price: amount("12.50")},
			{ID: "2", Quantity: amount("1"), Unit: "C62", HasUnit: true, LineExtension: amount("75.40"), ItemName: "Toner", Price: amount("75.40")},
		},
	}
	inv.Count.LegalMonetaryTotal = 1
	return inv
}

func codes(fs []flowgate.Finding) []string {
	var out []string
	for _, f := range fs {
		out = append(out, f.Code)
	}
	return out
}

func TestGoodInvoicePasses(t *testing.T) {
	if fs := Validate(goodInvoice(), Input{Directory: testDirectory()}); len(fs) != 0 {
		t.Fatalf("findings on the good invoice: %+v", fs)
	}
}

// TestRules: for each rule, the good invoice passes and one change makes
// it fail with exactly that code (and the consequences the EN 16931
// Schematron itself draws, listed).
func TestRules(t *testing.T) {
	buyer := func(siret string) func(*flowgate.Invoice) {
		return func(inv *flowgate.Invoice) { inv.Buyer.Identifiers[0].Value = siret }
	}
	tests := []struct {
		want   []string
		change func(*flowgate.Invoice)
	}{
		{[]string{"BR-01"}, func(inv *flowgate.Invoice) { inv.CustomizationID = " " }},
		{[]string{"BR-02"}, func(inv *flowgate.Invoice) { inv.Number = "" }},
		{[]string{"BR-03"}, func(inv *flowgate.Invoice) { inv.IssueDate = "" }},
		{[]string{"BR-04"}, func(inv *flowgate.Invoice) { inv.TypeCode = "" }},
		{[]string{"BR-05"}, func(inv *flowgate.Invoice) { inv.Currency = "" }}, // BR-CO-15 holds vacuously without a currency
		{[]string{"BR-06"}, func(inv *flowgate.Invoice) { inv.Seller.Name = "" }},
		{[]string{"BR-07"}, func(inv *flowgate.Invoice) { inv.Buyer.Name = "" }},
		{[]string{"BR-08"}, func(inv *flowgate.Invoice) { inv.Seller.HasAddress = false }},
		{[]string{"BR-09"}, func(inv *flowgate.Invoice) { inv.Seller.CountryCode = "" }},
		{[]string{"BR-10"}, func(inv *flowgate.Invoice) { inv.Buyer.HasAddress = false }},
		{[]string{"BR-11"}, func(inv *flowgate.Invoice) { inv.Buyer.CountryCode = "" }},
		{[]string{"BR-12", "BR-CO-10", "BR-CO-13"}, func(inv *flowgate.Invoice) { inv.Totals.LineExtension = flowgate.Amount{} }},
		{[]string{"BR-13", "BR-CO-13", "BR-CO-15"}, func(inv *flowgate.Invoice) { inv.Totals.TaxExclusive = flowgate.Amount{} }},
		{[]string{"BR-14", "BR-CO-15", "BR-CO-16"}, func(inv *flowgate.Invoice) { inv.Totals.TaxInclusive = flowgate.Amount{} }},
		{[]string{"BR-15", "BR-CO-16"}, func(inv *flowgate.Invoice) { inv.Totals.Payable = flowgate.Amount{} }},
		{[]string{"BR-16", "BR-CO-10"}, func(inv *flowgate.Invoice) { inv.Lines = nil }},
		{[]string{"BR-21"}, func(inv *flowgate.Invoice) { inv.Lines[0].ID = "" }},
		{[]string{"BR-22"}, func(inv *flowgate.Invoice) { inv.Lines[0].Quantity = flowgate.Amount{} }},
		{[]string{"BR-23"}, func(inv *flowgate.Invoice) { inv.Lines[1].HasUnit = false }},
		{[]string{"BR-24", "BR-CO-10"}, func(inv *flowgate.Invoice) { inv.Lines[1].LineExtension = flowgate.Amount{} }},
		{[]string{"BR-25"}, func(inv *flowgate.Invoice) { inv.Lines[0].ItemName = "  " }},
		{[]string{"BR-26", "BR-27"}, func(inv *flowgate.Invoice) { inv.Lines[0].Price = flowgate.Amount{} }},
		{[]string{"BR-27"}, func(inv *flowgate.Invoice) { inv.Lines[0].Price = amount("-1") }},
		{[]string{"BR-55"}, func(inv *flowgate.Invoice) { inv.Preceding = []flowgate.DocumentRef{{IssueDate: "2026-01-01"}} }},
		{[]string{"BR-CO-10"}, func(inv *flowgate.Invoice) { inv.Lines[0].LineExtension = amount("125.01") }},
		{[]string{"BR-CO-11"}, func(inv *flowgate.Invoice) {
			inv.AllowanceCharges = []flowgate.AllowanceCharge{{ChargeIndicator: "false", Amount: amount("10")}}
		}},
		{[]string{"BR-CO-12"}, func(inv *flowgate.Invoice) {
			inv.AllowanceCharges = []flowgate.AllowanceCharge{{ChargeIndicator: "true", Amount: amount("10")}}
		}},
		{[]string{"BR-CO-13"}, func(inv *flowgate.Invoice) {
			inv.Totals.ChargeTotal = amount("10")
			inv.AllowanceCharges = []flowgate.AllowanceCharge{{ChargeIndicator: "true", Amount: amount("10")}}
		}},
		{[]string{"BR-CO-14"}, func(inv *flowgate.Invoice) { inv.TaxTotals[0].Subtotals[0].TaxAmount = amount("40.07") }},
		{[]string{"BR-CO-15"}, func(inv *flowgate.Invoice) { inv.TaxTotals[0].TaxAmount.Currency = "USD" }},
		{[]string{"BR-CO-16"}, func(inv *flowgate.Invoice) { inv.Totals.Prepaid = amount("40.48") }},
		{[]string{"BR-CO-18"}, func(inv *flowgate.Invoice) { inv.TaxTotals[0].Subtotals = nil }},
		{[]string{"BR-CO-25"}, func(inv *flowgate.Invoice) { inv.HasDueDate = false }},
		{[]string{"BR-FR-01"}, func(inv *flowgate.Invoice) { inv.Number = "FA-2026-0001-0002-0003-0004-0005-000" }},
		{[]string{"BR-FR-02"}, func(inv *flowgate.Invoice) { inv.Number = "FA 2026.1" }},
		{[]string{"BR-FR-02"}, func(inv *flowgate.Invoice) { inv.Number = "FA-2026-É" }},
		{[]string{"BR-FR-CO-05"}, func(inv *flowgate.Invoice) { inv.TypeCode = "381"; inv.Kind = flowgate.KindCreditNote }},
		{[]string{"CPP-TYPE"}, func(inv *flowgate.Invoice) { inv.TypeCode = "325" }},
		{[]string{"CPP-MONTANT-NEGATIF"}, func(inv *flowgate.Invoice) {
			inv.TypeCode, inv.Kind = "381", flowgate.KindCreditNote
			inv.Preceding = []flowgate.DocumentRef{{ID: "FA-1", HasID: true}}
			inv.Totals.TaxInclusive, inv.Totals.Payable, inv.TaxTotals[0].TaxAmount = amount("-1"), amount("-1"), amount("-201.40")
			inv.TaxTotals[0].Subtotals[0].TaxAmount = amount("-201.40")
		}},
		{[]string{"FR-SIRET-FOURNISSEUR"}, func(inv *flowgate.Invoice) { inv.Seller.Identifiers = nil }},
		{[]string{"FR-SIRET-FOURNISSEUR"}, func(inv *flowgate.Invoice) { inv.Seller.Identifiers[0].Value = "73282932000075" }},
		{[]string{"FR-SIRET-FOURNISSEUR"}, func(inv *flowgate.Invoice) { inv.Seller.Identifiers[0].Value = "7328293200007" }},
		{[]string{"FR-SIRET-FOURNISSEUR"}, func(inv *flowgate.Invoice) { inv.Seller.Identifiers[0].SchemeID = "0088" }},
		{[]string{"FR-SIRET-DESTINATAIRE"}, func(inv *flowgate.Invoice) { inv.Buyer.Identifiers = nil }},
		{[]string{"FR-SIRET-DESTINATAIRE"}, buyer("12345678912345")},
		{[]string{"FR-SIRET-DESTINATAIRE"}, buyer("2100000100001A")},
		{[]string{"CPP-DEST-INCONNU"}, buyer(unknownValid)},
		{[]string{"CPP-DEST-INACTIF"}, buyer(inactive)},
		{[]string{"CPP-SERVICE-OBLIGATOIRE"}, buyer(serviceRequired)},
		{[]string{"CPP-SERVICE-INCONNU"}, func(inv *flowgate.Invoice) { buyer(serviceRequired)(inv); inv.BuyerReference = "compta" }},
		{[]string{"CPP-SERVICE-INCONNU"}, func(inv *flowgate.Invoice) { inv.BuyerReference = "COMPTA" }},
		{[]string{"CPP-SERVICE-INACTIF"}, func(inv *flowgate.Invoice) { buyer(serviceRequired)(inv); inv.BuyerReference = "ARCHIVES" }},
		{[]string{"CPP-SERVICE-RESERVE"}, func(inv *flowgate.Invoice) { inv.BuyerReference = ReservedService }},
		{[]string{"CPP-ENGAGEMENT-OBLIGATOIRE"}, buyer(engagementReq)},
		{[]string{"CPP-ENGAGEMENT-OBLIGATOIRE"}, func(inv *flowgate.Invoice) { buyer(serviceRequired)(inv); inv.BuyerReference = "TRAVAUX" }},
		{[]string{"CPP-SERVICE-OU-ENGAGEMENT"}, buyer(serviceOrEng)},
	}
	dir := testDirectory()
	for _, tt := range tests {
		inv := goodInvoice()
		tt.change(inv)
		got := codes(Validate(inv, Input{Directory: dir}))
		if !slices.Equal(got, tt.want) {
			t.Errorf("want %v, got %v", tt.want, got)
		}
	}
}

// TestAccepted lists changes that must not be rejected.
func TestAccepted(t *testing.T) {
	tests := map[string]func(*flowgate.Invoice){
		"La Poste SIRET failing Luhn": func(inv *flowgate.Invoice) { inv.Buyer.Identifiers[0].Value = laPoste },
		"directory SIRET failing Luhn": func(inv *flowgate.Invoice) {
			inv.Buyer.Identifiers[0].Value = badKeyListed
		},
		"service given when optional": func(inv *flowgate.Invoice) {
			inv.Buyer.Identifiers[0].Value = serviceRequired
			inv.BuyerReference = "COMPTA"
		},
		"legacy service code in contact": func(inv *flowgate.Invoice) {
			inv.Buyer.Identifiers[0].Value = serviceRequired
			inv.Buyer.ContactID = "COMPTA"
		},
		"legacy schemeName 1": func(inv *flowgate.Invoice) {
			inv.Seller.Identifiers[0] = flowgate.Identifier{Value: supplierSIRET, SchemeName: "1"}
		},
		"engagement given":               func(inv *flowgate.Invoice) { inv.Buyer.Identifiers[0].Value = engagementReq; inv.Order = "EJ-1" },
		"service or engagement: service": func(inv *flowgate.Invoice) { inv.Buyer.Identifiers[0].Value = serviceOrEng; inv.Order = "EJ-1" },
		"public supplier, reserved code": func(inv *flowgate.Invoice) {
			inv.Seller.Identifiers[0].Value = publicSupplier
			inv.BuyerReference = ReservedService
		},
		"payment terms instead of due":    func(inv *flowgate.Invoice) { inv.HasDueDate, inv.HasPaymentTerms = false, true },
		"rounding within two decimals":    func(inv *flowgate.Invoice) { inv.Lines[0].LineExtension = amount("124.996") },
		"type 386 prepayment":             func(inv *flowgate.Invoice) { inv.TypeCode = "386" },
		"number of 35 allowed characters": func(inv *flowgate.Invoice) { inv.Number = "FA+2026/0001_0002-0003-0004-0005-00" },
		"negative corrective invoice 380": func(inv *flowgate.Invoice) { negate(inv) },
		"allowance with total":            func(inv *flowgate.Invoice) { allowance(inv) },
		"credit note referencing invoice": func(inv *flowgate.Invoice) { creditNote(inv) },
		"payable rounding with prepayment": func(inv *flowgate.Invoice) {
			inv.Totals.Prepaid, inv.Totals.Rounding, inv.Totals.Payable = amount("40"), amount("0.02"), amount("200.50")
		},
	}
	dir := testDirectory()
	for name, change := range tests {
		inv := goodInvoice()
		change(inv)
		if fs := Validate(inv, Input{Directory: dir}); len(fs) != 0 {
			t.Errorf("%s: findings %v", name, codes(fs))
		}
	}
}

func negate(inv *flowgate.Invoice) {
	inv.Lines[0].LineExtension, inv.Lines[1].LineExtension = amount("-125.00"), amount("-75.40")
	inv.Lines[0].Quantity, inv.Lines[1].Quantity = amount("-10"), amount("-1")
	inv.Totals = flowgate.MonetaryTotal{LineExtension: amount("-200.40"), TaxExclusive: amount("-200.40"),
		TaxInclusive: amount("-240.48"), Payable: amount("-240.48")}
	inv.TaxTotals[0].TaxAmount, inv.TaxTotals[0].Subtotals[0].TaxAmount = amount("-40.08"), amount("-40.08")
}

func allowance(inv *flowgate.Invoice) {
	inv.AllowanceCharges = []flowgate.AllowanceCharge{{ChargeIndicator: "false", Amount: amount("0.40")}}
	inv.Totals.AllowanceTotal = amount("0.40")
	inv.Totals.TaxExclusive, inv.Totals.TaxInclusive, inv.Totals.Payable = amount("200.00"), amount("240.08"), amount("240.08")
}

func creditNote(inv *flowgate.Invoice) {
	inv.Kind, inv.TypeCode = flowgate.KindCreditNote, "381"
	inv.Preceding = []flowgate.DocumentRef{{ID: "FA-2026-000", HasID: true}}
}

func TestSkippedChecks(t *testing.T) {
	// Without a directory, a well-formed unknown recipient passes, and a
	// malformed one is still malformed.
	inv := goodInvoice()
	inv.Buyer.Identifiers[0].Value = unknownValid
	if fs := Validate(inv, Input{}); len(fs) != 0 {
		t.Errorf("no directory: %v", codes(fs))
	}
	inv.Buyer.Identifiers[0].Value = badKeyListed
	if got := codes(Validate(inv, Input{})); !slices.Equal(got, []string{"FR-SIRET-DESTINATAIRE"}) {
		t.Errorf("no directory, bad key: %v", got)
	}
}

func TestSenderHabilitation(t *testing.T) {
	inv := goodInvoice()
	if fs := Validate(inv, Input{Sender: &Sender{ID: "FOURN01", SIRETs: []string{supplierSIRET}}}); len(fs) != 0 {
		t.Errorf("allowed sender: %v", codes(fs))
	}
	got := Validate(inv, Input{Sender: &Sender{ID: "FOURN02", SIRETs: []string{"81000001000019"}}})
	if !slices.Equal(codes(got), []string{"CPP-EMETTEUR-NON-HABILITE"}) || got[0].Value != supplierSIRET {
		t.Errorf("other sender: %+v", got)
	}
}

func TestDuplicate(t *testing.T) {
	h := MemoryHistory{}
	inv := goodInvoice()
	key, ok := KeyOf(inv)
	if !ok || key != (DuplicateKey{supplierSIRET, "FA-2026-001", "2026"}) {
		t.Fatalf("key %+v", key)
	}
	if fs := Validate(inv, Input{History: h}); len(fs) != 0 {
		t.Fatalf("first: %v", codes(fs))
	}
	h.Add(key)
	if got := codes(Validate(inv, Input{History: h})); !slices.Equal(got, []string{"CPP-DOUBLON"}) {
		t.Errorf("second: %v", got)
	}
	// Same number, another year: not a duplicate.
	inv.IssueDate = "2027-01-03"
	if fs := Validate(inv, Input{History: h}); len(fs) != 0 {
		t.Errorf("next year: %v", codes(fs))
	}
}

func TestCheckSIRET(t *testing.T) {
	for s, valid := range map[string]bool{
		"73282932000074": true, "35600000049837": true, "12345678912345": false,
		"35600000049838": false, "7328293200007": false, "7328293200007A": false, "": false,
		"00000000000000": true, "732829320000740": false,
	} {
		if got := CheckSIRET(s) == nil; got != valid {
			t.Errorf("CheckSIRET(%q) valid = %v, want %v", s, got, valid)
		}
	}
}

func TestFindingsCarryBothLanguages(t *testing.T) {
	inv := &flowgate.Invoice{Kind: flowgate.KindCreditNote, TypeCode: "381", Number: "A B"}
	inv.Count.LegalMonetaryTotal = 1
	for _, f := range Validate(inv, Input{Directory: testDirectory()}) {
		if f.MessageFR == "" || f.Message == "" || f.Field == "" || f.Severity != flowgate.Fatal {
			t.Errorf("incomplete finding %+v", f)
		}
	}
}
