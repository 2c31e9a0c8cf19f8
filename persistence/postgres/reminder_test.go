package postgres_test

import (
	"context"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/jack-auto/jack"
	"github.com/jack-auto/jack/persistence/storetest"
)

// TestClaimNonSuperuserOwner migrates a schema as an owner without superuser rights, the way
// production does, and checks that the SECURITY DEFINER claim_due_reminders claims every
// organization's due reminders: with the suite's superuser, row-level security never applies
// to the owner, so the owner's policy on reminders would go untested.
func TestClaimNonSuperuserOwner(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s, u := mustOpenOwnerStore(t)

	now := time.Now().UTC().Truncate(time.Microsecond)
	orgA, orgB := mustCreateOrg(t, s, "A"), mustCreateOrg(t, s, "B")
	a := storetest.MustScheduleReminder(t, s, orgA.ID, storetest.MustCreateLead(t, s, orgA.ID, storetest.NewPhone()), 0, now.Add(-time.Hour))
	b := storetest.MustScheduleReminder(t, s, orgB.ID, storetest.MustCreateLead(t, s, orgB.ID, storetest.NewPhone()), 0, now.Add(-time.Minute))

	got, err := s.ClaimDueReminders(ctx, now, time.Minute, 10)
	require.NoError(t, err)
	require.Equal(t, []*jack.Reminder{a, b}, got)
	got, err = s.ClaimDueReminders(ctx, now, time.Minute, 10)
	require.NoError(t, err)
	require.Empty(t, got, "the owner's claim was stored")

	// The function runs as its owner with a pinned search_path.
	conn, err := pgx.Connect(ctx, u)
	require.NoError(t, err)
	t.Cleanup(func() { _ = conn.Close(context.Background()) })
	var definer bool
	var config []string
	require.NoError(t, conn.QueryRow(ctx, `SELECT p.prosecdef, p.proconfig FROM pg_proc p
		JOIN pg_namespace n ON n.oid = p.pronamespace
		WHERE n.nspname = current_schema() AND p.proname = 'claim_due_reminders'`).Scan(&definer, &config))
	require.True(t, definer, "SECURITY DEFINER")
	require.Len(t, config, 1)
	require.Contains(t, config[0], "search_path=")
	require.Contains(t, config[0], "pg_temp")
}
