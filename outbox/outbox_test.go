package outbox

import (
	"bytes"
	"encoding/xml"
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"
	"unicode/utf8"

	"flowgate"
	"flowgate/internal/corpus"
	"flowgate/internal/fsx"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

// schema is Chorus Pro's CPPStatut schema in the shared corpus.
var schema, _ = corpus.Path(corpus.CPPStatutSchema...)

// xmllint validates data against the CPPStatut schema with libxml2's
// xmllint, the check a partner would run. It is a subtest "xmllint", so
// that without xmllint or the corpus only the validation is skipped, not the
// caller's checks of the content.
func xmllint(t *testing.T, data []byte) {
	t.Helper()
	t.Run("xmllint", func(t *testing.T) {
		lint := lookXmllint(t)
		file := filepath.Join(t.TempDir(), "statut.xml")
		if err := os.WriteFile(file, data, 0o600); err != nil {
			t.Fatal(err)
		}
		out, err := exec.Command(lint, "--noout", "--schema", schema, file).CombinedOutput()
		if err != nil {
			t.Errorf("xmllint rejects the rendered CPPStatut: %v\n%s\n--- document:\n%s", err, out, data)
		}
	})
}

func lookXmllint(t *testing.T) string {
	t.Helper()
	if _, err := os.Stat(schema); err != nil {
		t.Skipf("CPPStatut schema not found (%v): the shared corpus is absent, schema validation skipped", err)
	}
	lint, err := exec.LookPath("xmllint")
	if err != nil {
		t.Skip("xmllint not found (apt-get install libxml2-utils): schema validation skipped")
	}
	return lint
}

// The schema check must be able to fail: the corpus's Example03 has a bad
// date and must be refused, Example01 accepted.
func TestSchemaCheckCanFail(t *testing.T) {
	lint := lookXmllint(t)
	dir := filepath.Join(filepath.Dir(schema), "..", "..", "chorus")
	if out, err := exec.Command(lint, "--noout", "--schema", schema, filepath.Join(dir, "Example01-FactureStatut-ok.xml")).CombinedOutput(); err != nil {
		t.Errorf("Example01 should validate: %v\n%s", err, out)
	}
	if out, err := exec.Command(lint, "--noout", "--schema", schema, filepath.Join(dir, "Example03-FactureStatut-ko.xml")).CombinedOutput(); err == nil {
		t.Errorf("Example03 (bad Horodatage) should not validate:\n%s", out)
	}
}

// parsed is what tests read back from a rendered CPPStatut, declared
// independently of the renderer's types.
type parsed struct {
	XMLName xml.Name `xml:"CPPStatut"`
	Params  []struct {
		Order string `xml:"NumOrdre,attr"`
		Code  string `xml:"Code"`
		Value string `xml:"Valeurparametre"`
	} `xml:"Enveloppe>EnveloppeUnitaire>Parametres>ParametreIndiv"`
	Receiver string `xml:"Enveloppe>EnveloppeUnitaire>Partenaires>Recepteur>Id"`
	Sender   string `xml:"Enveloppe>EnveloppeUnitaire>Partenaires>Emetteur>Id"`
	Flux     *struct {
		Count int `xml:"compteur,attr"`
		Data  struct {
			Code       string `xml:"IdStatut"`
			Complement string `xml:"ComplementStatut"`
			Comment    string `xml:"Commentaire"`
			Stamp      string `xml:"Horodatage"`
			FlowID     string `xml:"IdFlux"`
			Details    *struct {
				Count int `xml:"NbLignesErreur,attr"`
				Lines []struct {
					ID          string `xml:"IdLigne,attr"`
					Nature      string `xml:"NatureErreur"`
					Code        string `xml:"CodeErreur"`
					Label       string `xml:"LibelleErreur"`
					Description string `xml:"DescriptionErreur"`
				} `xml:"LigneErreurDetail"`
			} `xml:"Details"`
		} `xml:"CPPFluxStatutUnitaire>DonneesStatut"`
	} `xml:"CPPFluxStatuts"`
	Factures *struct {
		Count int `xml:"compteur,attr"`
		Units []struct {
			Order           string `xml:"NumOrdre,attr"`
			SupplierID      string `xml:"Fournisseur>Identifiant"`
			SupplierName    string `xml:"Fournisseur>RaisonSociale"`
			SupplierCountry string `xml:"Fournisseur>CodePays"`
			DebtorID        string `xml:"Debiteur>Identifiant"`
			ServiceCode     string `xml:"Debiteur>CodeService"`
			Code            string `xml:"DonneesStatut>IdStatut"`
			Complement      string `xml:"DonneesStatut>ComplementStatut"`
			Comment         string `xml:"DonneesStatut>Commentaire"`
			Stamp           string `xml:"DonneesStatut>Horodatage"`
			InvoiceID       string `xml:"DonneesStatut>IdFacture"`
			Date            string `xml:"DonneesStatut>DateFacture"`
			MandateID       string `xml:"DonneesStatut>IdMandatDP"`
		} `xml:"CPPFactureStatutUnitaire"`
	} `xml:"CPPFactureStatuts"`
}

func parse(t *testing.T, data []byte) parsed {
	t.Helper()
	if !bytes.HasPrefix(data, []byte(`<?xml version="1.0" encoding="UTF-8"?>`+"\n<CPPStatut>")) {
		t.Errorf("document does not start with the XML declaration and root:\n%.200s", data)
	}
	var p parsed
	if err := xml.Unmarshal(data, &p); err != nil {
		t.Fatalf("rendered CPPStatut does not parse back: %v\n%s", err, data)
	}
	return p
}

// hostile is an invoice number a sender controls: markup, a CDATA end,
// quotes and non-ASCII.
const hostile = `FA-<1>&"x"]]>'é€😀`

var (
	produced = time.Date(2026, 11, 26, 10, 55, 23, 123456000, time.UTC)
	env      = Envelope{
		FlowID:   "20261126T105523.123456Z",
		Produced: produced,
		Sender:   Partner{ID: "CPP001", Label: "flowgate"},
		Receiver: Partner{ID: "XXX001", Label: "Éditeur <SA> & fils"},
	}
)

func rejected(number, entry string, findings ...flowgate.Finding) flowgate.InvoiceReport {
	return flowgate.InvoiceReport{Entry: entry, Number: number, Verdict: flowgate.Rejected, Findings: findings}
}

func accepted(number, entry string, findings ...flowgate.Finding) flowgate.InvoiceReport {
	return flowgate.InvoiceReport{Entry: entry, Number: number, Verdict: flowgate.Accepted, Findings: findings}
}

var (
	fatalDest = flowgate.Finding{Code: "CPP-DEST-INCONNU", Severity: flowgate.Fatal, Field: "BT-46", Value: "12345678901234",
		MessageFR: "Le destinataire (BT-46) est inconnu de l'annuaire.", Message: "The recipient (BT-46) is not in the directory."}
	fatalTotal = flowgate.Finding{Code: "BR-CO-10", Severity: flowgate.Fatal, Field: "BT-106",
		MessageFR: "La somme des montants nets des lignes (BT-106) doit égaler la somme des lignes.", Message: "Sum of Invoice line net amount (BT-106) = Σ Invoice line net amount (BT-131)."}
	warning = flowgate.Finding{Code: "FR-AVERT", Severity: flowgate.Warning, Field: "BT-13",
		MessageFR: "Engagement absent.", Message: "No purchase order."}
	hostileFinding = flowgate.Finding{Code: "BR-FR-01", Severity: flowgate.Fatal, Field: "BT-1", Value: hostile + strings.Repeat("Z", 300),
		MessageFR: strings.Repeat("Numéro <trop> long & « faux » ; ", 100), Message: "too long"}
)

func TestFlowStatusXML(t *testing.T) {
	for _, tc := range []struct {
		name       string
		status     flowgate.FlowStatus
		rep        flowgate.FlowReport
		code       string
		complement string
		lines      []string // CodeErreur of each LigneErreurDetail, in order
		natures    []string
		described  []string // a piece of each DescriptionErreur
	}{{
		name:   "received",
		status: flowgate.FlowReceived,
		rep:    flowgate.FlowReport{File: "lot.zip"},
		code:   "90", complement: "Reçu",
	}, {
		name:   "integrated",
		status: flowgate.FlowIntegrated,
		rep: flowgate.FlowReport{File: "lot.zip", Status: flowgate.FlowIntegrated, Invoices: []flowgate.InvoiceReport{
			accepted("FA-1", "lot/f1.xml", warning), accepted("FA-2", "lot/f2.xml")}},
		code: "90", complement: "Reçu",
	}, {
		name:   "partial",
		status: flowgate.FlowPartial,
		rep: flowgate.FlowReport{File: "lot.zip", Status: flowgate.FlowPartial,
			Errors: []flowgate.FlowError{{Code: flowgate.CodeXML, Entry: "lot/f3.xml",
				MessageFR: "ligne 3 : balise <b> non fermée", Message: "line 3: unclosed <b>"}},
			Invoices: []flowgate.InvoiceReport{
				accepted("FA-1", "lot/f1.xml", warning),
				rejected("FA-2", "lot/f2.xml", fatalDest, warning, fatalTotal),
			}},
		code: "96", complement: "Reçu - intégration partielle",
		lines:     []string{"FLX-XML", "CPP-DEST-INCONNU", "BR-CO-10"},
		natures:   []string{"TECHNIQUE", "METIER", "METIER"},
		described: []string{"Entrée lot/f3.xml : ligne 3", "Facture FA-2 (lot/f2.xml) : BT-46 = « 12345678901234 »", "Facture FA-2 (lot/f2.xml) : BT-106"},
	}, {
		name:   "rejected",
		status: flowgate.FlowRejected,
		rep: flowgate.FlowReport{File: "facture&<1>.xml", Status: flowgate.FlowRejected,
			Invoices: []flowgate.InvoiceReport{rejected(hostile, "", hostileFinding, fatalDest)}},
		code: "93", complement: "Erreur réception",
		lines:     []string{"BR-FR-01", "CPP-DEST-INCONNU"},
		natures:   []string{"METIER", "METIER"},
		described: []string{"Facture " + hostile + " (facture&<1>.xml) : BT-1 = « " + hostile, "BT-46"},
	}, {
		name:   "unreadable",
		status: flowgate.FlowRejected,
		rep: flowgate.FlowReport{File: "x.xml", Status: flowgate.FlowRejected,
			Errors: []flowgate.FlowError{{Code: flowgate.CodeDTD, MessageFR: "déclaration DOCTYPE refusée", Message: "DOCTYPE refused"}}},
		code: "93", complement: "Erreur réception",
		lines:     []string{"FLX-DTD"},
		natures:   []string{"TECHNIQUE"},
		described: []string{"Fichier x.xml : déclaration DOCTYPE refusée"},
	}} {
		t.Run(tc.name, func(t *testing.T) {
			data, err := FlowStatusXML(env, tc.status, tc.rep)
			if err != nil {
				t.Fatal(err)
			}
			xmllint(t, data)
			p := parse(t, data)
			if p.Factures != nil || p.Flux == nil {
				t.Fatalf("want CPPFluxStatuts only:\n%s", data)
			}
			if p.Receiver != "XXX001" || p.Sender != "CPP001" {
				t.Errorf("partners = %q, %q", p.Receiver, p.Sender)
			}
			if len(p.Params) != 2 || p.Params[0].Code != "DtPrd" || p.Params[0].Value != "2026-11-26" ||
				p.Params[1].Code != "IdFlx" || p.Params[1].Value != env.FlowID {
				t.Errorf("parameters = %+v", p.Params)
			}
			d := p.Flux.Data
			if p.Flux.Count != 1 || d.Code != tc.code || d.Complement != tc.complement || d.FlowID != env.FlowID {
				t.Errorf("compteur %d, IdStatut %q, ComplementStatut %q, IdFlux %q; want 1, %q, %q, %q",
					p.Flux.Count, d.Code, d.Complement, d.FlowID, tc.code, tc.complement, env.FlowID)
			}
			if d.Stamp != "2026-11-26T10:55:23.123Z" {
				t.Errorf("Horodatage = %q", d.Stamp)
			}
			if len(tc.lines) == 0 {
				if d.Details != nil {
					t.Errorf("want no Details, got %d lines", len(d.Details.Lines))
				}
				return
			}
			if d.Details == nil {
				t.Fatalf("no Details, want %d lines", len(tc.lines))
			}
			if d.Details.Count != len(tc.lines) || len(d.Details.Lines) != len(tc.lines) {
				t.Fatalf("NbLignesErreur %d, %d lines; want %d", d.Details.Count, len(d.Details.Lines), len(tc.lines))
			}
			for i, l := range d.Details.Lines {
				if l.ID != fmt.Sprint(i+1) || l.Code != tc.lines[i] || l.Nature != tc.natures[i] {
					t.Errorf("line %d: IdLigne %q, CodeErreur %q, NatureErreur %q; want %d, %q, %q", i, l.ID, l.Code, l.Nature, i+1, tc.lines[i], tc.natures[i])
				}
				if !strings.Contains(l.Description, tc.described[i]) {
					t.Errorf("line %d: DescriptionErreur %q lacks %q", i, l.Description, tc.described[i])
				}
				if l.Label == "" {
					t.Errorf("line %d: empty LibelleErreur", i)
				}
				for _, s := range []string{l.Label, l.Description} {
					if n := utf8.RuneCountInString(s); n > maxText || !utf8.ValidString(s) {
						t.Errorf("line %d: text of %d characters (valid UTF-8: %v), limit %d", i, n, utf8.ValidString(s), maxText)
					}
				}
			}
		})
	}
}

func TestInvoiceStatusXML(t *testing.T) {
	at := time.Date(2026, 12, 1, 9, 30, 0, 0, time.FixedZone("CET", 3600))
	base := InvoiceStatus{
		Code: "01", SupplierSIRET: "00000000169959", SupplierName: "Fournisseur SA",
		RecipientSIRET: "00000000169991", RecipientName: "Commune de Test",
		InvoiceNumber: "FA-2026-1", InvoiceDate: "2026-11-20", At: at,
	}
	longComment := strings.Repeat("é<&>", 100) // 400 characters
	statuses := []InvoiceStatus{base, base, base, base, base}
	statuses[1].Code, statuses[1].ServiceCode, statuses[1].SupplierCountry = "03", "SERVICE_"+strings.Repeat("X", 92), "BE"
	statuses[2].Code, statuses[2].InvoiceNumber, statuses[2].Comment = "05", hostile, longComment
	statuses[2].SupplierName = strings.Repeat("Société « Ünïcode » & Cie ", 200)
	statuses[3].Code, statuses[3].MandateID, statuses[3].InvoiceDate = "08", "M-<42>", ""
	statuses[4].Code, statuses[4].InvoiceNumber, statuses[4].Comment = "12", "A\x01B\xffC", "ligne 1\nligne 2\r\n\tfin"

	data, err := InvoiceStatusXML(env, statuses)
	if err != nil {
		t.Fatal(err)
	}
	xmllint(t, data)
	p := parse(t, data)
	if p.Flux != nil || p.Factures == nil {
		t.Fatalf("want CPPFactureStatuts only:\n%s", data)
	}
	if p.Factures.Count != len(statuses) || len(p.Factures.Units) != len(statuses) {
		t.Fatalf("compteur %d, %d units; want %d", p.Factures.Count, len(p.Factures.Units), len(statuses))
	}
	wantLabels := []string{"Déposée", "Mise à disposition", "Rejetée", "Mandatée", "Complétée"}
	for i, u := range p.Factures.Units {
		if u.Order != fmt.Sprint(i+1) || u.Code != statuses[i].Code || u.Complement != wantLabels[i] {
			t.Errorf("unit %d: NumOrdre %q, IdStatut %q, ComplementStatut %q", i, u.Order, u.Code, u.Complement)
		}
		if u.Stamp != "2026-12-01T09:30:00.000+01:00" {
			t.Errorf("unit %d: Horodatage %q", i, u.Stamp)
		}
	}
	u := p.Factures.Units
	if u[0].SupplierCountry != "FR" || u[1].SupplierCountry != "BE" {
		t.Errorf("CodePays = %q, %q; want FR (default), BE", u[0].SupplierCountry, u[1].SupplierCountry)
	}
	if u[0].ServiceCode != "" || u[1].ServiceCode != statuses[1].ServiceCode {
		t.Errorf("CodeService = %q, %q", u[0].ServiceCode, u[1].ServiceCode)
	}
	if u[2].InvoiceID != hostile {
		t.Errorf("IdFacture = %q, want %q", u[2].InvoiceID, hostile)
	}
	if n := utf8.RuneCountInString(u[2].Comment); n != maxComment || !strings.HasPrefix(u[2].Comment, "é<&>") || !strings.HasSuffix(u[2].Comment, "…") {
		t.Errorf("Commentaire of %d characters %q, want cut to %d", n, u[2].Comment, maxComment)
	}
	if u[2].SupplierName != statuses[2].SupplierName {
		t.Errorf("RaisonSociale (no schema limit) was altered")
	}
	if u[3].MandateID != "M-<42>" || u[3].Date != "" || u[0].Date != "2026-11-20" {
		t.Errorf("IdMandatDP %q, DateFacture %q and %q", u[3].MandateID, u[3].Date, u[0].Date)
	}
	if u[4].InvoiceID != "A\uFFFDB\uFFFDC" {
		t.Errorf("IdFacture with a control character and a bad byte = %q", u[4].InvoiceID)
	}
	if u[4].Comment != statuses[4].Comment {
		t.Errorf("Commentaire with line breaks = %q, want %q", u[4].Comment, statuses[4].Comment)
	}
}

func TestRenderRefuses(t *testing.T) {
	ok := InvoiceStatus{Code: "07", SupplierSIRET: "00000000169959", RecipientSIRET: "00000000169991",
		InvoiceNumber: "FA-1", At: produced}
	with := func(f func(*Envelope)) Envelope { e := env; f(&e); return e }
	status := func(f func(*InvoiceStatus)) []InvoiceStatus { s := ok; f(&s); return []InvoiceStatus{ok, s} }
	for _, tc := range []struct {
		name   string
		render func() ([]byte, error)
		want   string
	}{
		{"no flow id", func() ([]byte, error) {
			return FlowStatusXML(with(func(e *Envelope) { e.FlowID = " " }), flowgate.FlowIntegrated, flowgate.FlowReport{})
		}, "missing flow id"},
		{"no sender id", func() ([]byte, error) {
			return FlowStatusXML(with(func(e *Envelope) { e.Sender.ID = "" }), flowgate.FlowIntegrated, flowgate.FlowReport{})
		}, "sender: partner id"},
		{"bad receiver id", func() ([]byte, error) {
			return InvoiceStatusXML(with(func(e *Envelope) { e.Receiver.ID = "cpp-001" }), []InvoiceStatus{ok})
		}, "receiver: partner id"},
		{"receiver id too long", func() ([]byte, error) {
			return InvoiceStatusXML(with(func(e *Envelope) { e.Receiver.ID = "ABCDEFGHI" }), []InvoiceStatus{ok})
		}, "3 to 8"},
		{"no production time", func() ([]byte, error) {
			return FlowStatusXML(with(func(e *Envelope) { e.Produced = time.Time{} }), flowgate.FlowIntegrated, flowgate.FlowReport{})
		}, "production time"},
		{"incident", func() ([]byte, error) {
			return FlowStatusXML(env, flowgate.FlowIncident, flowgate.FlowReport{})
		}, "IN_INCIDENTE"},
		{"status disagrees", func() ([]byte, error) {
			return FlowStatusXML(env, flowgate.FlowIntegrated, flowgate.FlowReport{Status: flowgate.FlowRejected})
		}, "disagrees"},
		{"no statuses", func() ([]byte, error) { return InvoiceStatusXML(env, nil) }, "no invoice status"},
		{"code 13", func() ([]byte, error) {
			return InvoiceStatusXML(env, status(func(s *InvoiceStatus) { s.Code = "13" }))
		}, `status 2 (invoice "FA-1"): status code "13"`},
		{"supplier SIRET", func() ([]byte, error) {
			return InvoiceStatusXML(env, status(func(s *InvoiceStatus) { s.SupplierSIRET = "123" }))
		}, "supplier SIRET"},
		{"recipient SIRET", func() ([]byte, error) {
			return InvoiceStatusXML(env, status(func(s *InvoiceStatus) { s.RecipientSIRET = "0000000016999X" }))
		}, "recipient SIRET"},
		{"country", func() ([]byte, error) {
			return InvoiceStatusXML(env, status(func(s *InvoiceStatus) { s.SupplierCountry = "FRA" }))
		}, "country"},
		{"service code", func() ([]byte, error) {
			return InvoiceStatusXML(env, status(func(s *InvoiceStatus) { s.ServiceCode = strings.Repeat("S", 101) }))
		}, "service code"},
		{"no number", func() ([]byte, error) {
			return InvoiceStatusXML(env, status(func(s *InvoiceStatus) { s.InvoiceNumber = "" }))
		}, "missing invoice number"},
		{"date", func() ([]byte, error) {
			return InvoiceStatusXML(env, status(func(s *InvoiceStatus) { s.InvoiceDate = "2026-13-01" }))
		}, "invoice date"},
		{"no time", func() ([]byte, error) {
			return InvoiceStatusXML(env, status(func(s *InvoiceStatus) { s.At = time.Time{} }))
		}, "status time"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			data, err := tc.render()
			if err == nil {
				t.Fatalf("rendered, want an error:\n%s", data)
			}
			if data != nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q, want one containing %q and no data", err, tc.want)
			}
		})
	}
	// Every problem at once.
	_, err := InvoiceStatusXML(with(func(e *Envelope) { e.FlowID = "" }), status(func(s *InvoiceStatus) { s.Code, s.RecipientSIRET = "99", "" }))
	for _, want := range []string{"missing flow id", "status code", "recipient SIRET"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("error %v lacks %q", err, want)
		}
	}
}

