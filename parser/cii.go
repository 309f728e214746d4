package parser

import (
	"bytes"
	"fmt"

	"flowgate"
)

// UN/CEFACT Cross Industry Invoice namespaces (D16B, and the D22B files of
// the 2026 reform, which keep them). Elements are matched by these URIs,
// whatever prefix a sender chose.
const (
	NSCII = "urn:un:unece:uncefact:data:standard:CrossIndustryInvoice:100"
	NSRAM = "urn:un:unece:uncefact:data:standard:ReusableAggregateBusinessInformationEntity:100"
	NSUDT = "urn:un:unece:uncefact:data:standard:UnqualifiedDataType:100"
	NSQDT = "urn:un:unece:uncefact:data:standard:QualifiedDataType:100"
)

// cel identifies the CII elements the parser reads; everything else is
// ceOther. The rsm, udt and qdt elements it reads have names of their own
// (ceDateTimeString for udt:DateTimeString and qdt:DateTimeString alike).
type cel uint8

const (
	ceOther cel = iota
	ceRoot      // rsm:CrossIndustryInvoice

	// rsm
	ceExchangedDocumentContext
	ceExchangedDocument
	ceSupplyChainTradeTransaction

	// ram aggregates
	ceGuidelineSpecifiedDocumentContextParameter
	ceIssueDateTime
	ceIncludedSupplyChainTradeLineItem
	ceAssociatedDocumentLineDocument
	ceSpecifiedTradeProduct
	ceDesignatedProductClassification
	ceApplicableProductCharacteristic
	ceSpecifiedLineTradeAgreement
	ceNetPriceProductTradePrice
	ceGrossPriceProductTradePrice
	ceSpecifiedLineTradeDelivery
	ceSpecifiedLineTradeSettlement
	ceApplicableTradeTax
	ceBillingSpecifiedPeriod
	ceStartDateTime
	ceEndDateTime
	ceSpecifiedTradeAllowanceCharge
	ceChargeIndicator
	ceSpecifiedTradeSettlementLineMonetarySummation
	ceApplicableHeaderTradeAgreement
	ceSellerTradeParty
	ceBuyerTradeParty
	ceSellerTaxRepresentativeTradeParty
	ceSpecifiedLegalOrganization
	cePostalTradeAddress
	ceSpecifiedTaxRegistration
	ceURIUniversalCommunication
	ceBuyerOrderReferencedDocument
	ceContractReferencedDocument
	ceApplicableHeaderTradeDelivery
	ceShipToTradeParty
	ceApplicableHeaderTradeSettlement
	cePayeeTradeParty
	ceSpecifiedTradeSettlementPaymentMeans
	cePayeePartyCreditorFinancialAccount
	ceTaxPointDate
	ceSpecifiedTradePaymentTerms
	ceDueDateDateTime
	ceSpecifiedTradeSettlementHeaderMonetarySummation
	ceInvoiceReferencedDocument
	ceFormattedIssueDateTime
	ceCategoryTradeTax

	// leaves (ram unless said)
	ceID
	ceTypeCode
	ceLineID
	ceName
	ceGlobalID
	ceClassCode
	ceDescription
	ceValue
	ceChargeAmount
	ceBilledQuantity
	ceCategoryCode
	ceRateApplicablePercent
	ceCalculatedAmount
	ceBasisAmount
	ceDueDateTypeCode
	ceActualAmount
	ceReason
	ceReasonCode
	ceLineTotalAmount
	ceBuyerReference
	ceTradingBusinessName
	ceCountryID
	ceURIID
	ceIssuerAssignedID
	ceInvoiceCurrencyCode
	ceTaxCurrencyCode
	ceIBANID
	ceProprietaryID
	ceChargeTotalAmount
	ceAllowanceTotalAmount
	ceTaxBasisTotalAmount
	ceTaxTotalAmount
	ceGrandTotalAmount
	ceRoundingAmount
	ceTotalPrepaidAmount
	ceDuePayableAmount
	ceDateTimeString // udt:DateTimeString, qdt:DateTimeString
	ceDateString     // udt:DateString
	ceIndicator      // udt:Indicator

	ceCount // number of cels, for celSet
)

// celSet is a set of cels.
type celSet [(ceCount + 63) / 64]uint64

func (s *celSet) has(e cel) bool { return s[e/64]&(1<<(e%64)) != 0 }
func (s *celSet) add(e cel)      { s[e/64] |= 1 << (e % 64) }

var rsmElems = map[string]cel{
	"ExchangedDocumentContext":    ceExchangedDocumentContext,
	"ExchangedDocument":           ceExchangedDocument,
	"SupplyChainTradeTransaction": ceSupplyChainTradeTransaction,
}

