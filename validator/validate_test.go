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
	return flowgate.Amount{Present: true, Raw: s, Currency: "EUR", HasCurrency: true, Value: flowgate.MustDecimal(s), OK: true}
}

// goodInvoice passes every check against testDirectory.
func goodInvoice() *flowgate.Invoice {
	inv := &flowgate.Invoice{
		Kind: flowgate.KindInvoice, CustomizationID: "urn:cen.eu:en16931:2017", Number: "FA-2026-001",
		IssueDate: "2026-11-02", TypeCode: "380", Currency: "EUR", HasCurrency: true, HasDueDate: true,
		Seller: flowgate.Party{Identifiers: []flowgate.Identifier{{Value: supplierSIRET, SchemeID: "0009", HasSchemeID: true}},
			Name: "Fournisseur", HasAddress: true, CountryCode: "FR", VATID: "FR32732829320",
			TaxSchemes: []flowgate.PartyTaxScheme{{CompanyID: "FR32732829320", HasCompanyID: true, TaxScheme: "VAT"}},
			Endpoint:   flowgate.Identifier{Value: supplierSIRET, SchemeID: "0009", HasSchemeID: true}, HasEndpoint: true},
		Buyer: flowgate.Party{Identifiers: []flowgate.Identifier{{Value: plainRecipient, SchemeID: "0009", HasSchemeID: true}},
			Name: "Commune", HasAddress: true, CountryCode: "FR",
			Endpoint: flowgate.Identifier{Value: plainRecipient, SchemeID: "0009", HasSchemeID: true}, HasEndpoint: true},
		PaymentMeans: []flowgate.PaymentMeans{{Code: "30", HasCode: true, HasAccount: true,
			AccountID: "FR7630006000011234567890189", HasAccountID: true}},
		Totals: flowgate.MonetaryTotal{LineExtension: amount("200.40"), TaxExclusive: amount("200.40"),
			TaxInclusive: amount("240.48"), Payable: amount("240.48")},
		TaxTotals: []flowgate.TaxTotal{{TaxAmount: amount("40.08"),
			Subtotals: []flowgate.TaxSubtotal{{TaxableAmount: amount("200.40"), TaxAmount: amount("40.08"), Category: "S",
				Percent: "20", HasPercent: true, TaxScheme: "VAT"}}}},
		Lines: []flowgate.Line{
			{ID: "1", Quantity: amount("10"), Unit: "C62", HasUnit: true, LineExtension: amount("125.00"), ItemName: "Papier", Price: amount("12.50"),
				TaxCategory: vatS},
			{ID: "2", Quantity: amount("1"), Unit: "C62", HasUnit: true, LineExtension: amount("75.40"), ItemName: "Toner", Price: amount("75.40"),
				TaxCategory: vatS},
		},
	}
	inv.Count.LegalMonetaryTotal = 1
	inv.Count.AccountingSupplierParty = 1
	return inv
}

// vatS is the standard rated VAT category.
var vatS = flowgate.TaxCategory{ID: "S", HasID: true, TaxScheme: "VAT"}

// docAC is a complete document level allowance (charge false) or charge.
func docAC(charge bool, amt string) flowgate.AllowanceCharge {
	ac := flowgate.AllowanceCharge{ChargeIndicator: "false", Amount: amount(amt), Reason: "Remise", HasReason: true, TaxCategory: vatS}
	if charge {
		ac.ChargeIndicator, ac.Reason = "true", "Port"
	}
	return ac
}

// lineAC is a complete line allowance or charge.
func lineAC(charge bool, amt string) flowgate.AllowanceCharge {
	ac := docAC(charge, amt)
	ac.TaxCategory = flowgate.TaxCategory{}
	return ac
}

// taxRep gives the invoice a complete seller tax representative.
func taxRep(inv *flowgate.Invoice) {
	inv.Count.TaxRepresentativeParty = 1
	inv.TaxRepresentative = flowgate.Party{TradingNames: []string{"Représentant fiscal"}, HasAddress: true, CountryCode: "FR",
		TaxSchemes: []flowgate.PartyTaxScheme{{CompanyID: "FR61123456789", HasCompanyID: true, TaxScheme: "VAT"}}}
}

