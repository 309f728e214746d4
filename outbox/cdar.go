package outbox

import (
	"bytes"
	"cmp"
	"encoding/xml"
	"errors"
	"fmt"
	"strings"
	"time"

	"flowgate"
)

// CDAR D22B namespaces (UN/CEFACT Cross Domain Acknowledgement and Response)
// and the French profile (XP Z12-012, BR-FR-CDV-02, BR-FR-CDV-CL-01).
const (
	nsRSM = "urn:un:unece:uncefact:data:standard:CrossDomainAcknowledgementAndResponse:100"
	nsRAM = "urn:un:unece:uncefact:data:standard:ReusableAggregateBusinessInformationEntity:100"
	nsUDT = "urn:un:unece:uncefact:data:standard:UnqualifiedDataType:100"
	nsQDT = "urn:un:unece:uncefact:data:standard:QualifiedDataType:100"

	cdarGuideline       = "urn.cpro.gouv.fr:1p0:CDV:invoice"
	cdarBusinessProcess = "REGULATED"
)

// Identifier schemes (ISO 6523 ICD) of the parties' GlobalID.
const (
	schemeSIREN = "0002"
	schemeSIRET = "0009"
)

// CDARReason is one reason of a status: a code of the reform's closed list
// (BR-FR-CDV-CL-09) and a free text, French.
type CDARReason struct{ Code, Text string }

// CDARStatus is one status change of one invoice, rendered as one CDAR
// AcknowledgementDocument. CDARFromInvoiceStatus builds it from a hub
// status, IntegrationCDAR from a flow report.
type CDARStatus struct {
	Code      string    // CDAR status: 200, 201, 203, 204, 205, 208, 209, 210, 211, 213, 221 or 501 (cdarmap.go)
	HubStatus string    // the hub status ("01".."12") it stands for, named in a note; optional
	At        time.Time // when the status was set (AcknowledgementDocument/IssueDateTime)

	// The invoice: number (BT-1), issue date (BT-2, YYYY-MM-DD) and type
	// (BT-3). For a 501, InvoiceNumber is the file or archive entry that
	// could not be read, and the date may be empty. TypeCode is written
	// only when the French rules admit it (BR-FR-04: the hub's types);
	// empty is 380, but for a 501, where it is left out.
	InvoiceNumber, InvoiceDate, TypeCode string

	// The seller (BT-29 SIRET, 14 digits, or a SIREN of 9): named by SIREN
	// (scheme 0002) and SIRET (0009). Required but for 213 and 501, where
	// it is left out when it is neither.
	SupplierSIRET, SupplierName string
	// The buyer's SIRET (14 digits): required for the statuses the
	// recipient sets (204, 205, 208, 210, 211, 221), who then issues the
	// status; written when valid otherwise.
	RecipientSIRET, RecipientName string

	// Reasons, in order. When empty and the status needs one (208, 210,
	// 213, 221, 501), the status's default reason is written with Comment
	// as its text. Each must be one the rules admit with Code.
	Reasons []CDARReason
	Comment string // the recipient's comment (Commentaire), at most 255 characters kept
	// MandateID is the payment order of 08 (IdMandatDP), written in a note.
	MandateID string
}

