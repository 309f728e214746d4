package parser

import (
	"fmt"

	"flowgate"
)

// UBL 2.1 namespaces (DOMAIN.md §3). Elements are matched by these URIs,
// whatever prefix a sender chose.
const (
	NSInvoice    = "urn:oasis:names:specification:ubl:schema:xsd:Invoice-2"
	NSCreditNote = "urn:oasis:names:specification:ubl:schema:xsd:CreditNote-2"
	NSCAC        = "urn:oasis:names:specification:ubl:schema:xsd:CommonAggregateComponents-2"
	NSCBC        = "urn:oasis:names:specification:ubl:schema:xsd:CommonBasicComponents-2"
)

// elem identifies the UBL elements the parser reads; everything else is elOther.
type elem uint8

const (
	elOther elem = iota
	elInvoice
	elCreditNote

	// cac
	elAccountingSupplierParty
	elAccountingCustomerParty
	elParty
	elPartyIdentification
	elPartyLegalEntity
	elPartyTaxScheme
	elPostalAddress
	elCountry
	elContact
	elLegalMonetaryTotal
	elTaxTotal
	elTaxSubtotal
	elTaxCategory
	elAllowanceCharge
	elInvoiceLine
	elCreditNoteLine
	elItem
	elPrice
	elBillingReference
	elInvoiceDocumentReference
	elOrderReference
	elContractDocumentReference
	elPaymentTerms
	elPayeeParty
	elTaxRepresentativeParty
	elPartyName
	elPaymentMeans
	elPayeeFinancialAccount
	elDelivery
	elDeliveryLocation
	elAddress
	elInvoicePeriod
	elTaxScheme
	elClassifiedTaxCategory
	elStandardItemIdentification
	elCommodityClassification
	elAdditionalItemProperty

	// cbc
	elCustomizationID
	elID
	elIssueDate
	elInvoiceTypeCode
	elCreditNoteTypeCode
	elDocumentCurrencyCode
	elTaxCurrencyCode
	elBuyerReference
	elRegistrationName
	elCompanyID
	elIdentificationCode
	elLineExtensionAmount
	elTaxExclusiveAmount
	elTaxInclusiveAmount
	elAllowanceTotalAmount
	elChargeTotalAmount
	elPrepaidAmount
	elPayableRoundingAmount
	elPayableAmount
	elTaxAmount
	elTaxableAmount
	elPercent
	elChargeIndicator
	elAmount
	elInvoicedQuantity
	elCreditedQuantity
	elName
	elPriceAmount
	elDueDate
	elNote
	elEndpointID
	elTaxPointDate
	elStartDate
	elEndDate
	elDescriptionCode
	elAllowanceChargeReason
	elAllowanceChargeReasonCode
	elBaseAmount
	elPaymentMeansCode
	elItemClassificationCode
	elValue

	elCount // number of elems, for elemSet
)

// elemSet is a set of elems.
type elemSet [(elCount + 63) / 64]uint64

func (s *elemSet) has(e elem) bool { return s[e/64]&(1<<(e%64)) != 0 }
func (s *elemSet) add(e elem)      { s[e/64] |= 1 << (e % 64) }

// singular[p] holds the children that element p may have only once, from
// the UBL 2.1 schemas (ubl_schema.go).
var singular = func() (t [elCount]elemSet) {
	for p, children := range singularChildren {
		for _, c := range children {
			t[p].add(c)
		}
	}
	return t
}()

// elemNames gives the qualified name of each elem, with the usual prefix.
var elemNames = func() (t [elCount]string) {
	t[elInvoice], t[elCreditNote] = "Invoice", "CreditNote"
	for name, e := range cacElems {
		t[e] = "cac:" + name
	}
	for name, e := range cbcElems {
		t[e] = "cbc:" + name
	}
	return t
}()

