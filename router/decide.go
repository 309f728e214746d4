package router

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"sort"
	"strings"
	"time"

	"flowgate"
	"flowgate/flows"
	"flowgate/internal/fsx"
	"flowgate/outbox"
	"flowgate/parser"
	"flowgate/store"
	"flowgate/validator"
)

// decided is a flow of a round once decided, with the entry bytes kept for
// carrying it out without reading it again.
type decided struct {
	plan    *plan
	entries [][]byte
	flow    store.Flow
	invs    []store.Invoice
	sts     []store.Status

	sender *Partner            // who deposited it
	rep    flowgate.FlowReport // its report, for the status files
	names  []partyNames        // of each invoice of the report
	dupOf  *plan               // the original, for a duplicate flow
}

// Process decides, records and carries out one round of claimed flows. It
// returns the flows it could not decide (left in work/, to process again)
// and how many decided flows it could not carry out yet (their plans stay
// in the store, for resume): a full disk or a permission error on a
// mailbox, or the store being unavailable.
func (r *Router) Process(ctx context.Context, round []flows.Claimed) (failed []flows.Claimed, notDone int) {
	var batch []*decided
	bySHA := map[string]*decided{}
	hist := &history{ctx: ctx, store: r.cfg.Store, mem: validator.MemoryHistory{}}
	preps := prepareRound(round)
	for i, c := range round {
		d, err := r.decide(ctx, c, preps[i], hist, bySHA)
		preps[i] = prepared{} // its entries now live in d, or nowhere
		if err != nil {
			r.cfg.Log.Error("flow not decided, left in work/", "flow", c.FlowID, "partner", c.Partner, "file", c.Name, "err", err)
			failed = append(failed, c)
			continue
		}
		batch = append(batch, d)
		if d.plan.DuplicateOf == "" {
			bySHA[d.plan.Partner+" "+d.plan.SHA256] = d
		}
	}
	if hist.err != nil {
		r.cfg.Log.Error("history unavailable, round left in work/", "err", hist.err)
		return round, 0
	}
	// Originals render in parallel; duplicates after, since they copy an
	// original's reports, which may be of this round.
	renderErrs := make([]error, len(batch))
	fsx.Parallel(len(batch), runtime.GOMAXPROCS(0), func(i int) {
		if batch[i].dupOf == nil {
			renderErrs[i] = r.render(batch[i])
		}
	})
	unrendered := map[*plan]bool{}
	for i, d := range batch {
		if renderErrs[i] != nil {
			unrendered[d.plan] = true
		}
	}
	for i, d := range batch {
		switch {
		case d.dupOf == nil:
		case unrendered[d.dupOf]:
			renderErrs[i] = fmt.Errorf("its original %s could not be decided", d.dupOf.FlowID)
		default:
			renderErrs[i] = r.render(d)
		}
	}
	kept := batch[:0]
	for i, d := range batch {
		if renderErrs[i] != nil {
			r.cfg.Log.Error("flow not decided, left in work/", "flow", d.plan.FlowID, "partner", d.plan.Partner, "err", renderErrs[i])
			failed = append(failed, flows.Claimed{FlowID: d.plan.FlowID, Partner: d.plan.Partner, Name: d.plan.Name,
				Path: filepath.Join(r.mb.Work(), d.plan.WorkName), ReceivedAt: d.plan.ReceivedAt})
			continue
		}
		kept = append(kept, d)
	}
	batch = kept
	if len(batch) == 0 {
		return failed, 0
	}
	var pb store.PlanBatch
	for _, d := range batch {
		pb.Flows = append(pb.Flows, d.flow)
		pb.Invoices = append(pb.Invoices, d.invs...)
		pb.Statuses = append(pb.Statuses, d.sts...)
	}
	if err := r.cfg.Store.SavePlans(ctx, pb); err != nil {
		r.cfg.Log.Error("plans not saved, round left in work/", "flows", len(batch), "err", err)
		return round, 0
	}
	plans := make([]*plan, len(batch))
	cache := map[string][][]byte{}
	for i, d := range batch {
		plans[i] = d.plan
		if d.entries != nil {
			cache[d.plan.FlowID] = d.entries
		}
	}
	notDone = len(r.execute(ctx, plans, cache))
	for _, d := range batch {
		r.cfg.Log.Info("flow", "flow", d.plan.FlowID, "partner", d.plan.Partner, "file", d.plan.Name,
			"status", string(d.plan.Status), "invoices", len(d.invs), "duplicate_of", d.plan.DuplicateOf)
	}
	return failed, notDone
}

