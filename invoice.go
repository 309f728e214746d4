package flowgate

// DocumentKind tells a UBL Invoice from a UBL CreditNote.
type DocumentKind uint8

const (
	KindInvoice DocumentKind = iota + 1
	KindCreditNote
)

func (k DocumentKind) String() string {
	switch k {
	case KindInvoice:
		return "Invoice"
	case KindCreditNote:
		return "CreditNote"
	}
	return "unknown"
}

// Invoice is what flowgate reads of one UBL 2.1 Invoice or CreditNote: the
// fields of the EN 16931 model that the integration checks and the routing
// use (DOMAIN.md §3). Every field is as written in the document, trimmed of
// surrounding whitespace; an absent element leaves its field empty (or its
// Amount not Present): a missing element is a finding for the validator, not
// a parse failure.
type Invoice struct {
	Kind            DocumentKind
	CustomizationID string        // BT-24 specification identifier
	Number          string        // BT-1
	IssueDate       string        // BT-2, as written (YYYY-MM-DD when well-formed)
	TypeCode        string        // BT-3 (InvoiceTypeCode or CreditNoteTypeCode)
	Currency        string        // BT-5
	TaxCurrency     string        // BT-6
	BuyerReference  string        // BT-10 (code service in Chorus Pro)
	Contract        string        // BT-12 numéro de marché
	Order           string        // BT-13 numéro d'engagement
	Preceding       []DocumentRef // BG-3, one per cac:BillingReference (BT-25, BT-26)
	HasDueDate      bool          // a cbc:DueDate anywhere (BT-9)
	HasPaymentTerms bool          // a cac:PaymentTerms/cbc:Note anywhere (BT-20)

	Seller Party // BG-4
	Buyer  Party // BG-7

	Totals           MonetaryTotal     // BG-22
	TaxTotals        []TaxTotal        // cac:TaxTotal, each with its TaxAmount (BT-110/BT-111)
	AllowanceCharges []AllowanceCharge // document level BG-20 / BG-21
	Lines            []Line            // BG-25

	// Counts of repeatable single-valued elements, for the cardinality rules.
	Count struct {
		LegalMonetaryTotal int
	}
}

// ServiceCode is the recipient's service code: BT-10 BuyerReference, or in
// older Chorus Pro UBL the buyer's Contact/ID.
func (inv *Invoice) ServiceCode() string {
	if inv.BuyerReference != "" {
		return inv.BuyerReference
	}
	return inv.Buyer.ContactID
}

// DocumentRef is a preceding invoice reference (BG-3): one
// cac:BillingReference and its cac:InvoiceDocumentReference.
type DocumentRef struct {
	ID        string // BT-25
	HasID     bool   // the cbc:ID element exists, even empty
	IssueDate string // BT-26
}

// Identifier is an identifier with its scheme attributes as written.
type Identifier struct {
	Value      string
	SchemeID   string
	SchemeName string
}

// Party is the seller (BG-4) or the buyer (BG-7).
type Party struct {
	Identifiers []Identifier // BT-29 / BT-46: cac:PartyIdentification/cbc:ID
	LegalID     Identifier   // BT-30 / BT-47: cac:PartyLegalEntity/cbc:CompanyID
	VATID       string       // BT-31 / BT-48: cac:PartyTaxScheme/cbc:CompanyID
	Name        string       // BT-27 / BT-44: cac:PartyLegalEntity/cbc:RegistrationName
	HasAddress  bool         // BG-5 / BG-8: cac:PostalAddress present
	CountryCode string       // BT-40 / BT-55
	ContactID   string       // legacy Chorus Pro service code (buyer only)
}

// SIRET returns the party's SIRET: the first identifier in scheme 0009
// (ISO 6523 code for SIRET) or, in legacy Chorus Pro UBL, schemeName "1";
// failing that a legal identifier in scheme 0009. The second result is false
// when the party names no SIRET at all.
func (p *Party) SIRET() (string, bool) {
	for _, id := range p.Identifiers {
		if id.SchemeID == "0009" || id.SchemeID == "" && id.SchemeName == "1" {
			return id.Value, true
		}
	}
	if p.LegalID.SchemeID == "0009" && p.LegalID.Value != "" {
		return p.LegalID.Value, true
	}
	return "", false
}

// Amount is a monetary amount as written: its literal, its currencyID
// attribute, and its value when the literal is a valid xs:decimal.
type Amount struct {
	Present  bool    // the element exists
	Raw      string  // the literal, trimmed
	Currency string  // currencyID attribute
	Value    Decimal // valid only when OK
	OK       bool    // Raw is a valid decimal
}

// MonetaryTotal is BG-22, cac:LegalMonetaryTotal.
type MonetaryTotal struct {
	LineExtension  Amount // BT-106
	TaxExclusive   Amount // BT-109
	TaxInclusive   Amount // BT-112
	AllowanceTotal Amount // BT-107
	ChargeTotal    Amount // BT-108
	Prepaid        Amount // BT-113
	Rounding       Amount // BT-114
	Payable        Amount // BT-115
}

// TaxTotal is one cac:TaxTotal: its total (BT-110, or BT-111 in the tax
// currency) and its VAT breakdown (BG-23).
type TaxTotal struct {
	TaxAmount Amount
	Subtotals []TaxSubtotal
}

// TaxSubtotal is one VAT breakdown (BG-23).
type TaxSubtotal struct {
	TaxableAmount Amount // BT-116
	TaxAmount     Amount // BT-117
	Category      string // BT-118
	Percent       string // BT-119
}

// AllowanceCharge is a document level allowance (BG-20) or charge (BG-21).
type AllowanceCharge struct {
	ChargeIndicator string // "true" for a charge, "false" for an allowance, as written
	Amount          Amount // BT-92 / BT-99
}

// IsCharge reports whether the indicator reads as xs:boolean true ("true"
// or "1"); IsAllowance whether it reads as false ("false" or "0"). An
// indicator that is neither is neither, as in the EN 16931 Schematron.
func (ac *AllowanceCharge) IsCharge() bool {
	return ac.ChargeIndicator == "true" || ac.ChargeIndicator == "1"
}

// IsAllowance: see IsCharge.
func (ac *AllowanceCharge) IsAllowance() bool {
	return ac.ChargeIndicator == "false" || ac.ChargeIndicator == "0"
}

// Line is an invoice line (BG-25): cac:InvoiceLine or cac:CreditNoteLine.
type Line struct {
	ID            string // BT-126
	Quantity      Amount // BT-129, its unitCode in Unit
	Unit          string // BT-130
	HasUnit       bool   // the unitCode attribute exists, even empty
	LineExtension Amount // BT-131
	ItemName      string // BT-153
	Price         Amount // BT-146
}
