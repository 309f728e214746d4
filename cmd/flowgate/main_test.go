package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"

	"flowgate/samples"
)

var update = flag.Bool("update", false, "rewrite the golden files")

// sampleFlows lists the bundled sample flows, relative to the repository root.
func sampleFlows(t *testing.T) []string {
	t.Helper()
	var files []string
	for _, pattern := range []string{"samples/flows/*.xml", "samples/flows/*.zip", "samples/flows/*.tar.gz", "samples/flows/rejets/*"} {
		m, err := filepath.Glob(pattern)
		if err != nil {
			t.Fatal(err)
		}
		files = append(files, m...)
	}
	sort.Strings(files)
	if len(files) < 40 {
		t.Fatalf("only %d sample flows found", len(files))
	}
	return files
}

func runCmd(args ...string) (stdout, stderr string, code int) {
	var out, errOut bytes.Buffer
	err := run(context.Background(), args, &out, &errOut)
	var ee exitError
	switch {
	case err == nil:
	case errors.As(err, &ee):
		code = ee.code
	default:
		code = -1
		errOut.WriteString(err.Error())
	}
	return out.String(), errOut.String(), code
}

func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("cmd", "flowgate", "testdata", name)
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run `make golden` to create it)", err)
	}
	if got != string(want) {
		t.Errorf("output differs from %s (run `make golden` after a deliberate change):\n%s", path, firstDiff(string(want), got))
	}
}

func firstDiff(want, got string) string {
	w, g := strings.Split(want, "\n"), strings.Split(got, "\n")
	for i := range max(len(w), len(g)) {
		var a, b string
		if i < len(w) {
			a = w[i]
		}
		if i < len(g) {
			b = g[i]
		}
		if a != b {
			return "line " + strconv.Itoa(i+1) + ":\n  want " + a + "\n  got  " + b
		}
	}
	return ""
}

// TestGoldenSamples: the JSON and text verdicts on every sample flow.
func TestGoldenSamples(t *testing.T) {
	t.Chdir("../..")
	files := sampleFlows(t)
	for _, format := range []string{"json", "text"} {
		out, stderr, code := runCmd(append([]string{"validate", "-directory", "samples/directory", "-format", format}, files...)...)
		if code != 1 {
			t.Errorf("%s: exit %d, want 1 (some samples are rejected); stderr: %s", format, code, stderr)
		}
		if stderr != "" {
			t.Errorf("%s: unexpected stderr: %s", format, stderr)
		}
		golden(t, "samples."+format, out)
	}
}

// TestSampleCodes: each sample under rejets/ is named after the code it
// must produce, and the accepted samples produce none.
func TestSampleCodes(t *testing.T) {
	t.Chdir("../..")
	for _, file := range sampleFlows(t) {
		out, _, _ := runCmd("validate", "-directory", "samples/directory", "-format", "json", file)
		var rep struct {
			Status string `json:"flow_status"`
			Errors []struct {
				Code string `json:"code"`
			} `json:"errors"`
			Invoices []struct {
				Verdict  string `json:"verdict"`
				Findings []struct {
					Code string `json:"code"`
				} `json:"findings"`
			} `json:"invoices"`
		}
		if err := json.Unmarshal([]byte(out), &rep); err != nil {
			t.Fatalf("%s: %v in %q", file, err, out)
		}
		var codes []string
		for _, e := range rep.Errors {
			codes = append(codes, e.Code)
		}
		for _, inv := range rep.Invoices {
			for _, f := range inv.Findings {
				codes = append(codes, f.Code)
			}
		}
		base := filepath.Base(file)
		code := strings.TrimSuffix(strings.TrimSuffix(base, filepath.Ext(base)), ".tar")
		switch {
		case strings.Contains(file, "rejets/"):
			if !slices.Contains(codes, code) {
				t.Errorf("%s: codes %v, want %s among them", file, codes, code)
			}
		case base == "lot-mixte.zip":
			if rep.Status != "IN_INTEGRE_PARTIEL" {
				t.Errorf("%s: status %s", file, rep.Status)
			}
		default:
			if rep.Status != "IN_INTEGRE" || len(codes) != 0 {
				t.Errorf("%s: status %s, codes %v; want accepted", file, rep.Status, codes)
			}
		}
	}
}