// CDAR renders statuses as one CDAR D22B CrossDomainAcknowledgementAndResponse
// of the French profile (urn.cpro.gouv.fr:1p0:CDV:invoice, REGULATED), one
// AcknowledgementDocument per status, in order: what validates against the
// CDAR D22B XSD and raises no fatal assert of the FNFE-MPE rules v1.4
// (BR-FR-CDV-Schematron-CDAR). env.FlowID is the message's id
// (ExchangedDocument/ID: give each message its own), env.Produced its date
// (format 204, in the time's own zone), env.Sender the hub (sender, role
// WK) and env.Receiver the partner the file is for (recipient, role WK);
// their ids follow CPPStatut's rule (3 to 8 of [A-Z0-9]).
//
// All statuses of one message must be set by the same party (the rules
// allow one issuer per message): the hub (200, 201, 203, 213, 501), one
// recipient SIREN (204, 205, 208, 210, 211, 221) or one supplier SIREN
// (209). SplitCDAR groups a mixed list. CDAR reports every status it
// cannot render, at once, and renders nothing then.
func CDAR(env Envelope, statuses []CDARStatus) ([]byte, error) {
	_, err := env.render()
	if len(statuses) == 0 {
		err = errors.Join(err, errors.New("no status to render"))
	}
	stamp, _ := cdarTime(env.Produced) // checked by env.render
	acks := make([]cdarAck, 0, len(statuses))
	var issuer *cdarParty
	issuerKey := ""
	for i, st := range statuses {
		ack, key, party, serr := st.render()
		if serr == nil && i > 0 && key != issuerKey {
			serr = fmt.Errorf("set by %s, the message's first status by %s: render them apart (SplitCDAR)", key, issuerKey)
		}
		if serr != nil {
			err = errors.Join(err, fmt.Errorf("status %d (%s, invoice %q): %w", i+1, st.Code, quote(st.InvoiceNumber), serr))
			continue
		}
		if issuer == nil {
			issuer, issuerKey = party, key
		}
		acks = append(acks, ack)
	}
	if err != nil {
		return nil, fmt.Errorf("CDAR statuses of %q: %w", env.FlowID, err)
	}
	if issuer.Role == roleHub {
		issuer = &cdarParty{ID: env.Sender.ID, Name: clean(env.Sender.Label), Role: roleHub}
	}
	doc := cdarDoc{
		NSrsm: nsRSM, NSram: nsRAM, NSudt: nsUDT, NSqdt: nsQDT,
		Context: cdarContext{
			Business:  cdarID{ID: cdarBusinessProcess},
			Guideline: cdarID{ID: cdarGuideline},
		},
		Exchanged: cdarExchanged{
			ID:        clean(env.FlowID),
			Name:      "Statuts de facture",
			IssueDate: cdarDateTime{S: cdarFormatted{Format: "204", Value: stamp}},
			Sender:    cdarParty{ID: env.Sender.ID, Name: clean(env.Sender.Label), Role: roleHub},
			Issuer:    *issuer,
			Recipient: cdarParty{ID: env.Receiver.ID, Name: clean(env.Receiver.Label), Role: roleHub},
		},
		Acks: acks,
	}
	var buf bytes.Buffer
	buf.WriteString(xml.Header)
	enc := xml.NewEncoder(&buf)
	enc.Indent("", "  ")
	if err := enc.Encode(doc); err != nil {
		return nil, fmt.Errorf("encode CDAR of %q: %w", env.FlowID, err)
	}
	buf.WriteString("\n")
	return buf.Bytes(), nil
}

// SplitCDAR groups statuses by the party that sets them, keeping their
// order within a group and ordering groups by their first status: each
// group is one CDAR message. Statuses CDAR would refuse are grouped with
// the hub's, for CDAR to report.
func SplitCDAR(statuses []CDARStatus) [][]CDARStatus {
	var groups [][]CDARStatus
	index := map[string]int{}
	for _, st := range statuses {
		key := st.issuerKey()
		i, ok := index[key]
		if !ok {
			i = len(groups)
			index[key] = i
			groups = append(groups, nil)
		}
		groups[i] = append(groups[i], st)
	}
	return groups
}

// CDARFromInvoiceStatus is the CDAR status standing for a hub status
// (cdarmap.go), for the same invoice, time, comment and mandate. typeCode
// is the invoice's BT-3 (InvoiceStatus has none). A comment that begins
// with a reason code the rules admit with the CDAR status ("TX_TVA_ERR :
// text", lifecycle.SplitReason: a recipient's own CDAR reason) gives the
// status that reason, with the rest as its text, in place of the default
// one (reasonOfComment).
func CDARFromInvoiceStatus(st InvoiceStatus, typeCode string) (CDARStatus, error) {
	code, ok := CDARCode(st.Code)
	if !ok {
		return CDARStatus{}, fmt.Errorf("hub status %q has no CDAR status", st.Code)
	}
	var reasons []CDARReason
	if r, ok := reasonOfComment(code, st.Comment); ok {
		reasons, st.Comment = []CDARReason{r}, ""
	}
	return CDARStatus{
		Reasons:        reasons,
		Code:           code,
		HubStatus:      st.Code,
		At:             st.At,
		InvoiceNumber:  st.InvoiceNumber,
		InvoiceDate:    st.InvoiceDate,
		TypeCode:       typeCode,
		SupplierSIRET:  st.SupplierSIRET,
		SupplierName:   st.SupplierName,
		RecipientSIRET: st.RecipientSIRET,
		RecipientName:  st.RecipientName,
		Comment:        st.Comment,
		MandateID:      st.MandateID,
	}, nil
}