// history is the state one round shares across its flows: the duplicate
// check (invoices accepted in the store, plus those accepted earlier in
// the round; a store error is kept and fails the round, never read as "not
// seen"), and the entry bytes the round keeps in memory.
type history struct {
	ctx    context.Context
	store  Store
	mem    validator.MemoryHistory
	err    error
	cached int64 // entry bytes the round keeps in memory so far
}

func (h *history) Seen(k validator.DuplicateKey) bool {
	if h.mem.Seen(k) {
		return true
	}
	seen, err := h.store.Accepted(h.ctx, k.SupplierSIRET, k.Number, k.Year)
	if err != nil && h.err == nil {
		h.err = err
	}
	return seen
}

func (h *history) Add(k validator.DuplicateKey) { h.mem.Add(k) }

// maxCached bounds the entry bytes a round keeps in memory, for one flow
// and for the whole round; what does not fit is read again from work/ when
// carried out.
const (
	maxCached      = 64 << 20
	maxRoundCached = 256 << 20
)

// prepared is a claimed flow read and parsed ahead of its decision: the
// part of deciding that depends on nothing else, done for a round's flows
// in parallel.
type prepared struct {
	sum     string         // SHA-256 of the file
	entries []parser.Entry // nil when the flow is too big to hold: it is read again, streaming
	err     error          // reading the file failed
}

// openFlow opens a flow's file and returns it with its size.
func openFlow(path string) (*os.File, int64, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, 0, err
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, 0, err
	}
	return f, fi.Size(), nil
}

// prepare reads a claimed flow, hashes it and, when it fits the budget,
// parses it into entries.
func prepare(path string, keep bool) prepared {
	f, size, err := openFlow(path)
	if err != nil {
		return prepared{err: err}
	}
	defer f.Close()
	if !keep || size > maxCached {
		h := sha256.New()
		if _, err := io.Copy(h, f); err != nil {
			return prepared{err: fmt.Errorf("read %s: %w", path, err)}
		}
		return prepared{sum: hex.EncodeToString(h.Sum(nil))}
	}
	data, err := io.ReadAll(f)
	if err != nil {
		return prepared{err: fmt.Errorf("read %s: %w", path, err)}
	}
	sum := sha256.Sum256(data)
	p := prepared{sum: hex.EncodeToString(sum[:]), entries: []parser.Entry{}}
	parser.ReadFlow(bytes.NewReader(data), int64(len(data)), func(e parser.Entry) error {
		p.entries = append(p.entries, e)
		return nil
	})
	return p
}

// prepareRound prepares a round's flows on every core, within the round's
// memory budget (flows past it are read again, streaming, when decided).
func prepareRound(round []flows.Claimed) []prepared {
	keep := make([]bool, len(round))
	var budget int64
	for i, c := range round {
		if fi, err := os.Stat(c.Path); err == nil && fi.Size() <= maxCached && budget+fi.Size() <= maxRoundCached {
			keep[i] = true
			budget += fi.Size()
		}
	}
	out := make([]prepared, len(round))
	fsx.Parallel(len(round), runtime.GOMAXPROCS(0), func(i int) { out[i] = prepare(round[i].Path, keep[i]) })
	return out
}