var cacElems = map[string]elem{
	"AccountingSupplierParty":    elAccountingSupplierParty,
	"AccountingCustomerParty":    elAccountingCustomerParty,
	"Party":                      elParty,
	"PartyIdentification":        elPartyIdentification,
	"PartyLegalEntity":           elPartyLegalEntity,
	"PartyTaxScheme":             elPartyTaxScheme,
	"PostalAddress":              elPostalAddress,
	"Country":                    elCountry,
	"Contact":                    elContact,
	"LegalMonetaryTotal":         elLegalMonetaryTotal,
	"TaxTotal":                   elTaxTotal,
	"TaxSubtotal":                elTaxSubtotal,
	"TaxCategory":                elTaxCategory,
	"AllowanceCharge":            elAllowanceCharge,
	"InvoiceLine":                elInvoiceLine,
	"CreditNoteLine":             elCreditNoteLine,
	"Item":                       elItem,
	"Price":                      elPrice,
	"BillingReference":           elBillingReference,
	"InvoiceDocumentReference":   elInvoiceDocumentReference,
	"OrderReference":             elOrderReference,
	"ContractDocumentReference":  elContractDocumentReference,
	"PaymentTerms":               elPaymentTerms,
	"PayeeParty":                 elPayeeParty,
	"TaxRepresentativeParty":     elTaxRepresentativeParty,
	"PartyName":                  elPartyName,
	"PaymentMeans":               elPaymentMeans,
	"PayeeFinancialAccount":      elPayeeFinancialAccount,
	"Delivery":                   elDelivery,
	"DeliveryLocation":           elDeliveryLocation,
	"Address":                    elAddress,
	"InvoicePeriod":              elInvoicePeriod,
	"TaxScheme":                  elTaxScheme,
	"ClassifiedTaxCategory":      elClassifiedTaxCategory,
	"StandardItemIdentification": elStandardItemIdentification,
	"CommodityClassification":    elCommodityClassification,
	"AdditionalItemProperty":     elAdditionalItemProperty,
}

var cbcElems = map[string]elem{
	"CustomizationID":           elCustomizationID,
	"ID":                        elID,
	"IssueDate":                 elIssueDate,
	"InvoiceTypeCode":           elInvoiceTypeCode,
	"CreditNoteTypeCode":        elCreditNoteTypeCode,
	"DocumentCurrencyCode":      elDocumentCurrencyCode,
	"TaxCurrencyCode":           elTaxCurrencyCode,
	"BuyerReference":            elBuyerReference,
	"RegistrationName":          elRegistrationName,
	"CompanyID":                 elCompanyID,
	"IdentificationCode":        elIdentificationCode,
	"LineExtensionAmount":       elLineExtensionAmount,
	"TaxExclusiveAmount":        elTaxExclusiveAmount,
	"TaxInclusiveAmount":        elTaxInclusiveAmount,
	"AllowanceTotalAmount":      elAllowanceTotalAmount,
	"ChargeTotalAmount":         elChargeTotalAmount,
	"PrepaidAmount":             elPrepaidAmount,
	"PayableRoundingAmount":     elPayableRoundingAmount,
	"PayableAmount":             elPayableAmount,
	"TaxAmount":                 elTaxAmount,
	"TaxableAmount":             elTaxableAmount,
	"Percent":                   elPercent,
	"ChargeIndicator":           elChargeIndicator,
	"Amount":                    elAmount,
	"InvoicedQuantity":          elInvoicedQuantity,
	"CreditedQuantity":          elCreditedQuantity,
	"Name":                      elName,
	"PriceAmount":               elPriceAmount,
	"DueDate":                   elDueDate,
	"Note":                      elNote,
	"EndpointID":                elEndpointID,
	"TaxPointDate":              elTaxPointDate,
	"StartDate":                 elStartDate,
	"EndDate":                   elEndDate,
	"DescriptionCode":           elDescriptionCode,
	"AllowanceChargeReason":     elAllowanceChargeReason,
	"AllowanceChargeReasonCode": elAllowanceChargeReasonCode,
	"BaseAmount":                elBaseAmount,
	"PaymentMeansCode":          elPaymentMeansCode,
	"ItemClassificationCode":    elItemClassificationCode,
	"Value":                     elValue,
}

// builder turns the token stream of one UBL document into an Invoice. It
// keeps the path of open elements and reads a value when a leaf closes at a
// path it knows.
type builder struct {
	inv    *flowgate.Invoice
	stack  []elem
	frames []frame // one per stack entry

	records int // records appended to the Invoice's slices, at most MaxRecords
	inLeaf  int // open elements inside a leaf (which the schema forbids)

	// schemaErr is the first break of the UBL schema's cardinalities: the
	// document is still scanned to its end, so that a malformed one is
	// refused as such.
	schemaErr *flowgate.FlowError

	textBuf

	// Attributes of the innermost start tag that matter for leaves.
	schemeID, schemeName, currencyID, unitCode, listID string
	hasUnitCode, hasSchemeID, hasListID, hasCurrencyID bool
}

