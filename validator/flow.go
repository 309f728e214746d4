package validator

import (
	"io"

	"flowgate"
	"flowgate/parser"
)

// MemoryHistory is a History held in memory: the invoices accepted so far
// in one run of `flowgate validate`.
type MemoryHistory map[DuplicateKey]struct{}

// Seen reports whether k was added.
func (h MemoryHistory) Seen(k DuplicateKey) bool { _, ok := h[k]; return ok }

// Add records k as accepted.
func (h MemoryHistory) Add(k DuplicateKey) { h[k] = struct{}{} }

// Summarize returns the report line of one invoice and its findings. The
// invoice's fields are read as the hub reads them (flowgate.Trimmed) and
// cut to MaxValue characters: an accepted invoice's
// never are (its rules bound them), a rejected one's may be.
func Summarize(entry string, inv *flowgate.Invoice, findings []flowgate.Finding) flowgate.InvoiceReport {
	supplier, _ := inv.Seller.SIRET()
	recipient, _ := inv.Buyer.SIRET()
	v := func(s string) string { return clipValue(flowgate.Trimmed(s)) } // the hub's reading
	r := flowgate.InvoiceReport{
		Entry: entry, Number: v(inv.Number), IssueDate: v(inv.IssueDate), TypeCode: v(inv.TypeCode),
		SupplierSIRET: v(supplier), RecipientSIRET: v(recipient), ServiceCode: v(inv.ServiceCode()),
		Engagement: v(inv.Order), Currency: v(inv.Currency), TotalPayable: v(inv.Totals.Payable.Raw),
		Verdict: flowgate.Accepted, Findings: findings,
	}
	if r.Findings == nil {
		r.Findings = []flowgate.Finding{}
	}
	if flowgate.AnyFatal(findings) {
		r.Verdict = flowgate.Rejected
	}
	return r
}

// FlowCheck validates the entries of one flow, in order. Each accepted
// invoice is added to the history (when set) before the next is checked,
// so that a duplicate inside one flow is caught too.
//
// Its report is bounded whatever the flow: MaxPerFlow findings in all, each
// invoice's remaining findings counted in one flowgate.CodeTruncated
// finding; each invoice's fields and each quoted value cut to MaxValue
// characters; at most parser.DefaultLimits.Entries invoices and about as
// many entry errors (the parser bounds them). Every message is one of ours,
// a few hundred characters at most. By these bounds its JSON is under 16 MB
// whatever the flow, every field at its limit and every character escaped
// (about 7 MB for 500 such invoices), well under 1 MB for flows that only
// multiply findings.
type FlowCheck struct {
	in     Input
	rep    flowgate.FlowReport
	budget int // findings the report may still detail
}

// NewFlowCheck starts the check of the flow deposited as file.
func NewFlowCheck(file string, in Input) *FlowCheck {
	return &FlowCheck{in: in, budget: MaxPerFlow,
		rep: flowgate.FlowReport{File: file, Errors: []flowgate.FlowError{}, Invoices: []flowgate.InvoiceReport{}}}
}

// Entry checks the next entry of the flow and returns its report line, or
// nil for an entry that could not be read. The line is valid until the
// next call.
func (c *FlowCheck) Entry(e parser.Entry) *flowgate.InvoiceReport {
	if e.Err != nil {
		c.rep.Errors = append(c.rep.Errors, *e.Err)
		return nil
	}
	var fs []flowgate.Finding
	fs, c.budget = capFlow(Validate(e.Invoice, c.in), c.budget)
	line := Summarize(e.Name, e.Invoice, fs)
	if line.Verdict == flowgate.Accepted && c.in.History != nil {
		if key, ok := KeyOf(e.Invoice); ok {
			c.in.History.Add(key)
		}
	}
	c.rep.Invoices = append(c.rep.Invoices, line)
	return &c.rep.Invoices[len(c.rep.Invoices)-1]
}

// Report returns the flow's report, its status set from its entries.
func (c *FlowCheck) Report() flowgate.FlowReport {
	c.rep.Finish()
	return c.rep
}

// CheckFlow reads the flow in r and validates each of its invoices with a
// FlowCheck. For each entry, onEntry (when not nil) receives the entry and,
// for an invoice, its report line. CheckFlow returns an error only when
// reading r fails (*parser.IOError) or onEntry fails.
func CheckFlow(file string, r io.ReaderAt, size int64, in Input, onEntry func(parser.Entry, *flowgate.InvoiceReport) error) (flowgate.FlowReport, error) {
	c := NewFlowCheck(file, in)
	err := parser.ReadFlow(r, size, func(e parser.Entry) error {
		line := c.Entry(e)
		if onEntry != nil {
			return onEntry(e, line)
		}
		return nil
	})
	if err != nil {
		return c.rep, err
	}
	return c.Report(), nil
}
