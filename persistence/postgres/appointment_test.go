package postgres_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/jack-auto/jack"
	"github.com/jack-auto/jack/persistence/postgres"
	"github.com/jack-auto/jack/persistence/postgres/postgrestest"
)

// TestConcurrentBookings books one slot of capacity 2 from many goroutines over four Stores on
// one database (four nodes, each with its own pool and group-commit writer): exactly two
// bookings succeed, every other one is refused as slot_full.
func TestConcurrentBookings(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	url := postgrestest.URL(t)
	stores := make([]*postgres.Store, 4)
	for i := range stores {
		s, err := postgres.Open(ctx, postgres.Config{URL: url})
		require.NoError(t, err)
		t.Cleanup(func() { _ = s.Close() })
		stores[i] = s
	}
	org := mustCreateOrg(t, stores[0], "Busy Motors")
	const n, capacity = 24, 2
	leads := make([]*jack.Lead, n)
	for i := range leads {
		leads[i] = jack.NewLead(org.ID, "Customer", "+1604555"+string(rune('0'+i/10))+string(rune('0'+i%10))+"00", stores[0].Now())
		require.NoError(t, stores[0].CreateLead(ctx, org.ID, leads[i]))
	}
	start := time.Now().Add(72 * time.Hour).Truncate(time.Hour)

	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := range n {
		wg.Go(func() {
			s := stores[i%len(stores)]
			errs <- s.InConversationTx(ctx, org.ID, func(tx jack.ConversationTx) error {
				return tx.CreateAppointment(ctx, &jack.Appointment{LeadID: leads[i].ID, StartsAt: start,
					EndsAt: start.Add(30 * time.Minute), Kind: jack.AppointmentTestDrive, Source: jack.SourceStaff}, capacity)
			})
		})
	}
	wg.Wait()
	close(errs)
	ok, full := 0, 0
	for err := range errs {
		switch {
		case err == nil:
			ok++
		case jack.ErrorReason(err) == jack.ReasonSlotFull:
			full++
		default:
			t.Errorf("unexpected error: %v", err)
		}
	}
	require.Equal(t, capacity, ok)
	require.Equal(t, n-capacity, full)
	booked, err := stores[1].FindAppointments(ctx, org.ID, jack.AppointmentFilter{Status: jack.AppointmentConfirmed})
	require.NoError(t, err)
	require.Len(t, booked, capacity)
}
