package router

import (
	"archive/zip"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"flowgate"
	"flowgate/directory"
	"flowgate/flows"
	"flowgate/internal/corpus"
	"flowgate/store"
)

const (
	supplier  = "81000001000019"
	collected = "21000001000012" // VALMONT collects it
	portal    = "23000003000018" // no partner: portal
)

type fixture struct {
	t     testing.TB
	root  string
	db    string
	mb    flows.Mailboxes
	store *store.SQLite
	r     *Router
	ids   *flows.IDs
	logs  *bytes.Buffer
	tune  func(*Config) // when set, adjusts the router's configuration on open
}

func newFixture(t testing.TB) *fixture {
	t.Helper()
	return newFixtureAt(t, t.TempDir(), "")
}

// newFixtureAt roots the hub at root, with its database at db (default:
// in root).
func newFixtureAt(t testing.TB, root, db string) *fixture {
	t.Helper()
	if db == "" {
		db = filepath.Join(root, "flowgate.db")
	}
	f := &fixture{t: t, root: root, db: db, mb: flows.Mailboxes{Root: root}, logs: &bytes.Buffer{}}
	if err := f.mb.Create([]string{"FOURN01", "VALMONT"}); err != nil {
		t.Fatal(err)
	}
	f.ids, _ = flows.NewIDs("")
	f.open()
	return f
}

// open (re)starts the router on the fixture's root, as after a restart.
func (f *fixture) open() {
	f.t.Helper()
	if f.store != nil {
		f.store.Close()
	}
	st, err := store.Open(context.Background(), f.db)
	if err != nil {
		f.t.Fatal(err)
	}
	f.t.Cleanup(func() { st.Close() })
	snap, _, err := directory.Load("../samples/directory")
	if err != nil {
		f.t.Fatal(err)
	}
	f.store = st
	cfg := Config{Root: f.root, HubID: "FLOWGATE", Store: st, Directory: snap,
		Log: slog.New(slog.NewTextHandler(f.logs, nil)),
		Partners: []Partner{
			{ID: "FOURN01", Name: "Durand", SIRETs: []string{supplier}, CPPStatut: true, JSON: true, MaxFileSize: 1 << 30},
			{ID: "VALMONT", Name: "Valmont", Receives: []string{collected}, CPPStatut: true, MaxFileSize: 1 << 30},
		}}
	if f.tune != nil {
		f.tune(&cfg)
	}
	f.r, err = New(cfg)
	if err != nil {
		f.t.Fatal(err)
	}
}

// claim puts a file in work/ as intake would, deposited by FOURN01.
func (f *fixture) claim(name string, data []byte) flows.Claimed {
	f.t.Helper()
	return f.claimBy("FOURN01", name, data)
}

func (f *fixture) claimBy(partner, name string, data []byte) flows.Claimed {
	f.t.Helper()
	id := f.ids.Next(time.Now())
	path := filepath.Join(f.mb.Work(), flows.WorkName(id, partner, name))
	if err := os.WriteFile(path, data, 0o644); err != nil {
		f.t.Fatal(err)
	}
	return flows.Claimed{FlowID: id, Partner: partner, Name: name, Path: path, ReceivedAt: time.Now()}
}

func (f *fixture) files(dir string) []string {
	entries, _ := os.ReadDir(filepath.Join(f.root, dir))
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	return names
}

var template = func() []byte {
	data, err := os.ReadFile("../samples/flows/facture-engagement.xml")
	if err != nil {
		panic(err)
	}
	return data
}()

// invoice returns the sample invoice with another number and recipient.
func invoice(number, recipient string) []byte {
	doc := bytes.Replace(template, []byte("FA-2026-0003"), []byte(number), 1)
	return bytes.ReplaceAll(doc, []byte(portal), []byte(recipient))
}

func zipOf(t *testing.T, docs map[string][]byte, order ...string) []byte {
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for _, name := range order {
		w, _ := zw.Create(name)
		w.Write(docs[name])
	}
	zw.Close()
	return buf.Bytes()
}

