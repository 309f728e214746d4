package validator

import (
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"flowgate"
	"flowgate/directory"
)

// ReservedService is the service code kept for invoices between public
// bodies (DOMAIN.md §5).
const ReservedService = "FACTURES_PUBLIQUES"

// Type codes accepted by the hub: 380 and 381 of Chorus Pro, and those the
// 2026 reform adds (DOMAIN.md §3).
var typeCodes = []string{"380", "381", "384", "386", "389", "261", "262", "393", "396",
	"471", "472", "473", "500", "501", "502", "503"}

// Sender is the partner that deposited the flow: the SIRETs it may deposit for.
type Sender struct {
	ID     string
	SIRETs []string
}

// DuplicateKey identifies an invoice for the duplicate check: the same
// supplier may not use the same number twice in a year.
type DuplicateKey struct {
	SupplierSIRET string
	Number        string
	Year          string
}

// History is the memory of accepted invoices for the duplicate check.
// Validate only asks Seen; CheckFlow also calls Add for each invoice it
// accepts.
type History interface {
	Seen(DuplicateKey) bool
	Add(DuplicateKey)
}

// Input is what one invoice is checked against. Nil fields skip their checks:
// without Directory, the directory rules; without Sender, the habilitation;
// without History, the duplicate check.
type Input struct {
	Directory *directory.Snapshot
	Sender    *Sender
	History   History
}

// KeyOf returns the invoice's duplicate key, in the hub's reading
// (flowgate.Trimmed), and false when it lacks the parts (its supplier SIRET
// or number), which other findings report.
func KeyOf(inv *flowgate.Invoice) (DuplicateKey, bool) {
	siret, _ := inv.Seller.SIRET()
	number := flowgate.Trimmed(inv.Number)
	if siret == "" || number == "" {
		return DuplicateKey{}, false
	}
	year := flowgate.Trimmed(inv.IssueDate)
	if len(year) >= 4 {
		year = year[:4]
	}
	return DuplicateKey{SupplierSIRET: siret, Number: number, Year: year}, true
}

// Validate runs every check on one invoice and returns its findings, EN 16931
// rules first, then the French rules, then the hub's own. It is a pure
// function: same invoice and input, same findings. The invoice is rejected
// when any finding is fatal.
//
// Findings are capped (MaxPerRule of each code, MaxPerInvoice in all, each
// quoting at most MaxValue characters of the invoice): those past a cap are
// counted in summary findings, which keep the verdict unchanged. Whatever
// the invoice, the result holds at most MaxPerInvoice findings plus one per
// code and one more.
func Validate(inv *flowgate.Invoice, in Input) []flowgate.Finding {
	c := &checker{inv: inv, in: in}
	for i := range enRules {
		enRules[i].run(inv, &c.fs)
	}
	c.french()
	c.chorus()
	return c.fs.list()
}

type checker struct {
	inv *flowgate.Invoice
	in  Input
	fs  findings
}

// fatal adds a fatal finding. Invoice values quoted in fr and en must be
// cut with clipValue; value is cut here.
func (c *checker) fatal(code, field, value, fr, en string) {
	c.fs.add(flowgate.Finding{Code: code, Severity: flowgate.Fatal, Field: field,
		Value: value, MessageFR: fr, Message: en})
}

