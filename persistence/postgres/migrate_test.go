package postgres_test

import (
	"bytes"
	"context"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/jack-auto/jack/persistence/postgres"
	"github.com/jack-auto/jack/persistence/postgres/postgrestest"
)

func TestMigrate(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	url := postgrestest.URL(t) // migrated up
	conn, err := pgx.Connect(ctx, url)
	require.NoError(t, err)
	t.Cleanup(func() { _ = conn.Close(context.Background()) })
	tableCount := func() int {
		t.Helper()
		var n int
		require.NoError(t, conn.QueryRow(ctx, `SELECT count(*) FROM pg_tables WHERE schemaname = current_schema() AND tablename <> 'goose_db_version'`).Scan(&n))
		return n
	}
	run := func(command string) string {
		t.Helper()
		var out bytes.Buffer
		require.NoError(t, postgres.Migrate(ctx, url, command, &out))
		return out.String()
	}

	require.Equal(t, 21, tableCount())
	require.NotContains(t, run("status"), "pending")
	require.Contains(t, run("up"), "no pending migrations")

	require.Contains(t, run("down"), "00013_appointments.sql")
	require.Equal(t, 19, tableCount())
	require.Contains(t, run("down"), "00012_inbox.sql")
	require.Equal(t, 17, tableCount())
	require.Contains(t, run("down"), "00011_sends_and_suspicions.sql")
	require.Equal(t, 17, tableCount())
	require.Contains(t, run("down"), "00010_cluster_members.sql")
	require.Equal(t, 16, tableCount())
	require.Contains(t, run("down"), "00009_conversation_owners.sql")
	require.Equal(t, 15, tableCount())
	require.Contains(t, run("down"), "00008_integrations.sql")
	require.Equal(t, 11, tableCount())
	require.Contains(t, run("down"), "00007_hardening.sql")
	require.Equal(t, 10, tableCount())
	require.Contains(t, run("down"), "00006_event_seq.sql")
	require.Equal(t, 9, tableCount())
	require.Contains(t, run("down"), "00005_indexes.sql")
	require.Contains(t, run("down"), "00004_nurture.sql")
	require.Equal(t, 8, tableCount())
	require.Contains(t, run("down"), "00003_reports.sql")
	require.Contains(t, run("down"), "00002_call_sid.sql")
	require.Equal(t, 8, tableCount())
	require.Contains(t, run("down"), "00001_init.sql")
	require.Zero(t, tableCount())
	require.Contains(t, run("status"), "pending")
	require.Contains(t, run("down"), "no migration to roll back")

	up := run("up")
	require.Contains(t, up, "00001_init.sql")
	require.Contains(t, up, "00002_call_sid.sql")
	require.Contains(t, up, "00003_reports.sql")
	require.Contains(t, up, "00004_nurture.sql")
	require.Contains(t, up, "00005_indexes.sql")
	require.Contains(t, up, "00006_event_seq.sql")
	require.Contains(t, up, "00007_hardening.sql")
	require.Contains(t, up, "00008_integrations.sql")
	require.Contains(t, up, "00009_conversation_owners.sql")
	require.Contains(t, up, "00010_cluster_members.sql")
	require.Contains(t, up, "00011_sends_and_suspicions.sql")
	require.Contains(t, up, "00012_inbox.sql")
	require.Contains(t, up, "00013_appointments.sql")
	require.Equal(t, 21, tableCount())
	require.NotContains(t, run("status"), "pending")

	t.Run("ErrUnknownCommand", func(t *testing.T) {
		require.Error(t, postgres.Migrate(ctx, url, "sideways", nil))
	})
}
