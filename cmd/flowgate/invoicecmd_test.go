package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"flowgate/internal/corpus"
	"flowgate/outbox"
)

// invoiceOn is the accepted sample invoice under number, issued on date.
func invoiceOn(t *testing.T, number, date string) []byte {
	t.Helper()
	data := sample(t, "facture-acceptee.xml", number)
	return bytes.Replace(data, []byte("<cbc:IssueDate>2026-11-02</cbc:IssueDate>"), []byte("<cbc:IssueDate>"+date+"</cbc:IssueDate>"), 1)
}

// creditOf is the accepted sample credit note under number, naming invoice
// credits issued on date (BT-26), or with no BT-26 when date is "".
func creditOf(t *testing.T, number, credits, date string) []byte {
	t.Helper()
	data, err := os.ReadFile("../../samples/flows/avoir-accepte.xml")
	if err != nil {
		t.Fatal(err)
	}
	ref := "<cbc:ID>FA-2026-0001</cbc:ID><cbc:IssueDate>2026-11-02</cbc:IssueDate>"
	if !bytes.Contains(data, []byte(ref)) {
		t.Fatal("sample credit note: no BillingReference to replace")
	}
	with := "<cbc:ID>" + credits + "</cbc:ID>"
	if date != "" {
		with += "<cbc:IssueDate>" + date + "</cbc:IssueDate>"
	}
	data = bytes.Replace(data, []byte(ref), []byte(with), 1)
	return bytes.ReplaceAll(data, []byte("AV-2026-0001"), []byte(number))
}

// invoiceCmd runs flowgate with args and returns its exit code, stdout
// and stderr.
func invoiceCmd(args ...string) (int, string, string) {
	out, errb, code := runCmd(args...)
	return code, out, errb
}

// storyLine is an invoice story in short: issue date, status, history
// codes, credit notes.
func storyLine(s invoiceStory) string {
	var h []string
	for _, e := range s.History {
		h = append(h, e.Status)
	}
	line := fmt.Sprintf("%s %s [%s] credited_by=%s", s.IssueDate, s.Status, strings.Join(h, " "), strings.Join(s.CreditedBy, ","))
	if s.Credits != nil {
		line += " credits=" + *s.Credits + "@" + s.CreditsIssueDate
	}
	return line
}

