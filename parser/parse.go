package parser

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"unicode/utf8"

	"flowgate"
)

// Parse reads one UBL 2.1 Invoice or CreditNote from r. It returns a
// *flowgate.FlowError when the document cannot be read as one: too large,
// not well-formed, carrying a DTD, in an unsupported encoding, with another
// root, or with an element the UBL 2.1 schema admits once written twice in
// the same parent (FLX-SCHEMA: the hub never chooses between two
// readings). A document that is well-formed but incomplete parses: what is
// missing is for the validator to report. Where the schema lets an element
// repeat and the Invoice keeps one value, it keeps the first, as XPath
// (and so the official rules) reads it. Nothing a document names is ever
// fetched: no DTD, XInclude, stylesheet or schema location.
func Parse(r io.Reader) (*flowgate.Invoice, error) {
	data, err := io.ReadAll(io.LimitReader(r, MaxDocumentSize+1))
	if err != nil {
		return nil, &flowgate.FlowError{Code: flowgate.CodeIO,
			MessageFR: "lecture impossible : " + err.Error(), Message: "cannot read: " + err.Error()}
	}
	return ParseBytes(data)
}

var scanners = sync.Pool{New: func() any { return new(scanner) }}

// ParseBytes is Parse over a document in memory. It does not keep data.
func ParseBytes(data []byte) (*flowgate.Invoice, error) {
	data, ferr := prepare(data)
	if ferr != nil {
		return nil, ferr
	}
	s := scanners.Get().(*scanner)
	defer scanners.Put(s)
	s.reset(data)
	s.pos = prologStart(data)
	inv, err := build(s)
	s.reset(nil)
	if err != nil {
		var se *scanError
		if errors.As(err, &se) {
			return nil, se.flowError()
		}
		var fe *flowgate.FlowError
		if errors.As(err, &fe) {
			return nil, fe
		}
		return nil, &flowgate.FlowError{Code: flowgate.CodeXML, MessageFR: err.Error(), Message: err.Error()}
	}
	return inv, nil
}

// prepare checks what can be checked before scanning: the size, the XML
// declaration and encoding, and the characters. It returns the document
// in UTF-8.
func prepare(data []byte) ([]byte, *flowgate.FlowError) {
	if len(data) > MaxDocumentSize {
		return nil, tooLarge()
	}
	data, ferr := toUTF8(data)
	if ferr != nil {
		return nil, ferr
	}
	if at, ok := checkChars(data); !ok {
		s := &scanner{data: data}
		return nil, s.syntax(at, "caractère interdit ou UTF-8 invalide", "forbidden character or invalid UTF-8").flowError()
	}
	return data, nil
}

func tooLarge() *flowgate.FlowError {
	return &flowgate.FlowError{Code: flowgate.CodeSize,
		MessageFR: fmt.Sprintf("document XML de plus de %d Mio", MaxDocumentSize>>20),
		Message:   fmt.Sprintf("XML document over %d MiB", MaxDocumentSize>>20)}
}

func build(s *scanner) (*flowgate.Invoice, error) {
	b := builder{inv: new(flowgate.Invoice), stack: make([]elem, 0, 16), frames: make([]frame, 0, 16)}
	for {
		kind, err := s.next()
		if err != nil {
			return nil, err
		}
		switch kind {
		case tokStart:
			if len(b.stack) == 0 {
				switch {
				case string(s.local) == "Invoice" && string(s.space) == NSInvoice:
					b.inv.Kind = flowgate.KindInvoice
				case string(s.local) == "CreditNote" && string(s.space) == NSCreditNote:
					b.inv.Kind = flowgate.KindCreditNote
				default:
					return nil, notUBL(s)
				}
			}
			b.start(s)
			if b.records > MaxRecords {
				return nil, tooManyRecords(s)
			}
		case tokText:
			b.addText(s.text, s.textBuffered)
		case tokEnd:
			b.end()
			if b.records > MaxRecords {
				return nil, tooManyRecords(s)
			}
		case tokEOF:
			if b.schemaErr != nil {
				return nil, b.schemaErr
			}
			return b.inv, nil
		}
	}
}

// tooManyRecords refuses a document past MaxRecords.
func tooManyRecords(s *scanner) *flowgate.FlowError {
	return s.fail(flowgate.CodeSize, s.pos,
		fmt.Sprintf("plus de %d lignes, remises, charges, sous-totaux de TVA, identifiants et autres groupes répétés", MaxRecords),
		fmt.Sprintf("more than %d lines, allowances, charges, VAT subtotals, identifiers and other repeated groups", MaxRecords)).flowError()
}

