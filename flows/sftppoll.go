package flows

import (
	"context"
	"crypto/rand"
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
// exists), downloads it beside in/, checks its size, flushes it, moves it
// into in/, records it, and only then deletes it from the server. A claimed
// file a crash left on the server is resumed on the next run. Then it
// pushes the partner's status files that were never pushed (temp name,
// then rename).
type Poller struct {
	Partner   string
	Remote    Remote
	Mailboxes Mailboxes
	Ledger    Ledger
	Log       *slog.Logger

	running atomic.Bool
	skipped atomic.Int64
	runs    atomic.Int64
}

var _ Source = (*Poller)(nil)

// claimMark separates a claimed file's name from its claim id.
const claimMark = ".flowgate-"

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
	// Downloads a crash interrupted: never in in/, their remote files
	// still claimed, so taken again by the next run.
	if left, err := filepath.Glob(filepath.Join(p.Mailboxes.Uploads(p.Partner), "pull-*")); err == nil {
		for _, f := range left {
			os.Remove(f)
		}
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
	cfg := &ssh.ClientConfig{User: p.Remote.User, Auth: []ssh.AuthMethod{ssh.PublicKeys(p.Remote.Signer)},
		HostKeyCallback: p.Remote.HostKeys, Timeout: timeout}
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
		c, chans, reqs, err := ssh.NewClientConn(conn, p.Remote.Addr, cfg)
		if err != nil {
			conn.Close()
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

// pull takes every flow from InDir.
func (p *Poller) pull(ctx context.Context, sc *sftp.Client) (int, error) {
	entries, err := sc.ReadDir(p.Remote.InDir)
	if err != nil {
		return 0, fmt.Errorf("list %s: %w", p.Remote.InDir, err)
	}
	var claimed, fresh []string
	for _, e := range entries {
		name := e.Name()
		if !e.Mode().IsRegular() {
			continue // links and folders are never followed
		}
		if i := strings.LastIndex(name, claimMark); i > 0 {
			claimed = append(claimed, name) // left by an interrupted run: resume
			continue
		}
		if Ignored(name) || strings.ContainsAny(name, "/\\") {
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

// fetched is a claimed file downloaded beside in/, not yet handed over.
type fetched struct {
	claim string // its claimed name on the server
	name  string // the name it was left under
	tmp   string
	size  int64
}

// takeAll hands the claimed files over to the hub, a batch at a time: each
// is downloaded beside in/ and its size checked, the filesystem flushed
// once, every file moved into in/ and in/ flushed, the handovers recorded
// in one transaction, and only then are the files deleted on the server.
// A file that fails stays claimed on the server for the next run.
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
		if failures[i] != nil {
			errs = append(errs, fmt.Errorf("pull %s: %w", path.Join(p.Remote.InDir, todo[i]), failures[i]))
			continue
		}
		batch = append(batch, f)
	}
	defer func() {
		for _, f := range batch {
			os.Remove(f.tmp) // a no-op once moved
		}
	}()
	if len(batch) > 0 {
		// Those moved into in/ are recorded even when a later one failed.
		pulls, herr := p.handOver(batch)
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

// download copies a claimed remote file beside in/ and checks its size.
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
	tmp, err := os.CreateTemp(p.Mailboxes.Uploads(p.Partner), "pull-*")
	if err != nil {
		return f, err
	}
	f.tmp = tmp.Name()
	f.size, err = io.Copy(tmp, src)
	if err == nil && f.size != fi.Size() {
		err = fmt.Errorf("downloaded %d bytes of %d", f.size, fi.Size())
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(f.tmp)
	}
	return f, err
}

// handOver flushes the downloaded files, moves them into in/ (under
// another name if one is taken there) and flushes in/.
func (p *Poller) handOver(batch []fetched) ([]store.Pull, error) {
	if err := fsx.SyncFS(p.Mailboxes.Uploads(p.Partner)); err != nil {
		return nil, err
	}
	in := p.Mailboxes.In(p.Partner)
	var pulls []store.Pull
	var err error
	for _, f := range batch {
		local := safeLocalName(f.name)
		for i := 0; ; i++ {
			target := local
			if i > 0 {
				target = fmt.Sprintf("%s.%d", local, i)
			}
			err = fsx.RenameNoReplace(f.tmp, filepath.Join(in, target))
			if errors.Is(err, fs.ErrExist) && i < 100 {
				continue
			}
			if err == nil {
				local = target
			}
			break
		}
		if err != nil {
			err = fmt.Errorf("hand over %s: %w", f.name, err)
			break
		}
		pulls = append(pulls, store.Pull{RemoteName: f.claim, LocalName: local, Size: f.size})
	}
	// The names moved so far must be durable before they are recorded.
	if serr := fsx.SyncDir(in); serr != nil {
		return nil, serr
	}
	return pulls, err
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
