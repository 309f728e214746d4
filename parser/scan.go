package parser

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"hash/maphash"
	"strings"
	"unicode/utf8"

	"flowgate"
)

// Limits on one XML document.
const (
	MaxDocumentSize = 20 << 20 // bytes
	MaxDepth        = 256      // element nesting
	maxAttrs        = 256      // attributes on one element

	// MaxRecords bounds the repeated groups one invoice may carry (lines,
	// allowances and charges, VAT subtotals, periods, identifiers...): each
	// costs the Invoice tens to hundreds of bytes where the document spends
	// as few as 18 (<cac:InvoiceLine/>), so a 20 MiB document of empty
	// lines would otherwise hold 350 MB and allocate 2 GB while growing.
	// Within the bound, records take at most about 35 MB (a line with its
	// details is the largest, 330 bytes a record), 80 MB at the peak of a
	// slice's growth.
	MaxRecords = 100_000
)

// scanner is a strict, non-validating XML 1.0 + Namespaces tokenizer over a
// complete document in memory. It exists because encoding/xml costs several
// times the parse itself in allocations; this one hands out slices of the
// input and allocates only when text needs unescaping.
//
// It refuses what an invoice never needs and an attacker would use: any
// DOCTYPE or markup declaration (so no entity can be defined, and none but the
// five predefined ones and character references can be used), nesting deeper
// than MaxDepth. It checks well-formedness as it goes, as libxml2 does
// (TestXMLLintAgreement holds the two together): UTF-8, legal characters,
// names (XML 1.0 fifth edition), the XML declaration, matching tags,
// attributes unique by name and by expanded name, the constraints of
// Namespaces in XML (bound prefixes, the reserved xml and xmlns, namespace
// names that are URI references), a single root. Its costs are linear in
// the document: constant per prefix lookup and per attribute, whatever the
// declarations.
type scanner struct {
	data []byte
	pos  int

	// Current token.
	kind  tokKind
	space []byte // resolved namespace URI of the element
	local []byte // local name of the element
	attrs []attr // attributes of a start tag, namespace-resolved
	text  []byte // character data, unescaped
	// textBuffered: text is in buf, which the next text token overwrites,
	// rather than a slice of data.
	textBuffered bool
	at           int // offset of the current token's first byte

	selfClosing bool        // the current start tag ended with "/>": an end follows
	open        [][]byte    // qualified names of open elements
	resolved    [][2][]byte // namespace URI and local name of open elements
	ns          namespaces
	marks       []int // len(ns.undo) at each open element
	rootSeen    bool
	buf         []byte // unescaping buffer for text
	abuf        []byte // unescaping buffer for attributes

	nsSteps   int       // namespace bindings examined or undone: the cost of namespace resolution, for tests
	attrSteps int       // attributes compared to find repeated ones, for tests
	dups      attrIndex // finds repeated attributes on a start tag with many
}

// attrIndex finds a repeated attribute among the many a start tag may carry
// (up to maxAttrs) in constant time each, where comparing each with all
// the others would cost maxAttrs² per tag. Below indexFrom attributes the
// linear scan is cheaper and the index is not used. The seed is random, so
// a document cannot be written to make names collide.
type attrIndex struct {
	gen    uint32
	seed   maphash.Seed
	seeded bool
	slots  [4 * maxAttrs]struct {
		gen uint32
		i   uint16
	}
}

const indexFrom = 8

// begin empties the index.
func (x *attrIndex) begin() {
	if !x.seeded {
		x.seed, x.seeded = maphash.MakeSeed(), true
	}
	x.gen++
	if x.gen == 0 {
		clear(x.slots[:])
		x.gen = 1
	}
}

// seen reports whether an item for which eq holds was indexed with hash h;
// if none was, it indexes item i under h.
func (x *attrIndex) seen(h uint64, i int, eq func(j int) bool) bool {
	mask := uint64(len(x.slots) - 1)
	for k := h & mask; ; k = (k + 1) & mask {
		sl := &x.slots[k]
		if sl.gen != x.gen {
			sl.gen, sl.i = x.gen, uint16(i)
			return false
		}
		if eq(int(sl.i)) {
			return true
		}
	}
}

// namespaces resolves prefixes in O(1) per lookup and O(bindings in scope)
// memory, whatever a document declares: each prefix in scope has a slot
// holding its current URI, and each declaration pushes the value it
// shadows on an undo log that the closing of its element pops. A slot whose
// last declaration goes out of scope is freed, so a document that declares
// millions of distinct prefixes on sibling elements holds only those of the
// open elements (at most MaxDepth × maxAttrs). Up to keptPrefixes unbound
// slots stay indexed, so that a pooled scanner reading the usual invoices
// allocates nothing for their handful of prefixes.
type namespaces struct {
	index map[string]int32 // prefix → slot; the default namespace is slot 0, never in index
	slots []nsSlot
	free  []int32
	undo  []nsUndo
}

type nsSlot struct {
	prefix string
	uri    []byte
	bound  bool
}

// nsUndo restores a slot as it was before one declaration.
type nsUndo struct {
	slot  int32
	uri   []byte
	bound bool
}

const keptPrefixes = 32

