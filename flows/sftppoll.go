package flows

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"os"
	"path"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"flowgate/internal/fsx"
	"flowgate/store"

	"github.com/pkg/sftp"
	"github.com/robfig/cron/v3"
	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"
)

// Ledger remembers what was pulled from and pushed to partners' servers,
// so that a crash never makes the hub take a file twice or push a status
// file twice.
type Ledger interface {
	Pulled(ctx context.Context, partner, remote, name string) (bool, error)
	RecordPullIntents(ctx context.Context, partner, remote string, pulls []store.Pull, at time.Time) error
	PullIntents(ctx context.Context, partner, remote string) ([]store.Pull, error)
	DropPullIntents(ctx context.Context, partner, remote string, remoteNames []string) error
	RecordPulls(ctx context.Context, partner, remote string, pulls []store.Pull, at time.Time) error
	Pushed(ctx context.Context, partner, remote string) (map[string]bool, error)
	RecordPush(ctx context.Context, partner, remote, name string, at time.Time) error
}

// Remote is a partner's own SFTP server, polled on a schedule.
type Remote struct {
	Addr       string // host:port
	User       string
	Signer     ssh.Signer          // the hub's private key
	HostKeys   ssh.HostKeyCallback // strict: from known_hosts
	InDir      string              // where the partner leaves flows
	OutDir     string              // where the hub puts status files; "" for none
	Timeout    time.Duration       // dial and handshake
	KeepAlive  time.Duration       // 0: 15s
	Schedule   string              // "@every 30s" or a 5-field cron spec, UTC
	RetryDelay time.Duration       // first reconnect delay within a run; 0: 1s
}

// Poller collects flows from one partner's server and pushes its status
// files back. Each run lists InDir and, for each file, claims it on the
// server by renaming it to "<name>.flowgate-<claim>" (which fails if that
// exists), downloads it beside in/, checks its size, flushes it, records
// the intent to move it (its temporary name) in the ledger, moves it into
// in/, records it as moved, and only then deletes it from the server. A
// claimed file a crash left on the server is resumed on the next run: an
// intent whose temporary file is gone was moved (it is recorded as such,
// never pulled again), one whose temporary file is still there was not.
// Then it pushes the partner's status files that were never pushed (temp
// name, then rename).
//
// A remote file larger than MaxFileSize (from the listing, or its stat once
// claimed) is never downloaded: it is renamed on the server to
// "<name>.flowgate-refused", left there for the partner, and logged as an
// error; a file growing during the download is cut at the limit and refused
// the same way.
type Poller struct {
	Partner   string
	Remote    Remote
	Mailboxes Mailboxes
	Ledger    Ledger
	Log       *slog.Logger
	// MaxFileSize bounds, in bytes, a file pulled: the partner's
	// max_file_size. Zero means DefaultMaxPull.
	MaxFileSize int64

	running atomic.Bool
	skipped atomic.Int64
	runs    atomic.Int64
	// afterMove, when set (tests), is called once a pulled file is in in/
	// and before it is recorded as moved: the crash window.
	afterMove func(local string)
}

// DefaultMaxPull is the size bound of a pulled file when Poller.MaxFileSize
// is zero (bytes).
const DefaultMaxPull = 1 << 30

// refusedMark ends the server-side name of a remote file refused for its
// size; such files are never taken.
const refusedMark = ".flowgate-refused"

var _ Source = (*Poller)(nil)

// claimMark separates a claimed file's name from its claim id.
const claimMark = ".flowgate-"

// KeyFileWarning returns a warning when the private key file at path is
// readable or writable by its group or others (OpenSSH's ssh refuses such
// a key; the hub uses it and warns), or "" when it is not. A file that
// cannot be read returns "": loading it reports the error.
func KeyFileWarning(path string) string {
	fi, err := os.Stat(path)
	if err != nil {
		return ""
	}
	if mode := fi.Mode().Perm(); mode&0o077 != 0 {
		return fmt.Sprintf("private key %s has mode %04o: readable by group or others, restrict it to its owner (chmod 600)", path, mode)
	}
	return ""
}

