package flows

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"flowgate/internal/sshtest"
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

// TestPollKnownHostsOneKeyType: a known_hosts listing only one of the keys
// of a stock sshd (ed25519, ECDSA and RSA host keys), as
// "ssh-keyscan -t ed25519" makes it, is enough: the poller asks the server
// for the types known_hosts has.
func TestPollKnownHostsOneKeyType(t *testing.T) {
	f := newPollFixture(t)
	for i, typ := range []string{"ed25519", "ecdsa", "rsa"} {
		kh := filepath.Join(t.TempDir(), "known_hosts")
		os.WriteFile(kh, []byte(f.srv.KnownHostsLine(t, typ)), 0o600)
		cb, err := LoadKnownHosts(kh)
		if err != nil {
			t.Fatal(err)
		}
		f.p.Remote.HostKeys = cb
		name := fmt.Sprintf("f%d.xml", i)
		os.WriteFile(filepath.Join(f.depot, name), []byte("<x/>"), 0o644)
		if err := f.p.RunOnce(context.Background()); err != nil {
			t.Fatalf("known_hosts with only the %s key: %v", typ, err)
		}
		if _, err := os.Stat(filepath.Join(f.mb.In("P1"), name)); err != nil {
			t.Errorf("known_hosts with only the %s key: %s not pulled", typ, name)
		}
	}
}