func TestClip(t *testing.T) {
	for _, tc := range []struct {
		in   string
		n    int
		want string
	}{
		{"abc", 3, "abc"},
		{"abcd", 3, "ab…"},
		{"ééééé", 4, "ééé…"},
		{"😀😀", 1, "…"},
		{"a\xffb", 3, "a\uFFFDb"},
	} {
		if got := clip(tc.in, tc.n); got != tc.want {
			t.Errorf("clip(%q, %d) = %q, want %q", tc.in, tc.n, got, tc.want)
		}
	}
}

// TestGolden pins the exact output; refresh with go test ./outbox -run Golden -update.
func TestGolden(t *testing.T) {
	flow, err := FlowStatusXML(env, flowgate.FlowPartial, flowgate.FlowReport{File: "lot.zip", Status: flowgate.FlowPartial,
		Errors: []flowgate.FlowError{{Code: flowgate.CodeXML, Entry: "lot/f3.xml", MessageFR: "ligne 3 : balise <b> non fermée"}},
		Invoices: []flowgate.InvoiceReport{
			accepted("FA-1", "lot/f1.xml"),
			rejected(hostile, "lot/f2.xml", fatalDest, warning, fatalTotal),
		}})
	if err != nil {
		t.Fatal(err)
	}
	inv, err := InvoiceStatusXML(env, []InvoiceStatus{{
		Code: "04", SupplierSIRET: "00000000169959", SupplierName: "Fournisseur SA",
		RecipientSIRET: "00000000169991", RecipientName: "Commune de Test", ServiceCode: "SERV-01",
		InvoiceNumber: hostile, InvoiceDate: "2026-11-20", Comment: "Code service erroné : « SERV-01 » n'existe plus",
		At: time.Date(2026, 12, 1, 9, 30, 0, 0, time.FixedZone("CET", 3600)),
	}})
	if err != nil {
		t.Fatal(err)
	}
	for name, got := range map[string][]byte{"flow_partial.xml": flow, "invoice_recycle.xml": inv} {
		xmllint(t, got)
		path := filepath.Join("testdata", name)
		if *update {
			if err := os.MkdirAll("testdata", 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(path, got, 0o644); err != nil {
				t.Fatal(err)
			}
			continue
		}
		want, err := os.ReadFile(path)
		if err != nil {
			t.Fatalf("%v (run with -update to create it)", err)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("%s differs from the golden file (run with -update after a deliberate change):\n%s", name, got)
		}
	}
}

// counter returns a syncDir hook that counts calls per directory.
func counter() (func(string) error, map[string]*atomic.Int32) {
	counts := make(map[string]*atomic.Int32)
	return func(dir string) error {
		c, ok := counts[dir]
		if !ok {
			return fmt.Errorf("sync of unexpected dir %s", dir)
		}
		c.Add(1)
		return fsx.SyncDir(dir)
	}, counts
}

// leftovers returns the dot files (temps) in dir.
func leftovers(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var dots []string
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), ".") {
			dots = append(dots, e.Name())
		}
	}
	return dots
}

