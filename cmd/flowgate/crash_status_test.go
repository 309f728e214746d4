package main

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"flowgate/internal/corpus"
	"flowgate/store"
)

// TestStatusCrashSafety kills the daemon with SIGKILL at random moments
// while recipients' status flows are applied, restarts it, and checks
// that each status was applied once (each invoice's history is exactly
// 01 03 07 08 11), each status flow has one CR, and the supplier heard of
// each change once.
func TestStatusCrashSafety(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the daemon")
	}
	bin := buildBinary(t)
	root := t.TempDir()
	cfgPath := crashConfig(t, root)
	hub := filepath.Join(root, "hub")
	rng := rand.New(rand.NewPCG(2, uint64(time.Now().UnixNano())))
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
	archived := func(n int) func() bool {
		return func() bool { e, _ := os.ReadDir(filepath.Join(hub, "archive")); return len(e) == n }
	}
	put := func(partner, name string, data []byte) {
		in := filepath.Join(hub, "partners", partner, "in")
		if err := os.WriteFile(filepath.Join(in, "."+name), data, 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(filepath.Join(in, "."+name), filepath.Join(in, name)); err != nil {
			t.Fatal(err)
		}
	}
	cmd := start()
	waitFor("mailboxes", func() bool { _, err := os.Stat(filepath.Join(hub, "partners/VALMONT/in")); return err == nil })

	const n = 15
	for i := range n {
		put("FOURN01", fmt.Sprintf("sc-%02d.xml", i), invoiceT(t, fmt.Sprintf("SC-%02d", i)))
	}
	flows := n
	waitFor("invoices archived", archived(flows))

	kills := 0
	for _, code := range []string{"07", "08", "11"} {
		for i := 0; i < n; {
			burst := min(n-i, 1+rng.IntN(5))
			for j := i; j < i+burst; j++ {
				mandate := ""
				if code == "08" {
					mandate = fmt.Sprintf("M-%02d", j)
				}
				put("VALMONT", fmt.Sprintf("st-%s-%02d.xml", code, j), []byte(statusDocT(unitT(fmt.Sprintf("SC-%02d", j), "2026-11-02", code, "", mandate))))
			}
			i += burst
			time.Sleep(time.Duration(rng.IntN(80)) * time.Millisecond)
			if rng.IntN(2) == 0 {
				cmd.Process.Signal(syscall.SIGKILL)
				cmd.Wait()
				kills++
				cmd = start()
			}
		}
		flows += n
		waitFor("status flows "+code+" archived", archived(flows))
	}
	cmd.Process.Signal(syscall.SIGTERM)
	if err := cmd.Wait(); err != nil {
		t.Fatalf("daemon exit after SIGTERM: %v; log:\n%s", err, tail(logs.String(), 3000))
	}
	t.Logf("%d status flows, %d kills", 3*n, kills)

	st, err := store.Open(context.Background(), filepath.Join(hub, "flowgate.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	for i := range n {
		number := fmt.Sprintf("SC-%02d", i)
		invs, err := st.Delivered(context.Background(), crashSupplier, number, "")
		if err != nil || len(invs) != 1 {
			t.Fatalf("%s: %v %v", number, invs, err)
		}
		h, _ := st.History(context.Background(), invs[0].FlowID, invs[0].Seq)
		var codes []string
		for _, e := range h {
			codes = append(codes, e.Code)
		}
		if strings.Join(codes, " ") != "01 03 07 08 11" || invs[0].Status != "11" || h[3].Mandate != fmt.Sprintf("M-%02d", i) {
			t.Errorf("%s: history %v, status %s", number, codes, invs[0].Status)
		}
	}
	// One CR per status flow, each applied (90).
	crs, _ := filepath.Glob(filepath.Join(hub, "partners/VALMONT/out/CR_*.xml"))
	named := map[string]int{}
	for _, p := range crs {
		data, _ := os.ReadFile(p)
		if !bytes.Contains(data, []byte("<IdStatut>90</IdStatut>")) {
			t.Errorf("%s: not 90", p)
		}
		named[regexp.MustCompile(`st-\d\d-\d\d\.xml`).FindString(filepath.Base(p))]++
	}
	if len(crs) != 3*n || len(named) != 3*n {
		t.Errorf("%d CRs for %d status flows (%d names)", len(crs), 3*n, len(named))
	}
	// The supplier heard of each change once.
	facts, _ := filepath.Glob(filepath.Join(hub, "partners/FOURN01/out/FACT_*_STATUTS.xml"))
	heard := map[string]int{}
	re := regexp.MustCompile(`(?s)<IdStatut>(\d\d)</IdStatut>.*?<IdFacture>([^<]*)</IdFacture>`)
	for _, p := range facts {
		data, _ := os.ReadFile(p)
		for _, m := range re.FindAllSubmatch(data, -1) {
			heard[string(m[2])+" "+string(m[1])]++
		}
	}
	if len(heard) != 3*n {
		t.Errorf("supplier heard of %d changes, want %d", len(heard), 3*n)
	}
	for k, c := range heard {
		if c != 1 {
			t.Errorf("supplier heard of %s %d times", k, c)
		}
	}
	all, _ := filepath.Glob(filepath.Join(hub, "partners/*/out/*.xml"))
	corpus.ValidateCPPStatut(t, all)
}
