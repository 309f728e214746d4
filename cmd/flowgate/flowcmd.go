package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"golang.org/x/sys/unix"

	"flowgate"
	"flowgate/config"
	"flowgate/flows"
	"flowgate/internal/fsx"
	"flowgate/store"
)

const usageFlow = `  flowgate flow list -config FILE [-partner ID] [-status S] [-since DURATION] [-format text|json]
      List flows, newest first: id, partner, file, status. -status takes a
      flow status (IN_INTEGRE, IN_INTEGRE_PARTIEL, IN_REJETE) or a state
      (planned, done, quarantined); -since a duration such as 24h or 30m.

  flowgate flow show -config FILE [-format text|json] FLOW_ID
      Print a flow's report as the hub recorded it (from the store, whatever
      the partner did with its out/ folder) and where each invoice went.

  flowgate flow reprocess -config FILE FLOW_ID
      Run an earlier flow again, from its archived original, against today's
      directory: it is put back in its partner's in/ under its deposited name
      and taken by the daemon's intake as a new flow (the running daemon
      takes it at once; a stopped one at its next start). Invoices already
      accepted come back CPP-DOUBLON; the others are checked afresh.
`

// runFlow dispatches `flowgate flow list|show|reprocess`.
func runFlow(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	return subcommand(ctx, "flow", usageFlow, args, stdout, stderr, map[string]func(context.Context, []string, io.Writer, io.Writer) error{
		"list": runFlowList, "show": runFlowShow, "reprocess": runFlowReprocess})
}

// openStoreOf opens the store of a configuration, read for inspection. A
// store that does not exist is an error, never created.
func openStoreOf(ctx context.Context, path string, stderr io.Writer) (*store.SQLite, config.Config, error) {
	cfg, err := config.Load(path)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return nil, cfg, exitError{2}
	}
	if _, err := os.Stat(cfg.Database); err != nil {
		fmt.Fprintf(stderr, "flowgate: no store at %s: %v\n", cfg.Database, err)
		return nil, cfg, exitError{2}
	}
	st, err := store.Open(ctx, cfg.Database)
	if err != nil {
		return nil, cfg, err
	}
	return st, cfg, nil
}

// listStatuses are what `flow list -status` takes: the flow statuses and
// the store's states.
var listStatuses = []string{string(flowgate.FlowIntegrated), string(flowgate.FlowPartial), string(flowgate.FlowRejected),
	store.StatePlanned, store.StateDone, store.StateQuarantined}

func runFlowList(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("flow list", flag.ContinueOnError)
	path := fs.String("config", "", "configuration file (TOML)")
	partner := fs.String("partner", "", "only this partner's flows")
	status := fs.String("status", "", "only flows of this status or state")
	since := fs.Duration("since", 0, "only flows received within this duration (e.g. 24h)")
	limit := fs.Int("limit", 1000, "at most this many flows")
	format := fs.String("format", "text", "output format: text or json")
	rest, err := parseFlags(fs, usageFlow, args, stdout, stderr)
	if err != nil {
		return err
	}
	if err := noArgs("flow list", rest, usageFlow, stderr); err != nil {
		return err
	}
	if *path == "" || (*format != "text" && *format != "json") || *since < 0 {
		fmt.Fprint(stderr, "flowgate flow list: -config FILE is required, -format is text or json, -since is positive\n\n"+usageFlow)
		return exitError{2}
	}
	if *status != "" && !slices.Contains(listStatuses, *status) {
		fmt.Fprintf(stderr, "flowgate flow list: -status %q is none of %s\n", *status, strings.Join(listStatuses, ", "))
		return exitError{2}
	}
	st, cfg, err := openStoreOf(ctx, *path, stderr)
	if err != nil {
		return err
	}
	defer st.Close()
	if *partner != "" && !slices.ContainsFunc(cfg.Partners, func(p config.Partner) bool { return p.ID == *partner }) {
		fmt.Fprintf(stderr, "flowgate flow list: no partner %q in %s\n", *partner, *path)
		return exitError{2}
	}
	f := store.FlowFilter{Partner: *partner, Status: *status, Limit: *limit}
	if *since > 0 {
		f.FromID = time.Now().Add(-*since).UTC().Format(flows.FlowIDLayout)
	}
	list, err := st.ListFlows(ctx, f)
	if err != nil {
		return err
	}
	if *format == "json" {
		type row struct {
			ID          string    `json:"flow_id"`
			Partner     string    `json:"partner"`
			File        string    `json:"file"`
			Status      string    `json:"flow_status"`
			State       string    `json:"state"`
			DuplicateOf string    `json:"duplicate_of,omitempty"`
			ReprocessOf string    `json:"reprocess_of,omitempty"`
			ReceivedAt  time.Time `json:"received_at"`
		}
		enc := json.NewEncoder(stdout)
		enc.SetEscapeHTML(false)
		for _, fl := range list {
			if err := enc.Encode(row{fl.ID, fl.Partner, fl.FileName, fl.Status, fl.State, fl.DuplicateOf, fl.ReprocessOf, fl.ReceivedAt}); err != nil {
				return err
			}
		}
		return nil
	}
	tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "FLOW\tPARTNER\tSTATUS\tSTATE\tFILE")
	for _, fl := range list {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", fl.ID, fl.Partner, fl.Status, fl.State, clip(fl.FileName, 60))
	}
	return tw.Flush()
}

