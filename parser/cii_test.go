package parser

import (
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"flowgate"
	"flowgate/internal/corpus"
)

// diffValues lists the paths where a and b differ, walking structs,
// slices and pointers.
func diffValues(path string, a, b reflect.Value, out *[]string) {
	switch a.Kind() {
	case reflect.Pointer:
		if a.IsNil() || b.IsNil() {
			if a.IsNil() != b.IsNil() {
				*out = append(*out, path+": nil vs non-nil")
			}
			return
		}
		diffValues(path, a.Elem(), b.Elem(), out)
	case reflect.Struct:
		if a.Type() == reflect.TypeOf(flowgate.Decimal{}) {
			if !reflect.DeepEqual(a.Interface(), b.Interface()) {
				*out = append(*out, fmt.Sprintf("%s: %v vs %v", path, a.Interface(), b.Interface()))
			}
			return
		}
		for i := 0; i < a.NumField(); i++ {
			diffValues(path+"."+a.Type().Field(i).Name, a.Field(i), b.Field(i), out)
		}
	case reflect.Slice, reflect.Array:
		if a.Len() != b.Len() {
			*out = append(*out, fmt.Sprintf("%s: %d vs %d elements", path, a.Len(), b.Len()))
			return
		}
		for i := 0; i < a.Len(); i++ {
			diffValues(fmt.Sprintf("%s[%d]", path, i), a.Index(i), b.Index(i), out)
		}
	default:
		if !reflect.DeepEqual(a.Interface(), b.Interface()) {
			*out = append(*out, fmt.Sprintf("%s: %#v vs %#v", path, a.Interface(), b.Interface()))
		}
	}
}

func parseFile(t *testing.T, path string) *flowgate.Invoice {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	inv, err := ParseBytes(data)
	if err != nil {
		t.Fatalf("%s: %v", filepath.Base(path), err)
	}
	return inv
}

// clearCurrencies empties the currencyID of every amount in v: UBL writes
// one on each amount, CII only on its total VAT (BT-110, BT-111).
func clearCurrencies(v reflect.Value) {
	switch v.Kind() {
	case reflect.Pointer:
		if !v.IsNil() {
			clearCurrencies(v.Elem())
		}
	case reflect.Struct:
		if v.Type() == reflect.TypeOf(flowgate.Amount{}) {
			v.FieldByName("Currency").SetString("")
			v.FieldByName("HasCurrency").SetBool(false)
			return
		}
		for i := 0; i < v.NumField(); i++ {
			clearCurrencies(v.Field(i))
		}
	case reflect.Slice:
		for i := 0; i < v.Len(); i++ {
			clearCurrencies(v.Index(i))
		}
	}
}

// TestCIITwin reads the same invoice written in UBL and in CII
// (testdata/twin-*.xml, both free of findings under the official CEN
// Schematron of their syntax) and wants the same Invoice value, every
// field, but for the currencyID UBL writes on every amount and CII only
// on the total VAT.
func TestCIITwin(t *testing.T) {
	u := parseFile(t, filepath.Join("testdata", "twin-ubl.xml"))
	c := parseFile(t, filepath.Join("testdata", "twin-cii.xml"))
	for _, inv := range []*flowgate.Invoice{u, c} {
		if len(inv.TaxTotals) != 1 || inv.TaxTotals[0].TaxAmount.Currency != "EUR" {
			t.Fatalf("total VAT: %+v, want one in EUR", inv.TaxTotals)
		}
	}
	if u.Syntax != "ubl" || c.Syntax != "cii" {
		t.Errorf("syntax %q and %q", u.Syntax, c.Syntax)
	}
	u.Syntax = c.Syntax
	clearCurrencies(reflect.ValueOf(u))
	clearCurrencies(reflect.ValueOf(c))
	var d []string
	diffValues("", reflect.ValueOf(u), reflect.ValueOf(c), &d)
	if len(d) > 0 {
		t.Errorf("UBL and CII twins differ (UBL vs CII):\n%s", strings.Join(d, "\n"))
	}
	// The reading is not empty: a few fields by hand.
	if c.Number != "FA-2026-0042" || c.IssueDate != "2026-11-02" || c.BuyerReference != "COMPTA" ||
		c.Order != "EJ-2026-118" || len(c.Lines) != 2 || c.Totals.Payable.Raw != "200.00" ||
		len(c.Preceding) != 1 || c.Preceding[0].IssueDate != "2026-10-02" {
		t.Errorf("CII twin read as %+v", c)
	}
	if s, ok := c.Seller.SIRET(); !ok || s != "81000001000019" {
		t.Errorf("seller SIRET %q %v", s, ok)
	}
}

