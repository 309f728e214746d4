package validator

import (
	"os"
	"strings"
	"testing"
	"unicode/utf8"

	"flowgate"
	"flowgate/directory"
	"flowgate/parser"
)

// want is what one finding must say: its term, the value of that term,
// where it is, and what its messages hold.
type want struct {
	code, field, value string
	line               string // BT-126 of the line concerned
	pos                int
	fr, en             []string // substrings of MessageFR and Message
}

// find returns the only finding of code in fs.
func find(t *testing.T, fs []flowgate.Finding, code string) flowgate.Finding {
	t.Helper()
	var got []flowgate.Finding
	for _, f := range fs {
		if f.Code == code {
			got = append(got, f)
		}
	}
	if len(got) != 1 {
		t.Fatalf("%d findings %s in %+v", len(got), code, fs)
	}
	return got[0]
}

func (w want) check(t *testing.T, fs []flowgate.Finding) {
	t.Helper()
	f := find(t, fs, w.code)
	if f.Field != w.field || f.Value != w.value || f.Line != w.line || f.Position != w.pos {
		t.Errorf("%s: field %q value %q line %q position %d, want field %q value %q line %q position %d",
			w.code, f.Field, f.Value, f.Line, f.Position, w.field, w.value, w.line, w.pos)
	}
	for _, s := range w.fr {
		if !strings.Contains(f.MessageFR, s) {
			t.Errorf("%s: message_fr %q lacks %q", w.code, f.MessageFR, s)
		}
	}
	for _, s := range w.en {
		if !strings.Contains(f.Message, s) {
			t.Errorf("%s: message %q lacks %q", w.code, f.Message, s)
		}
	}
}

// TestFindingValuesCase is the case from the field: a line without unit
// code whose id is 1 was reported "[BT-130 = 1]", a charge of 0 without VAT
// category "[BT-102 = 0]". Each finding quotes the value of the term it
// names (none: both are absent) and says which line or charge.
func TestFindingValuesCase(t *testing.T) {
	data, err := os.ReadFile("testdata/finding-values.xml")
	if err != nil {
		t.Fatal(err)
	}
	inv, err := parser.ParseBytes(data)
	if err != nil {
		t.Fatal(err)
	}
	fs := Validate(inv, Input{})
	if len(fs) != 2 {
		t.Errorf("findings %+v, want BR-23 and BR-37", fs)
	}
	want{code: "BR-23", field: "BT-130", line: "1", pos: 1,
		fr: []string{"Ligne en position 1 (BT-126 « 1 »)."}, en: []string{"Line at position 1 (BT-126 '1')."}}.check(t, fs)
	want{code: "BR-37", field: "BT-102", pos: 1,
		fr: []string{"Charge du document en position 1 (BG-21, montant BT-99 « 0 »)."},
		en: []string{"Document level charge at position 1 (BG-21, amount BT-99 '0')."}}.check(t, fs)
}

