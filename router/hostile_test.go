package router

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"flowgate/flows"
	"flowgate/store"
)

// newTuned is newFixture with the router's configuration adjusted.
func newTuned(t testing.TB, tune func(*Config)) *fixture {
	t.Helper()
	f := newFixture(t)
	f.tune = tune
	f.open()
	return f
}

// readOut reads a file of the fixture's root.
func (f *fixture) read(rel string) []byte {
	data, _ := os.ReadFile(filepath.Join(f.root, rel))
	return data
}

// quarantined checks that flow c was quarantined: its file moved to
// quarantine/, its state in the store, a CR IN_REJETE FLX-INCIDENT under
// name (CR_<flow> or CR_<flow>_INCIDENT), schema-valid.
func (f *fixture) quarantined(c flows.Claimed, crName string) {
	f.t.Helper()
	ctx := context.Background()
	if _, err := os.Stat(filepath.Join(f.root, "quarantine", filepath.Base(c.Path))); err != nil {
		f.t.Errorf("not in quarantine/: %v; log:\n%s", err, f.logs)
	}
	if _, err := os.Stat(c.Path); err == nil {
		f.t.Error("still in work/")
	}
	fl, ok, err := f.store.Flow(ctx, c.FlowID)
	if err != nil || !ok || fl.State != store.StateQuarantined || fl.Status != "IN_REJETE" {
		f.t.Errorf("store: %+v %v %v", fl, ok, err)
	}
	q, _ := f.store.Quarantined(ctx)
	if len(q) == 0 || q[len(q)-1].ID != c.FlowID && q[0].ID != c.FlowID {
		f.t.Errorf("not listed as quarantined: %v", q)
	}
	crx := f.read("partners/FOURN01/out/" + crName + ".xml")
	crj := f.read("partners/FOURN01/out/" + crName + ".json")
	if !bytes.Contains(crx, []byte("<IdStatut>93</IdStatut>")) || !bytes.Contains(crx, []byte("FLX-INCIDENT")) ||
		!bytes.Contains(crj, []byte(`"FLX-INCIDENT"`)) || !bytes.Contains(crj, []byte("quarantaine")) {
		f.t.Errorf("incident CR:\n%s\n%s", crx, crj)
	}
	// flow show reads the report from the store: a quarantined flow's too.
	if rep, err := f.store.Report(ctx, c.FlowID); err != nil || !bytes.Contains(rep, []byte(`"FLX-INCIDENT"`)) || !bytes.Contains(rep, []byte(c.FlowID)) {
		f.t.Errorf("report in the store %v: %s", err, rep)
	}
	if !strings.Contains(f.logs.String(), "level=ERROR msg=\"flow") || !strings.Contains(f.logs.String(), "quarantined") {
		f.t.Errorf("operators not alerted:\n%s", f.logs)
	}
	validateXML(f.t.(*testing.T), f.root)
}

// TestOversizeFlowRefusedUnread: a flow over the partner's max_file_size
// (a sparse file of 1 GiB + 1 byte: no disk used) is refused with
// FLX-TAILLE from its size alone: never read, hashed or copied; the
// partner's returns/ gets a short notice, not the bytes.
func TestOversizeFlowRefusedUnread(t *testing.T) {
	f := newFixture(t)
	c := f.claim("huge.xml", nil)
	if err := os.Truncate(c.Path, 1<<30+1); err != nil {
		t.Fatal(err)
	}
	ok := f.claim("ok.xml", invoice("T-1", collected))
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	if failed, notDone := f.r.Process(context.Background(), []flows.Claimed{c, ok}); len(failed)+notDone != 0 {
		t.Fatalf("failed %v, not done %d; log:\n%s", failed, notDone, f.logs)
	}
	runtime.ReadMemStats(&after)
	if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 64<<20 {
		t.Errorf("allocated %d MiB for a flow that must not be read", alloc>>20)
	}
	cr := f.read("partners/FOURN01/out/" + crBase(c, "") + ".json")
	if !bytes.Contains(cr, []byte(`"FLX-TAILLE"`)) || !bytes.Contains(cr, []byte(`"IN_REJETE"`)) {
		t.Errorf("CR:\n%s", cr)
	}
	returns := f.files("partners/FOURN01/returns")
	notice := c.FlowID + "_huge.xml.refus.txt"
	if len(returns) != 1 || returns[0] != notice {
		t.Fatalf("returns/ holds %v, want only %s", returns, notice)
	}
	text := f.read("partners/FOURN01/returns/" + notice)
	if len(text) > 1024 || !bytes.Contains(text, []byte("FLX-TAILLE")) || !bytes.Contains(text, []byte("1073741825")) {
		t.Errorf("notice (%d bytes):\n%s", len(text), text)
	}
	if fi, err := os.Stat(filepath.Join(f.root, "archive", filepath.Base(c.Path))); err != nil || fi.Size() != 1<<30+1 {
		t.Errorf("original not archived as it was: %v", err)
	}
	if n := len(f.files("partners/VALMONT/inbox")); n != 1 {
		t.Errorf("the other flow: inbox holds %d files", n)
	}
	validateXML(t, f.root)
}

