package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"

	"flowgate/config"
	"flowgate/flows"
	"flowgate/internal/sshtest"
)

// sftpHub runs the daemon with its embedded SFTP server and OpenSSH's sftp
// client in batch mode as the partner.
type sftpHub struct {
	cfg        config.Config
	port       int
	key        string // the partner's private key
	knownHosts string
	logs       *syncLog
}

type syncLog struct {
	mu  chan struct{}
	buf bytes.Buffer
}

func (l *syncLog) Write(p []byte) (int, error) {
	l.mu <- struct{}{}
	defer func() { <-l.mu }()
	return l.buf.Write(p)
}

func (l *syncLog) String() string {
	l.mu <- struct{}{}
	defer func() { <-l.mu }()
	return l.buf.String()
}

func startSFTPHub(t *testing.T) *sftpHub { return startSFTPHubWith(t, nil) }

// startSFTPHubWith lets adjust change the configuration before the daemon
// starts.
func startSFTPHubWith(t *testing.T, adjust func(*config.Config)) *sftpHub {
	t.Helper()
	for _, bin := range []string{"sftp", "ssh-keygen"} {
		if _, err := exec.LookPath(bin); err != nil {
			t.Skipf("%s not installed (Debian: openssh-client)", bin)
		}
	}
	root := t.TempDir()
	h := &sftpHub{key: filepath.Join(root, "fourn01"), knownHosts: filepath.Join(root, "known_hosts"), logs: &syncLog{mu: make(chan struct{}, 1)}}
	sshtest.Keygen(t, h.key)
	h.port = sshtest.FreePort(t)
	dir, _ := filepath.Abs("../../samples/directory")
	cfg := config.DefaultConfig()
	cfg.Root, cfg.Directory = filepath.Join(root, "hub"), dir
	cfg.Settle = config.Duration{Duration: 300 * time.Millisecond}
	cfg.SFTP = config.SFTP{Listen: fmt.Sprintf("127.0.0.1:%d", h.port), MaxAuthTries: 6}
	cfg.Partners = []config.Partner{
		{ID: "FOURN01", Name: "Fournitures Durand", SIRETs: []string{crashSupplier}, AuthorizedKeys: h.key + ".pub"},
		{ID: "VALMONT", Name: "Valmont", Receives: []string{crashRecipient}},
	}
	cfg.ApplyDefaults()
	if adjust != nil {
		adjust(&cfg)
	}
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	os.MkdirAll(cfg.Root, 0o755)
	h.cfg = cfg
	ctx, cancel := context.WithCancel(context.Background())
	ready := make(chan struct{})
	done := make(chan error, 1)
	go func() { done <- serve(ctx, cfg, slog.New(slog.NewTextHandler(h.logs, nil)), ready) }()
	select {
	case <-ready:
	case err := <-done:
		t.Fatalf("daemon: %v", err)
	}
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("daemon: %v", err)
		}
	})
	// The host key the daemon generated, as the partner's known_hosts.
	data, err := os.ReadFile(cfg.SFTP.HostKey)
	if err != nil {
		t.Fatal(err)
	}
	if fi, _ := os.Stat(cfg.SFTP.HostKey); fi.Mode().Perm() != 0o600 {
		t.Errorf("host key mode %v, want 0600", fi.Mode().Perm())
	}
	signer, err := ssh.ParsePrivateKey(data)
	if err != nil {
		t.Fatal(err)
	}
	line := fmt.Sprintf("[127.0.0.1]:%d %s", h.port, ssh.MarshalAuthorizedKey(signer.PublicKey()))
	os.WriteFile(h.knownHosts, []byte(line), 0o600)
	return h
}

// sftp runs OpenSSH's sftp client in batch mode with these commands and
// returns its output and whether it succeeded.
func (h *sftpHub) sftp(t *testing.T, key string, commands ...string) (string, bool) {
	t.Helper()
	return h.sftpKeys(t, []string{key}, commands...)
}

// sftpKeys is sftp with the client offering these keys in turn, as it
// does those of its agent.
func (h *sftpHub) sftpKeys(t *testing.T, keys []string, commands ...string) (string, bool) {
	t.Helper()
	batch := filepath.Join(t.TempDir(), "batch")
	os.WriteFile(batch, []byte(strings.Join(commands, "\n")+"\n"), 0o600)
	args := []string{"-b", batch}
	for _, k := range keys {
		args = append(args, "-i", k)
	}
	cmd := exec.Command("sftp", append(args, "-P", fmt.Sprint(h.port),
		"-o", "BatchMode=yes", "-o", "StrictHostKeyChecking=yes", "-o", "UserKnownHostsFile="+h.knownHosts,
		"-o", "IdentitiesOnly=yes", "-o", "ConnectTimeout=10", "fourn01@127.0.0.1")...)
	out, err := cmd.CombinedOutput()
	return string(out), err == nil
}

