package outbox

import (
	"encoding/xml"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"flowgate"
	"flowgate/internal/corpus"
	"flowgate/lifecycle"
)

var (
	cdarEnv = Envelope{
		FlowID:   "FG-20261129-000042",
		Produced: time.Date(2026, 11, 29, 10, 30, 0, 0, time.FixedZone("CET", 3600)),
		Sender:   Partner{ID: "FLOWGATE", Label: "flowgate"},
		Receiver: Partner{ID: "FOURN01", Label: "Fournisseur & fils"},
	}
	cdarAt = time.Date(2026, 11, 29, 10, 29, 5, 0, time.FixedZone("CET", 3600))
)

const (
	supplierSIRET  = "12345678200010"
	recipientSIRET = "11000201100044"
)

// hubStatus is a hub status of one invoice, as the lifecycle would give it.
func hubStatus(code string) InvoiceStatus {
	st := InvoiceStatus{
		Code: code, SupplierSIRET: supplierSIRET, SupplierName: "Fournisseur & fils",
		RecipientSIRET: recipientSIRET, RecipientName: "Ministère <test>",
		InvoiceNumber: "FA-2026-001", InvoiceDate: "2026-11-02", At: cdarAt,
	}
	switch code {
	case "04":
		st.Comment = "Mauvais SIRET : la facture est pour le service achats"
	case "05":
		st.Comment = "Montant erroné"
	case "06":
		st.Comment = "Bon de livraison manquant"
	case "08":
		st.MandateID = "MDT-2026-77"
	}
	return st
}

// cdarCase is one message the conformance test renders.
type cdarCase struct {
	name     string
	statuses []CDARStatus
}

