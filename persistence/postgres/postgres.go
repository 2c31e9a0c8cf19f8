// Package postgres is the Postgres Store (pgx v5) for clustered deployments. It connects as the
// application role (jack_app) so row-level security confines every transaction to the
// organization it sets in app.current_organization_id, and it runs the goose migrations.
package postgres

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"syscall"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgtype"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/jack-auto/jack"
	"github.com/jack-auto/jack/migrations"
	"github.com/jack-auto/jack/persistence"
)

var (
	_ jack.Store          = (*Store)(nil)
	_ jack.ConversationTx = (*Tx)(nil)
)

// RoleNone is the Config.Role that keeps the connecting user (no SET ROLE): only for a URL whose user
// is itself the application role.
const RoleNone = "none"

// Config configures Open.
type Config struct {
	// URL is a Postgres connection URL; a search_path query parameter selects the schema.
	URL string
	// Role is the role every connection switches to with SET ROLE, so row-level security
	// applies even when URL names a superuser. Defaults to migrations.AppRole; RoleNone disables.
	Role string
	// MaxConns bounds the pool. Defaults to 20.
	MaxConns int32
	// Writer tunes the group-commit writer behind InConversationTx.
	Writer persistence.WriterConfig
	// IdleInTransactionTimeout ends a session that holds a transaction open without using it
	// (a frozen or partitioned node), so whatever it locked is freed. Defaults to 10 s.
	IdleInTransactionTimeout time.Duration
}

// WithDefaults returns cfg with blank fields filled.
func (cfg Config) WithDefaults() Config {
	cfg.Role = cmp.Or(cfg.Role, migrations.AppRole)
	cfg.MaxConns = cmp.Or(cfg.MaxConns, 20)
	cfg.IdleInTransactionTimeout = cmp.Or(cfg.IdleInTransactionTimeout, 10*time.Second)
	return cfg
}

// Store is the Postgres jack.Store. Safe for concurrent use.
type Store struct {
	pool   *pgxpool.Pool
	writer *persistence.Writer

	// beforeCommit, when set (tests), runs after a batch's statements and before its COMMIT.
	beforeCommit func(ctx context.Context, conn *pgx.Conn, writes int) error

	// Now is the clock; each transaction reads it once. Defaults to time.Now.
	Now func() time.Time
}

// Open connects to Postgres and pings it. It does not migrate (see Migrate). Returns
// EUNAVAILABLE when the database does not answer.
func Open(ctx context.Context, cfg Config) (*Store, error) {
	cfg = cfg.WithDefaults()
	if cfg.URL == "" {
		return nil, errors.New("postgres: Config.URL is required")
	}
	pcfg, err := pgxpool.ParseConfig(cfg.URL)
	if err != nil {
		return nil, fmt.Errorf("postgres: parse url: %w", err)
	}
	pcfg.MaxConns = cfg.MaxConns
	pcfg.ConnConfig.RuntimeParams["idle_in_transaction_session_timeout"] =
		fmt.Sprint(cfg.IdleInTransactionTimeout.Milliseconds())
	setRole := ""
	if cfg.Role != RoleNone {
		setRole = "SET ROLE " + pgx.Identifier{cfg.Role}.Sanitize()
	}
	pcfg.AfterConnect = func(ctx context.Context, conn *pgx.Conn) error {
		// Scan timestamps in UTC so values read back compare equal to what was written.
		conn.TypeMap().RegisterType(&pgtype.Type{
			Name: "timestamptz", OID: pgtype.TimestamptzOID,
			Codec: &pgtype.TimestamptzCodec{ScanLocation: time.UTC},
		})
		if setRole == "" {
			return nil
		}
		if _, err := conn.Exec(ctx, setRole); err != nil {
			return fmt.Errorf("postgres: %s: %w", setRole, err)
		}
		return nil
	}
	pool, err := pgxpool.NewWithConfig(ctx, pcfg)
	if err != nil {
		return nil, fmt.Errorf("postgres: open pool: %w", err)
	}
	s := &Store{pool: pool, Now: time.Now}
	if err := s.Ping(ctx); err != nil {
		pool.Close()
		return nil, err
	}
	s.writer = persistence.NewWriter(cfg.Writer, s.commitWrites)
	return s, nil
}

