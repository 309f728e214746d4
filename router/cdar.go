package router

import (
	"fmt"
	"time"

	"flowgate"
	"flowgate/outbox"
)

// CDAR status files, for partners whose status_formats include "cdar":
// the same statuses as the CPPStatut files, as CDAR D22B lifecycle
// messages of the 2026 reform (outbox.CDAR; the mapping is outbox's,
// in cdarmap.go). A message holds the statuses of one party (the hub, the
// recipient, the supplier): statuses set by several are split into
// base.xml, base-2.xml, ... in order.

// cdarFiles renders CDAR statuses for one partner. A status the CDAR rules
// cannot hold costs that file, logged, never the flow: the CR and the
// CPPStatut files carry the outcome.
func (r *Router) cdarFiles(p *plan, to *Partner, env outbox.Envelope, dir, base string, statuses []outbox.CDARStatus) []write {
	if !to.CDAR || len(statuses) == 0 {
		return nil
	}
	var ws []write
	for i, group := range outbox.SplitCDAR(statuses) {
		data, err := outbox.CDAR(env, group)
		if err != nil {
			r.cfg.Log.Error("CDAR status file not written", "flow", p.FlowID, "partner", to.ID, "err", err)
			continue
		}
		name := base + ".xml"
		if i > 0 {
			name = fmt.Sprintf("%s-%d.xml", base, i+1)
		}
		ws = append(ws, write{Dir: dir, Name: name, Entry: generated, Data: data})
	}
	return ws
}

// integrationCDAR is a flow's integration result for its sender in CDAR:
// 200 and 203 for each accepted invoice, 213 for each rejected one, 501
// for what could not be read (outbox.IntegrationCDAR); a completed
// invoice (a suspended one deposited again) is 209 instead of 200 and 203.
func integrationCDAR(rep flowgate.FlowReport, names []partyNames, completed []outbox.CDARStatus, at time.Time) []outbox.CDARStatus {
	kept := rep
	kept.Invoices = nil
	for i, line := range rep.Invoices {
		if i < len(names) && names[i].completed && line.Verdict == flowgate.Accepted {
			continue
		}
		kept.Invoices = append(kept.Invoices, line)
	}
	return append(outbox.IntegrationCDAR(kept, at), completed...)
}
