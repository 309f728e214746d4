package parser

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"unicode/utf8"

	"golang.org/x/text/encoding"
	"golang.org/x/text/encoding/charmap"
	"golang.org/x/text/encoding/ianaindex"
	"golang.org/x/text/encoding/unicode"
	"golang.org/x/text/encoding/unicode/utf32"

	"flowgate"
)

// encBody is an invoice whose seller name has Latin-1 letters, the euro
// sign and a character beyond the BMP (a surrogate pair in UTF-16).
const encBody = "\n<Invoice xmlns=\"urn:oasis:names:specification:ubl:schema:xsd:Invoice-2\" " + cacNS + " " + cbcNS + ">\n" +
	"<cbc:ID>F-1</cbc:ID><cac:AccountingSupplierParty><cac:Party><cac:PartyLegalEntity>" +
	"<cbc:RegistrationName>Société € \U0001D11E</cbc:RegistrationName>" +
	"</cac:PartyLegalEntity></cac:Party></cac:AccountingSupplierParty></Invoice>\n"

func declared(enc string) string {
	if enc == "" {
		return `<?xml version="1.0"?>`
	}
	return `<?xml version="1.0" encoding="` + enc + `"?>`
}

// encode writes text in e with x/text's encoder, an implementation apart
// from the parser's decoding.
func encode(t testing.TB, e encoding.Encoding, text string) []byte {
	t.Helper()
	b, err := e.NewEncoder().Bytes([]byte(text))
	if err != nil {
		t.Fatalf("encode: %v", err)
	}
	return b
}

var (
	utf16LE = unicode.UTF16(unicode.LittleEndian, unicode.IgnoreBOM)
	utf16BE = unicode.UTF16(unicode.BigEndian, unicode.IgnoreBOM)
	bomLE   = []byte{0xFF, 0xFE}
	bomBE   = []byte{0xFE, 0xFF}
	bomUTF8 = []byte{0xEF, 0xBB, 0xBF}
)

func catBytes(parts ...[]byte) []byte { return bytes.Join(parts, nil) }

// lintLookup returns the path of xmllint, or "" when it is not installed.
func lintLookup() string {
	p, _ := exec.LookPath("xmllint")
	return p
}

// lintSays writes doc to dir and returns xmllint's first error ("" when it
// reads doc), or "no xmllint".
func lintSays(t *testing.T, lint, dir, name string, doc []byte) string {
	t.Helper()
	if lint == "" {
		return "no xmllint"
	}
	if err := os.WriteFile(filepath.Join(dir, name), doc, 0o600); err != nil {
		t.Fatal(err)
	}
	return xmllintVerdicts(t, lint, dir, []string{name})[name]
}

// TestUTF16CaseFile: the UTF-16 document with a byte order mark found in
// the field (../shared/cases/input/utf16-with-bom.xml) parses to the same
// invoice as its UTF-8 twin, and so does its big-endian form.
func TestUTF16CaseFile(t *testing.T) {
	data, err := os.ReadFile("testdata/utf16-with-bom.xml")
	if err != nil {
		t.Fatal(err)
	}
	text, err := unicode.UTF16(unicode.LittleEndian, unicode.ExpectBOM).NewDecoder().Bytes(data)
	if err != nil {
		t.Fatal(err)
	}
	twin := bytes.Replace(text, []byte(`encoding="UTF-16"`), []byte(`encoding="UTF-8"`), 1)
	want, err := ParseBytes(twin)
	if err != nil {
		t.Fatalf("UTF-8 twin: %v", err)
	}
	if want.Number != "FA-2026-001" || want.Seller.Name == "" {
		t.Fatalf("UTF-8 twin read as %+v", want)
	}
	for name, doc := range map[string][]byte{
		"as deposited (UTF-16LE)": data,
		"UTF-16BE":                catBytes(bomBE, encode(t, utf16BE, string(text))),
	} {
		got, err := ParseBytes(doc)
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%s: parsed\n%+v\nwant\n%+v", name, got, want)
		}
	}
}

