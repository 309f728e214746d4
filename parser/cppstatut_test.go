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
		{"too many", statusDoc(strings.Repeat("<CPPFactureStatutUnitaire/>", MaxStatusUpdates+1)), flowgate.CodeSize},
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
		Date: "2026-11-02", CDARCode: "208", Comment: "Bon de livraison manquant"}
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
