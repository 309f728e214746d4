package parser

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"unicode/utf16"
	"unicode/utf8"

	"golang.org/x/text/encoding/charmap"
	"golang.org/x/text/encoding/ianaindex"

	"flowgate"
)

// Parse reads one UBL 2.1 Invoice or CreditNote, or one UN/CEFACT CII
// CrossIndustryInvoice (D16B, and the D22B files of the reform, which keep
// its namespace; see cii.go), from r: the root element's namespace URI
// decides. It returns a *flowgate.FlowError when the document cannot be
// read as one: too large, not well-formed, carrying a DTD, in an
// unsupported encoding, with another root (FLX-TYPE), or with an element
// the UBL 2.1 (or CII D16B) schema admits once written twice in the same
// parent (FLX-SCHEMA: the hub never chooses between two readings); a CII
// date not in format 102 is FLX-SCHEMA too. A document that is well-formed but incomplete parses: what is
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
		fr, en := "caractère interdit ou UTF-8 invalide", "forbidden character or invalid UTF-8"
		if r, _ := utf8.DecodeRune(data[at:]); r == utf8.RuneError && declaredEncoding(data) == "" {
			// Bytes that are not UTF-8 in a document that names no
			// encoding: most often latin-1 or windows-1252 from an older
			// billing system, which must then say so.
			fr += " : le document ne déclare pas d'encodage, il doit donc être en UTF-8 ; s'il est en ISO-8859-1 ou windows-1252, déclarez-le (<?xml version=\"1.0\" encoding=\"ISO-8859-1\"?>)"
			en += ": the document declares no encoding, so it must be UTF-8; if it is ISO-8859-1 or windows-1252, declare it (<?xml version=\"1.0\" encoding=\"ISO-8859-1\"?>)"
		}
		return nil, s.syntax(at, fr, en).flowError()
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
					b.inv.Kind, b.inv.Syntax = flowgate.KindInvoice, "ubl"
				case string(s.local) == "CreditNote" && string(s.space) == NSCreditNote:
					b.inv.Kind, b.inv.Syntax = flowgate.KindCreditNote, "ubl"
				case string(s.local) == "CrossIndustryInvoice" && string(s.space) == NSCII:
					return buildCII(s)
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

// toUTF8 returns the document in UTF-8, reading its encoding as XML 1.0
// §4.3.3 and Appendix F do: a byte order mark first, else the first bytes,
// then the XML declaration, which must agree with them.
//
//   - UTF-8 (the default) and US-ASCII are returned as they are, not copied.
//   - UTF-16 with a byte order mark, or without one when the first bytes are
//     "<?" in UTF-16 and the declaration names UTF-16, is decoded; an
//     unpaired surrogate or an odd length is refused, as libxml2 refuses it.
//   - The single-byte encodings in charmaps (ISO-8859-x, windows-125x and
//     KOI8-R, all ASCII-compatible) are transcoded with golang.org/x/text's
//     tables; a byte the encoding leaves undefined is refused, as libxml2
//     (iconv) refuses it.
//
// Everything else is FLX-ENCODAGE naming the encoding: UTF-32 (which XML
// processors need not read and libxml2 does not), EBCDIC, the multi-byte
// Asian encodings, and a byte order mark or first bytes that contradict the
// declaration (XML 1.0 §4.3.3 makes that a fatal error; libxml2 reads some
// such documents by one of the two, the hub never chooses).
func toUTF8(data []byte) ([]byte, *flowgate.FlowError) {
	form, bom := sniff(data)
	switch form {
	case "UTF-32", "UTF-32LE", "UTF-32BE", "EBCDIC":
		return nil, unsupportedEncoding(form)
	case "UTF-16LE", "UTF-16BE":
		return fromUTF16(data, form, bom)
	}
	decl, ok := xmlDecl(data[bom:])
	if !ok {
		return data, nil
	}
	enc, fr, en := parseXMLDecl(decl)
	if en != "" {
		return nil, malformedDecl(fr, en)
	}
	fam := family(enc)
	if enc == "" {
		fam = "UTF-8"
	}
	if form == "UTF-8" && fam != "UTF-8" && fam != "US-ASCII" {
		return nil, contradiction("UTF-8", true, enc)
	}
	switch fam {
	case "UTF-8":
		return data, nil
	case "US-ASCII":
		if i := bytes.IndexFunc(data[bom:], func(r rune) bool { return r >= utf8.RuneSelf }); i >= 0 {
			return nil, &flowgate.FlowError{Code: flowgate.CodeEncoding,
				MessageFR: fmt.Sprintf("ligne %d : caractère non ASCII dans un document déclaré %s", lineAt(data, bom+i), clip(enc)),
				Message:   fmt.Sprintf("line %d: non-ASCII character in a document declared %s", lineAt(data, bom+i), clip(enc))}
		}
		return data, nil
	case "UTF-16", "UTF-16LE", "UTF-16BE":
		return nil, &flowgate.FlowError{Code: flowgate.CodeEncoding,
			MessageFR: "la déclaration annonce " + clip(enc) + ", mais le document n'a ni marque d'ordre des octets ni premiers octets UTF-16",
			Message:   "the declaration says " + clip(enc) + ", but the document has neither a byte order mark nor first bytes in UTF-16"}
	case "UTF-32":
		return nil, unsupportedEncoding("UTF-32")
	}
	sb, ok := charmapFor(enc)
	if !ok {
		return nil, unsupportedEncoding(enc)
	}
	return transcode(data, sb, enc)
}

