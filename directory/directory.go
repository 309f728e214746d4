package directory

import (
	"bufio"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"unicode/utf8"

	"golang.org/x/text/encoding/charmap"

	"flowgate"
)

// File names of the two directory files, as they appear in [RowError.File]
// and in the folder read by [Load].
const (
	StructuresFile = "structures.csv"
	ServicesFile   = "services.csv"
)

// Structure is one public structure of the directory, a possible invoice
// recipient. The flags mirror the columns of structures.csv; what they imply
// for an invoice is for the validator to decide.
type Structure struct {
	// SIRET is the 14-digit identifier (column Identifiant). It has the
	// shape of a SIRET but may fail the Luhn checksum: the directory is
	// authoritative.
	SIRET string
	// Name is the legal name (RaisonSociale).
	Name string
	// EmetteurEDI reports that the structure sends invoices by EDI
	// (EmetteurEdi).
	EmetteurEDI bool
	// RecepteurEDI reports that the structure receives invoices by EDI
	// (RecepteurEdi).
	RecepteurEDI bool
	// StatutMiseEnPaiement reports that the structure publishes the
	// "mise en paiement" status of its invoices (GestionStatutMiseEnPaiement).
	StatutMiseEnPaiement bool
	// EngagementRequired reports that invoices must carry an engagement
	// number, i.e. a purchase order or contract reference (GestionEngagement).
	EngagementRequired bool
	// ServiceRequired reports that invoices must carry a service code
	// (GestionService).
	ServiceRequired bool
	// ServiceOrEngagementRequired reports that invoices must carry a
	// service code or an engagement number, at least one of the two
	// (GestionServiceEngagement).
	ServiceOrEngagementRequired bool
	// MOA reports that the structure is a maîtrise d'ouvrage for works
	// contracts (EstMOA).
	MOA bool
	// MOAOnly reports that the structure acts only as maîtrise d'ouvrage
	// (EstMOAUniquement).
	MOAOnly bool
	// Active reports that the structure accepts invoices (StructureActive).
	// It is true when the column is absent from the file.
	Active bool
}

// Service is one service of a structure, addressed on an invoice by the
// structure's SIRET and the service code.
type Service struct {
	// SIRET is the identifier of the structure the service belongs to
	// (column Identifiant). In a snapshot built by [Read] or [Load] the
	// structure is always present.
	SIRET string
	// Code is the service code (CodeService), matched exactly,
	// case-sensitively, after trimming spaces. It is never empty.
	Code string
	// Name is the service's label (LibelleService).
	Name string
	// EngagementRequired reports that invoices addressed to this service
	// must carry an engagement number (GestionEngagement).
	EngagementRequired bool
	// Active reports that the service accepts invoices (ServiceActif). It is
	// true when the column is absent from the file.
	Active bool
}

// RowError reports a row of a directory file that was skipped. Loading
// continues after it; a snapshot built despite row errors simply lacks the
// skipped rows.
type RowError struct {
	// File is the base name of the file, StructuresFile or ServicesFile.
	File string
	// Line is the 1-based line where the row starts.
	Line int
	// Msg says what is wrong with the row.
	Msg string
}

// Error formats the row error as "file:line: msg", the form editors and
// grep understand.
func (e RowError) Error() string {
	return fmt.Sprintf("%s:%d: %s", e.File, e.Line, e.Msg)
}

// serviceKey addresses a service. Both strings are shared with the stored
// Service (and SIRET with its Structure), so keys cost no allocation of
// their own.
type serviceKey struct {
	siret, code string
}

// Snapshot is one immutable version of the directory. Lookups are O(1) and
// safe for concurrent use. The nil *Snapshot is an empty directory.
type Snapshot struct {
	structures blocks[Structure]
	bySIRET    map[string]int32
	services   blocks[Service]
	byService  map[serviceKey]int32
}

