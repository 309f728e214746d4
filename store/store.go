// Package store keeps the hub's memory in SQLite (modernc.org/sqlite, pure
// Go, WAL mode): flows with their plan and outcome, invoices with their
// verdict and where they went, status events, and the SHA-256 of every
// deposited file. After a restart the store, not memory, is the truth.
//
// The SQL is plain and portable (TEXT and INTEGER columns, no SQLite-only
// syntax in queries) so that a PostgreSQL store can follow behind the same
// methods. The package knows nothing of files, partners or rules.
package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"os"
	"strings"
	"time"

	_ "modernc.org/sqlite" // the "sqlite" database/sql driver
)

// Flow states in the store: a flow is planned once its verdicts are decided
// and recorded, done once every file of its plan is in place.
//
// A flow the hub could not process (it crashed, panicked, ran past its
// time or could not be read, see Attempt) or whose file changed after it
// was checked is quarantined: its status files say so and its file is kept
// aside for operators (Quarantined lists them).
const (
	StatePlanned     = "planned"
	StateDone        = "done"
	StateQuarantined = "quarantined"
)

// Flow is one deposited flow as recorded.
type Flow struct {
	ID          string
	Partner     string
	FileName    string
	SHA256      string
	Status      string // IN_INTEGRE, IN_INTEGRE_PARTIEL, IN_REJETE
	State       string // StatePlanned, StateDone or StateQuarantined
	DuplicateOf string // the flow whose bytes this one repeats, if any
	ReprocessOf string // the flow an operator asked to run again as this one, if any
	ReceivedAt  time.Time
	FinishedAt  time.Time // zero until done
	Plan        []byte    // the executor's plan, opaque to the store
	// Report is the flow's report as its sender's JSON CR says it, opaque
	// to the store; saved with the plan, read back by Report only.
	Report []byte
}

// Invoice is one invoice of a flow and its verdict.
type Invoice struct {
	FlowID         string
	Seq            int
	Entry          string
	Number         string
	SupplierSIRET  string
	RecipientSIRET string
	IssueYear      string
	Verdict        string // accepted or rejected
	Location       string // where its bytes went, relative to the root
	IssueDate      string // BT-2 as written
	TypeCode       string // BT-3
	ServiceCode    string // BT-10 (or the buyer's contact id)
	Engagement     string // BT-13
	Currency       string // BT-5
	// Amounts are the document totals BT-106 to BT-115 as written,
	// "BT-106=200.40;BT-109=200.40;..." (present ones only): a recycled or
	// completed invoice must keep them, a duplicate is compared to them.
	Amounts string
	// Credits is, for a credit note (381), the number of the invoice of
	// the same supplier and recipient it names (BT-25) when the hub knows
	// it; "" otherwise. CreditsDate is that invoice's issue date
	// (YYYY-MM-DD as recorded): a number may come back in another year.
	Credits, CreditsDate string
	// Status is the invoice's current lifecycle status (DOMAIN.md §7):
	// the code of its last status event, "" for a rejected invoice. Kept
	// by SavePlans from the statuses it saves.
	Status string
	// The seller's name and country (BT-27, BT-40) and the buyer's name
	// (BT-44) as written, for the status files of later changes; "" for
	// an invoice recorded before they were kept.
	SupplierName, SupplierCountry, RecipientName string
}

// Status is one lifecycle event of an invoice (DOMAIN.md §7), e.g. 01
// Déposée: the invoice is (FlowID, Seq), the flow and position it was
// deposited in.
type Status struct {
	FlowID string
	Seq    int
	Code   string
	At     time.Time
	// N orders the invoice's events (from 1); set by SavePlans, which
	// appends each status after the invoice's last.
	N int
	// By is who set it: "hub", a partner id, or "operator".
	By      string
	Comment string // required for 04, 05, 06
	Mandate string // IdMandatDP, with 08
	// SetIn is the flow that set it: the invoice's own flow for 01 and 03
	// at integration, a recipient's status flow for the others.
	SetIn string
}

// SQLite is the store on one SQLite file.
type SQLite struct {
	db *sql.DB
}

// Open opens (creating if needed) the database at path and brings its
// schema up to date. The database and its -wal and -shm files are readable
// by the hub's account alone (0600): created so, narrowed if wider (SQLite
// gives the -wal and -shm files it creates the database's mode).
func Open(ctx context.Context, path string) (*SQLite, error) {
	if err := private(path); err != nil {
		return nil, fmt.Errorf("open store %s: %w", path, err)
	}
	q := url.Values{}
	for _, p := range []string{"journal_mode(WAL)", "synchronous(FULL)", "busy_timeout(10000)", "foreign_keys(1)"} {
		q.Add("_pragma", p)
	}
	q.Set("_txlock", "immediate")
	db, err := sql.Open("sqlite", "file:"+path+"?"+q.Encode())
	if err != nil {
		return nil, fmt.Errorf("open store %s: %w", path, err)
	}
	// One writer at a time is what SQLite allows; one connection keeps the
	// pragmas and avoids busy waits between our own goroutines.
	db.SetMaxOpenConns(1)
	s := &SQLite{db: db}
	if err := s.migrate(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("open store %s: %w", path, err)
	}
	return s, nil
}

