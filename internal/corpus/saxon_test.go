package corpus

import "testing"

// TestParseSVRL reads fired rules, failed asserts and successful reports
// with their id, flag, location and text, whatever the SVRL prefix.
func TestParseSVRL(t *testing.T) {
	svrl := `<?xml version="1.0"?>
<s:schematron-output xmlns:s="http://purl.oclc.org/dsdl/svrl">
  <s:active-pattern id="P1"/>
  <s:fired-rule context="a"/>
  <s:fired-rule context="b"/>
  <s:failed-assert test="x" id="R-1" flag="fatal" location="/a[1]">
    <s:text>  motif
       absent </s:text>
  </s:failed-assert>
  <s:successful-report test="y" id="R-2" flag="warning" location="/b[1]"><s:text>note</s:text></s:successful-report>
  <failed-assert xmlns="urn:other" id="NOT-SVRL" flag="fatal"/>
</s:schematron-output>`
	r, err := ParseSVRL([]byte(svrl))
	if err != nil {
		t.Fatal(err)
	}
	if r.Fired != 2 || len(r.Failed) != 2 {
		t.Fatalf("fired %d, failed %v", r.Fired, r.Failed)
	}
	if a := r.Failed[0]; a != (Assert{ID: "R-1", Flag: "fatal", Location: "/a[1]", Text: "motif absent"}) {
		t.Errorf("assert %+v", a)
	}
	if f := r.Fatal(); len(f) != 1 || f[0].ID != "R-1" {
		t.Errorf("fatal %v", f)
	}
	if _, err := ParseSVRL([]byte("<s:x")); err == nil {
		t.Error("broken SVRL read")
	}
}
