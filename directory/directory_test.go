package directory

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"runtime"
	"strings"
	"testing"
)

const (
	structHeader = "Identifiant;RaisonSociale;EmetteurEdi;RecepteurEdi;GestionStatutMiseEnPaiement;GestionEngagement;GestionService;GestionServiceEngagement;EstMOA;EstMOAUniquement;StructureActive\n"
	svcHeader    = "Identifiant;CodeService;LibelleService;GestionEngagement;ServiceActif\n"

	siretA = "73282932000074" // Luhn-valid
	siretB = "35600000049837" // La Poste rule
	siretC = "12345678912345" // fails the checksum: the directory is authoritative
)

// read calls Read on string inputs and fails the test on a hard error.
func read(t *testing.T, structures, services string) (*Snapshot, []RowError) {
	t.Helper()
	snap, rowErrs, err := Read(strings.NewReader(structures), strings.NewReader(services))
	if err != nil {
		t.Fatalf("Read: %v", err)
	}
	return snap, rowErrs
}

func TestReadFullRow(t *testing.T) {
	structures := structHeader +
		siretA + ";Ville de Test;true;false;oui;1;TRUE;non;0;;true\n" +
		siretC + ";Hors checksum;false;true;false;false;false;true;true;true;false\n"
	services := svcHeader +
		siretA + ";COMPTA;Comptabilité;oui;oui\n" +
		siretA + ";compta;Autre casse;non;0\n" +
		siretC + ";FACTURES_PUBLIQUES;Factures;false;true\n"
	snap, rowErrs := read(t, structures, services)
	if len(rowErrs) != 0 {
		t.Fatalf("row errors: %v", rowErrs)
	}
	if ns, nv := snap.Len(); ns != 2 || nv != 3 {
		t.Fatalf("Len() = %d, %d, want 2, 3", ns, nv)
	}
	got, ok := snap.Structure(siretA)
	want := Structure{SIRET: siretA, Name: "Ville de Test", EmetteurEDI: true, StatutMiseEnPaiement: true,
		EngagementRequired: true, ServiceRequired: true, Active: true}
	if !ok || got != want {
		t.Errorf("Structure(%s) = %+v, %v, want %+v", siretA, got, ok, want)
	}
	got, ok = snap.Structure(siretC)
	want = Structure{SIRET: siretC, Name: "Hors checksum", RecepteurEDI: true,
		ServiceOrEngagementRequired: true, MOA: true, MOAOnly: true}
	if !ok || got != want {
		t.Errorf("Structure(%s) = %+v, %v, want %+v", siretC, got, ok, want)
	}
	svc, ok := snap.Service(siretA, "COMPTA")
	wantSvc := Service{SIRET: siretA, Code: "COMPTA", Name: "Comptabilité", EngagementRequired: true, Active: true}
	if !ok || svc != wantSvc {
		t.Errorf("Service(COMPTA) = %+v, %v, want %+v", svc, ok, wantSvc)
	}
	svc, ok = snap.Service(siretA, "compta")
	wantSvc = Service{SIRET: siretA, Code: "compta", Name: "Autre casse"}
	if !ok || svc != wantSvc {
		t.Errorf("Service(compta) = %+v, %v, want %+v", svc, ok, wantSvc)
	}
}