var ramElems = map[string]cel{
	"GuidelineSpecifiedDocumentContextParameter": ceGuidelineSpecifiedDocumentContextParameter,
	"IssueDateTime":                                   ceIssueDateTime,
	"IncludedSupplyChainTradeLineItem":                ceIncludedSupplyChainTradeLineItem,
	"AssociatedDocumentLineDocument":                  ceAssociatedDocumentLineDocument,
	"SpecifiedTradeProduct":                           ceSpecifiedTradeProduct,
	"DesignatedProductClassification":                 ceDesignatedProductClassification,
	"ApplicableProductCharacteristic":                 ceApplicableProductCharacteristic,
	"SpecifiedLineTradeAgreement":                     ceSpecifiedLineTradeAgreement,
	"NetPriceProductTradePrice":                       ceNetPriceProductTradePrice,
	"GrossPriceProductTradePrice":                     ceGrossPriceProductTradePrice,
	"SpecifiedLineTradeDelivery":                      ceSpecifiedLineTradeDelivery,
	"SpecifiedLineTradeSettlement":                    ceSpecifiedLineTradeSettlement,
	"ApplicableTradeTax":                              ceApplicableTradeTax,
	"BillingSpecifiedPeriod":                          ceBillingSpecifiedPeriod,
	"StartDateTime":                                   ceStartDateTime,
	"EndDateTime":                                     ceEndDateTime,
	"SpecifiedTradeAllowanceCharge":                   ceSpecifiedTradeAllowanceCharge,
	"ChargeIndicator":                                 ceChargeIndicator,
	"SpecifiedTradeSettlementLineMonetarySummation":   ceSpecifiedTradeSettlementLineMonetarySummation,
	"ApplicableHeaderTradeAgreement":                  ceApplicableHeaderTradeAgreement,
	"SellerTradeParty":                                ceSellerTradeParty,
	"BuyerTradeParty":                                 ceBuyerTradeParty,
	"SellerTaxRepresentativeTradeParty":               ceSellerTaxRepresentativeTradeParty,
	"SpecifiedLegalOrganization":                      ceSpecifiedLegalOrganization,
	"PostalTradeAddress":                              cePostalTradeAddress,
	"SpecifiedTaxRegistration":                        ceSpecifiedTaxRegistration,
	"URIUniversalCommunication":                       ceURIUniversalCommunication,
	"BuyerOrderReferencedDocument":                    ceBuyerOrderReferencedDocument,
	"ContractReferencedDocument":                      ceContractReferencedDocument,
	"ApplicableHeaderTradeDelivery":                   ceApplicableHeaderTradeDelivery,
	"ShipToTradeParty":                                ceShipToTradeParty,
	"ApplicableHeaderTradeSettlement":                 ceApplicableHeaderTradeSettlement,
	"PayeeTradeParty":                                 cePayeeTradeParty,
	"SpecifiedTradeSettlementPaymentMeans":            ceSpecifiedTradeSettlementPaymentMeans,
	"PayeePartyCreditorFinancialAccount":              cePayeePartyCreditorFinancialAccount,
	"TaxPointDate":                                    ceTaxPointDate,
	"SpecifiedTradePaymentTerms":                      ceSpecifiedTradePaymentTerms,
	"DueDateDateTime":                                 ceDueDateDateTime,
	"SpecifiedTradeSettlementHeaderMonetarySummation": ceSpecifiedTradeSettlementHeaderMonetarySummation,
	"InvoiceReferencedDocument":                       ceInvoiceReferencedDocument,
	"FormattedIssueDateTime":                          ceFormattedIssueDateTime,
	"CategoryTradeTax":                                ceCategoryTradeTax,

	"ID":                    ceID,
	"TypeCode":              ceTypeCode,
	"LineID":                ceLineID,
	"Name":                  ceName,
	"GlobalID":              ceGlobalID,
	"ClassCode":             ceClassCode,
	"Description":           ceDescription,
	"Value":                 ceValue,
	"ChargeAmount":          ceChargeAmount,
	"BilledQuantity":        ceBilledQuantity,
	"CategoryCode":          ceCategoryCode,
	"RateApplicablePercent": ceRateApplicablePercent,
	"CalculatedAmount":      ceCalculatedAmount,
	"BasisAmount":           ceBasisAmount,
	"DueDateTypeCode":       ceDueDateTypeCode,
	"ActualAmount":          ceActualAmount,
	"Reason":                ceReason,
	"ReasonCode":            ceReasonCode,
	"LineTotalAmount":       ceLineTotalAmount,
	"BuyerReference":        ceBuyerReference,
	"TradingBusinessName":   ceTradingBusinessName,
	"CountryID":             ceCountryID,
	"URIID":                 ceURIID,
	"IssuerAssignedID":      ceIssuerAssignedID,
	"InvoiceCurrencyCode":   ceInvoiceCurrencyCode,
	"TaxCurrencyCode":       ceTaxCurrencyCode,
	"IBANID":                ceIBANID,
	"ProprietaryID":         ceProprietaryID,
	"ChargeTotalAmount":     ceChargeTotalAmount,
	"AllowanceTotalAmount":  ceAllowanceTotalAmount,
	"TaxBasisTotalAmount":   ceTaxBasisTotalAmount,
	"TaxTotalAmount":        ceTaxTotalAmount,
	"GrandTotalAmount":      ceGrandTotalAmount,
	"RoundingAmount":        ceRoundingAmount,
	"TotalPrepaidAmount":    ceTotalPrepaidAmount,
	"DuePayableAmount":      ceDuePayableAmount,
}