func (n *namespaces) reset() {
	if len(n.index) > keptPrefixes {
		clear(n.index)
		n.slots = n.slots[:1]
		n.free = n.free[:0]
	}
	for i := range n.slots {
		n.slots[i].uri, n.slots[i].bound = nil, false
	}
	if len(n.slots) == 0 {
		n.slots = append(n.slots, nsSlot{})
	}
	n.undo = n.undo[:0]
}

// declare binds prefix (nil for the default namespace) to uri until undo.
func (n *namespaces) declare(prefix, uri []byte) {
	var i int32
	if len(prefix) > 0 {
		var ok bool
		if i, ok = n.index[string(prefix)]; !ok {
			if n.index == nil {
				n.index = make(map[string]int32)
			}
			if k := len(n.free); k > 0 {
				i = n.free[k-1]
				n.free = n.free[:k-1]
			} else {
				i = int32(len(n.slots))
				n.slots = append(n.slots, nsSlot{})
			}
			n.slots[i] = nsSlot{prefix: string(prefix)}
			n.index[n.slots[i].prefix] = i
		}
	}
	sl := &n.slots[i]
	n.undo = append(n.undo, nsUndo{slot: i, uri: sl.uri, bound: sl.bound})
	sl.uri, sl.bound = uri, true
}

// undoTo reverts the declarations made after the undo log had length mark,
// and returns how many it reverted.
func (n *namespaces) undoTo(mark int) int {
	count := len(n.undo) - mark
	for k := len(n.undo) - 1; k >= mark; k-- {
		u := n.undo[k]
		sl := &n.slots[u.slot]
		sl.uri, sl.bound = u.uri, u.bound
		if !u.bound && u.slot != 0 && len(n.index) > keptPrefixes {
			delete(n.index, sl.prefix)
			*sl = nsSlot{}
			n.free = append(n.free, u.slot)
		}
	}
	n.undo = n.undo[:mark]
	return count
}

// lookup returns the URI bound to prefix; the empty prefix resolves to the
// default namespace (nil when none is declared).
func (n *namespaces) lookup(prefix []byte) ([]byte, bool) {
	if len(prefix) == 0 {
		return n.slots[0].uri, true
	}
	if i, ok := n.index[string(prefix)]; ok && n.slots[i].bound {
		return n.slots[i].uri, true
	}
	return nil, false
}

type tokKind uint8

const (
	tokNone tokKind = iota
	tokStart
	tokEnd
	tokText
	tokEOF
)

type attr struct {
	space, local, value []byte
}

var (
	xmlnsPrefix = []byte("xmlns")
	xmlPrefix   = []byte("xml")
	xmlURI      = []byte("http://www.w3.org/XML/1998/namespace")
	xmlnsURI    = []byte("http://www.w3.org/2000/xmlns/")
)

// scanError is a well-formedness or limit violation, with the flow code to
// report and the line where it was found.
type scanError struct {
	code string
	line int
	fr   string
	en   string
}

func (e *scanError) Error() string { return fmt.Sprintf("line %d: %s", e.line, e.en) }

func (e *scanError) flowError() *flowgate.FlowError {
	return &flowgate.FlowError{
		Code:      e.code,
		MessageFR: fmt.Sprintf("ligne %d : %s", e.line, e.fr),
		Message:   fmt.Sprintf("line %d: %s", e.line, e.en),
	}
}

func (s *scanner) fail(code string, at int, fr, en string) *scanError {
	return &scanError{code: code, line: s.line(at), fr: fr, en: en}
}

// line returns the line number (from 1) of byte offset at.
func (s *scanner) line(at int) int {
	at = min(at, len(s.data))
	return 1 + bytes.Count(s.data[:at], []byte{'\n'})
}

func (s *scanner) syntax(at int, fr, en string) *scanError {
	return s.fail(flowgate.CodeXML, at, "XML mal formé : "+fr, "malformed XML: "+en)
}

// checkChars verifies that data is UTF-8 made of XML 1.0 characters.
func checkChars(data []byte) (int, bool) {
	for i := 0; i < len(data); {
		// Eight ASCII bytes of 0x20 or more at a time: most of a document.
		if i+8 <= len(data) {
			w := binary.LittleEndian.Uint64(data[i:])
			if w&0x8080808080808080 == 0 && (w-0x2020202020202020)&^w&0x8080808080808080 == 0 {
				i += 8
				continue
			}
		}
		c := data[i]
		if c < utf8.RuneSelf {
			if c < 0x20 && c != '\t' && c != '\n' && c != '\r' {
				return i, false
			}
			i++
			continue
		}
		r, n := utf8.DecodeRune(data[i:])
		if r == utf8.RuneError && n <= 1 || r == 0xFFFE || r == 0xFFFF || r >= 0xD800 && r <= 0xDFFF {
			return i, false
		}
		i += n
	}
	return 0, true
}

func (s *scanner) reset(data []byte) {
	s.data = data
	s.pos = 0
	s.kind = tokNone
	s.open = s.open[:0]
	s.resolved = s.resolved[:0]
	s.ns.reset()
	s.marks = s.marks[:0]
	s.rootSeen = false
	s.selfClosing = false
}

