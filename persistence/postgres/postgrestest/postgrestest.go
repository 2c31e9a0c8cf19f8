// Package postgrestest gives tests a real, migrated Postgres schema of their own, in the
// database named by TEST_DATABASE_URL, emptied for reuse when the test ends; tests skip when
// the variable is unset. Every package whose tests need Postgres (store, HTTP, actors, cmd/jack) uses it.
package postgrestest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/jack-auto/jack/migrations"
	"github.com/jack-auto/jack/persistence/postgres"
)

// EnvURL names the variable holding the test database URL, e.g.
// postgres://postgres@127.0.0.1:5432/jack_test?sslmode=disable. Its user must be able to create
// schemas (and, the first time, the database and the application role).
const EnvURL = "TEST_DATABASE_URL"

// URL returns the URL of a migrated, empty schema of its own in the database of
// TEST_DATABASE_URL (created when missing): the same URL with search_path=<schema>. When tb
// ends the schema is emptied and kept for the next test of this process (migrating a fresh
// schema costs far more than deleting a few rows), or dropped when the test changed its
// migrations; schemas of processes that ended are dropped by the next process. Skips tb when
// TEST_DATABASE_URL is unset.
func URL(tb testing.TB) string {
	tb.Helper()
	base := os.Getenv(EnvURL)
	if base == "" {
		tb.Skipf("%s is not set: skipping a test that needs Postgres (e.g. %s=postgres://postgres@127.0.0.1:5432/jack_test?sslmode=disable)", EnvURL, EnvURL)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()

	p, err := poolFor(ctx, base)
	if err != nil {
		tb.Fatalf("postgrestest: prepare %s: %v", redact(base), err)
	}
	u, err := p.take(ctx)
	if err != nil {
		tb.Fatalf("postgrestest: %v", err)
	}
	tb.Cleanup(func() {
		if err := p.give(u); err != nil {
			tb.Errorf("postgrestest: %v", err)
		}
	})
	return u
}

// MustOpenStore opens a Store on a schema of its own (see URL), closed in tb.Cleanup.
func MustOpenStore(tb testing.TB) *postgres.Store {
	tb.Helper()
	u := URL(tb)
	s, err := postgres.Open(context.Background(), postgres.Config{URL: u, MaxConns: 10})
	if err != nil {
		tb.Fatalf("postgrestest: open store: %v", err)
	}
	tb.Cleanup(func() { _ = s.Close() })
	return s
}

// schemaPool hands out the migrated schemas of one process. Its schemas are named
// test_<token>_<n>; lockConn holds a session advisory lock on the token for as long as the
// process lives, which tells other processes the schemas are in use.
type schemaPool struct {
	base     string
	token    string
	lockConn *pgx.Conn

	mu   sync.Mutex
	free []string // URLs of emptied schemas
	n    int
}

// take returns a free schema's URL, or creates and migrates a new schema.
func (p *schemaPool) take(ctx context.Context) (string, error) {
	p.mu.Lock()
	if k := len(p.free); k > 0 {
		u := p.free[k-1]
		p.free = p.free[:k-1]
		p.mu.Unlock()
		return u, nil
	}
	p.n++
	schema := fmt.Sprintf("test_%s_%d", p.token, p.n)
	p.mu.Unlock()

	if err := exec(ctx, p.base, "CREATE SCHEMA "+pgx.Identifier{schema}.Sanitize()); err != nil {
		return "", fmt.Errorf("create schema %s: %w", schema, err)
	}
	u, err := withSearchPath(p.base, schema)
	if err != nil {
		return "", err
	}
	if err := postgres.Migrate(ctx, u, "up", nil); err != nil {
		return "", fmt.Errorf("migrate schema %s: %w", schema, err)
	}
	return u, nil
}

// give empties the schema of u and makes it free again; a schema whose migrations a test
// changed (or that cannot be emptied) is dropped instead.
func (p *schemaPool) give(u string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, u)
	if err != nil {
		return fmt.Errorf("reset schema: connect: %w", err)
	}
	defer func() { _ = conn.Close(context.WithoutCancel(ctx)) }()
	var schema string
	if err := conn.QueryRow(ctx, `SELECT current_schema()`).Scan(&schema); err != nil {
		return fmt.Errorf("reset schema: %w", err)
	}
	if resetSchema(ctx, conn) == nil {
		p.mu.Lock()
		p.free = append(p.free, u)
		p.mu.Unlock()
		return nil
	}
	if _, err := conn.Exec(ctx, "DROP SCHEMA IF EXISTS "+pgx.Identifier{schema}.Sanitize()+" CASCADE"); err != nil {
		return fmt.Errorf("drop schema %s: %w", schema, err)
	}
	return nil
}

