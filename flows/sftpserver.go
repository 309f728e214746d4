package flows

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"flowgate/internal/fsx"

	"github.com/pkg/sftp"
	"golang.org/x/crypto/ssh"
	"golang.org/x/sys/unix"
)

// SFTPPartner is a partner allowed on the embedded SFTP server.
type SFTPPartner struct {
	ID string
	// Keys are from its authorized_keys (LoadAuthorizedKeys): the key
	// decides the partner, its options where and until when it may log in.
	Keys        []AuthorizedKey
	MaxFileSize int64 // bytes per upload
	// MaxSessions bounds both the partner's logged-in connections and its
	// open SFTP channels, counted across all its connections: one
	// connection cannot open more channels than this either.
	MaxSessions int
	// MaxPendingBytes bounds, in bytes, what the partner has pending: the
	// uploads in progress (counted at their highest offset written) plus
	// the files left in in/ under a temporary name (see Ignored). An upload
	// that would pass it is refused. Zero means 4 × MaxFileSize.
	MaxPendingBytes int64
}

// pendingQuota is p's MaxPendingBytes, or its default.
func (p *SFTPPartner) pendingQuota() int64 {
	if p.MaxPendingBytes > 0 {
		return p.MaxPendingBytes
	}
	return 4 * p.MaxFileSize
}

// partnerState is what a partner holds on the server at a time.
type partnerState struct {
	conns    int          // logged-in connections, under SFTPServer.mu
	channels int          // open session channels, under SFTPServer.mu
	uploads  atomic.Int64 // bytes of the uploads in progress
	open     atomic.Int64 // uploads open
}

// uploadsPerSession bounds the uploads a partner may hold open at once, per
// session it may open: each holds a file descriptor.
const uploadsPerSession = 16

// SFTPServer is the embedded SFTP server: each partner logs in with its key
// and sees its own mailbox as "/": /in (upload, rename), /out, /inbox,
// /returns (list, read, remove). Nothing else exists for it.
//
// An upload is written outside the watched folders (partners/<id>/.uploads/)
// and appears in in/ by rename only when the client closes it: an
// interrupted upload leaves nothing in in/, a complete one is taken by the
// intake at once.
type SFTPServer struct {
	Listen       string
	HostKey      ssh.Signer
	Mailboxes    Mailboxes
	Partners     []SFTPPartner
	MaxAuthTries int
	// MaxConnections bounds the connections open at once, logged in or not
	// (default 256): a flood of handshakes cannot exhaust the hub.
	MaxConnections int
	// MaxPreAuthPerHost bounds the connections of one remote address that
	// have not logged in yet (default 8), counting those held after a
	// failed login (see penalize): extra ones are closed at once, so that
	// one address cannot take every slot of MaxConnections.
	MaxPreAuthPerHost int
	// HandshakeTimeout bounds the handshake and login of a connection
	// (default 10s); past it the connection is closed.
	HandshakeTimeout time.Duration
	// UploadExpiry is how long a file may stay in a partner's in/ under a
	// temporary name (see Ignored) untouched before the sweep removes it
	// (default 24h).
	UploadExpiry time.Duration
	Log          *slog.Logger

	ln        net.Listener
	byKey     map[string][]authorized  // by marshalled public key
	state     map[string]*partnerState // by partner id; the map is fixed at Start
	mu        sync.Mutex
	failures  map[failureKey]*failure // failed connections, for the slow-down
	preAuth   map[string]int          // per remote host: connections not logged in yet
	refusedAt map[string]time.Time    // per remote host: when a pre-auth refusal was last logged
	conns     sync.WaitGroup
}

// Defaults of the server's limits.
const (
	DefaultMaxPreAuthPerHost = 8
	DefaultHandshakeTimeout  = 10 * time.Second
	DefaultUploadExpiry      = 24 * time.Hour
)

var _ Source = (*SFTPServer)(nil)

// authorized is a key line of a partner's authorized_keys.
type authorized struct {
	partner *SFTPPartner
	key     AuthorizedKey
}

// failureKey is what the slow-down counts failed connections by: the
// remote address, and the partner whose key was offered but refused by its
// options ("" when every key offered was unknown).
type failureKey struct {
	host    string
	partner string
}

type failure struct {
	count int
	last  time.Time
}