// TestCIIExamples reads every CII example of the CEN corpus and every
// Factur-X XML, and checks fields by hand on two of them.
func TestCIIExamples(t *testing.T) {
	dir := corpus.Need(t, "en16931")
	files, _ := filepath.Glob(filepath.Join(dir, "cii-examples", "*.xml"))
	fx, _ := filepath.Glob(filepath.Join(corpus.Need(t, "facturx"), "xml", "*.xml"))
	files = append(files, fx...)
	if len(files) < 15 {
		t.Fatalf("only %d CII files", len(files))
	}
	for _, f := range files {
		inv := parseFile(t, f)
		if inv.Number == "" || len(inv.IssueDate) != len("2006-01-02") || inv.IssueDate[4] != '-' {
			t.Errorf("%s: number %q, issue date %q", filepath.Base(f), inv.Number, inv.IssueDate)
		}
	}

	// CII_example1 beside its UBL twin ubl-tc434-example1 (checked by
	// hand): the same invoice but for the unit code (H87 in CII, EA in
	// UBL), two item names, the second IBAN and the literals of amounts
	// (19.9 against 19.90), which the two files write differently.
	c := parseFile(t, filepath.Join(dir, "cii-examples", "CII_example1.xml"))
	u := parseFile(t, filepath.Join(dir, "ubl-examples", "ubl-tc434-example1.xml"))
	if c.Number != "12115118" || c.IssueDate != "2015-01-09" || c.TypeCode != "380" || c.Currency != "EUR" ||
		c.CustomizationID != "urn:cen.eu:en16931:2017" || len(c.Lines) != 20 {
		t.Errorf("CII_example1: %+v", c)
	}
	same := func(what string, a, b any) {
		if !reflect.DeepEqual(a, b) {
			t.Errorf("CII_example1 %s: %v, UBL twin %v", what, a, b)
		}
	}
	same("number", c.Number, u.Number)
	same("issue date", c.IssueDate, u.IssueDate)
	same("seller", c.Seller.Name, u.Seller.Name)
	same("buyer", c.Buyer.Name, u.Buyer.Name)
	same("seller VAT", c.Seller.VATID, u.Seller.VATID)
	same("lines", len(c.Lines), len(u.Lines))
	same("breakdowns", len(c.TaxTotals[0].Subtotals), len(u.TaxTotals[0].Subtotals))
	for _, p := range [][2]flowgate.Amount{
		{c.Totals.LineExtension, u.Totals.LineExtension}, {c.Totals.TaxExclusive, u.Totals.TaxExclusive},
		{c.Totals.TaxInclusive, u.Totals.TaxInclusive}, {c.Totals.Payable, u.Totals.Payable},
		{c.TaxTotals[0].TaxAmount, u.TaxTotals[0].TaxAmount},
	} {
		if !p[0].OK || !p[1].OK || !p[0].Value.Equal(p[1].Value) {
			t.Errorf("CII_example1 amount %q, UBL twin %q", p[0].Raw, p[1].Raw)
		}
	}

	// CII_business_example_01: the parties, payee and tax representative.
	b := parseFile(t, filepath.Join(dir, "cii-examples", "CII_business_example_01.xml"))
	if b.Number != "TOSL108" || b.IssueDate != "2013-06-30" || b.TaxPointDate != "2013-06-30" || !b.HasTaxPointDate ||
		b.Order != "123" || b.Contract != "Contract321" || !b.HasDueDate || !b.HasPaymentTerms ||
		b.Seller.Name != "Salescompany ltd." || b.Seller.VATID != "NO123456789MVA" || b.Seller.LegalID.Value != "123456789" ||
		len(b.Seller.Identifiers) != 1 || b.Seller.Identifiers[0] != (flowgate.Identifier{Value: "1238764941386", SchemeID: "0088", HasSchemeID: true}) ||
		b.Count.PayeeParty != 1 || len(b.Payee.TradingNames) != 1 || b.Payee.TradingNames[0] != "Ebeneser Scrooge AS" ||
		b.Count.TaxRepresentativeParty != 1 || b.TaxRepresentative.TradingNames[0] != "Tax handling company AS" ||
		len(b.PaymentMeans) != 2 || b.PaymentMeans[0].AccountID != "NO9386011117947" ||
		len(b.AllowanceCharges) != 2 || !b.AllowanceCharges[0].IsAllowance() || b.AllowanceCharges[0].ReasonCode != "95" ||
		len(b.DeliveryAddresses) != 1 || b.DeliveryAddresses[0].CountryCode != "NO" ||
		len(b.TaxTotals) != 1 || len(b.TaxTotals[0].Subtotals) != 3 || b.TaxTotals[0].TaxAmount.Raw != "365.28" ||
		b.Totals.Prepaid.Raw != "1000" || b.Totals.Payable.Raw != "801.78" || b.Count.LegalMonetaryTotal != 1 {
		t.Errorf("CII_business_example_01: %+v", b)
	}
}

