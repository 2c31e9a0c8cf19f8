package storetest

import (
	"bytes"
	"fmt"
	"sync"
	"sync/atomic"
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
	// insertEvents stores events of orgID in one transaction; the store assigns their ids.
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

	t.Run("LastEventID", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		last, err := b.store.LastEventID(t.Context(), b.org.ID)
		require.NoError(t, err)
		require.Equal(t, uuid.Nil, last, "no events yet")
		events := newEvents(b, 3, f.now())
		insertEvents(t, b.store, b.org.ID, events...)
		last, err = b.store.LastEventID(t.Context(), b.org.ID)
		require.NoError(t, err)
		require.Equal(t, events[2].ID, last)

		other, _ := MustCreateOrganization(t, b.store)
		last, err = b.store.LastEventID(t.Context(), other.ID)
		require.NoError(t, err)
		require.Equal(t, uuid.Nil, last, "another organization's events are not counted")
	})

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

		t.Run("AssignsIDs", func(t *testing.T) {
			t.Parallel()
			b := setup(t)
			// A caller's id, however late, is replaced by the store's.
			late := uuid.MustParse("ffffffff-ffff-7fff-bfff-ffffffffffff")
			e := jack.NewEvent(jack.EventSMSSent, b.org.ID, b.lead.ID, b.lead.PhoneNumberNormalized, f.now(), nil)
			e.ID = late
			insertEvents(t, b.store, b.org.ID, e)
			require.NotEqual(t, late, e.ID, "InsertEvents overwrites the id in place")
			require.Equal(t, uuid.Version(7), e.ID.Version())

			next := jack.NewEvent(jack.EventSMSSent, b.org.ID, b.lead.ID, b.lead.PhoneNumberNormalized, f.now(), nil)
			insertEvents(t, b.store, b.org.ID, next)
			events, err := b.store.FindEvents(t.Context(), b.org.ID, jack.EventFilter{})
			require.NoError(t, err)
			require.Equal(t, []uuid.UUID{e.ID, next.ID}, eventIDs(events))
		})

		t.Run("CommitOrderUnderConcurrency", func(t *testing.T) {
			t.Parallel()
			testEventCommitOrder(t, f, setup(t).store)
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

		t.Run("CommitOrder", func(t *testing.T) {
			t.Parallel()
			b := setup(t)
			events := newEvents(b, 5, f.now())
			for i, e := range events { // timestamps run backwards: they do not decide
				e.Timestamp = e.Timestamp.Add(-time.Duration(i) * time.Minute)
			}
			// Inserted out of their creation order: the store's ids follow the commits.
			insertEvents(t, b.store, b.org.ID, events[3], events[1])
			insertEvents(t, b.store, b.org.ID, events[4], events[0], events[2])

			got, err := b.store.FindEvents(t.Context(), b.org.ID, jack.EventFilter{After: uuid.Nil})
			require.NoError(t, err)
			inserted := []*jack.Event{events[3], events[1], events[4], events[0], events[2]}
			require.Equal(t, eventIDs(inserted), eventIDs(got))
			for i, e := range got {
				requireTimeEqual(t, f, inserted[i].Timestamp, e.Timestamp, "an event keeps its own timestamp")
			}
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

// testEventCommitOrder checks the promise replay rests on: an event committed later has a
// greater id, even when transactions of one organization run at once and some read a clock
// that stepped back. A reader polls FindEvents after the last id it saw, as a reconnecting
// dashboard does, while writers commit; it must see every event exactly once.
func testEventCommitOrder(t *testing.T, f Features, store jack.Store) {
	const writers, txsPerWriter, eventsPerTx = 20, 10, 2
	ctx := t.Context()
	org, _ := MustCreateOrganization(t, store)
	lead := MustCreateLead(t, store, org.ID, NewPhone())
	setClock := func(now func() time.Time) {
		if f.SetClock == nil {
			t.Log("Features.SetClock is nil: the transactions read the real clock")
			return
		}
		f.SetClock(store, now)
	}
	var clockReads atomic.Int64
	setClock(func() time.Time {
		// Every third transaction runs on a clock up to a week behind.
		if n := clockReads.Add(1); n%3 == 0 {
			return time.Now().Add(-time.Duration(n%7+1) * 24 * time.Hour)
		}
		return time.Now()
	})

	// The reader, polling in small pages until the writers are done, then once more.
	stop := make(chan struct{})
	readerDone := make(chan error, 1)
	var seen []uuid.UUID
	go func() {
		after := uuid.Nil
		drain := func() error {
			for {
				page, err := store.FindEvents(ctx, org.ID, jack.EventFilter{After: after, Limit: 7})
				if err != nil || len(page) == 0 {
					return err
				}
				for _, e := range page {
					seen = append(seen, e.ID)
					after = e.ID
				}
			}
		}
		for {
			select {
			case <-stop:
				readerDone <- drain()
				return
			default:
				if err := drain(); err != nil {
					readerDone <- err
					return
				}
			}
		}
	}()

	type written struct {
		ids        []uuid.UUID
		timestamps []time.Time
	}
	results := make(chan written, writers*txsPerWriter)
	errs := make(chan error, writers*txsPerWriter)
	var wg sync.WaitGroup
	for w := range writers {
		wg.Go(func() {
			for i := range txsPerWriter {
				events := make([]*jack.Event, eventsPerTx)
				var w2 written
				for k := range events {
					// Timestamps are unrelated to commit order; the store must keep them.
					ts := f.now().Add(-time.Duration(w*1000+i*10+k) * time.Second)
					events[k] = jack.NewEvent(jack.EventSMSReceived, org.ID, lead.ID, lead.PhoneNumberNormalized, ts,
						map[string]int{"writer": w, "tx": i, "event": k})
					w2.timestamps = append(w2.timestamps, ts)
				}
				err := store.InConversationTx(ctx, org.ID, func(tx jack.ConversationTx) error {
					return tx.InsertEvents(ctx, events...)
				})
				if err != nil {
					errs <- fmt.Errorf("writer %d tx %d: %w", w, i, err)
					return
				}
				w2.ids = eventIDs(events)
				results <- w2
			}
		})
	}
	wg.Wait()
	close(stop)
	close(errs)
	close(results)
	for err := range errs {
		require.NoError(t, err)
	}
	require.NoError(t, <-readerDone)

	timestampOf := map[uuid.UUID]time.Time{}
	for r := range results {
		for k, id := range r.ids {
			if k > 0 {
				require.Negative(t, bytes.Compare(r.ids[k-1][:], id[:]), "ids of one transaction increase in order")
			}
			timestampOf[id] = r.timestamps[k]
		}
	}
	const total = writers * txsPerWriter * eventsPerTx
	require.Len(t, timestampOf, total, "ids are unique")

	all, err := store.FindEvents(ctx, org.ID, jack.EventFilter{Limit: total + 1})
	require.NoError(t, err)
	require.Len(t, all, total)
	for i, e := range all {
		if i > 0 {
			require.Negative(t, bytes.Compare(all[i-1].ID[:], e.ID[:]), "oldest first, by id")
		}
		ts, ok := timestampOf[e.ID]
		require.True(t, ok, "stored id %s is the one InsertEvents gave the caller", e.ID)
		requireTimeEqual(t, f, ts, e.Timestamp, "an event keeps its own timestamp")
	}
	seenSet := map[uuid.UUID]bool{}
	for _, id := range seen {
		seenSet[id] = true
	}
	missed := 0
	for _, e := range all {
		if !seenSet[e.ID] {
			missed++
		}
	}
	require.Zero(t, missed, "a reader resuming after the last id it saw missed %d of %d events", missed, total)
	require.Len(t, seen, total, "and saw each once")

	// A transaction begun after all of those commits, on a clock a year behind, still comes after.
	setClock(func() time.Time { return time.Now().AddDate(-1, 0, 0) })
	late := jack.NewEvent(jack.EventLeadUpdated, org.ID, lead.ID, lead.PhoneNumberNormalized, time.Time{}, nil)
	require.NoError(t, store.InConversationTx(ctx, org.ID, func(tx jack.ConversationTx) error {
		return tx.InsertEvents(ctx, late)
	}))
	require.Positive(t, bytes.Compare(late.ID[:], all[total-1].ID[:]))
	got, err := store.FindEvents(ctx, org.ID, jack.EventFilter{After: all[total-1].ID})
	require.NoError(t, err)
	require.Equal(t, []uuid.UUID{late.ID}, eventIDs(got))
}

// eventIDs returns the ids of events in order.
func eventIDs(events []*jack.Event) []uuid.UUID {
	ids := make([]uuid.UUID, 0, len(events))
	for _, e := range events {
		ids = append(ids, e.ID)
	}
	return ids
}