// TestSFTPPartnerJourney: a partner uploads a flow with OpenSSH's sftp,
// sees its CR appear, downloads it and removes it.
func TestSFTPPartnerJourney(t *testing.T) {
	h := startSFTPHub(t)
	local := filepath.Join(t.TempDir(), "facture.xml")
	doc, _ := os.ReadFile("../../samples/flows/facture-acceptee.xml")
	os.WriteFile(local, doc, 0o644)
	if out, ok := h.sftp(t, h.key, "put "+local+" /in/facture.xml"); !ok {
		t.Fatalf("upload: %s\nlog:\n%s", out, h.logs)
	}
	var cr string
	deadline := time.Now().Add(15 * time.Second)
	for cr == "" {
		out, ok := h.sftp(t, h.key, "ls -1 /out")
		if !ok {
			t.Fatalf("ls: %s", out)
		}
		for _, line := range strings.Fields(out) {
			if name := strings.TrimPrefix(line, "/out/"); strings.HasPrefix(name, "CR_") && strings.HasSuffix(name, ".json") {
				cr = "/out/" + name
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("no CR appeared; log:\n%s", h.logs)
		}
		if cr == "" {
			time.Sleep(100 * time.Millisecond)
		}
	}
	got := filepath.Join(t.TempDir(), "cr.json")
	if out, ok := h.sftp(t, h.key, "get "+cr+" "+got, "rm "+cr); !ok {
		t.Fatalf("get and rm: %s", out)
	}
	var rep struct {
		File   string `json:"file"`
		Status string `json:"flow_status"`
	}
	data, _ := os.ReadFile(got)
	if err := json.Unmarshal(data, &rep); err != nil || rep.File != "facture.xml" || rep.Status != "IN_INTEGRE" {
		t.Errorf("CR %s: %v", data, err)
	}
	if _, err := os.Stat(filepath.Join(flows.Mailboxes{Root: h.cfg.Root}.Out("FOURN01"), strings.TrimPrefix(cr, "/out/"))); err == nil {
		t.Error("CR still on the hub after rm")
	}
}

// TestSFTPEscapesFail: every way out of the partner's mailbox fails, and
// so does writing anywhere but /in.
func TestSFTPEscapesFail(t *testing.T) {
	h := startSFTPHub(t)
	mb := flows.Mailboxes{Root: h.cfg.Root}
	local := filepath.Join(t.TempDir(), "f.xml")
	os.WriteFile(local, []byte("<x/>"), 0o644)
	secret := filepath.Join(t.TempDir(), "secret.txt")
	os.WriteFile(secret, []byte("secret"), 0o644)
	os.Symlink(secret, filepath.Join(mb.Inbox("FOURN01"), "link.xml"))
	os.Symlink(h.cfg.Root, filepath.Join(mb.Returns("FOURN01"), "root"))
	os.WriteFile(filepath.Join(mb.Inbox("VALMONT"), "other.xml"), []byte("another partner's"), 0o644)
	attempts := [][]string{
		{"put " + local + " /../f.xml"},
		{"put " + local + " ../../f.xml"},
		{"put " + local + " /out/f.xml"},
		{"put " + local + " /inbox/f.xml"},
		{"put " + local + " /f.xml"},
		{"put " + local + " /in/sub/f.xml"},
		{"get /../flowgate.db " + filepath.Join(t.TempDir(), "db")},
		{"get /../../VALMONT/inbox/other.xml " + filepath.Join(t.TempDir(), "o")},
		{"get /inbox/link.xml " + filepath.Join(t.TempDir(), "s")},
		{"ls /returns/root/"},
		{"mkdir /in/d"},
		{"symlink /out /in/l"},
		{"rename /out /in/out"},
		{"rm /in"},
		{"chdir /.."},
	}
	for _, cmds := range attempts {
		out, ok := h.sftp(t, h.key, append([]string{"progress"}, cmds...)...)
		if ok && cmds[0] != "chdir /.." {
			t.Errorf("%q succeeded: %s", cmds, out)
		}
	}
	// "cd /.." lands on "/": still the mailbox.
	out, _ := h.sftp(t, h.key, "cd /..", "ls -1")
	for _, area := range []string{"in", "out", "inbox", "returns"} {
		if !strings.Contains(out, area) {
			t.Errorf("root listing %q lacks %s", out, area)
		}
	}
	if strings.Contains(out, "partners") || strings.Contains(out, "flowgate.db") {
		t.Errorf("root listing shows the hub: %s", out)
	}
	for _, p := range []string{filepath.Join(h.cfg.Root, "f.xml"), filepath.Join(mb.Out("FOURN01"), "f.xml"), filepath.Join(mb.Inbox("FOURN01"), "f.xml")} {
		if _, err := os.Stat(p); err == nil {
			t.Errorf("%s written", p)
		}
	}
}

func TestSFTPWrongKeyRefused(t *testing.T) {
	h := startSFTPHub(t)
	other := filepath.Join(t.TempDir(), "other")
	sshtest.Keygen(t, other)
	if out, ok := h.sftp(t, other, "ls /"); ok {
		t.Fatalf("wrong key accepted: %s", out)
	}
	// A failed connection is logged when it ends, which the client may
	// not wait for.
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(h.logs.String(), `msg="SFTP login refused" remote=127.0.0.1:`) {
		if time.Now().After(deadline) {
			t.Fatalf("refusal not logged with the remote address:\n%s", h.logs)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestSFTPOtherKeysFirst: OpenSSH's client offering five other keys before
// the partner's logs in, even right after failed connections from the same
// address (a partner behind the NAT of a failing client): attempts are not
// delayed, only connections that end without logging in are.
func TestSFTPOtherKeysFirst(t *testing.T) {
	h := startSFTPHub(t)
	dir := t.TempDir()
	var keys []string
	for i := range 5 {
		k := filepath.Join(dir, fmt.Sprintf("other%d", i))
		sshtest.Keygen(t, k)
		keys = append(keys, k)
	}
	for range 2 {
		if out, ok := h.sftp(t, keys[0], "ls /"); ok {
			t.Fatalf("unknown key accepted: %s", out)
		}
	}
	out, ok := h.sftpKeys(t, append(keys, h.key), "ls /")
	if !ok || !strings.Contains(out, "in") {
		t.Fatalf("partner refused after 5 other keys: %s\nlog:\n%s", out, h.logs)
	}
	if !strings.Contains(h.logs.String(), "partner=FOURN01 remote=127.0.0.1:") || !strings.Contains(h.logs.String(), "refused_keys=5") {
		t.Errorf("login not logged with its refused keys:\n%s", h.logs)
	}
}

// TestPollingPartnerJourney: the daemon, configured with a remote, polls
// the partner's OpenSSH server: the flow left there is ingested and
// removed, delivered, and its status files appear in the partner's out_dir.
func TestPollingPartnerJourney(t *testing.T) {
	srv := sshtest.Start(t)
	depot, retours := filepath.Join(srv.Dir, "depot"), filepath.Join(srv.Dir, "retours")
	os.MkdirAll(depot, 0o755)
	os.MkdirAll(retours, 0o755)
	host, portText, _ := net.SplitHostPort(srv.Addr)
	port, _ := strconv.Atoi(portText)
	root := t.TempDir()
	dir, _ := filepath.Abs("../../samples/directory")
	cfg := config.DefaultConfig()
	cfg.Root, cfg.Directory = filepath.Join(root, "hub"), dir
	cfg.Partners = []config.Partner{
		{ID: "FOURN01", Name: "Fournitures Durand", SIRETs: []string{crashSupplier}, Remotes: []config.Remote{{
			Host: host, Port: port, User: srv.User, PrivateKey: srv.ClientKey, KnownHosts: srv.KnownHosts,
			InDir: depot, OutDir: retours, Schedule: "@every 1s"}}},
		{ID: "VALMONT", Name: "Valmont", Receives: []string{crashRecipient}},
	}
	cfg.ApplyDefaults()
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	os.MkdirAll(cfg.Root, 0o755)
	logs := &syncLog{mu: make(chan struct{}, 1)}
	ctx, cancel := context.WithCancel(context.Background())
	ready := make(chan struct{})
	done := make(chan error, 1)
	go func() { done <- serve(ctx, cfg, slog.New(slog.NewTextHandler(logs, nil)), ready) }()
	select {
	case <-ready:
	case err := <-done:
		t.Fatalf("daemon: %v", err)
	}
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("daemon: %v", err)
		}
	}()

	doc, _ := os.ReadFile("../../samples/flows/facture-acceptee.xml")
	os.WriteFile(filepath.Join(depot, ".facture.xml.part"), doc, 0o644)
	os.Rename(filepath.Join(depot, ".facture.xml.part"), filepath.Join(depot, "facture.xml"))
	deadline := time.Now().Add(20 * time.Second)
	for {
		crs, _ := filepath.Glob(filepath.Join(retours, "CR_*.json"))
		if len(crs) == 1 {
			data, _ := os.ReadFile(crs[0])
			if !strings.Contains(string(data), `"file":"facture.xml"`) || !strings.Contains(string(data), `"IN_INTEGRE"`) {
				t.Errorf("CR pushed: %s", data)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no CR pushed to the partner's server; log:\n%s", logs)
		}
		time.Sleep(100 * time.Millisecond)
	}
	if left, _ := os.ReadDir(depot); len(left) != 0 {
		t.Errorf("partner's depot still holds %d files", len(left))
	}
	if inbox, _ := os.ReadDir(flows.Mailboxes{Root: cfg.Root}.Inbox("VALMONT")); len(inbox) != 1 {
		t.Errorf("recipient's inbox holds %d files", len(inbox))
	}
}

// TestDaemonWarnsOfKeyFiles: private keys readable by others (the SFTP
// host key, a remote's key) and a known_hosts listing no host are warned
// about at start, with their paths and modes; the daemon still runs.
func TestDaemonWarnsOfKeyFiles(t *testing.T) {
	root := t.TempDir()
	for _, k := range []string{"host_key", "hub_key", "partner"} {
		sshtest.Keygen(t, filepath.Join(root, k))
	}
	os.Chmod(filepath.Join(root, "host_key"), 0o644)
	os.Chmod(filepath.Join(root, "hub_key"), 0o640)
	os.WriteFile(filepath.Join(root, "known_hosts"), []byte("# filled in later\n"), 0o644)
	dir, _ := filepath.Abs("../../samples/directory")
	cfg := config.DefaultConfig()
	cfg.Root, cfg.Directory = filepath.Join(root, "hub"), dir
	cfg.SFTP = config.SFTP{Listen: fmt.Sprintf("127.0.0.1:%d", sshtest.FreePort(t)), HostKey: filepath.Join(root, "host_key"), MaxAuthTries: 6}
	cfg.Partners = []config.Partner{
		{ID: "FOURN01", Name: "Fournitures Durand", SIRETs: []string{crashSupplier}, AuthorizedKeys: filepath.Join(root, "partner.pub"),
			Remotes: []config.Remote{{Host: "127.0.0.1", Port: sshtest.FreePort(t), User: "hub", PrivateKey: filepath.Join(root, "hub_key"),
				KnownHosts: filepath.Join(root, "known_hosts"), InDir: "/depot", Schedule: "@every 1h"}}},
	}
	cfg.ApplyDefaults()
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	os.MkdirAll(cfg.Root, 0o755)
	logs := &syncLog{mu: make(chan struct{}, 1)}
	ctx, cancel := context.WithCancel(context.Background())
	ready := make(chan struct{})
	done := make(chan error, 1)
	go func() { done <- serve(ctx, cfg, slog.New(slog.NewTextHandler(logs, nil)), ready) }()
	select {
	case <-ready:
	case err := <-done:
		t.Fatalf("daemon: %v", err)
	}
	cancel()
	if err := <-done; err != nil {
		t.Errorf("daemon: %v", err)
	}
	for _, want := range []string{
		"private key " + filepath.Join(root, "host_key") + " has mode 0644",
		"private key " + filepath.Join(root, "hub_key") + " has mode 0640",
		"known_hosts " + filepath.Join(root, "known_hosts") + " lists no host",
	} {
		if !strings.Contains(logs.String(), want) {
			t.Errorf("no warning %q in:\n%s", want, logs)
		}
	}
}

// TestSFTPErrorsSayWhatHappened: each refusal reaches OpenSSH's sftp
// client as the most precise status it shows (it prints the status, not
// the server's message), and the server logs the reason with partner and
// path. OpenSSH's rename works within /in.
func TestSFTPErrorsSayWhatHappened(t *testing.T) {
	h := startSFTPHubWith(t, func(c *config.Config) {
		c.Partners[0].MaxFileSize = 1000
		c.Partners[0].MaxPendingBytes = 2000
		c.Partners[0].MaxSessions = 1
	})
	in := flows.Mailboxes{Root: h.cfg.Root}.In("FOURN01")
	dir := t.TempDir()
	local, big := filepath.Join(dir, "f.xml"), filepath.Join(dir, "big.xml")
	os.WriteFile(local, []byte("<x/>"), 0o644)
	os.WriteFile(big, make([]byte, 1001), 0o644)
	// A name the intake leaves alone (a temporary one) stands for a file
	// not taken yet.
	os.WriteFile(filepath.Join(in, ".taken.part"), []byte("<y/>"), 0o644)
	cases := []struct {
		name   string
		cmds   []string
		client string // what OpenSSH's sftp prints
		log    string // what the server logs
		setup  func()
	}{
		{name: "upload to a read-only folder", cmds: []string{"put " + local + " /out/f.xml"},
			client: `dest open "/out/f.xml": Permission denied`,
			log:    `partner=FOURN01 op=put path=/out/f.xml reason="/out is read-only: only /in accepts files`},
		{name: "upload to the root", cmds: []string{"put " + local + " /f.xml"},
			client: `dest open "/f.xml": Permission denied`,
			log:    `partner=FOURN01 op=put path=/f.xml reason="/f.xml: only /in accepts files`},
		{name: "upload to a folder that does not exist", cmds: []string{"put " + local + " /in/sub/f.xml"},
			client: `dest open "/in/sub/f.xml": No such file or directory`,
			log:    `partner=FOURN01 op=put path=/in/sub/f.xml reason="no folder /in/sub`},
		{name: "mkdir", cmds: []string{"mkdir /in/d"},
			client: `remote mkdir "/in/d": Permission denied`,
			log:    `partner=FOURN01 op=mkdir path=/in/d`},
		{name: "name already there", cmds: []string{"put " + local + " /in/.taken.part"},
			client: `dest open "/in/.taken.part": Failure`,
			log:    `partner=FOURN01 op=put path=/in/.taken.part reason="/in/.taken.part already exists`},
		{name: "rename onto a name already there", cmds: []string{"put " + local + " /in/.a.part", "rename /in/.a.part /in/.taken.part"},
			client: `Failure`,
			log:    `partner=FOURN01 op=rename path="/in/.a.part -> /in/.taken.part" reason="/in/.taken.part already exists`},
		{name: "over max_file_size", cmds: []string{"put " + big + " /in/big.xml"},
			client: `write remote "/in/big.xml": Failure`,
			log:    `msg="SFTP upload refused: over max_file_size" partner=FOURN01 path=/in/big.xml`},
		{name: "pending bytes over the quota", cmds: []string{"put " + local + " /in/q.xml"},
			setup:  func() { os.WriteFile(filepath.Join(in, ".left.part"), make([]byte, 2000), 0o644) },
			client: `dest open "/in/q.xml": Failure`,
			log:    `partner=FOURN01 op=put path=/in/q.xml reason="pending bytes over the quota of 2000 (max_pending_bytes)`},
	}
	for _, c := range cases {
		os.Remove(filepath.Join(in, ".a.part"))
		os.Remove(filepath.Join(in, ".left.part"))
		if c.setup != nil {
			c.setup()
		}
		out, ok := h.sftp(t, h.key, c.cmds...)
		if ok || !strings.Contains(out, c.client) {
			t.Errorf("%s: sftp succeeded %v, printed %q, want %q", c.name, ok, out, c.client)
		}
		if !strings.Contains(h.logs.String(), c.log) {
			t.Errorf("%s: no %q in the log", c.name, c.log)
		}
	}
	if data, _ := os.ReadFile(filepath.Join(in, ".taken.part")); string(data) != "<y/>" {
		t.Errorf("file already there changed: %q", data)
	}
	// OpenSSH's rename moves an upload into place.
	os.Remove(filepath.Join(in, ".left.part"))
	if out, ok := h.sftp(t, h.key, "put "+local+" /in/.b.part", "rename /in/.b.part /in/.c.part"); !ok {
		t.Errorf("rename within /in: %s", out)
	}
	// Past max_sessions, the client is told why.
	signer, err := flows.LoadSigner(h.key)
	if err != nil {
		t.Fatal(err)
	}
	// Hold the one session: a channel opened on it proves the server counted
	// it. The earlier clients' slots are freed when the server sees them
	// close, a moment after they exit: try until this one gets the slot.
	var held *ssh.Client
	deadline := time.Now().Add(10 * time.Second)
	for {
		held, err = ssh.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", h.port), &ssh.ClientConfig{User: "fourn01",
			Auth: []ssh.AuthMethod{ssh.PublicKeys(signer)}, HostKeyCallback: ssh.InsecureIgnoreHostKey()})
		if err != nil {
			t.Fatal(err)
		}
		sess, serr := held.NewSession()
		if serr == nil {
			defer sess.Close()
			break
		}
		held.Close()
		if time.Now().After(deadline) {
			t.Fatalf("held connection: %v", serr)
		}
		time.Sleep(50 * time.Millisecond)
	}
	defer held.Close()
	out, ok := h.sftp(t, h.key, "ls /")
	if want := "open failed: resource shortage: too many connections of partner FOURN01 (max_sessions 1)"; ok || !strings.Contains(out, want) {
		t.Errorf("over max_sessions: sftp succeeded %v, printed %q, want %q", ok, out, want)
	}
	if !strings.Contains(h.logs.String(), `msg="SFTP session refused: too many sessions" partner=FOURN01`) {
		t.Error("session refusal not logged")
	}
}

// TestSFTPKeysCheckedBeforeStart: a public key in two partners'
// authorized_keys, and an option flowgate does not implement, are reported
// by `config check` and stop `run`, naming partners, files, lines and
// option; an expired key is warned of.
func TestSFTPKeysCheckedBeforeStart(t *testing.T) {
	root := t.TempDir()
	sshtest.Keygen(t, filepath.Join(root, "k"))
	pub, err := os.ReadFile(filepath.Join(root, "k.pub"))
	if err != nil {
		t.Fatal(err)
	}
	fourn, valmont := filepath.Join(root, "fourn01.pub"), filepath.Join(root, "valmont.pub")
	dir, _ := filepath.Abs("../../samples/directory")
	path := filepath.Join(root, "flowgate.toml")
	os.WriteFile(path, fmt.Appendf(nil, `root = %q
directory = %q

[sftp]
listen = "127.0.0.1:%d"

[[partners]]
id = "FOURN01"
name = "Fournitures Durand"
sirets = [%q]
authorized_keys = %q

[[partners]]
id = "VALMONT"
name = "Commune de Valmont"
receives = [%q]
authorized_keys = %q
`, filepath.Join(root, "hub"), dir, sshtest.FreePort(t), crashSupplier, fourn, crashRecipient, valmont), 0o644)
	check := func(want string) {
		t.Helper()
		_, stderr, code := runCmd("config", "check", "-config", path)
		if code != 2 || !strings.Contains(stderr, want) {
			t.Errorf("config check: exit %d, stderr %q, want %q", code, stderr, want)
		}
		cfg, err := config.Load(path)
		if err != nil {
			t.Fatal(err)
		}
		// Should it start, it is stopped at once.
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		ready := make(chan struct{})
		go func() { <-ready; cancel() }()
		err = serve(ctx, cfg, slog.New(slog.NewTextHandler(io.Discard, nil)), ready)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("run: %v, want %q", err, want)
		}
	}
	os.WriteFile(fourn, pub, 0o644)
	os.WriteFile(valmont, append([]byte("# Valmont's operator\n"), pub...), 0o644)
	check(fmt.Sprintf("is authorized for two partners: FOURN01 (%s:1) and VALMONT (%s:2)", fourn, valmont))
	os.WriteFile(valmont, append([]byte(`restrict,command="/bin/sh" `), pub...), 0o644)
	check(fmt.Sprintf("partner VALMONT: authorized keys %s:1: option command is not supported", valmont))
	// An expired key is only warned of: it may stay, refused.
	os.WriteFile(fourn, append([]byte(`expiry-time="20200101Z" `), pub...), 0o644)
	sshtest.Keygen(t, filepath.Join(root, "v"))
	vpub, _ := os.ReadFile(filepath.Join(root, "v.pub"))
	os.WriteFile(valmont, vpub, 0o644)
	out, stderr, code := runCmd("config", "check", "-config", path)
	if want := fmt.Sprintf("warning: partner FOURN01: authorized key %s:1 expired at 2020-01-01T00:00:00Z", fourn); code != 0 || !strings.Contains(out, want) {
		t.Errorf("expired key: exit %d, stdout %q, stderr %q, want %q", code, out, stderr, want)
	}
}