func TestReadHeader(t *testing.T) {
	tests := []struct {
		name       string
		structures string
		services   string
	}{
		{
			name:       "exact",
			structures: "Identifiant;RaisonSociale;GestionEngagement\n" + siretA + ";Mairie;oui\n",
			services:   "Identifiant;CodeService;LibelleService\n" + siretA + ";S1;Service 1\n",
		},
		{
			name:       "case and spaces",
			structures: " IDENTIFIANT ;raisonsociale;gestionENGAGEMENT\n" + siretA + ";Mairie;oui\n",
			services:   "identifiant; codeservice ;LIBELLESERVICE\n" + siretA + ";S1;Service 1\n",
		},
		{
			name:       "BOM",
			structures: utf8BOM + "Identifiant;RaisonSociale;GestionEngagement\n" + siretA + ";Mairie;oui\n",
			services:   utf8BOM + "Identifiant;CodeService;LibelleService\n" + siretA + ";S1;Service 1\n",
		},
		{
			name:       "BOM before quoted header",
			structures: utf8BOM + `"Identifiant";"RaisonSociale";"GestionEngagement"` + "\n" + siretA + ";Mairie;oui\n",
			services:   utf8BOM + `"Identifiant";CodeService;LibelleService` + "\n" + siretA + ";S1;Service 1\n",
		},
		{
			name:       "unknown columns and other order",
			structures: "Pays;GestionEngagement;Commentaire;RaisonSociale;Identifiant\nFR;oui;x;Mairie;" + siretA + "\n",
			services:   "LibelleService;Extra;CodeService;Identifiant\nService 1;?;S1;" + siretA + "\n",
		},
		{
			name:       "CRLF and quoted fields",
			structures: "Identifiant;RaisonSociale;GestionEngagement\r\n\"" + siretA + "\";\"Mairie\";\"oui\"\r\n",
			services:   "Identifiant;CodeService;LibelleService\r\n" + siretA + ";\"S1\";\"Service 1\"\r\n",
		},
	}
	wantSt := Structure{SIRET: siretA, Name: "Mairie", EngagementRequired: true, Active: true}
	wantSvc := Service{SIRET: siretA, Code: "S1", Name: "Service 1", Active: true}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			snap, rowErrs := read(t, tt.structures, tt.services)
			if len(rowErrs) != 0 {
				t.Fatalf("row errors: %v", rowErrs)
			}
			if got, ok := snap.Structure(siretA); !ok || got != wantSt {
				t.Errorf("Structure = %+v, %v, want %+v", got, ok, wantSt)
			}
			if got, ok := snap.Service(siretA, "S1"); !ok || got != wantSvc {
				t.Errorf("Service = %+v, %v, want %+v", got, ok, wantSvc)
			}
		})
	}
}

func TestReadBooleans(t *testing.T) {
	tests := []struct {
		in      string
		want    bool
		invalid bool
	}{
		{in: "true", want: true},
		{in: "TRUE", want: true},
		{in: "True", want: true},
		{in: "oui", want: true},
		{in: "OUI", want: true},
		{in: "Oui", want: true},
		{in: "1", want: true},
		{in: " oui ", want: true},
		{in: "false"},
		{in: "FALSE"},
		{in: "False"},
		{in: "non"},
		{in: "NON"},
		{in: "Non"},
		{in: "0"},
		{in: ""},
		{in: "  "},
		{in: "yes", invalid: true},
		{in: "no", invalid: true},
		{in: "2", invalid: true},
		{in: "vrai", invalid: true},
		{in: "o", invalid: true},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%q", tt.in), func(t *testing.T) {
			snap, rowErrs := read(t,
				"Identifiant;GestionEngagement\n"+siretA+";"+tt.in+"\n",
				"Identifiant;CodeService;ServiceActif\n"+siretA+";S;"+tt.in+"\n")
			if tt.invalid {
				want := []RowError{
					{StructuresFile, 2, fmt.Sprintf("column GestionEngagement: invalid boolean %q (want true/false, oui/non or 1/0)", strings.TrimSpace(tt.in))},
					{ServicesFile, 2, "SIRET " + siretA + " is not in structures.csv"},
				}
				if !reflect.DeepEqual(rowErrs, want) {
					t.Errorf("row errors = %q, want %q", rowErrs, want)
				}
				return
			}
			if len(rowErrs) != 0 {
				t.Fatalf("row errors: %v", rowErrs)
			}
			if st, _ := snap.Structure(siretA); st.EngagementRequired != tt.want {
				t.Errorf("EngagementRequired = %v, want %v", st.EngagementRequired, tt.want)
			}
			if sv, _ := snap.Service(siretA, "S"); sv.Active != tt.want {
				t.Errorf("Active = %v, want %v", sv.Active, tt.want)
			}
		})
	}
}