// frame is what the builder knows of one open element besides its elem.
type frame struct {
	first bool    // no sibling before it had the same elem, as XPath's [1] would select it
	seen  elemSet // known children opened so far
}

// classify names the element the scanner is on.
func classify(space, local []byte) elem {
	switch string(space) {
	case NSCBC:
		return cbcElems[string(local)]
	case NSCAC:
		return cacElems[string(local)]
	}
	return elOther
}

// under reports whether the element at depth d (root = 0) is e.
func (b *builder) under(d int, e elem) bool { return len(b.stack) > d && b.stack[d] == e }

func (b *builder) start(s *scanner) {
	e := classify(s.space, s.local)
	if len(b.stack) == 0 { // the root, which build has checked
		e = elInvoice
		if b.inv.Kind == flowgate.KindCreditNote {
			e = elCreditNote
		}
	}
	first := true
	if n := len(b.frames); n > 0 && e != elOther {
		parent := &b.frames[n-1]
		first = !parent.seen.has(e)
		parent.seen.add(e)
		if p := b.stack[n-1]; !first && singular[p].has(e) && b.schemaErr == nil {
			b.schemaErr = repeated(e, p, s.line(s.at))
		}
	}
	inLeaf := b.inLeaf > 0 || len(b.stack) > 0 && b.stack[len(b.stack)-1] >= elCustomizationID
	b.stack = append(b.stack, e)
	b.frames = append(b.frames, frame{first: first})
	if inLeaf {
		b.inLeaf++
		// An element inside a leaf, which the schema forbids: its text
		// belongs to the leaf's value, as XPath's string value holds all
		// the text inside an element, and the leaf keeps its attributes.
		return
	}
	b.text, b.owned = nil, false
	b.schemeID, b.schemeName, b.currencyID, b.unitCode, b.listID = "", "", "", "", ""
	b.hasUnitCode, b.hasSchemeID, b.hasListID, b.hasCurrencyID = false, false, false, false
	if len(s.attrs) > 0 && e >= elCustomizationID {
		for _, a := range s.attrs {
			if a.space != nil {
				continue
			}
			switch string(a.local) {
			case "schemeID":
				b.schemeID = string(a.value)
				b.hasSchemeID = true
			case "schemeName":
				b.schemeName = string(a.value)
			case "currencyID":
				b.currencyID = string(a.value)
				b.hasCurrencyID = true
			case "unitCode":
				b.unitCode = string(a.value)
				b.hasUnitCode = true
			case "listID":
				b.listID = string(a.value)
				b.hasListID = true
			}
		}
	}

	if e == elOther || e >= elCustomizationID {
		return // records are opened by the aggregates the builder knows
	}
	inv := b.inv
	n := len(b.stack)
	if n < 2 {
		return
	}
	if n == 2 {
		switch e {
		case elLegalMonetaryTotal:
			inv.Count.LegalMonetaryTotal++
		case elTaxTotal:
			b.records++
			inv.TaxTotals = append(inv.TaxTotals, flowgate.TaxTotal{})
		case elAllowanceCharge:
			b.records++
			inv.AllowanceCharges = append(inv.AllowanceCharges, flowgate.AllowanceCharge{})
		case elInvoiceLine, elCreditNoteLine:
			b.records++
			inv.Lines = append(inv.Lines, flowgate.Line{})
		case elBillingReference:
			b.records++
			inv.Preceding = append(inv.Preceding, flowgate.DocumentRef{})
		case elAccountingSupplierParty:
			inv.Count.AccountingSupplierParty++
		case elPayeeParty:
			inv.Count.PayeeParty++
		case elTaxRepresentativeParty:
			inv.Count.TaxRepresentativeParty++
		case elPaymentMeans:
			b.records++
			inv.PaymentMeans = append(inv.PaymentMeans, flowgate.PaymentMeans{})
		case elInvoicePeriod:
			b.records++
			inv.Periods = append(inv.Periods, flowgate.Period{})
		}
		return
	}
	if p, base, _ := b.partyOf(); p != nil {
		if n == base+2 { // an aggregate of the party
			switch e {
			case elPostalAddress:
				p.HasAddress = true
			case elPartyTaxScheme:
				b.records++
				p.TaxSchemes = append(p.TaxSchemes, flowgate.PartyTaxScheme{})
			}
		}
		return
	}
	if e == elPartyTaxScheme {
		b.records++
		inv.OtherTaxSchemes = append(inv.OtherTaxSchemes, flowgate.PartyTaxScheme{})
		return
	}
	switch {
	case e == elTaxTotal && b.otherTaxTotal(n-1):
		b.records++
		inv.OtherTaxTotals = append(inv.OtherTaxTotals, flowgate.TaxTotal{})
		return
	case e == elTaxSubtotal && b.stack[n-2] == elTaxTotal && b.otherTaxTotal(n-2):
		tt := &inv.OtherTaxTotals[len(inv.OtherTaxTotals)-1]
		b.records++
		tt.Subtotals = append(tt.Subtotals, flowgate.TaxSubtotal{})
		return
	}
	switch b.stack[1] {
	case elTaxTotal:
		if n == 3 && e == elTaxSubtotal {
			tt := &inv.TaxTotals[len(inv.TaxTotals)-1]
			b.records++
			tt.Subtotals = append(tt.Subtotals, flowgate.TaxSubtotal{})
		}
	case elPaymentMeans:
		if n == 3 && e == elPayeeFinancialAccount {
			inv.PaymentMeans[len(inv.PaymentMeans)-1].HasAccount = true
		}
	case elDelivery:
		if n == 4 && e == elAddress && b.stack[2] == elDeliveryLocation {
			b.records++
			inv.DeliveryAddresses = append(inv.DeliveryAddresses, flowgate.Address{})
		}
	case elAllowanceCharge:
		if n == 3 && e == elTaxCategory && !first {
			c := &inv.AllowanceCharges[len(inv.AllowanceCharges)-1].TaxCategory
			b.records++
			c.More = append(c.More, flowgate.TaxCategory{})
		}
	case elInvoiceLine, elCreditNoteLine:
		line := &inv.Lines[len(inv.Lines)-1]
		switch {
		case n == 4 && e == elClassifiedTaxCategory && b.stack[2] == elItem && !first:
			b.records++
			line.TaxCategory.More = append(line.TaxCategory.More, flowgate.TaxCategory{})
		case n == 3 && e == elTaxTotal:
			d := details(line)
			b.records++
			d.TaxTotals = append(d.TaxTotals, flowgate.TaxTotal{})
		case n == 4 && e == elTaxSubtotal && b.stack[2] == elTaxTotal:
			tt := &line.Details.TaxTotals[len(line.Details.TaxTotals)-1]
			b.records++
			tt.Subtotals = append(tt.Subtotals, flowgate.TaxSubtotal{})
		case n == 3 && e == elBillingReference:
			d := details(line)
			b.records++
			d.BillingRefs = append(d.BillingRefs, flowgate.DocumentRef{})
		case n == 3 && e == elAllowanceCharge:
			d := details(line)
			b.records++
			d.AllowanceCharges = append(d.AllowanceCharges, flowgate.AllowanceCharge{})
		case n == 3 && e == elInvoicePeriod:
			d := details(line)
			b.records++
			d.Periods = append(d.Periods, flowgate.Period{})
		case n == 4 && e == elAdditionalItemProperty && b.stack[2] == elItem:
			d := details(line)
			b.records++
			d.Attributes = append(d.Attributes, flowgate.ItemAttribute{})
		case n == 5 && e == elAddress && b.stack[2] == elDelivery && b.stack[3] == elDeliveryLocation:
			b.records++
			inv.DeliveryAddresses = append(inv.DeliveryAddresses, flowgate.Address{})
		}
	}
}

