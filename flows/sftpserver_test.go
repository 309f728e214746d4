package flows

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math"
	"math/rand/v2"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pkg/sftp"
	"golang.org/x/crypto/ssh"
)

type serverFixture struct {
	srv  *SFTPServer
	mb   Mailboxes
	key  string
	host ssh.Signer
	logs *syncBuffer
}

func newServerFixture(t *testing.T, maxSize int64, maxSessions int) *serverFixture {
	return newServerFixtureWith(t, maxSize, maxSessions, nil)
}

// newServerFixtureWith lets adjust change the server before it starts.
func newServerFixtureWith(t *testing.T, maxSize int64, maxSessions int, adjust func(*SFTPServer)) *serverFixture {
	dir := t.TempDir()
	f := &serverFixture{mb: newMailboxes(t), key: filepath.Join(dir, "p1"), logs: &syncBuffer{}}
	keygen(t, f.key)
	var err error
	if f.host, err = LoadHostKey(filepath.Join(dir, "host"), discardLog()); err != nil {
		t.Fatal(err)
	}
	f.srv = &SFTPServer{Listen: "127.0.0.1:0", HostKey: f.host, Mailboxes: f.mb, MaxAuthTries: 6, Log: newTestLog(f.logs),
		Partners: []SFTPPartner{{ID: "P1", Keys: []AuthorizedKey{{Key: publicKey(t, f.key+".pub")}}, MaxFileSize: maxSize, MaxSessions: maxSessions}}}
	if adjust != nil {
		adjust(f.srv)
	}
	if err := f.srv.Start(); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- f.srv.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	return f
}

func (f *serverFixture) connect(t *testing.T) (*ssh.Client, *sftp.Client, error) {
	return f.connectFrom(t, nil)
}

// connectFrom logs in from the local address from (nil: any).
func (f *serverFixture) connectFrom(t *testing.T, from net.Addr) (*ssh.Client, *sftp.Client, error) {
	signer, err := LoadSigner(f.key)
	if err != nil {
		t.Fatal(err)
	}
	d := net.Dialer{Timeout: 5 * time.Second, LocalAddr: from}
	conn, err := d.Dial("tcp", f.srv.Addr().String())
	if err != nil {
		return nil, nil, err
	}
	conn.SetDeadline(time.Now().Add(5 * time.Second))
	cc, chans, reqs, err := ssh.NewClientConn(conn, f.srv.Addr().String(), &ssh.ClientConfig{User: "p1",
		Auth: []ssh.AuthMethod{ssh.PublicKeys(signer)}, HostKeyCallback: ssh.FixedHostKey(f.host.PublicKey())})
	if err != nil {
		conn.Close()
		return nil, nil, err
	}
	conn.SetDeadline(time.Time{})
	c := ssh.NewClient(cc, chans, reqs)
	sc, err := sftp.NewClient(c)
	if err != nil {
		c.Close()
		return nil, nil, err
	}
	return c, sc, nil
}

func TestSFTPMaxFileSize(t *testing.T) {
	f := newServerFixture(t, 1000, 4)
	c, sc, err := f.connect(t)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	w, err := sc.Create("/in/big.xml")
	if err != nil {
		t.Fatal(err)
	}
	_, werr := w.Write(bytes.Repeat([]byte("x"), 2000))
	cerr := w.Close()
	if werr == nil && cerr == nil {
		t.Error("upload over the limit accepted")
	}
	if _, err := os.Stat(filepath.Join(f.mb.In("P1"), "big.xml")); err == nil {
		t.Error("file over the limit reached in/")
	}
	if left, _ := os.ReadDir(f.mb.Uploads("P1")); len(left) != 0 {
		t.Errorf("upload temp left: %d", len(left))
	}
}

