package router

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	"flowgate"
	"flowgate/lifecycle"
	"flowgate/outbox"
	"flowgate/parser"
	"flowgate/store"
)

// A status flow is a CPPStatut invoice-level file a recipient's partner
// (or an operator, through the hub's own mailbox) deposits in its in/ to
// set the status of invoices delivered to it (issue 9, DOMAIN.md §7). It
// is a flow like any other: claimed, decided in its round, its plan (the
// status files) saved in the store in the same transaction as the status
// events it applies, then carried out; after a crash it resumes from its
// plan or is decided afresh, so each update is applied and reported once.
//
// Each update is judged on its own (judge): the invoice must have been
// delivered (CPP-STATUT-FACTURE-INCONNUE), to a recipient the partner
// collects (CPP-STATUT-NON-HABILITE); then the lifecycle table decides
// (lifecycle.Apply). The sender gets a CR like any flow's (90, 96, 93;
// JSON with "updates"); every change goes to the partner that deposited
// the invoice and, when someone else set it, to the recipient's partner
// (FACT_<flow>_STATUTS.xml/.json).

// UpdateApplied and UpdateRefused are the verdicts of a status update.
const (
	UpdateApplied = "applied"
	UpdateRefused = "refused"
)

// OperatorBy is who set a status deposited in the hub's own mailbox
// (flowgate invoice status).
const OperatorBy = "operator"

// updateReport is one status update's line in a status flow's JSON CR.
type updateReport struct {
	SupplierSIRET string             `json:"supplier_siret"`
	Number        string             `json:"number"`
	IssueDate     string             `json:"issue_date,omitempty"`
	Status        string             `json:"status"`
	Verdict       string             `json:"verdict"`
	Findings      []flowgate.Finding `json:"findings"`
}

// statusReport is what flowgate says of a status flow: the flow report's
// shape with "updates" in place of "invoices".
type statusReport struct {
	File    string               `json:"file"`
	Status  flowgate.FlowStatus  `json:"flow_status"`
	Errors  []flowgate.FlowError `json:"errors"`
	Updates []updateReport       `json:"updates"`
}

// statusCR is a status flow's JSON CR, and its report in the store.
type statusCR struct {
	statusReport
	FlowID      string    `json:"flow_id"`
	Partner     string    `json:"partner"`
	SHA256      string    `json:"sha256"`
	ReceivedAt  time.Time `json:"received_at"`
	FinishedAt  time.Time `json:"finished_at"`
	ReprocessOf string    `json:"reprocess_of,omitempty"`
}

// statusDecision is a decided status flow's report and the changes it
// applies, for its status files.
type statusDecision struct {
	rep     statusReport
	changes []change
}

// change is one applied status change: the invoice, the event, and the
// partner that deposited the invoice ("" when unknown).
type change struct {
	inv       store.Invoice
	ev        store.Status
	depositor string
}

// statusEntry returns the bytes of a prepared flow when it is a status
// flow: a plain file (not an archive) whose root is CPPStatut.
func statusEntry(prep prepared) ([]byte, bool) {
	if len(prep.entries) != 1 || prep.entries[0].Name != "" || prep.entries[0].Invoice != nil {
		return nil, false
	}
	data := prep.entries[0].Data
	return data, data != nil && parser.IsStatusFlow(data)
}

// decideStatus decides a status flow: every update judged on its own,
// before deadline (flow_timeout: past it, the try fails and counts as an
// attempt, as for an invoice flow). Another error is transient (the
// store): nothing was decided.
func (r *Router) decideStatus(ctx context.Context, p *plan, sender *Partner, data []byte, seen *roundSeen, deadline time.Time) (*decided, error) {
	rep := statusReport{File: p.Name, Errors: []flowgate.FlowError{}, Updates: []updateReport{}}
	sd := &statusDecision{}
	d := &decided{plan: p, sender: sender, status: sd}
	sf, err := parser.ParseStatusFlow(data)
	var fe *flowgate.FlowError
	switch {
	case errors.As(err, &fe):
		rep.Errors = append(rep.Errors, *fe)
	case err != nil:
		return nil, err
	default:
		for _, u := range sf.Updates {
			if time.Now().After(deadline) {
				return nil, &timeoutError{r.cfg.FlowTimeout}
			}
			ur, ch, err := r.judge(ctx, p, sender, u, seen)
			if err != nil {
				return nil, &transientError{err}
			}
			rep.Updates = append(rep.Updates, ur)
			if ch != nil {
				sd.changes = append(sd.changes, *ch)
				d.sts = append(d.sts, ch.ev)
			}
		}
		if len(sf.Updates) == 0 {
			rep.Errors = append(rep.Errors, flowgate.FlowError{Code: flowgate.CodeType,
				MessageFR: "CPPFactureStatuts sans aucun statut de facture", Message: "CPPFactureStatuts without any invoice status"})
		}
	}
	applied := 0
	for _, u := range rep.Updates {
		if u.Verdict == UpdateApplied {
			applied++
		}
	}
	rep.Status = flowgate.OutcomeOf(applied, len(rep.Updates)-applied, len(rep.Errors))
	p.Status = rep.Status
	sd.rep = rep
	return d, nil
}