// cdarCases covers every hub status, every reason every status admits,
// every row of the finding and flow error tables, and hostile text.
func cdarCases(t *testing.T) []cdarCase {
	t.Helper()
	var cases []cdarCase
	for code := range invoiceLabels {
		st, err := CDARFromInvoiceStatus(hubStatus(code), "380")
		if err != nil {
			t.Fatalf("hub status %s: %v", code, err)
		}
		cases = append(cases, cdarCase{"hub-" + code, []CDARStatus{st}})
	}
	// A recipient's own reason code, carried in the comment: admitted with
	// the status, or not (then the default reason, the comment as text).
	for i, c := range recipientReasons {
		in := hubStatus(c.hub)
		in.Comment = c.comment
		st, err := CDARFromInvoiceStatus(in, "380")
		if err != nil {
			t.Fatalf("%s %q: %v", c.hub, c.comment, err)
		}
		cases = append(cases, cdarCase{fmt.Sprintf("reason-%s-%d", c.hub, i), []CDARStatus{st}})
	}
	base := CDARStatus{
		At: cdarAt, InvoiceNumber: "FA-2026-002", InvoiceDate: "2026-02-28", TypeCode: "381",
		SupplierSIRET: supplierSIRET, RecipientSIRET: recipientSIRET,
	}
	for code, info := range cdarStatuses {
		reasons := info.allowed
		if reasons == nil {
			reasons = []string{""} // no reason
		}
		for _, r := range reasons {
			st := base
			st.Code = code
			if r != "" {
				st.Reasons = []CDARReason{{Code: r, Text: "motif " + r}}
			}
			if code == "200" && r == "" {
				continue
			}
			cases = append(cases, cdarCase{"status-" + code + "-" + r, []CDARStatus{st}})
		}
		if code != "200" && code != "501" { // and without the reason: the default
			st := base
			st.Code = code
			st.Comment = "commentaire"
			cases = append(cases, cdarCase{"status-" + code + "-default", []CDARStatus{st}})
		}
	}
	// Integration results: every finding of the table, one not in it, and
	// every flow error of the table, one not in it.
	rep := flowgate.FlowReport{File: "lot-42.zip"}
	for _, code := range append(slices.Sorted(mapKeys(rejectionReasons)), "BR-CO-25", flowgate.CodeTruncated) {
		rep.Invoices = append(rep.Invoices, flowgate.InvoiceReport{
			Entry: "f-" + code + ".xml", Number: "FA-" + code, IssueDate: "2026-11-02", TypeCode: "380",
			SupplierSIRET: supplierSIRET, RecipientSIRET: recipientSIRET, Verdict: flowgate.Rejected,
			Findings: []flowgate.Finding{
				{Code: "BR-CO-26", Severity: flowgate.Warning, MessageFR: "avertissement"},
				{Code: code, Severity: flowgate.Fatal, MessageFR: "constat " + code},
				{Code: "BR-CO-10", Severity: flowgate.Fatal, MessageFR: "somme des lignes"},
			},
		})
	}
	for _, code := range append(slices.Sorted(mapKeys(unreadableReasons)), "FLX-INCIDENT", "FLX-ARCHIVE") {
		rep.Errors = append(rep.Errors, flowgate.FlowError{Code: code, Entry: "e-" + code + ".xml", MessageFR: "erreur " + code})
	}
	rep.Invoices = append(rep.Invoices,
		flowgate.InvoiceReport{Number: "FA-OK", IssueDate: "2026-11-02", TypeCode: "380",
			SupplierSIRET: supplierSIRET, RecipientSIRET: recipientSIRET, Verdict: flowgate.Accepted},
		flowgate.InvoiceReport{Entry: "sans-date.xml", Number: "FA-SANS-DATE", IssueDate: "02/11/2026",
			SupplierSIRET: supplierSIRET, Verdict: flowgate.Rejected,
			Findings: []flowgate.Finding{{Code: "CPP-DATE", Severity: flowgate.Fatal, MessageFR: "date invalide"}}},
		flowgate.InvoiceReport{Entry: "sans-siret.xml", Number: "FA-SANS-SIRET", IssueDate: "2026-11-02", TypeCode: "999",
			SupplierSIRET: "ABC", Verdict: flowgate.Rejected,
			Findings: []flowgate.Finding{{Code: "BR-FR-01", Severity: flowgate.Fatal, MessageFR: "SIRET invalide"}}},
	)
	integration := IntegrationCDAR(rep, cdarAt)
	cases = append(cases, cdarCase{"integration", integration})
	for i, st := range integration {
		cases = append(cases, cdarCase{fmt.Sprintf("integration-%02d-%s", i, st.Code), []CDARStatus{st}})
	}
	// Several statuses of one recipient in one message.
	var several []CDARStatus
	for _, code := range []string{"07", "08", "09", "10", "11"} {
		st, _ := CDARFromInvoiceStatus(hubStatus(code), "")
		several = append(several, st)
	}
	cases = append(cases, cdarCase{"recipient-several", several})
	// Hostile text: markup, controls, invalid UTF-8, long values.
	hostile := base
	hostile.Code = "210"
	hostile.InvoiceNumber = "FA]]><x/>&\x00\x1b\xff" + strings.Repeat("é", 300)
	hostile.SupplierName = "<rsm:ExchangedDocument>\x07"
	hostile.Comment = strings.Repeat("]]>&<\u2028", 200)
	hostile.MandateID = "\xfe" + strings.Repeat("M", 500)
	cases = append(cases, cdarCase{"hostile", []CDARStatus{hostile}})
	return cases
}

func mapKeys[V any](m map[string]V) func(func(string) bool) {
	return func(yield func(string) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}
}

// mutants are rendered messages broken on purpose, and the failure each
// must raise: they show that the checks below can fail.
type cdarMutant struct {
	name, status, old, new string
	xsd                    bool   // xmllint must refuse it
	rule                   string // the rules must raise this fatal assert; "" none
}

