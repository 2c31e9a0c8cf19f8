// Package sqlite is the embedded Store: one SQLite file (modernc.org/sqlite, pure Go) used when
// Jack runs alone without DATABASE_URL. SQLite has no row-level security, so every query carries
// organization_id = ?; writes go through a single connection so concurrent writers queue in Go
// instead of failing with SQLITE_BUSY.
package sqlite

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/jack-auto/jack"
	"github.com/jack-auto/jack/persistence"
	sqlite3 "modernc.org/sqlite"
	sqlite3lib "modernc.org/sqlite/lib"
)

var _ jack.Store = (*Store)(nil)

// busyTimeoutMillis bounds how long a connection waits on a lock held by another process (a
// `jack migrate` next to a running server); inside one process writers queue on writeDB.
const busyTimeoutMillis = 10000

// SQLite's lower() folds only ASCII, so lead search would miss "ÉMILE" for "émile"; jack_lower
// folds the way Go (and Postgres) do. Registration is per driver, hence a prefixed name.
func init() {
	sqlite3.MustRegisterDeterministicScalarFunction("jack_lower", 1, func(_ *sqlite3.FunctionContext, args []driver.Value) (driver.Value, error) {
		switch v := args[0].(type) {
		case string:
			return strings.ToLower(v), nil
		case []byte:
			return strings.ToLower(string(v)), nil
		}
		return args[0], nil
	})
}

// Store is the SQLite implementation of jack.Store.
type Store struct {
	// Now is the clock every write reads once per transaction. Defaults to time.Now.
	Now func() time.Time

	writeDB *sql.DB // one connection, BEGIN IMMEDIATE: the only writer
	readDB  *sql.DB // several read-only connections; WAL lets them read while a write runs
	writer  *persistence.Writer
}

// Open opens (creating if needed) the database file at path and its parent directory. It does
// not migrate: run Migrate first.
func Open(ctx context.Context, path string) (*Store, error) {
	writeDB, err := openDB(ctx, path, false)
	if err != nil {
		return nil, err
	}
	readDB, err := openDB(ctx, path, true)
	if err != nil {
		writeDB.Close()
		return nil, err
	}
	s := &Store{Now: time.Now, writeDB: writeDB, readDB: readDB}
	// One flusher: SQLite has one writer anyway, and a batch saves an fsync per write.
	s.writer = persistence.NewWriter(persistence.WriterConfig{Flushers: 1}, s.commitWrites)
	return s, nil
}

// openDB opens a pool on path: the writer (one connection, WAL, BEGIN IMMEDIATE) or readers.
// synchronous stays FULL: the grain acknowledges only what is committed, and NORMAL could lose
// the last commits on power loss.
func openDB(ctx context.Context, path string, readOnly bool) (*sql.DB, error) {
	if path == "" {
		return nil, fmt.Errorf("sqlite: empty database path")
	}
	if path == ":memory:" || strings.HasPrefix(path, "file::memory:") {
		// Each pool connection would get its own empty database.
		return nil, fmt.Errorf("sqlite: in-memory databases are not supported; use a file")
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("sqlite: create data directory: %w", err)
	}
	dsn := fmt.Sprintf("%s?_pragma=busy_timeout(%d)&_pragma=foreign_keys(1)", path, busyTimeoutMillis)
	if readOnly {
		dsn += "&_pragma=query_only(1)"
	} else {
		dsn += "&_pragma=journal_mode(WAL)&_txlock=immediate"
	}
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, fmt.Errorf("sqlite: open %s: %w", path, err)
	}
	if readOnly {
		db.SetMaxOpenConns(8)
		db.SetMaxIdleConns(8)
	} else {
		db.SetMaxOpenConns(1)
		db.SetMaxIdleConns(1)
	}
	if err := db.PingContext(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("sqlite: open %s: %w", path, err)
	}
	return db, nil
}

// Close answers the writes still queued, then closes both pools. Safe to call twice.
func (s *Store) Close() error {
	s.writer.Close()
	return errors.Join(s.readDB.Close(), s.writeDB.Close())
}

