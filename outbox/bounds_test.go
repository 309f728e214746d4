package outbox

import (
	"archive/zip"
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"testing"

	"flowgate"
	"flowgate/validator"
)

// TestFlowStatusBounded: a report far past every cap renders at most
// maxFlowLines+1 error lines, maxInvoiceLines+1 per invoice, under the
// documented 6 MB even with every character escaped, and stays valid.
func TestFlowStatusBounded(t *testing.T) {
	worst := strings.Repeat(`&"<`, 400) // escaped to 14 bytes per 3 characters
	rep := flowgate.FlowReport{File: "lot.zip", Status: flowgate.FlowPartial}
	for i := range 300 {
		rep.Errors = append(rep.Errors, flowgate.FlowError{Code: flowgate.CodeXML, Entry: worst + fmt.Sprint(i), MessageFR: worst})
	}
	rep.Invoices = append(rep.Invoices, accepted("OK-1", "ok.xml"))
	for i := range 100 {
		var fs []flowgate.Finding
		for range 30 {
			fs = append(fs, flowgate.Finding{Code: "BR-21", Severity: flowgate.Fatal, Field: "BT-126", Value: worst, MessageFR: worst})
		}
		rep.Invoices = append(rep.Invoices, rejected(fmt.Sprint("F-", i), worst, fs...))
	}
	data, err := FlowStatusXML(env, flowgate.FlowPartial, rep)
	if err != nil {
		t.Fatal(err)
	}
	if len(data) > 6<<20 {
		t.Errorf("flow status of %d bytes, over the documented 6 MB", len(data))
	}
	p := parse(t, data)
	lines := p.Flux.Data.Details.Lines
	if len(lines) != maxFlowLines+1 || p.Flux.Data.Details.Count != len(lines) {
		t.Fatalf("%d error lines (count %d), want %d", len(lines), p.Flux.Data.Details.Count, maxFlowLines+1)
	}
	// 300 errors, then 200 lines of invoices (10 and a count each, 18 whole
	// invoices and 2 of the 19th's): what is left is counted in the last line.
	left := (30 - 2) + 81*30
	if last := lines[len(lines)-1]; last.Code != flowgate.CodeTruncated ||
		!strings.HasPrefix(last.Label, fmt.Sprintf("… et %d autres erreurs", left)) {
		t.Errorf("last line %+v, want %d counted", last, left)
	}
	perInvoice := map[string]int{}
	for _, l := range lines[300 : len(lines)-1] {
		perInvoice[strings.SplitN(l.Description, " ", 3)[1]]++
		if l.Code == flowgate.CodeTruncated && !strings.HasPrefix(l.Label, "… et 20 autres erreurs de cette facture") {
			t.Errorf("invoice summary %q", l.Label)
		}
	}
	for inv, n := range perInvoice {
		if n > maxInvoiceLines+1 {
			t.Errorf("invoice %s: %d lines", inv, n)
		}
	}
	xmllint(t, data)
	t.Logf("worst-case flow status: %d bytes", len(data))
}

// TestHostileFlowReportsBounded: a flow of invoices made of empty lines
// (each line fails several rules: the repro was 100,000 of them) hits every
// cap of the findings and of the status file; both reports stay small and
// the status file valid.
func TestHostileFlowReportsBounded(t *testing.T) {
	sample, err := os.ReadFile("../samples/flows/facture-acceptee.xml")
	if err != nil {
		t.Fatal(err)
	}
	doc := strings.Replace(string(sample), "</Invoice>", strings.Repeat("<cac:InvoiceLine/>", 1500)+"</Invoice>", 1)
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	const invoices = 60
	for i := range invoices {
		w, _ := zw.Create(fmt.Sprintf("f%02d.xml", i))
		w.Write([]byte(doc))
	}
	zw.Close()
	rep, err := validator.CheckFlow("lot.zip", bytes.NewReader(buf.Bytes()), int64(buf.Len()), validator.Input{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Invoices) != invoices || rep.Status != flowgate.FlowRejected {
		t.Fatalf("%d invoices, %s", len(rep.Invoices), rep.Status)
	}
	occurrences := 0
	for _, l := range rep.Invoices {
		for _, f := range l.Findings {
			occurrences += f.Occurrences()
		}
	}
	js, _ := json.Marshal(rep)
	x, err := FlowStatusXML(env, rep.Status, rep)
	if err != nil {
		t.Fatal(err)
	}
	if occurrences < invoices*1500*4 {
		t.Errorf("%d findings counted: the flow does not reach the caps", occurrences)
	}
	if !bytes.Contains(js, []byte(flowgate.CodeTruncated)) || !bytes.Contains(x, []byte(flowgate.CodeTruncated)) {
		t.Error("no summary: the caps were not reached")
	}
	if len(js) > 2<<20 || len(x) > 256<<10 {
		t.Errorf("JSON report of %d bytes (want under 2 MiB), status file of %d bytes (want under 256 KiB)", len(js), len(x))
	}
	xmllint(t, x)
	t.Logf("%d KB of XML in, %d findings: JSON %d bytes, CR XML %d bytes", buf.Len()>>10, occurrences, len(js), len(x))
}
