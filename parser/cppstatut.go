package parser

import (
	"errors"
	"fmt"
	"strings"

	"flowgate"
)

// A status flow is a CPPStatut invoice-level file (CPPStatutPivot_V1_19.xsd,
// whose elements are in no namespace) that a recipient's system deposits
// to change the status of invoices delivered to it: root CPPStatut holding
// CPPFactureStatuts. It is told apart from an invoice by its root element.

// MaxStatusUpdates bounds the CPPFactureStatutUnitaire of one status flow.
const MaxStatusUpdates = 10_000

// StatusUpdate is one CPPFactureStatutUnitaire of a status flow, every
// field as written, trimmed; an absent element leaves its field empty:
// what is missing is for the router to refuse, update by update.
type StatusUpdate struct {
	Order          int    // position among the flow's updates, from 1
	SupplierSIRET  string // Fournisseur/Identifiant
	RecipientSIRET string // Debiteur/Identifiant
	Number         string // DonneesStatut/IdFacture
	Date           string // DonneesStatut/DateFacture, YYYY-MM-DD when well-formed
	Status         string // DonneesStatut/IdStatut
	Comment        string // DonneesStatut/Commentaire
	Mandate        string // DonneesStatut/IdMandatDP
	// ReasonCode is, in a CDAR status flow, the reason code of the
	// reform's list as written (ReasonCode: TX_TVA_ERR...); Comment then
	// holds it too, with its text or label (lifecycle.ReasonComment).
	ReasonCode string
	// CDARCode is, in a CDAR status flow, the reform's status code as
	// written (ProcessConditionCode: 221, 210, 208...); Status is then
	// empty and the router maps the code to the hub's.
	CDARCode string
}

// StatusFlow is what ParseStatusFlow reads of a status flow.
type StatusFlow struct {
	Sender  string // Enveloppe/EnveloppeUnitaire/Partenaires/Emetteur/Id, as written
	Updates []StatusUpdate
}

// IsStatusFlow reports whether data is an XML document whose root is
// CPPStatut in no namespace, or a CDAR CrossDomainAcknowledgementAndResponse
// (by namespace URI): a status flow rather than an invoice. It
// reads only up to the root's start tag; a document that cannot be read
// so far is not one (the invoice parser reports why).
func IsStatusFlow(data []byte) bool {
	if Detect(data) != ContainerXML {
		return false
	}
	data, ferr := prepare(data)
	if ferr != nil {
		return false
	}
	s := scanners.Get().(*scanner)
	defer scanners.Put(s)
	s.reset(data)
	defer s.reset(nil)
	s.pos = prologStart(data)
	for {
		kind, err := s.next()
		if err != nil || kind == tokEOF {
			return false
		}
		if kind == tokStart {
			return string(s.local) == "CPPStatut" && len(s.space) == 0 || string(s.local) == cdarRoot && string(s.space) == NSCDAR
		}
	}
}

// statusFields are the elements read of a CPPFactureStatutUnitaire, by
// their path below it.
var statusFields = map[string]func(u *StatusUpdate) *string{
	"Fournisseur/Identifiant":   func(u *StatusUpdate) *string { return &u.SupplierSIRET },
	"Debiteur/Identifiant":      func(u *StatusUpdate) *string { return &u.RecipientSIRET },
	"DonneesStatut/IdFacture":   func(u *StatusUpdate) *string { return &u.Number },
	"DonneesStatut/DateFacture": func(u *StatusUpdate) *string { return &u.Date },
	"DonneesStatut/IdStatut":    func(u *StatusUpdate) *string { return &u.Status },
	"DonneesStatut/Commentaire": func(u *StatusUpdate) *string { return &u.Comment },
	"DonneesStatut/IdMandatDP":  func(u *StatusUpdate) *string { return &u.Mandate },
}

const (
	unitPath   = "CPPStatut/CPPFactureStatuts/CPPFactureStatutUnitaire"
	senderPath = "CPPStatut/Enveloppe/EnveloppeUnitaire/Partenaires/Emetteur/Id"
)