// IntegrationCDAR is a flow's integration result as CDAR statuses set at
// at: per accepted invoice 200 Déposée then 203 Mise à disposition; per
// rejected invoice 213 Rejetée with one reason per distinct reason of its
// fatal findings (RejectionReason), in the order of the findings, its text
// the first such finding's message; per flow error 501 Irrecevable
// (UnreadableReason) naming the entry, or the file. A rejected invoice
// without a number or a YYYY-MM-DD issue date is 501 too (IRR_SYNTAX): the
// UBL schema requires both, and 213 must name them.
func IntegrationCDAR(rep flowgate.FlowReport, at time.Time) []CDARStatus {
	var out []CDARStatus
	for _, e := range rep.Errors {
		out = append(out, CDARStatus{
			Code: "501", At: at, InvoiceNumber: cmp.Or(e.Entry, rep.File),
			Reasons: []CDARReason{{Code: UnreadableReason(e.Code), Text: e.Code + " : " + cmp.Or(e.MessageFR, e.Message)}},
		})
	}
	for _, inv := range rep.Invoices {
		// An xs:date may carry a time zone (2026-11-02+01:00), which UBL
		// allows and the validator accepts; CDAR's date is the day alone.
		date := inv.IssueDate
		if len(date) > 10 {
			if _, err := time.Parse(time.DateOnly, date[:10]); err == nil {
				date = date[:10]
			}
		}
		inv.IssueDate = date
		st := CDARStatus{
			At: at, InvoiceNumber: inv.Number, InvoiceDate: inv.IssueDate, TypeCode: inv.TypeCode,
			SupplierSIRET: inv.SupplierSIRET, RecipientSIRET: inv.RecipientSIRET,
		}
		if inv.Verdict == flowgate.Accepted {
			st.Code, st.HubStatus = "200", "01"
			out = append(out, st)
			st.Code, st.HubStatus = "203", "03"
			out = append(out, st)
			continue
		}
		var reasons []CDARReason
		seen := map[string]bool{}
		for _, f := range inv.Findings {
			if f.Severity != flowgate.Fatal || f.Code == flowgate.CodeTruncated {
				continue
			}
			r := RejectionReason(f.Code)
			if seen[r] {
				continue
			}
			seen[r] = true
			reasons = append(reasons, CDARReason{Code: r, Text: f.Code + " : " + cmp.Or(f.MessageFR, f.Message)})
		}
		st.Code, st.Reasons = "213", reasons
		_, dateErr := time.Parse(time.DateOnly, inv.IssueDate)
		if dateErr != nil || strings.TrimSpace(inv.Number) == "" {
			if dateErr != nil {
				st.InvoiceDate = ""
			}
			text := "Facture illisible : numéro (BT-1) ou date (BT-2) absent ou invalide"
			if len(reasons) > 0 {
				text = reasons[0].Text
			}
			st.Code = "501"
			st.InvoiceNumber = cmp.Or(strings.TrimSpace(inv.Number), inv.Entry, rep.File)
			st.Reasons = []CDARReason{{Code: "IRR_SYNTAX", Text: text}}
		}
		out = append(out, st)
	}
	return out
}

// issuerKey names the party that sets st: "hub", "BY 123456789",
// "SE 123456789".
func (st CDARStatus) issuerKey() string {
	info, ok := cdarStatuses[st.Code]
	switch {
	case !ok || info.role == roleHub:
		return "hub"
	case info.role == roleBuyer:
		return roleBuyer + " " + siren(st.RecipientSIRET)
	default:
		return roleSeller + " " + siren(st.SupplierSIRET)
	}
}