var mutants = []cdarMutant{
	{name: "mutant-213-reason", status: "213", old: "<ram:ReasonCode>REJ_SEMAN<", new: "<ram:ReasonCode>JUSTIF_ABS<",
		rule: "BR-FR-CDV-CL-09_MDT-113_213"},
	{name: "mutant-208-no-reason", status: "208", old: "<ram:ReasonCode>JUSTIF_ABS</ram:ReasonCode>", new: "",
		rule: "BR-FR-CDV-15_MDT-113"},
	{name: "mutant-221-issuer", status: "221", old: "<ram:RoleCode>BY</ram:RoleCode>\n    </ram:IssuerTradeParty>",
		new: "<ram:RoleCode>WK</ram:RoleCode>\n    </ram:IssuerTradeParty>", rule: "BR-FR-CDV-CL-03_MDT-40_23"},
	{name: "control-no-name", status: "213", old: "<ram:Name>Statuts de facture</ram:Name>", new: ""}, // optional: passes both
	{name: "mutant-xsd", status: "213", old: "<ram:TypeCode>305</ram:TypeCode>", new: "<ram:TypeCode>305</ram:TypeCode><ram:TypeCode>305</ram:TypeCode>",
		xsd: true},
}

// TestCDARConformance renders every case, checks each against the CDAR
// D22B XSD with xmllint and the FNFE-MPE CDAR rules with Saxon HE (all
// files in one JVM), and checks that broken messages fail those checks.
func TestCDARConformance(t *testing.T) {
	dir := t.TempDir()
	var files []string
	rendered := map[string][]byte{}
	for _, c := range cdarCases(t) {
		data, err := CDAR(cdarEnv, c.statuses)
		if err != nil {
			t.Errorf("%s: %v", c.name, err)
			continue
		}
		if !utf8Valid(data) {
			t.Errorf("%s: not UTF-8", c.name)
		}
		rendered[c.name] = data
		f := filepath.Join(dir, c.name+".xml")
		if err := os.WriteFile(f, data, 0o600); err != nil {
			t.Fatal(err)
		}
		files = append(files, f)
	}
	mutantDir := t.TempDir()
	for _, m := range mutants {
		src := rendered["status-"+m.status+"-default"]
		if !strings.Contains(string(src), m.old) {
			t.Fatalf("%s: %q not in the rendered %s", m.name, m.old, m.status)
		}
		mutated := strings.Replace(string(src), m.old, m.new, 1)
		if err := os.WriteFile(filepath.Join(mutantDir, m.name+".xml"), []byte(mutated), 0o600); err != nil {
			t.Fatal(err)
		}
	}

	t.Run("xmllint", func(t *testing.T) {
		corpus.ValidateXSD(t, corpus.CDARSchema, files)
		xsd, _ := corpus.Path(corpus.CDARSchema...)
		for _, m := range mutants {
			f := filepath.Join(mutantDir, m.name+".xml")
			out, err := exec.Command("xmllint", "--noout", "--schema", xsd, f).CombinedOutput()
			if m.xsd && err == nil {
				t.Errorf("%s: xmllint accepts it", m.name)
			}
			if !m.xsd && err != nil {
				t.Errorf("%s: xmllint refuses it: %v\n%s", m.name, err, out)
			}
		}
	})

	t.Run("rules", func(t *testing.T) {
		xslt := corpus.Need(t, corpus.CDARRules...)
		results := corpus.Schematron(t, xslt, dir)
		for name, r := range results {
			if r.Fired < 10 {
				t.Errorf("%s: only %d rules fired: the rules did not read the message", name, r.Fired)
			}
			for _, a := range r.Fatal() {
				t.Errorf("%s: fatal %s at %s: %s", name, a.ID, a.Location, a.Text)
			}
		}
		if len(results) != len(files) {
			t.Errorf("%d results for %d files", len(results), len(files))
		}
		// The mutants, in one more run.
		for name, r := range corpus.Schematron(t, xslt, mutantDir) {
			i := slices.IndexFunc(mutants, func(m cdarMutant) bool { return m.name+".xml" == name })
			want := mutants[i].rule
			if want == "" {
				if len(r.Fatal()) > 0 {
					t.Errorf("%s: fatal %v", name, r.Fatal())
				}
				continue
			}
			if !slices.ContainsFunc(r.Fatal(), func(a corpus.Assert) bool { return a.ID == want }) {
				t.Errorf("%s: the rules did not raise %s (got %v)", name, want, r.Failed)
			}
		}
	})
}

func utf8Valid(b []byte) bool { return strings.ToValidUTF8(string(b), "") == string(b) }

