package router

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"flowgate"
	"flowgate/flows"
)

// withService is invoice addressed to a service of its recipient (BT-10).
func withService(doc []byte, code string) []byte {
	return bytes.Replace(doc, []byte("<cbc:DocumentCurrencyCode>"),
		[]byte("<cbc:BuyerReference>"+code+"</cbc:BuyerReference>\n  <cbc:DocumentCurrencyCode>"), 1)
}

// TestReportNamesCarryFileName: the sender's status files are named
// after the flow and the deposited file, made safe and bounded; the
// recipient's are not (the supplier's file name is not theirs to see).
func TestReportNamesCarryFileName(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	long := strings.Repeat("x", 300) + ".xml"
	a := f.claim("Facture n°1 (copie).xml", invoice("N-1", collected))
	b := f.claim(long, invoice("N-2", collected))
	c := f.claim(`..\..\evil/../.hidden.xml`, invoice("N-3", collected))
	if failed, notDone := f.r.Process(ctx, []flows.Claimed{a, b, c}); len(failed)+notDone != 0 {
		t.Fatalf("not processed; log:\n%s", f.logs)
	}
	out := f.files("partners/FOURN01/out")
	for _, want := range []string{
		"CR_" + a.FlowID + "_Facture_n_1__copie_.xml.xml", "CR_" + a.FlowID + "_Facture_n_1__copie_.xml.json",
		"FACT_" + a.FlowID + "_Facture_n_1__copie_.xml.xml",
		"CR_" + c.FlowID + "_hidden.xml.json",
	} {
		if !contains(out, want) {
			t.Errorf("missing %s in %v", want, out)
		}
	}
	for _, name := range out {
		if len(name) > 140 || strings.HasPrefix(name, ".") {
			t.Errorf("name %q: too long or hidden", name)
		}
		if strings.Contains(name, b.FlowID) && !strings.HasPrefix(name, "CR_"+b.FlowID+"_xxx") && !strings.HasPrefix(name, "FACT_"+b.FlowID+"_xxx") {
			t.Errorf("long name %q", name)
		}
	}
	recu := f.files("partners/VALMONT/out")
	if !contains(recu, "FACT_"+a.FlowID+"_RECU.xml") {
		t.Errorf("recipient's files %v", recu)
	}
	validateXML(t, f.root)
}

// TestJSONOnlyPartnersGetInvoiceStatuses: a partner taking JSON alone
// gets every status file it would get in CPPStatut, the supplier's
// FACT_<flow>_<name> and the recipient's FACT_<flow>_RECU, with the
// service code and name and the amounts; in CPPStatut the service name
// (NomService), schema-valid.
func TestJSONOnlyPartnersGetInvoiceStatuses(t *testing.T) {
	for _, format := range []string{"json", "cppstatut"} {
		t.Run(format, func(t *testing.T) {
			f := newFixture(t)
			f.tune = func(cfg *Config) {
				for i := range cfg.Partners {
					cfg.Partners[i].CPPStatut, cfg.Partners[i].JSON = format == "cppstatut", format == "json"
				}
			}
			f.open()
			ctx := context.Background()
			c := f.claim("f.xml", withService(invoice("J-1", collected), "MAIRIE"))
			if failed, notDone := f.r.Process(ctx, []flows.Claimed{c}); len(failed)+notDone != 0 {
				t.Fatalf("not processed; log:\n%s", f.logs)
			}
			ext := "." + map[string]string{"json": "json", "cppstatut": "xml"}[format]
			sup := f.read("partners/FOURN01/out/" + reportName("FACT", c.FlowID, "", c.Name, ext))
			rec := f.read("partners/VALMONT/out/FACT_" + c.FlowID + "_RECU" + ext)
			if len(sup) == 0 || len(rec) == 0 {
				t.Fatalf("supplier's %d bytes, recipient's %d bytes: out/ %v %v", len(sup), len(rec),
					f.files("partners/FOURN01/out"), f.files("partners/VALMONT/out"))
			}
			if format == "cppstatut" {
				if !bytes.Contains(rec, []byte("<CodeService>MAIRIE</CodeService>")) || !bytes.Contains(rec, []byte("<NomService>Services de la mairie</NomService>")) {
					t.Errorf("recipient's CPPStatut:\n%s", rec)
				}
				validateXML(t, f.root)
				return
			}
			var doc struct {
				FlowID   string `json:"flow_id"`
				Receiver string `json:"receiver"`
				Statuses []struct {
					Code         string `json:"code"`
					ServiceCode  string `json:"service_code"`
					ServiceName  string `json:"service_name"`
					TaxExclusive string `json:"total_without_vat"`
					TaxInclusive string `json:"total_with_vat"`
					Payable      string `json:"amount_due"`
					Currency     string `json:"currency"`
				} `json:"statuses"`
			}
			if err := json.Unmarshal(rec, &doc); err != nil {
				t.Fatalf("%v: %s", err, rec)
			}
			if doc.FlowID != c.FlowID || doc.Receiver != "VALMONT" || len(doc.Statuses) != 1 {
				t.Fatalf("recipient's JSON: %s", rec)
			}
			if s := doc.Statuses[0]; s.Code != "03" || s.ServiceCode != "MAIRIE" || s.ServiceName != "Services de la mairie" ||
				s.TaxExclusive != "200.40" || s.TaxInclusive != "240.48" || s.Payable != "240.48" || s.Currency != "EUR" {
				t.Errorf("recipient's JSON: %s", rec)
			}
			if !bytes.Contains(sup, []byte(`"code":"01"`)) || !bytes.Contains(sup, []byte(`"code":"03"`)) {
				t.Errorf("supplier's JSON: %s", sup)
			}
		})
	}
}