// render checks st and returns its acknowledgement, the key of the party
// that sets it and that party (the hub's is filled in by CDAR).
func (st CDARStatus) render() (cdarAck, string, *cdarParty, error) {
	var errs []error
	info, known := cdarStatuses[st.Code]
	if !known {
		errs = append(errs, fmt.Errorf("CDAR status %q is not one flowgate writes", st.Code))
	}
	if st.HubStatus != "" {
		if _, ok := invoiceLabels[st.HubStatus]; !ok {
			errs = append(errs, fmt.Errorf("hub status %q is not one of 01 to 12", st.HubStatus))
		}
	}
	at, err := cdarTime(st.At)
	if err != nil {
		errs = append(errs, fmt.Errorf("status time: %w", err))
	}
	unreadable, rejected := st.Code == "501", st.Code == "213"
	if strings.TrimSpace(st.InvoiceNumber) == "" {
		errs = append(errs, errors.New("missing invoice number"))
	}
	var date *cdarQDate
	if st.InvoiceDate != "" || !unreadable {
		d, err := time.Parse(time.DateOnly, st.InvoiceDate)
		if err != nil {
			errs = append(errs, fmt.Errorf("invoice date %q is not a YYYY-MM-DD date", st.InvoiceDate))
		}
		date = &cdarQDate{S: cdarFormatted{Format: "102", Value: d.Format("20060102")}}
	}
	seller := tradeParty(st.SupplierSIRET, st.SupplierName, roleSeller)
	if seller == nil && !unreadable && !rejected {
		errs = append(errs, fmt.Errorf("supplier SIRET %q is not 14 digits", st.SupplierSIRET))
	}
	buyer := tradeParty(st.RecipientSIRET, st.RecipientName, roleBuyer)
	if buyer == nil && info.role == roleBuyer {
		errs = append(errs, fmt.Errorf("recipient SIRET %q is not 14 digits", st.RecipientSIRET))
	}

	reasons := st.Reasons
	comment := clip(st.Comment, maxComment)
	if len(reasons) == 0 && info.needs {
		reasons = []CDARReason{{Code: info.reason, Text: comment}}
		comment = ""
	}
	var statuses []cdarDocStatus
	for _, r := range reasons {
		if !reasonAllowed(st.Code, r.Code) {
			errs = append(errs, fmt.Errorf("reason %q is not one the rules admit with %s %s", r.Code, st.Code, info.label))
		}
		statuses = append(statuses, cdarDocStatus{ReasonCode: r.Code, Reason: clip(r.Text, maxText)})
	}
	if comment != "" {
		statuses = append(statuses, cdarDocStatus{Reason: comment})
	}
	var notes []cdarNote
	if st.HubStatus != "" {
		notes = append(notes, cdarNote{Content: "Statut Chorus Pro " + st.HubStatus + " " + invoiceLabels[st.HubStatus]})
	}
	if m := strings.TrimSpace(st.MandateID); m != "" {
		notes = append(notes, cdarNote{Content: "Numéro de mandat (IdMandatDP) : " + quote(m)})
	}
	if len(notes) > 0 {
		if len(statuses) == 0 {
			statuses = append(statuses, cdarDocStatus{})
		}
		statuses[0].Notes = notes
	}
	for i := range statuses {
		statuses[i].Seq = i + 1
	}
	if len(errs) > 0 {
		return cdarAck{}, "", nil, errors.Join(errs...)
	}

	var issuer *cdarParty
	switch info.role {
	case roleHub:
		issuer = &cdarParty{Role: roleHub}
	case roleBuyer:
		issuer = &cdarParty{GlobalIDs: buyer.GlobalIDs[:1], Name: buyer.Name, Role: roleBuyer}
	case roleSeller:
		issuer = &cdarParty{GlobalIDs: seller.GlobalIDs[:1], Name: seller.Name, Role: roleSeller}
	}
	typeCode := st.TypeCode
	if typeCode == "" && !unreadable { // a file that could not be read may be no invoice at all
		typeCode = "380"
	}
	if !frenchTypeCodes[typeCode] {
		typeCode = ""
	}
	return cdarAck{
		Multiple:  cdarIndicator{Value: false},
		TypeCode:  info.phase,
		IssueDate: cdarDateTime{S: cdarFormatted{Format: "204", Value: at}},
		Ref: cdarRef{
			IssuerAssignedID: quoteID(st.InvoiceNumber),
			TypeCode:         typeCode,
			IssueDate:        date,
			Code:             st.Code,
			Label:            info.label,
			Issuer:           seller,
			Recipient:        buyer,
			Statuses:         statuses,
		},
	}, st.issuerKey(), issuer, nil
}

// frenchTypeCodes are the invoice types the French rules admit in a CDAR
// (BR-FR-04); the hub accepts no others (CPP-TYPE).
var frenchTypeCodes = map[string]bool{
	"380": true, "389": true, "393": true, "501": true, "386": true, "500": true, "384": true, "471": true,
	"472": true, "473": true, "261": true, "262": true, "381": true, "396": true, "502": true, "503": true,
}

// tradeParty names a seller or buyer by SIREN and SIRET from a SIRET (or by
// SIREN alone from a SIREN); nil when id is neither.
func tradeParty(id, name, role string) *cdarParty {
	var ids []cdarScheme
	switch {
	case isDigits(id, 14):
		ids = []cdarScheme{{Scheme: schemeSIREN, Value: id[:9]}, {Scheme: schemeSIRET, Value: id}}
	case isDigits(id, 9):
		ids = []cdarScheme{{Scheme: schemeSIREN, Value: id}}
	default:
		return nil
	}
	return &cdarParty{GlobalIDs: ids, Name: clip(name, maxText), Role: role}
}