// TestRoundCutByEntries: a round stops before the flow that would take it
// past RoundEntries documents (the first flow is always taken); the rest
// starts the next round and everything is delivered.
func TestRoundCutByEntries(t *testing.T) {
	f := newTuned(t, func(c *Config) { c.Budgets.RoundEntries = 5 })
	var todo []flows.Claimed
	for i := range 3 {
		docs := map[string][]byte{}
		var order []string
		for j := range 3 {
			name := fmt.Sprintf("f%d.xml", j)
			docs[name], order = invoice(fmt.Sprintf("RC-%d-%d", i, j), collected), append(order, name)
		}
		todo = append(todo, f.claim(fmt.Sprintf("lot%d.zip", i), zipOf(t, docs, order...)))
	}
	failed, notDone, rest := f.r.processRound(context.Background(), todo)
	if len(failed)+notDone != 0 || len(rest) != 2 || rest[0].FlowID != todo[1].FlowID || rest[1].FlowID != todo[2].FlowID {
		t.Fatalf("first round: failed %v, not done %d, rest %v", failed, notDone, rest)
	}
	if failed, notDone := f.r.Process(context.Background(), rest); len(failed)+notDone != 0 {
		t.Fatalf("failed %v, not done %d", failed, notDone)
	}
	if n := len(f.files("partners/VALMONT/inbox")); n != 9 {
		t.Errorf("inbox holds %d files, want 9", n)
	}
	if n, _ := f.store.Attempts(context.Background(), ids(todo)); len(n) != 0 {
		t.Errorf("attempts left: %v", n)
	}
}

// TestTakeRoundBytes: a round takes flows up to RoundBytes of files, the
// first whatever its size.
func TestTakeRoundBytes(t *testing.T) {
	f := newTuned(t, func(c *Config) { c.Budgets.RoundBytes = 10 << 10 })
	four := bytes.Repeat([]byte("x"), 4<<10)
	q := []flows.Claimed{f.claim("a", four), f.claim("b", four), f.claim("c", four)}
	if n := f.r.takeRound(q); n != 2 {
		t.Errorf("took %d flows of 4 KiB under 10 KiB, want 2", n)
	}
	big := f.claim("big", bytes.Repeat([]byte("x"), 20<<10))
	if n := f.r.takeRound(append([]flows.Claimed{big}, q...)); n != 1 {
		t.Errorf("took %d flows after one over the budget, want 1", n)
	}
}

// TestCacheCountsInflatedBytes: what a round keeps in memory is counted on
// the bytes inflated, not the file's size: a small zip that inflates past
// FlowCached is not held, and is still delivered whole (read again and
// written streaming).
func TestCacheCountsInflatedBytes(t *testing.T) {
	const budget = 32 << 10
	f := newTuned(t, func(c *Config) { c.Budgets.FlowCached = budget })
	docs := map[string][]byte{}
	var order []string
	for i := range 20 {
		name := fmt.Sprintf("f%02d.xml", i)
		docs[name], order = invoice(fmt.Sprintf("IN-%02d", i), collected), append(order, name)
	}
	lot := zipOf(t, docs, order...)
	if len(lot) > budget {
		t.Fatalf("zip of %d bytes: the test needs one under %d", len(lot), budget)
	}
	c := f.claim("lot.zip", lot)
	var held atomic.Int64
	p := f.r.prepare(c, &held)
	if p.err != nil || !p.streamed() || p.held != 0 || held.Load() != 0 {
		t.Fatalf("prepared: err %v, streamed %v, held %d (round %d): a zip inflating past the budget is not held",
			p.err, p.streamed(), p.held, held.Load())
	}
	if failed, notDone := f.r.Process(context.Background(), []flows.Claimed{c}); len(failed)+notDone != 0 {
		t.Fatalf("failed %v, not done %d; log:\n%s", failed, notDone, f.logs)
	}
	inbox := f.files("partners/VALMONT/inbox")
	if len(inbox) != 20 {
		t.Fatalf("inbox holds %d files, want 20", len(inbox))
	}
	for _, name := range inbox {
		number := strings.Split(name, "_")[2]
		i := 0
		fmt.Sscanf(number, "IN-%02d", &i)
		if !bytes.Equal(f.read("partners/VALMONT/inbox/"+name), docs[fmt.Sprintf("f%02d.xml", i)]) {
			t.Errorf("%s: bytes differ from the deposited member", name)
		}
	}
}

