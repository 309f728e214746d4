package parser

import (
	"bytes"

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
)

var cacElems = map[string]elem{
	"AccountingSupplierParty":   elAccountingSupplierParty,
	"AccountingCustomerParty":   elAccountingCustomerParty,
	"Party":                     elParty,
	"PartyIdentification":       elPartyIdentification,
	"PartyLegalEntity":          elPartyLegalEntity,
	"PartyTaxScheme":            elPartyTaxScheme,
	"PostalAddress":             elPostalAddress,
	"Country":                   elCountry,
	"Contact":                   elContact,
	"LegalMonetaryTotal":        elLegalMonetaryTotal,
	"TaxTotal":                  elTaxTotal,
	"TaxSubtotal":               elTaxSubtotal,
	"TaxCategory":               elTaxCategory,
	"AllowanceCharge":           elAllowanceCharge,
	"InvoiceLine":               elInvoiceLine,
	"CreditNoteLine":            elCreditNoteLine,
	"Item":                      elItem,
	"Price":                     elPrice,
	"BillingReference":          elBillingReference,
	"InvoiceDocumentReference":  elInvoiceDocumentReference,
	"OrderReference":            elOrderReference,
	"ContractDocumentReference": elContractDocumentReference,
	"PaymentTerms":              elPaymentTerms,
}

var cbcElems = map[string]elem{
	"CustomizationID":       elCustomizationID,
	"ID":                    elID,
	"IssueDate":             elIssueDate,
	"InvoiceTypeCode":       elInvoiceTypeCode,
	"CreditNoteTypeCode":    elCreditNoteTypeCode,
	"DocumentCurrencyCode":  elDocumentCurrencyCode,
	"TaxCurrencyCode":       elTaxCurrencyCode,
	"BuyerReference":        elBuyerReference,
	"RegistrationName":      elRegistrationName,
	"CompanyID":             elCompanyID,
	"IdentificationCode":    elIdentificationCode,
	"LineExtensionAmount":   elLineExtensionAmount,
	"TaxExclusiveAmount":    elTaxExclusiveAmount,
	"TaxInclusiveAmount":    elTaxInclusiveAmount,
	"AllowanceTotalAmount":  elAllowanceTotalAmount,
	"ChargeTotalAmount":     elChargeTotalAmount,
	"PrepaidAmount":         elPrepaidAmount,
	"PayableRoundingAmount": elPayableRoundingAmount,
	"PayableAmount":         elPayableAmount,
	"TaxAmount":             elTaxAmount,
	"TaxableAmount":         elTaxableAmount,
	"Percent":               elPercent,
	"ChargeIndicator":       elChargeIndicator,
	"Amount":                elAmount,
	"InvoicedQuantity":      elInvoicedQuantity,
	"CreditedQuantity":      elCreditedQuantity,
	"Name":                  elName,
	"PriceAmount":           elPriceAmount,
	"DueDate":               elDueDate,
	"Note":                  elNote,
}

