package store

import (
	"context"
	"fmt"
)

// CreditedBy returns the accepted credit notes of a supplier to recipient
// that name the invoice number issued on date (YYYY-MM-DD, as recorded),
// oldest first: those linked to that date (Credits, CreditsDate), and
// those linked before links recorded the date (CreditsDate empty), which
// name the number only.
func (s *SQLite) CreditedBy(ctx context.Context, supplier, number, date, recipient string) ([]Invoice, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT `+invoiceColumns+` FROM invoices
		WHERE supplier_siret = ? AND credits = ? AND recipient_siret = ? AND verdict = 'accepted' AND (credits_date = ? OR credits_date = '')
		ORDER BY flow_id, seq`, supplier, number, recipient, date)
	if err != nil {
		return nil, fmt.Errorf("credit notes of %s of %s: %w", number, date, err)
	}
	out, err := scanInvoices(rows)
	if err != nil {
		return nil, fmt.Errorf("credit notes of %s of %s: %w", number, date, err)
	}
	return out, nil
}
