package parser

import (
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"

	"flowgate"
	"flowgate/internal/corpus"
)

// ublDoc wraps the body of an invoice in its root, with the usual prefixes.
func ublDoc(body string) string {
	return `<?xml version="1.0" encoding="UTF-8"?>
<Invoice xmlns="urn:oasis:names:specification:ubl:schema:xsd:Invoice-2" ` + cacNS + ` ` + cbcNS + `>
` + body + `
</Invoice>`
}

// TestRepeatedSingularRefused: an element the UBL 2.1 schema admits once,
// written twice in the same parent, is refused with FLX-SCHEMA naming it and
// its line, whatever the values: the hub never picks one of two readings.
func TestRepeatedSingularRefused(t *testing.T) {
	tests := []struct {
		name, body, element string
		line                int
	}{
		{"two invoice numbers", "<cbc:ID>F-1</cbc:ID>\n<cbc:ID>F-2</cbc:ID>", "cbc:ID repeated in Invoice", 4},
		{"two payable amounts", `<cac:LegalMonetaryTotal>
<cbc:PayableAmount currencyID="EUR">999999.99</cbc:PayableAmount>
<cbc:PayableAmount currencyID="EUR">240.48</cbc:PayableAmount>
</cac:LegalMonetaryTotal>`, "cbc:PayableAmount repeated in cac:LegalMonetaryTotal", 5},
		{"two issue dates", "<cbc:IssueDate>2026-01-01</cbc:IssueDate><cbc:IssueDate>2026-12-31</cbc:IssueDate>", "cbc:IssueDate repeated in Invoice", 3},
		{"two IBANs in one account", `<cac:PaymentMeans><cbc:PaymentMeansCode>30</cbc:PaymentMeansCode>
<cac:PayeeFinancialAccount><cbc:ID>FR7630006000011234567890189</cbc:ID>
<cbc:ID>DE89370400440532013000</cbc:ID></cac:PayeeFinancialAccount></cac:PaymentMeans>`, "cbc:ID repeated in cac:PayeeFinancialAccount", 5},
		{"two legal monetary totals", `<cac:LegalMonetaryTotal/><cac:LegalMonetaryTotal/>`, "cac:LegalMonetaryTotal repeated in Invoice", 3},
		{"two sellers", `<cac:AccountingSupplierParty/><cac:AccountingSupplierParty/>`, "cac:AccountingSupplierParty repeated in Invoice", 3},
		{"two endpoints", `<cac:AccountingSupplierParty><cac:Party><cbc:EndpointID schemeID="0009">1</cbc:EndpointID><cbc:EndpointID>2</cbc:EndpointID></cac:Party></cac:AccountingSupplierParty>`, "cbc:EndpointID repeated in cac:Party", 3},
		{"two tax categories in a subtotal", `<cac:TaxTotal><cac:TaxSubtotal><cac:TaxCategory><cbc:ID>S</cbc:ID></cac:TaxCategory><cac:TaxCategory><cbc:ID>Z</cbc:ID></cac:TaxCategory></cac:TaxSubtotal></cac:TaxTotal>`, "cac:TaxCategory repeated in cac:TaxSubtotal", 3},
		{"two line amounts", `<cac:InvoiceLine><cbc:ID>1</cbc:ID><cbc:LineExtensionAmount currencyID="EUR">1</cbc:LineExtensionAmount><cbc:LineExtensionAmount currencyID="EUR">2</cbc:LineExtensionAmount></cac:InvoiceLine>`, "cbc:LineExtensionAmount repeated in cac:InvoiceLine", 3},
		{"other prefixes", `<x:LegalMonetaryTotal xmlns:x="urn:oasis:names:specification:ubl:schema:xsd:CommonAggregateComponents-2"><PayableAmount xmlns="urn:oasis:names:specification:ubl:schema:xsd:CommonBasicComponents-2">1</PayableAmount><cbc:PayableAmount>2</cbc:PayableAmount></x:LegalMonetaryTotal>`, "cbc:PayableAmount repeated in cac:LegalMonetaryTotal", 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			inv, err := ParseBytes([]byte(ublDoc(tt.body)))
			fe, ok := err.(*flowgate.FlowError)
			if !ok || fe.Code != flowgate.CodeSchema {
				t.Fatalf("got invoice %v, error %v; want %s", inv != nil, err, flowgate.CodeSchema)
			}
			wantFR := strings.Replace(tt.element, "repeated in", "répété dans", 1)
			if !strings.Contains(fe.Message, "element "+tt.element) || !strings.Contains(fe.MessageFR, "élément "+wantFR) ||
				!strings.Contains(fe.Message, "(line "+strconv.Itoa(tt.line)+")") || !strings.Contains(fe.MessageFR, "(ligne "+strconv.Itoa(tt.line)+")") ||
				!strings.Contains(fe.MessageFR, "le schéma UBL 2.1 n'en admet qu'un") {
				t.Errorf("messages %q / %q, want %s at line %d", fe.Message, fe.MessageFR, tt.element, tt.line)
			}
		})
	}

	// A document both repeated and malformed is refused as malformed.
	_, err := ParseBytes([]byte(ublDoc("<cbc:ID>1</cbc:ID><cbc:ID>2</cbc:ID><a></b>")))
	if fe, ok := err.(*flowgate.FlowError); !ok || fe.Code != flowgate.CodeXML {
		t.Errorf("repeated and malformed: %v, want %s", err, flowgate.CodeXML)
	}
}

