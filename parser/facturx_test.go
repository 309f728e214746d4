package parser

import (
	"bytes"
	"compress/zlib"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"runtime"
	"strings"
	"testing"

	"github.com/pdfcpu/pdfcpu/pkg/api"
	"github.com/pdfcpu/pdfcpu/pkg/pdfcpu/model"

	"flowgate"
	"flowgate/internal/corpus"
)

// pdfObj is one indirect object of a test PDF: its dictionary (or other
// body) and, for a stream, its raw bytes.
type pdfObj struct {
	body   string
	stream []byte
}

// makePDF writes a PDF 1.7 of objs (numbered from 1; object 1 is the
// catalog) with a correct cross-reference table.
func makePDF(objs ...pdfObj) []byte {
	var b bytes.Buffer
	b.WriteString("%PDF-1.7\n%\xe2\xe3\xcf\xd3\n")
	offsets := make([]int, len(objs))
	for i, o := range objs {
		offsets[i] = b.Len()
		fmt.Fprintf(&b, "%d 0 obj\n%s\n", i+1, o.body)
		if o.stream != nil {
			b.WriteString("stream\n")
			b.Write(o.stream)
			b.WriteString("\nendstream\n")
		}
		b.WriteString("endobj\n")
	}
	xref := b.Len()
	fmt.Fprintf(&b, "xref\n0 %d\n0000000000 65535 f \n", len(objs)+1)
	for _, off := range offsets {
		fmt.Fprintf(&b, "%010d 00000 n \n", off)
	}
	fmt.Fprintf(&b, "trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n", len(objs)+1, xref)
	return b.Bytes()
}

// makeObjStmPDF writes a PDF 1.5 whose catalog's /Names is object 5,
// stored compressed in the object stream 4 of raw bytes objStm (deflated,
// declaring /N 1 /First first), with a cross-reference stream (object 6)
// that points there, so that a reader must inflate the object stream.
func makeObjStmPDF(objStm []byte, first int) []byte {
	var b bytes.Buffer
	b.WriteString("%PDF-1.7\n%\xe2\xe3\xcf\xd3\n")
	bodies := []string{
		"<< /Type /Catalog /Pages 2 0 R /Names 5 0 R >>",
		"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
		"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] >>",
	}
	offsets := []int{}
	for i, body := range bodies {
		offsets = append(offsets, b.Len())
		fmt.Fprintf(&b, "%d 0 obj\n%s\nendobj\n", i+1, body)
	}
	offsets = append(offsets, b.Len())
	fmt.Fprintf(&b, "4 0 obj\n<< /Type /ObjStm /N 1 /First %d /Filter /FlateDecode /Length %d >>\nstream\n", first, len(objStm))
	b.Write(objStm)
	b.WriteString("\nendstream\nendobj\n")
	xref := b.Len()
	var rows []byte
	row := func(typ byte, f2 uint32, f3 uint16) {
		rows = append(rows, typ, byte(f2>>24), byte(f2>>16), byte(f2>>8), byte(f2), byte(f3>>8), byte(f3))
	}
	row(0, 0, 0xffff)
	for _, off := range offsets {
		row(1, uint32(off), 0)
	}
	row(2, 4, 0) // object 5: first object of stream 4
	row(1, uint32(xref), 0)
	fmt.Fprintf(&b, "6 0 obj\n<< /Type /XRef /Size 7 /W [1 4 2] /Root 1 0 R /Length %d >>\nstream\n", len(rows))
	b.Write(rows)
	fmt.Fprintf(&b, "\nendstream\nendobj\nstartxref\n%d\n%%%%EOF\n", xref)
	return b.Bytes()
}