// repeated reports element e written twice in p, which the schema forbids.
func repeated(e, p elem, line int) *flowgate.FlowError {
	return &flowgate.FlowError{Code: flowgate.CodeSchema,
		MessageFR: fmt.Sprintf("élément %s répété dans %s (ligne %d) : le schéma UBL 2.1 n'en admet qu'un", elemNames[e], elemNames[p], line),
		Message:   fmt.Sprintf("element %s repeated in %s (line %d): the UBL 2.1 schema allows only one", elemNames[e], elemNames[p], line)}
}

// first reports whether the element at depth d (root = 0) is the first of
// its name in its parent: where the schema lets an aggregate repeat and
// flowgate keeps one value, it keeps the first, as XPath reads it.
func (b *builder) first(d int) bool { return b.frames[d].first }

// category returns the tax category being read, the element at depth d:
// c itself for the first of its name, else the last of c.More.
func (b *builder) category(c *flowgate.TaxCategory, d int) *flowgate.TaxCategory {
	if b.first(d) {
		return c
	}
	return &c.More[len(c.More)-1]
}

// details returns the line's details, creating them on first use.
func details(line *flowgate.Line) *flowgate.LineDetails {
	if line.Details == nil {
		line.Details = new(flowgate.LineDetails)
	}
	return line.Details
}

