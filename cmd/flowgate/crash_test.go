package main

import (
	"archive/zip"
	"bytes"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"flowgate/internal/corpus"
	"flowgate/parser"
)

// buildBinary builds flowgate once per test run.
func buildBinary(t testing.TB) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "flowgate")
	cmd := exec.Command("go", "build", "-o", bin, ".")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

const (
	crashSupplier  = "81000001000019"
	crashRecipient = "21000001000012" // collected by partner VALMONT
	crashPortal    = "23000003000018" // no partner: portal (engagement required, given)
)

// crashConfig writes a daemon configuration under root.
func crashConfig(t testing.TB, root string) string {
	t.Helper()
	dir, err := filepath.Abs("../../samples/directory")
	if err != nil {
		t.Fatal(err)
	}
	cfg := fmt.Sprintf(`root = %q
directory = %q
settle = "300ms"
rescan = "1s"
shutdown_timeout = "10s"
log_format = "json"
log_level = "info"

[[partners]]
id = "FOURN01"
name = "Fournitures Durand"
sirets = [%q]

[[partners]]
id = "VALMONT"
name = "Commune de Valmont"
receives = [%q]
status_formats = ["cppstatut"]
`, filepath.Join(root, "hub"), dir, crashSupplier, crashRecipient)
	path := filepath.Join(root, "flowgate.toml")
	if err := os.WriteFile(path, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// expectation is what must become of one invoice.
type expectation struct {
	accepted bool
	where    string // "inbox", "portal" or "returns"
}

// crashFlows makes n distinct flows: single invoices and zips of three,
// accepted (to the partner's inbox or to the portal) and rejected, plus a
// few unreadable files. It returns name → bytes, and invoice number →
// expectation; unreadable files are expected whole in returns/ under
// their name.
func crashFlows(t *testing.T, n int) (map[string][]byte, map[string]expectation, []string) {
	t.Helper()
	tmpl, err := os.ReadFile("../../samples/flows/facture-engagement.xml")
	if err != nil {
		t.Fatal(err)
	}
	invoice := func(number string, kind int) ([]byte, expectation) {
		doc := bytes.Replace(tmpl, []byte("FA-2026-0003"), []byte(number), 1)
		switch kind % 3 {
		case 0: // to the partner's inbox
			doc = bytes.ReplaceAll(doc, []byte(crashPortal), []byte(crashRecipient))
			return doc, expectation{true, "inbox"}
		case 1: // to the portal
			return doc, expectation{true, "portal"}
		default: // unknown recipient: rejected
			doc = bytes.ReplaceAll(doc, []byte(crashPortal), []byte("99000009000011"))
			return doc, expectation{false, "returns"}
		}
	}
	files := map[string][]byte{}
	want := map[string]expectation{}
	var unreadable []string
	k := 0
	for i := range n {
		name := fmt.Sprintf("flux-%03d", i)
		switch {
		case i%20 == 19:
			files[name+".xml"] = []byte("<Invoice><broken " + name) // distinct bytes: not a duplicate flow
			unreadable = append(unreadable, name+".xml")
		case i%4 == 3:
			var buf bytes.Buffer
			zw := zip.NewWriter(&buf)
			for j := range 3 {
				number := fmt.Sprintf("CR-%05d", k)
				doc, exp := invoice(number, k)
				k++
				w, _ := zw.Create(fmt.Sprintf("lot/facture-%d.xml", j))
				w.Write(doc)
				want[number] = exp
			}
			zw.Close()
			files[name+".zip"] = buf.Bytes()
		default:
			number := fmt.Sprintf("CR-%05d", k)
			doc, exp := invoice(number, k)
			k++
			files[name+".xml"] = doc
			want[number] = exp
		}
	}
	return files, want, unreadable
}

// TestCrashSafety runs the built daemon, drops 200 flows while killing it
// with SIGKILL at random moments several times, restarts it, and checks
// that every invoice sits in exactly one place, every flow has exactly one
// CR, and nothing is lost or delivered twice.
func TestCrashSafety(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the daemon")
	}
	bin := buildBinary(t)
	root := t.TempDir()
	cfgPath := crashConfig(t, root)
	hub := filepath.Join(root, "hub")
	in := filepath.Join(hub, "partners", "FOURN01", "in")
	files, want, unreadable := crashFlows(t, 200)
	names := make([]string, 0, len(files))
	for name := range files {
		names = append(names, name)
	}
	rng := rand.New(rand.NewPCG(1, uint64(time.Now().UnixNano())))
	rng.Shuffle(len(names), func(i, j int) { names[i], names[j] = names[j], names[i] })

	var logs bytes.Buffer
	start := func() *exec.Cmd {
		cmd := exec.Command(bin, "run", "-config", cfgPath)
		cmd.Stderr = &logs
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		return cmd
	}
	waitFor := func(what string, ok func() bool) {
		t.Helper()
		deadline := time.Now().Add(60 * time.Second)
		for !ok() {
			if time.Now().After(deadline) {
				t.Fatalf("timed out waiting for %s; log:\n%s", what, tail(logs.String(), 3000))
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	cmd := start()
	waitFor("mailboxes", func() bool { _, err := os.Stat(in); return err == nil })

	// Drop the flows in bursts, as billing systems do (temporary name,
	// then rename), and kill the daemon at random moments in between.
	kills := 0
	for i := 0; i < len(names); {
		burst := min(len(names)-i, 10+rng.IntN(40))
		for _, name := range names[i : i+burst] {
			tmp := filepath.Join(in, "."+name+".tmp")
			if err := os.WriteFile(tmp, files[name], 0o644); err != nil {
				t.Fatal(err)
			}
			if err := os.Rename(tmp, filepath.Join(in, name)); err != nil {
				t.Fatal(err)
			}
		}
		i += burst
		time.Sleep(time.Duration(rng.IntN(120)) * time.Millisecond)
		if kills < 6 && rng.IntN(2) == 0 {
			cmd.Process.Signal(syscall.SIGKILL)
			cmd.Wait()
			kills++
			cmd = start()
		}
	}
	for kills < 5 {
		time.Sleep(time.Duration(rng.IntN(60)) * time.Millisecond)
		cmd.Process.Signal(syscall.SIGKILL)
		cmd.Wait()
		kills++
		cmd = start()
	}
	archive := filepath.Join(hub, "archive")
	waitFor("every flow archived", func() bool {
		entries, _ := os.ReadDir(archive)
		return len(entries) == len(files)
	})
	cmd.Process.Signal(syscall.SIGTERM)
	if err := cmd.Wait(); err != nil {
		t.Fatalf("daemon exit after SIGTERM: %v; log:\n%s", err, tail(logs.String(), 3000))
	}
	t.Logf("%d flows, %d invoices, %d kills", len(files), len(want), kills)

	// Every invoice in exactly one place, the right one.
	found := map[string][]string{}
	wholeReturned := map[string]int{}
	for _, place := range []string{"partners/VALMONT/inbox", "portal", "partners/FOURN01/returns", "partners/FOURN01/inbox"} {
		filepath.WalkDir(filepath.Join(hub, place), func(p string, d os.DirEntry, err error) error {
			if err != nil || d.IsDir() {
				return err
			}
			if strings.HasPrefix(d.Name(), ".") {
				t.Errorf("temporary file left: %s", p)
				return nil
			}
			data, _ := os.ReadFile(p)
			inv, perr := parser.ParseBytes(data)
			if perr != nil {
				for _, u := range unreadable {
					if strings.HasSuffix(d.Name(), "_"+u) {
						wholeReturned[u]++
					}
				}
				return nil
			}
			where := "returns"
			switch {
			case strings.HasPrefix(place, "portal"):
				where = "portal"
			case strings.HasSuffix(place, "inbox"):
				where = "inbox"
			}
			found[inv.Number] = append(found[inv.Number], where)
			return nil
		})
	}
	for number, exp := range want {
		got := found[number]
		if len(got) != 1 || got[0] != exp.where {
			t.Errorf("invoice %s: found in %v, want exactly once in %s", number, got, exp.where)
		}
	}
	for number := range found {
		if _, ok := want[number]; !ok {
			t.Errorf("unexpected invoice %s", number)
		}
	}
	for _, u := range unreadable {
		if wholeReturned[u] != 1 {
			t.Errorf("unreadable flow %s returned %d times, want 1", u, wholeReturned[u])
		}
	}

	// Every flow exactly one CR of each format, naming its file.
	out := filepath.Join(hub, "partners", "FOURN01", "out")
	jsons, _ := filepath.Glob(filepath.Join(out, "CR_*.json"))
	xmls, _ := filepath.Glob(filepath.Join(out, "CR_*.xml"))
	if len(jsons) != len(files) || len(xmls) != len(files) {
		t.Errorf("%d JSON and %d XML CRs for %d flows", len(jsons), len(xmls), len(files))
	}
	reported := map[string]int{}
	for _, p := range jsons {
		var cr struct {
			File string `json:"file"`
		}
		data, _ := os.ReadFile(p)
		if err := json.Unmarshal(data, &cr); err != nil {
			t.Errorf("%s: %v", p, err)
		}
		reported[cr.File]++
	}
	for name := range files {
		if reported[name] != 1 {
			t.Errorf("flow %s has %d CRs", name, reported[name])
		}
	}
	for _, dir := range []string{in, filepath.Join(hub, "work")} {
		if left, _ := os.ReadDir(dir); len(left) != 0 {
			t.Errorf("%s not empty: %d entries", dir, len(left))
		}
	}

	// Every status file validates against the CPPStatut schema.
	status, _ := filepath.Glob(filepath.Join(hub, "partners", "*", "out", "*.xml"))
	corpus.ValidateCPPStatut(t, status)
}

func tail(s string, n int) string {
	if len(s) > n {
		return "…" + s[len(s)-n:]
	}
	return s
}
