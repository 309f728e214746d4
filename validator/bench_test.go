package validator

import (
	"archive/zip"
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"flowgate/parser"
)

// BenchmarkParseValidate: parse and validate one 21 KB official example
// invoice, the figure compared with `xmllint --noout` in BENCHMARKS.md.
func BenchmarkParseValidate(b *testing.B) {
	dir := needCorpus(b)
	data, err := os.ReadFile(filepath.Join(dir, "ubl-examples", "ubl-tc434-example1.xml"))
	if err != nil {
		b.Fatal(err)
	}
	in := Input{Directory: testDirectory(), History: MemoryHistory{}}
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		inv, err := parser.ParseBytes(data)
		if err != nil {
			b.Fatal(err)
		}
		if len(Validate(inv, in)) == 0 {
			b.Fatal("no findings: the example has a Dutch buyer, it must be rejected")
		}
	}
	b.ReportMetric(float64(b.Elapsed().Microseconds())/float64(b.N), "µs/invoice")
}

// BenchmarkFlowZip500 checks one 500-invoice .zip flow read from disk, and
// reports the process's peak resident set (VmHWM), an upper bound of what
// the flow needs.
func BenchmarkFlowZip500(b *testing.B) {
	dir := needCorpus(b)
	doc, err := os.ReadFile(filepath.Join(dir, "ubl-examples", "ubl-tc434-example1.xml"))
	if err != nil {
		b.Fatal(err)
	}
	path := filepath.Join(b.TempDir(), "lot-500.zip")
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for i := range 500 {
		w, _ := zw.Create(fmt.Sprintf("facture-%03d.xml", i))
		w.Write(bytes.Replace(doc, []byte("<cbc:ID>12115118</cbc:ID>"), []byte(fmt.Sprintf("<cbc:ID>F%06d</cbc:ID>", i)), 1))
	}
	zw.Close()
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		b.Fatal(err)
	}
	in := Input{Directory: testDirectory()}
	b.ReportAllocs()
	for b.Loop() {
		f, err := os.Open(path)
		if err != nil {
			b.Fatal(err)
		}
		fi, _ := f.Stat()
		in.History = MemoryHistory{}
		rep, err := CheckFlow("lot-500.zip", f, fi.Size(), in, nil)
		f.Close()
		if err != nil || len(rep.Invoices) != 500 {
			b.Fatalf("%v, %d invoices", err, len(rep.Invoices))
		}
	}
	b.ReportMetric(float64(500*b.N)/b.Elapsed().Seconds(), "invoices/s")
	b.ReportMetric(peakRSSMB(b), "peak-RSS-MB")
}

func peakRSSMB(b *testing.B) float64 {
	status, err := os.ReadFile("/proc/self/status")
	if err != nil {
		b.Skip("no /proc/self/status")
	}
	for _, line := range strings.Split(string(status), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, _ := strconv.Atoi(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")))
			return float64(kb) / 1024
		}
	}
	return 0
}