// WriterStats returns the group-commit writer's counters.
func (s *Store) WriterStats() persistence.WriterStats { return s.writer.Stats() }

// commitWrites is the group-commit writer's CommitFunc (see persistence.Writer): one write
// transaction for the whole batch, each write's fn confined to its organization by the
// organization_id every query carries, the batch's events numbered last.
func (s *Store) commitWrites(writes []*persistence.Write) (int, bool, error) {
	ctx := context.Background()
	sqlTx, err := s.writeDB.BeginTx(ctx, nil)
	if err != nil {
		return -1, true, fmt.Errorf("begin: %w", formatError(err))
	}
	defer sqlTx.Rollback()
	now := persistence.TxTime(s.Now)
	for i, w := range writes {
		w.Events = w.Events[:0]
		tx := &Tx{tx: sqlTx, orgID: w.OrgID, now: now, write: w}
		if w.Owner != nil {
			// One writer: the epoch read here cannot change before this transaction commits.
			var epoch int64
			err := tx.queryRow(ctx, `SELECT epoch FROM conversation_owners WHERE organization_id = ? AND phone_number_normalized = ?`,
				w.OrgID.String(), w.Owner.Phone).Scan(&epoch)
			if err != nil && !errors.Is(err, sql.ErrNoRows) {
				return -1, true, fmt.Errorf("fence: %w", formatError(err))
			}
			if epoch != w.Owner.Epoch {
				return i, false, jack.Fenced()
			}
		}
		if err := w.Fn(tx); err != nil {
			return i, false, err
		}
	}
	if err := insertBatchEvents(ctx, sqlTx, now, writes); err != nil {
		return -1, true, err
	}
	if err := sqlTx.Commit(); err != nil {
		return -1, false, fmt.Errorf("commit: %w", formatError(err))
	}
	return -1, false, nil
}

// Ping returns EUNAVAILABLE when the database file cannot be read.
func (s *Store) Ping(ctx context.Context) error {
	var one int
	if err := s.readDB.QueryRowContext(ctx, "SELECT 1").Scan(&one); err != nil {
		return fmt.Errorf("%w (%v)", jack.Errorf(jack.EUNAVAILABLE, "The database is unavailable."), err)
	}
	return nil
}

// Tx is one transaction of one organization, with the clock reading all its writes use. It
// implements jack.ConversationTx.
type Tx struct {
	tx    *sql.Tx
	orgID uuid.UUID
	now   time.Time
	write *persistence.Write // the group-commit write this Tx runs; nil outside the writer
}

// inReadTx runs fn in a read-only transaction on the readers.
func (s *Store) inReadTx(ctx context.Context, orgID uuid.UUID, fn func(tx *Tx) error) error {
	return s.run(ctx, s.readDB, &sql.TxOptions{ReadOnly: true}, orgID, fn)
}

// inTx runs fn in a write transaction (BEGIN IMMEDIATE on the single writer connection) and
// commits when it returns nil.
func (s *Store) inTx(ctx context.Context, orgID uuid.UUID, fn func(tx *Tx) error) error {
	return s.run(ctx, s.writeDB, nil, orgID, fn)
}

func (s *Store) run(ctx context.Context, db *sql.DB, opts *sql.TxOptions, orgID uuid.UUID, fn func(tx *Tx) error) error {
	sqlTx, err := db.BeginTx(ctx, opts)
	if err != nil {
		return fmt.Errorf("begin: %w", formatError(err))
	}
	// Rollback after Commit is a no-op; database/sql rolls back on its own if ctx ends first.
	defer sqlTx.Rollback()
	if err := fn(&Tx{tx: sqlTx, orgID: orgID, now: persistence.TxTime(s.Now)}); err != nil {
		return err
	}
	if err := sqlTx.Commit(); err != nil {
		return fmt.Errorf("commit: %w", formatError(err))
	}
	return nil
}