// cdarRead is what tests read back of a CDAR, declared apart from the
// renderer's types and matched by namespace URI.
type cdarRead struct {
	XMLName   xml.Name `xml:"urn:un:unece:uncefact:data:standard:CrossDomainAcknowledgementAndResponse:100 CrossDomainAcknowledgementAndResponse"`
	Exchanged struct {
		ID     string `xml:"urn:un:unece:uncefact:data:standard:ReusableAggregateBusinessInformationEntity:100 ID"`
		Issuer struct {
			GlobalID []string `xml:"urn:un:unece:uncefact:data:standard:ReusableAggregateBusinessInformationEntity:100 GlobalID"`
			Role     string   `xml:"urn:un:unece:uncefact:data:standard:ReusableAggregateBusinessInformationEntity:100 RoleCode"`
		} `xml:"urn:un:unece:uncefact:data:standard:ReusableAggregateBusinessInformationEntity:100 IssuerTradeParty"`
	} `xml:"urn:un:unece:uncefact:data:standard:CrossDomainAcknowledgementAndResponse:100 ExchangedDocument"`
	Acks []struct {
		TypeCode string `xml:"urn:un:unece:uncefact:data:standard:ReusableAggregateBusinessInformationEntity:100 TypeCode"`
		Ref      struct {
			Number   string `xml:"urn:un:unece:uncefact:data:standard:ReusableAggregateBusinessInformationEntity:100 IssuerAssignedID"`
			TypeCode string `xml:"urn:un:unece:uncefact:data:standard:ReusableAggregateBusinessInformationEntity:100 TypeCode"`
			Date     string `xml:"FormattedIssueDateTime>DateTimeString"` // qdt
			Code     string `xml:"urn:un:unece:uncefact:data:standard:ReusableAggregateBusinessInformationEntity:100 ProcessConditionCode"`
			Status   []struct {
				ReasonCode string   `xml:"urn:un:unece:uncefact:data:standard:ReusableAggregateBusinessInformationEntity:100 ReasonCode"`
				Reason     string   `xml:"urn:un:unece:uncefact:data:standard:ReusableAggregateBusinessInformationEntity:100 Reason"`
				Seq        int      `xml:"urn:un:unece:uncefact:data:standard:ReusableAggregateBusinessInformationEntity:100 SequenceNumeric"`
				Notes      []string `xml:"urn:un:unece:uncefact:data:standard:ReusableAggregateBusinessInformationEntity:100 IncludedNote>Content"`
			} `xml:"urn:un:unece:uncefact:data:standard:ReusableAggregateBusinessInformationEntity:100 SpecifiedDocumentStatus"`
		} `xml:"urn:un:unece:uncefact:data:standard:ReusableAggregateBusinessInformationEntity:100 ReferenceReferencedDocument"`
	} `xml:"urn:un:unece:uncefact:data:standard:CrossDomainAcknowledgementAndResponse:100 AcknowledgementDocument"`
}

func readCDAR(t *testing.T, data []byte) cdarRead {
	t.Helper()
	var r cdarRead
	if err := xml.Unmarshal(data, &r); err != nil {
		t.Fatalf("read back: %v\n%s", err, data)
	}
	return r
}