// ParseStatusFlow reads a status flow. It returns a *flowgate.FlowError
// when the document cannot be read as one: the same XML errors as an
// invoice (FLX-XML, FLX-DTD, FLX-ENCODAGE, FLX-TAILLE), FLX-TYPE when the
// root is not CPPStatut or holds no CPPFactureStatuts (a flow-level
// CPPStatut is the hub's to write), FLX-TAILLE past MaxStatusUpdates, and
// FLX-SCHEMA when an element the schema admits once in an update is
// written twice there or when an update does not name its invoice (no
// IdFacture or no Fournisseur/Identifiant, "IdFacture manquant"). Elements
// in a namespace, and those not read, are skipped. Nothing a document names
// is ever fetched.
//
// A CDAR status flow (root CrossDomainAcknowledgementAndResponse, see
// parseCDAR) is read the same way, one update per AcknowledgementDocument:
// the invoice's number (IssuerAssignedID), issue date
// (FormattedIssueDateTime, format 102), seller's and buyer's SIRET
// (GlobalID in scheme 0009), the status in CDARCode
// (ProcessConditionCode), and the first reason's code (ReasonCode) and
// text as the comment (lifecycle.ReasonComment: "CODE : text").
func ParseStatusFlow(data []byte) (*StatusFlow, error) {
	data, ferr := prepare(data)
	if ferr != nil {
		return nil, ferr
	}
	s := scanners.Get().(*scanner)
	defer scanners.Put(s)
	s.reset(data)
	defer s.reset(nil)
	s.pos = prologStart(data)
	if isCDAR(data) {
		return parseCDAR(s)
	}
	var (
		sf       = &StatusFlow{Updates: []StatusUpdate{}}
		path     []string // local names of the open elements ("" for one in a namespace)
		text     strings.Builder
		unit     *StatusUpdate
		seen     map[string]bool
		factures bool
	)
	for {
		kind, err := s.next()
		if err != nil {
			return nil, scanFlowError(err)
		}
		switch kind {
		case tokStart:
			name := string(s.local)
			if len(s.space) != 0 {
				name = ""
			}
			if len(path) == 0 && name != "CPPStatut" {
				return nil, notStatus(s)
			}
			path = append(path, name)
			text.Reset()
			switch strings.Join(path, "/") {
			case "CPPStatut/CPPFactureStatuts":
				factures = true
			case unitPath:
				if len(sf.Updates) == MaxStatusUpdates {
					return nil, s.fail(flowgate.CodeSize, s.at,
						fmt.Sprintf("plus de %d statuts de facture dans un flux", MaxStatusUpdates),
						fmt.Sprintf("more than %d invoice statuses in one flow", MaxStatusUpdates)).flowError()
				}
				sf.Updates = append(sf.Updates, StatusUpdate{Order: len(sf.Updates) + 1})
				unit, seen = &sf.Updates[len(sf.Updates)-1], map[string]bool{}
			}
		case tokText:
			if text.Len() < 1<<16 { // no field of ours is longer; the rest is not kept
				text.Write(s.text)
			}
		case tokEnd:
			full := strings.Join(path, "/")
			switch {
			case full == senderPath:
				sf.Sender = strings.TrimSpace(text.String())
			case unit != nil && strings.HasPrefix(full, unitPath+"/"):
				rel := strings.TrimPrefix(full, unitPath+"/")
				if field, ok := statusFields[rel]; ok {
					if seen[rel] {
						return nil, s.fail(flowgate.CodeSchema, s.at,
							fmt.Sprintf("élément %s écrit deux fois dans le statut n° %d : le schéma CPPStatut ne l'admet qu'une fois", rel, unit.Order),
							fmt.Sprintf("element %s written twice in status %d: the CPPStatut schema allows it once", rel, unit.Order)).flowError()
					}
					seen[rel] = true
					*field(unit) = strings.TrimSpace(text.String())
				}
			case full == unitPath:
				if err := missing(s, unit, "DonneesStatut/IdFacture", "Fournisseur/Identifiant"); err != nil {
					return nil, err
				}
				unit = nil
			}
			path = path[:len(path)-1]
			text.Reset()
		case tokEOF:
			if !factures {
				return nil, &flowgate.FlowError{Code: flowgate.CodeType,
					MessageFR: "CPPStatut sans CPPFactureStatuts : seuls des statuts de facture peuvent être déposés",
					Message:   "CPPStatut without CPPFactureStatuts: only invoice statuses may be deposited"}
			}
			return sf, nil
		}
	}
}

// scanFlowError is the flow error of a scanner error.
func scanFlowError(err error) error {
	var se *scanError
	if errors.As(err, &se) {
		return se.flowError()
	}
	return &flowgate.FlowError{Code: flowgate.CodeXML, MessageFR: err.Error(), Message: err.Error()}
}

// isCDAR reports whether a document in UTF-8 has a CDAR root element.
func isCDAR(data []byte) bool {
	s := scanners.Get().(*scanner)
	defer scanners.Put(s)
	s.reset(data)
	defer s.reset(nil)
	s.pos = prologStart(data)
	for {
		kind, err := s.next()
		if err != nil || kind == tokEOF {
			return false
		}
		if kind == tokStart {
			return string(s.local) == cdarRoot && string(s.space) == NSCDAR
		}
	}
}

func notStatus(s *scanner) *flowgate.FlowError {
	name := string(s.local)
	if len(s.space) > 0 {
		name = "{" + string(s.space) + "}" + name
	}
	return &flowgate.FlowError{Code: flowgate.CodeType,
		MessageFR: "l'élément racine " + name + " n'est pas un CPPStatut",
		Message:   "root element " + name + " is not a CPPStatut"}
}
