package validator

import (
	"encoding/json"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"

	"flowgate"
	"flowgate/parser"
)

// emptyLines is goodInvoice with n empty lines added: each fails every rule
// checked per line (the repro was 100,000 empty cac:InvoiceLine, 1.8 MB).
func emptyLines(n int) *flowgate.Invoice {
	inv := goodInvoice()
	inv.Lines = append(inv.Lines, make([]flowgate.Line, n)...)
	return inv
}

// uncapped counts, by code, the findings of the EN 16931 rules on inv
// without building them.
func uncapped(inv *flowgate.Invoice) (map[string]int, int) {
	count, total := map[string]int{}, 0
	for _, r := range enRules {
		r.check(inv, func(hit) { count[r.ID]++; total++ })
	}
	return count, total
}

func TestFindingsCapped(t *testing.T) {
	inv := emptyLines(100000)
	want, total := uncapped(inv)
	if total < 4000 {
		t.Fatalf("only %d findings uncapped: the test does not reach the caps", total)
	}
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	fs := Validate(inv, Input{})
	runtime.ReadMemStats(&after)
	// Findings past the caps are counted, not built: 800,000 findings would
	// allocate over 100 MB.
	if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 16<<20 {
		t.Errorf("Validate allocated %d MB for %d findings", alloc>>20, total)
	}
	if len(fs) > MaxPerInvoice+len(want)+1 {
		t.Errorf("%d findings, want at most %d", len(fs), MaxPerInvoice+len(want)+1)
	}
	listed, got, sum := 0, map[string]int{}, 0
	perCode := map[string]int{}
	for _, f := range fs {
		sum += f.Occurrences()
		if f.Omitted == 0 {
			listed++
			perCode[f.Code]++
		}
		got[f.Code] += f.Occurrences()
		if f.Omitted > 0 && f.Code != flowgate.CodeTruncated && !strings.Contains(f.MessageFR, "autres occurrences de "+f.Code) {
			t.Errorf("summary %q", f.MessageFR)
		}
	}
	if listed > MaxPerInvoice {
		t.Errorf("%d findings listed, want at most %d", listed, MaxPerInvoice)
	}
	for code, n := range perCode {
		if n > MaxPerRule {
			t.Errorf("%s listed %d times, want at most %d", code, n, MaxPerRule)
		}
	}
	// Nothing is lost: every finding is listed or counted in a summary.
	if sum != total {
		t.Errorf("findings listed and counted: %d, want %d", sum, total)
	}
	if got[flowgate.CodeTruncated] == 0 {
		t.Errorf("no %s summary: the invoice cap was not reached", flowgate.CodeTruncated)
	}
	for code, n := range want {
		if n > MaxPerRule && got[code] < MaxPerRule {
			t.Errorf("%s: %d listed or summarised of %d", code, got[code], n)
		}
	}
	if !flowgate.AnyFatal(fs) {
		t.Error("capped findings lost the verdict")
	}
}

func TestRuleSummaryFollowsItsFindings(t *testing.T) {
	var fs findings
	for range MaxPerRule + 5 {
		fs.add(flowgate.Finding{Code: "BR-21", Severity: flowgate.Fatal, Field: "BT-126"})
	}
	fs.add(flowgate.Finding{Code: "BR-22", Severity: flowgate.Fatal})
	got := fs.list()
	if len(got) != MaxPerRule+2 {
		t.Fatalf("%d findings, want %d", len(got), MaxPerRule+2)
	}
	s := got[MaxPerRule]
	if s.Code != "BR-21" || s.Omitted != 5 || s.Field != "BT-126" || s.Severity != flowgate.Fatal ||
		s.MessageFR != "… et 5 autres occurrences de BR-21 (au plus 200 détaillées par règle)" {
		t.Errorf("summary %+v", s)
	}
	if got[MaxPerRule+1].Code != "BR-22" {
		t.Errorf("last %+v", got[MaxPerRule+1])
	}
	if frInt(99800) != "99\u00a0800" || enInt(1234567) != "1,234,567" || enInt(999) != "999" {
		t.Errorf("grouping: %q %q", frInt(99800), enInt(1234567))
	}
}

func TestFindingsQuoteBoundedValues(t *testing.T) {
	inv := goodInvoice()
	long := strings.Repeat("é", 50000)
	inv.Number, inv.IssueDate, inv.TypeCode = long, long, long
	inv.Buyer.Identifiers[0].Value = long
	fs := Validate(inv, Input{Directory: testDirectory()})
	if len(fs) < 4 {
		t.Fatalf("findings %v", fs)
	}
	for _, f := range fs {
		if n := utf8.RuneCountInString(f.Value); n > MaxValue {
			t.Errorf("%s quotes a value of %d characters", f.Code, n)
		}
		if n := utf8.RuneCountInString(f.MessageFR) + utf8.RuneCountInString(f.Message); n > 1000 {
			t.Errorf("%s: messages of %d characters", f.Code, n)
		}
	}
	line := Summarize("", inv, fs)
	if n := utf8.RuneCountInString(line.Number); n != MaxValue || !strings.HasSuffix(line.Number, "…") {
		t.Errorf("report number of %d characters", n)
	}
}