// Close answers the writes still queued, then releases the connections. Safe to call twice.
func (s *Store) Close() error {
	s.writer.Close()
	s.pool.Close()
	return nil
}

// WriterStats returns the group-commit writer's counters.
func (s *Store) WriterStats() persistence.WriterStats { return s.writer.Stats() }

// Ping returns EUNAVAILABLE when the database does not answer.
func (s *Store) Ping(ctx context.Context) error {
	if err := s.pool.Ping(ctx); err != nil {
		return unavailable(err)
	}
	return nil
}

// unavailable wraps a database fault (down, shutting down, connection lost, pool exhausted) as
// EUNAVAILABLE: the HTTP layer answers 503 with Retry-After, after one retry of an idempotent
// request.
func unavailable(err error) error {
	return fmt.Errorf("postgres: %w: %w", jack.Errorf(jack.EUNAVAILABLE, "The database is unavailable. Try again shortly."), err)
}

// Tx is one transaction of one organization: row-level security sees only orgID's rows, and
// every write in it reads the same clock. It implements jack.ConversationTx.
type Tx struct {
	tx    dbtx
	orgID uuid.UUID
	now   time.Time
	write *persistence.Write // the group-commit write this Tx runs; nil outside the writer
}

// dbtx is what a Tx runs its statements on: a pgx.Tx, or the connection of a group-commit
// batch that manages BEGIN and COMMIT itself.
type dbtx interface {
	Exec(ctx context.Context, sql string, arguments ...any) (pgconn.CommandTag, error)
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
	SendBatch(ctx context.Context, b *pgx.Batch) pgx.BatchResults
}

// Now returns the transaction's clock reading (UTC, microseconds).
func (tx *Tx) Now() time.Time { return tx.now }

// inTx runs fn in a transaction of orgID and commits when fn returns nil.
func (s *Store) inTx(ctx context.Context, orgID uuid.UUID, fn func(tx *Tx) error) error {
	return s.begin(ctx, orgID, true, fn)
}

// inTenantFreeTx runs fn in a transaction with no organization set: RLS shows it nothing,
// so it may only call the SECURITY DEFINER lookups.
func (s *Store) inTenantFreeTx(ctx context.Context, fn func(tx *Tx) error) error {
	return s.begin(ctx, uuid.Nil, false, fn)
}