func zdeflate(t testing.TB, data []byte) []byte {
	t.Helper()
	var b bytes.Buffer
	w, _ := zlib.NewWriterLevel(&b, zlib.BestCompression)
	if _, err := w.Write(data); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// deflateZeros is n zero bytes deflated, a bomb built without holding it.
func deflateZeros(t testing.TB, n int) []byte {
	return deflateFill(t, "", 0, n)
}

// deflateFill is prefix followed by n bytes of fill, deflated, built
// without holding it.
func deflateFill(t testing.TB, prefix string, fill byte, n int) []byte {
	t.Helper()
	var b bytes.Buffer
	w, _ := zlib.NewWriterLevel(&b, zlib.BestSpeed)
	w.Write([]byte(prefix))
	chunk := bytes.Repeat([]byte{fill}, 1<<20)
	for n > 0 {
		k := min(n, len(chunk))
		w.Write(chunk[:k])
		n -= k
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// facturXPDF is a one-page PDF embedding xml under fileName, deflated,
// with extra in the embedded file stream's dictionary (a /Params entry,
// say). Objects: 1 catalog, 2 pages, 3 page, 4 file spec, 5 embedded file.
func facturXPDF(t testing.TB, fileName string, xml []byte, extra string) []byte {
	t.Helper()
	z := zdeflate(t, xml)
	return makePDF(
		pdfObj{body: "<< /Type /Catalog /Pages 2 0 R /Names << /EmbeddedFiles << /Names [(" + fileName + ") 4 0 R] >> >> /AF [4 0 R] >>"},
		pdfObj{body: "<< /Type /Pages /Kids [3 0 R] /Count 1 >>"},
		pdfObj{body: "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] >>"},
		pdfObj{body: "<< /Type /Filespec /F (" + fileName + ") /UF (" + fileName + ") /AFRelationship /Data /EF << /F 5 0 R >> >>"},
		pdfObj{body: fmt.Sprintf("<< /Type /EmbeddedFile /Subtype /text#2Fxml /Filter /FlateDecode /Length %d %s >>", len(z), extra), stream: z},
	)
}

func readPDFFlow(t testing.TB, data []byte) []Entry {
	t.Helper()
	var got []Entry
	if err := ReadFlow(bytes.NewReader(data), int64(len(data)), func(e Entry) error { got = append(got, e); return nil }); err != nil {
		t.Fatal(err)
	}
	return got
}

// sameInvoice reports whether a Factur-X's invoice is the one its XML
// gives when read alone, but for the syntax.
func sameInvoice(pdf, xml *flowgate.Invoice) bool {
	p := *pdf
	p.Syntax = xml.Syntax
	return reflect.DeepEqual(&p, xml)
}

// TestFacturXCorpus: every valid Factur-X / ZUGFeRD 2.x PDF of the corpus
// is read as its embedded CII invoice, the Entry keeping the PDF's bytes;
// the akretion EN 16931 PDF gives the very Invoice of its XML read alone.
// The broken ones are refused as documented in the corpus README: the
// damaged cross-reference table is FLX-PDF; the PDFs that embed a ZUGFeRD
// 1.0 XML (urn:ferd:CrossIndustryDocument, not CII D16B) are FLX-TYPE; the
// invalid XML of XMLinvalidV2PDF is well-formed CII, left to the validator.
func TestFacturXCorpus(t *testing.T) {
	dir := corpus.Need(t, "facturx", "pdf")
	want := map[string]string{ // file → invoice number, or the refusal's code
		"akretion-invoice_EN16931.pdf":                              "F20260023",
		"mustang-103767-Invoice-2026-03-24-1.pdf":                   "103767",
		"mustang-Facture_F20180027.pdf":                             "F20180027",
		"mustang-XMLinvalidV2PDF.pdf":                               "RE-20171118/506",
		"mustang-attributeBasedXMP_zugferd_2p0_EN16931_Einfach.pdf": "471102",
		"mustang-corruptedV2PDF.pdf":                                "FLX-PDF",
		"mustang-invalidXMP.pdf":                                    "FLX-TYPE",
		"mustang-validAvoir_FR_type380_BASICWL.pdf":                 "AV-2017-0005",
		"mustang-validV2PDF.pdf":                                    "FLX-TYPE",
		"mustang-validXRechnung.pdf":                                "RE-20190610/507",
		"mustang-zugferd_2p1_EXTENDED_PDFA-3A.pdf":                  "R87654321012345",
	}
	files, _ := filepath.Glob(filepath.Join(dir, "*.pdf"))
	if len(files) != len(want) {
		t.Errorf("%d PDFs in the corpus, %d expected", len(files), len(want))
	}
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		name := filepath.Base(f)
		got := readPDFFlow(t, data)
		if len(got) != 1 || !bytes.Equal(got[0].Data, data) {
			t.Errorf("%s: %d entries, or Data is not the PDF", name, len(got))
			continue
		}
		e := got[0]
		switch w := want[name]; {
		case strings.HasPrefix(w, "FLX-"):
			if e.Err == nil || e.Err.Code != w {
				t.Errorf("%s: got %+v, want %s", name, e.Err, w)
			}
		case e.Err != nil:
			t.Errorf("%s: %v", name, e.Err)
		case e.Invoice.Number != w || e.Invoice.Syntax != "facturx":
			t.Errorf("%s: number %q syntax %q, want %q facturx", name, e.Invoice.Number, e.Invoice.Syntax, w)
		}
	}
	// The akretion PDF's XML is the corpus' EN 16931 XML.
	data, _ := os.ReadFile(filepath.Join(dir, "akretion-invoice_EN16931.pdf"))
	xml, err := os.ReadFile(corpus.Need(t, "facturx", "xml", "factur-x-en16931.xml"))
	if err != nil {
		t.Fatal(err)
	}
	alone, err := ParseBytes(xml)
	if err != nil {
		t.Fatal(err)
	}
	if e := parsePDF("", data); e.Invoice == nil || !sameInvoice(e.Invoice, alone) {
		t.Errorf("akretion PDF: invoice differs from its XML read alone:\n%+v\n%+v", e.Invoice, alone)
	}
}

// TestFacturXBuilt: a PDF built here around each Factur-X profile's XML
// gives the Invoice of that XML read alone, under each name a Factur-X or
// ZUGFeRD 2.x writer uses; the MINIMUM profile is refused FLX-PROFIL.
func TestFacturXBuilt(t *testing.T) {
	dir := corpus.Need(t, "facturx", "xml")
	for _, profile := range []string{"basicwl", "basic", "en16931", "extended", "minimum"} {
		xml, err := os.ReadFile(filepath.Join(dir, "factur-x-"+profile+".xml"))
		if err != nil {
			t.Fatal(err)
		}
		alone, err := ParseBytes(xml)
		if err != nil {
			t.Fatalf("%s alone: %v", profile, err)
		}
		for _, fileName := range []string{"factur-x.xml", "ZUGFeRD-invoice.xml", "zugferd-invoice.xml", "xrechnung.xml"} {
			pdf := facturXPDF(t, fileName, xml, "")
			got := readPDFFlow(t, pdf)
			if len(got) != 1 || !bytes.Equal(got[0].Data, pdf) {
				t.Fatalf("%s %s: %+v", profile, fileName, got)
			}
			e := got[0]
			if profile == "minimum" {
				if e.Err == nil || e.Err.Code != flowgate.CodeProfile {
					t.Errorf("%s %s: got %+v, want FLX-PROFIL", profile, fileName, e.Err)
				}
				continue
			}
			if e.Err != nil || !sameInvoice(e.Invoice, alone) || e.Invoice.Syntax != "facturx" {
				t.Errorf("%s %s: got %v, or an invoice other than the XML's", profile, fileName, e.Err)
			}
		}
	}
}

// TestHostilePDF: PDFs that are no readable Factur-X are refused FLX-PDF
// with the reason in both languages, whatever they declare, and reading
// them allocates a bounded number of bytes: an embedded file or an object
// stream inflating 200 MiB is stopped at MaxDocumentSize.
func TestHostilePDF(t *testing.T) {
	xml, err := os.ReadFile(corpus.Need(t, "facturx", "xml", "factur-x-en16931.xml"))
	if err != nil {
		t.Fatal(err)
	}
	valid := facturXPDF(t, "factur-x.xml", xml, "")
	if e := parsePDF("", valid); e.Err != nil {
		t.Fatalf("built PDF: %v", e.Err)
	}
	bomb := deflateZeros(t, 200<<20)
	var encrypted bytes.Buffer
	conf := model.NewAESConfiguration("", "owner", 256)
	conf.ValidationMode = model.ValidationRelaxed
	api.DisableConfigDir()
	if err := api.Encrypt(bytes.NewReader(valid), &encrypted, conf); err != nil {
		t.Fatalf("encrypt: %v", err)
	}
	var many strings.Builder
	var manyObjs []pdfObj
	for i := range 10000 {
		fmt.Fprintf(&many, "(f%05d.txt) << /Type /Filespec /F (f%05d.txt) /EF << /F 4 0 R >> >> ", i, i)
	}
	manyObjs = append(manyObjs,
		pdfObj{body: "<< /Type /Catalog /Pages 2 0 R /Names << /EmbeddedFiles << /Names [" + many.String() + "] >> >> >>"},
		pdfObj{body: "<< /Type /Pages /Kids [3 0 R] /Count 1 >>"},
		pdfObj{body: "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] >>"},
		pdfObj{body: "<< /Type /EmbeddedFile /Length 1 >>", stream: []byte("x")})
	cyclic := makePDF(
		pdfObj{body: "<< /Type /Catalog /Pages 2 0 R /Names << /EmbeddedFiles 4 0 R >> >>"},
		pdfObj{body: "<< /Type /Pages /Kids [3 0 R] /Count 1 >>"},
		pdfObj{body: "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] >>"},
		pdfObj{body: "<< /Kids [4 0 R 4 0 R] >>"})
	objStm := deflateFill(t, "5 0\n<< /EmbeddedFiles << /Names [] >> >>", ' ', 200<<20)
	if e := parsePDF("", makeObjStmPDF(zdeflate(t, []byte("5 0\n<< /EmbeddedFiles << /Names [] >> >>")), 4)); e.Err == nil ||
		!strings.Contains(e.Err.Message, "no embedded invoice") {
		t.Fatalf("object stream PDF not read: %+v", e.Err)
	}
	for _, c := range []struct {
		name, fr string
		pdf      []byte
	}{
		{"truncated", "", valid[:len(valid)/2]},
		{"header only", "", []byte("%PDF-1.7\n")},
		{"no attachment", "aucune facture jointe", makePDF(
			pdfObj{body: "<< /Type /Catalog /Pages 2 0 R >>"},
			pdfObj{body: "<< /Type /Pages /Kids [3 0 R] /Count 1 >>"},
			pdfObj{body: "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] >>"})},
		{"other attachment only", "aucune facture jointe", facturXPDF(t, "bon-de-livraison.xml", xml, "")},
		{"encrypted", "chiffré", encrypted.Bytes()},
		{"declared 200 MiB", "de plus de 20 Mio", facturXPDF(t, "factur-x.xml", xml, "/Params << /Size 209715200 >>")},
		{"inflates 200 MiB", "", makePDF(
			pdfObj{body: "<< /Type /Catalog /Pages 2 0 R /Names << /EmbeddedFiles << /Names [(factur-x.xml) 4 0 R] >> >> >>"},
			pdfObj{body: "<< /Type /Pages /Kids [3 0 R] /Count 1 >>"},
			pdfObj{body: "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] >>"},
			pdfObj{body: "<< /Type /Filespec /F (factur-x.xml) /EF << /F 5 0 R >> >>"},
			pdfObj{body: fmt.Sprintf("<< /Type /EmbeddedFile /Filter /FlateDecode /Length %d >>", len(bomb)), stream: bomb})},
		{"object stream inflates 200 MiB", "au-delà des limites", makeObjStmPDF(objStm, 4)},
		{"10,000 attachments", "aucune facture jointe", makePDF(manyObjs...)},
		{"cyclic name tree", "", cyclic},
	} {
		var e Entry
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		got := readPDFFlow(t, c.pdf)
		runtime.ReadMemStats(&after)
		if len(got) != 1 {
			t.Errorf("%s: %d entries", c.name, len(got))
			continue
		}
		e = got[0]
		if e.Err == nil || e.Err.Code != flowgate.CodePDF || e.Err.Message == "" || !strings.Contains(e.Err.MessageFR, c.fr) {
			t.Errorf("%s: got %+v, want FLX-PDF %q", c.name, e.Err, c.fr)
			continue
		}
		// A 200 MiB expansion held in memory allocates over 500 MiB (seen
		// without the limits); the 20 MiB limit lets pdfcpu's decoder grow
		// its buffer past it a few times: 65 MiB, 130 MiB under -race.
		if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 192<<20 {
			t.Errorf("%s: %d MiB allocated", c.name, alloc>>20)
		}
		t.Logf("%s: %s (%d KiB allocated)", c.name, e.Err.Message, (after.TotalAlloc-before.TotalAlloc)>>10)
	}
}