// celNames gives the qualified name of each cel, with the usual prefix.
var celNames = func() (t [ceCount]string) {
	t[ceRoot] = "rsm:CrossIndustryInvoice"
	for name, e := range rsmElems {
		t[e] = "rsm:" + name
	}
	for name, e := range ramElems {
		t[e] = "ram:" + name
	}
	t[ceDateTimeString], t[ceDateString], t[ceIndicator] = "udt:DateTimeString", "udt:DateString", "udt:Indicator"
	return t
}()

// ciiSingular[p] holds the children that element p may have only once,
// from the CII D16B schemas (cii_schema.go).
var ciiSingular = func() (t [ceCount]celSet) {
	for p, children := range ciiSingularChildren {
		for _, c := range children {
			t[p].add(c)
		}
	}
	return t
}()

// classifyCII names the element the scanner is on.
func classifyCII(space, local []byte) cel {
	switch string(space) {
	case NSRAM:
		return ramElems[string(local)]
	case NSCII:
		return rsmElems[string(local)]
	case NSUDT:
		switch string(local) {
		case "DateTimeString":
			return ceDateTimeString
		case "DateString":
			return ceDateString
		case "Indicator":
			return ceIndicator
		}
	case NSQDT:
		if string(local) == "DateTimeString" {
			return ceDateTimeString
		}
	}
	return ceOther
}

// ciiBuilder turns the token stream of one CII document into an Invoice,
// as builder does for UBL: it keeps the path of open elements and reads a
// value when a leaf closes at a path it knows.
//
// The CII reading of each business term follows the CII binding of the
// EN 16931 Schematron, so that the rules, written over the UBL reading,
// give the same verdict:
//
//   - Seller and buyer: ram:Name is the legal name (BT-27, BT-44, UBL's
//     RegistrationName); ram:SpecifiedLegalOrganization/ram:TradingBusinessName
//     the trading name (BT-28, BT-45). For the payee and the tax
//     representative, ram:Name is BT-59 / BT-62, which UBL writes in
//     cac:PartyName: it goes to TradingNames, where the rules read it.
//   - ram:ID and ram:GlobalID of a party are its identifiers (BT-29, BT-46,
//     BT-60), in document order; ram:SpecifiedLegalOrganization/ram:ID its
//     legal identifier; each ram:SpecifiedTaxRegistration/ram:ID a tax
//     scheme entry, "VAT" when its schemeID is VA (BT-31, BT-48, BT-63),
//     else its schemeID as written (FC: BT-32).
//   - Each ram:TaxTotalAmount is one TaxTotal (BT-110, BT-111). The VAT
//     breakdown (header ram:ApplicableTradeTax) becomes the subtotals of
//     the one in the invoice currency, as UBL nests them (failing that, of
//     the first; with no ram:TaxTotalAmount at all, of a TaxTotal without
//     amount, on which BR-CO-14 then fails where the CII Schematron, whose
//     context is the total in the invoice currency, does not fire).
//   - The electronic address (BT-34, BT-49) is the first
//     ram:URIUniversalCommunication: HasEndpoint once it is open, even
//     without its ram:URIID, as the CII rules BR-62 and BR-63 read it.
//   - BT-7 is the first header ram:ApplicableTradeTax/ram:TaxPointDate.
//     BT-8 (the first header ram:ApplicableTradeTax/ram:DueDateTypeCode)
//     is kept on the first invoicing period, where UBL writes it, or, with
//     no period, on a period of its own, as UBL writes it alone.
type ciiBuilder struct {
	inv    *flowgate.Invoice
	stack  []cel
	frames []cframe

	records   int
	schemaErr *flowgate.FlowError

	textBuf

	schemeID, currencyID, unitCode, listID, format string
	hasCurrencyID                                  bool
	hasSchemeID, hasUnitCode, hasListID, hasFormat bool
	startLine                                      int // line of the innermost start tag

	vat          []flowgate.TaxSubtotal // header ApplicableTradeTax, in order
	dueDateCode  string                 // first header DueDateTypeCode (BT-8)
	hasDueCode   bool
	taxPointSeen bool
}

type cframe struct {
	first bool
	seen  celSet
}