// TestFindingValueIsItsTerm: for the rules whose value was another term's,
// the value is now the named term's, and a rule on a repeated group says
// which occurrence.
func TestFindingValueIsItsTerm(t *testing.T) {
	tests := []struct {
		change func(*flowgate.Invoice)
		want   want
	}{
		{func(inv *flowgate.Invoice) { inv.Lines[1].Quantity = flowgate.Amount{} },
			want{code: "BR-22", field: "BT-129", line: "2", pos: 2, fr: []string{"Ligne en position 2 (BT-126 « 2 »)"}, en: []string{"Line at position 2 (BT-126 '2')"}}},
		{func(inv *flowgate.Invoice) { inv.Lines[1].Unit, inv.Lines[1].HasUnit = "", false },
			want{code: "BR-23", field: "BT-130", line: "2", pos: 2}},
		{func(inv *flowgate.Invoice) {
			inv.Lines[1].LineExtension = flowgate.Amount{}
			inv.Lines[1].ID = "L-10"
		}, want{code: "BR-24", field: "BT-131", line: "L-10", pos: 2, fr: []string{"(BT-126 « L-10 »)"}}},
		{func(inv *flowgate.Invoice) { inv.Lines[0].ItemName = " " },
			want{code: "BR-25", field: "BT-153", value: " ", line: "1", pos: 1}},
		{func(inv *flowgate.Invoice) { inv.Lines[0].Price = flowgate.Amount{} },
			want{code: "BR-26", field: "BT-146", line: "1", pos: 1}},
		{func(inv *flowgate.Invoice) { inv.Lines[1].Price = amount("-1.00") },
			want{code: "BR-27", field: "BT-146", value: "-1.00", line: "2", pos: 2}},
		{func(inv *flowgate.Invoice) { details(inv, 1).GrossPrice = amount("-2") },
			want{code: "BR-28", field: "BT-148", value: "-2", line: "2", pos: 2}},
		{func(inv *flowgate.Invoice) { inv.Lines[0].ID = "" },
			want{code: "BR-21", field: "BT-126", pos: 1, fr: []string{"Ligne en position 1 (sans identifiant BT-126)"},
				en: []string{"Line at position 1 (no BT-126 identifier)"}}},
		{func(inv *flowgate.Invoice) {
			inv.Lines[1].TaxCategory = flowgate.TaxCategory{ID: "S", HasID: true, TaxScheme: "GST"}
		},
			want{code: "BR-CO-04", field: "BT-151", value: "S", line: "2", pos: 2,
				fr: []string{"Ligne en position 2 (BT-126 « 2 »). La catégorie « S » y est donnée sous le schéma fiscal « GST » (cac:TaxScheme/cbc:ID), et non VAT."},
				en: []string{"Category 'S' is given there under tax scheme 'GST' (cac:TaxScheme/cbc:ID), not VAT."}}},
		{func(inv *flowgate.Invoice) {
			charge(inv, true)
			inv.AllowanceCharges = append([]flowgate.AllowanceCharge{docAC(false, "0")}, inv.AllowanceCharges...)
			inv.Totals.AllowanceTotal = amount("0")
			inv.AllowanceCharges[1].TaxCategory = flowgate.TaxCategory{}
		}, want{code: "BR-37", field: "BT-102", pos: 1,
			fr: []string{"Charge du document en position 1 (BG-21, montant BT-99 « 10.00 »)"},
			en: []string{"Document level charge at position 1 (BG-21, amount BT-99 '10.00')"}}},
		{func(inv *flowgate.Invoice) {
			charge(inv, false)
			inv.AllowanceCharges[0].TaxCategory.TaxScheme = "TVA"
		}, want{code: "BR-32", field: "BT-95", value: "S", pos: 1,
			fr: []string{"Remise du document en position 1 (BG-20, montant BT-92 « 10.00 »). La catégorie « S » y est donnée sous le schéma fiscal « TVA »"}}},
		{func(inv *flowgate.Invoice) {
			charge(inv, false)
			inv.AllowanceCharges[0].Amount = flowgate.Amount{}
			inv.Totals.AllowanceTotal = flowgate.Amount{}
			inv.Totals.TaxExclusive = amount("200.40")
			inv.Totals.TaxInclusive, inv.Totals.Payable = amount("240.48"), amount("240.48")
		}, want{code: "BR-31", field: "BT-92", pos: 1, fr: []string{"Remise du document en position 1 (BG-20)."}}},
		{func(inv *flowgate.Invoice) {
			details(inv, 1).AllowanceCharges = []flowgate.AllowanceCharge{lineAC(true, "1.00"), lineAC(false, "2.00"), lineAC(true, "3.00")}
			details(inv, 1).AllowanceCharges[2].HasReason = false
		}, want{code: "BR-44", field: "BT-144", line: "2", pos: 2,
			fr: []string{"Ligne en position 2 (BT-126 « 2 »), charge en position 2 de la ligne (BG-28)."},
			en: []string{"Line at position 2 (BT-126 '2'), line charge at position 2 (BG-28)."}}},
		{func(inv *flowgate.Invoice) {
			details(inv, 0).AllowanceCharges = []flowgate.AllowanceCharge{lineAC(false, "1.00")}
			details(inv, 0).AllowanceCharges[0].Amount = flowgate.Amount{}
		}, want{code: "BR-41", field: "BT-136", line: "1", pos: 1, fr: []string{"remise en position 1 de la ligne (BG-27)"}}},
		{func(inv *flowgate.Invoice) { details(inv, 1).Periods = []flowgate.Period{{}} },
			want{code: "BR-CO-20", field: "BG-26", line: "2", pos: 2}},
		{func(inv *flowgate.Invoice) {
			details(inv, 0).Attributes = []flowgate.ItemAttribute{{Name: "Couleur", HasName: true}}
		}, want{code: "BR-54", field: "BG-32", line: "1", pos: 1}},
		{func(inv *flowgate.Invoice) {
			details(inv, 1).StandardIDs = []flowgate.Identifier{{Value: "3012345678901"}}
		},
			want{code: "BR-64", field: "BT-157", value: "3012345678901", line: "2", pos: 2}},
		{func(inv *flowgate.Invoice) {
			inv.PaymentMeans = append(inv.PaymentMeans, flowgate.PaymentMeans{Code: "58", HasCode: true, HasAccount: true, AccountID: " ", HasAccountID: true})
		}, want{code: "BR-50", field: "BT-84", value: " ", pos: 2,
			fr: []string{"Instruction de paiement en position 2 (BG-16, code BT-81 « 58 »)."},
			en: []string{"Payment instruction at position 2 (BG-16, means code BT-81 '58')."}}},
		{func(inv *flowgate.Invoice) {
			inv.PaymentMeans[0].AccountID, inv.PaymentMeans[0].HasAccountID = "", false
		},
			want{code: "BR-61", field: "BT-84", pos: 1}},
		{func(inv *flowgate.Invoice) { inv.PaymentMeans[0].HasCode = false },
			want{code: "BR-49", field: "BT-81", pos: 1, fr: []string{"Instruction de paiement en position 1 (BG-16)."}}},
		{func(inv *flowgate.Invoice) { inv.TaxCurrency, inv.HasTaxCurrency = "USD", true },
			want{code: "BR-53", field: "BT-111", fr: []string{"BT-6 « USD »"}, en: []string{"BT-6 'USD'"}}},
		{func(inv *flowgate.Invoice) {
			inv.Buyer.TaxSchemes = []flowgate.PartyTaxScheme{{CompanyID: "ZZ123", HasCompanyID: true, TaxScheme: "VAT"}}
		}, want{code: "BR-CO-09", field: "BT-48", value: "ZZ123", fr: []string{"Numéro de TVA de l'acheteur (BT-48)."}}},
		{func(inv *flowgate.Invoice) {
			taxRep(inv)
			inv.TaxRepresentative.TaxSchemes[0].CompanyID = "1234"
		}, want{code: "BR-CO-09", field: "BT-63", value: "1234"}},
		{func(inv *flowgate.Invoice) {
			inv.Preceding = []flowgate.DocumentRef{{ID: "FA-1", HasID: true}, {}}
		}, want{code: "BR-55", field: "BT-25", pos: 2,
			fr: []string{"Référence à une facture antérieure en position 2 (BG-3)."}, en: []string{"Preceding invoice reference at position 2 (BG-3)."}}},
		{func(inv *flowgate.Invoice) { inv.Periods = []flowgate.Period{{}} },
			want{code: "BR-CO-19", field: "BG-14", pos: 1, fr: []string{"Période de facturation en position 1 (BG-14)."}}},
		{func(inv *flowgate.Invoice) {
			inv.DeliveryAddresses = []flowgate.Address{{CountryCode: "FR", HasCountryCode: true}, {}}
		}, want{code: "BR-57", field: "BT-80", pos: 2, en: []string{"Deliver to address at position 2 (BG-15)."}}},
	}
	for _, tt := range tests {
		t.Run(tt.want.code, func(t *testing.T) {
			inv := goodInvoice()
			tt.change(inv)
			tt.want.check(t, Validate(inv, Input{Directory: testDirectory()}))
		})
	}
}

