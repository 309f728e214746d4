package main

import (
	"archive/zip"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/fsnotify/fsnotify"

	"flowgate/internal/sshtest"
)

// daemon is the built flowgate running on a temporary root, for benchmarks.
type daemon struct {
	cmd     *exec.Cmd
	hub     string
	in      string
	staging string // on the hub's filesystem, so that drops are renames
}

func startDaemon(b *testing.B) *daemon {
	b.Helper()
	bin := buildBinary(b)
	root := b.TempDir()
	cfg := crashConfig(b, root)
	d := &daemon{hub: filepath.Join(root, "hub"), staging: filepath.Join(root, "staging")}
	d.in = filepath.Join(d.hub, "partners", "FOURN01", "in")
	os.MkdirAll(d.staging, 0o755)
	d.cmd = exec.Command(bin, "run", "-config", cfg)
	d.cmd.Stderr = io.Discard
	if err := d.cmd.Start(); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() {
		d.cmd.Process.Signal(syscall.SIGTERM)
		d.cmd.Wait()
	})
	deadline := time.Now().Add(30 * time.Second)
	for {
		// The last folder created: every mailbox is there.
		if _, err := os.Stat(filepath.Join(d.hub, "partners", "VALMONT", "returns")); err == nil {
			break
		}
		if time.Now().After(deadline) {
			b.Fatal("daemon did not start")
		}
		time.Sleep(10 * time.Millisecond)
	}
	return d
}

// stage writes a flow under staging/, ready to be dropped by rename.
func (d *daemon) stage(b *testing.B, name string, data []byte) string {
	path := filepath.Join(d.staging, name)
	if err := os.WriteFile(path, data, 0o644); err != nil {
		b.Fatal(err)
	}
	return path
}

func (d *daemon) drop(b *testing.B, staged string) {
	if err := os.Rename(staged, filepath.Join(d.in, filepath.Base(staged))); err != nil {
		b.Fatal(err)
	}
}

// archived counts the flows finished (their originals archived).
func (d *daemon) archived() int {
	f, err := os.Open(filepath.Join(d.hub, "archive"))
	if err != nil {
		return 0
	}
	defer f.Close()
	names, _ := f.Readdirnames(-1)
	return len(names)
}