// New builds a snapshot from values, for tests of packages that consume a
// directory. Values are stored as given, without validation or trimming;
// for duplicate SIRETs or (SIRET, code) pairs the first one wins. Unlike
// [Read], a service need not belong to one of structs. The slices are
// copied: the caller may reuse them.
func New(structs []Structure, services []Service) *Snapshot {
	s := &Snapshot{
		bySIRET:   make(map[string]int32, len(structs)),
		byService: make(map[serviceKey]int32, len(services)),
	}
	for _, st := range structs {
		if _, dup := s.bySIRET[st.SIRET]; !dup {
			s.bySIRET[st.SIRET] = s.structures.add(st)
		}
	}
	for _, sv := range services {
		k := serviceKey{sv.SIRET, sv.Code}
		if _, dup := s.byService[k]; !dup {
			s.byService[k] = s.services.add(sv)
		}
	}
	return s
}

// Structure returns the structure with this SIRET. Surrounding spaces in
// siret are ignored.
func (s *Snapshot) Structure(siret string) (Structure, bool) {
	if s == nil {
		return Structure{}, false
	}
	i, ok := s.bySIRET[strings.TrimSpace(siret)]
	if !ok {
		return Structure{}, false
	}
	return *s.structures.at(i), true
}

// Service returns the service with this code in the structure with this
// SIRET. The code is matched exactly, case-sensitively; surrounding spaces
// in siret and code are ignored.
func (s *Snapshot) Service(siret, code string) (Service, bool) {
	if s == nil {
		return Service{}, false
	}
	i, ok := s.byService[serviceKey{strings.TrimSpace(siret), strings.TrimSpace(code)}]
	if !ok {
		return Service{}, false
	}
	return *s.services.at(i), true
}

// Len returns the number of structures and services in the snapshot.
func (s *Snapshot) Len() (structures, services int) {
	if s == nil {
		return 0, 0
	}
	return s.structures.len(), s.services.len()
}

// Load reads dir/structures.csv and dir/services.csv; see [Read].
func Load(dir string) (*Snapshot, []RowError, error) {
	sf, err := os.Open(filepath.Join(dir, StructuresFile))
	if err != nil {
		return nil, nil, fmt.Errorf("load directory: %w", err)
	}
	defer sf.Close()
	vf, err := os.Open(filepath.Join(dir, ServicesFile))
	if err != nil {
		return nil, nil, fmt.Errorf("load directory: %w", err)
	}
	defer vf.Close()
	snap, rowErrs, err := Read(sf, vf)
	if err != nil {
		return nil, nil, fmt.Errorf("load directory %s: %w", dir, err)
	}
	return snap, rowErrs, nil
}

// Read reads the structures file, then the services file, and returns the
// snapshot together with the rows it skipped, in file order.
//
// Both files are semicolon-separated UTF-8 with a header row. Header names
// are matched case-insensitively after trimming spaces; a UTF-8 byte order
// mark at the start of a file is ignored; unknown columns are ignored.
// Identifiant is required in both files and CodeService in services.csv.
// An absent optional column reads as false, except StructureActive and
// ServiceActif, which read as true when absent, so that an export without
// them leaves every listed structure and service usable. Booleans accept
// true/false, oui/non and 1/0 in any case, around spaces; an empty cell is
// false, also in those two columns. Fields beyond the header are ignored.
//
// A row is skipped and reported when its SIRET is not exactly 14 ASCII
// digits (the checksum is not checked: the directory is authoritative), a
// boolean is invalid, its service code is empty, it has fewer fields than
// the header, it repeats a SIRET or a (SIRET, service code) pair already
// read (the first row wins), its service belongs to a SIRET absent from the
// structures read, or it is malformed CSV.
//
// The error is non-nil, and the snapshot nil, when a header is missing or
// unreadable, a required column is missing or repeated, a file is not
// UTF-8 (an [*EncodingError] naming the file and the line of the first byte
// that is not, see there why it is not transcoded), or a reader fails.
func Read(structures, services io.Reader) (*Snapshot, []RowError, error) {
	l := loader{snap: &Snapshot{
		bySIRET:   make(map[string]int32),
		byService: make(map[serviceKey]int32),
	}}
	if err := l.readStructures(structures); err != nil {
		return nil, nil, err
	}
	if err := l.readServices(services); err != nil {
		return nil, nil, err
	}
	return l.snap, l.rowErrs, nil
}