// TestTracing: one info line per invoice (flow, entry, number, supplier and
// recipient SIRET, verdict, codes, where it went); a delivery to portal/
// is logged with the structure and counted.
func TestTracing(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	lot := zipOf(t, map[string][]byte{"a.xml": invoice("T-1", portal), "b.xml": invoice("T-2", "99000009000011")}, "a.xml", "b.xml")
	c := f.claim("lot.zip", lot)
	d := f.claim("one.xml", invoice("T-3", collected))
	if failed, notDone := f.r.Process(ctx, []flows.Claimed{c, d}); len(failed)+notDone != 0 {
		t.Fatal("not processed")
	}
	logs := f.logs.String()
	for _, want := range []string{
		"level=INFO msg=invoice flow=" + c.FlowID + " partner=FOURN01 entry=a.xml invoice=T-1 supplier=" + supplier + " recipient=" + portal +
			" verdict=accepted codes=\"\" to=portal/" + portal + "/",
		"level=INFO msg=invoice flow=" + c.FlowID + " partner=FOURN01 entry=b.xml invoice=T-2 supplier=" + supplier +
			" recipient=99000009000011 verdict=rejected codes=CPP-DEST-INCONNU to=partners/FOURN01/returns/" + c.FlowID + "-001_b.xml",
		"level=INFO msg=invoice flow=" + d.FlowID + " partner=FOURN01 entry=\"\" invoice=T-3 supplier=" + supplier + " recipient=" + collected +
			" verdict=accepted codes=\"\" to=partners/VALMONT/inbox/",
		"msg=\"invoice for the portal: no partner collects its recipient\" flow=" + c.FlowID + " invoice=T-1 recipient=" + portal +
			" structure=\"Centre hospitalier de Beaumont\"",
	} {
		if !strings.Contains(logs, want) {
			t.Errorf("log lacks %q:\n%s", want, logs)
		}
	}
	if s := f.r.Stats(); s.PortalDeliveries != 1 {
		t.Errorf("stats %+v, want 1 portal delivery", s)
	}
}

// TestReportKeptInStore: every flow's report is in the store as its JSON
// CR says it, also for a partner that takes CPPStatut alone and for a
// quarantined flow.
func TestReportKeptInStore(t *testing.T) {
	f := newFixture(t)
	f.tune = func(cfg *Config) { cfg.Partners[0].JSON = false }
	f.open()
	ctx := context.Background()
	c := f.claim("r.xml", invoice("R-1", "99000009000011"))
	if failed, notDone := f.r.Process(ctx, []flows.Claimed{c}); len(failed)+notDone != 0 {
		t.Fatal("not processed")
	}
	if names := strings.Join(f.files("partners/FOURN01/out"), " "); strings.Contains(names, ".json") {
		t.Fatalf("JSON written for a CPPStatut-only partner: %s", names)
	}
	rep, err := f.store.Report(ctx, c.FlowID)
	var cr struct {
		flowgate.FlowReport
		FlowID string `json:"flow_id"`
	}
	if err != nil || json.Unmarshal(rep, &cr) != nil || cr.FlowID != c.FlowID || cr.File != "r.xml" ||
		len(cr.Invoices) != 1 || cr.Invoices[0].Findings[0].Code != "CPP-DEST-INCONNU" {
		t.Errorf("report %v: %s", err, rep)
	}
}

