package postgrestest_test

import (
	"context"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/jack-auto/jack"
	"github.com/jack-auto/jack/persistence/postgres"
	"github.com/jack-auto/jack/persistence/postgres/postgrestest"
)

// count returns the rows of table in the schema of url, read as the (superuser) test user.
func count(tb testing.TB, url, table string) int {
	tb.Helper()
	conn, err := pgx.Connect(context.Background(), url)
	require.NoError(tb, err)
	defer conn.Close(context.Background())
	var n int
	require.NoError(tb, conn.QueryRow(context.Background(), `SELECT count(*) FROM `+table).Scan(&n))
	return n
}

// TestURL runs its subtests one after another so each reuses the schema the previous one gave back.
func TestURL(t *testing.T) {
	var first string
	t.Run("Dirty", func(t *testing.T) {
		first = postgrestest.URL(t)
		s, err := postgres.Open(t.Context(), postgres.Config{URL: first})
		require.NoError(t, err)
		t.Cleanup(func() { _ = s.Close() })
		require.NoError(t, s.CreateOrganization(t.Context(), &jack.Organization{Name: "Dirty"}, &jack.User{Email: "dirty@example.com", PasswordHash: "x"}))
		require.Equal(t, 1, count(t, first, "organizations"))
	})
	t.Run("ReusedEmpty", func(t *testing.T) {
		u := postgrestest.URL(t)
		require.Equal(t, first, u, "the schema is reused")
		require.Zero(t, count(t, u, "organizations"))
		require.Zero(t, count(t, u, "user_profiles"))
		require.NoError(t, postgres.Migrate(t.Context(), u, "down", nil))
	})
	t.Run("MigratedDownIsNotReused", func(t *testing.T) {
		u := postgrestest.URL(t)
		require.NotEqual(t, first, u)
		require.Zero(t, count(t, u, "leads"))
	})
}