func (d *daemon) waitArchived(b *testing.B, n int, timeout time.Duration) {
	deadline := time.Now().Add(timeout)
	for d.archived() < n {
		if time.Now().After(deadline) {
			b.Fatalf("only %d of %d flows finished in %v", d.archived(), n, timeout)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// peakRSS is the daemon's peak resident set (VmHWM) in MB.
func (d *daemon) peakRSS() float64 {
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", d.cmd.Process.Pid))
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(status), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, _ := strconv.Atoi(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")))
			return float64(kb) / 1024
		}
	}
	return 0
}

func benchInvoice(b *testing.B, number string, toPartner bool) []byte {
	tmpl, err := os.ReadFile("../../samples/flows/facture-engagement.xml")
	if err != nil {
		b.Fatal(err)
	}
	doc := bytes.Replace(tmpl, []byte("FA-2026-0003"), []byte(number), 1)
	if toPartner {
		doc = bytes.ReplaceAll(doc, []byte(crashPortal), []byte(crashRecipient))
	}
	return doc
}

// BenchmarkDaemonThroughput: 5,000 single-invoice flows dropped at once,
// invoices per second from the first drop to the last flow finished (its
// CRs written, its original archived).
func BenchmarkDaemonThroughput(b *testing.B) {
	const n = 5000
	d := startDaemon(b)
	round := 0
	for b.Loop() {
		staged := make([]string, n)
		for i := range n {
			staged[i] = d.stage(b, fmt.Sprintf("t%d-%05d.xml", round, i), benchInvoice(b, fmt.Sprintf("T%d-%05d", round, i), i%2 == 0))
		}
		already := d.archived()
		start := time.Now()
		for _, s := range staged {
			d.drop(b, s)
		}
		d.waitArchived(b, already+n, 5*time.Minute)
		b.ReportMetric(n/time.Since(start).Seconds(), "invoices/s")
		round++
	}
}

// BenchmarkDaemonLatency: flows dropped at a steady 50 per second; the
// time from each drop to its invoice appearing in the recipient's inbox.
func BenchmarkDaemonLatency(b *testing.B) {
	const n, rate = 300, 50
	d := startDaemon(b)
	inbox := filepath.Join(d.hub, "partners", "VALMONT", "inbox")
	w, err := fsnotify.NewWatcher()
	if err != nil {
		b.Fatal(err)
	}
	defer w.Close()
	if err := w.Add(inbox); err != nil {
		b.Fatal(err)
	}
	round := 0
	for b.Loop() {
		staged := make([]string, n)
		for i := range n {
			staged[i] = d.stage(b, fmt.Sprintf("l%d-%04d.xml", round, i), benchInvoice(b, fmt.Sprintf("L%d-%04d", round, i), true))
		}
		dropped := make(map[string]time.Time, n)
		seen := make(map[string]time.Time, n)
		done := make(chan struct{})
		go func() {
			defer close(done)
			for len(seen) < n {
				select {
				case ev := <-w.Events:
					if ev.Has(fsnotify.Create) && !strings.HasPrefix(filepath.Base(ev.Name), ".") {
						parts := strings.Split(filepath.Base(ev.Name), "_")
						if len(parts) >= 3 {
							seen[parts[2]] = time.Now()
						}
					}
				case <-time.After(30 * time.Second):
					return
				}
			}
		}()
		tick := time.NewTicker(time.Second / rate)
		for i, s := range staged {
			<-tick.C
			dropped[fmt.Sprintf("L%d-%04d", round, i)] = time.Now()
			d.drop(b, s)
		}
		tick.Stop()
		<-done
		var lat []time.Duration
		for number, at := range dropped {
			if got, ok := seen[number]; ok {
				lat = append(lat, got.Sub(at))
			}
		}
		if len(lat) != n {
			b.Fatalf("%d of %d invoices seen in the inbox", len(lat), n)
		}
		slices.Sort(lat)
		b.ReportMetric(float64(lat[n/2].Microseconds())/1000, "p50-ms")
		b.ReportMetric(float64(lat[n*99/100].Microseconds())/1000, "p99-ms")
		b.ReportMetric(float64(lat[n-1].Microseconds())/1000, "max-ms")
		round++
	}
}

// BenchmarkDaemonZip500: one .zip flow of 500 invoices, from drop to
// finished, and the daemon's peak resident memory.
func BenchmarkDaemonZip500(b *testing.B) {
	d := startDaemon(b)
	round := 0
	for b.Loop() {
		var buf bytes.Buffer
		zw := zip.NewWriter(&buf)
		for i := range 500 {
			w, _ := zw.Create(fmt.Sprintf("lot/facture-%03d.xml", i))
			w.Write(benchInvoice(b, fmt.Sprintf("Z%d-%03d", round, i), i%2 == 0))
		}
		zw.Close()
		staged := d.stage(b, fmt.Sprintf("lot-%d.zip", round), buf.Bytes())
		already := d.archived()
		start := time.Now()
		d.drop(b, staged)
		d.waitArchived(b, already+1, 2*time.Minute)
		b.ReportMetric(time.Since(start).Seconds()*1000, "ms/flow")
		round++
	}
	b.ReportMetric(d.peakRSS(), "peak-RSS-MB")
}

// BenchmarkSFTPUploads: 1,000 flows uploaded to the embedded SFTP server by
// 4 concurrent OpenSSH sftp clients; flows per second from the first upload
// to the last CR, and the latency from each upload's end to its CR.
func BenchmarkSFTPUploads(b *testing.B) {
	const n, clients = 1000, 4
	for _, bin := range []string{"sftp", "ssh-keygen"} {
		if _, err := exec.LookPath(bin); err != nil {
			b.Skipf("%s not installed", bin)
		}
	}
	bin := buildBinary(b)
	root := b.TempDir()
	key := filepath.Join(root, "fourn01")
	sshtest.Keygen(b, key)
	port := sshtest.FreePort(b)
	dir, _ := filepath.Abs("../../samples/directory")
	hub := filepath.Join(root, "hub")
	cfg := fmt.Sprintf(`root = %q
directory = %q
log_level = "warn"
[sftp]
listen = "127.0.0.1:%d"
[[partners]]
id = "FOURN01"
name = "Fournitures Durand"
sirets = [%q]
authorized_keys = %q
status_formats = ["json"]
[[partners]]
id = "VALMONT"
name = "Valmont"
receives = [%q]
`, hub, dir, port, crashSupplier, key+".pub", crashRecipient)
	cfgPath := filepath.Join(root, "flowgate.toml")
	os.WriteFile(cfgPath, []byte(cfg), 0o644)
	cmd := exec.Command(bin, "run", "-config", cfgPath)
	cmd.Stderr = io.Discard
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { cmd.Process.Signal(syscall.SIGTERM); cmd.Wait() })
	hostKey := filepath.Join(hub, "ssh_host_ed25519_key")
	deadline := time.Now().Add(30 * time.Second)
	for {
		if _, err := os.Stat(hostKey); err == nil {
			if c, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", port)); err == nil {
				c.Close()
				break
			}
		}
		if time.Now().After(deadline) {
			b.Fatal("daemon did not start")
		}
		time.Sleep(20 * time.Millisecond)
	}
	out, err := exec.Command("ssh-keygen", "-y", "-f", hostKey).Output()
	if err != nil {
		b.Fatal(err)
	}
	knownHosts := filepath.Join(root, "known_hosts")
	os.WriteFile(knownHosts, []byte(fmt.Sprintf("[127.0.0.1]:%d %s", port, out)), 0o600)

	outDir := filepath.Join(hub, "partners", "FOURN01", "out")
	w, err := fsnotify.NewWatcher()
	if err != nil {
		b.Fatal(err)
	}
	defer w.Close()
	w.Add(outDir)

	round := 0
	for b.Loop() {
		staging := filepath.Join(root, fmt.Sprintf("staging-%d", round))
		os.MkdirAll(staging, 0o755)
		batches := make([][]string, clients)
		for i := range n {
			name := fmt.Sprintf("u%d-%04d.xml", round, i)
			os.WriteFile(filepath.Join(staging, name), benchInvoice(b, fmt.Sprintf("U%d-%04d", round, i), true), 0o644)
			batches[i%clients] = append(batches[i%clients], "put "+filepath.Join(staging, name)+" /in/"+name)
		}
		uploaded := make(chan map[string]time.Time, clients)
		crs := map[string]time.Time{}
		crDone := make(chan struct{})
		go func() {
			defer close(crDone)
			for len(crs) < n {
				select {
				case ev := <-w.Events:
					if !ev.Has(fsnotify.Create) || !strings.HasSuffix(ev.Name, ".json") || strings.HasPrefix(filepath.Base(ev.Name), ".") {
						continue
					}
					at := time.Now()
					data, _ := os.ReadFile(ev.Name)
					var cr struct {
						File string `json:"file"`
					}
					if json.Unmarshal(data, &cr) == nil && cr.File != "" {
						crs[cr.File] = at
					}
				case <-time.After(60 * time.Second):
					return
				}
			}
		}()
		start := time.Now()
		for c := range clients {
			go func() { uploaded <- runSFTPBatch(b, key, knownHosts, port, batches[c]) }()
		}
		ends := map[string]time.Time{}
		for range clients {
			for k, v := range <-uploaded {
				ends[k] = v
			}
		}
		<-crDone
		elapsed := time.Since(start)
		if len(crs) != n || len(ends) != n {
			b.Fatalf("%d uploads timed, %d CRs seen, want %d", len(ends), len(crs), n)
		}
		var lat []time.Duration
		for name, end := range ends {
			lat = append(lat, crs[name].Sub(end))
		}
		slices.Sort(lat)
		b.ReportMetric(float64(n)/elapsed.Seconds(), "flows/s")
		b.ReportMetric(float64(lat[n/2].Microseconds())/1000, "p50-ms")
		b.ReportMetric(float64(lat[n*99/100].Microseconds())/1000, "p99-ms")
		round++
	}
}