func TestReadAbsentColumnDefaults(t *testing.T) {
	snap, rowErrs := read(t,
		"Identifiant\n"+siretA+"\n",
		"Identifiant;CodeService\n"+siretA+";S\n")
	if len(rowErrs) != 0 {
		t.Fatalf("row errors: %v", rowErrs)
	}
	if got, want := mustStructure(t, snap, siretA), (Structure{SIRET: siretA, Active: true}); got != want {
		t.Errorf("Structure = %+v, want %+v", got, want)
	}
	if got, want := mustService(t, snap, siretA, "S"), (Service{SIRET: siretA, Code: "S", Active: true}); got != want {
		t.Errorf("Service = %+v, want %+v", got, want)
	}

	// An empty cell in a present column is false, even for Active.
	snap, _ = read(t,
		"Identifiant;StructureActive\n"+siretA+";\n",
		"Identifiant;CodeService;ServiceActif\n"+siretA+";S;\n")
	if mustStructure(t, snap, siretA).Active {
		t.Error("structure with empty StructureActive is active")
	}
	if mustService(t, snap, siretA, "S").Active {
		t.Error("service with empty ServiceActif is active")
	}
}

func TestReadBadRows(t *testing.T) {
	const (
		sh = "Identifiant;RaisonSociale;GestionEngagement\n"
		vh = "Identifiant;CodeService;LibelleService;GestionEngagement\n"
	)
	tests := []struct {
		name         string
		structures   string
		services     string
		want         []RowError
		nStr, nSvc   int
		wantSvcName  string // name of service (siretA, "S1") if not empty
		wantStructNm string // name of structure siretA if not empty
	}{
		{
			name:       "SIRET too short",
			structures: sh + siretA + ";A;\n" + "1234567891234;B;\n",
			services:   vh,
			want:       []RowError{{StructuresFile, 3, `Identifiant "1234567891234" is not 14 digits`}},
			nStr:       1,
		},
		{
			name:       "SIRET too long",
			structures: sh + "123456789123456;B;\n" + siretA + ";A;\n",
			services:   vh,
			want:       []RowError{{StructuresFile, 2, `Identifiant "123456789123456" is not 14 digits`}},
			nStr:       1,
		},
		{
			name:       "SIRET with letter",
			structures: sh + siretA + ";A;\n" + "7328293200007A;B;\n",
			services:   vh,
			want:       []RowError{{StructuresFile, 3, `Identifiant "7328293200007A" is not 14 digits`}},
			nStr:       1,
		},
		{
			name:       "SIRET with inner space",
			structures: sh + "732 829 320 00074;B;\n",
			services:   vh,
			want:       []RowError{{StructuresFile, 2, `Identifiant "732 829 320 00074" is not 14 digits`}},
		},
		{
			name:       "SIRET with non-ASCII digits",
			structures: sh + "７３２８２９３２０００７４;B;\n",
			services:   vh,
			want:       []RowError{{StructuresFile, 2, `Identifiant "７３２８２９３２０００７４" is not 14 digits`}},
		},
		{
			name:       "empty SIRET",
			structures: sh + ";B;\n",
			services:   vh,
			want:       []RowError{{StructuresFile, 2, `Identifiant "" is not 14 digits`}},
		},
		{
			name:       "checksum-invalid SIRET is kept",
			structures: sh + siretC + ";C;\n" + siretB + ";B;\n",
			services:   vh + siretC + ";S;;\n",
			nStr:       2,
			nSvc:       1,
		},
		{
			name:         "duplicate SIRET keeps first",
			structures:   sh + siretA + ";first;\n" + siretB + ";B;\n" + " " + siretA + " ;second;\n",
			services:     vh,
			want:         []RowError{{StructuresFile, 4, "duplicate SIRET " + siretA + " (first at line 2)"}},
			nStr:         2,
			wantStructNm: "first",
		},
		{
			name:       "bad boolean in structure",
			structures: sh + siretA + ";A;peut-être\n" + siretB + ";B;oui\n",
			services:   vh + siretB + ";S1;;\n",
			want:       []RowError{{StructuresFile, 2, `column GestionEngagement: invalid boolean "peut-être" (want true/false, oui/non or 1/0)`}},
			nStr:       1,
			nSvc:       1,
		},
		{
			name:       "short row",
			structures: sh + siretA + ";A\n" + siretB + ";B;\n",
			services:   vh + siretB + ";S1\n",
			want: []RowError{
				{StructuresFile, 2, "2 fields, header has 3"},
				{ServicesFile, 2, "2 fields, header has 4"},
			},
			nStr: 1,
		},
		{
			name:       "malformed CSV row",
			structures: sh + siretA + ";A \"quoted\";\n" + siretB + ";B;\n",
			services:   vh + siretB + ";S1;;\n",
			want:       []RowError{{StructuresFile, 2, `malformed CSV: bare " in non-quoted-field`}},
			nStr:       1,
			nSvc:       1,
		},
		{
			name:       "multi-line quoted field keeps line numbers",
			structures: sh + siretA + ";\"two\nlines\";\n" + "bad;B;\n",
			services:   vh,
			want:       []RowError{{StructuresFile, 4, `Identifiant "bad" is not 14 digits`}},
			nStr:       1,
		},
		{
			name:       "blank lines are skipped, not counted as rows",
			structures: sh + "\n" + siretA + ";A;\n\n" + "bad;B;\n",
			services:   vh,
			want:       []RowError{{StructuresFile, 5, `Identifiant "bad" is not 14 digits`}},
			nStr:       1,
		},
		{
			name:       "service SIRET malformed",
			structures: sh + siretA + ";A;\n",
			services:   vh + "123;S1;;\n",
			want:       []RowError{{ServicesFile, 2, `Identifiant "123" is not 14 digits`}},
			nStr:       1,
		},
		{
			name:       "empty service code",
			structures: sh + siretA + ";A;\n",
			services:   vh + siretA + ";S1;;\n" + siretA + ";  ;Sans code;\n",
			want:       []RowError{{ServicesFile, 3, "empty CodeService"}},
			nStr:       1,
			nSvc:       1,
		},
		{
			name:        "duplicate service keeps first",
			structures:  sh + siretA + ";A;\n" + siretB + ";B;\n",
			services:    vh + siretA + ";S1;first;\n" + siretB + ";S1;other structure;\n" + siretA + ";s1;other case;\n" + siretA + "; S1 ;second;\n",
			want:        []RowError{{ServicesFile, 5, "duplicate service S1 for SIRET " + siretA + " (first at line 2)"}},
			nStr:        2,
			nSvc:        3,
			wantSvcName: "first",
		},
		{
			name:       "service of unknown structure",
			structures: sh + siretA + ";A;\n",
			services:   vh + siretA + ";S1;;\n" + siretB + ";S1;;\n",
			want:       []RowError{{ServicesFile, 3, "SIRET " + siretB + " is not in structures.csv"}},
			nStr:       1,
			nSvc:       1,
		},
		{
			name:       "bad boolean in service",
			structures: sh + siretA + ";A;\n",
			services:   vh + siretA + ";S1;;bof\n" + siretA + ";S1;;oui\n",
			want:       []RowError{{ServicesFile, 2, `column GestionEngagement: invalid boolean "bof" (want true/false, oui/non or 1/0)`}},
			nStr:       1,
			nSvc:       1,
		},
		{
			name:       "several errors in file order",
			structures: sh + "x;A;\n" + siretA + ";A;\n" + siretA + ";A;\n",
			services:   vh + siretA + ";;;\n" + siretB + ";S;;\n",
			want: []RowError{
				{StructuresFile, 2, `Identifiant "x" is not 14 digits`},
				{StructuresFile, 4, "duplicate SIRET " + siretA + " (first at line 3)"},
				{ServicesFile, 2, "empty CodeService"},
				{ServicesFile, 3, "SIRET " + siretB + " is not in structures.csv"},
			},
			nStr: 1,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			snap, rowErrs := read(t, tt.structures, tt.services)
			if !reflect.DeepEqual(rowErrs, tt.want) {
				t.Errorf("row errors:\n got %q\nwant %q", rowErrs, tt.want)
			}
			if ns, nv := snap.Len(); ns != tt.nStr || nv != tt.nSvc {
				t.Errorf("Len() = %d, %d, want %d, %d", ns, nv, tt.nStr, tt.nSvc)
			}
			if tt.wantStructNm != "" {
				if got := mustStructure(t, snap, siretA).Name; got != tt.wantStructNm {
					t.Errorf("structure name = %q, want %q", got, tt.wantStructNm)
				}
			}
			if tt.wantSvcName != "" {
				if got := mustService(t, snap, siretA, "S1").Name; got != tt.wantSvcName {
					t.Errorf("service name = %q, want %q", got, tt.wantSvcName)
				}
			}
		})
	}
}

