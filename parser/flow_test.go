package parser

import (
	"archive/tar"
	"archive/zip"
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"
)

func invoiceDoc(number string) string {
	return `<?xml version="1.0" encoding="UTF-8"?>
<Invoice xmlns="urn:oasis:names:specification:ubl:schema:xsd:Invoice-2" ` + cbcNS + `><cbc:ID>` + number + `</cbc:ID></Invoice>`
}

type member struct {
	name string
	body string
	mode int64 // tar type flag or zip mode bits; 0 = regular file
	link string
}

func makeZip(t testing.TB, members ...member) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for _, m := range members {
		h := &zip.FileHeader{Name: m.name, Method: zip.Deflate}
		if m.mode != 0 {
			h.CreatorVersion = 3 << 8 // Unix, so the mode bits are read
			h.ExternalAttrs = uint32(m.mode) << 16
		}
		w, err := zw.CreateHeader(h)
		if err != nil {
			t.Fatal(err)
		}
		io.WriteString(w, m.body)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func makeTarGz(t testing.TB, members ...member) []byte {
	t.Helper()
	var buf bytes.Buffer
	gz := gzip.NewWriter(&buf)
	tw := tar.NewWriter(gz)
	for _, m := range members {
		h := &tar.Header{Name: m.name, Mode: 0o644, Size: int64(len(m.body)), Typeflag: tar.TypeReg}
		if m.mode != 0 {
			h.Typeflag, h.Size, h.Linkname = byte(m.mode), 0, m.link
		}
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		if h.Typeflag == tar.TypeReg {
			io.WriteString(tw, m.body)
		}
	}
	tw.Close()
	gz.Close()
	return buf.Bytes()
}

// collect reads a flow and returns, per entry, "name:number" for invoices
// and "name:CODE" for errors.
func collect(t testing.TB, data []byte, lim Limits) []string {
	t.Helper()
	var out []string
	err := ReadFlowLimits(bytes.NewReader(data), int64(len(data)), lim, func(e Entry) error {
		if e.Err != nil {
			if e.Err.Entry != e.Name {
				t.Errorf("entry %q: error names entry %q", e.Name, e.Err.Entry)
			}
			out = append(out, e.Name+":"+e.Err.Code)
		} else {
			out = append(out, e.Name+":"+e.Invoice.Number)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func equal(a, b []string) bool { return strings.Join(a, "|") == strings.Join(b, "|") }

func TestDetect(t *testing.T) {
	for _, tt := range []struct {
		head string
		want Container
	}{{"PK\x03\x04", ContainerZip}, {"PK\x05\x06", ContainerZip}, {"\x1f\x8b\x08", ContainerTarGz}, {"<?xm", ContainerXML}, {"", ContainerXML},
		{"%PDF-1.7", ContainerPDF}, {string(makeTar(t, member{name: "a.xml", body: "x"})[:headSize]), ContainerTar},
		{"<a>" + strings.Repeat(" ", 254) + "ustar\x0000" + strings.Repeat(" ", 300) + "</a>", ContainerXML}} {
		if got := Detect([]byte(tt.head)); got != tt.want {
			t.Errorf("Detect(%q) = %s, want %s", tt.head, got, tt.want)
		}
	}
}

func TestZipEntries(t *testing.T) {
	data := makeZip(t,
		member{name: "lot/"},
		member{name: "lot/a.xml", body: invoiceDoc("A")},
		member{name: "../evil.xml", body: invoiceDoc("X")},
		member{name: "lot/../../evil.xml", body: invoiceDoc("X")},
		member{name: "/etc/evil.xml", body: invoiceDoc("X")},
		member{name: `..\evil.xml`, body: invoiceDoc("X")},
		member{name: `C:\evil.xml`, body: invoiceDoc("X")},
		member{name: "link.xml", body: "lot/a.xml", mode: 0o120777},
		member{name: "fifo.xml", mode: 0o010644},
		member{name: "broken.xml", body: "<Invoice"},
		member{name: "nested.zip", body: string(makeZip(t, member{name: "x.xml", body: invoiceDoc("N")}))},
		member{name: "__MACOSX/lot/._a.xml", body: "\x00\x05\x16\x07"},
		member{name: "lot/b.xml", body: invoiceDoc("B")},
	)
	got := collect(t, data, DefaultLimits)
	want := []string{"lot/a.xml:A", "../evil.xml:FLX-ARCHIVE", "lot/../../evil.xml:FLX-ARCHIVE", "/etc/evil.xml:FLX-ARCHIVE",
		`..\evil.xml:FLX-ARCHIVE`, `C:\evil.xml:FLX-ARCHIVE`, "link.xml:FLX-ARCHIVE", "fifo.xml:FLX-ARCHIVE",
		"broken.xml:FLX-XML", "nested.zip:FLX-ARCHIVE", "lot/b.xml:B"}
	if !equal(got, want) {
		t.Errorf("got  %q\nwant %q", got, want)
	}
}

func TestZipEntryLimit(t *testing.T) {
	var members []member
	for i := range 503 {
		members = append(members, member{name: fmt.Sprintf("f%03d.xml", i), body: invoiceDoc(fmt.Sprint(i))})
	}
	got := collect(t, makeZip(t, members...), DefaultLimits)
	if len(got) != 503 || got[499] != "f499.xml:499" || got[500] != "f500.xml:FLX-ARCHIVE" || got[502] != "f502.xml:FLX-ARCHIVE" {
		t.Errorf("got %d entries, around the limit %q", len(got), got[498:])
	}
}

// TestZipDirectoryBomb: a zip declaring far more members than allowed is
// refused before archive/zip builds its directory.
func TestZipDirectoryBomb(t *testing.T) {
	// A zip's first bytes and an end record declaring too many members,
	// written by hand: the members need not exist to be refused.
	data := make([]byte, 34+22)
	copy(data, "PK\x03\x04")
	eocd := data[34:]
	copy(eocd, "PK\x05\x06")
	binary.LittleEndian.PutUint16(eocd[8:], maxDirectoryEntries+1)
	binary.LittleEndian.PutUint16(eocd[10:], maxDirectoryEntries+1)
	if n, ok := declaredEntries(bytes.NewReader(data), int64(len(data))); !ok || n != maxDirectoryEntries+1 {
		t.Fatalf("declared %d, %v", n, ok)
	}
	var got []Entry
	ReadFlow(bytes.NewReader(data), int64(len(data)), func(e Entry) error { got = append(got, e); return nil })
	if len(got) != 1 || got[0].Err == nil || got[0].Err.Code != "FLX-ARCHIVE" || !strings.Contains(got[0].Err.Message, "declaring 10001 entries") {
		t.Errorf("got %+v", got)
	}
	// Past 65,535 members the count is in the zip64 record: end records
	// written by hand (zip64 end record, locator, end of central directory).
	z64 := make([]byte, 56+20+22)
	copy(z64, "PK\x06\x06")
	binary.LittleEndian.PutUint64(z64[32:], 0x10000+5)
	copy(z64[56:], "PK\x06\x07")
	binary.LittleEndian.PutUint64(z64[56+8:], 0) // offset of the zip64 end record
	copy(z64[76:], "PK\x05\x06")
	binary.LittleEndian.PutUint16(z64[76+10:], 0xFFFF)
	if n, ok := declaredEntries(bytes.NewReader(z64), int64(len(z64))); !ok || n != 0x10000+5 {
		t.Errorf("zip64: declared %d, %v", n, ok)
	}
	// A normal archive declares its count.
	small := makeZip(t, member{name: "a.xml", body: invoiceDoc("A")})
	if n, ok := declaredEntries(bytes.NewReader(small), int64(len(small))); !ok || n != 1 {
		t.Errorf("declared %d, %v", n, ok)
	}
}

func TestRefusalsAreSummarised(t *testing.T) {
	var members []member
	for i := range 120 {
		members = append(members, member{name: fmt.Sprintf("../f%03d.xml", i), body: "x"})
	}
	got := collect(t, makeZip(t, members...), DefaultLimits)
	if len(got) != maxErrorEntries+1 || got[len(got)-1] != ":FLX-ARCHIVE" {
		t.Errorf("got %d entries, last %q; want %d named and one summary", len(got), got[len(got)-1], maxErrorEntries)
	}
}

func TestZipBomb(t *testing.T) {
	zeros := strings.Repeat("\x00", 4<<20) // deflates about 1000:1
	data := makeZip(t, member{name: "a.xml", body: invoiceDoc("A")}, member{name: "bomb.xml", body: zeros}, member{name: "b.xml", body: invoiceDoc("B")})
	got := collect(t, data, DefaultLimits)
	want := []string{"a.xml:A", "bomb.xml:FLX-ARCHIVE", "b.xml:B"}
	if !equal(got, want) {
		t.Errorf("got %q, want %q", got, want)
	}
}

func TestZipExpandedLimit(t *testing.T) {
	lim := DefaultLimits
	lim.Expanded = 3 * int64(len(invoiceDoc("A")))
	data := makeZip(t, member{name: "a.xml", body: invoiceDoc("A")}, member{name: "b.xml", body: invoiceDoc("B")},
		member{name: "c.xml", body: invoiceDoc("C")}, member{name: "d.xml", body: invoiceDoc("D")})
	got := collect(t, data, lim)
	want := []string{"a.xml:A", "b.xml:B", "c.xml:C", "d.xml:FLX-ARCHIVE"}
	if !equal(got, want) {
		t.Errorf("got %q, want %q", got, want)
	}
}

func TestBrokenZip(t *testing.T) {
	data := makeZip(t, member{name: "a.xml", body: invoiceDoc("A")})
	for name, broken := range map[string][]byte{
		"truncated":        data[:len(data)/2],
		"no central dir":   data[:len(data)-22],
		"corrupt deflate":  corruptFirstEntry(data),
		"only a signature": []byte("PK\x03\x04"),
	} {
		got := collect(t, broken, DefaultLimits)
		if len(got) != 1 || !strings.HasSuffix(got[0], ":FLX-ARCHIVE") {
			t.Errorf("%s: got %q, want one FLX-ARCHIVE", name, got)
		}
	}
}

// corruptFirstEntry flips bytes in the compressed data of the first member.
func corruptFirstEntry(data []byte) []byte {
	out := bytes.Clone(data)
	for i := 40; i < 60 && i < len(out); i++ {
		out[i] ^= 0xFF
	}
	return out
}

func TestTarGzEntries(t *testing.T) {
	data := makeTarGz(t,
		member{name: "a.xml", body: invoiceDoc("A")},
		member{name: "../evil.xml", body: invoiceDoc("X")},
		member{name: "/abs.xml", body: invoiceDoc("X")},
		member{name: "sym.xml", mode: tar.TypeSymlink, link: "/etc/passwd"},
		member{name: "hard.xml", mode: tar.TypeLink, link: "a.xml"},
		member{name: "dev.xml", mode: tar.TypeChar},
		member{name: "dir/", mode: tar.TypeDir},
		member{name: "b.xml", body: invoiceDoc("B")},
	)
	got := collect(t, data, DefaultLimits)
	want := []string{"a.xml:A", "../evil.xml:FLX-ARCHIVE", "/abs.xml:FLX-ARCHIVE", "sym.xml:FLX-ARCHIVE",
		"hard.xml:FLX-ARCHIVE", "dev.xml:FLX-ARCHIVE", "b.xml:B"}
	if !equal(got, want) {
		t.Errorf("got  %q\nwant %q", got, want)
	}
}

func TestTarGzBroken(t *testing.T) {
	good := makeTarGz(t, member{name: "a.xml", body: invoiceDoc("A")}, member{name: "b.xml", body: strings.Repeat(" ", 20000) + invoiceDoc("B")})
	var gzOnly bytes.Buffer
	gz := gzip.NewWriter(&gzOnly)
	io.WriteString(gz, invoiceDoc("A"))
	gz.Close()
	tests := map[string]struct {
		data []byte
		want []string
	}{
		"truncated":        {good[:len(good)-40], []string{"a.xml:A", "b.xml:FLX-ARCHIVE", ":FLX-ARCHIVE"}},
		"gzip without tar": {gzOnly.Bytes(), []string{":FLX-ARCHIVE"}},
		"bad gzip header":  {[]byte("\x1f\x8b\x00garbage"), []string{":FLX-ARCHIVE"}},
	}
	for name, tt := range tests {
		if got := collect(t, tt.data, DefaultLimits); !equal(got, tt.want) {
			t.Errorf("%s: got %q, want %q", name, got, tt.want)
		}
	}
}

func TestTarGzBomb(t *testing.T) {
	zeros := strings.Repeat("\x00", 8<<20)
	data := makeTarGz(t, member{name: "a.xml", body: invoiceDoc("A")}, member{name: "bomb.xml", body: zeros}, member{name: "b.xml", body: invoiceDoc("B")})
	got := collect(t, data, DefaultLimits)
	// Reading stops at the bomb: what follows it cannot be trusted to be read cheaply.
	want := []string{"a.xml:A", "bomb.xml:FLX-ARCHIVE"}
	if !equal(got, want) {
		t.Errorf("got %q, want %q", got, want)
	}
}

func TestTarGzExpandedLimit(t *testing.T) {
	lim := DefaultLimits
	lim.Expanded = 8 << 10
	data := makeTarGz(t, member{name: "a.xml", body: invoiceDoc("A")}, member{name: "big.xml", body: strings.Repeat(" ", 16<<10) + invoiceDoc("B")})
	got := collect(t, data, lim)
	if len(got) != 2 || got[0] != "a.xml:A" || got[1] != "big.xml:FLX-ARCHIVE" {
		t.Errorf("got %q", got)
	}
}

// failingReader fails every read after the first n bytes, like a disk error.
type failingReader struct {
	data []byte
	n    int64
}

var errDisk = errors.New("input/output error")

func (f failingReader) ReadAt(p []byte, off int64) (int, error) {
	if off+int64(len(p)) > f.n {
		return 0, errDisk
	}
	return copy(p, f.data[off:]), nil
}

func TestReadErrorIsNotContent(t *testing.T) {
	for name, data := range map[string][]byte{
		"xml": []byte(invoiceDoc("A")),
		"zip": makeZip(t, member{name: "a.xml", body: invoiceDoc("A")}),
	} {
		err := ReadFlow(failingReader{data, 10}, int64(len(data)), func(Entry) error { return nil })
		var ioe *IOError
		if !errors.As(err, &ioe) || !errors.Is(err, errDisk) {
			t.Errorf("%s: got %v, want an *IOError wrapping the disk error", name, err)
		}
	}
}

func TestCallbackErrorStops(t *testing.T) {
	stop := errors.New("stop")
	data := makeZip(t, member{name: "a.xml", body: invoiceDoc("A")}, member{name: "b.xml", body: invoiceDoc("B")})
	calls := 0
	err := ReadFlow(bytes.NewReader(data), int64(len(data)), func(Entry) error { calls++; return stop })
	if !errors.Is(err, stop) || calls != 1 {
		t.Errorf("err %v after %d calls", err, calls)
	}
}

func TestEntryKeepsOriginalBytes(t *testing.T) {
	doc := invoiceDoc("A")
	data := makeZip(t, member{name: "a.xml", body: doc})
	ReadFlow(bytes.NewReader(data), int64(len(data)), func(e Entry) error {
		if string(e.Data) != doc {
			t.Errorf("entry data differs from the original")
		}
		return nil
	})
}
