package flowgate

import "strings"

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

// Invoice is what flowgate reads of one UBL 2.1 Invoice or CreditNote, or
// of one UN/CEFACT CII CrossIndustryInvoice (Kind Invoice, whatever its
// type code; parser/cii.go tells where each field is read from): the
// fields of the EN 16931 model that the integration checks and the routing
// use (DOMAIN.md §3). A syntax binding (UBL, CII) fills it; it does not
// depend on the syntax.
//
// Every string field is the element's text or the attribute's value as
// written, untrimmed (after XML's own attribute-value normalization; CII
// dates, written YYYYMMDD, are held as YYYY-MM-DD): the
// EN 16931 rules compare strings as their XPath does, where " EUR " is not
// "EUR" and U+00A0 is not a space. The hub's own checks and records
// (SIRETs, service code, invoice number, directory lookups, routing) read
// the same fields through Trimmed, as Chorus Pro reads them. An absent
// element leaves its field empty (or its Amount not Present); where a rule
// tells an absent element from an empty one (exists(x) against
// a blank normalize-space(x)), a Has* field says the element was written,
// even empty. A missing element is a finding for the validator, not a
// parse failure. Where UBL lets an element repeat or a rule's context
// match it in several places, the Other*/More fields and the line's
// TaxTotals and BillingRefs hold the rest; a binding whose syntax has no
// such element (CII) leaves them empty.
type Invoice struct {
	Kind            DocumentKind
	Syntax          string        // "ubl" or "cii", from the root element; a Factur-X reader sets "facturx"
	CustomizationID string        // BT-24 specification identifier
	Number          string        // BT-1
	IssueDate       string        // BT-2, as written (YYYY-MM-DD when well-formed)
	TaxPointDate    string        // BT-7
	HasTaxPointDate bool          // the cbc:TaxPointDate element exists, even empty
	TypeCode        string        // BT-3 (InvoiceTypeCode or CreditNoteTypeCode)
	OtherTypeCode   string        // the first type code element of the other kind (CreditNoteTypeCode in an Invoice...), which the UBL schema forbids and BR-04 reads; the hub does not
	Currency        string        // BT-5
	HasCurrency     bool          // the cbc:DocumentCurrencyCode element exists, even empty
	TaxCurrency     string        // BT-6
	HasTaxCurrency  bool          // the cbc:TaxCurrencyCode element exists, even empty
	BuyerReference  string        // BT-10 (code service in Chorus Pro)
	Contract        string        // BT-12 numéro de marché
	Order           string        // BT-13 numéro d'engagement
	Preceding       []DocumentRef // BG-3, one per cac:BillingReference (BT-25, BT-26)
	HasDueDate      bool          // a cbc:DueDate anywhere (BT-9)
	HasPaymentTerms bool          // a cac:PaymentTerms/cbc:Note anywhere (BT-20)
	Periods         []Period      // BG-14, one per document level cac:InvoicePeriod

	// Every cac:PartyTaxScheme outside the four parties below
	// (cac:BuyerCustomerParty, cac:Delivery/cac:DeliveryParty...), which
	// BR-CO-09's context //cac:PartyTaxScheme matches too.
	OtherTaxSchemes []PartyTaxScheme

	// Every cac:TaxTotal written neither at document level nor in a line
	// (in a cac:AllowanceCharge...), which the contexts of BR-CO-17
	// (cac:TaxTotal/cac:TaxSubtotal) and BR-53 (//cac:TaxTotal) match too.
	OtherTaxTotals []TaxTotal

	Seller            Party // BG-4, cac:AccountingSupplierParty/cac:Party
	Buyer             Party // BG-7, cac:AccountingCustomerParty/cac:Party
	Payee             Party // BG-10, cac:PayeeParty
	TaxRepresentative Party // BG-11, cac:TaxRepresentativeParty

	// BG-15: every cac:Delivery/cac:DeliveryLocation/cac:Address, at
	// document level and on lines.
	DeliveryAddresses []Address
	PaymentMeans      []PaymentMeans // BG-16, one per cac:PaymentMeans

	Totals           MonetaryTotal     // BG-22
	TaxTotals        []TaxTotal        // cac:TaxTotal, each with its TaxAmount (BT-110/BT-111)
	AllowanceCharges []AllowanceCharge // document level BG-20 / BG-21
	Lines            []Line            // BG-25

	// Counts of repeatable single-valued elements, for the cardinality rules.
	Count struct {
		LegalMonetaryTotal      int
		AccountingSupplierParty int
		PayeeParty              int
		TaxRepresentativeParty  int
	}
}

// Trimmed is the hub's reading of a value written in an invoice, for its
// own checks and records (SIRETs, service code, invoice number, dates,
// directory lookups, routing), following Chorus Pro: without surrounding
// white space, Unicode spaces such as U+00A0 included. The EN 16931 rules
// read the values as written instead.
func Trimmed(s string) string { return strings.TrimSpace(s) }

