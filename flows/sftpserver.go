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
	ID          string
	Keys        []ssh.PublicKey // from its authorized_keys: the key decides the partner
	MaxFileSize int64           // bytes per upload
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
	// have not logged in yet (default 8): extra ones are closed at once, so
	// that one address cannot take every slot of MaxConnections.
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
	byKey     map[string]*SFTPPartner
	state     map[string]*partnerState // by partner id; the map is fixed at Start
	mu        sync.Mutex
	failures  map[string]*failure  // per remote host: failed logins, for the slow-down
	preAuth   map[string]int       // per remote host: connections not logged in yet
	refusedAt map[string]time.Time // per remote host: when a pre-auth refusal was last logged
	conns     sync.WaitGroup
}

// Defaults of the server's limits.
const (
	DefaultMaxPreAuthPerHost = 8
	DefaultHandshakeTimeout  = 10 * time.Second
	DefaultUploadExpiry      = 24 * time.Hour
)

var _ Source = (*SFTPServer)(nil)

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

// LoadAuthorizedKeys reads an OpenSSH authorized_keys file.
func LoadAuthorizedKeys(path string) ([]ssh.PublicKey, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("authorized keys: %w", err)
	}
	var keys []ssh.PublicKey
	for line := 1; len(data) > 0; line++ {
		var key ssh.PublicKey
		key, _, _, data, err = ssh.ParseAuthorizedKey(data)
		if err != nil {
			if len(keys) > 0 && strings.Contains(err.Error(), "no key found") {
				break
			}
			return nil, fmt.Errorf("authorized keys %s: %w", path, err)
		}
		keys = append(keys, key)
	}
	if len(keys) == 0 {
		return nil, fmt.Errorf("authorized keys %s: no key", path)
	}
	return keys, nil
}

// Start listens on Listen; Addr then gives the address (useful with port 0).
func (s *SFTPServer) Start() error {
	if s.ln != nil {
		return nil
	}
	s.byKey = map[string]*SFTPPartner{}
	s.state = map[string]*partnerState{}
	s.failures = map[string]*failure{}
	s.preAuth = map[string]int{}
	s.refusedAt = map[string]time.Time{}
	for i := range s.Partners {
		p := &s.Partners[i]
		s.state[p.ID] = &partnerState{}
		for _, k := range p.Keys {
			s.byKey[string(k.Marshal())] = p
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
			s.serveConn(conn, host)
		})
	}
}