func (tx *Tx) exec(ctx context.Context, query string, args ...any) (sql.Result, error) {
	res, err := tx.tx.ExecContext(ctx, query, args...)
	return res, formatError(err)
}

func (tx *Tx) query(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	rows, err := tx.tx.QueryContext(ctx, query, args...)
	return rows, formatError(err)
}

func (tx *Tx) queryRow(ctx context.Context, query string, args ...any) row {
	return row{tx.tx.QueryRowContext(ctx, query, args...)}
}

// row is a *sql.Row whose Scan answers domain errors (formatError): ENOTFOUND for no row.
type row struct{ *sql.Row }

func (r row) Scan(dest ...any) error { return formatError(r.Row.Scan(dest...)) }

// uniqueConstraints maps SQLite's "UNIQUE constraint failed: <columns>" text, which names
// columns rather than constraints, to the schema's constraint names.
var uniqueConstraints = map[string]string{
	"user_profiles.email":                                                                    persistence.UniqueUserEmail,
	"organization_phone_numbers.phone_number":                                                persistence.UniquePhoneNumber,
	"leads.organization_id, leads.phone_number_normalized":                                   persistence.UniqueLeadPhone,
	"conversations.organization_id, conversations.twilio_message_sid":                        persistence.UniqueMessageSid,
	"conversations.organization_id, conversations.idempotency_key":                           persistence.UniqueIdempotencyKey,
	"conversation_summaries.organization_id, conversation_summaries.phone_number_normalized": persistence.UniqueSummaryPhone,
	"call_sessions.organization_id, call_sessions.elevenlabs_conversation_id":                persistence.UniqueCallConversation,
	"call_sessions.organization_id, call_sessions.twilio_call_sid":                           persistence.UniqueCallSid,
	"leads.organization_id, leads.source, leads.external_id":                                 persistence.UniqueLeadExternalID,
	"reminders.organization_id, reminders.phone_number_normalized":                           persistence.UniqueReminderPending,
}

// formatError translates driver errors at the edge: no rows → ENOTFOUND, unique violations →
// ECONFLICT by constraint, a database locked past the busy timeout → EUNAVAILABLE. Everything else keeps its text for logs and reads as EINTERNAL.
func formatError(err error) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, sql.ErrNoRows) {
		return noRow{jack.Errorf(jack.ENOTFOUND, "Not found.")}
	}
	var serr *sqlite3.Error
	if errors.As(err, &serr) {
		switch serr.Code() {
		case sqlite3lib.SQLITE_CONSTRAINT_UNIQUE, sqlite3lib.SQLITE_CONSTRAINT_PRIMARYKEY:
			msg := serr.Error()
			for cols, name := range uniqueConstraints {
				if strings.Contains(msg, "failed: "+cols) {
					return fmt.Errorf("%w (%s)", persistence.ConflictError(name), msg)
				}
			}
			return fmt.Errorf("%w (%s)", persistence.ConflictError(""), msg)
		}
		switch serr.Code() & 0xff { // primary code
		case sqlite3lib.SQLITE_BUSY, sqlite3lib.SQLITE_LOCKED:
			// The database stayed locked past the busy timeout: 503 with Retry-After, like a
			// Postgres fault.
			return fmt.Errorf("%w (%s)", jack.Errorf(jack.EUNAVAILABLE, "The database is busy. Try again shortly."), serr.Error())
		}
	}
	return err
}

// noRow is the ENOTFOUND formatError makes of sql.ErrNoRows; it still is sql.ErrNoRows
// (errors.Is) for a caller to whom no row is an answer, not an error.
type noRow struct{ err error }

func (e noRow) Error() string   { return e.err.Error() }
func (e noRow) Unwrap() []error { return []error{e.err, sql.ErrNoRows} }

// notFound turns ENOTFOUND (from sql.ErrNoRows) into a message naming what was missing.
func notFound(err error, what string) error {
	if jack.ErrorCode(err) == jack.ENOTFOUND {
		return jack.Errorf(jack.ENOTFOUND, "%s not found.", what)
	}
	return err
}