// buildCII reads a CII document whose root start tag the scanner has just
// returned.
func buildCII(s *scanner) (*flowgate.Invoice, error) {
	b := ciiBuilder{inv: &flowgate.Invoice{Kind: flowgate.KindInvoice, Syntax: "cii"},
		stack: make([]cel, 0, 16), frames: make([]cframe, 0, 16)}
	b.start(s)
	for {
		kind, err := s.next()
		if err != nil {
			return nil, err
		}
		switch kind {
		case tokStart:
			b.start(s)
			if b.records > MaxRecords {
				return nil, tooManyRecords(s)
			}
		case tokText:
			b.addText(s.text, s.textBuffered)
		case tokEnd:
			b.end()
			if b.records > MaxRecords {
				return nil, tooManyRecords(s)
			}
		case tokEOF:
			if b.schemaErr != nil {
				return nil, b.schemaErr
			}
			b.finish()
			return b.inv, nil
		}
	}
}

// finish places what CII writes elsewhere than UBL: the VAT breakdown
// under the total VAT in the invoice currency, BT-8 on the first period.
func (b *ciiBuilder) finish() {
	inv := b.inv
	if len(b.vat) > 0 {
		at := -1
		for i := range inv.TaxTotals {
			if a := inv.TaxTotals[i].TaxAmount; a.Currency == inv.Currency && inv.Currency != "" {
				at = i
				break
			}
		}
		if at < 0 && len(inv.TaxTotals) > 0 {
			at = 0 // no total in the invoice currency: the first
		}
		if at < 0 {
			// No total at all: the breakdown stands alone, as a UBL
			// cac:TaxTotal without its cbc:TaxAmount.
			inv.TaxTotals = append(inv.TaxTotals, flowgate.TaxTotal{})
			at = len(inv.TaxTotals) - 1
		}
		inv.TaxTotals[at].Subtotals = b.vat
	}
	if b.hasDueCode {
		if len(inv.Periods) == 0 {
			// UBL writes BT-8 alone as a cac:InvoicePeriod holding only
			// its cbc:DescriptionCode.
			inv.Periods = append(inv.Periods, flowgate.Period{})
		}
		inv.Periods[0].DescriptionCode, inv.Periods[0].HasDescriptionCode = b.dueDateCode, true
	}
}

func (b *ciiBuilder) under(d int, e cel) bool { return len(b.stack) > d && b.stack[d] == e }

// at reports whether the open elements from depth d on are exactly es.
func (b *ciiBuilder) at(d int, es ...cel) bool {
	if len(b.stack) != d+len(es) {
		return false
	}
	for i, e := range es {
		if b.stack[d+i] != e {
			return false
		}
	}
	return true
}

func (b *ciiBuilder) first(d int) bool { return b.frames[d].first }