// partyOf returns the party being read, if any, and the depth of its
// cac:Party (or of cac:PayeeParty, cac:TaxRepresentativeParty, which are
// parties themselves).
func (b *builder) partyOf() (*flowgate.Party, int, bool) {
	inv := b.inv
	switch b.stack[1] {
	case elAccountingSupplierParty:
		if b.under(2, elParty) {
			return &inv.Seller, 2, false
		}
	case elAccountingCustomerParty:
		if b.under(2, elParty) {
			return &inv.Buyer, 2, true
		}
	case elPayeeParty:
		return &inv.Payee, 1, false
	case elTaxRepresentativeParty:
		return &inv.TaxRepresentative, 1, false
	}
	return nil, 0, false
}

// value is the innermost element's text as written: the EN 16931 rules
// compare strings as XPath does, untrimmed (normalize-space trims only
// space, tab, CR and LF, and a rule without it trims nothing).
func (b *builder) value() string { return string(b.text) }

// code is value for short codes, without allocating for the usual ones.
func (b *builder) code() string {
	v := b.text
	switch string(v) {
	case "VAT":
		return "VAT"
	case "AE":
		return "AE"
	case "true":
		return "true"
	case "false":
		return "false"
	case "30":
		return "30"
	case "58":
		return "58"
	}
	return string(v)
}

func (b *builder) identifier() flowgate.Identifier {
	return flowgate.Identifier{Value: b.value(), SchemeID: b.schemeID, SchemeName: b.schemeName, HasSchemeID: b.hasSchemeID}
}

// period reads a leaf of cac:InvoicePeriod.
func (b *builder) period(p *flowgate.Period, e elem) {
	switch e {
	case elStartDate:
		p.StartDate, p.HasStartDate = b.value(), true
	case elEndDate:
		p.EndDate, p.HasEndDate = b.value(), true
	case elDescriptionCode:
		if b.first(len(b.stack) - 1) { // cbc:DescriptionCode may repeat
			p.DescriptionCode, p.HasDescriptionCode = b.value(), true
		}
	}
}

// allowanceCharge reads a leaf of cac:AllowanceCharge.
func (b *builder) allowanceCharge(ac *flowgate.AllowanceCharge, e elem) {
	switch e {
	case elChargeIndicator:
		ac.ChargeIndicator = b.code()
	case elAmount:
		ac.Amount = b.amount()
	case elAllowanceChargeReason:
		if b.first(len(b.stack) - 1) { // cbc:AllowanceChargeReason may repeat
			ac.Reason, ac.HasReason = b.value(), true
		}
	case elAllowanceChargeReasonCode:
		ac.ReasonCode, ac.HasReasonCode = b.value(), true
	}
}

func (b *builder) amount() flowgate.Amount {
	a := flowgate.Amount{Present: true, Raw: b.value(), Currency: b.currencyID, HasCurrency: b.hasCurrencyID}
	if d, err := flowgate.ParseDecimal(a.Raw); err == nil {
		a.Value, a.OK = d, true
	}
	return a
}

