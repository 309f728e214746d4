package parser

import (
	"archive/tar"
	"archive/zip"
	"bufio"
	"bytes"
	"compress/flate"
	"compress/gzip"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"path"
	"slices"
	"strconv"
	"strings"

	"flowgate"
)

// Limits bound what one archive flow may expand to.
type Limits struct {
	Entries    int   // members read from one archive
	Expanded   int64 // bytes expanded from one archive, all members together
	Ratio      int64 // expanded : compressed, beyond which a member is a bomb
	RatioFloor int64 // below this many expanded bytes, no ratio is refused
}

// DefaultLimits are the hub's limits: vendors of Chorus Pro cite 500
// invoices and 1 GB per flow; an XML invoice deflates about 10:1, so 100:1
// over a megabyte is a bomb.
var DefaultLimits = Limits{Entries: 500, Expanded: 1 << 30, Ratio: 100, RatioFloor: 1 << 20}

// maxErrorEntries is how many refused members are named one by one before
// the rest are summarised.
const maxErrorEntries = 50

// Container is the kind of a flow, told from its first bytes, never its name.
type Container string

const (
	ContainerXML   Container = "xml"
	ContainerZip   Container = "zip"
	ContainerTarGz Container = "tar.gz"
	ContainerTar   Container = "tar" // POSIX ustar or GNU tar, uncompressed
	ContainerPDF   Container = "pdf" // a Factur-X: the CII invoice it embeds is read (see parsePDF)
)

// headSize is how many first bytes Detect needs: a tar's first header block.
const headSize = 512

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

// Detect tells the container from the first bytes of a flow (headSize of
// them, or all of a shorter flow).
func Detect(head []byte) Container {
	switch {
	case bytes.HasPrefix(head, []byte("PK\x03\x04")), bytes.HasPrefix(head, []byte("PK\x05\x06")):
		return ContainerZip
	case bytes.HasPrefix(head, []byte{0x1f, 0x8b}):
		return ContainerTarGz
	case isTarHeader(head), isEmptyTar(head):
		return ContainerTar
	case bytes.HasPrefix(head, []byte("%PDF-")):
		return ContainerPDF
	}
	return ContainerXML
}

// isEmptyTar reports whether b starts with a zero block, as the end of a tar
// archive does (`tar -cf x.tar -T /dev/null` writes two of them and nothing
// else): no document starts with 512 NUL bytes.
func isEmptyTar(b []byte) bool {
	return len(b) >= 512 && !slices.ContainsFunc(b[:512], func(c byte) bool { return c != 0 })
}

// isTarHeader reports whether b starts with a POSIX (ustar) or GNU tar
// header: the magic at 257 and a checksum that adds up, so that a document
// that happens to hold "ustar" there is not taken for an archive.
func isTarHeader(b []byte) bool {
	if len(b) < 512 || !bytes.Equal(b[257:262], []byte("ustar")) {
		return false
	}
	var unsigned, signed int64 // old tars summed signed bytes, as archive/tar accepts
	for i, c := range b[:512] {
		if i >= 148 && i < 156 {
			c = ' ' // the checksum field counts as spaces
		}
		unsigned += int64(c)
		signed += int64(int8(c))
	}
	v, err := strconv.ParseInt(strings.Trim(string(b[148:156]), " \x00"), 8, 64)
	return err == nil && (v == unsigned || v == signed)
}

// ReadFlow is ReadFlowLimits with DefaultLimits.
func ReadFlow(r io.ReaderAt, size int64, fn func(Entry) error) error {
	return ReadFlowLimits(r, size, DefaultLimits, fn)
}

// ReadFlowLimits reads a flow of size bytes from r and calls fn once per
// entry, in archive order, holding one entry in memory at a time: whatever
// the flow claims, the bytes held are at most one entry's, MaxDocumentSize
// (20 MiB) and a few buffers, as archive members are inflated one at a time
// and never past the limits (see readZipEntry). A broken or unsafe entry is
// reported as an Entry with Err and never stops the others; when the
// archive itself is unreadable or empty, one Entry with an empty Name and
// Err says why. ReadFlow returns an error only when fn does, or as *IOError
// when r fails.
func ReadFlowLimits(r io.ReaderAt, size int64, lim Limits, fn func(Entry) error) error {
	_, err := readFlow(r, size, lim, fn)
	return err
}