// resetSchema deletes every row of the current schema in one transaction, after checking it
// is still migrated to the latest version.
func resetSchema(ctx context.Context, conn *pgx.Conn) error {
	return pgx.BeginFunc(ctx, conn, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SET LOCAL lock_timeout = '5s'`); err != nil {
			return err
		}
		var version int64
		if err := tx.QueryRow(ctx, `SELECT COALESCE(max(version_id), 0) FROM goose_db_version`).Scan(&version); err != nil {
			return err
		}
		if version != latestVersion {
			return fmt.Errorf("schema at version %d, want %d", version, latestVersion)
		}
		rows, err := tx.Query(ctx, `SELECT tablename FROM pg_tables WHERE schemaname = current_schema() AND tablename <> 'goose_db_version'
			ORDER BY tablename <> 'organizations'`) // organizations first: deleting them cascades to the rest
		if err != nil {
			return err
		}
		tables, err := pgx.CollectRows(rows, pgx.RowTo[string])
		if err != nil {
			return err
		}
		for _, t := range tables {
			if _, err := tx.Exec(ctx, "DELETE FROM "+pgx.Identifier{t}.Sanitize()); err != nil {
				return err
			}
		}
		return nil
	})
}

// latestVersion is the version of the newest Postgres migration (goose reads it from the
// file name's numeric prefix).
var latestVersion = func() int64 {
	files, _ := fs.Glob(migrations.Postgres, "postgres/*.sql")
	var latest int64
	for _, f := range files {
		prefix, _, _ := strings.Cut(path.Base(f), "_")
		if v, err := strconv.ParseInt(prefix, 10, 64); err == nil && v > latest {
			latest = v
		}
	}
	return latest
}()

var (
	poolsMu sync.Mutex
	pools   = map[string]*schemaPool{}
)

// poolFor returns this process's schema pool for base, preparing the database on first use:
// it creates the database and the application role when missing, and drops the schemas of
// processes that ended.
func poolFor(ctx context.Context, base string) (*schemaPool, error) {
	poolsMu.Lock()
	defer poolsMu.Unlock()
	if p := pools[base]; p != nil {
		return p, nil
	}
	if err := createDatabase(ctx, base); err != nil {
		return nil, err
	}
	if err := createAppRole(ctx, base); err != nil {
		return nil, err
	}
	p := &schemaPool{base: base, token: randomHex(4)}
	conn, err := pgx.Connect(ctx, base)
	if err != nil {
		return nil, fmt.Errorf("connect: %w", err)
	}
	if _, err := conn.Exec(ctx, `SELECT pg_advisory_lock(`+tokenLockKey+`)`, p.token); err != nil {
		_ = conn.Close(ctx)
		return nil, fmt.Errorf("lock schemas: %w", err)
	}
	p.lockConn = conn // held, never closed: the lock ends with the process
	if err := dropAbandonedSchemas(ctx, base, p.token); err != nil {
		return nil, err
	}
	pools[base] = p
	return p, nil
}

const tokenLockKey = `hashtextextended('jack test schemas ' || $1, 0)`

// dropAbandonedSchemas drops the test schemas whose process no longer holds its token's lock.
func dropAbandonedSchemas(ctx context.Context, base, self string) error {
	conn, err := pgx.Connect(ctx, base)
	if err != nil {
		return fmt.Errorf("connect: %w", err)
	}
	defer func() { _ = conn.Close(context.WithoutCancel(ctx)) }()
	rows, err := conn.Query(ctx, `SELECT nspname FROM pg_namespace WHERE nspname LIKE 'test\_%'`)
	if err != nil {
		return fmt.Errorf("list schemas: %w", err)
	}
	schemas, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return fmt.Errorf("list schemas: %w", err)
	}
	byToken := map[string][]string{}
	for _, s := range schemas {
		if parts := strings.Split(s, "_"); len(parts) == 3 && parts[1] != self {
			byToken[parts[1]] = append(byToken[parts[1]], s)
		}
	}
	for token, schemas := range byToken {
		var free bool
		if err := conn.QueryRow(ctx, `SELECT pg_try_advisory_lock(`+tokenLockKey+`)`, token).Scan(&free); err != nil {
			return fmt.Errorf("probe schemas of %s: %w", token, err)
		}
		if !free {
			continue // its process is running
		}
		for _, s := range schemas {
			if _, err := conn.Exec(ctx, "DROP SCHEMA IF EXISTS "+pgx.Identifier{s}.Sanitize()+" CASCADE"); err != nil {
				return fmt.Errorf("drop abandoned schema %s: %w", s, err)
			}
		}
		if _, err := conn.Exec(ctx, `SELECT pg_advisory_unlock(`+tokenLockKey+`)`, token); err != nil {
			return fmt.Errorf("unlock schemas of %s: %w", token, err)
		}
	}
	return nil
}

// exec runs one statement on a short connection to base.
func exec(ctx context.Context, base, sql string) error {
	conn, err := pgx.Connect(ctx, base)
	if err != nil {
		return err
	}
	defer func() { _ = conn.Close(context.WithoutCancel(ctx)) }()
	_, err = conn.Exec(ctx, sql)
	return err
}

// createDatabase creates the database of base, connecting to the postgres database, unless
// it exists.
func createDatabase(ctx context.Context, base string) error {
	cfg, err := pgx.ParseConfig(base)
	if err != nil {
		return fmt.Errorf("parse %s: %w", EnvURL, err)
	}
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err == nil {
		return conn.Close(ctx)
	}
	var pgErr *pgconn.PgError
	if !errors.As(err, &pgErr) || pgErr.Code != "3D000" { // invalid_catalog_name
		return fmt.Errorf("connect: %w", err)
	}
	name := cfg.Database
	cfg.Database = "postgres"
	conn, err = pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return fmt.Errorf("connect to the postgres database: %w", err)
	}
	defer func() { _ = conn.Close(ctx) }()
	_, err = conn.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize())
	if errors.As(err, &pgErr) && (pgErr.Code == "42P04" || pgErr.Code == "23505") { // created concurrently
		return nil
	}
	if err != nil {
		return fmt.Errorf("create database %s: %w", name, err)
	}
	return nil
}

// createAppRole creates the application role ahead of the migrations, under a transaction
// advisory lock: the migration creates it too, but two schemas migrating at once in a fresh
// cluster would race on it.
func createAppRole(ctx context.Context, base string) error {
	conn, err := pgx.Connect(ctx, base)
	if err != nil {
		return fmt.Errorf("connect: %w", err)
	}
	defer func() { _ = conn.Close(ctx) }()
	return pgx.BeginFunc(ctx, conn, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock(hashtextextended('jack create role', 0))`); err != nil {
			return err
		}
		var exists bool
		if err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT FROM pg_roles WHERE rolname = $1)`, migrations.AppRole).Scan(&exists); err != nil {
			return err
		}
		if exists {
			return nil
		}
		_, err := tx.Exec(ctx, "CREATE ROLE "+pgx.Identifier{migrations.AppRole}.Sanitize()+" NOLOGIN NOSUPERUSER NOBYPASSRLS NOCREATEDB NOCREATEROLE")
		return err
	})
}

// withSearchPath returns base with its search_path parameter set to schema.
func withSearchPath(base, schema string) (string, error) {
	u, err := url.Parse(base)
	if err != nil || u.Scheme == "" {
		return "", fmt.Errorf("%s must be a postgres:// URL", EnvURL)
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String(), nil
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// redact hides a password in u for messages.
func redact(u string) string {
	if p, err := url.Parse(u); err == nil {
		return p.Redacted()
	}
	return strings.Repeat("*", 8)
}
