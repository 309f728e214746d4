package validator

import (
	"strings"

	"flowgate"
)

// The code list rules BR-CL-nn of the CEN artefacts v1.3.16, their lists
// in codelists_data.go (generated from the artefact). Each tests a value
// as the XPath does: not(contains(normalize-space(v), ' ')) and
// contains(list, concat(' ', normalize-space(v), ' ')), so an empty value
// or an absent attribute the context does not require fails, and only
// space, tab, CR and LF around a code are ignored (U+00A0 is not).
//
// Not implemented, for the parser does not read what they test:
// BR-CL-01 (whether BT-3's element is absent or empty), BR-CL-03 (the
// currencyID of base amounts and price allowance amounts), BR-CL-07
// (cac:AdditionalDocumentReference/cbc:ID/@schemeID), BR-CL-08
// (cbc:Note), BR-CL-14 (whether a cac:Country/cbc:IdentificationCode is
// absent or empty), BR-CL-15 (cac:OriginCountry), BR-CL-17 (whether a VAT
// breakdown's category code is absent or empty), BR-CL-22
// (cbc:TaxExemptionReasonCode), BR-CL-23 (cac:Price/cbc:BaseQuantity's
// unitCode), BR-CL-24 (@mimeCode), BR-CL-26 (cac:DeliveryLocation/cbc:ID).
//
// Implemented where the parser reads the element the context matches, so
// they miss these places the artefact also checks: BR-CL-06 in a line's
// cac:InvoicePeriod, BR-CL-10, BR-CL-11 and BR-CL-25 in parties other than
// the seller, buyer, payee and tax representative (cac:DeliveryParty...)
// and in a second cac:PartyLegalEntity, BR-CL-19 and BR-CL-20 in
// cac:Price/cac:AllowanceCharge. No official example or test file has
// these, so the differential test cannot show the gap.

// inCodeList is the artefact's test of value v against list, a space
// separated code list as the artefact writes it (" A B C "):
// not(contains(normalize-space(v), ' ')) and
// contains(list, concat(' ', normalize-space(v), ' ')), without
// allocating. White space inside v stays a space after normalize-space,
// so it fails; an empty v looks for two spaces in a row.
func inCodeList(list, v string) bool {
	n := strings.Trim(v, xmlSpace)
	if strings.ContainsAny(n, xmlSpace) {
		return false
	}
	if n == "" {
		return strings.Contains(list, "  ")
	}
	for from := 0; from < len(list); {
		i := strings.Index(list[from:], n)
		if i < 0 {
			return false
		}
		i += from
		if i > 0 && list[i-1] == ' ' && i+len(n) < len(list) && list[i+len(n)] == ' ' {
			return true
		}
		from = i + 1
	}
	return false
}

// codeList returns the first list the artefact tests rule id's values
// against (codelists_data.go).
func codeList(id string) string { return codeLists[id][0] }

// documentCode is a code list rule on one document level element, which
// the rule checks when has tells it exists.
func documentCode(id, field, fr, en string, get func(*flowgate.Invoice) (string, bool)) Rule {
	list := codeList(id)
	return Rule{ID: id, Field: field, FR: fr, EN: en, check: func(inv *flowgate.Invoice, fail func(hit)) {
		if v, has := get(inv); has && !inCodeList(list, v) {
			fail(hit{value: v})
		}
	}}
}

// both is a rule whose context is the union of a's and b's (same id).
func both(a, b Rule) Rule {
	r := a
	r.check = func(inv *flowgate.Invoice, fail func(hit)) {
		a.check(inv, fail)
		b.check(inv, fail)
	}
	return r
}

// reasonCode is BR-CL-19 or BR-CL-20: the reason code of each allowance
// (charge false) or charge (charge true), document level and line level.
func reasonCode(id, field, fr, en string, charge bool) Rule {
	list := codeList(id)
	bad := func(ac *flowgate.AllowanceCharge) (hit, bool) {
		return hit{value: ac.ReasonCode}, ac.HasReasonCode && !inCodeList(list, ac.ReasonCode)
	}
	return both(allowanceRule(id, field, fr, en, charge, bad), lineAllowanceRule(id, field, fr, en, charge, bad))
}