// TestSumRulesShowBothAmounts: a rule on a sum shows the amount declared,
// as written, and the one computed, exactly.
func TestSumRulesShowBothAmounts(t *testing.T) {
	tests := []struct {
		change func(*flowgate.Invoice)
		want   want
	}{
		{func(inv *flowgate.Invoice) { inv.Totals.LineExtension = amount("240.00") }, want{code: "BR-CO-10", field: "BT-106", value: "240.00",
			fr: []string{"BT-106 déclaré 240.00, somme des lignes (Σ BT-131) calculée 200.40."},
			en: []string{"BT-106 declared 240.00, sum of lines (Σ BT-131) computed 200.40."}}},
		{func(inv *flowgate.Invoice) {
			inv.Lines[1].LineExtension = flowgate.Amount{Present: true, Raw: "7S.40"}
		}, want{code: "BR-CO-10", field: "BT-106", value: "200.40",
			fr: []string{"BT-106 déclaré 200.40, somme des lignes (Σ BT-131) calculée : impossible, « 7S.40 » (BT-131 en position 2) n'est pas un nombre décimal."},
			en: []string{"BT-106 declared 200.40, sum of lines (Σ BT-131) computed: impossible, '7S.40' (BT-131 at position 2) is not a decimal."}}},
		{func(inv *flowgate.Invoice) {
			// Exact decimals: no float would keep these digits.
			inv.Totals.TaxExclusive = amount("200.400000000000000000001")
		}, want{code: "BR-CO-13", field: "BT-109", value: "200.400000000000000000001",
			fr: []string{"BT-109 déclaré 200.400000000000000000001, BT-106 − BT-107 + BT-108 calculé 200.40."}}},
		{func(inv *flowgate.Invoice) { charge(inv, false); inv.Totals.AllowanceTotal = amount("12.00") },
			want{code: "BR-CO-11", field: "BT-107", value: "12.00", fr: []string{"BT-107 déclaré 12.00, somme des remises du document (Σ BT-92) calculée 10.00."}}},
		{func(inv *flowgate.Invoice) { charge(inv, true); inv.Totals.ChargeTotal = flowgate.Amount{} },
			want{code: "BR-CO-12", field: "BT-108", fr: []string{"BT-108 absent, somme des charges du document (Σ BT-99) calculée 10.00."},
				en: []string{"BT-108 missing, sum of document level charges (Σ BT-99) computed 10.00."}}},
		{func(inv *flowgate.Invoice) { inv.Totals.TaxExclusive = amount("210.40") },
			want{code: "BR-CO-13", field: "BT-109", value: "210.40", fr: []string{"BT-109 déclaré 210.40, BT-106 − BT-107 + BT-108 calculé 200.40."}}},
		{func(inv *flowgate.Invoice) {
			inv.TaxTotals[0].TaxAmount = amount("40.00")
			inv.Totals.TaxInclusive = amount("240.40")
			inv.Totals.Payable = amount("240.40")
		},
			want{code: "BR-CO-14", field: "BT-110", value: "40.00", fr: []string{"BT-110 déclaré 40.00, somme des montants de TVA par catégorie (Σ BT-117) calculée 40.08."}}},
		{func(inv *flowgate.Invoice) {
			inv.Totals.TaxInclusive = amount("240.50")
			inv.Totals.Payable = amount("240.50")
		},
			want{code: "BR-CO-15", field: "BT-112", value: "240.50", fr: []string{"BT-112 déclaré 240.50, BT-109 + BT-110 calculé 240.48."},
				en: []string{"BT-112 declared 240.50, BT-109 + BT-110 computed 240.48."}}},
		{func(inv *flowgate.Invoice) { inv.TaxTotals[0].TaxAmount.Currency = "USD" },
			want{code: "BR-CO-15", field: "BT-112", value: "240.48",
				fr: []string{"BT-112 déclaré 240.48, BT-109 + BT-110 calculé : impossible, aucun montant total de TVA (BT-110) dans la devise du document « EUR »."}}},
		{func(inv *flowgate.Invoice) {
			inv.Totals.Prepaid = amount("40.00")
			inv.Totals.Rounding = amount("0.02")
		},
			want{code: "BR-CO-16", field: "BT-115", value: "240.48", fr: []string{"BT-115 déclaré 240.48, BT-112 − BT-113 + BT-114 calculé 200.50."},
				en: []string{"BT-115 declared 240.48, BT-112 − BT-113 + BT-114 computed 200.50."}}},
		{func(inv *flowgate.Invoice) {
			st := &inv.TaxTotals[0].Subtotals[0]
			st.TaxAmount = amount("42.00")
			inv.TaxTotals[0].TaxAmount = amount("42.00")
			inv.Totals.TaxInclusive, inv.Totals.Payable = amount("242.40"), amount("242.40")
		}, want{code: "BR-CO-17", field: "BT-117", value: "42.00", pos: 1,
			fr: []string{"Détail de TVA en position 1 (BG-23, catégorie BT-118 « S », taux BT-119 « 20 »). BT-117 déclaré 42.00, BT-116 × BT-119 / 100 calculé 40.08."},
			en: []string{"VAT breakdown at position 1 (BG-23, category BT-118 'S', rate BT-119 '20'). BT-117 declared 42.00, BT-116 × BT-119 / 100 computed 40.08."}}},
		{func(inv *flowgate.Invoice) {
			st := &inv.TaxTotals[0].Subtotals[0]
			st.Percent = "0"
			st.Category = "Z"
		}, want{code: "BR-CO-17", field: "BT-117", value: "40.08", pos: 1,
			fr: []string{"BT-117 déclaré 40.08, valeur attendue (taux nul ou absent) 0."}}},
	}
	for _, tt := range tests {
		t.Run(tt.want.code, func(t *testing.T) {
			inv := goodInvoice()
			tt.change(inv)
			tt.want.check(t, Validate(inv, Input{Directory: testDirectory()}))
		})
	}
}