// judge decides one update. It returns the change to record when the
// invoice's status changes (nil when refused or unchanged).
func (r *Router) judge(ctx context.Context, p *plan, sender *Partner, u parser.StatusUpdate, seen *roundSeen) (updateReport, *change, error) {
	if u.CDARCode != "" && u.Status == "" {
		// A CDAR status flow: the reform's code stands for a hub status
		// (outbox/cdarmap.go); one a recipient may not send is no status.
		u.Status = "CDAR " + u.CDARCode
		if h, ok := outbox.HubStatusOfCDAR(u.CDARCode); ok {
			u.Status = h
		}
	}
	ur := updateReport{SupplierSIRET: clipName(u.SupplierSIRET, 40), Number: clipName(u.Number, 100), IssueDate: clipName(u.Date, 40),
		Status: clipName(u.Status, 40), Verdict: UpdateRefused, Findings: []flowgate.Finding{}}
	refuse := func(code, field, value, fr, en string) (updateReport, *change, error) {
		ur.Findings = append(ur.Findings, flowgate.Finding{Code: code, Severity: flowgate.Fatal, Field: field, Value: value, MessageFR: fr, Message: en})
		return ur, nil, nil
	}
	who := fmt.Sprintf("%s du fournisseur %s", quoteNumber(u.Number), ur.SupplierSIRET)
	whoEN := fmt.Sprintf("%s of supplier %s", quoteNumber(u.Number), ur.SupplierSIRET)
	if u.Date != "" {
		if _, err := time.Parse(time.DateOnly, u.Date); err != nil {
			return refuse(lifecycle.CodeUnknownInvoice, "DateFacture", ur.IssueDate,
				fmt.Sprintf("DateFacture « %s » n'est pas une date AAAA-MM-JJ : facture %s non identifiée.", ur.IssueDate, who),
				fmt.Sprintf("DateFacture '%s' is not a YYYY-MM-DD date: invoice %s not identified.", ur.IssueDate, whoEN))
		}
	}
	var invs []store.Invoice
	if u.SupplierSIRET != "" && u.Number != "" {
		var err error
		if invs, err = r.delivered(ctx, u.SupplierSIRET, u.Number, u.Date, seen); err != nil {
			return ur, nil, err
		}
	}
	if len(invs) == 0 {
		on := ""
		if u.Date != "" {
			on = " du " + ur.IssueDate
		}
		return refuse(lifecycle.CodeUnknownInvoice, "IdFacture", ur.Number,
			fmt.Sprintf("Aucune facture %s%s n'a été remise par la plateforme.", who, on),
			fmt.Sprintf("No invoice %s%s was delivered by the hub.", whoEN, strings.Replace(on, " du ", " dated ", 1)))
	}
	inv := invs[0] // the newest deposit of that number
	if !sender.Operator && !slices.Contains(sender.Receives, inv.RecipientSIRET) {
		// Nothing of the invoice beyond what the partner sent (its
		// recipient, its date) is told to a partner that does not receive it.
		return refuse(lifecycle.CodeNotAuthorised, "IdFacture", ur.Number,
			fmt.Sprintf("Le partenaire %s ne reçoit pas la facture %s : il ne peut pas en changer le statut.", sender.ID, who),
			fmt.Sprintf("Partner %s does not receive invoice %s: it may not change its status.", sender.ID, whoEN))
	}
	if ur.IssueDate == "" {
		ur.IssueDate = inv.IssueDate
	}
	current := inv.Status
	if s, ok := seen.status[invoiceKey(inv.FlowID, inv.Seq)]; ok {
		current = s
	}
	next, findings := lifecycle.Apply(current, lifecycle.Update{Status: u.Status, Comment: u.Comment, Mandate: u.Mandate, By: lifecycle.ByRecipient})
	ur.Findings = append(ur.Findings, findings...)
	if flowgate.AnyFatal(findings) {
		return ur, nil, nil
	}
	ur.Verdict = UpdateApplied
	if next == current {
		return ur, nil, nil
	}
	by := sender.ID
	if sender.Operator {
		by = OperatorBy
	}
	ev := store.Status{FlowID: inv.FlowID, Seq: inv.Seq, Code: next, At: p.DecidedAt, By: by,
		Comment: strings.TrimSpace(u.Comment), SetIn: p.FlowID}
	if next == lifecycle.Mandated {
		ev.Mandate = strings.TrimSpace(u.Mandate)
	}
	seen.status[invoiceKey(inv.FlowID, inv.Seq)] = next
	depositor, err := r.depositor(ctx, inv.FlowID, seen)
	if err != nil {
		return ur, nil, err
	}
	return ur, &change{inv: inv, ev: ev, depositor: depositor}, nil
}

