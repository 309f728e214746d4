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

	"github.com/pkg/sftp"
	"github.com/robfig/cron/v3"
	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"
	"golang.org/x/sys/unix"
)

// Ledger remembers what was pulled from and pushed to partners' servers,
// so that a crash never makes the hub take a file twice or push a status
// file twice.
type Ledger interface {
	Pulled(ctx context.Context, partner, remote, name string) (bool, error)
	RecordPull(ctx context.Context, partner, remote, name, local string, size int64, at time.Time) error
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
	var claimed []string
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
		cname := name + claimMark + newClaimID()
		if err := sc.Rename(path.Join(p.Remote.InDir, name), path.Join(p.Remote.InDir, cname)); err != nil {
			p.Log.Warn("poll: claim refused", "partner", p.Partner, "file", name, "err", err)
			continue
		}
		claimed = append(claimed, cname)
	}
	sort.Strings(claimed)
	n := 0
	var errs []error
	for _, cname := range claimed {
		if ctx.Err() != nil {
			break
		}
		if err := p.take(ctx, sc, cname); err != nil {
			errs = append(errs, err)
			continue
		}
		n++
	}
	return n, errors.Join(errs...)
}

// take hands one claimed remote file over to the hub, then deletes it.
func (p *Poller) take(ctx context.Context, sc *sftp.Client, cname string) error {
	remote := path.Join(p.Remote.InDir, cname)
	done, err := p.Ledger.Pulled(ctx, p.Partner, p.Remote.Addr, cname)
	if err != nil {
		return err
	}
	if !done {
		name := cname[:strings.LastIndex(cname, claimMark)]
		local, size, err := p.download(sc, remote, name)
		if err != nil {
			return fmt.Errorf("pull %s: %w", remote, err)
		}
		if err := p.Ledger.RecordPull(ctx, p.Partner, p.Remote.Addr, cname, local, size, time.Now()); err != nil {
			return err
		}
	}
	if err := sc.Remove(remote); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("delete %s: %w", remote, err)
	}
	return nil
}

// download copies a remote file beside in/, checks its size, flushes it
// and moves it into in/ (under another name if one is taken there).
func (p *Poller) download(sc *sftp.Client, remote, name string) (string, int64, error) {
	src, err := sc.Open(remote)
	if err != nil {
		return "", 0, err
	}
	defer src.Close()
	fi, err := src.Stat()
	if err != nil {
		return "", 0, err
	}
	tmp, err := os.CreateTemp(p.Mailboxes.Uploads(p.Partner), "pull-*")
	if err != nil {
		return "", 0, err
	}
	defer os.Remove(tmp.Name()) // a no-op once moved
	n, err := io.Copy(tmp, src)
	if err == nil && n != fi.Size() {
		err = fmt.Errorf("downloaded %d bytes of %d", n, fi.Size())
	}
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return "", 0, err
	}
	in := p.Mailboxes.In(p.Partner)
	local := safeLocalName(name)
	for i := 0; ; i++ {
		target := local
		if i > 0 {
			target = fmt.Sprintf("%s.%d", local, i)
		}
		err = unix.Renameat2(unix.AT_FDCWD, tmp.Name(), unix.AT_FDCWD, filepath.Join(in, target), unix.RENAME_NOREPLACE)
		if errors.Is(err, unix.EEXIST) && i < 100 {
			continue
		}
		if err != nil {
			return "", 0, err
		}
		local = target
		break
	}
	if d, err := os.Open(in); err == nil {
		err = d.Sync()
		d.Close()
		if err != nil {
			return "", 0, err
		}
	}
	return local, n, nil
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
