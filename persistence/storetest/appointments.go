package storetest

import (
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/jack-auto/jack"
)

// MustBookAppointment books a confirmed test drive of lead at start (30 minutes) with room for
// capacity per slot, and returns it.
func MustBookAppointment(tb testing.TB, store jack.Store, orgID uuid.UUID, lead *jack.Lead, start time.Time, capacity int) *jack.Appointment {
	tb.Helper()
	a := &jack.Appointment{LeadID: lead.ID, StartsAt: start, EndsAt: start.Add(30 * time.Minute),
		Kind: jack.AppointmentTestDrive, Source: jack.SourceStaff}
	require.NoError(tb, store.InConversationTx(tb.Context(), orgID, func(tx jack.ConversationTx) error {
		return tx.CreateAppointment(tb.Context(), a, capacity)
	}))
	return a
}

// bookAppointment books like MustBookAppointment and returns the error.
func bookAppointment(tb testing.TB, store jack.Store, orgID uuid.UUID, leadID string, start time.Time, capacity int) (*jack.Appointment, error) {
	a := &jack.Appointment{LeadID: leadID, StartsAt: start, EndsAt: start.Add(30 * time.Minute),
		Kind: jack.AppointmentTestDrive, Source: jack.SourceAISMS, Vehicle: "2024 Civic", Notes: "trade-in"}
	err := store.InConversationTx(tb.Context(), orgID, func(tx jack.ConversationTx) error {
		return tx.CreateAppointment(tb.Context(), a, capacity)
	})
	return a, err
}

func updateAppointment(tb testing.TB, store jack.Store, orgID, id uuid.UUID, upd jack.AppointmentUpdate, capacity int) (*jack.Appointment, error) {
	var a *jack.Appointment
	err := store.InConversationTx(tb.Context(), orgID, func(tx jack.ConversationTx) (err error) {
		a, err = tx.UpdateAppointment(tb.Context(), id, upd, capacity)
		return err
	})
	return a, err
}