// next advances to the next token. After the root element closes it returns
// tokEOF once the rest of the document (comments, PIs, spaces) is checked.
func (s *scanner) next() (tokKind, error) {
	if s.selfClosing {
		s.selfClosing = false
		return s.closeElement()
	}
	if s.kind == tokEnd && len(s.open) == 0 && s.rootSeen {
		// Root closed: only misc may follow.
		if err := s.trailer(); err != nil {
			return tokNone, err
		}
		s.kind = tokEOF
		return tokEOF, nil
	}
	for {
		if s.pos >= len(s.data) {
			if !s.rootSeen {
				return tokNone, s.syntax(s.pos, "aucun élément racine", "no root element")
			}
			return tokNone, s.syntax(s.pos, "fin de document avant la fermeture de <"+string(s.open[len(s.open)-1])+">",
				"document ends inside <"+string(s.open[len(s.open)-1])+">")
		}
		if s.data[s.pos] != '<' {
			if len(s.open) == 0 {
				if err := s.skipSpace(); err != nil {
					return tokNone, err
				}
				continue
			}
			return s.charData()
		}
		if s.pos+1 >= len(s.data) {
			return tokNone, s.syntax(s.pos, "« < » en fin de document", "'<' at end of document")
		}
		switch s.data[s.pos+1] {
		case '/':
			return s.endTag()
		case '?':
			if err := s.pi(); err != nil {
				return tokNone, err
			}
		case '!':
			if bytes.HasPrefix(s.data[s.pos:], []byte("<!--")) {
				if err := s.comment(); err != nil {
					return tokNone, err
				}
				continue
			}
			if bytes.HasPrefix(s.data[s.pos:], []byte("<![CDATA[")) {
				if len(s.open) == 0 {
					return tokNone, s.syntax(s.pos, "section CDATA hors de l'élément racine", "CDATA section outside the root element")
				}
				return s.charData()
			}
			return tokNone, s.declaration()
		default:
			if len(s.open) == 0 && s.rootSeen {
				return tokNone, s.syntax(s.pos, "second élément racine", "a second root element")
			}
			return s.startTag()
		}
	}
}

// declaration refuses "<!" markup: DOCTYPE and the declarations it carries
// (ENTITY, ELEMENT, ATTLIST, NOTATION) are the door to entity expansion and
// external fetches; an invoice needs none of them.
func (s *scanner) declaration() error {
	rest := s.data[s.pos+2:]
	for _, kw := range []string{"DOCTYPE", "ENTITY", "ELEMENT", "ATTLIST", "NOTATION"} {
		if bytes.HasPrefix(rest, []byte(kw)) {
			return s.fail(flowgate.CodeDTD, s.pos,
				"déclaration <!"+kw+"> refusée : les DTD et entités ne sont pas acceptées",
				"<!"+kw+"> declaration refused: DTDs and entities are not accepted")
		}
	}
	return s.syntax(s.pos, "balise « <! » inconnue", "unknown '<!' markup")
}

func (s *scanner) skipSpace() error {
	for s.pos < len(s.data) {
		switch s.data[s.pos] {
		case ' ', '\t', '\r', '\n':
			s.pos++
		case '<':
			return nil
		default:
			return s.syntax(s.pos, "texte hors de l'élément racine", "text outside the root element")
		}
	}
	return nil
}

// trailer checks what follows the root element: spaces, comments, PIs.
func (s *scanner) trailer() error {
	for {
		if err := s.skipSpace(); err != nil {
			return err
		}
		if s.pos >= len(s.data) {
			return nil
		}
		switch {
		case bytes.HasPrefix(s.data[s.pos:], []byte("<!--")):
			if err := s.comment(); err != nil {
				return err
			}
		case bytes.HasPrefix(s.data[s.pos:], []byte("<?")):
			if err := s.pi(); err != nil {
				return err
			}
		case bytes.HasPrefix(s.data[s.pos:], []byte("<!")):
			return s.declaration()
		default:
			return s.syntax(s.pos, "contenu après l'élément racine", "content after the root element")
		}
	}
}

func (s *scanner) comment() error {
	start := s.pos
	body := s.data[s.pos+4:]
	end := bytes.Index(body, []byte("--"))
	if end < 0 {
		return s.syntax(start, "commentaire non fermé", "unterminated comment")
	}
	if end+2 >= len(body) || body[end+2] != '>' {
		return s.syntax(start, "« -- » dans un commentaire", "'--' inside a comment")
	}
	s.pos += 4 + end + 3
	return nil
}

// pi skips a processing instruction. The XML declaration is handled before
// scanning; one anywhere else is an error.
func (s *scanner) pi() error {
	start := s.pos
	end := bytes.Index(s.data[s.pos+2:], []byte("?>"))
	if end < 0 {
		return s.syntax(start, "instruction de traitement non fermée", "unterminated processing instruction")
	}
	body := s.data[s.pos+2 : s.pos+2+end]
	n := nameLen(body)
	if n == 0 {
		return s.syntax(start, "instruction de traitement sans nom", "processing instruction without a target")
	}
	if n == 3 && bytes.EqualFold(body[:3], []byte("xml")) {
		return s.syntax(start, "déclaration XML ailleurs qu'en tête du document", "XML declaration not at the start of the document")
	}
	if bytes.IndexByte(body[:n], ':') >= 0 {
		return s.syntax(start, "« : » dans le nom d'une instruction de traitement", "':' in a processing instruction target")
	}
	if n < len(body) && !isSpace(body[n]) {
		return s.syntax(start, "espace attendu après le nom de l'instruction de traitement", "space expected after the processing instruction target")
	}
	s.pos += 2 + end + 2
	return nil
}

