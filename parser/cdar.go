package parser

import (
	"fmt"
	"strings"
	"time"

	"flowgate"
	"flowgate/lifecycle"
)

// A recipient may send its status flow as a CDAR D22B message
// (CrossDomainAcknowledgementAndResponse, the 2026 reform's lifecycle
// message, DOMAIN.md §8) instead of CPPStatut: one AcknowledgementDocument
// per status, naming the invoice in its ReferenceReferencedDocument. It is
// told apart by its root element, matched by namespace URI (any prefix).

// CDAR D22B namespaces.
const (
	NSCDAR = "urn:un:unece:uncefact:data:standard:CrossDomainAcknowledgementAndResponse:100"
	nsRAM  = "urn:un:unece:uncefact:data:standard:ReusableAggregateBusinessInformationEntity:100"
	nsUDT  = "urn:un:unece:uncefact:data:standard:UnqualifiedDataType:100"
	nsQDT  = "urn:un:unece:uncefact:data:standard:QualifiedDataType:100"
)

const cdarRoot = "CrossDomainAcknowledgementAndResponse"

// cdarName is an element's name for the paths below: its local name with
// the usual prefix of its namespace; "?" for an element of another
// namespace (never read).
func cdarName(space, local []byte) string {
	switch string(space) {
	case NSCDAR:
		return "rsm:" + string(local)
	case nsRAM:
		return "ram:" + string(local)
	case nsUDT:
		return "udt:" + string(local)
	case nsQDT:
		return "qdt:" + string(local)
	}
	return "?"
}

const (
	cdarAck    = "rsm:CrossDomainAcknowledgementAndResponse/rsm:AcknowledgementDocument"
	cdarSender = "rsm:CrossDomainAcknowledgementAndResponse/rsm:ExchangedDocument/ram:SenderTradeParty/ram:ID"
	cdarRef    = "ram:ReferenceReferencedDocument/"
)

// cdarFields are the elements read of an AcknowledgementDocument, by their
// path below it. GlobalID is read in scheme 0009 (SIRET) only.
var cdarFields = map[string]func(u *StatusUpdate) *string{
	cdarRef + "ram:IssuerAssignedID":                          func(u *StatusUpdate) *string { return &u.Number },
	cdarRef + "ram:FormattedIssueDateTime/qdt:DateTimeString": func(u *StatusUpdate) *string { return &u.Date },
	cdarRef + "ram:ProcessConditionCode":                      func(u *StatusUpdate) *string { return &u.CDARCode },
	cdarRef + "ram:IssuerTradeParty/ram:GlobalID":             func(u *StatusUpdate) *string { return &u.SupplierSIRET },
	cdarRef + "ram:RecipientTradeParty/ram:GlobalID":          func(u *StatusUpdate) *string { return &u.RecipientSIRET },
}

// The reason of a status: its code (of the reform's list) and its text,
// read of the first SpecifiedDocumentStatus that has either; the update's
// comment is lifecycle.ReasonComment of both.
const (
	cdarStatus     = cdarRef + "ram:SpecifiedDocumentStatus"
	cdarReason     = cdarStatus + "/ram:Reason"
	cdarReasonCode = cdarStatus + "/ram:ReasonCode"
	cdarDate       = cdarRef + "ram:FormattedIssueDateTime/qdt:DateTimeString"
)