// Column positions in structureColumns.
const (
	stIdentifiant = iota
	stRaisonSociale
	stEmetteurEdi
	stRecepteurEdi
	stGestionStatutMiseEnPaiement
	stGestionEngagement
	stGestionService
	stGestionServiceEngagement
	stEstMOA
	stEstMOAUniquement
	stStructureActive
)

// structureColumns are the columns of structures.csv that flowgate reads,
// indexed by the st* constants.
var structureColumns = []string{
	"Identifiant",
	"RaisonSociale",
	"EmetteurEdi",
	"RecepteurEdi",
	"GestionStatutMiseEnPaiement",
	"GestionEngagement",
	"GestionService",
	"GestionServiceEngagement",
	"EstMOA",
	"EstMOAUniquement",
	"StructureActive",
}

// Column positions in serviceColumns.
const (
	svIdentifiant = iota
	svCodeService
	svLibelleService
	svGestionEngagement
	svServiceActif
)

// serviceColumns are the columns of services.csv that flowgate reads,
// indexed by the sv* constants.
var serviceColumns = []string{
	"Identifiant",
	"CodeService",
	"LibelleService",
	"GestionEngagement",
	"ServiceActif",
}

// loader holds the state of one Read.
type loader struct {
	snap    *Snapshot
	rowErrs []RowError
	strs    arena
	// structLines and serviceLines hold the line of each kept row, parallel
	// to snap.structures and snap.services, to point duplicates at the
	// original. They are dropped with the loader.
	structLines  blocks[int32]
	serviceLines blocks[int32]
}

// rowError records that the row of file at line was skipped.
func (l *loader) rowError(file string, line int, format string, args ...any) {
	l.rowErrs = append(l.rowErrs, RowError{File: file, Line: line, Msg: fmt.Sprintf(format, args...)})
}

// readStructures reads structures.csv into l.snap. It returns only hard
// errors; bad rows go to l.rowErrs.
func (l *loader) readStructures(in io.Reader) error {
	const file = StructuresFile
	t, err := openTable(in, file, structureColumns, stIdentifiant)
	if err != nil {
		return err
	}
	s := l.snap
	for {
		rec, line, err := t.next()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			var pe *csv.ParseError
			if errors.As(err, &pe) {
				l.rowError(file, pe.StartLine, "malformed CSV: %v", pe.Err)
				continue
			}
			var ee *EncodingError
			if errors.As(err, &ee) {
				return err
			}
			return fmt.Errorf("%s: %w", file, err)
		}
		if len(rec) < t.width {
			l.rowError(file, line, "%d fields, header has %d", len(rec), t.width)
			continue
		}
		siret := t.field(rec, stIdentifiant)
		if !flowgate.IsSIRETShape(siret) {
			l.rowError(file, line, "Identifiant %q is not 14 digits", siret)
			continue
		}
		if first, dup := s.bySIRET[siret]; dup {
			l.rowError(file, line, "duplicate SIRET %s (first at line %d)", siret, *l.structLines.at(first))
			continue
		}
		var st Structure
		var bad string
		flags := [...]struct {
			col int
			dst *bool
		}{
			{stEmetteurEdi, &st.EmetteurEDI},
			{stRecepteurEdi, &st.RecepteurEDI},
			{stGestionStatutMiseEnPaiement, &st.StatutMiseEnPaiement},
			{stGestionEngagement, &st.EngagementRequired},
			{stGestionService, &st.ServiceRequired},
			{stGestionServiceEngagement, &st.ServiceOrEngagementRequired},
			{stEstMOA, &st.MOA},
			{stEstMOAUniquement, &st.MOAOnly},
		}
		for _, f := range flags {
			if *f.dst, bad = t.bool(rec, f.col, false); bad != "" {
				break
			}
		}
		if bad == "" {
			st.Active, bad = t.bool(rec, stStructureActive, true)
		}
		if bad != "" {
			l.rowError(file, line, "%s", bad)
			continue
		}
		st.SIRET, st.Name = l.strs.clone2(siret, t.field(rec, stRaisonSociale))
		s.bySIRET[st.SIRET] = s.structures.add(st)
		l.structLines.add(int32(line))
	}
}

