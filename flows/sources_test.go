package flows

import (
	"bytes"
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/pkg/sftp"
	"golang.org/x/crypto/ssh"

	"flowgate/store"
)

// sourceKit drives one Source implementation for the conformance suite:
// deposits go through the source's own protocol, as a partner would make
// them.
type sourceKit struct {
	mb Mailboxes
	// deposit puts a complete flow through the source; it returns once the
	// source has handed it over (or will, for a local writer).
	deposit func(t *testing.T, name string, data []byte)
	// interrupt starts a deposit and breaks it midway.
	interrupt func(t *testing.T, name string, data []byte)
	// escape tries to put a file outside the partner's mailbox; it returns
	// the paths that must not exist afterwards.
	escape func(t *testing.T) []string
}

func newMailboxes(t *testing.T) Mailboxes {
	mb := Mailboxes{Root: t.TempDir()}
	if err := mb.Create([]string{"P1"}); err != nil {
		t.Fatal(err)
	}
	return mb
}

func discardLog() *slog.Logger { return slog.New(slog.NewTextHandler(&syncBuffer{}, nil)) }

// localKit: the partner writes into its in/ folder itself.
func localKit(t *testing.T) sourceKit {
	mb := newMailboxes(t)
	return sourceKit{mb: mb,
		deposit: func(t *testing.T, name string, data []byte) {
			tmp := filepath.Join(mb.In("P1"), "."+name+".tmp")
			if err := os.WriteFile(tmp, data, 0o644); err != nil {
				t.Fatal(err)
			}
			if err := os.Rename(tmp, filepath.Join(mb.In("P1"), name)); err != nil {
				t.Fatal(err)
			}
		},
		interrupt: func(t *testing.T, name string, data []byte) {
			// A writer that died midway leaves its temporary name.
			os.WriteFile(filepath.Join(mb.In("P1"), name+".part"), data[:len(data)/2], 0o644)
		},
	}
}

// sftpServerKit: the partner uploads to the embedded SFTP server.
func sftpServerKit(t *testing.T) sourceKit {
	mb := newMailboxes(t)
	dir := t.TempDir()
	keygen(t, filepath.Join(dir, "p1"))
	host, err := LoadHostKey(filepath.Join(dir, "host"), discardLog())
	if err != nil {
		t.Fatal(err)
	}
	srv := &SFTPServer{Listen: "127.0.0.1:0", HostKey: host, Mailboxes: mb, MaxAuthTries: 6, Log: discardLog(),
		Partners: []SFTPPartner{{ID: "P1", Keys: []AuthorizedKey{{Key: publicKey(t, filepath.Join(dir, "p1.pub"))}}, MaxFileSize: 1 << 20, MaxSessions: 4}}}
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- srv.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	connect := func(t *testing.T) (*ssh.Client, *sftp.Client) {
		signer, err := LoadSigner(filepath.Join(dir, "p1"))
		if err != nil {
			t.Fatal(err)
		}
		c, err := ssh.Dial("tcp", srv.Addr().String(), &ssh.ClientConfig{User: "p1", Auth: []ssh.AuthMethod{ssh.PublicKeys(signer)},
			HostKeyCallback: ssh.FixedHostKey(host.PublicKey()), Timeout: 5 * time.Second})
		if err != nil {
			t.Fatal(err)
		}
		sc, err := sftp.NewClient(c)
		if err != nil {
			t.Fatal(err)
		}
		return c, sc
	}
	return sourceKit{mb: mb,
		deposit: func(t *testing.T, name string, data []byte) {
			c, sc := connect(t)
			defer c.Close()
			f, err := sc.Create("/in/" + name)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := f.Write(data); err != nil {
				t.Fatal(err)
			}
			if err := f.Close(); err != nil {
				t.Fatal(err)
			}
		},
		interrupt: func(t *testing.T, name string, data []byte) {
			c, sc := connect(t)
			f, err := sc.Create("/in/" + name)
			if err != nil {
				t.Fatal(err)
			}
			f.Write(data[:len(data)/2])
			c.Close() // the connection drops with the file open
		},
		escape: func(t *testing.T) []string {
			c, sc := connect(t)
			defer c.Close()
			for _, p := range []string{"/../escape.xml", "/../../escape.xml", "/out/escape.xml", "/escape.xml", "/in/../../escape.xml", "/in/sub/escape.xml"} {
				if f, err := sc.Create(p); err == nil {
					f.Write([]byte("x"))
					if f.Close() == nil {
						t.Errorf("upload to %s accepted", p)
					}
				}
			}
			return []string{filepath.Join(mb.Root, "escape.xml"), filepath.Join(mb.Root, "partners", "escape.xml"),
				filepath.Join(mb.Out("P1"), "escape.xml"), filepath.Join(filepath.Dir(mb.Root), "escape.xml")}
		},
	}
}

