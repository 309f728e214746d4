package parser

import (
	"fmt"
	"strings"

	"flowgate"
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

// cdarReason is the reason's text, read as the update's comment (the first
// status's first reason).
const cdarReason = cdarRef + "ram:SpecifiedDocumentStatus/ram:Reason"

// parseCDAR reads a CDAR status flow: see ParseStatusFlow. A date in
// format 102 (YYYYMMDD) is read as YYYY-MM-DD.
func parseCDAR(s *scanner) (*StatusFlow, error) {
	var (
		sf     = &StatusFlow{Updates: []StatusUpdate{}}
		path   []string
		scheme []string // schemeID of each open element
		text   strings.Builder
		unit   *StatusUpdate
		seen   map[string]bool
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
			sch := ""
			for _, a := range s.attrs {
				if len(a.space) == 0 && string(a.local) == "schemeID" {
					sch = string(a.value)
				}
			}
			path, scheme = append(path, name), append(scheme, sch)
			text.Reset()
			if strings.Join(path, "/") == cdarAck {
				if len(sf.Updates) == MaxStatusUpdates {
					return nil, s.fail(flowgate.CodeSize, s.at,
						fmt.Sprintf("plus de %d statuts de facture dans un flux", MaxStatusUpdates),
						fmt.Sprintf("more than %d invoice statuses in one flow", MaxStatusUpdates)).flowError()
				}
				sf.Updates = append(sf.Updates, StatusUpdate{Order: len(sf.Updates) + 1})
				unit, seen = &sf.Updates[len(sf.Updates)-1], map[string]bool{}
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
				if rel == cdarReason {
					if unit.Comment == "" {
						unit.Comment = value
					}
					break
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
				if strings.HasSuffix(rel, "qdt:DateTimeString") && len(value) == 8 && isDigitsOnly(value) {
					value = value[:4] + "-" + value[4:6] + "-" + value[6:]
				}
				*field(unit) = value
			case full == cdarAck:
				unit = nil
			}
			path, scheme = path[:len(path)-1], scheme[:len(scheme)-1]
			text.Reset()
		case tokEOF:
			return sf, nil
		}
	}
}

func isDigitsOnly(s string) bool {
	for _, c := range []byte(s) {
		if c < '0' || c > '9' {
			return false
		}
	}
	return s != ""
}