// KnownHostsWarning returns a warning when the known_hosts file at path
// lists no host (empty, or only comments), so that every connection will be
// refused, or "" otherwise.
func KnownHostsWarning(path string) string {
	data, err := os.ReadFile(path)
	if err != nil {
		return ""
	}
	for line := range strings.Lines(string(data)) {
		if l := strings.TrimSpace(line); l != "" && !strings.HasPrefix(l, "#") {
			return ""
		}
	}
	return fmt.Sprintf("known_hosts %s lists no host: every connection will be refused", path)
}

// LoadSigner reads a private key file (unencrypted OpenSSH or PEM).
func LoadSigner(path string) (ssh.Signer, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("private key: %w", err)
	}
	s, err := ssh.ParsePrivateKey(data)
	if err != nil {
		return nil, fmt.Errorf("private key %s: %w", path, err)
	}
	return s, nil
}

// LoadKnownHosts returns a strict host key check from a known_hosts file:
// an unknown host or a changed key refuses the connection.
func LoadKnownHosts(path string) (ssh.HostKeyCallback, error) {
	cb, err := knownhosts.New(path)
	if err != nil {
		return nil, fmt.Errorf("known hosts: %w", err)
	}
	return cb, nil
}

// Stats returns how many runs were made and how many ticks were skipped
// because the previous run was still going.
func (p *Poller) Stats() (runs, skipped int64) { return p.runs.Load(), p.skipped.Load() }

// Run polls on the schedule until ctx is done. One run at a time: a tick
// that finds the previous run still going is skipped, counted and logged.
func (p *Poller) Run(ctx context.Context) error {
	sched, err := cron.ParseStandard(p.Remote.Schedule)
	if err != nil {
		return fmt.Errorf("poll %s: schedule %q: %w", p.Partner, p.Remote.Schedule, err)
	}
	var wg sync.WaitGroup
	defer wg.Wait()
	next := sched.Next(time.Now().UTC())
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(time.Until(next)):
		}
		next = sched.Next(time.Now().UTC())
		if !p.running.CompareAndSwap(false, true) {
			n := p.skipped.Add(1)
			p.Log.Warn("poll skipped: previous run still going", "partner", p.Partner, "remote", p.Remote.Addr, "skipped", n)
			continue
		}
		wg.Go(func() {
			defer p.running.Store(false)
			if err := p.RunOnce(ctx); err != nil && ctx.Err() == nil {
				p.Log.Error("poll", "partner", p.Partner, "remote", p.Remote.Addr, "err", err)
			}
		})
	}
}

// dial connects with timeouts and retries with backoff, within the run.
func (p *Poller) dial(ctx context.Context) (*ssh.Client, error) {
	timeout := p.Remote.Timeout
	if timeout <= 0 {
		timeout = 15 * time.Second
	}
	delay := p.Remote.RetryDelay
	if delay <= 0 {
		delay = time.Second
	}
	var lastErr error
	for attempt := range 3 {
		if attempt > 0 {
			select {
			case <-ctx.Done():
				return nil, ctx.Err()
			case <-time.After(delay):
			}
			delay *= 2
		}
		d := net.Dialer{Timeout: timeout}
		conn, err := d.DialContext(ctx, "tcp", p.Remote.Addr)
		if err != nil {
			lastErr = err
			continue
		}
		conn.SetDeadline(time.Now().Add(timeout))
		known := knownAlgorithms(p.Remote.HostKeys, p.Remote.Addr, conn.RemoteAddr())
		cfg := &ssh.ClientConfig{User: p.Remote.User, Auth: []ssh.AuthMethod{ssh.PublicKeys(p.Remote.Signer)},
			HostKeyCallback: p.Remote.HostKeys, HostKeyAlgorithms: known, Timeout: timeout}
		c, chans, reqs, err := ssh.NewClientConn(conn, p.Remote.Addr, cfg)
		if err != nil {
			conn.Close()
			var neg *ssh.AlgorithmNegotiationError
			if errors.As(err, &neg) && neg.What == "host key" && known != nil {
				// known_hosts has keys for this server, none of a type it
				// offers: not a changed key, and no retry.
				return nil, fmt.Errorf("host key of %s: no known key of the offered types (known_hosts has %s, the server offers %s), connection refused",
					p.Remote.Addr, strings.Join(known, ", "), strings.Join(neg.RequestedAlgorithms, ", "))
			}
			var keyErr *knownhosts.KeyError
			if errors.As(err, &keyErr) {
				// Unknown or changed host key: no retry, and said loudly.
				if len(keyErr.Want) > 0 {
					return nil, fmt.Errorf("HOST KEY OF %s HAS CHANGED, connection refused (known_hosts has another key): %w", p.Remote.Addr, err)
				}
				return nil, fmt.Errorf("host key of %s unknown to known_hosts, connection refused: %w", p.Remote.Addr, err)
			}
			lastErr = err
			continue
		}
		conn.SetDeadline(time.Time{})
		return ssh.NewClient(c, chans, reqs), nil
	}
	return nil, fmt.Errorf("connect %s: %w", p.Remote.Addr, lastErr)
}

