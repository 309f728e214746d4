package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"encoding/xml"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"time"

	"flowgate"
	"flowgate/config"
	"flowgate/flows"
	"flowgate/lifecycle"
	"flowgate/store"
)

const usageInvoice = `  flowgate invoice show -config FILE [-format text|json] [-date YYYY-MM-DD] SUPPLIER_SIRET NUMBER
      Print an invoice's whole story from the store: its facts, its current
      status and every status it went through, oldest first, with who set it
      (hub, a partner, operator), comment, mandate, flow and where it went.
      A number may come back in another year: -date picks the invoice
      issued that day; without it, each invoice of that number is shown on
      its own, headed by its issue date (in JSON, an array of them when
      there are several). Exit 1 when no such invoice was delivered.

  flowgate invoice status -config FILE [-comment TEXT] [-mandate ID] [-date YYYY-MM-DD] [-wait DURATION]
                          SUPPLIER_SIRET NUMBER STATUS
      Set an invoice's status on behalf of its recipient, with the rules and
      codes of a recipient's status flow: the command deposits a status flow
      in the hub's own mailbox (partners/<hub_id>/in/), the running daemon
      applies it exactly once, and the command prints its answer (waiting up
      to -wait, default 1m). 04, 05 and 06 need -comment; 08 may carry
      -mandate; -date picks the invoice among numbers repeated across years,
      and is required when the hub delivered several invoices of that
      number (issued on different days). Exit 0 when applied, 1 when
      refused, 2 on usage or I/O errors (or no answer in time: the status
      flow stays and is applied when the daemon runs).
`

// runInvoice dispatches `flowgate invoice show|status`.
func runInvoice(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	return subcommand(ctx, "invoice", usageInvoice, args, stdout, stderr, map[string]func(context.Context, []string, io.Writer, io.Writer) error{
		"show": runInvoiceShow, "status": runInvoiceStatus})
}

// invoiceStory is `invoice show -format json`.
type invoiceStory struct {
	SupplierSIRET  string         `json:"supplier_siret"`
	Number         string         `json:"number"`
	IssueDate      string         `json:"issue_date"`
	TypeCode       string         `json:"type_code"`
	RecipientSIRET string         `json:"recipient_siret"`
	ServiceCode    string         `json:"service_code"`
	Engagement     string         `json:"engagement"`
	Status         string         `json:"status"`
	History        []historyEvent `json:"history"`
	CreditedBy     []string       `json:"credited_by"`
	Credits        *string        `json:"credits"`
	// CreditsIssueDate is the issue date of the invoice Credits names.
	CreditsIssueDate string `json:"credits_issue_date,omitempty"`
}

type historyEvent struct {
	At             time.Time `json:"at"`
	Status         string    `json:"status"`
	LabelFR        string    `json:"label_fr"`
	By             string    `json:"by"`
	Comment        string    `json:"comment"`
	Mandate        string    `json:"mandate"`
	Flow           string    `json:"flow"`
	RecipientSIRET string    `json:"recipient_siret"`
	Location       string    `json:"location"`
}

// stories gathers the stories of a supplier's invoices of this number from
// the store, one per issue date (only date's when it is not empty), oldest
// issue date first. A number may come back in another year, and each such
// invoice has its own story; the deposits of one invoice (a recycled or
// completed invoice is deposited again, with the same issue date) make one
// story: their events oldest first, the facts of the newest. None when no
// such invoice was delivered.
func stories(ctx context.Context, st *store.SQLite, supplier, number, date string) ([]invoiceStory, error) {
	invs, err := st.Delivered(ctx, supplier, number, date)
	if err != nil {
		return nil, err
	}
	var keys []string
	byDate := map[string][]store.Invoice{} // newest deposit first
	for _, inv := range invs {
		k := issueKey(inv)
		if _, ok := byDate[k]; !ok {
			keys = append(keys, k)
		}
		byDate[k] = append(byDate[k], inv)
	}
	sort.Strings(keys)
	var out []invoiceStory
	for _, k := range keys {
		s, err := story(ctx, st, byDate[k])
		if err != nil {
			return nil, err
		}
		out = append(out, s)
	}
	return out, nil
}