// TestMessagesClipInput: every value a message quotes (line ids, amounts,
// codes, the directory's names) is cut to MaxValue characters.
func TestMessagesClipInput(t *testing.T) {
	long := strings.Repeat("é", 50000)
	num := "1" + strings.Repeat("0", 59) // long amounts: flowgate reads up to 1,000 significant digits
	inv := goodInvoice()
	inv.Lines[0].ID = long
	inv.Lines[0].HasUnit = false
	inv.Lines[1].LineExtension = flowgate.Amount{Present: true, Raw: long}
	inv.Totals.LineExtension = amount(num)
	inv.Totals.TaxExclusive = amount(num)
	inv.AllowanceCharges = []flowgate.AllowanceCharge{docAC(true, num)}
	inv.AllowanceCharges[0].TaxCategory = flowgate.TaxCategory{}
	inv.Totals.ChargeTotal = flowgate.Amount{Present: true, Raw: long}
	st := &inv.TaxTotals[0].Subtotals[0]
	// BT-116 × BT-119 / 100 has 117 digits.
	st.Category, st.Percent, st.TaxableAmount, st.TaxAmount = long, num, amount(num), amount("1")
	inv.PaymentMeans[0].Code, inv.PaymentMeans[0].HasAccountID = long, false
	inv.PaymentMeans = append(inv.PaymentMeans, flowgate.PaymentMeans{Code: "30", HasCode: true, HasAccount: true})
	inv.TaxCurrency, inv.HasTaxCurrency = long, true
	inv.Currency = long
	inv.BuyerReference = "ARCHIVES"
	dir := directory.New([]directory.Structure{{SIRET: plainRecipient, Name: long, Active: true, ServiceRequired: true}},
		[]directory.Service{{SIRET: plainRecipient, Code: "ARCHIVES", Name: long, Active: false}})
	fs := Validate(inv, Input{Directory: dir})
	seen := map[string]bool{}
	for _, f := range fs {
		seen[f.Code] = true
		if n := utf8.RuneCountInString(f.Value) + utf8.RuneCountInString(f.Line); n > 2*MaxValue {
			t.Errorf("%s quotes values of %d characters", f.Code, n)
		}
		// The CR keeps 1,000 characters of a message: the whole of ours.
		for _, m := range []string{f.MessageFR, f.Message} {
			if n := utf8.RuneCountInString(m); n > 1000 {
				t.Errorf("%s: a message of %d characters: %.200s", f.Code, n, m)
			}
		}
	}
	for _, code := range []string{"BR-23", "BR-37", "BR-CO-10", "BR-CO-12", "BR-CO-13", "BR-CO-17", "BR-50", "BR-53", "CPP-SERVICE-INACTIF"} {
		if !seen[code] {
			t.Errorf("no %s: the test does not reach its message", code)
		}
	}
}
