package parser

import (
	"bytes"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"flowgate"
	"flowgate/internal/corpus"
)

// en16931 is the EN 16931 part of the shared corpus, or skips the test.
func en16931(t testing.TB) string { return corpus.Need(t, "en16931") }

func mustParse(t *testing.T, doc string) *flowgate.Invoice {
	t.Helper()
	inv, err := ParseBytes([]byte(doc))
	if err != nil {
		t.Fatalf("parse: %v", err)
	}
	return inv
}

// TestCorpusParses: every official UBL example and test file reads with no
// flow error.
func TestCorpusParses(t *testing.T) {
	dir := en16931(t)
	var files []string
	for _, sub := range []string{"ubl-examples", "testfiles"} {
		all, _ := filepath.Glob(filepath.Join(dir, sub, "*"))
		files = append(files, all...)
	}
	if len(files) < 40 {
		t.Fatalf("found only %d corpus files", len(files))
	}
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
		if inv.Number == "" || len(inv.Lines) == 0 || !inv.Totals.Payable.OK {
			t.Errorf("%s: number %q, %d lines, payable %+v", filepath.Base(f), inv.Number, len(inv.Lines), inv.Totals.Payable)
		}
	}
}

// TestCorpusFields checks fields read by hand from a few corpus files.
func TestCorpusFields(t *testing.T) {
	dir := en16931(t)
	read := func(name string) *flowgate.Invoice {
		data, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		inv, err := ParseBytes(data)
		if err != nil {
			t.Fatal(err)
		}
		return inv
	}

	inv := read("ubl-examples/ubl-tc434-example1.xml")
	want := map[string]string{
		"Kind": "Invoice", "Number": "12115118", "IssueDate": "2015-01-09", "TypeCode": "380", "Currency": "EUR",
		"Seller.Name": "De Koksmaat", "Seller.Country": "NL", "Buyer.Name": "ODIN 59", "Buyer.ID": "10202",
		"LineExtension": "229.60", "TaxExclusive": "229.60", "TaxInclusive": "250.33", "Payable": "250.33",
		"Lines": "20", "Line1.ID": "1", "Line1.Amount": "19.90", "Line1.Unit": "EA", "TaxAmount": "20.73",
	}
	got := map[string]string{
		"Kind": inv.Kind.String(), "Number": inv.Number, "IssueDate": inv.IssueDate, "TypeCode": inv.TypeCode,
		"Currency": inv.Currency, "Seller.Name": inv.Seller.Name, "Seller.Country": inv.Seller.CountryCode,
		"Buyer.Name": inv.Buyer.Name, "Buyer.ID": inv.Buyer.Identifiers[0].Value,
		"LineExtension": inv.Totals.LineExtension.Raw, "TaxExclusive": inv.Totals.TaxExclusive.Raw,
		"TaxInclusive": inv.Totals.TaxInclusive.Raw, "Payable": inv.Totals.Payable.Value.String(),
		"Lines": strconv.Itoa(len(inv.Lines)), "Line1.ID": inv.Lines[0].ID, "Line1.Amount": inv.Lines[0].LineExtension.Raw,
		"Line1.Unit": inv.Lines[0].Unit, "TaxAmount": inv.TaxTotals[0].TaxAmount.Raw,
	}
	for k, w := range want {
		if got[k] != w {
			t.Errorf("example1 %s = %q, want %q", k, got[k], w)
		}
	}

	cn := read("ubl-examples/ubl-tc434-creditnote1.xml")
	if cn.Kind != flowgate.KindCreditNote || cn.TypeCode != "381" || cn.Number != "018304 / 28865" || len(cn.Lines) != 1 {
		t.Errorf("creditnote1: kind %v type %q number %q lines %d", cn.Kind, cn.TypeCode, cn.Number, len(cn.Lines))
	}

	max := read("testfiles/Invoice-Max_content.xml")
	if max.BuyerReference == "" || max.Order == "" || max.Contract == "" || len(max.Preceding) == 0 || max.Preceding[0].ID == "" {
		t.Errorf("Max_content: buyer ref %q, order %q, contract %q, preceding %+v", max.BuyerReference, max.Order, max.Contract, max.Preceding)
	}
	if len(max.AllowanceCharges) == 0 || !max.Totals.AllowanceTotal.Present || !max.Totals.ChargeTotal.Present {
		t.Errorf("Max_content: allowances %d, totals %+v", len(max.AllowanceCharges), max.Totals)
	}
}

