package outbox

import (
	"bytes"
	"cmp"
	"encoding/xml"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"flowgate"
)

// Partner is one side of a CPPStatut envelope: a partner code of 3 to 8
// characters [A-Z0-9] (the schema's Id allows 3 to 8) and a label.
type Partner struct{ ID, Label string }

// Envelope is what every CPPStatut file starts with.
type Envelope struct {
	FlowID   string    // the hub's flow id (IdFlx, and IdFlux of a flow-level status); the schema allows any string
	Produced time.Time // production date (DtPrd, date only) and timestamp of a flow-level status
	Sender   Partner   // the hub (Emetteur)
	Receiver Partner   // the partner the file is for (Recepteur)
}

// InvoiceStatus is one invoice-level status (CPPFactureStatutUnitaire).
type InvoiceStatus struct {
	Code            string    // "01".."12" (DOMAIN.md §7)
	SupplierSIRET   string    // Fournisseur/Identifiant, 14 digits (TypeIdentifiant 1 = SIRET)
	SupplierName    string    // Fournisseur/RaisonSociale
	SupplierCountry string    // Fournisseur/CodePays, two capital letters; "FR" when empty
	RecipientSIRET  string    // Debiteur/Identifiant, 14 digits
	RecipientName   string    // Debiteur/Nom, optional
	ServiceCode     string    // Debiteur/CodeService, optional, at most 100 characters
	ServiceName     string    // Debiteur/NomService, optional (the directory's LibelleService)
	InvoiceNumber   string    // DonneesStatut/IdFacture, required
	InvoiceDate     string    // DonneesStatut/DateFacture, YYYY-MM-DD, optional
	Comment         string    // DonneesStatut/Commentaire, optional, cut to 255 characters
	At              time.Time // DonneesStatut/Horodatage
	MandateID       string    // DonneesStatut/IdMandatDP (the payment order of 08), optional

	// Amounts as written on the invoice, exact decimals: total without VAT
	// (BT-109), with VAT (BT-112), amount due (BT-115), and the currency
	// (BT-5). CPPStatut has no element for them: JSON only.
	TaxExclusive, TaxInclusive, Payable, Currency string
}

// Lengths. The schema's limits, and ours where the schema has none but the
// text is attacker-controlled (a message quoting an invoice value).
const (
	maxComplement  = 40   // CPPFluxStatutUnitaire/DonneesStatut/ComplementStatut (XSD)
	maxServiceCode = 100  // Debiteur/CodeService (XSD)
	maxComment     = 255  // invoice-level Commentaire (DOMAIN.md §7)
	maxText        = 1000 // LibelleErreur, DescriptionErreur, flow-level Commentaire (ours)
	maxQuoted      = 100  // an invoice value quoted in a description (ours)
)

// flowCodes maps a flow outcome to the flow-level IdStatut and its label
// (DOMAIN.md §2). IN_INCIDENTE has none: it is never reported as final.
var flowCodes = map[flowgate.FlowStatus]struct{ code, label string }{
	flowgate.FlowReceived:   {"90", "Reçu"},
	flowgate.FlowIntegrated: {"90", "Reçu"},
	flowgate.FlowPartial:    {"96", "Reçu - intégration partielle"},
	flowgate.FlowRejected:   {"93", "Erreur réception"},
}

// invoiceLabels are the invoice-level statuses flowgate uses (DOMAIN.md §7).
// The schema enumerates 01 to 41; codes above 12 are not ours.
var invoiceLabels = map[string]string{
	"01": "Déposée",
	"02": "En cours d'acheminement",
	"03": "Mise à disposition",
	"04": "À recycler",
	"05": "Rejetée",
	"06": "Suspendue",
	"07": "Service fait",
	"08": "Mandatée",
	"09": "Mise à disposition comptable",
	"10": "Comptabilisée",
	"11": "Mise en paiement",
	"12": "Complétée",
}

// Nature of an error line. The schema leaves NatureErreur free.
const (
	natureTechnical = "TECHNIQUE" // the flow or an entry could not be read (FLX-*)
	natureBusiness  = "METIER"    // an integration check rejected an invoice
)

// Caps on the error lines of a flow status, so that its size is bounded
// whatever the flow: at most maxFlowLines+1 lines, each with a LibelleErreur
// and a DescriptionErreur of at most maxText characters, under 6 MB even
// with every character escaped, about 300 bytes a line in practice.
const (
	maxInvoiceLines = 10  // fatal findings listed per rejected invoice; one more line counts the rest
	maxFlowLines    = 500 // error lines per flow status; one more line counts the rest
)