// TestCDARMapping reads back what the hub statuses become: the code, the
// phase and issuer, the reason with the comment, the notes.
func TestCDARMapping(t *testing.T) {
	want := map[string]struct{ code, phase, role, reason string }{
		"01": {"200", "305", "WK", ""}, "02": {"201", "305", "WK", ""}, "03": {"203", "305", "WK", ""},
		"04": {"221", "23", "BY", "ROUTAGE_ERR"}, "05": {"210", "23", "BY", "NON_CONFORME"},
		"06": {"208", "23", "BY", "JUSTIF_ABS"}, "07": {"204", "23", "BY", ""}, "08": {"205", "23", "BY", ""},
		"09": {"205", "23", "BY", ""}, "10": {"205", "23", "BY", ""}, "11": {"211", "23", "BY", ""},
		"12": {"209", "23", "SE", ""},
	}
	if len(want) != len(invoiceLabels) {
		t.Fatalf("the test covers %d hub statuses of %d", len(want), len(invoiceLabels))
	}
	for hub, w := range want {
		in := hubStatus(hub)
		st, err := CDARFromInvoiceStatus(in, "380")
		if err != nil {
			t.Fatal(err)
		}
		data, err := CDAR(cdarEnv, []CDARStatus{st})
		if err != nil {
			t.Fatalf("%s: %v", hub, err)
		}
		r := readCDAR(t, data)
		ack := r.Acks[0]
		if ack.Ref.Code != w.code || ack.TypeCode != w.phase || r.Exchanged.Issuer.Role != w.role {
			t.Errorf("%s: CDAR %s phase %s issuer %s, want %s %s %s", hub, ack.Ref.Code, ack.TypeCode, r.Exchanged.Issuer.Role, w.code, w.phase, w.role)
		}
		switch w.role {
		case "BY":
			if !slices.Equal(r.Exchanged.Issuer.GlobalID, []string{recipientSIRET[:9]}) {
				t.Errorf("%s: issuer %v, want the recipient's SIREN", hub, r.Exchanged.Issuer.GlobalID)
			}
		case "SE":
			if !slices.Equal(r.Exchanged.Issuer.GlobalID, []string{supplierSIRET[:9]}) {
				t.Errorf("%s: issuer %v, want the supplier's SIREN", hub, r.Exchanged.Issuer.GlobalID)
			}
		}
		if ack.Ref.Number != in.InvoiceNumber || ack.Ref.Date != "20261102" || ack.Ref.TypeCode != "380" {
			t.Errorf("%s: invoice %q %q %q", hub, ack.Ref.Number, ack.Ref.Date, ack.Ref.TypeCode)
		}
		if len(ack.Ref.Status) == 0 {
			t.Fatalf("%s: no SpecifiedDocumentStatus", hub)
		}
		first := ack.Ref.Status[0]
		if first.ReasonCode != w.reason || first.Seq != 1 {
			t.Errorf("%s: reason %q seq %d, want %q 1", hub, first.ReasonCode, first.Seq, w.reason)
		}
		if in.Comment != "" && first.Reason != in.Comment {
			t.Errorf("%s: reason text %q, want the comment %q", hub, first.Reason, in.Comment)
		}
		note := "Statut Chorus Pro " + hub + " " + invoiceLabels[hub]
		if !slices.Contains(first.Notes, note) {
			t.Errorf("%s: notes %q lack %q", hub, first.Notes, note)
		}
		if in.MandateID != "" && !slices.Contains(first.Notes, "Numéro de mandat (IdMandatDP) : "+in.MandateID) {
			t.Errorf("%s: notes %q lack the mandate", hub, first.Notes)
		}
		if back, ok := HubStatusOfCDAR(w.code); ok && hubToCDAR[back] != w.code {
			t.Errorf("HubStatusOfCDAR(%s) = %s, which maps to %s", w.code, back, hubToCDAR[back])
		}
	}
}

// recipientReasons are comments of a recipient's statuses and the reason
// each gives the CDAR: a code of the list that the rules admit with the
// CDAR status, or else the status's default with the whole comment.
var recipientReasons = []struct{ hub, comment, code, text string }{
	{"05", "TX_TVA_ERR : Taux de TVA à 20 % au lieu de 10 %", "TX_TVA_ERR", "Taux de TVA à 20 % au lieu de 10 %"},
	{"05", "TX_TVA_ERR", "TX_TVA_ERR", "Taux de TVA erroné"},
	{"05", "JUSTIF_ABS : pièce manquante", "NON_CONFORME", "JUSTIF_ABS : pièce manquante"}, // not admitted with 210
	{"05", "INCONNU : texte", "NON_CONFORME", "INCONNU : texte"},
	{"06", "CMD_ERR : bon de commande absent", "CMD_ERR", "bon de commande absent"},
	{"06", "TX_TVA_ERR : taux", "JUSTIF_ABS", "TX_TVA_ERR : taux"}, // not admitted with 208
	{"04", "ROUTAGE_ERR : mauvais service", "ROUTAGE_ERR", "mauvais service"},
	{"07", "JUSTIF_ABS : x", "", ""}, // 204 takes no reason: the comment stays a comment
}