const cbcNS = `xmlns:cbc="urn:oasis:names:specification:ubl:schema:xsd:CommonBasicComponents-2"`
const cacNS = `xmlns:cac="urn:oasis:names:specification:ubl:schema:xsd:CommonAggregateComponents-2"`

// TestNamespacesByURI: prefixes are the sender's choice; the same invoice
// reads the same under any of them.
func TestNamespacesByURI(t *testing.T) {
	docs := map[string]string{
		"usual prefixes": `<Invoice xmlns="urn:oasis:names:specification:ubl:schema:xsd:Invoice-2" ` + cacNS + ` ` + cbcNS + `>
			<cbc:ID>F1</cbc:ID><cac:AccountingSupplierParty><cac:Party><cac:PartyIdentification>
			<cbc:ID schemeID="0009">73282932000074</cbc:ID></cac:PartyIdentification></cac:Party></cac:AccountingSupplierParty>
			<cac:LegalMonetaryTotal><cbc:PayableAmount currencyID="EUR">10.50</cbc:PayableAmount></cac:LegalMonetaryTotal></Invoice>`,
		"odd prefixes": `<ns0:Invoice xmlns:ns0="urn:oasis:names:specification:ubl:schema:xsd:Invoice-2"
			xmlns:x="urn:oasis:names:specification:ubl:schema:xsd:CommonAggregateComponents-2"
			xmlns:cac="urn:oasis:names:specification:ubl:schema:xsd:CommonBasicComponents-2">
			<cac:ID>F1</cac:ID><x:AccountingSupplierParty><x:Party><x:PartyIdentification>
			<cac:ID schemeID="0009">73282932000074</cac:ID></x:PartyIdentification></x:Party></x:AccountingSupplierParty>
			<x:LegalMonetaryTotal><cac:PayableAmount currencyID="EUR">10.50</cac:PayableAmount></x:LegalMonetaryTotal></ns0:Invoice>`,
		"default namespace redeclared on each element": `<Invoice xmlns="urn:oasis:names:specification:ubl:schema:xsd:Invoice-2">
			<ID xmlns="urn:oasis:names:specification:ubl:schema:xsd:CommonBasicComponents-2">F1</ID>
			<AccountingSupplierParty xmlns="urn:oasis:names:specification:ubl:schema:xsd:CommonAggregateComponents-2"><Party><PartyIdentification>
			<ID xmlns="urn:oasis:names:specification:ubl:schema:xsd:CommonBasicComponents-2" schemeID="0009">73282932000074</ID>
			</PartyIdentification></Party></AccountingSupplierParty>
			<LegalMonetaryTotal xmlns="urn:oasis:names:specification:ubl:schema:xsd:CommonAggregateComponents-2">
			<PayableAmount xmlns="urn:oasis:names:specification:ubl:schema:xsd:CommonBasicComponents-2" currencyID="EUR">10.50</PayableAmount>
			</LegalMonetaryTotal></Invoice>`,
	}
	for name, doc := range docs {
		inv := mustParse(t, doc)
		siret, _ := inv.Seller.SIRET()
		if inv.Number != "F1" || siret != "73282932000074" || inv.Totals.Payable.Raw != "10.50" || inv.Totals.Payable.Currency != "EUR" {
			t.Errorf("%s: number %q siret %q payable %+v", name, inv.Number, siret, inv.Totals.Payable)
		}
	}

	// An element with the right local name in another namespace is not read.
	inv := mustParse(t, `<Invoice xmlns="urn:oasis:names:specification:ubl:schema:xsd:Invoice-2"
		xmlns:cbc="urn:example:not-ubl"><cbc:ID>F1</cbc:ID></Invoice>`)
	if inv.Number != "" {
		t.Errorf("ID in a foreign namespace read as the number: %q", inv.Number)
	}
}