// LoadHostKey reads the server's private host key, generating an ed25519
// key (mode 0600) when the file does not exist. A key readable by group or
// others is used, with a warning logged (see KeyFileWarning).
func LoadHostKey(path string, log *slog.Logger) (ssh.Signer, error) {
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		_, priv, gerr := ed25519.GenerateKey(rand.Reader)
		if gerr != nil {
			return nil, gerr
		}
		block, gerr := ssh.MarshalPrivateKey(priv, "flowgate host key")
		if gerr != nil {
			return nil, gerr
		}
		data = pem.EncodeToMemory(block)
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			return nil, fmt.Errorf("host key: %w", err)
		}
		f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
		if err != nil {
			return nil, fmt.Errorf("host key: %w", err)
		}
		_, err = f.Write(data)
		if err == nil {
			err = f.Sync()
		}
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			os.Remove(path)
			return nil, fmt.Errorf("host key: %w", err)
		}
		signer, _ := ssh.ParsePrivateKey(data)
		log.Info("SFTP host key generated", "file", path, "fingerprint", ssh.FingerprintSHA256(signer.PublicKey()))
		return signer, nil
	}
	if err != nil {
		return nil, fmt.Errorf("host key: %w", err)
	}
	signer, err := ssh.ParsePrivateKey(data)
	if err != nil {
		return nil, fmt.Errorf("host key %s: %w", path, err)
	}
	if w := KeyFileWarning(path); w != "" {
		log.Warn(w)
	}
	return signer, nil
}

// Start listens on Listen; Addr then gives the address (useful with port 0).
func (s *SFTPServer) Start() error {
	if s.ln != nil {
		return nil
	}
	s.byKey = map[string][]authorized{}
	s.state = map[string]*partnerState{}
	s.failures = map[failureKey]*failure{}
	keys := make([]PartnerKeys, len(s.Partners))
	for i, p := range s.Partners {
		keys[i] = PartnerKeys{Partner: p.ID, Keys: p.Keys}
	}
	if err := KeyConflicts(keys); err != nil {
		return fmt.Errorf("sftp: %w", err)
	}
	s.preAuth = map[string]int{}
	s.refusedAt = map[string]time.Time{}
	for i := range s.Partners {
		p := &s.Partners[i]
		s.state[p.ID] = &partnerState{}
		for _, k := range p.Keys {
			id := string(k.Key.Marshal())
			s.byKey[id] = append(s.byKey[id], authorized{p, k})
		}
		if err := os.MkdirAll(s.Mailboxes.Uploads(p.ID), 0o700); err != nil {
			return err
		}
		// Uploads a crash interrupted: never complete, never in in/. Only
		// the server's own: a poller's downloads there are its to resolve.
		if left, err := filepath.Glob(filepath.Join(s.Mailboxes.Uploads(p.ID), "upload-*")); err == nil {
			for _, f := range left {
				os.Remove(f)
			}
		}
	}
	ln, err := net.Listen("tcp", s.Listen)
	if err != nil {
		return fmt.Errorf("sftp: %w", err)
	}
	s.ln = ln
	return nil
}

// Addr is the listening address, once started.
func (s *SFTPServer) Addr() net.Addr { return s.ln.Addr() }

// Run serves until ctx is done, then closes the listener and every session.
func (s *SFTPServer) Run(ctx context.Context) error {
	if err := s.Start(); err != nil {
		return err
	}
	s.Log.Info("SFTP server listening", "addr", s.ln.Addr().String(), "fingerprint", ssh.FingerprintSHA256(s.HostKey.PublicKey()))
	limit := s.MaxConnections
	if limit <= 0 {
		limit = 256
	}
	slots := make(chan struct{}, limit)
	var open sync.Map // net.Conn → struct{}
	go func() {
		<-ctx.Done()
		s.ln.Close()
		open.Range(func(k, _ any) bool { k.(net.Conn).Close(); return true })
	}()
	s.conns.Go(func() { s.sweepEvery(ctx) })
	for {
		conn, err := s.ln.Accept()
		if err != nil {
			if ctx.Err() != nil {
				s.conns.Wait()
				return nil
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				time.Sleep(50 * time.Millisecond)
				continue
			}
			return fmt.Errorf("sftp accept: %w", err)
		}
		select {
		case slots <- struct{}{}:
		default:
			s.Log.Warn("SFTP connection refused: too many open", "remote", conn.RemoteAddr().String(), "limit", limit)
			conn.Close()
			continue
		}
		host := remoteHost(conn.RemoteAddr())
		if !s.enterPreAuth(host) {
			<-slots
			conn.Close()
			continue
		}
		open.Store(conn, struct{}{})
		s.conns.Go(func() {
			defer func() { <-slots }()
			defer open.Delete(conn)
			s.serveConn(ctx, conn, host)
		})
	}
}

// login is what the server learns of one connection while it logs in.
type login struct {
	refused int    // keys (or other methods) refused
	partner string // the partner of the last key refused by its options
	unknown int    // keys offered that no partner has
	user    string // the user name the client gave (it does not matter)
}

// errUnknownKey refuses a key no partner has.
var errUnknownKey = errors.New("unknown key")

// keyRefused refuses a partner's key by its options (from=, expiry-time).
type keyRefused struct {
	partner string
	reason  string
}

func (e *keyRefused) Error() string { return "key of partner " + e.partner + " refused: " + e.reason }