func (b *ciiBuilder) start(s *scanner) {
	e := ceRoot
	if len(b.stack) > 0 {
		e = classifyCII(s.space, s.local)
	}
	first := true
	if n := len(b.frames); n > 0 && e != ceOther {
		parent := &b.frames[n-1]
		first = !parent.seen.has(e)
		parent.seen.add(e)
		if p := b.stack[n-1]; !first && ciiSingular[p].has(e) && b.schemaErr == nil {
			b.schemaErr = ciiRepeated(e, p, s.line(s.at))
		}
	}
	b.stack = append(b.stack, e)
	b.frames = append(b.frames, cframe{first: first})
	b.text, b.owned = nil, false
	b.schemeID, b.currencyID, b.unitCode, b.listID, b.format = "", "", "", "", ""
	b.hasCurrencyID = false
	b.hasSchemeID, b.hasUnitCode, b.hasListID, b.hasFormat = false, false, false, false
	b.startLine = 0
	if e >= ceID {
		b.startLine = s.line(s.at)
		for _, a := range s.attrs {
			if a.space != nil {
				continue
			}
			v := string(bytes.TrimSpace(a.value))
			switch string(a.local) {
			case "schemeID":
				b.schemeID, b.hasSchemeID = v, true
			case "currencyID":
				b.currencyID, b.hasCurrencyID = v, true
			case "unitCode":
				b.unitCode, b.hasUnitCode = v, true
			case "listID":
				b.listID, b.hasListID = v, true
			case "format":
				b.format, b.hasFormat = v, true
			}
		}
	}
	if e == ceOther || e >= ceID {
		return
	}
	inv := b.inv
	n := len(b.stack)
	if n < 3 || b.stack[1] != ceSupplyChainTradeTransaction {
		return
	}
	// Under rsm:SupplyChainTradeTransaction: stack[2] is a line or one of
	// the three header groups.
	switch b.stack[2] {
	case ceIncludedSupplyChainTradeLineItem:
		if n == 3 {
			b.records++
			inv.Lines = append(inv.Lines, flowgate.Line{})
			return
		}
		line := &inv.Lines[len(inv.Lines)-1]
		switch {
		case n == 5 && b.stack[3] == ceSpecifiedLineTradeSettlement && e == ceSpecifiedTradeAllowanceCharge:
			d := details(line)
			b.records++
			d.AllowanceCharges = append(d.AllowanceCharges, flowgate.AllowanceCharge{})
		case n == 5 && b.stack[3] == ceSpecifiedLineTradeSettlement && e == ceBillingSpecifiedPeriod:
			d := details(line)
			b.records++
			d.Periods = append(d.Periods, flowgate.Period{})
		case n == 5 && b.stack[3] == ceSpecifiedTradeProduct && e == ceApplicableProductCharacteristic:
			d := details(line)
			b.records++
			d.Attributes = append(d.Attributes, flowgate.ItemAttribute{})
		}
	case ceApplicableHeaderTradeAgreement:
		if n == 4 {
			switch e {
			case ceSellerTradeParty:
				inv.Count.AccountingSupplierParty++
			case ceSellerTaxRepresentativeTradeParty:
				inv.Count.TaxRepresentativeParty++
			}
			return
		}
		b.partyStart(e)
	case ceApplicableHeaderTradeDelivery:
		if n == 5 && b.stack[3] == ceShipToTradeParty && e == cePostalTradeAddress {
			b.records++
			inv.DeliveryAddresses = append(inv.DeliveryAddresses, flowgate.Address{})
		}
	case ceApplicableHeaderTradeSettlement:
		if n == 4 {
			switch e {
			case cePayeeTradeParty:
				inv.Count.PayeeParty++
			case ceSpecifiedTradeSettlementPaymentMeans:
				b.records++
				inv.PaymentMeans = append(inv.PaymentMeans, flowgate.PaymentMeans{})
			case ceApplicableTradeTax:
				b.records++
				b.vat = append(b.vat, flowgate.TaxSubtotal{})
			case ceBillingSpecifiedPeriod:
				b.records++
				inv.Periods = append(inv.Periods, flowgate.Period{})
			case ceSpecifiedTradeAllowanceCharge:
				b.records++
				inv.AllowanceCharges = append(inv.AllowanceCharges, flowgate.AllowanceCharge{})
			case ceSpecifiedTradeSettlementHeaderMonetarySummation:
				inv.Count.LegalMonetaryTotal++
			case ceInvoiceReferencedDocument:
				b.records++
				inv.Preceding = append(inv.Preceding, flowgate.DocumentRef{})
			}
			return
		}
		if n == 5 && b.stack[3] == ceSpecifiedTradeSettlementPaymentMeans && e == cePayeePartyCreditorFinancialAccount {
			inv.PaymentMeans[len(inv.PaymentMeans)-1].HasAccount = true
			return
		}
		b.partyStart(e)
	}
}

// partyStart opens an aggregate of the party being read, if any.
func (b *ciiBuilder) partyStart(e cel) {
	p, _ := b.partyOf()
	if p == nil || len(b.stack) != 5 {
		return
	}
	switch e {
	case cePostalTradeAddress:
		p.HasAddress = true
	case ceSpecifiedTaxRegistration:
		b.records++
		p.TaxSchemes = append(p.TaxSchemes, flowgate.PartyTaxScheme{})
	case ceURIUniversalCommunication:
		p.HasEndpoint = true
	}
}

// partyOf returns the party whose element is at depth 3, if any, and
// whether its ram:Name is its legal name (seller, buyer) rather than its
// only name (payee, tax representative).
func (b *ciiBuilder) partyOf() (*flowgate.Party, bool) {
	if len(b.stack) < 4 {
		return nil, false
	}
	inv := b.inv
	switch b.stack[2] {
	case ceApplicableHeaderTradeAgreement:
		switch b.stack[3] {
		case ceSellerTradeParty:
			return &inv.Seller, true
		case ceBuyerTradeParty:
			return &inv.Buyer, true
		case ceSellerTaxRepresentativeTradeParty:
			return &inv.TaxRepresentative, false
		}
	case ceApplicableHeaderTradeSettlement:
		if b.stack[3] == cePayeeTradeParty {
			return &inv.Payee, false
		}
	}
	return nil, false
}

// ciiRepeated reports element e written twice in p, which the schema forbids.
func ciiRepeated(e, p cel, line int) *flowgate.FlowError {
	return &flowgate.FlowError{Code: flowgate.CodeSchema,
		MessageFR: fmt.Sprintf("élément %s répété dans %s (ligne %d) : le schéma CII D16B n'en admet qu'un", celNames[e], celNames[p], line),
		Message:   fmt.Sprintf("element %s repeated in %s (line %d): the CII D16B schema allows only one", celNames[e], celNames[p], line)}
}

func (b *ciiBuilder) value() string { return string(bytes.TrimSpace(b.text)) }

func (b *ciiBuilder) identifier() flowgate.Identifier {
	return flowgate.Identifier{Value: b.value(), SchemeID: b.schemeID, HasSchemeID: b.hasSchemeID}
}

