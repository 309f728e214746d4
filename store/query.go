package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"
)

// FlowFilter selects flows for ListFlows. Empty fields select everything.
type FlowFilter struct {
	Partner string
	// Status is a flow status (IN_INTEGRE, IN_INTEGRE_PARTIEL, IN_REJETE)
	// or a state (planned, done, quarantined).
	Status string
	// FromID is the least flow id listed: flow ids sort as they were issued
	// (UTC to the microsecond), so "received since T" is an id bound on the
	// primary key.
	FromID string
	Limit  int // at most this many, newest first; 0 for no limit
}

// ListFlows returns the flows matching f, newest first, without their
// plans (Plan is nil). The partner filter uses the flows_partner index.
func (s *SQLite) ListFlows(ctx context.Context, f FlowFilter) ([]Flow, error) {
	var where []string
	var args []any
	if f.Partner != "" {
		where = append(where, "partner = ?")
		args = append(args, f.Partner)
	}
	if f.Status != "" {
		where = append(where, "(status = ? OR state = ?)")
		args = append(args, f.Status, f.Status)
	}
	if f.FromID != "" {
		where = append(where, "id >= ?")
		args = append(args, f.FromID)
	}
	q := `SELECT id, partner, file_name, sha256, status, state, duplicate_of, reprocess_of, received_at, finished_at, '' FROM flows`
	if len(where) > 0 {
		q += " WHERE " + strings.Join(where, " AND ")
	}
	q += " ORDER BY id DESC"
	if f.Limit > 0 {
		q += fmt.Sprintf(" LIMIT %d", f.Limit)
	}
	rows, err := s.db.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("list flows: %w", err)
	}
	defer rows.Close()
	var out []Flow
	for rows.Next() {
		fl, err := scanFlow(rows)
		if err != nil {
			return nil, fmt.Errorf("list flows: %w", err)
		}
		fl.Plan = nil
		out = append(out, fl)
	}
	return out, rows.Err()
}

// Report returns the report recorded for a flow (its JSON CR, as saved
// with its plan); nil for a flow recorded before reports were kept, or
// unknown.
func (s *SQLite) Report(ctx context.Context, flowID string) ([]byte, error) {
	var rep string
	err := s.db.QueryRowContext(ctx, `SELECT report FROM flows WHERE id = ?`, flowID).Scan(&rep)
	if errors.Is(err, sql.ErrNoRows) || rep == "" {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("report of %s: %w", flowID, err)
	}
	return []byte(rep), nil
}

// RequestReprocess records that an operator asked for the flow flowID, of
// this partner and with these bytes, to be run again: the file about to be
// put in the partner's in/ under name is to be processed as a new flow,
// not refused as a repeat of flowID. It is recorded before the file is put
// there, so that the daemon never sees the file without the request.
// Asking twice for the same name while the first request is unused is an
// error.
func (s *SQLite) RequestReprocess(ctx context.Context, partner, name, flowID, sum string, at time.Time) error {
	err := s.tx(ctx, func(tx *sql.Tx) error {
		var n int
		if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM reprocess_requests WHERE partner = ? AND name = ? AND new_flow_id = ''`,
			partner, name).Scan(&n); err != nil {
			return err
		}
		if n > 0 {
			return fmt.Errorf("a reprocess of %s as %q is already waiting", flowID, name)
		}
		_, err := tx.ExecContext(ctx, `INSERT INTO reprocess_requests (partner, name, flow_id, sha256, requested_at) VALUES (?, ?, ?, ?, ?)
			ON CONFLICT (partner, name, flow_id) DO UPDATE SET sha256 = excluded.sha256, requested_at = excluded.requested_at, new_flow_id = ''`,
			partner, name, flowID, sum, stamp(at))
		return err
	})
	if err != nil {
		return fmt.Errorf("request reprocess of %s: %w", flowID, err)
	}
	return nil
}

// CancelReprocess drops an unused request (its file could not be put in
// in/).
func (s *SQLite) CancelReprocess(ctx context.Context, partner, name, flowID string) error {
	if _, err := s.db.ExecContext(ctx, `DELETE FROM reprocess_requests WHERE partner = ? AND name = ? AND flow_id = ? AND new_flow_id = ''`,
		partner, name, flowID); err != nil {
		return fmt.Errorf("cancel reprocess of %s: %w", flowID, err)
	}
	return nil
}

// ReprocessRequested returns the flow an unused reprocess request names
// for a file of this partner deposited under name with these bytes, ""
// when there is none. The request is used up when the new flow's plan is
// saved (SavePlans, Flow.ReprocessOf).
func (s *SQLite) ReprocessRequested(ctx context.Context, partner, name, sum string) (string, error) {
	var id string
	err := s.db.QueryRowContext(ctx, `SELECT flow_id FROM reprocess_requests WHERE partner = ? AND name = ? AND sha256 = ? AND new_flow_id = ''
		ORDER BY requested_at LIMIT 1`, partner, name, sum).Scan(&id)
	if errors.Is(err, sql.ErrNoRows) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("reprocess requests: %w", err)
	}
	return id, nil
}