// config is the SSH configuration of one connection; l records its
// refused attempts. No attempt is slowed down while the client logs in:
// a client offering other keys before the right one (OpenSSH offers every
// key of its agent in turn) logs in at once; see penalize for the delay.
func (s *SFTPServer) config(l *login) *ssh.ServerConfig {
	cfg := &ssh.ServerConfig{
		MaxAuthTries:  s.MaxAuthTries,
		ServerVersion: "SSH-2.0-flowgate",
		PublicKeyCallback: func(meta ssh.ConnMetadata, key ssh.PublicKey) (*ssh.Permissions, error) {
			entries := s.byKey[string(key.Marshal())]
			if len(entries) == 0 {
				return nil, errUnknownKey
			}
			addr := remoteAddr(meta.RemoteAddr())
			now := time.Now()
			var reasons []string
			for _, e := range entries {
				err := e.key.Allows(addr, now)
				if err == nil {
					return &ssh.Permissions{Extensions: map[string]string{"partner": e.partner.ID}}, nil
				}
				reasons = append(reasons, err.Error())
			}
			return nil, &keyRefused{partner: entries[0].partner.ID, reason: strings.Join(reasons, "; ")}
		},
		AuthLogCallback: func(meta ssh.ConnMetadata, method string, err error) {
			if err == nil || method == "none" {
				return
			}
			l.refused++
			l.user = meta.User()
			var kr *keyRefused
			switch {
			case errors.As(err, &kr):
				l.partner = kr.partner
				s.Log.Warn("SFTP key refused by its options", "partner", kr.partner, "remote", meta.RemoteAddr().String(),
					"reason", kr.reason)
			case errors.Is(err, errUnknownKey):
				l.unknown++
			default:
				s.Log.Debug("SFTP login attempt refused", "remote", meta.RemoteAddr().String(), "method", method, "err", err)
			}
		},
	}
	cfg.AddHostKey(s.HostKey)
	return cfg
}

func remoteHost(a net.Addr) string {
	host, _, err := net.SplitHostPort(a.String())
	if err != nil {
		return a.String()
	}
	return host
}

// remoteAddr is a's IP address, the zero Addr when a is not an IP one.
func remoteAddr(a net.Addr) netip.Addr {
	if ap, err := netip.ParseAddrPort(a.String()); err == nil {
		return ap.Addr().Unmap()
	}
	return netip.Addr{}
}

// failed counts a failed connection of k and returns how long to hold it:
// doubling from 250 ms to 8 s, forgotten after 10 quiet minutes.
func (s *SFTPServer) failed(k failureKey) time.Duration {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.failures) > 10000 {
		for h, f := range s.failures {
			if time.Since(f.last) > 10*time.Minute {
				delete(s.failures, h)
			}
		}
	}
	f := s.failures[k]
	if f == nil || time.Since(f.last) > 10*time.Minute {
		f = &failure{}
		s.failures[k] = f
	}
	f.count++
	f.last = time.Now()
	return min(250*time.Millisecond<<min(f.count-1, 5), 8*time.Second)
}

// loggedIn forgets the failed connections of host, and those of host with
// partner's key: the address logs in again.
func (s *SFTPServer) loggedIn(host, partner string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.failures, failureKey{host, ""})
	delete(s.failures, failureKey{host, partner})
}

// penalize slows down a connection from host that ended without logging in
// after refused attempts: it is held open (still counted among host's
// connections not logged in, see MaxPreAuthPerHost) for a delay doubling
// with each such connection, from 250 ms to 8 s, before it closes. So one
// address retrying keys gets at most MaxPreAuthPerHost tries in flight,
// while a connection that logs in is never delayed, whatever its address
// did before: good partners behind the same NAT as a failing client are not
// slowed down. The count is kept per address and per partner whose key was
// refused by its options, and is cleared when the address logs in. It
// returns early when ctx is done.
func (s *SFTPServer) penalize(ctx context.Context, conn net.Conn, host string, l *login) {
	delay := s.failed(failureKey{host, l.partner})
	s.Log.Warn("SFTP login refused", "remote", conn.RemoteAddr().String(), "user", l.user, "partner", l.partner,
		"attempts", l.refused, "unknown_keys", l.unknown, "delay", delay.String())
	t := time.NewTimer(delay)
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
	}
}

