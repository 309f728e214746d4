package main

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"flowgate/config"

	"golang.org/x/crypto/ssh"
)

// TestFlagsAnywhere: flags after positional arguments count as before them;
// `validate f.xml -directory d` checks against the directory.
func TestFlagsAnywhere(t *testing.T) {
	t.Chdir("../..")
	// Rejected only by the directory: the service code is unknown there.
	const f = "samples/flows/rejets/CPP-SERVICE-INCONNU.xml"
	if _, err := os.Stat(f); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{
		{"validate", "-directory", "samples/directory", f},
		{"validate", f, "-directory", "samples/directory"},
		{"validate", f, "-directory=samples/directory", "-format", "json"},
	} {
		out, stderr, code := runCmd(args...)
		if code != 1 || !strings.Contains(out, "CPP-SERVICE-INCONNU") || strings.Contains(stderr, "no directory given") {
			t.Errorf("%v: exit %d, stdout %q, stderr %q", args, code, out, stderr)
		}
	}
	// "--" ends the flags: what follows is a file, even if it looks like one.
	_, stderr, code := runCmd("validate", "--", "-directory")
	if code != 2 || !strings.Contains(stderr, "-directory: no such file") {
		t.Errorf("after --: exit %d, stderr %q", code, stderr)
	}
}

// TestHelpAndVersion: -h and --help print the usage on standard output and
// exit 0, for flowgate and for every command; version names the build.
func TestHelpAndVersion(t *testing.T) {
	for _, args := range [][]string{
		{"-h"}, {"--help"}, {"help"},
		{"validate", "-h"}, {"validate", "--help"}, {"run", "-h"}, {"run", "--help"},
		{"demo", "-h"}, {"config", "check", "--help"}, {"validate", "f.xml", "--help"},
		{"config", "-h"}, {"flow", "--help"}, {"invoice", "help"}, {"flow", "list", "-h"},
	} {
		out, stderr, code := runCmd(args...)
		if code != 0 || !strings.Contains(out, "flowgate ") || stderr != "" {
			t.Errorf("%v: exit %d, stdout %q, stderr %q", args, code, out, stderr)
		}
	}
	for _, args := range [][]string{{"version"}, {"--version"}} {
		out, _, code := runCmd(args...)
		if code != 0 || !strings.HasPrefix(out, "flowgate ") || !strings.Contains(out, "go1.") {
			t.Errorf("%v: exit %d, %q", args, code, out)
		}
	}
}

// TestUnexpectedArgument names the argument instead of asking for -config.
func TestUnexpectedArgument(t *testing.T) {
	_, stderr, code := runCmd("run", "-config", "x.toml", "extra")
	if code != 2 || !strings.Contains(stderr, "unexpected argument extra") {
		t.Errorf("exit %d, stderr %q", code, stderr)
	}
	_, stderr, code = runCmd("demo", "now")
	if code != 2 || !strings.Contains(stderr, "unexpected argument now") {
		t.Errorf("demo: exit %d, stderr %q", code, stderr)
	}
}