// nameLen returns the length of the XML name at the start of b (0 if none),
// by the NameStartChar and NameChar productions of XML 1.0 fifth edition,
// which libxml2 applies.
func nameLen(b []byte) int {
	if len(b) == 0 {
		return 0
	}
	i := 0
	if c := b[0]; c < utf8.RuneSelf {
		if nameClass[c] != nameStart {
			return 0
		}
		i = 1
	} else {
		r, n := utf8.DecodeRune(b)
		if !isNameStartRune(r) {
			return 0
		}
		i = n
	}
	for i < len(b) {
		c := b[i]
		if c < utf8.RuneSelf {
			if nameClass[c] == 0 {
				break
			}
			i++
			continue
		}
		r, n := utf8.DecodeRune(b[i:])
		if !isNameRune(r) {
			break
		}
		i += n
	}
	return i
}

const (
	nameStart = 1 // may start a name
	nameChar  = 2 // may continue a name
)

// nameClass classifies ASCII bytes.
var nameClass = func() (t [utf8.RuneSelf]uint8) {
	for c := 0; c < utf8.RuneSelf; c++ {
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c == '_', c == ':':
			t[c] = nameStart
		case c >= '0' && c <= '9', c == '-', c == '.':
			t[c] = nameChar
		}
	}
	return t
}()

// isNameStartRune is XML 1.0 (fifth edition) NameStartChar.
func isNameStartRune(r rune) bool {
	if r < utf8.RuneSelf {
		return nameClass[r] == nameStart
	}
	return r >= 0xC0 && r <= 0xD6 || r >= 0xD8 && r <= 0xF6 || r >= 0xF8 && r <= 0x2FF ||
		r >= 0x370 && r <= 0x37D || r >= 0x37F && r <= 0x1FFF || r == 0x200C || r == 0x200D ||
		r >= 0x2070 && r <= 0x218F || r >= 0x2C00 && r <= 0x2FEF || r >= 0x3001 && r <= 0xD7FF ||
		r >= 0xF900 && r <= 0xFDCF || r >= 0xFDF0 && r <= 0xFFFD || r >= 0x10000 && r <= 0xEFFFF
}

// isNameRune is XML 1.0 (fifth edition) NameChar.
func isNameRune(r rune) bool {
	if r < utf8.RuneSelf {
		return nameClass[r] != 0
	}
	return isNameStartRune(r) || r == 0xB7 || r >= 0x300 && r <= 0x36F || r == 0x203F || r == 0x2040
}

// splitQName splits "p:l" into prefix and local, checking it is a QName.
func splitQName(q []byte) (prefix, local []byte, ok bool) {
	i := bytes.IndexByte(q, ':')
	if i < 0 {
		return nil, q, len(q) > 0
	}
	prefix, local = q[:i], q[i+1:]
	if len(prefix) == 0 || len(local) == 0 || bytes.IndexByte(local, ':') >= 0 {
		return nil, nil, false
	}
	// The prefix starts the name, so it starts as a name must; the local
	// part must too (not with a digit, '-', '.' or a combining mark).
	if r, _ := utf8.DecodeRune(local); !isNameStartRune(r) {
		return nil, nil, false
	}
	return prefix, local, true
}

func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\r' || c == '\n' }

func (s *scanner) lookup(prefix []byte) ([]byte, bool) {
	s.nsSteps++
	if bytes.Equal(prefix, xmlPrefix) {
		return xmlURI, true
	}
	return s.ns.lookup(prefix)
}

