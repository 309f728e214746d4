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
func Keygen(t testing.TB, path string) {
	t.Helper()
	if out, err := exec.Command("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "flowgate-test", "-f", path).CombinedOutput(); err != nil {
		t.Fatalf("ssh-keygen: %v\n%s", err, out)
	}
}

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
	Addr       string
	User       string
	Dir        string // the test's folder: keys, config, and the partner's files
	ClientKey  string // private key authorized on the server
	KnownHosts string // known_hosts holding the server's host key
	cmd        *exec.Cmd
}

// Start starts sshd, or skips the test when OpenSSH's server is not
// installed or the test does not run as root (sshd checks the login
// account). It is stopped when the test ends.
func Start(t testing.TB) *Server {
	t.Helper()
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
	s := &Server{Dir: dir, User: u.Username, ClientKey: filepath.Join(dir, "client"), KnownHosts: filepath.Join(dir, "known_hosts")}
	Keygen(t, filepath.Join(dir, "host"))
	Keygen(t, s.ClientKey)
	pub, _ := os.ReadFile(s.ClientKey + ".pub")
	os.WriteFile(filepath.Join(dir, "authorized_keys"), pub, 0o600)
	port := FreePort(t)
	s.Addr = fmt.Sprintf("127.0.0.1:%d", port)
	hostPub, _ := os.ReadFile(filepath.Join(dir, "host.pub"))
	os.WriteFile(s.KnownHosts, []byte(fmt.Sprintf("[127.0.0.1]:%d %s", port, hostPub)), 0o600)
	cfg := fmt.Sprintf(`Port %d
ListenAddress 127.0.0.1
HostKey %s
PidFile %s
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
`, port, filepath.Join(dir, "host"), filepath.Join(dir, "sshd.pid"), filepath.Join(dir, "authorized_keys"), u.Username)
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