func TestSFTPMaxSessions(t *testing.T) {
	f := newServerFixture(t, 1<<20, 1)
	c1, _, err := f.connect(t)
	if err != nil {
		t.Fatal(err)
	}
	if c2, _, err := f.connect(t); err == nil {
		c2.Close()
		t.Error("second session accepted with max_sessions = 1")
	}
	if !strings.Contains(f.logs.String(), "too many sessions") {
		t.Errorf("refusal not logged: %s", f.logs)
	}
	c1.Close()
	// The server frees the slot once it sees the first connection end.
	deadline := time.Now().Add(5 * time.Second)
	for {
		c3, _, err := f.connect(t)
		if err == nil {
			c3.Close()
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("session refused after the first closed: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestSFTPClientPatterns: upload under a temporary name then rename (as
// WinSCP does), read and remove a fetched status file.
func TestSFTPClientPatterns(t *testing.T) {
	f := newServerFixture(t, 1<<20, 4)
	os.WriteFile(filepath.Join(f.mb.Out("P1"), "CR_1.xml"), []byte("<CPPStatut/>"), 0o644)
	c, sc, err := f.connect(t)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	w, err := sc.Create("/in/f.xml.filepart")
	if err != nil {
		t.Fatal(err)
	}
	w.Write([]byte("<x/>"))
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if err := sc.Rename("/in/f.xml.filepart", "/in/f.xml"); err != nil {
		t.Fatal(err)
	}
	if data, err := os.ReadFile(filepath.Join(f.mb.In("P1"), "f.xml")); err != nil || string(data) != "<x/>" {
		t.Errorf("in/f.xml: %q %v", data, err)
	}
	r, err := sc.Open("/out/CR_1.xml")
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	buf.ReadFrom(r)
	r.Close()
	if buf.String() != "<CPPStatut/>" {
		t.Errorf("read %q", buf.String())
	}
	if err := sc.Remove("/out/CR_1.xml"); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(f.mb.Out("P1"), "CR_1.xml")); err == nil {
		t.Error("removed file still there")
	}
	// Reading in/ and removing from it are not allowed.
	if _, err := sc.Open("/in/f.xml"); err == nil {
		t.Error("read from /in allowed")
	}
	if err := sc.Remove("/in/f.xml"); err == nil {
		t.Error("remove from /in allowed")
	}
	// An unfinished upload (a temporary name the hub never takes) is the
	// partner's: listed, even hidden, and removable, so that it can free
	// its pending bytes.
	for _, tmp := range []string{"/in/.g.xml", "/in/g.xml.part"} {
		w, err := sc.Create(tmp)
		if err != nil {
			t.Fatal(err)
		}
		w.Write([]byte("<x/>"))
		w.Close()
	}
	listed, err := sc.ReadDir("/in")
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, fi := range listed {
		names = append(names, fi.Name())
	}
	if !slices.Contains(names, ".g.xml") || !slices.Contains(names, "g.xml.part") {
		t.Errorf("/in lists %v, want the unfinished uploads", names)
	}
	for _, tmp := range []string{"/in/.g.xml", "/in/g.xml.part"} {
		if err := sc.Remove(tmp); err != nil {
			t.Errorf("remove %s: %v", tmp, err)
		}
	}
	if left, _ := os.ReadDir(f.mb.In("P1")); len(left) != 1 {
		t.Errorf("in/ holds %d files, want f.xml alone", len(left))
	}
	// An upload over an existing name in in/ is refused at once, the
	// file kept; so is one whose name appears while it is sent.
	if _, err := sc.Create("/in/f.xml"); err == nil || !strings.Contains(err.Error(), "/in/f.xml already exists") {
		t.Errorf("upload over an existing file: %v", err)
	}
	if data, _ := os.ReadFile(filepath.Join(f.mb.In("P1"), "f.xml")); string(data) != "<x/>" {
		t.Errorf("existing file changed: %q", data)
	}
	w, err = sc.Create("/in/g.xml")
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(f.mb.In("P1"), "g.xml"), []byte("<x/>"), 0o644)
	w.Write([]byte("<other/>"))
	if err := w.Close(); err == nil || !strings.Contains(err.Error(), "/in/g.xml already exists") {
		t.Errorf("upload replaced a file that appeared meanwhile: %v", err)
	}
	if data, _ := os.ReadFile(filepath.Join(f.mb.In("P1"), "g.xml")); string(data) != "<x/>" {
		t.Errorf("existing file changed: %q", data)
	}
}

func TestSFTPMaxConnections(t *testing.T) {
	f := newServerFixture(t, 1<<20, 4)
	g := &serverFixture{mb: newMailboxes(t), key: f.key, host: f.host, logs: &syncBuffer{}}
	g.srv = &SFTPServer{Listen: "127.0.0.1:0", HostKey: f.host, Mailboxes: g.mb, MaxAuthTries: 6, MaxConnections: 1,
		Log: newTestLog(g.logs), Partners: f.srv.Partners}
	if err := g.srv.Start(); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- g.srv.Run(ctx) }()
	defer func() { cancel(); <-done }()
	// One connection that never authenticates holds the only slot.
	idle, err := net.Dial("tcp", g.srv.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer idle.Close()
	time.Sleep(100 * time.Millisecond)
	if c, _, err := g.connect(t); err == nil {
		c.Close()
		t.Error("connection accepted over the limit")
	}
	if !strings.Contains(g.logs.String(), "too many open") {
		t.Errorf("refusal not logged: %s", g.logs)
	}
}

// TestSFTPSparseUploadRefused: a write far into the file (a sparse file of
// 1 GiB) is refused on its offset, before anything is written, and the
// upload never reaches in/.
func TestSFTPSparseUploadRefused(t *testing.T) {
	f := newServerFixture(t, 1<<20, 4)
	c, sc, err := f.connect(t)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	for _, off := range []int64{1<<30 - 1, 1<<20 - 1, math.MaxInt64 - 1} {
		w, err := sc.Create("/in/sparse.xml")
		if err != nil {
			t.Fatal(err)
		}
		_, werr := w.WriteAt([]byte{'<', 'x'}, off)
		cerr := w.Close()
		if werr == nil {
			t.Errorf("write of 2 bytes at offset %d accepted with max_file_size 1 MiB", off)
		}
		_ = cerr
		if _, err := os.Stat(filepath.Join(f.mb.In("P1"), "sparse.xml")); err == nil {
			t.Fatalf("sparse upload (offset %d) reached in/", off)
		}
	}
	if left, _ := os.ReadDir(f.mb.Uploads("P1")); len(left) != 0 {
		t.Errorf("upload temp left: %d", len(left))
	}
	if !strings.Contains(f.logs.String(), "over max_file_size") {
		t.Errorf("refusal not logged: %s", f.logs)
	}
}

// put puts data at name over sc and returns the error of the write or
// of the close.
func put(sc *sftp.Client, name string, data []byte) error {
	w, err := sc.Create(name)
	if err != nil {
		return err
	}
	_, werr := w.Write(data)
	return errors.Join(werr, w.Close())
}

// TestSFTPPendingQuotaAndExpiry: uploads left under a temporary name count
// against the partner's pending bytes, which refuse an upload past the
// quota; the sweep removes them once expired, and uploads pass again.
func TestSFTPPendingQuotaAndExpiry(t *testing.T) {
	f := newServerFixtureWith(t, 1000, 4, func(s *SFTPServer) {
		s.Partners[0].MaxPendingBytes = 1500
		s.UploadExpiry = time.Hour // the sweep is driven by hand below
	})
	c, sc, err := f.connect(t)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	for _, name := range []string{"a.xml.part", ".b.xml"} {
		if err := put(sc, "/in/"+name, bytes.Repeat([]byte("x"), 600)); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
	}
	// 1200 bytes pending under temporary names: 400 more pass the quota.
	if err := put(sc, "/in/c.xml", bytes.Repeat([]byte("x"), 400)); err == nil {
		t.Error("upload past the pending quota accepted")
	}
	if _, err := os.Stat(filepath.Join(f.mb.In("P1"), "c.xml")); err == nil {
		t.Error("upload past the pending quota reached in/")
	}
	if !strings.Contains(f.logs.String(), "over the quota") {
		t.Errorf("refusal not logged: %s", f.logs)
	}
	if err := put(sc, "/in/d.xml", bytes.Repeat([]byte("x"), 200)); err != nil {
		t.Errorf("upload within the quota: %v", err)
	}
	// Not yet expired: kept.
	f.srv.sweep(time.Now().Add(30 * time.Minute))
	if got := names(t, f.mb.In("P1")); strings.Join(got, " ") != ".b.xml a.xml.part d.xml" {
		t.Errorf("in/ after an early sweep: %v", got)
	}
	f.srv.sweep(time.Now().Add(61 * time.Minute))
	if got := names(t, f.mb.In("P1")); strings.Join(got, " ") != "d.xml" {
		t.Errorf("in/ after the sweep: %v", got)
	}
	if !strings.Contains(f.logs.String(), "expired and removed") {
		t.Errorf("expiry not logged: %s", f.logs)
	}
	if err := put(sc, "/in/c.xml", bytes.Repeat([]byte("x"), 900)); err != nil {
		t.Errorf("upload after the sweep: %v", err)
	}
}

// TestSFTPUploadSweepRuns: the server sweeps by itself every quarter of
// upload_expiry.
func TestSFTPUploadSweepRuns(t *testing.T) {
	f := newServerFixtureWith(t, 1000, 4, func(s *SFTPServer) { s.UploadExpiry = 200 * time.Millisecond })
	stale := filepath.Join(f.mb.In("P1"), "old.xml.filepart")
	os.WriteFile(stale, []byte("<x"), 0o644)
	deadline := time.Now().Add(10 * time.Second)
	for {
		if _, err := os.Stat(stale); err != nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("temporary upload never expired")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestSFTPChannelFlood: one connection opening many session channels gets
// max_sessions of them; the others are refused (resource shortage) and a
// slot is free again once a channel closes.
func TestSFTPChannelFlood(t *testing.T) {
	f := newServerFixture(t, 1<<20, 3)
	c, sc, err := f.connect(t) // the SFTP client holds one channel
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	var open []ssh.Channel
	refused := 0
	for range 200 {
		ch, reqs, err := c.OpenChannel("session", nil)
		if err != nil {
			var oe *ssh.OpenChannelError
			if !errors.As(err, &oe) || oe.Reason != ssh.ResourceShortage {
				t.Fatalf("channel refused with %v, want a resource shortage", err)
			}
			refused++
			continue
		}
		go ssh.DiscardRequests(reqs)
		open = append(open, ch)
	}
	if len(open) != 2 || refused != 198 {
		t.Fatalf("%d channels opened, %d refused; want 2 opened (max_sessions 3, one taken by SFTP)", len(open), refused)
	}
	if !strings.Contains(f.logs.String(), "SFTP channel refused") {
		t.Errorf("refusal not logged: %s", f.logs)
	}
	if strings.Count(f.logs.String(), "SFTP channel refused") != 1 {
		t.Errorf("refusal logged more than once per connection")
	}
	// The SFTP channel still works.
	if err := put(sc, "/in/f.xml", []byte("<x/>")); err != nil {
		t.Fatal(err)
	}
	open[0].Close()
	deadline := time.Now().Add(5 * time.Second)
	for {
		ch, reqs, err := c.OpenChannel("session", nil)
		if err == nil {
			go ssh.DiscardRequests(reqs)
			ch.Close()
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("channel slot not freed: %v", err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestSFTPPreAuthFlood: idle connections from one address past the
// per-address limit are closed at once, those within it at the handshake
// deadline, and they never take the slots of another address: a partner
// connecting from elsewhere logs in during the flood.
func TestSFTPPreAuthFlood(t *testing.T) {
	f := newServerFixtureWith(t, 1<<20, 4, func(s *SFTPServer) {
		s.MaxConnections = 6
		s.MaxPreAuthPerHost = 3
		s.HandshakeTimeout = 3 * time.Second
	})
	flooder := &net.TCPAddr{IP: net.IPv4(127, 0, 0, 2)}
	var idle []net.Conn
	defer func() {
		for _, c := range idle {
			c.Close()
		}
	}()
	for range 10 {
		d := net.Dialer{LocalAddr: flooder, Timeout: 5 * time.Second}
		c, err := d.Dial("tcp", f.srv.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		idle = append(idle, c)
	}
	// Each idle connection gets the server's banner, then either the
	// close (past the limit) or nothing until the deadline.
	var closedEarly atomic.Int64
	var wg sync.WaitGroup
	soon := time.Now().Add(time.Second) // well before the handshake deadline
	for _, c := range idle {
		c.SetReadDeadline(soon)
		wg.Go(func() {
			if _, err := io.ReadAll(c); err == nil {
				closedEarly.Add(1) // EOF within the second: closed by the server
			}
		})
	}
	wg.Wait()
	if n := closedEarly.Load(); n != 7 {
		t.Errorf("%d of 10 idle connections closed at once, want 7 (limit 3 per address)", n)
	}
	if n := strings.Count(f.logs.String(), "not logged in from this address"); n != 1 {
		t.Errorf("refusal logged %d times, want once per address per minute", n)
	}
	// A partner from another address logs in while the flooder holds its 3.
	c, sc, err := f.connectFrom(t, &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatalf("partner locked out by another address's idle connections: %v", err)
	}
	if err := put(sc, "/in/f.xml", []byte("<x/>")); err != nil {
		t.Error(err)
	}
	c.Close()
	// The 3 held ones are closed at the handshake deadline.
	for _, c := range idle {
		c.SetReadDeadline(time.Now().Add(10 * time.Second))
		if _, err := io.ReadAll(c); err != nil {
			t.Errorf("idle connection not closed at the handshake deadline: %v", err)
		}
	}
	// And the flooder's address may connect again: its count went back.
	c, _, err = f.connectFrom(t, flooder)
	if err != nil {
		t.Fatalf("address still refused after its idle connections ended: %v", err)
	}
	c.Close()
}

// TestSFTPPreAuthLimitSameAddress: a partner is refused only when its own
// address holds the limit of connections not logged in.
func TestSFTPPreAuthLimitSameAddress(t *testing.T) {
	f := newServerFixtureWith(t, 1<<20, 4, func(s *SFTPServer) { s.MaxPreAuthPerHost = 3 })
	var idle []net.Conn
	defer func() {
		for _, c := range idle {
			c.Close()
		}
	}()
	dial := func() {
		c, err := net.Dial("tcp", f.srv.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		idle = append(idle, c)
	}
	dial()
	dial()
	c, _, err := f.connect(t)
	if err != nil {
		t.Fatalf("partner refused with 2 idle connections of 3 allowed: %v", err)
	}
	c.Close()
	dial()
	// The server counts the third idle one before the next connection.
	deadline := time.Now().Add(5 * time.Second)
	for f.srv.preAuthCount("127.0.0.1") < 3 {
		if time.Now().After(deadline) {
			t.Fatal("idle connections not counted")
		}
		time.Sleep(10 * time.Millisecond)
	}
	if c, _, err := f.connect(t); err == nil {
		c.Close()
		t.Error("partner accepted past the per-address limit")
	}
}

// preAuthCount is how many connections from host the server counts as not
// logged in yet.
func (s *SFTPServer) preAuthCount(host string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.preAuth[host]
}

// failureCount is how many failed connections the server counts for host
// and partner ("" for unknown keys).
func (s *SFTPServer) failureCount(host, partner string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	if f := s.failures[failureKey{host, partner}]; f != nil {
		return f.count
	}
	return 0
}

// dialKeys logs in from the local address from (nil: any), offering the
// keys in turn as OpenSSH does with its agent's, and returns the client.
func (f *serverFixture) dialKeys(t *testing.T, from net.Addr, keys ...string) (*ssh.Client, error) {
	t.Helper()
	var signers []ssh.Signer
	for _, k := range keys {
		s, err := LoadSigner(k)
		if err != nil {
			t.Fatal(err)
		}
		signers = append(signers, s)
	}
	d := net.Dialer{Timeout: 5 * time.Second, LocalAddr: from}
	conn, err := d.Dial("tcp", f.srv.Addr().String())
	if err != nil {
		return nil, err
	}
	conn.SetDeadline(time.Now().Add(30 * time.Second))
	cc, chans, reqs, err := ssh.NewClientConn(conn, f.srv.Addr().String(), &ssh.ClientConfig{User: "p1",
		Auth: []ssh.AuthMethod{ssh.PublicKeys(signers...)}, HostKeyCallback: ssh.FixedHostKey(f.host.PublicKey())})
	if err != nil {
		conn.Close()
		return nil, err
	}
	conn.SetDeadline(time.Time{})
	return ssh.NewClient(cc, chans, reqs), nil
}

// withOptions gives the fixture's partner its key with these
// authorized_keys options.
func withOptions(t *testing.T, f *SFTPServer, key string, options ...string) {
	t.Helper()
	pub, err := os.ReadFile(key + ".pub")
	if err != nil {
		t.Fatal(err)
	}
	var lines []string
	for _, o := range options {
		lines = append(lines, o+" "+string(bytes.TrimSpace(pub)))
	}
	keys, err := ParseAuthorizedKeys("p1.pub", []byte(strings.Join(lines, "\n")))
	if err != nil {
		t.Fatal(err)
	}
	f.Partners[0].Keys = keys
}

// TestSFTPKeyOptionsEnforced: from= admits only the addresses it matches,
// a negation refuses, an expired key is refused; each refusal is logged
// with the partner and the reason.
func TestSFTPKeyOptionsEnforced(t *testing.T) {
	keyDir := t.TempDir()
	key := filepath.Join(keyDir, "p1")
	keygen(t, key)
	f := newServerFixtureWith(t, 1<<20, 4, func(s *SFTPServer) {
		withOptions(t, s, key, `restrict,from="127.0.0.0/24,!127.0.0.3"`)
	})
	f.key = key
	for _, c := range []struct {
		from net.IP
		ok   bool
	}{{net.IPv4(127, 0, 0, 1), true}, {net.IPv4(127, 0, 0, 2), true}, {net.IPv4(127, 0, 0, 3), false}, {net.IPv4(127, 0, 1, 1), false}} {
		cl, err := f.dialKeys(t, &net.TCPAddr{IP: c.from}, key)
		if (err == nil) != c.ok {
			t.Errorf("from %s: err %v, want ok %v", c.from, err, c.ok)
		}
		if err == nil {
			cl.Close()
		}
	}
	if !strings.Contains(f.logs.String(), `msg="SFTP key refused by its options" partner=P1 remote=127.0.0.3:`) ||
		!strings.Contains(f.logs.String(), `not allowed from 127.0.0.3 (from=\"127.0.0.0/24,!127.0.0.3\")`) {
		t.Errorf("refusal not logged with partner and reason:\n%s", f.logs)
	}

	g := newServerFixtureWith(t, 1<<20, 4, func(s *SFTPServer) {
		withOptions(t, s, key, `expiry-time="20200101Z"`)
	})
	if cl, err := g.dialKeys(t, nil, key); err == nil {
		cl.Close()
		t.Error("expired key accepted")
	}
	if !strings.Contains(g.logs.String(), "expired at 2020-01-01T00:00:00Z") {
		t.Errorf("expiry not logged:\n%s", g.logs)
	}

	// The same key on two lines: either line's options may admit it.
	h := newServerFixtureWith(t, 1<<20, 4, func(s *SFTPServer) {
		withOptions(t, s, key, `from="127.0.0.2"`, `from="127.0.0.1"`)
	})
	cl, err := h.dialKeys(t, &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1)}, key)
	if err != nil {
		t.Fatalf("second line's from= not honoured: %v", err)
	}
	cl.Close()
}

// TestSFTPSameKeyTwoPartners: the server does not start when a key is
// authorized for two partners, and says which.
func TestSFTPSameKeyTwoPartners(t *testing.T) {
	dir := t.TempDir()
	keygen(t, filepath.Join(dir, "k"))
	k := publicKey(t, filepath.Join(dir, "k.pub"))
	host, err := LoadHostKey(filepath.Join(dir, "host"), discardLog())
	if err != nil {
		t.Fatal(err)
	}
	srv := &SFTPServer{Listen: "127.0.0.1:0", HostKey: host, Mailboxes: newMailboxes(t), Log: discardLog(), Partners: []SFTPPartner{
		{ID: "P1", Keys: []AuthorizedKey{{Key: k, File: "p1.pub", Line: 1}}, MaxFileSize: 1, MaxSessions: 1},
		{ID: "P2", Keys: []AuthorizedKey{{Key: k, File: "p2.pub", Line: 4}}, MaxFileSize: 1, MaxSessions: 1}}}
	err = srv.Start()
	if err == nil || !strings.Contains(err.Error(), "authorized for two partners: P1 (p1.pub:1) and P2 (p2.pub:4)") {
		t.Errorf("start: %v", err)
	}
}

// TestSFTPWrongKeysFirstNotSlowed: a client offering several unknown keys
// before its own (OpenSSH offers its agent's keys in turn) logs in well
// within the handshake deadline, even from an address that just failed:
// failed attempts are not delayed, only connections that end without
// logging in count, once each, and the count is cleared when the address
// logs in.
func TestSFTPWrongKeysFirstNotSlowed(t *testing.T) {
	f := newServerFixtureWith(t, 1<<20, 4, func(s *SFTPServer) { s.HandshakeTimeout = 3 * time.Second })
	dir := t.TempDir()
	var wrong []string
	for i := range 5 {
		k := filepath.Join(dir, fmt.Sprintf("wrong%d", i))
		keygen(t, k)
		wrong = append(wrong, k)
	}
	// Two failed connections of two refused keys each: two failures.
	for range 2 {
		if c, err := f.dialKeys(t, nil, wrong[:2]...); err == nil {
			c.Close()
			t.Fatal("unknown keys accepted")
		}
	}
	waitFor(t, 5*time.Second, "two failed connections counted", func() bool { return f.srv.failureCount("127.0.0.1", "") == 2 })
	c, err := f.dialKeys(t, nil, append(wrong, f.key)...)
	if err != nil {
		t.Fatalf("partner offering 5 other keys first refused: %v\nlog:\n%s", err, f.logs)
	}
	c.Close()
	// The server carries on after the client sees its login accepted.
	waitFor(t, 5*time.Second, "login logged with its 5 refused keys", func() bool {
		return strings.Contains(f.logs.String(), `msg="SFTP login" partner=P1 remote=127.0.0.1:`) &&
			strings.Contains(f.logs.String(), "refused_keys=5")
	})
	if n := f.srv.failureCount("127.0.0.1", ""); n != 0 {
		t.Errorf("address still counts %d failures after logging in", n)
	}
	// The next failure starts again from the shortest delay.
	if c, err := f.dialKeys(t, nil, wrong[0]); err == nil {
		c.Close()
		t.Fatal("unknown key accepted")
	}
	waitFor(t, 5*time.Second, "third failed connection logged", func() bool {
		return strings.Count(f.logs.String(), `msg="SFTP login refused"`) == 3
	})
	if n := f.srv.failureCount("127.0.0.1", ""); n != 1 {
		t.Errorf("%d failures counted after the login, want 1", n)
	}
	if !strings.Contains(f.logs.String(), "attempts=1 unknown_keys=1 delay=250ms") {
		t.Errorf("delay not reset:\n%s", f.logs)
	}
}

// TestSFTPFailuresPerPartner: failed connections with a partner's key
// refused by its options count apart from those with unknown keys, and
// are cleared when that address logs in.
func TestSFTPFailuresPerPartner(t *testing.T) {
	keyDir := t.TempDir()
	key := filepath.Join(keyDir, "p1")
	keygen(t, key)
	f := newServerFixtureWith(t, 1<<20, 4, func(s *SFTPServer) { withOptions(t, s, key, `from="127.0.0.1"`) })
	other := filepath.Join(keyDir, "other")
	keygen(t, other)
	from2 := &net.TCPAddr{IP: net.IPv4(127, 0, 0, 2)}
	if c, err := f.dialKeys(t, from2, key); err == nil {
		c.Close()
		t.Fatal("key accepted from an address its from= refuses")
	}
	if c, err := f.dialKeys(t, from2, other); err == nil {
		c.Close()
		t.Fatal("unknown key accepted")
	}
	waitFor(t, 5*time.Second, "failures counted", func() bool {
		return f.srv.failureCount("127.0.0.2", "P1") == 1 && f.srv.failureCount("127.0.0.2", "") == 1
	})
	c, err := f.dialKeys(t, nil, key)
	if err != nil {
		t.Fatal(err)
	}
	c.Close()
	waitFor(t, 5*time.Second, "login logged", func() bool { return strings.Contains(f.logs.String(), `msg="SFTP login" partner=P1`) })
	if f.srv.failureCount("127.0.0.2", "P1") != 1 {
		t.Error("another address's login cleared 127.0.0.2's failures")
	}
}

// TestSFTPRefusalMessages: clients get the precise status, and those that
// show the server's message (WinSCP, FileZilla, pkg/sftp for failures) a
// message saying what happened, never a path of the hub's.
func TestSFTPRefusalMessages(t *testing.T) {
	f := newServerFixture(t, 100, 4)
	c, sc, err := f.connect(t)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	os.WriteFile(filepath.Join(f.mb.In("P1"), ".kept.part"), []byte("<x/>"), 0o644)
	// pkg/sftp's client turns "no such file" and "permission denied" into
	// fs errors without the message; it keeps the message of a failure.
	status := func(err error) (uint32, string) {
		var se *sftp.StatusError
		switch {
		case errors.As(err, &se):
			return se.Code, se.Error()
		case errors.Is(err, fs.ErrNotExist):
			return 2, ""
		case errors.Is(err, fs.ErrPermission):
			return 3, ""
		}
		return 0, fmt.Sprint(err)
	}
	const (
		noSuchFile       = 2
		permissionDenied = 3
		failure          = 4
	)
	create := func(p string) error { _, err := sc.Create(p); return err }
	_, openErr := sc.Open("/out/missing.xml")
	overErr := put(sc, "/in/big.xml", make([]byte, 101))
	for _, c := range []struct {
		what string
		err  error
		code uint32
		msg  string
	}{
		{"upload to /out", create("/out/f.xml"), permissionDenied, ""},
		{"upload to /", create("/f.xml"), permissionDenied, ""},
		{"upload to /in/sub", create("/in/sub/f.xml"), noSuchFile, ""},
		{"name already there", create("/in/.kept.part"), failure, "/in/.kept.part already exists"},
		{"over max_file_size", overErr, failure, "/in/big.xml: file over max_file_size of 100 bytes"},
		{"read missing", openErr, noSuchFile, ""},
		{"read /in", func() error { _, err := sc.Open("/in/.kept.part"); return err }(), permissionDenied, ""},
		{"remove missing", sc.Remove("/out/missing.xml"), noSuchFile, ""},
		{"posix-rename onto an existing name", func() error {
			if err := put(sc, "/in/.a.part", []byte("<a/>")); err != nil {
				return err
			}
			return sc.PosixRename("/in/.a.part", "/in/.kept.part")
		}(), failure, "/in/.kept.part already exists"},
		{"rename out of /in", sc.Rename("/in/.a.part", "/out/a.xml"), permissionDenied, ""},
		{"too many uploads open", func() error {
			for range uploadsPerSession*4 + 1 {
				if _, err := sc.Create(fmt.Sprintf("/in/.open%d.part", rand.Int())); err != nil {
					return err
				}
			}
			return nil
		}(), failure, "too many uploads open at once (at most 64)"},
	} {
		code, msg := status(c.err)
		if code != c.code || !strings.Contains(msg, c.msg) {
			t.Errorf("%s: status %d %q, want %d %q", c.what, code, msg, c.code, c.msg)
		}
		if strings.Contains(msg, f.mb.Root) {
			t.Errorf("%s: hub path in %q", c.what, msg)
		}
	}
	if err := sc.PosixRename("/in/.a.part", "/in/a.xml"); err != nil {
		t.Errorf("posix-rename within /in: %v", err)
	}
}