// TestFlowReportBounded: a flow of invoices that each hit the invoice cap
// details at most MaxPerFlow findings, and its JSON stays small.
func TestFlowReportBounded(t *testing.T) {
	inv := emptyLines(3000)
	_, perInvoice := uncapped(inv)
	c := NewFlowCheck("lot.zip", Input{})
	const invoices = 8
	for range invoices {
		c.Entry(parser.Entry{Name: "f.xml", Invoice: inv})
	}
	rep := c.Report()
	listed, sum := 0, 0
	for _, l := range rep.Invoices {
		if l.Verdict != flowgate.Rejected {
			t.Errorf("verdict %s", l.Verdict)
		}
		for _, f := range l.Findings {
			sum += f.Occurrences()
			if f.Code != flowgate.CodeTruncated && f.Omitted == 0 {
				listed++
			}
		}
	}
	if listed > MaxPerFlow {
		t.Errorf("%d findings listed in the flow, want at most %d", listed, MaxPerFlow)
	}
	if sum < invoices*perInvoice {
		t.Errorf("findings counted: %d, want at least %d", sum, invoices*perInvoice)
	}
	last := rep.Invoices[invoices-1].Findings
	if len(last) != 1 || last[0].Code != flowgate.CodeTruncated || last[0].Severity != flowgate.Fatal {
		t.Errorf("last invoice, past the flow cap: %+v", last)
	}
	data, _ := json.Marshal(rep)
	if len(data) > 2<<20 {
		t.Errorf("JSON report of %d bytes, want under 2 MiB", len(data))
	}
	t.Logf("%d invoices, %d findings: %d listed, JSON %d bytes", invoices, sum, listed, len(data))
}

// TestFlowReportWorstCase: 500 invoices (the parser's limit per flow), each
// with every field, value and name at its limit and made of characters JSON
// escapes, stay under the bound FlowCheck documents.
func TestFlowReportWorstCase(t *testing.T) {
	worst := strings.Repeat("<", 10*MaxValue)
	inv := emptyLines(300)
	inv.Number, inv.IssueDate, inv.TypeCode, inv.BuyerReference, inv.Order, inv.Currency = worst, worst, worst, worst, worst, worst
	inv.Totals.Payable.Raw = worst
	inv.Seller.Identifiers[0].Value, inv.Buyer.Identifiers[0].Value = worst, worst
	c := NewFlowCheck(strings.Repeat("<", 1000), Input{Directory: testDirectory()})
	for range parser.DefaultLimits.Entries {
		c.Entry(parser.Entry{Name: strings.Repeat("<", 1024), Invoice: inv})
	}
	data, err := json.Marshal(c.Report())
	if err != nil {
		t.Fatal(err)
	}
	if len(data) > 16<<20 {
		t.Errorf("JSON report of %d bytes, over the documented 16 MB", len(data))
	}
	t.Logf("worst-case JSON report: %d bytes", len(data))
}

// TestBadNumberCharsBounded: BR-FR-02 names at most maxBadChars characters,
// however many distinct ones the number holds (a scan that compared each
// with every one seen was quadratic in them).
func TestBadNumberCharsBounded(t *testing.T) {
	var b strings.Builder
	for r := rune(0x4e00); r < 0x4e00+5000; r++ {
		b.WriteRune(r)
	}
	got := strings.Split(badNumberChars("FA "+b.String()), " ")
	if len(got) != maxBadChars+1 || got[0] != "espace/space" || got[1] != "'一'" || got[maxBadChars] != "…" {
		t.Errorf("got %d characters named: %q", len(got), got[:min(len(got), 12)])
	}
	if got := badNumberChars("F A.A"); got != "espace/space '.'" {
		t.Errorf("got %q", got)
	}
}

func TestAnyEqual(t *testing.T) {
	many := func(prefix string, n int) []string {
		out := make([]string, n)
		for i := range out {
			out[i] = prefix + strconv.Itoa(i)
		}
		return out
	}
	a, b := many("a", 100000), many("b", 100000)
	for _, tt := range []struct {
		a, b []string
		want bool
	}{
		{nil, nil, false}, {[]string{"x"}, nil, false}, {[]string{"x"}, []string{"y", "x"}, true},
		{a, b, false}, {a, append(b[:len(b):len(b)], "a99999"), true}, {[]string{"b5"}, b, true},
	} {
		if got := anyEqual(tt.a, tt.b); got != tt.want {
			t.Errorf("anyEqual(%d values, %d values) = %v", len(tt.a), len(tt.b), got)
		}
	}
}