func TestRouting(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	lot := zipOf(t, map[string][]byte{
		"a.xml": invoice("Z-1", collected), "b.xml": invoice("Z-2", portal),
		"c.xml": invoice("Z-3", "99000009000011"), "d.xml": []byte("<broken"),
	}, "a.xml", "b.xml", "c.xml", "d.xml")
	round := []flows.Claimed{
		f.claim("one.xml", invoice("F-1", collected)),
		f.claim("lot.zip", lot),
		f.claim("bad.xml", []byte("not xml at all")),
		f.claim("rejected.xml", invoice("F-2", "99000009000011")),
	}
	if failed, notDone := f.r.Process(ctx, round); len(failed) != 0 || notDone != 0 {
		t.Fatalf("failed %v, not done %d; log:\n%s", failed, notDone, f.logs)
	}
	inbox := f.files("partners/VALMONT/inbox")
	returns := f.files("partners/FOURN01/returns")
	portalFiles := f.files("portal/" + portal)
	want := map[string]int{"inbox": 2, "returns": 4, "portal": 1}
	if len(inbox) != want["inbox"] || len(returns) != want["returns"] || len(portalFiles) != want["portal"] {
		t.Fatalf("inbox %v\nreturns %v\nportal %v", inbox, returns, portalFiles)
	}
	// Names: recipient, supplier, number, flow id (and position in the archive).
	wantInbox := collected + "_" + supplier + "_F-1_" + round[0].FlowID + ".xml"
	if inbox[0] != wantInbox && inbox[1] != wantInbox {
		t.Errorf("inbox %v, want %s", inbox, wantInbox)
	}
	// Delivered bytes are the original bytes.
	got, _ := os.ReadFile(filepath.Join(f.root, "partners/VALMONT/inbox", wantInbox))
	if !bytes.Equal(got, invoice("F-1", collected)) {
		t.Error("delivered bytes differ from the deposited invoice")
	}
	// The unreadable file goes back whole; the archive's bad members one by one.
	for _, name := range []string{round[2].FlowID + "_bad.xml", round[3].FlowID + "_rejected.xml",
		round[1].FlowID + "-002_c.xml", round[1].FlowID + "-003_d.xml"} {
		if _, err := os.Stat(filepath.Join(f.root, "partners/FOURN01/returns", name)); err != nil {
			t.Errorf("returns: %v (have %v)", err, returns)
		}
	}
	// Status files: a CR of each format per flow, invoice statuses to both partners.
	out := f.files("partners/FOURN01/out")
	for _, c := range round {
		for _, ext := range []string{".xml", ".json"} {
			if !contains(out, crBase(c, "")+ext) {
				t.Errorf("missing CR_%s%s in %v", c.FlowID, ext, out)
			}
		}
	}
	if !contains(out, reportName("FACT", round[0].FlowID, "", round[0].Name, ".xml")) || contains(out, reportName("FACT", round[2].FlowID, "", round[2].Name, ".xml")) {
		t.Errorf("supplier invoice statuses: %v", out)
	}
	if recu := f.files("partners/VALMONT/out"); len(recu) != 2 {
		t.Errorf("recipient statuses %v, want one per flow delivering to it", recu)
	}
	var cr struct {
		flowgate.FlowReport
		FlowID string `json:"flow_id"`
		SHA256 string `json:"sha256"`
	}
	data, _ := os.ReadFile(filepath.Join(f.root, "partners/FOURN01/out", crBase(round[1], "")+".json"))
	if err := json.Unmarshal(data, &cr); err != nil || cr.File != "lot.zip" || cr.Status != flowgate.FlowPartial ||
		cr.FlowID != round[1].FlowID || len(cr.SHA256) != 64 || len(cr.Invoices) != 3 || len(cr.Errors) != 1 {
		t.Errorf("CR json %+v, %v", cr, err)
	}
	// An unreadable file: IN_REJETE, CR 93 naming the reason.
	crx, _ := os.ReadFile(filepath.Join(f.root, "partners/FOURN01/out", crBase(round[2], "")+".xml"))
	if !bytes.Contains(crx, []byte("<IdStatut>93</IdStatut>")) || !bytes.Contains(crx, []byte("FLX-XML")) {
		t.Errorf("CR of the unreadable flow:\n%s", crx)
	}
	crx, _ = os.ReadFile(filepath.Join(f.root, "partners/FOURN01/out", crBase(round[1], "")+".xml"))
	if !bytes.Contains(crx, []byte("<IdStatut>96</IdStatut>")) || !bytes.Contains(crx, []byte("CPP-DEST-INCONNU")) {
		t.Errorf("CR of the partial flow:\n%s", crx)
	}
	// Originals archived, work/ empty, store knows where each invoice went.
	if left := f.files("work"); len(left) != 0 {
		t.Errorf("work/ holds %v", left)
	}
	if n := len(f.files("archive")); n != 4 {
		t.Errorf("archive holds %d files", n)
	}
	invs, _ := f.store.Invoices(ctx, round[1].FlowID)
	if len(invs) != 3 || invs[0].Verdict != "accepted" || !strings.HasPrefix(invs[0].Location, "partners/VALMONT/inbox/") ||
		invs[2].Verdict != "rejected" || !strings.HasPrefix(invs[2].Location, "partners/FOURN01/returns/") {
		t.Errorf("store invoices %+v", invs)
	}
	sts, _ := f.store.Statuses(ctx, round[0].FlowID)
	if len(sts) != 2 || sts[0].Code != "01" || sts[1].Code != "03" {
		t.Errorf("statuses %+v", sts)
	}
	validateXML(t, f.root)
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// validateXML checks every status file written against the CPPStatut schema.
func validateXML(t *testing.T, root string) {
	t.Helper()
	files, _ := filepath.Glob(filepath.Join(root, "partners", "*", "out", "*.xml"))
	corpus.ValidateCPPStatut(t, files)
}

func TestDuplicateInHistoryAcrossRounds(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	f.r.Process(ctx, []flows.Claimed{f.claim("a.xml", invoice("D-1", collected))})
	// Same invoice, other bytes (a comment added): rejected as CPP-DOUBLON.
	again := append(invoice("D-1", collected), []byte("<!-- again -->")...)
	c := f.claim("b.xml", again)
	f.r.Process(ctx, []flows.Claimed{c})
	data, _ := os.ReadFile(filepath.Join(f.root, "partners/FOURN01/out", crBase(c, "")+".json"))
	if !bytes.Contains(data, []byte(`"CPP-DOUBLON"`)) {
		t.Errorf("second deposit not a duplicate: %s", data)
	}
}

// TestSameBytesGetTheirOwnReport: a file whose bytes the same partner
// already deposited gets its own CR (its own file name, flow id, IdFlux),
// IN_REJETE with FLX-DOUBLON naming the original, duplicate_of in the
// JSON; the original's files and record are never touched; nothing is
// delivered twice.
func TestSameBytesGetTheirOwnReport(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	doc := invoice("S-1", collected)
	first := f.claim("a.xml", doc)
	f.r.Process(ctx, []flows.Claimed{first})
	out := filepath.Join(f.root, "partners/FOURN01/out")
	origJSON, _ := os.ReadFile(filepath.Join(out, crBase(first, "")+".json"))
	origXML, _ := os.ReadFile(filepath.Join(out, crBase(first, "")+".xml"))
	origFlow, _, _ := f.store.Flow(ctx, first.FlowID)
	second := f.claim("a-bis.xml", doc)
	third := f.claim("a-ter.xml", doc)
	if failed, notDone := f.r.Process(ctx, []flows.Claimed{second, third}); len(failed)+notDone != 0 {
		t.Fatal("not processed")
	}
	if n := len(f.files("partners/VALMONT/inbox")); n != 1 {
		t.Errorf("delivered %d times", n)
	}
	// Original and copy in one round: the copy is refused too.
	doc2 := invoice("S-2", collected)
	a, b := f.claim("b.xml", doc2), f.claim("b-bis.xml", doc2)
	if failed, notDone := f.r.Process(ctx, []flows.Claimed{a, b}); len(failed)+notDone != 0 {
		t.Fatal("not processed")
	}
	if n := len(f.files("partners/VALMONT/inbox")); n != 2 {
		t.Errorf("inbox holds %d files, want 2", n)
	}
	for _, tc := range []struct{ dup, orig flows.Claimed }{{second, first}, {third, first}, {b, a}} {
		c := tc.dup
		var cr struct {
			flowgate.FlowReport
			FlowID      string `json:"flow_id"`
			DuplicateOf string `json:"duplicate_of"`
		}
		data, err := os.ReadFile(filepath.Join(out, crBase(c, "")+".json"))
		if err := json.Unmarshal(data, &cr); err != nil {
			t.Fatalf("flow %s: CR %v %v", c.FlowID, err, err)
		}
		if cr.FlowID != c.FlowID || cr.File != c.Name || cr.DuplicateOf != tc.orig.FlowID || cr.Status != flowgate.FlowRejected ||
			len(cr.Errors) != 1 || cr.Errors[0].Code != flowgate.CodeDuplicateFlow {
			t.Errorf("flow %s: CR %s", c.FlowID, data)
		} else if m := cr.Errors[0].MessageFR; !strings.Contains(m, "flux identique au flux "+tc.orig.FlowID) ||
			!strings.Contains(m, tc.orig.Name) || !strings.Contains(m, "IN_INTEGRE") || !strings.Contains(m, tc.orig.ReceivedAt.UTC().Format("2006-01-02")) {
			t.Errorf("flow %s: message %q", c.FlowID, m)
		}
		crx, err := os.ReadFile(filepath.Join(out, crBase(c, "")+".xml"))
		if err != nil || !bytes.Contains(crx, []byte(c.FlowID)) || bytes.Contains(crx, []byte(tc.orig.FlowID+"<")) ||
			!bytes.Contains(crx, []byte("<IdStatut>93</IdStatut>")) || !bytes.Contains(crx, []byte("FLX-DOUBLON")) {
			t.Errorf("flow %s: XML CR %v\n%s", c.FlowID, err, crx)
		}
		fl, _, _ := f.store.Flow(ctx, c.FlowID)
		if fl.DuplicateOf != tc.orig.FlowID || fl.State != store.StateDone || fl.Status != "IN_REJETE" {
			t.Errorf("flow %+v", fl)
		}
	}
	// The original is never touched.
	againJSON, _ := os.ReadFile(filepath.Join(out, crBase(first, "")+".json"))
	againXML, _ := os.ReadFile(filepath.Join(out, crBase(first, "")+".xml"))
	again, _, _ := f.store.Flow(ctx, first.FlowID)
	if !bytes.Equal(origJSON, againJSON) || !bytes.Equal(origXML, againXML) || len(origJSON) == 0 ||
		again.Status != origFlow.Status || again.State != origFlow.State || !again.FinishedAt.Equal(origFlow.FinishedAt) {
		t.Error("the original's report or record changed")
	}
	validateXML(t, f.root)
}

// TestSameBytesFromAnotherPartner: another partner's identical file is
// decided on its own, not answered with the first partner's report.
func TestSameBytesFromAnotherPartner(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	doc := invoice("X-1", collected)
	f.r.Process(ctx, []flows.Claimed{f.claim("a.xml", doc)})
	other := f.claimBy("VALMONT", "a.xml", doc)
	f.r.Process(ctx, []flows.Claimed{other})
	fl, _, _ := f.store.Flow(ctx, other.FlowID)
	if fl.DuplicateOf != "" {
		t.Errorf("flow of VALMONT marked duplicate of %s", fl.DuplicateOf)
	}
	data, _ := os.ReadFile(filepath.Join(f.root, "partners/VALMONT/out", crBase(other, "")+".xml"))
	if !bytes.Contains(data, []byte("CPP-EMETTEUR-NON-HABILITE")) {
		t.Errorf("VALMONT's CR:\n%s", data)
	}
}

// TestBrokenMailboxRetries: a mailbox that cannot be written leaves the
// flow planned, its original in work/, nothing else held back; once the
// mailbox is repaired the flow is carried out, also after a restart.
func TestBrokenMailboxRetries(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	inbox := f.mb.Inbox("VALMONT")
	os.RemoveAll(inbox)
	os.WriteFile(inbox, []byte("not a folder"), 0o644) // writes into it fail: ENOTDIR
	blocked := f.claim("blocked.xml", invoice("B-1", collected))
	fine := f.claim("fine.xml", invoice("B-2", portal))
	failed, notDone := f.r.Process(ctx, []flows.Claimed{blocked, fine})
	if len(failed) != 0 || notDone != 1 {
		t.Fatalf("failed %v, not done %d", failed, notDone)
	}
	if _, err := os.Stat(blocked.Path); err != nil {
		t.Errorf("blocked flow's original left work/: %v", err)
	}
	if _, err := os.Stat(fine.Path); err == nil {
		t.Error("the other flow was held back")
	}
	if !strings.Contains(f.logs.String(), "not carried out yet") {
		t.Errorf("failure not logged:\n%s", f.logs)
	}
	// Restart with the mailbox repaired: the saved plan is carried out.
	os.Remove(inbox)
	os.MkdirAll(inbox, 0o755)
	f.open()
	todo, _, err := f.r.Recover(ctx)
	if err != nil || len(todo) != 0 {
		t.Fatalf("recover: %v, todo %v", err, todo)
	}
	if n := len(f.files("partners/VALMONT/inbox")); n != 1 {
		t.Errorf("inbox holds %d files", n)
	}
	if planned, done, _ := f.store.Counts(ctx); planned != 0 || done != 2 {
		t.Errorf("planned %d done %d", planned, done)
	}
}

// TestFullDiskRetries: on a full filesystem the flow stays planned with
// its original in work/, the failure is logged, nothing is removed; once
// space is freed, the retry carries it out. The hub's root is a small
// tmpfs (the test needs root and skips otherwise).
func TestFullDiskRetries(t *testing.T) {
	root := t.TempDir()
	if err := exec.Command("mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", root).Run(); err != nil {
		t.Skipf("cannot mount a tmpfs to fill (needs root): %v", err)
	}
	t.Cleanup(func() { exec.Command("umount", "-l", root).Run() })
	f := newFixtureAt(t, root, filepath.Join(t.TempDir(), "flowgate.db"))
	ctx := context.Background()
	c := f.claim("plein.xml", invoice("FULL-1", collected))
	filler := filepath.Join(root, "filler")
	fill, _ := os.Create(filler)
	for {
		if _, err := fill.Write(make([]byte, 4096)); err != nil {
			break // ENOSPC
		}
	}
	fill.Close()

	failed, notDone := f.r.Process(ctx, []flows.Claimed{c})
	if len(failed) != 0 || notDone != 1 {
		t.Fatalf("failed %v, not done %d", failed, notDone)
	}
	if _, err := os.Stat(c.Path); err != nil {
		t.Fatalf("original left work/: %v", err)
	}
	if !strings.Contains(f.logs.String(), "no space left") {
		t.Errorf("full disk not logged:\n%s", f.logs)
	}
	for _, dir := range []string{"partners/VALMONT/inbox", "partners/FOURN01/out"} {
		for _, name := range f.files(dir) {
			t.Errorf("%s holds %s on a full disk", dir, name)
		}
	}
	os.Remove(filler)
	if stalled, err := f.r.resume(ctx); err != nil || stalled != 0 {
		t.Fatalf("retry: %d stalled, %v", stalled, err)
	}
	if n := len(f.files("partners/VALMONT/inbox")); n != 1 {
		t.Errorf("inbox holds %d files", n)
	}
	if _, err := os.Stat(c.Path); err == nil {
		t.Error("original still in work/ after the retry")
	}
}

// TestRunRetriesWithBackoff: the running router retries a flow its
// mailbox refused, with backoff, until the mailbox is repaired.
func TestRunRetriesWithBackoff(t *testing.T) {
	f := newFixture(t)
	inbox := f.mb.Inbox("VALMONT")
	os.RemoveAll(inbox)
	os.WriteFile(inbox, []byte("not a folder"), 0o644)
	in := make(chan flows.Claimed, 1)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- f.r.Run(ctx, in, nil, 10*time.Second) }()
	stopped := false
	stop := func() {
		if !stopped {
			cancel()
			<-done
			stopped = true
		}
	}
	defer stop()
	c := f.claim("retry.xml", invoice("RB-1", collected))
	in <- c
	time.Sleep(300 * time.Millisecond)
	if _, err := os.Stat(c.Path); err != nil {
		t.Fatalf("original left work/ while the mailbox is broken: %v", err)
	}
	os.Remove(inbox)
	os.MkdirAll(inbox, 0o755)
	deadline := time.Now().Add(10 * time.Second)
	for {
		if entries, _ := os.ReadDir(inbox); len(entries) == 1 {
			break
		}
		if time.Now().After(deadline) {
			stop()
			t.Fatalf("not delivered after the repair; log:\n%s", f.logs)
		}
		time.Sleep(50 * time.Millisecond)
	}
	stop() // the log is read once the router is done writing it
	if !strings.Contains(f.logs.String(), "retrying") {
		t.Errorf("retry not logged:\n%s", f.logs)
	}
}

