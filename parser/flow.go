package parser

import (
	"archive/tar"
	"archive/zip"
	"bytes"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"path"
	"strings"

	"flowgate"
)

// Limits on one archive flow (vendors of Chorus Pro cite 500 invoices and
// 1 GB per flow).
const (
	MaxEntries      = 500
	MaxExpanded     = 1 << 30 // bytes, all entries together
	MaxRatio        = 100     // expanded : compressed
	ratioFloor      = 1 << 20 // below this many expanded bytes no ratio is a bomb
	maxErrorEntries = 50      // refused entries named one by one before a summary
)

// Container is the kind of a flow, told from its first bytes, never its name.
type Container string

const (
	ContainerXML   Container = "xml"
	ContainerZip   Container = "zip"
	ContainerTarGz Container = "tar.gz"
)

// Entry is one document of a flow: the file itself, or one member of an
// archive. Exactly one of Invoice and Err is set.
type Entry struct {
	Name    string // name inside the archive; empty for a plain XML file
	Data    []byte // the original bytes, as deposited (nil when unreadable)
	Invoice *flowgate.Invoice
	Err     *flowgate.FlowError
}

// IOError is a failure to read the flow's own bytes (a disk error, say), as
// opposed to content that is bad. It is transient: nothing about the flow
// was decided.
type IOError struct{ Err error }

func (e *IOError) Error() string { return "read flow: " + e.Err.Error() }
func (e *IOError) Unwrap() error { return e.Err }

// Detect tells the container from the first bytes of a flow.
func Detect(head []byte) Container {
	switch {
	case bytes.HasPrefix(head, []byte("PK\x03\x04")), bytes.HasPrefix(head, []byte("PK\x05\x06")):
		return ContainerZip
	case bytes.HasPrefix(head, []byte{0x1f, 0x8b}):
		return ContainerTarGz
	}
	return ContainerXML
}

// ReadFlow reads a flow of size bytes from r and calls fn once per entry, in
// archive order, holding one entry in memory at a time. A broken or unsafe
// entry is reported as an Entry with Err and never stops the others; when
// the archive itself is unreadable, one Entry with an empty Name and Err says
// why. ReadFlow returns an error only when fn does, or as *IOError when r
// fails.
func ReadFlow(r io.ReaderAt, size int64, fn func(Entry) error) error {
	rec := &ioRecorder{r: r}
	head := make([]byte, 4)
	n, _ := rec.ReadAt(head, 0)
	if rec.err != nil {
		return &IOError{rec.err}
	}
	var err error
	switch Detect(head[:n]) {
	case ContainerZip:
		err = readZip(rec, size, fn)
	case ContainerTarGz:
		err = readTarGz(rec, size, fn)
	default:
		err = readPlain(rec, size, fn)
	}
	if err != nil {
		return err
	}
	if rec.err != nil {
		return &IOError{rec.err}
	}
	return nil
}

// ioRecorder remembers the first error of the underlying reader, so that a
// disk failure surfacing through archive/zip is not mistaken for a broken
// archive.
type ioRecorder struct {
	r   io.ReaderAt
	err error
}

func (rec *ioRecorder) ReadAt(p []byte, off int64) (int, error) {
	n, err := rec.r.ReadAt(p, off)
	if err != nil && err != io.EOF && rec.err == nil {
		rec.err = err
	}
	return n, err
}

func readPlain(r io.ReaderAt, size int64, fn func(Entry) error) error {
	if size > MaxDocumentSize {
		return fn(Entry{Err: tooLarge()})
	}
	data := make([]byte, size)
	if _, err := r.ReadAt(data, 0); err != nil && err != io.EOF {
		return &IOError{err}
	}
	return fn(parseEntry("", data))
}

func parseEntry(name string, data []byte) Entry {
	if c := Detect(data); c != ContainerXML {
		return Entry{Name: name, Data: data, Err: archiveError(name,
			"archive imbriquée ("+string(c)+") refusée : déposez les factures XML directement",
			"nested archive ("+string(c)+") refused: deposit the XML invoices directly")}
	}
	inv, err := ParseBytes(data)
	if err != nil {
		fe := err.(*flowgate.FlowError)
		fe.Entry = name
		return Entry{Name: name, Data: data, Err: fe}
	}
	return Entry{Name: name, Data: data, Invoice: inv}
}

func archiveError(entry, fr, en string) *flowgate.FlowError {
	return &flowgate.FlowError{Code: flowgate.CodeArchive, Entry: entry, MessageFR: fr, Message: en}
}