// shownFlow is what `flow show -format json` prints: the flow's report as
// its CR JSON said it, and where each invoice went.
type shownFlow struct {
	ID          string              `json:"flow_id"`
	Partner     string              `json:"partner"`
	File        string              `json:"file"`
	Status      string              `json:"flow_status"`
	State       string              `json:"state"`
	DuplicateOf string              `json:"duplicate_of,omitempty"`
	ReprocessOf string              `json:"reprocess_of,omitempty"`
	ReceivedAt  time.Time           `json:"received_at"`
	FinishedAt  *time.Time          `json:"finished_at,omitempty"`
	Report      flowgate.FlowReport `json:"report"`
	Invoices    []shownInvoice      `json:"invoices"`
	// Updates are a status flow's status updates, as its CR says them.
	Updates []statusUpdateLine `json:"updates,omitempty"`
}

type shownInvoice struct {
	Seq      int      `json:"seq"`
	Entry    string   `json:"entry"`
	Number   string   `json:"number"`
	Verdict  string   `json:"verdict"`
	Location string   `json:"location"`
	Statuses []string `json:"statuses"`
}

func runFlowShow(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("flow show", flag.ContinueOnError)
	path := fs.String("config", "", "configuration file (TOML)")
	format := fs.String("format", "text", "output format: text or json")
	rest, err := parseFlags(fs, usageFlow, args, stdout, stderr)
	if err != nil {
		return err
	}
	if *path == "" || len(rest) != 1 || (*format != "text" && *format != "json") {
		fmt.Fprint(stderr, "flowgate flow show: -config FILE and one FLOW_ID are required, -format is text or json\n\n"+usageFlow)
		return exitError{2}
	}
	st, _, err := openStoreOf(ctx, *path, stderr)
	if err != nil {
		return err
	}
	defer st.Close()
	fl, ok, err := st.Flow(ctx, rest[0])
	if err != nil {
		return err
	}
	if !ok {
		fmt.Fprintf(stderr, "flowgate flow show: no flow %s\n", rest[0])
		return exitError{1}
	}
	out := shownFlow{ID: fl.ID, Partner: fl.Partner, File: fl.FileName, Status: fl.Status, State: fl.State,
		DuplicateOf: fl.DuplicateOf, ReprocessOf: fl.ReprocessOf, ReceivedAt: fl.ReceivedAt, Invoices: []shownInvoice{}}
	if !fl.FinishedAt.IsZero() {
		out.FinishedAt = &fl.FinishedAt
	}
	rep, err := st.Report(ctx, fl.ID)
	if err != nil {
		return err
	}
	if len(rep) > 0 {
		if err := json.Unmarshal(rep, &out.Report); err != nil {
			return fmt.Errorf("flow %s: report in store: %w", fl.ID, err)
		}
		var a statusAnswer
		if err := json.Unmarshal(rep, &a); err == nil {
			out.Updates = a.Updates
		}
	}
	invs, err := st.Invoices(ctx, fl.ID)
	if err != nil {
		return err
	}
	sts, err := st.Statuses(ctx, fl.ID)
	if err != nil {
		return err
	}
	bySeq := map[int][]string{}
	for _, s := range sts {
		bySeq[s.Seq] = append(bySeq[s.Seq], s.Code)
	}
	for _, inv := range invs {
		out.Invoices = append(out.Invoices, shownInvoice{Seq: inv.Seq, Entry: inv.Entry, Number: inv.Number,
			Verdict: inv.Verdict, Location: inv.Location, Statuses: append([]string{}, bySeq[inv.Seq]...)})
	}
	if *format == "json" {
		enc := json.NewEncoder(stdout)
		enc.SetEscapeHTML(false)
		enc.SetIndent("", "  ")
		return enc.Encode(out)
	}
	fmt.Fprintf(stdout, "flow %s of %s, deposited as %s, received %s\n", fl.ID, fl.Partner, fl.FileName,
		fl.ReceivedAt.Format(time.RFC3339))
	fmt.Fprintf(stdout, "state %s", fl.State)
	if out.FinishedAt != nil {
		fmt.Fprintf(stdout, ", finished %s", out.FinishedAt.Format(time.RFC3339))
	}
	if fl.DuplicateOf != "" {
		fmt.Fprintf(stdout, ", same bytes as flow %s", fl.DuplicateOf)
	}
	if fl.ReprocessOf != "" {
		fmt.Fprintf(stdout, ", flow %s run again", fl.ReprocessOf)
	}
	fmt.Fprintln(stdout)
	out.Report.File = fl.FileName
	if out.Report.Status == "" {
		out.Report.Status = flowgate.FlowStatus(fl.Status)
	}
	writeText(stdout, &out.Report)
	for _, u := range out.Updates {
		fmt.Fprintf(stdout, "  %s %s → %s: %s\n", u.SupplierSIRET, u.Number, u.Status, u.Verdict)
		for _, f := range u.Findings {
			fmt.Fprintf(stdout, "      %s %s / %s\n", f.Code, f.MessageFR, f.Message)
		}
	}
	if len(out.Invoices) > 0 {
		fmt.Fprintln(stdout, "where each invoice went:")
		for _, inv := range out.Invoices {
			name := inv.Number
			if inv.Entry != "" {
				name = inv.Entry + " " + name
			}
			statuses := ""
			if len(inv.Statuses) > 0 {
				statuses = " [" + strings.Join(inv.Statuses, " ") + "]"
			}
			fmt.Fprintf(stdout, "  %s: %s → %s%s\n", name, inv.Verdict, inv.Location, statuses)
		}
	}
	return nil
}

