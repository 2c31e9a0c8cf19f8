// Package postgrestest gives tests a real, migrated Postgres schema of their own, in the
// database named by TEST_DATABASE_URL, dropped when the test ends; tests skip when the variable
// is unset. Every package whose tests need Postgres (store, HTTP, actors, cmd/jack) uses it.
package postgrestest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net/url"
	"os"
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

// URL returns the URL of a fresh schema, migrated up, in the database of TEST_DATABASE_URL
// (created when missing): the same URL with search_path=<schema>. The schema is dropped in
// tb.Cleanup. Skips tb when TEST_DATABASE_URL is unset.
func URL(tb testing.TB) string {
	tb.Helper()
	base := os.Getenv(EnvURL)
	if base == "" {
		tb.Skipf("%s is not set: skipping a test that needs Postgres (e.g. %s=postgres://postgres@127.0.0.1:5432/jack_test?sslmode=disable)", EnvURL, EnvURL)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()

	if err := prepareOnce(ctx, base); err != nil {
		tb.Fatalf("postgrestest: prepare %s: %v", redact(base), err)
	}

	schema := "test_" + randomHex(8)
	conn, err := pgx.Connect(ctx, base)
	if err != nil {
		tb.Fatalf("postgrestest: connect: %v", err)
	}
	defer conn.Close(context.WithoutCancel(ctx))
	if _, err := conn.Exec(ctx, "CREATE SCHEMA "+pgx.Identifier{schema}.Sanitize()); err != nil {
		tb.Fatalf("postgrestest: create schema: %v", err)
	}
	tb.Cleanup(func() { dropSchema(tb, base, schema) })

	u, err := withSearchPath(base, schema)
	if err != nil {
		tb.Fatalf("postgrestest: %v", err)
	}
	if err := postgres.Migrate(ctx, u, "up", nil); err != nil {
		tb.Fatalf("postgrestest: migrate schema %s: %v", schema, err)
	}
	return u
}

// MustOpenStore opens a Store on a fresh schema (see URL), closed in tb.Cleanup.
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

func dropSchema(tb testing.TB, base, schema string) {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, base)
	if err != nil {
		tb.Errorf("postgrestest: drop schema %s: connect: %v", schema, err)
		return
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, "DROP SCHEMA IF EXISTS "+pgx.Identifier{schema}.Sanitize()+" CASCADE"); err != nil {
		tb.Errorf("postgrestest: drop schema %s: %v", schema, err)
	}
}

var (
	prepareMu   sync.Mutex
	preparedFor = map[string]bool{}
)

// prepareOnce creates the test database and the application role the first time a process
// asks for base. Both are cluster-wide objects other test processes may create at the same
// time, so each creation tolerates losing that race.
func prepareOnce(ctx context.Context, base string) error {
	prepareMu.Lock()
	defer prepareMu.Unlock()
	if preparedFor[base] {
		return nil
	}
	if err := createDatabase(ctx, base); err != nil {
		return err
	}
	if err := createAppRole(ctx, base); err != nil {
		return err
	}
	preparedFor[base] = true
	return nil
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
	defer conn.Close(ctx)
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
	defer conn.Close(ctx)
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