// decide checks one flow of the round against the directory, its sender and
// the history, in claim order (the history makes the order matter), and
// builds its plan but for the status files (see render).
func (r *Router) decide(ctx context.Context, c flows.Claimed, prep prepared, hist *history, bySHA map[string]*decided) (*decided, error) {
	if prep.err != nil {
		return nil, prep.err
	}
	now := r.now().UTC()
	p := &plan{FlowID: c.FlowID, Partner: c.Partner, Name: c.Name, WorkName: filepath.Base(c.Path), SHA256: prep.sum,
		ReceivedAt: c.ReceivedAt.UTC(), DecidedAt: now}
	sender := r.partners[c.Partner]
	if sender == nil {
		return nil, fmt.Errorf("unknown partner %q", c.Partner)
	}
	if dup, err := r.duplicate(ctx, c.Partner, prep.sum, bySHA); err != nil {
		return nil, err
	} else if dup != nil {
		return r.decideDuplicate(p, dup, sender), nil
	}

	in := validator.Input{Directory: r.cfg.Directory, History: hist,
		Sender: &validator.Sender{ID: sender.ID, SIRETs: sender.SIRETs}}
	d := &decided{plan: p, sender: sender}
	b := &planBuilder{r: r, d: d, now: now, returns: r.rel(r.mb.Returns(sender.ID)), name: c.Name}
	var rep flowgate.FlowReport
	if prep.entries != nil {
		check := validator.NewFlowCheck(c.Name, in)
		for _, e := range prep.entries {
			b.add(e, check.Entry(e))
		}
		rep = check.Report()
		d.entries = make([][]byte, len(prep.entries))
		for i, e := range prep.entries {
			d.entries[i] = e.Data // nil for an entry that could not be read: indexes stay aligned
		}
	} else {
		f, size, err := openFlow(c.Path)
		if err != nil {
			return nil, err
		}
		defer f.Close()
		rep, err = validator.CheckFlow(c.Name, f, size, in, func(e parser.Entry, line *flowgate.InvoiceReport) error {
			b.add(e, line)
			return nil
		})
		if err != nil {
			return nil, err // only an I/O error reading work/: transient
		}
	}
	accepted := slices.ContainsFunc(rep.Invoices, func(l flowgate.InvoiceReport) bool { return l.Verdict == flowgate.Accepted })
	if !accepted && !b.returned {
		// Nothing delivered and nothing returned entry by entry: the whole
		// file goes back to its sender, as deposited.
		p.Writes = append(p.Writes, write{Dir: b.returns, Name: returnName(p.FlowID, -1, c.Name), Entry: wholeFile})
	}
	p.Status = rep.Status
	d.rep, d.names = rep, b.names
	return d, nil
}

// planBuilder turns a flow's entries, as they are checked, into the files
// of its plan and the rows of the store.
type planBuilder struct {
	r        *Router
	d        *decided
	now      time.Time
	returns  string // the sender's returns folder, relative to the root
	name     string // the deposited file's name
	seq      int    // index of the next entry
	returned bool   // an entry went back on its own
	names    []partyNames
}

func (b *planBuilder) add(e parser.Entry, line *flowgate.InvoiceReport) {
	seq, p, d := b.seq, b.d.plan, b.d
	b.seq++
	if e.Invoice != nil {
		b.names = append(b.names, partyNames{supplier: e.Invoice.Seller.Name, recipient: e.Invoice.Buyer.Name,
			country: e.Invoice.Seller.CountryCode})
	}
	switch {
	case line != nil && line.Verdict == flowgate.Accepted:
		dir, name := b.r.delivery(p, line, e.Name, seq)
		p.Writes = append(p.Writes, write{Dir: dir, Name: name, Entry: seq})
		d.invs = append(d.invs, b.r.invoiceRow(p, line, seq, dir, name))
		d.sts = append(d.sts, store.Status{FlowID: p.FlowID, Seq: seq, Code: "01", At: b.now},
			store.Status{FlowID: p.FlowID, Seq: seq, Code: "03", At: b.now})
	case e.Data != nil && e.Name != "":
		// A rejected or unreadable archive member goes back as its own file.
		name := returnName(p.FlowID, seq, e.Name)
		p.Writes = append(p.Writes, write{Dir: b.returns, Name: name, Entry: seq})
		b.returned = true
		if line != nil {
			d.invs = append(d.invs, b.r.invoiceRow(p, line, seq, b.returns, name))
		}
	case line != nil:
		// A rejected plain file: the file is the invoice.
		d.invs = append(d.invs, b.r.invoiceRow(p, line, seq, b.returns, returnName(p.FlowID, -1, b.name)))
	}
}

// render adds the status files to a decided flow's plan and seals the plan
// for the store. Flows are rendered in parallel: nothing here depends on
// another flow.
func (r *Router) render(d *decided) error {
	if d.dupOf != nil {
		r.copyReports(d)
	} else if err := r.statusFiles(d.plan, d.sender, d.rep, d.names); err != nil {
		return err
	}
	r.finish(d)
	return nil
}

// duplicate finds the flow of the same partner, in this round or in the
// store, that already had these exact bytes. Another partner's identical
// file is processed on its own: its report is not this partner's to see.
func (r *Router) duplicate(ctx context.Context, partner, sum string, bySHA map[string]*decided) (*plan, error) {
	if d, ok := bySHA[partner+" "+sum]; ok {
		return d.plan, nil
	}
	f, ok, err := r.cfg.Store.FlowBySHA256(ctx, partner, sum)
	if err != nil || !ok {
		return nil, err
	}
	var orig plan
	if err := json.Unmarshal(f.Plan, &orig); err != nil {
		return nil, fmt.Errorf("flow %s: bad plan in store: %w", f.ID, err)
	}
	return &orig, nil
}

