package flowgate

// FlowReport is what flowgate says of one flow: its outcome, the errors that
// kept entries from being read, and each invoice's verdict with its
// findings. It is the `validate -format json` object and the body of the
// daemon's JSON status file.
type FlowReport struct {
	File     string          `json:"file"`
	Status   FlowStatus      `json:"flow_status"`
	Errors   []FlowError     `json:"errors"`
	Invoices []InvoiceReport `json:"invoices"`
}

// Verdict is the outcome of one invoice.
type Verdict string

const (
	Accepted Verdict = "accepted"
	Rejected Verdict = "rejected"
)

// InvoiceReport is one invoice's line in a FlowReport.
type InvoiceReport struct {
	Entry          string    `json:"entry"` // name inside the archive; empty for a plain file
	Number         string    `json:"number"`
	IssueDate      string    `json:"issue_date"`
	TypeCode       string    `json:"type_code"`
	SupplierSIRET  string    `json:"supplier_siret"`
	RecipientSIRET string    `json:"recipient_siret"`
	ServiceCode    string    `json:"service_code"`
	Engagement     string    `json:"engagement"`
	Currency       string    `json:"currency"`
	TotalPayable   string    `json:"total_payable"` // BT-115 as written: an exact decimal, never a float
	Verdict        Verdict   `json:"verdict"`
	Findings       []Finding `json:"findings"`
}

// Finish sets the flow status from the verdicts and errors.
func (r *FlowReport) Finish() {
	accepted, rejected := 0, 0
	for _, inv := range r.Invoices {
		if inv.Verdict == Accepted {
			accepted++
		} else {
			rejected++
		}
	}
	r.Status = OutcomeOf(accepted, rejected, len(r.Errors))
}