// ServiceCode is the recipient's service code in the hub's reading
// (Trimmed): BT-10 BuyerReference, or in older Chorus Pro UBL the buyer's
// Contact/ID.
func (inv *Invoice) ServiceCode() string {
	if r := Trimmed(inv.BuyerReference); r != "" {
		return r
	}
	return Trimmed(inv.Buyer.ContactID)
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
	Value       string
	SchemeID    string
	SchemeName  string
	HasSchemeID bool // the schemeID attribute exists, even empty
}

// Party is the seller (BG-4), the buyer (BG-7), the payee (BG-10) or the
// seller's tax representative (BG-11).
type Party struct {
	Identifiers  []Identifier     // BT-29 / BT-46 / BT-60: cac:PartyIdentification/cbc:ID
	LegalID      Identifier       // BT-30 / BT-47 / BT-61: the first cac:PartyLegalEntity's cbc:CompanyID
	HasLegalID   bool             // a cbc:CompanyID exists in some cac:PartyLegalEntity (it may repeat), even empty
	VATID        string           // BT-31 / BT-48: the first cac:PartyTaxScheme/cbc:CompanyID
	TaxSchemes   []PartyTaxScheme // every cac:PartyTaxScheme (BT-31, BT-32, BT-48, BT-63)
	Name         string           // BT-27 / BT-44: cac:PartyLegalEntity/cbc:RegistrationName, the first written in any cac:PartyLegalEntity
	HasName      bool             // that cbc:RegistrationName exists, even empty
	TradingNames []string         // BT-28 / BT-45 / BT-59 / BT-62: each cac:PartyName/cbc:Name
	Endpoint     Identifier       // BT-34 / BT-49: cbc:EndpointID
	HasEndpoint  bool             // cbc:EndpointID exists
	HasAddress   bool             // BG-5 / BG-8 / BG-12: cac:PostalAddress present
	CountryCode  string           // BT-40 / BT-55 / BT-69
	ContactID    string           // legacy Chorus Pro service code (buyer only)
}

// PartyTaxScheme is one cac:PartyTaxScheme of a party: a VAT identifier
// when its tax scheme is VAT, a tax registration identifier otherwise.
type PartyTaxScheme struct {
	CompanyID    string
	HasCompanyID bool   // cbc:CompanyID exists, even empty
	TaxScheme    string // cac:TaxScheme/cbc:ID, as written ("VAT")
}

// Address is a postal address read only for its country (BT-80 for the
// deliver to address).
type Address struct {
	CountryCode    string // cac:Country/cbc:IdentificationCode
	HasCountryCode bool   // that element exists, even empty
}

// Period is an invoicing period: BG-14 at document level, BG-26 on a line.
type Period struct {
	StartDate          string // BT-73 / BT-134
	EndDate            string // BT-74 / BT-135
	DescriptionCode    string // BT-8, document level only
	HasStartDate       bool   // each Has* tells the element exists, even empty
	HasEndDate         bool
	HasDescriptionCode bool
}

// PaymentMeans is one payment instruction (BG-16).
type PaymentMeans struct {
	Code         string // BT-81 cbc:PaymentMeansCode
	HasCode      bool
	HasAccount   bool   // cac:PayeeFinancialAccount exists (BG-17)
	AccountID    string // BT-84 cac:PayeeFinancialAccount/cbc:ID
	HasAccountID bool
}

// TaxCategory is the VAT category of a line (cac:ClassifiedTaxCategory,
// BT-151) or of a document level allowance or charge (cac:TaxCategory,
// BT-95 / BT-102): the first element written. The element may repeat, and
// the rules read the whole sequence (the one whose tax scheme is VAT): More
// holds the others, in order.
type TaxCategory struct {
	ID        string        // the category code ("S", "Z", ...)
	HasID     bool          // cbc:ID exists, even empty
	TaxScheme string        // cac:TaxScheme/cbc:ID, as written ("VAT")
	More      []TaxCategory // the categories written after this one; each has no More
}

// SIRET returns the party's SIRET in the hub's reading (Trimmed, value and
// scheme attributes alike): the first identifier in scheme 0009
// (ISO 6523 code for SIRET) or, in legacy Chorus Pro UBL, schemeName "1"
// (in CII: ram:ID then ram:GlobalID, in document order); failing that a
// legal identifier in scheme 0009; failing that, as older Chorus Pro files
// wrote it, a legal identifier of 14 digits in scheme 0002 (the SIREN's
// scheme, where 14 digits can only be a SIRET). The second result is false
// when the party names no SIRET at all.
func (p *Party) SIRET() (string, bool) {
	for _, id := range p.Identifiers {
		if scheme := Trimmed(id.SchemeID); scheme == "0009" || scheme == "" && Trimmed(id.SchemeName) == "1" {
			return Trimmed(id.Value), true
		}
	}
	if v := Trimmed(p.LegalID.Value); Trimmed(p.LegalID.SchemeID) == "0009" && v != "" {
		return v, true
	}
	if v := p.LegalID.Value; p.LegalID.SchemeID == "0002" && len(v) == 14 && strings.Trim(v, "0123456789") == "" {
		return v, true
	}
	return "", false
}