// TestUTF16FlowKeepsBytes: a UTF-16 flow is read as an XML invoice, and
// the entry the router delivers is the file as deposited, not its UTF-8
// reading.
func TestUTF16FlowKeepsBytes(t *testing.T) {
	data, err := os.ReadFile("testdata/utf16-with-bom.xml")
	if err != nil {
		t.Fatal(err)
	}
	var got []Entry
	if err := ReadFlow(bytes.NewReader(data), int64(len(data)), func(e Entry) error {
		got = append(got, e)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[0].Err != nil || got[0].Invoice == nil || got[0].Invoice.Number != "FA-2026-001" {
		t.Fatalf("entries %+v", got)
	}
	if !bytes.Equal(got[0].Data, data) {
		t.Errorf("entry data is not the file as deposited")
	}
}

// TestUTF16Forms: each way XML 1.0 lets a UTF-16 document say so reads
// the same invoice as UTF-8, and xmllint reads it too.
func TestUTF16Forms(t *testing.T) {
	want, err := ParseBytes([]byte(declared("UTF-8") + encBody))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		doc  []byte
	}{
		{"LE mark, declared UTF-16", catBytes(bomLE, encode(t, utf16LE, declared("UTF-16")+encBody))},
		{"BE mark, declared UTF-16", catBytes(bomBE, encode(t, utf16BE, declared("UTF-16")+encBody))},
		{"LE mark, declared utf-16le", catBytes(bomLE, encode(t, utf16LE, declared("utf-16le")+encBody))},
		{"BE mark, declared UTF-16BE", catBytes(bomBE, encode(t, utf16BE, declared("UTF-16BE")+encBody))},
		{"LE mark, declaration without encoding", catBytes(bomLE, encode(t, utf16LE, declared("")+encBody))},
		{"LE mark, no declaration", catBytes(bomLE, encode(t, utf16LE, encBody[1:]))},
		{"no mark, LE, declared UTF-16", encode(t, utf16LE, declared("UTF-16")+encBody)},
		{"no mark, BE, declared UTF-16", encode(t, utf16BE, declared("UTF-16")+encBody)},
		{"no mark, BE, declared UTF-16BE", encode(t, utf16BE, declared("UTF-16BE")+encBody)},
	}
	lint, dir := lintLookup(), t.TempDir()
	for i, tt := range tests {
		got, err := ParseBytes(tt.doc)
		if err != nil {
			t.Errorf("%s: %v", tt.name, err)
		} else if got.Seller.Name != want.Seller.Name || got.Number != want.Number {
			t.Errorf("%s: read %q %q, want %q %q", tt.name, got.Number, got.Seller.Name, want.Number, want.Seller.Name)
		}
		if v := lintSays(t, lint, dir, fmt.Sprintf("u%02d.xml", i), tt.doc); v != "" && v != "no xmllint" {
			t.Errorf("%s: xmllint refuses it: %s", tt.name, v)
		}
	}
}

// TestEncodingRefused: what the hub does not read is FLX-ENCODAGE with a
// message naming what it saw. libxml2 is what xmllint (2.9.14) does: where
// it refuses too the test checks it; where it reads the document anyway
// the hub refuses by XML 1.0 §4.3.3 (a mark or first bytes contradicting
// the declaration, or UTF-16 with neither mark nor encoding declaration)
// or by choice (EBCDIC, multi-byte Asian encodings).
func TestEncodingRefused(t *testing.T) {
	const small = "<Invoice xmlns=\"urn:oasis:names:specification:ubl:schema:xsd:Invoice-2\">é</Invoice>"
	const ascii = "<Invoice xmlns=\"urn:oasis:names:specification:ubl:schema:xsd:Invoice-2\"/>"
	utf32LE := utf32.UTF32(utf32.LittleEndian, utf32.IgnoreBOM)
	utf32BE := utf32.UTF32(utf32.BigEndian, utf32.IgnoreBOM)
	surrogate := catBytes(bomLE, encode(t, utf16LE, declared("UTF-16")+"<a>"), []byte{0x00, 0xD8}, encode(t, utf16LE, "</a>"))
	tests := []struct {
		name    string
		doc     []byte
		want    []string // in the French message
		libxml2 string   // "refuses" or "reads"
	}{
		{"UTF-8 mark, declared UTF-16", catBytes(bomUTF8, []byte(declared("UTF-16")+small)),
			[]string{"marque d'ordre des octets UTF-8, mais la déclaration annonce UTF-16"}, "refuses"},
		{"UTF-8 mark, declared UTF-16LE", catBytes(bomUTF8, []byte(declared("UTF-16LE")+small)),
			[]string{"marque d'ordre des octets UTF-8, mais la déclaration annonce UTF-16LE"}, "refuses"},
		{"UTF-16LE mark, declared ISO-8859-1", catBytes(bomLE, encode(t, utf16LE, declared("ISO-8859-1")+small)),
			[]string{"marque d'ordre des octets UTF-16LE, mais la déclaration annonce ISO-8859-1"}, "refuses"},
		{"UTF-16BE mark, declared ISO-8859-1", catBytes(bomBE, encode(t, utf16BE, declared("ISO-8859-1")+small)),
			[]string{"marque d'ordre des octets UTF-16BE, mais la déclaration annonce ISO-8859-1"}, "refuses"},
		{"UTF-16LE mark, declared UTF-16BE", catBytes(bomLE, encode(t, utf16LE, declared("UTF-16BE")+small)),
			[]string{"marque d'ordre des octets UTF-16LE, mais la déclaration annonce UTF-16BE"}, "refuses"},
		{"UTF-16LE mark, declared UTF-8", catBytes(bomLE, encode(t, utf16LE, declared("UTF-8")+small)),
			[]string{"marque d'ordre des octets UTF-16LE, mais la déclaration annonce UTF-8"}, "reads"},
		{"UTF-8 mark, declared ISO-8859-1", catBytes(bomUTF8, []byte(declared("ISO-8859-1")+small)),
			[]string{"marque d'ordre des octets UTF-8, mais la déclaration annonce ISO-8859-1"}, "reads"},
		{"UTF-8 mark, declared windows-1252", catBytes(bomUTF8, []byte(declared("windows-1252")+small)),
			[]string{"marque d'ordre des octets UTF-8, mais la déclaration annonce windows-1252"}, "reads"},
		{"UTF-16LE first bytes, declared ISO-8859-1", encode(t, utf16LE, declared("ISO-8859-1")+small),
			[]string{"premiers octets en UTF-16LE sans marque d'ordre des octets, mais la déclaration annonce ISO-8859-1"}, "refuses"},
		{"UTF-16LE first bytes, declared UTF-8", encode(t, utf16LE, declared("UTF-8")+small),
			[]string{"premiers octets en UTF-16LE", "la déclaration annonce UTF-8"}, "reads"},
		{"UTF-16LE without mark, declaration without encoding", encode(t, utf16LE, declared("")+small),
			[]string{"UTF-16LE sans marque d'ordre des octets ni déclaration d'encodage"}, "reads"},
		{"UTF-16LE without mark or declaration", encode(t, utf16LE, small),
			[]string{"UTF-16LE sans marque d'ordre des octets ni déclaration d'encodage"}, "refuses"},
		{"8-bit document declared UTF-16", []byte(declared("UTF-16") + small),
			[]string{"la déclaration annonce UTF-16, mais le document n'a ni marque d'ordre des octets ni premiers octets UTF-16"}, "refuses"},
		{"UTF-16 unpaired surrogate", surrogate, []string{"ligne 1", "surrogate", "octet 86"}, "refuses"},
		{"UTF-16 odd length", catBytes(bomLE, encode(t, utf16LE, declared("UTF-16")+ascii), []byte{'\n'}),
			[]string{"nombre impair d'octets"}, "reads"}, // libxml2 drops the last byte
		{"UTF-32LE mark", catBytes([]byte{0xFF, 0xFE, 0, 0}, encode(t, utf32LE, declared("UTF-32")+small)),
			[]string{"encodage UTF-32LE non pris en charge"}, "refuses"},
		{"UTF-32BE mark", catBytes([]byte{0, 0, 0xFE, 0xFF}, encode(t, utf32BE, declared("UTF-32")+small)),
			[]string{"encodage UTF-32BE non pris en charge"}, "refuses"},
		{"UTF-32LE first bytes", encode(t, utf32LE, declared("UTF-32")+small), []string{"encodage UTF-32 non pris en charge"}, "refuses"},
		{"UTF-32BE first bytes", encode(t, utf32BE, declared("UTF-32")+small), []string{"encodage UTF-32 non pris en charge"}, "refuses"},
		{"8-bit document declared UTF-32", []byte(declared("UTF-32") + small), []string{"encodage UTF-32 non pris en charge"}, "refuses"},
		{"8-bit document declared UCS-4", []byte(declared("UCS-4") + small), []string{"encodage UTF-32 non pris en charge"}, "refuses"},
		{"EBCDIC", encode(t, charmap.CodePage037, declared("IBM037")+small), []string{"encodage EBCDIC non pris en charge"}, "reads"},
		{"Shift_JIS", []byte(declared("Shift_JIS") + ascii), []string{"encodage Shift_JIS non pris en charge"}, "reads"},
		{"unknown encoding, long name", []byte(declared("A"+strings.Repeat("x", 10000)) + ascii),
			[]string{"encodage Axxxxxxxx", "…"}, "refuses"},
		{"windows-1252 undefined byte", []byte(declared("windows-1252") + "\n<a>\x80\n\x81</a>"),
			[]string{"ligne 3 : octet 0x81 non défini en windows-1252"}, "refuses"},
		{"ISO-8859-3 undefined byte", []byte(declared("ISO-8859-3") + "<a>\xA5</a>"),
			[]string{"ligne 1 : octet 0xA5 non défini en ISO-8859-3"}, "refuses"},
		{"non-ASCII in US-ASCII", []byte(declared("US-ASCII") + "\n" + small),
			[]string{"ligne 2 : caractère non ASCII dans un document déclaré US-ASCII"}, "refuses"},
	}
	lint, dir := lintLookup(), t.TempDir()
	for i, tt := range tests {
		_, err := ParseBytes(tt.doc)
		fe, ok := err.(*flowgate.FlowError)
		if !ok || fe.Code != flowgate.CodeEncoding {
			t.Errorf("%s: %v, want %s", tt.name, err, flowgate.CodeEncoding)
			continue
		}
		for _, w := range tt.want {
			if !strings.Contains(fe.MessageFR, w) {
				t.Errorf("%s: %q, want it to say %q", tt.name, fe.MessageFR, w)
			}
		}
		if len(fe.MessageFR) > 250 || len(fe.Message) > 250 {
			t.Errorf("%s: message of %d bytes", tt.name, len(fe.MessageFR))
		}
		if v := lintSays(t, lint, dir, fmt.Sprintf("r%02d.xml", i), tt.doc); tt.libxml2 == "refuses" && v == "" {
			t.Errorf("%s: xmllint reads it, the test says libxml2 refuses it", tt.name)
		}
	}
}

// TestEightBitEncodings: the single-byte encodings are read under their
// IANA names and the spellings iconv accepts, with the UTF-8 byte order
// mark and US-ASCII agreeing.
func TestEightBitEncodings(t *testing.T) {
	name := func(s string) string {
		return "<Invoice xmlns=\"urn:oasis:names:specification:ubl:schema:xsd:Invoice-2\" " + cacNS + " " + cbcNS + ">\n" +
			"<cac:AccountingSupplierParty><cac:Party><cac:PartyLegalEntity><cbc:RegistrationName>" + s +
			"</cbc:RegistrationName></cac:PartyLegalEntity></cac:Party></cac:AccountingSupplierParty></Invoice>"
	}
	tests := []struct {
		enc  string
		cm   *charmap.Charmap
		text string
	}{
		{"ISO-8859-1", charmap.ISO8859_1, "Société ¤"},
		{"latin1", charmap.ISO8859_1, "Société"},
		{"LATIN-1", charmap.ISO8859_1, "Société"},
		{"ISO8859-1", charmap.ISO8859_1, "Société"},
		{"ISO-8859-15", charmap.ISO8859_15, "Œuvre €"},
		{"latin9", charmap.ISO8859_15, "Œuvre €"},
		{"ISO_8859-15", charmap.ISO8859_15, "Œuvre €"},
		{"windows-1252", charmap.Windows1252, "« Œuvre » – 10 €"},
		{"CP1252", charmap.Windows1252, "“€”"},
		{"WINDOWS1252", charmap.Windows1252, "“€”"},
		{"ISO-8859-2", charmap.ISO8859_2, "Łódź"},
		{"windows-1250", charmap.Windows1250, "Łódź"},
		{"ISO-8859-16", charmap.ISO8859_16, "Științe"},
		{"KOI8-R", charmap.KOI8R, "Счёт"},
		{"windows-1251", charmap.Windows1251, "Счёт"},
	}
	lint, dir := lintLookup(), t.TempDir()
	for i, tt := range tests {
		doc := encode(t, tt.cm, declared(tt.enc)+name(tt.text))
		inv, err := ParseBytes(doc)
		if err != nil {
			t.Errorf("%s: %v", tt.enc, err)
		} else if inv.Seller.Name != tt.text {
			t.Errorf("%s: read %q, want %q", tt.enc, inv.Seller.Name, tt.text)
		}
		if v := lintSays(t, lint, dir, fmt.Sprintf("e%02d.xml", i), doc); v != "" && v != "no xmllint" {
			t.Errorf("%s: xmllint refuses it: %s", tt.enc, v)
		}
	}
	for _, enc := range []string{"UTF-8", "utf8", "US-ASCII"} {
		doc := catBytes(bomUTF8, []byte(declared(enc)+name("Durand")))
		if inv, err := ParseBytes(doc); err != nil || inv.Seller.Name != "Durand" {
			t.Errorf("UTF-8 mark, declared %s: %v", enc, err)
		}
	}
}

// TestUTF8NotCopied: a UTF-8 document is scanned where it lies.
func TestUTF8NotCopied(t *testing.T) {
	for _, doc := range []string{declared("UTF-8") + encBody, encBody, "\xEF\xBB\xBF" + encBody, declared("US-ASCII") + "<a/>"} {
		data := []byte(doc)
		out, ferr := toUTF8(data)
		if ferr != nil || len(out) == 0 || &out[0] != &data[0] {
			t.Errorf("%.40q: copied or refused (%v)", doc, ferr)
		}
	}
}

// TestCharmapsAsIconv: every single-byte encoding the parser reads is
// ASCII below 0x80, and above it decodes each byte as glibc's iconv (which
// libxml2 uses) does, refusing the same undefined bytes.
func TestCharmapsAsIconv(t *testing.T) {
	iconv, err := exec.LookPath("iconv")
	if err != nil {
		t.Skip("iconv not found: tables not compared")
	}
	var in []byte
	for b := 0x80; b <= 0xFF; b++ {
		in = append(in, byte(b), '\n')
	}
	for name, sb := range charmaps {
		for b := 0; b < 0x80; b++ {
			if r := sb.decode(byte(b)); r != rune(b) {
				t.Errorf("%s: byte 0x%02X reads %U, not ASCII", name, b, r)
			}
		}
		if e, err := ianaindex.IANA.Encoding(name); err != nil || e != sb.cm {
			t.Errorf("%s: IANA name does not lead back to its table", name)
		}
		cmd := exec.Command(iconv, "-c", "-f", name, "-t", "UTF-8")
		cmd.Stdin = bytes.NewReader(in)
		out, err := cmd.Output()
		if len(out) == 0 {
			t.Errorf("iconv -f %s: %v", name, err)
			continue
		}
		lines := strings.Split(string(out), "\n")
		for i := 0; i < 0x80; i++ {
			b := byte(0x80 + i)
			ours, theirs := sb.decode(b), lines[i]
			switch {
			case ours == utf8.RuneError && theirs != "":
				t.Errorf("%s: byte 0x%02X undefined here, iconv reads %q", name, b, theirs)
			case ours != utf8.RuneError && theirs != string(ours):
				t.Errorf("%s: byte 0x%02X reads %q, iconv %q", name, b, string(ours), theirs)
			}
		}
	}
}

// TestUndeclaredNotUTF8Hint: latin-1 bytes in a document that declares no
// encoding say how to fix it; in one that declares UTF-8 they do not.
func TestUndeclaredNotUTF8Hint(t *testing.T) {
	body := "<Invoice xmlns=\"urn:oasis:names:specification:ubl:schema:xsd:Invoice-2\"><a>caf\xe9</a></Invoice>"
	for _, tt := range []struct {
		doc  string
		hint bool
	}{
		{body, true},
		{"<?xml version=\"1.0\"?>\n" + body, true},
		{"<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n" + body, false},
	} {
		_, err := ParseBytes([]byte(tt.doc))
		fe, ok := err.(*flowgate.FlowError)
		if !ok || fe.Code != flowgate.CodeXML {
			t.Fatalf("%q: %v, want FLX-XML", tt.doc[:20], err)
		}
		if got := strings.Contains(fe.MessageFR, "déclarez-le") && strings.Contains(fe.Message, "declare it"); got != tt.hint {
			t.Errorf("%q: hint %v, want %v: %s", tt.doc[:20], got, tt.hint, fe.MessageFR)
		}
	}
}