// enterPreAuth counts a new connection from host until it has logged in,
// or refuses it when host already has MaxPreAuthPerHost such connections.
// A refusal is logged once per host per minute.
func (s *SFTPServer) enterPreAuth(host string) bool {
	limit := s.MaxPreAuthPerHost
	if limit <= 0 {
		limit = DefaultMaxPreAuthPerHost
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.preAuth[host] < limit {
		s.preAuth[host]++
		return true
	}
	now := time.Now()
	if now.Sub(s.refusedAt[host]) >= time.Minute {
		if len(s.refusedAt) > 10000 {
			clear(s.refusedAt)
		}
		s.refusedAt[host] = now
		s.Log.Warn("SFTP connection refused: too many connections not logged in from this address",
			"remote", host, "limit", limit)
	}
	return false
}

// leavePreAuth ends what enterPreAuth counted.
func (s *SFTPServer) leavePreAuth(host string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.preAuth[host]--; s.preAuth[host] <= 0 {
		delete(s.preAuth, host)
	}
}

func (s *SFTPServer) serveConn(ctx context.Context, conn net.Conn, host string) {
	defer conn.Close()
	timeout := s.HandshakeTimeout
	if timeout <= 0 {
		timeout = DefaultHandshakeTimeout
	}
	conn.SetDeadline(time.Now().Add(timeout)) // the handshake and login
	l := &login{}
	sc, chans, reqs, err := ssh.NewServerConn(conn, s.config(l))
	if err != nil {
		if l.refused > 0 {
			s.penalize(ctx, conn, host, l)
		}
		s.leavePreAuth(host)
		s.Log.Debug("SFTP handshake", "remote", conn.RemoteAddr().String(), "err", err)
		return
	}
	s.leavePreAuth(host)
	defer sc.Close()
	go ssh.DiscardRequests(reqs)
	partner := s.partner(sc.Permissions.Extensions["partner"])
	s.loggedIn(host, partner.ID)
	if !s.acquire(partner) {
		// Refuse its sessions with the reason, which OpenSSH's client
		// shows ("channel 0: open failed: resource shortage: ..."),
		// rather than close a connection it just logged in.
		s.Log.Warn("SFTP session refused: too many sessions", "partner", partner.ID,
			"remote", conn.RemoteAddr().String(), "limit", partner.MaxSessions)
		conn.SetDeadline(time.Now().Add(timeout))
		msg := fmt.Sprintf("too many connections of partner %s (max_sessions %d)", partner.ID, partner.MaxSessions)
		for nc := range chans {
			nc.Reject(ssh.ResourceShortage, msg)
		}
		return
	}
	conn.SetDeadline(time.Time{})
	defer s.release(partner)
	s.Log.Info("SFTP login", "partner", partner.ID, "remote", conn.RemoteAddr().String(), "refused_keys", l.refused)
	var sessions sync.WaitGroup
	defer sessions.Wait()
	refused := 0
	for nc := range chans {
		if nc.ChannelType() != "session" {
			nc.Reject(ssh.Prohibited, "only SFTP sessions are served")
			continue
		}
		if !s.openChannel(partner) {
			nc.Reject(ssh.ResourceShortage, fmt.Sprintf("too many sessions of partner %s (max_sessions %d)", partner.ID, partner.MaxSessions))
			if refused++; refused == 1 {
				s.Log.Warn("SFTP channel refused: too many sessions", "partner", partner.ID,
					"remote", conn.RemoteAddr().String(), "limit", partner.MaxSessions)
			}
			continue
		}
		ch, requests, err := nc.Accept()
		if err != nil {
			s.closeChannel(partner)
			continue
		}
		sessions.Go(func() {
			defer s.closeChannel(partner)
			s.serveSession(partner, ch, requests)
		})
	}
}

func (s *SFTPServer) partner(id string) *SFTPPartner {
	for i := range s.Partners {
		if s.Partners[i].ID == id {
			return &s.Partners[i]
		}
	}
	return nil
}

// acquire counts a logged-in connection of p, or refuses it when p
// already has MaxSessions.
func (s *SFTPServer) acquire(p *SFTPPartner) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.state[p.ID]
	if st.conns >= p.MaxSessions {
		return false
	}
	st.conns++
	return true
}

func (s *SFTPServer) release(p *SFTPPartner) {
	s.mu.Lock()
	s.state[p.ID].conns--
	s.mu.Unlock()
}

// openChannel counts a session channel of p, across its connections, or
// refuses it when p already has MaxSessions open.
func (s *SFTPServer) openChannel(p *SFTPPartner) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.state[p.ID]
	if st.channels >= p.MaxSessions {
		return false
	}
	st.channels++
	return true
}

func (s *SFTPServer) closeChannel(p *SFTPPartner) {
	s.mu.Lock()
	s.state[p.ID].channels--
	s.mu.Unlock()
}

// sweepEvery runs sweep until ctx is done, a few times per UploadExpiry
// (at most hourly).
func (s *SFTPServer) sweepEvery(ctx context.Context) {
	expiry := s.uploadExpiry()
	every := min(max(expiry/4, 10*time.Millisecond), time.Hour)
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-t.C:
			s.sweep(now)
		}
	}
}

func (s *SFTPServer) uploadExpiry() time.Duration {
	if s.UploadExpiry > 0 {
		return s.UploadExpiry
	}
	return DefaultUploadExpiry
}