// Amount is a monetary amount as written: its literal, its currencyID
// attribute, and its value when the literal is a valid xs:decimal.
type Amount struct {
	Present     bool    // the element exists
	Raw         string  // the literal as written, untrimmed
	Currency    string  // currencyID attribute, as written
	HasCurrency bool    // the currencyID attribute exists, even empty
	Value       Decimal // valid only when OK
	OK          bool    // Raw is a valid xs:decimal (space, tab, CR, LF around it allowed, as the cast allows)
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
	HasPercent    bool   // cbc:Percent exists, even empty
	TaxScheme     string // cac:TaxCategory/cac:TaxScheme/cbc:ID, as written ("VAT")
}

// AllowanceCharge is a document level allowance (BG-20) or charge (BG-21),
// or an invoice line allowance (BG-27) or charge (BG-28).
type AllowanceCharge struct {
	ChargeIndicator string      // "true" for a charge, "false" for an allowance, as written
	Amount          Amount      // BT-92 / BT-99 / BT-136 / BT-141
	Reason          string      // BT-97 / BT-104 / BT-139 / BT-144
	HasReason       bool        // cbc:AllowanceChargeReason exists, even empty
	ReasonCode      string      // BT-98 / BT-105 / BT-140 / BT-145
	HasReasonCode   bool        // cbc:AllowanceChargeReasonCode exists, even empty
	TaxCategory     TaxCategory // BT-95 / BT-102, document level only
}

// IsCharge reports whether the indicator reads as xs:boolean true ("true"
// or "1"); IsAllowance whether it reads as false ("false" or "0"). An
// indicator that is neither is neither, as in the EN 16931 Schematron.
// The cast to xs:boolean allows space, tab, CR and LF around the literal.
func (ac *AllowanceCharge) IsCharge() bool {
	v := strings.Trim(ac.ChargeIndicator, xmlSpace)
	return v == "true" || v == "1"
}

// IsAllowance: see IsCharge.
func (ac *AllowanceCharge) IsAllowance() bool {
	v := strings.Trim(ac.ChargeIndicator, xmlSpace)
	return v == "false" || v == "0"
}

// xmlSpace is XML's white space, which XPath's normalize-space and the
// casts to xs:decimal and xs:boolean trim: no other Unicode space.
const xmlSpace = " \t\r\n"

// Line is an invoice line (BG-25): cac:InvoiceLine or cac:CreditNoteLine.
type Line struct {
	ID            string      // BT-126
	Quantity      Amount      // BT-129, its unitCode in Unit
	Unit          string      // BT-130
	HasUnit       bool        // the unitCode attribute exists, even empty
	LineExtension Amount      // BT-131
	ItemName      string      // BT-153
	Price         Amount      // BT-146
	TaxCategory   TaxCategory // BT-151: cac:Item/cac:ClassifiedTaxCategory

	// Details holds the parts of a line few invoices use, so that lines
	// stay small; nil when the line has none of them.
	Details *LineDetails
}

// LineDetails is the less used part of an invoice line.
type LineDetails struct {
	GrossPrice       Amount            // BT-148: cac:Price/cac:AllowanceCharge/cbc:BaseAmount, of the first cac:AllowanceCharge
	OtherGrossPrices []Amount          // the cbc:BaseAmount of each later cac:Price/cac:AllowanceCharge: it may repeat, and BR-28 reads the sequence
	AllowanceCharges []AllowanceCharge // BG-27 / BG-28: cac:AllowanceCharge of the line
	Periods          []Period          // BG-26: cac:InvoicePeriod of the line
	StandardIDs      []Identifier      // BT-157: cac:Item/cac:StandardItemIdentification/cbc:ID
	Classifications  []Code            // BT-158: cac:Item/cac:CommodityClassification/cbc:ItemClassificationCode
	Attributes       []ItemAttribute   // BG-32: cac:Item/cac:AdditionalItemProperty

	// Aggregates no business term of a line has, which EN 16931 does not
	// expect there (UBL-CR rules warn) but whose rules' contexts match
	// them wherever they are written: BR-55 (cac:BillingReference),
	// BR-CO-17 (cac:TaxTotal/cac:TaxSubtotal), BR-53 (//cac:TaxTotal).
	TaxTotals   []TaxTotal    // cac:TaxTotal of the line
	BillingRefs []DocumentRef // cac:BillingReference of the line
}

// Code is a code with its list attribute as written.
type Code struct {
	Value     string
	ListID    string
	HasListID bool // the listID attribute exists, even empty
}

// ItemAttribute is an item attribute (BG-32): its name (BT-160) and value (BT-161).
type ItemAttribute struct {
	Name     string
	Value    string
	HasName  bool // cbc:Name exists, even empty
	HasValue bool // cbc:Value exists, even empty
}
