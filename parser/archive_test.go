package parser

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"strings"
	"testing"
)

// makeTar is makeTarGz without the gzip: a POSIX tar, end marker and
// padding included.
func makeTar(t testing.TB, members ...member) []byte {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, m := range members {
		h := &tar.Header{Name: m.name, Mode: 0o644, Size: int64(len(m.body)), Typeflag: tar.TypeReg, Format: tar.FormatUSTAR}
		if m.mode != 0 {
			h.Typeflag, h.Size = byte(m.mode), 0
		}
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		if h.Typeflag == tar.TypeReg {
			tw.Write([]byte(m.body))
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	// tar(1) pads an archive to 20 blocks.
	if pad := len(buf.Bytes()) % 10240; pad != 0 {
		buf.Write(make([]byte, 10240-pad))
	}
	return buf.Bytes()
}

func gzipped(t testing.TB, data []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	gz := gzip.NewWriter(&buf)
	gz.Write(data)
	gz.Close()
	return buf.Bytes()
}

func cat(parts ...[]byte) []byte { return bytes.Join(parts, nil) }

// TestTarConcatenated: an archive appended to another is read to its end,
// as GNU tar --ignore-zeros reads it, never cut at the first end marker;
// what follows an end marker and is no tar is refused.
func TestTarConcatenated(t *testing.T) {
	one := makeTar(t, member{name: "a.xml", body: invoiceDoc("A")}, member{name: "b.xml", body: invoiceDoc("B")})
	two := makeTar(t, member{name: "c.xml", body: invoiceDoc("C")})
	all := []string{"a.xml:A", "b.xml:B", "c.xml:C"}
	tests := map[string]struct {
		data []byte
		want []string
	}{
		"cat a.tar b.tar":               {cat(one, two), all},
		"two gzip members":              {cat(gzipped(t, one), gzipped(t, two)), all},
		"gzip of cat a.tar b.tar":       {gzipped(t, cat(one, two)), all},
		"tar without padding":           {cat(one[:2*1024+1024], two), all},
		"end marker, then garbage":      {cat(one, []byte(strings.Repeat("garbage!", 64))), []string{"a.xml:A", "b.xml:B", ":FLX-ARCHIVE"}},
		"end marker, then a short tail": {cat(one, []byte("tail")), []string{"a.xml:A", "b.xml:B", ":FLX-ARCHIVE"}},
		"gzip, then garbage":            {cat(gzipped(t, one), []byte("garbage")), []string{"a.xml:A", "b.xml:B", ":FLX-ARCHIVE"}},
		"zero padding only":             {cat(one, make([]byte, 4096)), []string{"a.xml:A", "b.xml:B"}},
	}
	for name, tt := range tests {
		got := collect(t, tt.data, DefaultLimits)
		if !equal(got, tt.want) {
			t.Errorf("%s: got %q, want %q", name, got, tt.want)
		}
	}
	// The appended archive counts against the same limits.
	lim := DefaultLimits
	lim.Entries = 2
	if got := collect(t, cat(one, two), lim); !equal(got, []string{"a.xml:A", "b.xml:B", "c.xml:FLX-ARCHIVE"}) {
		t.Errorf("entry limit across appended archives: got %q", got)
	}
	var refused []Entry
	ReadFlow(bytes.NewReader(cat(one, []byte("tail"))), int64(len(one)+4), func(e Entry) error {
		if e.Err != nil {
			refused = append(refused, e)
		}
		return nil
	})
	if len(refused) != 1 || !strings.Contains(refused[0].Err.Message, "after the end of the tar archive") {
		t.Errorf("refusal %+v", refused)
	}
}

// TestPlainTar: an uncompressed tar is an archive, read like a tar.gz.
func TestPlainTar(t *testing.T) {
	data := makeTar(t, member{name: "a.xml", body: invoiceDoc("A")}, member{name: "../x.xml", body: invoiceDoc("X")},
		member{name: "b.xml", body: invoiceDoc("B")})
	if c := Detect(data[:headSize]); c != ContainerTar {
		t.Fatalf("Detect: %s", c)
	}
	if got, want := collect(t, data, DefaultLimits), []string{"a.xml:A", "../x.xml:FLX-ARCHIVE", "b.xml:B"}; !equal(got, want) {
		t.Errorf("got %q, want %q", got, want)
	}
	// A tar inside a zip is a nested archive.
	nested := makeZip(t, member{name: "lot.tar", body: string(data)})
	if got := collect(t, nested, DefaultLimits); !equal(got, []string{"lot.tar:FLX-ARCHIVE"}) {
		t.Errorf("nested tar: got %q", got)
	}
}

// TestEmptyArchive: an archive with no member, or only members that are
// skipped, says so.
func TestEmptyArchive(t *testing.T) {
	for name, data := range map[string][]byte{
		"zip":             makeZip(t),
		"zip of folders":  makeZip(t, member{name: "lot/"}, member{name: "lot/sous/"}),
		"zip of metadata": makeZip(t, member{name: "__MACOSX/._a.xml", body: "x"}, member{name: ".DS_Store", body: "x"}),
		"tar.gz":          makeTarGz(t),
		"tar.gz, folders": makeTarGz(t, member{name: "lot/", mode: tar.TypeDir}),
		"tar":             makeTar(t, member{name: "lot/", mode: tar.TypeDir}),
		"empty gzip":      gzipped(t, nil),
		"empty tar":       make([]byte, 10240), // what `tar -cf x.tar -T /dev/null` writes
	} {
		var got []Entry
		ReadFlow(bytes.NewReader(data), int64(len(data)), func(e Entry) error { got = append(got, e); return nil })
		if len(got) != 1 || got[0].Err == nil || got[0].Err.Code != "FLX-ARCHIVE" || got[0].Err.MessageFR != "archive vide : aucune facture" ||
			got[0].Err.Message != "empty archive: no invoice" {
			t.Errorf("%s: got %+v", name, got)
		}
	}
}

// TestPDF: a PDF is read as a Factur-X, not called malformed XML: one
// with no embedded invoice is refused as such (FLX-PDF), plain or in an
// archive.
func TestPDF(t *testing.T) {
	pdf := "%PDF-1.7\n%âãÏÓ\n1 0 obj\n<< /Type /Catalog >>\nendobj\n"
	for name, data := range map[string][]byte{
		"plain":     []byte(pdf),
		"in a zip":  makeZip(t, member{name: "f.pdf", body: pdf}),
		"in a tar":  makeTarGz(t, member{name: "f.pdf", body: pdf}),
		"too large": []byte(pdf + strings.Repeat(" ", MaxDocumentSize)),
	} {
		var got []Entry
		ReadFlow(bytes.NewReader(data), int64(len(data)), func(e Entry) error { got = append(got, e); return nil })
		want := "FLX-PDF"
		if name == "too large" {
			want = "FLX-TAILLE"
		}
		if len(got) != 1 || got[0].Err == nil || got[0].Err.Code != want {
			t.Errorf("%s: got %+v", name, got)
			continue
		}
		if want == "FLX-PDF" && !strings.Contains(got[0].Err.MessageFR, "aucune facture jointe") {
			t.Errorf("%s: %q", name, got[0].Err.MessageFR)
		}
	}
}

// TestLongEntryName: a member's name is quoted in reports, so a name past
// maxNameLen is refused and quoted cut short.
func TestLongEntryName(t *testing.T) {
	long := strings.Repeat("n", 60000) + ".xml"
	for name, data := range map[string][]byte{
		"zip":    makeZip(t, member{name: long, body: invoiceDoc("A")}, member{name: "b.xml", body: invoiceDoc("B")}),
		"tar.gz": makeTarGz(t, member{name: long, body: invoiceDoc("A")}, member{name: "b.xml", body: invoiceDoc("B")}),
	} {
		var got []Entry
		ReadFlow(bytes.NewReader(data), int64(len(data)), func(e Entry) error { got = append(got, e); return nil })
		if len(got) != 2 || got[0].Err == nil || got[0].Err.Code != "FLX-ARCHIVE" || len(got[0].Name) > maxNameLen+3 ||
			len(got[0].Err.Entry) > maxNameLen+3 || got[1].Invoice == nil {
			t.Errorf("%s: got %d entries, first named %d bytes", name, len(got), len(got[0].Name))
		}
	}
}