// french runs the rules of the French CIUS and Chorus Pro on the document
// alone. They read the invoice as the hub does (flowgate.Trimmed), as
// Chorus Pro reads it, not as written.
func (c *checker) french() {
	inv := c.inv
	number, date, typeCode := flowgate.Trimmed(inv.Number), flowgate.Trimmed(inv.IssueDate), flowgate.Trimmed(inv.TypeCode)
	if number == "" {
		// A number of Unicode spaces only (U+00A0...) passes BR-02, to
		// which they are no space: BR-FR-02 names them.
		number = inv.Number
	}
	if n := utf8.RuneCountInString(number); n > 35 {
		c.fatal("BR-FR-01", "BT-1", number,
			fmt.Sprintf("Le numéro de facture (BT-1) compte %d caractères, 35 au plus sont admis.", n),
			fmt.Sprintf("The invoice number (BT-1) has %d characters, at most 35 are allowed.", n))
	}
	if bad := badNumberChars(number); bad != "" {
		c.fatal("BR-FR-02", "BT-1", number,
			fmt.Sprintf("Le numéro de facture (BT-1) contient des caractères non admis (%s) : seuls A-Z a-z 0-9 + - _ / sont acceptés.", clipValue(bad)),
			fmt.Sprintf("The invoice number (BT-1) holds characters that are not allowed (%s): only A-Z a-z 0-9 + - _ / are accepted.", clipValue(bad)))
	}
	if date != "" && !IsDate(date) {
		c.fatal("CPP-DATE", "BT-2", date,
			"La date d'émission (BT-2) « "+clipValue(date)+" » n'est pas une date AAAA-MM-JJ valide.",
			"The issue date (BT-2) '"+clipValue(date)+"' is not a valid YYYY-MM-DD date.")
	}
	if typeCode == "381" && !slices.ContainsFunc(inv.Preceding, func(r flowgate.DocumentRef) bool { return flowgate.Trimmed(r.ID) != "" }) {
		c.fatal("BR-FR-CO-05", "BT-25", "",
			"Un avoir (381) doit référencer la facture qu'il annule (BT-25, BillingReference/InvoiceDocumentReference/ID).",
			"A credit note (381) must reference the invoice it cancels (BT-25, BillingReference/InvoiceDocumentReference/ID).")
	}
	if typeCode != "" && !slices.Contains(typeCodes, typeCode) {
		c.fatal("CPP-TYPE", "BT-3", typeCode,
			"Le type de facture "+clipValue(typeCode)+" n'est pas accepté (380, 381, 384, 386, 389, 261, 262, 393, 396, 471, 472, 473, 500 à 503).",
			"Invoice type code "+clipValue(typeCode)+" is not accepted (380, 381, 384, 386, 389, 261, 262, 393, 396, 471, 472, 473, 500 to 503).")
	}
	if typeCode == "381" {
		c.negativeCreditNote()
	}

	siret, named := inv.Seller.SIRET()
	switch {
	case !named || siret == "":
		c.fatal("FR-SIRET-FOURNISSEUR", "BT-29", "",
			"Le SIRET du fournisseur est absent (BT-29 : PartyIdentification/ID avec schemeID=\"0009\").",
			"The supplier SIRET is missing (BT-29: PartyIdentification/ID with schemeID=\"0009\").")
	default:
		if why := CheckSIRET(siret); why != nil {
			c.fatal("FR-SIRET-FOURNISSEUR", "BT-29", siret,
				"Le SIRET du fournisseur "+clipValue(siret)+" est mal formé : "+why.FR+".",
				"The supplier SIRET "+clipValue(siret)+" is malformed: "+why.EN+".")
		}
	}
}

// negativeCreditNote: Chorus Pro takes credit notes with positive amounts only.
func (c *checker) negativeCreditNote() {
	t := &c.inv.Totals
	for _, x := range []struct {
		bt string
		a  flowgate.Amount
	}{{"BT-112", t.TaxInclusive}, {"BT-109", t.TaxExclusive}, {"BT-115", t.Payable}} {
		if raw := flowgate.Trimmed(x.a.Raw); x.a.OK && x.a.Value.Sign() < 0 {
			c.fatal("CPP-MONTANT-NEGATIF", x.bt, raw,
				"Un avoir (381) doit porter des montants positifs : "+x.bt+" vaut "+clipValue(raw)+".",
				"A credit note (381) must carry positive amounts: "+x.bt+" is "+clipValue(raw)+".")
			return
		}
	}
}

// IsDate reports whether s is an xs:date as UBL writes dates: YYYY-MM-DD,
// an existing day, optionally followed by a time zone (Z or ±hh:mm).
func IsDate(s string) bool {
	if len(s) < 10 {
		return false
	}
	if _, err := time.Parse(time.DateOnly, s[:10]); err != nil {
		return false
	}
	switch tz := s[10:]; {
	case tz == "", tz == "Z":
		return true
	case len(tz) == 6 && (tz[0] == '+' || tz[0] == '-') && tz[3] == ':':
		_, err := time.Parse("15:04", tz[1:])
		return err == nil
	}
	return false
}