func (s *SFTPServer) config() *ssh.ServerConfig {
	cfg := &ssh.ServerConfig{
		MaxAuthTries:  s.MaxAuthTries,
		ServerVersion: "SSH-2.0-flowgate",
		PublicKeyCallback: func(meta ssh.ConnMetadata, key ssh.PublicKey) (*ssh.Permissions, error) {
			if p, ok := s.byKey[string(key.Marshal())]; ok {
				return &ssh.Permissions{Extensions: map[string]string{"partner": p.ID}}, nil
			}
			return nil, errors.New("unknown key")
		},
		AuthLogCallback: func(meta ssh.ConnMetadata, method string, err error) {
			if err == nil || method == "none" {
				return
			}
			host := remoteHost(meta.RemoteAddr())
			delay := s.failed(host)
			s.Log.Warn("SFTP login refused", "remote", meta.RemoteAddr().String(), "user", meta.User(),
				"method", method, "err", err.Error(), "delay", delay.String())
			time.Sleep(delay)
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

// failed counts a failed login from host and returns how long to make it
// wait: doubling from 250 ms to 8 s, forgotten after 10 quiet minutes.
func (s *SFTPServer) failed(host string) time.Duration {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.failures) > 10000 {
		for h, f := range s.failures {
			if time.Since(f.last) > 10*time.Minute {
				delete(s.failures, h)
			}
		}
	}
	f := s.failures[host]
	if f == nil || time.Since(f.last) > 10*time.Minute {
		f = &failure{}
		s.failures[host] = f
	}
	f.count++
	f.last = time.Now()
	return min(250*time.Millisecond<<min(f.count-1, 5), 8*time.Second)
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

func (s *SFTPServer) serveConn(conn net.Conn, host string) {
	defer conn.Close()
	timeout := s.HandshakeTimeout
	if timeout <= 0 {
		timeout = DefaultHandshakeTimeout
	}
	conn.SetDeadline(time.Now().Add(timeout)) // the handshake and login
	sc, chans, reqs, err := ssh.NewServerConn(conn, s.config())
	s.leavePreAuth(host)
	if err != nil {
		s.Log.Debug("SFTP handshake", "remote", conn.RemoteAddr().String(), "err", err)
		return
	}
	conn.SetDeadline(time.Time{})
	defer sc.Close()
	go ssh.DiscardRequests(reqs)
	partner := s.partner(sc.Permissions.Extensions["partner"])
	if partner == nil || !s.acquire(partner) {
		s.Log.Warn("SFTP session refused: too many sessions", "partner", sc.Permissions.Extensions["partner"],
			"remote", conn.RemoteAddr().String())
		return
	}
	defer s.release(partner)
	s.Log.Info("SFTP login", "partner", partner.ID, "remote", conn.RemoteAddr().String())
	var sessions sync.WaitGroup
	defer sessions.Wait()
	refused := 0
	for nc := range chans {
		if nc.ChannelType() != "session" {
			nc.Reject(ssh.Prohibited, "only SFTP sessions are served")
			continue
		}
		if !s.openChannel(partner) {
			nc.Reject(ssh.ResourceShortage, fmt.Sprintf("too many sessions (max_sessions %d)", partner.MaxSessions))
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

// Fileread serves a download from out/, inbox/ or returns/: regular files
// only, never through a link.
func (m *mailboxFS) Fileread(r *sftp.Request) (io.ReaderAt, error) {
	area, name, err := resolve(r.Filepath)
	if err != nil {
		return nil, err
	}
	if area == "" || area == "in" || name == "" {
		return nil, fs.ErrPermission
	}
	f, err := os.OpenFile(filepath.Join(m.dir(area), name), os.O_RDONLY|unix.O_NOFOLLOW, 0)
	if err != nil {
		if errors.Is(err, unix.ELOOP) {
			return nil, fs.ErrPermission
		}
		return nil, err
	}
	fi, err := f.Stat()
	if err != nil || !fi.Mode().IsRegular() {
		f.Close()
		return nil, fs.ErrPermission
	}
	return f, nil
}

// Filewrite starts an upload into in/: written under partners/<id>/.uploads/
// and moved into in/ on a clean close.
func (m *mailboxFS) Filewrite(r *sftp.Request) (io.WriterAt, error) {
	area, name, err := resolve(r.Filepath)
	if err != nil {
		return nil, err
	}
	if area != "in" || name == "" {
		return nil, fs.ErrPermission
	}
	if m.state.open.Add(1) > int64(uploadsPerSession*m.partner.MaxSessions) {
		m.state.open.Add(-1)
		m.log.Warn("SFTP upload refused: too many open", "partner", m.partner.ID, "file", name)
		return nil, fmt.Errorf("too many uploads open (at most %d)", uploadsPerSession*m.partner.MaxSessions)
	}
	quota := m.partner.pendingQuota()
	temps := tempBytes(m.dir("in"))
	if temps+m.state.uploads.Load() >= quota {
		m.log.Warn("SFTP upload refused: pending bytes over the quota", "partner", m.partner.ID, "file", name,
			"quota", quota, "temporary", temps, "uploading", m.state.uploads.Load())
		m.state.open.Add(-1)
		return nil, fmt.Errorf("pending uploads and temporary files over the quota of %d bytes", quota)
	}
	f, err := os.CreateTemp(m.mb.Uploads(m.partner.ID), "upload-*")
	if err != nil {
		m.state.open.Add(-1)
		m.log.Error("SFTP upload", "partner", m.partner.ID, "file", name, "err", err)
		return nil, err
	}
	return &upload{f: f, final: filepath.Join(m.dir("in"), name), name: name, max: m.partner.MaxFileSize,
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
		u.failed.Store(true)
		u.log.Warn("SFTP upload refused: over max_file_size", "partner", u.partner, "file", u.name,
			"offset", off, "bytes", len(p), "limit", u.max)
		return 0, fmt.Errorf("file over the limit of %d bytes", u.max)
	}
	end := off + int64(len(p))
	if grow := end - u.size.Load(); grow > 0 && u.pending.Load()+grow > u.quota {
		u.failed.Store(true)
		u.log.Warn("SFTP upload refused: pending bytes over the quota", "partner", u.partner, "file", u.name,
			"quota", u.quota)
		return 0, fmt.Errorf("pending uploads over the quota of %d bytes", u.quota)
	}
	n, err := u.f.WriteAt(p, off)
	if err != nil {
		u.failed.Store(true)
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
	if err != nil {
		return err
	}
	if err := fsx.RenameNoReplace(tmp, u.final); err != nil {
		if errors.Is(err, fs.ErrExist) {
			return fs.ErrExist
		}
		return err
	}
	if err := fsx.SyncDir(filepath.Dir(u.final)); err != nil {
		return err
	}
	u.log.Info("SFTP upload", "partner", u.partner, "file", u.name, "bytes", u.size.Load())
	return nil
}

// Filecmd allows renames inside in/ (a client uploading under a temporary
// name), removal of fetched files from out/, inbox/ and returns/, and
// ignores setstat. Everything else is refused.
func (m *mailboxFS) Filecmd(r *sftp.Request) error {
	area, name, err := resolve(r.Filepath)
	if err != nil {
		return err
	}
	switch r.Method {
	case "Setstat":
		if name == "" {
			return fs.ErrPermission
		}
		return nil
	case "Rename":
		tarea, tname, err := resolve(r.Target)
		if err != nil || area != "in" || tarea != "in" || name == "" || tname == "" {
			return fs.ErrPermission
		}
		src := filepath.Join(m.dir("in"), name)
		if fi, err := os.Lstat(src); err != nil {
			return err
		} else if !fi.Mode().IsRegular() {
			return fs.ErrPermission
		}
		err = fsx.RenameNoReplace(src, filepath.Join(m.dir("in"), tname))
		if errors.Is(err, fs.ErrExist) {
			return fs.ErrExist
		}
		return err
	case "Remove":
		if area == "" || area == "in" || name == "" {
			return fs.ErrPermission
		}
		p := filepath.Join(m.dir(area), name)
		fi, err := os.Lstat(p)
		if err != nil {
			return err
		}
		if !fi.Mode().IsRegular() {
			return fs.ErrPermission
		}
		return os.Remove(p)
	}
	return fs.ErrPermission
}

// Filelist lists "/" (the four folders) and each folder's regular files,
// and answers stat.
func (m *mailboxFS) Filelist(r *sftp.Request) (sftp.ListerAt, error) {
	area, name, err := resolve(r.Filepath)
	if err != nil {
		return nil, err
	}
	switch r.Method {
	case "List":
		if name != "" {
			return nil, fs.ErrNotExist
		}
		if area == "" {
			var out listing
			for _, a := range areas {
				fi, err := os.Stat(m.dir(a))
				if err != nil {
					return nil, err
				}
				out = append(out, renamed{fi, a})
			}
			return out, nil
		}
		entries, err := os.ReadDir(m.dir(area))
		if err != nil {
			return nil, err
		}
		var out listing
		for _, e := range entries {
			if !e.Type().IsRegular() || strings.HasPrefix(e.Name(), ".") {
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
				return nil, err
			}
			return listing{renamed{fi, "/"}}, nil
		}
		p := m.dir(area)
		if name != "" {
			p = filepath.Join(p, name)
		}
		fi, err := os.Lstat(p)
		if err != nil {
			return nil, err
		}
		if name != "" && !fi.Mode().IsRegular() {
			return nil, fs.ErrNotExist
		}
		if name == "" {
			fi = renamed{fi, area}
		}
		return listing{fi}, nil
	}
	return nil, fs.ErrPermission
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
