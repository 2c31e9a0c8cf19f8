package sqlite_test

import (
	"context"
	"database/sql"
	"io/fs"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jack-auto/jack"
	"github.com/jack-auto/jack/migrations"
	"github.com/jack-auto/jack/persistence"
	"github.com/jack-auto/jack/persistence/sqlite"
	"github.com/jack-auto/jack/persistence/sqlite/sqlitetest"
	"github.com/jack-auto/jack/persistence/storetest"
	"github.com/stretchr/testify/require"
)

var features = storetest.Features{
	TimePrecision: time.Microsecond,
	SetClock:      func(s jack.Store, now func() time.Time) { s.(*sqlite.Store).Now = now },
	InsertRawLead: func(t *testing.T, s jack.Store, orgID uuid.UUID, id, phone string) {
		t.Helper()
		now := persistence.FormatTime(time.Now())
		require.NoError(t, sqlite.ExecInTx(t.Context(), s.(*sqlite.Store), orgID,
			`INSERT INTO leads (id, organization_id, customer_name, phone_number, phone_number_normalized,
				created_at, updated_at, last_activity)
			VALUES (?, ?, 'Raw lead', ?, ?, ?, ?, ?)`, id, orgID.String(), phone, phone, now, now, now))
	},
}

func TestStore(t *testing.T) {
	t.Parallel()
	storetest.RunStore(t, features, func(t *testing.T) jack.Store { return sqlitetest.MustOpenStore(t) })
}

// TestConcurrentWriters checks that writers queue instead of failing with SQLITE_BUSY.
func TestConcurrentWriters(t *testing.T) {
	t.Parallel()
	store := sqlitetest.MustOpenStore(t)
	ctx := t.Context()
	org, _ := storetest.MustCreateOrganization(t, store)
	lead := storetest.MustCreateLead(t, store, org.ID, storetest.NewPhone())

	const writers, readers = 200, 20
	var wg sync.WaitGroup
	errs := make(chan error, writers+readers)
	for i := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs <- store.InConversationTx(ctx, org.ID, func(tx jack.ConversationTx) error {
				m := storetest.NewMessage(lead, "concurrent", tx.Now())
				m.ProviderMessageID = "SM" + uuid.NewString()
				if _, created, err := tx.InsertMessage(ctx, m); err != nil {
					return err
				} else if !created {
					t.Errorf("writer %d: message not created", i)
				}
				_, err := tx.UpdateConversation(ctx, lead.ID, jack.ConversationChange{Messages: 1})
				return err
			})
		}()
	}
	// Readers run alongside the writers.
	for range readers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := store.LoadConversation(ctx, org.ID, lead.PhoneNumberNormalized, 50)
			errs <- err
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}

	got, err := store.FindLeadByID(ctx, org.ID, lead.ID)
	require.NoError(t, err)
	require.Equal(t, writers, got.TotalConversations)
	require.Equal(t, lead.Version+writers, got.Version)
	snap, err := store.LoadConversation(ctx, org.ID, lead.PhoneNumberNormalized, 10)
	require.NoError(t, err)
	require.Equal(t, writers, snap.TotalMessages)
}

// TestNow checks every write of a transaction reads the Store's clock once.
func TestNow(t *testing.T) {
	t.Parallel()
	store := sqlitetest.MustOpenStore(t)
	fixed := time.Date(2026, 3, 4, 5, 6, 7, 891234567, time.FixedZone("X", 3600))
	store.Now = func() time.Time { return fixed }
	want := fixed.UTC().Truncate(time.Microsecond)

	org, owner := storetest.MustCreateOrganization(t, store)
	require.Equal(t, want, org.CreatedAt)
	require.Equal(t, want, owner.CreatedAt)
	lead := storetest.MustCreateLead(t, store, org.ID, storetest.NewPhone())
	require.Equal(t, want, lead.CreatedAt)
	require.NoError(t, store.InConversationTx(t.Context(), org.ID, func(tx jack.ConversationTx) error {
		require.Equal(t, want, tx.Now())
		l, err := tx.UpdateConversation(t.Context(), lead.ID, jack.ConversationChange{OptOut: ptr(true)})
		require.NoError(t, err)
		require.Equal(t, want, *l.OptedOutAt)
		require.Equal(t, want, l.UpdatedAt)
		return nil
	}))
}