// TestRecoverClaimedFlow: a flow claimed into work/ just before a crash,
// never decided, is found by its name and processed first.
func TestRecoverClaimedFlow(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	c := f.claim("late.xml", invoice("R-1", collected))
	// A temp file of an interrupted write, left in a mailbox.
	tmp := filepath.Join(f.mb.Inbox("VALMONT"), ".x.xml.tmp-abc123")
	os.WriteFile(tmp, []byte("half"), 0o644)
	f.open()
	todo, maxID, err := f.r.Recover(ctx)
	if err != nil || len(todo) != 1 || todo[0].FlowID != c.FlowID || todo[0].Name != "late.xml" || maxID != c.FlowID {
		t.Fatalf("recover: %v %+v %q", err, todo, maxID)
	}
	if _, err := os.Stat(tmp); err == nil {
		t.Error("temp file of an interrupted write left in the inbox")
	}
	f.r.Process(ctx, todo)
	if n := len(f.files("partners/VALMONT/inbox")); n != 1 {
		t.Errorf("inbox holds %d files", n)
	}
}

// TestDates: an issue date with a time zone is accepted and its invoice
// status carries the date alone; a malformed one is rejected (CPP-DATE).
func TestDates(t *testing.T) {
	f := newFixture(t)
	date := func(number, d string) []byte {
		return bytes.Replace(invoice(number, collected), []byte("<cbc:IssueDate>2026-11-02</cbc:IssueDate>"), []byte("<cbc:IssueDate>"+d+"</cbc:IssueDate>"), 1)
	}
	tz := f.claim("tz.xml", date("D-1", "2026-11-02+01:00"))
	bad := f.claim("bad.xml", date("D-2", "02/11/2026"))
	if failed, notDone := f.r.Process(context.Background(), []flows.Claimed{tz, bad}); len(failed)+notDone != 0 {
		t.Fatalf("blocked: %v %d\n%s", failed, notDone, f.logs)
	}
	fact, err := os.ReadFile(filepath.Join(f.root, "partners/FOURN01/out", reportName("FACT", tz.FlowID, "", tz.Name, ".xml")))
	if err != nil || !bytes.Contains(fact, []byte("<DateFacture>2026-11-02</DateFacture>")) {
		t.Errorf("invoice status: %v\n%s", err, fact)
	}
	cr, _ := os.ReadFile(filepath.Join(f.root, "partners/FOURN01/out", crBase(bad, "")+".json"))
	if !bytes.Contains(cr, []byte(`"CPP-DATE"`)) {
		t.Errorf("malformed date not rejected: %s", cr)
	}
	validateXML(t, f.root)
}

