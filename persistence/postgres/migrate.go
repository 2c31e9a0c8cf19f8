package postgres

import (
	"context"
	"database/sql"
	"fmt"
	"io"
	"io/fs"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/lock"

	"github.com/jack-auto/jack/migrations"
	"github.com/jack-auto/jack/persistence"
)

// Migrate runs the goose migrations of migrations.Postgres on the database of url, as the
// connecting user (it owns the tables and the SECURITY DEFINER functions; the application role
// cannot create them). command is "up" (every pending migration), "down" (one step back) or
// "status"; progress goes to w. A search_path parameter in url selects the schema. Concurrent
// runs on one schema wait for each other.
func Migrate(ctx context.Context, url, command string, w io.Writer) error {
	cfg, err := pgx.ParseConfig(url)
	if err != nil {
		return fmt.Errorf("postgres: parse url: %w", err)
	}
	db := stdlib.OpenDB(*cfg)
	defer db.Close()

	fsys, err := fs.Sub(migrations.Postgres, "postgres")
	if err != nil {
		return err
	}
	p, err := goose.NewProvider(goose.DialectPostgres, db, fsys, goose.WithSessionLocker(schemaLocker{}))
	if err != nil {
		return fmt.Errorf("postgres: migrations: %w", err)
	}

	if err := persistence.RunMigrations(ctx, p, command, w); err != nil {
		return fmt.Errorf("postgres: %w", err)
	}
	return nil
}

// schemaLocker serializes migrations of one schema with a session advisory lock keyed by the
// schema name. It waits on the lock rather than polling (goose's locker retries every 5s), and
// migrations of other schemas (one per test) never wait for each other.
type schemaLocker struct{}

var _ lock.SessionLocker = schemaLocker{}

const lockKey = `hashtextextended('jack migrate ' || COALESCE(current_schema(), ''), 0)`

func (schemaLocker) SessionLock(ctx context.Context, conn *sql.Conn) error {
	_, err := conn.ExecContext(ctx, `SELECT pg_advisory_lock(`+lockKey+`)`)
	return err
}

func (schemaLocker) SessionUnlock(ctx context.Context, conn *sql.Conn) error {
	_, err := conn.ExecContext(ctx, `SELECT pg_advisory_unlock(`+lockKey+`)`)
	return err
}