// TestPollNoKnownKeyOfOfferedTypes: a server offering none of the key
// types known_hosts has for it is refused as such, never as a changed key.
func TestPollNoKnownKeyOfOfferedTypes(t *testing.T) {
	srv := &sshd{sshtest.StartWith(t, sshtest.Options{HostKeyTypes: []string{"ed25519"}})}
	other := filepath.Join(t.TempDir(), "ecdsa")
	sshtest.KeygenType(t, other, "ecdsa")
	pub, _ := os.ReadFile(other + ".pub")
	kh := filepath.Join(t.TempDir(), "known_hosts")
	os.WriteFile(kh, []byte("[127.0.0.1]:"+strings.Split(srv.Addr, ":")[1]+" "+string(pub)), 0o600)
	r := srv.remote(t, "/", "")
	r.HostKeys, _ = LoadKnownHosts(kh)
	st, err := store.Open(context.Background(), filepath.Join(t.TempDir(), "x.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	p := &Poller{Partner: "P1", Remote: r, Mailboxes: newMailboxes(t), Ledger: st, Log: discardLog()}
	err = p.RunOnce(context.Background())
	if err == nil || !strings.Contains(err.Error(), "no known key of the offered types") || strings.Contains(err.Error(), "CHANGED") {
		t.Fatalf("got %v, want \"no known key of the offered types\"", err)
	}
}

// TestPollRefusesOversizedRemote: a remote file over max_file_size (a
// sparse 1 GiB + 1 file) is never downloaded: renamed on the server to
// <name>.flowgate-refused, logged, and left alone by later runs; one
// already claimed is refused from its stat the same way.
func TestPollRefusesOversizedRemote(t *testing.T) {
	f := newPollFixture(t)
	f.p.MaxFileSize = 1000
	ctx := context.Background()
	big := filepath.Join(f.depot, "big.xml")
	os.WriteFile(big, nil, 0o644)
	if err := os.Truncate(big, 1<<30+1); err != nil {
		t.Fatal(err)
	}
	claimed := filepath.Join(f.depot, "grown.xml"+claimMark+"20261126T000000abc")
	os.WriteFile(claimed, nil, 0o644)
	if err := os.Truncate(claimed, 1001); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(f.depot, "ok.xml"), bytes.Repeat([]byte("x"), 1000), 0o644)
	for range 2 {
		if err := f.p.RunOnce(ctx); err != nil {
			t.Fatal(err)
		}
		if got := names(t, f.mb.In("P1")); strings.Join(got, " ") != "ok.xml" {
			t.Errorf("in/ holds %v", got)
		}
		if got := names(t, f.depot); strings.Join(got, " ") != "big.xml.flowgate-refused grown.xml.flowgate-refused" {
			t.Errorf("partner's in_dir holds %v", got)
		}
		if got := names(t, f.mb.Uploads("P1")); len(got) != 0 {
			t.Errorf("downloads left: %v", got)
		}
	}
	if n := strings.Count(f.logs.String(), "over max_file_size"); n != 2 {
		t.Errorf("refusals logged %d times, want 2: %s", n, f.logs)
	}
}

// TestPollCrashBetweenMoveAndRecord: a poller that dies after moving a
// file into in/ and before recording it, then starts again, takes each
// remote file exactly once, whether the intake claimed the moved file
// from in/ meanwhile or not.
func TestPollCrashBetweenMoveAndRecord(t *testing.T) {
	for _, claimedMeanwhile := range []bool{false, true} {
		t.Run(fmt.Sprintf("claimed by the intake meanwhile: %v", claimedMeanwhile), func(t *testing.T) {
			f := newPollFixture(t)
			ctx := context.Background()
			for i := range 5 {
				os.WriteFile(filepath.Join(f.depot, fmt.Sprintf("f%d.xml", i)), []byte(fmt.Sprintf("<Invoice>%d</Invoice>", i)), 0o644)
			}
			moves := 0
			f.p.afterMove = func(string) {
				if moves++; moves == 2 {
					panic("killed")
				}
			}
			func() {
				defer func() {
					if r := recover(); r != "killed" {
						t.Fatalf("run did not reach the crash point: %v", r)
					}
				}()
				f.p.RunOnce(ctx)
			}()
			work := t.TempDir() // where the intake would have claimed files
			if claimedMeanwhile {
				for _, n := range names(t, f.mb.In("P1")) {
					os.Rename(filepath.Join(f.mb.In("P1"), n), filepath.Join(work, n))
				}
			}
			// The restarted daemon: a new poller on the same ledger.
			p := &Poller{Partner: "P1", Remote: f.p.Remote, Mailboxes: f.mb, Ledger: f.st, Log: f.p.Log}
			if err := p.RunOnce(ctx); err != nil {
				t.Fatal(err)
			}
			got := append(names(t, f.mb.In("P1")), names(t, work)...)
			sort.Strings(got)
			if strings.Join(got, " ") != "f0.xml f1.xml f2.xml f3.xml f4.xml" {
				t.Errorf("taken: %v, want each file once", got)
			}
			if left := names(t, f.depot); len(left) != 0 {
				t.Errorf("partner's in_dir holds %v", left)
			}
			if left := names(t, f.mb.Uploads("P1")); len(left) != 0 {
				t.Errorf("downloads left: %v", left)
			}
		})
	}
}

// TestKeyFileWarnings: a private key readable by others and a known_hosts
// listing no host are warned about.
func TestKeyFileWarnings(t *testing.T) {
	dir := t.TempDir()
	key := filepath.Join(dir, "id")
	keygen(t, key)
	if w := KeyFileWarning(key); w != "" {
		t.Errorf("0600 key: %s", w)
	}
	os.Chmod(key, 0o644)
	if w := KeyFileWarning(key); !strings.Contains(w, key) || !strings.Contains(w, "0644") {
		t.Errorf("0644 key: %q", w)
	}
	kh := filepath.Join(dir, "known_hosts")
	os.WriteFile(kh, []byte("# the partner's server\n\n"), 0o644)
	if w := KnownHostsWarning(kh); !strings.Contains(w, kh) {
		t.Errorf("empty known_hosts: %q", w)
	}
	os.WriteFile(kh, []byte("host.example ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGq1Nz3VkgXq1PbXWv7x9G0e4mq0pVZ9D1mBvQ9y7p6F\n"), 0o644)
	if w := KnownHostsWarning(kh); w != "" {
		t.Errorf("known_hosts with a host: %s", w)
	}
}

// TestKnownAlgorithms: the host key algorithms asked of a server are those
// of the keys known_hosts lists for it, RSA keys with their SHA-2
// signatures; none when the host is unknown or known through a certificate
// authority.
func TestKnownAlgorithms(t *testing.T) {
	dir := t.TempDir()
	pub := map[string]string{}
	for _, typ := range []string{"ed25519", "rsa"} {
		sshtest.KeygenType(t, filepath.Join(dir, typ), typ)
		data, _ := os.ReadFile(filepath.Join(dir, typ+".pub"))
		pub[typ] = string(data)
	}
	remote := &net.TCPAddr{IP: net.IPv4(192, 0, 2, 1), Port: 22}
	for _, tc := range []struct {
		name, file string
		want       []string
	}{
		{"ed25519 only", "h.example " + pub["ed25519"], []string{"ssh-ed25519"}},
		{"rsa and ed25519", "h.example " + pub["rsa"] + "h.example " + pub["ed25519"],
			[]string{"ssh-ed25519", "rsa-sha2-512", "rsa-sha2-256", "ssh-rsa"}},
		{"another host", "other.example " + pub["ed25519"], nil},
		{"certificate authority", "@cert-authority *.example " + pub["ed25519"], nil},
	} {
		kh := filepath.Join(dir, "known_hosts")
		os.WriteFile(kh, []byte(tc.file), 0o600)
		cb, err := LoadKnownHosts(kh)
		if err != nil {
			t.Fatal(err)
		}
		if got := knownAlgorithms(cb, "h.example:22", remote); strings.Join(got, " ") != strings.Join(tc.want, " ") {
			t.Errorf("%s: %v, want %v", tc.name, got, tc.want)
		}
	}
}
