package flows

import (
	"bytes"
	"context"
	"net"
	"os"
	"path/filepath"
	"strings"
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
	dir := t.TempDir()
	f := &serverFixture{mb: newMailboxes(t), key: filepath.Join(dir, "p1"), logs: &syncBuffer{}}
	keygen(t, f.key)
	var err error
	if f.host, err = LoadHostKey(filepath.Join(dir, "host"), discardLog()); err != nil {
		t.Fatal(err)
	}
	f.srv = &SFTPServer{Listen: "127.0.0.1:0", HostKey: f.host, Mailboxes: f.mb, MaxAuthTries: 6, Log: newTestLog(f.logs),
		Partners: []SFTPPartner{{ID: "P1", Keys: []ssh.PublicKey{publicKey(t, f.key+".pub")}, MaxFileSize: maxSize, MaxSessions: maxSessions}}}
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
	signer, err := LoadSigner(f.key)
	if err != nil {
		t.Fatal(err)
	}
	c, err := ssh.Dial("tcp", f.srv.Addr().String(), &ssh.ClientConfig{User: "p1", Auth: []ssh.AuthMethod{ssh.PublicKeys(signer)},
		HostKeyCallback: ssh.FixedHostKey(f.host.PublicKey()), Timeout: 5 * time.Second})
	if err != nil {
		return nil, nil, err
	}
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
	w, _ := sc.Create("/in/f.xml.filepart")
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
	// An upload over an existing name in in/ is refused, the file kept.
	w, _ = sc.Create("/in/f.xml")
	w.Write([]byte("<other/>"))
	if err := w.Close(); err == nil {
		t.Error("upload replaced an existing file")
	}
	if data, _ := os.ReadFile(filepath.Join(f.mb.In("P1"), "f.xml")); string(data) != "<x/>" {
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
