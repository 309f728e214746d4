package parser

import (
	"fmt"
	"strings"
	"testing"
)

// nsFlood builds a document whose root declares one prefix, then nests
// levels elements that each declare prefixes bindings, and puts leaves
// elements at the bottom, half unprefixed (no default namespace is in
// scope), half under the root's prefix: the worst case for a resolver that
// walks the bindings in scope.
func nsFlood(levels, prefixes, leaves int) []byte {
	var b strings.Builder
	b.WriteString(`<q:r xmlns:q="urn:q">`)
	for l := 0; l < levels; l++ {
		b.WriteString("<e")
		for p := 0; p < prefixes; p++ {
			fmt.Fprintf(&b, ` xmlns:p%d="urn:%d"`, p, l)
		}
		b.WriteString(">")
	}
	for i := 0; i < leaves; i++ {
		if i%2 == 0 {
			b.WriteString("<x/>")
		} else {
			b.WriteString(`<q:x a="1"/>`)
		}
	}
	b.WriteString(strings.Repeat("</e>", levels))
	b.WriteString("</q:r>")
	return []byte(b.String())
}

// scanAll runs the scanner over a whole document.
func scanAll(s *scanner, doc []byte) error {
	s.reset(doc)
	s.pos = prologStart(doc)
	for {
		kind, err := s.next()
		if err != nil {
			return err
		}
		if kind == tokEOF {
			return nil
		}
	}
}

// TestNamespaceFloodLinear: a flood of namespace declarations makes
// resolution cost no more than a constant per element, attribute and
// declaration. The step count is the scanner's own tally of bindings
// examined and undone; a resolver that walks the bindings in scope costs
// levels×prefixes steps per leaf here.
func TestNamespaceFloodLinear(t *testing.T) {
	const levels, prefixes, leaves = 40, 100, 2000
	doc := nsFlood(levels, prefixes, leaves)
	s := new(scanner)
	if err := scanAll(s, doc); err != nil {
		t.Fatal(err)
	}
	units := 1 + levels*(1+prefixes) + leaves*2 // elements, declarations, attributes
	if s.nsSteps > 3*units {
		t.Errorf("namespace resolution took %d steps for %d elements, attributes and declarations: not linear", s.nsSteps, units)
	}
	// Declarations are undone when their element closes: after the flood,
	// the same scanner resolves a plain document with none of them left.
	if err := scanAll(s, []byte(`<a><p0:b/></a>`)); err == nil {
		t.Error("a prefix of the previous document still bound")
	}
}

// TestNamespaceScopes: a binding holds in its element and below, a
// redeclaration shadows it there and the outer one comes back after.
func TestNamespaceScopes(t *testing.T) {
	doc := []byte(`<a xmlns="urn:d" xmlns:p="urn:1"><p:b xmlns:p="urn:2" xmlns="urn:e"><p:c/><c/></p:b><p:d/><d xmlns=""/><e/></a>`)
	want := []string{"urn:d a", "urn:2 b", "urn:2 c", "urn:e c", "urn:1 d", " d", "urn:d e"}
	var got []string
	s := new(scanner)
	s.reset(doc)
	for {
		kind, err := s.next()
		if err != nil {
			t.Fatal(err)
		}
		if kind == tokEOF {
			break
		}
		if kind == tokStart {
			got = append(got, string(s.space)+" "+string(s.local))
		}
	}
	if strings.Join(got, ",") != strings.Join(want, ",") {
		t.Errorf("resolved %q, want %q", got, want)
	}
}

// BenchmarkParseNamespaceFlood scans the flood of the issue: 254 nested
// elements declaring 255 prefixes each, then 20,000 leaves.
func BenchmarkParseNamespaceFlood(b *testing.B) {
	doc := nsFlood(254, 255, 20000)
	b.SetBytes(int64(len(doc)))
	b.ReportAllocs()
	s := new(scanner)
	for b.Loop() {
		if err := scanAll(s, doc); err != nil {
			b.Fatal(err)
		}
	}
}

// TestNamespaceWithReferences: a namespace name written with references
// keeps its value while later start tags unescape their own attributes
// (which once overwrote it, letting a later attribute choose the namespace
// of the elements below).
func TestNamespaceWithReferences(t *testing.T) {
	doc := []byte(`<p:a xmlns:p="urn:a&amp;b"><b x="urn:c&amp;d"><p:c y="&#x75;rn:c&amp;d"/></b></p:a>`)
	var got []string
	s := new(scanner)
	s.reset(doc)
	for {
		kind, err := s.next()
		if err != nil {
			t.Fatal(err)
		}
		if kind == tokEOF {
			break
		}
		if kind == tokStart || kind == tokEnd {
			got = append(got, string(s.space)+" "+string(s.local))
		}
	}
	want := []string{"urn:a&b a", " b", "urn:a&b c", "urn:a&b c", " b", "urn:a&b a"}
	if strings.Join(got, ",") != strings.Join(want, ",") {
		t.Errorf("resolved %q, want %q", got, want)
	}
}

// TestManyAttributesLinear: finding repeated attributes among the maxAttrs
// a start tag may carry costs a constant per attribute, not a comparison
// with each of the others; repeats are still found wherever they are, by
// name and by expanded name.
func TestManyAttributesLinear(t *testing.T) {
	tag := func(extra string) []byte {
		var b strings.Builder
		b.WriteString(`<e xmlns:p="urn:p" xmlns:q="urn:p"`)
		for i := 0; i < 120; i++ {
			fmt.Fprintf(&b, ` a%d="" p:b%d=""`, i, i)
		}
		b.WriteString(extra + "/>")
		return []byte(b.String())
	}
	s := new(scanner)
	const elements = 50
	var doc []byte
	doc = append(doc, "<r>"...)
	for i := 0; i < elements; i++ {
		doc = append(doc, tag("")...)
	}
	doc = append(doc, "</r>"...)
	if err := scanAll(s, doc); err != nil {
		t.Fatal(err)
	}
	if attrs := elements * 242; s.attrSteps > 4*attrs {
		t.Errorf("%d comparisons to check %d attributes: not linear", s.attrSteps, attrs)
	}
	for _, extra := range []string{` a0="x"`, ` a119="x"`, ` p:b0="x"`, ` q:b0="x"`, ` q:b119="x"`, ` xmlns:p="urn:p"`} {
		if err := scanAll(s, tag(extra)); err == nil || !strings.Contains(err.Error(), "repeated") {
			t.Errorf("%s repeated after 242 attributes: %v", extra, err)
		}
	}
	if err := scanAll(s, tag(` q:c="x" a120="" b0=""`)); err != nil {
		t.Errorf("distinct attributes: %v", err)
	}
}