// TestActivePhoneNumberDefault checks the organization's default number wins while active. No
// Store method sets the default yet, so the test sets it in SQL.
func TestActivePhoneNumberDefault(t *testing.T) {
	t.Parallel()
	store, path := mustOpenStoreAt(t)

	org, _ := storetest.MustCreateOrganization(t, store)
	storetest.MustCreatePhoneNumber(t, store, org.ID, storetest.NewPhone(), true)
	def := storetest.MustCreatePhoneNumber(t, store, org.ID, storetest.NewPhone(), true)
	execSQL(t, path, `UPDATE organizations SET default_phone_number_id = ? WHERE id = ?`, def.ID.String(), org.ID.String())

	got, err := store.ActivePhoneNumber(t.Context(), org.ID)
	require.NoError(t, err)
	require.Equal(t, def.ID, got.ID)

	_, err = store.UpdatePhoneNumber(t.Context(), org.ID, def.PhoneNumber, jack.PhoneNumberUpdate{IsActive: ptr(false)})
	require.NoError(t, err)
	got, err = store.ActivePhoneNumber(t.Context(), org.ID)
	require.NoError(t, err)
	require.NotEqual(t, def.ID, got.ID)
}

func TestMigrate(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "nested", "dir", "jack.db")
	var out strings.Builder

	require.NoError(t, sqlite.Migrate(ctx, path, "status", &out))
	require.Contains(t, out.String(), "pending")

	files, err := fs.Glob(migrations.SQLite, "sqlite/*.sql")
	require.NoError(t, err)
	require.NotEmpty(t, files)
	out.Reset()
	require.NoError(t, sqlite.Migrate(ctx, path, "up", &out))
	for _, f := range files {
		require.Contains(t, out.String(), filepath.Base(f))
	}

	out.Reset()
	require.NoError(t, sqlite.Migrate(ctx, path, "up", &out), "up twice is harmless")
	require.NoError(t, sqlite.Migrate(ctx, path, "status", &out))
	require.Contains(t, out.String(), "applied")

	for i := len(files) - 1; i >= 0; i-- { // down rolls back one migration at a time, newest first
		out.Reset()
		require.NoError(t, sqlite.Migrate(ctx, path, "down", &out))
		require.Contains(t, out.String(), filepath.Base(files[i]))
	}
	out.Reset()
	require.NoError(t, sqlite.Migrate(ctx, path, "down", &out))
	require.Contains(t, out.String(), "no migration to roll back")

	err = sqlite.Migrate(ctx, path, "sideways", &out)
	require.ErrorContains(t, err, "unknown migrate command")
}

func TestPingClosed(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "jack.db")
	store, err := sqlite.Open(context.Background(), path)
	require.NoError(t, err)
	require.NoError(t, store.Ping(t.Context()))
	require.NoError(t, store.Close())
	require.Equal(t, jack.EUNAVAILABLE, jack.ErrorCode(store.Ping(t.Context())))
	require.NoError(t, store.Close(), "Close twice")
}

func ptr[T any](v T) *T { return &v }

// mustOpenStoreAt returns a migrated store and its file, for tests that also need raw SQL.
func mustOpenStoreAt(t *testing.T) (*sqlite.Store, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "jack.db")
	require.NoError(t, sqlite.Migrate(t.Context(), path, "up", nil))
	store, err := sqlite.Open(t.Context(), path)
	require.NoError(t, err)
	t.Cleanup(func() { store.Close() })
	return store, path
}

// execSQL reaches rows no Store method writes yet.
func execSQL(tb testing.TB, path, query string, args ...any) {
	tb.Helper()
	db, err := sql.Open("sqlite", path+"?_pragma=busy_timeout(10000)&_pragma=foreign_keys(1)")
	require.NoError(tb, err)
	defer db.Close()
	_, err = db.ExecContext(tb.Context(), query, args...)
	require.NoError(tb, err)
}