// knownAlgorithms returns the host key algorithms of the keys that
// known_hosts (through hostKeys) lists for addr, in preference order, as
// OpenSSH's client does, so that the server is asked for a key that can be
// checked rather than for its preferred one; nil when none is listed (the
// host is unknown, and the callback says so).
//
// The callback is asked about a key no server has: its KeyError lists the
// known keys.
func knownAlgorithms(hostKeys ssh.HostKeyCallback, addr string, remote net.Addr) []string {
	err := hostKeys(addr, remote, probeKey)
	var keyErr *knownhosts.KeyError
	if !errors.As(err, &keyErr) || len(keyErr.Want) == 0 {
		return nil
	}
	types := map[string]bool{}
	for _, k := range keyErr.Want {
		if certAuthorityLine(k.Filename, k.Line) {
			return nil // the server may present a certificate: leave the choice to it
		}
		types[k.Key.Type()] = true
	}
	var algos []string
	for _, a := range hostKeyPreference {
		if types[a.keyType] {
			algos = append(algos, a.algo)
		}
	}
	return algos
}

// certAuthorityLine reports whether line n (from 1) of the known_hosts
// file is a "@cert-authority" line, whose key signs host certificates.
func certAuthorityLine(file string, n int) bool {
	data, err := os.ReadFile(file)
	if err != nil {
		return false
	}
	i := 0
	for line := range strings.Lines(string(data)) {
		if i++; i == n {
			return strings.HasPrefix(strings.TrimSpace(line), "@cert-authority")
		}
	}
	return false
}

// probeKey is a public key no server holds (ed25519 from a fixed seed),
// offered to a known_hosts callback to learn which keys it knows.
var probeKey = func() ssh.PublicKey {
	seed := sha256.Sum256([]byte("flowgate known_hosts probe"))
	k, err := ssh.NewPublicKey(ed25519.NewKeyFromSeed(seed[:]).Public())
	if err != nil {
		panic(err)
	}
	return k
}()

// hostKeyPreference maps key types to host key algorithms, in the order
// asked of a server.
var hostKeyPreference = []struct{ keyType, algo string }{
	{ssh.KeyAlgoED25519, ssh.KeyAlgoED25519},
	{ssh.KeyAlgoECDSA256, ssh.KeyAlgoECDSA256},
	{ssh.KeyAlgoECDSA384, ssh.KeyAlgoECDSA384},
	{ssh.KeyAlgoECDSA521, ssh.KeyAlgoECDSA521},
	{ssh.KeyAlgoSKED25519, ssh.KeyAlgoSKED25519},
	{ssh.KeyAlgoSKECDSA256, ssh.KeyAlgoSKECDSA256},
	{ssh.KeyAlgoRSA, ssh.KeyAlgoRSASHA512},
	{ssh.KeyAlgoRSA, ssh.KeyAlgoRSASHA256},
	{ssh.KeyAlgoRSA, ssh.KeyAlgoRSA},
}

// keepAlive pings the server until stop is closed, closing the client when
// it stops answering.
func (p *Poller) keepAlive(c *ssh.Client, stop <-chan struct{}) {
	every := p.Remote.KeepAlive
	if every <= 0 {
		every = 15 * time.Second
	}
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-stop:
			return
		case <-t.C:
			if _, _, err := c.SendRequest("keepalive@openssh.com", true, nil); err != nil {
				c.Close()
				return
			}
		}
	}
}