// TestCDARRecipientReason: a recipient's reason code in the comment
// becomes the CDAR's ReasonCode in place of the default one, when the
// rules admit it with the status (the rules run on each in
// TestCDARConformance).
func TestCDARRecipientReason(t *testing.T) {
	for _, c := range recipientReasons {
		in := hubStatus(c.hub)
		in.Comment = c.comment
		st, err := CDARFromInvoiceStatus(in, "380")
		if err != nil {
			t.Fatal(err)
		}
		data, err := CDAR(cdarEnv, []CDARStatus{st})
		if err != nil {
			t.Fatalf("%s %q: %v", c.hub, c.comment, err)
		}
		first := readCDAR(t, data).Acks[0].Ref.Status[0]
		if first.ReasonCode != c.code || c.code != "" && first.Reason != c.text {
			t.Errorf("%s %q: reason %q %q, want %q %q", c.hub, c.comment, first.ReasonCode, first.Reason, c.code, c.text)
		}
		if c.code == "" && !strings.Contains(string(data), c.comment) {
			t.Errorf("%s %q: the comment is lost\n%s", c.hub, c.comment, data)
		}
	}
}

// TestIntegrationCDAR: accepted invoices are 200 then 203, a rejected one
// 213 with one reason per distinct reason of its fatal findings, a flow
// error 501, and a rejected invoice without a date 501.
func TestIntegrationCDAR(t *testing.T) {
	rep := flowgate.FlowReport{
		File:   "lot.zip",
		Errors: []flowgate.FlowError{{Code: "FLX-TAILLE", Entry: "gros.xml", MessageFR: "trop gros"}},
		Invoices: []flowgate.InvoiceReport{
			// An xs:date with a time zone, as UBL allows: CDAR has the day.
			{Number: "A1", IssueDate: "2026-01-05+01:00", SupplierSIRET: supplierSIRET, RecipientSIRET: recipientSIRET, Verdict: flowgate.Accepted},
			{Number: "R1", IssueDate: "2026-01-05", SupplierSIRET: supplierSIRET, Verdict: flowgate.Rejected, Findings: []flowgate.Finding{
				{Code: "BR-CO-15", Severity: flowgate.Fatal, MessageFR: "BT-112 faux"},
				{Code: "BR-CO-26", Severity: flowgate.Warning},
				{Code: "BR-CO-16", Severity: flowgate.Fatal, MessageFR: "BT-115 faux"},
				{Code: "CPP-DOUBLON", Severity: flowgate.Fatal, MessageFR: "même numéro"},
				{Code: "BR-CO-10", Severity: flowgate.Fatal, MessageFR: "somme"},
			}},
			{Number: "R2", IssueDate: "", Entry: "r2.xml", Verdict: flowgate.Rejected},
		},
	}
	got := IntegrationCDAR(rep, cdarAt)
	var summary []string
	for _, st := range got {
		s := st.Code + " " + st.InvoiceNumber
		for _, r := range st.Reasons {
			s += " " + r.Code
		}
		summary = append(summary, s)
	}
	want := []string{
		"501 gros.xml IRR_TAILLE_F",
		"200 A1", "203 A1",
		"213 R1 MONTANTTOTAL_ERR DOUBLON CALCUL_ERR",
		"501 R2 IRR_SYNTAX",
	}
	if !slices.Equal(summary, want) {
		t.Errorf("got\n%s\nwant\n%s", strings.Join(summary, "\n"), strings.Join(want, "\n"))
	}
	if got[1].InvoiceDate != "2026-01-05" || got[2].InvoiceDate != "2026-01-05" {
		t.Errorf("dates %q %q, want the day", got[1].InvoiceDate, got[2].InvoiceDate)
	}
	if got[3].Reasons[0].Text != "BR-CO-15 : BT-112 faux" {
		t.Errorf("reason text %q", got[3].Reasons[0].Text)
	}
	if _, err := CDAR(cdarEnv, got); err != nil {
		t.Errorf("one message for the whole flow: %v", err)
	}
}