// readServices reads services.csv into l.snap, after readStructures, so
// that each service can be tied to its structure. It returns only hard
// errors; bad rows go to l.rowErrs.
func (l *loader) readServices(in io.Reader) error {
	const file = ServicesFile
	t, err := openTable(in, file, serviceColumns, svIdentifiant, svCodeService)
	if err != nil {
		return err
	}
	s := l.snap
	// The export lists the services of a structure together: remember the
	// last structure found to skip most SIRET lookups.
	lastIdx := int32(-1)
	for {
		rec, line, err := t.next()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			var pe *csv.ParseError
			if errors.As(err, &pe) {
				l.rowError(file, pe.StartLine, "malformed CSV: %v", pe.Err)
				continue
			}
			var ee *EncodingError
			if errors.As(err, &ee) {
				return err
			}
			return fmt.Errorf("%s: %w", file, err)
		}
		if len(rec) < t.width {
			l.rowError(file, line, "%d fields, header has %d", len(rec), t.width)
			continue
		}
		siret := t.field(rec, svIdentifiant)
		if !flowgate.IsSIRETShape(siret) {
			l.rowError(file, line, "Identifiant %q is not 14 digits", siret)
			continue
		}
		code := t.field(rec, svCodeService)
		if code == "" {
			l.rowError(file, line, "empty CodeService")
			continue
		}
		if lastIdx < 0 || s.structures.at(lastIdx).SIRET != siret {
			si, ok := s.bySIRET[siret]
			if !ok {
				l.rowError(file, line, "SIRET %s is not in %s", siret, StructuresFile)
				continue
			}
			lastIdx = si
		}
		// Share the structure's copy of the SIRET: one string per structure,
		// however many services it has.
		siret = s.structures.at(lastIdx).SIRET
		if first, dup := s.byService[serviceKey{siret, code}]; dup {
			l.rowError(file, line, "duplicate service %s for SIRET %s (first at line %d)", code, siret, *l.serviceLines.at(first))
			continue
		}
		sv := Service{SIRET: siret}
		var bad string
		if sv.EngagementRequired, bad = t.bool(rec, svGestionEngagement, false); bad == "" {
			sv.Active, bad = t.bool(rec, svServiceActif, true)
		}
		if bad != "" {
			l.rowError(file, line, "%s", bad)
			continue
		}
		sv.Code, sv.Name = l.strs.clone2(code, t.field(rec, svLibelleService))
		s.byService[serviceKey{sv.SIRET, sv.Code}] = s.services.add(sv)
		l.serviceLines.add(int32(line))
	}
}

// blocks is an append-only list stored in fixed-size blocks. Growing it
// never copies what it holds, unlike append on one slice, which for 300,000
// services would allocate and copy several times the final size while the
// garbage collector scans every copy.
type blocks[T any] struct {
	// b holds blockLen values in every block but the last.
	b [][]T
	n int
}

// blockShift sets the block length, 4096 values.
const (
	blockShift = 12
	blockLen   = 1 << blockShift
)