// RunOnce does one poll: pull every flow, then push status files.
func (p *Poller) RunOnce(ctx context.Context) error {
	p.runs.Add(1)
	if err := p.recover(ctx); err != nil {
		return err
	}
	client, err := p.dial(ctx)
	if err != nil {
		return err
	}
	defer client.Close()
	stop := make(chan struct{})
	defer close(stop)
	go p.keepAlive(client, stop)
	sc, err := sftp.NewClient(client)
	if err != nil {
		return fmt.Errorf("sftp %s: %w", p.Remote.Addr, err)
	}
	defer sc.Close()
	pulled, perr := p.pull(ctx, sc)
	pushed, serr := p.push(ctx, sc)
	if pulled+pushed > 0 {
		p.Log.Info("poll", "partner", p.Partner, "remote", p.Remote.Addr, "pulled", pulled, "pushed", pushed)
	}
	return errors.Join(perr, serr)
}

func newClaimID() string {
	var b [6]byte
	rand.Read(b[:])
	return time.Now().UTC().Format("20060102T150405") + hex.EncodeToString(b[:])
}

// tmpPrefix names this poller's downloads in the partner's .uploads/: a
// partner may have several remotes, each resolving only its own.
func (p *Poller) tmpPrefix() string {
	h := sha256.Sum256([]byte(p.Remote.Addr + "\x00" + p.Remote.InDir))
	return "pull-" + hex.EncodeToString(h[:4]) + "-"
}

// recover settles what a crash left between recording the intent to move
// a download into in/ and recording it as moved. A move is one rename: an
// intent whose download is gone from .uploads/ was moved (the intake may
// have claimed it since), and is recorded as moved so that it is never
// pulled again; one whose download is still there was not, and is
// forgotten, the remote file still claimed and pulled again. Then the
// downloads no intent names (interrupted) are removed.
func (p *Poller) recover(ctx context.Context) error {
	intents, err := p.Ledger.PullIntents(ctx, p.Partner, p.Remote.Addr)
	if err != nil {
		return err
	}
	uploads := p.Mailboxes.Uploads(p.Partner)
	prefix := p.tmpPrefix()
	var moved []store.Pull
	var dropped []string
	for _, in := range intents {
		if !strings.HasPrefix(in.TmpName, prefix) {
			continue // another remote of the partner on the same address
		}
		_, err := os.Lstat(filepath.Join(uploads, in.TmpName))
		switch {
		case err == nil:
			dropped = append(dropped, in.RemoteName)
		case errors.Is(err, fs.ErrNotExist):
			moved = append(moved, in)
		default:
			return fmt.Errorf("poll recover: %w", err)
		}
	}
	if len(moved) > 0 {
		if err := p.Ledger.RecordPulls(ctx, p.Partner, p.Remote.Addr, moved, time.Now()); err != nil {
			return err
		}
		for _, m := range moved {
			p.Log.Info("poll: pull a crash interrupted was in in/, recorded", "partner", p.Partner,
				"remote", p.Remote.Addr, "file", m.LocalName, "claim", m.RemoteName)
		}
	}
	if len(dropped) > 0 {
		if err := p.Ledger.DropPullIntents(ctx, p.Partner, p.Remote.Addr, dropped); err != nil {
			return err
		}
	}
	left, err := filepath.Glob(filepath.Join(uploads, prefix+"*"))
	if err != nil {
		return err
	}
	for _, f := range left {
		os.Remove(f)
	}
	return nil
}