func notUBL(s *scanner) *flowgate.FlowError {
	name := string(s.local)
	if len(s.space) > 0 {
		name = "{" + string(s.space) + "}" + name
	}
	return &flowgate.FlowError{Code: flowgate.CodeType,
		MessageFR: "l'élément racine " + name + " n'est ni une facture (Invoice) ni un avoir (CreditNote) UBL 2.1",
		Message:   "root element " + name + " is not a UBL 2.1 Invoice or CreditNote"}
}

// prologStart skips a UTF-8 byte order mark and the XML declaration, which
// toUTF8 has already read.
func prologStart(data []byte) int {
	p := 0
	if bytes.HasPrefix(data, []byte("\xEF\xBB\xBF")) {
		p = 3
	}
	if decl, ok := xmlDecl(data[p:]); ok {
		p += len(decl)
	}
	return p
}

// xmlDecl returns the XML declaration at the start of b, "<?xml ... ?>".
func xmlDecl(b []byte) ([]byte, bool) {
	if len(b) < 6 || !bytes.HasPrefix(b, []byte("<?xml")) || !isSpace(b[5]) {
		return nil, false
	}
	end := bytes.Index(b, []byte("?>"))
	if end < 0 {
		return nil, false
	}
	return b[:end+2], true
}

// parseXMLDecl reads an XML declaration as XML 1.0 §2.8 and libxml2 do:
// version first (1.x), then optionally encoding (an EncName), then
// optionally standalone ("yes" or "no"), each pseudo-attribute after
// whitespace, nothing else. It returns the declared encoding ("" if none),
// or the reason the declaration is malformed.
func parseXMLDecl(decl []byte) (enc string, fr, en string) {
	b := decl[len("<?xml") : len(decl)-len("?>")]
	p := 0
	space := func() bool {
		q := p
		for p < len(b) && isSpace(b[p]) {
			p++
		}
		return p > q
	}
	// pseudo reads name Eq quoted-value, returning the value.
	pseudo := func(name string) ([]byte, bool) {
		if !bytes.HasPrefix(b[p:], []byte(name)) {
			return nil, false
		}
		p += len(name)
		space()
		if p >= len(b) || b[p] != '=' {
			return nil, false
		}
		p++
		space()
		if p >= len(b) || b[p] != '"' && b[p] != '\'' {
			return nil, false
		}
		end := bytes.IndexByte(b[p+1:], b[p])
		if end < 0 {
			return nil, false
		}
		v := b[p+1 : p+1+end]
		p += end + 2
		return v, true
	}
	bad := func(fr, en string) (string, string, string) {
		return "", "déclaration XML invalide : " + fr, "invalid XML declaration: " + en
	}
	space()
	v, ok := pseudo("version")
	if !ok {
		return bad("version attendue en premier", "version expected first")
	}
	if len(v) < 2 || v[0] != '1' || v[1] != '.' || bytes.IndexFunc(v[2:], func(r rune) bool { return r < '0' || r > '9' }) >= 0 {
		return bad("version « "+string(v)+" » (1.x attendue)", "version '"+string(v)+"' (1.x expected)")
	}
	sp := space()
	if sp && bytes.HasPrefix(b[p:], []byte("encoding")) {
		e, ok := pseudo("encoding")
		if !ok || !isEncName(e) {
			return bad("nom d'encodage invalide", "invalid encoding name")
		}
		enc = string(e)
		sp = space()
		// libxml2 wants no space before standalone after a UTF-8
		// encoding, which it does not switch to: agree with it.
		sp = sp || strings.EqualFold(enc, "UTF-8") || strings.EqualFold(enc, "UTF8")
	}
	if sp && bytes.HasPrefix(b[p:], []byte("standalone")) {
		v, ok := pseudo("standalone")
		if !ok || string(v) != "yes" && string(v) != "no" {
			return bad("standalone n'admet que « yes » ou « no »", "standalone accepts only 'yes' or 'no'")
		}
		space()
	}
	if p != len(b) {
		return bad("« ?> » attendu après version, encoding et standalone, dans cet ordre",
			"'?>' expected after version, encoding and standalone, in that order")
	}
	return enc, "", ""
}