func (s *scanner) startTag() (tokKind, error) {
	start := s.pos
	s.at = start
	p := s.pos + 1
	n := nameLen(s.data[p:])
	if n == 0 {
		return tokNone, s.syntax(start, "nom d'élément attendu après « < »", "element name expected after '<'")
	}
	qname := s.data[p : p+n]
	p += n
	if len(s.open) >= MaxDepth {
		return tokNone, s.fail(flowgate.CodeSize, start,
			fmt.Sprintf("imbrication de plus de %d niveaux", MaxDepth),
			fmt.Sprintf("nesting deeper than %d levels", MaxDepth))
	}
	s.marks = append(s.marks, len(s.ns.undo))
	s.attrs = s.attrs[:0]
	s.abuf = s.abuf[:0]
	type rawAttr struct{ name, value []byte }
	var raws [16]rawAttr
	list := raws[:0]
	for {
		sp := p
		for p < len(s.data) && isSpace(s.data[p]) {
			p++
		}
		if p >= len(s.data) {
			return tokNone, s.syntax(start, "balise ouvrante non fermée", "unterminated start tag")
		}
		c := s.data[p]
		if c == '>' || c == '/' {
			if c == '/' {
				if p+1 >= len(s.data) || s.data[p+1] != '>' {
					return tokNone, s.syntax(p, "« / » inattendu dans une balise", "unexpected '/' in a tag")
				}
				s.selfClosing = true
				p++
			}
			p++
			break
		}
		if sp == p {
			return tokNone, s.syntax(p, "espace attendu entre les attributs", "space expected between attributes")
		}
		an := nameLen(s.data[p:])
		if an == 0 {
			return tokNone, s.syntax(p, "nom d'attribut attendu", "attribute name expected")
		}
		name := s.data[p : p+an]
		p += an
		for p < len(s.data) && isSpace(s.data[p]) {
			p++
		}
		if p >= len(s.data) || s.data[p] != '=' {
			return tokNone, s.syntax(p, "« = » attendu après l'attribut "+string(name), "'=' expected after attribute "+string(name))
		}
		p++
		for p < len(s.data) && isSpace(s.data[p]) {
			p++
		}
		if p >= len(s.data) || s.data[p] != '"' && s.data[p] != '\'' {
			return tokNone, s.syntax(p, "valeur d'attribut sans guillemets", "attribute value not quoted")
		}
		q := s.data[p]
		end := bytes.IndexByte(s.data[p+1:], q)
		if end < 0 {
			return tokNone, s.syntax(p, "valeur d'attribut non fermée", "unterminated attribute value")
		}
		raw := s.data[p+1 : p+1+end]
		if bytes.IndexByte(raw, '<') >= 0 {
			return tokNone, s.syntax(p, "« < » dans une valeur d'attribut", "'<' in an attribute value")
		}
		value, err := s.unescapeAttr(raw, p+1)
		if err != nil {
			return tokNone, err
		}
		p += 1 + end + 1
		if len(list) >= maxAttrs {
			return tokNone, s.fail(flowgate.CodeSize, start, "trop d'attributs", "too many attributes")
		}
		dup := false
		if n := len(list); n < indexFrom {
			for _, a := range list {
				dup = dup || bytes.Equal(a.name, name)
			}
			s.attrSteps += n
		} else {
			if n == indexFrom {
				s.dups.begin()
				for j, a := range list {
					s.dups.seen(maphash.Bytes(s.dups.seed, a.name), j, func(int) bool { return false })
				}
			}
			dup = s.dups.seen(maphash.Bytes(s.dups.seed, name), n, func(j int) bool {
				s.attrSteps++
				return bytes.Equal(list[j].name, name)
			})
		}
		if dup {
			return tokNone, s.syntax(start, "attribut "+string(name)+" répété", "attribute "+string(name)+" repeated")
		}
		list = append(list, rawAttr{name, value})
		isDecl := bytes.HasPrefix(name, xmlnsPrefix) && (len(name) == len(xmlnsPrefix) || name[len(xmlnsPrefix)] == ':')
		if isDecl && len(value) > 0 && &value[0] != &raw[0] {
			// Unescaped into abuf, which the next start tag reuses: a
			// namespace name outlives this tag, so it gets its own copy.
			value = bytes.Clone(value)
		}
		// Namespace declarations take effect on this element itself.
		if bytes.Equal(name, xmlnsPrefix) {
			if bytes.Equal(value, xmlURI) || bytes.Equal(value, xmlnsURI) {
				return tokNone, s.syntax(start, "espace de noms réservé "+string(value)+" déclaré par défaut",
					"reserved namespace "+string(value)+" declared as the default")
			}
			if len(value) > 0 && !validNamespaceURI(value) {
				return tokNone, s.syntax(start, "espace de noms « "+string(value)+" » : URI invalide", "namespace '"+string(value)+"' is not a valid URI")
			}
			s.ns.declare(nil, value)
		} else if bytes.HasPrefix(name, []byte("xmlns:")) {
			prefix := name[6:]
			if _, _, ok := splitQName(name); !ok {
				return tokNone, s.syntax(start, "déclaration d'espace de noms invalide "+string(name), "invalid namespace declaration "+string(name))
			}
			switch {
			case len(value) == 0:
				return tokNone, s.syntax(start, "préfixe "+string(prefix)+" lié à un espace de noms vide", "prefix "+string(prefix)+" bound to an empty namespace")
			case bytes.Equal(prefix, xmlnsPrefix):
				return tokNone, s.syntax(start, "le préfixe xmlns ne peut être déclaré", "the xmlns prefix cannot be declared")
			case bytes.Equal(prefix, xmlPrefix) != bytes.Equal(value, xmlURI):
				return tokNone, s.syntax(start, "le préfixe xml et l'espace de noms "+string(xmlURI)+" ne vont qu'ensemble",
					"the xml prefix and the namespace "+string(xmlURI)+" go only together")
			case bytes.Equal(value, xmlnsURI):
				return tokNone, s.syntax(start, "l'espace de noms "+string(xmlnsURI)+" ne peut être lié", "the namespace "+string(xmlnsURI)+" cannot be bound")
			case !validNamespaceURI(value):
				return tokNone, s.syntax(start, "espace de noms « "+string(value)+" » : URI invalide", "namespace '"+string(value)+"' is not a valid URI")
			}
			s.ns.declare(prefix, value)
		}
	}
	s.pos = p

	prefix, local, ok := splitQName(qname)
	if !ok {
		return tokNone, s.syntax(start, "nom d'élément invalide "+string(qname), "invalid element name "+string(qname))
	}
	uri, ok := s.lookup(prefix)
	if !ok {
		return tokNone, s.syntax(start, "préfixe non déclaré « "+string(prefix)+" »", "undeclared prefix '"+string(prefix)+"'")
	}
	prefixed := 0 // attributes in s.attrs with a namespace
	for _, a := range list {
		if bytes.Equal(a.name, xmlnsPrefix) || bytes.HasPrefix(a.name, []byte("xmlns:")) {
			continue
		}
		ap, al, ok := splitQName(a.name)
		if !ok {
			return tokNone, s.syntax(start, "nom d'attribut invalide "+string(a.name), "invalid attribute name "+string(a.name))
		}
		var auri []byte
		if len(ap) > 0 {
			if auri, ok = s.lookup(ap); !ok {
				return tokNone, s.syntax(start, "préfixe non déclaré « "+string(ap)+" »", "undeclared prefix '"+string(ap)+"'")
			}
		}
		if auri != nil {
			// Two prefixes bound to one URI name the same attribute.
			dup := false
			if prefixed < indexFrom {
				for _, b := range s.attrs {
					dup = dup || b.space != nil && bytes.Equal(b.local, al) && bytes.Equal(b.space, auri)
				}
				s.attrSteps += len(s.attrs)
			} else {
				if prefixed == indexFrom {
					s.dups.begin()
					for j, b := range s.attrs {
						if b.space != nil {
							s.dups.seen(expandedHash(s.dups.seed, b.space, b.local), j, func(int) bool { return false })
						}
					}
				}
				dup = s.dups.seen(expandedHash(s.dups.seed, auri, al), len(s.attrs), func(j int) bool {
					s.attrSteps++
					b := s.attrs[j]
					return bytes.Equal(b.local, al) && bytes.Equal(b.space, auri)
				})
			}
			if dup {
				return tokNone, s.syntax(start, "attribut {"+string(auri)+"}"+string(al)+" répété sous deux préfixes",
					"attribute {"+string(auri)+"}"+string(al)+" repeated under two prefixes")
			}
			prefixed++
		}
		s.attrs = append(s.attrs, attr{space: auri, local: al, value: a.value})
	}
	s.open = append(s.open, qname)
	s.resolved = append(s.resolved, [2][]byte{uri, local})
	s.rootSeen = true
	s.kind = tokStart
	s.space, s.local = uri, local
	return tokStart, nil
}