// failingReader returns some bytes, then an I/O error.
type failingReader struct {
	data string
	err  error
}

func (r *failingReader) Read(p []byte) (int, error) {
	if r.data == "" {
		return 0, r.err
	}
	n := copy(p, r.data)
	r.data = r.data[n:]
	return n, nil
}

func TestReadHardErrors(t *testing.T) {
	errDisk := errors.New("disk on fire")
	tests := []struct {
		name       string
		structures io.Reader
		services   io.Reader
		want       string
		wantIs     error
	}{
		{
			name:       "structures missing Identifiant",
			structures: strings.NewReader("Siret;RaisonSociale\n" + siretA + ";A\n"),
			services:   strings.NewReader(svcHeader),
			want:       "structures.csv: missing required column Identifiant",
		},
		{
			name:       "services missing Identifiant",
			structures: strings.NewReader(structHeader),
			services:   strings.NewReader("CodeService;LibelleService\n"),
			want:       "services.csv: missing required column Identifiant",
		},
		{
			name:       "services missing CodeService",
			structures: strings.NewReader(structHeader),
			services:   strings.NewReader("Identifiant;LibelleService\n"),
			want:       "services.csv: missing required column CodeService",
		},
		{
			name:       "empty structures file",
			structures: strings.NewReader(""),
			services:   strings.NewReader(svcHeader),
			want:       "structures.csv: missing header row",
		},
		{
			name:       "services file with only a BOM",
			structures: strings.NewReader(structHeader),
			services:   strings.NewReader(utf8BOM),
			want:       "services.csv: missing header row",
		},
		{
			name:       "unreadable header",
			structures: strings.NewReader("Identifiant;\"Raison\"Sociale\n"),
			services:   strings.NewReader(svcHeader),
			want:       "structures.csv: read header: parse error on line 1, column 20: extraneous or missing \" in quoted-field",
		},
		{
			name:       "duplicate column",
			structures: strings.NewReader("Identifiant;identifiant\n"),
			services:   strings.NewReader(svcHeader),
			want:       "structures.csv: column Identifiant appears twice in header",
		},
		{
			name:       "reader fails mid-file",
			structures: strings.NewReader(structHeader),
			services:   &failingReader{data: svcHeader + siretA + ";S;;;\n", err: errDisk},
			want:       "services.csv: disk on fire",
			wantIs:     errDisk,
		},
		{
			name:       "reader fails on header",
			structures: &failingReader{err: errDisk},
			services:   strings.NewReader(svcHeader),
			want:       "structures.csv: read header: disk on fire",
			wantIs:     errDisk,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			snap, rowErrs, err := Read(tt.structures, tt.services)
			if err == nil {
				t.Fatalf("Read succeeded with %d row errors, want error %q", len(rowErrs), tt.want)
			}
			if err.Error() != tt.want {
				t.Errorf("error = %q, want %q", err, tt.want)
			}
			if tt.wantIs != nil && !errors.Is(err, tt.wantIs) {
				t.Errorf("error %v does not wrap %v", err, tt.wantIs)
			}
			if snap != nil || rowErrs != nil {
				t.Errorf("got snapshot %v and row errors %v with a hard error", snap, rowErrs)
			}
		})
	}
}