// TestRepeatableReadFirst: where the schema lets an aggregate or a leaf
// repeat and flowgate keeps one value of it, the value kept is the first, as
// the official rules' XPath reads it; sequences stay sequences.
func TestRepeatableReadFirst(t *testing.T) {
	inv := mustParse(t, ublDoc(`
<cac:ContractDocumentReference><cbc:ID>MARCHE-1</cbc:ID></cac:ContractDocumentReference>
<cac:ContractDocumentReference><cbc:ID>MARCHE-2</cbc:ID></cac:ContractDocumentReference>
<cac:AccountingSupplierParty><cac:Party>
  <cac:PartyLegalEntity><cbc:RegistrationName>Premier</cbc:RegistrationName><cbc:CompanyID>111</cbc:CompanyID></cac:PartyLegalEntity>
  <cac:PartyLegalEntity><cbc:RegistrationName>Second</cbc:RegistrationName><cbc:CompanyID>222</cbc:CompanyID></cac:PartyLegalEntity>
</cac:Party></cac:AccountingSupplierParty>
<cac:PaymentMeans><cbc:PaymentMeansCode>30</cbc:PaymentMeansCode><cac:PayeeFinancialAccount><cbc:ID>IBAN-1</cbc:ID></cac:PayeeFinancialAccount></cac:PaymentMeans>
<cac:PaymentMeans><cbc:PaymentMeansCode>58</cbc:PaymentMeansCode><cac:PayeeFinancialAccount><cbc:ID>IBAN-2</cbc:ID></cac:PayeeFinancialAccount></cac:PaymentMeans>
<cac:AllowanceCharge><cbc:ChargeIndicator>false</cbc:ChargeIndicator>
  <cbc:AllowanceChargeReason>first reason</cbc:AllowanceChargeReason><cbc:AllowanceChargeReason>second reason</cbc:AllowanceChargeReason>
  <cbc:Amount currencyID="EUR">10</cbc:Amount>
  <cac:TaxCategory><cbc:ID>S</cbc:ID><cac:TaxScheme><cbc:ID>VAT</cbc:ID></cac:TaxScheme></cac:TaxCategory>
  <cac:TaxCategory><cbc:ID>Z</cbc:ID><cac:TaxScheme><cbc:ID>OTHER</cbc:ID></cac:TaxScheme></cac:TaxCategory>
</cac:AllowanceCharge>
<cac:TaxTotal><cbc:TaxAmount currencyID="EUR">20</cbc:TaxAmount>
  <cac:TaxSubtotal><cbc:TaxAmount currencyID="EUR">20</cbc:TaxAmount></cac:TaxSubtotal>
  <cac:TaxSubtotal><cbc:TaxAmount currencyID="EUR">0</cbc:TaxAmount></cac:TaxSubtotal>
</cac:TaxTotal>
<cac:InvoiceLine><cbc:ID>1</cbc:ID>
  <cac:InvoicePeriod><cbc:DescriptionCode>3</cbc:DescriptionCode><cbc:DescriptionCode>35</cbc:DescriptionCode></cac:InvoicePeriod>
  <cac:Item><cbc:Name>Ramette</cbc:Name>
    <cac:ClassifiedTaxCategory><cbc:ID>S</cbc:ID><cac:TaxScheme><cbc:ID>VAT</cbc:ID></cac:TaxScheme></cac:ClassifiedTaxCategory>
    <cac:ClassifiedTaxCategory><cbc:ID>E</cbc:ID><cac:TaxScheme><cbc:ID>OTHER</cbc:ID></cac:TaxScheme></cac:ClassifiedTaxCategory>
  </cac:Item>
  <cac:Price><cbc:PriceAmount currencyID="EUR">100.00</cbc:PriceAmount>
    <cac:AllowanceCharge><cbc:ChargeIndicator>false</cbc:ChargeIndicator><cbc:Amount currencyID="EUR">0</cbc:Amount><cbc:BaseAmount currencyID="EUR">100.00</cbc:BaseAmount></cac:AllowanceCharge>
    <cac:AllowanceCharge><cbc:ChargeIndicator>false</cbc:ChargeIndicator><cbc:Amount currencyID="EUR">0</cbc:Amount><cbc:BaseAmount currencyID="EUR">-5</cbc:BaseAmount></cac:AllowanceCharge>
  </cac:Price>
</cac:InvoiceLine>
<cac:InvoiceLine><cbc:ID>2</cbc:ID></cac:InvoiceLine>`))
	ac := inv.AllowanceCharges[0]
	line := inv.Lines[0]
	got := map[string]string{
		"Contract":           inv.Contract,
		"Seller.Name":        inv.Seller.Name,
		"Seller.LegalID":     inv.Seller.LegalID.Value,
		"Allowance.Reason":   ac.Reason,
		"Allowance.Category": ac.TaxCategory.ID + "/" + ac.TaxCategory.TaxScheme,
		"Line.Category":      line.TaxCategory.ID + "/" + line.TaxCategory.TaxScheme,
		"Line.GrossPrice":    line.Details.GrossPrice.Raw,
		"Line.Period.Code":   line.Details.Periods[0].DescriptionCode,
		"PaymentMeans":       inv.PaymentMeans[0].AccountID + "," + inv.PaymentMeans[1].AccountID,
	}
	want := map[string]string{
		"Contract": "MARCHE-1", "Seller.Name": "Premier", "Seller.LegalID": "111", "Allowance.Reason": "first reason",
		"Allowance.Category": "S/VAT", "Line.Category": "S/VAT", "Line.GrossPrice": "100.00", "Line.Period.Code": "3",
		"PaymentMeans": "IBAN-1,IBAN-2",
	}
	for k, w := range want {
		if got[k] != w {
			t.Errorf("%s = %q, want %q (the first occurrence)", k, got[k], w)
		}
	}
	if len(inv.Lines) != 2 || len(inv.TaxTotals[0].Subtotals) != 2 || len(inv.PaymentMeans) != 2 {
		t.Errorf("sequences: %d lines, %d subtotals, %d payment means", len(inv.Lines), len(inv.TaxTotals[0].Subtotals), len(inv.PaymentMeans))
	}

	// An empty first occurrence is still the first: the second is not read.
	inv = mustParse(t, ublDoc(`<cac:ContractDocumentReference><cbc:ID/></cac:ContractDocumentReference>
<cac:ContractDocumentReference><cbc:ID>MARCHE-2</cbc:ID></cac:ContractDocumentReference>`))
	if inv.Contract != "" {
		t.Errorf("contract %q, want the first (empty) one", inv.Contract)
	}
}

