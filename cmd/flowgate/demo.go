package main

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"time"
	"unicode/utf8"

	"flowgate"
	"flowgate/config"
	"flowgate/flows"
	"flowgate/samples"
	"flowgate/store"
)

// Demo partners: a supplier's billing system and a recipient's accounting system.
var demoPartners = []config.Partner{
	{ID: "FOURN01", Name: "Fournitures Durand SARL (facturation)", SIRETs: []string{"81000001000019", "26000006000012"},
		StatusFormats: []string{"cppstatut", "json"}},
	{ID: "VALMONT", Name: "Valmont et Haute-Vallée (comptabilité)", Receives: []string{"21000001000012", "22000002000010"},
		StatusFormats: []string{"cppstatut"}},
}

func runDemo(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fset := flag.NewFlagSet("demo", flag.ContinueOnError)
	keep := fset.Bool("keep", false, "keep the temporary root and print its path")
	verbose := fset.Bool("v", false, "show the daemon's log")
	rest, err := parseFlags(fset, usageDemo, args, stdout, stderr)
	if err != nil {
		return err
	}
	if err := noArgs("demo", rest, usageDemo, stderr); err != nil {
		return err
	}
	root, err := os.MkdirTemp("", "flowgate-demo-")
	if err != nil {
		return err
	}
	if !*keep {
		defer os.RemoveAll(root)
	}
	dirPath := filepath.Join(root, "annuaire")
	if err := copyTree(samples.FS, "directory", dirPath); err != nil {
		return err
	}
	cfg := config.DefaultConfig()
	cfg.Root, cfg.Directory, cfg.Database = filepath.Join(root, "hub"), dirPath, filepath.Join(root, "hub", "flowgate.db")
	cfg.Settle = config.Duration{Duration: 200 * time.Millisecond}
	cfg.Partners = demoPartners
	cfg.LogLevel = "warn"
	if *verbose {
		cfg.LogLevel = "info"
	}
	cfg.ApplyDefaults()
	if err := cfg.Validate(); err != nil {
		return err
	}
	if err := os.MkdirAll(cfg.Root, 0o711); err != nil {
		return err
	}

	dctx, stop := context.WithCancel(ctx)
	defer stop()
	ready := make(chan struct{})
	done := make(chan error, 1)
	go func() { done <- serve(dctx, cfg, newLogger(cfg, stderr), ready) }()
	select {
	case <-ready:
	case err := <-done:
		return err
	}

	dropped, err := dropSamples(flows.Mailboxes{Root: cfg.Root}.In("FOURN01"))
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "%d sample flows dropped into partners/FOURN01/in/\n\n", dropped)
	archive := flows.Mailboxes{Root: cfg.Root}.Archive()
	deadline := time.Now().Add(60 * time.Second)
	for {
		entries, _ := os.ReadDir(archive)
		if len(entries) >= dropped {
			break
		}
		if time.Now().After(deadline) {
			stop()
			<-done
			return fmt.Errorf("demo: only %d of %d flows finished in time", len(entries), dropped)
		}
		select {
		case <-ctx.Done():
			stop()
			<-done
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
	// The recipient's accounting suspends one delivered invoice and sends
	// another back "à recycler" (status flows in VALMONT's in/); the
	// supplier deposits the latter again, same number, to the right SIRET.
	mb := flows.Mailboxes{Root: cfg.Root}
	waitArchived := func(n int, what string) error {
		for {
			entries, _ := os.ReadDir(archive)
			if len(entries) >= n {
				return nil
			}
			if time.Now().After(deadline) {
				stop()
				<-done
				return fmt.Errorf("demo: %s did not finish in time", what)
			}
			select {
			case <-ctx.Done():
				stop()
				<-done
				return ctx.Err()
			case <-time.After(50 * time.Millisecond):
			}
		}
	}
	for i, st := range demoStatuses {
		doc, err := operatorStatusXML("VALMONT", demoSupplier, st.number, "2026-11-02", st.code, st.comment, "")
		if err != nil {
			return err
		}
		if err := depositNoReplace(mb.In("VALMONT"), st.file, doc); err != nil {
			return err
		}
		if err := waitArchived(dropped+1+i, st.file); err != nil {
			return err
		}
	}
	recycled, err := fs.ReadFile(samples.FS, "flows/facture-acceptee.xml")
	if err != nil {
		return err
	}
	recycled = bytes.Replace(recycled, []byte("<cbc:ID>"+demoInvoice+"</cbc:ID>"), []byte("<cbc:ID>"+demoRecycled+"</cbc:ID>"), 1)
	if err := depositNoReplace(mb.In("FOURN01"), demoRecycledFile, recycled); err != nil {
		return err
	}
	if err := waitArchived(dropped+len(demoStatuses)+1, demoRecycledFile); err != nil {
		return err
	}
	stop()
	if err := <-done; err != nil {
		return err
	}
	if err := printJourney(ctx, stdout, cfg); err != nil {
		return err
	}
	if err := printLifecycle(ctx, stdout, cfg); err != nil {
		return err
	}
	fmt.Fprintln(stdout, "\nMailboxes:")
	if err := printTree(stdout, cfg.Root); err != nil {
		return err
	}
	if *keep {
		fmt.Fprintln(stdout, "\nroot kept:", root)
	}
	return nil
}

// The demo's lifecycle: VALMONT suspends FA-2026-0001 (its delivery note
// missing) and sends FA-2026-0002, addressed to the department, back "à
// recycler"; the supplier deposits FA-2026-0002 again to the commune.
const (
	demoSupplier     = "81000001000019"
	demoInvoice      = "FA-2026-0001"
	demoRecycled     = "FA-2026-0002"
	demoRecycledFile = "FA-2026-0002-recyclee.xml"
)

var demoStatuses = []struct{ file, number, code, comment string }{
	{"statuts-valmont-1.xml", demoInvoice, "06", "bon de livraison manquant"},
	{"statuts-valmont-2.xml", demoRecycled, "04", "adressée au Département : destinée à la commune"},
}

// printLifecycle prints what became of the demo's status flow and the
// suspended invoice's story.
func printLifecycle(ctx context.Context, w io.Writer, cfg config.Config) error {
	st, err := store.Open(ctx, cfg.Database)
	if err != nil {
		return err
	}
	defer st.Close()
	fmt.Fprintln(w, "\nLifecycle: VALMONT deposits statuses (CPPStatut) in its in/: "+demoInvoice+" suspended, "+demoRecycled+" to recycle;")
	fmt.Fprintln(w, "  FOURN01 is told (FACT_<flow>_STATUTS.xml) and deposits "+demoRecycledFile+" to the commune, same number.")
	fmt.Fprintln(w, "  `flowgate invoice show` tells each story:")
	for _, number := range []string{demoInvoice, demoRecycled} {
		all, err := stories(ctx, st, demoSupplier, number, "")
		if err != nil || len(all) != 1 {
			return cmp.Or(err, fmt.Errorf("demo: %d invoices %s", len(all), number))
		}
		s := all[0]
		fmt.Fprintf(w, "  %s, now %s %s:\n", number, s.Status, s.History[len(s.History)-1].LabelFR)
		for _, e := range s.History {
			line := fmt.Sprintf("    %s %s, by %s, recipient %s", e.Status, e.LabelFR, e.By, e.RecipientSIRET)
			if e.Comment != "" {
				line += " « " + e.Comment + " »"
			}
			fmt.Fprintln(w, clip(line, demoWidth))
		}
	}
	return nil
}

// copyTree copies a folder of an fs.FS to disk.
func copyTree(fsys fs.FS, from, to string) error {
	return fs.WalkDir(fsys, from, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		dst := filepath.Join(to, strings.TrimPrefix(p, from))
		if d.IsDir() {
			return os.MkdirAll(dst, 0o755)
		}
		data, err := fs.ReadFile(fsys, p)
		if err != nil {
			return err
		}
		return os.WriteFile(dst, data, 0o644)
	})
}