// queryTenantFree runs one query outside any tenant (a SECURITY DEFINER function does the
// scoping) and scans its rows; what names the operation in the error.
func queryTenantFree[T any](ctx context.Context, s *Store, what string, scan func(persistence.Row) (T, error), sql string, args ...any) ([]T, error) {
	out := []T{}
	err := s.inTenantFreeTx(ctx, func(tx *Tx) error {
		rows, err := tx.tx.Query(ctx, sql, args...)
		found, err := collect(rows, err, scan)
		out = append(out, found...)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	return out, nil
}

func (s *Store) begin(ctx context.Context, orgID uuid.UUID, tenant bool, fn func(tx *Tx) error) error {
	ptx, err := s.pool.Begin(ctx)
	if err != nil {
		return translate(fmt.Errorf("postgres: begin: %w", err))
	}
	defer func() { _ = ptx.Rollback(context.WithoutCancel(ctx)) }()

	tx := &Tx{tx: ptx, orgID: orgID, now: persistence.TxTime(s.Now)}
	if tenant {
		if _, err := ptx.Exec(ctx, `SELECT set_config('app.current_organization_id', $1, true)`, orgID.String()); err != nil {
			return translate(fmt.Errorf("postgres: set organization: %w", err))
		}
	}
	if err := fn(tx); err != nil {
		return translate(err)
	}
	if err := ptx.Commit(ctx); err != nil {
		return translate(fmt.Errorf("postgres: commit: %w", err))
	}
	return nil
}

// Postgres error codes the adapter translates.
const (
	codeUniqueViolation     = "23505"
	codeForeignKeyViolation = "23503"
	codeInvalidText         = "22P02"
	// Text Postgres cannot store: U+0000 (in text or jsonb) and bytes that are not UTF-8. The
	// HTTP edge cleans input first; this keeps anything that slips through a 400, not a 500.
	codeUntranslatableCharacter  = "22P05"
	codeCharacterNotInRepertoire = "22021"
	// Server going away or refusing connections: the request may succeed on retry (503).
	codeAdminShutdown      = "57P01"
	codeCrashShutdown      = "57P02"
	codeCannotConnectNow   = "57P03"
	codeTooManyConnections = "53300"
	codeClassConnection    = "08" // connection_exception and its subclasses
)

// translate maps database failures to domain errors at the edge; an error that already is a
// jack.Error, or that nothing maps, passes through unchanged (EINTERNAL for users).
func translate(err error) error {
	var je *jack.Error
	var pgErr *pgconn.PgError
	var connErr *pgconn.ConnectError
	switch {
	case err == nil || errors.As(err, &je):
		return err
	case errors.Is(err, pgx.ErrNoRows):
		return fmt.Errorf("%w: %w", jack.Errorf(jack.ENOTFOUND, "Not found."), err)
	case errors.As(err, &connErr):
		return unavailable(err)
	case errors.As(err, &pgErr):
		switch pgErr.Code {
		case codeAdminShutdown, codeCrashShutdown, codeCannotConnectNow, codeTooManyConnections:
			return unavailable(err)
		case codeUntranslatableCharacter, codeCharacterNotInRepertoire:
			return fmt.Errorf("%w: %w", jack.Errorf(jack.EINVALID, "The request holds characters that cannot be stored."), err)
		}
		if strings.HasPrefix(pgErr.Code, codeClassConnection) {
			return unavailable(err)
		}
		switch pgErr.Code {
		case codeUniqueViolation:
			return fmt.Errorf("%w: %w", persistence.ConflictError(pgErr.ConstraintName), err)
		case codeForeignKeyViolation:
			if strings.HasSuffix(pgErr.ConstraintName, "_organization_id_fkey") {
				return fmt.Errorf("%w: %w", notFound("Organization"), err)
			}
			return fmt.Errorf("%w: %w", jack.Errorf(jack.EUNPROCESSABLE, "A referenced record does not exist."), err)
		case codeInvalidText:
			return fmt.Errorf("%w: %w", jack.Errorf(jack.EINVALID, "Malformed identifier."), err)
		}
	case lostConnection(err):
		return unavailable(err)
	}
	return err
}

// lostConnection reports whether err is the connection or the pool failing rather than the
// query: a connection that died or was closed under the query, a network error, a pool that
// timed out waiting for a free connection or was closed. The request may succeed on retry.
func lostConnection(err error) bool {
	var netErr net.Error
	switch {
	case pgconn.SafeToRetry(err), pgconn.Timeout(err),
		errors.Is(err, context.DeadlineExceeded), errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF),
		errors.Is(err, syscall.ECONNRESET), errors.Is(err, syscall.ECONNREFUSED), errors.Is(err, syscall.EPIPE),
		errors.As(err, &netErr):
		return true
	}
	msg := err.Error() // pgx and pgxpool return these as plain errors
	return strings.HasSuffix(msg, "conn closed") || strings.HasSuffix(msg, "closed pool")
}

// notFound returns ENOTFOUND with a user-safe message.
func notFound(what string) error { return jack.Errorf(jack.ENOTFOUND, "%s not found.", what) }

// orNotFound turns pgx.ErrNoRows into ENOTFOUND naming what was missing.
func orNotFound(err error, what string) error {
	if errors.Is(err, pgx.ErrNoRows) {
		return notFound(what)
	}
	return err
}

// collect scans every row with scan.
func collect[T any](rows pgx.Rows, err error, scan func(persistence.Row) (T, error)) ([]T, error) {
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (T, error) { return scan(r) })
}

// nullText stores "" as NULL.
func nullText(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

// truncPtr truncates an optional time to what Postgres keeps.
func truncPtr(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	v := persistence.Truncate(*t)
	return &v
}

// orNow returns t truncated, or now when t is zero.
func orNow(t, now time.Time) time.Time {
	if t.IsZero() {
		return now
	}
	return persistence.Truncate(t)
}

// newID returns a time-ordered id.
func newID() uuid.UUID { return uuid.Must(uuid.NewV7()) }