// issueKey is what tells apart invoices of one number: the issue date, or
// the issue year for an invoice recorded before issue dates were.
func issueKey(inv store.Invoice) string {
	if inv.IssueDate != "" {
		return inv.IssueDate
	}
	return inv.IssueYear
}

// story is the story of one invoice from its deposits, newest first.
func story(ctx context.Context, st *store.SQLite, invs []store.Invoice) (invoiceStory, error) {
	last := invs[0]
	out := invoiceStory{SupplierSIRET: last.SupplierSIRET, Number: last.Number, IssueDate: last.IssueDate, TypeCode: last.TypeCode,
		RecipientSIRET: last.RecipientSIRET, ServiceCode: last.ServiceCode, Engagement: last.Engagement, Status: last.Status,
		History: []historyEvent{}, CreditedBy: []string{}}
	for i := len(invs) - 1; i >= 0; i-- {
		inv := invs[i]
		h, err := st.History(ctx, inv.FlowID, inv.Seq)
		if err != nil {
			return out, err
		}
		for _, e := range h {
			ev := historyEvent{At: e.At, Status: e.Code, LabelFR: lifecycle.Label(e.Code), By: e.By, Comment: e.Comment,
				Mandate: e.Mandate, Flow: e.SetIn, RecipientSIRET: inv.RecipientSIRET}
			if e.SetIn == inv.FlowID {
				ev.Location = inv.Location // integration: where its bytes went
			}
			out.History = append(out.History, ev)
		}
	}
	sort.SliceStable(out.History, func(i, j int) bool { return out.History[i].At.Before(out.History[j].At) })
	if last.Credits != "" {
		out.Credits, out.CreditsIssueDate = &last.Credits, last.CreditsDate
	}
	credits, err := st.CreditedBy(ctx, last.SupplierSIRET, last.Number, last.IssueDate, last.RecipientSIRET)
	if err != nil {
		return out, err
	}
	for _, c := range credits {
		out.CreditedBy = append(out.CreditedBy, c.Number)
	}
	return out, nil
}

// checkDate refuses a -date that is not a YYYY-MM-DD date (usage, exit 2).
func checkDate(cmd, date string, stderr io.Writer) error {
	if date == "" {
		return nil
	}
	if _, err := time.Parse(time.DateOnly, date); err != nil {
		fmt.Fprintf(stderr, "flowgate %s: -date %q is not a YYYY-MM-DD date\n\n%s", cmd, date, usageInvoice)
		return exitError{2}
	}
	return nil
}

func runInvoiceShow(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("invoice show", flag.ContinueOnError)
	path := fs.String("config", "", "configuration file (TOML)")
	format := fs.String("format", "text", "output format: text or json")
	date := fs.String("date", "", "only the invoice issued that day, YYYY-MM-DD")
	rest, err := parseFlags(fs, usageInvoice, args, stdout, stderr)
	if err != nil {
		return err
	}
	if *path == "" || len(rest) != 2 || (*format != "text" && *format != "json") {
		fmt.Fprint(stderr, "flowgate invoice show: -config FILE, SUPPLIER_SIRET and NUMBER are required, -format is text or json\n\n"+usageInvoice)
		return exitError{2}
	}
	if err := checkDate("invoice show", *date, stderr); err != nil {
		return err
	}
	st, _, err := openStoreOf(ctx, *path, stderr)
	if err != nil {
		return err
	}
	defer st.Close()
	all, err := stories(ctx, st, rest[0], rest[1], *date)
	if err != nil {
		return err
	}
	if len(all) == 0 {
		on := ""
		if *date != "" {
			on = " issued " + *date
		}
		fmt.Fprintf(stderr, "flowgate invoice show: no invoice %s%s of supplier %s was delivered\n", rest[1], on, rest[0])
		return exitError{1}
	}
	if *format == "json" {
		enc := json.NewEncoder(stdout)
		enc.SetEscapeHTML(false)
		enc.SetIndent("", "  ")
		if len(all) == 1 {
			return enc.Encode(all[0])
		}
		return enc.Encode(all)
	}
	if len(all) > 1 {
		var dates []string
		for _, s := range all {
			dates = append(dates, s.IssueDate)
		}
		fmt.Fprintf(stdout, "%d factures %s du fournisseur %s, émises le %s : une histoire chacune (-date AAAA-MM-JJ pour une seule)\n",
			len(all), all[0].Number, all[0].SupplierSIRET, strings.Join(dates, ", "))
		fmt.Fprintf(stdout, "%d invoices %s of supplier %s, issued %s: one story each (-date YYYY-MM-DD for one)\n",
			len(all), all[0].Number, all[0].SupplierSIRET, strings.Join(dates, ", "))
	}
	for i, s := range all {
		if len(all) > 1 {
			fmt.Fprintln(stdout)
			fmt.Fprintf(stdout, "== %d/%d ==\n", i+1, len(all))
		}
		printStory(stdout, s)
	}
	return nil
}