// pull takes every flow from InDir.
func (p *Poller) pull(ctx context.Context, sc *sftp.Client) (int, error) {
	entries, err := sc.ReadDir(p.Remote.InDir)
	if err != nil {
		return 0, fmt.Errorf("list %s: %w", p.Remote.InDir, err)
	}
	var claimed, fresh []string
	for _, e := range entries {
		name := e.Name()
		if !e.Mode().IsRegular() || strings.Contains(name, refusedMark) {
			continue // links and folders are never followed; refused files stay for the partner
		}
		if i := strings.LastIndex(name, claimMark); i > 0 {
			claimed = append(claimed, name) // left by an interrupted run: resume
			continue
		}
		if Ignored(name) || strings.ContainsAny(name, "/\\") {
			continue
		}
		if e.Size() > p.maxFileSize() {
			p.refuse(sc, name, name, e.Size())
			continue
		}
		fresh = append(fresh, name)
	}
	// Claim: rename on the server, which fails if the target exists, so a
	// file is never taken by two runs.
	claims := make([]string, len(fresh))
	fsx.Parallel(len(fresh), transfers, func(i int) {
		cname := fresh[i] + claimMark + newClaimID()
		if err := sc.Rename(path.Join(p.Remote.InDir, fresh[i]), path.Join(p.Remote.InDir, cname)); err != nil {
			p.Log.Warn("poll: claim refused", "partner", p.Partner, "file", fresh[i], "err", err)
			return
		}
		claims[i] = cname
	})
	for _, c := range claims {
		if c != "" {
			claimed = append(claimed, c)
		}
	}
	sort.Strings(claimed)
	return p.takeAll(ctx, sc, claimed)
}

func (p *Poller) maxFileSize() int64 {
	if p.MaxFileSize > 0 {
		return p.MaxFileSize
	}
	return DefaultMaxPull
}

// refuse renames a remote file too large to pull (current is its name on
// the server, name the one it was left under) to "<name>.flowgate-refused"
// on the server, where the partner finds it and the hub never takes it
// again, and logs it as an error.
func (p *Poller) refuse(sc *sftp.Client, current, name string, size int64) {
	target := name + refusedMark
	err := sc.Rename(path.Join(p.Remote.InDir, current), path.Join(p.Remote.InDir, target))
	if err != nil {
		target = name + refusedMark + "-" + newClaimID()
		err = sc.Rename(path.Join(p.Remote.InDir, current), path.Join(p.Remote.InDir, target))
	}
	if err != nil {
		p.Log.Error("poll: remote file over max_file_size, not pulled; renaming it failed", "partner", p.Partner,
			"remote", p.Remote.Addr, "file", name, "bytes", size, "limit", p.maxFileSize(), "err", err)
		return
	}
	p.Log.Error("poll: remote file over max_file_size, not pulled, renamed on the server", "partner", p.Partner,
		"remote", p.Remote.Addr, "file", name, "bytes", size, "limit", p.maxFileSize(), "renamed", target)
}

// errRefused marks a claimed file refused for its size: renamed on the
// server, not an error of the run.
var errRefused = errors.New("over max_file_size")

// fetched is a claimed file downloaded beside in/, not yet handed over.
type fetched struct {
	claim string // its claimed name on the server
	name  string // the name it was left under
	tmp   string
	size  int64
}

// takeAll hands the claimed files over to the hub, a batch at a time: each
// is downloaded beside in/ and its size checked, the filesystem flushed
// once, the intents to move them recorded, every file moved into in/ and
// in/ flushed, the moves recorded in one transaction, and only then are the
// files deleted on the server. A file that fails stays claimed on the
// server for the next run.
func (p *Poller) takeAll(ctx context.Context, sc *sftp.Client, claimed []string) (int, error) {
	var errs []error
	var batch []fetched
	var handed, todo []string
	for _, cname := range claimed {
		done, err := p.Ledger.Pulled(ctx, p.Partner, p.Remote.Addr, cname)
		if err != nil {
			return 0, err
		}
		if done {
			handed = append(handed, cname) // handed over before a crash: only delete
		} else {
			todo = append(todo, cname)
		}
	}
	// Downloads run a few at a time over the one connection: the SFTP
	// round trips overlap.
	results := make([]fetched, len(todo))
	failures := make([]error, len(todo))
	fsx.Parallel(len(todo), transfers, func(i int) {
		if ctx.Err() != nil {
			failures[i] = ctx.Err()
			return
		}
		results[i], failures[i] = p.download(sc, todo[i])
	})
	for i, f := range results {
		if errors.Is(failures[i], errRefused) {
			continue
		}
		if failures[i] != nil {
			errs = append(errs, fmt.Errorf("pull %s: %w", path.Join(p.Remote.InDir, todo[i]), failures[i]))
			continue
		}
		batch = append(batch, f)
	}
	if len(batch) > 0 {
		// Those moved into in/ are recorded even when a later one failed.
		pulls, herr := p.handOver(ctx, batch)
		if len(pulls) > 0 {
			if err := p.Ledger.RecordPulls(ctx, p.Partner, p.Remote.Addr, pulls, time.Now()); err != nil {
				return 0, errors.Join(append(errs, herr, err)...)
			}
		}
		if herr != nil {
			errs = append(errs, herr)
		}
		for _, pl := range pulls {
			handed = append(handed, pl.RemoteName)
		}
	}
	removed := make([]error, len(handed))
	fsx.Parallel(len(handed), transfers, func(i int) {
		if err := sc.Remove(path.Join(p.Remote.InDir, handed[i])); err != nil && !errors.Is(err, fs.ErrNotExist) {
			removed[i] = fmt.Errorf("delete %s: %w", handed[i], err)
		}
	})
	n := 0
	for _, err := range removed {
		if err != nil {
			errs = append(errs, err)
			continue
		}
		n++
	}
	return n, errors.Join(errs...)
}