// parseCDAR reads a CDAR status flow: see ParseStatusFlow. The invoice's
// issue date must be written in format 102 (YYYYMMDD, a real date), and is
// read as YYYY-MM-DD; another format or text, or an AcknowledgementDocument
// without the invoice's number or the seller's SIRET, makes the flow
// unreadable (FLX-SCHEMA): these name the invoice, and a status for no
// invoice in particular cannot be judged.
func parseCDAR(s *scanner) (*StatusFlow, error) {
	var (
		sf     = &StatusFlow{Updates: []StatusUpdate{}}
		path   []string
		scheme []string // schemeID of each open element
		format []string // format of each open element
		text   strings.Builder
		unit   *StatusUpdate
		seen   map[string]bool
		// the reason of the open SpecifiedDocumentStatus, and whether
		// the unit's reason was already read
		reasonCode, reasonText string
		reasonDone             bool
	)
	for {
		kind, err := s.next()
		if err != nil {
			return nil, scanFlowError(err)
		}
		switch kind {
		case tokStart:
			name := cdarName(s.space, s.local)
			if len(path) == 0 && name != "rsm:"+cdarRoot {
				return nil, notStatus(s)
			}
			sch, dateFormat := "", ""
			for _, a := range s.attrs {
				switch {
				case len(a.space) != 0:
				case string(a.local) == "schemeID":
					sch = string(a.value)
				case string(a.local) == "format":
					dateFormat = string(a.value)
				}
			}
			path, scheme, format = append(path, name), append(scheme, sch), append(format, dateFormat)
			text.Reset()
			if strings.Join(path, "/") == cdarAck {
				if len(sf.Updates) == MaxStatusUpdates {
					return nil, s.fail(flowgate.CodeSize, s.at,
						fmt.Sprintf("plus de %d statuts de facture dans un flux", MaxStatusUpdates),
						fmt.Sprintf("more than %d invoice statuses in one flow", MaxStatusUpdates)).flowError()
				}
				sf.Updates = append(sf.Updates, StatusUpdate{Order: len(sf.Updates) + 1})
				unit, seen = &sf.Updates[len(sf.Updates)-1], map[string]bool{}
				reasonDone = false
			}
			if unit != nil && strings.Join(path, "/") == cdarAck+"/"+cdarStatus {
				reasonCode, reasonText = "", ""
			}
		case tokText:
			if text.Len() < 1<<16 {
				text.Write(s.text)
			}
		case tokEnd:
			full := strings.Join(path, "/")
			value := strings.TrimSpace(text.String())
			switch {
			case full == cdarSender:
				sf.Sender = value
			case unit != nil && strings.HasPrefix(full, cdarAck+"/"):
				rel := strings.TrimPrefix(full, cdarAck+"/")
				switch rel {
				case cdarReason:
					reasonText = value
				case cdarReasonCode:
					reasonCode = value
				case cdarStatus:
					if !reasonDone && (reasonCode != "" || reasonText != "") {
						unit.ReasonCode, unit.Comment, reasonDone = reasonCode, lifecycle.ReasonComment(reasonCode, reasonText), true
					}
				}
				field, ok := cdarFields[rel]
				if !ok || strings.HasSuffix(rel, "ram:GlobalID") && scheme[len(scheme)-1] != "0009" {
					break
				}
				if seen[rel] {
					return nil, s.fail(flowgate.CodeSchema, s.at,
						fmt.Sprintf("élément %s écrit deux fois dans le statut n° %d : une facture, un statut par AcknowledgementDocument", rel, unit.Order),
						fmt.Sprintf("element %s written twice in status %d: one invoice, one status per AcknowledgementDocument", rel, unit.Order)).flowError()
				}
				seen[rel] = true
				if rel == cdarDate {
					d, err := time.Parse("20060102", value)
					if f := format[len(format)-1]; err != nil || f != "102" || len(value) != 8 {
						return nil, s.fail(flowgate.CodeSchema, s.at,
							fmt.Sprintf("date de facture « %s » (format « %s ») du statut n° %d : seul le format 102 AAAAMMJJ est lu", clipText(value), clipText(f), unit.Order),
							fmt.Sprintf("invoice date '%s' (format '%s') of status %d: only format 102 YYYYMMDD is read", clipText(value), clipText(f), unit.Order)).flowError()
					}
					value = d.Format(time.DateOnly)
				}
				*field(unit) = value
			case full == cdarAck:
				if err := missing(s, unit, "ram:IssuerAssignedID", "ram:IssuerTradeParty/ram:GlobalID (schemeID 0009)"); err != nil {
					return nil, err
				}
				unit = nil
			}
			path, scheme, format = path[:len(path)-1], scheme[:len(scheme)-1], format[:len(format)-1]
			text.Reset()
		case tokEOF:
			return sf, nil
		}
	}
}

// missing refuses a status update that does not name its invoice: no
// number (written numberAt), or no supplier SIRET (supplierAt). Without
// them no invoice can be looked up, and "no invoice « »" would say less
// than the truth.
func missing(s *scanner, u *StatusUpdate, numberAt, supplierAt string) error {
	var fr, en []string
	if u.Number == "" {
		fr, en = append(fr, "IdFacture manquant ("+numberAt+")"), append(en, "IdFacture missing ("+numberAt+")")
	}
	if u.SupplierSIRET == "" {
		fr, en = append(fr, "Fournisseur manquant ("+supplierAt+")"), append(en, "Fournisseur missing ("+supplierAt+")")
	}
	if fr == nil {
		return nil
	}
	return s.fail(flowgate.CodeSchema, s.at,
		fmt.Sprintf("statut n° %d : %s : la facture n'est pas désignée", u.Order, strings.Join(fr, ", ")),
		fmt.Sprintf("status %d: %s: no invoice is named", u.Order, strings.Join(en, ", "))).flowError()
}

// clipText bounds a value quoted in a message to 40 characters.
func clipText(v string) string {
	v = strings.ToValidUTF8(v, "\uFFFD")
	if r := []rune(v); len(r) > 40 {
		return string(r[:39]) + "…"
	}
	return v
}