// TestStatusFileFailureDoesNotBlock: an invoice status the CPPStatut schema
// cannot hold costs that file, logged, never the flow.
func TestStatusFileFailureDoesNotBlock(t *testing.T) {
	f := newFixture(t)
	p := &plan{FlowID: "20261126T000000.000001Z", DecidedAt: time.Now()}
	rep := flowgate.FlowReport{File: "f.xml", Status: flowgate.FlowIntegrated, Invoices: []flowgate.InvoiceReport{{
		Number: "F-1", IssueDate: "not a date", SupplierSIRET: supplier, RecipientSIRET: collected, Verdict: flowgate.Accepted}}}
	if err := f.r.statusFiles(p, f.r.partners["FOURN01"], rep, nil, ""); err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, w := range p.Writes {
		names = append(names, w.Name)
	}
	if strings.Contains(strings.Join(names, " "), "FACT_") || !strings.Contains(strings.Join(names, " "), "CR_") {
		t.Errorf("writes %v: want the CRs and no invoice status", names)
	}
	if !strings.Contains(f.logs.String(), "invoice status file not written") {
		t.Errorf("not logged:\n%s", f.logs)
	}
}

// TestRecoverUnknownPartner: a flow claimed for a partner since removed
// from the configuration stays in work/, reported, not processed.
func TestRecoverUnknownPartner(t *testing.T) {
	f := newFixture(t)
	c := f.claimBy("GONE01", "x.xml", invoice("U-1", collected))
	todo, _, err := f.r.Recover(context.Background())
	if err != nil || len(todo) != 0 {
		t.Fatalf("recover: %v %v", err, todo)
	}
	if _, err := os.Stat(c.Path); err != nil {
		t.Errorf("flow left work/: %v", err)
	}
	if !strings.Contains(f.logs.String(), "unknown partner") {
		t.Errorf("not reported: %s", f.logs)
	}
}