// partyRoles are the parties whose identifiers flowgate reads, with the
// business terms of their identifier (cac:PartyIdentification), legal
// registration identifier (cac:PartyLegalEntity/cbc:CompanyID) and
// electronic address (cbc:EndpointID), or their group where the norm has
// no such term, and whether a SEPA creditor
// identifier may identify them (BR-CL-10: seller and payee).
var partyRoles = []struct {
	get              func(*flowgate.Invoice) *flowgate.Party
	id, legal, endpt string
	sepa             bool
}{
	{func(inv *flowgate.Invoice) *flowgate.Party { return &inv.Seller }, "BT-29", "BT-30", "BT-34", true},
	{func(inv *flowgate.Invoice) *flowgate.Party { return &inv.Buyer }, "BT-46", "BT-47", "BT-49", false},
	{func(inv *flowgate.Invoice) *flowgate.Party { return &inv.Payee }, "BT-60", "BT-61", "BG-10", true},
	{func(inv *flowgate.Invoice) *flowgate.Party { return &inv.TaxRepresentative }, "BG-11", "BG-11", "BG-11", false},
}

// lineCode is a code list rule on each line: codes calls test with each
// value the rule tests on line l (those whose attribute or element
// exists), without allocating.
func lineCode(id, field, fr, en string, codes func(l *flowgate.Line, test func(v string))) Rule {
	list := codeList(id)
	return Rule{ID: id, Field: field, FR: fr, EN: en, check: func(inv *flowgate.Invoice, fail func(hit)) {
		for i := range inv.Lines {
			codes(&inv.Lines[i], func(v string) {
				if !inCodeList(list, v) {
					fail(lineHit(v, inv, i))
				}
			})
		}
	}}
}