// add appends v and returns its index. The first block grows like a slice,
// so small snapshots stay small.
func (l *blocks[T]) add(v T) int32 {
	if len(l.b) == 0 || len(l.b[len(l.b)-1]) == blockLen {
		var next []T
		if len(l.b) > 0 {
			next = make([]T, 0, blockLen)
		}
		l.b = append(l.b, next)
	}
	last := &l.b[len(l.b)-1]
	*last = append(*last, v)
	l.n++
	return int32(l.n - 1)
}

// at returns the value at index i, which add returned.
func (l *blocks[T]) at(i int32) *T {
	return &l.b[i>>blockShift][i&(blockLen-1)]
}

// len returns the number of values added.
func (l *blocks[T]) len() int { return l.n }

// table reads the rows of one CSV file whose header has been mapped to the
// columns flowgate knows.
type table struct {
	r     *csv.Reader
	file  string   // base name, for errors
	names []string // known column names, for messages
	cols  []int    // position in the row of each known column, -1 if absent
	width int      // number of fields in the header
}

// utf8BOM is the byte order mark some exporters put at the start of a file.
const utf8BOM = "\xef\xbb\xbf"

// openTable reads the header of in and maps names (matched
// case-insensitively after trimming spaces) to their positions. Columns at
// the required indexes of names must be present.
func openTable(in io.Reader, file string, names []string, required ...int) (*table, error) {
	br := bufio.NewReaderSize(in, 64<<10)
	// Strip the BOM before the CSV reader sees it: left in place it would
	// make a quoted first header cell a bare-quote error.
	if b, err := br.Peek(len(utf8BOM)); err == nil && string(b) == utf8BOM {
		br.Discard(len(utf8BOM))
	}
	// UTF-16 (Excel's "Unicode text") has NUL bytes, which are UTF-8: say
	// what it is rather than report a header without Identifiant.
	if b, err := br.Peek(2); err == nil && (string(b) == "\xff\xfe" || string(b) == "\xfe\xff") {
		return nil, &EncodingError{File: file, Line: 1, UTF16: true}
	}
	r := csv.NewReader(br)
	r.Comma = ';'
	r.FieldsPerRecord = -1
	r.LazyQuotes = false
	r.ReuseRecord = true

	header, err := r.Read()
	if err == io.EOF {
		return nil, fmt.Errorf("%s: missing header row", file)
	}
	if err != nil {
		return nil, fmt.Errorf("%s: read header: %w", file, err)
	}
	t := &table{r: r, file: file, names: names, cols: make([]int, len(names)), width: len(header)}
	if err := t.checkUTF8(header); err != nil {
		return nil, err
	}
	for i := range t.cols {
		t.cols[i] = -1
	}
	for pos, h := range header {
		h = strings.TrimSpace(h)
		for i, name := range names {
			if !strings.EqualFold(h, name) {
				continue
			}
			if t.cols[i] >= 0 {
				return nil, fmt.Errorf("%s: column %s appears twice in header", file, name)
			}
			t.cols[i] = pos
		}
	}
	for _, i := range required {
		if t.cols[i] < 0 {
			return nil, fmt.Errorf("%s: missing required column %s", file, names[i])
		}
	}
	return t, nil
}

// next returns the next row and the line it starts on. The row is reused
// by the following call: keep none of its strings without cloning them.
func (t *table) next() ([]string, int, error) {
	rec, err := t.r.Read()
	if err != nil {
		return nil, 0, err
	}
	if err := t.checkUTF8(rec); err != nil {
		return nil, 0, err
	}
	line, _ := t.r.FieldPos(0)
	return rec, line, nil
}

// checkUTF8 returns an *EncodingError for the first byte of rec, the
// record just read, that is not UTF-8.
func (t *table) checkUTF8(rec []string) error {
	for i, f := range rec {
		if utf8.ValidString(f) {
			continue
		}
		at := 0
		for at < len(f) {
			r, size := utf8.DecodeRuneInString(f[at:])
			if r == utf8.RuneError && size <= 1 {
				break
			}
			at += size
		}
		line, _ := t.r.FieldPos(i)
		return &EncodingError{File: t.file, Line: line + strings.Count(f[:at], "\n"), Byte: f[at]}
	}
	return nil
}

