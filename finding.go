package flowgate

// Severity says whether a finding stops an invoice.
type Severity string

const (
	// Fatal findings reject the invoice: "non conforme, non intégré".
	Fatal Severity = "fatal"
	// Warning findings are reported and the invoice is still delivered.
	Warning Severity = "warning"
)

// Finding is one result of the integration checks on one invoice. Findings
// are data, not errors: the validator returns them and the hub reports them
// to the sender, in French first.
type Finding struct {
	Code      string   `json:"code"`       // EN 16931 rule id (BR-CO-10) or our own (CPP-DEST-INCONNU)
	Severity  Severity `json:"severity"`   // fatal or warning
	Field     string   `json:"field"`      // the business term concerned (BT-13), or a group (BG-25)
	Value     string   `json:"value"`      // the offending value as written, when there is one
	MessageFR string   `json:"message_fr"` // the reason, in French
	Message   string   `json:"message"`    // the reason, in English
	// Line is the identifier (BT-126, as written) of the invoice line a
	// rule on lines failed on; empty on findings about the document.
	Line string `json:"line,omitempty"`
	// Position locates the occurrence a rule on a repeated group failed
	// on, counting from 1 in document order among that group's: the
	// invoice line (BG-25, also for its allowances, charges and other
	// parts), the document level allowance (BG-20, among allowances) or
	// charge (BG-21, among charges), the VAT breakdown (BG-23), the payment
	// instruction (BG-16), the preceding invoice reference (BG-3), the
	// invoicing period (BG-14) or the deliver to address (BG-15, document
	// level and lines' together); 0 for a finding on the document.
	Position int `json:"position,omitempty"`
	// Omitted is set on a summary finding only: how many findings it
	// stands for, left out of the list past a cap (see validator.MaxPerRule).
	Omitted int `json:"omitted,omitempty"`
}

// Occurrences is how many findings f stands for: 1, or for a summary
// finding the number it counts.
func (f Finding) Occurrences() int { return max(1, f.Omitted) }

// CodeTruncated is the code of a finding that counts the findings left out
// of a report past one of its caps (per invoice, per flow), and of the error
// line of a status file that counts the lines left out. It is fatal when one
// of the findings left out was: caps never change a verdict.
const CodeTruncated = "CPP-CONSTATS-LIMITE"

// AnyFatal reports whether any finding is fatal.
func AnyFatal(findings []Finding) bool {
	for _, f := range findings {
		if f.Severity == Fatal {
			return true
		}
	}
	return false
}