// TestPanicQuarantined: a flow whose check panics fails alone (the others
// of its round are delivered); after MaxAttempts tries it is quarantined,
// its partner told (CR IN_REJETE FLX-INCIDENT), the operators alerted.
func TestPanicQuarantined(t *testing.T) {
	f := newTuned(t, func(c *Config) {
		c.Hooks.Check = func(c flows.Claimed) {
			if c.Name == "poison.xml" {
				panic("parser bug")
			}
		}
	})
	ctx := context.Background()
	a, p, b := f.claim("a.xml", invoice("P-1", collected)), f.claim("poison.xml", invoice("P-2", collected)), f.claim("b.xml", invoice("P-3", collected))
	failed, notDone := f.r.Process(ctx, []flows.Claimed{a, p, b})
	if notDone != 0 || len(failed) != 1 || failed[0].FlowID != p.FlowID {
		t.Fatalf("failed %v, not done %d", failed, notDone)
	}
	if n := len(f.files("partners/VALMONT/inbox")); n != 2 {
		t.Fatalf("the other flows of the round: inbox holds %d files, want 2", n)
	}
	for try := 2; try <= 3; try++ {
		failed, _ = f.r.Process(ctx, []flows.Claimed{p})
		if len(failed) != 0 && try == 3 || len(failed) != 1 && try < 3 {
			t.Fatalf("try %d: failed %v; log:\n%s", try, failed, f.logs)
		}
	}
	f.quarantined(p, crBase(p, ""))
	if att, _ := f.store.Attempts(ctx, []string{p.FlowID}); att[p.FlowID].Attempts != 3 || !strings.Contains(att[p.FlowID].LastError, "parser bug") {
		t.Errorf("attempts %+v", att)
	}
	if !strings.Contains(f.logs.String(), "stack=") {
		t.Error("panic logged without its stack")
	}
}

// TestUnreadableQuarantined: a deposit the hub cannot open (EACCES; as
// root a test cannot chmod it away, so the Open hook stands for it) is
// quarantined after MaxAttempts tries instead of retried for ever.
func TestUnreadableQuarantined(t *testing.T) {
	f := newTuned(t, func(c *Config) {
		c.Hooks.Open = func(path string) error {
			if strings.HasSuffix(path, "locked.xml") {
				return os.ErrPermission
			}
			return nil
		}
	})
	ctx := context.Background()
	c := f.claim("locked.xml", invoice("U-1", collected))
	for try := 1; try <= 3; try++ {
		failed, _ := f.r.Process(ctx, []flows.Claimed{c})
		if (len(failed) == 1) != (try < 3) {
			t.Fatalf("try %d: failed %v", try, failed)
		}
	}
	f.quarantined(c, crBase(c, ""))
	if att, _ := f.store.Attempts(ctx, []string{c.FlowID}); !strings.Contains(att[c.FlowID].LastError, "permission denied") {
		t.Errorf("last error %+v", att)
	}
	if n := len(f.files("partners/FOURN01/returns")); n != 0 {
		t.Errorf("returns/ holds %d files: nothing of a quarantined flow goes back", n)
	}
}

// TestFlowTimeoutQuarantined: a flow whose check runs past flow_timeout
// fails, and is quarantined after MaxAttempts tries.
func TestFlowTimeoutQuarantined(t *testing.T) {
	f := newTuned(t, func(c *Config) { c.FlowTimeout = time.Nanosecond; c.MaxAttempts = 2 })
	ctx := context.Background()
	c := f.claim("slow.xml", invoice("S-1", collected))
	if failed, _ := f.r.Process(ctx, []flows.Claimed{c}); len(failed) != 1 {
		t.Fatalf("first try: failed %v", failed)
	}
	if failed, _ := f.r.Process(ctx, []flows.Claimed{c}); len(failed) != 0 {
		t.Fatalf("second try: failed %v", failed)
	}
	f.quarantined(c, crBase(c, ""))
	if !strings.Contains(f.logs.String(), "flow_timeout") {
		t.Errorf("timeout not logged:\n%s", f.logs)
	}
}

