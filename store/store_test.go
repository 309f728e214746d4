package store

import (
	"context"
	"path/filepath"
	"testing"
	"time"
)

func open(t *testing.T, path string) *SQLite {
	t.Helper()
	s, err := Open(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func TestPlanLifecycle(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "flowgate.db")
	s := open(t, path)
	now := time.Date(2026, 11, 26, 10, 0, 0, 123456000, time.UTC)
	b := PlanBatch{
		Flows: []Flow{
			{ID: "A1", Partner: "FOURN01", FileName: "f.xml", SHA256: "aa", Status: "IN_INTEGRE", ReceivedAt: now, Plan: []byte(`{"x":1}`)},
			{ID: "A2", Partner: "FOURN01", FileName: "g.xml", SHA256: "aa", Status: "IN_INTEGRE", DuplicateOf: "A1", ReceivedAt: now, Plan: []byte(`{}`)},
		},
		Invoices: []Invoice{{FlowID: "A1", Seq: 0, Number: "F1", SupplierSIRET: "73282932000074", RecipientSIRET: "21000001000012",
			IssueYear: "2026", Verdict: "accepted", Location: "portal/21000001000012/x.xml"}},
		Statuses: []Status{{FlowID: "A1", Seq: 0, Code: "01", At: now}, {FlowID: "A1", Seq: 0, Code: "03", At: now}},
	}
	if err := s.SavePlans(ctx, b); err != nil {
		t.Fatal(err)
	}
	// A failing batch records nothing of itself.
	if err := s.SavePlans(ctx, PlanBatch{Flows: []Flow{{ID: "B1", Plan: []byte("{}")}, {ID: "A1", Plan: []byte("{}")}}}); err == nil {
		t.Fatal("duplicate flow id accepted")
	}
	if _, ok, _ := s.Flow(ctx, "B1"); ok {
		t.Fatal("half of a failed batch was saved")
	}

	pending, err := s.Pending(ctx)
	if err != nil || len(pending) != 2 || pending[0].ID != "A1" || string(pending[0].Plan) != `{"x":1}` || !pending[0].ReceivedAt.Equal(now) {
		t.Fatalf("pending %+v %v", pending, err)
	}
	if ok, _ := s.Accepted(ctx, "73282932000074", "F1", "2026"); !ok {
		t.Error("accepted invoice not found")
	}
	if ok, _ := s.Accepted(ctx, "73282932000074", "F1", "2025"); ok {
		t.Error("other year found")
	}
	f, ok, err := s.FlowBySHA256(ctx, "FOURN01", "aa")
	if err != nil || !ok || f.ID != "A1" {
		t.Errorf("by sha: %+v %v %v", f, ok, err)
	}
	if _, ok, _ := s.FlowBySHA256(ctx, "OTHER", "aa"); ok {
		t.Error("another partner's flow found by its bytes")
	}
	if err := s.MarkDone(ctx, []string{"A1", "A2"}, now.Add(time.Second)); err != nil {
		t.Fatal(err)
	}
	s.Close()

	// Reopened, the store is the truth.
	s = open(t, path)
	if pending, _ := s.Pending(ctx); len(pending) != 0 {
		t.Errorf("pending after done: %v", pending)
	}
	if planned, done, _ := s.Counts(ctx); planned != 0 || done != 2 {
		t.Errorf("counts %d %d", planned, done)
	}
	if max, _ := s.MaxFlowID(ctx); max != "A2" {
		t.Errorf("max id %q", max)
	}
	sts, _ := s.Statuses(ctx, "A1")
	invs, _ := s.Invoices(ctx, "A1")
	if len(sts) != 2 || len(invs) != 1 || invs[0].Location == "" {
		t.Errorf("statuses %v invoices %v", sts, invs)
	}
	f, _, _ = s.Flow(ctx, "A1")
	if f.State != StateDone || !f.FinishedAt.Equal(now.Add(time.Second)) {
		t.Errorf("flow %+v", f)
	}
}

func TestEmptyStore(t *testing.T) {
	s := open(t, filepath.Join(t.TempDir(), "x.db"))
	ctx := context.Background()
	if max, err := s.MaxFlowID(ctx); max != "" || err != nil {
		t.Errorf("max %q %v", max, err)
	}
	if _, ok, err := s.Flow(ctx, "none"); ok || err != nil {
		t.Errorf("flow %v %v", ok, err)
	}
	if _, ok, err := s.FlowBySHA256(ctx, "P", "none"); ok || err != nil {
		t.Errorf("sha %v %v", ok, err)
	}
}

func TestOpenFailsOnUnwritablePath(t *testing.T) {
	if _, err := Open(context.Background(), filepath.Join(t.TempDir(), "missing", "dir", "x.db")); err == nil {
		t.Error("opened a database in a missing folder")
	}
}

func TestRemoteLedger(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "x.db")
	s := open(t, path)
	now := time.Now()
	if ok, err := s.Pulled(ctx, "P1", "h:22", "a.xml.flowgate-1"); ok || err != nil {
		t.Fatalf("pulled before: %v %v", ok, err)
	}
	if err := s.RecordPulls(ctx, "P1", "h:22", []Pull{{RemoteName: "a.xml.flowgate-1", LocalName: "a.xml", Size: 10}}, now); err != nil {
		t.Fatal(err)
	}
	if err := s.RecordPush(ctx, "P1", "h:22", "CR_1.xml", now); err != nil {
		t.Fatal(err)
	}
	s.Close()
	s = open(t, path)
	if ok, _ := s.Pulled(ctx, "P1", "h:22", "a.xml.flowgate-1"); !ok {
		t.Error("pull forgotten")
	}
	if ok, _ := s.Pulled(ctx, "P1", "other:22", "a.xml.flowgate-1"); ok {
		t.Error("pull of another remote")
	}
	pushed, err := s.Pushed(ctx, "P1", "h:22")
	if err != nil || !pushed["CR_1.xml"] || len(pushed) != 1 {
		t.Errorf("pushed %v %v", pushed, err)
	}
}