// siren is the SIREN of a SIRET or SIREN, or the value itself.
func siren(id string) string {
	if isDigits(id, 14) {
		return id[:9]
	}
	return id
}

// quoteID cuts an identifier quoted from a deposit (an invoice number, a
// file name) to maxQuoted characters.
func quoteID(s string) string { return quote(strings.TrimSpace(s)) }

// cdarTime formats t as CCYYMMDDHHMMSS (format 204), in t's own zone.
func cdarTime(t time.Time) (string, error) {
	if _, err := timestamp(t); err != nil {
		return "", err
	}
	return t.Format("20060102150405"), nil
}

// The CDAR D22B document, elements in the schema's order. encoding/xml
// writes the prefixed names as given; the root declares the prefixes.
type cdarDoc struct {
	XMLName   xml.Name      `xml:"rsm:CrossDomainAcknowledgementAndResponse"`
	NSrsm     string        `xml:"xmlns:rsm,attr"`
	NSram     string        `xml:"xmlns:ram,attr"`
	NSudt     string        `xml:"xmlns:udt,attr"`
	NSqdt     string        `xml:"xmlns:qdt,attr"`
	Context   cdarContext   `xml:"rsm:ExchangedDocumentContext"`
	Exchanged cdarExchanged `xml:"rsm:ExchangedDocument"`
	Acks      []cdarAck     `xml:"rsm:AcknowledgementDocument"`
}

type cdarContext struct {
	Business  cdarID `xml:"ram:BusinessProcessSpecifiedDocumentContextParameter"`
	Guideline cdarID `xml:"ram:GuidelineSpecifiedDocumentContextParameter"`
}

type cdarID struct {
	ID string `xml:"ram:ID"`
}

type cdarExchanged struct {
	ID        string       `xml:"ram:ID"`
	Name      string       `xml:"ram:Name,omitempty"`
	IssueDate cdarDateTime `xml:"ram:IssueDateTime"`
	Sender    cdarParty    `xml:"ram:SenderTradeParty"`
	Issuer    cdarParty    `xml:"ram:IssuerTradeParty"`
	Recipient cdarParty    `xml:"ram:RecipientTradeParty"`
}

type cdarDateTime struct {
	S cdarFormatted `xml:"udt:DateTimeString"`
}

type cdarQDate struct {
	S cdarFormatted `xml:"qdt:DateTimeString"`
}

type cdarFormatted struct {
	Format string `xml:"format,attr"`
	Value  string `xml:",chardata"`
}

type cdarParty struct {
	ID        string       `xml:"ram:ID,omitempty"`
	GlobalIDs []cdarScheme `xml:"ram:GlobalID"`
	Name      string       `xml:"ram:Name,omitempty"`
	Role      string       `xml:"ram:RoleCode"`
}

type cdarScheme struct {
	Scheme string `xml:"schemeID,attr"`
	Value  string `xml:",chardata"`
}

type cdarAck struct {
	Multiple  cdarIndicator `xml:"ram:MultipleReferencesIndicator"`
	TypeCode  string        `xml:"ram:TypeCode"`
	IssueDate cdarDateTime  `xml:"ram:IssueDateTime"`
	Ref       cdarRef       `xml:"ram:ReferenceReferencedDocument"`
}

type cdarIndicator struct {
	Value bool `xml:"udt:Indicator"`
}

type cdarRef struct {
	IssuerAssignedID string          `xml:"ram:IssuerAssignedID"`
	TypeCode         string          `xml:"ram:TypeCode,omitempty"`
	IssueDate        *cdarQDate      `xml:"ram:FormattedIssueDateTime"`
	Code             string          `xml:"ram:ProcessConditionCode"`
	Label            string          `xml:"ram:ProcessCondition"`
	Issuer           *cdarParty      `xml:"ram:IssuerTradeParty"`
	Recipient        *cdarParty      `xml:"ram:RecipientTradeParty"`
	Statuses         []cdarDocStatus `xml:"ram:SpecifiedDocumentStatus"`
}

type cdarDocStatus struct {
	ReasonCode string     `xml:"ram:ReasonCode,omitempty"`
	Reason     string     `xml:"ram:Reason,omitempty"`
	Seq        int        `xml:"ram:SequenceNumeric"`
	Notes      []cdarNote `xml:"ram:IncludedNote"`
}

type cdarNote struct {
	Content string `xml:"ram:Content"`
}
