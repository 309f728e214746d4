package flowgate

import "fmt"

// FlowStatus is the outcome of a flow, under Chorus Pro's names (DOMAIN.md §2).
type FlowStatus string

const (
	FlowReceived   FlowStatus = "IN_RECU"            // received, not yet processed
	FlowIntegrated FlowStatus = "IN_INTEGRE"         // every invoice accepted
	FlowPartial    FlowStatus = "IN_INTEGRE_PARTIEL" // some accepted, some rejected
	FlowRejected   FlowStatus = "IN_REJETE"          // nothing accepted
	FlowIncident   FlowStatus = "IN_INCIDENTE"       // internal fault, retried, never final
)

// OutcomeOf returns the final status of a flow from its counts of accepted
// and rejected invoices and of entry-level errors (unreadable entries).
func OutcomeOf(accepted, rejected, entryErrors int) FlowStatus {
	switch {
	case accepted == 0:
		return FlowRejected
	case rejected > 0 || entryErrors > 0:
		return FlowPartial
	}
	return FlowIntegrated
}

// Flow-level error codes: the file, or an entry of an archive, could not be
// read as a UBL invoice. These are reported instead of findings.
const (
	CodeXML      = "FLX-XML"      // not well-formed XML
	CodeDTD      = "FLX-DTD"      // a DOCTYPE or entity declaration: refused outright
	CodeType     = "FLX-TYPE"     // the root is not a UBL 2.1 Invoice or CreditNote
	CodeSize     = "FLX-TAILLE"   // over the size or nesting limits
	CodeArchive  = "FLX-ARCHIVE"  // an unsafe or broken archive entry, or an archive over its limits
	CodeEncoding = "FLX-ENCODAGE" // a character encoding we do not read
	CodeIO       = "FLX-IO"       // the file could not be read at all
	// CodeSchema: the document breaks a rule of the UBL 2.1 schema that
	// changes how it reads, such as a business term the schema allows once
	// (cbc:ID, cbc:PayableAmount...) written twice.
	CodeSchema = "FLX-SCHEMA"
	// CodeIncident: the hub could not process the flow after repeated
	// attempts (it crashed, panicked or ran past flow_timeout); the flow is
	// quarantined and operators alerted.
	CodeIncident = "FLX-INCIDENT"
	// CodeDuplicateFlow: the same partner already deposited these exact
	// bytes; the flow is refused and its report names the original.
	CodeDuplicateFlow = "FLX-DOUBLON"
	// CodePDF: a PDF that is no readable Factur-X: no embedded invoice,
	// encrypted, broken, or over the limits.
	CodePDF = "FLX-PDF"
	// CodeProfile: a Factur-X profile that is not an invoice (MINIMUM).
	CodeProfile = "FLX-PROFIL"
)

// FlowError is why a flow, or one entry of it, could not be read. It is
// reported to the sender like a finding, with a French and an English text.
type FlowError struct {
	Code      string `json:"code"`
	Entry     string `json:"entry"` // name inside the archive; empty for the file itself
	MessageFR string `json:"message_fr"`
	Message   string `json:"message"`
}

func (e *FlowError) Error() string {
	if e.Entry != "" {
		return fmt.Sprintf("%s: %s: %s", e.Code, e.Entry, e.Message)
	}
	return fmt.Sprintf("%s: %s", e.Code, e.Message)
}