// ciiDoc is a minimal CII invoice around the given header settlement and
// seller content.
func ciiDoc(seller, settlement string) string {
	return `<rsm:CrossIndustryInvoice xmlns:rsm="` + NSCII + `" xmlns:ram="` + NSRAM + `" xmlns:udt="` + NSUDT + `">
<rsm:ExchangedDocument><ram:ID>F1</ram:ID><ram:TypeCode>380</ram:TypeCode>
<ram:IssueDateTime><udt:DateTimeString format="102">20261102</udt:DateTimeString></ram:IssueDateTime></rsm:ExchangedDocument>
<rsm:SupplyChainTradeTransaction>
<ram:ApplicableHeaderTradeAgreement><ram:SellerTradeParty>` + seller + `</ram:SellerTradeParty></ram:ApplicableHeaderTradeAgreement>
<ram:ApplicableHeaderTradeSettlement>` + settlement + `</ram:ApplicableHeaderTradeSettlement>
</rsm:SupplyChainTradeTransaction></rsm:CrossIndustryInvoice>`
}

// TestCIIRefused: what the CII reading refuses, and why.
func TestCIIRefused(t *testing.T) {
	cur := `<ram:InvoiceCurrencyCode>EUR</ram:InvoiceCurrencyCode>`
	tests := []struct {
		name, doc, code, want string
	}{
		{"currency twice", ciiDoc("", cur+cur), flowgate.CodeSchema, "ram:InvoiceCurrencyCode répété dans ram:ApplicableHeaderTradeSettlement"},
		{"seller name twice", ciiDoc("<ram:Name>A</ram:Name><ram:Name>B</ram:Name>", ""), flowgate.CodeSchema, "ram:Name répété dans ram:SellerTradeParty"},
		{"two totals", ciiDoc("", "<ram:SpecifiedTradeSettlementHeaderMonetarySummation/><ram:SpecifiedTradeSettlementHeaderMonetarySummation/>"),
			flowgate.CodeSchema, "ram:SpecifiedTradeSettlementHeaderMonetarySummation répété"},
		{"two documents", strings.Replace(ciiDoc("", ""), "<rsm:SupplyChainTradeTransaction>", "<rsm:ExchangedDocument/><rsm:SupplyChainTradeTransaction>", 1),
			flowgate.CodeSchema, "rsm:ExchangedDocument répété dans rsm:CrossIndustryInvoice"},
		{"date format 610", strings.Replace(ciiDoc("", ""), `format="102">20261102`, `format="610">202611`, 1),
			flowgate.CodeSchema, `date « 202611 » au format "610" : seul le format 102 (AAAAMMJJ) est lu`},
		{"date without format", strings.Replace(ciiDoc("", ""), ` format="102"`, ``, 1),
			flowgate.CodeSchema, `au format "(absent)"`},
		{"ISO date in format 102", strings.Replace(ciiDoc("", ""), `20261102`, `2026-11-02`, 1),
			flowgate.CodeSchema, `date « 2026-11-02 » au format "102"`},
		{"period date", ciiDoc("", `<ram:BillingSpecifiedPeriod><ram:StartDateTime><udt:DateTimeString format="203">202611021200</udt:DateTimeString></ram:StartDateTime></ram:BillingSpecifiedPeriod>`),
			flowgate.CodeSchema, "ligne 6 : date « 202611021200 »"},
		{"too many lines", strings.Replace(ciiDoc("", ""), "<ram:ApplicableHeaderTradeAgreement>",
			strings.Repeat("<ram:IncludedSupplyChainTradeLineItem/>", MaxRecords+1)+"<ram:ApplicableHeaderTradeAgreement>", 1),
			flowgate.CodeSize, "plus de 100000 lignes"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			inv, err := ParseBytes([]byte(tt.doc))
			fe, ok := err.(*flowgate.FlowError)
			if !ok {
				t.Fatalf("got %+v, %v; want %s", inv, err, tt.code)
			}
			if fe.Code != tt.code || !strings.Contains(fe.MessageFR, tt.want) {
				t.Errorf("got %s %q / %q, want %s containing %q", fe.Code, fe.MessageFR, fe.Message, tt.code, tt.want)
			}
		})
	}
	// An electronic address without its URIID is still an address, which
	// BR-62 wants with a scheme.
	inv, err := ParseBytes([]byte(ciiDoc("<ram:URIUniversalCommunication/>", "")))
	if err != nil || !inv.Seller.HasEndpoint || inv.Seller.Endpoint.HasSchemeID {
		t.Errorf("empty electronic address: %+v, %v", inv.Seller, err)
	}
	// BT-8 without an invoicing period is a period of its own, as in UBL.
	inv, err = ParseBytes([]byte(ciiDoc("", `<ram:ApplicableTradeTax><ram:DueDateTypeCode>5</ram:DueDateTypeCode></ram:ApplicableTradeTax>`)))
	if err != nil || len(inv.Periods) != 1 || inv.Periods[0] != (flowgate.Period{DescriptionCode: "5", HasDescriptionCode: true}) {
		t.Errorf("BT-8 alone: %+v, %v", inv, err)
	}
	// Where the schema lets an element repeat, the first is read.
	inv, err = ParseBytes([]byte(strings.Replace(ciiDoc("", `<ram:ApplicableTradeTax><ram:CalculatedAmount>1</ram:CalculatedAmount><ram:CalculatedAmount>2</ram:CalculatedAmount>
<ram:BasisAmount>3</ram:BasisAmount><ram:BasisAmount>4</ram:BasisAmount></ram:ApplicableTradeTax>`), "<ram:ApplicableHeaderTradeAgreement>",
		`<ram:IncludedSupplyChainTradeLineItem><ram:SpecifiedTradeProduct><ram:Name>A</ram:Name><ram:Name>B</ram:Name></ram:SpecifiedTradeProduct>
<ram:SpecifiedLineTradeAgreement><ram:NetPriceProductTradePrice><ram:ChargeAmount>5</ram:ChargeAmount><ram:ChargeAmount>6</ram:ChargeAmount></ram:NetPriceProductTradePrice></ram:SpecifiedLineTradeAgreement>
<ram:SpecifiedLineTradeSettlement><ram:SpecifiedTradeSettlementLineMonetarySummation><ram:LineTotalAmount>7</ram:LineTotalAmount><ram:LineTotalAmount>8</ram:LineTotalAmount></ram:SpecifiedTradeSettlementLineMonetarySummation></ram:SpecifiedLineTradeSettlement>
</ram:IncludedSupplyChainTradeLineItem><ram:ApplicableHeaderTradeAgreement>`, 1)))
	if err != nil {
		t.Fatal(err)
	}
	if st := inv.TaxTotals[0].Subtotals[0]; st.TaxAmount.Raw != "1" || st.TaxableAmount.Raw != "3" {
		t.Errorf("repeated amounts of a VAT breakdown read as %+v", st)
	}
	if l := inv.Lines[0]; l.ItemName != "A" || l.Price.Raw != "5" || l.LineExtension.Raw != "7" {
		t.Errorf("repeated elements of a line read as %+v", l)
	}
	// Empty dates are read as missing, for the rules to report.
	inv, err = ParseBytes([]byte(strings.Replace(ciiDoc("", ""), "20261102", "", 1)))
	if err != nil || inv.IssueDate != "" || inv.Number != "F1" {
		t.Errorf("empty date: %+v, %v", inv, err)
	}
}