func (s *scanner) endTag() (tokKind, error) {
	start := s.pos
	p := s.pos + 2
	n := nameLen(s.data[p:])
	qname := s.data[p : p+n]
	p += n
	for p < len(s.data) && isSpace(s.data[p]) {
		p++
	}
	if p >= len(s.data) || s.data[p] != '>' {
		return tokNone, s.syntax(start, "balise fermante mal formée", "malformed end tag")
	}
	if len(s.open) == 0 {
		return tokNone, s.syntax(start, "balise fermante sans ouvrante", "end tag without a start tag")
	}
	if want := s.open[len(s.open)-1]; !bytes.Equal(want, qname) {
		return tokNone, s.syntax(start, "</"+string(qname)+"> ferme <"+string(want)+">", "</"+string(qname)+"> closes <"+string(want)+">")
	}
	s.pos = p + 1
	return s.closeElement()
}

// closeElement pops the innermost element and reports its end, with its
// namespace and local name resolved in its own scope.
func (s *scanner) closeElement() (tokKind, error) {
	r := s.resolved[len(s.resolved)-1]
	s.space, s.local = r[0], r[1]
	s.open = s.open[:len(s.open)-1]
	s.resolved = s.resolved[:len(s.resolved)-1]
	s.nsSteps += s.ns.undoTo(s.marks[len(s.marks)-1])
	s.marks = s.marks[:len(s.marks)-1]
	s.kind = tokEnd
	return tokEnd, nil
}

// charData reads text up to the next tag, merging CDATA sections and
// resolving references.
func (s *scanner) charData() (tokKind, error) {
	s.buf = s.buf[:0]
	plain := true // text is a single slice of the input
	first := s.pos
	// Fast path: text up to the next tag with no reference and no "]]>".
	if end := bytes.IndexByte(s.data[s.pos:], '<'); end > 0 {
		seg := s.data[s.pos : s.pos+end]
		if bytes.IndexByte(seg, '&') < 0 && (bytes.IndexByte(seg, '>') < 0 || !bytes.Contains(seg, []byte("]]>"))) &&
			!bytes.HasPrefix(s.data[s.pos+end:], []byte("<![CDATA[")) {
			s.pos += end
			return s.emitText(true, first)
		}
	}
	for s.pos < len(s.data) {
		c := s.data[s.pos]
		switch c {
		case '<':
			if bytes.HasPrefix(s.data[s.pos:], []byte("<![CDATA[")) {
				end := bytes.Index(s.data[s.pos+9:], []byte("]]>"))
				if end < 0 {
					return tokNone, s.syntax(s.pos, "section CDATA non fermée", "unterminated CDATA section")
				}
				if plain {
					s.buf = append(s.buf, s.data[first:s.pos]...)
					plain = false
				}
				s.buf = append(s.buf, s.data[s.pos+9:s.pos+9+end]...)
				s.pos += 9 + end + 3
				continue
			}
			return s.emitText(plain, first)
		case '&':
			if plain {
				s.buf = append(s.buf, s.data[first:s.pos]...)
				plain = false
			}
			r, n, err := s.reference(s.data[s.pos:], s.pos)
			if err != nil {
				return tokNone, err
			}
			s.buf = utf8.AppendRune(s.buf, r)
			s.pos += n
		case '>':
			if s.pos >= 2 && s.data[s.pos-1] == ']' && s.data[s.pos-2] == ']' {
				return tokNone, s.syntax(s.pos, "« ]]> » dans le texte", "']]>' in text")
			}
			fallthrough
		default:
			if !plain {
				s.buf = append(s.buf, c)
			}
			s.pos++
		}
	}
	return s.emitText(plain, first)
}

