package sqlite

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"

	"github.com/jack-auto/jack/migrations"
	"github.com/pressly/goose/v3"
)

// Migrate runs a goose command on the database file at path (created if missing) and reports
// to w: "up" applies every pending migration, "down" rolls back the latest one, "status" lists
// each migration's state.
func Migrate(ctx context.Context, path, command string, w io.Writer) error {
	if w == nil {
		w = io.Discard
	}
	db, err := openDB(ctx, path, false)
	if err != nil {
		return err
	}
	defer db.Close()
	fsys, err := fs.Sub(migrations.SQLite, "sqlite")
	if err != nil {
		return err
	}
	p, err := goose.NewProvider(goose.DialectSQLite3, db, fsys)
	if err != nil {
		return fmt.Errorf("sqlite: migrations: %w", err)
	}
	switch command {
	case "up":
		results, err := p.Up(ctx)
		for _, r := range results {
			fmt.Fprintln(w, r)
		}
		if len(results) == 0 && err == nil {
			fmt.Fprintln(w, "no migrations to run")
		}
		return migrateError(err)
	case "down":
		r, err := p.Down(ctx)
		if errors.Is(err, goose.ErrNoNextVersion) {
			fmt.Fprintln(w, "no migrations to roll back")
		} else if r != nil {
			fmt.Fprintln(w, r)
		}
		return migrateError(err)
	case "status":
		statuses, err := p.Status(ctx)
		if err != nil {
			return migrateError(err)
		}
		for _, st := range statuses {
			applied := "pending"
			if st.State == goose.StateApplied {
				applied = "applied " + st.AppliedAt.UTC().Format("2006-01-02 15:04:05")
			}
			fmt.Fprintf(w, "%-28s %s\n", st.Source.Path, applied)
		}
		return nil
	}
	return fmt.Errorf("sqlite: unknown migrate command %q (want up, down or status)", command)
}

func migrateError(err error) error {
	if err == nil || errors.Is(err, goose.ErrNoNextVersion) {
		return nil
	}
	return fmt.Errorf("sqlite: migrate: %w", err)
}