// sweep removes from each partner's in/ the regular files under a
// temporary name (see Ignored) not modified for UploadExpiry at now: an
// upload never renamed to its final name, which the intake never takes.
// Each removal is logged.
func (s *SFTPServer) sweep(now time.Time) {
	expiry := s.uploadExpiry()
	for i := range s.Partners {
		p := &s.Partners[i]
		in := s.Mailboxes.In(p.ID)
		entries, err := os.ReadDir(in)
		if err != nil {
			s.Log.Error("SFTP upload sweep", "partner", p.ID, "err", err)
			continue
		}
		for _, e := range entries {
			if !Ignored(e.Name()) || !e.Type().IsRegular() {
				continue
			}
			fi, err := e.Info()
			if err != nil || now.Sub(fi.ModTime()) < expiry {
				continue
			}
			if err := os.Remove(filepath.Join(in, e.Name())); err != nil {
				if !errors.Is(err, fs.ErrNotExist) {
					s.Log.Error("SFTP upload sweep", "partner", p.ID, "file", e.Name(), "err", err)
				}
				continue
			}
			s.Log.Warn("SFTP upload left under a temporary name, expired and removed", "partner", p.ID,
				"file", e.Name(), "bytes", fi.Size(), "modified", fi.ModTime().UTC().Format(time.RFC3339))
		}
	}
}

// tempBytes adds up the sizes of the regular files under a temporary name
// (see Ignored) in partner's in/.
func tempBytes(in string) int64 {
	entries, err := os.ReadDir(in)
	if err != nil {
		return 0
	}
	var n int64
	for _, e := range entries {
		if !Ignored(e.Name()) || !e.Type().IsRegular() {
			continue
		}
		if fi, err := e.Info(); err == nil {
			n += fi.Size()
		}
	}
	return n
}

// serveSession serves the sftp subsystem and refuses everything else: no
// shell, no command, no forwarding.
func (s *SFTPServer) serveSession(p *SFTPPartner, ch ssh.Channel, requests <-chan *ssh.Request) {
	defer ch.Close()
	for req := range requests {
		if req.Type == "subsystem" && len(req.Payload) >= 4 && string(req.Payload[4:]) == "sftp" {
			req.Reply(true, nil)
			fsys := &mailboxFS{partner: p, state: s.state[p.ID], mb: s.Mailboxes, log: s.Log}
			h := sftp.Handlers{FileGet: fsys, FilePut: fsys, FileCmd: fsys, FileList: fsys}
			srv := sftp.NewRequestServer(ch, h)
			if err := srv.Serve(); err != nil && !errors.Is(err, io.EOF) {
				s.Log.Debug("SFTP session ended", "partner", p.ID, "err", err)
			}
			srv.Close()
			return
		}
		req.Reply(false, nil)
	}
}

// mailboxFS is one partner's view: its four mailbox folders as "/".
type mailboxFS struct {
	partner *SFTPPartner
	state   *partnerState
	mb      Mailboxes
	log     *slog.Logger
}

var areas = []string{"in", "out", "inbox", "returns"}

