// Package sshtest starts OpenSSH's sshd for tests: a real partner SFTP
// server on a loopback high port, in a temporary folder, never the
// system's sshd.
package sshtest

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// Keygen makes an ed25519 key pair with OpenSSH's ssh-keygen.
func Keygen(t testing.TB, path string) { KeygenType(t, path, "ed25519") }

// KeygenType makes a key pair of an ssh-keygen type ("ed25519", "ecdsa",
// "rsa") with OpenSSH's ssh-keygen, at its default size.
func KeygenType(t testing.TB, path, keyType string) {
	t.Helper()
	if out, err := exec.Command("ssh-keygen", "-q", "-t", keyType, "-N", "", "-C", "flowgate-test", "-f", path).CombinedOutput(); err != nil {
		t.Fatalf("ssh-keygen: %v\n%s", err, out)
	}
}

// DefaultHostKeyTypes are the host keys OpenSSH's sshd has by default
// (ssh-keygen -A), in the order of its configuration.
var DefaultHostKeyTypes = []string{"rsa", "ecdsa", "ed25519"}

func FreePort(t testing.TB) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// Server is an OpenSSH server started for a test, on a loopback high port,
// with its own configuration, host key and authorized key: a partner's
// SFTP server.
type Server struct {
	Addr      string
	User      string
	Dir       string // the test's folder: keys, config, and the partner's files
	ClientKey string // private key authorized on the server
	// KnownHosts is a known_hosts file holding only the server's ed25519
	// host key, as "ssh-keyscan -t ed25519" makes it.
	KnownHosts string
	// HostKeys are the server's private host key files by ssh-keygen type
	// ("rsa", "ecdsa", "ed25519"); the public halves are beside them (.pub).
	HostKeys map[string]string
	cmd      *exec.Cmd
}

// Options change the server Start makes.
type Options struct {
	// HostKeyTypes are the host keys the server has and offers (ssh-keygen
	// types); nil means DefaultHostKeyTypes, as a stock sshd.
	HostKeyTypes []string
}

// KnownHostsLine returns the known_hosts line of the server's host key of
// an ssh-keygen type, for its loopback address and port.
func (s *Server) KnownHostsLine(t testing.TB, keyType string) string {
	t.Helper()
	pub, err := os.ReadFile(s.HostKeys[keyType] + ".pub")
	if err != nil {
		t.Fatalf("host key %s: %v", keyType, err)
	}
	_, port, _ := net.SplitHostPort(s.Addr)
	return fmt.Sprintf("[127.0.0.1]:%s %s", port, pub)
}

// Start starts sshd, or skips the test when OpenSSH's server is not
// installed or the test does not run as root (sshd checks the login
// account). It is stopped when the test ends.
func Start(t testing.TB) *Server { return StartWith(t, Options{}) }

// StartWith is Start with options.
func StartWith(t testing.TB, opts Options) *Server {
	t.Helper()
	types := opts.HostKeyTypes
	if types == nil {
		types = DefaultHostKeyTypes
	}
	bin, err := exec.LookPath("sshd")
	if err != nil {
		if _, serr := os.Stat("/usr/sbin/sshd"); serr != nil {
			t.Skip("OpenSSH server not installed (Debian: openssh-server)")
		}
		bin = "/usr/sbin/sshd"
	}
	u, err := user.Current()
	if err != nil {
		t.Fatal(err)
	}
	if u.Uid != "0" {
		t.Skip("sshd for tests runs as root here (it checks the login user's account)")
	}
	// sshd wants its privilege separation folder.
	os.MkdirAll("/run/sshd", 0o755)
	dir := t.TempDir()
	s := &Server{Dir: dir, User: u.Username, ClientKey: filepath.Join(dir, "client"), KnownHosts: filepath.Join(dir, "known_hosts"),
		HostKeys: map[string]string{}}
	var hostKeyLines strings.Builder
	for _, typ := range types {
		s.HostKeys[typ] = filepath.Join(dir, "host_"+typ)
		KeygenType(t, s.HostKeys[typ], typ)
		fmt.Fprintf(&hostKeyLines, "HostKey %s\n", s.HostKeys[typ])
	}
	Keygen(t, s.ClientKey)
	pub, _ := os.ReadFile(s.ClientKey + ".pub")
	os.WriteFile(filepath.Join(dir, "authorized_keys"), pub, 0o600)
	port := FreePort(t)
	s.Addr = fmt.Sprintf("127.0.0.1:%d", port)
	if s.HostKeys["ed25519"] != "" {
		os.WriteFile(s.KnownHosts, []byte(s.KnownHostsLine(t, "ed25519")), 0o600)
	}
	cfg := fmt.Sprintf(`Port %d
ListenAddress 127.0.0.1
%sPidFile %s
AuthorizedKeysFile %s
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
StrictModes no
PermitRootLogin prohibit-password
AllowUsers %s
Subsystem sftp internal-sftp
LogLevel ERROR
`, port, hostKeyLines.String(), filepath.Join(dir, "sshd.pid"), filepath.Join(dir, "authorized_keys"), u.Username)
	cfgPath := filepath.Join(dir, "sshd_config")
	os.WriteFile(cfgPath, []byte(cfg), 0o600)
	s.cmd = exec.Command(bin, "-D", "-e", "-f", cfgPath)
	var logs strings.Builder
	s.cmd.Stderr = &logs
	if err := s.cmd.Start(); err != nil {
		t.Fatalf("sshd: %v", err)
	}
	t.Cleanup(func() {
		s.cmd.Process.Kill()
		s.cmd.Wait()
	})
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, err := net.Dial("tcp", s.Addr)
		if err == nil {
			c.Close()
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("sshd did not start: %s", logs.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	return s
}
