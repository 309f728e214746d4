package main

import (
	"archive/zip"
	"bytes"
	"compress/flate"
	"encoding/json"
	"fmt"
	"hash/crc32"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// hostileMemoryLimit is the daemon's memory_limit in TestHostileDepositsAtOnce.
const hostileMemoryLimit = 768 << 20

// TestHostileDepositsAtOnce drops every hostile flow known to have hurt the
// hub, all at once, into one partner's in/, while another partner deposits
// honest invoices. The daemon must stay under its memory_limit (peak RSS,
// VmHWM), never crash, answer every hostile flow with a CR, and deliver the
// honest partner's invoices.
func TestHostileDepositsAtOnce(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the daemon")
	}
	bin := buildBinary(t)
	root := t.TempDir()
	hub := filepath.Join(root, "hub")
	dir, err := filepath.Abs("../../samples/directory")
	if err != nil {
		t.Fatal(err)
	}
	cfg := fmt.Sprintf(`root = %q
directory = %q
settle = "300ms"
rescan = "1s"
shutdown_timeout = "10s"
memory_limit = %d
log_format = "json"

[[partners]]
id = "MALVEIL"
name = "A hostile depositor"
sirets = [%q]
status_formats = ["json"]

[[partners]]
id = "FOURN01"
name = "Fournitures Durand"
sirets = ["26000006000012"]
status_formats = ["json"]

[[partners]]
id = "VALMONT"
name = "Commune de Valmont"
receives = [%q]
status_formats = ["cppstatut"]
`, hub, dir, hostileMemoryLimit, crashSupplier, crashRecipient)
	cfgPath := filepath.Join(root, "flowgate.toml")
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}

	tmpl, err := os.ReadFile("../../samples/flows/facture-engagement.xml")
	if err != nil {
		t.Fatal(err)
	}
	invoice := func(number, supplier string) []byte {
		doc := bytes.Replace(tmpl, []byte("FA-2026-0003"), []byte(number), 1)
		doc = bytes.ReplaceAll(doc, []byte(crashPortal), []byte(crashRecipient))
		return bytes.ReplaceAll(doc, []byte(crashSupplier), []byte(supplier))
	}
	hostile := hostileFlows(t, invoice(strconv.Itoa(0), crashSupplier))

	logs := &syncBuffer{}
	cmd := exec.Command(bin, "run", "-config", cfgPath)
	cmd.Stderr = logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		cmd.Process.Signal(syscall.SIGKILL)
		cmd.Wait()
	}()
	evilIn := filepath.Join(hub, "partners", "MALVEIL", "in")
	goodIn := filepath.Join(hub, "partners", "FOURN01", "in")
	waitUntil(t, logs, 30*time.Second, "mailboxes", func() bool { _, err := os.Stat(goodIn); return err == nil })

	for name, write := range hostile {
		tmp := filepath.Join(evilIn, "."+name)
		if err := write(tmp); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(tmp, filepath.Join(evilIn, name)); err != nil {
			t.Fatal(err)
		}
	}
	const honest = 5
	for i := range honest {
		name := fmt.Sprintf("honnete-%d.xml", i)
		if err := os.WriteFile(filepath.Join(goodIn, "."+name), invoice(fmt.Sprintf("HON-%03d", i), "26000006000012"), 0o644); err != nil {
			t.Fatal(err)
		}
		os.Rename(filepath.Join(goodIn, "."+name), filepath.Join(goodIn, name))
	}

	inbox := filepath.Join(hub, "partners", "VALMONT", "inbox")
	waitUntil(t, logs, 2*time.Minute, "the honest partner's invoices delivered", func() bool {
		got, _ := filepath.Glob(filepath.Join(inbox, "*_26000006000012_HON-*"))
		return len(got) == honest
	})
	out := filepath.Join(hub, "partners", "MALVEIL", "out")
	waitUntil(t, logs, 2*time.Minute, "a CR for every hostile flow", func() bool {
		got, _ := filepath.Glob(filepath.Join(out, "CR_*.json"))
		return len(got) == len(hostile)
	})
	peak := peakRSS(t, cmd.Process.Pid)
	t.Logf("peak RSS %d MiB for memory_limit %d MiB", peak>>20, hostileMemoryLimit>>20)
	if peak > hostileMemoryLimit {
		t.Errorf("peak RSS %d MiB over memory_limit %d MiB", peak>>20, hostileMemoryLimit>>20)
	}
	if strings.Contains(logs.String(), "panic") {
		t.Errorf("daemon log mentions a panic:\n%s", tail(logs.String(), 3000))
	}

	// Every report is bounded whatever the flow.
	crs, _ := filepath.Glob(filepath.Join(out, "CR_*"))
	for _, p := range crs {
		fi, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		if fi.Size() > 4<<20 {
			t.Errorf("%s is %d bytes: reports must stay bounded", filepath.Base(p), fi.Size())
		}
		var cr struct {
			File   string `json:"file"`
			Status string `json:"flow_status"`
			Errors []struct {
				Code string `json:"code"`
			} `json:"errors"`
		}
		data, _ := os.ReadFile(p)
		if err := json.Unmarshal(data, &cr); err != nil {
			t.Errorf("%s: %v", p, err)
		}
		var codes []string
		for _, e := range cr.Errors {
			codes = append(codes, e.Code)
		}
		t.Logf("%s: %s %v (%d bytes)", cr.File, cr.Status, slices.Compact(slices.Sorted(slices.Values(codes))), len(data))
		want := "IN_REJETE"
		if strings.HasPrefix(cr.File, "lot-") {
			want = "IN_INTEGRE"
		}
		if cr.Status != want {
			t.Errorf("%s: %s, want %s", cr.File, cr.Status, want)
		}
		switch cr.File {
		case "creux.xml":
			if len(codes) != 1 || codes[0] != "FLX-TAILLE" {
				t.Errorf("sparse file: errors %v, want FLX-TAILLE alone", codes)
			}
		case "zip-menteur.zip":
			for _, c := range codes {
				if c != "FLX-ARCHIVE" && c != "FLX-TAILLE" {
					t.Errorf("lying zip: error %s", c)
				}
			}
			if len(codes) == 0 {
				t.Error("lying zip: no error")
			}
		}
	}
	// Nothing of the oversized deposits reached returns/ whole.
	returned, _ := filepath.Glob(filepath.Join(hub, "partners", "MALVEIL", "returns", "*"))
	for _, p := range returned {
		if fi, err := os.Stat(p); err == nil && fi.Size() > 64<<20 {
			t.Errorf("returned %s is %d bytes", filepath.Base(p), fi.Size())
		}
	}
}