// TestFieldCasesNotSchemaErrors: the field cases whose repetitions the UBL
// schema allows (two price allowances: UBL-SR-37 complains, not the XSD)
// parse; the first price allowance is the one read.
func TestFieldCasesNotSchemaErrors(t *testing.T) {
	dir, ok := corpus.Path("..", "cases", "en16931")
	if !ok {
		t.Skipf("field cases not found at %s", dir)
	}
	files, _ := filepath.Glob(filepath.Join(dir, "*.xml"))
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		inv, err := ParseBytes(data)
		if err != nil {
			t.Errorf("%s: %v", filepath.Base(f), err)
			continue
		}
		if filepath.Base(f) == "two-price-allowances.xml" {
			if g := inv.Lines[0].Details.GrossPrice.Raw; g != "100.00" {
				t.Errorf("two-price-allowances: gross price %q, want the first, 100.00", g)
			}
		}
	}
}

// TestTextSplitByMarkup: an element's text split by comments, processing
// instructions and CDATA sections reads as its whole string value, the
// escaped parts included (the second part once overwrote the first).
func TestTextSplitByMarkup(t *testing.T) {
	inv := mustParse(t, ublDoc(`<cbc:ID>A&amp;B<!--x-->C&amp;D<?pi?>E<![CDATA[&F]]>&#x47;</cbc:ID>`))
	if inv.Number != "A&BC&DE&FG" {
		t.Errorf("number %q, want %q", inv.Number, "A&BC&DE&FG")
	}
}