// private creates the database file empty with mode 0600 when missing,
// and narrows it and its -wal and -shm files to 0600 when they are wider.
func private(path string) error {
	f, err := os.OpenFile(path, os.O_RDONLY|os.O_CREATE, 0o600)
	if err != nil {
		return err
	}
	f.Close()
	for _, p := range []string{path, path + "-wal", path + "-shm"} {
		fi, err := os.Stat(p)
		if errors.Is(err, os.ErrNotExist) {
			continue
		}
		if err == nil && fi.Mode().Perm()&^0o600 != 0 {
			err = os.Chmod(p, fi.Mode().Perm()&0o600)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// Close closes the database.
func (s *SQLite) Close() error { return s.db.Close() }

// migrations are applied in order, each once, each in its own transaction.
var migrations = []string{
	`CREATE TABLE flows (
		id TEXT PRIMARY KEY,
		partner TEXT NOT NULL,
		file_name TEXT NOT NULL,
		sha256 TEXT NOT NULL,
		status TEXT NOT NULL,
		state TEXT NOT NULL,
		duplicate_of TEXT NOT NULL DEFAULT '',
		received_at TEXT NOT NULL,
		finished_at TEXT NOT NULL DEFAULT '',
		plan TEXT NOT NULL
	);
	CREATE INDEX flows_sha256 ON flows (sha256);
	CREATE INDEX flows_state ON flows (state);
	CREATE TABLE invoices (
		flow_id TEXT NOT NULL REFERENCES flows (id),
		seq INTEGER NOT NULL,
		entry TEXT NOT NULL,
		number TEXT NOT NULL,
		supplier_siret TEXT NOT NULL,
		recipient_siret TEXT NOT NULL,
		issue_year TEXT NOT NULL,
		verdict TEXT NOT NULL,
		location TEXT NOT NULL,
		PRIMARY KEY (flow_id, seq)
	);
	CREATE INDEX invoices_duplicate ON invoices (supplier_siret, number, issue_year, verdict);
	CREATE TABLE statuses (
		flow_id TEXT NOT NULL REFERENCES flows (id),
		seq INTEGER NOT NULL,
		code TEXT NOT NULL,
		at TEXT NOT NULL,
		PRIMARY KEY (flow_id, seq, code)
	);`,
	`CREATE TABLE remote_pulls (
		partner TEXT NOT NULL,
		remote TEXT NOT NULL,
		remote_name TEXT NOT NULL,
		local_name TEXT NOT NULL,
		size INTEGER NOT NULL,
		at TEXT NOT NULL,
		PRIMARY KEY (partner, remote, remote_name)
	);
	CREATE TABLE remote_pushes (
		partner TEXT NOT NULL,
		remote TEXT NOT NULL,
		name TEXT NOT NULL,
		at TEXT NOT NULL,
		PRIMARY KEY (partner, remote, name)
	);`,
	// A pull is recorded as an intent before its file is moved into in/,
	// then marked moved: a crash between the move and the record is
	// resolved from the download's temporary name (see flows.Poller).
	`ALTER TABLE remote_pulls ADD COLUMN state TEXT NOT NULL DEFAULT 'moved';
	ALTER TABLE remote_pulls ADD COLUMN tmp_name TEXT NOT NULL DEFAULT ''`,
	`CREATE TABLE flow_attempts (
		flow_id TEXT PRIMARY KEY,
		partner TEXT NOT NULL,
		file_name TEXT NOT NULL,
		attempts INTEGER NOT NULL,
		last_error TEXT NOT NULL DEFAULT '',
		updated_at TEXT NOT NULL
	);`,
	// A flow's report (its CR as JSON) kept for operators whatever the
	// partner does with out/; the flow an operator reprocessed; and the
	// reprocess requests waiting for the daemon's intake (see
	// RequestReprocess).
	`ALTER TABLE flows ADD COLUMN report TEXT NOT NULL DEFAULT '';
	ALTER TABLE flows ADD COLUMN reprocess_of TEXT NOT NULL DEFAULT '';
	CREATE INDEX flows_partner ON flows (partner, id);
	CREATE TABLE reprocess_requests (
		partner TEXT NOT NULL,
		name TEXT NOT NULL,
		flow_id TEXT NOT NULL REFERENCES flows (id),
		sha256 TEXT NOT NULL,
		requested_at TEXT NOT NULL,
		new_flow_id TEXT NOT NULL DEFAULT '',
		PRIMARY KEY (partner, name, flow_id)
	);`,
	// The invoice lifecycle: each invoice's current status and the facts
	// its story shows; statuses become a history (an invoice may come back
	// to a status: 05, 03, 05), each event with who set it, its comment,
	// its mandate number and the flow that set it.
	`ALTER TABLE invoices ADD COLUMN issue_date TEXT NOT NULL DEFAULT '';
	ALTER TABLE invoices ADD COLUMN type_code TEXT NOT NULL DEFAULT '';
	ALTER TABLE invoices ADD COLUMN service_code TEXT NOT NULL DEFAULT '';
	ALTER TABLE invoices ADD COLUMN engagement TEXT NOT NULL DEFAULT '';
	ALTER TABLE invoices ADD COLUMN status TEXT NOT NULL DEFAULT '';
	ALTER TABLE invoices ADD COLUMN currency TEXT NOT NULL DEFAULT '';
	ALTER TABLE invoices ADD COLUMN amounts TEXT NOT NULL DEFAULT '';
	ALTER TABLE invoices ADD COLUMN credits TEXT NOT NULL DEFAULT '';
	CREATE INDEX invoices_credits ON invoices (supplier_siret, credits);
	UPDATE invoices SET status = '03' WHERE verdict = 'accepted';
	CREATE TABLE status_events (
		flow_id TEXT NOT NULL REFERENCES flows (id),
		seq INTEGER NOT NULL,
		n INTEGER NOT NULL,
		code TEXT NOT NULL,
		at TEXT NOT NULL,
		set_by TEXT NOT NULL DEFAULT 'hub',
		comment TEXT NOT NULL DEFAULT '',
		mandate TEXT NOT NULL DEFAULT '',
		set_in TEXT NOT NULL DEFAULT '',
		PRIMARY KEY (flow_id, seq, n)
	);
	INSERT INTO status_events (flow_id, seq, n, code, at, set_by, set_in)
		SELECT flow_id, seq, CAST(code AS INTEGER), code, at, 'hub', flow_id FROM statuses;
	DROP TABLE statuses;
	ALTER TABLE status_events RENAME TO statuses;
	CREATE INDEX statuses_set_in ON statuses (set_in)`,
	// The parties' names, for the status files of lifecycle changes.
	`ALTER TABLE invoices ADD COLUMN supplier_name TEXT NOT NULL DEFAULT '';
	ALTER TABLE invoices ADD COLUMN supplier_country TEXT NOT NULL DEFAULT '';
	ALTER TABLE invoices ADD COLUMN recipient_name TEXT NOT NULL DEFAULT ''`,
	// A credit note's link names the credited invoice by its issue date
	// too (store/credits.go).
	`ALTER TABLE invoices ADD COLUMN credits_date TEXT NOT NULL DEFAULT ''`,
}

func (s *SQLite) migrate(ctx context.Context) error {
	if _, err := s.db.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, applied_at TEXT NOT NULL)`); err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	var current int
	if err := s.db.QueryRowContext(ctx, `SELECT COALESCE(MAX(version), 0) FROM schema_migrations`).Scan(&current); err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	if current > len(migrations) {
		return fmt.Errorf("migrate: database schema version %d is newer than this flowgate (%d)", current, len(migrations))
	}
	for v := current + 1; v <= len(migrations); v++ {
		err := s.tx(ctx, func(tx *sql.Tx) error {
			for _, stmt := range strings.Split(migrations[v-1], ";") {
				if strings.TrimSpace(stmt) == "" {
					continue
				}
				if _, err := tx.ExecContext(ctx, stmt); err != nil {
					return err
				}
			}
			_, err := tx.ExecContext(ctx, `INSERT INTO schema_migrations (version, applied_at) VALUES (?, ?)`, v, stamp(time.Now()))
			return err
		})
		if err != nil {
			return fmt.Errorf("migrate to version %d: %w", v, err)
		}
	}
	return nil
}

func (s *SQLite) tx(ctx context.Context, fn func(*sql.Tx) error) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	if err := fn(tx); err != nil {
		tx.Rollback()
		return err
	}
	return tx.Commit()
}

func stamp(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339Nano)
}

func parseStamp(s string) time.Time {
	t, _ := time.Parse(time.RFC3339Nano, s)
	return t
}

// PlanBatch is what one processing round decides: its flows (state
// planned), their invoices and the statuses they start with.
type PlanBatch struct {
	Flows    []Flow
	Invoices []Invoice
	Statuses []Status
}

// SavePlans records a batch of decided flows in one transaction: either
// all of them are planned, or none.
func (s *SQLite) SavePlans(ctx context.Context, b PlanBatch) error {
	err := s.tx(ctx, func(tx *sql.Tx) error {
		for _, f := range b.Flows {
			if _, err := tx.ExecContext(ctx, `INSERT INTO flows (id, partner, file_name, sha256, status, state, duplicate_of, reprocess_of, received_at, plan, report)
				VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
				f.ID, f.Partner, f.FileName, f.SHA256, f.Status, StatePlanned, f.DuplicateOf, f.ReprocessOf, stamp(f.ReceivedAt), string(f.Plan), string(f.Report)); err != nil {
				return fmt.Errorf("flow %s: %w", f.ID, err)
			}
			if f.ReprocessOf != "" {
				// The request is used up by the flow it let through.
				if _, err := tx.ExecContext(ctx, `UPDATE reprocess_requests SET new_flow_id = ? WHERE partner = ? AND name = ? AND flow_id = ? AND new_flow_id = ''`,
					f.ID, f.Partner, f.FileName, f.ReprocessOf); err != nil {
					return fmt.Errorf("flow %s: reprocess request: %w", f.ID, err)
				}
			}
		}
		for _, inv := range b.Invoices {
			if _, err := tx.ExecContext(ctx, `INSERT INTO invoices (flow_id, seq, entry, number, supplier_siret, recipient_siret, issue_year, verdict, location,
				issue_date, type_code, service_code, engagement, status, currency, amounts, credits, supplier_name, supplier_country, recipient_name,
				credits_date)
				VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, '', ?, ?, ?, ?, ?, ?, ?)`,
				inv.FlowID, inv.Seq, inv.Entry, inv.Number, inv.SupplierSIRET, inv.RecipientSIRET, inv.IssueYear, inv.Verdict, inv.Location,
				inv.IssueDate, inv.TypeCode, inv.ServiceCode, inv.Engagement, inv.Currency, inv.Amounts, inv.Credits,
				inv.SupplierName, inv.SupplierCountry, inv.RecipientName, inv.CreditsDate); err != nil {
				return fmt.Errorf("invoice %s/%d: %w", inv.FlowID, inv.Seq, err)
			}
		}
		return insertStatuses(ctx, tx, b.Statuses)
	})
	if err != nil {
		return fmt.Errorf("save plans: %w", err)
	}
	return nil
}