// TestCIISIRET: where the supplier's SIRET is read from, and which wins.
func TestCIISIRET(t *testing.T) {
	tests := []struct {
		name, seller, want string
	}{
		{"global id 0009", `<ram:GlobalID schemeID="0009">81000001000019</ram:GlobalID>`, "81000001000019"},
		{"id 0009", `<ram:ID schemeID="0009">81000001000019</ram:ID>`, "81000001000019"},
		{"legal organization 0009", `<ram:SpecifiedLegalOrganization><ram:ID schemeID="0009">81000001000019</ram:ID></ram:SpecifiedLegalOrganization>`, "81000001000019"},
		{"identifier before legal organization",
			`<ram:GlobalID schemeID="0009">81000001000019</ram:GlobalID><ram:SpecifiedLegalOrganization><ram:ID schemeID="0009">73282932000074</ram:ID></ram:SpecifiedLegalOrganization>`,
			"81000001000019"},
		{"ram:ID before ram:GlobalID",
			`<ram:ID schemeID="0009">73282932000074</ram:ID><ram:GlobalID schemeID="0009">81000001000019</ram:GlobalID>`, "73282932000074"},
		{"GLN is no SIRET", `<ram:GlobalID schemeID="0088">1238764941386</ram:GlobalID>`, ""},
		{"id without scheme is no SIRET", `<ram:ID>81000001000019</ram:ID>`, ""},
		{"SIREN under 0002 is no SIRET", `<ram:SpecifiedLegalOrganization><ram:ID schemeID="0002">810000010</ram:ID></ram:SpecifiedLegalOrganization>`, ""},
		{"older Chorus: 14 digits under 0002", `<ram:SpecifiedLegalOrganization><ram:ID schemeID="0002">81000001000019</ram:ID></ram:SpecifiedLegalOrganization>`, "81000001000019"},
		{"0009 wins over older 0002",
			`<ram:GlobalID schemeID="0009">73282932000074</ram:GlobalID><ram:SpecifiedLegalOrganization><ram:ID schemeID="0002">81000001000019</ram:ID></ram:SpecifiedLegalOrganization>`,
			"73282932000074"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			inv, err := ParseBytes([]byte(ciiDoc(tt.seller, "")))
			if err != nil {
				t.Fatal(err)
			}
			got, ok := inv.Seller.SIRET()
			if got != tt.want || ok != (tt.want != "") {
				t.Errorf("SIRET %q %v, want %q", got, ok, tt.want)
			}
		})
	}
}

func BenchmarkParseCII(b *testing.B) {
	data, err := os.ReadFile(filepath.Join(corpus.Need(b, "en16931"), "cii-examples", "CII_example1.xml"))
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := ParseBytes(data); err != nil {
			b.Fatal(err)
		}
	}
}