func (b *ciiBuilder) amount() flowgate.Amount {
	a := flowgate.Amount{Present: true, Raw: b.value(), Currency: b.currencyID, HasCurrency: b.hasCurrencyID}
	if d, err := flowgate.ParseDecimal(a.Raw); err == nil {
		a.Value, a.OK = d, true
	}
	return a
}

// date reads a udt:DateTimeString, udt:DateString or qdt:DateTimeString:
// format 102 (YYYYMMDD), the only one EN 16931 admits in CII, becomes the
// YYYY-MM-DD the Invoice holds. An empty element reads as empty (the rules
// then report the date missing); any other format, or a value that is not
// eight digits, is FLX-SCHEMA, since the hub would otherwise have to guess
// the date.
func (b *ciiBuilder) date() string {
	v := bytes.TrimSpace(b.text)
	if len(v) == 0 {
		return ""
	}
	if b.format == "102" && len(v) == 8 && bytes.IndexFunc(v, func(r rune) bool { return r < '0' || r > '9' }) < 0 {
		return string(v[:4]) + "-" + string(v[4:6]) + "-" + string(v[6:])
	}
	if b.schemaErr == nil {
		shown := string(v)
		if len(shown) > 40 {
			shown = shown[:40] + "…"
		}
		f := b.format
		if !b.hasFormat {
			f = "(absent)"
		}
		b.schemaErr = &flowgate.FlowError{Code: flowgate.CodeSchema,
			MessageFR: fmt.Sprintf("ligne %d : date « %s » au format %q : seul le format 102 (AAAAMMJJ) est lu", b.startLine, shown, f),
			Message:   fmt.Sprintf("line %d: date '%s' in format %q: only format 102 (YYYYMMDD) is read", b.startLine, shown, f)}
	}
	return ""
}

func (b *ciiBuilder) end() {
	defer func() {
		b.stack = b.stack[:len(b.stack)-1]
		b.frames = b.frames[:len(b.frames)-1]
		b.text, b.owned = nil, false
	}()
	e := b.stack[len(b.stack)-1]
	if e < ceID {
		return
	}
	inv := b.inv
	switch {
	case b.under(1, ceExchangedDocumentContext):
		if b.at(1, ceExchangedDocumentContext, ceGuidelineSpecifiedDocumentContextParameter, ceID) && b.first(2) {
			inv.CustomizationID = b.value()
		}
		return
	case b.under(1, ceExchangedDocument):
		switch {
		case b.at(1, ceExchangedDocument, ceID):
			inv.Number = b.value()
		case b.at(1, ceExchangedDocument, ceTypeCode):
			inv.TypeCode = b.value()
		case b.at(1, ceExchangedDocument, ceIssueDateTime, ceDateTimeString):
			inv.IssueDate = b.date()
		}
		return
	case !b.under(1, ceSupplyChainTradeTransaction) || len(b.stack) < 4:
		return
	}
	switch b.stack[2] {
	case ceIncludedSupplyChainTradeLineItem:
		b.lineLeaf(e)
	case ceApplicableHeaderTradeAgreement:
		switch {
		case b.at(3, ceBuyerReference):
			inv.BuyerReference = b.value()
		case b.at(3, ceBuyerOrderReferencedDocument, ceIssuerAssignedID):
			inv.Order = b.value()
		case b.at(3, ceContractReferencedDocument, ceIssuerAssignedID) && b.first(3):
			inv.Contract = b.value()
		default:
			b.partyLeaf(e)
		}
	case ceApplicableHeaderTradeDelivery:
		if b.at(3, ceShipToTradeParty, cePostalTradeAddress, ceCountryID) {
			a := &inv.DeliveryAddresses[len(inv.DeliveryAddresses)-1]
			a.CountryCode, a.HasCountryCode = b.value(), true
		}
	case ceApplicableHeaderTradeSettlement:
		b.settlementLeaf(e)
	}
}