// end reads the value of the element closing now, if its path is known.
func (b *builder) end() {
	if b.inLeaf > 0 {
		// Inside a leaf: its text stays the leaf's (see start).
		b.inLeaf--
		b.stack = b.stack[:len(b.stack)-1]
		b.frames = b.frames[:len(b.frames)-1]
		return
	}
	defer func() {
		b.stack = b.stack[:len(b.stack)-1]
		b.frames = b.frames[:len(b.frames)-1]
		b.text, b.owned = nil, false
	}()
	e := b.stack[len(b.stack)-1]
	switch {
	case e == elDueDate:
		b.inv.HasDueDate = true
	case e == elNote && len(b.stack) >= 2 && b.stack[len(b.stack)-2] == elPaymentTerms:
		b.inv.HasPaymentTerms = true
	}
	if e < elCustomizationID {
		return // an aggregate: its leaves were read as they closed
	}
	inv := b.inv
	depth := len(b.stack) - 1 // root is 0
	if depth == 1 {
		switch e {
		case elCustomizationID:
			inv.CustomizationID = b.value()
		case elID:
			inv.Number = b.value()
		case elIssueDate:
			inv.IssueDate = b.value()
		case elInvoiceTypeCode, elCreditNoteTypeCode:
			switch {
			case (e == elInvoiceTypeCode) == (inv.Kind == flowgate.KindInvoice):
				inv.TypeCode = b.value()
			case b.first(1):
				inv.OtherTypeCode = b.value()
			}
		case elDocumentCurrencyCode:
			inv.Currency, inv.HasCurrency = b.value(), true
		case elTaxCurrencyCode:
			inv.TaxCurrency, inv.HasTaxCurrency = b.value(), true
		case elBuyerReference:
			inv.BuyerReference = b.value()
		case elTaxPointDate:
			inv.TaxPointDate, inv.HasTaxPointDate = b.value(), true
		}
		return
	}

	if n := len(inv.OtherTaxTotals); n > 0 {
		// The cac:TaxTotal holding this leaf, if any, is at most 4 levels up.
		for d := depth - 1; d >= 2 && d >= depth-4; d-- {
			if b.stack[d] == elTaxTotal {
				if b.otherTaxTotal(d) {
					b.taxTotal(&inv.OtherTaxTotals[n-1], d, e)
					return
				}
				break
			}
		}
	}
	if n := len(inv.OtherTaxSchemes); n > 0 && (e == elCompanyID || e == elID) {
		if p, _, _ := b.partyOf(); p == nil {
			ts := &inv.OtherTaxSchemes[n-1]
			switch {
			case e == elCompanyID && b.under(depth-1, elPartyTaxScheme):
				ts.CompanyID, ts.HasCompanyID = b.value(), true
			case e == elID && depth >= 3 && b.under(depth-2, elPartyTaxScheme) && b.under(depth-1, elTaxScheme):
				ts.TaxScheme = b.code()
			}
		}
	}
	switch b.stack[1] {
	case elAccountingSupplierParty, elAccountingCustomerParty, elPayeeParty, elTaxRepresentativeParty:
		if p, base, buyer := b.partyOf(); p != nil {
			b.party(p, base, e, buyer)
		}
	case elInvoicePeriod:
		if depth == 2 {
			b.period(&inv.Periods[len(inv.Periods)-1], e)
		}
	case elPaymentMeans:
		pm := &inv.PaymentMeans[len(inv.PaymentMeans)-1]
		switch {
		case depth == 2 && e == elPaymentMeansCode:
			pm.Code, pm.HasCode = b.code(), true
		case depth == 3 && e == elID && b.under(2, elPayeeFinancialAccount):
			pm.AccountID, pm.HasAccountID = b.value(), true
		}
	case elDelivery:
		if depth == 5 && e == elIdentificationCode && b.under(2, elDeliveryLocation) && b.under(3, elAddress) && b.under(4, elCountry) {
			a := &inv.DeliveryAddresses[len(inv.DeliveryAddresses)-1]
			a.CountryCode, a.HasCountryCode = b.value(), true
		}
	case elLegalMonetaryTotal:
		if depth != 2 {
			return
		}
		t := &inv.Totals
		switch e {
		case elLineExtensionAmount:
			t.LineExtension = b.amount()
		case elTaxExclusiveAmount:
			t.TaxExclusive = b.amount()
		case elTaxInclusiveAmount:
			t.TaxInclusive = b.amount()
		case elAllowanceTotalAmount:
			t.AllowanceTotal = b.amount()
		case elChargeTotalAmount:
			t.ChargeTotal = b.amount()
		case elPrepaidAmount:
			t.Prepaid = b.amount()
		case elPayableRoundingAmount:
			t.Rounding = b.amount()
		case elPayableAmount:
			t.Payable = b.amount()
		}
	case elTaxTotal:
		b.taxTotal(&inv.TaxTotals[len(inv.TaxTotals)-1], 1, e)
	case elAllowanceCharge:
		ac := &inv.AllowanceCharges[len(inv.AllowanceCharges)-1]
		switch {
		case depth == 2:
			b.allowanceCharge(ac, e)
		case depth == 3 && e == elID && b.under(2, elTaxCategory):
			c := b.category(&ac.TaxCategory, 2)
			c.ID, c.HasID = b.code(), true
		case depth == 4 && e == elID && b.under(2, elTaxCategory) && b.under(3, elTaxScheme):
			b.category(&ac.TaxCategory, 2).TaxScheme = b.code()
		}
	case elInvoiceLine, elCreditNoteLine:
		line := &inv.Lines[len(inv.Lines)-1]
		switch {
		case depth >= 3 && b.under(2, elTaxTotal):
			d := line.Details
			b.taxTotal(&d.TaxTotals[len(d.TaxTotals)-1], 2, e)
		case depth >= 3 && b.under(2, elBillingReference):
			d := line.Details
			b.billingReference(&d.BillingRefs[len(d.BillingRefs)-1], 2, e)
		case depth == 2:
			switch e {
			case elID:
				line.ID = b.value()
			case elInvoicedQuantity, elCreditedQuantity:
				line.Quantity = b.amount()
				line.Unit, line.HasUnit = b.unitCode, b.hasUnitCode
			case elLineExtensionAmount:
				line.LineExtension = b.amount()
			}
		case depth == 3:
			switch b.stack[2] {
			case elItem:
				if e == elName {
					line.ItemName = b.value()
				}
			case elPrice:
				if e == elPriceAmount {
					line.Price = b.amount()
				}
			case elAllowanceCharge:
				d := line.Details
				b.allowanceCharge(&d.AllowanceCharges[len(d.AllowanceCharges)-1], e)
			case elInvoicePeriod:
				d := line.Details
				b.period(&d.Periods[len(d.Periods)-1], e)
			}
		case depth == 4 && b.under(2, elItem):
			switch {
			case b.stack[3] == elClassifiedTaxCategory && e == elID:
				c := b.category(&line.TaxCategory, 3)
				c.ID, c.HasID = b.code(), true
			case b.stack[3] == elStandardItemIdentification && e == elID:
				d := details(line)
				b.records++
				d.StandardIDs = append(d.StandardIDs, b.identifier())
			case b.stack[3] == elCommodityClassification && e == elItemClassificationCode:
				d := details(line)
				b.records++
				d.Classifications = append(d.Classifications, flowgate.Code{Value: b.value(), ListID: b.listID, HasListID: b.hasListID})
			case b.stack[3] == elAdditionalItemProperty && (e == elName || e == elValue):
				d := line.Details
				a := &d.Attributes[len(d.Attributes)-1]
				if e == elName {
					a.Name, a.HasName = b.value(), true
				} else {
					a.Value, a.HasValue = b.value(), true
				}
			}
		case depth == 4 && e == elBaseAmount && b.under(2, elPrice) && b.under(3, elAllowanceCharge):
			d := details(line)
			if b.first(3) {
				d.GrossPrice = b.amount()
			} else {
				b.records++
				d.OtherGrossPrices = append(d.OtherGrossPrices, b.amount())
			}
		case depth == 5 && e == elID && b.under(2, elItem) && b.under(3, elClassifiedTaxCategory) && b.under(4, elTaxScheme):
			b.category(&line.TaxCategory, 3).TaxScheme = b.code()
		case depth == 6 && e == elIdentificationCode && b.under(2, elDelivery) && b.under(3, elDeliveryLocation) &&
			b.under(4, elAddress) && b.under(5, elCountry):
			a := &inv.DeliveryAddresses[len(inv.DeliveryAddresses)-1]
			a.CountryCode, a.HasCountryCode = b.value(), true
		}
	case elBillingReference:
		b.billingReference(&inv.Preceding[len(inv.Preceding)-1], 1, e)
	case elOrderReference:
		if depth == 2 && e == elID {
			inv.Order = b.value()
		}
	case elContractDocumentReference:
		if depth == 2 && e == elID && b.first(1) {
			inv.Contract = b.value()
		}
	}
}