func TestLookups(t *testing.T) {
	snap, rowErrs := read(t,
		structHeader+siretA+";A;;;;;;;;;\n"+siretC+";C;;;;;;;;;\n",
		svcHeader+siretA+";S1;Un;;\n"+siretA+";FACTURES_PUBLIQUES;FP;;\n"+siretC+";S1;Autre;;\n")
	if len(rowErrs) != 0 {
		t.Fatalf("row errors: %v", rowErrs)
	}
	structTests := []struct {
		siret string
		found bool
	}{
		{siretA, true},
		{siretC, true},
		{" " + siretA + " ", true},
		{siretB, false},
		{"", false},
		{siretA[:13], false},
	}
	for _, tt := range structTests {
		st, ok := snap.Structure(tt.siret)
		if ok != tt.found {
			t.Errorf("Structure(%q) found = %v, want %v", tt.siret, ok, tt.found)
		}
		if ok && st.SIRET != strings.TrimSpace(tt.siret) {
			t.Errorf("Structure(%q).SIRET = %q", tt.siret, st.SIRET)
		}
		if !ok && st != (Structure{}) {
			t.Errorf("Structure(%q) not found but returned %+v", tt.siret, st)
		}
	}
	svcTests := []struct {
		siret, code string
		wantName    string // "" = not found
	}{
		{siretA, "S1", "Un"},
		{siretC, "S1", "Autre"},
		{siretA, "FACTURES_PUBLIQUES", "FP"},
		{siretA, " S1 ", "Un"},
		{" " + siretA, "S1", "Un"},
		{siretA, "s1", ""},
		{siretA, "S", ""},
		{siretA, "", ""},
		{siretC, "FACTURES_PUBLIQUES", ""},
		{siretB, "S1", ""},
	}
	for _, tt := range svcTests {
		sv, ok := snap.Service(tt.siret, tt.code)
		if ok != (tt.wantName != "") || sv.Name != tt.wantName {
			t.Errorf("Service(%q, %q) = %+v, %v, want name %q", tt.siret, tt.code, sv, ok, tt.wantName)
		}
	}
}

