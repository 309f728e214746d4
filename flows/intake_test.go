package flows

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
	"unicode/utf8"
)

type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// startIntake runs an intake for partner P1 and returns its claims.
func startIntake(t *testing.T, settle time.Duration, before func(in string)) (Mailboxes, <-chan Claimed, *syncBuffer) {
	t.Helper()
	mb := Mailboxes{Root: t.TempDir()}
	if err := mb.Create([]string{"P1"}); err != nil {
		t.Fatal(err)
	}
	if before != nil {
		before(mb.In("P1"))
	}
	ids, _ := NewIDs("")
	out := make(chan Claimed, 16)
	logs := &syncBuffer{}
	in := &Intake{Mailboxes: mb, Partners: []string{"P1"}, Settle: settle, Rescan: time.Hour, IDs: ids,
		Log: slog.New(slog.NewTextHandler(logs, nil)), Out: out}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- in.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Error(err)
		}
	})
	time.Sleep(50 * time.Millisecond) // let the watcher start
	return mb, out, logs
}

func expectClaim(t *testing.T, out <-chan Claimed, within time.Duration) Claimed {
	t.Helper()
	select {
	case c := <-out:
		return c
	case <-time.After(within):
		t.Fatalf("nothing claimed within %v", within)
	}
	return Claimed{}
}

func expectNone(t *testing.T, out <-chan Claimed, during time.Duration) {
	t.Helper()
	select {
	case c := <-out:
		t.Fatalf("claimed %+v", c)
	case <-time.After(during):
	}
}

// TestRenameIsTakenAtOnce: a file that arrives by rename is complete; it
// does not wait for the settle delay.
func TestRenameIsTakenAtOnce(t *testing.T) {
	mb, out, _ := startIntake(t, 10*time.Second, nil)
	tmp := filepath.Join(mb.In("P1"), ".f.xml.tmp")
	os.WriteFile(tmp, []byte("<x/>"), 0o644)
	start := time.Now()
	os.Rename(tmp, filepath.Join(mb.In("P1"), "f.xml"))
	c := expectClaim(t, out, 2*time.Second)
	if time.Since(start) > time.Second {
		t.Errorf("took %v", time.Since(start))
	}
	if c.Partner != "P1" || c.Name != "f.xml" || filepath.Dir(c.Path) != mb.Work() {
		t.Errorf("claim %+v", c)
	}
	if data, err := os.ReadFile(c.Path); err != nil || string(data) != "<x/>" {
		t.Errorf("work file %q %v", data, err)
	}
	if _, err := os.Stat(filepath.Join(mb.In("P1"), "f.xml")); err == nil {
		t.Error("file still in in/")
	}
	id, partner, name, ok := ParseWorkName(filepath.Base(c.Path))
	if !ok || id != c.FlowID || partner != "P1" || name != "f.xml" {
		t.Errorf("work name %s", filepath.Base(c.Path))
	}
}

// TestPartialUploadWaits: a file written in place is taken only once its
// size and time stayed unchanged for the settle delay.
func TestPartialUploadWaits(t *testing.T) {
	settle := 400 * time.Millisecond
	mb, out, _ := startIntake(t, settle, nil)
	f, err := os.Create(filepath.Join(mb.In("P1"), "slow.xml"))
	if err != nil {
		t.Fatal(err)
	}
	var stopped time.Time
	for range 8 {
		f.Write([]byte("<chunk/>"))
		stopped = time.Now()
		expectNone(t, out, 100*time.Millisecond)
	}
	f.Close()
	c := expectClaim(t, out, 3*time.Second)
	if waited := time.Since(stopped); waited < settle-50*time.Millisecond {
		t.Errorf("taken %v after the last write, before the settle delay %v", waited, settle)
	}
	if data, _ := os.ReadFile(c.Path); len(data) != 64 {
		t.Errorf("claimed %d bytes, want the whole 64", len(data))
	}
}