func TestLegacyChorusIdentifiers(t *testing.T) {
	inv := mustParse(t, `<Invoice xmlns="urn:oasis:names:specification:ubl:schema:xsd:Invoice-2" `+cacNS+` `+cbcNS+`>
		<cac:AccountingSupplierParty><cac:Party><cac:PartyIdentification><cbc:ID schemeName="1">73282932000074</cbc:ID></cac:PartyIdentification></cac:Party></cac:AccountingSupplierParty>
		<cac:AccountingCustomerParty><cac:Party>
		  <cac:PartyIdentification><cbc:ID schemeID="GLN">5790000435975</cbc:ID></cac:PartyIdentification>
		  <cac:PartyIdentification><cbc:ID schemeName="1">21000001000012</cbc:ID></cac:PartyIdentification>
		  <cac:Contact><cbc:ID>COMPTA</cbc:ID></cac:Contact></cac:Party></cac:AccountingCustomerParty></Invoice>`)
	s, _ := inv.Seller.SIRET()
	b, _ := inv.Buyer.SIRET()
	if s != "73282932000074" || b != "21000001000012" || inv.ServiceCode() != "COMPTA" {
		t.Errorf("legacy: seller %q buyer %q service %q", s, b, inv.ServiceCode())
	}
	// BuyerReference wins over the legacy contact.
	inv.BuyerReference = "FINANCES"
	if inv.ServiceCode() != "FINANCES" {
		t.Errorf("service code %q, want BuyerReference", inv.ServiceCode())
	}
}

// TestPartialDocumentParses: a missing element is a finding later, not a parse failure.
func TestPartialDocumentParses(t *testing.T) {
	inv := mustParse(t, `<CreditNote xmlns="urn:oasis:names:specification:ubl:schema:xsd:CreditNote-2"/>`)
	if inv.Kind != flowgate.KindCreditNote || inv.Number != "" || len(inv.Lines) != 0 {
		t.Errorf("empty credit note: %+v", inv)
	}
}

func TestTextForms(t *testing.T) {
	inv := mustParse(t, `<?xml version="1.0"?>
<!-- a comment --><?pi data?>
<Invoice xmlns="urn:oasis:names:specification:ubl:schema:xsd:Invoice-2" `+cbcNS+`>
  <cbc:ID>  A&amp;B<![CDATA[-<1>]]>&#x2F;&#50;  </cbc:ID>
  <cbc:Note>é</cbc:Note>
</Invoice>
<!-- trailing comment -->
`)
	if inv.Number != "  A&B-<1>/2  " || flowgate.Trimmed(inv.Number) != "A&B-<1>/2" {
		t.Errorf("number %q", inv.Number)
	}
}

