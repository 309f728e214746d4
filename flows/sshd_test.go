package flows

import (
	"testing"
	"time"

	"golang.org/x/crypto/ssh"

	"flowgate/internal/sshtest"
)

func keygen(t testing.TB, path string) { sshtest.Keygen(t, path) }

// sshd is a partner's SFTP server (OpenSSH) for the tests.
type sshd struct{ *sshtest.Server }

func startSSHD(t testing.TB) *sshd { return &sshd{sshtest.Start(t)} }

// remote is the Remote for polling this server's folders in and out.
func (s *sshd) remote(t testing.TB, in, out string) Remote {
	t.Helper()
	signer, err := LoadSigner(s.ClientKey)
	if err != nil {
		t.Fatal(err)
	}
	hk, err := LoadKnownHosts(s.KnownHosts)
	if err != nil {
		t.Fatal(err)
	}
	return Remote{Addr: s.Addr, User: s.User, Signer: signer, HostKeys: hk, InDir: in, OutDir: out,
		Timeout: 5 * time.Second, Schedule: "@every 1s", RetryDelay: 50 * time.Millisecond}
}

// publicKey reads an OpenSSH public key file.
func publicKey(t testing.TB, path string) ssh.PublicKey {
	t.Helper()
	keys, err := LoadAuthorizedKeys(path)
	if err != nil {
		t.Fatal(err)
	}
	return keys[0].Key
}
