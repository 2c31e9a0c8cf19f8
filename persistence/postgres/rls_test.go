package postgres_test

import (
	"context"
	"errors"
	"sort"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/stretchr/testify/require"

	"github.com/jack-auto/jack"
	"github.com/jack-auto/jack/migrations"
	"github.com/jack-auto/jack/persistence/postgres"
	"github.com/jack-auto/jack/persistence/postgres/postgrestest"
)

// tenantTables are the tables that hold organizations' rows.
var tenantTables = []string{
	"appointment_feed_tokens", "appointments", "call_sessions", "conversation_owners", "conversation_summaries", "conversations", "event_seqs", "events",
	"integration_deliveries", "integration_feeds", "integration_lead_states", "integrations", "lead_notes", "lead_reads", "leads",
	"organization_phone_numbers", "organizations", "reminders", "user_profiles", "user_sessions",
}

// notTenantTables hold no organization's data and have no row-level security: goose's version
// table, and cluster_members (migration 00010), the cluster's membership, one row per node
// incarnation, which every node reads and writes as the application role.
var notTenantTables = []string{"goose_db_version", "cluster_members"}

// TestRLS proves row-level security at work for a raw connection as the application role: the
// database itself, not the adapter's WHERE clauses, keeps organizations apart.
func TestRLS(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	url := postgrestest.URL(t)
	s, err := postgres.Open(ctx, postgres.Config{URL: url})
	require.NoError(t, err)
	t.Cleanup(func() { _ = s.Close() })

	orgA, orgB := mustCreateOrg(t, s, "A"), mustCreateOrg(t, s, "B")
	for _, phone := range []string{"+16045550101", "+16045550102"} {
		require.NoError(t, s.CreateLead(ctx, orgA.ID, jack.NewLead(orgA.ID, "A customer", phone, s.Now())))
	}
	leadB := jack.NewLead(orgB.ID, "B customer", "+16045550103", s.Now())
	require.NoError(t, s.CreateLead(ctx, orgB.ID, leadB))

	// A plain connection (the test user may be a superuser) that switches to the app role.
	conn, err := pgx.Connect(ctx, url)
	require.NoError(t, err)
	t.Cleanup(func() { _ = conn.Close(context.Background()) })
	_, err = conn.Exec(ctx, "SET ROLE "+migrations.AppRole)
	require.NoError(t, err)

	t.Run("AppRoleCannotBypass", func(t *testing.T) {
		var user string
		var super, bypass bool
		require.NoError(t, conn.QueryRow(ctx, `SELECT current_user, rolsuper, rolbypassrls FROM pg_roles WHERE rolname = current_user`).
			Scan(&user, &super, &bypass))
		require.Equal(t, migrations.AppRole, user)
		require.False(t, super, "the app role must not be a superuser")
		require.False(t, bypass, "the app role must not have BYPASSRLS")
	})

	t.Run("SeesOnlyItsOrganization", func(t *testing.T) {
		tx, err := conn.Begin(ctx)
		require.NoError(t, err)
		defer func() { _ = tx.Rollback(ctx) }()
		_, err = tx.Exec(ctx, `SELECT set_config('app.current_organization_id', $1, true)`, orgA.ID.String())
		require.NoError(t, err)

		rows, err := tx.Query(ctx, `SELECT * FROM leads`)
		require.NoError(t, err)
		leads, err := pgx.CollectRows(rows, pgx.RowToMap)
		require.NoError(t, err)
		require.Len(t, leads, 2)
		for _, l := range leads {
			require.Equal(t, [16]byte(orgA.ID), l["organization_id"])
		}

		var orgs, users int
		require.NoError(t, tx.QueryRow(ctx, `SELECT (SELECT count(*) FROM organizations), (SELECT count(*) FROM user_profiles)`).Scan(&orgs, &users))
		require.Equal(t, 1, orgs)
		require.Equal(t, 1, users)

		// Another organization's row cannot be changed either: it is invisible.
		tag, err := tx.Exec(ctx, `UPDATE leads SET customer_name = 'hijacked' WHERE id = $1`, leadB.ID)
		require.NoError(t, err)
		require.Zero(t, tag.RowsAffected())
	})

	t.Run("SeesNothingWithoutOrganization", func(t *testing.T) {
		for _, table := range tenantTables {
			var n int
			require.NoError(t, conn.QueryRow(ctx, `SELECT count(*) FROM `+table).Scan(&n))
			require.Zero(t, n, table)
		}
		// After a transaction-local setting ends, the session reads it as '' and still sees nothing.
		tx, err := conn.Begin(ctx)
		require.NoError(t, err)
		_, err = tx.Exec(ctx, `SELECT set_config('app.current_organization_id', $1, true)`, orgA.ID.String())
		require.NoError(t, err)
		require.NoError(t, tx.Commit(ctx))
		var n int
		require.NoError(t, conn.QueryRow(ctx, `SELECT count(*) FROM leads`).Scan(&n))
		require.Zero(t, n)
	})

	t.Run("CannotWriteForAnotherOrganization", func(t *testing.T) {
		tx, err := conn.Begin(ctx)
		require.NoError(t, err)
		defer func() { _ = tx.Rollback(ctx) }()
		_, err = tx.Exec(ctx, `SELECT set_config('app.current_organization_id', $1, true)`, orgA.ID.String())
		require.NoError(t, err)
		_, err = tx.Exec(ctx, `INSERT INTO leads (id, customer_name, phone_number, phone_number_normalized, organization_id)
			VALUES ('rls-intruder', 'Intruder', '+16045550199', '+16045550199', $1)`, orgB.ID)
		var pgErr *pgconn.PgError
		require.True(t, errors.As(err, &pgErr), "want an RLS violation, got %v", err)
		require.Equal(t, "42501", pgErr.Code) // insufficient_privilege
		require.Contains(t, pgErr.Message, "row-level security")
	})

	t.Run("EveryTenantTableForcesRLS", func(t *testing.T) {
		rows, err := conn.Query(ctx, `
			SELECT c.relname, c.relrowsecurity, c.relforcerowsecurity,
				EXISTS (SELECT 1 FROM pg_policies p WHERE p.schemaname = n.nspname AND p.tablename = c.relname
					AND 'public' = ANY (p.roles) AND p.qual LIKE '%app.current_organization_id%')
			FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
			WHERE n.nspname = current_schema() AND c.relkind = 'r' AND c.relname <> ALL ($1::text[])
			ORDER BY c.relname`, notTenantTables)
		require.NoError(t, err)
		type table struct {
			Name                  string
			RowSecurity, Forced   bool
			HasOrganizationPolicy bool
		}
		tables, err := pgx.CollectRows(rows, pgx.RowToStructByPos[table])
		require.NoError(t, err)
		var names []string
		for _, tb := range tables {
			names = append(names, tb.Name)
			require.True(t, tb.RowSecurity, "%s: ENABLE ROW LEVEL SECURITY", tb.Name)
			require.True(t, tb.Forced, "%s: FORCE ROW LEVEL SECURITY", tb.Name)
			require.True(t, tb.HasOrganizationPolicy, "%s: policy on app.current_organization_id", tb.Name)
		}
		sort.Strings(names)
		require.Equal(t, tenantTables, names, "every table of the schema but notTenantTables is a tenant table")
	})

	t.Run("StoreRunsAsAppRole", func(t *testing.T) {
		// The test database user may bypass RLS; the Store's connections must not.
		user, err := postgres.CurrentUser(ctx, s)
		require.NoError(t, err)
		require.Equal(t, migrations.AppRole, user)
	})
}