// runSFTPBatch runs one OpenSSH sftp client over puts and returns when
// each upload ended: sftp echoes each command as it starts it, so the next
// echo (or the end) marks the end of the previous upload.
func runSFTPBatch(b *testing.B, key, knownHosts string, port int, puts []string) map[string]time.Time {
	batch := filepath.Join(b.TempDir(), "batch")
	os.WriteFile(batch, []byte(strings.Join(puts, "\n")+"\n"), 0o600)
	cmd := exec.Command("sftp", "-b", batch, "-i", key, "-P", fmt.Sprint(port), "-o", "BatchMode=yes",
		"-o", "StrictHostKeyChecking=yes", "-o", "UserKnownHostsFile="+knownHosts, "-o", "IdentitiesOnly=yes", "fourn01@127.0.0.1")
	stdout, _ := cmd.StdoutPipe()
	cmd.Stderr = io.Discard
	if err := cmd.Start(); err != nil {
		b.Error(err)
		return nil
	}
	ends := map[string]time.Time{}
	current := ""
	buf := make([]byte, 64<<10)
	var pending []byte
	for {
		k, err := stdout.Read(buf)
		now := time.Now()
		pending = append(pending, buf[:k]...)
		for {
			i := bytes.IndexByte(pending, '\n')
			if i < 0 {
				break
			}
			line := string(pending[:i])
			pending = pending[i+1:]
			if rest, ok := strings.CutPrefix(line, "sftp> put "); ok {
				if current != "" {
					ends[current] = now
				}
				current = filepath.Base(strings.Fields(rest)[0])
			}
		}
		if err != nil {
			break
		}
	}
	if err := cmd.Wait(); err != nil {
		b.Errorf("sftp: %v", err)
	}
	if current != "" {
		ends[current] = time.Now()
	}
	return ends
}