// writeConfig writes a configuration of two partners over the sample
// directory; VALMONT receives extra SIRETs besides its own.
func writeConfig(t *testing.T, root string, receives ...string) string {
	t.Helper()
	dir, err := filepath.Abs("../../samples/directory")
	if err != nil {
		t.Fatal(err)
	}
	quoted := make([]string, 0, len(receives)+1)
	for _, s := range append([]string{crashRecipient}, receives...) {
		quoted = append(quoted, strconv.Quote(s))
	}
	cfg := fmt.Sprintf(`root = %q
directory = %q
settle = "200ms"

[[partners]]
id = "FOURN01"
name = "Fournitures Durand"
sirets = [%q]

[[partners]]
id = "VALMONT"
name = "Commune de Valmont"
receives = [%s]
`, filepath.Join(root, "hub"), dir, crashSupplier, strings.Join(quoted, ", "))
	path := filepath.Join(root, "flowgate.toml")
	if err := os.WriteFile(path, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestConfigCheck: a usable configuration is said so with the directory's
// size, a SIRET nobody can deliver to is warned of, and a broken one lists
// its problems; nothing is started (no root is created).
func TestConfigCheck(t *testing.T) {
	root := t.TempDir()
	path := writeConfig(t, root, "99000009000011")
	out, stderr, code := runCmd("config", "check", "-config", path)
	if code != 0 || !strings.Contains(out, ": ok (2 partners, directory:") ||
		!strings.Contains(out, "partner VALMONT receives 99000009000011, which the directory does not list") {
		t.Errorf("exit %d, stdout %q, stderr %q", code, out, stderr)
	}
	if _, err := os.Stat(filepath.Join(root, "hub")); err == nil {
		t.Error("config check created the root")
	}
	// Flags after the subcommand's name, either side.
	if _, _, code := runCmd("config", "check", path, "-config", path); code != 2 {
		t.Errorf("stray argument: exit %d", code)
	}
	bad := filepath.Join(root, "bad.toml")
	os.WriteFile(bad, []byte("root = \"\"\n[[partners]]\nid = \"x\"\n"), 0o644)
	_, stderr, code = runCmd("config", "check", "-config", bad)
	if code != 2 || !strings.Contains(stderr, "directory") || !strings.Contains(stderr, "root") {
		t.Errorf("bad config: exit %d, stderr %q", code, stderr)
	}
	if _, _, code := runCmd("config"); code != 2 {
		t.Errorf("config alone: exit %d", code)
	}
}

// TestOneDaemonPerRoot: a second daemon on the same root stops at once,
// naming the PID that holds the lock.
func TestOneDaemonPerRoot(t *testing.T) {
	root := t.TempDir()
	cfg, err := config.Load(writeConfig(t, root))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	ready := make(chan struct{})
	done := make(chan error, 1)
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	go func() { done <- serve(ctx, cfg, log, ready) }()
	select {
	case <-ready:
	case err := <-done:
		t.Fatalf("first daemon: %v", err)
	}
	err = serve(context.Background(), cfg, log, nil)
	want := fmt.Sprintf("another flowgate (PID %d) is running on %s", os.Getpid(), cfg.Root)
	if err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("second daemon: %v, want %q", err, want)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	// Once the first is gone, the root is free again.
	ctx2, cancel2 := context.WithCancel(context.Background())
	ready2 := make(chan struct{})
	go func() { done <- serve(ctx2, cfg, log, ready2) }()
	select {
	case <-ready2:
	case err := <-done:
		t.Fatalf("daemon after the first stopped: %v", err)
	}
	cancel2()
	<-done
}

// TestSIGHUPDoesNotKill: the built daemon logs SIGHUP and goes on; SIGTERM
// then stops it cleanly.
func TestSIGHUPDoesNotKill(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the daemon")
	}
	bin := buildBinary(t)
	root := t.TempDir()
	logs := &syncBuffer{}
	cmd := exec.Command(bin, "run", "-config", writeConfig(t, root))
	cmd.Stderr = logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	waitUntil(t, logs, 30*time.Second, "the daemon running", func() bool { return strings.Contains(logs.String(), "flowgate running") })
	cmd.Process.Signal(syscall.SIGHUP)
	waitUntil(t, logs, 10*time.Second, "SIGHUP logged", func() bool { return strings.Contains(logs.String(), "SIGHUP received") })
	if err := cmd.Process.Signal(syscall.Signal(0)); err != nil {
		t.Fatalf("daemon gone after SIGHUP: %v", err)
	}
	cmd.Process.Signal(syscall.SIGTERM)
	if err := cmd.Wait(); err != nil {
		t.Fatalf("exit after SIGTERM: %v\n%s", err, logs.String())
	}
}

// TestConfigCheckKeyFiles: config check warns of a private key readable by
// others and of a known_hosts listing no host, before anything starts.
func TestConfigCheckKeyFiles(t *testing.T) {
	root := t.TempDir()
	path := writeConfig(t, root)
	key := filepath.Join(root, "id_ed25519")
	hosts := filepath.Join(root, "known_hosts")
	os.WriteFile(key, []byte("not read by config check"), 0o644)
	os.WriteFile(hosts, []byte("# nothing yet\n"), 0o600)
	f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprintf(f, "[[partners.remote]]\nhost = \"127.0.0.1\"\nuser = \"u\"\nprivate_key = %q\nknown_hosts = %q\nin_dir = \"/depot\"\n", key, hosts)
	f.Close()
	out, stderr, code := runCmd("config", "check", "-config", path)
	if code != 0 || !strings.Contains(out, "private key "+key+" has mode 0644") || !strings.Contains(out, "known_hosts "+hosts+" lists no host") {
		t.Errorf("exit %d, stdout %q, stderr %q", code, out, stderr)
	}
}

// TestFreshRootMode: a root the daemon creates is 0711 whatever the umask,
// so that local partners' accounts can reach their in/ through it.
func TestFreshRootMode(t *testing.T) {
	old := syscall.Umask(0o077)
	defer syscall.Umask(old)
	root := filepath.Join(t.TempDir(), "hub")
	release, err := lockRoot(root)
	if err != nil {
		t.Fatal(err)
	}
	defer release()
	fi, err := os.Stat(root)
	if err != nil {
		t.Fatal(err)
	}
	if got := fi.Mode().Perm(); got != 0o711 {
		t.Errorf("fresh root mode %04o, want 0711", got)
	}
}

// TestFlowListStatus: an unknown -status is a usage error, not an empty list.
func TestFlowListStatus(t *testing.T) {
	_, stderr, code := runCmd("flow", "list", "-config", "x.toml", "-status", "bogus")
	if code != 2 || !strings.Contains(stderr, `-status "bogus" is none of IN_INTEGRE`) {
		t.Errorf("exit %d, stderr %q", code, stderr)
	}
}

// TestConfigCheckAllAtOnce: a missing directory, a bad authorized_keys line
// and the same key in two partners' files are reported together.
func TestConfigCheckAllAtOnce(t *testing.T) {
	root := t.TempDir()
	pub, _, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	sk, err := ssh.NewPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	line := string(ssh.MarshalAuthorizedKey(sk))
	a, b := filepath.Join(root, "a.pub"), filepath.Join(root, "b.pub")
	os.WriteFile(a, []byte(line+"command=\"/bin/sh\" "+line), 0o600)
	os.WriteFile(b, []byte(line), 0o600)
	cfg := fmt.Sprintf(`root = %q
directory = %q
[sftp]
listen = "127.0.0.1:42999"
host_key = %q
[[partners]]
id = "FOURN01"
name = "A"
sirets = [%q]
authorized_keys = %q
[[partners]]
id = "FOURN02"
name = "B"
sirets = [%q]
authorized_keys = %q
`, filepath.Join(root, "hub"), filepath.Join(root, "nowhere"), filepath.Join(root, "host_key"), crashSupplier, a, crashSupplier, b)
	path := filepath.Join(root, "flowgate.toml")
	os.WriteFile(path, []byte(cfg), 0o644)
	_, stderr, code := runCmd("config", "check", "-config", path)
	for _, want := range []string{"directory:", "option command is not supported", "authorized for two partners: FOURN01"} {
		if !strings.Contains(stderr, want) {
			t.Errorf("stderr lacks %q:\n%s", want, stderr)
		}
	}
	if code != 2 {
		t.Errorf("exit %d, want 2", code)
	}
}

// TestSubcommands: a command group without its subcommand, or with an
// unknown one, is a usage error naming what it expects.
func TestSubcommands(t *testing.T) {
	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"config"}, "flowgate config: expected check"},
		{[]string{"flow"}, "flowgate flow: expected list or reprocess or show"},
		{[]string{"invoice", "paid"}, `flowgate invoice: unknown subcommand "paid"`},
	} {
		_, stderr, code := runCmd(tt.args...)
		if code != 2 || !strings.Contains(stderr, tt.want) {
			t.Errorf("%v: exit %d, stderr %q, want %q", tt.args, code, stderr, tt.want)
		}
	}
}