// TestAttemptsAndQuarantine: attempts are counted before each try and
// survive a reopen (a crash); a quarantined flow is listed, its invoices
// no longer count as accepted; a flow done forgets its attempts.
func TestAttemptsAndQuarantine(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "flowgate.db")
	s := open(t, path)
	now := time.Date(2026, 11, 26, 10, 0, 0, 0, time.UTC)
	a := []Attempt{{FlowID: "Q1", Partner: "FOURN01", FileName: "f.xml"}, {FlowID: "Q2", Partner: "FOURN01", FileName: "g.xml"}}
	for i := 1; i <= 2; i++ {
		n, err := s.BeginAttempts(ctx, a, now)
		if err != nil || n["Q1"] != i || n["Q2"] != i {
			t.Fatalf("try %d: %v %v", i, n, err)
		}
	}
	if err := s.FailAttempt(ctx, "Q1", "panic: boom", now); err != nil {
		t.Fatal(err)
	}
	if err := s.ForgetAttempts(ctx, []string{"Q2"}); err != nil {
		t.Fatal(err)
	}
	s.Close()
	s = open(t, path)
	got, err := s.Attempts(ctx, []string{"Q1", "Q2", "Q3"})
	if err != nil || got["Q1"].Attempts != 2 || got["Q1"].LastError != "panic: boom" || got["Q1"].FileName != "f.xml" ||
		got["Q2"].Attempts != 1 || len(got) != 2 {
		t.Fatalf("attempts %+v, %v", got, err)
	}
	b := PlanBatch{
		Flows: []Flow{{ID: "Q1", Partner: "FOURN01", FileName: "f.xml", Status: "IN_INTEGRE", Plan: []byte(`{}`)},
			{ID: "Q2", Partner: "FOURN01", FileName: "g.xml", Status: "IN_INTEGRE", Plan: []byte(`{}`)}},
		Invoices: []Invoice{{FlowID: "Q1", Number: "F1", SupplierSIRET: "s", IssueYear: "2026", Verdict: "accepted"}},
	}
	if err := s.SavePlans(ctx, b); err != nil {
		t.Fatal(err)
	}
	if ok, err := s.ReplacePlan(ctx, "Q1", "IN_REJETE", []byte(`{"q":1}`), nil); !ok || err != nil {
		t.Fatalf("replace plan: %v %v", ok, err)
	}
	if err := s.MarkQuarantined(ctx, []string{"Q1"}, now); err != nil {
		t.Fatal(err)
	}
	if err := s.MarkDone(ctx, []string{"Q2"}, now); err != nil {
		t.Fatal(err)
	}
	if ok, _ := s.ReplacePlan(ctx, "Q1", "IN_REJETE", []byte(`{}`), nil); ok {
		t.Error("plan of a quarantined flow replaced")
	}
	q, err := s.Quarantined(ctx)
	if err != nil || len(q) != 1 || q[0].ID != "Q1" || q[0].State != StateQuarantined || q[0].Status != "IN_REJETE" || string(q[0].Plan) != `{"q":1}` {
		t.Fatalf("quarantined %+v, %v", q, err)
	}
	if seen, _ := s.Accepted(ctx, "s", "F1", "2026"); seen {
		t.Error("invoice of a quarantined flow still counts as accepted")
	}
	got, _ = s.Attempts(ctx, []string{"Q1", "Q2"})
	if got["Q1"].Attempts != 2 || len(got) != 1 {
		t.Errorf("attempts after done/quarantine: %+v", got)
	}
}