// sniff reads the byte order mark or, without one, the first bytes of
// "<?xm" as XML 1.0 Appendix F lists them ("<" alone for UTF-16). It returns the encoding form
// they show ("" for an ASCII-compatible one without a mark) and the length
// of the mark.
func sniff(data []byte) (form string, bom int) {
	for _, m := range []struct {
		prefix, form string
		bom          int
	}{
		{"\x00\x00\xFE\xFF", "UTF-32BE", 4},
		{"\xFF\xFE\x00\x00", "UTF-32LE", 4},
		{"\xFE\xFF", "UTF-16BE", 2},
		{"\xFF\xFE", "UTF-16LE", 2},
		{"\xEF\xBB\xBF", "UTF-8", 3},
		{"\x00\x00\x00<", "UTF-32", 0},
		{"<\x00\x00\x00", "UTF-32", 0},
		{"\x00\x00<\x00", "UTF-32", 0},
		{"\x00<\x00\x00", "UTF-32", 0},
		{"\x00<", "UTF-16BE", 0},
		{"<\x00", "UTF-16LE", 0},
		{"\x4C\x6F\xA7\x94", "EBCDIC", 0},
	} {
		if bytes.HasPrefix(data, []byte(m.prefix)) {
			return m.form, m.bom
		}
	}
	return "", 0
}

// family names the Unicode encoding form enc declares: "UTF-8",
// "US-ASCII", "UTF-16" (either byte order, from its mark), "UTF-16LE",
// "UTF-16BE", "UTF-32" (UCS-4 included), or "" when enc is empty or none
// of these.
func family(enc string) string {
	switch strings.ToUpper(enc) {
	case "UTF-8", "UTF8":
		return "UTF-8"
	case "US-ASCII", "ASCII", "ANSI_X3.4-1968", "ISO646-US":
		return "US-ASCII"
	case "UTF-16", "UTF16", "UCS-2", "UCS2", "ISO-10646-UCS-2":
		return "UTF-16"
	case "UTF-16LE", "UTF16LE":
		return "UTF-16LE"
	case "UTF-16BE", "UTF16BE":
		return "UTF-16BE"
	case "UTF-32", "UTF32", "UTF-32LE", "UTF-32BE", "UCS-4", "UCS4", "ISO-10646-UCS-4":
		return "UTF-32"
	}
	return ""
}

