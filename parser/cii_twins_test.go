package parser_test

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"flowgate"
	"flowgate/directory"
	"flowgate/parser"
	"flowgate/validator"
)

// codes returns the sorted codes and severities of the findings.
func codes(fs []flowgate.Finding) []string {
	var out []string
	for _, f := range fs {
		out = append(out, fmt.Sprintf("%s/%v", f.Code, f.Severity))
	}
	slices.Sort(out)
	return out
}

// TestCIITwinVerdicts runs every check (EN 16931, French, Chorus) on the
// same invoice written in UBL and in CII, as written and with the same
// fault put in both, and wants the same findings: the rules are neutral
// over flowgate.Invoice, so one syntax is not judged more leniently than
// the other.
func TestCIITwinVerdicts(t *testing.T) {
	read := func(name string) string {
		data, err := os.ReadFile(filepath.Join("testdata", name))
		if err != nil {
			t.Fatal(err)
		}
		return string(data)
	}
	ubl, cii := read("twin-ubl.xml"), read("twin-cii.xml")
	dir, _, err := directory.Load(filepath.Join("..", "samples", "directory"))
	if err != nil {
		t.Fatal(err)
	}
	in := validator.Input{Directory: dir}
	type edit struct{ old, new string }
	tests := []struct {
		name     string
		ubl, cii []edit
		want     []string // codes both must report
	}{
		{name: "as written"},
		{name: "unknown service",
			ubl:  []edit{{"<cbc:BuyerReference>COMPTA<", "<cbc:BuyerReference>INCONNU<"}},
			cii:  []edit{{"<ram:BuyerReference>COMPTA<", "<ram:BuyerReference>INCONNU<"}},
			want: []string{"CPP-SERVICE-INCONNU"}},
		{name: "inactive service",
			ubl:  []edit{{"<cbc:BuyerReference>COMPTA<", "<cbc:BuyerReference>ARCHIVES<"}},
			cii:  []edit{{"<ram:BuyerReference>COMPTA<", "<ram:BuyerReference>ARCHIVES<"}},
			want: []string{"CPP-SERVICE-INACTIF"}},
		{name: "no service code where one is required",
			ubl:  []edit{{"<cbc:BuyerReference>COMPTA</cbc:BuyerReference>", ""}},
			cii:  []edit{{"<ram:BuyerReference>COMPTA</ram:BuyerReference>", ""}},
			want: []string{"CPP-SERVICE-OBLIGATOIRE"}},
		{name: "unknown recipient",
			ubl:  []edit{{`<cbc:ID schemeID="0009">22000002000010</cbc:ID>`, `<cbc:ID schemeID="0009">73282932000074</cbc:ID>`}},
			cii:  []edit{{`<ram:GlobalID schemeID="0009">22000002000010</ram:GlobalID>`, `<ram:GlobalID schemeID="0009">73282932000074</ram:GlobalID>`}},
			want: []string{"CPP-DEST-INCONNU"}},
		{name: "recipient SIRET from the older 0002 legal identifier",
			ubl: []edit{{`<cac:PartyIdentification><cbc:ID schemeID="0009">22000002000010</cbc:ID></cac:PartyIdentification>`, ""},
				{`<cbc:CompanyID schemeID="0002">220000020</cbc:CompanyID>`, `<cbc:CompanyID schemeID="0002">22000002000010</cbc:CompanyID>`}},
			cii: []edit{{`<ram:GlobalID schemeID="0009">22000002000010</ram:GlobalID>`, ""},
				{`<ram:ID schemeID="0002">220000020</ram:ID>`, `<ram:ID schemeID="0002">22000002000010</ram:ID>`}}},
		{name: "wrong grand total",
			ubl:  []edit{{">240.48<", ">240.49<"}},
			cii:  []edit{{">240.48<", ">240.49<"}},
			want: []string{"BR-CO-15", "BR-CO-16"}},
		{name: "wrong line sum",
			ubl:  []edit{{">195.40<", ">195.41<"}},
			cii:  []edit{{">195.40<", ">195.41<"}},
			want: []string{"BR-CO-10"}},
		{name: "VAT breakdown off",
			ubl: []edit{{`<cbc:TaxAmount currencyID="EUR">40.08</cbc:TaxAmount>
      <cac:TaxCategory>`, `<cbc:TaxAmount currencyID="EUR">40.07</cbc:TaxAmount>
      <cac:TaxCategory>`}},
			cii:  []edit{{"<ram:CalculatedAmount>40.08<", "<ram:CalculatedAmount>40.07<"}},
			want: []string{"BR-CO-14"}},
		{name: "no supplier SIRET",
			ubl: []edit{{`<cac:PartyIdentification><cbc:ID schemeID="0009">81000001000019</cbc:ID></cac:PartyIdentification>`, ""}},
			cii: []edit{{`<ram:GlobalID schemeID="0009">81000001000019</ram:GlobalID>`, ""}}},
		{name: "malformed supplier SIRET",
			ubl: []edit{{`<cbc:ID schemeID="0009">81000001000019</cbc:ID>`, `<cbc:ID schemeID="0009">12345678912345</cbc:ID>`}},
			cii: []edit{{`<ram:GlobalID schemeID="0009">81000001000019</ram:GlobalID>`, `<ram:GlobalID schemeID="0009">12345678912345</ram:GlobalID>`}}},
		{name: "no line VAT category",
			ubl: []edit{{`<cac:ClassifiedTaxCategory><cbc:ID>S</cbc:ID><cbc:Percent>20</cbc:Percent><cac:TaxScheme><cbc:ID>VAT</cbc:ID></cac:TaxScheme></cac:ClassifiedTaxCategory>
    </cac:Item>
    <cac:Price><cbc:PriceAmount currencyID="EUR">75.40`, `</cac:Item>
    <cac:Price><cbc:PriceAmount currencyID="EUR">75.40`}},
			cii: []edit{{`<ram:ApplicableTradeTax><ram:TypeCode>VAT</ram:TypeCode><ram:CategoryCode>S</ram:CategoryCode><ram:RateApplicablePercent>20</ram:RateApplicablePercent></ram:ApplicableTradeTax>
        <ram:SpecifiedTradeSettlementLineMonetarySummation><ram:LineTotalAmount>75.40`, `<ram:SpecifiedTradeSettlementLineMonetarySummation><ram:LineTotalAmount>75.40`}},
			want: []string{"BR-CO-04"}},
		{name: "credit note without its invoice",
			ubl: []edit{{"<cbc:InvoiceTypeCode>380<", "<cbc:InvoiceTypeCode>381<"}, {`<cac:BillingReference><cac:InvoiceDocumentReference><cbc:ID>FA-2026-0001</cbc:ID><cbc:IssueDate>2026-10-02</cbc:IssueDate></cac:InvoiceDocumentReference></cac:BillingReference>`, ""}},
			cii: []edit{{"<ram:TypeCode>380<", "<ram:TypeCode>381<"}, {`<ram:InvoiceReferencedDocument>
        <ram:IssuerAssignedID>FA-2026-0001</ram:IssuerAssignedID>
        <ram:FormattedIssueDateTime><qdt:DateTimeString format="102">20261002</qdt:DateTimeString></ram:FormattedIssueDateTime>
      </ram:InvoiceReferencedDocument>`, ""}}},
		{name: "no seller name",
			ubl:  []edit{{"<cbc:RegistrationName>Fournitures Durand SARL</cbc:RegistrationName>", ""}},
			cii:  []edit{{"<ram:Name>Fournitures Durand SARL</ram:Name>", ""}},
			want: []string{"BR-06"}},
		{name: "total VAT in another currency",
			ubl: []edit{{`<cbc:TaxAmount currencyID="EUR">40.08</cbc:TaxAmount>
    <cac:TaxSubtotal>`, `<cbc:TaxAmount currencyID="USD">40.08</cbc:TaxAmount>
    <cac:TaxSubtotal>`}},
			cii:  []edit{{`<ram:TaxTotalAmount currencyID="EUR">`, `<ram:TaxTotalAmount currencyID="USD">`}},
			want: []string{"BR-CO-15"}},
		{name: "tax point date and its code",
			ubl: []edit{{"<cbc:InvoiceTypeCode>", "<cbc:TaxPointDate>2026-11-01</cbc:TaxPointDate><cbc:InvoiceTypeCode>"},
				{"<cbc:EndDate>2026-10-31</cbc:EndDate>", "<cbc:EndDate>2026-10-31</cbc:EndDate><cbc:DescriptionCode>5</cbc:DescriptionCode>"}},
			cii: []edit{{`<ram:CategoryCode>S</ram:CategoryCode>
        <ram:RateApplicablePercent>20</ram:RateApplicablePercent>
      </ram:ApplicableTradeTax>`, `<ram:CategoryCode>S</ram:CategoryCode>
        <ram:TaxPointDate><udt:DateString format="102">20261101</udt:DateString></ram:TaxPointDate>
        <ram:DueDateTypeCode>5</ram:DueDateTypeCode>
        <ram:RateApplicablePercent>20</ram:RateApplicablePercent>
      </ram:ApplicableTradeTax>`}},
			want: []string{"BR-CO-03"}},
		{name: "no currency",
			ubl:  []edit{{"<cbc:DocumentCurrencyCode>EUR</cbc:DocumentCurrencyCode>", ""}},
			cii:  []edit{{"<ram:InvoiceCurrencyCode>EUR</ram:InvoiceCurrencyCode>", ""}},
			want: []string{"BR-05"}},
	}
	apply := func(t *testing.T, doc string, edits []edit) []byte {
		for _, e := range edits {
			if !strings.Contains(doc, e.old) {
				t.Fatalf("edit %q: not in the document", e.old)
			}
			doc = strings.Replace(doc, e.old, e.new, 1)
		}
		return []byte(doc)
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			u, err := parser.ParseBytes(apply(t, ubl, tt.ubl))
			if err != nil {
				t.Fatal(err)
			}
			c, err := parser.ParseBytes(apply(t, cii, tt.cii))
			if err != nil {
				t.Fatal(err)
			}
			fu, fc := validator.Validate(u, in), validator.Validate(c, in)
			cu, cc := codes(fu), codes(fc)
			if !slices.Equal(cu, cc) {
				t.Errorf("UBL findings %v, CII findings %v", cu, cc)
			}
			for _, w := range tt.want {
				if !slices.ContainsFunc(cc, func(c string) bool { return strings.HasPrefix(c, w+"/") }) {
					t.Errorf("CII findings %v lack %s", cc, w)
				}
			}
			if (tt.name == "as written" || strings.HasPrefix(tt.name, "recipient SIRET")) && len(cc) > 0 {
				t.Errorf("the twins have findings: %v", cc)
			}
			if tt.name != "as written" && !strings.HasPrefix(tt.name, "recipient SIRET") && len(cc) == 0 {
				t.Errorf("the fault went unnoticed")
			}
		})
	}
}
