package lifecycle

import (
	"strings"
	"unicode/utf8"
)

// A recipient that sends its statuses as CDAR (the 2026 reform's lifecycle
// message) gives a reason code of the reform's closed list
// (BR-FR-CDV-CL-09, MDT-113: TX_TVA_ERR, JUSTIF_ABS...) and, optionally, a
// text. For such a sender the code is the main thing, so the code stands
// for the comment that 04, 05 and 06 require: the comment recorded is
// "CODE : text", or "CODE : label" when there is no text (ReasonComment).
// Every status file then carries the code in its comment (CPPStatut and
// the JSON have no other place), and a CDAR status file gets it back as its
// ReasonCode (SplitReason; outbox/cdarmap.go says which code goes with
// which CDAR status).

// reasonSep separates the reason code from its text in a comment.
const reasonSep = " : "

// reasonLabels are the French labels of the reform's reason codes (the
// closed list of BR-FR-CDV-CL-09, in its order), in our own short wording.
var reasonLabels = map[string]string{
	"RETRAIT_MAN_SERV":  "Retrait du mandat de service",
	"ST_CT_NON_DECLAR":  "Sous-traitant ou cotraitant non déclaré",
	"SUPPR_COMP_AVOIR":  "Suppression par compensation d'avoir",
	"TRANSF_PMNT_REGIE": "Paiement transféré à la régie",
	"CONTACT_ACHTR":     "Contacter l'acheteur",
	"NON_TRANSMISE":     "Destinataire non connecté",
	"JUSTIF_ABS":        "Justificatif absent ou insuffisant",
	"ROUTAGE_ERR":       "Erreur de routage",
	"AUTRE":             "Autre",
	"COORD_BANC_ERR":    "Coordonnées bancaires erronées",
	"TX_TVA_ERR":        "Taux de TVA erroné",
	"MONTANTTOTAL_ERR":  "Montant total erroné",
	"CALCUL_ERR":        "Erreur de calcul de la facture",
	"NON_CONFORME":      "Mention légale manquante",
	"DOUBLON":           "Facture en doublon",
	"DEST_INC":          "Destinataire inconnu",
	"DEST_ERR":          "Destinataire erroné",
	"TRANSAC_INC":       "Transaction inconnue",
	"EMMET_INC":         "Émetteur inconnu",
	"CONTRAT_TERM":      "Contrat terminé",
	"DOUBLE_FACT":       "Double facturation",
	"CMD_ERR":           "Référence de commande erronée ou absente",
	"ADR_ERR":           "Adresse de facturation erronée",
	"SIRET_ERR":         "SIRET erroné ou absent",
	"CODE_ROUTAGE_ERR":  "Code de routage erroné ou absent",
	"REF_CT_ABSENT":     "Référence contractuelle absente",
	"REF_ERR":           "Référence erronée",
	"PU_ERR":            "Prix unitaire erroné",
	"REM_ERR":           "Remise erronée",
	"QTE_ERR":           "Quantité facturée erronée",
	"ART_ERR":           "Article facturé erroné",
	"MODPAI_ERR":        "Modalités de paiement erronées",
	"QUALITE_ERR":       "Qualité de l'article livré erronée",
	"LIVR_INCOMP":       "Livraison incomplète",
	"REJ_SEMAN":         "Rejet pour erreur sémantique",
	"REJ_UNI":           "Rejet sur contrôle d'unicité",
	"REJ_COH":           "Rejet sur contrôle de cohérence",
	"REJ_ADR":           "Rejet sur contrôle d'adressage",
	"REJ_CONT_B2G":      "Rejet sur contrôles métier B2G",
	"REJ_REF_PJ":        "Rejet sur référence de pièce jointe",
	"REJ_ASS_PJ":        "Rejet sur association de pièce jointe",
	"IRR_VIDE_F":        "Fichier vide",
	"IRR_TYPE_F":        "Type de fichier non admis",
	"IRR_SYNTAX":        "Erreur de syntaxe",
	"IRR_TAILLE_PJ":     "Pièce jointe trop volumineuse",
	"IRR_NOM_PJ":        "Nom de pièce jointe non conforme",
	"IRR_VID_PJ":        "Pièce jointe vide",
	"IRR_EXT_DOC":       "Extension de document non admise",
	"IRR_TAILLE_F":      "Fichier trop volumineux",
	"IRR_ANTIVIRUS":     "Fichier refusé par l'antivirus",
	"IRR_NOM_F":         "Nom de fichier non conforme",
}

// ReasonLabel returns the French label of a reason code of the reform's
// list, "" for a code that is not in it.
func ReasonLabel(code string) string { return reasonLabels[code] }

// ReasonComment is the comment of a status given with a reason code and a
// text, both as written (trimmed here): "CODE : text"; "CODE : label" when
// the text is empty and the code is in the reform's list; the text alone
// when there is no code. A code outside the list is kept as written (the
// recipient's words are all there is), and SplitReason does not read it
// back as a code. When the text fits MaxComment but the whole does not,
// the text is cut (ending in "…") so that the comment is MaxComment
// characters; a text already longer is left whole, for Apply to refuse.
func ReasonComment(code, text string) string {
	code, text = strings.TrimSpace(code), strings.TrimSpace(text)
	switch {
	case code == "":
		return text
	case text == "":
		text = reasonLabels[code]
		if text == "" {
			return code
		}
	}
	out := code + reasonSep + text
	if n := utf8.RuneCountInString(out); n > MaxComment && utf8.RuneCountInString(text) <= MaxComment {
		keep := MaxComment - utf8.RuneCountInString(code+reasonSep) - 1
		if keep < 1 {
			return out
		}
		out = code + reasonSep + string([]rune(text)[:keep]) + "…"
	}
	return out
}

// SplitReason reads back what ReasonComment wrote: a comment that begins
// with a code of the reform's list followed by " : ", or that is that
// code alone, gives the code and the text after it (its label when there
// is none); ok is false for any other comment.
func SplitReason(comment string) (code, text string, ok bool) {
	comment = strings.TrimSpace(comment)
	code, text, found := strings.Cut(comment, reasonSep)
	if !found {
		code, text = comment, ""
	}
	if _, listed := reasonLabels[code]; !listed {
		return "", "", false
	}
	text = strings.TrimSpace(text)
	if text == "" {
		text = reasonLabels[code]
	}
	return code, text, true
}