// TestCrashLoopQuarantinedAtStart: a flow whose every try crashed the
// daemon (attempts at MaxAttempts in the store, no plan) is quarantined by
// Recover, before anything runs; a flow with fewer attempts is resumed.
func TestCrashLoopQuarantinedAtStart(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	poison, other := f.claim("poison.xml", invoice("C-1", collected)), f.claim("other.xml", invoice("C-2", collected))
	for try := 1; try <= 3; try++ {
		batch := []store.Attempt{{FlowID: poison.FlowID, Partner: "FOURN01", FileName: poison.Name}}
		if try == 1 {
			batch = append(batch, store.Attempt{FlowID: other.FlowID, Partner: "FOURN01", FileName: other.Name})
		}
		if _, err := f.store.BeginAttempts(ctx, batch, time.Now()); err != nil {
			t.Fatal(err)
		}
	}
	f.open()
	todo, _, err := f.r.Recover(ctx)
	if err != nil || len(todo) != 1 || todo[0].FlowID != other.FlowID {
		t.Fatalf("recover: %v, todo %v", err, todo)
	}
	f.quarantined(poison, crBase(poison, ""))
	if !strings.Contains(f.logs.String(), "crash") {
		t.Errorf("reason not logged:\n%s", f.logs)
	}
}

// TestCrashIsolatesTheCulprit: a flow that kills the daemon (here: hangs,
// and the test abandons that router as a crash would) is retried alone
// after each restart, fewest attempts first, so the innocent flows of its
// round are delivered and only the culprit is quarantined.
func TestCrashIsolatesTheCulprit(t *testing.T) {
	hung := make(chan struct{}, 8)
	f := newTuned(t, func(c *Config) {
		c.Hooks.Check = func(c flows.Claimed) {
			if c.Name == "killer.xml" {
				hung <- struct{}{}
				select {} // the daemon dies here
			}
		}
	})
	ctx := context.Background()
	a, k, b := f.claim("a.xml", invoice("K-1", collected)), f.claim("killer.xml", invoice("K-2", collected)), f.claim("b.xml", invoice("K-3", collected))
	// run processes todo on the current router; it reports whether the
	// daemon "crashed".
	run := func(todo []flows.Claimed) bool {
		r, done := f.r, make(chan struct{})
		go func() { r.Process(ctx, todo); close(done) }()
		select {
		case <-done:
			return false
		case <-hung:
			return true
		}
	}
	todo := []flows.Claimed{a, k, b}
	crashes := 0
	for round := 0; round < 10 && len(todo) > 0; round++ {
		if !run(todo) {
			break
		}
		crashes++
		f.open() // restart
		var err error
		if todo, _, err = f.r.Recover(ctx); err != nil {
			t.Fatal(err)
		}
	}
	if crashes != 3 {
		t.Errorf("%d crashes, want 3 (then quarantined at start)", crashes)
	}
	f.quarantined(k, crBase(k, ""))
	if n := len(f.files("partners/VALMONT/inbox")); n != 2 {
		t.Errorf("innocent flows: inbox holds %d files, want 2; log:\n%s", n, f.logs)
	}
	for _, c := range []flows.Claimed{a, b} {
		if fl, _, _ := f.store.Flow(ctx, c.FlowID); fl.State != store.StateDone {
			t.Errorf("%s: state %q", c.Name, fl.State)
		}
	}
}