// badNumberChars lists the distinct characters of s that an invoice number
// may not hold, in order of first appearance: at most maxBadChars, then
// "…". The cap keeps the scan linear whatever the number holds.
func badNumberChars(s string) string {
	var bad []rune
	more := false
	for _, r := range s {
		ok := r >= 'A' && r <= 'Z' || r >= 'a' && r <= 'z' || r >= '0' && r <= '9' ||
			r == '+' || r == '-' || r == '_' || r == '/'
		if ok || slices.Contains(bad, r) {
			continue
		}
		if len(bad) == maxBadChars {
			more = true
			break
		}
		bad = append(bad, r)
	}
	out := make([]string, 0, len(bad)+1)
	for _, r := range bad {
		q := fmt.Sprintf("%q", r)
		if r == ' ' {
			q = "espace/space"
		}
		out = append(out, q)
	}
	if more {
		out = append(out, "…")
	}
	return strings.Join(out, " ")
}

// maxBadChars is how many characters BR-FR-02 names.
const maxBadChars = 10

// chorus runs the hub's checks against the directory, the sender and the
// history of accepted invoices.
func (c *checker) chorus() {
	inv := c.inv
	supplier, _ := inv.Seller.SIRET()
	if s := c.in.Sender; s != nil && supplier != "" && !slices.Contains(s.SIRETs, supplier) {
		c.fatal("CPP-EMETTEUR-NON-HABILITE", "BT-29", supplier,
			"Le partenaire "+s.ID+" n'est pas habilité à déposer des factures pour le SIRET "+clipValue(supplier)+".",
			"Partner "+s.ID+" may not deposit invoices for SIRET "+clipValue(supplier)+".")
	}
	if h := c.in.History; h != nil {
		if key, ok := KeyOf(inv); ok && h.Seen(key) {
			c.fatal("CPP-DOUBLON", "BT-1", key.Number,
				"La facture "+clipValue(key.Number)+" du fournisseur "+clipValue(supplier)+" a déjà été déposée pour l'année "+key.Year+".",
				"Invoice "+clipValue(key.Number)+" of supplier "+clipValue(supplier)+" was already deposited for year "+key.Year+".")
		}
	}
	c.recipient(supplier)
}

