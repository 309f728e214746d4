package validator

import (
	"fmt"
	"strconv"

	"flowgate"
)

// Caps on what one invoice's findings may cost. A rule checked on every
// line fails once per bad line: without them, 100,000 empty lines gave
// 800,000 findings (19.6 MB of JSON from 184 KB of XML). Findings past a cap
// are counted, never built, so that memory stays bounded while validating.
const (
	// MaxPerRule is how many findings of one code an invoice reports one by
	// one; the rest are counted in one summary finding of that code.
	MaxPerRule = 200
	// MaxPerInvoice is how many findings an invoice reports one by one, all
	// codes together; the rest are counted in one flowgate.CodeTruncated
	// finding.
	MaxPerInvoice = 1000
	// MaxPerFlow is how many findings a flow report details, all invoices
	// together: past it, each invoice's remaining findings are counted in
	// one flowgate.CodeTruncated finding (see FlowCheck).
	MaxPerFlow = 2000
	// MaxValue is how many characters of an invoice value a finding quotes
	// (in Value and in its messages), and a report line keeps of each
	// field; longer values end with "…".
	MaxValue = 100
)

// findings collects the findings of one invoice under MaxPerRule and
// MaxPerInvoice. Its zero value is ready to use.
type findings struct {
	kept  []flowgate.Finding
	seen  map[string]int       // findings met, by code, kept or not
	cut   map[string]*omission // findings past MaxPerRule, by code
	order []string             // codes of cut, in the order first cut
	over  omission             // findings past MaxPerInvoice
}

// omission counts the findings left out of a list, and whether one of them
// was fatal.
type omission struct {
	n     int
	field string
	fatal bool
}

func (o *omission) add(f flowgate.Finding) {
	o.n += f.Occurrences()
	o.field = f.Field
	o.fatal = o.fatal || f.Severity == flowgate.Fatal
}

// keeps reports whether the next finding of code would be kept rather
// than counted: only those are worth their messages.
func (fs *findings) keeps(code string) bool {
	return fs.seen[code] < MaxPerRule && len(fs.kept) < MaxPerInvoice
}

// add keeps f, or counts it when past a cap. The value it quotes is cut to
// MaxValue characters.
func (fs *findings) add(f flowgate.Finding) {
	if fs.seen == nil {
		fs.seen = make(map[string]int)
		fs.cut = make(map[string]*omission)
	}
	fs.seen[f.Code]++
	switch {
	case fs.seen[f.Code] > MaxPerRule:
		o := fs.cut[f.Code]
		if o == nil {
			o = &omission{}
			fs.cut[f.Code] = o
			fs.order = append(fs.order, f.Code)
		}
		o.add(f)
	case len(fs.kept) >= MaxPerInvoice:
		fs.over.add(f)
	default:
		f.Value = clipValue(f.Value)
		fs.kept = append(fs.kept, f)
	}
}

// list returns the findings kept, each code's summary right after its last
// kept finding (at the end when none was kept), then the summary of the
// findings past MaxPerInvoice. It holds at most MaxPerInvoice findings plus
// one summary per code cut and one more.
func (fs *findings) list() []flowgate.Finding {
	if len(fs.order) == 0 && fs.over.n == 0 {
		return fs.kept
	}
	last := make(map[string]int, len(fs.order))
	for i, f := range fs.kept {
		if fs.cut[f.Code] != nil {
			last[f.Code] = i
		}
	}
	out := make([]flowgate.Finding, 0, len(fs.kept)+len(fs.order)+1)
	for i, f := range fs.kept {
		out = append(out, f)
		if j, ok := last[f.Code]; ok && j == i {
			out = append(out, ruleSummary(f.Code, fs.cut[f.Code]))
		}
	}
	for _, code := range fs.order {
		if _, ok := last[code]; !ok {
			out = append(out, ruleSummary(code, fs.cut[code]))
		}
	}
	if fs.over.n > 0 {
		out = append(out, truncated(fs.over,
			fmt.Sprintf("au plus %s constats détaillés par facture", frInt(MaxPerInvoice)),
			fmt.Sprintf("at most %s findings listed per invoice", enInt(MaxPerInvoice))))
	}
	return out
}

// ruleSummary is the finding that counts the findings of code left out past
// MaxPerRule: « … et 99 800 autres occurrences de BR-21 ».
func ruleSummary(code string, o *omission) flowgate.Finding {
	return flowgate.Finding{Code: code, Severity: severity(o.fatal), Field: o.field, Omitted: o.n,
		MessageFR: fmt.Sprintf("… et %s autres occurrences de %s (au plus %s détaillées par règle)", frInt(o.n), code, frInt(MaxPerRule)),
		Message:   fmt.Sprintf("… and %s more occurrences of %s (at most %s listed per rule)", enInt(o.n), code, enInt(MaxPerRule))}
}

// truncated is the flowgate.CodeTruncated finding that counts the findings
// o left out, and says which limit (why) left them out.
func truncated(o omission, whyFR, whyEN string) flowgate.Finding {
	return flowgate.Finding{Code: flowgate.CodeTruncated, Severity: severity(o.fatal), Omitted: o.n,
		MessageFR: fmt.Sprintf("… et %s autres constats non détaillés (%s)", frInt(o.n), whyFR),
		Message:   fmt.Sprintf("… and %s more findings not listed (%s)", enInt(o.n), whyEN)}
}

func severity(fatal bool) flowgate.Severity {
	if fatal {
		return flowgate.Fatal
	}
	return flowgate.Warning
}

// capFlow keeps at most budget of findings, each counting for one however
// many it summarises, and counts the rest in one flowgate.CodeTruncated
// finding. It returns the list and what is left of the budget.
func capFlow(fs []flowgate.Finding, budget int) ([]flowgate.Finding, int) {
	if len(fs) <= budget {
		return fs, budget - len(fs)
	}
	var o omission
	for _, f := range fs[budget:] {
		o.add(f)
	}
	out := append(fs[:budget:budget], truncated(o,
		fmt.Sprintf("le compte rendu d'un flux détaille au plus %s constats", frInt(MaxPerFlow)),
		fmt.Sprintf("a flow report lists at most %s findings", enInt(MaxPerFlow))))
	return out, 0
}

// clipValue cuts an invoice value quoted in a finding or a report line to
// MaxValue characters, ending with "…" when cut. Invalid UTF-8 is kept as
// it came: the writers of reports replace it.
func clipValue(s string) string {
	if len(s) <= MaxValue {
		return s
	}
	k := 0
	for i := range s {
		if k == MaxValue-1 {
			return s[:i] + "…"
		}
		k++
	}
	return s
}

// frInt writes n with French digit grouping: 99 800 (no-break spaces).
func frInt(n int) string { return group(n, "\u00a0") }

// enInt writes n with English digit grouping: 99,800.
func enInt(n int) string { return group(n, ",") }

func group(n int, sep string) string {
	s := strconv.Itoa(n)
	if n < 0 || len(s) <= 3 {
		return s
	}
	out := make([]byte, 0, len(s)+len(s)/3*len(sep))
	for i := 0; i < len(s); i++ {
		if i > 0 && (len(s)-i)%3 == 0 {
			out = append(out, sep...)
		}
		out = append(out, s[i])
	}
	return string(out)
}