// decideDuplicate: a file whose bytes were already processed is not
// processed again; its sender gets the original flow's reports once more,
// as the original wrote them, under the new flow's names.
//
// The reports are copied when the flow is rendered, once the original's
// own are: the original may be in the same round.
func (r *Router) decideDuplicate(p *plan, orig *plan, sender *Partner) *decided {
	p.DuplicateOf = orig.FlowID
	p.Status = orig.Status
	return &decided{plan: p, sender: sender, dupOf: orig}
}

// copyReports gives a duplicate flow the original's CR files under its own
// names.
func (r *Router) copyReports(d *decided) {
	orig, p := d.dupOf, d.plan
	for _, w := range orig.Writes {
		if w.Entry != generated || !strings.HasPrefix(w.Name, "CR_"+orig.FlowID+".") {
			continue
		}
		ext := strings.TrimPrefix(w.Name, "CR_"+orig.FlowID)
		p.Writes = append(p.Writes, write{Dir: r.rel(r.mb.Out(d.sender.ID)), Name: "CR_" + p.FlowID + ext, Entry: generated, Data: w.Data})
	}
}

func (r *Router) finish(d *decided) *decided {
	p := d.plan
	planJSON, _ := json.Marshal(p)
	d.flow = store.Flow{ID: p.FlowID, Partner: p.Partner, FileName: p.Name, SHA256: p.SHA256, Status: string(p.Status),
		DuplicateOf: p.DuplicateOf, ReceivedAt: p.ReceivedAt, Plan: planJSON}
	return d
}

func (r *Router) invoiceRow(p *plan, line *flowgate.InvoiceReport, seq int, dir, name string) store.Invoice {
	year := line.IssueDate
	if len(year) >= 4 {
		year = year[:4]
	}
	return store.Invoice{FlowID: p.FlowID, Seq: seq, Entry: line.Entry, Number: line.Number,
		SupplierSIRET: line.SupplierSIRET, RecipientSIRET: line.RecipientSIRET, IssueYear: year,
		Verdict: string(line.Verdict), Location: filepath.Join(dir, name)}
}

// rel is a folder of the root, relative to it.
func (r *Router) rel(dir string) string {
	rel, err := filepath.Rel(r.cfg.Root, dir)
	if err != nil {
		return dir
	}
	return rel
}

// delivery returns the folder and name of an accepted invoice: the inbox of
// the partner that collects its recipient, or the recipient's portal
// folder; named from the recipient SIRET, the supplier SIRET, the invoice
// number and the flow id (and the entry's position in an archive).
func (r *Router) delivery(p *plan, line *flowgate.InvoiceReport, entry string, seq int) (string, string) {
	dir := r.mb.Portal(safeName(line.RecipientSIRET, 14))
	if partner := r.recipient[line.RecipientSIRET]; partner != nil {
		dir = r.mb.Inbox(partner.ID)
	}
	id := p.FlowID
	if entry != "" {
		id = fmt.Sprintf("%s-%03d", p.FlowID, seq)
	}
	name := safeName(line.RecipientSIRET, 14) + "_" + safeName(line.SupplierSIRET, 14) + "_" +
		safeName(line.Number, 40) + "_" + id + ".xml"
	return r.rel(dir), name
}

// returnName names a returned file after its flow and its own base name;
// seq < 0 for the whole deposited file.
func returnName(flowID string, seq int, name string) string {
	base := safeName(filepath.Base(strings.ReplaceAll(name, "\\", "/")), 80)
	if seq < 0 {
		return flowID + "_" + base
	}
	return fmt.Sprintf("%s-%03d_%s", flowID, seq, base)
}

// safeName keeps letters, digits and "+-_." and replaces anything else,
// so that no invoice number or archive member can name a path.
func safeName(s string, max int) string {
	var b strings.Builder
	for _, c := range s {
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', c == '+', c == '-', c == '_', c == '.':
			b.WriteRune(c)
		default:
			b.WriteByte('_')
		}
		if b.Len() >= max {
			break
		}
	}
	out := strings.TrimLeft(b.String(), ".")
	if out == "" {
		return "sans-nom"
	}
	return out
}

// crJSON is the JSON status file: the validate report plus the flow's facts.
type crJSON struct {
	flowgate.FlowReport
	FlowID     string    `json:"flow_id"`
	Partner    string    `json:"partner"`
	SHA256     string    `json:"sha256"`
	ReceivedAt time.Time `json:"received_at"`
	FinishedAt time.Time `json:"finished_at"`
}