// transfers is how many SFTP operations a poll keeps in flight.
const transfers = 8

// download copies a claimed remote file beside in/ and checks its size:
// one over MaxFileSize (from its stat, or growing during the copy) is
// refused (errRefused) without being read past the limit.
func (p *Poller) download(sc *sftp.Client, cname string) (fetched, error) {
	f := fetched{claim: cname, name: cname[:strings.LastIndex(cname, claimMark)]}
	src, err := sc.Open(path.Join(p.Remote.InDir, cname))
	if err != nil {
		return f, err
	}
	defer src.Close()
	fi, err := src.Stat()
	if err != nil {
		return f, err
	}
	limit := p.maxFileSize()
	if fi.Size() > limit {
		src.Close()
		p.refuse(sc, cname, f.name, fi.Size())
		return f, errRefused
	}
	tmp, err := os.CreateTemp(p.Mailboxes.Uploads(p.Partner), p.tmpPrefix()+"*")
	if err != nil {
		return f, err
	}
	f.tmp = tmp.Name()
	f.size, err = io.Copy(tmp, io.LimitReader(src, limit+1))
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil && f.size > limit {
		os.Remove(f.tmp)
		src.Close()
		p.refuse(sc, cname, f.name, f.size)
		return f, errRefused
	}
	if err == nil && f.size != fi.Size() {
		err = fmt.Errorf("downloaded %d bytes of %d", f.size, fi.Size())
	}
	if err != nil {
		os.Remove(f.tmp)
	}
	return f, err
}

// handOver flushes the downloaded files, records the intents to move them,
// moves them into in/ (under another name if one is taken there) and
// flushes in/. It returns the pulls moved. A download not moved is removed
// once its intent is dropped; if that fails it is left for recover.
func (p *Poller) handOver(ctx context.Context, batch []fetched) ([]store.Pull, error) {
	uploads, in := p.Mailboxes.Uploads(p.Partner), p.Mailboxes.In(p.Partner)
	if err := fsx.SyncFS(uploads); err != nil {
		return nil, err
	}
	intents := make([]store.Pull, len(batch))
	chosen := map[string]bool{}
	for i, f := range batch {
		intents[i] = store.Pull{RemoteName: f.claim, LocalName: freeName(in, safeLocalName(f.name), chosen),
			Size: f.size, TmpName: filepath.Base(f.tmp)}
	}
	if err := p.Ledger.RecordPullIntents(ctx, p.Partner, p.Remote.Addr, intents, time.Now()); err != nil {
		return nil, err // the downloads stay for recover
	}
	var pulls []store.Pull
	var failed []string
	var errs []error
	for i, f := range batch {
		local, err := moveIn(f.tmp, in, intents[i].LocalName)
		if err != nil {
			errs = append(errs, fmt.Errorf("hand over %s: %w", f.name, err))
			failed = append(failed, f.claim)
			continue
		}
		if p.afterMove != nil {
			p.afterMove(local)
		}
		pl := intents[i]
		pl.LocalName = local
		pulls = append(pulls, pl)
	}
	if len(failed) > 0 {
		if err := p.Ledger.DropPullIntents(ctx, p.Partner, p.Remote.Addr, failed); err != nil {
			errs = append(errs, err)
		} else {
			for _, f := range batch {
				if slices.Contains(failed, f.claim) {
					os.Remove(f.tmp)
				}
			}
		}
	}
	// The names moved must be durable before they are recorded.
	if err := fsx.SyncDir(in); err != nil {
		return nil, errors.Join(append(errs, err)...)
	}
	return pulls, errors.Join(errs...)
}

