package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"slices"

	"flowgate/config"
	"flowgate/internal/corpus"
)

// lifecycleDaemon starts the daemon with a supplier's partner (FOURN01),
// the recipient's (VALMONT) and a partner collecting another recipient
// (DEPT), all taking CPPStatut and JSON.
func lifecycleDaemon(t *testing.T) (string, config.Config, *syncBuffer, func()) {
	return serveTOML(t, fmt.Sprintf(`[[partners]]
id = "FOURN01"
name = "Fournitures Durand"
sirets = [%q]
status_formats = ["cppstatut", "json", "cdar"]

[[partners]]
id = "VALMONT"
name = "Commune de Valmont"
receives = [%q]
status_formats = ["cppstatut", "json", "cdar"]

[[partners]]
id = "DEPT"
name = "Département"
receives = ["22000002000010"]
`, crashSupplier, crashRecipient))
}

// depositAs puts a file in a partner's in/ (temporary name, then rename).
func depositAs(t *testing.T, cfg config.Config, partner, name string, data []byte) {
	t.Helper()
	in := filepath.Join(cfg.Root, "partners", partner, "in")
	if err := os.WriteFile(filepath.Join(in, "."+name), data, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(filepath.Join(in, "."+name), filepath.Join(in, name)); err != nil {
		t.Fatal(err)
	}
}

// awaitFile waits for one file of a partner's out/ matching pattern and
// returns its path.
func awaitFile(t *testing.T, cfg config.Config, logs *syncBuffer, partner, pattern string) string {
	t.Helper()
	var got []string
	waitUntil(t, logs, 20*time.Second, partner+" "+pattern, func() bool {
		got, _ = filepath.Glob(filepath.Join(cfg.Root, "partners", partner, "out", pattern))
		return len(got) > 0
	})
	return got[0]
}

type statusCRTest struct {
	FlowID  string `json:"flow_id"`
	Status  string `json:"flow_status"`
	Updates []struct {
		SupplierSIRET string `json:"supplier_siret"`
		Number        string `json:"number"`
		Status        string `json:"status"`
		Verdict       string `json:"verdict"`
		Findings      []struct {
			Code      string `json:"code"`
			Severity  string `json:"severity"`
			MessageFR string `json:"message_fr"`
		} `json:"findings"`
	} `json:"updates"`
}

// sendStatuses deposits a status flow as partner and returns its JSON CR,
// checking its CPPStatut twin against the schema.
func sendStatuses(t *testing.T, cfg config.Config, logs *syncBuffer, partner, name string, units ...string) statusCRTest {
	t.Helper()
	depositAs(t, cfg, partner, name, []byte(statusDocT(units...)))
	p := awaitFile(t, cfg, logs, partner, "CR_*_"+name+".json")
	corpus.ValidateCPPStatut(t, []string{strings.TrimSuffix(p, ".json") + ".xml"})
	data, _ := os.ReadFile(p)
	var cr statusCRTest
	if err := json.Unmarshal(data, &cr); err != nil {
		t.Fatalf("%s: %v\n%s", p, err, data)
	}
	return cr
}

func statusDocT(units ...string) string {
	return `<?xml version="1.0" encoding="UTF-8"?>
<CPPStatut><Enveloppe><EnveloppeUnitaire NumOrdre="1"><Parametres>
<ParametreIndiv NumOrdre="0001"><Code>DtPrd</Code><Valeurparametre>2026-11-27</Valeurparametre></ParametreIndiv>
<ParametreIndiv NumOrdre="0002"><Code>IdFlx</Code><Valeurparametre>X1</Valeurparametre></ParametreIndiv>
</Parametres><Partenaires><Recepteur><Id>FLOWGATE</Id></Recepteur><Emetteur><Id>VALMONT</Id></Emetteur></Partenaires></EnveloppeUnitaire></Enveloppe>
<CPPFactureStatuts compteur="` + fmt.Sprint(len(units)) + `">` + strings.Join(units, "\n") + `</CPPFactureStatuts></CPPStatut>
`
}

// unitT is one CPPFactureStatutUnitaire for invoice number of the test
// supplier; date "" leaves DateFacture out.
func unitT(number, date, code, comment, mandate string) string {
	var b strings.Builder
	fmt.Fprintf(&b, `<CPPFactureStatutUnitaire NumOrdre="1"><Fournisseur><TypeIdentifiant>1</TypeIdentifiant><Identifiant>%s</Identifiant><RaisonSociale>Durand</RaisonSociale></Fournisseur>`, crashSupplier)
	fmt.Fprintf(&b, `<Debiteur><TypeIdentifiant>1</TypeIdentifiant><Identifiant>%s</Identifiant></Debiteur><DonneesStatut><IdStatut>%s</IdStatut>`, crashRecipient, code)
	if comment != "" {
		fmt.Fprintf(&b, "<Commentaire>%s</Commentaire>", comment)
	}
	fmt.Fprintf(&b, "<Horodatage>2026-11-27T10:00:00.000+01:00</Horodatage><IdFacture>%s</IdFacture>", number)
	if date != "" {
		fmt.Fprintf(&b, "<DateFacture>%s</DateFacture>", date)
	}
	if mandate != "" {
		fmt.Fprintf(&b, "<IdMandatDP>%s</IdMandatDP>", mandate)
	}
	b.WriteString("</DonneesStatut></CPPFactureStatutUnitaire>")
	return b.String()
}

func verdicts(cr statusCRTest) string {
	var out []string
	for _, u := range cr.Updates {
		s := u.Number + ":" + u.Status + ":" + u.Verdict
		for _, f := range u.Findings {
			s += ":" + f.Code
		}
		out = append(out, s)
	}
	return cr.Status + " " + strings.Join(out, " ")
}

// supplierStatuses reads a status flow's FACT_<flow>_STATUTS.json in a
// partner's out/ ("" when there is none), checking its XML twin.
func supplierStatuses(t *testing.T, cfg config.Config, partner, flowID string) string {
	t.Helper()
	base := filepath.Join(cfg.Root, "partners", partner, "out", "FACT_"+flowID+"_STATUTS")
	data, err := os.ReadFile(base + ".json")
	if errors.Is(err, os.ErrNotExist) {
		if _, err := os.Stat(base + ".xml"); err == nil {
			t.Errorf("%s.xml without its JSON", base)
		}
		return ""
	}
	if err != nil {
		t.Fatal(err)
	}
	corpus.ValidateCPPStatut(t, []string{base + ".xml"})
	var doc struct {
		Statuses []struct {
			Code, InvoiceNumber, Comment, MandateID string
		} `json:"statuses"`
	}
	// The JSON keys are snake_case: decode them by hand.
	var raw struct {
		Statuses []map[string]any `json:"statuses"`
	}
	if err := json.Unmarshal(data, &raw); err != nil {
		t.Fatal(err)
	}
	_ = doc
	var out []string
	for _, s := range raw.Statuses {
		line := fmt.Sprintf("%v:%v", s["invoice_number"], s["code"])
		if c, ok := s["comment"]; ok {
			line += fmt.Sprintf(":%v", c)
		}
		if m, ok := s["mandate_id"]; ok {
			line += fmt.Sprintf(":%v", m)
		}
		out = append(out, line)
	}
	return strings.Join(out, " ")
}

// checkCDAR validates every CDAR file of the partners' out/ against the
// CDAR D22B schema and the French CDAR rules (no fatal assert), and
// returns the status codes (ProcessConditionCode) of each file by name.
func checkCDAR(t *testing.T, cfg config.Config) map[string]string {
	t.Helper()
	files, _ := filepath.Glob(filepath.Join(cfg.Root, "partners/*/out/CDAR_*.xml"))
	if len(files) == 0 {
		t.Fatal("no CDAR file")
	}
	codes := map[string]string{}
	dir := t.TempDir()
	re := regexp.MustCompile(`<ram:ProcessConditionCode>(\d+)</ram:ProcessConditionCode>`)
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var cs []string
		for _, m := range re.FindAllSubmatch(data, -1) {
			cs = append(cs, string(m[1]))
		}
		rel, _ := filepath.Rel(filepath.Join(cfg.Root, "partners"), f)
		codes[rel] = strings.Join(cs, " ")
		if err := os.WriteFile(filepath.Join(dir, strings.ReplaceAll(rel, "/", "_")), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if _, ok := corpus.Path(corpus.CDARSchema...); ok {
		corpus.ValidateXSD(t, corpus.CDARSchema, files)
	}
	if xslt, ok := corpus.Path(corpus.CDARRules...); ok && saxonInstalled() {
		for name, r := range corpus.Schematron(t, xslt, dir) {
			for _, a := range r.Fatal() {
				t.Errorf("%s: fatal %s at %s: %s", name, a.ID, a.Location, a.Text)
			}
		}
	} else {
		t.Log("CDAR rules not run: corpus or Saxon HE missing")
	}
	return codes
}

// saxonInstalled tells whether corpus.Schematron can run (it skips the
// test otherwise, which would hide the rest of it).
func saxonInstalled() bool {
	if _, err := exec.LookPath("java"); err != nil {
		return false
	}
	for _, jar := range []string{os.Getenv("SAXON_JAR"), "/usr/share/java/Saxon-HE.jar"} {
		if jar != "" {
			if _, err := os.Stat(jar); err == nil {
				return true
			}
		}
	}
	return false
}

func invoiceT(t *testing.T, number string) []byte {
	t.Helper()
	tmpl, err := os.ReadFile("../../samples/flows/facture-acceptee.xml")
	if err != nil {
		t.Fatal(err)
	}
	return bytes.Replace(tmpl, []byte("FA-2026-0001"), []byte(number), 1)
}

// TestStatusFlows plays the recipient's side of the lifecycle through the
// running daemon with real files: 03 → 06 (with its comment) → 04; 03 →
// 05 → 03 (a rejection undone) → 11 by an operator; a refused transition,
// an unknown invoice, a wrong date, a partner that does not collect the
// recipient, a missing comment, the same update twice; the supplier's
// partner hears of every change, in files that validate.
func TestStatusFlows(t *testing.T) {
	path, cfg, logs, stop := lifecycleDaemon(t)
	defer stop()
	for _, n := range []string{"LC-1", "LC-2"} {
		depositAs(t, cfg, "FOURN01", n+".xml", invoiceT(t, n))
		awaitFile(t, cfg, logs, "FOURN01", "FACT_*_"+n+".xml.json")
	}

	cr := sendStatuses(t, cfg, logs, "VALMONT", "s1.xml",
		unitT("LC-1", "2026-11-02", "06", "bon de livraison manquant", ""),
		unitT("LC-2", "", "05", "montant erroné", ""),
		unitT("LC-9", "", "07", "", ""),
		unitT("LC-1", "", "11", "", ""),
		unitT("LC-2", "2025-11-02", "07", "", ""),
		unitT("LC-1", "", "04", "", ""),
		unitT("LC-1", "", "01", "", ""))
	want := "IN_INTEGRE_PARTIEL LC-1:06:applied LC-2:05:applied LC-9:07:refused:CPP-STATUT-FACTURE-INCONNUE " +
		"LC-1:11:refused:CPP-STATUT-TRANSITION LC-2:07:refused:CPP-STATUT-FACTURE-INCONNUE LC-1:04:refused:CPP-STATUT-COMMENTAIRE " +
		"LC-1:01:refused:CPP-STATUT-CODE"
	if got := verdicts(cr); got != want {
		t.Fatalf("status flow 1:\n got %s\nwant %s", got, want)
	}
	if m := cr.Updates[3].Findings[0].MessageFR; !strings.Contains(m, "06 (Suspendue)") || !strings.Contains(m, "11 (Mise en paiement)") {
		t.Errorf("transition message names both statuses: %s", m)
	}
	if got := supplierStatuses(t, cfg, "FOURN01", cr.FlowID); got != "LC-1:06:bon de livraison manquant LC-2:05:montant erroné" {
		t.Errorf("supplier's status file: %s", got)
	}
	if got := supplierStatuses(t, cfg, "VALMONT", cr.FlowID); got != "" {
		t.Errorf("the recipient's partner is told what it set itself: %s", got)
	}

	// flow show tells a status flow's updates.
	var shown bytes.Buffer
	if err := run(context.Background(), []string{"flow", "show", "-config", path, cr.FlowID}, &shown, &shown); err != nil ||
		!strings.Contains(shown.String(), "LC-9 → 07: refused") || !strings.Contains(shown.String(), "CPP-STATUT-FACTURE-INCONNUE") {
		t.Errorf("flow show of a status flow: %v\n%s", err, shown.String())
	}

	// A partner that does not collect the recipient may not touch it.
	cr = sendStatuses(t, cfg, logs, "DEPT", "s2.xml", unitT("LC-1", "", "07", "", ""))
	if got := verdicts(cr); got != "IN_REJETE LC-1:07:refused:CPP-STATUT-NON-HABILITE" {
		t.Errorf("status flow of another partner: %s", got)
	}

	// The rejection was a mistake: undone (05 → 03); the suspension is
	// sent again (harmless), then turned into a recycle (06 → 04).
	cr = sendStatuses(t, cfg, logs, "VALMONT", "s3.xml",
		unitT("LC-2", "", "03", "rejet par erreur", ""),
		unitT("LC-1", "", "06", "bon de livraison manquant", ""),
		unitT("LC-1", "", "04", "mauvais service", ""))
	if got := verdicts(cr); got != "IN_INTEGRE LC-2:03:applied LC-1:06:applied:CPP-STATUT-INCHANGE LC-1:04:applied" {
		t.Errorf("status flow 3: %s", got)
	}
	if got := supplierStatuses(t, cfg, "FOURN01", cr.FlowID); got != "LC-2:03:rejet par erreur LC-1:04:mauvais service" {
		t.Errorf("supplier's status file: %s", got)
	}

	// An operator sets 11 (paid by direct debit, left at 03) on behalf of
	// the recipient, through the daemon; then a transition it may not make.
	var out, errb bytes.Buffer
	err := run(context.Background(), []string{"invoice", "status", "-config", path, crashSupplier, "LC-2", "11", "-comment", "payée par prélèvement"}, &out, &errb)
	if err != nil || !strings.Contains(out.String(), "appliqué") {
		t.Fatalf("invoice status: %v\n%s%s", err, out.String(), errb.String())
	}
	out.Reset()
	err = run(context.Background(), []string{"invoice", "status", "-config", path, "-comment", "x", crashSupplier, "LC-2", "07"}, &out, &errb)
	var ee exitError
	if !errors.As(err, &ee) || ee.code != 1 || !strings.Contains(out.String(), "CPP-STATUT-TRANSITION") {
		t.Fatalf("refused invoice status: %v\n%s%s", err, out.String(), errb.String())
	}
	if err := run(context.Background(), []string{"invoice", "status", "-config", path, crashSupplier, "LC-2"}, &out, &errb); !errors.As(err, &ee) || ee.code != 2 {
		t.Errorf("usage: %v", err)
	}
	// The recipient's partner hears of what the operator set on its behalf.
	if got, _ := filepath.Glob(filepath.Join(cfg.Root, "partners/VALMONT/out/FACT_*_STATUTS.json")); len(got) != 1 {
		t.Errorf("recipient's status files: %v", got)
	}

	// The whole story.
	out.Reset()
	if err := run(context.Background(), []string{"invoice", "show", "-config", path, "-format", "json", crashSupplier, "LC-2"}, &out, &errb); err != nil {
		t.Fatalf("invoice show: %v %s", err, errb.String())
	}
	var s invoiceStory
	if err := json.Unmarshal(out.Bytes(), &s); err != nil {
		t.Fatal(err)
	}
	var hist []string
	for _, e := range s.History {
		hist = append(hist, e.Status+"/"+e.By)
	}
	if s.Status != "11" || s.IssueDate != "2026-11-02" || s.TypeCode != "380" || s.RecipientSIRET != crashRecipient ||
		strings.Join(hist, " ") != "01/hub 03/hub 05/VALMONT 03/VALMONT 11/operator" ||
		s.History[2].Comment != "montant erroné" || s.History[1].Location == "" || s.History[2].LabelFR != "Rejetée" {
		t.Errorf("invoice show: %s", out.String())
	}
	for _, key := range []string{`"supplier_siret"`, `"engagement"`, `"credited_by": []`, `"credits": null`, `"label_fr"`, `"recipient_siret"`, `"location"`, `"mandate"`} {
		if !strings.Contains(out.String(), key) {
			t.Errorf("invoice show JSON lacks %s", key)
		}
	}
	out.Reset()
	if err := run(context.Background(), []string{"invoice", "show", "-config", path, crashSupplier, "LC-1"}, &out, &errb); err != nil ||
		!strings.Contains(out.String(), "04 À recycler") || !strings.Contains(out.String(), "« mauvais service »") {
		t.Errorf("invoice show text: %v\n%s", err, out.String())
	}
	if err := run(context.Background(), []string{"invoice", "show", "-config", path, crashSupplier, "LC-404"}, &out, &errb); !errors.As(err, &ee) || ee.code != 1 {
		t.Errorf("unknown invoice: %v", err)
	}

	// Every status file written validates.
	xmls, _ := filepath.Glob(filepath.Join(cfg.Root, "partners/*/out/[CF][RA]*.xml")) // CR_, FACT_: CPPStatut
	corpus.ValidateCPPStatut(t, xmls)
	codes := checkCDAR(t, cfg)
	var changes []string
	for name, c := range codes {
		if strings.HasPrefix(name, "FOURN01/out/CDAR_") && strings.Contains(name, "_STATUTS") {
			changes = append(changes, c)
		}
	}
	slices.Sort(changes)
	// 06 → 208 and 05 → 210; 05 → 03 (undone) is 203, the recipient's
	// 04 → 221 in a message of its own; 11 → 211 by the operator.
	if got := strings.Join(changes, " | "); got != "203 | 208 210 | 211 | 221" {
		t.Errorf("CDAR status changes to the supplier: %s (%v)", got, codes)
	}
}

func sample(t *testing.T, name, number string) []byte {
	t.Helper()
	data, err := os.ReadFile("../../samples/flows/" + name)
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range []string{"FA-2026-0001", "FA-2026-0002", "FA-2026-0003"} {
		data = bytes.Replace(data, []byte("<cbc:ID>"+n+"</cbc:ID>"), []byte("<cbc:ID>"+number+"</cbc:ID>"), 1)
	}
	if !bytes.Contains(data, []byte(number)) {
		t.Fatalf("%s: no number replaced", name)
	}
	return data
}

// crOf waits for the JSON CR of a flow deposited by FOURN01 under name and
// returns its one invoice's verdict and codes, "accepted" or
// "rejected:CODE,...".
func crOf(t *testing.T, cfg config.Config, logs *syncBuffer, name string) (string, map[string]any) {
	t.Helper()
	p := awaitFile(t, cfg, logs, "FOURN01", "CR_*_"+name+".json")
	data, _ := os.ReadFile(p)
	var cr struct {
		FlowID   string `json:"flow_id"`
		Invoices []map[string]any
	}
	if err := json.Unmarshal(data, &cr); err != nil || len(cr.Invoices) != 1 {
		t.Fatalf("%s: %v\n%s", p, err, data)
	}
	inv := cr.Invoices[0]
	v := inv["verdict"].(string)
	for _, f := range inv["findings"].([]any) {
		if f.(map[string]any)["severity"] == "fatal" {
			v += ":" + f.(map[string]any)["code"].(string)
		}
	}
	inv["flow_id"] = cr.FlowID
	return v, inv
}

func historyOf(t *testing.T, path, number string) (invoiceStory, string) {
	t.Helper()
	var out, errb bytes.Buffer
	if err := run(context.Background(), []string{"invoice", "show", "-config", path, "-format", "json", crashSupplier, number}, &out, &errb); err != nil {
		t.Fatalf("invoice show %s: %v %s", number, err, errb.String())
	}
	var s invoiceStory
	if err := json.Unmarshal(out.Bytes(), &s); err != nil {
		t.Fatal(err)
	}
	var h []string
	for _, e := range s.History {
		h = append(h, e.Status+"@"+e.RecipientSIRET[:2])
	}
	return s, strings.Join(h, " ")
}

// TestRecycleAndComplete plays the supplier's answers through the running
// daemon: an invoice sent to the wrong SIRET (04) deposited again, same
// number, to the right one and another partner; one whose totals changed
// refused; a suspended invoice (06) completed (12) and delivered again;
// any other re-deposit a CPP-DOUBLON that never touches the original and,
// when its content differs, says so.
func TestRecycleAndComplete(t *testing.T) {
	path, cfg, logs, stop := lifecycleDaemon(t)
	defer stop()
	for _, n := range []string{"RC-1", "RC-2", "RC-3", "RC-4"} {
		depositAs(t, cfg, "FOURN01", n+".xml", sample(t, "facture-acceptee.xml", n))
		if v, _ := crOf(t, cfg, logs, n+".xml"); v != "accepted" {
			t.Fatalf("%s: %s", n, v)
		}
	}
	cr := sendStatuses(t, cfg, logs, "VALMONT", "s1.xml",
		unitT("RC-1", "", "04", "mauvais SIRET : Département, service COMPTA", ""),
		unitT("RC-2", "", "04", "mauvais destinataire", ""),
		unitT("RC-3", "", "06", "pièces justificatives manquantes", ""),
		unitT("RC-4", "", "06", "reçue trop tôt", ""))
	if got := verdicts(cr); got != "IN_INTEGRE RC-1:04:applied RC-2:04:applied RC-3:06:applied RC-4:06:applied" {
		t.Fatalf("statuses: %s", got)
	}

	// Recycled to the department (collected by DEPT), totals unchanged.
	depositAs(t, cfg, "FOURN01", "RC-1-bis.xml", sample(t, "facture-service.xml", "RC-1"))
	if v, _ := crOf(t, cfg, logs, "RC-1-bis.xml"); v != "accepted" {
		t.Fatalf("recycle: %s", v)
	}
	if got, _ := filepath.Glob(filepath.Join(cfg.Root, "partners/DEPT/inbox/22000002000010_*_RC-1_*.xml")); len(got) != 1 {
		t.Errorf("recycled invoice not in DEPT's inbox: %v", got)
	}
	s, h := historyOf(t, path, "RC-1")
	if h != "01@21 03@21 04@21 01@22 03@22" || s.Status != "03" || s.RecipientSIRET != "22000002000010" || s.ServiceCode != "COMPTA" {
		t.Errorf("recycled story: %s, %+v", h, s)
	}
	// DEPT may now set its statuses; VALMONT no longer.
	if got := verdicts(sendStatuses(t, cfg, logs, "VALMONT", "s2.xml", unitT("RC-1", "", "07", "", ""))); got != "IN_REJETE RC-1:07:refused:CPP-STATUT-NON-HABILITE" {
		t.Errorf("old recipient: %s", got)
	}

	// Recycled with other totals: refused, naming what differs; the
	// invoice still waits at 04.
	changed := bytes.ReplaceAll(sample(t, "facture-service.xml", "RC-2"), []byte(`<cbc:IssueDate>2026-11-02<`), []byte(`<cbc:IssueDate>2026-11-03<`))
	depositAs(t, cfg, "FOURN01", "RC-2-bis.xml", changed)
	v, inv := crOf(t, cfg, logs, "RC-2-bis.xml")
	if v != "rejected:CPP-RECYCLAGE-MODIFIE" {
		t.Errorf("changed recycle: %s", v)
	}
	if b, _ := json.Marshal(inv); !strings.Contains(string(b), "BT-2 2026-11-02 ≠ 2026-11-03") {
		t.Errorf("changed recycle does not name BT-2: %s", b)
	}
	if s, _ := historyOf(t, path, "RC-2"); s.Status != "04" {
		t.Errorf("RC-2 at %s after a refused recycle", s.Status)
	}

	// A suspended invoice may not change recipient.
	depositAs(t, cfg, "FOURN01", "RC-4-bis.xml", sample(t, "facture-service.xml", "RC-4"))
	v, inv = crOf(t, cfg, logs, "RC-4-bis.xml")
	if b, _ := json.Marshal(inv); v != "rejected:CPP-COMPLEMENT-MODIFIE" || !strings.Contains(string(b), "BT-46 21000001000012 ≠ 22000002000010") {
		t.Errorf("completion to another recipient: %s %s", v, b)
	}

	// Wrong service code, then missing engagement: the department's
	// partner sends RC-5 back (04); deposited to service TRAVAUX without
	// the engagement that service requires, it is rejected by the usual
	// checks and still waits; with it, it is recycled.
	depositAs(t, cfg, "FOURN01", "RC-5.xml", sample(t, "facture-service.xml", "RC-5"))
	if v, _ := crOf(t, cfg, logs, "RC-5.xml"); v != "accepted" {
		t.Fatalf("RC-5: %s", v)
	}
	if got := verdicts(sendStatuses(t, cfg, logs, "DEPT", "d1.xml", unitT("RC-5", "", "04", "service TRAVAUX, pas COMPTA", ""))); got != "IN_INTEGRE RC-5:04:applied" {
		t.Fatalf("DEPT 04: %s", got)
	}
	travaux := bytes.Replace(sample(t, "facture-service.xml", "RC-5"), []byte("<cbc:BuyerReference>COMPTA<"), []byte("<cbc:BuyerReference>TRAVAUX<"), 1)
	depositAs(t, cfg, "FOURN01", "RC-5-bis.xml", travaux)
	if v, _ := crOf(t, cfg, logs, "RC-5-bis.xml"); !strings.HasPrefix(v, "rejected:") || strings.Contains(v, "CPP-DOUBLON") || strings.Contains(v, "MODIFIE") {
		t.Errorf("recycle without its engagement: %s", v)
	}
	if s, _ := historyOf(t, path, "RC-5"); s.Status != "04" {
		t.Errorf("RC-5 at %s", s.Status)
	}
	travaux = bytes.Replace(travaux, []byte("<cac:AccountingSupplierParty>"), []byte("<cac:OrderReference><cbc:ID>EJ-TRAV-7</cbc:ID></cac:OrderReference><cac:AccountingSupplierParty>"), 1)
	depositAs(t, cfg, "FOURN01", "RC-5-ter.xml", travaux)
	if v, _ := crOf(t, cfg, logs, "RC-5-ter.xml"); v != "accepted" {
		t.Errorf("recycle with its engagement: %s", v)
	}
	if s, h := historyOf(t, path, "RC-5"); s.Status != "03" || s.ServiceCode != "TRAVAUX" || s.Engagement != "EJ-TRAV-7" || h != "01@22 03@22 04@22 01@22 03@22" {
		t.Errorf("RC-5: %s %+v", h, s)
	}

	// Completed: the suspended invoice with its attachment, same recipient.
	completed := bytes.Replace(sample(t, "facture-acceptee.xml", "RC-3"), []byte("<cac:AccountingSupplierParty>"),
		[]byte(`<cac:AdditionalDocumentReference><cbc:ID>BL-1</cbc:ID></cac:AdditionalDocumentReference><cac:AccountingSupplierParty>`), 1)
	depositAs(t, cfg, "FOURN01", "RC-3-bis.xml", completed)
	v, inv = crOf(t, cfg, logs, "RC-3-bis.xml")
	if v != "accepted" {
		t.Fatalf("completion: %s", v)
	}
	if got, _ := filepath.Glob(filepath.Join(cfg.Root, "partners/VALMONT/inbox/*_RC-3_*.xml")); len(got) != 2 {
		t.Errorf("completed invoice not delivered again: %v", got)
	}
	if _, h := historyOf(t, path, "RC-3"); h != "01@21 03@21 06@21 12@21" {
		t.Errorf("completed story: %s", h)
	}
	flowID := inv["flow_id"].(string)
	for _, p := range []string{"FOURN01/out/FACT_" + flowID + "_RC-3-bis.xml.json", "VALMONT/out/FACT_" + flowID + "_RECU.json"} {
		data, err := os.ReadFile(filepath.Join(cfg.Root, "partners", p))
		if err != nil || !strings.Contains(string(data), `"code":"12"`) || strings.Contains(string(data), `"code":"01"`) {
			t.Errorf("%s: %v\n%s", p, err, data)
		}
	}
	codes := checkCDAR(t, cfg)
	if c := codes["FOURN01/out/CDAR_"+flowID+"_RC-3-bis.xml.xml"]; c != "209" {
		t.Errorf("completion in CDAR to the supplier: %q (%v)", c, codes)
	}
	if c := codes["VALMONT/out/CDAR_"+flowID+"_RECU.xml"]; c != "209" {
		t.Errorf("completion in CDAR to the recipient: %q", c)
	}
	for name, c := range codes {
		if strings.Contains(name, "_RC-2-bis.xml") && c != "213" {
			t.Errorf("refused recycle in CDAR: %s %q", name, c)
		}
	}

	// The recipient may go on from 12.
	if got := verdicts(sendStatuses(t, cfg, logs, "VALMONT", "s3.xml", unitT("RC-3", "", "07", "", ""))); got != "IN_INTEGRE RC-3:07:applied" {
		t.Errorf("after completion: %s", got)
	}

	// Deposited once more: a duplicate, saying its amounts differ; the
	// original untouched.
	dup := bytes.ReplaceAll(sample(t, "facture-acceptee.xml", "RC-3"), []byte(`<cbc:PayableAmount currencyID="EUR">240.48<`), []byte(`<cbc:PayableAmount currencyID="EUR">99.00<`))
	depositAs(t, cfg, "FOURN01", "RC-3-ter.xml", dup)
	v, inv = crOf(t, cfg, logs, "RC-3-ter.xml")
	if b, _ := json.Marshal(inv); !strings.Contains(v, "CPP-DOUBLON") || !strings.Contains(string(b), "montants différents (BT-115 240.48 ≠ 99.00)") {
		t.Errorf("duplicate: %s %s", v, b)
	}
	depositAs(t, cfg, "FOURN01", "RC-3-quater.xml", sample(t, "facture-service.xml", "RC-3"))
	v, inv = crOf(t, cfg, logs, "RC-3-quater.xml")
	if b, _ := json.Marshal(inv); v != "rejected:CPP-DOUBLON" || !strings.Contains(string(b), "destinataire différent (21000001000012 ≠ 22000002000010)") ||
		strings.Contains(string(b), "montants") {
		t.Errorf("duplicate to another recipient: %s %s", v, b)
	}
	if s, h := historyOf(t, path, "RC-3"); s.Status != "07" || h != "01@21 03@21 06@21 12@21 07@21" {
		t.Errorf("the duplicate touched the original: %s %s", s.Status, h)
	}
	xmls, _ := filepath.Glob(filepath.Join(cfg.Root, "partners/*/out/[CF][RA]*.xml")) // CR_, FACT_: CPPStatut
	corpus.ValidateCPPStatut(t, xmls)
}

// TestCreditNote: a credit note naming an invoice of the same supplier and
// recipient is linked to it, both stories show the link, and the recipient
// rejects both with a comment; one naming no known invoice is accepted
// with a warning.
func TestCreditNote(t *testing.T) {
	path, cfg, logs, stop := lifecycleDaemon(t)
	defer stop()
	depositAs(t, cfg, "FOURN01", "CN-F1.xml", sample(t, "facture-acceptee.xml", "CN-F1"))
	if v, _ := crOf(t, cfg, logs, "CN-F1.xml"); v != "accepted" {
		t.Fatalf("invoice: %s", v)
	}
	avoir, err := os.ReadFile("../../samples/flows/avoir-accepte.xml")
	if err != nil {
		t.Fatal(err)
	}
	credit := func(number, credits string) []byte {
		return bytes.ReplaceAll(bytes.ReplaceAll(avoir, []byte("AV-2026-0001"), []byte(number)), []byte("FA-2026-0001"), []byte(credits))
	}
	depositAs(t, cfg, "FOURN01", "CN-A1.xml", credit("CN-A1", "CN-F1"))
	v, inv := crOf(t, cfg, logs, "CN-A1.xml")
	if b, _ := json.Marshal(inv); v != "accepted" || strings.Contains(string(b), "CPP-AVOIR-FACTURE-INCONNUE") {
		t.Fatalf("credit note: %s %s", v, b)
	}
	if s, _ := historyOf(t, path, "CN-F1"); strings.Join(s.CreditedBy, ",") != "CN-A1" || s.Credits != nil {
		t.Errorf("invoice's story: %+v", s)
	}
	if s, _ := historyOf(t, path, "CN-A1"); s.Credits == nil || *s.Credits != "CN-F1" || s.TypeCode != "381" {
		t.Errorf("credit note's story: %+v", s)
	}
	var out, errb bytes.Buffer
	if err := run(context.Background(), []string{"invoice", "show", "-config", path, crashSupplier, "CN-F1"}, &out, &errb); err != nil ||
		!strings.Contains(out.String(), "credited by: CN-A1") {
		t.Errorf("invoice show text: %v\n%s", err, out.String())
	}
	cr := sendStatuses(t, cfg, logs, "VALMONT", "s1.xml",
		unitT("CN-F1", "", "05", "annulée par l'avoir CN-A1", ""), unitT("CN-A1", "", "05", "avoir de la facture CN-F1, rejetée", ""))
	if got := verdicts(cr); got != "IN_INTEGRE CN-F1:05:applied CN-A1:05:applied" {
		t.Errorf("both rejected: %s", got)
	}

	depositAs(t, cfg, "FOURN01", "CN-A2.xml", credit("CN-A2", "OLD-1"))
	v, inv = crOf(t, cfg, logs, "CN-A2.xml")
	if b, _ := json.Marshal(inv); v != "accepted" || !strings.Contains(string(b), `"code":"CPP-AVOIR-FACTURE-INCONNUE"`) || !strings.Contains(string(b), `"severity":"warning"`) {
		t.Errorf("credit note of an unknown invoice: %s %s", v, b)
	}
	if s, _ := historyOf(t, path, "CN-A2"); s.Credits != nil {
		t.Errorf("linked to nothing: %+v", s)
	}
}

// cdarStatusDoc is a recipient's CDAR status flow: one
// AcknowledgementDocument per (number, code, reason).
func cdarStatusDoc(acks ...[3]string) string {
	var b strings.Builder
	b.WriteString(`<?xml version="1.0" encoding="UTF-8"?>
<r:CrossDomainAcknowledgementAndResponse xmlns:r="urn:un:unece:uncefact:data:standard:CrossDomainAcknowledgementAndResponse:100" xmlns:ram="urn:un:unece:uncefact:data:standard:ReusableAggregateBusinessInformationEntity:100" xmlns:udt="urn:un:unece:uncefact:data:standard:UnqualifiedDataType:100" xmlns:qdt="urn:un:unece:uncefact:data:standard:QualifiedDataType:100">
<r:ExchangedDocumentContext><ram:GuidelineSpecifiedDocumentContextParameter><ram:ID>urn.cpro.gouv.fr:1p0:CDV:invoice</ram:ID></ram:GuidelineSpecifiedDocumentContextParameter></r:ExchangedDocumentContext>
<r:ExchangedDocument><ram:ID>V1</ram:ID><ram:SenderTradeParty><ram:ID>VALMONT</ram:ID></ram:SenderTradeParty></r:ExchangedDocument>`)
	for _, a := range acks {
		fmt.Fprintf(&b, `<r:AcknowledgementDocument><ram:TypeCode>23</ram:TypeCode><ram:ReferenceReferencedDocument>
<ram:IssuerAssignedID>%s</ram:IssuerAssignedID><ram:TypeCode>380</ram:TypeCode>
<ram:FormattedIssueDateTime><qdt:DateTimeString format="102">20261102</qdt:DateTimeString></ram:FormattedIssueDateTime>
<ram:ProcessConditionCode>%s</ram:ProcessConditionCode>
<ram:IssuerTradeParty><ram:GlobalID schemeID="0002">810000010</ram:GlobalID><ram:GlobalID schemeID="0009">%s</ram:GlobalID><ram:RoleCode>SE</ram:RoleCode></ram:IssuerTradeParty>
<ram:RecipientTradeParty><ram:GlobalID schemeID="0009">%s</ram:GlobalID><ram:RoleCode>BY</ram:RoleCode></ram:RecipientTradeParty>
<ram:SpecifiedDocumentStatus><ram:ReasonCode>JUSTIF_ABS</ram:ReasonCode><ram:Reason>%s</ram:Reason></ram:SpecifiedDocumentStatus>
</ram:ReferenceReferencedDocument></r:AcknowledgementDocument>`, a[0], a[1], crashSupplier, crashRecipient, a[2])
	}
	b.WriteString("</r:CrossDomainAcknowledgementAndResponse>\n")
	return b.String()
}

// TestCDARStatusFlow: a recipient sends its statuses as CDAR, with the
// same rules and codes as CPPStatut.
func TestCDARStatusFlow(t *testing.T) {
	path, cfg, logs, stop := lifecycleDaemon(t)
	defer stop()
	for _, n := range []string{"CD-1", "CD-2"} {
		depositAs(t, cfg, "FOURN01", n+".xml", invoiceT(t, n))
		awaitFile(t, cfg, logs, "FOURN01", "CR_*_"+n+".xml.json")
	}
	depositAs(t, cfg, "VALMONT", "cdar.xml", []byte(cdarStatusDoc(
		[3]string{"CD-1", "208", "pièces manquantes"}, [3]string{"CD-2", "213", "x"}, [3]string{"CD-2", "211", ""}, [3]string{"CD-9", "204", ""})))
	p := awaitFile(t, cfg, logs, "VALMONT", "CR_*_cdar.xml.json")
	data, _ := os.ReadFile(p)
	var cr statusCRTest
	if err := json.Unmarshal(data, &cr); err != nil {
		t.Fatal(err)
	}
	if got := verdicts(cr); got != "IN_INTEGRE_PARTIEL CD-1:06:applied CD-2:CDAR 213:refused:CPP-STATUT-CODE CD-2:11:applied CD-9:07:refused:CPP-STATUT-FACTURE-INCONNUE" {
		t.Errorf("CDAR status flow: %s", got)
	}
	if s, _ := historyOf(t, path, "CD-1"); s.Status != "06" || s.History[2].Comment != "JUSTIF_ABS : pièces manquantes" {
		t.Errorf("CD-1: %+v", s)
	}
}

// flowCR waits for the JSON CR of a flow deposited by FOURN01 under name
// and returns it whole.
func flowCR(t *testing.T, cfg config.Config, logs *syncBuffer, name string) map[string]any {
	t.Helper()
	p := awaitFile(t, cfg, logs, "FOURN01", "CR_*_"+name+".json")
	data, _ := os.ReadFile(p)
	var cr map[string]any
	if err := json.Unmarshal(data, &cr); err != nil {
		t.Fatalf("%s: %v\n%s", p, err, data)
	}
	return cr
}

// flowErrors lists the codes of a CR's flow-level errors.
func flowErrors(cr map[string]any) string {
	var codes []string
	errs, _ := cr["errors"].([]any)
	for _, e := range errs {
		codes = append(codes, fmt.Sprint(e.(map[string]any)["code"]))
	}
	return strings.Join(codes, ",")
}

// TestSameFileAgain: the supplier deposits again, byte for byte, an
// invoice the recipient suspended because it came too early (06): it is
// its answer, not a duplicate flow; the invoice becomes 12 Complétée and
// is delivered again. The same with an invoice sent back (04): 01 then 03
// again. The same bytes of an invoice at 03 (or once completed) are still
// a duplicate flow (FLX-DOUBLON) that touches nothing.
func TestSameFileAgain(t *testing.T) {
	path, cfg, logs, stop := lifecycleDaemon(t)
	defer stop()
	files := map[string][]byte{}
	flowOf := map[string]string{}
	for _, n := range []string{"TE-1", "TE-2", "TE-3"} {
		files[n] = sample(t, "facture-acceptee.xml", n)
		depositAs(t, cfg, "FOURN01", n+".xml", files[n])
		v, inv := crOf(t, cfg, logs, n+".xml")
		if v != "accepted" {
			t.Fatalf("%s: %s", n, v)
		}
		flowOf[n] = inv["flow_id"].(string)
	}
	cr := sendStatuses(t, cfg, logs, "VALMONT", "s1.xml",
		unitT("TE-1", "", "06", "reçue trop tôt : à déposer après la livraison", ""),
		unitT("TE-3", "", "04", "à renvoyer après correction du service", ""))
	if got := verdicts(cr); got != "IN_INTEGRE TE-1:06:applied TE-3:04:applied" {
		t.Fatalf("statuses: %s", got)
	}

	// Received too early, suspended, sent again as it was: completed (12)
	// and delivered again.
	depositAs(t, cfg, "FOURN01", "TE-1-later.xml", files["TE-1"])
	crAgain := flowCR(t, cfg, logs, "TE-1-later.xml")
	if e := flowErrors(crAgain); e != "" || crAgain["flow_status"] != "IN_INTEGRE" || crAgain["duplicate_of"] != nil {
		t.Fatalf("same file for a suspended invoice: %s %v %v", e, crAgain["flow_status"], crAgain["duplicate_of"])
	}
	if _, h := historyOf(t, path, "TE-1"); h != "01@21 03@21 06@21 12@21" {
		t.Errorf("TE-1's story: %s", h)
	}
	if got, _ := filepath.Glob(filepath.Join(cfg.Root, "partners/VALMONT/inbox/*_TE-1_*.xml")); len(got) != 2 {
		t.Errorf("completed invoice not delivered again: %v", got)
	}
	again := crAgain["flow_id"].(string)
	if data, err := os.ReadFile(filepath.Join(cfg.Root, "partners/FOURN01/out/FACT_"+again+"_TE-1-later.xml.json")); err != nil ||
		!strings.Contains(string(data), `"code":"12"`) || strings.Contains(string(data), `"code":"01"`) {
		t.Errorf("supplier's status file of the completion: %v\n%s", err, data)
	}

	// Sent back (04), sent again as it was: 01 then 03 again.
	depositAs(t, cfg, "FOURN01", "TE-3-again.xml", files["TE-3"])
	if v, _ := crOf(t, cfg, logs, "TE-3-again.xml"); v != "accepted" {
		t.Errorf("same file for an invoice to recycle: %s", v)
	}
	if s, h := historyOf(t, path, "TE-3"); h != "01@21 03@21 04@21 01@21 03@21" || s.Status != "03" {
		t.Errorf("TE-3's story: %s", h)
	}

	// At 03, and once completed or recycled (the first deposit stays at 06
	// or 04 in the story, but is no longer the newest): the same bytes are
	// a duplicate flow.
	for _, c := range []struct{ number, name, of string }{
		{"TE-2", "TE-2-again.xml", flowOf["TE-2"]},
		{"TE-1", "TE-1-third.xml", flowOf["TE-1"]},
		{"TE-3", "TE-3-third.xml", flowOf["TE-3"]},
	} {
		depositAs(t, cfg, "FOURN01", c.name, files[c.number])
		cr := flowCR(t, cfg, logs, c.name)
		if e := flowErrors(cr); e != "FLX-DOUBLON" || cr["flow_status"] != "IN_REJETE" || cr["duplicate_of"] != c.of {
			t.Errorf("%s: %s %v duplicate of %v, want %s", c.name, e, cr["flow_status"], cr["duplicate_of"], c.of)
		}
	}
	if s, h := historyOf(t, path, "TE-2"); h != "01@21 03@21" || s.Status != "03" {
		t.Errorf("the duplicate touched TE-2: %s", h)
	}
	if _, h := historyOf(t, path, "TE-1"); h != "01@21 03@21 06@21 12@21" {
		t.Errorf("the duplicate touched TE-1: %s", h)
	}
	if got, _ := filepath.Glob(filepath.Join(cfg.Root, "partners/VALMONT/inbox/*_TE-2_*.xml")); len(got) != 1 {
		t.Errorf("the duplicate was delivered: %v", got)
	}
	xmls, _ := filepath.Glob(filepath.Join(cfg.Root, "partners/*/out/[CF][RA]*.xml")) // CR_, FACT_: CPPStatut
	corpus.ValidateCPPStatut(t, xmls)
	checkCDAR(t, cfg)
}

// TestEngagementMissing: the recipient, a structure that does not require
// an engagement, sends an invoice back (04) for lack of one all the same;
// the supplier deposits it again with the engagement: 01 then 03, the
// engagement recorded, delivered again.
func TestEngagementMissing(t *testing.T) {
	path, cfg, logs, stop := lifecycleDaemon(t)
	defer stop()
	with := sample(t, "facture-acceptee.xml", "EN-1")
	without := bytes.Replace(with, []byte("<cac:OrderReference><cbc:ID>EJ-2026-118</cbc:ID></cac:OrderReference>"), nil, 1)
	if bytes.Equal(with, without) {
		t.Fatal("no engagement to remove")
	}
	depositAs(t, cfg, "FOURN01", "EN-1.xml", without)
	if v, _ := crOf(t, cfg, logs, "EN-1.xml"); v != "accepted" {
		t.Fatalf("invoice without engagement to a structure that requires none: %s", v)
	}
	if s, _ := historyOf(t, path, "EN-1"); s.Engagement != "" || s.Status != "03" {
		t.Fatalf("EN-1: %+v", s)
	}
	cr := sendStatuses(t, cfg, logs, "VALMONT", "s1.xml", unitT("EN-1", "2026-11-02", "04", "engagement manquant", ""))
	if got := verdicts(cr); got != "IN_INTEGRE EN-1:04:applied" {
		t.Fatalf("04: %s", got)
	}
	if got := supplierStatuses(t, cfg, "FOURN01", cr.FlowID); got != "EN-1:04:engagement manquant" {
		t.Errorf("supplier's status file: %s", got)
	}
	depositAs(t, cfg, "FOURN01", "EN-1-bis.xml", with)
	v, inv := crOf(t, cfg, logs, "EN-1-bis.xml")
	if v != "accepted" {
		t.Fatalf("recycle with the engagement: %s", v)
	}
	s, h := historyOf(t, path, "EN-1")
	if h != "01@21 03@21 04@21 01@21 03@21" || s.Status != "03" || s.Engagement != "EJ-2026-118" || s.RecipientSIRET != crashRecipient {
		t.Errorf("EN-1: %s %+v", h, s)
	}
	flowID := inv["flow_id"].(string)
	if data, err := os.ReadFile(filepath.Join(cfg.Root, "partners/FOURN01/out/FACT_"+flowID+"_EN-1-bis.xml.json")); err != nil ||
		!strings.Contains(string(data), `"code":"01"`) || !strings.Contains(string(data), `"code":"03"`) {
		t.Errorf("supplier's status file of the recycle: %v\n%s", err, data)
	}
	if got, _ := filepath.Glob(filepath.Join(cfg.Root, "partners/VALMONT/inbox/*_EN-1_*.xml")); len(got) != 2 {
		t.Errorf("recycled invoice not delivered again: %v", got)
	}
	codes := checkCDAR(t, cfg)
	if c := codes["FOURN01/out/CDAR_"+cr.FlowID+"_STATUTS.xml"]; c != "221" {
		t.Errorf("04 in CDAR to the supplier: %q (%v)", c, codes)
	}
	if c := codes["FOURN01/out/CDAR_"+flowID+"_EN-1-bis.xml.xml"]; c != "200 203" {
		t.Errorf("recycle in CDAR to the supplier: %q (%v)", c, codes)
	}
}

// statusLines reads the "statuses" of an invoice-level JSON status file.
func statusLines(t *testing.T, path string) []map[string]any {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Statuses []map[string]any `json:"statuses"`
	}
	if err := json.Unmarshal(data, &doc); err != nil {
		t.Fatalf("%s: %v\n%s", path, err, data)
	}
	return doc.Statuses
}

// TestPaidByDirectDebit: a recipient's own 11 on an invoice left at 03
// since its delivery (paid by direct debit). The supplier's status file
// of that change says of the invoice what its 03 said: the supplier's name
// (RaisonSociale), the recipient's and service's, the amounts. A partner
// that does not receive the invoice learns nothing of it.
func TestPaidByDirectDebit(t *testing.T) {
	path, cfg, logs, stop := lifecycleDaemon(t)
	defer stop()
	depositAs(t, cfg, "FOURN01", "DD-1.xml", sample(t, "facture-service.xml", "DD-1"))
	v, inv := crOf(t, cfg, logs, "DD-1.xml")
	if v != "accepted" {
		t.Fatalf("DD-1: %s", v)
	}
	delivered := inv["flow_id"].(string)

	// Another partner tries: refused, told nothing of the invoice.
	cr := sendStatuses(t, cfg, logs, "VALMONT", "s0.xml", unitT("DD-1", "", "11", "", ""))
	if got := verdicts(cr); got != "IN_REJETE DD-1:11:refused:CPP-STATUT-NON-HABILITE" {
		t.Fatalf("another partner: %s", got)
	}
	if m := cr.Updates[0].Findings[0].MessageFR; !strings.Contains(m, "ne reçoit pas la facture « DD-1 »") {
		t.Errorf("refusal message: %s", m)
	}
	crs, _ := filepath.Glob(filepath.Join(cfg.Root, "partners/VALMONT/out/CR_"+cr.FlowID+"_*"))
	if len(crs) != 2 {
		t.Fatalf("CR files: %v", crs)
	}
	for _, p := range crs {
		data, _ := os.ReadFile(p)
		for _, secret := range []string{"22000002000010", "2026-11-02", "COMPTA", "Haute-Vallée"} {
			if strings.Contains(string(data), secret) {
				t.Errorf("%s tells a partner that does not receive the invoice %q:\n%s", filepath.Base(p), secret, data)
			}
		}
	}

	cr = sendStatuses(t, cfg, logs, "DEPT", "s1.xml", unitT("DD-1", "", "11", "", ""))
	if got := verdicts(cr); got != "IN_INTEGRE DD-1:11:applied" {
		t.Fatalf("11 by the recipient: %s", got)
	}
	if s, h := historyOf(t, path, "DD-1"); h != "01@22 03@22 11@22" || s.Status != "11" || s.History[2].By != "DEPT" {
		t.Errorf("DD-1: %s %+v", h, s)
	}
	if got := supplierStatuses(t, cfg, "FOURN01", cr.FlowID); got != "DD-1:11" {
		t.Errorf("supplier's status file: %s", got)
	}
	if got := supplierStatuses(t, cfg, "DEPT", cr.FlowID); got != "" {
		t.Errorf("the recipient's partner is told what it set itself: %s", got)
	}

	// What the change's file says of the invoice is what the 03 said.
	first := statusLines(t, filepath.Join(cfg.Root, "partners/FOURN01/out/FACT_"+delivered+"_DD-1.xml.json"))
	change := statusLines(t, filepath.Join(cfg.Root, "partners/FOURN01/out/FACT_"+cr.FlowID+"_STATUTS.json"))
	if len(first) != 2 || len(change) != 1 {
		t.Fatalf("status lines: %v %v", first, change)
	}
	for _, k := range []string{"invoice_date", "supplier_name", "supplier_country", "recipient_name", "service_code", "service_name",
		"total_without_vat", "total_with_vat", "amount_due", "currency"} {
		if first[1][k] == nil || first[1][k] == "" || change[0][k] != first[1][k] {
			t.Errorf("%s: %v in the 03, %v in the 11", k, first[1][k], change[0][k])
		}
	}
	if change[0]["supplier_name"] != "Fournitures Durand SARL" || change[0]["amount_due"] != "240.48" {
		t.Errorf("11: %v", change[0])
	}
	xml, _ := os.ReadFile(filepath.Join(cfg.Root, "partners/FOURN01/out/FACT_"+cr.FlowID+"_STATUTS.xml"))
	if !strings.Contains(string(xml), "<RaisonSociale>Fournitures Durand SARL</RaisonSociale>") ||
		!strings.Contains(string(xml), "<CodeService>COMPTA</CodeService>") {
		t.Errorf("CPPStatut of the change:\n%s", xml)
	}
	codes := checkCDAR(t, cfg)
	if c := codes["FOURN01/out/CDAR_"+cr.FlowID+"_STATUTS.xml"]; c != "211" {
		t.Errorf("11 in CDAR to the supplier: %q (%v)", c, codes)
	}
	cdar, _ := os.ReadFile(filepath.Join(cfg.Root, "partners/FOURN01/out/CDAR_"+cr.FlowID+"_STATUTS.xml"))
	if !strings.Contains(string(cdar), "Fournitures Durand SARL") {
		t.Errorf("CDAR of the change names no supplier:\n%s", cdar)
	}
	xmls, _ := filepath.Glob(filepath.Join(cfg.Root, "partners/*/out/[CF][RA]*.xml")) // CR_, FACT_: CPPStatut
	corpus.ValidateCPPStatut(t, xmls)
}
