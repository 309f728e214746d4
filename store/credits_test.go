package store

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestCreditedBy: a credit note's link keeps the credited invoice's issue
// date, and CreditedBy tells apart invoices of one number in two years;
// a link recorded without a date names the number only.
func TestCreditedBy(t *testing.T) {
	ctx := context.Background()
	s := open(t, filepath.Join(t.TempDir(), "flowgate.db"))
	now := time.Date(2026, 11, 26, 10, 0, 0, 0, time.UTC)
	inv := func(seq int, number, date, credits, creditsDate string) Invoice {
		return Invoice{FlowID: "A1", Seq: seq, Number: number, SupplierSIRET: "73282932000074", RecipientSIRET: "21000001000012",
			IssueYear: date[:4], IssueDate: date, TypeCode: "381", Verdict: "accepted", Credits: credits, CreditsDate: creditsDate}
	}
	err := s.SavePlans(ctx, PlanBatch{
		Flows: []Flow{{ID: "A1", Partner: "FOURN01", FileName: "f.xml", SHA256: "aa", Status: "IN_INTEGRE", ReceivedAt: now, Plan: []byte(`{}`)}},
		Invoices: []Invoice{inv(0, "AV-1", "2026-02-01", "FA-Y", "2026-01-10"), inv(1, "AV-2", "2026-02-01", "FA-Y", "2025-12-15"),
			inv(2, "AV-OLD", "2026-02-01", "FA-Y", ""), inv(3, "AV-3", "2026-02-01", "FA-Z", "2026-01-10")},
	})
	if err != nil {
		t.Fatal(err)
	}
	for date, want := range map[string]string{"2026-01-10": "AV-1 AV-OLD", "2025-12-15": "AV-2 AV-OLD", "2024-01-01": "AV-OLD"} {
		got, err := s.CreditedBy(ctx, "73282932000074", "FA-Y", date, "21000001000012")
		var numbers []string
		for _, c := range got {
			numbers = append(numbers, c.Number)
		}
		if err != nil || strings.Join(numbers, " ") != want {
			t.Errorf("%s: %v %v, want %s", date, numbers, err, want)
		}
	}
	invs, err := s.Invoices(ctx, "A1")
	if err != nil || invs[0].CreditsDate != "2026-01-10" || invs[2].CreditsDate != "" {
		t.Errorf("credits_date read back: %v %+v", err, invs)
	}
	if got, _ := s.CreditedBy(ctx, "73282932000074", "FA-Y", "2026-01-10", "11000201100044"); len(got) != 0 {
		t.Errorf("another recipient's: %+v", got)
	}
}
