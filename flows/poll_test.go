package flows

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"flowgate/store"
)

type pollFixture struct {
	srv            *sshd
	mb             Mailboxes
	st             *store.SQLite
	p              *Poller
	depot, retours string
	logs           *syncBuffer
}

func newPollFixture(t *testing.T) *pollFixture {
	f := &pollFixture{srv: startSSHD(t), mb: newMailboxes(t), logs: &syncBuffer{}}
	f.depot, f.retours = filepath.Join(f.srv.Dir, "depot"), filepath.Join(f.srv.Dir, "retours")
	os.MkdirAll(f.depot, 0o755)
	os.MkdirAll(f.retours, 0o755)
	var err error
	f.st, err = store.Open(context.Background(), filepath.Join(t.TempDir(), "x.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.st.Close() })
	f.p = &Poller{Partner: "P1", Remote: f.srv.remote(t, f.depot, f.retours), Mailboxes: f.mb, Ledger: f.st,
		Log: slog.New(slog.NewTextHandler(f.logs, nil))}
	return f
}

func names(t testing.TB, dir string) []string {
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range entries {
		out = append(out, e.Name())
	}
	return out
}

// TestPollPullsAndPushes: files put on the partner's server are ingested
// and removed there; status files appear in its out_dir, once.
func TestPollPullsAndPushes(t *testing.T) {
	f := newPollFixture(t)
	ctx := context.Background()
	for i := range 3 {
		os.WriteFile(filepath.Join(f.depot, fmt.Sprintf("f%d.xml", i)), []byte(fmt.Sprintf("<Invoice>%d</Invoice>", i)), 0o644)
	}
	os.WriteFile(filepath.Join(f.depot, "en-cours.xml.part"), []byte("<In"), 0o644)
	os.WriteFile(filepath.Join(f.mb.Out("P1"), "CR_1.xml"), []byte("<CPPStatut/>"), 0o644)
	os.WriteFile(filepath.Join(f.mb.Out("P1"), "CR_1.json"), []byte("{}"), 0o644)
	if err := f.p.RunOnce(ctx); err != nil {
		t.Fatal(err)
	}
	if got := names(t, f.mb.In("P1")); strings.Join(got, " ") != "f0.xml f1.xml f2.xml" {
		t.Errorf("in/ holds %v", got)
	}
	if got := names(t, f.depot); strings.Join(got, " ") != "en-cours.xml.part" {
		t.Errorf("partner's in_dir holds %v", got)
	}
	if got := names(t, f.retours); strings.Join(got, " ") != "CR_1.json CR_1.xml" {
		t.Errorf("partner's out_dir holds %v", got)
	}
	data, _ := os.ReadFile(filepath.Join(f.mb.In("P1"), "f1.xml"))
	if string(data) != "<Invoice>1</Invoice>" {
		t.Errorf("f1.xml = %q", data)
	}
	// The partner collects its status files; they are not pushed again.
	os.Remove(filepath.Join(f.retours, "CR_1.xml"))
	os.Remove(filepath.Join(f.retours, "CR_1.json"))
	os.WriteFile(filepath.Join(f.mb.Out("P1"), "CR_2.xml"), []byte("<CPPStatut/>"), 0o644)
	if err := f.p.RunOnce(ctx); err != nil {
		t.Fatal(err)
	}
	if got := names(t, f.retours); strings.Join(got, " ") != "CR_2.xml" {
		t.Errorf("second run pushed %v, want only the new file", got)
	}
}

// TestPollResumesClaimedFile: a file a crash left claimed on the server is
// taken on the next run; one already handed over is only deleted.
func TestPollResumesClaimedFile(t *testing.T) {
	f := newPollFixture(t)
	ctx := context.Background()
	os.WriteFile(filepath.Join(f.depot, "a.xml"+claimMark+"20261126T000000abc"), []byte("<a/>"), 0o644)
	handed := "b.xml" + claimMark + "20261126T000000def"
	os.WriteFile(filepath.Join(f.depot, handed), []byte("<b/>"), 0o644)
	f.st.RecordPulls(ctx, "P1", f.p.Remote.Addr, []store.Pull{{RemoteName: handed, LocalName: "b.xml", Size: 4}}, time.Now())
	if err := f.p.RunOnce(ctx); err != nil {
		t.Fatal(err)
	}
	if got := names(t, f.mb.In("P1")); strings.Join(got, " ") != "a.xml" {
		t.Errorf("in/ holds %v, want a.xml only", got)
	}
	if got := names(t, f.depot); len(got) != 0 {
		t.Errorf("partner's in_dir holds %v", got)
	}
}

// TestPollRefusesChangedHostKey: a known_hosts with another key for the
// server refuses the connection, loudly, and takes nothing.
func TestPollRefusesChangedHostKey(t *testing.T) {
	f := newPollFixture(t)
	other := filepath.Join(t.TempDir(), "other")
	keygen(t, other)
	pub, _ := os.ReadFile(other + ".pub")
	kh := filepath.Join(t.TempDir(), "known_hosts")
	os.WriteFile(kh, []byte("[127.0.0.1]:"+strings.Split(f.srv.Addr, ":")[1]+" "+string(pub)), 0o600)
	cb, err := LoadKnownHosts(kh)
	if err != nil {
		t.Fatal(err)
	}
	f.p.Remote.HostKeys = cb
	os.WriteFile(filepath.Join(f.depot, "f.xml"), []byte("<x/>"), 0o644)
	err = f.p.RunOnce(context.Background())
	if err == nil || !strings.Contains(err.Error(), "HOST KEY") {
		t.Fatalf("got %v, want a changed host key refusal", err)
	}
	if got := names(t, f.depot); strings.Join(got, " ") != "f.xml" {
		t.Errorf("partner's file touched: %v", got)
	}
	// An unknown host (empty known_hosts) is refused too.
	os.WriteFile(kh, nil, 0o600)
	f.p.Remote.HostKeys, _ = LoadKnownHosts(kh)
	if err := f.p.RunOnce(context.Background()); err == nil || !strings.Contains(err.Error(), "unknown") {
		t.Errorf("unknown host: %v", err)
	}
}

// TestPollOneRunAtATime: ticks that find a run still going are skipped
// and counted.
func TestPollOneRunAtATime(t *testing.T) {
	f := newPollFixture(t)
	f.p.Remote.Schedule = "@every 1s"
	f.p.running.Store(true)                                                         // a run in progress
	ctx, cancel := context.WithTimeout(context.Background(), 3500*time.Millisecond) // @every rounds to whole seconds: two ticks fall within 3.5 s
	defer cancel()
	f.p.Run(ctx)
	if runs, skipped := f.p.Stats(); runs != 0 || skipped < 2 {
		t.Errorf("runs %d skipped %d", runs, skipped)
	}
	if !strings.Contains(f.logs.String(), "poll skipped") {
		t.Errorf("skip not logged: %s", f.logs)
	}
}

// BenchmarkPollRun: one polling run over 1,000 files on the partner's
// server (OpenSSH sshd on loopback): claim, download, flush, hand over and
// delete each; wall time per run.
func BenchmarkPollRun(b *testing.B) {
	srv := startSSHD(b)
	mb := Mailboxes{Root: b.TempDir()}
	if err := mb.Create([]string{"P1"}); err != nil {
		b.Fatal(err)
	}
	depot := filepath.Join(srv.Dir, "depot")
	os.MkdirAll(depot, 0o755)
	st, err := store.Open(context.Background(), filepath.Join(b.TempDir(), "x.db"))
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	p := &Poller{Partner: "P1", Remote: srv.remote(b, depot, ""), Mailboxes: mb, Ledger: st,
		Log: slog.New(slog.NewTextHandler(&syncBuffer{}, nil))}
	doc := bytes.Repeat([]byte("<Invoice>facture</Invoice>\n"), 200) // 5.4 KB
	round := 0
	for b.Loop() {
		b.StopTimer()
		for i := range 1000 {
			os.WriteFile(filepath.Join(depot, fmt.Sprintf("r%d-%04d.xml", round, i)), doc, 0o644)
		}
		b.StartTimer()
		if err := p.RunOnce(context.Background()); err != nil {
			b.Fatal(err)
		}
		round++
	}
	if left := names(b, depot); len(left) != 0 {
		b.Fatalf("%d files left on the server", len(left))
	}
	b.ReportMetric(float64(1000*round)/b.Elapsed().Seconds(), "files/s")
}
