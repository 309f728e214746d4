package flows

import (
	"bytes"
	"context"
	"errors"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// runIntake runs an intake over mb for partners and returns its claims and
// its log.
func runIntake(t *testing.T, mb Mailboxes, partners []string, settle, rescan time.Duration) (<-chan Claimed, *syncBuffer) {
	t.Helper()
	ids, _ := NewIDs("")
	out := make(chan Claimed, 64)
	logs := &syncBuffer{}
	in := &Intake{Mailboxes: mb, Partners: partners, Settle: settle, Rescan: rescan, IDs: ids,
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
	return out, logs
}

// deposit writes data under a hidden name in dir, then renames it to name.
func deposit(t *testing.T, dir, name string, data []byte) {
	t.Helper()
	tmp := filepath.Join(dir, ".dep-"+name)
	if err := os.WriteFile(tmp, data, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, filepath.Join(dir, name)); err != nil {
		t.Fatal(err)
	}
}

// waitFor polls cond until it holds or the deadline passes.
func waitFor(t *testing.T, within time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %v", what, within)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestClaimExchangeRace: a depositor swaps, with renameat2(RENAME_EXCHANGE)
// in a tight loop, a regular file and a symbolic link to a secret file
// outside its mailbox, while the intake claims the name again and again.
// Whatever the timing, no claim hands over a link or the secret's bytes,
// no link is left in work/, and the secret stays where it was.
func TestClaimExchangeRace(t *testing.T) {
	mb := Mailboxes{Root: t.TempDir()}
	if err := mb.Create([]string{"P1"}); err != nil {
		t.Fatal(err)
	}
	secret := filepath.Join(t.TempDir(), "secret.xml")
	os.WriteFile(secret, []byte("SECRET payroll"), 0o600)
	dir := mb.In("P1")
	name, other := filepath.Join(dir, "f.xml"), filepath.Join(dir, ".other")
	os.WriteFile(name, []byte("<ok/>"), 0o644)
	os.Symlink(secret, other)

	ids, _ := NewIDs("")
	out := make(chan Claimed, 1<<16)
	logs := &syncBuffer{}
	in := &Intake{Mailboxes: mb, Partners: []string{"P1"}, IDs: ids,
		Log: slog.New(slog.NewTextHandler(logs, nil)), Out: out}
	if err := in.open(); err != nil {
		t.Fatal(err)
	}
	defer in.close()
	b := in.boxes[dir]

	// At least this many swaps and claims, whatever the scheduling.
	const swaps, minClaims = 4000, 50
	var done atomic.Bool
	var claimed atomic.Int64
	deadline := time.Now().Add(20 * time.Second)
	errc := make(chan error, 1)
	go func() {
		defer done.Store(true)
		for n := 0; (n < swaps || claimed.Load() < minClaims) && time.Now().Before(deadline); {
			err := unix.Renameat2(unix.AT_FDCWD, name, unix.AT_FDCWD, other, unix.RENAME_EXCHANGE)
			if err == nil {
				n++
				continue
			}
			if !errors.Is(err, unix.ENOENT) {
				errc <- err
				return
			}
			// f.xml was claimed: put a new one of the other kind in its place.
			fi, err := os.Lstat(other)
			if err != nil {
				errc <- err
				return
			}
			tmp := filepath.Join(dir, ".refill")
			if fi.Mode()&fs.ModeSymlink != 0 {
				err = os.WriteFile(tmp, []byte("<ok/>"), 0o644)
			} else {
				err = os.Symlink(secret, tmp)
			}
			if err == nil {
				err = os.Rename(tmp, name)
			}
			if err != nil {
				errc <- err
				return
			}
		}
		errc <- nil
	}()

	ctx := context.Background()
	claims := 0
	check := func(c Claimed) {
		claims++
		claimed.Add(1)
		fi, err := os.Lstat(c.Path)
		if err != nil || !fi.Mode().IsRegular() {
			t.Fatalf("claim %s: not a regular file in work/: %v %v", c.FlowID, fi, err)
		}
		data, err := os.ReadFile(c.Path)
		if err != nil || string(data) != "<ok/>" {
			t.Fatalf("claim %s holds %q %v", c.FlowID, data, err)
		}
		if c.Size != int64(len(data)) {
			t.Fatalf("claim %s: size %d, want %d", c.FlowID, c.Size, len(data))
		}
	}
	for !done.Load() {
		if err := in.claim(ctx, b, "f.xml"); err != nil {
			t.Fatal(err)
		}
		for len(out) > 0 {
			check(<-out)
		}
	}
	if err := <-errc; err != nil {
		t.Fatal(err)
	}
	for len(out) > 0 {
		check(<-out)
	}
	entries, _ := os.ReadDir(mb.Work())
	for _, e := range entries {
		if e.Type()&fs.ModeSymlink != 0 || !e.Type().IsRegular() {
			t.Errorf("work/ holds %s (%v)", e.Name(), e.Type())
		}
	}
	if data, err := os.ReadFile(secret); err != nil || string(data) != "SECRET payroll" {
		t.Errorf("secret file %q %v", data, err)
	}
	caught := strings.Count(logs.String(), "not a regular file when claimed")
	t.Logf("%d claims, %d links caught after the rename", claims, caught)
	if claims < minClaims {
		t.Errorf("%d claims, want %d", claims, minClaims)
	}
}

// TestReplacedInFolder: a partner that replaces its own in/ by a link to
// another folder gets its intake stopped, with one alert; the other
// folder's files are neither moved nor read, and another partner's flows
// are still taken.
func TestReplacedInFolder(t *testing.T) {
	mb := Mailboxes{Root: t.TempDir()}
	if err := mb.Create([]string{"P1", "P2"}); err != nil {
		t.Fatal(err)
	}
	out, logs := runIntake(t, mb, []string{"P1", "P2"}, 30*time.Millisecond, 30*time.Millisecond)
	time.Sleep(50 * time.Millisecond) // let the watcher start
	deposit(t, mb.In("P1"), "first.xml", []byte("<x/>"))
	if c := expectClaim(t, out, 2*time.Second); c.Name != "first.xml" {
		t.Fatalf("claimed %s", c.Name)
	}

	elsewhere := t.TempDir()
	old := time.Now().Add(-time.Hour)
	for _, n := range []string{"payroll.csv", "invoice.xml"} {
		p := filepath.Join(elsewhere, n)
		os.WriteFile(p, []byte("not P1's: "+n), 0o600)
		os.Chtimes(p, old, old)
	}
	in := mb.In("P1")
	if err := os.Rename(in, in+".away"); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(elsewhere, in); err != nil {
		t.Fatal(err)
	}
	// The folder opened at start, now elsewhere, is not taken from either.
	deposit(t, in+".away", "late.xml", []byte("<x/>"))
	deposit(t, mb.In("P2"), "other.xml", []byte("<y/>"))
	if c := expectClaim(t, out, 2*time.Second); c.Partner != "P2" || c.Name != "other.xml" {
		t.Fatalf("claimed %+v", c)
	}
	expectNone(t, out, 300*time.Millisecond) // ten rescans
	for _, n := range []string{"payroll.csv", "invoice.xml"} {
		data, err := os.ReadFile(filepath.Join(elsewhere, n))
		if err != nil || string(data) != "not P1's: "+n {
			t.Errorf("%s: %q %v", n, data, err)
		}
	}
	if _, err := os.Stat(filepath.Join(in+".away", "late.xml")); err != nil {
		t.Errorf("late.xml taken from the old folder: %v", err)
	}
	log := logs.String()
	if n := strings.Count(log, "intake stops"); n != 1 || !strings.Contains(log, "level=ERROR") {
		t.Errorf("alert logged %d times, want once at error level:\n%s", n, log)
	}
	if strings.Contains(log, "payroll") || strings.Contains(log, "invoice.xml") {
		t.Errorf("the other folder was looked into:\n%s", log)
	}
}

// TestReplacedInFolderAtStart: an in/ that is a link when the intake
// starts is refused the same way; the daemon still starts.
func TestReplacedInFolderAtStart(t *testing.T) {
	mb := Mailboxes{Root: t.TempDir()}
	if err := mb.Create([]string{"P1", "P2"}); err != nil {
		t.Fatal(err)
	}
	elsewhere := t.TempDir()
	os.Chmod(elsewhere, 0o777)
	os.WriteFile(filepath.Join(elsewhere, "payroll.csv"), []byte("salaries"), 0o600)
	os.Remove(mb.In("P1"))
	os.Symlink(elsewhere, mb.In("P1"))
	logs := &syncBuffer{}
	if err := mb.Setup([]string{"P1", "P2"}, slog.New(slog.NewTextHandler(logs, nil))); err != nil {
		t.Fatalf("setup: %v", err)
	}
	if fi, _ := os.Stat(elsewhere); fi.Mode().Perm() != 0o777 {
		t.Errorf("the link's target was changed: %v", fi.Mode())
	}
	out, ilogs := runIntake(t, mb, []string{"P1", "P2"}, 30*time.Millisecond, 30*time.Millisecond)
	time.Sleep(50 * time.Millisecond)
	deposit(t, mb.In("P2"), "other.xml", []byte("<y/>"))
	if c := expectClaim(t, out, 2*time.Second); c.Partner != "P2" {
		t.Fatalf("claimed %+v", c)
	}
	expectNone(t, out, 200*time.Millisecond)
	if _, err := os.Stat(filepath.Join(elsewhere, "payroll.csv")); err != nil {
		t.Errorf("payroll.csv moved: %v", err)
	}
	if !strings.Contains(logs.String(), "level=ERROR") || strings.Count(ilogs.String(), "intake stops") != 1 {
		t.Errorf("setup log:\n%s\nintake log:\n%s", logs, ilogs)
	}
}

// TestHardLinkedDepositIsCopied: a depositor that keeps a second hard link
// to its file cannot change what was claimed by rewriting it afterwards.
func TestHardLinkedDepositIsCopied(t *testing.T) {
	mb := Mailboxes{Root: t.TempDir()}
	if err := mb.Create([]string{"P1"}); err != nil {
		t.Fatal(err)
	}
	out, logs := runIntake(t, mb, []string{"P1"}, time.Hour, time.Hour)
	time.Sleep(50 * time.Millisecond)
	original := []byte("<Invoice><PayableAmount>240.48</PayableAmount></Invoice>")
	kept := filepath.Join(mb.Root, "partners", "P1", "kept.xml") // same filesystem, outside in/
	os.WriteFile(kept, original, 0o666)
	if err := os.Link(kept, filepath.Join(mb.In("P1"), ".f.tmp")); err != nil {
		t.Fatal(err)
	}
	os.Rename(filepath.Join(mb.In("P1"), ".f.tmp"), filepath.Join(mb.In("P1"), "f.xml"))
	c := expectClaim(t, out, 2*time.Second)
	if err := os.WriteFile(kept, []byte("<Invoice><PayableAmount>999999.99</PayableAmount></Invoice>"), 0o666); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(c.Path)
	if err != nil || !bytes.Equal(data, original) {
		t.Errorf("work/ holds %q %v, want the bytes claimed", data, err)
	}
	fi, err := os.Lstat(c.Path)
	if err != nil {
		t.Fatal(err)
	}
	if st := fi.Sys().(*syscall.Stat_t); st.Nlink != 1 {
		t.Errorf("work/ file has %d links", st.Nlink)
	}
	if fi.Mode().Perm()&^0o640 != 0 {
		t.Errorf("work/ file mode %v, want 0640 or stricter", fi.Mode().Perm())
	}
	if c.Size != int64(len(original)) {
		t.Errorf("size %d", c.Size)
	}
	if !strings.Contains(logs.String(), "private copy taken") {
		t.Errorf("log:\n%s", logs)
	}
	if entries, _ := os.ReadDir(mb.Work()); len(entries) != 1 {
		t.Errorf("work/ holds %d files, want the claim alone", len(entries))
	}
}

// TestForeignOwnedDepositIsCopied: a file owned by another account (a local
// depositor, who could still write through a descriptor it kept open) is
// replaced by the hub's own copy.
func TestForeignOwnedDepositIsCopied(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to give a file to another account")
	}
	mb := Mailboxes{Root: t.TempDir()}
	if err := mb.Create([]string{"P1"}); err != nil {
		t.Fatal(err)
	}
	out, logs := runIntake(t, mb, []string{"P1"}, time.Hour, time.Hour)
	time.Sleep(50 * time.Millisecond)
	tmp := filepath.Join(mb.In("P1"), ".f.tmp")
	os.WriteFile(tmp, []byte("<x/>"), 0o666)
	os.Chown(tmp, 12345, 12345)
	os.Rename(tmp, filepath.Join(mb.In("P1"), "f.xml"))
	c := expectClaim(t, out, 2*time.Second)
	fi, err := os.Lstat(c.Path)
	if err != nil {
		t.Fatal(err)
	}
	if st := fi.Sys().(*syscall.Stat_t); int(st.Uid) != os.Geteuid() || fi.Mode().Perm() != 0o640 {
		t.Errorf("work/ file owned by %d, mode %v", st.Uid, fi.Mode().Perm())
	}
	if !strings.Contains(logs.String(), "private copy taken") {
		t.Errorf("log:\n%s", logs)
	}
}

// TestClaimNarrowsMode: the hub's own file keeps its single link and
// loses every right beyond 0640 (archive/ receives it as it is in work/).
func TestClaimNarrowsMode(t *testing.T) {
	mb := Mailboxes{Root: t.TempDir()}
	if err := mb.Create([]string{"P1"}); err != nil {
		t.Fatal(err)
	}
	out, logs := runIntake(t, mb, []string{"P1"}, time.Hour, time.Hour)
	time.Sleep(50 * time.Millisecond)
	tmp := filepath.Join(mb.In("P1"), ".own.tmp")
	os.WriteFile(tmp, []byte("<x/>"), 0o666)
	os.Chmod(tmp, 0o666)
	os.Rename(tmp, filepath.Join(mb.In("P1"), "own.xml"))
	c := expectClaim(t, out, 2*time.Second)
	if fi, _ := os.Lstat(c.Path); fi.Mode().Perm() != 0o640 {
		t.Errorf("work/ file mode %v, want 0640", fi.Mode().Perm())
	}
	if strings.Contains(logs.String(), "private copy") {
		t.Errorf("own file copied:\n%s", logs)
	}
}

// TestMailboxModes: folders are created with their modes whatever the
// umask, tightened when found wider (set-group-id kept), never through a
// link; a hub folder that is a link stops the start.
func TestMailboxModes(t *testing.T) {
	old := syscall.Umask(0)
	defer syscall.Umask(old)
	mb := Mailboxes{Root: filepath.Join(t.TempDir(), "root")}
	if err := mb.Create([]string{"P1"}); err != nil {
		t.Fatal(err)
	}
	want := map[string]fs.FileMode{
		mb.Root: 0o711, mb.Work(): 0o700, mb.Archive(): 0o750, filepath.Join(mb.Root, "portal"): 0o750,
		filepath.Join(mb.Root, "partners"): 0o711, filepath.Join(mb.Root, "partners", "P1"): 0o750,
		mb.In("P1"): 0o770, mb.Out("P1"): 0o750, mb.Inbox("P1"): 0o750, mb.Returns("P1"): 0o750,
		mb.Uploads("P1"): 0o700,
	}
	check := func(when string) {
		t.Helper()
		for dir, mode := range want {
			fi, err := os.Lstat(dir)
			if err != nil || fi.Mode() != fs.ModeDir|mode {
				t.Errorf("%s: %s mode %v %v, want %v", when, dir, fi.Mode(), err, fs.ModeDir|mode)
			}
		}
	}
	check("created")

	os.Chmod(mb.Work(), 0o777)
	os.Chmod(mb.Archive(), 0o755)
	os.Chmod(mb.Uploads("P1"), 0o755)
	os.Chmod(filepath.Join(mb.Root, "partners", "P1"), 0o777)
	os.Chmod(mb.In("P1"), 0o777|fs.ModeSetgid)
	os.Chmod(mb.Out("P1"), 0o775) // group write allowed, not others
	os.Chmod(mb.Inbox("P1"), 0o700)
	logs := &syncBuffer{}
	if err := mb.Setup([]string{"P1"}, slog.New(slog.NewTextHandler(logs, nil))); err != nil {
		t.Fatal(err)
	}
	want[mb.In("P1")] = 0o770 | fs.ModeSetgid
	want[mb.Out("P1")] = 0o770
	want[mb.Inbox("P1")] = 0o700 // narrower: kept
	check("tightened")
	if n := strings.Count(logs.String(), "folder mode tightened"); n != 6 {
		t.Errorf("%d tightenings logged, want 6:\n%s", n, logs)
	}

	// A hub folder that is a link is refused; its target is left alone.
	target := t.TempDir()
	os.Chmod(target, 0o777)
	os.Remove(mb.Archive())
	os.Symlink(target, mb.Archive())
	if err := mb.Create([]string{"P1"}); err == nil || !errors.Is(err, unix.ELOOP) {
		t.Errorf("archive/ as a link: %v", err)
	}
	if fi, _ := os.Stat(target); fi.Mode().Perm() != 0o777 {
		t.Errorf("link target chmodded: %v", fi.Mode())
	}
}

// TestSetupMakesWorkPrivate: a flow left in work/ still sharing its bytes
// with a depositor's link (a crash between a claim's rename and its copy)
// is made private at start, and an interrupted copy removed.
func TestSetupMakesWorkPrivate(t *testing.T) {
	mb := Mailboxes{Root: t.TempDir()}
	if err := mb.Create([]string{"P1"}); err != nil {
		t.Fatal(err)
	}
	kept := filepath.Join(mb.Root, "partners", "P1", "kept.xml")
	os.WriteFile(kept, []byte("<x>240.48</x>"), 0o644)
	work := filepath.Join(mb.Work(), WorkName("20261126T105523.123456Z", "P1", "f.xml"))
	os.Link(kept, work)
	os.WriteFile(filepath.Join(mb.Work(), claimTemp+"20261126T105523.123456Z.tmp"), []byte("<x>2"), 0o640)
	if err := mb.Create([]string{"P1"}); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(kept, []byte("<x>999999.99</x>"), 0o644)
	if data, _ := os.ReadFile(work); string(data) != "<x>240.48</x>" {
		t.Errorf("work/ holds %q", data)
	}
	if entries, _ := os.ReadDir(mb.Work()); len(entries) != 1 {
		t.Errorf("work/ holds %d files, want 1", len(entries))
	}
}
