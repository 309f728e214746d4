package outbox

import (
	"strings"

	"flowgate/lifecycle"
)

// This file is the one place where flowgate's statuses and codes meet the
// lifecycle codes of the 2026 reform (XP Z12-012 v1.4, CDAR D22B; DOMAIN.md
// §8). The mapping is ours; the reason codes and which status admits which
// are the FNFE-MPE rules' (BR-FR-CDV-Schematron-CDAR v1.4.0, BR-FR-CDV-CL-09
// and BR-FR-CDV-15), which the tests run on every message.
//
// Hub status (CPPStatut) → CDAR status, who sets it, reason:
//
//	01 Déposée                      → 200 Déposée           hub (305)
//	02 En cours d'acheminement      → 201 Émise             hub (305)
//	03 Mise à disposition           → 203 Mise à disposition hub (305)
//	04 À recycler                   → 221 Erreur de routage recipient (23, BY), ROUTAGE_ERR
//	05 Rejetée                      → 210 Refusée           recipient (23, BY), NON_CONFORME unless given
//	06 Suspendue                    → 208 Suspendue         recipient (23, BY), JUSTIF_ABS unless given
//
// "Unless given": a recipient's CDAR reason code reaches the supplier. The
// recipient's status is recorded with the comment "CODE : text"
// (lifecycle.ReasonComment, the CPPStatut and JSON files carry it so);
// reasonOfComment reads the code back when the rules admit it with the
// CDAR status (a CDAR 210 with TX_TVA_ERR goes out as 210 TX_TVA_ERR), and
// otherwise the default reason is written with the whole comment as text.
//	07 Service fait                 → 204 Prise en charge   recipient (23, BY)
//	08 Mandatée                     → 205 Approuvée         recipient (23, BY)
//	09 Mise à disposition comptable → 205 Approuvée         recipient (23, BY)
//	10 Comptabilisée                → 205 Approuvée         recipient (23, BY)
//	11 Mise en paiement             → 211 Paiement transmis recipient (23, BY)
//	12 Complétée                    → 209 Complétée         supplier (23, SE): the hub records the completed re-deposit
//
// The reform has no counterpart for 09 and 10, steps of the public
// accountant after the payment order: they stay 205 Approuvée, and every
// message also names the hub status it stands for in a note
// ("Statut Chorus Pro 10 Comptabilisée"). Integration results have no hub
// status of their own: an accepted invoice is 200 then 203, a rejected one
// 213 Rejetée (reasons from its fatal findings, RejectionReason), a file or
// archive entry that cannot be read 501 Irrecevable (UnreadableReason).
//
// 305 and 23 are the acknowledgement's TypeCode: the transmission phase,
// statuses a platform sets (the hub, role WK), and the processing phase,
// statuses a trade party sets (the buyer BY, or the seller SE), named by
// SIREN in the message.

// cdarPhase is AcknowledgementDocument/TypeCode (MDT-77).
const (
	phaseTransmission = "305"
	phaseProcessing   = "23"
)

// Roles (UNTDID 3035) of the party that sets a status.
const (
	roleHub    = "WK" // a platform
	roleBuyer  = "BY"
	roleSeller = "SE"
)

// cdarInfo is what the rules and our mapping say of one CDAR status.
type cdarInfo struct {
	label   string   // ProcessCondition, French
	phase   string   // phaseTransmission or phaseProcessing
	role    string   // who sets it: roleHub, roleBuyer, roleSeller
	reason  string   // the reason written when the status needs one and none is given
	needs   bool     // a reason is required (BR-FR-CDV-15)
	allowed []string // the only reasons the rules admit with it (BR-FR-CDV-CL-09); nil: any of cdarReasons
}

