package validator

import (
	"bytes"
	"encoding/xml"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"flowgate/internal/corpus"
	"flowgate/parser"
)

// needCorpus returns the EN 16931 part of the shared corpus, or skips the test.
func needCorpus(t testing.TB) string { return corpus.Need(t, "en16931") }

// unitTest is one <test> of a CEN per-rule test set.
type unitTest struct {
	description string
	rule        string
	wantError   bool
	fragment    []byte
}

// readUnitTests extracts each test's expectation and its Invoice or
// CreditNote fragment, byte for byte, so that our own parser reads it.
func readUnitTests(t *testing.T, path string) []unitTest {
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	d := xml.NewDecoder(bytes.NewReader(data))
	var tests []unitTest
	var cur *unitTest
	var field *string
	var stack []string
	for {
		off := d.InputOffset()
		tok, err := d.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		switch tok := tok.(type) {
		case xml.StartElement:
			stack = append(stack, tok.Name.Local)
			switch {
			case tok.Name.Local == "test" && len(stack) == 2:
				tests = append(tests, unitTest{})
				cur = &tests[len(tests)-1]
			case cur != nil && (tok.Name.Space == parser.NSInvoice || tok.Name.Space == parser.NSCreditNote):
				if err := d.Skip(); err != nil {
					t.Fatal(err)
				}
				cur.fragment = data[off:d.InputOffset()]
				stack = stack[:len(stack)-1]
			case cur != nil && tok.Name.Local == "success":
				field = &cur.rule
			case cur != nil && tok.Name.Local == "error":
				cur.wantError = true
				field = &cur.rule
			case cur != nil && tok.Name.Local == "description":
				field = &cur.description
			}
		case xml.CharData:
			if field != nil {
				*field += strings.TrimSpace(string(tok))
			}
		case xml.EndElement:
			field = nil
			stack = stack[:len(stack)-1]
		}
	}
	return tests
}

// TestCENUnitOracle runs every CEN per-rule unit test of the rules flowgate
// implements: flowgate must agree with every expected success and error.
func TestCENUnitOracle(t *testing.T) {
	dir := needCorpus(t)
	rules := map[string]*Rule{}
	for i := range enRules {
		rules[enRules[i].ID] = &enRules[i]
	}
	seen := map[string]int{}
	for _, set := range []string{"unit-ubl-invoice", "unit-ubl-creditnote"} {
		files, _ := filepath.Glob(filepath.Join(dir, set, "*.xml"))
		for _, file := range files {
			for i, ut := range readUnitTests(t, file) {
				rule, ok := rules[ut.rule]
				if !ok {
					continue
				}
				seen[ut.rule]++
				name := set + "/" + filepath.Base(file) + "#" + string(rune('0'+i/10)) + string(rune('0'+i%10))
				inv, err := parser.ParseBytes(ut.fragment)
				if why := cenRefused[set+"/"+filepath.Base(file)]; why != "" && err != nil {
					t.Logf("%s: refused by the parser, as it should: %s (%v)", name, why, err)
					continue
				}
				if err != nil {
					t.Errorf("%s: fragment does not parse: %v", name, err)
					continue
				}
				got := rule.Check(inv)
				if (len(got) > 0) != ut.wantError {
					t.Errorf("%s (%s, %s): want error=%v, got findings %v", name, ut.rule, ut.description, ut.wantError, got)
				}
			}
		}
	}
	for id := range rules {
		if seen[id] == 0 && noCENUnitTest(dir, id) {
			t.Logf("rule %s: the CEN unit tests have none; the differential tests compare it", id)
			continue
		}
		if seen[id] == 0 {
			t.Errorf("rule %s has no CEN unit test: nothing checks it against the oracle", id)
		}
	}
	t.Logf("CEN oracle: %d rules, %v", len(seen), seen)
}

// cenRefused names the CEN unit test files whose fragments the UBL 2.1
// schema forbids and the parser refuses before any rule runs, with why.
var cenRefused = map[string]string{
	"unit-ubl-invoice/BR-CL-21.xml": "two cac:Item in one cac:InvoiceLine",
}

// noCENUnitTest reports whether the CEN unit tests have no file for rule
// id (as for the BR-DEC rules) in either set.
func noCENUnitTest(dir, id string) bool {
	for _, set := range []string{"unit-ubl-invoice", "unit-ubl-creditnote"} {
		if _, err := os.Stat(filepath.Join(dir, set, id+".xml")); err == nil {
			return false
		}
	}
	return true
}