// FlowStatusXML renders a flow-level status (CPPFluxStatuts) for the flow
// env.FlowID: IdStatut 90 for IN_RECU and IN_INTEGRE, 96 for
// IN_INTEGRE_PARTIEL, 93 for IN_REJETE, and one LigneErreurDetail per flow
// error of rep and per fatal finding of each rejected invoice, in that
// order, up to the caps: past maxInvoiceLines findings of one invoice, one
// line (code flowgate.CodeTruncated) counts that invoice's others; past
// maxFlowLines lines, one last line counts the others (the JSON status
// file details them). status is the outcome to report; rep.Status, when
// set, must agree with it.
func FlowStatusXML(env Envelope, status flowgate.FlowStatus, rep flowgate.FlowReport) ([]byte, error) {
	return flowStatusXML(env, status, rep, summary(rep))
}

// StatusFlowXML renders the flow-level status of a recipient's status flow
// as FlowStatusXML does, rep holding one line per status update (its
// invoice number and SIRETs, Rejected with its findings when refused), and
// a Commentaire that counts updates applied and refused.
func StatusFlowXML(env Envelope, status flowgate.FlowStatus, rep flowgate.FlowReport) ([]byte, error) {
	applied := 0
	for _, u := range rep.Invoices {
		if u.Verdict == flowgate.Accepted {
			applied++
		}
	}
	s := fmt.Sprintf("%d statut(s) de facture appliqué(s), %d refusé(s), %d erreur(s) de lecture", applied, len(rep.Invoices)-applied, len(rep.Errors))
	if rep.File != "" {
		s = "Fichier " + quote(rep.File) + " : " + s
	}
	return flowStatusXML(env, status, rep, s)
}

func flowStatusXML(env Envelope, status flowgate.FlowStatus, rep flowgate.FlowReport, comment string) ([]byte, error) {
	envXML, err := env.render()
	fc, known := flowCodes[status]
	if !known {
		err = errors.Join(err, fmt.Errorf("flow status %q has no CPPStatut code", status))
	}
	if rep.Status != "" && rep.Status != status {
		err = errors.Join(err, fmt.Errorf("flow status %s disagrees with the report's %s", status, rep.Status))
	}
	if err != nil {
		return nil, fmt.Errorf("flow status of %q: %w", env.FlowID, err)
	}
	stamp, _ := timestamp(env.Produced) // checked by env.render

	var lines []errorLine
	over := 0 // errors and findings past maxFlowLines
	add := func(l errorLine, n int) {
		if len(lines) < maxFlowLines {
			lines = append(lines, l)
		} else {
			over += n
		}
	}
	for _, e := range rep.Errors {
		where := "Fichier " + quote(rep.File)
		if e.Entry != "" {
			where = "Entrée " + quote(e.Entry)
		}
		add(errorLine{
			Nature:      natureTechnical,
			Code:        clean(e.Code),
			Label:       clip(cmp.Or(e.MessageFR, e.Message), maxText),
			Description: clip(where+" : "+cmp.Or(e.MessageFR, e.Message), maxText),
		}, 1)
	}
	for _, inv := range rep.Invoices {
		if inv.Verdict != flowgate.Rejected {
			continue
		}
		listed, rest := 0, 0
		for _, f := range inv.Findings {
			if f.Severity != flowgate.Fatal {
				continue
			}
			if listed == maxInvoiceLines {
				rest += f.Occurrences()
				continue
			}
			listed++
			add(errorLine{
				Nature:      natureBusiness,
				Code:        clean(f.Code),
				Label:       clip(cmp.Or(f.MessageFR, f.Message), maxText),
				Description: clip(describe(rep.File, inv, f), maxText),
			}, f.Occurrences())
		}
		if rest > 0 {
			add(errorLine{
				Nature: natureBusiness,
				Code:   flowgate.CodeTruncated,
				Label: fmt.Sprintf("… et %d autres erreurs de cette facture, non listées (au plus %d par facture ; voir le compte rendu JSON)",
					rest, maxInvoiceLines),
				Description: clip(describe(rep.File, inv, flowgate.Finding{}), maxText),
			}, rest)
		}
	}
	if over > 0 {
		lines = append(lines, errorLine{
			Nature: natureTechnical,
			Code:   flowgate.CodeTruncated,
			Label: fmt.Sprintf("… et %d autres erreurs, non listées (au plus %d lignes par statut ; voir le compte rendu JSON)",
				over, maxFlowLines),
			Description: clip("Fichier "+quote(rep.File), maxText),
		})
	}
	var details *errorDetails
	if len(lines) > 0 { // Details needs at least one line
		for i := range lines {
			lines[i].ID = i + 1
		}
		details = &errorDetails{Count: len(lines), Lines: lines}
	}

	doc := cppStatut{Enveloppe: envXML, Flux: &fluxStatuts{
		Count: 1,
		Units: []fluxUnit{{Order: 1, Data: fluxData{
			Code:       fc.code,
			Complement: clip(fc.label, maxComplement),
			Comment:    clip(comment, maxText),
			Stamp:      stamp,
			FlowID:     clean(env.FlowID),
			Details:    details,
		}}},
	}}
	return encode(doc)
}