// hostileFlows returns, by deposited name, a function writing each hostile
// flow at a path. good is an honest invoice of the hostile partner.
func hostileFlows(t *testing.T, good []byte) map[string]func(string) error {
	t.Helper()
	writeBytes := func(b []byte) func(string) error {
		return func(p string) error { return os.WriteFile(p, b, 0o644) }
	}
	flows := map[string]func(string) error{}

	// 100,000 empty invoice lines: findings amplified without bound.
	end := bytes.LastIndex(good, []byte("</Invoice>"))
	if end < 0 {
		t.Fatal("sample has no </Invoice>")
	}
	var lines bytes.Buffer
	lines.Write(good[:end])
	for range 100000 {
		lines.WriteString("<cac:InvoiceLine/>")
	}
	lines.Write(good[end:])
	flows["lignes-vides.xml"] = writeBytes(lines.Bytes())

	// A zip whose 50 entries claim to be stored as they are (ratio 1:1) but
	// inflate to 19 MiB each.
	flows["zip-menteur.zip"] = writeBytes(lyingZip(t, 50, 19<<20))

	// A sparse file of 1 GiB + 1: over max_file_size, never to be read.
	flows["creux.xml"] = func(p string) error {
		f, err := os.Create(p)
		if err != nil {
			return err
		}
		if _, err := f.WriteAt([]byte("<"), 1<<30); err != nil {
			f.Close()
			return err
		}
		return f.Close()
	}

	// A namespace-declaration flood: 254 nested elements binding 255
	// prefixes each, then 200,000 elements whose prefix, bound on the
	// root, is looked up past every binding in scope.
	var ns bytes.Buffer
	ns.WriteString(`<Invoice xmlns="urn:oasis:names:specification:ubl:schema:xsd:Invoice-2" xmlns:q="urn:q">`)
	for i := range 254 {
		ns.WriteString("<x")
		for j := range 255 {
			fmt.Fprintf(&ns, ` xmlns:p%d="urn:%d"`, j, i)
		}
		ns.WriteString(">")
	}
	for range 200000 {
		ns.WriteString("<q:a/>")
	}
	for range 254 {
		ns.WriteString("</x>")
	}
	ns.WriteString("</Invoice>")
	flows["espaces-de-noms.xml"] = writeBytes(ns.Bytes())

	// Honest load: archives of 500 invoices each.
	for z := range 4 {
		var buf bytes.Buffer
		zw := zip.NewWriter(&buf)
		for i := range 500 {
			w, _ := zw.Create(fmt.Sprintf("lot/f-%d.xml", i))
			w.Write(bytes.Replace(good, []byte("<cbc:ID>0</cbc:ID>"), []byte(fmt.Sprintf("<cbc:ID>LOT%d-%d</cbc:ID>", z, i)), 1))
		}
		zw.Close()
		flows[fmt.Sprintf("lot-%d.zip", z)] = writeBytes(buf.Bytes())
	}
	return flows
}

// lyingZip builds a zip of n deflated entries of size bytes each, whose
// headers claim each is stored uncompressed (compressed size = size).
func lyingZip(t *testing.T, n, size int) []byte {
	t.Helper()
	doc := bytes.Repeat([]byte("<a>lorem ipsum</a>"), size/18+1)[:size]
	var comp bytes.Buffer
	fw, _ := flate.NewWriter(&comp, flate.BestCompression)
	fw.Write(doc)
	fw.Close()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for i := range n {
		w, err := zw.CreateRaw(&zip.FileHeader{Name: fmt.Sprintf("f-%d.xml", i), Method: zip.Deflate,
			CRC32: crc32.ChecksumIEEE(doc), CompressedSize64: uint64(size), UncompressedSize64: uint64(size)})
		if err != nil {
			t.Fatal(err)
		}
		w.Write(comp.Bytes())
	}
	zw.Close()
	return buf.Bytes()
}

// peakRSS reads the peak resident set size (VmHWM) of a running process.
func peakRSS(t *testing.T, pid int) int64 {
	t.Helper()
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(data), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), 10, 64)
			if err != nil {
				t.Fatal(err)
			}
			return kb << 10
		}
	}
	t.Fatal("no VmHWM in /proc status")
	return 0
}