// TestCDARTables: every default and mapped reason is one the rules admit
// with its status, every hub status has a CDAR status, and the inverse
// table agrees.
func TestCDARTables(t *testing.T) {
	for code, info := range cdarStatuses {
		if info.needs && !reasonAllowed(code, info.reason) {
			t.Errorf("%s: default reason %s not admitted", code, info.reason)
		}
		for _, r := range info.allowed {
			if !slices.Contains(cdarReasons, r) {
				t.Errorf("%s: %s is not in the closed list", code, r)
			}
		}
	}
	for f, r := range rejectionReasons {
		if !reasonAllowed("213", r) {
			t.Errorf("%s → %s: not admitted with 213", f, r)
		}
	}
	for e, r := range unreadableReasons {
		if !reasonAllowed("501", r) {
			t.Errorf("%s → %s: not admitted with 501", e, r)
		}
	}
	for hub := range invoiceLabels {
		c, ok := CDARCode(hub)
		if _, known := cdarStatuses[c]; !ok || !known {
			t.Errorf("hub status %s → %q", hub, c)
		}
	}
	for c, hub := range cdarToHub {
		if hubToCDAR[hub] != c || cdarStatuses[c].role != roleBuyer {
			t.Errorf("cdarToHub %s → %s, which maps to %s", c, hub, hubToCDAR[hub])
		}
	}
	for _, r := range cdarReasons {
		if lifecycle.ReasonLabel(r) == "" {
			t.Errorf("reason %s has no label in lifecycle", r)
		}
	}
	if RejectionReason("BR-01") != "REJ_SEMAN" || UnreadableReason("FLX-INCIDENT") != "IRR_SYNTAX" {
		t.Error("fallback reasons")
	}
}

// TestCDARRefuses: what the rules or the schema cannot hold is refused,
// every problem named at once, nothing rendered.
func TestCDARRefuses(t *testing.T) {
	ok := CDARStatus{Code: "204", At: cdarAt, InvoiceNumber: "F1", InvoiceDate: "2026-01-01",
		SupplierSIRET: supplierSIRET, RecipientSIRET: recipientSIRET}
	otherBuyer := ok
	otherBuyer.RecipientSIRET = "21750001600019"
	hub := ok
	hub.Code = "203"
	cases := []struct {
		name string
		env  Envelope
		sts  []CDARStatus
		want []string
	}{
		{"none", cdarEnv, nil, []string{"no status"}},
		{"envelope", Envelope{}, []CDARStatus{ok}, []string{"missing flow id", "production time", "sender", "receiver"}},
		{"unknown code", cdarEnv, []CDARStatus{{Code: "212", At: cdarAt, InvoiceNumber: "F1", InvoiceDate: "2026-01-01", SupplierSIRET: supplierSIRET}},
			[]string{`"212" is not one flowgate writes`}},
		{"bad hub status", cdarEnv, []CDARStatus{func() CDARStatus { s := ok; s.HubStatus = "13"; return s }()}, []string{`hub status "13"`}},
		{"reason not admitted", cdarEnv, []CDARStatus{func() CDARStatus {
			s := ok
			s.Code = "221"
			s.Reasons = []CDARReason{{Code: "DOUBLON"}}
			return s
		}()}, []string{`reason "DOUBLON" is not one the rules admit with 221`}},
		{"fields", cdarEnv, []CDARStatus{{Code: "210", InvoiceDate: "01/01/2026", SupplierSIRET: "1", RecipientSIRET: "x"}},
			[]string{"status time", "missing invoice number", `invoice date "01/01/2026"`, `supplier SIRET "1"`, `recipient SIRET "x"`}},
		{"two recipients", cdarEnv, []CDARStatus{ok, otherBuyer}, []string{"render them apart"}},
		{"hub and recipient", cdarEnv, []CDARStatus{hub, ok}, []string{"set by BY 110002011, the message's first status by hub"}},
	}
	for _, c := range cases {
		data, err := CDAR(c.env, c.sts)
		if err == nil || data != nil {
			t.Errorf("%s: rendered, want an error", c.name)
			continue
		}
		for _, w := range c.want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("%s: error %q lacks %q", c.name, err, w)
			}
		}
	}
	if _, err := CDARFromInvoiceStatus(InvoiceStatus{Code: "13"}, ""); err == nil {
		t.Error("hub status 13 mapped")
	}
}