// TestShutdownSavesDecidedFlows: a shutdown past its drain during a round
// no longer throws the round away: the flows decided are saved and
// carried out, the others left in work/ for the next start, their
// attempts taken back.
func TestShutdownSavesDecidedFlows(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	f := newTuned(t, func(c *Config) {
		// The drain ends while the round's flows are read.
		c.Hooks.Check = func(c flows.Claimed) {
			if c.Name == "a.xml" {
				cancel()
			}
		}
	})
	a, b := f.claim("a.xml", invoice("SD-1", collected)), f.claim("b.xml", invoice("SD-2", collected))
	failed, notDone, rest := f.r.processRound(ctx, []flows.Claimed{a, b})
	if len(failed) != 0 || notDone != 0 || len(rest) != 1 || rest[0].FlowID != b.FlowID {
		t.Fatalf("failed %v, not done %d, rest %v; log:\n%s", failed, notDone, rest, f.logs)
	}
	if n := len(f.files("partners/VALMONT/inbox")); n != 1 {
		t.Errorf("decided flow: inbox holds %d files", n)
	}
	if _, err := os.Stat(b.Path); err != nil {
		t.Errorf("undecided flow left work/: %v", err)
	}
	if att, _ := f.store.Attempts(context.Background(), []string{b.FlowID}); att[b.FlowID].Attempts != 0 {
		t.Errorf("undecided flow's attempt not taken back: %+v", att)
	}
}

// TestRoundHasNoDeadlineBeforeShutdown: the drain bounds a round only once
// shutdown has begun; before, a round may take longer than drain.
func TestRoundHasNoDeadlineBeforeShutdown(t *testing.T) {
	f := newFixture(t)
	in := make(chan flows.Claimed, 1)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- f.r.Run(ctx, in, nil, time.Nanosecond) }()
	in <- f.claim("a.xml", invoice("DL-1", collected))
	deadline := time.Now().Add(10 * time.Second)
	for len(f.files("partners/VALMONT/inbox")) == 0 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	cancel()
	<-done
	if n := len(f.files("partners/VALMONT/inbox")); n != 1 {
		t.Errorf("inbox holds %d files; log:\n%s", n, f.logs)
	}
}

// TestRewrittenAfterCheckNeverDelivered is the hard-link repro: the inbox
// cannot be written, so the flow stays planned; its depositor, who kept a
// link to the file, rewrites it in work/ with a forged invoice; the retry
// finds the file changed, delivers nothing of it, quarantines it and
// supersedes its CR with an incident CR.
func TestRewrittenAfterCheckNeverDelivered(t *testing.T) {
	for _, streamed := range []bool{false, true} {
		t.Run(fmt.Sprintf("streamed=%v", streamed), func(t *testing.T) {
			f := newFixture(t)
			if streamed {
				f.tune = func(c *Config) { c.Budgets.FlowCached = 1 << 10 }
				f.open()
			}
			ctx := context.Background()
			inbox := f.mb.Inbox("VALMONT")
			os.RemoveAll(inbox)
			os.WriteFile(inbox, []byte("not a folder"), 0o644)
			good := invoice("H-1", collected)
			c := f.claim("h.xml", good)
			if _, notDone := f.r.Process(ctx, []flows.Claimed{c}); notDone != 1 {
				t.Fatalf("not done %d; log:\n%s", notDone, f.logs)
			}
			forged := bytes.Replace(good, []byte("FA-"), []byte("FX-"), 1)
			forged = bytes.ReplaceAll(forged, []byte("240.48"), []byte("999999.99"))
			if bytes.Equal(forged, good) {
				t.Fatal("forgery left the invoice as it was")
			}
			if err := os.WriteFile(c.Path, forged, 0o644); err != nil { // through the kept link
				t.Fatal(err)
			}
			os.Remove(inbox)
			os.MkdirAll(inbox, 0o755)
			if stalled, err := f.r.resume(ctx); err != nil || stalled != 0 {
				t.Fatalf("retry: %d stalled, %v; log:\n%s", stalled, err, f.logs)
			}
			if in := f.files("partners/VALMONT/inbox"); len(in) != 0 {
				t.Fatalf("delivered %v after the file changed", in)
			}
			f.quarantined(c, crBase(c, "_INCIDENT"))
			if seen, _ := f.store.Accepted(ctx, supplier, "H-1", "2026"); seen {
				t.Error("the quarantined invoice still counts as accepted")
			}
		})
	}
}

