package router

import (
	"context"
	"fmt"
	"testing"

	"flowgate/flows"
)

// suspendDoc is VALMONT's status flow suspending (06) the invoice number
// of the test supplier.
func suspendDoc(number string) []byte {
	return []byte(fmt.Sprintf(`<?xml version="1.0" encoding="UTF-8"?>
<CPPStatut><Enveloppe><EnveloppeUnitaire NumOrdre="1"><Parametres>
<ParametreIndiv NumOrdre="0001"><Code>DtPrd</Code><Valeurparametre>2026-11-27</Valeurparametre></ParametreIndiv>
<ParametreIndiv NumOrdre="0002"><Code>IdFlx</Code><Valeurparametre>S1</Valeurparametre></ParametreIndiv>
</Parametres><Partenaires><Recepteur><Id>FLOWGATE</Id></Recepteur><Emetteur><Id>VALMONT</Id></Emetteur></Partenaires></EnveloppeUnitaire></Enveloppe>
<CPPFactureStatuts compteur="1"><CPPFactureStatutUnitaire NumOrdre="1">
<Fournisseur><TypeIdentifiant>1</TypeIdentifiant><Identifiant>%s</Identifiant><RaisonSociale>Durand</RaisonSociale></Fournisseur>
<Debiteur><TypeIdentifiant>1</TypeIdentifiant><Identifiant>%s</Identifiant></Debiteur>
<DonneesStatut><IdStatut>06</IdStatut><Commentaire>reçue trop tôt</Commentaire><Horodatage>2026-11-27T10:00:00.000+01:00</Horodatage><IdFacture>%s</IdFacture></DonneesStatut>
</CPPFactureStatutUnitaire></CPPFactureStatuts></CPPStatut>
`, supplier, collected, number))
}

// TestSuspendedAndSentAgainInOneRound: the recipient suspends an invoice
// and its supplier deposits the same file again, both in one round: the
// file is the supplier's answer (the status set earlier in the round
// counts), the invoice is completed (12), not a duplicate.
func TestSuspendedAndSentAgainInOneRound(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	data := invoice("SR-1", collected)
	if failed, notDone := f.r.Process(ctx, []flows.Claimed{f.claim("a.xml", data)}); len(failed)+notDone != 0 {
		t.Fatalf("first deposit: %d %d", len(failed), notDone)
	}
	status, again := f.claimBy("VALMONT", "s.xml", suspendDoc("SR-1")), f.claim("a-again.xml", data)
	if failed, notDone := f.r.Process(ctx, []flows.Claimed{status, again}); len(failed)+notDone != 0 {
		t.Fatalf("round: %d %d", len(failed), notDone)
	}
	fl, ok, err := f.store.Flow(ctx, again.FlowID)
	if err != nil || !ok || fl.DuplicateOf != "" || fl.Status != "IN_INTEGRE" {
		t.Fatalf("the same file again: %+v %v %v\n%s", fl, ok, err, fl.Report)
	}
	invs, err := f.store.Delivered(ctx, supplier, "SR-1", "")
	if err != nil || len(invs) != 2 || invs[0].FlowID != again.FlowID || invs[0].Status != "12" || invs[1].Status != "06" {
		t.Fatalf("deliveries: %+v %v", invs, err)
	}
}