// InvoiceStatusXML renders invoice-level statuses (CPPFactureStatuts), one
// CPPFactureStatutUnitaire per status, numbered from 1, with the French label
// of the code as ComplementStatut. It reports every status the schema cannot
// hold, at once. Whether a code needs a comment (04, 05, 06) is for the
// caller to enforce: outbox renders what it is given.
func InvoiceStatusXML(env Envelope, statuses []InvoiceStatus) ([]byte, error) {
	envXML, err := env.render()
	if len(statuses) == 0 {
		err = errors.Join(err, errors.New("no invoice status to render"))
	}
	units := make([]factureUnit, 0, len(statuses))
	for i, st := range statuses {
		u, serr := st.render(i + 1)
		if serr != nil {
			err = errors.Join(err, fmt.Errorf("status %d (invoice %q): %w", i+1, quote(st.InvoiceNumber), serr))
			continue
		}
		units = append(units, u)
	}
	if err != nil {
		return nil, fmt.Errorf("invoice statuses of %q: %w", env.FlowID, err)
	}
	doc := cppStatut{Enveloppe: envXML, Factures: &factureStatuts{Count: len(units), Units: units}}
	return encode(doc)
}

func (env Envelope) render() (enveloppe, error) {
	var errs []error
	if strings.TrimSpace(env.FlowID) == "" {
		errs = append(errs, errors.New("missing flow id"))
	}
	if _, err := timestamp(env.Produced); err != nil {
		errs = append(errs, fmt.Errorf("production time: %w", err))
	}
	if err := checkPartner(env.Sender.ID); err != nil {
		errs = append(errs, fmt.Errorf("sender: %w", err))
	}
	if err := checkPartner(env.Receiver.ID); err != nil {
		errs = append(errs, fmt.Errorf("receiver: %w", err))
	}
	if len(errs) > 0 {
		return enveloppe{}, errors.Join(errs...)
	}
	return enveloppe{Unit: enveloppeUnit{
		Order: 1,
		Params: []param{
			{Order: "0001", Code: "DtPrd", Value: env.Produced.Format(time.DateOnly)},
			{Order: "0002", Code: "IdFlx", Value: clean(env.FlowID)},
		},
		Partners: partners{
			Receiver: partner{ID: env.Receiver.ID, Label: clean(env.Receiver.Label)},
			Sender:   partner{ID: env.Sender.ID, Label: clean(env.Sender.Label)},
		},
	}}, nil
}