func TestNilSnapshot(t *testing.T) {
	var s *Snapshot
	if _, ok := s.Structure(siretA); ok {
		t.Error("nil snapshot found a structure")
	}
	if _, ok := s.Service(siretA, "S"); ok {
		t.Error("nil snapshot found a service")
	}
	if ns, nv := s.Len(); ns != 0 || nv != 0 {
		t.Errorf("nil Len() = %d, %d", ns, nv)
	}
}

func TestNew(t *testing.T) {
	structs := []Structure{
		{SIRET: siretA, Name: "first", Active: true},
		{SIRET: siretA, Name: "second"},
		{SIRET: siretB, Name: "B"},
	}
	services := []Service{
		{SIRET: siretA, Code: "S", Name: "first"},
		{SIRET: siretA, Code: "S", Name: "second"},
		{SIRET: siretC, Code: "S", Name: "orphan"}, // allowed in New
	}
	snap := New(structs, services)
	structs[0].Name = "mutated"
	services[0].Name = "mutated"

	if ns, nv := snap.Len(); ns != 2 || nv != 2 {
		t.Errorf("Len() = %d, %d, want 2, 2", ns, nv)
	}
	if got := mustStructure(t, snap, siretA); got.Name != "first" || !got.Active {
		t.Errorf("Structure(A) = %+v, want the first one, unmutated", got)
	}
	if got := mustService(t, snap, siretA, "S"); got.Name != "first" {
		t.Errorf("Service(A, S) = %+v, want the first one, unmutated", got)
	}
	if got := mustService(t, snap, siretC, "S"); got.Name != "orphan" {
		t.Errorf("Service(C, S) = %+v", got)
	}
	if _, ok := New(nil, nil).Structure(siretA); ok {
		t.Error("empty snapshot found a structure")
	}
}

func TestRowErrorError(t *testing.T) {
	var err error = RowError{File: StructuresFile, Line: 12, Msg: "duplicate SIRET " + siretA}
	if got, want := err.Error(), "structures.csv:12: duplicate SIRET "+siretA; got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
}

func TestLoad(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string) {
		t.Helper()
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write(StructuresFile, utf8BOM+structHeader+siretA+";A;;;;;;;;;oui\nbad;B;;;;;;;;;\n")
	write(ServicesFile, svcHeader+siretA+";S1;Un;;\n")

	snap, rowErrs, err := Load(dir)
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	want := []RowError{{StructuresFile, 3, `Identifiant "bad" is not 14 digits`}}
	if !reflect.DeepEqual(rowErrs, want) {
		t.Errorf("row errors = %q, want %q", rowErrs, want)
	}
	if !mustStructure(t, snap, siretA).Active {
		t.Error("structure not active")
	}
	mustService(t, snap, siretA, "S1")

	t.Run("missing file", func(t *testing.T) {
		if err := os.Remove(filepath.Join(dir, ServicesFile)); err != nil {
			t.Fatal(err)
		}
		snap, rowErrs, err := Load(dir)
		if !errors.Is(err, fs.ErrNotExist) {
			t.Fatalf("Load without services.csv: err = %v, want fs.ErrNotExist", err)
		}
		if !strings.Contains(err.Error(), ServicesFile) {
			t.Errorf("error %q does not name %s", err, ServicesFile)
		}
		if snap != nil || rowErrs != nil {
			t.Errorf("got snapshot %v and row errors %v with a hard error", snap, rowErrs)
		}
	})

	t.Run("missing column", func(t *testing.T) {
		write(ServicesFile, "Identifiant;Libelle\n")
		_, _, err := Load(dir)
		if err == nil || !strings.HasSuffix(err.Error(), "services.csv: missing required column CodeService") {
			t.Fatalf("err = %v, want missing CodeService", err)
		}
	})
}