var codeListRules = []Rule{
	documentCode("BR-CL-04", "BT-5",
		"Le code de devise de la facture (BT-5) doit appartenir à la liste ISO 4217 alpha-3.",
		"Invoice currency code MUST be coded using ISO code list 4217 alpha-3",
		func(inv *flowgate.Invoice) (string, bool) { return inv.Currency, inv.HasCurrency }),
	documentCode("BR-CL-05", "BT-6",
		"Le code de devise de comptabilisation de la TVA (BT-6) doit appartenir à la liste ISO 4217 alpha-3.",
		"Tax currency code MUST be coded using ISO code list 4217 alpha-3",
		func(inv *flowgate.Invoice) (string, bool) { return inv.TaxCurrency, inv.HasTaxCurrency }),
	func() Rule {
		list := codeList("BR-CL-06")
		return Rule{ID: "BR-CL-06", Field: "BT-8",
			FR: "Le code de date d'exigibilité de la TVA (BT-8) doit appartenir à la restriction de la liste UNTDID 2005 (3, 35, 432).",
			EN: "Value added tax point date code MUST be coded using a restriction of UNTDID 2005.",
			check: func(inv *flowgate.Invoice, fail func(hit)) {
				for i, p := range inv.Periods {
					if p.HasDescriptionCode && !inCodeList(list, p.DescriptionCode) {
						fail(hit{value: p.DescriptionCode, at: onGroup, pos: i + 1, group: periodGroup})
					}
				}
			}}
	}(),
	func() Rule {
		list, sepa := codeLists["BR-CL-10"][0], codeLists["BR-CL-10"][1]
		return Rule{ID: "BR-CL-10", Field: "BT-29",
			FR: "Le schéma d'identification d'un identifiant (BT-29, BT-46, BT-60) doit appartenir à la liste ISO 6523 ICD (ou SEPA pour le vendeur et le bénéficiaire).",
			EN: "Any identifier identification scheme identifier MUST be coded using one of the ISO 6523 ICD list.",
			check: func(inv *flowgate.Invoice, fail func(hit)) {
				for _, role := range partyRoles {
					for _, id := range role.get(inv).Identifiers {
						if !id.HasSchemeID || inCodeList(list, id.SchemeID) || role.sepa && inCodeList(sepa, id.SchemeID) {
							continue
						}
						fail(hit{value: id.SchemeID, field: role.id})
					}
				}
			}}
	}(),
	func() Rule {
		list := codeList("BR-CL-11")
		return Rule{ID: "BR-CL-11", Field: "BT-30",
			FR: "Le schéma d'un identifiant d'immatriculation légale (BT-30, BT-47, BT-61) doit appartenir à la liste ISO 6523 ICD.",
			EN: "Any registration identifier identification scheme identifier MUST be coded using one of the ISO 6523 ICD list.",
			check: func(inv *flowgate.Invoice, fail func(hit)) {
				for _, role := range partyRoles {
					p := role.get(inv)
					if p.HasLegalID && p.LegalID.HasSchemeID && !inCodeList(list, p.LegalID.SchemeID) {
						fail(hit{value: p.LegalID.SchemeID, field: role.legal})
					}
				}
			}}
	}(),
	lineCode("BR-CL-13", "BT-158",
		"Le schéma d'identification de la classification de l'article (BT-158) doit appartenir à la liste UNTDID 7143.",
		"Item classification identifier identification scheme identifier MUST be coded using one of the UNTDID 7143 list.",
		func(l *flowgate.Line, test func(string)) {
			if l.Details != nil {
				for _, c := range l.Details.Classifications {
					if c.HasListID {
						test(c.ListID)
					}
				}
			}
		}),
	func() Rule {
		list := codeList("BR-CL-16")
		return Rule{ID: "BR-CL-16", Field: "BT-81",
			FR: "Le code de moyen de paiement (BT-81) doit appartenir à la liste UNTDID 4461.",
			EN: "Payment means in an invoice MUST be coded using UNCL4461 code list",
			check: func(inv *flowgate.Invoice, fail func(hit)) {
				for i := range inv.PaymentMeans {
					if pm := &inv.PaymentMeans[i]; pm.HasCode && !inCodeList(list, pm.Code) {
						fail(hit{value: pm.Code, at: onPayment, pos: i + 1, pm: pm})
					}
				}
			}}
	}(),
	lineCode("BR-CL-18", "BT-151",
		"Le code de catégorie de TVA de l'article (BT-151) doit appartenir à la liste UNTDID 5305.",
		"Invoice tax categories MUST be coded using UNCL5305 code list",
		func(l *flowgate.Line, test func(string)) {
			if l.TaxCategory.HasID {
				test(l.TaxCategory.ID)
			}
			for _, c := range l.TaxCategory.More {
				if c.HasID {
					test(c.ID)
				}
			}
		}),
	reasonCode("BR-CL-19", "BT-98",
		"Le code de motif d'une remise (BT-98, BT-140) doit appartenir à la liste UNTDID 5189.",
		"Coded allowance reasons MUST belong to the UNCL 5189 code list", false),
	reasonCode("BR-CL-20", "BT-105",
		"Le code de motif d'une charge (BT-105, BT-145) doit appartenir à la liste UNTDID 7161.",
		"Coded charge reasons MUST belong to the UNCL 7161 code list", true),
	lineCode("BR-CL-21", "BT-157",
		"Le schéma de l'identifiant standard de l'article (BT-157) doit appartenir à la liste ISO 6523 ICD.",
		"Item standard identifier scheme identifier MUST belong to the ISO 6523 ICD code list",
		func(l *flowgate.Line, test func(string)) {
			if l.Details != nil {
				for _, id := range l.Details.StandardIDs {
					if id.HasSchemeID {
						test(id.SchemeID)
					}
				}
			}
		}),
	func() Rule {
		list := codeList("BR-CL-25")
		return Rule{ID: "BR-CL-25", Field: "BT-34",
			FR: "Le schéma de l'adresse électronique (BT-34, BT-49) doit appartenir à la liste CEF EAS.",
			EN: "Endpoint identifier scheme identifier MUST belong to the CEF EAS code list",
			check: func(inv *flowgate.Invoice, fail func(hit)) {
				for _, role := range partyRoles {
					p := role.get(inv)
					if p.HasEndpoint && p.Endpoint.HasSchemeID && !inCodeList(list, p.Endpoint.SchemeID) {
						fail(hit{value: p.Endpoint.SchemeID, field: role.endpt})
					}
				}
			}}
	}(),
}
