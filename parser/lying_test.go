package parser

import (
	"archive/zip"
	"bytes"
	"compress/flate"
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"math/rand/v2"
	"strings"
	"testing"
)

// rawMember is a zip member written as given: its compressed bytes and
// whatever sizes and checksum its headers should declare.
type rawMember struct {
	name         string
	method       uint16
	data         []byte // compressed
	csize, usize uint64 // declared
	crc          uint32 // declared
}

func makeRawZip(t testing.TB, members ...rawMember) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for _, m := range members {
		w, err := zw.CreateRaw(&zip.FileHeader{Name: m.name, Method: m.method,
			CompressedSize64: m.csize, UncompressedSize64: m.usize, CRC32: m.crc})
		if err != nil {
			t.Fatal(err)
		}
		w.Write(m.data)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func deflate(t testing.TB, b []byte) []byte {
	t.Helper()
	var c bytes.Buffer
	w, _ := flate.NewWriter(&c, flate.BestSpeed)
	w.Write(b)
	w.Close()
	return c.Bytes()
}

// honest is a member that says the truth about itself.
func honest(t testing.TB, name string, body []byte) rawMember {
	c := deflate(t, body)
	return rawMember{name: name, method: zip.Deflate, data: c, csize: uint64(len(c)), usize: uint64(len(body)), crc: crc32.ChecksumIEEE(body)}
}

// padded is an invoice padded with comments to about size bytes, which
// deflates about 70:1: high, and honest.
func padded(number string, size int) []byte {
	rng := rand.New(rand.NewPCG(1, uint64(size)))
	var pad strings.Builder
	for pad.Len() < size {
		pad.WriteString("<!-- " + strings.Repeat(" ", 200))
		pad.WriteByte(byte('a' + rng.IntN(26)))
		pad.WriteByte(byte('a' + rng.IntN(26)))
		pad.WriteString(" -->\n")
	}
	return []byte(strings.Replace(invoiceDoc(number), "</Invoice>", pad.String()+"</Invoice>", 1))
}

func readCounting(t testing.TB, data []byte, lim Limits) (got []string, inflated int64) {
	t.Helper()
	inflated, err := readFlow(bytes.NewReader(data), int64(len(data)), lim, func(e Entry) error {
		if e.Err != nil {
			got = append(got, e.Name+":"+e.Err.Code)
		} else {
			got = append(got, e.Name+":"+e.Invoice.Number)
		}
		if len(e.Data) > MaxDocumentSize {
			t.Errorf("%s: %d bytes held", e.Name, len(e.Data))
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return got, inflated
}

// TestZipLyingCompressedSize: members declaring a compressed size 50 times
// their real one, so that 19 MiB from 20 KB looks like an honest 48:1 (the
// repro: 1 MB, 50 × 19 MiB, 1.8 GiB of memory). The ratio is measured on the
// bytes actually consumed and inflated, and reading stops there.
func TestZipLyingCompressedSize(t *testing.T) {
	body := make([]byte, 19<<20)
	c := deflate(t, body)
	var members []rawMember
	const n = 50 // as in the repro
	for i := range n {
		members = append(members, rawMember{name: fmt.Sprintf("z%d.xml", i), method: zip.Deflate, data: c,
			csize: uint64(len(c)) * 50, usize: uint64(len(body)), crc: crc32.ChecksumIEEE(body)})
	}
	data := makeRawZip(t, members...)
	got, inflated := readCounting(t, data, DefaultLimits)
	for i, g := range got {
		if g != fmt.Sprintf("z%d.xml:FLX-ARCHIVE", i) {
			t.Errorf("entry %d: %s, want FLX-ARCHIVE", i, g)
		}
	}
	if len(got) != n {
		t.Errorf("%d entries, want %d", len(got), n)
	}
	// Each stops just past the ratio floor: 1 MiB and one read.
	if limit := int64(n) * (DefaultLimits.RatioFloor + 64<<10); inflated > limit {
		t.Errorf("%d bytes inflated from a %d-byte zip, want at most %d", inflated, len(data), limit)
	}
	t.Logf("%d-byte zip declaring %d × 19 MiB: %d bytes inflated", len(data), n, inflated)
}

// TestZipLyingExpandedSize: a member declaring 1 KB that inflates past
// MaxDocumentSize is cut there (FLX-TAILLE); one that inflates to more than
// it declared, under the limits, is unreadable (FLX-ARCHIVE).
func TestZipLyingExpandedSize(t *testing.T) {
	big := padded("BIG", MaxDocumentSize+(1<<20))
	m := honest(t, "big.xml", big)
	m.usize = 1000
	small := padded("S", 2<<20)
	m2 := honest(t, "small.xml", small)
	m2.usize = 1000
	data := makeRawZip(t, m, m2, honest(t, "ok.xml", []byte(invoiceDoc("OK"))))
	got, inflated := readCounting(t, data, DefaultLimits)
	want := []string{"big.xml:FLX-TAILLE", "small.xml:FLX-ARCHIVE", "ok.xml:OK"}
	if !equal(got, want) {
		t.Errorf("got %q, want %q", got, want)
	}
	if limit := int64(MaxDocumentSize+64<<10) + int64(len(small)+len(invoiceDoc("OK"))); inflated > limit {
		t.Errorf("%d bytes inflated, want at most %d", inflated, limit)
	}
}

// TestZipHonestHighRatio: members that deflate 70:1 are read, one at a time,
// each inflated once.
func TestZipHonestHighRatio(t *testing.T) {
	var members []rawMember
	var total int64
	for i := range 4 {
		body := padded(fmt.Sprint(i), 3<<20)
		total += int64(len(body))
		members = append(members, honest(t, fmt.Sprintf("f%d.xml", i), body))
	}
	data := makeRawZip(t, members...)
	if ratio := total / int64(len(data)); ratio < 50 || ratio > 99 {
		t.Fatalf("ratio %d:1, want a high but honest one", ratio)
	}
	got, inflated := readCounting(t, data, DefaultLimits)
	if want := []string{"f0.xml:0", "f1.xml:1", "f2.xml:2", "f3.xml:3"}; !equal(got, want) {
		t.Errorf("got %q, want %q", got, want)
	}
	if inflated != total {
		t.Errorf("%d bytes inflated, want %d (each member once)", inflated, total)
	}
}

// TestZipExpandedMeasured: the flow's expanded budget counts the bytes
// inflated, and reading stops at it.
func TestZipExpandedMeasured(t *testing.T) {
	lim := DefaultLimits
	lim.Expanded = 5 << 20
	var members []rawMember
	for i := range 4 {
		members = append(members, honest(t, fmt.Sprintf("f%d.xml", i), padded(fmt.Sprint(i), 2<<20)))
	}
	got, inflated := readCounting(t, makeRawZip(t, members...), lim)
	if want := []string{"f0.xml:0", "f1.xml:1", "f2.xml:FLX-ARCHIVE", "f3.xml:FLX-ARCHIVE"}; !equal(got, want) {
		t.Errorf("got %q, want %q", got, want)
	}
	if inflated > lim.Expanded+1 {
		t.Errorf("%d bytes inflated, want at most %d", inflated, lim.Expanded+1)
	}
}

// TestZipOverlappingEntries: a central directory that lists one member's
// bytes 40 times (each entry an honest 70:1) expands the file far past its
// size; the flow's ratio, measured on what was inflated, stops it.
func TestZipOverlappingEntries(t *testing.T) {
	data := makeRawZip(t, honest(t, "e00.xml", padded("A", 2<<20)))
	data = repeatEntry(t, data, 40)
	got, inflated := readCounting(t, data, DefaultLimits)
	if len(got) < 3 || got[0] != "e00.xml:A" {
		t.Fatalf("got %q", got)
	}
	for _, g := range got[2:] {
		if !strings.HasSuffix(g, ":FLX-ARCHIVE") {
			t.Errorf("%s, want FLX-ARCHIVE", g)
		}
	}
	if limit := 3 * int64(len(data)) * DefaultLimits.Ratio / 2; inflated > limit {
		t.Errorf("%d bytes inflated from %d, want at most %d", inflated, len(data), limit)
	}
	t.Logf("%q: %d bytes inflated from %d", got[:3], inflated, len(data))
}

// repeatEntry rewrites a one-member zip so that its central directory lists
// the member n times, under names e00.xml, e01.xml...: every record points
// to the same bytes.
func repeatEntry(t testing.TB, data []byte, n int) []byte {
	t.Helper()
	cd := bytes.Index(data, []byte("PK\x01\x02"))
	eocd := bytes.LastIndex(data, []byte("PK\x05\x06"))
	if cd < 0 || eocd < 0 {
		t.Fatal("no central directory")
	}
	rec := data[cd:eocd]
	out := bytes.Clone(data[:cd])
	for i := range n {
		r := bytes.Replace(rec, []byte("e00.xml"), []byte(fmt.Sprintf("e%02d.xml", i)), 1)
		out = append(out, r...)
	}
	end := bytes.Clone(data[eocd:])
	binary.LittleEndian.PutUint16(end[8:], uint16(n))
	binary.LittleEndian.PutUint16(end[10:], uint16(n))
	binary.LittleEndian.PutUint32(end[12:], uint32(n*len(rec)))
	binary.LittleEndian.PutUint32(end[16:], uint32(cd))
	return append(out, end...)
}

func TestZipMethodAndChecksum(t *testing.T) {
	doc := []byte(invoiceDoc("A"))
	bad := honest(t, "crc.xml", doc)
	bad.crc ^= 1
	bzip := honest(t, "bzip2.xml", doc)
	bzip.method = 12
	stored := rawMember{name: "stored.xml", method: zip.Store, data: doc, csize: uint64(len(doc)), usize: uint64(len(doc)), crc: crc32.ChecksumIEEE(doc)}
	// A zero CRC is no exemption (archive/zip skips the check then).
	zero := honest(t, "crc0.xml", doc)
	zero.crc = 0
	got, _ := readCounting(t, makeRawZip(t, bad, bzip, stored, zero), DefaultLimits)
	if want := []string{"crc.xml:FLX-ARCHIVE", "bzip2.xml:FLX-ARCHIVE", "stored.xml:A", "crc0.xml:FLX-ARCHIVE"}; !equal(got, want) {
		t.Errorf("got %q, want %q", got, want)
	}
}
