package postgres_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/url"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/stretchr/testify/require"

	"github.com/jack-auto/jack"
	"github.com/jack-auto/jack/persistence/postgres"
	"github.com/jack-auto/jack/persistence/postgres/postgrestest"
	"github.com/jack-auto/jack/persistence/storetest"
)

// TestTranslate_Faults: database faults are EUNAVAILABLE (503 with Retry-After), text Postgres
// cannot store is EINVALID, never EINTERNAL (issue 15, items 7 and 1).
func TestTranslate_Faults(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		err  error
		code string
	}{
		{"AdminShutdown", &pgconn.PgError{Code: "57P01", Message: "terminating connection due to administrator command"}, jack.EUNAVAILABLE},
		{"CrashShutdown", &pgconn.PgError{Code: "57P02"}, jack.EUNAVAILABLE},
		{"CannotConnectNow", &pgconn.PgError{Code: "57P03"}, jack.EUNAVAILABLE},
		{"TooManyConnections", &pgconn.PgError{Code: "53300"}, jack.EUNAVAILABLE},
		{"ConnectionFailure", &pgconn.PgError{Code: "08006"}, jack.EUNAVAILABLE},
		{"UnexpectedEOF", fmt.Errorf("query: %w", io.ErrUnexpectedEOF), jack.EUNAVAILABLE},
		{"PoolTimeout", fmt.Errorf("acquire: %w", context.DeadlineExceeded), jack.EUNAVAILABLE},
		{"ConnClosed", errors.New("conn closed"), jack.EUNAVAILABLE},
		{"ClosedPool", errors.New("closed pool"), jack.EUNAVAILABLE},
		{"NUL", &pgconn.PgError{Code: "22P05", Message: "unsupported Unicode escape sequence"}, jack.EINVALID},
		{"InvalidUTF8", &pgconn.PgError{Code: "22021", Message: "invalid byte sequence for encoding \"UTF8\": 0x00"}, jack.EINVALID},
		{"NoRows", pgx.ErrNoRows, jack.ENOTFOUND},
		{"OtherBug", &pgconn.PgError{Code: "42703"}, jack.EINTERNAL},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			require.Equal(t, tc.code, jack.ErrorCode(postgres.Translate(tc.err)))
		})
	}
}

// TestAdminShutdown: every connection of the pool is terminated by an administrator (57P01),
// as a failover or a restart does: the next calls fail as EUNAVAILABLE, never EINTERNAL, and
// the pool recovers on its own.
func TestAdminShutdown(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	base := postgrestest.URL(t)
	u, err := url.Parse(base)
	require.NoError(t, err)
	q := u.Query()
	app := "jack-fault-" + t.Name()
	q.Set("application_name", app)
	u.RawQuery = q.Encode()
	store, err := postgres.Open(ctx, postgres.Config{URL: u.String(), MaxConns: 4})
	require.NoError(t, err)
	t.Cleanup(func() { store.Close() })
	org, _ := storetest.MustCreateOrganization(t, store)

	admin, err := pgx.Connect(ctx, base)
	require.NoError(t, err)
	t.Cleanup(func() { admin.Close(context.Background()) })
	_, err = admin.Exec(ctx, `SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = $1`, app)
	require.NoError(t, err)

	failures := 0
	for range 6 { // each dead connection of the pool fails once, then the pool reconnects
		_, err = store.FindOrganizationByID(ctx, org.ID)
		if err == nil {
			break
		}
		failures++
		require.Equal(t, jack.EUNAVAILABLE, jack.ErrorCode(err), "%v", err)
	}
	t.Logf("%d calls met a terminated connection", failures)
	_, err = store.FindOrganizationByID(ctx, org.ID)
	require.NoError(t, err, "the pool recovered")
}