// pollerKit: the partner leaves flows on its own SFTP server (OpenSSH),
// which the hub polls.
func pollerKit(t *testing.T) sourceKit {
	mb := newMailboxes(t)
	srv := startSSHD(t)
	depot, retours := filepath.Join(srv.Dir, "depot"), filepath.Join(srv.Dir, "retours")
	os.MkdirAll(depot, 0o755)
	os.MkdirAll(retours, 0o755)
	st, err := store.Open(context.Background(), filepath.Join(t.TempDir(), "x.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	p := &Poller{Partner: "P1", Remote: srv.remote(t, depot, retours), Mailboxes: mb, Ledger: st, Log: discardLog()}
	run := func(t *testing.T) {
		if err := p.RunOnce(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	return sourceKit{mb: mb,
		deposit: func(t *testing.T, name string, data []byte) {
			tmp := filepath.Join(depot, "."+name+".tmp")
			os.WriteFile(tmp, data, 0o644)
			os.Rename(tmp, filepath.Join(depot, name))
			run(t)
			if _, err := os.Stat(filepath.Join(depot, name)); err == nil {
				t.Errorf("%s still on the partner's server after the poll", name)
			}
		},
		interrupt: func(t *testing.T, name string, data []byte) {
			// An upload still in progress on the partner's side.
			os.WriteFile(filepath.Join(depot, name+".part"), data[:len(data)/2], 0o644)
			run(t)
		},
		escape: func(t *testing.T) []string {
			// A link on the partner's server is never followed.
			secret := filepath.Join(srv.Dir, "secret.xml")
			os.WriteFile(secret, []byte("<secret/>"), 0o644)
			os.Symlink(secret, filepath.Join(depot, "link.xml"))
			run(t)
			return []string{filepath.Join(mb.In("P1"), "link.xml")}
		},
	}
}

// TestSourceConformance runs the same checks against every Source.
func TestSourceConformance(t *testing.T) {
	kits := map[string]func(*testing.T) sourceKit{
		"local folder":         localKit,
		"embedded SFTP server": sftpServerKit,
		"SFTP polling":         pollerKit,
	}
	for name, newKit := range kits {
		t.Run(name, func(t *testing.T) {
			k := newKit(t)
			ids, _ := NewIDs("")
			out := make(chan Claimed, 16)
			in := &Intake{Mailboxes: k.mb, Partners: []string{"P1"}, Settle: 300 * time.Millisecond, Rescan: time.Hour,
				IDs: ids, Log: discardLog(), Out: out}
			ctx, cancel := context.WithCancel(context.Background())
			done := make(chan error)
			go func() { done <- in.Run(ctx) }()
			defer func() { cancel(); <-done }()
			time.Sleep(50 * time.Millisecond)

			files := map[string][]byte{
				"a.xml":   []byte("<Invoice>a</Invoice>"),
				"b.zip":   bytes.Repeat([]byte("PK-binary\x00\x01"), 30000),
				"c d.xml": []byte("<Invoice>spaces in the name</Invoice>"),
			}
			for name, data := range files {
				k.deposit(t, name, data)
			}
			got := map[string][]byte{}
			for len(got) < len(files) {
				c := expectClaim(t, out, 5*time.Second)
				data, err := os.ReadFile(c.Path)
				if err != nil {
					t.Fatal(err)
				}
				if c.Partner != "P1" {
					t.Errorf("%s claimed for partner %s", c.Name, c.Partner)
				}
				if _, dup := got[c.Name]; dup {
					t.Errorf("%s claimed twice", c.Name)
				}
				got[c.Name] = data
			}
			for name, data := range files {
				if !bytes.Equal(got[name], data) {
					t.Errorf("%s: claimed %d bytes, deposited %d", name, len(got[name]), len(data))
				}
			}

			k.interrupt(t, "broken.xml", bytes.Repeat([]byte("<x/>"), 10000))
			expectNone(t, out, time.Second)
			if entries, _ := os.ReadDir(k.mb.In("P1")); len(entries) > 0 {
				for _, e := range entries {
					if e.Name() == "broken.xml" {
						t.Errorf("interrupted deposit in in/")
					}
				}
			}

			if k.escape != nil {
				for _, p := range k.escape(t) {
					if _, err := os.Lstat(p); err == nil {
						t.Errorf("escaped the mailbox: %s exists", p)
					}
				}
				expectNone(t, out, 500*time.Millisecond)
			}
		})
	}
}

func newTestLog(b *syncBuffer) *slog.Logger { return slog.New(slog.NewTextHandler(b, nil)) }