// TestSplitCDAR: one group per party, in order, each renderable.
func TestSplitCDAR(t *testing.T) {
	mk := func(code, recipient, number string) CDARStatus {
		return CDARStatus{Code: code, At: cdarAt, InvoiceNumber: number, InvoiceDate: "2026-01-01",
			SupplierSIRET: supplierSIRET, RecipientSIRET: recipient}
	}
	other := "21750001600019"
	in := []CDARStatus{
		mk("204", recipientSIRET, "1"), mk("203", other, "2"), mk("205", other, "3"),
		mk("211", recipientSIRET, "4"), mk("209", other, "5"), mk("213", other, "6"),
	}
	var got []string
	for _, g := range SplitCDAR(in) {
		var ns []string
		for _, st := range g {
			ns = append(ns, st.InvoiceNumber)
		}
		got = append(got, strings.Join(ns, ","))
		if _, err := CDAR(cdarEnv, g); err != nil {
			t.Errorf("group %v: %v", ns, err)
		}
	}
	if want := []string{"1,4", "2,6", "3", "5"}; !slices.Equal(got, want) {
		t.Errorf("groups %v, want %v", got, want)
	}
}

// TestCDARGolden freezes two messages a reader can look at: a flow's
// integration result (accepted, rejected, unreadable) and a recipient's
// suspension. Both are also in TestCDARConformance's checks.
func TestCDARGolden(t *testing.T) {
	integration, err := CDAR(cdarEnv, IntegrationCDAR(flowgate.FlowReport{
		File:   "lot.zip",
		Errors: []flowgate.FlowError{{Code: "FLX-XML", Entry: "lot/f3.xml", MessageFR: "ligne 3 : balise <b> non fermée"}},
		Invoices: []flowgate.InvoiceReport{
			{Entry: "lot/f1.xml", Number: "FA-1", IssueDate: "2026-11-20", TypeCode: "380",
				SupplierSIRET: supplierSIRET, RecipientSIRET: recipientSIRET, Verdict: flowgate.Accepted},
			{Entry: "lot/f2.xml", Number: "FA-2", IssueDate: "2026-11-20", TypeCode: "380",
				SupplierSIRET: supplierSIRET, RecipientSIRET: recipientSIRET, Verdict: flowgate.Rejected,
				Findings: []flowgate.Finding{
					{Code: "CPP-SERVICE-INCONNU", Severity: flowgate.Fatal, MessageFR: "Le code service « ACHATS » n'existe pas"},
					{Code: "BR-CO-15", Severity: flowgate.Fatal, MessageFR: "BT-112 ≠ BT-109 + BT-110"},
				}},
		},
	}, cdarAt))
	if err != nil {
		t.Fatal(err)
	}
	st, err := CDARFromInvoiceStatus(hubStatus("06"), "380")
	if err != nil {
		t.Fatal(err)
	}
	suspension, err := CDAR(cdarEnv, []CDARStatus{st})
	if err != nil {
		t.Fatal(err)
	}
	for name, got := range map[string][]byte{"cdar_integration.xml": integration, "cdar_suspension.xml": suspension} {
		path := filepath.Join("testdata", name)
		if *update {
			if err := os.WriteFile(path, got, 0o644); err != nil {
				t.Fatal(err)
			}
			continue
		}
		want, err := os.ReadFile(path)
		if err != nil {
			t.Fatalf("%v (run with -update to create it)", err)
		}
		if string(got) != string(want) {
			t.Errorf("%s differs from the golden file (run with -update after a deliberate change):\n%s", name, got)
		}
	}
}