func (c *checker) recipient(supplier string) {
	inv := c.inv
	dir := c.in.Directory
	siret, named := inv.Buyer.SIRET()
	if !named || siret == "" {
		c.fatal("FR-SIRET-DESTINATAIRE", "BT-46", "",
			"Le SIRET du destinataire est absent (BT-46 : PartyIdentification/ID avec schemeID=\"0009\").",
			"The recipient SIRET is missing (BT-46: PartyIdentification/ID with schemeID=\"0009\").")
		return
	}
	var st directory.Structure
	found := false
	if dir != nil {
		st, found = dir.Structure(siret)
	}
	if !found {
		// The directory is authoritative: a SIRET it lists is routable even
		// when it fails the checksum. One it does not list is malformed or
		// unknown, and the checksum says which.
		if why := CheckSIRET(siret); why != nil {
			c.fatal("FR-SIRET-DESTINATAIRE", "BT-46", siret,
				"Le SIRET du destinataire "+clipValue(siret)+" est mal formé : "+why.FR+".",
				"The recipient SIRET "+clipValue(siret)+" is malformed: "+why.EN+".")
			return
		}
	}
	if dir == nil {
		return
	}
	if !found {
		c.fatal("CPP-DEST-INCONNU", "BT-46", siret,
			"Le destinataire "+clipValue(siret)+" n'est pas une structure de l'annuaire.",
			"Recipient "+clipValue(siret)+" is not a structure of the directory.")
		return
	}
	if !st.Active {
		c.fatal("CPP-DEST-INACTIF", "BT-46", siret,
			"La structure destinataire "+clipValue(siret)+" ("+clipValue(st.Name)+") est inactive : elle ne reçoit plus de factures.",
			"Recipient structure "+clipValue(siret)+" ("+clipValue(st.Name)+") is inactive: it no longer receives invoices.")
		return
	}

	code := inv.ServiceCode()
	engagement := flowgate.Trimmed(inv.Order)
	engagementRequired := st.EngagementRequired
	switch {
	case code == "" && st.ServiceRequired:
		c.fatal("CPP-SERVICE-OBLIGATOIRE", "BT-10", "",
			"La structure "+clipValue(siret)+" ("+clipValue(st.Name)+") exige un code service (BT-10, BuyerReference).",
			"Structure "+clipValue(siret)+" ("+clipValue(st.Name)+") requires a service code (BT-10, BuyerReference).")
	case code == ReservedService:
		if _, public := dir.Structure(supplier); !public {
			c.fatal("CPP-SERVICE-RESERVE", "BT-10", code,
				"Le code service "+ReservedService+" est réservé aux factures entre structures publiques ; le fournisseur "+clipValue(supplier)+" n'en est pas une.",
				"Service code "+ReservedService+" is reserved for invoices between public bodies; supplier "+clipValue(supplier)+" is not one.")
		}
	case code != "":
		svc, ok := dir.Service(siret, code)
		switch {
		case !ok:
			c.fatal("CPP-SERVICE-INCONNU", "BT-10", code,
				"Le code service « "+clipValue(code)+" » n'existe pas pour la structure "+clipValue(siret)+" ("+clipValue(st.Name)+").",
				"Service code '"+clipValue(code)+"' does not exist for structure "+clipValue(siret)+" ("+clipValue(st.Name)+").")
		case !svc.Active:
			c.fatal("CPP-SERVICE-INACTIF", "BT-10", code,
				"Le service « "+clipValue(code)+" » ("+clipValue(svc.Name)+") de la structure "+clipValue(siret)+" est inactif.",
				"Service '"+clipValue(code)+"' ("+clipValue(svc.Name)+") of structure "+clipValue(siret)+" is inactive.")
		default:
			engagementRequired = engagementRequired || svc.EngagementRequired
		}
	}
	if engagement == "" {
		switch {
		case engagementRequired:
			c.fatal("CPP-ENGAGEMENT-OBLIGATOIRE", "BT-13", "",
				"Le destinataire "+clipValue(siret)+" exige un numéro d'engagement (BT-13, OrderReference/ID).",
				"Recipient "+clipValue(siret)+" requires an engagement number (BT-13, OrderReference/ID).")
		case st.ServiceOrEngagementRequired && code == "":
			c.fatal("CPP-SERVICE-OU-ENGAGEMENT", "BT-10", "",
				"La structure "+clipValue(siret)+" ("+clipValue(st.Name)+") exige un code service (BT-10) ou un numéro d'engagement (BT-13).",
				"Structure "+clipValue(siret)+" ("+clipValue(st.Name)+") requires a service code (BT-10) or an engagement number (BT-13).")
		}
	}
}

// SIRETError says why a SIRET is malformed, in French and English.
type SIRETError struct{ FR, EN string }

func (e *SIRETError) Error() string { return "malformed SIRET: " + e.EN }

// CheckSIRET checks a SIRET's shape and key: 14 digits and the Luhn
// checksum, or for La Poste (SIREN 356000000), whose establishments
// outnumber what the Luhn key allows, a digit sum divisible by 5. It returns
// nil for a valid SIRET.
func CheckSIRET(s string) *SIRETError {
	if len(s) != 14 {
		n := utf8.RuneCountInString(s)
		return &SIRETError{fmt.Sprintf("%d caractères au lieu de 14", n), fmt.Sprintf("%d characters instead of 14", n)}
	}
	sum, digits := 0, 0
	for i := 0; i < 14; i++ {
		c := s[i]
		if c < '0' || c > '9' {
			return &SIRETError{"il ne doit contenir que des chiffres", "it must hold digits only"}
		}
		d := int(c - '0')
		digits += d
		if i%2 == 0 { // from the right, every second digit: positions 13, 11... are even from the left
			d *= 2
			if d > 9 {
				d -= 9
			}
		}
		sum += d
	}
	if sum%10 == 0 || s[:9] == "356000000" && digits%5 == 0 {
		return nil
	}
	return &SIRETError{"clé de contrôle (Luhn) invalide", "invalid check key (Luhn)"}
}