func TestExitCodes(t *testing.T) {
	t.Chdir("../..")
	dir := "samples/directory"
	tests := []struct {
		name string
		args []string
		code int
	}{
		{"all accepted", []string{"validate", "-directory", dir, "samples/flows/facture-acceptee.xml", "samples/flows/avoir-accepte.xml"}, 0},
		{"one rejected", []string{"validate", "-directory", dir, "samples/flows/facture-acceptee.xml", "samples/flows/rejets/BR-02.xml"}, 1},
		{"missing file", []string{"validate", "-directory", dir, "samples/flows/facture-acceptee.xml", "nope.xml"}, 2},
		{"directory is not a file", []string{"validate", "samples/flows"}, 2},
		{"bad format", []string{"validate", "-format", "xml", "samples/flows/facture-acceptee.xml"}, 2},
		{"no file", []string{"validate"}, 2},
		{"unknown flag", []string{"validate", "-x"}, 2},
		{"missing directory", []string{"validate", "-directory", "nowhere", "samples/flows/facture-acceptee.xml"}, 2},
		{"no command", nil, 2},
		{"unknown command", []string{"frobnicate"}, 2},
		{"help", []string{"help"}, 0},
	}
	for _, tt := range tests {
		if _, stderr, code := runCmd(tt.args...); code != tt.code {
			t.Errorf("%s: exit %d, want %d; stderr: %s", tt.name, code, tt.code, stderr)
		}
	}
}

func TestNoDirectorySaysSoOnce(t *testing.T) {
	t.Chdir("../..")
	_, stderr, _ := runCmd("validate", "samples/flows/facture-acceptee.xml", "samples/flows/facture-service.xml")
	if n := strings.Count(stderr, "no directory given"); n != 1 {
		t.Errorf("notice printed %d times: %q", n, stderr)
	}
}

// TestDuplicateAcrossFiles: within one run, the second deposit of the same
// invoice is a duplicate.
func TestDuplicateAcrossFiles(t *testing.T) {
	t.Chdir("../..")
	f := "samples/flows/facture-acceptee.xml"
	out, _, code := runCmd("validate", "-directory", "samples/directory", "-format", "json", f, f)
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if code != 1 || len(lines) != 2 || !strings.Contains(lines[1], `"CPP-DOUBLON"`) || strings.Contains(lines[0], "CPP-DOUBLON") {
		t.Errorf("exit %d, output:\n%s", code, out)
	}
}

// TestDemo: `flowgate demo` runs the whole journey on the bundled samples.
func TestDemo(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the daemon")
	}
	out, stderr, code := runCmd("demo")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	n := 0
	fs.WalkDir(samples.FS, "flows", func(_ string, d fs.DirEntry, _ error) error {
		if !d.IsDir() {
			n++
		}
		return nil
	})
	for _, want := range []string{fmt.Sprintf("%d sample flows dropped", n), "CPP-EMETTEUR-NON-HABILITE", "partners/VALMONT/inbox/", "FLX-DTD", "Mailboxes:", "archive/",
		"facture-la-poste.xml, which `flowgate validate` accepts", "accepted: no partner collects 23000003000018, so it waits on the portal",
		"06 Suspendue, by VALMONT, recipient 21000001000012 « bon de livraison manquant »", "FACT_",
		"04 À recycler, by VALMONT, recipient 22000002000010", "FA-2026-0002, now 03 Mise à disposition"} {
		if !strings.Contains(out, want) {
			t.Errorf("demo output lacks %q:\n%s", want, out)
		}
	}
	for i, line := range strings.Split(out, "\n") {
		if n := utf8.RuneCountInString(line); n > demoWidth {
			t.Errorf("demo line %d is %d columns wide, over %d: %s", i+1, n, demoWidth, line)
		}
	}
}

// TestRunConfigErrors: a bad configuration stops `flowgate run` at once
// with every problem named.
func TestRunConfigErrors(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.toml")
	os.WriteFile(bad, []byte("root = \"\"\nsettle = \"soon\"\n[[partners]]\nid = \"x\"\n"), 0o644)
	_, stderr, code := runCmd("run", "-config", bad)
	if code != 2 || !strings.Contains(stderr, "settle") {
		t.Errorf("exit %d, stderr %q", code, stderr)
	}
	ok := filepath.Join(dir, "ok.toml")
	os.WriteFile(ok, []byte("root = \"hub\"\ndirectory = \"none\"\n[[partners]]\nid = \"FOURN01\"\nname = \"x\"\n"), 0o644)
	_, stderr, code = runCmd("run", "-config", ok)
	if code == 0 || !strings.Contains(stderr, "directory") {
		t.Errorf("missing directory: exit %d, stderr %q", code, stderr)
	}
	if _, _, code := runCmd("run"); code != 2 {
		t.Errorf("no -config: exit %d", code)
	}
}