func mustStructure(t *testing.T, s *Snapshot, siret string) Structure {
	t.Helper()
	st, ok := s.Structure(siret)
	if !ok {
		t.Fatalf("structure %s not found", siret)
	}
	return st
}

func mustService(t *testing.T, s *Snapshot, siret, code string) Service {
	t.Helper()
	sv, ok := s.Service(siret, code)
	if !ok {
		t.Fatalf("service %s/%s not found", siret, code)
	}
	return sv
}

// TestLoadManyRows crosses the block boundaries of the snapshot's storage.
func TestLoadManyRows(t *testing.T) {
	const nStruct, svcPer = 5000, 2
	dir := t.TempDir()
	writeLargeDirectory(t, dir, nStruct, svcPer)
	snap, rowErrs, err := Load(dir)
	if err != nil || len(rowErrs) != 0 {
		t.Fatalf("Load: %v, row errors %v", err, rowErrs)
	}
	if ns, nv := snap.Len(); ns != nStruct || nv != nStruct*svcPer {
		t.Fatalf("Len() = %d, %d", ns, nv)
	}
	for _, i := range []int{0, blockLen - 1, blockLen, nStruct - 1} {
		siret := fmt.Sprintf("%09d%05d", 100000000+i, i%100000)
		st := mustStructure(t, snap, siret)
		if want := fmt.Sprintf("COMMUNE DE SAINT-EXEMPLE-SUR-MER %d", i); st.Name != want || st.EmetteurEDI != (i%2 == 0) {
			t.Errorf("structure %d = %+v", i, st)
		}
		sv := mustService(t, snap, siret, "SVC-0001")
		if sv.SIRET != siret || sv.Name != "Service de la comptabilité 1" || !sv.Active {
			t.Errorf("service %d = %+v", i, sv)
		}
	}
}

// writeLargeDirectory writes a directory of nStruct structures with
// svcPer services each, shaped like the weekly export.
func writeLargeDirectory(tb testing.TB, dir string, nStruct, svcPer int) {
	tb.Helper()
	create := func(name string, fill func(w *bufio.Writer)) {
		f, err := os.Create(filepath.Join(dir, name))
		if err != nil {
			tb.Fatal(err)
		}
		w := bufio.NewWriter(f)
		fill(w)
		if err := w.Flush(); err != nil {
			tb.Fatal(err)
		}
		if err := f.Close(); err != nil {
			tb.Fatal(err)
		}
	}
	create(StructuresFile, func(w *bufio.Writer) {
		w.WriteString(utf8BOM + structHeader)
		for i := range nStruct {
			fmt.Fprintf(w, "%09d%05d;COMMUNE DE SAINT-EXEMPLE-SUR-MER %d;%t;true;oui;%d;non;false;0;0;1\n",
				100000000+i, i%100000, i, i%2 == 0, i%3/2)
		}
	})
	create(ServicesFile, func(w *bufio.Writer) {
		w.WriteString(svcHeader)
		for i := range nStruct {
			for j := range svcPer {
				fmt.Fprintf(w, "%09d%05d;SVC-%04d;Service de la comptabilité %d;non;oui\n",
					100000000+i, i%100000, j, j)
			}
		}
	})
}

func BenchmarkLoad100k(b *testing.B) {
	const nStruct, svcPer = 100_000, 3
	dir := b.TempDir()
	writeLargeDirectory(b, dir, nStruct, svcPer)
	runtime.GC()
	b.ReportAllocs()

	var snap *Snapshot
	var peak uint64
	var m runtime.MemStats
	for b.Loop() {
		var rowErrs []RowError
		var err error
		snap, rowErrs, err = Load(dir)
		if err != nil || len(rowErrs) != 0 {
			b.Fatalf("Load: %v, %d row errors", err, len(rowErrs))
		}
		runtime.ReadMemStats(&m)
		peak = max(peak, m.HeapInuse)
	}
	b.StopTimer()
	if ns, nv := snap.Len(); ns != nStruct || nv != nStruct*svcPer {
		b.Fatalf("Len() = %d, %d", ns, nv)
	}
	b.ReportMetric(float64(peak)/1e6, "MB-heap")
	runtime.GC()
	runtime.ReadMemStats(&m)
	b.ReportMetric(float64(m.HeapInuse)/1e6, "MB-live")
	runtime.KeepAlive(snap)
}

