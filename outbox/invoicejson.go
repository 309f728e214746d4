package outbox

import (
	"encoding/json"
	"errors"
	"fmt"
	"time"
)

// invoiceStatusesJSON is the JSON twin of CPPFactureStatuts: the same
// envelope facts and one object per status, with the amounts CPPStatut
// cannot carry.
type invoiceStatusesJSON struct {
	FlowID   string              `json:"flow_id"`
	Produced time.Time           `json:"produced_at"`
	Sender   string              `json:"sender"`
	Receiver string              `json:"receiver"`
	Statuses []invoiceStatusJSON `json:"statuses"`
}

type invoiceStatusJSON struct {
	Code            string    `json:"code"`
	Label           string    `json:"label"`
	At              time.Time `json:"at"`
	InvoiceNumber   string    `json:"invoice_number"`
	InvoiceDate     string    `json:"invoice_date,omitempty"`
	SupplierSIRET   string    `json:"supplier_siret"`
	SupplierName    string    `json:"supplier_name,omitempty"`
	SupplierCountry string    `json:"supplier_country,omitempty"`
	RecipientSIRET  string    `json:"recipient_siret"`
	RecipientName   string    `json:"recipient_name,omitempty"`
	ServiceCode     string    `json:"service_code,omitempty"`
	ServiceName     string    `json:"service_name,omitempty"`
	TaxExclusive    string    `json:"total_without_vat,omitempty"` // BT-109, exact decimal as written
	TaxInclusive    string    `json:"total_with_vat,omitempty"`    // BT-112
	Payable         string    `json:"amount_due,omitempty"`        // BT-115
	Currency        string    `json:"currency,omitempty"`          // BT-5
	Comment         string    `json:"comment,omitempty"`
	MandateID       string    `json:"mandate_id,omitempty"`
}

// InvoiceStatusJSON renders invoice-level statuses as JSON for partners
// whose status_formats include "json": every status InvoiceStatusXML would
// render, with the same checks (a status CPPStatut could not hold is an
// error here too, so both formats always say the same), plus the service
// name and the amounts. One object, ended by a newline.
func InvoiceStatusJSON(env Envelope, statuses []InvoiceStatus) ([]byte, error) {
	_, err := env.render()
	if len(statuses) == 0 {
		err = errors.Join(err, errors.New("no invoice status to render"))
	}
	doc := invoiceStatusesJSON{FlowID: clean(env.FlowID), Produced: env.Produced.UTC(), Sender: env.Sender.ID,
		Receiver: env.Receiver.ID, Statuses: make([]invoiceStatusJSON, 0, len(statuses))}
	for i, st := range statuses {
		u, serr := st.render(i + 1)
		if serr != nil {
			err = errors.Join(err, fmt.Errorf("status %d (invoice %q): %w", i+1, quote(st.InvoiceNumber), serr))
			continue
		}
		doc.Statuses = append(doc.Statuses, invoiceStatusJSON{Code: st.Code, Label: u.Data.Complement, At: st.At.UTC(),
			InvoiceNumber: u.Data.InvoiceID, InvoiceDate: st.InvoiceDate,
			SupplierSIRET: st.SupplierSIRET, SupplierName: u.Supplier.Name, SupplierCountry: u.Supplier.Country,
			RecipientSIRET: st.RecipientSIRET, RecipientName: u.Debtor.Name,
			ServiceCode: u.Debtor.ServiceCode, ServiceName: u.Debtor.ServiceName,
			TaxExclusive: clip(st.TaxExclusive, maxQuoted), TaxInclusive: clip(st.TaxInclusive, maxQuoted),
			Payable: clip(st.Payable, maxQuoted), Currency: clip(st.Currency, maxQuoted),
			Comment: u.Data.Comment, MandateID: u.Data.MandateID})
	}
	if err != nil {
		return nil, fmt.Errorf("invoice statuses of %q: %w", env.FlowID, err)
	}
	data, err := json.Marshal(doc)
	if err != nil {
		return nil, fmt.Errorf("invoice statuses of %q: %w", env.FlowID, err)
	}
	return append(data, '\n'), nil
}