// unsafeName says why an archive member name may not be used, or "" when it
// is a plain relative path. Names are checked with both separators, since
// archives made on Windows use backslashes.
func unsafeName(name string) (fr, en string) {
	if name == "" {
		return "nom d'entrée vide", "empty entry name"
	}
	n := strings.ReplaceAll(name, "\\", "/")
	if strings.HasPrefix(n, "/") || len(n) >= 2 && n[1] == ':' {
		return "chemin absolu refusé", "absolute path refused"
	}
	for _, part := range strings.Split(n, "/") {
		if part == ".." {
			return "chemin contenant « .. » refusé", "path containing '..' refused"
		}
	}
	if strings.ContainsRune(n, 0) {
		return "nom d'entrée invalide", "invalid entry name"
	}
	return "", ""
}

// ignored reports archive members that are desktop metadata, not documents:
// macOS resource forks and Finder files.
func ignored(name string) bool {
	n := strings.ReplaceAll(name, "\\", "/")
	base := path.Base(n)
	return strings.HasPrefix(n, "__MACOSX/") || base == ".DS_Store" || strings.HasPrefix(base, "._")
}

// limits counts what an archive has expanded so far and refuses what is
// over the flow limits. Entries past a limit are each refused by name up to
// maxErrorEntries, then summarised once, so a hostile archive cannot make
// the report itself unbounded.
type limits struct {
	entries  int
	expanded int64
	refused  int
	fn       func(Entry) error
}

func (l *limits) refuse(e Entry) error {
	l.refused++
	if l.refused <= maxErrorEntries {
		return l.fn(e)
	}
	return nil
}

func (l *limits) summary() error {
	if extra := l.refused - maxErrorEntries; extra > 0 {
		return l.fn(Entry{Err: archiveError("",
			fmt.Sprintf("%d autres entrées refusées (limites de l'archive dépassées)", extra),
			fmt.Sprintf("%d more entries refused (archive limits exceeded)", extra))})
	}
	return nil
}

// overLimit says why one more entry may not be read, or "".
func (l *limits) overLimit() (fr, en string) {
	switch {
	case l.entries >= MaxEntries:
		return fmt.Sprintf("au-delà de %d entrées par archive", MaxEntries),
			fmt.Sprintf("beyond %d entries per archive", MaxEntries)
	case l.expanded >= MaxExpanded:
		return fmt.Sprintf("au-delà de %d Gio décompressés par archive", MaxExpanded>>30),
			fmt.Sprintf("beyond %d GiB expanded per archive", MaxExpanded>>30)
	}
	return "", ""
}

func readZip(r io.ReaderAt, size int64, fn func(Entry) error) error {
	zr, err := zip.NewReader(r, size)
	if err != nil && !errors.Is(err, zip.ErrInsecurePath) {
		return fn(Entry{Err: archiveError("", "archive ZIP illisible : "+err.Error(), "unreadable ZIP archive: "+err.Error())})
	}
	l := &limits{fn: fn}
	for _, f := range zr.File {
		if err := readZipEntry(l, f); err != nil {
			return err
		}
	}
	return l.summary()
}

func readZipEntry(l *limits, f *zip.File) error {
	name := f.Name
	if ignored(name) || f.Mode().IsDir() {
		return nil
	}
	if fr, en := unsafeName(name); fr != "" {
		return l.refuse(Entry{Name: name, Err: archiveError(name, fr, en)})
	}
	if !f.Mode().IsRegular() {
		return l.refuse(Entry{Name: name, Err: archiveError(name,
			"lien ou fichier spécial refusé", "link or special file refused")})
	}
	if fr, en := l.overLimit(); fr != "" {
		return l.refuse(Entry{Name: name, Err: archiveError(name, fr, en)})
	}
	l.entries++
	if f.UncompressedSize64 > MaxDocumentSize {
		return l.fn(Entry{Name: name, Err: withEntry(tooLarge(), name)})
	}
	if f.UncompressedSize64 > ratioFloor && f.UncompressedSize64 > MaxRatio*f.CompressedSize64 {
		return l.refuse(Entry{Name: name, Err: archiveError(name,
			fmt.Sprintf("taux de compression supérieur à %d:1 (bombe de décompression ?)", MaxRatio),
			fmt.Sprintf("compression ratio over %d:1 (decompression bomb?)", MaxRatio))})
	}
	if l.expanded+int64(f.UncompressedSize64) > MaxExpanded {
		l.expanded = MaxExpanded
		return l.refuse(Entry{Name: name, Err: archiveError(name, "archive de plus de 1 Gio décompressés", "archive over 1 GiB expanded")})
	}
	rc, err := f.Open()
	if err != nil {
		return l.fn(Entry{Name: name, Err: archiveError(name, "entrée illisible : "+err.Error(), "unreadable entry: "+err.Error())})
	}
	defer rc.Close()
	// archive/zip fails a read past the declared size, so the declared size
	// bounds what is expanded, and it was checked above.
	data, err := io.ReadAll(io.LimitReader(rc, MaxDocumentSize+1))
	l.expanded += int64(len(data))
	if err != nil {
		return l.fn(Entry{Name: name, Err: archiveError(name, "entrée illisible : "+err.Error(), "unreadable entry: "+err.Error())})
	}
	return l.fn(parseEntry(name, data))
}