// TestValuesAsWritten: the parser keeps every value as written, which the
// EN 16931 rules compare as their XPath does, and tells an empty element
// from an absent one; the hub reads the same values trimmed (SIRET,
// service code).
func TestValuesAsWritten(t *testing.T) {
	inv := mustParse(t, `<Invoice xmlns="urn:oasis:names:specification:ubl:schema:xsd:Invoice-2" `+cacNS+` `+cbcNS+`>
  <cbc:ID>`+"\u00a0"+`</cbc:ID>
  <cbc:DocumentCurrencyCode/>
  <cbc:BuyerReference> SERV`+"\u00a0"+`</cbc:BuyerReference>
  <cac:AccountingSupplierParty><cac:Party>
    <cac:PartyIdentification><cbc:ID schemeID=" 0009">`+"\u00a0"+`73282932000074
</cbc:ID></cac:PartyIdentification>
    <cac:PartyTaxScheme><cbc:CompanyID>
 FR40810000010</cbc:CompanyID><cac:TaxScheme><cbc:ID> VAT </cbc:ID></cac:TaxScheme></cac:PartyTaxScheme>
  </cac:Party></cac:AccountingSupplierParty>
  <cac:PaymentMeans><cbc:PaymentMeansCode> 30 </cbc:PaymentMeansCode></cac:PaymentMeans>
  <cac:TaxTotal><cbc:TaxAmount currencyID=" EUR "> 4.00
</cbc:TaxAmount></cac:TaxTotal>
  <cac:LegalMonetaryTotal><cbc:PayableAmount currencyID="EUR">`+"\u00a0"+`24.00</cbc:PayableAmount></cac:LegalMonetaryTotal>
</Invoice>`)
	if inv.Number != "\u00a0" {
		t.Errorf("number %q, want U+00A0 as written", inv.Number)
	}
	if inv.Currency != "" || !inv.HasCurrency {
		t.Errorf("empty currency code: %q, written %v", inv.Currency, inv.HasCurrency)
	}
	if pm := inv.PaymentMeans[0]; pm.Code != " 30 " {
		t.Errorf("payment means code %q", pm.Code)
	}
	if ts := inv.Seller.TaxSchemes[0]; ts.CompanyID != "\n FR40810000010" || ts.TaxScheme != " VAT " || inv.Seller.VATID != ts.CompanyID {
		t.Errorf("tax scheme %+v, VAT id %q", ts, inv.Seller.VATID)
	}
	if id := inv.Seller.Identifiers[0]; id.Value != "\u00a073282932000074\n" || id.SchemeID != " 0009" {
		t.Errorf("identifier %+v", id)
	}
	// xs:decimal() allows space, tab, CR, LF around the literal, not U+00A0.
	if a := inv.TaxTotals[0].TaxAmount; a.Raw != " 4.00\n" || a.Currency != " EUR " || !a.OK || a.Value.String() != "4.00" {
		t.Errorf("tax amount %+v", a)
	}
	if a := inv.Totals.Payable; a.Raw != "\u00a024.00" || a.OK {
		t.Errorf("payable %+v, want not a decimal", a)
	}
	// The hub's reading.
	if s, ok := inv.Seller.SIRET(); s != "73282932000074" || !ok {
		t.Errorf("seller SIRET %q %v", s, ok)
	}
	if c := inv.ServiceCode(); c != "SERV" {
		t.Errorf("service code %q", c)
	}

	if inv := mustParse(t, `<Invoice xmlns="urn:oasis:names:specification:ubl:schema:xsd:Invoice-2"/>`); inv.HasCurrency {
		t.Error("no cbc:DocumentCurrencyCode, but HasCurrency")
	}

	// An element's value is all the text inside it, as XPath's string
	// value, even that of an element the schema forbids there; the leaf
	// keeps its attributes.
	inv = mustParse(t, `<Invoice xmlns="urn:oasis:names:specification:ubl:schema:xsd:Invoice-2" `+cacNS+` `+cbcNS+`>
  <cbc:ID>FA-<x:n xmlns:x="urn:x" currencyID="USD">20<x:m/>26</x:n>-1</cbc:ID>
  <cac:LegalMonetaryTotal><cbc:PayableAmount currencyID="EUR">1<x:n xmlns:x="urn:x">2</x:n>0.00</cbc:PayableAmount></cac:LegalMonetaryTotal>
</Invoice>`)
	if inv.Number != "FA-2026-1" {
		t.Errorf("number %q, want FA-2026-1", inv.Number)
	}
	if a := inv.Totals.Payable; a.Raw != "120.00" || a.Currency != "EUR" || !a.OK {
		t.Errorf("payable %+v", a)
	}
}

