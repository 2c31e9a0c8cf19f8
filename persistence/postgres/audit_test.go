package postgres_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/url"
	"os"
	"slices"
	"testing"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/jack-auto/jack"
	"github.com/jack-auto/jack/migrations"
	"github.com/jack-auto/jack/persistence/postgres"
	"github.com/jack-auto/jack/persistence/postgres/postgrestest"
	"github.com/jack-auto/jack/persistence/storetest"
)

// ownerRole owns the schema of TestAuditNonSuperuserOwner. It is no superuser, so FORCE ROW
// LEVEL SECURITY applies to it as to a production owner.
const ownerRole = "jack_owner_test"

// TestAuditNonSuperuserOwner migrates a schema as an owner without superuser rights, the way
// production does, and checks that the SECURITY DEFINER audit functions see every organization:
// with the test suite's superuser, row-level security never applies to the owner, so the owner's
// read policies would go untested.
func TestAuditNonSuperuserOwner(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s, _ := mustOpenOwnerStore(t)

	orgA, orgB := mustCreateOrg(t, s, "A"), mustCreateOrg(t, s, "B")
	shared := storetest.NewPhone()
	storetest.MustCreateLead(t, s, orgA.ID, shared)
	storetest.MustCreateLead(t, s, orgB.ID, shared)
	pn := storetest.MustCreatePhoneNumber(t, s, orgB.ID, storetest.NewPhone(), true)
	require.NoError(t, postgres.ExecInTx(ctx, s, orgA.ID, `INSERT INTO leads (id, organization_id, customer_name, phone_number, phone_number_normalized)
		VALUES ('raw', $1, 'Raw', '555', '555')`, orgA.ID))

	got, err := s.Audit(ctx)
	require.NoError(t, err)
	for table, n := range got.RowsWithoutOrganization {
		require.Zero(t, n, "%s: the owner must see organizations to tell orphans", table)
	}
	require.Len(t, got.RowsWithoutOrganization, 8)
	require.Equal(t, []jack.SharedPhone{{Phone: shared, Organizations: sortedIDs(orgA.ID, orgB.ID)}}, got.SharedCustomerPhones)
	require.Equal(t, []jack.NumberRef{{OrganizationID: orgB.ID, Phone: pn.PhoneNumber}}, got.NumbersWithoutVoice)
	require.Equal(t, []jack.LeadRef{{OrganizationID: orgA.ID, LeadID: "raw", Phone: "555"}}, got.InvalidLeadPhones)
}

// mustOpenOwnerStore migrates a new schema as ownerRole (see mustOwnerSchema) and opens a
// Store on it, running as the application role; it returns the Store and the schema's URL
// (which connects as the owner).
func mustOpenOwnerStore(tb testing.TB) (*postgres.Store, string) {
	tb.Helper()
	ctx := context.Background()
	base := os.Getenv(postgrestest.EnvURL)
	postgrestest.URL(tb) // skips without TEST_DATABASE_URL; prepares the database and jack_app
	u := mustOwnerSchema(tb, base)
	require.NoError(tb, postgres.Migrate(ctx, u, "up", nil))
	s, err := postgres.Open(ctx, postgres.Config{URL: u})
	require.NoError(tb, err)
	tb.Cleanup(func() { _ = s.Close() })
	user, err := postgres.CurrentUser(ctx, s)
	require.NoError(tb, err)
	require.Equal(tb, migrations.AppRole, user)
	return s, u
}

// mustOwnerSchema returns the URL of a new, empty schema owned by ownerRole, connecting as it;
// the schema is dropped when tb ends.
func mustOwnerSchema(tb testing.TB, base string) string {
	tb.Helper()
	ctx := context.Background()
	admin, err := pgx.Connect(ctx, base)
	require.NoError(tb, err)
	defer admin.Close(ctx)
	err = pgx.BeginFunc(ctx, admin, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock(hashtextextended('jack create owner role', 0))`); err != nil {
			return err
		}
		var exists bool
		if err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT FROM pg_roles WHERE rolname = $1)`, ownerRole).Scan(&exists); err != nil || exists {
			return err
		}
		_, err := tx.Exec(ctx, `CREATE ROLE `+ownerRole+` LOGIN NOSUPERUSER NOBYPASSRLS; GRANT `+migrations.AppRole+` TO `+ownerRole)
		return err
	})
	if err != nil {
		tb.Skipf("cannot create the non-superuser role %s (the test user needs CREATEROLE): %v", ownerRole, err)
	}
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	schema := "owner_test_" + hex.EncodeToString(b)
	_, err = admin.Exec(ctx, `CREATE SCHEMA `+schema+` AUTHORIZATION `+ownerRole)
	require.NoError(tb, err)
	tb.Cleanup(func() {
		conn, err := pgx.Connect(context.Background(), base)
		if err != nil {
			tb.Errorf("drop schema %s: %v", schema, err)
			return
		}
		defer conn.Close(context.Background())
		if _, err := conn.Exec(context.Background(), `DROP SCHEMA `+schema+` CASCADE`); err != nil {
			tb.Errorf("drop schema %s: %v", schema, err)
		}
	})

	pu, err := url.Parse(base)
	require.NoError(tb, err)
	pu.User = url.User(ownerRole)
	q := pu.Query()
	q.Set("search_path", schema)
	pu.RawQuery = q.Encode()
	conn, err := pgx.Connect(ctx, pu.String())
	if err != nil {
		tb.Skipf("cannot log in as %s (pg_hba.conf must let it in without a password): %v", ownerRole, err)
	}
	_ = conn.Close(ctx)
	return pu.String()
}

// sortedIDs returns ids in the audit's order: by their bytes.
func sortedIDs(ids ...uuid.UUID) []uuid.UUID {
	slices.SortFunc(ids, func(a, b uuid.UUID) int { return bytes.Compare(a[:], b[:]) })
	return ids
}