// partyNames are an invoice's seller and buyer names (BT-27, BT-44) and the
// seller's country (BT-40), as written.
type partyNames struct{ supplier, recipient, country string }

// statusFiles adds the flow's status files to its plan: the flow-level CR
// for its sender, and the invoice-level statuses (01 and 03 to the
// supplier's partner, 03 to the recipient's partner).
func (r *Router) statusFiles(p *plan, sender *Partner, rep flowgate.FlowReport, names []partyNames) error {
	out := r.rel(r.mb.Out(sender.ID))
	hub := outbox.Partner{ID: r.cfg.HubID, Label: "flowgate"}
	env := func(to *Partner) outbox.Envelope {
		return outbox.Envelope{FlowID: p.FlowID, Produced: p.DecidedAt, Sender: hub, Receiver: outbox.Partner{ID: to.ID, Label: to.Name}}
	}
	if sender.CPPStatut {
		data, err := outbox.FlowStatusXML(env(sender), rep.Status, rep)
		if err != nil {
			return fmt.Errorf("flow status: %w", err)
		}
		p.Writes = append(p.Writes, write{Dir: out, Name: "CR_" + p.FlowID + ".xml", Entry: generated, Data: data})
	}
	if sender.JSON {
		data, err := json.Marshal(crJSON{FlowReport: rep, FlowID: p.FlowID, Partner: sender.ID, SHA256: p.SHA256,
			ReceivedAt: p.ReceivedAt, FinishedAt: p.DecidedAt})
		if err != nil {
			return err
		}
		p.Writes = append(p.Writes, write{Dir: out, Name: "CR_" + p.FlowID + ".json", Entry: generated, Data: append(data, '\n')})
	}

	var toSupplier []outbox.InvoiceStatus
	toRecipient := map[string][]outbox.InvoiceStatus{}
	for i, line := range rep.Invoices {
		if line.Verdict != flowgate.Accepted {
			continue
		}
		date := line.IssueDate
		if len(date) > 10 {
			date = date[:10] // DateFacture is a date without time zone
		}
		st := outbox.InvoiceStatus{SupplierSIRET: line.SupplierSIRET, RecipientSIRET: line.RecipientSIRET,
			ServiceCode: line.ServiceCode, InvoiceNumber: line.Number, InvoiceDate: date, At: p.DecidedAt}
		if i < len(names) {
			st.SupplierName, st.RecipientName = names[i].supplier, names[i].recipient
			if c := names[i].country; len(c) == 2 && c[0] >= 'A' && c[0] <= 'Z' && c[1] >= 'A' && c[1] <= 'Z' {
				st.SupplierCountry = c
			}
		}
		// The directory's name for the recipient is the reference.
		if s, ok := r.cfg.Directory.Structure(line.RecipientSIRET); ok {
			st.RecipientName = s.Name
		}
		deposited, available := st, st
		deposited.Code, available.Code = "01", "03"
		toSupplier = append(toSupplier, deposited, available)
		if rp := r.recipient[line.RecipientSIRET]; rp != nil && rp.CPPStatut {
			toRecipient[rp.ID] = append(toRecipient[rp.ID], available)
		}
	}
	// An invoice status the CPPStatut schema cannot hold (a malformed issue
	// date, say) costs that file, logged, never the flow: the CR carries
	// the outcome.
	if sender.CPPStatut && len(toSupplier) > 0 {
		if data, err := outbox.InvoiceStatusXML(env(sender), toSupplier); err != nil {
			r.cfg.Log.Error("invoice status file not written", "flow", p.FlowID, "partner", sender.ID, "err", err)
		} else {
			p.Writes = append(p.Writes, write{Dir: out, Name: "FACT_" + p.FlowID + ".xml", Entry: generated, Data: data})
		}
	}
	ids := make([]string, 0, len(toRecipient))
	for id := range toRecipient {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	for _, id := range ids {
		rp := r.partners[id]
		data, err := outbox.InvoiceStatusXML(env(rp), toRecipient[id])
		if err != nil {
			r.cfg.Log.Error("invoice status file not written", "flow", p.FlowID, "partner", id, "err", err)
			continue
		}
		p.Writes = append(p.Writes, write{Dir: r.rel(r.mb.Out(id)), Name: "FACT_" + p.FlowID + "_RECU.xml", Entry: generated, Data: data})
	}
	return nil
}
