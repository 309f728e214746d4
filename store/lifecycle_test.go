package store

import (
	"context"
	"database/sql"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestHistory: statuses are a history (a status may come back), each
// event keeps who set it, its comment, mandate and flow, and the invoice
// carries its current status; Delivered finds it by supplier, number and
// issue date.
func TestHistory(t *testing.T) {
	ctx := context.Background()
	s := open(t, filepath.Join(t.TempDir(), "flowgate.db"))
	now := time.Date(2026, 11, 26, 10, 0, 0, 0, time.UTC)
	err := s.SavePlans(ctx, PlanBatch{
		Flows: []Flow{{ID: "A1", Partner: "FOURN01", FileName: "f.xml", SHA256: "aa", Status: "IN_INTEGRE", ReceivedAt: now, Plan: []byte(`{}`)}},
		Invoices: []Invoice{{FlowID: "A1", Seq: 0, Number: "F1", SupplierSIRET: "73282932000074", RecipientSIRET: "21000001000012",
			IssueYear: "2026", IssueDate: "2026-11-02", TypeCode: "380", ServiceCode: "SERV", Engagement: "EJ1", Verdict: "accepted", Location: "x",
			SupplierName: "Durand & Fils", SupplierCountry: "FR", RecipientName: "Commune de Valmont"}},
		Statuses: []Status{{FlowID: "A1", Seq: 0, Code: "01", At: now}, {FlowID: "A1", Seq: 0, Code: "03", At: now}},
	})
	if err != nil {
		t.Fatal(err)
	}
	for i, st := range []Status{
		{FlowID: "A1", Seq: 0, Code: "05", At: now.Add(time.Hour), By: "VALMONT", Comment: "erreur", SetIn: "S1"},
		{FlowID: "A1", Seq: 0, Code: "03", At: now.Add(2 * time.Hour), By: "VALMONT", Comment: "annulé", SetIn: "S2"},
		{FlowID: "A1", Seq: 0, Code: "08", At: now.Add(3 * time.Hour), By: "operator", Mandate: "M-9", SetIn: "S3"},
	} {
		err := s.SavePlans(ctx, PlanBatch{Flows: []Flow{{ID: st.SetIn, Partner: "VALMONT", FileName: "s.xml", SHA256: "s" + st.SetIn,
			Status: "IN_INTEGRE", ReceivedAt: now, Plan: []byte(`{}`)}}, Statuses: []Status{st}})
		if err != nil {
			t.Fatalf("status %d: %v", i, err)
		}
	}
	h, err := s.History(ctx, "A1", 0)
	if err != nil {
		t.Fatal(err)
	}
	var codes string
	for _, e := range h {
		codes += e.Code + " "
	}
	if codes != "01 03 05 03 08 " || h[0].By != "hub" || h[0].SetIn != "A1" || h[2].By != "VALMONT" || h[2].Comment != "erreur" ||
		h[4].Mandate != "M-9" || h[4].SetIn != "S3" || !h[4].At.Equal(now.Add(3*time.Hour)) {
		t.Fatalf("history %s %+v", codes, h)
	}
	for _, c := range []struct {
		date string
		n    int
	}{{"", 1}, {"2026-11-02", 1}, {"2026-11-03", 0}} {
		invs, err := s.Delivered(ctx, "73282932000074", "F1", c.date)
		if err != nil || len(invs) != c.n {
			t.Fatalf("delivered %q: %+v %v", c.date, invs, err)
		}
		if c.n == 1 && (invs[0].Status != "08" || invs[0].IssueDate != "2026-11-02" || invs[0].TypeCode != "380" || invs[0].Engagement != "EJ1" ||
			invs[0].SupplierName != "Durand & Fils" || invs[0].SupplierCountry != "FR" || invs[0].RecipientName != "Commune de Valmont") {
			t.Fatalf("delivered %+v", invs[0])
		}
	}
}

// lifecycleVersion is the version of the lifecycle migration (those after
// it run again on the older schema the test makes).
func lifecycleVersion(t *testing.T) int {
	for i, m := range migrations {
		if strings.Contains(m, "CREATE TABLE status_events") {
			return i + 1
		}
	}
	t.Fatal("no lifecycle migration")
	return 0
}

// TestMigrateStatuses: a store of the previous schema keeps its statuses
// as history, and its accepted invoices are at 03.
func TestMigrateStatuses(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "flowgate.db")
	s := open(t, path)
	s.Close()
	db, err := sql.Open("sqlite", "file:"+path)
	if err != nil {
		t.Fatal(err)
	}
	// Back to the schema before the lifecycle migration, with a flow.
	for _, q := range []string{
		`DROP TABLE statuses`,
		`CREATE TABLE statuses (flow_id TEXT NOT NULL REFERENCES flows (id), seq INTEGER NOT NULL, code TEXT NOT NULL, at TEXT NOT NULL, PRIMARY KEY (flow_id, seq, code))`,
		`CREATE TABLE invoices2 AS SELECT flow_id, seq, entry, number, supplier_siret, recipient_siret, issue_year, verdict, location FROM invoices`,
		`DROP TABLE invoices`,
		`ALTER TABLE invoices2 RENAME TO invoices`,
		fmt.Sprintf(`DELETE FROM schema_migrations WHERE version >= %d`, lifecycleVersion(t)), // the lifecycle migration and those after it
		`INSERT INTO flows (id, partner, file_name, sha256, status, state, received_at, plan) VALUES ('A1', 'P', 'f', 'aa', 'IN_INTEGRE', 'done', '2026-01-01T00:00:00Z', '{}')`,
		`INSERT INTO invoices VALUES ('A1', 0, '', 'F1', '73282932000074', '21000001000012', '2026', 'accepted', 'x')`,
		`INSERT INTO statuses VALUES ('A1', 0, '01', '2026-01-01T00:00:00Z'), ('A1', 0, '03', '2026-01-01T00:00:00Z')`,
	} {
		if _, err := db.Exec(q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	db.Close()
	s = open(t, path)
	h, err := s.History(ctx, "A1", 0)
	if err != nil || len(h) != 2 || h[0].Code != "01" || h[1].Code != "03" || h[1].By != "hub" {
		t.Fatalf("history %+v %v", h, err)
	}
	invs, err := s.Delivered(ctx, "73282932000074", "F1", "2026-05-05")
	if err != nil || len(invs) != 1 || invs[0].Status != "03" {
		t.Fatalf("delivered %+v %v", invs, err)
	}
}
