package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	"flowgate"
	"flowgate/directory"
	"flowgate/validator"
)

func runValidate(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("validate", flag.ContinueOnError)
	dirPath := fs.String("directory", "", "folder holding structures.csv and services.csv")
	format := fs.String("format", "text", "output format: text or json")
	files, err := parseFlags(fs, usageValidate, args, stdout, stderr)
	if err != nil {
		return err
	}
	if *format != "text" && *format != "json" {
		fmt.Fprintf(stderr, "flowgate validate: -format must be text or json, not %q\n", *format)
		return exitError{2}
	}
	if len(files) == 0 {
		fmt.Fprint(stderr, "flowgate validate: no FILE given\n\n"+usageValidate)
		return exitError{2}
	}

	in := validator.Input{History: validator.MemoryHistory{}}
	if *dirPath != "" {
		snap, rowErrs, err := directory.Load(*dirPath)
		if err != nil {
			fmt.Fprintf(stderr, "flowgate validate: annuaire illisible / unreadable directory: %v\n", err)
			return exitError{2}
		}
		for _, re := range rowErrs {
			fmt.Fprintf(stderr, "annuaire : ligne ignorée / directory: row skipped: %v\n", re)
		}
		in.Directory = snap
	} else {
		fmt.Fprintln(stderr, "annuaire non fourni (-directory) : contrôles de l'annuaire non effectués / "+
			"no directory given (-directory): directory checks skipped")
	}

	enc := json.NewEncoder(stdout)
	enc.SetEscapeHTML(false)
	code := 0
	for _, file := range files {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		rep, err := validateFile(file, in)
		if err != nil {
			fmt.Fprintf(stderr, "flowgate validate: %v\n", err)
			code = 2
			continue
		}
		if rep.Status != flowgate.FlowIntegrated && code == 0 {
			code = 1
		}
		if *format == "json" {
			if err := enc.Encode(rep); err != nil {
				return err
			}
		} else {
			writeText(stdout, &rep)
		}
	}
	if code != 0 {
		return exitError{code}
	}
	return nil
}

func validateFile(file string, in validator.Input) (flowgate.FlowReport, error) {
	f, err := os.Open(file)
	if err != nil {
		return flowgate.FlowReport{}, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return flowgate.FlowReport{}, err
	}
	if !fi.Mode().IsRegular() {
		return flowgate.FlowReport{}, fmt.Errorf("%s: not a regular file", file)
	}
	rep, err := validator.CheckFlow(file, f, fi.Size(), in, nil)
	if err != nil {
		return rep, fmt.Errorf("%s: %w", file, err)
	}
	return rep, nil
}

var verdictLabel = map[flowgate.Verdict]string{
	flowgate.Accepted: "ACCEPTÉE / accepted",
	flowgate.Rejected: "REJETÉE, non conforme, non intégrée / rejected",
}

// writeText prints one line per flow, one per invoice verdict and one
// indented line per finding, French first.
func writeText(w io.Writer, rep *flowgate.FlowReport) {
	fmt.Fprintf(w, "%s: %s\n", rep.File, rep.Status)
	for _, e := range rep.Errors {
		where := ""
		if e.Entry != "" {
			where = e.Entry + ": "
		}
		fmt.Fprintf(w, "  %s%s %s / %s\n", where, e.Code, e.MessageFR, e.Message)
	}
	for _, inv := range rep.Invoices {
		name := inv.Number
		if name == "" {
			name = "(sans numéro / no number)"
		}
		if inv.Entry != "" {
			name = inv.Entry + " " + name
		}
		fmt.Fprintf(w, "  %s: %s\n", name, verdictLabel[inv.Verdict])
		for _, f := range inv.Findings {
			where := ""
			switch {
			case f.Field != "" && f.Value != "":
				where = " [" + f.Field + " = " + f.Value + "]"
			case f.Field != "":
				where = " [" + f.Field + "]"
			}
			fmt.Fprintf(w, "      %s%s %s / %s\n", f.Code, where,
				strings.TrimSpace(f.MessageFR), strings.TrimSpace(f.Message))
		}
	}
}