func (s *scanner) emitText(plain bool, first int) (tokKind, error) {
	if plain {
		s.text = s.data[first:s.pos]
	} else {
		s.text = s.buf
	}
	s.textBuffered = !plain
	s.kind = tokText
	return tokText, nil
}

// reference decodes "&...;" at the start of b: a predefined entity or a
// character reference. Any other entity is undefined, since no DTD may define one.
func (s *scanner) reference(b []byte, at int) (rune, int, error) {
	if len(b) >= 2 && b[1] == '#' {
		return s.charRef(b, at)
	}
	n := nameLen(b[1:])
	if n == 0 || 1+n >= len(b) || b[1+n] != ';' {
		return 0, 0, s.syntax(at, "« & » isolé (écrire &amp;amp;)", "bare '&' (write &amp;amp;)")
	}
	name := b[1 : 1+n]
	switch string(name) {
	case "lt":
		return '<', n + 2, nil
	case "gt":
		return '>', n + 2, nil
	case "amp":
		return '&', n + 2, nil
	case "apos":
		return '\'', n + 2, nil
	case "quot":
		return '"', n + 2, nil
	}
	return 0, 0, s.syntax(at, "entité non définie &"+string(name)+";", "undefined entity &"+string(name)+";")
}

// charRef decodes "&#N;" or "&#xH;" at the start of b. Leading zeros are
// allowed in any number, as XML allows them.
func (s *scanner) charRef(b []byte, at int) (rune, int, error) {
	i := 2
	base := rune(10)
	if i < len(b) && b[i] == 'x' {
		base = 16
		i++
	}
	digits := i
	var r rune
	for ; i < len(b) && b[i] != ';'; i++ {
		var v rune
		switch d := b[i]; {
		case d >= '0' && d <= '9':
			v = rune(d - '0')
		case base == 16 && d >= 'a' && d <= 'f':
			v = rune(d-'a') + 10
		case base == 16 && d >= 'A' && d <= 'F':
			v = rune(d-'A') + 10
		default:
			return 0, 0, s.syntax(at, "référence de caractère invalide", "invalid character reference")
		}
		r = r*base + v
		if r > utf8.MaxRune {
			return 0, 0, s.syntax(at, "référence de caractère hors Unicode", "character reference beyond Unicode")
		}
	}
	if i >= len(b) {
		return 0, 0, s.syntax(at, "référence de caractère non terminée", "unterminated character reference")
	}
	if i == digits {
		return 0, 0, s.syntax(at, "référence de caractère vide", "empty character reference")
	}
	if !isXMLChar(r) {
		return 0, 0, s.syntax(at, "référence à un caractère interdit en XML", "reference to a character XML forbids")
	}
	return r, i + 1, nil
}

func isXMLChar(r rune) bool {
	return r == 0x9 || r == 0xA || r == 0xD || r >= 0x20 && r <= 0xD7FF ||
		r >= 0xE000 && r <= 0xFFFD || r >= 0x10000 && r <= utf8.MaxRune
}

// unescapeAttr resolves references in an attribute value and normalizes its
// whitespace characters to spaces, as XML requires. Values without '&' or
// whitespace characters other than space are returned as input slices.
func (s *scanner) unescapeAttr(raw []byte, at int) ([]byte, error) {
	simple := true
	for _, c := range raw {
		if c == '&' || c == '\t' || c == '\n' || c == '\r' {
			simple = false
			break
		}
	}
	if simple {
		return raw, nil
	}
	start := len(s.abuf)
	for i := 0; i < len(raw); {
		c := raw[i]
		switch c {
		case '&':
			r, n, err := s.reference(raw[i:], at+i)
			if err != nil {
				return nil, err
			}
			s.abuf = utf8.AppendRune(s.abuf, r)
			i += n
			continue
		case '\t', '\n', '\r':
			c = ' '
		}
		s.abuf = append(s.abuf, c)
		i++
	}
	// s.abuf may be reallocated by a later attribute: hand out a copy-safe
	// full slice expression so later appends never write into this value.
	return s.abuf[start:len(s.abuf):len(s.abuf)], nil
}

