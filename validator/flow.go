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

// Summarize returns the report line of one invoice and its findings.
func Summarize(entry string, inv *flowgate.Invoice, findings []flowgate.Finding) flowgate.InvoiceReport {
	supplier, _ := inv.Seller.SIRET()
	recipient, _ := inv.Buyer.SIRET()
	r := flowgate.InvoiceReport{
		Entry: entry, Number: inv.Number, IssueDate: inv.IssueDate, TypeCode: inv.TypeCode,
		SupplierSIRET: supplier, RecipientSIRET: recipient, ServiceCode: inv.ServiceCode(),
		Engagement: inv.Order, Currency: inv.Currency, TotalPayable: inv.Totals.Payable.Raw,
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

// CheckFlow reads the flow in r and validates each of its invoices. Each
// accepted invoice is added to in.History (when set) before the next is
// checked, so that a duplicate inside one flow is caught too. For each
// entry, onEntry (when not nil) receives the entry and, for an invoice, its
// report line: the daemon routes from there. CheckFlow returns an error
// only when reading r fails (*parser.IOError) or onEntry fails.
func CheckFlow(file string, r io.ReaderAt, size int64, in Input, onEntry func(parser.Entry, *flowgate.InvoiceReport) error) (flowgate.FlowReport, error) {
	rep := flowgate.FlowReport{File: file, Errors: []flowgate.FlowError{}, Invoices: []flowgate.InvoiceReport{}}
	err := parser.ReadFlow(r, size, func(e parser.Entry) error {
		if e.Err != nil {
			rep.Errors = append(rep.Errors, *e.Err)
			if onEntry != nil {
				return onEntry(e, nil)
			}
			return nil
		}
		line := Summarize(e.Name, e.Invoice, Validate(e.Invoice, in))
		if line.Verdict == flowgate.Accepted && in.History != nil {
			if key, ok := KeyOf(e.Invoice); ok {
				in.History.Add(key)
			}
		}
		rep.Invoices = append(rep.Invoices, line)
		if onEntry != nil {
			return onEntry(e, &rep.Invoices[len(rep.Invoices)-1])
		}
		return nil
	})
	if err != nil {
		return rep, err
	}
	rep.Finish()
	return rep, nil
}