// TestReadNotUTF8: a directory file that is not UTF-8 is a hard error
// naming the file and the line of the first byte that is not, and how it
// reads in windows-1252, rather than a directory loaded with wrong names.
func TestReadNotUTF8(t *testing.T) {
	tests := []struct {
		name                 string
		structures, services string
		want                 EncodingError
		msg                  string
	}{
		{
			name:       "windows-1252 name in structures.csv",
			structures: structHeader + siretA + ";Mairie;;;;;;;;;\n" + siretC + ";Mairie de Sainte-H\xe9l\xe8ne;;;;;;;;;\n",
			services:   svcHeader,
			want:       EncodingError{File: StructuresFile, Line: 3, Byte: 0xE9},
			msg:        `structures.csv:3: not UTF-8: byte 0xE9 ('é' in windows-1252): save it as UTF-8 (in Excel: "CSV UTF-8")`,
		},
		{
			name:       "quoted field over two lines in services.csv",
			structures: structHeader + siretA + ";Mairie;;;;;;;;;\n",
			services:   svcHeader + siretA + ";S1;Un;;\n" + siretA + ";S2;\"Service\nd'\x80tat\";;\n",
			want:       EncodingError{File: ServicesFile, Line: 4, Byte: 0x80},
			msg:        `services.csv:4: not UTF-8: byte 0x80 ('€' in windows-1252)`,
		},
		{
			name:       "header",
			structures: "Identifiant;Raison\xa0Sociale\n",
			services:   svcHeader,
			want:       EncodingError{File: StructuresFile, Line: 1, Byte: 0xA0},
		},
		{
			name:       "byte undefined in windows-1252",
			structures: structHeader + siretA + ";Mairie \x81;;;;;;;;;\n",
			services:   svcHeader,
			want:       EncodingError{File: StructuresFile, Line: 2, Byte: 0x81},
			msg:        "structures.csv:2: not UTF-8: byte 0x81 (undefined in windows-1252)",
		},
		{
			name:       "UTF-8 sequence cut short",
			structures: structHeader + siretA + ";Soci\xc3;;;;;;;;;\n",
			services:   svcHeader,
			want:       EncodingError{File: StructuresFile, Line: 2, Byte: 0xC3},
		},
		{
			name:       "in a column flowgate does not read",
			structures: "Identifiant;Commentaire;RaisonSociale\n" + siretA + ";d\xe9j\xe0 vu;Mairie\n",
			services:   svcHeader,
			want:       EncodingError{File: StructuresFile, Line: 2, Byte: 0xE9},
		},
		{
			name:       "UTF-16 (Excel's Unicode text)",
			structures: structHeader,
			services:   "\xff\xfeI\x00d\x00",
			want:       EncodingError{File: ServicesFile, Line: 1, UTF16: true},
			msg:        `services.csv:1: file is UTF-16, not UTF-8: save it as UTF-8 (in Excel: "CSV UTF-8")`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			snap, _, err := Read(strings.NewReader(tt.structures), strings.NewReader(tt.services))
			var ee *EncodingError
			if !errors.As(err, &ee) || *ee != tt.want || snap != nil {
				t.Fatalf("Read: %v (%#v), want %+v", err, ee, tt.want)
			}
			if tt.msg != "" && !strings.HasPrefix(err.Error(), tt.msg) {
				t.Errorf("error %q, want %q", err, tt.msg)
			}
		})
	}
	// The same through Load, which names the folder.
	dir := t.TempDir()
	for name, data := range map[string]string{StructuresFile: tests[0].structures, ServicesFile: tests[0].services} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(data), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	_, _, err := Load(dir)
	var ee *EncodingError
	if !errors.As(err, &ee) || !strings.Contains(err.Error(), dir+": structures.csv:3: not UTF-8") {
		t.Errorf("Load: %v", err)
	}
}