// insertStatuses appends each status to its invoice's history, in order,
// and makes it the invoice's current status.
func insertStatuses(ctx context.Context, tx *sql.Tx, statuses []Status) error {
	for _, st := range statuses {
		by, setIn := st.By, st.SetIn
		if by == "" {
			by = "hub"
		}
		if setIn == "" {
			setIn = st.FlowID
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO statuses (flow_id, seq, n, code, at, set_by, comment, mandate, set_in)
			VALUES (?, ?, (SELECT COALESCE(MAX(n), 0) + 1 FROM statuses WHERE flow_id = ? AND seq = ?), ?, ?, ?, ?, ?, ?)`,
			st.FlowID, st.Seq, st.FlowID, st.Seq, st.Code, stamp(st.At), by, st.Comment, st.Mandate, setIn); err != nil {
			return fmt.Errorf("status %s/%d/%s: %w", st.FlowID, st.Seq, st.Code, err)
		}
		if _, err := tx.ExecContext(ctx, `UPDATE invoices SET status = ? WHERE flow_id = ? AND seq = ?`, st.Code, st.FlowID, st.Seq); err != nil {
			return fmt.Errorf("status %s/%d/%s: %w", st.FlowID, st.Seq, st.Code, err)
		}
	}
	return nil
}

// MarkDone records that every file of these flows' plans is in place.
func (s *SQLite) MarkDone(ctx context.Context, ids []string, at time.Time) error {
	err := s.tx(ctx, func(tx *sql.Tx) error {
		for _, id := range ids {
			if _, err := tx.ExecContext(ctx, `UPDATE flows SET state = ?, finished_at = ? WHERE id = ?`, StateDone, stamp(at), id); err != nil {
				return fmt.Errorf("flow %s: %w", id, err)
			}
			// Its attempts no longer matter: the count is of flows in work.
			if _, err := tx.ExecContext(ctx, `DELETE FROM flow_attempts WHERE flow_id = ?`, id); err != nil {
				return fmt.Errorf("flow %s: %w", id, err)
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("mark done: %w", err)
	}
	return nil
}

// MarkQuarantined records that every file of these flows' plans is in
// place and that the flows are quarantined: their invoices count as
// rejected (none is a CPP-DOUBLON of a later deposit), their attempts are
// kept for operators.
func (s *SQLite) MarkQuarantined(ctx context.Context, ids []string, at time.Time) error {
	err := s.tx(ctx, func(tx *sql.Tx) error {
		for _, id := range ids {
			if _, err := tx.ExecContext(ctx, `UPDATE flows SET state = ?, finished_at = ? WHERE id = ?`, StateQuarantined, stamp(at), id); err != nil {
				return fmt.Errorf("flow %s: %w", id, err)
			}
			if _, err := tx.ExecContext(ctx, `UPDATE invoices SET verdict = 'rejected' WHERE flow_id = ?`, id); err != nil {
				return fmt.Errorf("flow %s: %w", id, err)
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("mark quarantined: %w", err)
	}
	return nil
}

// ReplacePlan replaces the plan, status and report of a flow still
// planned (a flow found changed after it was checked gets a quarantine
// plan instead). It reports false when the flow is not planned any more.
func (s *SQLite) ReplacePlan(ctx context.Context, id, status string, plan, report []byte) (bool, error) {
	res, err := s.db.ExecContext(ctx, `UPDATE flows SET status = ?, plan = ?, report = ? WHERE id = ? AND state = ?`, status, string(plan), string(report), id, StatePlanned)
	if err != nil {
		return false, fmt.Errorf("replace plan of %s: %w", id, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return false, fmt.Errorf("replace plan of %s: %w", id, err)
	}
	return n > 0, nil
}

// Attempt is how often the hub started to decide a flow still in work/,
// and why the last try failed. It is recorded before each try, so that a
// crash counts too.
type Attempt struct {
	FlowID    string
	Partner   string
	FileName  string
	Attempts  int
	LastError string // empty when the last try crashed the daemon, or is running
	UpdatedAt time.Time
}

// BeginAttempts counts one more attempt at each of these flows, in one
// transaction, before they are processed, and returns each flow's count
// including this one.
func (s *SQLite) BeginAttempts(ctx context.Context, flows []Attempt, at time.Time) (map[string]int, error) {
	out := make(map[string]int, len(flows))
	err := s.tx(ctx, func(tx *sql.Tx) error {
		for _, f := range flows {
			var n int
			err := tx.QueryRowContext(ctx, `SELECT attempts FROM flow_attempts WHERE flow_id = ?`, f.FlowID).Scan(&n)
			switch {
			case errors.Is(err, sql.ErrNoRows):
				_, err = tx.ExecContext(ctx, `INSERT INTO flow_attempts (flow_id, partner, file_name, attempts, last_error, updated_at) VALUES (?, ?, ?, 1, '', ?)`,
					f.FlowID, f.Partner, f.FileName, stamp(at))
			case err == nil:
				_, err = tx.ExecContext(ctx, `UPDATE flow_attempts SET attempts = ?, last_error = '', updated_at = ? WHERE flow_id = ?`, n+1, stamp(at), f.FlowID)
			}
			if err != nil {
				return fmt.Errorf("flow %s: %w", f.FlowID, err)
			}
			out[f.FlowID] = n + 1
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("begin attempts: %w", err)
	}
	return out, nil
}

// ForgetAttempts takes back the attempt last counted for these flows: the
// try failed for a reason that was not theirs (the store, shutdown).
func (s *SQLite) ForgetAttempts(ctx context.Context, ids []string) error {
	err := s.tx(ctx, func(tx *sql.Tx) error {
		for _, id := range ids {
			if _, err := tx.ExecContext(ctx, `UPDATE flow_attempts SET attempts = attempts - 1 WHERE flow_id = ? AND attempts > 0`, id); err != nil {
				return fmt.Errorf("flow %s: %w", id, err)
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("forget attempts: %w", err)
	}
	return nil
}

// FailAttempt records why the current attempt at a flow failed.
func (s *SQLite) FailAttempt(ctx context.Context, id, reason string, at time.Time) error {
	if _, err := s.db.ExecContext(ctx, `UPDATE flow_attempts SET last_error = ?, updated_at = ? WHERE flow_id = ?`, reason, stamp(at), id); err != nil {
		return fmt.Errorf("fail attempt of %s: %w", id, err)
	}
	return nil
}

// Attempts returns the recorded attempts of these flows; a flow never
// tried is absent.
func (s *SQLite) Attempts(ctx context.Context, ids []string) (map[string]Attempt, error) {
	out := map[string]Attempt{}
	for _, id := range ids {
		var a Attempt
		var at string
		err := s.db.QueryRowContext(ctx, `SELECT flow_id, partner, file_name, attempts, last_error, updated_at FROM flow_attempts WHERE flow_id = ?`, id).
			Scan(&a.FlowID, &a.Partner, &a.FileName, &a.Attempts, &a.LastError, &at)
		if errors.Is(err, sql.ErrNoRows) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("attempts of %s: %w", id, err)
		}
		a.UpdatedAt = parseStamp(at)
		out[id] = a
	}
	return out, nil
}

// Quarantined returns the quarantined flows, oldest first, for operators.
func (s *SQLite) Quarantined(ctx context.Context) ([]Flow, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT `+flowColumns+` FROM flows WHERE state = ? ORDER BY id`, StateQuarantined)
	if err != nil {
		return nil, fmt.Errorf("quarantined flows: %w", err)
	}
	defer rows.Close()
	var out []Flow
	for rows.Next() {
		f, err := scanFlow(rows)
		if err != nil {
			return nil, fmt.Errorf("quarantined flows: %w", err)
		}
		out = append(out, f)
	}
	return out, rows.Err()
}

const flowColumns = `id, partner, file_name, sha256, status, state, duplicate_of, reprocess_of, received_at, finished_at, plan`

func scanFlow(row interface{ Scan(...any) error }) (Flow, error) {
	var f Flow
	var received, finished, plan string
	err := row.Scan(&f.ID, &f.Partner, &f.FileName, &f.SHA256, &f.Status, &f.State, &f.DuplicateOf, &f.ReprocessOf, &received, &finished, &plan)
	f.ReceivedAt, f.FinishedAt, f.Plan = parseStamp(received), parseStamp(finished), []byte(plan)
	return f, err
}

// Flow returns one flow by id.
func (s *SQLite) Flow(ctx context.Context, id string) (Flow, bool, error) {
	f, err := scanFlow(s.db.QueryRowContext(ctx, `SELECT `+flowColumns+` FROM flows WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return Flow{}, false, nil
	}
	if err != nil {
		return Flow{}, false, fmt.Errorf("flow %s: %w", id, err)
	}
	return f, true, nil
}

// FlowBySHA256 returns the partner's first flow (in id order) whose file
// had these bytes and that is neither a duplicate nor quarantined.
func (s *SQLite) FlowBySHA256(ctx context.Context, partner, sum string) (Flow, bool, error) {
	f, err := scanFlow(s.db.QueryRowContext(ctx,
		`SELECT `+flowColumns+` FROM flows WHERE sha256 = ? AND partner = ? AND duplicate_of = '' AND state <> ? ORDER BY id LIMIT 1`,
		sum, partner, StateQuarantined))
	if errors.Is(err, sql.ErrNoRows) {
		return Flow{}, false, nil
	}
	if err != nil {
		return Flow{}, false, fmt.Errorf("flow by sha256: %w", err)
	}
	return f, true, nil
}

// Pending returns the planned flows not yet done, oldest first: the work a
// crash interrupted.
func (s *SQLite) Pending(ctx context.Context) ([]Flow, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT `+flowColumns+` FROM flows WHERE state = ? ORDER BY id`, StatePlanned)
	if err != nil {
		return nil, fmt.Errorf("pending flows: %w", err)
	}
	defer rows.Close()
	var out []Flow
	for rows.Next() {
		f, err := scanFlow(rows)
		if err != nil {
			return nil, fmt.Errorf("pending flows: %w", err)
		}
		out = append(out, f)
	}
	return out, rows.Err()
}

// Accepted reports whether an invoice with this supplier SIRET, number and
// issue year was already accepted (CPP-DOUBLON).
func (s *SQLite) Accepted(ctx context.Context, supplier, number, year string) (bool, error) {
	var n int
	err := s.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM invoices WHERE supplier_siret = ? AND number = ? AND issue_year = ? AND verdict = 'accepted'`,
		supplier, number, year).Scan(&n)
	if err != nil {
		return false, fmt.Errorf("accepted invoices: %w", err)
	}
	return n > 0, nil
}

// MaxFlowID returns the greatest flow id recorded, "" when none: new ids
// must sort after it even if the clock went back.
func (s *SQLite) MaxFlowID(ctx context.Context) (string, error) {
	var id sql.NullString
	if err := s.db.QueryRowContext(ctx, `SELECT MAX(id) FROM flows`).Scan(&id); err != nil {
		return "", fmt.Errorf("max flow id: %w", err)
	}
	return id.String, nil
}

const invoiceColumns = `flow_id, seq, entry, number, supplier_siret, recipient_siret, issue_year, verdict, location,
	issue_date, type_code, service_code, engagement, status, currency, amounts, credits, supplier_name, supplier_country, recipient_name,
	credits_date`

func scanInvoices(rows *sql.Rows) ([]Invoice, error) {
	defer rows.Close()
	var out []Invoice
	for rows.Next() {
		var inv Invoice
		if err := rows.Scan(&inv.FlowID, &inv.Seq, &inv.Entry, &inv.Number, &inv.SupplierSIRET, &inv.RecipientSIRET, &inv.IssueYear, &inv.Verdict, &inv.Location,
			&inv.IssueDate, &inv.TypeCode, &inv.ServiceCode, &inv.Engagement, &inv.Status, &inv.Currency, &inv.Amounts, &inv.Credits,
			&inv.SupplierName, &inv.SupplierCountry, &inv.RecipientName, &inv.CreditsDate); err != nil {
			return nil, err
		}
		out = append(out, inv)
	}
	return out, rows.Err()
}

// Invoices returns the invoices of a flow in order.
func (s *SQLite) Invoices(ctx context.Context, flowID string) ([]Invoice, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT `+invoiceColumns+` FROM invoices WHERE flow_id = ? ORDER BY seq`, flowID)
	if err != nil {
		return nil, fmt.Errorf("invoices of %s: %w", flowID, err)
	}
	out, err := scanInvoices(rows)
	if err != nil {
		return nil, fmt.Errorf("invoices of %s: %w", flowID, err)
	}
	return out, nil
}

// Delivered returns the accepted invoices of a supplier with this number,
// newest deposit first: those issued on date (YYYY-MM-DD) when date is
// not empty (for an invoice recorded before issue dates were, its issue
// year must be date's), all of them otherwise. A number may come back in
// another year; a recycled invoice is deposited again under its number.
func (s *SQLite) Delivered(ctx context.Context, supplier, number, date string) ([]Invoice, error) {
	q := `SELECT ` + invoiceColumns + ` FROM invoices WHERE supplier_siret = ? AND number = ? AND verdict = 'accepted'`
	args := []any{supplier, number}
	if date != "" {
		year := date
		if len(year) > 4 {
			year = year[:4]
		}
		q += ` AND (issue_date = ? OR issue_date = '' AND issue_year = ?)`
		args = append(args, date, year)
	}
	rows, err := s.db.QueryContext(ctx, q+` ORDER BY flow_id DESC, seq DESC`, args...)
	if err != nil {
		return nil, fmt.Errorf("delivered invoices: %w", err)
	}
	out, err := scanInvoices(rows)
	if err != nil {
		return nil, fmt.Errorf("delivered invoices: %w", err)
	}
	return out, nil
}

const statusColumns = `flow_id, seq, n, code, at, set_by, comment, mandate, set_in`

func scanStatuses(rows *sql.Rows) ([]Status, error) {
	defer rows.Close()
	var out []Status
	for rows.Next() {
		var st Status
		var at string
		if err := rows.Scan(&st.FlowID, &st.Seq, &st.N, &st.Code, &at, &st.By, &st.Comment, &st.Mandate, &st.SetIn); err != nil {
			return nil, err
		}
		st.At = parseStamp(at)
		out = append(out, st)
	}
	return out, rows.Err()
}

// Statuses returns the status events of a flow's invoices, by invoice,
// oldest first.
func (s *SQLite) Statuses(ctx context.Context, flowID string) ([]Status, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT `+statusColumns+` FROM statuses WHERE flow_id = ? ORDER BY seq, n`, flowID)
	if err != nil {
		return nil, fmt.Errorf("statuses of %s: %w", flowID, err)
	}
	out, err := scanStatuses(rows)
	if err != nil {
		return nil, fmt.Errorf("statuses of %s: %w", flowID, err)
	}
	return out, nil
}

// History returns the status events of one invoice (the seq-th of flow
// flowID), oldest first.
func (s *SQLite) History(ctx context.Context, flowID string, seq int) ([]Status, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT `+statusColumns+` FROM statuses WHERE flow_id = ? AND seq = ? ORDER BY n`, flowID, seq)
	if err != nil {
		return nil, fmt.Errorf("history of %s/%d: %w", flowID, seq, err)
	}
	out, err := scanStatuses(rows)
	if err != nil {
		return nil, fmt.Errorf("history of %s/%d: %w", flowID, seq, err)
	}
	return out, nil
}

