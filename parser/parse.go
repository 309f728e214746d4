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
// not well-formed, carrying a DTD, in an unsupported encoding, or with
// another root. A document that is well-formed but incomplete parses: what
// is missing is for the validator to report.
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
		case tokText:
			b.addText(s.text)
		case tokEnd:
			b.end()
		case tokEOF:
			if b.schemaErr != nil {
				return nil, b.schemaErr
			}
			return b.inv, nil
		}
	}
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

// declEncoding extracts encoding="..." from an XML declaration.
func declEncoding(decl []byte) string {
	i := bytes.Index(decl, []byte("encoding"))
	if i < 0 {
		return ""
	}
	rest := bytes.TrimLeft(decl[i+len("encoding"):], " \t\r\n")
	if len(rest) == 0 || rest[0] != '=' {
		return ""
	}
	rest = bytes.TrimLeft(rest[1:], " \t\r\n")
	if len(rest) == 0 || rest[0] != '"' && rest[0] != '\'' {
		return ""
	}
	end := bytes.IndexByte(rest[1:], rest[0])
	if end < 0 {
		return ""
	}
	return string(rest[1 : 1+end])
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
	enc := declEncoding(decl)
	switch strings.ToUpper(enc) {
	case "", "UTF-8", "UTF8", "US-ASCII", "ASCII":
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
// bytes map to themselves as C1 controls, which checkChars lets through
// as XML 1.0 allows them.
var cp1252 = map[byte]rune{
	0x80: '€', 0x82: '‚', 0x83: 'ƒ', 0x84: '„', 0x85: '…', 0x86: '†', 0x87: '‡', 0x88: 'ˆ',
	0x89: '‰', 0x8A: 'Š', 0x8B: '‹', 0x8C: 'Œ', 0x8E: 'Ž', 0x91: '‘', 0x92: '’', 0x93: '“',
	0x94: '”', 0x95: '•', 0x96: '–', 0x97: '—', 0x98: '˜', 0x99: '™', 0x9A: 'š', 0x9B: '›',
	0x9C: 'œ', 0x9E: 'ž', 0x9F: 'Ÿ',
}