// taxTotal reads a leaf of the cac:TaxTotal at depth base (root = 0).
func (b *builder) taxTotal(tt *flowgate.TaxTotal, base int, e elem) {
	switch depth := len(b.stack) - 1 - base; {
	case depth == 1 && e == elTaxAmount:
		tt.TaxAmount = b.amount()
	case depth == 2 && b.under(base+1, elTaxSubtotal):
		st := &tt.Subtotals[len(tt.Subtotals)-1]
		switch e {
		case elTaxableAmount:
			st.TaxableAmount = b.amount()
		case elTaxAmount:
			st.TaxAmount = b.amount()
		}
	case depth == 3 && b.under(base+1, elTaxSubtotal) && b.under(base+2, elTaxCategory):
		st := &tt.Subtotals[len(tt.Subtotals)-1]
		switch e {
		case elID:
			st.Category = b.code()
		case elPercent:
			st.Percent, st.HasPercent = b.value(), true
		}
	case depth == 4 && e == elID && b.under(base+1, elTaxSubtotal) && b.under(base+2, elTaxCategory) && b.under(base+3, elTaxScheme):
		tt.Subtotals[len(tt.Subtotals)-1].TaxScheme = b.code()
	}
}

// otherTaxTotal reports whether the cac:TaxTotal at depth d is one of
// Invoice.OtherTaxTotals: neither the document's nor a line's.
func (b *builder) otherTaxTotal(d int) bool {
	switch {
	case d <= 1:
		return false
	case d == 2:
		return b.stack[1] != elInvoiceLine && b.stack[1] != elCreditNoteLine
	}
	return true
}