// readFlow is ReadFlowLimits; it also returns how many bytes decompressors
// produced, so that tests can check reading stopped at the limits.
func readFlow(r io.ReaderAt, size int64, lim Limits, fn func(Entry) error) (inflated int64, err error) {
	rec := &ioRecorder{r: r}
	head := make([]byte, min(size, headSize))
	n, _ := rec.ReadAt(head, 0)
	if rec.err != nil {
		return 0, &IOError{rec.err}
	}
	emitted := 0
	l := &limits{Limits: lim, size: size, fn: func(e Entry) error { emitted++; return fn(e) }}
	switch c := Detect(head[:n]); c {
	case ContainerZip:
		err = readZip(rec, size, l)
	case ContainerTarGz, ContainerTar:
		err = readTar(rec, size, c == ContainerTarGz, l)
	default:
		return 0, readPlain(rec, size, fn)
	}
	if err == nil && emitted == 0 {
		err = fn(Entry{Err: archiveError("", "archive vide : aucune facture", "empty archive: no invoice")})
	}
	if err != nil {
		return l.inflated, err
	}
	if rec.err != nil {
		return l.inflated, &IOError{rec.err}
	}
	return l.inflated, nil
}

var errNegativeOffset = errors.New("negative offset in archive")

// ioRecorder remembers the first error of the underlying reader, so that a
// disk failure surfacing through archive/zip is not mistaken for a broken
// archive.
type ioRecorder struct {
	r   io.ReaderAt
	err error
}

