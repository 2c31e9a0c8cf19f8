package sqlite

import (
	"context"
	"fmt"
	"io"
	"io/fs"

	"github.com/jack-auto/jack/migrations"
	"github.com/jack-auto/jack/persistence"
	"github.com/pressly/goose/v3"
)

// Migrate runs a goose command on the database file at path (created with its directory if
// missing) and reports to w: "up" applies every pending migration, "down" rolls back the latest
// one, "status" lists each migration's state.
func Migrate(ctx context.Context, path, command string, w io.Writer) error {
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
	if err := persistence.RunMigrations(ctx, p, command, w); err != nil {
		return fmt.Errorf("sqlite: %w", err)
	}
	return nil
}