// TestIsolate: flows tried before are taken alone, fewest attempts first;
// a flow at MaxAttempts is not tried (it goes with the others, to be
// quarantined).
func TestIsolate(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	a, b, c, d := f.claim("a", nil), f.claim("b", nil), f.claim("c", nil), f.claim("d", nil)
	count := func(cs ...flows.Claimed) {
		var batch []store.Attempt
		for _, c := range cs {
			batch = append(batch, store.Attempt{FlowID: c.FlowID, Partner: c.Partner, FileName: c.Name})
		}
		if _, err := f.store.BeginAttempts(ctx, batch, time.Now()); err != nil {
			t.Fatal(err)
		}
	}
	count(b, c, d)
	count(b, d)
	count(d)
	round, rest, _, err := f.r.isolate(ctx, []flows.Claimed{a, b, c, d})
	if err != nil || len(round) != 1 || round[0].FlowID != c.FlowID || len(rest) != 3 {
		t.Fatalf("round %v rest %v err %v: want c alone", round, rest, err)
	}
	if round, _, _, _ := f.r.isolate(ctx, []flows.Claimed{a, d}); len(round) != 2 {
		t.Errorf("round %v: a flow at MaxAttempts needs no isolation", round)
	}
}

// TestArchiveHoldsWhatWasChecked: a flow done but not yet archived (a crash
// came between) whose file changed meanwhile is not archived: its file goes
// to quarantine/, the operators are told, its deliveries stand.
func TestArchiveHoldsWhatWasChecked(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	c := f.claim("a.xml", invoice("AR-1", collected))
	if failed, notDone := f.r.Process(ctx, []flows.Claimed{c}); len(failed)+notDone != 0 {
		t.Fatal("not processed")
	}
	// As if the crash came before the archive, and the file was rewritten.
	archived := filepath.Join(f.root, "archive", filepath.Base(c.Path))
	if err := os.Rename(archived, c.Path); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(c.Path, invoice("AR-FORGED", collected), 0o644)
	f.open()
	if _, _, err := f.r.Recover(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(archived); err == nil {
		t.Error("a changed file was archived as the flow's original")
	}
	if _, err := os.Stat(filepath.Join(f.root, "quarantine", filepath.Base(c.Path))); err != nil {
		t.Errorf("not in quarantine/: %v", err)
	}
	if !strings.Contains(f.logs.String(), "changed after it was checked") {
		t.Errorf("not reported:\n%s", f.logs)
	}
	if n := len(f.files("partners/VALMONT/inbox")); n != 1 {
		t.Errorf("inbox holds %d files", n)
	}
}

// TestRenderPanicIsAnError: a bug while rendering status files (here: a
// decision without a plan) is the flow's error, not the daemon's crash.
func TestRenderPanicIsAnError(t *testing.T) {
	f := newFixture(t)
	if err := f.r.render(&decided{sender: f.r.partners["FOURN01"]}); err == nil || !strings.Contains(err.Error(), "panic") {
		t.Errorf("render: %v", err)
	}
}

// TestResumeInSlices: plans waiting on a broken mailbox are carried out
// again a slice at a time, within RoundCached of entry bytes, so that a
// long outage does not read every waiting flow into memory at once.
func TestResumeInSlices(t *testing.T) {
	one := int64(len(invoice("RS-0", collected)))
	f := newTuned(t, func(c *Config) { c.Budgets.RoundCached = 2*one + one/2; c.Budgets.FlowCached = 2 * one })
	if n := f.r.resumeSlice([]*plan{{Held: one}, {Held: one}, {Held: one}, {Held: one}}); n != 2 {
		t.Errorf("slice of %d plans of %d bytes under %d, want 2", n, one, 2*one+one/2)
	}
	if n := f.r.resumeSlice([]*plan{{Held: 10 * one}, {Held: one}}); n != 1 {
		t.Errorf("slice of %d plans after one over the budget, want 1", n)
	}
	ctx := context.Background()
	inbox := f.mb.Inbox("VALMONT")
	os.RemoveAll(inbox)
	os.WriteFile(inbox, []byte("not a folder"), 0o644)
	var round []flows.Claimed
	for i := range 5 {
		round = append(round, f.claim(fmt.Sprintf("r%d.xml", i), invoice(fmt.Sprintf("RS-%d", i), collected)))
	}
	if _, notDone := f.r.Process(ctx, round); notDone != 5 {
		t.Fatalf("not done %d, want 5", notDone)
	}
	os.Remove(inbox)
	os.MkdirAll(inbox, 0o755)
	if stalled, err := f.r.resume(ctx); err != nil || stalled != 0 {
		t.Fatalf("resume: %d stalled, %v; log:\n%s", stalled, err, f.logs)
	}
	if n := len(f.files("partners/VALMONT/inbox")); n != 5 {
		t.Errorf("inbox holds %d files, want 5", n)
	}
}