// isEncName reports whether b is an EncName: [A-Za-z] ([A-Za-z0-9._] | '-')*.
func isEncName(b []byte) bool {
	if len(b) == 0 || !(b[0] >= 'a' && b[0] <= 'z' || b[0] >= 'A' && b[0] <= 'Z') {
		return false
	}
	for _, c := range b[1:] {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}

// toUTF8 returns the document in UTF-8. UTF-8 and US-ASCII are read as they
// are; ISO-8859-1, ISO-8859-15 and windows-1252, still produced by older
// French billing systems, are transcoded. Anything else (UTF-16, EBCDIC...)
// is refused with a clear reason rather than misread.
func toUTF8(data []byte) ([]byte, *flowgate.FlowError) {
	if bytes.HasPrefix(data, []byte{0xFE, 0xFF}) || bytes.HasPrefix(data, []byte{0xFF, 0xFE}) ||
		bytes.HasPrefix(data, []byte{0, '<'}) || bytes.HasPrefix(data, []byte{'<', 0}) {
		return nil, unsupportedEncoding("UTF-16")
	}
	bom := bytes.HasPrefix(data, []byte("\xEF\xBB\xBF"))
	body := data
	if bom {
		body = data[3:]
	}
	decl, ok := xmlDecl(body)
	if !ok {
		return data, nil
	}
	enc, fr, en := parseXMLDecl(decl)
	if en != "" {
		return nil, &flowgate.FlowError{Code: flowgate.CodeXML,
			MessageFR: "ligne 1 : XML mal formé : " + fr, Message: "line 1: malformed XML: " + en}
	}
	switch strings.ToUpper(enc) {
	case "", "UTF-8", "UTF8":
		return data, nil
	case "US-ASCII", "ASCII":
		if i := bytes.IndexFunc(data, func(r rune) bool { return r >= utf8.RuneSelf }); i >= 0 {
			return nil, &flowgate.FlowError{Code: flowgate.CodeEncoding,
				MessageFR: "caractère non ASCII dans un document déclaré " + enc,
				Message:   "non-ASCII character in a document declared " + enc}
		}
		return data, nil
	case "ISO-8859-1", "ISO8859-1", "LATIN1", "ISO_8859-1", "LATIN-1":
		if bom {
			return nil, &flowgate.FlowError{Code: flowgate.CodeEncoding,
				MessageFR: "marque d'ordre UTF-8 et encodage " + enc + " contradictoires",
				Message:   "UTF-8 byte order mark contradicts encoding " + enc}
		}
		return transcode(data, nil), nil
	case "ISO-8859-15", "ISO8859-15", "LATIN-9", "LATIN9":
		return transcode(data, latin9), nil
	case "WINDOWS-1252", "CP1252":
		for _, c := range data {
			if c >= 0x80 && c <= 0x9F && cp1252[c] == 0 {
				return nil, &flowgate.FlowError{Code: flowgate.CodeEncoding,
					MessageFR: fmt.Sprintf("octet 0x%02X non défini en %s", c, enc),
					Message:   fmt.Sprintf("byte 0x%02X undefined in %s", c, enc)}
			}
		}
		return transcode(data, cp1252), nil
	}
	return nil, unsupportedEncoding(enc)
}

func unsupportedEncoding(enc string) *flowgate.FlowError {
	return &flowgate.FlowError{Code: flowgate.CodeEncoding,
		MessageFR: "encodage " + enc + " non pris en charge (UTF-8, ISO-8859-1, ISO-8859-15 ou windows-1252 attendus)",
		Message:   "unsupported encoding " + enc + " (UTF-8, ISO-8859-1, ISO-8859-15 or windows-1252 expected)"}
}

// transcode maps single-byte text to UTF-8: bytes below 0x80 as they are,
// others through table (when it has them) or as Latin-1 code points.
func transcode(data []byte, table map[byte]rune) []byte {
	out := make([]byte, 0, len(data)+len(data)/8)
	for _, c := range data {
		if c < utf8.RuneSelf {
			out = append(out, c)
			continue
		}
		r := rune(c)
		if m, ok := table[c]; ok {
			r = m
		}
		out = utf8.AppendRune(out, r)
	}
	return out
}

// latin9 is where ISO-8859-15 differs from ISO-8859-1.
var latin9 = map[byte]rune{
	0xA4: '€', 0xA6: 'Š', 0xA8: 'š', 0xB4: 'Ž', 0xB8: 'ž', 0xBC: 'Œ', 0xBD: 'œ', 0xBE: 'Ÿ',
}

// cp1252 is where windows-1252 differs from ISO-8859-1. Its five undefined
// bytes (0x81, 0x8D, 0x8F, 0x90, 0x9D) are refused, as libxml2 (iconv)
// refuses them.
var cp1252 = map[byte]rune{
	0x80: '€', 0x82: '‚', 0x83: 'ƒ', 0x84: '„', 0x85: '…', 0x86: '†', 0x87: '‡', 0x88: 'ˆ',
	0x89: '‰', 0x8A: 'Š', 0x8B: '‹', 0x8C: 'Œ', 0x8E: 'Ž', 0x91: '‘', 0x92: '’', 0x93: '“',
	0x94: '”', 0x95: '•', 0x96: '–', 0x97: '—', 0x98: '˜', 0x99: '™', 0x9A: 'š', 0x9B: '›',
	0x9C: 'œ', 0x9E: 'ž', 0x9F: 'Ÿ',
}