func (st InvoiceStatus) render(order int) (factureUnit, error) {
	var errs []error
	label, ok := invoiceLabels[st.Code]
	if !ok {
		errs = append(errs, fmt.Errorf("status code %q is not one of 01 to 12", st.Code))
	}
	if !isDigits(st.SupplierSIRET, 14) {
		errs = append(errs, fmt.Errorf("supplier SIRET %q is not 14 digits", st.SupplierSIRET))
	}
	if !isDigits(st.RecipientSIRET, 14) {
		errs = append(errs, fmt.Errorf("recipient SIRET %q is not 14 digits", st.RecipientSIRET))
	}
	country := st.SupplierCountry
	if country == "" {
		country = "FR"
	}
	if len(country) != 2 || !isUpper(country) {
		errs = append(errs, fmt.Errorf("supplier country %q is not two capital letters", country))
	}
	if n := utf8.RuneCountInString(st.ServiceCode); n > maxServiceCode {
		errs = append(errs, fmt.Errorf("service code of %d characters, at most %d", n, maxServiceCode))
	}
	if strings.TrimSpace(st.InvoiceNumber) == "" {
		errs = append(errs, errors.New("missing invoice number"))
	}
	if st.InvoiceDate != "" {
		if _, err := time.Parse(time.DateOnly, st.InvoiceDate); err != nil {
			errs = append(errs, fmt.Errorf("invoice date %q is not a YYYY-MM-DD date", st.InvoiceDate))
		}
	}
	stamp, err := timestamp(st.At)
	if err != nil {
		errs = append(errs, fmt.Errorf("status time: %w", err))
	}
	if len(errs) > 0 {
		return factureUnit{}, errors.Join(errs...)
	}
	return factureUnit{
		Order: order,
		Supplier: supplier{
			IDType:  1,
			ID:      st.SupplierSIRET,
			Name:    clean(st.SupplierName),
			Country: country,
		},
		Debtor: debtor{
			IDType:      1,
			ID:          st.RecipientSIRET,
			Name:        clean(st.RecipientName),
			ServiceCode: clean(st.ServiceCode),
			ServiceName: clean(st.ServiceName),
		},
		Data: factureData{
			Code:       st.Code,
			Complement: label,
			Comment:    clip(st.Comment, maxComment),
			Stamp:      stamp,
			InvoiceID:  clean(st.InvoiceNumber),
			Date:       st.InvoiceDate,
			MandateID:  clean(st.MandateID),
		},
	}, nil
}

// describe says which invoice a finding is about, in French, for
// DescriptionErreur: "Facture FA-1 (lot/f1.xml) : BT-46 = « 123 »". The
// reason itself is in LibelleErreur.
func describe(file string, inv flowgate.InvoiceReport, f flowgate.Finding) string {
	s := "Facture sans numéro"
	if inv.Number != "" {
		s = "Facture " + quote(inv.Number)
	}
	if where := cmp.Or(inv.Entry, file); where != "" {
		s += " (" + quote(where) + ")"
	}
	switch {
	case f.Field != "" && f.Value != "":
		s += " : " + f.Field + " = « " + quote(f.Value) + " »"
	case f.Field != "":
		s += " : " + f.Field
	case f.Value != "":
		s += " : « " + quote(f.Value) + " »"
	}
	return s
}

// summary is the flow-level Commentaire: what was read in the file.
func summary(rep flowgate.FlowReport) string {
	accepted, rejected := 0, 0
	for _, inv := range rep.Invoices {
		if inv.Verdict == flowgate.Accepted {
			accepted++
		} else {
			rejected++
		}
	}
	s := fmt.Sprintf("%d facture(s) intégrée(s), %d rejetée(s), %d erreur(s) de lecture", accepted, rejected, len(rep.Errors))
	if rep.File != "" {
		s = "Fichier " + quote(rep.File) + " : " + s
	}
	return s
}

// quote cuts an attacker-controlled value quoted inside a longer text.
func quote(s string) string { return clip(s, maxQuoted) }

// clean makes s valid UTF-8; encoding/xml then escapes markup and replaces
// characters XML cannot carry (controls) with U+FFFD, one for one, so rune
// counts are the character counts the schema sees.
func clean(s string) string { return strings.ToValidUTF8(s, "\uFFFD") }

// clip makes s valid UTF-8 of at most n characters, ending with "…" when cut.
func clip(s string, n int) string {
	s = clean(s)
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	i, k := 0, 0
	for i = range s {
		if k == n-1 {
			break
		}
		k++
	}
	return s[:i] + "…"
}

// timestamp formats t as an xs:dateTime with milliseconds and offset, as
// Chorus Pro does: 2018-12-18T16:51:55.000+01:00.
func timestamp(t time.Time) (string, error) {
	if t.IsZero() {
		return "", errors.New("missing time")
	}
	if y := t.Year(); y < 1 || y > 9999 {
		return "", fmt.Errorf("year %d out of range", y)
	}
	return t.Format("2006-01-02T15:04:05.000Z07:00"), nil
}

func checkPartner(id string) error {
	if len(id) < 3 || len(id) > 8 {
		return fmt.Errorf("partner id %q is not 3 to 8 characters", id)
	}
	for _, c := range []byte(id) {
		if (c < 'A' || c > 'Z') && (c < '0' || c > '9') {
			return fmt.Errorf("partner id %q is not [A-Z0-9]", id)
		}
	}
	return nil
}