func TestEncodings(t *testing.T) {
	latin1 := append([]byte(`<?xml version="1.0" encoding="ISO-8859-1"?><Invoice xmlns="urn:oasis:names:specification:ubl:schema:xsd:Invoice-2" `+cacNS+` `+cbcNS+`><cac:AccountingSupplierParty><cac:Party><cac:PartyLegalEntity><cbc:RegistrationName>Soci`),
		0xE9, 't', 0xE9, ' ', 0xA4)
	latin1 = append(latin1, []byte(`</cbc:RegistrationName></cac:PartyLegalEntity></cac:Party></cac:AccountingSupplierParty></Invoice>`)...)
	inv, err := ParseBytes(latin1)
	if err != nil || inv.Seller.Name != "Société ¤" {
		t.Errorf("ISO-8859-1: %q, %v", inv.Seller.Name, err)
	}
	latin9 := bytes.Replace(latin1, []byte("ISO-8859-1"), []byte("ISO-8859-15"), 1)
	if inv, err := ParseBytes(latin9); err != nil || inv.Seller.Name != "Société €" {
		t.Errorf("ISO-8859-15: %v", err)
	}
	bom := append([]byte("\xEF\xBB\xBF"), `<Invoice xmlns="urn:oasis:names:specification:ubl:schema:xsd:Invoice-2"/>`...)
	if _, err := ParseBytes(bom); err != nil {
		t.Errorf("UTF-8 with BOM: %v", err)
	}
}

// TestHostile: each hostile or broken document gets its flow-level code and
// nothing else.
func TestHostile(t *testing.T) {
	const inv = `xmlns="urn:oasis:names:specification:ubl:schema:xsd:Invoice-2"`
	tests := []struct {
		name, doc, code string
	}{
		{"billion laughs", `<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;">]><Invoice ` + inv + `>&lol2;</Invoice>`, flowgate.CodeDTD},
		{"external entity", `<!DOCTYPE Invoice [<!ENTITY xxe SYSTEM "file:///etc/passwd">]><Invoice ` + inv + `>&xxe;</Invoice>`, flowgate.CodeDTD},
		{"external DTD", `<!DOCTYPE Invoice SYSTEM "http://example.com/x.dtd"><Invoice ` + inv + `/>`, flowgate.CodeDTD},
		{"entity declaration after root", `<Invoice ` + inv + `/><!ENTITY x "y">`, flowgate.CodeDTD},
		{"undefined entity", `<Invoice ` + inv + `>&nbsp;</Invoice>`, flowgate.CodeXML},
		{"bare ampersand", `<Invoice ` + inv + `>A & B</Invoice>`, flowgate.CodeXML},
		{"mismatched tags", `<Invoice ` + inv + `><a></b></Invoice>`, flowgate.CodeXML},
		{"unclosed root", `<Invoice ` + inv + `><a/>`, flowgate.CodeXML},
		{"two roots", `<Invoice ` + inv + `/><Invoice ` + inv + `/>`, flowgate.CodeXML},
		{"text after root", `<Invoice ` + inv + `/>junk`, flowgate.CodeXML},
		{"empty", ``, flowgate.CodeXML},
		{"not xml", `%PDF-1.4 binary`, flowgate.CodeXML},
		{"unquoted attribute", `<Invoice ` + inv + ` a=1/>`, flowgate.CodeXML},
		{"duplicate attribute", `<Invoice ` + inv + ` a="1" a="2"/>`, flowgate.CodeXML},
		{"undeclared prefix", `<Invoice ` + inv + `><x:ID/></Invoice>`, flowgate.CodeXML},
		{"lt in attribute", `<Invoice ` + inv + ` a="<"/>`, flowgate.CodeXML},
		{"control character", "<Invoice " + inv + ">\x01</Invoice>", flowgate.CodeXML},
		{"invalid UTF-8", "<Invoice " + inv + ">\xff\xfe</Invoice>", flowgate.CodeXML},
		{"char ref to NUL", `<Invoice ` + inv + `>&#0;</Invoice>`, flowgate.CodeXML},
		{"xml declaration not first", ` <?xml version="1.0"?><Invoice ` + inv + `/>`, flowgate.CodeXML},
		{"double hyphen in comment", `<!-- a -- b --><Invoice ` + inv + `/>`, flowgate.CodeXML},
		{"UBL order", `<Order xmlns="urn:oasis:names:specification:ubl:schema:xsd:Order-2"/>`, flowgate.CodeType},
		{"Invoice without namespace", `<Invoice/>`, flowgate.CodeType},
		{"CII invoice in another namespace", `<rsm:CrossIndustryInvoice xmlns:rsm="urn:un:unece:uncefact:data:standard:CrossIndustryInvoice:99"/>`, flowgate.CodeType},
		{"CII root name in the UBL namespace", `<CrossIndustryInvoice xmlns="urn:oasis:names:specification:ubl:schema:xsd:Invoice-2"/>`, flowgate.CodeType},
		{"CII invoice without namespace", `<CrossIndustryInvoice/>`, flowgate.CodeType},
		{"Invoice root in CreditNote namespace", `<Invoice xmlns="urn:oasis:names:specification:ubl:schema:xsd:CreditNote-2"/>`, flowgate.CodeType},
		{"too deep", `<Invoice ` + inv + `>` + strings.Repeat("<a>", MaxDepth) + strings.Repeat("</a>", MaxDepth) + `</Invoice>`, flowgate.CodeSize},
		{"UTF-16 without a mark or declaration", "<\x00I\x00", flowgate.CodeEncoding},
		{"UTF-32", "\xff\xfe\x00\x00<\x00\x00\x00", flowgate.CodeEncoding},
		{"EBCDIC declared", `<?xml version="1.0" encoding="EBCDIC-CP-FR"?><Invoice ` + inv + `/>`, flowgate.CodeEncoding},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseBytes([]byte(tt.doc))
			if err == nil {
				t.Fatalf("parsed %+v, want %s", got, tt.code)
			}
			fe, ok := err.(*flowgate.FlowError)
			if !ok || fe.Code != tt.code || fe.MessageFR == "" || fe.Message == "" {
				t.Fatalf("error %#v, want code %s with messages", err, tt.code)
			}
		})
	}

	// Just under the depth limit is fine.
	doc := `<Invoice ` + inv + `>` + strings.Repeat("<a>", MaxDepth-1) + strings.Repeat("</a>", MaxDepth-1) + `</Invoice>`
	if _, err := ParseBytes([]byte(doc)); err != nil {
		t.Errorf("depth %d: %v", MaxDepth, err)
	}
}