// TestMaxRecords: an invoice carries at most MaxRecords repeated groups, of
// any kinds together; one more is FLX-TAILLE.
func TestMaxRecords(t *testing.T) {
	inv := mustParse(t, ublDoc(strings.Repeat("<cac:InvoiceLine/>", MaxRecords)))
	if len(inv.Lines) != MaxRecords {
		t.Fatalf("%d lines, want %d", len(inv.Lines), MaxRecords)
	}
	for name, body := range map[string]string{
		"lines":                  strings.Repeat("<cac:InvoiceLine/>", MaxRecords+1),
		"lines and allowances":   strings.Repeat("<cac:InvoiceLine/><cac:AllowanceCharge/>", MaxRecords/2+1),
		"identifiers of a party": "<cac:AccountingSupplierParty><cac:Party>" + strings.Repeat("<cac:PartyIdentification><cbc:ID>1</cbc:ID></cac:PartyIdentification>", MaxRecords+1) + "</cac:Party></cac:AccountingSupplierParty>",
	} {
		_, err := ParseBytes([]byte(ublDoc(body)))
		if fe, ok := err.(*flowgate.FlowError); !ok || fe.Code != flowgate.CodeSize || !strings.Contains(fe.Message, "more than 100000") {
			t.Errorf("%s: %v, want %s", name, err, flowgate.CodeSize)
		}
	}
}

// TestRecordsMemoryBounded: a 19 MiB document of empty lines (18 bytes
// each, 300 bytes each in the Invoice) is refused having allocated a
// bounded amount: 2 GB before MaxRecords.
func TestRecordsMemoryBounded(t *testing.T) {
	doc := []byte(ublDoc(strings.Repeat("<cac:InvoiceLine/>", (MaxDocumentSize-1024)/18)))
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	_, err := ParseBytes(doc)
	runtime.ReadMemStats(&after)
	if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 256<<20 {
		t.Errorf("reading %d MiB allocated %d MiB", len(doc)>>20, alloc>>20)
	}
	if fe, ok := err.(*flowgate.FlowError); !ok || fe.Code != flowgate.CodeSize {
		t.Errorf("%v, want %s", err, flowgate.CodeSize)
	}
}