func isDigits(s string, n int) bool {
	if len(s) != n {
		return false
	}
	for _, c := range []byte(s) {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

func isUpper(s string) bool {
	for _, c := range []byte(s) {
		if c < 'A' || c > 'Z' {
			return false
		}
	}
	return true
}

// encode marshals doc with the XML declaration, indented.
func encode(doc cppStatut) ([]byte, error) {
	var buf bytes.Buffer
	buf.WriteString(xml.Header)
	enc := xml.NewEncoder(&buf)
	enc.Indent("", "  ")
	if err := enc.Encode(doc); err != nil {
		return nil, fmt.Errorf("encode CPPStatut: %w", err)
	}
	buf.WriteString("\n")
	return buf.Bytes(), nil
}

// The CPPStatut document, fields in the schema's order
// (CPPStatutPivot_V1_19.xsd). Optional elements carry omitempty; required
// ones are always written.
type cppStatut struct {
	XMLName   xml.Name        `xml:"CPPStatut"`
	Enveloppe enveloppe       `xml:"Enveloppe"`
	Flux      *fluxStatuts    `xml:"CPPFluxStatuts"`
	Factures  *factureStatuts `xml:"CPPFactureStatuts"`
}

type enveloppe struct {
	Unit enveloppeUnit `xml:"EnveloppeUnitaire"`
}

type enveloppeUnit struct {
	Order    int      `xml:"NumOrdre,attr"`
	Params   []param  `xml:"Parametres>ParametreIndiv"`
	Partners partners `xml:"Partenaires"`
}

type param struct {
	Order string `xml:"NumOrdre,attr"` // four digits
	Code  string `xml:"Code"`          // five characters
	Value string `xml:"Valeurparametre"`
}

// partners: the schema puts Recepteur before Emetteur.
type partners struct {
	Receiver partner `xml:"Recepteur"`
	Sender   partner `xml:"Emetteur"`
}

type partner struct {
	ID    string `xml:"Id"`
	Label string `xml:"Libelle,omitempty"`
}

type fluxStatuts struct {
	Count int        `xml:"compteur,attr"`
	Units []fluxUnit `xml:"CPPFluxStatutUnitaire"`
}

type fluxUnit struct {
	Order int      `xml:"NumOrdre,attr"`
	Data  fluxData `xml:"DonneesStatut"`
}

type fluxData struct {
	Code       string        `xml:"IdStatut"`
	Complement string        `xml:"ComplementStatut,omitempty"`
	Comment    string        `xml:"Commentaire,omitempty"`
	Stamp      string        `xml:"Horodatage"`
	FlowID     string        `xml:"IdFlux"`
	Details    *errorDetails `xml:"Details"`
}

type errorDetails struct {
	Count int         `xml:"NbLignesErreur,attr"`
	Lines []errorLine `xml:"LigneErreurDetail"`
}

type errorLine struct {
	ID          int    `xml:"IdLigne,attr"`
	Nature      string `xml:"NatureErreur"`
	Code        string `xml:"CodeErreur"`
	Label       string `xml:"LibelleErreur"`
	Description string `xml:"DescriptionErreur,omitempty"`
}

type factureStatuts struct {
	Count int           `xml:"compteur,attr"`
	Units []factureUnit `xml:"CPPFactureStatutUnitaire"`
}

type factureUnit struct {
	Order    int         `xml:"NumOrdre,attr"`
	Supplier supplier    `xml:"Fournisseur"`
	Debtor   debtor      `xml:"Debiteur"`
	Data     factureData `xml:"DonneesStatut"`
}

type supplier struct {
	IDType  int    `xml:"TypeIdentifiant"`
	ID      string `xml:"Identifiant"`
	Name    string `xml:"RaisonSociale"`
	Country string `xml:"CodePays,omitempty"`
}

type debtor struct {
	IDType      int    `xml:"TypeIdentifiant"`
	ID          string `xml:"Identifiant"`
	Name        string `xml:"Nom,omitempty"`
	ServiceCode string `xml:"CodeService,omitempty"`
	ServiceName string `xml:"NomService,omitempty"`
}

type factureData struct {
	Code       string `xml:"IdStatut"`
	Complement string `xml:"ComplementStatut,omitempty"`
	Comment    string `xml:"Commentaire,omitempty"`
	Stamp      string `xml:"Horodatage"`
	InvoiceID  string `xml:"IdFacture"`
	Date       string `xml:"DateFacture,omitempty"`
	MandateID  string `xml:"IdMandatDP,omitempty"`
}