func (rec *ioRecorder) ReadAt(p []byte, off int64) (int, error) {
	if off < 0 {
		// A corrupt archive can point before its own start: that is
		// content, not the disk.
		return 0, errNegativeOffset
	}
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
	switch c := Detect(data); c {
	case ContainerXML:
	case ContainerPDF:
		return parsePDF(name, data)
	default:
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

// maxNameLen bounds an archive member's name (a zip allows 65,535 bytes, a
// tar 1 MiB): names are quoted in reports, so that past it a member is
// refused under its name cut short (see shortName).
const maxNameLen = 1024

// shortName is name cut to maxNameLen bytes, for the report of a member
// refused for its name.
func shortName(name string) string {
	if len(name) <= maxNameLen {
		return name
	}
	return name[:maxNameLen] + "…"
}

// unsafeName says why an archive member name may not be used, or "" when it
// is a plain relative path. Names are checked with both separators, since
// archives made on Windows use backslashes.
func unsafeName(name string) (fr, en string) {
	if name == "" {
		return "nom d'entrée vide", "empty entry name"
	}
	if len(name) > maxNameLen {
		return fmt.Sprintf("nom d'entrée de plus de %d octets", maxNameLen), fmt.Sprintf("entry name over %d bytes", maxNameLen)
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
	Limits
	size     int64 // the flow's size: the archive's bytes
	entries  int
	expanded int64 // bytes expanded so far, by members read or skipped
	inflated int64 // bytes the decompressors produced (for tests)
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
	case l.entries >= l.Entries:
		return fmt.Sprintf("au-delà de %d entrées par archive", l.Entries),
			fmt.Sprintf("beyond %d entries per archive", l.Entries)
	case l.expanded >= l.Expanded:
		return "au-delà de " + sizeFR(l.Expanded) + " décompressés par archive",
			"beyond " + sizeEN(l.Expanded) + " expanded per archive"
	case l.expanded > l.RatioFloor && l.expanded > l.Ratio*l.size:
		return fmt.Sprintf("au-delà de %d fois la taille de l'archive décompressés", l.Ratio),
			fmt.Sprintf("beyond %d times the archive's size expanded", l.Ratio)
	}
	return "", ""
}

func (l *limits) bombError(name string) Entry {
	return Entry{Name: name, Err: archiveError(name,
		fmt.Sprintf("taux de compression supérieur à %d:1 (bombe de décompression ?)", l.Ratio),
		fmt.Sprintf("compression ratio over %d:1 (decompression bomb?)", l.Ratio))}
}

func sizeFR(n int64) string {
	if n >= 1<<30 && n%(1<<30) == 0 {
		return fmt.Sprintf("%d Gio", n>>30)
	}
	return fmt.Sprintf("%d octets", n)
}

func sizeEN(n int64) string {
	if n >= 1<<30 && n%(1<<30) == 0 {
		return fmt.Sprintf("%d GiB", n>>30)
	}
	return fmt.Sprintf("%d bytes", n)
}

// maxDirectoryEntries bounds the members a zip's central directory may
// declare before it is read: archive/zip builds one record per member, so
// a small file declaring millions of members would cost gigabytes.
const maxDirectoryEntries = 10000

// declaredEntries reads the member count from a zip's end of central
// directory record (or its zip64 record), without reading the directory.
// ok is false when no record is found: archive/zip then reports the error.
func declaredEntries(r io.ReaderAt, size int64) (n uint64, ok bool) {
	const eocdLen, maxComment = 22, 65535
	tail := min(size, eocdLen+maxComment)
	buf := make([]byte, tail)
	if _, err := r.ReadAt(buf, size-tail); err != nil && err != io.EOF {
		return 0, false
	}
	i := bytes.LastIndex(buf, []byte("PK\x05\x06"))
	if i < 0 || len(buf)-i < eocdLen {
		return 0, false
	}
	n = uint64(binary.LittleEndian.Uint16(buf[i+10:]))
	if n != 0xFFFF || i < 20 || !bytes.Equal(buf[i-20:i-16], []byte("PK\x06\x07")) {
		return n, true
	}
	// zip64: the locator gives the offset of the zip64 end record.
	off := int64(binary.LittleEndian.Uint64(buf[i-20+8:]))
	rec := make([]byte, 56)
	if off < 0 || off > size-56 {
		return n, true
	}
	if _, err := r.ReadAt(rec, off); err != nil || !bytes.Equal(rec[:4], []byte("PK\x06\x06")) {
		return n, true
	}
	return binary.LittleEndian.Uint64(rec[32:]), true
}

func readZip(r io.ReaderAt, size int64, l *limits) error {
	if n, ok := declaredEntries(r, size); ok && n > maxDirectoryEntries {
		return l.fn(Entry{Err: archiveError("",
			fmt.Sprintf("archive ZIP annonçant %d entrées (au plus %d lues, %d acceptées) : refusée sans être lue", n, maxDirectoryEntries, l.Entries),
			fmt.Sprintf("ZIP archive declaring %d entries (at most %d read, %d accepted): refused unread", n, maxDirectoryEntries, l.Entries))})
	}
	zr, err := zip.NewReader(r, size)
	if err != nil && !errors.Is(err, zip.ErrInsecurePath) {
		return l.fn(Entry{Err: archiveError("", "archive ZIP illisible : "+err.Error(), "unreadable ZIP archive: "+err.Error())})
	}
	for _, f := range zr.File {
		if err := readZipEntry(l, f); err != nil {
			return err
		}
	}
	return l.summary()
}

// readZipEntry reads one member of a zip. Its header's sizes are never
// trusted to bound anything: a header that lies about the compressed size
// (so that a bomb's ratio looks honest) or about the expanded size is
// caught by what is actually read. The member's raw bytes are inflated
// here, counting the compressed bytes consumed and the bytes produced, and
// reading stops as soon as the member passes MaxDocumentSize, the ratio, or
// what is left of the flow's expanded budget or ratio: at most one
// member's bytes, MaxDocumentSize+1, are ever held.
func readZipEntry(l *limits, f *zip.File) error {
	name := f.Name
	if ignored(name) || f.Mode().IsDir() {
		return nil
	}
	if fr, en := unsafeName(name); fr != "" {
		name = shortName(name)
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
	// A header that declares too much is refused unread, whether it lies
	// or not; one that declares little is checked as it is read.
	if f.UncompressedSize64 > MaxDocumentSize {
		return l.fn(Entry{Name: name, Err: withEntry(tooLarge(), name)})
	}
	if declared := f.UncompressedSize64; declared > uint64(l.RatioFloor) && declared > uint64(l.Ratio)*f.CompressedSize64 {
		return l.refuse(l.bombError(name))
	}
	if f.Method != zip.Store && f.Method != zip.Deflate {
		return l.refuse(Entry{Name: name, Err: archiveError(name,
			fmt.Sprintf("méthode de compression %d non prise en charge (seules Store et Deflate le sont)", f.Method),
			fmt.Sprintf("compression method %d not supported (only Store and Deflate are)", f.Method))})
	}
	raw, err := f.OpenRaw()
	if err != nil {
		return l.refuse(Entry{Name: name, Err: archiveError(name, "entrée illisible : "+err.Error(), "unreadable entry: "+err.Error())})
	}
	compressed := &byteCounter{r: bufio.NewReader(raw)}
	var inflater io.Reader = compressed
	if f.Method == zip.Deflate {
		fr := flate.NewReader(compressed)
		defer fr.Close()
		inflater = fr
	}
	g := &entryGuard{r: inflater, compressed: compressed, l: l}
	data, err := io.ReadAll(g)
	l.expanded += g.n
	l.inflated += g.n
	switch {
	case g.err == errTooLarge:
		return l.fn(Entry{Name: name, Err: withEntry(tooLarge(), name)})
	case g.err != nil:
		if g.err == errExpanded {
			l.expanded = max(l.expanded, l.Expanded) // the members after it are refused
		}
		fr, en := g.stopped()
		return l.refuse(Entry{Name: name, Err: archiveError(name, fr, en)})
	case err != nil:
		return l.refuse(Entry{Name: name, Err: archiveError(name, "entrée illisible : "+err.Error(), "unreadable entry: "+err.Error())})
	case uint64(len(data)) != f.UncompressedSize64:
		return l.refuse(Entry{Name: name, Err: archiveError(name,
			fmt.Sprintf("entrée illisible : %d octets annoncés, %d lus", f.UncompressedSize64, len(data)),
			fmt.Sprintf("unreadable entry: %d bytes declared, %d read", f.UncompressedSize64, len(data)))})
	case crc32.ChecksumIEEE(data) != f.CRC32:
		// Always checked: archive/zip skips a zero CRC (a writer that put it
		// in a data descriptor), but the central directory, read here,
		// always holds the real one.
		return l.refuse(Entry{Name: name, Err: archiveError(name,
			"entrée illisible : somme de contrôle CRC-32 fausse", "unreadable entry: wrong CRC-32 checksum")})
	}
	return l.fn(parseEntry(name, data))
}

// byteCounter counts the bytes read through it. It is an io.ByteReader, so
// that compress/flate reads from it byte by byte without buffering ahead:
// n is exactly what the inflater consumed.
type byteCounter struct {
	r *bufio.Reader
	n int64
}

func (c *byteCounter) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

func (c *byteCounter) ReadByte() (byte, error) {
	b, err := c.r.ReadByte()
	if err == nil {
		c.n++
	}
	return b, err
}

// entryGuard counts the bytes one zip member inflates to and fails the read
// as soon as one limit is passed: MaxDocumentSize, the member's ratio over
// the compressed bytes actually consumed, the flow's expanded budget, or
// the flow's ratio over the file's size. Each read is cut so that no more
// than one byte past the nearest limit is produced.
type entryGuard struct {
	r          io.Reader
	compressed *byteCounter
	l          *limits
	n          int64
	err        error
}

func (g *entryGuard) Read(p []byte) (int, error) {
	if g.err != nil {
		return 0, g.err
	}
	room := min(int64(MaxDocumentSize), g.l.Expanded-g.l.expanded) - g.n + 1
	if int64(len(p)) > room {
		p = p[:max(room, 1)]
	}
	n, err := g.r.Read(p)
	g.n += int64(n)
	total := g.l.expanded + g.n
	switch {
	case g.n > MaxDocumentSize:
		g.err = errTooLarge
	case total > g.l.Expanded:
		g.err = errExpanded
	case g.n > g.l.RatioFloor && g.n > g.l.Ratio*g.compressed.n:
		g.err = errBomb
	case total > g.l.RatioFloor && total > g.l.Ratio*g.l.size:
		g.err = errFlowRatio
	}
	if g.err != nil {
		return n, g.err
	}
	return n, err
}

// stopped describes why the guard stopped the member.
func (g *entryGuard) stopped() (fr, en string) {
	switch g.err {
	case errBomb:
		return fmt.Sprintf("taux de compression supérieur à %d:1 (bombe de décompression ?) : lecture arrêtée", g.l.Ratio),
			fmt.Sprintf("compression ratio over %d:1 (decompression bomb?): reading stopped", g.l.Ratio)
	case errFlowRatio:
		return fmt.Sprintf("archive qui se décompresse à plus de %d fois sa taille (entrées superposées ?) : lecture arrêtée", g.l.Ratio),
			fmt.Sprintf("archive expanding to over %d times its size (overlapping entries?): reading stopped", g.l.Ratio)
	}
	return "archive de plus de " + sizeFR(g.l.Expanded) + " décompressés : lecture arrêtée",
		"archive over " + sizeEN(g.l.Expanded) + " expanded: reading stopped"
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

// errBomb and errExpanded stop a tar.gz stream or a zip member that
// expands past the limits; errTooLarge and errFlowRatio stop a zip member.
var (
	errBomb      = errors.New("decompression bomb")
	errExpanded  = errors.New("expanded size limit")
	errTooLarge  = errors.New("document size limit")
	errFlowRatio = errors.New("archive expansion ratio")
)

// guard counts what gzip expands and fails the stream once it passes the
// ratio or the total. It sits under tar.Reader, so that even the content
// tar skips between headers is bounded: a refused member cannot make the
// hub inflate terabytes just to step over it.
type guard struct {
	r          io.Reader
	compressed *countReader
	n          int64
	l          *limits
	err        error
}

func (g *guard) Read(p []byte) (int, error) {
	if g.err != nil {
		return 0, g.err
	}
	n, err := g.r.Read(p)
	g.n += int64(n)
	switch {
	case g.n > g.l.Expanded:
		g.err = errExpanded
	case g.n > g.l.RatioFloor && g.n > g.l.Ratio*g.compressed.n:
		g.err = errBomb
	}
	if g.err != nil {
		return n, g.err
	}
	return n, err
}

// stopped describes why the guard stopped the stream, or "" if it did not.
func (g *guard) stopped() (fr, en string) {
	switch g.err {
	case errBomb:
		return fmt.Sprintf("taux de compression supérieur à %d:1 (bombe de décompression ?) : lecture arrêtée", g.l.Ratio),
			fmt.Sprintf("compression ratio over %d:1 (decompression bomb?): reading stopped", g.l.Ratio)
	case errExpanded:
		return "archive de plus de " + sizeFR(g.l.Expanded) + " décompressés : lecture arrêtée",
			"archive over " + sizeEN(g.l.Expanded) + " expanded: reading stopped"
	}
	return "", ""
}

// readTar reads a tar archive, gzipped or not, to its very end. A tar ends
// with two zero blocks, but what follows them is read too, as GNU tar
// --ignore-zeros does: the zero blocks are skipped and a second archive
// appended to the first (cat a.tar b.tar, or a .tar.gz of several gzip
// members, which gzip reads as one stream) is read as part of the flow. Data
// there that is not a tar is refused as a corrupt archive: an archive is
// never silently cut at its first end marker.
func readTar(r io.ReaderAt, size int64, gzipped bool, l *limits) error {
	compressed := &countReader{r: io.NewSectionReader(r, 0, size)}
	var stream io.Reader = compressed
	kind := "tar"
	if gzipped {
		gz, err := gzip.NewReader(compressed)
		if err != nil {
			return l.fn(Entry{Err: archiveError("", "archive gzip illisible : "+err.Error(), "unreadable gzip archive: "+err.Error())})
		}
		stream, kind = gz, "tar.gz"
	}
	g := &guard{r: stream, compressed: compressed, l: l}
	tr := tar.NewReader(g)
	appended := false // the next header is the first after an end marker
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			var next io.Reader
			if next, err = afterEnd(g); next == nil && err == nil {
				break
			}
			if err == nil {
				tr, appended = tar.NewReader(next), true
				continue
			}
		}
		if err != nil {
			fr, en := g.stopped()
			switch {
			case fr != "":
			case appended || err == errAfterEnd:
				fr, en = "données illisibles après la fin de l'archive "+kind+" (ni une autre archive tar, ni du bourrage)",
					"unreadable data after the end of the "+kind+" archive (neither another tar archive nor padding)"
			case gzipped && l.entries == 0 && g.n < 1024:
				fr, en = "fichier gzip qui ne contient pas une archive tar", "gzip file that holds no tar archive"
			default:
				fr, en = "archive "+kind+" tronquée ou corrompue : "+err.Error(), "truncated or corrupt "+kind+" archive: "+err.Error()
			}
			if err := l.fn(Entry{Err: archiveError("", fr, en)}); err != nil {
				return err
			}
			break
		}
		appended = false
		if err := readTarEntry(l, tr, hdr, g); err != nil {
			return err
		}
		if g.err != nil {
			break // reported on the entry it stopped
		}
	}
	l.inflated = g.n
	return l.summary()
}

// errAfterEnd is data after a tar's end that is not another tar.
var errAfterEnd = errors.New("data after the end of the archive that is not a tar block")

// afterEnd reads what follows a tar's end-of-archive marker in r: zero
// blocks (a tar's padding) are skipped; at the end of r it returns nil, nil;
// at a non-zero block, a reader from that block on, to read as the next
// tar. A partial block that is not all zeros is errAfterEnd.
func afterEnd(r io.Reader) (io.Reader, error) {
	block := make([]byte, 512)
	for {
		// Not io.ReadFull: an io.ErrUnexpectedEOF of the stream itself (a
		// gzip cut short) must not pass for a short block.
		n, err, empty := 0, error(nil), 0
		for n < len(block) && err == nil {
			var k int
			k, err = r.Read(block[n:])
			n += k
			if empty = empty + 1; k > 0 {
				empty = 0
			} else if empty >= 100 {
				err = io.ErrNoProgress
			}
		}
		zero := !slices.ContainsFunc(block[:n], func(b byte) bool { return b != 0 })
		switch {
		case n < len(block) && err == io.EOF && zero:
			return nil, nil
		case n < len(block) && err == io.EOF:
			return nil, errAfterEnd
		case n < len(block):
			return nil, err
		case !zero:
			return io.MultiReader(bytes.NewReader(block), r), nil
		}
	}
}

func readTarEntry(l *limits, tr *tar.Reader, hdr *tar.Header, g *guard) error {
	name := hdr.Name
	switch hdr.Typeflag {
	case tar.TypeDir, tar.TypeXGlobalHeader:
		return nil
	}
	if ignored(name) {
		return nil
	}
	if fr, en := unsafeName(name); fr != "" {
		name = shortName(name)
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
	data, err := io.ReadAll(tr)
	if err != nil {
		fr, en := g.stopped()
		if fr == "" {
			fr, en = "entrée illisible : "+err.Error(), "unreadable entry: "+err.Error()
		}
		return l.refuse(Entry{Name: name, Err: archiveError(name, fr, en)})
	}
	return l.fn(parseEntry(name, data))
}