// runFlowReprocess puts an earlier flow's archived original back in its
// partner's in/, under the name it was deposited with, for the daemon's
// intake to take as a new flow. The daemon alone routes (it holds
// <root>/flowgate.lock): this command never processes anything itself, so
// it is safe whether the daemon runs or not.
//
// The same bytes from the same partner would be refused as a repeat
// (FLX-DOUBLON): a request recorded in the store first (partner, name,
// flow, SHA-256) lets this one file through, once. The file is then
// written under a hidden name, fsynced and renamed without replacing
// anything into in/, and in/ fsynced. A name already taken in in/ is an
// error (try again once the intake has taken it).
func runFlowReprocess(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("flow reprocess", flag.ContinueOnError)
	path := fs.String("config", "", "configuration file (TOML)")
	rest, err := parseFlags(fs, usageFlow, args, stdout, stderr)
	if err != nil {
		return err
	}
	if *path == "" || len(rest) != 1 {
		fmt.Fprint(stderr, "flowgate flow reprocess: -config FILE and one FLOW_ID are required\n\n"+usageFlow)
		return exitError{2}
	}
	st, cfg, err := openStoreOf(ctx, *path, stderr)
	if err != nil {
		return err
	}
	defer st.Close()
	id := rest[0]
	fl, ok, err := st.Flow(ctx, id)
	if err != nil {
		return err
	}
	if !ok {
		fmt.Fprintf(stderr, "flowgate flow reprocess: no flow %s\n", id)
		return exitError{1}
	}
	refuse := func(format string, a ...any) error {
		fmt.Fprintf(stderr, "flowgate flow reprocess: flow %s: "+format+"\n", append([]any{id}, a...)...)
		return exitError{1}
	}
	if !slices.ContainsFunc(cfg.Partners, func(p config.Partner) bool { return p.ID == fl.Partner }) {
		return refuse("its partner %s is not in the configuration any more", fl.Partner)
	}
	switch {
	case fl.State == store.StatePlanned:
		return refuse("still being processed")
	case fl.SHA256 == "":
		return refuse("its file was never read (over max_file_size): nothing to run again")
	case flows.Ignored(fl.FileName) || fl.FileName != filepath.Base(fl.FileName):
		return refuse("its name %q cannot be deposited again", fl.FileName)
	}
	var p struct {
		WorkName string `json:"work_name"`
	}
	if err := json.Unmarshal(fl.Plan, &p); err != nil || p.WorkName == "" {
		p.WorkName = flows.WorkName(fl.ID, fl.Partner, fl.FileName)
	}
	mb := flows.Mailboxes{Root: cfg.Root}
	var data []byte
	for _, dir := range []string{mb.Archive(), filepath.Join(cfg.Root, "quarantine")} {
		if data, err = os.ReadFile(filepath.Join(dir, p.WorkName)); err == nil {
			break
		}
	}
	if err != nil {
		return refuse("its original is neither in archive/ nor in quarantine/ (%s)", p.WorkName)
	}
	if sum := sha256.Sum256(data); hex.EncodeToString(sum[:]) != fl.SHA256 {
		return refuse("its archived original is not the file that was checked (SHA-256 differs): not run again")
	}
	in := mb.In(fl.Partner)
	if _, err := os.Lstat(filepath.Join(in, fl.FileName)); err == nil {
		return refuse("%s already holds a file named %q; try again once the daemon has taken it", in, fl.FileName)
	}
	if err := st.RequestReprocess(ctx, fl.Partner, fl.FileName, fl.ID, fl.SHA256, time.Now()); err != nil {
		return refuse("%v", err)
	}
	if err := depositNoReplace(in, fl.FileName, data); err != nil {
		if cerr := st.CancelReprocess(context.WithoutCancel(ctx), fl.Partner, fl.FileName, fl.ID); cerr != nil {
			err = errors.Join(err, cerr)
		}
		return fmt.Errorf("reprocess %s: %w", id, err)
	}
	fmt.Fprintf(stdout, "flow %s put back in %s as %s: the daemon takes it as a new flow (at once if it runs, else at its next start); see `flowgate flow list -partner %s`\n",
		id, in, fl.FileName, fl.Partner)
	return nil
}

// depositNoReplace writes data to dir/name atomically and never over an
// existing file: a hidden temporary (which the intake ignores), fsynced,
// renamed with RENAME_NOREPLACE, then dir fsynced. The file is 0640 and,
// when written by root, owned as dir is, so that a daemon running under
// its own account can read it.
func depositNoReplace(dir, name string, data []byte) error {
	f, err := os.CreateTemp(dir, ".reprocess-*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	defer os.Remove(tmp) // gone once renamed
	err = f.Chmod(0o640)
	if fi, serr := os.Stat(dir); err == nil && serr == nil && os.Geteuid() == 0 {
		if st, ok := fi.Sys().(*syscall.Stat_t); ok {
			err = f.Chown(int(st.Uid), int(st.Gid))
		}
	}
	if err != nil {
		f.Close()
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	final := filepath.Join(dir, name)
	if err := unix.Renameat2(unix.AT_FDCWD, tmp, unix.AT_FDCWD, final, unix.RENAME_NOREPLACE); err != nil {
		if errors.Is(err, unix.EEXIST) {
			return fmt.Errorf("%s already exists", final)
		}
		return fmt.Errorf("move into %s: %w", dir, err)
	}
	return fsx.SyncDir(dir)
}