// freeName returns name, or name.1, name.2..., the first that neither
// exists in dir nor is in taken, and adds it to taken.
func freeName(dir, name string, taken map[string]bool) string {
	target := name
	for i := 1; i < 100; i++ {
		if _, err := os.Lstat(filepath.Join(dir, target)); errors.Is(err, fs.ErrNotExist) && !taken[target] {
			break
		}
		target = fmt.Sprintf("%s.%d", name, i)
	}
	taken[target] = true
	return target
}

// moveIn renames tmp into dir under name, or under name.N when something
// took that name meanwhile; it returns the name used.
func moveIn(tmp, dir, name string) (string, error) {
	for i := 0; ; i++ {
		target := name
		if i > 0 {
			target = fmt.Sprintf("%s.%d", name, i)
		}
		err := fsx.RenameNoReplace(tmp, filepath.Join(dir, target))
		if errors.Is(err, fs.ErrExist) && i < 100 {
			continue
		}
		return target, err
	}
}

// safeLocalName keeps a remote name usable as a local file name.
func safeLocalName(name string) string {
	name = strings.Map(func(r rune) rune {
		if r == '/' || r == '\\' || r == 0 || r < 0x20 {
			return '_'
		}
		return r
	}, name)
	name = strings.TrimLeft(name, ".")
	if name == "" {
		return "flux"
	}
	return name
}

// push puts the partner's status files never pushed to OutDir: temp name,
// then rename; one already there with the same size counts as pushed (a
// crash came between the rename and the record).
func (p *Poller) push(ctx context.Context, sc *sftp.Client) (int, error) {
	if p.Remote.OutDir == "" {
		return 0, nil
	}
	done, err := p.Ledger.Pushed(ctx, p.Partner, p.Remote.Addr)
	if err != nil {
		return 0, err
	}
	entries, err := os.ReadDir(p.Mailboxes.Out(p.Partner))
	if err != nil {
		return 0, err
	}
	n := 0
	var errs []error
	for _, e := range entries {
		name := e.Name()
		if done[name] || !e.Type().IsRegular() || strings.HasPrefix(name, ".") {
			continue
		}
		if ctx.Err() != nil {
			break
		}
		if err := p.pushOne(sc, name); err != nil {
			errs = append(errs, fmt.Errorf("push %s: %w", name, err))
			continue
		}
		if err := p.Ledger.RecordPush(ctx, p.Partner, p.Remote.Addr, name, time.Now()); err != nil {
			errs = append(errs, err)
			continue
		}
		n++
	}
	return n, errors.Join(errs...)
}

func (p *Poller) pushOne(sc *sftp.Client, name string) error {
	data, err := os.ReadFile(filepath.Join(p.Mailboxes.Out(p.Partner), name))
	if err != nil {
		return err
	}
	final := path.Join(p.Remote.OutDir, name)
	if fi, err := sc.Stat(final); err == nil && fi.Size() == int64(len(data)) {
		return nil // pushed before a crash
	}
	tmp := path.Join(p.Remote.OutDir, "."+name+".tmp-"+newClaimID())
	f, err := sc.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL)
	if err != nil {
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		sc.Remove(tmp)
		return err
	}
	if err := f.Close(); err != nil {
		sc.Remove(tmp)
		return err
	}
	if err := sc.Rename(tmp, final); err != nil {
		sc.Remove(tmp)
		return err
	}
	return nil
}