// resolve maps a client path to (area, name): "/" is ("", ""), "/out" is
// ("out", ""), "/out/f.xml" is ("out", "f.xml"). Anything else does not exist.
func resolve(p string) (area, name string, err error) {
	if !strings.HasPrefix(p, "/") {
		p = "/" + p
	}
	if path.Clean(p) != p || strings.Contains(p, "\\") || strings.ContainsRune(p, 0) {
		return "", "", fs.ErrNotExist
	}
	if p == "/" {
		return "", "", nil
	}
	parts := strings.Split(p[1:], "/")
	if !contains(areas, parts[0]) || len(parts) > 2 {
		return "", "", fs.ErrNotExist
	}
	if len(parts) == 2 {
		if parts[1] == "" || parts[1] == "." || parts[1] == ".." {
			return "", "", fs.ErrNotExist
		}
		return parts[0], parts[1], nil
	}
	return parts[0], "", nil
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func (m *mailboxFS) dir(area string) string {
	switch area {
	case "in":
		return m.mb.In(m.partner.ID)
	case "out":
		return m.mb.Out(m.partner.ID)
	case "inbox":
		return m.mb.Inbox(m.partner.ID)
	}
	return m.mb.Returns(m.partner.ID)
}

// The answers to a refused request: the SFTP status OpenSSH's sftp client
// shows ("Permission denied", "No such file or directory", "Failure"; it
// prints no server message), each with a message for the clients that show
// it (WinSCP, FileZilla, pkg/sftp). SFTP version 3, which OpenSSH speaks,
// has no status for "already exists" or "over quota": those are failures
// with a message. Messages name the partner's paths, never the hub's.

// denied answers SSH_FX_PERMISSION_DENIED.
func denied(format string, a ...any) error {
	return fmt.Errorf(format+": %w", append(a, sftp.ErrSSHFxPermissionDenied)...)
}

// noSuchFile answers SSH_FX_NO_SUCH_FILE.
func noSuchFile(format string, a ...any) error {
	return fmt.Errorf(format+": %w", append(a, sftp.ErrSSHFxNoSuchFile)...)
}

// refusal answers SSH_FX_FAILURE with the message.
func refusal(format string, a ...any) error { return fmt.Errorf(format, a...) }

// refuse logs why a request of the partner on p was refused and returns
// err, the answer.
func (m *mailboxFS) refuse(op, p string, err error) error {
	m.log.Warn("SFTP request refused", "partner", m.partner.ID, "op", op, "path", p, "reason", err.Error())
	return err
}

// fsError is the answer to an error of the hub's file system on the
// partner's path p: missing is "no such file", anything else is logged
// with the hub's path and answered as a failure without it.
func (m *mailboxFS) fsError(op, p string, err error) error {
	if errors.Is(err, fs.ErrNotExist) {
		return noSuchFile("no such file %s", p)
	}
	m.log.Error("SFTP request failed", "partner", m.partner.ID, "op", op, "path", p, "err", err)
	return refusal("%s %s: the hub could not do it, try again later", op, p)
}

// writeRefusal answers a write to p, which resolve refused: in "/" it
// is a permission (only /in takes files), elsewhere the folder does not
// exist.
func writeRefusal(p string) error {
	if path.Dir(path.Clean("/"+p)) == "/" {
		return denied("%s: only /in accepts files", p)
	}
	return noSuchFile("no folder %s: only /in accepts files", path.Dir(p))
}

// Fileread serves a download from out/, inbox/ or returns/: regular files
// only, never through a link.
func (m *mailboxFS) Fileread(r *sftp.Request) (io.ReaderAt, error) {
	area, name, err := resolve(r.Filepath)
	if err != nil {
		return nil, noSuchFile("no such file %s", r.Filepath)
	}
	switch {
	case name == "":
		return nil, denied("%s is a folder", r.Filepath)
	case area == "in":
		return nil, m.refuse("get", r.Filepath, denied("files in /in cannot be read back"))
	}
	f, err := os.OpenFile(filepath.Join(m.dir(area), name), os.O_RDONLY|unix.O_NOFOLLOW, 0)
	if err != nil {
		if errors.Is(err, unix.ELOOP) {
			return nil, m.refuse("get", r.Filepath, denied("%s is a link", r.Filepath))
		}
		return nil, m.fsError("get", r.Filepath, err)
	}
	fi, err := f.Stat()
	if err != nil || !fi.Mode().IsRegular() {
		f.Close()
		return nil, m.refuse("get", r.Filepath, denied("%s is not a regular file", r.Filepath))
	}
	return f, nil
}

// Filewrite starts an upload into in/: written under partners/<id>/.uploads/
// and moved into in/ on a clean close. A name already in in/, too many
// uploads open and the pending-bytes quota are refused here, before any
// byte is sent.
func (m *mailboxFS) Filewrite(r *sftp.Request) (io.WriterAt, error) {
	area, name, err := resolve(r.Filepath)
	if err != nil {
		return nil, m.refuse("put", r.Filepath, writeRefusal(r.Filepath))
	}
	switch {
	case area == "":
		return nil, m.refuse("put", r.Filepath, denied("%s: only /in accepts files", r.Filepath))
	case area != "in":
		return nil, m.refuse("put", r.Filepath, denied("/%s is read-only: only /in accepts files", area))
	case name == "":
		return nil, m.refuse("put", r.Filepath, denied("/in is a folder"))
	}
	final := filepath.Join(m.dir("in"), name)
	if _, err := os.Lstat(final); err == nil {
		return nil, m.refuse("put", r.Filepath, refusal("%s already exists: the hub has not taken it yet; "+
			"upload under another name", r.Filepath))
	}
	if limit := int64(uploadsPerSession * m.partner.MaxSessions); m.state.open.Add(1) > limit {
		m.state.open.Add(-1)
		return nil, m.refuse("put", r.Filepath, refusal("too many uploads open at once (at most %d)", limit))
	}
	quota := m.partner.pendingQuota()
	temps := tempBytes(m.dir("in"))
	if uploading := m.state.uploads.Load(); temps+uploading >= quota {
		m.state.open.Add(-1)
		return nil, m.refuse("put", r.Filepath, refusal("pending bytes over the quota of %d (max_pending_bytes): "+
			"%d in uploads in progress, %d in files under a temporary name in /in", quota, uploading, temps))
	}
	f, err := os.CreateTemp(m.mb.Uploads(m.partner.ID), "upload-*")
	if err != nil {
		m.state.open.Add(-1)
		return nil, m.fsError("put", r.Filepath, err)
	}
	return &upload{f: f, final: final, name: name, max: m.partner.MaxFileSize,
		quota: quota - temps, pending: &m.state.uploads, open: &m.state.open, partner: m.partner.ID, log: m.log}, nil
}

// upload is one file being received. It reaches in/ only through Close
// after no transfer error.
type upload struct {
	f       *os.File
	final   string
	name    string
	partner string
	max     int64
	quota   int64         // bytes the partner's uploads in progress may hold together
	pending *atomic.Int64 // the partner's uploads in progress, in bytes
	open    *atomic.Int64 // the partner's uploads open
	size    atomic.Int64  // highest offset written, counted in pending
	failed  atomic.Bool
	log     *slog.Logger
	once    sync.Once
	err     error
}

// WriteAt writes p at off unless the file would then pass the partner's
// max_file_size or its pending bytes pass the quota: the limit is checked
// on the offset, before anything is written, so that a write far into the
// file (a sparse file) is refused without allocating. A refused write fails
// the upload: it never reaches in/.
func (u *upload) WriteAt(p []byte, off int64) (int, error) {
	if off < 0 || int64(len(p)) > u.max || off > u.max-int64(len(p)) {
		if !u.failed.Swap(true) {
			u.log.Warn("SFTP upload refused: over max_file_size", "partner", u.partner, "path", "/in/"+u.name,
				"offset", off, "bytes", len(p), "limit", u.max)
		}
		return 0, refusal("/in/%s: file over max_file_size of %d bytes", u.name, u.max)
	}
	end := off + int64(len(p))
	if grow := end - u.size.Load(); grow > 0 && u.pending.Load()+grow > u.quota {
		if !u.failed.Swap(true) {
			u.log.Warn("SFTP upload refused: pending bytes over the quota", "partner", u.partner, "path", "/in/"+u.name,
				"quota", u.quota)
		}
		return 0, refusal("/in/%s: pending bytes over the quota of %d (max_pending_bytes)", u.name, u.quota)
	}
	n, err := u.f.WriteAt(p, off)
	if err != nil {
		if !u.failed.Swap(true) {
			u.log.Error("SFTP upload", "partner", u.partner, "path", "/in/"+u.name, "err", err)
		}
		err = refusal("/in/%s: the hub could not store it, try again later", u.name)
	}
	for {
		cur := u.size.Load()
		end := off + int64(n)
		if end <= cur {
			break
		}
		if u.size.CompareAndSwap(cur, end) {
			u.pending.Add(end - cur)
			break
		}
	}
	return n, err
}

// TransferError is called by the SFTP server when the session breaks with
// the file open: the upload is incomplete and must not reach in/.
func (u *upload) TransferError(err error) {
	u.failed.Store(true)
}

func (u *upload) Close() error {
	u.once.Do(func() { u.err = u.finish() })
	return u.err
}

func (u *upload) finish() error {
	tmp := u.f.Name()
	defer os.Remove(tmp) // a no-op once moved
	defer func() {
		u.pending.Add(-u.size.Load())
		u.open.Add(-1)
	}()
	if u.failed.Load() {
		u.f.Close()
		u.log.Warn("SFTP upload interrupted, discarded", "partner", u.partner, "file", u.name, "bytes", u.size.Load())
		return nil
	}
	err := u.f.Sync()
	if cerr := u.f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = fsx.RenameNoReplace(tmp, u.final)
		if errors.Is(err, fs.ErrExist) {
			u.log.Warn("SFTP upload refused: name already in /in", "partner", u.partner, "path", "/in/"+u.name)
			return refusal("/in/%s already exists: the hub has not taken it yet; upload under another name", u.name)
		}
	}
	if err == nil {
		err = fsx.SyncDir(filepath.Dir(u.final))
	}
	if err != nil {
		u.log.Error("SFTP upload", "partner", u.partner, "path", "/in/"+u.name, "err", err)
		return refusal("/in/%s: the hub could not store it, try again later", u.name)
	}
	u.log.Info("SFTP upload", "partner", u.partner, "file", u.name, "bytes", u.size.Load())
	return nil
}