// settlementLeaf reads a leaf under ram:ApplicableHeaderTradeSettlement.
func (b *ciiBuilder) settlementLeaf(e cel) {
	inv := b.inv
	depth := len(b.stack) - 1
	switch b.stack[3] {
	case ceInvoiceCurrencyCode:
		if depth == 3 {
			inv.Currency, inv.HasCurrency = b.value(), true
		}
	case ceTaxCurrencyCode:
		if depth == 3 {
			inv.TaxCurrency, inv.HasTaxCurrency = b.value(), true
		}
	case cePayeeTradeParty:
		b.partyLeaf(e)
	case ceSpecifiedTradeSettlementPaymentMeans:
		pm := &inv.PaymentMeans[len(inv.PaymentMeans)-1]
		switch {
		case depth == 4 && e == ceTypeCode:
			pm.Code, pm.HasCode = b.value(), true
		case depth == 5 && b.stack[4] == cePayeePartyCreditorFinancialAccount && (e == ceIBANID || e == ceProprietaryID) && !pm.HasAccountID:
			pm.AccountID, pm.HasAccountID = b.value(), true
		}
	case ceApplicableTradeTax:
		st := &b.vat[len(b.vat)-1]
		switch {
		case depth == 4 && b.first(4): // the schema lets amounts repeat: the first, as XPath reads it
			switch e {
			case ceCalculatedAmount:
				st.TaxAmount = b.amount()
			case ceBasisAmount:
				st.TaxableAmount = b.amount()
			case ceCategoryCode:
				st.Category = b.value()
			case ceRateApplicablePercent:
				st.Percent, st.HasPercent = b.value(), true
			case ceTypeCode:
				st.TaxScheme = b.value()
			case ceDueDateTypeCode:
				if !b.hasDueCode {
					b.dueDateCode, b.hasDueCode = b.value(), true
				}
			}
		case depth == 5 && b.stack[4] == ceTaxPointDate && e == ceDateString:
			if d := b.date(); !inv.HasTaxPointDate || inv.TaxPointDate == "" {
				inv.TaxPointDate, inv.HasTaxPointDate = d, true
			}
		}
	case ceBillingSpecifiedPeriod:
		b.period(&inv.Periods[len(inv.Periods)-1], 3, e)
	case ceSpecifiedTradeAllowanceCharge:
		b.allowanceCharge(&inv.AllowanceCharges[len(inv.AllowanceCharges)-1], 3, e)
	case ceSpecifiedTradePaymentTerms:
		switch {
		case depth == 4 && e == ceDescription:
			inv.HasPaymentTerms = true
		case depth == 5 && b.stack[4] == ceDueDateDateTime && e == ceDateTimeString:
			b.date()
			inv.HasDueDate = true
		}
	case ceSpecifiedTradeSettlementHeaderMonetarySummation:
		if depth != 4 || !b.first(3) {
			return
		}
		t := &inv.Totals
		set := func(a *flowgate.Amount) {
			if !a.Present { // the first, as XPath reads it
				*a = b.amount()
			}
		}
		switch e {
		case ceLineTotalAmount:
			set(&t.LineExtension)
		case ceChargeTotalAmount:
			set(&t.ChargeTotal)
		case ceAllowanceTotalAmount:
			set(&t.AllowanceTotal)
		case ceTaxBasisTotalAmount:
			set(&t.TaxExclusive)
		case ceTaxTotalAmount:
			b.records++
			inv.TaxTotals = append(inv.TaxTotals, flowgate.TaxTotal{TaxAmount: b.amount()})
		case ceGrandTotalAmount:
			set(&t.TaxInclusive)
		case ceRoundingAmount:
			set(&t.Rounding)
		case ceTotalPrepaidAmount:
			set(&t.Prepaid)
		case ceDuePayableAmount:
			set(&t.Payable)
		}
	case ceInvoiceReferencedDocument:
		ref := &inv.Preceding[len(inv.Preceding)-1]
		switch {
		case depth == 4 && e == ceIssuerAssignedID && !ref.HasID:
			ref.ID, ref.HasID = b.value(), true
		case depth == 5 && b.stack[4] == ceFormattedIssueDateTime && e == ceDateTimeString && ref.IssueDate == "":
			ref.IssueDate = b.date()
		}
	}
}

// period reads a leaf of a ram:BillingSpecifiedPeriod at depth d.
func (b *ciiBuilder) period(p *flowgate.Period, d int, e cel) {
	if len(b.stack)-1 != d+2 || e != ceDateTimeString {
		return
	}
	switch b.stack[d+1] {
	case ceStartDateTime:
		p.StartDate, p.HasStartDate = b.date(), true
	case ceEndDateTime:
		p.EndDate, p.HasEndDate = b.date(), true
	}
}

// allowanceCharge reads a leaf of a ram:SpecifiedTradeAllowanceCharge at
// depth d.
func (b *ciiBuilder) allowanceCharge(ac *flowgate.AllowanceCharge, d int, e cel) {
	switch rel := len(b.stack) - 1 - d; {
	case rel == 1:
		switch e {
		case ceActualAmount:
			if !ac.Amount.Present {
				ac.Amount = b.amount()
			}
		case ceReason:
			ac.Reason, ac.HasReason = b.value(), true
		case ceReasonCode:
			ac.ReasonCode, ac.HasReasonCode = b.value(), true
		}
	case rel == 2 && b.stack[d+1] == ceChargeIndicator && e == ceIndicator:
		ac.ChargeIndicator = b.value()
	case rel == 2 && b.stack[d+1] == ceCategoryTradeTax && b.first(d+1):
		switch e {
		case ceCategoryCode:
			ac.TaxCategory.ID, ac.TaxCategory.HasID = b.value(), true
		case ceTypeCode:
			ac.TaxCategory.TaxScheme = b.value()
		}
	}
}

