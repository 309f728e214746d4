package lifecycle

import (
	"fmt"
	"slices"
	"strings"
	"unicode/utf8"

	"flowgate"
)

// The invoice-level status codes (CPPStatut IdStatut, DOMAIN.md §7).
const (
	Deposited     = "01" // Déposée: accepted at integration (hub)
	Routing       = "02" // En cours d'acheminement (hub)
	Available     = "03" // Mise à disposition of the recipient (hub; the recipient, undoing a 05)
	Recycle       = "04" // À recycler: wrong routing data (recipient, comment required)
	Rejected      = "05" // Rejetée (recipient, comment required)
	Suspended     = "06" // Suspendue (recipient, comment required)
	ServiceDone   = "07" // Service fait (recipient)
	Mandated      = "08" // Mandatée, optionally with a mandate number (recipient)
	AccountingOut = "09" // Mise à disposition comptable (recipient)
	Booked        = "10" // Comptabilisée (recipient)
	Paid          = "11" // Mise en paiement (recipient): final
	Completed     = "12" // Complétée: a suspended invoice deposited again (hub)
)

// Refusal codes of a status update. The first two are the router's to
// decide (they need the store and the partner); they live here so that
// every code of the lifecycle is in one place.
const (
	CodeUnknownInvoice = "CPP-STATUT-FACTURE-INCONNUE" // no such invoice delivered (or the date does not match)
	CodeNotAuthorised  = "CPP-STATUT-NON-HABILITE"     // the invoice's recipient is not among the partner's receives
	CodeStatus         = "CPP-STATUT-CODE"             // not a status the recipient may set, or not a status
	CodeTransition     = "CPP-STATUT-TRANSITION"       // not allowed from the invoice's current status
	CodeComment        = "CPP-STATUT-COMMENTAIRE"      // comment missing for 04/05/06, or over 255 characters
	// CodeUnchanged (a warning) is an update to the status the invoice
	// already has: applied, nothing changes, nothing is sent again, so
	// that a status sent twice is harmless.
	CodeUnchanged = "CPP-STATUT-INCHANGE"
	// CodeMandate (a warning): a mandate number on a status other than 08
	// is ignored.
	CodeMandate = "CPP-STATUT-MANDAT"
)

// MaxComment is the longest comment, in characters (DOMAIN.md §7).
const MaxComment = 255

// labels are the French names of the statuses (DOMAIN.md §7).
var labels = map[string]string{
	Deposited:     "Déposée",
	Routing:       "En cours d'acheminement",
	Available:     "Mise à disposition",
	Recycle:       "À recycler",
	Rejected:      "Rejetée",
	Suspended:     "Suspendue",
	ServiceDone:   "Service fait",
	Mandated:      "Mandatée",
	AccountingOut: "Mise à disposition comptable",
	Booked:        "Comptabilisée",
	Paid:          "Mise en paiement",
	Completed:     "Complétée",
}

// Label returns the French label of a status code, "" for an unknown code.
func Label(code string) string { return labels[code] }

// Codes returns the status codes 01 to 12 in order.
func Codes() []string {
	out := make([]string, 0, len(labels))
	for c := range labels {
		out = append(out, c)
	}
	slices.Sort(out)
	return out
}

// Actor is who sets a status.
type Actor int

const (
	// ByRecipient: the recipient's partner, or an operator on its behalf.
	ByRecipient Actor = iota + 1
	// ByHub: the hub itself (integration, delivery, a recycled or
	// completed invoice deposited again).
	ByHub
)

func (a Actor) String() string {
	switch a {
	case ByRecipient:
		return "recipient"
	case ByHub:
		return "hub"
	}
	return "unknown"
}

// recipientMoves is the table of issue 9: from a current status (key), the
// statuses the recipient (or an operator) may set. A status absent as a
// key allows the recipient nothing (01, 02, 04 waits for the supplier, 11
// is final).
var recipientMoves = map[string][]string{
	Available:     {Recycle, Rejected, Suspended, ServiceDone, Mandated, AccountingOut, Booked, Paid},
	Completed:     {Recycle, Rejected, Suspended, ServiceDone, Mandated, AccountingOut, Booked, Paid},
	ServiceDone:   {Recycle, Rejected, Suspended, Mandated, AccountingOut, Booked, Paid},
	Mandated:      {AccountingOut, Booked, Paid},
	AccountingOut: {Booked, Paid},
	Booked:        {Paid},
	// Guide, section X: a rejection made by mistake is undone.
	Rejected:  {Available, Recycle, Suspended, Mandated, Booked, Paid},
	Suspended: {Recycle, Rejected},
}

// hubMoves: what the hub sets. "" is an invoice not yet known: integration
// makes it 01. A recycled invoice (04) deposited again goes back to 01
// then 03; a suspended one (06) deposited again becomes 12.
var hubMoves = map[string][]string{
	"":        {Deposited},
	Deposited: {Routing, Available},
	Routing:   {Available},
	Recycle:   {Deposited},
	Suspended: {Completed},
}

// hubOnly are the statuses only the hub sets (03 but from 05).
var hubOnly = []string{Deposited, Routing, Completed}

// Allowed reports whether by may move an invoice from status from to
// status to, by the table alone (no comment rule).
func Allowed(from, to string, by Actor) bool {
	switch by {
	case ByRecipient:
		return slices.Contains(recipientMoves[from], to)
	case ByHub:
		return slices.Contains(hubMoves[from], to)
	}
	return false
}