// dropSamples deposits every sample flow as a billing system should: write
// under a temporary name, then rename into place.
func dropSamples(in string) (int, error) {
	n := 0
	err := fs.WalkDir(samples.FS, "flows", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, err := fs.ReadFile(samples.FS, p)
		if err != nil {
			return err
		}
		name := path.Base(p)
		tmp := filepath.Join(in, "."+name+".tmp")
		if err := os.WriteFile(tmp, data, 0o644); err != nil {
			return err
		}
		n++
		return os.Rename(tmp, filepath.Join(in, name))
	})
	return n, err
}

// demoWidth is the width the demo's report fits in.
const demoWidth = 120

// printJourney prints, for each flow and invoice, the verdict and where it
// went on one line, and why on the next, from the JSON status files the
// supplier's partner received; every line fits demoWidth columns.
func printJourney(ctx context.Context, w io.Writer, cfg config.Config) error {
	st, err := store.Open(ctx, cfg.Database)
	if err != nil {
		return err
	}
	defer st.Close()
	collector := map[string]string{}
	for _, p := range cfg.Partners {
		for _, s := range p.Receives {
			collector[s] = p.ID
		}
	}
	out := flows.Mailboxes{Root: cfg.Root}.Out("FOURN01")
	files, _ := filepath.Glob(filepath.Join(out, "CR_*.json"))
	// A flow's rows keep the order of its report: its invoices in archive
	// order, then what could not be read.
	type row struct {
		file      string
		order     int
		head, why string
	}
	var rows []row
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			return err
		}
		var cr struct {
			flowgate.FlowReport
			FlowID string `json:"flow_id"`
		}
		if err := json.Unmarshal(data, &cr); err != nil {
			return fmt.Errorf("%s: %w", f, err)
		}
		flow, _, err := st.Flow(ctx, cr.FlowID)
		if err != nil {
			return err
		}
		invs, err := st.Invoices(ctx, cr.FlowID)
		if err != nil {
			return err
		}
		where := map[string]string{}
		for _, inv := range invs {
			where[inv.Entry+"\x00"+inv.Number] = filepath.Dir(inv.Location) + "/"
		}
		if flow.DuplicateOf != "" {
			rows = append(rows, row{flow.FileName, 0, flow.FileName + "  " + string(cr.Status),
				"FLX-DOUBLON: same bytes as flow " + flow.DuplicateOf + ", not processed again"})
			continue
		}
		returns := filepath.Join("partners", "FOURN01", "returns")
		returned, _ := filepath.Glob(filepath.Join(cfg.Root, returns, cr.FlowID+"*"))
		for _, e := range cr.Errors {
			name, suffix := flow.FileName, "_"+flow.FileName
			if e.Entry != "" {
				name += " › " + e.Entry
				suffix = "_" + path.Base(strings.ReplaceAll(e.Entry, "\\", "/"))
			}
			dest := "" // an entry never read (unsafe, over a limit) is not returned
			for _, r := range returned {
				if strings.HasSuffix(r, suffix) {
					dest = returns + "/"
				}
			}
			rows = append(rows, row{flow.FileName, len(rows), joinCols(name, "unreadable", arrow(dest)), e.Code + ": " + e.MessageFR})
		}
		for _, inv := range cr.Invoices {
			name := flow.FileName
			if inv.Entry != "" {
				name += " › " + inv.Entry
			}
			dest := where[inv.Entry+"\x00"+inv.Number]
			why := ""
			switch {
			case inv.Verdict == flowgate.Accepted && collector[inv.RecipientSIRET] != "":
				why = "accepted: " + collector[inv.RecipientSIRET] + " collects the invoices of " + inv.RecipientSIRET
			case inv.Verdict == flowgate.Accepted:
				why = "accepted: no partner collects " + inv.RecipientSIRET + ", so it waits on the portal"
			case len(inv.Findings) > 0:
				var codes []string
				for _, f := range inv.Findings {
					codes = append(codes, f.Code)
				}
				why = strings.Join(codes, " ") + ": " + inv.Findings[0].MessageFR
			}
			rows = append(rows, row{flow.FileName, -len(cr.Invoices) - 1 + len(rows), joinCols(name, inv.Number, string(inv.Verdict), arrow(dest)), why})
		}
	}
	for _, p := range cfg.Partners {
		switch {
		case len(p.SIRETs) > 0:
			fmt.Fprintf(w, "%s may deposit for the suppliers %s only; a valid invoice of another\n",
				p.ID, strings.Join(p.SIRETs, ", "))
			fmt.Fprintln(w, "  supplier is refused (CPP-EMETTEUR-NON-HABILITE, as facture-la-poste.xml, which `flowgate validate` accepts).")
		case len(p.Receives) > 0:
			fmt.Fprintf(w, "%s collects the invoices of %s; invoices for other structures wait on the portal.\n",
				p.ID, strings.Join(p.Receives, ", "))
		}
	}
	fmt.Fprintln(w)
	// By file name: the order a reader looks for.
	sort.SliceStable(rows, func(i, j int) bool {
		if rows[i].file != rows[j].file {
			return rows[i].file < rows[j].file
		}
		return rows[i].order < rows[j].order
	})
	for _, r := range rows {
		fmt.Fprintln(w, clip(r.head, demoWidth))
		if r.why != "" {
			for _, line := range wrap(r.why, demoWidth-4, 2) {
				fmt.Fprintln(w, "    "+line)
			}
		}
	}
	return nil
}