// EncodingError reports a directory file that is not UTF-8. It is a hard
// error rather than a transcoding from windows-1252 (what Excel writes for
// "CSV (séparateur : point-virgule)" on a French Windows) because a file
// read in the wrong encoding loads without complaint, with every accented
// name silently wrong in recipients' status files; the message names the
// line and says how the byte reads in windows-1252, so the operator can
// tell and save the file again as UTF-8.
type EncodingError struct {
	// File is the base name of the file, StructuresFile or ServicesFile.
	File string
	// Line is the 1-based line of the first byte that is not UTF-8.
	Line int
	// Byte is that byte (unset when UTF16).
	Byte byte
	// UTF16 reports a file starting with a UTF-16 byte order mark.
	UTF16 bool
}

// Error formats the error as "file:line: msg", with what to do.
func (e *EncodingError) Error() string {
	const fix = `save it as UTF-8 (in Excel: "CSV UTF-8")`
	if e.UTF16 {
		return fmt.Sprintf("%s:%d: file is UTF-16, not UTF-8: %s", e.File, e.Line, fix)
	}
	how := "undefined in windows-1252"
	if r := charmap.Windows1252.DecodeByte(e.Byte); r != utf8.RuneError {
		how = fmt.Sprintf("%q in windows-1252", r)
	}
	return fmt.Sprintf("%s:%d: not UTF-8: byte 0x%02X (%s): %s", e.File, e.Line, e.Byte, how, fix)
}

// field returns the trimmed value of known column col in rec, or "" when
// the column is absent from the header. rec has at least t.width fields.
func (t *table) field(rec []string, col int) string {
	pos := t.cols[col]
	if pos < 0 {
		return ""
	}
	return strings.TrimSpace(rec[pos])
}

// bool parses known column col of rec as a boolean, returning absent when
// the column is not in the header. On an invalid value it returns a
// message for the row error.
func (t *table) bool(rec []string, col int, absent bool) (v bool, bad string) {
	if t.cols[col] < 0 {
		return absent, ""
	}
	s := t.field(rec, col)
	switch {
	case s == "", s == "0", strings.EqualFold(s, "false"), strings.EqualFold(s, "non"):
		return false, ""
	case s == "1", strings.EqualFold(s, "true"), strings.EqualFold(s, "oui"):
		return true, ""
	}
	return false, fmt.Sprintf("column %s: invalid boolean %q (want true/false, oui/non or 1/0)", t.names[col], s)
}

// arena copies the strings kept from CSV records into shared 64 KiB
// blocks: one allocation per block instead of one per row, which keeps the
// heap small and the garbage collector's object count low. It relies on
// strings.Builder never rewriting bytes it has already handed out through
// String, and on never letting a block grow past its capacity (a new block
// is started instead), so earlier strings keep pointing at their block.
type arena struct {
	b strings.Builder
}

// arenaBlock is the size of an arena block. Strings longer than that get a
// block of their own.
const arenaBlock = 64 << 10

// clone2 copies a and b into the arena. The copies share no memory with the
// originals, so the CSV record they come from can be reused.
func (ar *arena) clone2(a, b string) (string, string) {
	n := len(a) + len(b)
	if n == 0 {
		return "", ""
	}
	if ar.b.Cap()-ar.b.Len() < n {
		ar.b = strings.Builder{}
		ar.b.Grow(max(n, arenaBlock))
	}
	start := ar.b.Len()
	ar.b.WriteString(a)
	ar.b.WriteString(b)
	s := ar.b.String()[start:]
	return s[:len(a)], s[len(a):]
}