// Update is one status change asked for an invoice.
type Update struct {
	Status  string // the new status code, as written
	Comment string // required (1-255 characters) for 04, 05, 06
	Mandate string // IdMandatDP, for 08 only
	By      Actor
}

// NeedsComment reports whether a status requires a comment (04, 05, 06).
func NeedsComment(code string) bool {
	return code == Recycle || code == Rejected || code == Suspended
}

// Apply judges u against the invoice's current status and returns the
// status it has after the update, and the findings: any fatal finding
// refuses the update (next is then current). The checks, each reported
// once, in order: the code is a status u.By may set at all
// (CPP-STATUT-CODE), the comment (CPP-STATUT-COMMENTAIRE), then the
// transition from current (CPP-STATUT-TRANSITION, naming both statuses).
// An update to the status the invoice already has is applied and changes
// nothing (a warning, CPP-STATUT-INCHANGE); a mandate number on a status
// other than 08 is ignored (a warning, CPP-STATUT-MANDAT).
func Apply(current string, u Update) (next string, findings []flowgate.Finding) {
	code := strings.TrimSpace(u.Status)
	if f, ok := checkCode(code, u.By); !ok {
		return current, []flowgate.Finding{f}
	}
	comment := strings.TrimSpace(u.Comment)
	if NeedsComment(code) {
		switch n := utf8.RuneCountInString(comment); {
		case n == 0:
			findings = append(findings, fatal(CodeComment, "Commentaire", "",
				fmt.Sprintf("Le statut %s (%s) exige un commentaire (1 à %d caractères).", code, labels[code], MaxComment),
				fmt.Sprintf("Status %s (%s) requires a comment (1 to %d characters).", code, labels[code], MaxComment)))
		case n > MaxComment:
			findings = append(findings, fatal(CodeComment, "Commentaire", "",
				fmt.Sprintf("Commentaire de %d caractères : au plus %d.", n, MaxComment),
				fmt.Sprintf("Comment of %d characters: at most %d.", n, MaxComment)))
		}
	} else if n := utf8.RuneCountInString(comment); n > MaxComment {
		findings = append(findings, fatal(CodeComment, "Commentaire", "",
			fmt.Sprintf("Commentaire de %d caractères : au plus %d.", n, MaxComment),
			fmt.Sprintf("Comment of %d characters: at most %d.", n, MaxComment)))
	}
	if strings.TrimSpace(u.Mandate) != "" && code != Mandated {
		findings = append(findings, flowgate.Finding{Code: CodeMandate, Severity: flowgate.Warning, Field: "IdMandatDP",
			Value:     clip(u.Mandate),
			MessageFR: fmt.Sprintf("Numéro de mandat ignoré : il n'accompagne que le statut 08 (Mandatée), pas %s.", code),
			Message:   fmt.Sprintf("Mandate number ignored: it goes with status 08 (Mandated) only, not %s.", code)})
	}
	if flowgate.AnyFatal(findings) {
		return current, findings
	}
	if code == current {
		findings = append(findings, flowgate.Finding{Code: CodeUnchanged, Severity: flowgate.Warning, Field: "IdStatut", Value: code,
			MessageFR: fmt.Sprintf("La facture est déjà au statut %s (%s) : rien ne change.", code, labels[code]),
			Message:   fmt.Sprintf("The invoice already has status %s (%s): nothing changes.", code, labels[code])})
		return current, findings
	}
	if !Allowed(current, code, u.By) {
		from := current
		if l := labels[current]; l != "" {
			from += " (" + l + ")"
		}
		findings = append(findings, fatal(CodeTransition, "IdStatut", code,
			fmt.Sprintf("Passage du statut %s au statut %s (%s) non autorisé.", from, code, labels[code]),
			fmt.Sprintf("Moving from status %s to status %s (%s) is not allowed.", from, code, labels[code])))
		return current, findings
	}
	return code, findings
}

// checkCode refuses a code that is not a status, or that by may never set.
func checkCode(code string, by Actor) (flowgate.Finding, bool) {
	label, known := labels[code]
	switch {
	case !known:
		return fatal(CodeStatus, "IdStatut", clip(code),
			fmt.Sprintf("« %s » n'est pas un statut de facture (01 à 12).", clip(code)),
			fmt.Sprintf("'%s' is not an invoice status (01 to 12).", clip(code))), false
	case by == ByRecipient && slices.Contains(hubOnly, code):
		return fatal(CodeStatus, "IdStatut", code,
			fmt.Sprintf("Le statut %s (%s) est positionné par la plateforme, pas par le destinataire.", code, label),
			fmt.Sprintf("Status %s (%s) is set by the hub, not by the recipient.", code, label)), false
	case by == ByHub && !slices.Contains(hubOnly, code) && code != Available:
		return fatal(CodeStatus, "IdStatut", code,
			fmt.Sprintf("Le statut %s (%s) est positionné par le destinataire, pas par la plateforme.", code, label),
			fmt.Sprintf("Status %s (%s) is set by the recipient, not by the hub.", code, label)), false
	case by != ByRecipient && by != ByHub:
		return fatal(CodeStatus, "IdStatut", code, "Auteur du statut inconnu.", "Unknown author of the status."), false
	}
	return flowgate.Finding{}, true
}

func fatal(code, field, value, fr, en string) flowgate.Finding {
	return flowgate.Finding{Code: code, Severity: flowgate.Fatal, Field: field, Value: value, MessageFR: fr, Message: en}
}

// clip bounds a value quoted in a message (the sender's text) to 40
// characters.
func clip(s string) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	if utf8.RuneCountInString(s) <= 40 {
		return s
	}
	return string([]rune(s)[:39]) + "…"
}
