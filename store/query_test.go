package store

import (
	"context"
	"path/filepath"
	"testing"
	"time"
)

// TestListFlowsAndReports: flows listed newest first by partner, status or
// state and id bound; reports read back; a flow recorded before reports
// were kept has none.
func TestListFlowsAndReports(t *testing.T) {
	ctx := context.Background()
	s := open(t, filepath.Join(t.TempDir(), "flowgate.db"))
	now := time.Now()
	b := PlanBatch{Flows: []Flow{
		{ID: "20261101T000000.000000Z", Partner: "A", FileName: "a.xml", Status: "IN_INTEGRE", ReceivedAt: now, Plan: []byte(`{}`), Report: []byte(`{"file":"a.xml"}`)},
		{ID: "20261102T000000.000000Z", Partner: "B", FileName: "b.xml", Status: "IN_REJETE", ReceivedAt: now, Plan: []byte(`{}`)},
		{ID: "20261103T000000.000000Z", Partner: "A", FileName: "c.xml", Status: "IN_REJETE", ReceivedAt: now, Plan: []byte(`{}`), Report: []byte(`{}`)},
	}}
	if err := s.SavePlans(ctx, b); err != nil {
		t.Fatal(err)
	}
	if err := s.MarkQuarantined(ctx, []string{"20261103T000000.000000Z"}, now); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		f    FlowFilter
		want []string
	}{
		{FlowFilter{}, []string{"20261103T000000.000000Z", "20261102T000000.000000Z", "20261101T000000.000000Z"}},
		{FlowFilter{Partner: "A"}, []string{"20261103T000000.000000Z", "20261101T000000.000000Z"}},
		{FlowFilter{Status: "IN_REJETE"}, []string{"20261103T000000.000000Z", "20261102T000000.000000Z"}},
		{FlowFilter{Status: StateQuarantined}, []string{"20261103T000000.000000Z"}},
		{FlowFilter{FromID: "20261102T000000.000000Z", Limit: 1}, []string{"20261103T000000.000000Z"}},
	} {
		got, err := s.ListFlows(ctx, tc.f)
		var ids []string
		for _, f := range got {
			ids = append(ids, f.ID)
		}
		if err != nil || len(ids) != len(tc.want) || (len(ids) > 0 && ids[0] != tc.want[0]) || (len(ids) > 1 && ids[1] != tc.want[1]) {
			t.Errorf("%+v: %v %v, want %v", tc.f, ids, err, tc.want)
		}
	}
	if rep, err := s.Report(ctx, "20261101T000000.000000Z"); err != nil || string(rep) != `{"file":"a.xml"}` {
		t.Errorf("report %q %v", rep, err)
	}
	if rep, err := s.Report(ctx, "20261102T000000.000000Z"); err != nil || rep != nil {
		t.Errorf("report of a flow without one %q %v", rep, err)
	}
}

// TestReprocessRequests: a request is found for its partner, name and
// bytes only, used up by the flow that saves it, and one per name waits at
// a time.
func TestReprocessRequests(t *testing.T) {
	ctx := context.Background()
	s := open(t, filepath.Join(t.TempDir(), "flowgate.db"))
	now := time.Now()
	if err := s.SavePlans(ctx, PlanBatch{Flows: []Flow{{ID: "F1", Partner: "A", FileName: "a.xml", SHA256: "aa", Status: "IN_REJETE", Plan: []byte(`{}`)}}}); err != nil {
		t.Fatal(err)
	}
	if err := s.RequestReprocess(ctx, "A", "a.xml", "F1", "aa", now); err != nil {
		t.Fatal(err)
	}
	if err := s.RequestReprocess(ctx, "A", "a.xml", "F1", "aa", now); err == nil {
		t.Error("second request for the same name accepted while the first waits")
	}
	for _, k := range [][3]string{{"B", "a.xml", "aa"}, {"A", "b.xml", "aa"}, {"A", "a.xml", "bb"}} {
		if of, err := s.ReprocessRequested(ctx, k[0], k[1], k[2]); of != "" || err != nil {
			t.Errorf("%v: request %q %v", k, of, err)
		}
	}
	if of, err := s.ReprocessRequested(ctx, "A", "a.xml", "aa"); of != "F1" || err != nil {
		t.Fatalf("request %q %v", of, err)
	}
	if err := s.SavePlans(ctx, PlanBatch{Flows: []Flow{{ID: "F2", Partner: "A", FileName: "a.xml", SHA256: "aa", ReprocessOf: "F1", Plan: []byte(`{}`)}}}); err != nil {
		t.Fatal(err)
	}
	if of, _ := s.ReprocessRequested(ctx, "A", "a.xml", "aa"); of != "" {
		t.Errorf("request still there once used: %q", of)
	}
	if fl, _, _ := s.Flow(ctx, "F2"); fl.ReprocessOf != "F1" {
		t.Errorf("flow %+v", fl)
	}
	// Asked again later: a new request; cancelled: gone.
	if err := s.RequestReprocess(ctx, "A", "a.xml", "F1", "aa", now); err != nil {
		t.Fatal(err)
	}
	if err := s.CancelReprocess(ctx, "A", "a.xml", "F1"); err != nil {
		t.Fatal(err)
	}
	if of, _ := s.ReprocessRequested(ctx, "A", "a.xml", "aa"); of != "" {
		t.Errorf("cancelled request still there: %q", of)
	}
}