func withEntry(fe *flowgate.FlowError, name string) *flowgate.FlowError {
	fe.Entry = name
	return fe
}

// countReader counts the bytes read through it.
type countReader struct {
	r io.Reader
	n int64
}

func (c *countReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

func readTarGz(r io.ReaderAt, size int64, fn func(Entry) error) error {
	compressed := &countReader{r: io.NewSectionReader(r, 0, size)}
	gz, err := gzip.NewReader(compressed)
	if err != nil {
		return fn(Entry{Err: archiveError("", "archive gzip illisible : "+err.Error(), "unreadable gzip archive: "+err.Error())})
	}
	expanded := &countReader{r: gz}
	tr := tar.NewReader(expanded)
	l := &limits{fn: fn}
	// bomb reports a stream expanding past the ratio; tar.Reader expands
	// skipped content too, so this is checked on every header.
	bomb := func() bool {
		return expanded.n > ratioFloor && expanded.n > MaxRatio*compressed.n
	}
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil || bomb() || expanded.n > MaxExpanded {
			fr, en := "archive tar.gz tronquée ou corrompue", "truncated or corrupt tar.gz archive"
			if err != nil && l.entries == 0 && hdr == nil && expanded.n < 1024 {
				fr, en = "archive gzip qui ne contient pas une archive tar", "gzip file that holds no tar archive"
			}
			switch {
			case bomb():
				fr = fmt.Sprintf("taux de compression supérieur à %d:1 (bombe de décompression ?) : lecture arrêtée", MaxRatio)
				en = fmt.Sprintf("compression ratio over %d:1 (decompression bomb?): reading stopped", MaxRatio)
			case expanded.n > MaxExpanded:
				fr, en = "archive de plus de 1 Gio décompressés : lecture arrêtée", "archive over 1 GiB expanded: reading stopped"
			}
			if err := fn(Entry{Err: archiveError("", fr, en)}); err != nil {
				return err
			}
			break
		}
		if err := readTarEntry(l, tr, hdr, bomb); err != nil {
			return err
		}
	}
	return l.summary()
}

func readTarEntry(l *limits, tr *tar.Reader, hdr *tar.Header, bomb func() bool) error {
	name := hdr.Name
	switch hdr.Typeflag {
	case tar.TypeDir, tar.TypeXGlobalHeader:
		return nil
	}
	if ignored(name) {
		return nil
	}
	if fr, en := unsafeName(name); fr != "" {
		return l.refuse(Entry{Name: name, Err: archiveError(name, fr, en)})
	}
	if hdr.Typeflag != tar.TypeReg {
		return l.refuse(Entry{Name: name, Err: archiveError(name,
			"lien ou fichier spécial refusé", "link or special file refused")})
	}
	if fr, en := l.overLimit(); fr != "" {
		return l.refuse(Entry{Name: name, Err: archiveError(name, fr, en)})
	}
	l.entries++
	if hdr.Size > MaxDocumentSize {
		return l.fn(Entry{Name: name, Err: withEntry(tooLarge(), name)})
	}
	var buf bytes.Buffer
	buf.Grow(int(hdr.Size))
	// Read in steps so that a bomb inside one entry is caught early.
	for {
		n, err := io.CopyN(&buf, tr, 256<<10)
		if bomb() {
			return l.refuse(Entry{Name: name, Err: archiveError(name,
				fmt.Sprintf("taux de compression supérieur à %d:1 (bombe de décompression ?)", MaxRatio),
				fmt.Sprintf("compression ratio over %d:1 (decompression bomb?)", MaxRatio))})
		}
		if err == io.EOF || n == 0 && err == nil {
			break
		}
		if err != nil {
			return l.fn(Entry{Name: name, Err: archiveError(name, "entrée illisible : "+err.Error(), "unreadable entry: "+err.Error())})
		}
	}
	l.expanded += int64(buf.Len())
	return l.fn(parseEntry(name, buf.Bytes()))
}
