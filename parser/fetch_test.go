package parser_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"flowgate"
	"flowgate/parser"
	"flowgate/validator"
)

// TestNothingFetched: XInclude elements, an xml-stylesheet processing
// instruction and xsi:schemaLocation name a local file and an HTTP server
// on 127.0.0.1; reading and validating the invoice opens neither: the
// server sees no connection and the file's content appears nowhere in the
// invoice or the flow report.
func TestNothingFetched(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	var conns atomic.Int32
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			conns.Add(1)
			fmt.Fprint(c, "HTTP/1.0 200 OK\r\n\r\nFETCHED-OVER-HTTP")
			c.Close()
		}
	}()
	const secret = "SECRET-FROM-A-LOCAL-FILE"
	file := filepath.Join(t.TempDir(), "secret.txt")
	if err := os.WriteFile(file, []byte(secret), 0o600); err != nil {
		t.Fatal(err)
	}
	url := "http://" + ln.Addr().String()

	doc := `<?xml version="1.0" encoding="UTF-8"?>
<?xml-stylesheet type="text/xsl" href="` + url + `/style.xsl"?>
<Invoice xmlns="urn:oasis:names:specification:ubl:schema:xsd:Invoice-2"
  xmlns:cac="urn:oasis:names:specification:ubl:schema:xsd:CommonAggregateComponents-2"
  xmlns:cbc="urn:oasis:names:specification:ubl:schema:xsd:CommonBasicComponents-2"
  xmlns:xi="http://www.w3.org/2001/XInclude"
  xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"
  xsi:schemaLocation="urn:oasis:names:specification:ubl:schema:xsd:Invoice-2 ` + url + `/UBL-Invoice-2.1.xsd">
  <cbc:ID><xi:include href="file://` + file + `" parse="text"/></cbc:ID>
  <cbc:IssueDate>2026-11-29</cbc:IssueDate>
  <cbc:BuyerReference><xi:include href="` + url + `/service.txt" parse="text"><xi:fallback>` + "FALLBACK" + `</xi:fallback></xi:include></cbc:BuyerReference>
  <cbc:Note><xi:include href="` + file + `" parse="text"/></cbc:Note>
  <xi:include href="` + url + `/lines.xml"/>
  <cac:LegalMonetaryTotal><cbc:PayableAmount currencyID="EUR">1.00</cbc:PayableAmount></cac:LegalMonetaryTotal>
</Invoice>`

	inv, err := parser.ParseBytes([]byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	// Without XInclude processing, cbc:BuyerReference's string value is
	// the text written inside it, the xi:fallback's: what the official
	// rules read too.
	if inv.Number != "" || inv.BuyerReference != "FALLBACK" {
		t.Errorf("number %q, buyer reference %q: an xi:include was followed", inv.Number, inv.BuyerReference)
	}
	rep, err := validator.CheckFlow("f.xml", bytes.NewReader([]byte(doc)), int64(len(doc)), validator.Input{},
		func(e parser.Entry, _ *flowgate.InvoiceReport) error { return nil })
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Invoices) != 1 {
		t.Fatalf("report %+v", rep)
	}
	seen, err := json.Marshal(struct {
		Invoice *flowgate.Invoice
		Report  flowgate.FlowReport
	}{inv, rep})
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{secret, "FETCHED-OVER-HTTP"} {
		if strings.Contains(string(seen), s) {
			t.Errorf("%q read into the invoice or its report", s)
		}
	}
	if n := conns.Load(); n != 0 {
		t.Errorf("the server named by the invoice got %d connections", n)
	}

	// The server counts what reaches it: a fetch would have been seen.
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 64)
	n, _ := c.Read(buf)
	c.Close()
	if conns.Load() != 1 || !strings.Contains(string(buf[:n]), "FETCHED") {
		t.Errorf("control fetch: %d connections, read %q", conns.Load(), buf[:n])
	}
}
