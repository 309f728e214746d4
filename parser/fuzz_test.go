package parser

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"flowgate/internal/corpus"
)

// FuzzParse feeds arbitrary bytes to the flow reader and the XML parser.
// They must never panic, and every entry must carry exactly one of an
// invoice or an error. Seeds: the bundled samples, a CII invoice, Factur-X
// PDFs built around it and, when
// present, the shared EN 16931 corpus (UBL and CII); found inputs are kept
// in testdata/fuzz.
func FuzzParse(f *testing.F) {
	seeds, _ := filepath.Glob("../samples/flows/*")
	rejects, _ := filepath.Glob("../samples/flows/rejets/*")
	var examples []string
	if dir, ok := corpus.Path("en16931", "ubl-examples"); ok {
		examples, _ = filepath.Glob(filepath.Join(dir, "ubl-tc434-*.xml"))
	}
	if dir, ok := corpus.Path("en16931", "cii-examples"); ok {
		cii, _ := filepath.Glob(filepath.Join(dir, "*.xml"))
		examples = append(examples, cii...)
	}
	examples = append(examples, filepath.Join("testdata", "twin-cii.xml"))
	for _, path := range append(append(seeds, rejects...), examples...) {
		if data, err := os.ReadFile(path); err == nil && len(data) < 64<<10 {
			f.Add(data)
		}
	}
	f.Add([]byte(invoiceDoc("A")))
	tarA := makeTar(f, member{name: "a.xml", body: invoiceDoc("A")})
	f.Add(tarA)
	f.Add(cat(tarA, tarA))
	f.Add(cat(gzipped(f, tarA), gzipped(f, tarA)))
	f.Add(makeRawZip(f, honest(f, "a.xml", []byte(invoiceDoc("A")))))
	// Factur-X: PDFs built around a CII invoice, plain and in a zip.
	if cii, err := os.ReadFile(filepath.Join("testdata", "twin-cii.xml")); err == nil {
		pdf := facturXPDF(f, "factur-x.xml", cii, "")
		f.Add(pdf)
		f.Add(pdf[:len(pdf)/2])
		f.Add(makeRawZip(f, honest(f, "f.pdf", pdf)))
		f.Add(makeObjStmPDF(zdeflate(f, []byte("5 0\n<< /EmbeddedFiles << /Names [] >> >>")), 4))
	}
	lim := Limits{Entries: 8, Expanded: 1 << 20, Ratio: 100, RatioFloor: 64 << 10}
	f.Fuzz(func(t *testing.T, data []byte) {
		inv, err := ParseBytes(data)
		if (inv == nil) == (err == nil) {
			t.Fatalf("ParseBytes: invoice %v and error %v", inv, err)
		}
		err = ReadFlowLimits(bytes.NewReader(data), int64(len(data)), lim, func(e Entry) error {
			if (e.Invoice == nil) == (e.Err == nil) {
				t.Fatalf("entry %q: invoice %v and error %v", e.Name, e.Invoice, e.Err)
			}
			return nil
		})
		if err != nil {
			t.Fatalf("ReadFlow on memory: %v", err)
		}
	})
}