// cdarStatuses are the CDAR statuses flowgate writes.
var cdarStatuses = map[string]cdarInfo{
	"200": {label: "Déposée", phase: phaseTransmission, role: roleHub, allowed: []string{"NON_TRANSMISE"}},
	"201": {label: "Émise", phase: phaseTransmission, role: roleHub},
	"203": {label: "Mise à disposition", phase: phaseTransmission, role: roleHub},
	"204": {label: "Prise en charge", phase: phaseProcessing, role: roleBuyer},
	"205": {label: "Approuvée", phase: phaseProcessing, role: roleBuyer},
	"208": {label: "Suspendue", phase: phaseProcessing, role: roleBuyer, reason: "JUSTIF_ABS", needs: true,
		allowed: []string{"JUSTIF_ABS", "COORD_BANC_ERR", "CMD_ERR", "SIRET_ERR", "CODE_ROUTAGE_ERR", "REF_CT_ABSENT", "REF_ERR"}},
	"209": {label: "Complétée", phase: phaseProcessing, role: roleSeller},
	// 210 from a sender that is not Chorus Pro (the rules' B2G list is for
	// the PPF's matricule 9999 only, which flowgate is not).
	"210": {label: "Refusée", phase: phaseProcessing, role: roleBuyer, reason: "NON_CONFORME", needs: true,
		allowed: []string{"TX_TVA_ERR", "MONTANTTOTAL_ERR", "CALCUL_ERR", "NON_CONFORME", "DOUBLON", "DEST_ERR",
			"TRANSAC_INC", "EMMET_INC", "CONTRAT_TERM", "DOUBLE_FACT", "CMD_ERR", "ADR_ERR", "REF_CT_ABSENT"}},
	"211": {label: "Paiement transmis", phase: phaseProcessing, role: roleBuyer},
	"213": {label: "Rejetée", phase: phaseTransmission, role: roleHub, reason: "REJ_SEMAN", needs: true,
		allowed: []string{"MONTANTTOTAL_ERR", "CALCUL_ERR", "DOUBLON", "DEST_INC", "ADR_ERR", "REJ_SEMAN",
			"REJ_UNI", "REJ_COH", "REJ_ADR", "REJ_CONT_B2G", "REJ_REF_PJ", "REJ_ASS_PJ"}},
	"221": {label: "Erreur de routage", phase: phaseProcessing, role: roleBuyer, reason: "ROUTAGE_ERR", needs: true,
		allowed: []string{"ROUTAGE_ERR"}},
	"501": {label: "Irrecevable", phase: phaseTransmission, role: roleHub, reason: "IRR_SYNTAX", needs: true,
		allowed: []string{"IRR_VIDE_F", "IRR_TYPE_F", "IRR_SYNTAX", "IRR_TAILLE_PJ", "IRR_NOM_PJ", "IRR_VID_PJ",
			"IRR_EXT_DOC", "IRR_TAILLE_F", "IRR_ANTIVIRUS", "IRR_NOM_F"}},
}

// hubToCDAR maps a hub status (CPPStatut IdStatut) to its CDAR status.
var hubToCDAR = map[string]string{
	"01": "200", "02": "201", "03": "203", "04": "221", "05": "210", "06": "208",
	"07": "204", "08": "205", "09": "205", "10": "205", "11": "211", "12": "209",
}

// cdarToHub maps a status a recipient may send as CDAR to the hub status it
// sets: the inverse of hubToCDAR on the recipient's statuses, 205 read as 08
// Mandatée (the first of the three it stands for).
var cdarToHub = map[string]string{
	"221": "04", "210": "05", "208": "06", "204": "07", "205": "08", "211": "11",
}

// cdarReasons is the closed list of reason codes (BR-FR-CDV-CL-09, MDT-113).
var cdarReasons = strings.Fields(`RETRAIT_MAN_SERV ST_CT_NON_DECLAR SUPPR_COMP_AVOIR TRANSF_PMNT_REGIE
	CONTACT_ACHTR NON_TRANSMISE JUSTIF_ABS ROUTAGE_ERR AUTRE COORD_BANC_ERR TX_TVA_ERR MONTANTTOTAL_ERR
	CALCUL_ERR NON_CONFORME DOUBLON DEST_INC DEST_ERR TRANSAC_INC EMMET_INC CONTRAT_TERM DOUBLE_FACT CMD_ERR
	ADR_ERR SIRET_ERR CODE_ROUTAGE_ERR REF_CT_ABSENT REF_ERR PU_ERR REM_ERR QTE_ERR ART_ERR MODPAI_ERR
	QUALITE_ERR LIVR_INCOMP REJ_SEMAN REJ_UNI REJ_COH REJ_ADR REJ_CONT_B2G REJ_REF_PJ REJ_ASS_PJ IRR_VIDE_F
	IRR_TYPE_F IRR_SYNTAX IRR_TAILLE_PJ IRR_NOM_PJ IRR_VID_PJ IRR_EXT_DOC IRR_TAILLE_F IRR_ANTIVIRUS IRR_NOM_F`)

