package outbox

import (
	"encoding/json"
	"strings"
	"testing"
	"time"
)

// TestInvoiceStatusJSON: the JSON twin says what the XML says, plus the
// service name and the amounts; what the XML refuses, it refuses too; the
// XML carries the service name as NomService, schema-valid.
func TestInvoiceStatusJSON(t *testing.T) {
	st := InvoiceStatus{Code: "03", SupplierSIRET: "00000000169959", SupplierName: "Fournisseur SA",
		RecipientSIRET: "00000000169991", RecipientName: "Commune de Test", ServiceCode: "COMPTA", ServiceName: "Comptabilité",
		InvoiceNumber: "FA-2026-1", InvoiceDate: "2026-11-20", At: time.Date(2026, 12, 1, 9, 30, 0, 0, time.UTC),
		TaxExclusive: "100.00", TaxInclusive: "120.00", Payable: "120.00", Currency: "EUR"}
	data, err := InvoiceStatusJSON(env, []InvoiceStatus{st})
	if err != nil {
		t.Fatal(err)
	}
	var doc map[string]any
	if err := json.Unmarshal(data, &doc); err != nil {
		t.Fatalf("%v: %s", err, data)
	}
	got := doc["statuses"].([]any)[0].(map[string]any)
	for k, want := range map[string]string{"code": "03", "label": "Mise à disposition", "invoice_number": "FA-2026-1",
		"service_code": "COMPTA", "service_name": "Comptabilité", "total_without_vat": "100.00", "total_with_vat": "120.00",
		"amount_due": "120.00", "currency": "EUR", "recipient_name": "Commune de Test"} {
		if got[k] != want {
			t.Errorf("%s = %v, want %q", k, got[k], want)
		}
	}
	x, err := InvoiceStatusXML(env, []InvoiceStatus{st})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(x), "<NomService>Comptabilité</NomService>") {
		t.Errorf("no NomService:\n%s", x)
	}
	xmllint(t, x)
	bad := st
	bad.RecipientSIRET = "123"
	if _, err := InvoiceStatusJSON(env, []InvoiceStatus{bad}); err == nil || !strings.Contains(err.Error(), "recipient SIRET") {
		t.Errorf("bad SIRET: %v", err)
	}
	if _, err := InvoiceStatusJSON(env, nil); err == nil {
		t.Error("no status accepted")
	}
}