// builder turns the token stream of one UBL document into an Invoice. It
// keeps the path of open elements and reads a value when a leaf closes at a
// path it knows.
type builder struct {
	inv   *flowgate.Invoice
	stack []elem

	text  []byte // text of the innermost element so far
	owned bool   // text is in tbuf, not a slice of the input
	tbuf  []byte

	// Attributes of the innermost start tag that matter for leaves.
	schemeID, schemeName, currencyID, unitCode string
	hasUnitCode                                bool
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

// at reports whether the open elements below the root are exactly path.
func (b *builder) at(path ...elem) bool {
	if len(b.stack) != len(path)+1 {
		return false
	}
	for i, e := range path {
		if b.stack[i+1] != e {
			return false
		}
	}
	return true
}

// under reports whether the element at depth d (root = 0) is e.
func (b *builder) under(d int, e elem) bool { return len(b.stack) > d && b.stack[d] == e }

func (b *builder) start(s *scanner) {
	e := classify(s.space, s.local)
	b.stack = append(b.stack, e)
	b.text, b.owned = nil, false
	b.schemeID, b.schemeName, b.currencyID, b.unitCode = "", "", "", ""
	b.hasUnitCode = false
	if len(s.attrs) > 0 && e >= elCustomizationID {
		for _, a := range s.attrs {
			if a.space != nil {
				continue
			}
			switch string(a.local) {
			case "schemeID":
				b.schemeID = string(bytes.TrimSpace(a.value))
			case "schemeName":
				b.schemeName = string(bytes.TrimSpace(a.value))
			case "currencyID":
				b.currencyID = string(bytes.TrimSpace(a.value))
			case "unitCode":
				b.unitCode = string(bytes.TrimSpace(a.value))
				b.hasUnitCode = true
			}
		}
	}

	inv := b.inv
	switch {
	case len(b.stack) == 2:
		switch e {
		case elLegalMonetaryTotal:
			inv.Count.LegalMonetaryTotal++
		case elTaxTotal:
			inv.TaxTotals = append(inv.TaxTotals, flowgate.TaxTotal{})
		case elAllowanceCharge:
			inv.AllowanceCharges = append(inv.AllowanceCharges, flowgate.AllowanceCharge{})
		case elInvoiceLine, elCreditNoteLine:
			inv.Lines = append(inv.Lines, flowgate.Line{})
		case elBillingReference:
			inv.Preceding = append(inv.Preceding, flowgate.DocumentRef{})
		}
	case b.at(elTaxTotal, elTaxSubtotal):
		tt := &inv.TaxTotals[len(inv.TaxTotals)-1]
		tt.Subtotals = append(tt.Subtotals, flowgate.TaxSubtotal{})
	case b.at(elAccountingSupplierParty, elParty, elPostalAddress):
		inv.Seller.HasAddress = true
	case b.at(elAccountingCustomerParty, elParty, elPostalAddress):
		inv.Buyer.HasAddress = true
	}
}

func (b *builder) addText(t []byte) {
	switch {
	case b.text == nil && !b.owned:
		b.text = t
	case !b.owned:
		b.tbuf = append(append(b.tbuf[:0], b.text...), t...)
		b.text, b.owned = b.tbuf, true
	default:
		b.tbuf = append(b.tbuf, t...)
		b.text = b.tbuf
	}
}

func (b *builder) value() string { return string(bytes.TrimSpace(b.text)) }

func (b *builder) amount() flowgate.Amount {
	a := flowgate.Amount{Present: true, Raw: b.value(), Currency: b.currencyID}
	if d, err := flowgate.ParseDecimal(a.Raw); err == nil {
		a.Value, a.OK = d, true
	}
	return a
}

// end reads the value of the element closing now, if its path is known.
func (b *builder) end() {
	defer func() {
		b.stack = b.stack[:len(b.stack)-1]
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
		case elInvoiceTypeCode:
			if inv.Kind == flowgate.KindInvoice {
				inv.TypeCode = b.value()
			}
		case elCreditNoteTypeCode:
			if inv.Kind == flowgate.KindCreditNote {
				inv.TypeCode = b.value()
			}
		case elDocumentCurrencyCode:
			inv.Currency = b.value()
		case elTaxCurrencyCode:
			inv.TaxCurrency = b.value()
		case elBuyerReference:
			inv.BuyerReference = b.value()
		}
		return
	}

	switch b.stack[1] {
	case elAccountingSupplierParty:
		b.party(&inv.Seller, e, false)
	case elAccountingCustomerParty:
		b.party(&inv.Buyer, e, true)
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
		tt := &inv.TaxTotals[len(inv.TaxTotals)-1]
		switch {
		case depth == 2 && e == elTaxAmount:
			tt.TaxAmount = b.amount()
		case depth == 3 && b.under(2, elTaxSubtotal):
			st := &tt.Subtotals[len(tt.Subtotals)-1]
			switch e {
			case elTaxableAmount:
				st.TaxableAmount = b.amount()
			case elTaxAmount:
				st.TaxAmount = b.amount()
			}
		case depth == 4 && b.under(2, elTaxSubtotal) && b.under(3, elTaxCategory):
			st := &tt.Subtotals[len(tt.Subtotals)-1]
			switch e {
			case elID:
				st.Category = b.value()
			case elPercent:
				st.Percent = b.value()
			}
		}
	case elAllowanceCharge:
		if depth != 2 {
			return
		}
		ac := &inv.AllowanceCharges[len(inv.AllowanceCharges)-1]
		switch e {
		case elChargeIndicator:
			ac.ChargeIndicator = b.value()
		case elAmount:
			ac.Amount = b.amount()
		}
	case elInvoiceLine, elCreditNoteLine:
		line := &inv.Lines[len(inv.Lines)-1]
		switch {
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
		case depth == 3 && b.under(2, elItem) && e == elName:
			line.ItemName = b.value()
		case depth == 3 && b.under(2, elPrice) && e == elPriceAmount:
			line.Price = b.amount()
		}
	case elBillingReference:
		if depth == 3 && b.under(2, elInvoiceDocumentReference) {
			ref := &inv.Preceding[len(inv.Preceding)-1]
			switch {
			case e == elID && !ref.HasID:
				ref.ID, ref.HasID = b.value(), true
			case e == elIssueDate && ref.IssueDate == "":
				ref.IssueDate = b.value()
			}
		}
	case elOrderReference:
		if depth == 2 && e == elID {
			inv.Order = b.value()
		}
	case elContractDocumentReference:
		if depth == 2 && e == elID && inv.Contract == "" {
			inv.Contract = b.value()
		}
	}
}

// party reads the leaves of cac:AccountingSupplierParty or
// cac:AccountingCustomerParty, at stack[1].
func (b *builder) party(p *flowgate.Party, e elem, buyer bool) {
	if !b.under(2, elParty) {
		return
	}
	switch len(b.stack) {
	case 5: // root/XParty/Party/Agg/leaf
		switch {
		case b.stack[3] == elPartyIdentification && e == elID:
			p.Identifiers = append(p.Identifiers, flowgate.Identifier{Value: b.value(), SchemeID: b.schemeID, SchemeName: b.schemeName})
		case b.stack[3] == elPartyLegalEntity && e == elRegistrationName:
			p.Name = b.value()
		case b.stack[3] == elPartyLegalEntity && e == elCompanyID:
			p.LegalID = flowgate.Identifier{Value: b.value(), SchemeID: b.schemeID, SchemeName: b.schemeName}
		case b.stack[3] == elPartyTaxScheme && e == elCompanyID && p.VATID == "":
			p.VATID = b.value()
		case buyer && b.stack[3] == elContact && e == elID:
			p.ContactID = b.value()
		}
	case 6: // root/XParty/Party/PostalAddress/Country/IdentificationCode
		if b.stack[3] == elPostalAddress && b.stack[4] == elCountry && e == elIdentificationCode {
			p.CountryCode = b.value()
		}
	}
}