func quoteNumber(n string) string { return "« " + clipName(n, 100) + " »" }

func invoiceKey(flowID string, seq int) string { return fmt.Sprintf("%s/%d", flowID, seq) }

// delivered returns the accepted invoices of a supplier with this number
// (and issue date, when given), newest first: those of this round, then
// those of the store.
func (r *Router) delivered(ctx context.Context, supplier, number, date string, seen *roundSeen) ([]store.Invoice, error) {
	var out []store.Invoice
	round := seen.delivered[supplier+"\x00"+number]
	for i := len(round) - 1; i >= 0; i-- {
		inv := round[i]
		if date == "" || inv.IssueDate == date {
			out = append(out, inv)
		}
	}
	stored, err := r.cfg.Store.Delivered(ctx, supplier, number, date)
	if err != nil {
		return nil, err
	}
	return append(out, stored...), nil
}

// depositor is the partner that deposited a flow.
func (r *Router) depositor(ctx context.Context, flowID string, seen *roundSeen) (string, error) {
	if id, ok := seen.partnerOf[flowID]; ok {
		return id, nil
	}
	f, ok, err := r.cfg.Store.Flow(ctx, flowID)
	if err != nil || !ok {
		return "", err
	}
	return f.Partner, nil
}

// remember keeps what a decided flow of the round changes for the flows
// after it: its accepted invoices and the statuses it sets.
func (s *roundSeen) remember(d *decided) {
	for _, inv := range d.invs {
		if inv.Verdict == string(flowgate.Accepted) {
			s.delivered[inv.SupplierSIRET+"\x00"+inv.Number] = append(s.delivered[inv.SupplierSIRET+"\x00"+inv.Number], inv)
			s.partnerOf[inv.FlowID] = d.plan.Partner
		}
	}
	for _, st := range d.sts {
		s.status[invoiceKey(st.FlowID, st.Seq)] = st.Code
	}
}