func joinCols(cols ...string) string {
	var kept []string
	for _, c := range cols {
		if c != "" {
			kept = append(kept, c)
		}
	}
	return strings.Join(kept, "  ")
}

func arrow(dest string) string {
	if dest == "" {
		return ""
	}
	return "→ " + dest
}

// wrap splits s into at most n lines of width columns (runes), at spaces,
// the last clipped.
func wrap(s string, width, n int) []string {
	var lines []string
	for len(lines) < n-1 && utf8.RuneCountInString(s) > width {
		r := []rune(s)
		cut := width
		for cut > width/2 && r[cut] != ' ' {
			cut--
		}
		lines = append(lines, strings.TrimRight(string(r[:cut]), " "))
		s = strings.TrimLeft(string(r[cut:]), " ")
	}
	return append(lines, clip(s, width))
}

// clip cuts s to width columns (runes), marking the cut with "…".
func clip(s string, width int) string {
	r := []rune(s)
	if len(r) <= width {
		return s
	}
	return string(r[:width-1]) + "…"
}

func fileExists(path string) bool { _, err := os.Stat(path); return err == nil }

// printTree lists the mailboxes with their files, the first few of each
// folder and a count of the rest.
func printTree(w io.Writer, root string) error {
	return filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		if rel == "." || strings.HasPrefix(d.Name(), "flowgate.db") {
			return nil
		}
		depth := strings.Count(rel, string(filepath.Separator))
		if d.IsDir() {
			fmt.Fprintf(w, "%s%s/\n", strings.Repeat("  ", depth), d.Name())
			if d.Name() == "archive" {
				n, _ := os.ReadDir(p)
				fmt.Fprintf(w, "%s(%d original files)\n", strings.Repeat("  ", depth+1), len(n))
				return fs.SkipDir
			}
			return nil
		}
		siblings, _ := os.ReadDir(filepath.Dir(p))
		files := 0
		for _, s := range siblings {
			if !s.IsDir() {
				files++
			}
			if s.Name() == d.Name() {
				break
			}
		}
		switch {
		case files <= 4:
			fmt.Fprintf(w, "%s%s\n", strings.Repeat("  ", depth), d.Name())
		case files == 5:
			total := 0
			for _, s := range siblings {
				if !s.IsDir() {
					total++
				}
			}
			fmt.Fprintf(w, "%s… (%d files in all)\n", strings.Repeat("  ", depth), total)
		}
		return nil
	})
}