// Counts returns how many flows are in each state, for the logs and tests.
func (s *SQLite) Counts(ctx context.Context) (planned, done int, err error) {
	rows, err := s.db.QueryContext(ctx, `SELECT state, COUNT(*) FROM flows GROUP BY state`)
	if err != nil {
		return 0, 0, fmt.Errorf("counts: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var state string
		var n int
		if err := rows.Scan(&state, &n); err != nil {
			return 0, 0, err
		}
		switch state {
		case StatePlanned:
			planned = n
		case StateDone:
			done = n
		}
	}
	return planned, done, rows.Err()
}

// Pulled reports whether a claimed file of a partner's remote server was
// already handed over to the hub (moved into in/, not only intended).
func (s *SQLite) Pulled(ctx context.Context, partner, remote, name string) (bool, error) {
	var n int
	err := s.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM remote_pulls WHERE partner = ? AND remote = ? AND remote_name = ? AND state = 'moved'`,
		partner, remote, name).Scan(&n)
	if err != nil {
		return false, fmt.Errorf("remote pulls: %w", err)
	}
	return n > 0, nil
}

// Pull is a claimed remote file handed over to the hub.
type Pull struct {
	RemoteName string // its claimed name on the remote server
	LocalName  string // its name in the partner's in/
	Size       int64  // bytes
	TmpName    string // the download's name in the partner's .uploads/ before the move
}

// RecordPullIntents records, in one transaction, that claimed remote files
// are about to be moved from .uploads/ (TmpName) into in/ (LocalName).
// Pulled stays false for them until RecordPulls.
func (s *SQLite) RecordPullIntents(ctx context.Context, partner, remote string, pulls []Pull, at time.Time) error {
	return s.upsertPulls(ctx, partner, remote, pulls, "intent", at)
}

// RecordPulls records, in one transaction, that claimed remote files are
// in the partner's in/ (intended before or not).
func (s *SQLite) RecordPulls(ctx context.Context, partner, remote string, pulls []Pull, at time.Time) error {
	return s.upsertPulls(ctx, partner, remote, pulls, "moved", at)
}

func (s *SQLite) upsertPulls(ctx context.Context, partner, remote string, pulls []Pull, state string, at time.Time) error {
	err := s.tx(ctx, func(tx *sql.Tx) error {
		for _, p := range pulls {
			if _, err := tx.ExecContext(ctx, `INSERT INTO remote_pulls (partner, remote, remote_name, local_name, size, at, state, tmp_name)
				VALUES (?, ?, ?, ?, ?, ?, ?, ?)
				ON CONFLICT (partner, remote, remote_name) DO UPDATE SET local_name = excluded.local_name, size = excluded.size,
					at = excluded.at, state = excluded.state, tmp_name = excluded.tmp_name`,
				partner, remote, p.RemoteName, p.LocalName, p.Size, stamp(at), state, p.TmpName); err != nil {
				return fmt.Errorf("%s: %w", p.RemoteName, err)
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("record pulls (%s) of %s: %w", state, partner, err)
	}
	return nil
}

// PullIntents returns the pulls of a partner's remote recorded as intents
// and not yet as moved: those a crash may have interrupted.
func (s *SQLite) PullIntents(ctx context.Context, partner, remote string) ([]Pull, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT remote_name, local_name, size, tmp_name FROM remote_pulls
		WHERE partner = ? AND remote = ? AND state = 'intent' ORDER BY remote_name`, partner, remote)
	if err != nil {
		return nil, fmt.Errorf("pull intents: %w", err)
	}
	defer rows.Close()
	var out []Pull
	for rows.Next() {
		var p Pull
		if err := rows.Scan(&p.RemoteName, &p.LocalName, &p.Size, &p.TmpName); err != nil {
			return nil, fmt.Errorf("pull intents: %w", err)
		}
		out = append(out, p)
	}
	return out, rows.Err()
}