func wantFile(t *testing.T, path string, data []byte) {
	t.Helper()
	got, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, data) {
		t.Errorf("%s = %q, want %q", path, got, data)
	}
}

func TestBatchWrites(t *testing.T) {
	a, b := t.TempDir(), t.TempDir()
	sync, counts := counter()
	counts[a], counts[b] = new(atomic.Int32), new(atomic.Int32)
	batch := Batch{syncDir: sync}
	batch.Add(a, "one.xml", []byte("<one/>"))
	batch.Add(b, "two.xml", []byte("<two/>"))
	batch.Add(a+"/", "three.json", []byte(`{"three":3}`)) // the same dir, spelled differently
	batch.Add(a, "empty.xml", nil)
	if batch.Len() != 4 {
		t.Fatalf("Len = %d", batch.Len())
	}
	if err := batch.Commit(0); err != nil {
		t.Fatal(err)
	}
	wantFile(t, filepath.Join(a, "one.xml"), []byte("<one/>"))
	wantFile(t, filepath.Join(b, "two.xml"), []byte("<two/>"))
	wantFile(t, filepath.Join(a, "three.json"), []byte(`{"three":3}`))
	wantFile(t, filepath.Join(a, "empty.xml"), nil)
	for _, dir := range []string{a, b} {
		if dots := leftovers(t, dir); len(dots) > 0 {
			t.Errorf("temp files left in %s: %v", dir, dots)
		}
		if n := counts[dir].Load(); n != 1 {
			t.Errorf("%s synced %d times, want once", dir, n)
		}
	}
	fi, err := os.Stat(filepath.Join(a, "one.xml"))
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm()&0o007 != 0 || fi.Mode().Perm()&0o400 == 0 {
		t.Errorf("mode %v: want owner-readable, nothing for others", fi.Mode())
	}

	// Re-running the batch (after a crash) finds everything in place and
	// still syncs the directories.
	if err := batch.Commit(2); err != nil {
		t.Fatalf("re-run: %v", err)
	}
	if n := counts[a].Load(); n != 2 {
		t.Errorf("%s synced %d times after two commits, want 2", a, n)
	}
	if err := (&Batch{}).Commit(0); err != nil {
		t.Errorf("empty batch: %v", err)
	}
}