// Filecmd allows renames inside in/ (a client uploading under a temporary
// name; OpenSSH's rename is a posix-rename, refused too when the new name
// exists), removal of fetched files from out/, inbox/ and returns/, and
// ignores setstat. Everything else is refused.
func (m *mailboxFS) Filecmd(r *sftp.Request) error {
	area, name, err := resolve(r.Filepath)
	if err != nil {
		if r.Method == "Mkdir" || r.Method == "Symlink" || r.Method == "Link" {
			return m.refuse(strings.ToLower(r.Method), r.Filepath, writeRefusal(r.Filepath))
		}
		return noSuchFile("no such file %s", r.Filepath)
	}
	switch r.Method {
	case "Setstat":
		if name == "" {
			return denied("%s: folders cannot be changed", r.Filepath)
		}
		return nil
	case "Rename", "PosixRename":
		tarea, tname, err := resolve(r.Target)
		if err != nil || area != "in" || tarea != "in" || name == "" || tname == "" {
			return m.refuse("rename", r.Filepath+" -> "+r.Target, denied("renames only from /in to /in"))
		}
		src := filepath.Join(m.dir("in"), name)
		if fi, err := os.Lstat(src); err != nil {
			return m.fsError("rename", r.Filepath, err)
		} else if !fi.Mode().IsRegular() {
			return m.refuse("rename", r.Filepath, denied("%s is not a regular file", r.Filepath))
		}
		err = fsx.RenameNoReplace(src, filepath.Join(m.dir("in"), tname))
		if errors.Is(err, fs.ErrExist) {
			return m.refuse("rename", r.Filepath+" -> "+r.Target, refusal("%s already exists: the hub has not "+
				"taken it yet; rename to another name", r.Target))
		}
		if err != nil {
			return m.fsError("rename", r.Filepath, err)
		}
		return nil
	case "Remove":
		switch {
		case name == "":
			return m.refuse("rm", r.Filepath, denied("%s is a folder", r.Filepath))
		case area == "in" && !Ignored(name):
			return m.refuse("rm", r.Filepath, denied("files in /in belong to the hub once there"))
		}
		// In /in, only what the hub never takes: the partner's own
		// unfinished uploads (temporary names), which count against its
		// pending bytes until removed or expired.
		p := filepath.Join(m.dir(area), name)
		fi, err := os.Lstat(p)
		if err != nil {
			return m.fsError("rm", r.Filepath, err)
		}
		if !fi.Mode().IsRegular() {
			return m.refuse("rm", r.Filepath, denied("%s is not a regular file", r.Filepath))
		}
		if err := os.Remove(p); err != nil {
			return m.fsError("rm", r.Filepath, err)
		}
		return nil
	}
	return m.refuse(strings.ToLower(r.Method), r.Filepath, denied("%s is not allowed: the mailbox's folders are fixed",
		strings.ToLower(r.Method)))
}