func TestSafeName(t *testing.T) {
	for in, want := range map[string]string{
		"FA-2026/001": "FA-2026_001", "../../etc/passwd": "_.._etc_passwd", "": "sans-nom", "...": "sans-nom",
		"é": "_", "a b": "a_b",
	} {
		if got := safeName(in, 40); got != want {
			t.Errorf("safeName(%q) = %q, want %q", in, got, want)
		}
	}
	if got := safeName(strings.Repeat("x", 100), 40); len(got) != 40 {
		t.Errorf("not truncated: %d", len(got))
	}
}

// BenchmarkProcessRound: one round of 256 single-invoice flows through the
// router alone (decide, save plans, write files, archive), without intake.
func BenchmarkProcessRound(b *testing.B) {
	f := newFixture(b)
	ctx := context.Background()
	n := 0
	for b.Loop() {
		b.StopTimer()
		round := make([]flows.Claimed, 256)
		for i := range round {
			id := f.ids.Next(time.Now())
			name := fmt.Sprintf("b-%06d.xml", n)
			path := filepath.Join(f.mb.Work(), flows.WorkName(id, "FOURN01", name))
			os.WriteFile(path, invoice(fmt.Sprintf("P-%06d", n), collected), 0o644)
			round[i] = flows.Claimed{FlowID: id, Partner: "FOURN01", Name: name, Path: path, ReceivedAt: time.Now()}
			n++
		}
		b.StartTimer()
		if failed, notDone := f.r.Process(ctx, round); len(failed)+notDone > 0 {
			b.Fatal("round failed")
		}
	}
	b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "flows/s")
}

// crBase is the name of a flow's CR for its sender, without extension.
func crBase(c flows.Claimed, tag string) string { return reportName("CR", c.FlowID, tag, c.Name, "") }
