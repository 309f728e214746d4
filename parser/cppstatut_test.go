package parser

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"flowgate"
	"flowgate/internal/corpus"
)

func statusDoc(units ...string) string {
	return `<?xml version="1.0" encoding="UTF-8"?>
<CPPStatut>
  <Enveloppe><EnveloppeUnitaire NumOrdre="1">
    <Parametres>
      <ParametreIndiv NumOrdre="0001"><Code>DtPrd</Code><Valeurparametre>2026-11-27</Valeurparametre></ParametreIndiv>
      <ParametreIndiv NumOrdre="0002"><Code>IdFlx</Code><Valeurparametre>S1</Valeurparametre></ParametreIndiv>
    </Parametres>
    <Partenaires><Recepteur><Id>FLOWGATE</Id></Recepteur><Emetteur><Id>VALMONT</Id></Emetteur></Partenaires>
  </EnveloppeUnitaire></Enveloppe>
  <CPPFactureStatuts compteur="` + fmt.Sprint(len(units)) + `">` + strings.Join(units, "") + `</CPPFactureStatuts>
</CPPStatut>
`
}

func statusUnit(n int, number, code, comment, extra string) string {
	c := ""
	if comment != "" {
		c = "<Commentaire>" + comment + "</Commentaire>"
	}
	return fmt.Sprintf(`
    <CPPFactureStatutUnitaire NumOrdre="%d">
      <Fournisseur><TypeIdentifiant>1</TypeIdentifiant><Identifiant> 81000001000019 </Identifiant><RaisonSociale>Durand</RaisonSociale></Fournisseur>
      <Debiteur><TypeIdentifiant>1</TypeIdentifiant><Identifiant>21000001000012</Identifiant></Debiteur>
      <DonneesStatut><IdStatut>%s</IdStatut>%s<Horodatage>2026-11-27T10:00:00.000+01:00</Horodatage><IdFacture>%s</IdFacture><DateFacture>2026-11-02</DateFacture>%s</DonneesStatut>
    </CPPFactureStatutUnitaire>`, n, code, c, number, extra)
}

