package main

import (
	"archive/zip"
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"flowgate/config"
)

// flowDaemon starts the daemon on a fresh root whose FOURN01 takes JSON
// status files, and returns its configuration file, configuration, logs
// and the function that stops it.
func flowDaemon(t *testing.T) (string, config.Config, *syncBuffer, func()) {
	return serveTOML(t, fmt.Sprintf(`[[partners]]
id = "FOURN01"
name = "Fournitures Durand"
sirets = [%q]
status_formats = ["json"]

[[partners]]
id = "VALMONT"
name = "Commune de Valmont"
receives = [%q]
status_formats = ["json"]
`, crashSupplier, crashRecipient))
}

// deposit puts a file in FOURN01's in/ as a partner would (written under a
// temporary name, then renamed).
func deposit(t *testing.T, cfg config.Config, name string, data []byte) {
	depositAs(t, cfg, "FOURN01", name, data)
}

// awaitCRs waits until FOURN01's out/ holds n JSON CRs and returns them by
// flow id.
func awaitCRs(t *testing.T, cfg config.Config, logs *syncBuffer, n int) map[string]map[string]any {
	t.Helper()
	out := filepath.Join(cfg.Root, "partners/FOURN01/out")
	var crs []string
	waitUntil(t, logs, 20*time.Second, fmt.Sprintf("%d CRs", n), func() bool {
		crs, _ = filepath.Glob(filepath.Join(out, "CR_*.json"))
		return len(crs) >= n
	})
	byID := map[string]map[string]any{}
	for _, p := range crs {
		data, _ := os.ReadFile(p)
		var cr map[string]any
		if err := json.Unmarshal(data, &cr); err != nil {
			t.Fatalf("%s: %v", p, err)
		}
		byID[cr["flow_id"].(string)] = cr
	}
	return byID
}

func lotOf(t *testing.T, accepted, rejected string) []byte {
	t.Helper()
	tmpl, err := os.ReadFile("../../samples/flows/facture-engagement.xml")
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for name, doc := range map[string][]byte{
		"ok.xml":  bytes.ReplaceAll(bytes.Replace(tmpl, []byte("FA-2026-0003"), []byte(accepted), 1), []byte(crashPortal), []byte(crashRecipient)),
		"bad.xml": bytes.ReplaceAll(bytes.Replace(tmpl, []byte("FA-2026-0003"), []byte(rejected), 1), []byte(crashPortal), []byte("99000009000011")),
	} {
		w, _ := zw.Create(name)
		w.Write(doc)
	}
	zw.Close()
	return buf.Bytes()
}