// validNamespaceURI reports whether a namespace name is a URI reference
// as libxml2 parses it (RFC 3986, with libxml2's readings: a port has at
// least one digit, a host is a reg-name (its IPv4 branch never matches), an
// IP literal is anything between brackets, a fragment may hold brackets).
// libxml2 reports any other namespace name as a namespace error.
//
// libxml2 checks the value with each '&' (written &amp; or &#38;) kept as
// "&#38;", so its '#' starts a fragment: so does this check.
func validNamespaceURI(b []byte) bool {
	if bytes.IndexByte(b, '&') >= 0 {
		b = bytes.ReplaceAll(b, []byte("&"), []byte("&#38;"))
	}
	u := uriParser{b: b}
	if u.absolute() {
		return true
	}
	u.p = 0
	return u.relative()
}

type uriParser struct {
	b []byte
	p int
}

func (u *uriParser) at(i int) byte {
	if i < len(u.b) {
		return u.b[i]
	}
	return 0
}

func isAlpha(c byte) bool { return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' }
func isDigit(c byte) bool { return c >= '0' && c <= '9' }
func isHex(c byte) bool   { return isDigit(c) || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F' }

// step advances past one unreserved, sub-delims or percent-encoded
// character (and ':' '@' when pchar), reporting whether there was one.
func (u *uriParser) step(pchar bool) bool {
	c := u.at(u.p)
	switch {
	case isAlpha(c), isDigit(c), strings.IndexByte("-._~!$&'()*+,;=", c) >= 0 && c != 0:
		u.p++
	case pchar && (c == ':' || c == '@'):
		u.p++
	case c == '%' && isHex(u.at(u.p+1)) && isHex(u.at(u.p+2)):
		u.p += 3
	default:
		return false
	}
	return true
}

func (u *uriParser) isPchar() bool {
	q := u.p
	ok := u.step(true)
	u.p = q
	return ok
}

// segment reads *pchar, stopping at forbid; nonEmpty requires one.
func (u *uriParser) segment(forbid byte, nonEmpty bool) bool {
	if !u.isPchar() {
		return !nonEmpty
	}
	for u.at(u.p) != forbid || forbid == 0 {
		if !u.step(true) {
			break
		}
	}
	return true
}

// rest reads the segments after the first: *( "/" segment ).
func (u *uriParser) rest() {
	for u.at(u.p) == '/' {
		u.p++
		u.segment(0, false)
	}
}

func (u *uriParser) absolute() bool {
	if !isAlpha(u.at(u.p)) {
		return false
	}
	for c := u.at(u.p); isAlpha(c) || isDigit(c) || c == '+' || c == '-' || c == '.'; c = u.at(u.p) {
		u.p++
	}
	if u.at(u.p) != ':' {
		return false
	}
	u.p++
	switch {
	case u.at(u.p) == '/' && u.at(u.p+1) == '/':
		u.p += 2
		if !u.authority() {
			return false
		}
		u.rest()
	case u.at(u.p) == '/':
		u.p++
		if u.segment(0, true) {
			u.rest()
		}
	case u.isPchar():
		u.segment(0, true)
		u.rest()
	}
	return u.queryFragment()
}

func (u *uriParser) relative() bool {
	switch {
	case u.at(u.p) == '/' && u.at(u.p+1) == '/':
		u.p += 2
		if !u.authority() {
			return false
		}
		u.rest()
	case u.at(u.p) == '/':
		u.p++
		if u.segment(0, true) {
			u.rest()
		}
	case u.isPchar():
		u.segment(':', true)
		u.rest()
	}
	return u.queryFragment()
}

func (u *uriParser) queryFragment() bool {
	// query = *( pchar / "/" / "?" ); libxml2 lets a fragment hold "[" "]" too.
	more := func(extra string) {
		for u.step(true) || u.p < len(u.b) && strings.IndexByte(extra, u.b[u.p]) >= 0 && u.skip() {
		}
	}
	if u.at(u.p) == '?' {
		u.p++
		more("/?")
	}
	if u.at(u.p) == '#' {
		u.p++
		more("/?[]")
	}
	return u.p == len(u.b)
}

func (u *uriParser) skip() bool { u.p++; return true }

func (u *uriParser) authority() bool {
	start := u.p
	for u.step(false) || u.at(u.p) == ':' {
		if u.at(u.p) == ':' {
			u.p++
		}
	}
	if u.at(u.p) == '@' {
		u.p++
	} else {
		u.p = start
	}
	u.host()
	if u.at(u.p) == ':' {
		u.p++
		if !isDigit(u.at(u.p)) {
			return false
		}
		for isDigit(u.at(u.p)) {
			u.p++
		}
	}
	return true
}

func (u *uriParser) host() {
	if u.at(u.p) == '[' {
		if end := bytes.IndexByte(u.b[u.p:], ']'); end >= 0 {
			u.p += end + 1
		} else {
			u.p = len(u.b) + 1 // never a valid end
		}
		return
	}
	for u.step(false) {
	}
}

// expandedHash hashes the expanded name {space}local.
func expandedHash(seed maphash.Seed, space, local []byte) uint64 {
	return maphash.Bytes(seed, space)*31 + maphash.Bytes(seed, local)
}