func TestParseStatusFlow(t *testing.T) {
	doc := statusDoc(statusUnit(1, "FA-1", "06", "pièces manquantes &amp; bon de commande", ""),
		statusUnit(2, "FA-2", "08", "", "<IdMandatDP>M-42</IdMandatDP>"))
	path := filepath.Join(t.TempDir(), "s.xml")
	if err := os.WriteFile(path, []byte(doc), 0o600); err != nil {
		t.Fatal(err)
	}
	corpus.ValidateCPPStatut(t, []string{path}) // the test's own input is a real status file
	if !IsStatusFlow([]byte(doc)) {
		t.Fatal("not told a status flow")
	}
	sf, err := ParseStatusFlow([]byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	want := []StatusUpdate{
		{Order: 1, SupplierSIRET: "81000001000019", RecipientSIRET: "21000001000012", Number: "FA-1", Date: "2026-11-02", Status: "06",
			Comment: "pièces manquantes & bon de commande"},
		{Order: 2, SupplierSIRET: "81000001000019", RecipientSIRET: "21000001000012", Number: "FA-2", Date: "2026-11-02", Status: "08", Mandate: "M-42"},
	}
	if sf.Sender != "VALMONT" || len(sf.Updates) != 2 || sf.Updates[0] != want[0] || sf.Updates[1] != want[1] {
		t.Fatalf("got %+v", sf)
	}
}

func TestStatusFlowRefused(t *testing.T) {
	inv := []byte(`<?xml version="1.0"?><Invoice xmlns="` + NSInvoice + `"><CPPStatut/></Invoice>`)
	if IsStatusFlow(inv) {
		t.Error("an invoice told a status flow")
	}
	if IsStatusFlow([]byte(`<CPPStatut xmlns="urn:x"/>`)) || IsStatusFlow([]byte("PK\x03\x04")) || IsStatusFlow([]byte("<CPPStatut")) {
		t.Error("a document that is not a status flow told one")
	}
	cases := []struct {
		name, doc, code string
	}{
		{"flow level", `<CPPStatut><Enveloppe/><CPPFluxStatuts/></CPPStatut>`, flowgate.CodeType},
		{"DTD", `<!DOCTYPE CPPStatut [<!ENTITY a "b">]><CPPStatut/>`, flowgate.CodeDTD},
		{"malformed", `<CPPStatut><CPPFactureStatuts></CPPStatut>`, flowgate.CodeXML},
		{"other root", `<Invoice/>`, flowgate.CodeType},
		{"twice", statusDoc(statusUnit(1, "FA-1", "07", "", "<IdMandatDP>a</IdMandatDP><IdMandatDP>b</IdMandatDP>")), flowgate.CodeSchema},
		{"too many", statusDoc(strings.Repeat("<CPPFactureStatutUnitaire><Fournisseur><Identifiant>1</Identifiant></Fournisseur><DonneesStatut><IdFacture>F</IdFacture></DonneesStatut></CPPFactureStatutUnitaire>", MaxStatusUpdates+1)), flowgate.CodeSize},
	}
	for _, c := range cases {
		_, err := ParseStatusFlow([]byte(c.doc))
		fe, ok := err.(*flowgate.FlowError)
		if !ok || fe.Code != c.code {
			t.Errorf("%s: %v, want %s", c.name, err, c.code)
		}
	}
}

func TestParseCDARStatusFlow(t *testing.T) {
	doc, err := os.ReadFile("../outbox/testdata/cdar_suspension.xml")
	if err != nil {
		t.Skip("no CDAR sample: ", err)
	}
	if !IsStatusFlow(doc) {
		t.Fatal("a CDAR message is not told a status flow")
	}
	sf, err := ParseStatusFlow(doc)
	if err != nil {
		t.Fatal(err)
	}
	want := StatusUpdate{Order: 1, SupplierSIRET: "12345678200010", RecipientSIRET: "11000201100044", Number: "FA-2026-001",
		Date: "2026-11-02", CDARCode: "208", ReasonCode: "JUSTIF_ABS", Comment: "JUSTIF_ABS : Bon de livraison manquant"}
	if sf.Sender != "FLOWGATE" || len(sf.Updates) != 1 || sf.Updates[0] != want {
		t.Fatalf("got %+v", sf)
	}
	// Any prefix: matched by namespace URI; another namespace is not CDAR.
	other := strings.ReplaceAll(string(doc), "rsm:", "x:")
	other = strings.Replace(other, "xmlns:rsm=", "xmlns:x=", 1)
	if sf, err := ParseStatusFlow([]byte(other)); err != nil || len(sf.Updates) != 1 {
		t.Errorf("other prefix: %v %+v", err, sf)
	}
	if IsStatusFlow([]byte(strings.ReplaceAll(string(doc), NSCDAR, "urn:x"))) {
		t.Error("a root in another namespace told a status flow")
	}
	twice := strings.Replace(string(doc), "<ram:ProcessConditionCode>208</ram:ProcessConditionCode>",
		"<ram:ProcessConditionCode>208</ram:ProcessConditionCode><ram:ProcessConditionCode>210</ram:ProcessConditionCode>", 1)
	if _, err := ParseStatusFlow([]byte(twice)); err == nil || err.(*flowgate.FlowError).Code != flowgate.CodeSchema {
		t.Errorf("status twice: %v", err)
	}
}

// TestStatusFlowNamesNoInvoice: an update without its invoice's number or
// supplier is a read error that says so, not an unknown invoice « ».
func TestStatusFlowNamesNoInvoice(t *testing.T) {
	full := statusUnit(1, "FA-1", "07", "", "")
	cases := map[string]string{
		"no IdFacture":    strings.Replace(full, "<IdFacture>FA-1</IdFacture>", "", 1),
		"empty IdFacture": strings.Replace(full, "<IdFacture>FA-1</IdFacture>", "<IdFacture>  </IdFacture>", 1),
		"no Fournisseur":  strings.Replace(full, "<Identifiant> 81000001000019 </Identifiant>", "", 1),
		"no Identifiant":  strings.Replace(full, "<Fournisseur><TypeIdentifiant>1</TypeIdentifiant><Identifiant> 81000001000019 </Identifiant><RaisonSociale>Durand</RaisonSociale></Fournisseur>", "", 1),
	}
	for name, unit := range cases {
		if unit == full {
			t.Fatalf("%s: nothing removed", name)
		}
		_, err := ParseStatusFlow([]byte(statusDoc(full, unit)))
		fe, ok := err.(*flowgate.FlowError)
		if !ok || fe.Code != flowgate.CodeSchema || !strings.Contains(fe.MessageFR, "manquant") || !strings.Contains(fe.MessageFR, "statut n° 2") {
			t.Errorf("%s: %v", name, err)
		}
	}
	if _, err := ParseStatusFlow([]byte(statusDoc(full))); err != nil {
		t.Errorf("a complete update: %v", err)
	}
}

// cdarAckDoc is a CDAR status flow of one AcknowledgementDocument whose
// ReferenceReferencedDocument holds ref.
func cdarAckDoc(ref string) string {
	return `<?xml version="1.0" encoding="UTF-8"?>
<rsm:CrossDomainAcknowledgementAndResponse xmlns:rsm="` + NSCDAR + `" xmlns:ram="` + nsRAM + `" xmlns:qdt="` + nsQDT + `">
<rsm:ExchangedDocument><ram:ID>V1</ram:ID></rsm:ExchangedDocument>
<rsm:AcknowledgementDocument><ram:TypeCode>23</ram:TypeCode><ram:ReferenceReferencedDocument>` + ref + `</ram:ReferenceReferencedDocument></rsm:AcknowledgementDocument>
</rsm:CrossDomainAcknowledgementAndResponse>`
}

const (
	cdarNumber = `<ram:IssuerAssignedID>FA-1</ram:IssuerAssignedID>`
	cdarSeller = `<ram:IssuerTradeParty><ram:GlobalID schemeID="0002">810000010</ram:GlobalID><ram:GlobalID schemeID="0009">81000001000019</ram:GlobalID></ram:IssuerTradeParty>`
	cdarCode   = `<ram:ProcessConditionCode>210</ram:ProcessConditionCode>`
)

func cdarDateT(format, value string) string {
	return `<ram:FormattedIssueDateTime><qdt:DateTimeString format="` + format + `">` + value + `</qdt:DateTimeString></ram:FormattedIssueDateTime>`
}

// TestCDARReasonAndDate: the recipient's reason code is read with its
// text (or alone) into the comment; the date must be format 102; an
// acknowledgement without the number or the seller's SIRET is refused.
func TestCDARReasonAndDate(t *testing.T) {
	date := cdarDateT("102", "20261102")
	for _, c := range []struct{ name, statuses, code, comment string }{
		{"code and text", `<ram:SpecifiedDocumentStatus><ram:ReasonCode>TX_TVA_ERR</ram:ReasonCode><ram:Reason>Taux à 20 %</ram:Reason></ram:SpecifiedDocumentStatus>`,
			"TX_TVA_ERR", "TX_TVA_ERR : Taux à 20 %"},
		{"code alone", `<ram:SpecifiedDocumentStatus><ram:ReasonCode>TX_TVA_ERR</ram:ReasonCode></ram:SpecifiedDocumentStatus>`,
			"TX_TVA_ERR", "TX_TVA_ERR : Taux de TVA erroné"},
		{"text alone", `<ram:SpecifiedDocumentStatus><ram:Reason>taux</ram:Reason></ram:SpecifiedDocumentStatus>`, "", "taux"},
		{"first status with a reason", `<ram:SpecifiedDocumentStatus><ram:SequenceNumeric>1</ram:SequenceNumeric></ram:SpecifiedDocumentStatus>` +
			`<ram:SpecifiedDocumentStatus><ram:ReasonCode>DOUBLON</ram:ReasonCode><ram:Reason>déjà reçue</ram:Reason></ram:SpecifiedDocumentStatus>` +
			`<ram:SpecifiedDocumentStatus><ram:ReasonCode>CMD_ERR</ram:ReasonCode></ram:SpecifiedDocumentStatus>`, "DOUBLON", "DOUBLON : déjà reçue"},
	} {
		sf, err := ParseStatusFlow([]byte(cdarAckDoc(cdarNumber + date + cdarCode + cdarSeller + c.statuses)))
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		u := sf.Updates[0]
		if u.ReasonCode != c.code || u.Comment != c.comment || u.Date != "2026-11-02" || u.Number != "FA-1" || u.SupplierSIRET != "81000001000019" {
			t.Errorf("%s: %+v", c.name, u)
		}
	}
	for name, ref := range map[string]string{
		"date with dashes":     cdarNumber + cdarDateT("102", "2026-11-02") + cdarCode + cdarSeller,
		"not a date":           cdarNumber + cdarDateT("102", "20261302") + cdarCode + cdarSeller,
		"date of 9 digits":     cdarNumber + cdarDateT("102", "202611021") + cdarCode + cdarSeller,
		"another format":       cdarNumber + cdarDateT("203", "202611021200") + cdarCode + cdarSeller,
		"no format":            cdarNumber + strings.Replace(cdarDateT("102", "20261102"), ` format="102"`, "", 1) + cdarCode + cdarSeller,
		"no number":            date + cdarCode + cdarSeller,
		"no seller":            cdarNumber + date + cdarCode,
		"seller by SIREN only": cdarNumber + date + cdarCode + strings.Replace(cdarSeller, `<ram:GlobalID schemeID="0009">81000001000019</ram:GlobalID>`, "", 1),
	} {
		_, err := ParseStatusFlow([]byte(cdarAckDoc(ref)))
		fe, ok := err.(*flowgate.FlowError)
		if !ok || fe.Code != flowgate.CodeSchema {
			t.Errorf("%s: %v, want %s", name, err, flowgate.CodeSchema)
		}
	}
}