// TestFlowCommands: flow list and show read the store (the report even
// once the partner emptied its out/, where each invoice went); the same
// bytes deposited again get their own FLX-DOUBLON report; flow reprocess
// runs the first flow again through the running daemon's intake.
func TestFlowCommands(t *testing.T) {
	path, cfg, logs, stop := flowDaemon(t)
	defer stop()
	lot := lotOf(t, "L-1", "L-2")
	deposit(t, cfg, "lot.zip", lot)
	crs := awaitCRs(t, cfg, logs, 1)
	var first string
	for id := range crs {
		first = id
	}

	// list, with filters.
	stdout, stderr, code := runCmd("flow", "list", "-config", path)
	if code != 0 || !strings.Contains(stdout, first) || !strings.Contains(stdout, "IN_INTEGRE_PARTIEL") || !strings.Contains(stdout, "lot.zip") {
		t.Fatalf("flow list: %d\n%s%s", code, stdout, stderr)
	}
	for _, args := range [][]string{{"-partner", "VALMONT"}, {"-status", "IN_REJETE"}, {"-status", "quarantined"}} {
		stdout, _, _ := runCmd(append([]string{"flow", "list", "-config", path}, args...)...)
		if strings.Contains(stdout, first) {
			t.Errorf("flow list %v lists %s:\n%s", args, first, stdout)
		}
	}
	// A CR is in out/ a moment before its flow is marked done.
	waitUntil(t, logs, 20*time.Second, "flow list -since 1h -status done -partner FOURN01 to list the flow", func() bool {
		stdout, _, _ := runCmd("flow", "list", "-since", "1h", "-status", "done", "-partner", "FOURN01", "-config", path)
		return strings.Contains(stdout, first)
	})
	if _, stderr, code := runCmd("flow", "list", "-partner", "NOPE", "-config", path); code != 2 || !strings.Contains(stderr, `no partner "NOPE"`) {
		t.Errorf("flow list -partner NOPE: exit %d, %s", code, stderr)
	}

	// show: from the store, whatever became of out/.
	outs, _ := filepath.Glob(filepath.Join(cfg.Root, "partners/FOURN01/out/*"))
	for _, p := range outs {
		os.Remove(p)
	}
	stdout, stderr, code = runCmd("flow", "show", first, "-config", path, "-format", "json")
	var shown shownFlow
	if code != 0 || json.Unmarshal([]byte(stdout), &shown) != nil {
		t.Fatalf("flow show: %d\n%s%s", code, stdout, stderr)
	}
	if shown.ID != first || shown.Report.Status != "IN_INTEGRE_PARTIEL" || len(shown.Report.Invoices) != 2 || len(shown.Invoices) != 2 {
		t.Fatalf("flow show: %s", stdout)
	}
	for _, inv := range shown.Invoices {
		want := map[string]string{"L-1": "partners/VALMONT/inbox/", "L-2": "partners/FOURN01/returns/"}[inv.Number]
		if want == "" || !strings.HasPrefix(inv.Location, want) {
			t.Errorf("invoice %s went to %s, want %s...", inv.Number, inv.Location, want)
		}
	}
	stdout, _, code = runCmd("flow", "show", "-config", path, first)
	if code != 0 || !strings.Contains(stdout, "CPP-DEST-INCONNU") || !strings.Contains(stdout, "partners/VALMONT/inbox/") {
		t.Errorf("flow show (text):\n%s", stdout)
	}
	if _, _, code := runCmd("flow", "show", "-config", path, "20000101T000000.000000Z"); code != 1 {
		t.Errorf("flow show of an unknown flow: exit %d", code)
	}

	// The same bytes again: its own report, FLX-DOUBLON.
	deposit(t, cfg, "lot-again.zip", lot)
	crs = awaitCRs(t, cfg, logs, 1)
	for id, cr := range crs {
		errs, _ := cr["errors"].([]any)
		if id == first || cr["file"] != "lot-again.zip" || cr["duplicate_of"] != first || cr["flow_status"] != "IN_REJETE" ||
			len(errs) != 1 || errs[0].(map[string]any)["code"] != "FLX-DOUBLON" {
			t.Errorf("repeat's CR: %v", cr)
		}
		os.Remove(filepath.Join(cfg.Root, "partners/FOURN01/out", "CR_"+id+"_lot-again.zip.json"))
	}

	// reprocess: through the running daemon's intake, as a new flow.
	stdout, stderr, code = runCmd("flow", "reprocess", first, "-config", path)
	if code != 0 {
		t.Fatalf("flow reprocess: %d\n%s%s", code, stdout, stderr)
	}
	crs = awaitCRs(t, cfg, logs, 1)
	for id, cr := range crs {
		data, _ := json.Marshal(cr)
		if id == first || cr["file"] != "lot.zip" || cr["reprocess_of"] != first || cr["duplicate_of"] != nil ||
			cr["flow_status"] != "IN_REJETE" || !bytes.Contains(data, []byte(`"CPP-DOUBLON"`)) || !bytes.Contains(data, []byte(`"CPP-DEST-INCONNU"`)) {
			t.Errorf("reprocessed flow's CR: %s", data)
		}
	}
	// A flow that does not exist, or a usage error.
	if _, _, code := runCmd("flow", "reprocess", "-config", path, "nope"); code != 1 {
		t.Errorf("reprocess of an unknown flow: exit %d", code)
	}
	if _, _, code := runCmd("flow", "reprocess", "-config", path); code != 2 {
		t.Errorf("reprocess without a flow: exit %d", code)
	}
}