func testAppointments(t *testing.T, f Features, newStore NewStoreFunc) {
	type testBundle struct {
		store jack.Store
		org   *jack.Organization
		lead  *jack.Lead
		start time.Time
	}
	setup := func(t *testing.T) testBundle {
		store := newStore(t)
		org, _ := MustCreateOrganization(t, store)
		return testBundle{store: store, org: org, lead: MustCreateLead(t, store, org.ID, NewPhone()),
			start: f.now().Add(48 * time.Hour).Truncate(time.Hour)}
	}

	t.Run("OK", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		a, err := bookAppointment(t, b.store, b.org.ID, b.lead.ID, b.start, 2)
		require.NoError(t, err)
		require.NotEqual(t, uuid.Nil, a.ID)
		require.Equal(t, int64(1), a.Version)
		require.Equal(t, jack.AppointmentConfirmed, a.Status)
		require.Equal(t, b.lead.PhoneNumberNormalized, a.Phone)
		require.Equal(t, b.lead.CustomerName, a.CustomerName)

		got, err := b.store.FindAppointmentByID(t.Context(), b.org.ID, a.ID)
		require.NoError(t, err)
		requireEqual(t, f, a, got)

		list, err := b.store.FindAppointments(t.Context(), b.org.ID, jack.AppointmentFilter{From: b.start, To: b.start.Add(time.Hour)})
		require.NoError(t, err)
		require.Len(t, list, 1)
		requireEqual(t, f, a, list[0])
		list, err = b.store.FindAppointments(t.Context(), b.org.ID, jack.AppointmentFilter{From: b.start.Add(time.Hour)})
		require.NoError(t, err)
		require.Empty(t, list)
		list, err = b.store.FindAppointments(t.Context(), b.org.ID, jack.AppointmentFilter{Phone: b.lead.PhoneNumberNormalized, Status: jack.AppointmentConfirmed})
		require.NoError(t, err)
		require.Len(t, list, 1)
	})

	t.Run("Capacity", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		other := MustCreateLead(t, b.store, b.org.ID, NewPhone())
		MustBookAppointment(t, b.store, b.org.ID, b.lead, b.start, 2)
		second := MustBookAppointment(t, b.store, b.org.ID, other, b.start, 2)
		_, err := bookAppointment(t, b.store, b.org.ID, b.lead.ID, b.start, 2)
		requireReason(t, jack.ReasonSlotFull, err)
		_, err = bookAppointment(t, b.store, b.org.ID, b.lead.ID, b.start.Add(15*time.Minute), 2)
		requireReason(t, jack.ReasonSlotFull, err)                                        // overlapping counts, not only equal starts
		MustBookAppointment(t, b.store, b.org.ID, b.lead, b.start.Add(30*time.Minute), 2) // the next slot is free

		// A cancelled appointment gives its place back; confirming it again needs one.
		_, err = updateAppointment(t, b.store, b.org.ID, second.ID, jack.AppointmentUpdate{Status: ptr(jack.AppointmentCancelled)}, 2)
		require.NoError(t, err)
		third := MustBookAppointment(t, b.store, b.org.ID, other, b.start, 2)
		_, err = updateAppointment(t, b.store, b.org.ID, second.ID, jack.AppointmentUpdate{Status: ptr(jack.AppointmentConfirmed)}, 2)
		requireReason(t, jack.ReasonSlotFull, err)
		// Rescheduling into a full slot is refused; into a free one it works and keeps the place.
		later := b.start.Add(2 * time.Hour)
		moved, err := updateAppointment(t, b.store, b.org.ID, third.ID, jack.AppointmentUpdate{StartsAt: &later, EndsAt: ptr(later.Add(30 * time.Minute))}, 1)
		require.NoError(t, err)
		require.Equal(t, int64(2), moved.Version)
		back := b.start.Add(30 * time.Minute)
		_, err = updateAppointment(t, b.store, b.org.ID, third.ID, jack.AppointmentUpdate{StartsAt: &back, EndsAt: ptr(back.Add(30 * time.Minute))}, 1)
		requireReason(t, jack.ReasonSlotFull, err)
	})

	t.Run("Version", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		a := MustBookAppointment(t, b.store, b.org.ID, b.lead, b.start, 2)
		upd, err := updateAppointment(t, b.store, b.org.ID, a.ID, jack.AppointmentUpdate{Status: ptr(jack.AppointmentNoShow), Version: ptr(int64(1))}, 2)
		require.NoError(t, err)
		require.Equal(t, int64(2), upd.Version)
		require.Equal(t, jack.AppointmentNoShow, upd.Status)
		_, err = updateAppointment(t, b.store, b.org.ID, a.ID, jack.AppointmentUpdate{Status: ptr(jack.AppointmentCompleted), Version: ptr(int64(1))}, 2)
		requireReason(t, jack.ReasonVersionChanged, err)
		got, err := b.store.FindAppointmentByID(t.Context(), b.org.ID, a.ID)
		require.NoError(t, err)
		require.Equal(t, jack.AppointmentNoShow, got.Status, "a refused change changes nothing")
		_, err = updateAppointment(t, b.store, b.org.ID, a.ID, jack.AppointmentUpdate{Status: ptr("lost")}, 2)
		requireCode(t, jack.EUNPROCESSABLE, err)
	})

	t.Run("ErrNotFound", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		_, err := b.store.FindAppointmentByID(t.Context(), b.org.ID, uuid.New())
		requireCode(t, jack.ENOTFOUND, err)
		_, err = updateAppointment(t, b.store, b.org.ID, uuid.New(), jack.AppointmentUpdate{Status: ptr(jack.AppointmentCancelled)}, 2)
		requireCode(t, jack.ENOTFOUND, err)
		_, err = bookAppointment(t, b.store, b.org.ID, "no-such-lead", b.start, 2)
		requireCode(t, jack.ENOTFOUND, err)
	})

	t.Run("ErrOtherOrganization", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		a := MustBookAppointment(t, b.store, b.org.ID, b.lead, b.start, 2)
		other, _ := MustCreateOrganization(t, b.store)
		_, err := b.store.FindAppointmentByID(t.Context(), other.ID, a.ID)
		requireCode(t, jack.ENOTFOUND, err)
		list, err := b.store.FindAppointments(t.Context(), other.ID, jack.AppointmentFilter{})
		require.NoError(t, err)
		require.Empty(t, list)
		_, err = updateAppointment(t, b.store, other.ID, a.ID, jack.AppointmentUpdate{Status: ptr(jack.AppointmentCancelled)}, 2)
		requireCode(t, jack.ENOTFOUND, err)
		_, err = bookAppointment(t, b.store, other.ID, b.lead.ID, b.start, 2)
		requireCode(t, jack.ENOTFOUND, err) // booking another organization's lead
		// Another organization's bookings take no place in this one's slots.
		otherLead := MustCreateLead(t, b.store, other.ID, NewPhone())
		MustBookAppointment(t, b.store, other.ID, otherLead, b.start, 1)
	})

	t.Run("FeedToken", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		ctx := t.Context()
		_, err := b.store.AppointmentFeedToken(ctx, b.org.ID)
		requireCode(t, jack.ENOTFOUND, err)
		require.NoError(t, b.store.SetAppointmentFeedToken(ctx, b.org.ID, "hash-1"))
		require.NoError(t, b.store.SetAppointmentFeedToken(ctx, b.org.ID, "hash-2"))
		got, err := b.store.AppointmentFeedToken(ctx, b.org.ID)
		require.NoError(t, err)
		require.Equal(t, "hash-2", got, "a new token replaces the old")
		other, _ := MustCreateOrganization(t, b.store)
		_, err = b.store.AppointmentFeedToken(ctx, other.ID)
		requireCode(t, jack.ENOTFOUND, err)
		require.NoError(t, b.store.DeleteAppointmentFeedToken(ctx, other.ID))
		require.NoError(t, b.store.DeleteAppointmentFeedToken(ctx, b.org.ID))
		_, err = b.store.AppointmentFeedToken(ctx, b.org.ID)
		requireCode(t, jack.ENOTFOUND, err)
	})
}