// charge adds a 10.00 document level charge (or allowance), with its total
// and the totals it changes.
func charge(inv *flowgate.Invoice, isCharge bool) {
	inv.AllowanceCharges = []flowgate.AllowanceCharge{docAC(isCharge, "10.00")}
	if isCharge {
		inv.Totals.ChargeTotal = amount("10.00")
		inv.Totals.TaxExclusive, inv.Totals.TaxInclusive, inv.Totals.Payable = amount("210.40"), amount("250.48"), amount("250.48")
	} else {
		inv.Totals.AllowanceTotal = amount("10.00")
		inv.Totals.TaxExclusive, inv.Totals.TaxInclusive, inv.Totals.Payable = amount("190.40"), amount("230.48"), amount("230.48")
	}
}

// details gives line i details.
func details(inv *flowgate.Invoice, i int) *flowgate.LineDetails {
	if inv.Lines[i].Details == nil {
		inv.Lines[i].Details = &flowgate.LineDetails{}
	}
	return inv.Lines[i].Details
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
		{[]string{"BR-05"}, func(inv *flowgate.Invoice) { inv.Currency, inv.HasCurrency = "", false }}, // BR-CO-15 holds vacuously without cbc:DocumentCurrencyCode
		{[]string{"BR-05", "BR-CO-15", "BR-CL-04"}, func(inv *flowgate.Invoice) { inv.Currency = "" }}, // an empty one is a currency no VAT total has, and no ISO 4217 code
		{[]string{"BR-CO-15"}, func(inv *flowgate.Invoice) { inv.Currency = " EUR" }},                  // compared as written
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
		{[]string{"BR-16", "BR-CO-10", "BR-S-01"}, func(inv *flowgate.Invoice) { inv.Lines = nil }}, // an S breakdown without S line
		{[]string{"BR-17"}, func(inv *flowgate.Invoice) { inv.Count.PayeeParty = 1 }},
		{[]string{"BR-17"}, func(inv *flowgate.Invoice) { // payee named as the seller
			inv.Count.PayeeParty = 1
			inv.Seller.TradingNames = []string{"Durand"}
			inv.Payee.TradingNames = []string{"Durand"}
		}},
		{[]string{"BR-18"}, func(inv *flowgate.Invoice) { taxRep(inv); inv.TaxRepresentative.TradingNames = []string{" "} }},
		{[]string{"BR-19"}, func(inv *flowgate.Invoice) { taxRep(inv); inv.TaxRepresentative.HasAddress = false }},
		{[]string{"BR-20"}, func(inv *flowgate.Invoice) { taxRep(inv); inv.TaxRepresentative.CountryCode = "" }},
		{[]string{"BR-21"}, func(inv *flowgate.Invoice) { inv.Lines[0].ID = "" }},
		{[]string{"BR-22"}, func(inv *flowgate.Invoice) { inv.Lines[0].Quantity = flowgate.Amount{} }},
		{[]string{"BR-23"}, func(inv *flowgate.Invoice) { inv.Lines[1].HasUnit = false }},
		{[]string{"BR-24", "BR-CO-10"}, func(inv *flowgate.Invoice) { inv.Lines[1].LineExtension = flowgate.Amount{} }},
		{[]string{"BR-25"}, func(inv *flowgate.Invoice) { inv.Lines[0].ItemName = "  " }},
		{[]string{"BR-26", "BR-27"}, func(inv *flowgate.Invoice) { inv.Lines[0].Price = flowgate.Amount{} }},
		{[]string{"BR-27"}, func(inv *flowgate.Invoice) { inv.Lines[0].Price = amount("-1") }},
		{[]string{"BR-28"}, func(inv *flowgate.Invoice) { details(inv, 0).GrossPrice = amount("-13.00") }},
		{[]string{"BR-31"}, func(inv *flowgate.Invoice) {
			charge(inv, false)
			inv.AllowanceCharges[0].Amount = flowgate.Amount{}
			inv.Totals = goodInvoice().Totals
			inv.Totals.AllowanceTotal = amount("0.00")
		}},
		{[]string{"BR-32"}, func(inv *flowgate.Invoice) { charge(inv, false); inv.AllowanceCharges[0].TaxCategory.TaxScheme = "" }},
		// BR-33 and BR-CO-21 (as BR-38 and BR-CO-22, BR-42 and BR-CO-23,
		// BR-44 and BR-CO-24) make the same test in the Schematron.
		{[]string{"BR-33", "BR-CO-21"}, func(inv *flowgate.Invoice) { charge(inv, false); inv.AllowanceCharges[0].HasReason = false }},
		{[]string{"BR-36"}, func(inv *flowgate.Invoice) {
			charge(inv, true)
			inv.AllowanceCharges[0].Amount = flowgate.Amount{}
			inv.Totals = goodInvoice().Totals
			inv.Totals.ChargeTotal = amount("0.00")
		}},
		{[]string{"BR-37"}, func(inv *flowgate.Invoice) { charge(inv, true); inv.AllowanceCharges[0].TaxCategory.HasID = false }},
		{[]string{"BR-38", "BR-CO-22"}, func(inv *flowgate.Invoice) { charge(inv, true); inv.AllowanceCharges[0].HasReason = false }},
		{[]string{"BR-41"}, func(inv *flowgate.Invoice) {
			ac := lineAC(false, "1.00")
			ac.Amount = flowgate.Amount{}
			details(inv, 0).AllowanceCharges = []flowgate.AllowanceCharge{ac}
		}},
		{[]string{"BR-42", "BR-CO-23"}, func(inv *flowgate.Invoice) {
			ac := lineAC(false, "1.00")
			ac.HasReason = false
			details(inv, 0).AllowanceCharges = []flowgate.AllowanceCharge{ac}
		}},
		{[]string{"BR-43"}, func(inv *flowgate.Invoice) {
			ac := lineAC(true, "1.00")
			ac.Amount = flowgate.Amount{}
			details(inv, 1).AllowanceCharges = []flowgate.AllowanceCharge{lineAC(false, "1.00"), ac}
		}},
		{[]string{"BR-44", "BR-CO-24"}, func(inv *flowgate.Invoice) {
			ac := lineAC(true, "1.00")
			ac.HasReason = false
			details(inv, 1).AllowanceCharges = []flowgate.AllowanceCharge{ac}
		}},
		{[]string{"BR-49"}, func(inv *flowgate.Invoice) { inv.PaymentMeans[0].Code, inv.PaymentMeans[0].HasCode = "", false }},
		{[]string{"BR-50"}, func(inv *flowgate.Invoice) { inv.PaymentMeans[0].AccountID = " " }},
		{[]string{"BR-53"}, func(inv *flowgate.Invoice) { inv.TaxCurrency, inv.HasTaxCurrency = "USD", true }},
		{[]string{"BR-54"}, func(inv *flowgate.Invoice) {
			details(inv, 0).Attributes = []flowgate.ItemAttribute{{Name: "Couleur", HasName: true}}
		}},
		{[]string{"BR-55"}, func(inv *flowgate.Invoice) { inv.Preceding = []flowgate.DocumentRef{{IssueDate: "2026-01-01"}} }},
		{[]string{"BR-56"}, func(inv *flowgate.Invoice) { taxRep(inv); inv.TaxRepresentative.TaxSchemes[0].TaxScheme = "TVA" }},
		{[]string{"BR-57"}, func(inv *flowgate.Invoice) { inv.DeliveryAddresses = []flowgate.Address{{}} }},
		{[]string{"BR-61"}, func(inv *flowgate.Invoice) {
			inv.PaymentMeans[0] = flowgate.PaymentMeans{Code: "58", HasCode: true}
		}},
		{[]string{"BR-62"}, func(inv *flowgate.Invoice) { inv.Seller.Endpoint.HasSchemeID = false }},
		{[]string{"BR-63"}, func(inv *flowgate.Invoice) { inv.Buyer.Endpoint.HasSchemeID = false }},
		{[]string{"BR-64"}, func(inv *flowgate.Invoice) {
			details(inv, 0).StandardIDs = []flowgate.Identifier{{Value: "3012345678901"}}
		}},
		{[]string{"BR-65"}, func(inv *flowgate.Invoice) { details(inv, 1).Classifications = []flowgate.Code{{Value: "30192000"}} }},
		{[]string{"BR-CO-03"}, func(inv *flowgate.Invoice) {
			inv.TaxPointDate, inv.HasTaxPointDate = "2026-11-01", true
			inv.Periods = []flowgate.Period{{DescriptionCode: "3", HasDescriptionCode: true}}
		}},
		{[]string{"BR-CO-04"}, func(inv *flowgate.Invoice) { inv.Lines[1].TaxCategory.TaxScheme = "GST" }},
		{[]string{"BR-CO-04"}, func(inv *flowgate.Invoice) { inv.Lines[0].TaxCategory = flowgate.TaxCategory{} }},
		{[]string{"BR-CO-09"}, func(inv *flowgate.Invoice) { inv.Seller.TaxSchemes[0].CompanyID = "32732829320" }},
		{[]string{"BR-CO-09"}, func(inv *flowgate.Invoice) {
			taxRep(inv)
			inv.TaxRepresentative.TaxSchemes[0].CompanyID = "fr61123456789"
		}},
		{[]string{"BR-CO-10"}, func(inv *flowgate.Invoice) { inv.Lines[0].LineExtension = amount("125.01") }},
		{[]string{"BR-CO-11"}, func(inv *flowgate.Invoice) {
			inv.AllowanceCharges = []flowgate.AllowanceCharge{docAC(false, "10")}
		}},
		{[]string{"BR-CO-12"}, func(inv *flowgate.Invoice) {
			inv.AllowanceCharges = []flowgate.AllowanceCharge{docAC(true, "10")}
		}},
		{[]string{"BR-CO-13"}, func(inv *flowgate.Invoice) {
			inv.Totals.ChargeTotal = amount("10")
			inv.AllowanceCharges = []flowgate.AllowanceCharge{docAC(true, "10")}
		}},
		{[]string{"BR-CO-14"}, func(inv *flowgate.Invoice) { inv.TaxTotals[0].Subtotals[0].TaxAmount = amount("40.07") }},
		{[]string{"BR-CO-15"}, func(inv *flowgate.Invoice) { inv.TaxTotals[0].TaxAmount.Currency = "USD" }},
		{[]string{"BR-CO-16"}, func(inv *flowgate.Invoice) { inv.Totals.Prepaid = amount("40.48") }},
		{[]string{"BR-CO-17", "BR-S-09"}, func(inv *flowgate.Invoice) { // 200.40 × 20 % = 40.08, 41.09 is more than 1 off
			inv.TaxTotals[0].TaxAmount, inv.TaxTotals[0].Subtotals[0].TaxAmount = amount("41.09"), amount("41.09")
			inv.Totals.TaxInclusive, inv.Totals.Payable = amount("241.49"), amount("241.49")
		}},
		{[]string{"BR-CO-17"}, func(inv *flowgate.Invoice) { inv.TaxTotals[0].Subtotals[0].TaxScheme = "" }},
		{[]string{"BR-CO-17", "BR-S-09"}, func(inv *flowgate.Invoice) { inv.TaxTotals[0].Subtotals[0].Percent = "20 %" }},
		{[]string{"BR-CO-18", "BR-S-01"}, func(inv *flowgate.Invoice) { inv.TaxTotals[0].Subtotals = nil }},
		{[]string{"BR-CO-19"}, func(inv *flowgate.Invoice) { inv.Periods = []flowgate.Period{{}} }},
		{[]string{"BR-CO-20"}, func(inv *flowgate.Invoice) {
			details(inv, 1).Periods = []flowgate.Period{{DescriptionCode: "3", HasDescriptionCode: true}}
		}},
		// A SEPA creditor identifier does not identify the seller (v1.3.16), nor carry its SIRET.
		{[]string{"BR-CO-26", "FR-SIRET-FOURNISSEUR"}, func(inv *flowgate.Invoice) {
			inv.Seller.TaxSchemes = nil
			for i := range inv.Seller.Identifiers {
				inv.Seller.Identifiers[i].SchemeID, inv.Seller.Identifiers[i].HasSchemeID = "SEPA", true
			}
		}},
		// Without any seller identifier there is no SIRET either.
		{[]string{"BR-CO-26", "FR-SIRET-FOURNISSEUR"}, func(inv *flowgate.Invoice) {
			inv.Seller.Identifiers, inv.Seller.TaxSchemes = nil, nil
		}},
		{[]string{"BR-FR-01"}, func(inv *flowgate.Invoice) { inv.Number = "FA-2026-0001-0002-0003-0004-0005-000" }},
		{[]string{"BR-FR-02"}, func(inv *flowgate.Invoice) { inv.Number = "FA 2026.1" }},
		{[]string{"BR-FR-02"}, func(inv *flowgate.Invoice) { inv.Number = "FA-2026-É" }},
		// The French rules and the hub read values trimmed, as Chorus Pro
		// does; the EN 16931 rules read them as written.
		{nil, func(inv *flowgate.Invoice) { inv.Number = " FA-2026-001\u00a0" }},
		{[]string{"BR-FR-02"}, func(inv *flowgate.Invoice) { inv.Number = "\u00a0" }}, // a number to BR-02: U+00A0 is no space to XPath
		{nil, func(inv *flowgate.Invoice) { inv.IssueDate, inv.TypeCode = "2026-11-02\n", " 380" }},
		{nil, func(inv *flowgate.Invoice) {
			inv.Buyer.Identifiers[0].Value, inv.Buyer.Identifiers[0].SchemeID = "\u00a0"+plainRecipient+"\n", " 0009"
			inv.BuyerReference = "\t"
		}},
		{[]string{"BR-FR-CO-05"}, func(inv *flowgate.Invoice) { inv.TypeCode = "381"; inv.Kind = flowgate.KindCreditNote }},
		{[]string{"CPP-TYPE"}, func(inv *flowgate.Invoice) { inv.TypeCode = "325" }},
		{[]string{"CPP-DATE"}, func(inv *flowgate.Invoice) { inv.IssueDate = "02/11/2026" }},
		{[]string{"CPP-DATE"}, func(inv *flowgate.Invoice) { inv.IssueDate = "2026-02-30" }},
		{[]string{"CPP-MONTANT-NEGATIF"}, func(inv *flowgate.Invoice) {
			inv.TypeCode, inv.Kind = "381", flowgate.KindCreditNote
			inv.Preceding = []flowgate.DocumentRef{{ID: "FA-1", HasID: true}}
			inv.Totals.TaxInclusive, inv.Totals.Payable, inv.TaxTotals[0].TaxAmount = amount("-1"), amount("-1"), amount("-201.40")
			inv.TaxTotals[0].Subtotals[0].TaxableAmount, inv.TaxTotals[0].Subtotals[0].TaxAmount = amount("-1007.00"), amount("-201.40")
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
		"type 386 prepayment":             func(inv *flowgate.Invoice) { inv.TypeCode = "386" },
		"number of 35 allowed characters": func(inv *flowgate.Invoice) { inv.Number = "FA+2026/0001_0002-0003-0004-0005-00" },
		"negative corrective invoice 380": func(inv *flowgate.Invoice) { negate(inv) },
		"allowance with total":            func(inv *flowgate.Invoice) { allowance(inv) },
		"credit note referencing invoice": func(inv *flowgate.Invoice) { creditNote(inv) },
		"payable rounding with prepayment": func(inv *flowgate.Invoice) {
			inv.Totals.Prepaid, inv.Totals.Rounding, inv.Totals.Payable = amount("40"), amount("0.02"), amount("200.50")
		},
		"charge with total": func(inv *flowgate.Invoice) { charge(inv, true) },
		"allowance reason code only": func(inv *flowgate.Invoice) {
			charge(inv, false)
			inv.AllowanceCharges[0].HasReason, inv.AllowanceCharges[0].ReasonCode, inv.AllowanceCharges[0].HasReasonCode = false, "95", true
		},
		"payee other than seller": func(inv *flowgate.Invoice) {
			inv.Count.PayeeParty = 1
			inv.Payee = flowgate.Party{TradingNames: []string{"Affactureur"}, Identifiers: []flowgate.Identifier{{Value: "81000001000019", SchemeID: "0009"}}}
		},
		"tax representative":       func(inv *flowgate.Invoice) { taxRep(inv) },
		"Greek VAT prefix EL":      func(inv *flowgate.Invoice) { inv.Seller.TaxSchemes[0].CompanyID = "EL123456789" },
		"VAT scheme in lower case": func(inv *flowgate.Invoice) { inv.Lines[0].TaxCategory.TaxScheme = "vat" },
		// BR-S-02 then reads the tax representative's VAT identifier.
		"seller by legal ID only": func(inv *flowgate.Invoice) {
			taxRep(inv)
			inv.Seller.TaxSchemes = nil
			inv.Seller.Identifiers = nil
			inv.Seller.LegalID, inv.Seller.HasLegalID = flowgate.Identifier{Value: supplierSIRET, SchemeID: "0009"}, true
		},
		"tax point date code only": func(inv *flowgate.Invoice) {
			inv.Periods = []flowgate.Period{{DescriptionCode: "3", HasDescriptionCode: true}}
		},
		"tax point date and period": func(inv *flowgate.Invoice) {
			inv.TaxPointDate, inv.HasTaxPointDate = "2026-11-01", true
			inv.Periods = []flowgate.Period{{StartDate: "2026-10-01", HasStartDate: true, EndDate: "2026-10-31", HasEndDate: true}}
		},
		"VAT amount within 1 of the rate": func(inv *flowgate.Invoice) {
			inv.TaxTotals[0].TaxAmount, inv.TaxTotals[0].Subtotals[0].TaxAmount = amount("41.07"), amount("41.07")
			inv.Totals.TaxInclusive, inv.Totals.Payable = amount("241.47"), amount("241.47")
		},
		"zero rated breakdown": func(inv *flowgate.Invoice) {
			inv.Lines[0].TaxCategory.ID, inv.Lines[1].TaxCategory.ID = "Z", "Z"
			inv.TaxTotals[0].TaxAmount, inv.TaxTotals[0].Subtotals[0].TaxAmount = amount("0.00"), amount("0.00")
			inv.TaxTotals[0].Subtotals[0].Category, inv.TaxTotals[0].Subtotals[0].Percent = "Z", "0"
			inv.Totals.TaxInclusive, inv.Totals.Payable = amount("200.40"), amount("200.40")
		},
		"VAT in accounting currency": func(inv *flowgate.Invoice) {
			inv.TaxCurrency, inv.HasTaxCurrency = "USD", true
			inv.TaxTotals = append(inv.TaxTotals, flowgate.TaxTotal{TaxAmount: flowgate.Amount{Present: true, Raw: "46.50",
				Currency: "USD", HasCurrency: true, Value: flowgate.MustDecimal("46.50"), OK: true}})
		},
		"complete line details": func(inv *flowgate.Invoice) {
			d := details(inv, 0)
			d.GrossPrice = amount("13.00")
			d.AllowanceCharges = []flowgate.AllowanceCharge{lineAC(false, "5.00"), lineAC(true, "0")}
			d.Periods = []flowgate.Period{{EndDate: "2026-10-31", HasEndDate: true}}
			d.StandardIDs = []flowgate.Identifier{{Value: "3012345678901", SchemeID: "0160", HasSchemeID: true}}
			d.Classifications = []flowgate.Code{{Value: "30192000", ListID: "STI", HasListID: true}}
			d.Attributes = []flowgate.ItemAttribute{{Name: "Couleur", Value: "Noir", HasName: true, HasValue: true}}
		},
		"delivery address and other payment means": func(inv *flowgate.Invoice) {
			inv.DeliveryAddresses = []flowgate.Address{{CountryCode: "FR", HasCountryCode: true}}
			inv.PaymentMeans = append(inv.PaymentMeans, flowgate.PaymentMeans{Code: "49", HasCode: true})
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
	inv.AllowanceCharges = []flowgate.AllowanceCharge{docAC(false, "0.40")}
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

func TestIsDate(t *testing.T) {
	for s, want := range map[string]bool{
		"2026-11-02": true, "2026-11-02Z": true, "2026-11-02+01:00": true, "2026-11-02-05:30": true,
		"2026-02-29": false, "2028-02-29": true, "02/11/2026": false, "2026-11-2": false, "2026-11-02T10:00": false,
		"2026-11-02+25:00": false, "": false,
	} {
		if got := IsDate(s); got != want {
			t.Errorf("IsDate(%q) = %v, want %v", s, got, want)
		}
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
