package router

import (
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"strings"

	"flowgate"
	"flowgate/flows"
)

// decideQuarantine is the decision for a flow the hub could not process
// after attempts tries (it crashed the daemon, panicked, ran past
// flow_timeout, could not be read) or whose file changed while it was
// checked: nothing of it is delivered or returned, its sender gets a CR
// IN_REJETE with FLX-INCIDENT, its file goes to quarantine/ and the
// operators are alerted (logged here, at error level, once).
func (r *Router) decideQuarantine(c flows.Claimed, attempts int, reason string) *decided {
	now := r.now().UTC()
	p := &plan{FlowID: c.FlowID, Partner: c.Partner, Name: c.Name, WorkName: filepath.Base(c.Path),
		ReceivedAt: c.ReceivedAt.UTC(), DecidedAt: now, Status: flowgate.FlowRejected, Quarantine: true}
	r.cfg.Log.Error("flow quarantined", "flow", c.FlowID, "partner", c.Partner, "file", c.Name,
		"attempts", attempts, "err", reason, "quarantine", r.quarantineDir())
	fr := fmt.Sprintf("incident de traitement : flux mis en quarantaine après %d tentative(s), les opérateurs sont alertés", attempts)
	en := fmt.Sprintf("processing incident: flow quarantined after %d attempt(s), operators are alerted", attempts)
	if strings.Contains(reason, errChanged.Error()) {
		fr = "incident de traitement : le fichier a changé pendant son contrôle ; flux mis en quarantaine, les opérateurs sont alertés"
		en = "processing incident: the file changed while it was checked; flow quarantined, operators are alerted"
	}
	return &decided{plan: p, sender: r.partners[c.Partner], rep: incidentReport(c.Name, fr, en)}
}

// incidentReport is the report of a quarantined flow: rejected, one
// FLX-INCIDENT error.
func incidentReport(name, fr, en string) flowgate.FlowReport {
	return flowgate.FlowReport{File: name, Status: flowgate.FlowRejected, Invoices: []flowgate.InvoiceReport{},
		Errors: []flowgate.FlowError{{Code: flowgate.CodeIncident, MessageFR: fr, Message: en}}}
}

// incidentSuffix names the status files that supersede a decided flow's
// own when the flow is quarantined after its decision.
const incidentSuffix = "_INCIDENT"

// quarantinePlanned replaces the plan of a decided flow whose file is no
// longer the one checked (errChanged) by a quarantine plan, in the store
// first: nothing more of it is delivered or returned (what was already
// written came from the checked bytes), its file goes to quarantine/, and
// its sender gets CR_<flow>_INCIDENT_<name> (IN_REJETE, FLX-INCIDENT),
// which supersedes the CR_<flow>_<name> the decision may already have put
// in out/.
func (r *Router) quarantinePlanned(ctx context.Context, p *plan) (*plan, error) {
	q := *p
	q.Quarantine, q.Status, q.Writes = true, flowgate.FlowRejected, nil
	r.cfg.Log.Error("flow changed after it was checked, quarantined: nothing more of it is delivered",
		"flow", p.FlowID, "partner", p.Partner, "file", p.Name, "sha256", p.SHA256, "quarantine", r.quarantineDir())
	rep := incidentReport(p.Name,
		"incident de traitement : le fichier a changé après son contrôle ; flux mis en quarantaine, rien n'en est plus livré, ce compte rendu remplace le précédent, les opérateurs sont alertés",
		"processing incident: the file changed after it was checked; flow quarantined, nothing more of it is delivered, this report supersedes the previous one, operators are alerted")
	if sender := r.partners[p.Partner]; sender != nil {
		if err := r.statusFiles(&q, sender, rep, nil, incidentSuffix); err != nil {
			return p, fmt.Errorf("quarantine %s: %w", p.FlowID, err)
		}
	}
	report, err := reportJSON(&q, rep)
	if err != nil {
		return p, err
	}
	data, err := json.Marshal(&q)
	if err != nil {
		return p, err
	}
	ok, err := r.cfg.Store.ReplacePlan(ctx, p.FlowID, string(q.Status), data, report)
	if err != nil {
		return p, err
	}
	if !ok {
		return p, fmt.Errorf("quarantine %s: not planned any more", p.FlowID)
	}
	return &q, nil
}

// decideTooBig is the decision for a flow over its sender's max_file_size:
// refused from its size alone (FLX-TAILLE), its bytes never read, hashed
// or copied. Its sender's returns/ gets a short notice in place of the
// file; the file itself is archived. Its SHA-256 is not computed, so the
// same-bytes rule does not apply to it.
func (r *Router) decideTooBig(p *plan, sender *Partner, size int64) *decided {
	limit := sender.MaxFileSize
	rep := flowgate.FlowReport{File: p.Name, Status: flowgate.FlowRejected, Invoices: []flowgate.InvoiceReport{},
		Errors: []flowgate.FlowError{{Code: flowgate.CodeSize,
			MessageFR: fmt.Sprintf("le fichier fait %d octets, au-delà de la limite de %d octets : refusé sans être lu", size, limit),
			Message:   fmt.Sprintf("the file is %d bytes, over the limit of %d bytes: refused unread", size, limit)}}}
	p.Status = rep.Status
	p.Writes = append(p.Writes, r.notice(p, r.rel(r.mb.Returns(sender.ID)), size,
		fmt.Sprintf("refusé (FLX-TAILLE) : au-delà de la limite de %d octets, il n'a pas été lu et n'est pas renvoyé", limit),
		fmt.Sprintf("refused (FLX-TAILLE): over the limit of %d bytes, it was not read and is not sent back", limit)))
	return &decided{plan: p, sender: sender, rep: rep}
}

// notice is a short text put in the sender's returns/ in place of a file
// the hub does not send back: <flow>_<name>.refus.txt, in French and
// English.
func (r *Router) notice(p *plan, returns string, size int64, fr, en string) write {
	text := fmt.Sprintf("Flux %s, fichier « %s » (%d octets) : %s.\nFlow %s, file '%s' (%d bytes): %s.\n",
		p.FlowID, p.Name, size, fr, p.FlowID, p.Name, size, en)
	return write{Dir: returns, Name: returnName(p.FlowID, -1, p.Name) + ".refus.txt", Entry: generated, Data: []byte(text)}
}