// fromUTF16 decodes a UTF-16 document whose byte order form (UTF-16LE or
// UTF-16BE) comes from its mark (bom 2) or its first bytes (bom 0). Its
// declaration, read in the decoded text, must name UTF-16 in that byte
// order; without a mark it must be there, since XML 1.0 §4.3.3 reads a
// document with neither a mark nor an encoding declaration as UTF-8.
func fromUTF16(data []byte, form string, bom int) ([]byte, *flowgate.FlowError) {
	order := binary.ByteOrder(binary.LittleEndian)
	if form == "UTF-16BE" {
		order = binary.BigEndian
	}
	body := data[bom:]
	if len(body)%2 != 0 {
		return nil, &flowgate.FlowError{Code: flowgate.CodeEncoding,
			MessageFR: "document " + form + " d'un nombre impair d'octets",
			Message:   form + " document with an odd number of bytes"}
	}
	out := make([]byte, 0, len(body)+len(body)/2)
	for i := 0; i < len(body); i += 2 {
		r := rune(order.Uint16(body[i:]))
		if utf16.IsSurrogate(r) {
			var r2 rune = utf8.RuneError
			if i+4 <= len(body) {
				r2 = rune(order.Uint16(body[i+2:]))
			}
			if r = utf16.DecodeRune(r, r2); r == utf8.RuneError {
				line := bytes.Count(out, []byte{'\n'}) + 1
				return nil, &flowgate.FlowError{Code: flowgate.CodeEncoding,
					MessageFR: fmt.Sprintf("ligne %d : demi-caractère (surrogate) UTF-16 isolé à l'octet %d", line, bom+i),
					Message:   fmt.Sprintf("line %d: unpaired UTF-16 surrogate at byte %d", line, bom+i)}
			}
			i += 2
		}
		out = utf8.AppendRune(out, r)
	}
	decl, ok := xmlDecl(out)
	if !ok {
		if bom == 0 {
			return nil, noMarkNoDecl(form, "")
		}
		return out, nil
	}
	enc, fr, en := parseXMLDecl(decl)
	if en != "" {
		return nil, malformedDecl(fr, en)
	}
	switch family(enc) {
	case "UTF-16", form:
		return out, nil
	case "":
		if enc == "" {
			if bom == 0 {
				return nil, noMarkNoDecl(form, " (encoding=\"UTF-16\")")
			}
			return out, nil
		}
	}
	return nil, contradiction(form, bom > 0, enc)
}

// noMarkNoDecl refuses UTF-16 with no byte order mark and no encoding
// declaration naming it, which XML 1.0 §4.3.3 reads as UTF-8.
func noMarkNoDecl(form, hint string) *flowgate.FlowError {
	return &flowgate.FlowError{Code: flowgate.CodeEncoding,
		MessageFR: "document en " + form + " sans marque d'ordre des octets ni déclaration d'encodage" + hint,
		Message:   form + " document with neither a byte order mark nor an encoding declaration" + hint}
}

// contradiction refuses a document whose byte order mark (mark true) or
// first bytes show form and whose declaration names another encoding.
func contradiction(form string, mark bool, enc string) *flowgate.FlowError {
	fr, en := "marque d'ordre des octets "+form, form+" byte order mark"
	if !mark {
		fr, en = "premiers octets en "+form+" sans marque d'ordre des octets", "first bytes in "+form+" without a byte order mark"
	}
	return &flowgate.FlowError{Code: flowgate.CodeEncoding,
		MessageFR: fr + ", mais la déclaration annonce " + clip(enc),
		Message:   en + ", but the declaration says " + clip(enc)}
}

func malformedDecl(fr, en string) *flowgate.FlowError {
	return &flowgate.FlowError{Code: flowgate.CodeXML,
		MessageFR: "ligne 1 : XML mal formé : " + fr, Message: "line 1: malformed XML: " + en}
}

func unsupportedEncoding(enc string) *flowgate.FlowError {
	return &flowgate.FlowError{Code: flowgate.CodeEncoding,
		MessageFR: "encodage " + clip(enc) + " non pris en charge (UTF-8, UTF-16, ISO-8859-x, windows-125x ou KOI8-R attendus)",
		Message:   "unsupported encoding " + clip(enc) + " (UTF-8, UTF-16, ISO-8859-x, windows-125x or KOI8-R expected)"}
}

// clip bounds an encoding name echoed in a message to 40 bytes.
func clip(enc string) string {
	if len(enc) > 40 {
		return enc[:40] + "…"
	}
	return enc
}

// lineAt returns the 1-based line of byte offset i in data.
func lineAt(data []byte, i int) int {
	return bytes.Count(data[:i], []byte{'\n'}) + 1
}

