package postgres_test

import (
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/jack-auto/jack"
	"github.com/jack-auto/jack/persistence/postgres"
	"github.com/jack-auto/jack/persistence/postgres/postgrestest"
	"github.com/jack-auto/jack/persistence/storetest"
)

// features is what the Postgres adapter promises: timestamptz keeps microseconds.
var features = storetest.Features{
	TimePrecision: time.Microsecond,
	SetClock:      func(s jack.Store, now func() time.Time) { s.(*postgres.Store).Now = now },
	InsertRawLead: func(t *testing.T, s jack.Store, orgID uuid.UUID, id, phone string) {
		t.Helper()
		require.NoError(t, postgres.ExecInTx(t.Context(), s.(*postgres.Store), orgID,
			`INSERT INTO leads (id, organization_id, customer_name, phone_number, phone_number_normalized)
			VALUES ($1, $2, 'Raw lead', $3, $3)`, id, orgID, phone))
	},
}

func TestStore(t *testing.T) {
	t.Parallel()
	storetest.RunStore(t, features, func(t *testing.T) jack.Store { return postgrestest.MustOpenStore(t) })
}