// billingReference reads a leaf of the cac:BillingReference at depth base.
func (b *builder) billingReference(ref *flowgate.DocumentRef, base int, e elem) {
	if len(b.stack)-1-base != 2 || !b.under(base+1, elInvoiceDocumentReference) {
		return
	}
	switch {
	case e == elID && !ref.HasID:
		ref.ID, ref.HasID = b.value(), true
	case e == elIssueDate && ref.IssueDate == "":
		ref.IssueDate = b.value()
	}
}

// party reads the leaves of a party: stack[base] is its cac:Party (or the
// party aggregate itself for the payee and the tax representative).
func (b *builder) party(p *flowgate.Party, base int, e elem, buyer bool) {
	switch len(b.stack) - 1 - base {
	case 1: // Party/leaf
		if e == elEndpointID {
			p.Endpoint, p.HasEndpoint = b.identifier(), true
		}
	case 2: // Party/Agg/leaf
		switch agg := b.stack[base+1]; {
		case agg == elPartyIdentification && e == elID:
			b.records++
			p.Identifiers = append(p.Identifiers, b.identifier())
		case agg == elPartyName && e == elName:
			b.records++
			p.TradingNames = append(p.TradingNames, b.value())
		case agg == elPartyLegalEntity && e == elRegistrationName && !p.HasName:
			// cac:PartyLegalEntity may repeat: the rules read the one
			// cbc:RegistrationName written, in whichever.
			p.Name, p.HasName = b.value(), true
		case agg == elPartyLegalEntity && e == elCompanyID:
			if b.first(base + 1) {
				p.LegalID = b.identifier()
			}
			p.HasLegalID = true
		case agg == elPartyTaxScheme && e == elCompanyID:
			v := b.value()
			if p.VATID == "" {
				p.VATID = v
			}
			ts := &p.TaxSchemes[len(p.TaxSchemes)-1]
			ts.CompanyID, ts.HasCompanyID = v, true
		case buyer && agg == elContact && e == elID:
			p.ContactID = b.value()
		}
	case 3: // Party/Agg/Agg/leaf
		agg, sub := b.stack[base+1], b.stack[base+2]
		switch {
		case agg == elPostalAddress && sub == elCountry && e == elIdentificationCode:
			p.CountryCode = b.value()
		case agg == elPartyTaxScheme && sub == elTaxScheme && e == elID:
			p.TaxSchemes[len(p.TaxSchemes)-1].TaxScheme = b.code()
		}
	}
}