// charmaps are the single-byte encodings read besides UTF-8 and UTF-16:
// those libxml2 (through iconv) reads too, whose lower half is ASCII (so
// the declaration reads the same) and whose x/text table agrees with
// glibc's iconv, byte for byte, defined and undefined (TestCharmapsAsIconv).
// Left out where the tables differ: windows-1255 (x/text defines 0xCA) and
// KOI8-U (x/text reads 0xAE and 0xBE as KOI8-RU does). Keys are the names
// golang.org/x/text/encoding/ianaindex gives them.
var charmaps = func() map[string]singleByte {
	m := make(map[string]singleByte)
	add := func(c1 bool, cms ...*charmap.Charmap) {
		for _, c := range cms {
			name, err := ianaindex.IANA.Name(c)
			if err != nil {
				panic("charmap without an IANA name: " + c.String())
			}
			m[name] = singleByte{c, c1}
		}
	}
	add(false, charmap.ISO8859_1)
	add(true, charmap.ISO8859_2, charmap.ISO8859_3, charmap.ISO8859_4, charmap.ISO8859_5,
		charmap.ISO8859_6, charmap.ISO8859_7, charmap.ISO8859_8, charmap.ISO8859_9, charmap.ISO8859_10,
		charmap.ISO8859_13, charmap.ISO8859_14, charmap.ISO8859_15, charmap.ISO8859_16)
	add(false, charmap.Windows1250, charmap.Windows1251, charmap.Windows1252, charmap.Windows1253,
		charmap.Windows1254, charmap.Windows1256, charmap.Windows1257, charmap.Windows1258, charmap.KOI8R)
	return m
}()

// singleByte is a single-byte encoding: x/text's table and whether bytes
// 0x80 to 0x9F are the C1 controls U+0080 to U+009F, as ISO-8859-x reads
// them in iconv and libxml2 (x/text leaves them undefined but in
// ISO-8859-1).
type singleByte struct {
	cm *charmap.Charmap
	c1 bool
}

// decode returns the character byte c stands for, or utf8.RuneError when
// the encoding leaves it undefined.
func (e singleByte) decode(c byte) rune {
	if e.c1 && c >= 0x80 && c <= 0x9F {
		return rune(c)
	}
	return e.cm.DecodeByte(c)
}

// charmapAliases are spellings iconv and libxml2 accept that the IANA
// registry lacks, in upper case without '-', '_' or spaces.
var charmapAliases = map[string]string{
	"LATIN9": "ISO-8859-15", "LATIN10": "ISO-8859-16", "ISOLATIN1": "ISO-8859-1",
}

// charmapFor returns the single-byte encoding enc names, if it is one of
// charmaps.
func charmapFor(enc string) (singleByte, bool) {
	e, err := ianaindex.IANA.Encoding(enc)
	if err != nil || e == nil {
		compact := strings.NewReplacer("-", "", "_", "", " ", "").Replace(strings.ToUpper(enc))
		switch {
		case charmapAliases[compact] != "":
			e, err = ianaindex.IANA.Encoding(charmapAliases[compact])
		case strings.HasPrefix(compact, "ISO8859"):
			e, err = ianaindex.IANA.Encoding("ISO-8859-" + compact[len("ISO8859"):])
		case strings.HasPrefix(compact, "CP125"), strings.HasPrefix(compact, "WINDOWS125"):
			e, err = ianaindex.IANA.Encoding("windows-" + compact[len(compact)-4:])
		default:
			e, err = ianaindex.IANA.Encoding(compact)
		}
		if err != nil || e == nil {
			return singleByte{}, false
		}
	}
	name, err := ianaindex.IANA.Name(e)
	if err != nil {
		return singleByte{}, false
	}
	sb, ok := charmaps[name]
	return sb, ok
}

// transcode maps single-byte text to UTF-8 through sb: bytes below 0x80 as
// they are, others through its table. A byte sb leaves undefined is
// refused, naming it and its line.
func transcode(data []byte, sb singleByte, enc string) ([]byte, *flowgate.FlowError) {
	out := make([]byte, 0, len(data)+len(data)/8)
	for i, c := range data {
		if c < utf8.RuneSelf {
			out = append(out, c)
			continue
		}
		r := sb.decode(c)
		if r == utf8.RuneError {
			return nil, &flowgate.FlowError{Code: flowgate.CodeEncoding,
				MessageFR: fmt.Sprintf("ligne %d : octet 0x%02X non défini en %s", lineAt(data, i), c, clip(enc)),
				Message:   fmt.Sprintf("line %d: byte 0x%02X undefined in %s", lineAt(data, i), c, clip(enc))}
		}
		out = utf8.AppendRune(out, r)
	}
	return out, nil
}

// declaredEncoding returns the encoding named by the XML declaration at the
// start of data (after a UTF-8 byte order mark), or "".
func declaredEncoding(data []byte) string {
	data = bytes.TrimPrefix(data, []byte("\xEF\xBB\xBF"))
	decl, ok := xmlDecl(data)
	if !ok {
		return ""
	}
	enc, _, _ := parseXMLDecl(decl)
	return enc
}