// Filelist lists "/" (the four folders) and each folder's regular files,
// and answers stat.
func (m *mailboxFS) Filelist(r *sftp.Request) (sftp.ListerAt, error) {
	area, name, err := resolve(r.Filepath)
	if err != nil {
		return nil, noSuchFile("no such file %s", r.Filepath)
	}
	switch r.Method {
	case "List":
		if name != "" {
			return nil, noSuchFile("no folder %s", r.Filepath)
		}
		if area == "" {
			var out listing
			for _, a := range areas {
				fi, err := os.Stat(m.dir(a))
				if err != nil {
					return nil, m.fsError("ls", "/"+a, err)
				}
				out = append(out, renamed{fi, a})
			}
			return out, nil
		}
		entries, err := os.ReadDir(m.dir(area))
		if err != nil {
			return nil, m.fsError("ls", r.Filepath, err)
		}
		var out listing
		for _, e := range entries {
			// Hidden names elsewhere are the hub's temp files; in /in they
			// are the partner's unfinished uploads, which it must see.
			if !e.Type().IsRegular() || strings.HasPrefix(e.Name(), ".") && area != "in" {
				continue
			}
			if fi, err := e.Info(); err == nil {
				out = append(out, fi)
			}
		}
		sort.Slice(out, func(i, j int) bool { return out[i].Name() < out[j].Name() })
		return out, nil
	case "Stat", "Lstat":
		if area == "" {
			fi, err := os.Stat(m.mb.partner(m.partner.ID, ""))
			if err != nil {
				return nil, m.fsError("stat", "/", err)
			}
			return listing{renamed{fi, "/"}}, nil
		}
		p := m.dir(area)
		if name != "" {
			p = filepath.Join(p, name)
		}
		fi, err := os.Lstat(p)
		if err != nil {
			return nil, m.fsError("stat", r.Filepath, err)
		}
		if name != "" && !fi.Mode().IsRegular() {
			return nil, noSuchFile("no such file %s", r.Filepath)
		}
		if name == "" {
			fi = renamed{fi, area}
		}
		return listing{fi}, nil
	}
	return nil, denied("%s is not allowed", strings.ToLower(r.Method))
}

// listing is a ListerAt over file infos.
type listing []os.FileInfo

func (l listing) ListAt(out []os.FileInfo, off int64) (int, error) {
	if off >= int64(len(l)) {
		return 0, io.EOF
	}
	n := copy(out, l[off:])
	if int(off)+n == len(l) {
		return n, io.EOF
	}
	return n, nil
}

// renamed shows a folder under its name in the partner's view.
type renamed struct {
	os.FileInfo
	name string
}

func (r renamed) Name() string { return r.name }