// rejectionReasons maps a fatal finding's code to the reason of 213
// Rejetée. Codes not listed are REJ_SEMAN (the EN 16931 and BR-FR rules,
// CPP-DATE, CPP-TYPE...).
//
//	CPP-DOUBLON                                          DOUBLON
//	CPP-DEST-INCONNU, CPP-DEST-INACTIF                   DEST_INC
//	CPP-SERVICE-*, CPP-ENGAGEMENT-OBLIGATOIRE            REJ_CONT_B2G (the public sector's checks)
//	CPP-EMETTEUR-NON-HABILITE                            REJ_COH (depositor and supplier do not match)
//	CPP-RECYCLAGE-MODIFIE, CPP-COMPLEMENT-MODIFIE        REJ_COH (re-deposit differs from the original)
//	CPP-MONTANT-NEGATIF; BR-CO-13, -15, -16 (BT-109, BT-112, BT-115)  MONTANTTOTAL_ERR
//	BR-CO-10, -11, -12, -14, -17 (sums of lines, allowances, charges, VAT; VAT of a category)  CALCUL_ERR
var rejectionReasons = map[string]string{
	"CPP-DOUBLON":                "DOUBLON",
	"CPP-DEST-INCONNU":           "DEST_INC",
	"CPP-DEST-INACTIF":           "DEST_INC",
	"CPP-SERVICE-OBLIGATOIRE":    "REJ_CONT_B2G",
	"CPP-SERVICE-INCONNU":        "REJ_CONT_B2G",
	"CPP-SERVICE-INACTIF":        "REJ_CONT_B2G",
	"CPP-SERVICE-RESERVE":        "REJ_CONT_B2G",
	"CPP-SERVICE-OU-ENGAGEMENT":  "REJ_CONT_B2G",
	"CPP-ENGAGEMENT-OBLIGATOIRE": "REJ_CONT_B2G",
	"CPP-EMETTEUR-NON-HABILITE":  "REJ_COH",
	"CPP-RECYCLAGE-MODIFIE":      "REJ_COH",
	"CPP-COMPLEMENT-MODIFIE":     "REJ_COH",
	"CPP-MONTANT-NEGATIF":        "MONTANTTOTAL_ERR",
	"BR-CO-13":                   "MONTANTTOTAL_ERR",
	"BR-CO-15":                   "MONTANTTOTAL_ERR",
	"BR-CO-16":                   "MONTANTTOTAL_ERR",
	"BR-CO-10":                   "CALCUL_ERR",
	"BR-CO-11":                   "CALCUL_ERR",
	"BR-CO-12":                   "CALCUL_ERR",
	"BR-CO-14":                   "CALCUL_ERR",
	"BR-CO-17":                   "CALCUL_ERR",
}

// unreadableReasons maps a flow error's code to the reason of 501
// Irrecevable. Codes not listed are IRR_SYNTAX: FLX-ARCHIVE (an unsafe or
// broken archive), and FLX-DOUBLON, FLX-INCIDENT and FLX-IO, for which the
// reform has no reason (the Reason text says what happened).
//
//	FLX-XML, FLX-DTD, FLX-SCHEMA, FLX-ENCODAGE  IRR_SYNTAX
//	FLX-TAILLE                                  IRR_TAILLE_F
//	FLX-TYPE                                    IRR_TYPE_F
var unreadableReasons = map[string]string{
	"FLX-XML":      "IRR_SYNTAX",
	"FLX-DTD":      "IRR_SYNTAX",
	"FLX-SCHEMA":   "IRR_SYNTAX",
	"FLX-ENCODAGE": "IRR_SYNTAX",
	"FLX-TAILLE":   "IRR_TAILLE_F",
	"FLX-TYPE":     "IRR_TYPE_F",
}

// CDARCode returns the CDAR status standing for a hub status ("01".."12"),
// and whether there is one.
func CDARCode(hub string) (string, bool) {
	c, ok := hubToCDAR[hub]
	return c, ok
}

// HubStatusOfCDAR returns the hub status a recipient sets by sending the
// CDAR status code (221, 210, 208, 204, 205, 211), and whether it is one a
// recipient may send.
func HubStatusOfCDAR(code string) (string, bool) {
	h, ok := cdarToHub[code]
	return h, ok
}

// RejectionReason returns the reason code of 213 Rejetée for a fatal
// finding's code; REJ_SEMAN when the table has none.
func RejectionReason(findingCode string) string {
	if r, ok := rejectionReasons[findingCode]; ok {
		return r
	}
	return "REJ_SEMAN"
}

// UnreadableReason returns the reason code of 501 Irrecevable for a flow
// error's code; IRR_SYNTAX when the table has none.
func UnreadableReason(flowErrorCode string) string {
	if r, ok := unreadableReasons[flowErrorCode]; ok {
		return r
	}
	return "IRR_SYNTAX"
}

// reasonOfComment returns the reason a comment gives a CDAR status: its
// leading reason code (lifecycle.SplitReason) when code is a status that
// takes a reason (208, 210, 221...) and the rules admit that one with it,
// the rest of the comment as its text.
func reasonOfComment(code, comment string) (CDARReason, bool) {
	r, text, ok := lifecycle.SplitReason(comment)
	if !ok || !cdarStatuses[code].needs || !reasonAllowed(code, r) {
		return CDARReason{}, false
	}
	return CDARReason{Code: r, Text: text}, true
}

// reasonAllowed reports whether reason may come with the CDAR status code.
func reasonAllowed(code, reason string) bool {
	info := cdarStatuses[code]
	list := info.allowed
	if list == nil {
		list = cdarReasons
	}
	for _, r := range list {
		if r == reason {
			return true
		}
	}
	return false
}