// TestReprocessRequest: a flow an operator asked to run again (a request
// in the store for this partner, name and bytes) is processed afresh, not
// refused as a repeat: invoices already accepted come back CPP-DOUBLON, the
// others are checked against today's directory; the request is used once.
func TestReprocessRequest(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	doc := zipOf(t, map[string][]byte{"a.xml": invoice("P-1", collected), "b.xml": invoice("P-2", "99000009000011")}, "a.xml", "b.xml")
	first := f.claim("lot.zip", doc)
	f.r.Process(ctx, []flows.Claimed{first})
	if err := f.store.RequestReprocess(ctx, "FOURN01", "lot.zip", first.FlowID, f.sha(first), time.Now()); err != nil {
		t.Fatal(err)
	}
	again := f.claim("lot.zip", doc)
	third := f.claim("lot.zip", doc) // same round: the request is used once
	if failed, notDone := f.r.Process(ctx, []flows.Claimed{again, third}); len(failed)+notDone != 0 {
		t.Fatal("not processed")
	}
	fl, _, _ := f.store.Flow(ctx, again.FlowID)
	if fl.DuplicateOf != "" || fl.ReprocessOf != first.FlowID {
		t.Fatalf("reprocessed flow: duplicate of %q, reprocess of %q", fl.DuplicateOf, fl.ReprocessOf)
	}
	invs, _ := f.store.Invoices(ctx, again.FlowID)
	if len(invs) != 2 || invs[0].Verdict != "rejected" || invs[1].Verdict != "rejected" {
		t.Errorf("invoices %+v", invs)
	}
	cr := string(f.read("partners/FOURN01/out/" + crBase(again, "") + ".json"))
	if !strings.Contains(cr, `"CPP-DOUBLON"`) || !strings.Contains(cr, `"CPP-DEST-INCONNU"`) || !strings.Contains(cr, `"reprocess_of":"`+first.FlowID+`"`) {
		t.Errorf("CR of the reprocessed flow: %s", cr)
	}
	if fl, _, _ := f.store.Flow(ctx, third.FlowID); fl.DuplicateOf != first.FlowID {
		t.Errorf("second copy in the round: duplicate of %q, want %s", fl.DuplicateOf, first.FlowID)
	}
	// Used up: the next copy is a repeat again.
	fourth := f.claim("lot.zip", doc)
	f.r.Process(ctx, []flows.Claimed{fourth})
	if fl, _, _ := f.store.Flow(ctx, fourth.FlowID); fl.DuplicateOf != first.FlowID {
		t.Errorf("after the request was used: duplicate of %q", fl.DuplicateOf)
	}
}

// sha is the SHA-256 the store recorded for a flow.
func (f *fixture) sha(c flows.Claimed) string {
	fl, ok, err := f.store.Flow(context.Background(), c.FlowID)
	if !ok || err != nil {
		f.t.Fatalf("flow %s: %v %v", c.FlowID, ok, err)
	}
	return fl.SHA256
}

// TestDepositNamedRECU: a partner that collects the invoices it deposits
// has its supplier's and its recipient's status files in one out/; a
// deposit named RECU (any case) must not take the name of the recipient's
// FACT_<flow>_RECU files, or the flow could never be carried out.
func TestDepositNamedRECU(t *testing.T) {
	f := newFixture(t)
	f.tune = func(c *Config) {
		c.Partners[0].Receives, c.Partners[1].Receives = []string{collected}, nil
	}
	f.open()
	var cs []flows.Claimed
	for i, name := range []string{"RECU", "recu", "STATUTS"} {
		cs = append(cs, f.claim(name, invoice(fmt.Sprintf("R-%d", i), collected)))
	}
	if failed, notDone := f.r.Process(context.Background(), cs); len(failed)+notDone != 0 {
		t.Fatalf("blocked: %v %d\n%s", failed, notDone, f.logs)
	}
	out := f.files("partners/FOURN01/out")
	for _, c := range cs {
		base := reportName("FACT", c.FlowID, "", c.Name, "")
		if !strings.HasSuffix(base, "_") {
			t.Errorf("%s: named %s", c.Name, base)
		}
		for _, want := range []string{base + ".xml", "FACT_" + c.FlowID + "_RECU.xml"} {
			if !slices.Contains(out, want) {
				t.Errorf("%s: no %s in out/ %v", c.Name, want, out)
			}
		}
	}
	validateXML(t, f.root)
}