func TestTooLarge(t *testing.T) {
	doc := `<Invoice xmlns="urn:oasis:names:specification:ubl:schema:xsd:Invoice-2"><!--` +
		strings.Repeat("x", MaxDocumentSize) + `--></Invoice>`
	_, err := Parse(strings.NewReader(doc))
	if fe, ok := err.(*flowgate.FlowError); !ok || fe.Code != flowgate.CodeSize {
		t.Fatalf("got %v, want %s", err, flowgate.CodeSize)
	}
	// A large plain-file flow is refused before it is read.
	var entries []Entry
	err = ReadFlow(strings.NewReader(doc), int64(len(doc)), func(e Entry) error { entries = append(entries, e); return nil })
	if err != nil || len(entries) != 1 || entries[0].Err == nil || entries[0].Err.Code != flowgate.CodeSize {
		t.Fatalf("flow: %v %+v", err, entries)
	}
}

func TestErrorLine(t *testing.T) {
	_, err := ParseBytes([]byte("<Invoice xmlns=\"urn:oasis:names:specification:ubl:schema:xsd:Invoice-2\">\n<a>\n</b>\n</Invoice>"))
	fe := err.(*flowgate.FlowError)
	if !strings.HasPrefix(fe.Message, "line 3:") || !strings.HasPrefix(fe.MessageFR, "ligne 3 :") {
		t.Errorf("messages %q / %q, want line 3", fe.Message, fe.MessageFR)
	}
}

// BenchmarkParse reads the 21 KB official example invoice (parse only).
func BenchmarkParse(b *testing.B) {
	data, err := os.ReadFile(filepath.Join(en16931(b), "ubl-examples", "ubl-tc434-example1.xml"))
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
