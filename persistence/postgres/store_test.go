package postgres_test

import (
	"testing"
	"time"

	"github.com/jack-auto/jack"
	"github.com/jack-auto/jack/persistence/postgres"
	"github.com/jack-auto/jack/persistence/postgres/postgrestest"
	"github.com/jack-auto/jack/persistence/storetest"
)

// features is what the Postgres adapter promises: timestamptz keeps microseconds.
var features = storetest.Features{
	TimePrecision: time.Microsecond,
	SetClock:      func(s jack.Store, now func() time.Time) { s.(*postgres.Store).Now = now },
}

func TestStore(t *testing.T) {
	t.Parallel()
	storetest.RunStore(t, features, func(t *testing.T) jack.Store { return postgrestest.MustOpenStore(t) })
}