// printStory prints one invoice's story as text, French first.
func printStory(stdout io.Writer, s invoiceStory) {
	fmt.Fprintf(stdout, "Facture %s du fournisseur %s, émise le %s (type %s) / invoice %s of supplier %s, issued %s (type %s)\n",
		s.Number, s.SupplierSIRET, s.IssueDate, s.TypeCode, s.Number, s.SupplierSIRET, s.IssueDate, s.TypeCode)
	fmt.Fprintf(stdout, "destinataire / recipient %s, service %q, engagement %q\n", s.RecipientSIRET, s.ServiceCode, s.Engagement)
	fmt.Fprintf(stdout, "statut / status: %s %s\n", s.Status, lifecycle.Label(s.Status))
	if s.Credits != nil {
		of := ""
		if s.CreditsIssueDate != "" {
			of = " (" + s.CreditsIssueDate + ")"
		}
		fmt.Fprintf(stdout, "avoir de la facture / credit note of invoice %s%s\n", *s.Credits, of)
	}
	if len(s.CreditedBy) > 0 {
		fmt.Fprintf(stdout, "avoirs / credited by: %s\n", strings.Join(s.CreditedBy, ", "))
	}
	fmt.Fprintln(stdout, "historique / history:")
	for _, e := range s.History {
		fmt.Fprintf(stdout, "  %s  %s %s, par / by %s, flux / flow %s", e.At.UTC().Format(time.RFC3339), e.Status, e.LabelFR, e.By, e.Flow)
		if e.Comment != "" {
			fmt.Fprintf(stdout, ", « %s »", e.Comment)
		}
		if e.Mandate != "" {
			fmt.Fprintf(stdout, ", mandat / mandate %s", e.Mandate)
		}
		if e.Location != "" {
			fmt.Fprintf(stdout, " → %s", e.Location)
		}
		fmt.Fprintln(stdout)
	}
}

// statusAnswer is what `invoice status` reads of its status flow's CR.
type statusAnswer struct {
	FlowID  string               `json:"flow_id"`
	Status  flowgate.FlowStatus  `json:"flow_status"`
	Errors  []flowgate.FlowError `json:"errors"`
	Updates []statusUpdateLine   `json:"updates"`
}

// statusUpdateLine is one update of a status flow's CR.
type statusUpdateLine struct {
	SupplierSIRET string             `json:"supplier_siret"`
	Number        string             `json:"number"`
	IssueDate     string             `json:"issue_date,omitempty"`
	Status        string             `json:"status"`
	Verdict       string             `json:"verdict"`
	Findings      []flowgate.Finding `json:"findings"`
}

