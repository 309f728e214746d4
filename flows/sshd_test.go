package flows

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

	"golang.org/x/crypto/ssh"
)

// keygen makes an ed25519 key pair with OpenSSH's ssh-keygen.
func keygen(t testing.TB, path string) {
	t.Helper()
	if out, err := exec.Command("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "flowgate-test", "-f", path).CombinedOutput(); err != nil {
		t.Fatalf("ssh-keygen: %v\n%s", err, out)
	}
}

func freePort(t testing.TB) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// sshd is an OpenSSH server started for a test, on a loopback high port,
// with its own configuration, host key and authorized key: a partner's
// SFTP server.
type sshd struct {
	addr       string
	user       string
	dir        string // the test's folder: keys, config, and the partner's files
	clientKey  string // private key authorized on the server
	knownHosts string // known_hosts holding the server's host key
	cmd        *exec.Cmd
}

func startSSHD(t testing.TB) *sshd {
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
	s := &sshd{dir: dir, user: u.Username, clientKey: filepath.Join(dir, "client"), knownHosts: filepath.Join(dir, "known_hosts")}
	keygen(t, filepath.Join(dir, "host"))
	keygen(t, s.clientKey)
	pub, _ := os.ReadFile(s.clientKey + ".pub")
	os.WriteFile(filepath.Join(dir, "authorized_keys"), pub, 0o600)
	port := freePort(t)
	s.addr = fmt.Sprintf("127.0.0.1:%d", port)
	hostPub, _ := os.ReadFile(filepath.Join(dir, "host.pub"))
	os.WriteFile(s.knownHosts, []byte(fmt.Sprintf("[127.0.0.1]:%d %s", port, hostPub)), 0o600)
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
		c, err := net.Dial("tcp", s.addr)
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

// remote is the Remote for polling this server's folders in and out.
func (s *sshd) remote(t testing.TB, in, out string) Remote {
	t.Helper()
	signer, err := LoadSigner(s.clientKey)
	if err != nil {
		t.Fatal(err)
	}
	hk, err := LoadKnownHosts(s.knownHosts)
	if err != nil {
		t.Fatal(err)
	}
	return Remote{Addr: s.addr, User: s.user, Signer: signer, HostKeys: hk, InDir: in, OutDir: out,
		Timeout: 5 * time.Second, Schedule: "@every 1s", RetryDelay: 50 * time.Millisecond}
}

// publicKey reads an OpenSSH public key file.
func publicKey(t testing.TB, path string) ssh.PublicKey {
	t.Helper()
	keys, err := LoadAuthorizedKeys(path)
	if err != nil {
		t.Fatal(err)
	}
	return keys[0]
}