func TestIgnoredNamesAndLinks(t *testing.T) {
	mb, out, logs := startIntake(t, 100*time.Millisecond, nil)
	in := mb.In("P1")
	for _, name := range []string{".hidden.xml", "upload.tmp", "upload.part", "upload.filepart"} {
		os.WriteFile(filepath.Join(in, name), []byte("x"), 0o644)
	}
	secret := filepath.Join(t.TempDir(), "secret.xml")
	os.WriteFile(secret, []byte("secret"), 0o644)
	os.Symlink(secret, filepath.Join(in, "link.xml"))
	os.Mkdir(filepath.Join(in, "folder.xml"), 0o755)
	syscall.Mkfifo(filepath.Join(in, "fifo.xml"), 0o644)
	expectNone(t, out, 600*time.Millisecond)
	for _, name := range []string{".hidden.xml", "upload.tmp", "link.xml", "folder.xml", "fifo.xml"} {
		if _, err := os.Lstat(filepath.Join(in, name)); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
	log := logs.String()
	for _, name := range []string{"link.xml", "folder.xml", "fifo.xml"} {
		if strings.Count(log, name) != 1 {
			t.Errorf("%s reported %d times, want once:\n%s", name, strings.Count(log, name), log)
		}
	}
	// A normal file next to them is taken.
	os.WriteFile(filepath.Join(in, ".n.tmp"), []byte("<x/>"), 0o644)
	os.Rename(filepath.Join(in, ".n.tmp"), filepath.Join(in, "normal.xml"))
	if c := expectClaim(t, out, 2*time.Second); c.Name != "normal.xml" {
		t.Errorf("claimed %s", c.Name)
	}
}

// TestScanAtStart: files already in in/ when intake starts are taken.
func TestScanAtStart(t *testing.T) {
	_, out, _ := startIntake(t, time.Hour, func(in string) {
		p := filepath.Join(in, "old.xml")
		os.WriteFile(p, []byte("<x/>"), 0o644)
		old := time.Now().Add(-2 * time.Hour)
		os.Chtimes(p, old, old)
	})
	if c := expectClaim(t, out, 2*time.Second); c.Name != "old.xml" {
		t.Errorf("claimed %s", c.Name)
	}
}

func TestIDs(t *testing.T) {
	g, err := NewIDs("20301231T235959.999999Z")
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	a, b := g.Next(now), g.Next(now)
	if a <= "20301231T235959.999999Z" || b <= a || len(a) != len(FlowIDLayout) {
		t.Errorf("ids %s %s after a floor in the future", a, b)
	}
	if strings.Contains(a, "_") {
		t.Error("flow id holds the work-name separator")
	}
	if _, err := NewIDs("garbage"); err == nil {
		t.Error("bad floor accepted")
	}
}

func TestParseWorkName(t *testing.T) {
	id, p, name, ok := ParseWorkName(WorkName("20261126T105523.123456Z", "FOURN01", "lot_2026 (1).zip"))
	if !ok || id != "20261126T105523.123456Z" || p != "FOURN01" || name != "lot_2026 (1).zip" {
		t.Errorf("%q %q %q %v", id, p, name, ok)
	}
	for _, bad := range []string{"x", "a_b", "_P_n", "id__n"} {
		if _, _, _, ok := ParseWorkName(bad); ok {
			t.Errorf("%q parsed", bad)
		}
	}
}

// TestLongNameIsClaimed: a deposited name too long to carry the flow
// prefix is shortened, its extension kept, and the file still claimed.
func TestLongNameIsClaimed(t *testing.T) {
	mb, out, _ := startIntake(t, time.Hour, nil)
	long := strings.Repeat("é", 120) + ".xml" // 244 bytes
	tmp := filepath.Join(mb.In("P1"), ".x.tmp")
	os.WriteFile(tmp, []byte("<x/>"), 0o644)
	if err := os.Rename(tmp, filepath.Join(mb.In("P1"), long)); err != nil {
		t.Fatal(err)
	}
	c := expectClaim(t, out, 2*time.Second)
	base := filepath.Base(c.Path)
	if len(base) > 255 || !strings.HasSuffix(base, ".xml") || !utf8.ValidString(base) {
		t.Errorf("work name %q (%d bytes)", base, len(base))
	}
	if data, err := os.ReadFile(c.Path); err != nil || string(data) != "<x/>" {
		t.Errorf("claimed %q %v", data, err)
	}
}

func TestSameFilesystem(t *testing.T) {
	a, b := t.TempDir(), t.TempDir()
	if err := SameFilesystem(a, b); err != nil {
		t.Errorf("two temp dirs: %v", err)
	}
	var sa, sb syscall.Stat_t
	if syscall.Stat(a, &sa) != nil || syscall.Stat("/dev/shm", &sb) != nil || sa.Dev == sb.Dev {
		t.Skip("no second filesystem at /dev/shm to compare with")
	}
	if err := SameFilesystem(a, "/dev/shm"); err == nil || !strings.Contains(err.Error(), "span filesystems") {
		t.Errorf("got %v", err)
	}
}

// TestClaimsInDepositOrder: files renamed into in/ a moment apart, and
// files already there at start, are claimed in the order they were
// deposited, with flow ids in that order: a recipient sending a status
// and then the next one relies on it.
func TestClaimsInDepositOrder(t *testing.T) {
	const n = 12
	names := make([]string, n)
	for i := range n {
		names[i] = fmt.Sprintf("%02d-%c.xml", i, 'z'-i) // name order is not deposit order
	}
	deposit := func(in string, i int) {
		tmp := filepath.Join(in, ".x.tmp")
		os.WriteFile(tmp, []byte(names[i]), 0o644)
		os.Rename(tmp, filepath.Join(in, names[i]))
	}
	check := func(out <-chan Claimed) {
		t.Helper()
		var got []string
		last := ""
		for range n {
			c := expectClaim(t, out, 5*time.Second)
			got = append(got, c.Name)
			if c.FlowID <= last {
				t.Errorf("flow id %s of %s not after %s", c.FlowID, c.Name, last)
			}
			last = c.FlowID
		}
		if !slices.Equal(got, names) {
			t.Errorf("claimed %v, want %v", got, names)
		}
	}
	// Found at start: their modification times tell the order (set apart
	// here: file times are coarser than a loop).
	base := time.Now().Add(-time.Hour)
	_, out, _ := startIntake(t, 50*time.Millisecond, func(in string) {
		for i := range n {
			deposit(in, i)
			at := base.Add(time.Duration(i) * time.Second)
			os.Chtimes(filepath.Join(in, names[i]), at, at)
		}
	})
	check(out)
	// Renamed in while running, in one burst.
	mb, out2, _ := startIntake(t, time.Hour, nil)
	for i := range n {
		deposit(mb.In("P1"), i)
	}
	check(out2)
}