func runInvoiceStatus(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("invoice status", flag.ContinueOnError)
	path := fs.String("config", "", "configuration file (TOML)")
	comment := fs.String("comment", "", "comment (required for 04, 05, 06; at most 255 characters)")
	mandate := fs.String("mandate", "", "mandate number (IdMandatDP), with 08")
	date := fs.String("date", "", "the invoice's issue date, YYYY-MM-DD, among numbers repeated across years")
	wait := fs.Duration("wait", time.Minute, "how long to wait for the daemon's answer")
	rest, err := parseFlags(fs, usageInvoice, args, stdout, stderr)
	if err != nil {
		return err
	}
	if *path == "" || len(rest) != 3 || *wait <= 0 {
		fmt.Fprint(stderr, "flowgate invoice status: -config FILE, SUPPLIER_SIRET, NUMBER and STATUS are required\n\n"+usageInvoice)
		return exitError{2}
	}
	if err := checkDate("invoice status", *date, stderr); err != nil {
		return err
	}
	cfg, err := config.Load(*path)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return exitError{2}
	}
	mb := flows.Mailboxes{Root: cfg.Root}
	in, out := mb.In(cfg.HubID), mb.Out(cfg.HubID)
	if _, err := os.Stat(in); err != nil {
		fmt.Fprintf(stderr, "flowgate invoice status: no operator mailbox %s (has the daemon ever run on this root?): %v\n", in, err)
		return exitError{2}
	}
	if *date == "" {
		if err := oneInvoice(ctx, cfg, rest[0], rest[1], stderr); err != nil {
			return err
		}
	}
	var rnd [4]byte
	rand.Read(rnd[:])
	name := fmt.Sprintf("statut-%s-%d-%s.xml", time.Now().UTC().Format("20060102T150405.000000Z"), os.Getpid(), hex.EncodeToString(rnd[:]))
	doc, err := operatorStatusXML(cfg.HubID, rest[0], rest[1], *date, rest[2], *comment, *mandate)
	if err != nil {
		return err
	}
	if err := depositNoReplace(in, name, doc); err != nil {
		fmt.Fprintf(stderr, "flowgate invoice status: %v\n", err)
		return exitError{2}
	}
	// The CR is named after the flow id and the deposited name.
	pattern := filepath.Join(out, "CR_*_"+name+".json")
	deadline := time.Now().Add(*wait)
	var crs []string
	for {
		crs, _ = filepath.Glob(pattern)
		if len(crs) > 0 || time.Now().After(deadline) || ctx.Err() != nil {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if len(crs) == 0 {
		fmt.Fprintf(stderr, "flowgate invoice status: no answer from the daemon within %s: is it running? The status flow %s stays in %s and is applied when it runs\n",
			*wait, name, in)
		return exitError{2}
	}
	data, err := os.ReadFile(crs[0])
	if err != nil {
		fmt.Fprintf(stderr, "flowgate invoice status: %v\n", err)
		return exitError{2}
	}
	var a statusAnswer
	if err := json.Unmarshal(data, &a); err != nil {
		fmt.Fprintf(stderr, "flowgate invoice status: answer %s: %v\n", crs[0], err)
		return exitError{2}
	}
	for _, e := range a.Errors {
		fmt.Fprintf(stdout, "%s: %s / %s\n", e.Code, e.MessageFR, e.Message)
	}
	applied := false
	for _, u := range a.Updates {
		if u.Verdict == "applied" {
			applied = true
			fmt.Fprintf(stdout, "%s: statut %s %s appliqué / status applied (flow %s)\n", u.Number, u.Status, lifecycle.Label(u.Status), a.FlowID)
		} else {
			fmt.Fprintf(stdout, "%s: statut %s refusé / status refused (flow %s)\n", u.Number, u.Status, a.FlowID)
		}
		for _, f := range u.Findings {
			fmt.Fprintf(stdout, "  %s %s: %s / %s\n", f.Code, f.Severity, f.MessageFR, f.Message)
		}
	}
	if !applied {
		return exitError{1}
	}
	return nil
}

// oneInvoice refuses, as a usage error, a status without -date for a
// number the hub delivered on several issue dates: which one is meant is
// the operator's to say, not the newest deposit's. Without a store yet
// there is nothing to choose from (the daemon answers).
func oneInvoice(ctx context.Context, cfg config.Config, supplier, number string, stderr io.Writer) error {
	if _, err := os.Stat(cfg.Database); err != nil {
		return nil
	}
	st, err := store.Open(ctx, cfg.Database)
	if err != nil {
		fmt.Fprintf(stderr, "flowgate invoice status: %v\n", err)
		return exitError{2}
	}
	defer st.Close()
	invs, err := st.Delivered(ctx, supplier, number, "")
	if err != nil {
		fmt.Fprintf(stderr, "flowgate invoice status: %v\n", err)
		return exitError{2}
	}
	var dates []string
	for _, inv := range invs {
		if k := issueKey(inv); !slices.Contains(dates, k) {
			dates = append(dates, k)
		}
	}
	if len(dates) < 2 {
		return nil
	}
	sort.Strings(dates)
	fmt.Fprintf(stderr, "flowgate invoice status: the hub delivered %d invoices %s of supplier %s, issued %s: give -date YYYY-MM-DD\n"+
		"  (%d factures %s de ce fournisseur, émises le %s : préciser -date AAAA-MM-JJ)\n\n%s",
		len(dates), number, supplier, strings.Join(dates, ", "), len(dates), number, strings.Join(dates, ", "), usageInvoice)
	return exitError{2}
}

// operatorStatusXML is the status flow of `invoice status`: a CPPStatut
// invoice-level file with one status, as a recipient's system would write
// it, from the hub's own mailbox (Emetteur and Recepteur are the hub).
// Its values are the operator's, as typed: the daemon judges them.
func operatorStatusXML(hubID, supplier, number, date, status, comment, mandate string) ([]byte, error) {
	type param struct {
		Order string `xml:"NumOrdre,attr"`
		Code  string `xml:"Code"`
		Value string `xml:"Valeurparametre"`
	}
	type party struct {
		Type int    `xml:"TypeIdentifiant"`
		ID   string `xml:"Identifiant"`
		Name string `xml:"RaisonSociale,omitempty"`
	}
	type unit struct {
		Order    int    `xml:"NumOrdre,attr"`
		Supplier party  `xml:"Fournisseur"`
		Debtor   party  `xml:"Debiteur"`
		Code     string `xml:"DonneesStatut>IdStatut"`
		Comment  string `xml:"DonneesStatut>Commentaire,omitempty"`
		Stamp    string `xml:"DonneesStatut>Horodatage"`
		Number   string `xml:"DonneesStatut>IdFacture"`
		Date     string `xml:"DonneesStatut>DateFacture,omitempty"`
		Mandate  string `xml:"DonneesStatut>IdMandatDP,omitempty"`
	}
	type envelope struct {
		Order    int     `xml:"NumOrdre,attr"`
		Params   []param `xml:"Parametres>ParametreIndiv"`
		Receiver string  `xml:"Partenaires>Recepteur>Id"`
		Sender   string  `xml:"Partenaires>Emetteur>Id"`
	}
	type statuses struct {
		Count int    `xml:"compteur,attr"`
		Units []unit `xml:"CPPFactureStatutUnitaire"`
	}
	type doc struct {
		XMLName  xml.Name `xml:"CPPStatut"`
		Envelope envelope `xml:"Enveloppe>EnveloppeUnitaire"`
		Statuses statuses `xml:"CPPFactureStatuts"`
	}
	now := time.Now()
	clean := func(s string) string { return strings.ToValidUTF8(s, "\uFFFD") }
	d := doc{Envelope: envelope{Order: 1, Params: []param{{"0001", "DtPrd", now.Format(time.DateOnly)}, {"0002", "IdFlx", "OPERATEUR"}},
		Receiver: hubID, Sender: hubID}, Statuses: statuses{Count: 1, Units: []unit{{Order: 1, Supplier: party{Type: 1, ID: clean(supplier)}, Debtor: party{Type: 1}, Code: clean(status),
		Comment: clean(comment), Stamp: now.Format("2006-01-02T15:04:05.000Z07:00"), Number: clean(number), Date: clean(date),
		Mandate: clean(mandate)}}}}
	var buf bytes.Buffer
	buf.WriteString(xml.Header)
	enc := xml.NewEncoder(&buf)
	enc.Indent("", "  ")
	if err := enc.Encode(d); err != nil {
		return nil, fmt.Errorf("status flow: %w", err)
	}
	buf.WriteString("\n")
	return buf.Bytes(), nil
}