// renderStatus adds a status flow's files to its plan: the CR for its
// sender (CPPStatut flow level, JSON), and the changes to the partners
// that deposited the invoices and, when they did not set them, to the
// recipients' partners.
func (r *Router) renderStatus(d *decided) error {
	p, sender, rep := d.plan, d.sender, d.status.rep
	out := r.rel(r.mb.Out(sender.ID))
	hub := outbox.Partner{ID: r.cfg.HubID, Label: "flowgate"}
	env := func(to *Partner) outbox.Envelope {
		return outbox.Envelope{FlowID: p.FlowID, Produced: p.DecidedAt, Sender: hub, Receiver: outbox.Partner{ID: to.ID, Label: to.Name}}
	}
	cr, err := statusJSON(p, rep)
	if err != nil {
		return err
	}
	if sender.CPPStatut {
		lines := flowgate.FlowReport{File: rep.File, Status: rep.Status, Errors: rep.Errors}
		for _, u := range rep.Updates {
			v := flowgate.Accepted
			if u.Verdict != UpdateApplied {
				v = flowgate.Rejected
			}
			lines.Invoices = append(lines.Invoices, flowgate.InvoiceReport{Number: u.Number, IssueDate: u.IssueDate,
				SupplierSIRET: u.SupplierSIRET, Verdict: v, Findings: u.Findings})
		}
		data, err := outbox.StatusFlowXML(env(sender), rep.Status, lines)
		if err != nil {
			return fmt.Errorf("flow status: %w", err)
		}
		p.Writes = append(p.Writes, write{Dir: out, Name: reportName("CR", p.FlowID, "", p.Name, ".xml"), Entry: generated, Data: data})
	}
	if sender.JSON {
		p.Writes = append(p.Writes, write{Dir: out, Name: reportName("CR", p.FlowID, "", p.Name, ".json"), Entry: generated, Data: cr})
	}
	toPartner := map[string][]outbox.InvoiceStatus{}
	cdar := map[string][]outbox.CDARStatus{}
	for _, ch := range d.status.changes {
		st := r.invoiceStatus(ch)
		c, cerr := outbox.CDARFromInvoiceStatus(st, ch.inv.TypeCode)
		tell := func(id string) {
			toPartner[id] = append(toPartner[id], st)
			if cerr == nil {
				cdar[id] = append(cdar[id], c)
			}
		}
		if ch.depositor != "" && r.partners[ch.depositor] != nil {
			tell(ch.depositor)
		}
		if rp := r.recipient[ch.inv.RecipientSIRET]; rp != nil && rp.ID != sender.ID && rp.ID != ch.depositor {
			tell(rp.ID)
		}
	}
	ids := make([]string, 0, len(toPartner))
	for id := range toPartner {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	for _, id := range ids {
		to := r.partners[id]
		p.Writes = append(p.Writes, r.invoiceStatusFiles(p, to, env(to), r.rel(r.mb.Out(id)), "FACT_"+p.FlowID+"_STATUTS", toPartner[id])...)
		p.Writes = append(p.Writes, r.cdarFiles(p, to, env(to), r.rel(r.mb.Out(id)), "CDAR_"+p.FlowID+"_STATUTS", cdar[id])...)
	}
	d.report = cr
	r.finish(d)
	return nil
}

// invoiceStatus is the status file line of a change, saying of the
// invoice what its 01 and 03 said: as recorded (the parties' names as
// written, the seller's country, the totals BT-109, BT-112 and BT-115 and
// the currency), with the directory's names for its recipient and
// service.
func (r *Router) invoiceStatus(ch change) outbox.InvoiceStatus {
	inv := ch.inv
	st := outbox.InvoiceStatus{Code: ch.ev.Code, SupplierSIRET: inv.SupplierSIRET, RecipientSIRET: inv.RecipientSIRET,
		ServiceCode: inv.ServiceCode, InvoiceNumber: inv.Number, Comment: ch.ev.Comment, MandateID: ch.ev.Mandate, At: ch.ev.At,
		SupplierName: inv.SupplierName, RecipientName: inv.RecipientName, Currency: inv.Currency}
	if c := inv.SupplierCountry; len(c) == 2 && c[0] >= 'A' && c[0] <= 'Z' && c[1] >= 'A' && c[1] <= 'Z' {
		st.SupplierCountry = c
	}
	for _, kv := range strings.Split(inv.Amounts, ";") {
		term, v, _ := strings.Cut(kv, "=")
		switch term {
		case "BT-109":
			st.TaxExclusive = v
		case "BT-112":
			st.TaxInclusive = v
		case "BT-115":
			st.Payable = v
		}
	}
	if _, err := time.Parse(time.DateOnly, inv.IssueDate); err == nil {
		st.InvoiceDate = inv.IssueDate
	}
	if s, ok := r.cfg.Directory.Structure(inv.RecipientSIRET); ok {
		st.RecipientName = s.Name
	}
	if inv.ServiceCode != "" {
		if s, ok := r.cfg.Directory.Service(inv.RecipientSIRET, inv.ServiceCode); ok {
			st.ServiceName = s.Name
		}
	}
	return st
}

// statusJSON is a status flow's JSON CR, one line ended by a newline.
func statusJSON(p *plan, rep statusReport) ([]byte, error) {
	data, err := json.Marshal(statusCR{statusReport: rep, FlowID: p.FlowID, Partner: p.Partner, SHA256: p.SHA256,
		ReceivedAt: p.ReceivedAt, FinishedAt: p.DecidedAt, ReprocessOf: p.ReprocessOf})
	if err != nil {
		return nil, fmt.Errorf("report of %s: %w", p.FlowID, err)
	}
	return append(data, '\n'), nil
}
