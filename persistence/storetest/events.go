package storetest

import (
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jack-auto/jack"
	"github.com/stretchr/testify/require"
)

func testEvents(t *testing.T, f Features, newStore NewStoreFunc) {
	type testBundle struct {
		store jack.Store
		org   *jack.Organization
		lead  *jack.Lead
	}
	setup := func(t *testing.T) *testBundle {
		t.Helper()
		store := newStore(t)
		org, _ := MustCreateOrganization(t, store)
		return &testBundle{store: store, org: org, lead: MustCreateLead(t, store, org.ID, NewPhone())}
	}
	// insertEvents stores events of orgID, each a fresh UUIDv7 in order.
	insertEvents := func(t *testing.T, store jack.Store, orgID uuid.UUID, events ...*jack.Event) {
		t.Helper()
		require.NoError(t, store.InConversationTx(t.Context(), orgID, func(tx jack.ConversationTx) error {
			return tx.InsertEvents(t.Context(), events...)
		}))
	}
	newEvents := func(b *testBundle, n int, ts time.Time) []*jack.Event {
		var events []*jack.Event
		for range n {
			events = append(events, jack.NewEvent(jack.EventSMSReceived, b.org.ID, b.lead.ID, b.lead.PhoneNumberNormalized, ts, nil))
		}
		return events
	}
	eventIDs := func(events []*jack.Event) []uuid.UUID {
		ids := make([]uuid.UUID, 0, len(events))
		for _, e := range events {
			ids = append(ids, e.ID)
		}
		return ids
	}

	t.Run("InsertEvents", func(t *testing.T) {
		t.Parallel()

		t.Run("WholeEventRoundTrips", func(t *testing.T) {
			t.Parallel()
			b := setup(t)
			e := jack.NewEvent(jack.EventSMSStatus, b.org.ID, b.lead.ID, b.lead.PhoneNumberNormalized, f.now(),
				map[string]any{"status": "delivered", "count": 2, "nested": map[string]any{"ok": true}})
			e.Message = "Thanks, see you Saturday"
			e.MessageSid = "SMevent"
			insertEvents(t, b.store, b.org.ID, e)

			events, err := b.store.FindEvents(t.Context(), b.org.ID, jack.EventFilter{})
			require.NoError(t, err)
			require.Len(t, events, 1)
			got := events[0]
			require.JSONEq(t, string(e.Data), string(got.Data))
			got.Data, e.Data = nil, nil
			requireEqual(t, f, e, got)
		})

		t.Run("WithoutLead", func(t *testing.T) {
			t.Parallel()
			b := setup(t)
			e := jack.NewEvent(jack.EventCallEnded, b.org.ID, "", "", f.now(), nil)
			insertEvents(t, b.store, b.org.ID, e)
			events, err := b.store.FindEvents(t.Context(), b.org.ID, jack.EventFilter{})
			require.NoError(t, err)
			require.Equal(t, []uuid.UUID{e.ID}, eventIDs(events))
			require.Empty(t, events[0].LeadID)
		})
	})

	t.Run("FindEvents", func(t *testing.T) {
		t.Parallel()

		t.Run("OldestFirst", func(t *testing.T) {
			t.Parallel()
			b := setup(t)
			events := newEvents(b, 5, f.now())
			// Inserted out of order: the ids, not the insertion order, decide.
			insertEvents(t, b.store, b.org.ID, events[3], events[1])
			insertEvents(t, b.store, b.org.ID, events[4], events[0], events[2])

			got, err := b.store.FindEvents(t.Context(), b.org.ID, jack.EventFilter{After: uuid.Nil})
			require.NoError(t, err)
			require.Equal(t, eventIDs(events), eventIDs(got))
		})

		t.Run("After", func(t *testing.T) {
			t.Parallel()
			b := setup(t)
			events := newEvents(b, 5, f.now())
			insertEvents(t, b.store, b.org.ID, events...)

			got, err := b.store.FindEvents(t.Context(), b.org.ID, jack.EventFilter{After: events[2].ID})
			require.NoError(t, err)
			require.Equal(t, eventIDs(events[3:]), eventIDs(got))

			got, err = b.store.FindEvents(t.Context(), b.org.ID, jack.EventFilter{After: events[4].ID})
			require.NoError(t, err)
			require.Empty(t, got)
		})

		t.Run("LeadID", func(t *testing.T) {
			t.Parallel()
			b := setup(t)
			other := MustCreateLead(t, b.store, b.org.ID, NewPhone())
			mine := newEvents(b, 2, f.now())
			theirs := jack.NewEvent(jack.EventSMSSent, b.org.ID, other.ID, other.PhoneNumberNormalized, f.now(), nil)
			insertEvents(t, b.store, b.org.ID, mine[0], theirs, mine[1])

			got, err := b.store.FindEvents(t.Context(), b.org.ID, jack.EventFilter{LeadID: b.lead.ID})
			require.NoError(t, err)
			require.Equal(t, eventIDs(mine), eventIDs(got))
		})

		t.Run("Limit", func(t *testing.T) {
			t.Parallel()
			b := setup(t)
			events := newEvents(b, 5, f.now())
			insertEvents(t, b.store, b.org.ID, events...)
			got, err := b.store.FindEvents(t.Context(), b.org.ID, jack.EventFilter{Limit: 2})
			require.NoError(t, err)
			require.Equal(t, eventIDs(events[:2]), eventIDs(got))
		})

		t.Run("Empty", func(t *testing.T) {
			t.Parallel()
			b := setup(t)
			got, err := b.store.FindEvents(t.Context(), b.org.ID, jack.EventFilter{})
			require.NoError(t, err)
			require.Empty(t, got)
		})

		t.Run("OtherOrganization", func(t *testing.T) {
			t.Parallel()
			b := setup(t)
			insertEvents(t, b.store, b.org.ID, newEvents(b, 2, f.now())...)
			other, _ := MustCreateOrganization(t, b.store)
			got, err := b.store.FindEvents(t.Context(), other.ID, jack.EventFilter{})
			require.NoError(t, err)
			require.Empty(t, got)
			got, err = b.store.FindEvents(t.Context(), other.ID, jack.EventFilter{LeadID: b.lead.ID})
			require.NoError(t, err)
			require.Empty(t, got)
		})
	})

	t.Run("DeleteEventsBefore", func(t *testing.T) {
		t.Parallel()

		// An event's age is its Timestamp: the store keeps it as the row's creation time.
		t.Run("OK", func(t *testing.T) {
			t.Parallel()
			b := setup(t)
			now := f.now()
			old := newEvents(b, 2, now.Add(-40*24*time.Hour))
			recent := newEvents(b, 2, now.Add(-time.Hour))
			insertEvents(t, b.store, b.org.ID, append(old, recent...)...)

			otherOrg, _ := MustCreateOrganization(t, b.store)
			otherLead := MustCreateLead(t, b.store, otherOrg.ID, NewPhone())
			otherOld := jack.NewEvent(jack.EventSMSSent, otherOrg.ID, otherLead.ID, otherLead.PhoneNumberNormalized, now.Add(-31*24*time.Hour), nil)
			insertEvents(t, b.store, otherOrg.ID, otherOld)

			n, err := b.store.DeleteEventsBefore(t.Context(), now.Add(-30*24*time.Hour))
			require.NoError(t, err)
			require.EqualValues(t, 3, n, "old events of every organization")

			got, err := b.store.FindEvents(t.Context(), b.org.ID, jack.EventFilter{})
			require.NoError(t, err)
			require.Equal(t, eventIDs(recent), eventIDs(got))
			got, err = b.store.FindEvents(t.Context(), otherOrg.ID, jack.EventFilter{})
			require.NoError(t, err)
			require.Empty(t, got)

			n, err = b.store.DeleteEventsBefore(t.Context(), now.Add(-30*24*time.Hour))
			require.NoError(t, err)
			require.Zero(t, n)
		})
	})
}