// DropPullIntents forgets intents whose file was never moved into in/, so
// that their remote files are pulled again. Pulls recorded as moved are
// kept.
func (s *SQLite) DropPullIntents(ctx context.Context, partner, remote string, remoteNames []string) error {
	err := s.tx(ctx, func(tx *sql.Tx) error {
		for _, n := range remoteNames {
			if _, err := tx.ExecContext(ctx, `DELETE FROM remote_pulls WHERE partner = ? AND remote = ? AND remote_name = ? AND state = 'intent'`,
				partner, remote, n); err != nil {
				return fmt.Errorf("%s: %w", n, err)
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("drop pull intents of %s: %w", partner, err)
	}
	return nil
}

// Pushed returns the status files already pushed to a partner's remote.
func (s *SQLite) Pushed(ctx context.Context, partner, remote string) (map[string]bool, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT name FROM remote_pushes WHERE partner = ? AND remote = ?`, partner, remote)
	if err != nil {
		return nil, fmt.Errorf("remote pushes: %w", err)
	}
	defer rows.Close()
	out := map[string]bool{}
	for rows.Next() {
		var name string
		if err := rows.Scan(&name); err != nil {
			return nil, err
		}
		out[name] = true
	}
	return out, rows.Err()
}

// RecordPush records that a status file is on a partner's remote.
func (s *SQLite) RecordPush(ctx context.Context, partner, remote, name string, at time.Time) error {
	_, err := s.db.ExecContext(ctx, `INSERT INTO remote_pushes (partner, remote, name, at) VALUES (?, ?, ?, ?)`,
		partner, remote, name, stamp(at))
	if err != nil {
		return fmt.Errorf("record push %s %s: %w", partner, name, err)
	}
	return nil
}