// TestNumberInTwoYears: a supplier uses one number in two years; `invoice
// show` tells the two stories apart (-date picks one), `invoice status`
// refuses to guess without -date and takes a -date that is a date only,
// and credit notes link by BT-25 and BT-26, or to none, saying so, when
// BT-26 is missing and both are candidates.
func TestNumberInTwoYears(t *testing.T) {
	path, cfg, logs, stop := lifecycleDaemon(t)
	defer stop()
	for _, d := range []string{"2026-01-10", "2025-12-15"} {
		name := "FA-Y-" + d + ".xml"
		depositAs(t, cfg, "FOURN01", name, invoiceOn(t, "FA-Y", d))
		if v, _ := crOf(t, cfg, logs, name); v != "accepted" {
			t.Fatalf("FA-Y of %s: %s", d, v)
		}
	}
	hubIn := filepath.Join(cfg.Root, "partners", cfg.HubID, "in")

	// invoice status: no guess, and a -date that is a date.
	code, _, stderr := invoiceCmd("invoice", "status", "-config", path, "-comment", "pièces", crashSupplier, "FA-Y", "06")
	if code != 2 || !strings.Contains(stderr, "2025-12-15, 2026-01-10") || !strings.Contains(stderr, "-date") {
		t.Errorf("status without -date among two: exit %d\n%s", code, stderr)
	}
	for _, bad := range []string{"2026-13-01", "10/01/2026", "20260110", "2026-02-30"} {
		code, _, stderr := invoiceCmd("invoice", "status", "-config", path, "-date", bad, "-wait", "1s", crashSupplier, "FA-Y", "07")
		if code != 2 || !strings.Contains(stderr, "not a YYYY-MM-DD date") {
			t.Errorf("status -date %s: exit %d\n%s", bad, code, stderr)
		}
		if code, _, _ := invoiceCmd("invoice", "show", "-config", path, "-date", bad, crashSupplier, "FA-Y"); code != 2 {
			t.Errorf("show -date %s: exit %d", bad, code)
		}
	}
	if left, _ := os.ReadDir(hubIn); len(left) != 0 {
		t.Errorf("refused commands deposited %d status flows", len(left))
	}
	// Flags after the positional arguments.
	code, out, stderr := invoiceCmd("invoice", "status", "-config", path, crashSupplier, "FA-Y", "06", "-date", "2026-01-10", "-comment", "pièces manquantes")
	if code != 0 {
		t.Fatalf("status -date 2026-01-10: exit %d\n%s%s", code, out, stderr)
	}
	code, out, stderr = invoiceCmd("invoice", "status", "-config", path, "-date", "2026-01-10", crashSupplier, "FA-Y", "04", "-comment", "autre service")
	if code != 0 {
		t.Fatalf("status 04: exit %d\n%s%s", code, out, stderr)
	}

	// Credit notes: by BT-25 and BT-26; without BT-26, no guess.
	for _, c := range [][3]string{{"AV-U3", "2026-01-10", ""}, {"AV-U4", "2025-12-15", ""}, {"AV-U5", "", "plusieurs"}, {"AV-U6", "2024-05-05", "ne connaît pas"}} {
		depositAs(t, cfg, "FOURN01", c[0]+".xml", creditOf(t, c[0], "FA-Y", c[1]))
		v, inv := crOf(t, cfg, logs, c[0]+".xml")
		b, _ := json.Marshal(inv)
		warned := strings.Contains(string(b), `"CPP-AVOIR-FACTURE-INCONNUE"`)
		if v != "accepted" || warned != (c[2] != "") || c[2] != "" && !strings.Contains(string(b), c[2]) {
			t.Errorf("%s: %s %s", c[0], v, b)
		}
		if c[0] == "AV-U5" && !strings.Contains(string(b), "2025-12-15, 2026-01-10") {
			t.Errorf("%s: the warning does not name the dates: %s", c[0], b)
		}
	}

	// invoice show: two stories, never merged.
	code, out, stderr = invoiceCmd("invoice", "show", "-config", path, "-format", "json", crashSupplier, "FA-Y")
	var all []invoiceStory
	if err := json.Unmarshal([]byte(out), &all); code != 0 || err != nil {
		t.Fatalf("show: exit %d %v\n%s%s", code, err, out, stderr)
	}
	var got []string
	for _, s := range all {
		got = append(got, storyLine(s))
	}
	want := []string{"2025-12-15 03 [01 03] credited_by=AV-U4", "2026-01-10 04 [01 03 06 04] credited_by=AV-U3"}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("stories:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	code, out, _ = invoiceCmd("invoice", "show", "-config", path, "-format", "json", crashSupplier, "FA-Y", "-date", "2025-12-15")
	var one invoiceStory
	if err := json.Unmarshal([]byte(out), &one); code != 0 || err != nil || storyLine(one) != want[0] {
		t.Errorf("show -date 2025-12-15: exit %d %v %s", code, err, out)
	}
	code, out, _ = invoiceCmd("invoice", "show", "-config", path, crashSupplier, "FA-Y")
	i, j := strings.Index(out, "émise le 2025-12-15"), strings.Index(out, "émise le 2026-01-10")
	if code != 0 || i < 0 || j < i || strings.Count(out, "historique / history:") != 2 {
		t.Errorf("show text: exit %d\n%s", code, out)
	}
	if code, _, _ := invoiceCmd("invoice", "show", "-config", path, "-date", "2024-01-01", crashSupplier, "FA-Y"); code != 1 {
		t.Errorf("show of a date never delivered: exit %d", code)
	}
	for number, w := range map[string]string{"AV-U3": "credits=FA-Y@2026-01-10", "AV-U4": "credits=FA-Y@2025-12-15"} {
		code, out, _ := invoiceCmd("invoice", "show", "-config", path, "-format", "json", crashSupplier, number)
		var s invoiceStory
		if err := json.Unmarshal([]byte(out), &s); code != 0 || err != nil || !strings.HasSuffix(storyLine(s), w) {
			t.Errorf("%s: exit %d %v %s", number, code, err, storyLine(s))
		}
	}
	for _, number := range []string{"AV-U5", "AV-U6"} {
		_, out, _ := invoiceCmd("invoice", "show", "-config", path, "-format", "json", crashSupplier, number)
		var s invoiceStory
		if err := json.Unmarshal([]byte(out), &s); err != nil || s.Credits != nil {
			t.Errorf("%s linked: %s", number, out)
		}
	}
}

// cdarReasonDoc is a recipient's CDAR status flow of one status on
// invoice number (of 2026-11-02), with reason code and text ("" leaves
// the Reason out), as a recipient's system writes it: rendered by the
// hub's own CDAR writer (which validates), VALMONT as the sender.
func cdarReasonDoc(t *testing.T, number, status, code, text string) []byte {
	t.Helper()
	at := time.Date(2026, 11, 27, 10, 0, 0, 0, time.UTC)
	env := outbox.Envelope{FlowID: "V-" + number, Produced: at, Sender: outbox.Partner{ID: "VALMONT", Label: "Commune de Valmont"},
		Receiver: outbox.Partner{ID: "FLOWGATE", Label: "flowgate"}}
	data, err := outbox.CDAR(env, []outbox.CDARStatus{{Code: status, At: at, InvoiceNumber: number, InvoiceDate: "2026-11-02",
		SupplierSIRET: crashSupplier, RecipientSIRET: crashRecipient, Reasons: []outbox.CDARReason{{Code: code, Text: text}}}})
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// TestCDARReasonReachesSupplier: a recipient refuses (210) with its own
// reason code, without text: the code satisfies the comment rule, and the
// supplier's CDAR says TX_TVA_ERR, not NON_CONFORME; its CPPStatut and
// JSON carry the code in the comment. Every CDAR written validates.
func TestCDARReasonReachesSupplier(t *testing.T) {
	path, cfg, logs, stop := lifecycleDaemon(t)
	defer stop()
	in := t.TempDir() // the recipient's messages, checked at the end
	for _, n := range []string{"RS-1", "RS-2"} {
		depositAs(t, cfg, "FOURN01", n+".xml", invoiceT(t, n))
		awaitFile(t, cfg, logs, "FOURN01", "CR_*_"+n+".xml.json")
	}
	for _, c := range []struct{ number, status, code, text, comment, cdar string }{
		{"RS-1", "210", "TX_TVA_ERR", "", "TX_TVA_ERR : Taux de TVA erroné", "<ram:ReasonCode>TX_TVA_ERR</ram:ReasonCode><ram:Reason>Taux de TVA erroné</ram:Reason>"},
		{"RS-2", "208", "CMD_ERR", "bon de commande 4512 absent", "CMD_ERR : bon de commande 4512 absent",
			"<ram:ReasonCode>CMD_ERR</ram:ReasonCode><ram:Reason>bon de commande 4512 absent</ram:Reason>"},
	} {
		name := c.number + "-cdar.xml"
		doc := cdarReasonDoc(t, c.number, c.status, c.code, c.text)
		if err := os.WriteFile(filepath.Join(in, name), doc, 0o644); err != nil {
			t.Fatal(err)
		}
		if c.text == "" && strings.Contains(string(doc), "<ram:Reason>") {
			t.Fatalf("%s: the reason has a text\n%s", c.number, doc)
		}
		depositAs(t, cfg, "VALMONT", name, doc)
		p := awaitFile(t, cfg, logs, "VALMONT", "CR_*_"+name+".json")
		data, _ := os.ReadFile(p)
		var cr statusCRTest
		if err := json.Unmarshal(data, &cr); err != nil || verdicts(cr) != fmt.Sprintf("IN_INTEGRE %s:%s:applied", c.number, map[string]string{"210": "05", "208": "06"}[c.status]) {
			t.Fatalf("%s: %v %s", c.number, err, data)
		}
		if got := supplierStatuses(t, cfg, "FOURN01", cr.FlowID); !strings.HasSuffix(got, ":"+c.comment) {
			t.Errorf("%s: supplier's status file %q, want the comment %q", c.number, got, c.comment)
		}
		cdar, err := os.ReadFile(filepath.Join(cfg.Root, "partners", "FOURN01", "out", "CDAR_"+cr.FlowID+"_STATUTS.xml"))
		if err != nil || !strings.Contains(regexp.MustCompile(`>\s+<`).ReplaceAllString(string(cdar), "><"), c.cdar) {
			t.Errorf("%s: supplier's CDAR lacks %s: %v\n%s", c.number, c.cdar, err, cdar)
		}
		if s, _ := historyOf(t, path, c.number); s.History[len(s.History)-1].Comment != c.comment {
			t.Errorf("%s: story %+v", c.number, s.History)
		}
	}
	checkCDAR(t, cfg)
	// What the recipient sent is a CDAR by the same schema and rules.
	files, _ := filepath.Glob(filepath.Join(in, "*.xml"))
	corpus.ValidateXSD(t, corpus.CDARSchema, files)
	if xslt, ok := corpus.Path(corpus.CDARRules...); ok && saxonInstalled() {
		for name, r := range corpus.Schematron(t, xslt, in) {
			for _, a := range r.Fatal() {
				t.Errorf("%s: fatal %s at %s: %s", name, a.ID, a.Location, a.Text)
			}
		}
	}
}