func TestBatchConflict(t *testing.T) {
	dir := t.TempDir()
	existing := filepath.Join(dir, "status.xml")
	if err := os.WriteFile(existing, []byte("original"), 0o644); err != nil {
		t.Fatal(err)
	}
	big := bytes.Repeat([]byte("0123456789abcdef"), 10<<10) // 160 KiB, several reads
	if err := os.WriteFile(filepath.Join(dir, "big.xml"), big, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "same-size.xml"), []byte("AAAA"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(filepath.Join(dir, "adir.xml"), 0o755); err != nil {
		t.Fatal(err)
	}
	bigOther := bytes.Clone(big)
	bigOther[len(bigOther)-1] = 'X'

	var batch Batch
	batch.Add(dir, "status.xml", []byte("replacement"))
	batch.Add(dir, "big.xml", big) // identical: accepted
	batch.Add(dir, "same-size.xml", []byte("AAAB"))
	batch.Add(dir, "adir.xml", []byte("x"))
	batch.Add(dir, "new.xml", []byte("new"))
	err := batch.Commit(4)
	if !errors.Is(err, ErrConflict) {
		t.Fatalf("err = %v, want ErrConflict", err)
	}
	for _, name := range []string{"status.xml", "same-size.xml", "adir.xml"} {
		if !strings.Contains(err.Error(), filepath.Join(dir, name)) {
			t.Errorf("error %q does not name %s", err, name)
		}
	}
	if strings.Contains(err.Error(), "big.xml") || strings.Contains(err.Error(), "new.xml") {
		t.Errorf("error %q names a file that was fine", err)
	}
	wantFile(t, existing, []byte("original"))
	wantFile(t, filepath.Join(dir, "same-size.xml"), []byte("AAAA"))
	wantFile(t, filepath.Join(dir, "big.xml"), big)
	wantFile(t, filepath.Join(dir, "new.xml"), []byte("new"))
	if dots := leftovers(t, dir); len(dots) > 0 {
		t.Errorf("temp files left: %v", dots)
	}

	// The big file differing in its last byte only.
	if err := WriteFile(dir, "big.xml", bigOther); !errors.Is(err, ErrConflict) {
		t.Errorf("WriteFile over a file differing in its last byte: %v, want ErrConflict", err)
	}
	wantFile(t, filepath.Join(dir, "big.xml"), big)
}

func TestWriteFile(t *testing.T) {
	dir := t.TempDir()
	if err := WriteFile(dir, "a.xml", []byte("a")); err != nil {
		t.Fatal(err)
	}
	if err := WriteFile(dir, "a.xml", []byte("a")); err != nil {
		t.Errorf("identical again: %v", err)
	}
	if err := WriteFile(dir, "a.xml", []byte("b")); !errors.Is(err, ErrConflict) {
		t.Errorf("different again: %v, want ErrConflict", err)
	}
	wantFile(t, filepath.Join(dir, "a.xml"), []byte("a"))
}

func TestBatchBadNames(t *testing.T) {
	dir := t.TempDir()
	for _, name := range []string{"", ".hidden", ".", "..", "../escape.xml", "a/b.xml", `a\b.xml`, "a\x00b"} {
		err := WriteFile(dir, name, []byte("x"))
		if err == nil {
			t.Errorf("name %q accepted", name)
		}
	}
	if err := WriteFile("", "a.xml", []byte("x")); err == nil {
		t.Error("empty directory accepted")
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) > 0 {
		t.Errorf("bad names left files: %v", entries)
	}
	if _, err := os.Stat(filepath.Join(filepath.Dir(dir), "escape.xml")); err == nil {
		t.Error("a name escaped its directory")
	}
}

func TestBatchUnwritable(t *testing.T) {
	root := t.TempDir()
	good := filepath.Join(root, "good")
	missing := filepath.Join(root, "missing")
	file := filepath.Join(root, "file")
	if err := os.Mkdir(good, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(file, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	var batch Batch
	batch.Add(missing, "a.xml", []byte("a"))
	batch.Add(file, "b.xml", []byte("b"))
	batch.Add(good, "c.xml", []byte("c"))
	err := batch.Commit(0)
	if err == nil {
		t.Fatal("no error")
	}
	for _, p := range []string{filepath.Join(missing, "a.xml"), filepath.Join(file, "b.xml")} {
		if !strings.Contains(err.Error(), "write "+p+":") {
			t.Errorf("error %q does not name %s", err, p)
		}
	}
	if !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("error %q does not wrap fs.ErrNotExist", err)
	}
	wantFile(t, filepath.Join(good, "c.xml"), []byte("c"))

	t.Run("read-only", func(t *testing.T) {
		if os.Geteuid() == 0 {
			t.Skip("running as root: directory permissions are not enforced, the read-only case cannot be observed")
		}
		ro := filepath.Join(root, "ro")
		if err := os.Mkdir(ro, 0o555); err != nil {
			t.Fatal(err)
		}
		err := WriteFile(ro, "d.xml", []byte("d"))
		if !errors.Is(err, fs.ErrPermission) || !strings.Contains(err.Error(), filepath.Join(ro, "d.xml")) {
			t.Errorf("err = %v, want a permission error naming the path", err)
		}
	})
}

func TestBatchLinkFails(t *testing.T) {
	dir := t.TempDir()
	boom := errors.New("link refused")
	batch := Batch{link: func(_, _ string) error { return boom }}
	batch.Add(dir, "a.xml", []byte("a"))
	err := batch.Commit(1)
	if !errors.Is(err, boom) || !strings.Contains(err.Error(), filepath.Join(dir, "a.xml")) {
		t.Errorf("err = %v, want the link error naming the path", err)
	}
	if entries, _ := os.ReadDir(dir); len(entries) > 0 {
		t.Errorf("left behind after a failed link: %v", entries)
	}

	// Another writer puts the file in place between the check and the link.
	for _, tc := range []struct {
		other    string
		conflict bool
	}{{"mine", false}, {"theirs", true}} {
		dir := t.TempDir()
		batch := Batch{link: func(oldname, newname string) error {
			if err := os.WriteFile(newname, []byte(tc.other), 0o644); err != nil {
				return err
			}
			return os.Link(oldname, newname)
		}}
		batch.Add(dir, "race.xml", []byte("mine"))
		err := batch.Commit(1)
		if errors.Is(err, ErrConflict) != tc.conflict || (err != nil && !tc.conflict) {
			t.Errorf("other writer wrote %q: err = %v", tc.other, err)
		}
		wantFile(t, filepath.Join(dir, "race.xml"), []byte(tc.other))
		if dots := leftovers(t, dir); len(dots) > 0 {
			t.Errorf("temp files left: %v", dots)
		}
	}
}

func TestBatchConcurrent(t *testing.T) {
	for _, workers := range []int{0, 3, 500} {
		t.Run(fmt.Sprint("workers=", workers), func(t *testing.T) {
			sync, counts := counter()
			dirs := make([]string, 4)
			for i := range dirs {
				dirs[i] = t.TempDir()
				counts[dirs[i]] = new(atomic.Int32)
			}
			batch := Batch{syncDir: sync}
			for i := range 200 {
				batch.Add(dirs[i%len(dirs)], fmt.Sprintf("statut-%03d.xml", i), fmt.Appendf(nil, "<s n=%q/>", fmt.Sprint(i)))
			}
			// The same file twice in a batch: identical is fine.
			batch.Add(dirs[0], "statut-000.xml", []byte(`<s n="0"/>`))
			if err := batch.Commit(workers); err != nil {
				t.Fatal(err)
			}
			for i := range 200 {
				wantFile(t, filepath.Join(dirs[i%len(dirs)], fmt.Sprintf("statut-%03d.xml", i)), fmt.Appendf(nil, "<s n=%q/>", fmt.Sprint(i)))
			}
			for _, dir := range dirs {
				if dots := leftovers(t, dir); len(dots) > 0 {
					t.Errorf("temp files left in %s: %v", dir, dots)
				}
				if n := counts[dir].Load(); n != 1 {
					t.Errorf("%s synced %d times, want once", dir, n)
				}
			}
		})
	}
}

// BenchmarkBatchCommit commits batches of 100 small status files, each batch
// into a fresh directory, with 1 worker and with the default.
func BenchmarkBatchCommit(b *testing.B) {
	data := bytes.Repeat([]byte("<CPPStatut/>\n"), 100) // 1.3 KB, a small status file
	for _, mode := range []struct {
		workers int
		syncfs  bool
	}{{1, false}, {DefaultWorkers, false}, {32, false}, {DefaultWorkers, true}} {
		workers := mode.workers
		b.Run(fmt.Sprint("workers=", workers, "/syncfs=", mode.syncfs), func(b *testing.B) {
			root := b.TempDir()
			n := 0
			for b.Loop() {
				dir := filepath.Join(root, fmt.Sprint(n))
				n++
				if err := os.Mkdir(dir, 0o755); err != nil {
					b.Fatal(err)
				}
				batch := Batch{SyncFS: mode.syncfs}
				for i := range 100 {
					batch.Add(dir, fmt.Sprintf("statut-%03d.xml", i), data)
				}
				if err := batch.Commit(workers); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(n*100)/b.Elapsed().Seconds(), "files/s")
		})
	}
}

// TestBatchSyncFS: the syncfs mode writes the same files with the same
// guarantees: content in place, no temps, identical files accepted,
// different ones refused and kept.
func TestBatchSyncFS(t *testing.T) {
	dir := t.TempDir()
	other := filepath.Join(dir, "other")
	os.Mkdir(other, 0o755)
	os.WriteFile(filepath.Join(dir, "same.xml"), []byte("same"), 0o644)
	os.WriteFile(filepath.Join(dir, "differs.xml"), []byte("original"), 0o644)
	b := Batch{SyncFS: true}
	for i := range 50 {
		b.Add(dir, fmt.Sprintf("f%02d.xml", i), []byte(fmt.Sprint("content ", i)))
	}
	b.Add(other, "g.xml", []byte("g"))
	b.Add(dir, "same.xml", []byte("same"))
	b.Add(dir, "differs.xml", []byte("new"))
	b.Add(dir, ".bad", []byte("x"))
	err := b.Commit(0)
	if !errors.Is(err, ErrConflict) || !strings.Contains(err.Error(), "differs.xml") || !strings.Contains(err.Error(), ".bad") {
		t.Fatalf("err %v", err)
	}
	for i := range 50 {
		if data, err := os.ReadFile(filepath.Join(dir, fmt.Sprintf("f%02d.xml", i))); err != nil || string(data) != fmt.Sprint("content ", i) {
			t.Fatalf("f%02d: %q %v", i, data, err)
		}
	}
	if data, _ := os.ReadFile(filepath.Join(dir, "differs.xml")); string(data) != "original" {
		t.Errorf("different file replaced: %q", data)
	}
	if data, _ := os.ReadFile(filepath.Join(other, "g.xml")); string(data) != "g" {
		t.Errorf("g.xml %q", data)
	}
	for _, d := range []string{dir, other} {
		entries, _ := os.ReadDir(d)
		for _, e := range entries {
			if IsTemp(e.Name()) {
				t.Errorf("temp left: %s", e.Name())
			}
		}
	}
	// A re-run finds everything in place.
	b2 := Batch{SyncFS: true}
	b2.Add(dir, "f00.xml", []byte("content 0"))
	if err := b2.Commit(0); err != nil {
		t.Errorf("re-run: %v", err)
	}
}

func TestRemoveTemps(t *testing.T) {
	dir := t.TempDir()
	for _, name := range []string{".a.xml.tmp-1abc", ".b.xml.tmp-zz9", "keep.xml", ".hidden", ".c.tmp-UPPER", ".d.tmp-"} {
		os.WriteFile(filepath.Join(dir, name), nil, 0o644)
	}
	n, err := RemoveTemps(dir)
	if err != nil || n != 2 {
		t.Fatalf("removed %d, %v", n, err)
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 4 {
		t.Errorf("left %d entries", len(entries))
	}
}

// TestStatusFlowXML: a status flow's CR counts updates, not invoices, and
// lists each refusal.
func TestStatusFlowXML(t *testing.T) {
	env := Envelope{FlowID: "S1", Produced: time.Date(2026, 11, 27, 10, 0, 0, 0, time.UTC),
		Sender: Partner{ID: "FLOWGATE"}, Receiver: Partner{ID: "VALMONT"}}
	rep := flowgate.FlowReport{File: "s.xml", Status: flowgate.FlowPartial, Invoices: []flowgate.InvoiceReport{
		{Number: "F1", Verdict: flowgate.Accepted},
		{Number: "F2", Verdict: flowgate.Rejected, Findings: []flowgate.Finding{{Code: "CPP-STATUT-TRANSITION", Severity: flowgate.Fatal, MessageFR: "non"}}},
	}}
	data, err := StatusFlowXML(env, flowgate.FlowPartial, rep)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"<IdStatut>96</IdStatut>", "1 statut(s) de facture appliqué(s), 1 refusé(s)", "<CodeErreur>CPP-STATUT-TRANSITION</CodeErreur>"} {
		if !strings.Contains(string(data), want) {
			t.Errorf("no %s in\n%s", want, data)
		}
	}
}