// lineLeaf reads a leaf of a ram:IncludedSupplyChainTradeLineItem.
func (b *ciiBuilder) lineLeaf(e cel) {
	inv := b.inv
	line := &inv.Lines[len(inv.Lines)-1]
	depth := len(b.stack) - 1
	switch b.stack[3] {
	case ceAssociatedDocumentLineDocument:
		if depth == 4 && e == ceLineID {
			line.ID = b.value()
		}
	case ceSpecifiedTradeProduct:
		switch {
		case depth == 4 && e == ceName && b.first(4):
			line.ItemName = b.value()
		case depth == 4 && e == ceGlobalID:
			d := details(line)
			b.records++
			d.StandardIDs = append(d.StandardIDs, b.identifier())
		case depth == 5 && b.stack[4] == ceDesignatedProductClassification && e == ceClassCode:
			d := details(line)
			b.records++
			d.Classifications = append(d.Classifications, flowgate.Code{Value: b.value(), ListID: b.listID, HasListID: b.hasListID})
		case depth == 5 && b.stack[4] == ceApplicableProductCharacteristic:
			a := &line.Details.Attributes[len(line.Details.Attributes)-1]
			switch e {
			case ceDescription:
				if !a.HasName {
					a.Name, a.HasName = b.value(), true
				}
			case ceValue:
				if !a.HasValue {
					a.Value, a.HasValue = b.value(), true
				}
			}
		}
	case ceSpecifiedLineTradeAgreement:
		if depth == 5 && e == ceChargeAmount && b.first(4) && b.first(5) {
			switch b.stack[4] {
			case ceNetPriceProductTradePrice:
				line.Price = b.amount()
			case ceGrossPriceProductTradePrice:
				details(line).GrossPrice = b.amount()
			}
		}
	case ceSpecifiedLineTradeDelivery:
		if depth == 4 && e == ceBilledQuantity {
			line.Quantity = b.amount()
			line.Unit, line.HasUnit = b.unitCode, b.hasUnitCode
		}
	case ceSpecifiedLineTradeSettlement:
		switch {
		case depth == 5 && b.stack[4] == ceApplicableTradeTax && b.first(4):
			switch e {
			case ceCategoryCode:
				line.TaxCategory.ID, line.TaxCategory.HasID = b.value(), true
			case ceTypeCode:
				line.TaxCategory.TaxScheme = b.value()
			}
		case depth == 5 && b.stack[4] == ceSpecifiedTradeSettlementLineMonetarySummation && e == ceLineTotalAmount && b.first(4) && b.first(5):
			line.LineExtension = b.amount()
		case depth >= 5 && b.stack[4] == ceBillingSpecifiedPeriod:
			d := line.Details
			b.period(&d.Periods[len(d.Periods)-1], 4, e)
		case depth >= 5 && b.stack[4] == ceSpecifiedTradeAllowanceCharge:
			d := line.Details
			b.allowanceCharge(&d.AllowanceCharges[len(d.AllowanceCharges)-1], 4, e)
		}
	}
}

// partyLeaf reads a leaf of the party at depth 3.
func (b *ciiBuilder) partyLeaf(e cel) {
	p, legal := b.partyOf()
	if p == nil {
		return
	}
	switch len(b.stack) - 1 {
	case 4: // Party/leaf
		switch e {
		case ceID, ceGlobalID:
			b.records++
			p.Identifiers = append(p.Identifiers, b.identifier())
		case ceName:
			if legal {
				if b.first(4) {
					p.Name, p.HasName = b.value(), true
				}
			} else {
				b.records++
				p.TradingNames = append(p.TradingNames, b.value())
			}
		}
	case 5: // Party/Agg/leaf
		switch agg := b.stack[4]; {
		case agg == ceSpecifiedLegalOrganization && e == ceID && b.first(4):
			p.LegalID, p.HasLegalID = b.identifier(), true
		case agg == ceSpecifiedLegalOrganization && e == ceTradingBusinessName && b.first(4):
			b.records++
			p.TradingNames = append(p.TradingNames, b.value())
		case agg == cePostalTradeAddress && e == ceCountryID && b.first(4):
			p.CountryCode = b.value()
		case agg == ceSpecifiedTaxRegistration && e == ceID:
			v := b.value()
			ts := &p.TaxSchemes[len(p.TaxSchemes)-1]
			ts.CompanyID, ts.HasCompanyID = v, true
			ts.TaxScheme = b.schemeID
			if b.schemeID == "VA" {
				ts.TaxScheme = "VAT"
				if p.VATID == "" {
					p.VATID = v
				}
			}
		case agg == ceURIUniversalCommunication && e == ceURIID && b.first(4):
			p.Endpoint, p.HasEndpoint = b.identifier(), true
		}
	}
}
