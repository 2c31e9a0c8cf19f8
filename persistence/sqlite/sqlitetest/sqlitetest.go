// Package sqlitetest gives tests of other packages a ready SQLite Store: a migrated database
// file in the test's temporary directory, closed when the test ends.
package sqlitetest

import (
	"context"
	"io"
	"path/filepath"
	"testing"

	"github.com/jack-auto/jack/persistence/sqlite"
)

// MustOpenStore returns a migrated Store on a new file under tb.TempDir(), closed in tb.Cleanup.
func MustOpenStore(tb testing.TB) *sqlite.Store {
	tb.Helper()
	ctx := context.Background()
	path := filepath.Join(tb.TempDir(), "jack.db")
	if err := sqlite.Migrate(ctx, path, "up", io.Discard); err != nil {
		tb.Fatalf("migrate sqlite store: %v", err)
	}
	store, err := sqlite.Open(ctx, path)
	if err != nil {
		tb.Fatalf("open sqlite store: %v", err)
	}
	tb.Cleanup(func() {
		if err := store.Close(); err != nil {
			tb.Errorf("close sqlite store: %v", err)
		}
	})
	return store
}
