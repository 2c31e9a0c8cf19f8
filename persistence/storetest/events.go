package storetest

import (
	"context"
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
	newEvents := func(b *testBundle, n int, ts time.Time) []*jack.Event {
		var events []*jack.Event
		for range n {
			events = append(events, jack.NewEvent(jack.EventSMSReceived, b.org.ID, b.lead.ID, b.lead.PhoneNumberNormalized, ts, nil))
		}
		return events
	}

	t.Run("LastEventSeq", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		last, err := b.store.LastEventSeq(t.Context(), b.org.ID)
		require.NoError(t, err)
		require.Zero(t, last, "no events yet")
		events := newEvents(b, 3, f.now())
		MustInsertEvents(t, b.store, b.org.ID, events...)
		last, err = b.store.LastEventSeq(t.Context(), b.org.ID)
		require.NoError(t, err)
		require.Equal(t, events[2].Seq, last)

		other, _ := MustCreateOrganization(t, b.store)
		last, err = b.store.LastEventSeq(t.Context(), other.ID)
		require.NoError(t, err)
		require.Zero(t, last, "another organization's events are not counted")
	})

	t.Run("InsertEvents", func(t *testing.T) {
		t.Parallel()

		t.Run("WholeEventRoundTrips", func(t *testing.T) {
			t.Parallel()
			b := setup(t)
			e := jack.NewEvent(jack.EventSMSStatus, b.org.ID, b.lead.ID, b.lead.PhoneNumberNormalized, f.now(),
				map[string]any{"status": "delivered", "count": 2, "nested": map[string]any{"ok": true}})
			e.Message = "Thanks, see you Saturday"
			e.ProviderMessageID = "SMevent"
			MustInsertEvents(t, b.store, b.org.ID, e)

			events, err := b.store.FindEvents(t.Context(), b.org.ID, jack.EventFilter{})
			require.NoError(t, err)
			require.Len(t, events, 1)
			got := events[0]
			require.JSONEq(t, string(e.Data), string(got.Data))
			got.Data, e.Data = nil, nil
			requireEqual(t, f, e, got)
		})

		t.Run("NumbersEvents", func(t *testing.T) {
			t.Parallel()
			b := setup(t)
			// A caller's id is kept, whatever it sorts like; a missing one is made.
			late := uuid.MustParse("ffffffff-ffff-7fff-bfff-ffffffffffff")
			e := jack.NewEvent(jack.EventSMSSent, b.org.ID, b.lead.ID, b.lead.PhoneNumberNormalized, f.now(), nil)
			e.ID = late
			unnamed := jack.NewEvent(jack.EventSMSSent, b.org.ID, b.lead.ID, b.lead.PhoneNumberNormalized, f.now(), nil)
			unnamed.ID = uuid.Nil
			MustInsertEvents(t, b.store, b.org.ID, e, unnamed)
			require.Equal(t, late, e.ID)
			require.Equal(t, uuid.Version(7), unnamed.ID.Version())
			require.Equal(t, []int64{1, 2}, []int64{e.Seq, unnamed.Seq}, "Seq is set in place once committed")

			next := jack.NewEvent(jack.EventSMSSent, b.org.ID, b.lead.ID, b.lead.PhoneNumberNormalized, f.now(), nil)
			MustInsertEvents(t, b.store, b.org.ID, next)
			require.Equal(t, int64(3), next.Seq)
			events, err := b.store.FindEvents(t.Context(), b.org.ID, jack.EventFilter{})
			require.NoError(t, err)
			require.Equal(t, []uuid.UUID{e.ID, unnamed.ID, next.ID}, eventIDs(events), "in Seq order, not id order")
			require.Equal(t, []int64{1, 2, 3}, eventSeqs(events))

			last, err := b.store.LastEventSeq(t.Context(), b.org.ID)
			require.NoError(t, err)
			require.Equal(t, int64(3), last)
			seq, err := b.store.EventSeq(t.Context(), b.org.ID, unnamed.ID)
			require.NoError(t, err)
			require.Equal(t, int64(2), seq)
			got, err := b.store.FindEvents(t.Context(), b.org.ID, jack.EventFilter{AfterSeq: 1})
			require.NoError(t, err)
			require.Equal(t, []int64{2, 3}, eventSeqs(got))

			other, _ := MustCreateOrganization(t, b.store)
			theirs := jack.NewEvent(jack.EventLeadUpdated, other.ID, "", "", f.now(), nil)
			MustInsertEvents(t, b.store, other.ID, theirs)
			require.Equal(t, int64(1), theirs.Seq, "each organization has a log of its own")
			seq, err = b.store.EventSeq(t.Context(), other.ID, next.ID)
			require.NoError(t, err)
			require.Zero(t, seq, "another organization's event is not found")
		})

		t.Run("EventSeqOfATrimmedEvent", func(t *testing.T) {
			t.Parallel()
			b := setup(t)
			events := newEvents(b, 3, f.now())
			MustInsertEvents(t, b.store, b.org.ID, events...)
			// An id that is not stored resolves to the latest event with a smaller id (ids are
			// time-ordered: jack.NewEvent's UUIDv7s increase within a process).
			seq, err := b.store.EventSeq(t.Context(), b.org.ID, uuid.MustParse("ffffffff-ffff-7fff-bfff-ffffffffffff"))
			require.NoError(t, err)
			require.Equal(t, events[2].Seq, seq)
			seq, err = b.store.EventSeq(t.Context(), b.org.ID, uuid.Nil)
			require.NoError(t, err)
			require.Zero(t, seq)
		})

		t.Run("CommitOrderUnderConcurrency", func(t *testing.T) {
			t.Parallel()
			testEventCommitOrder(t, f, setup(t).store)
		})

		t.Run("WithoutLead", func(t *testing.T) {
			t.Parallel()
			b := setup(t)
			e := jack.NewEvent(jack.EventCallEnded, b.org.ID, "", "", f.now(), nil)
			MustInsertEvents(t, b.store, b.org.ID, e)
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
			MustInsertEvents(t, b.store, b.org.ID, events[3], events[1])
			MustInsertEvents(t, b.store, b.org.ID, events[4], events[0], events[2])

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
			MustInsertEvents(t, b.store, b.org.ID, events...)

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
			MustInsertEvents(t, b.store, b.org.ID, mine[0], theirs, mine[1])

			got, err := b.store.FindEvents(t.Context(), b.org.ID, jack.EventFilter{LeadID: b.lead.ID})
			require.NoError(t, err)
			require.Equal(t, eventIDs(mine), eventIDs(got))
		})

		t.Run("Limit", func(t *testing.T) {
			t.Parallel()
			b := setup(t)
			events := newEvents(b, 5, f.now())
			MustInsertEvents(t, b.store, b.org.ID, events...)
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
			MustInsertEvents(t, b.store, b.org.ID, newEvents(b, 2, f.now())...)
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
			MustInsertEvents(t, b.store, b.org.ID, append(old, recent...)...)

			otherOrg, _ := MustCreateOrganization(t, b.store)
			otherLead := MustCreateLead(t, b.store, otherOrg.ID, NewPhone())
			otherOld := jack.NewEvent(jack.EventSMSSent, otherOrg.ID, otherLead.ID, otherLead.PhoneNumberNormalized, now.Add(-31*24*time.Hour), nil)
			MustInsertEvents(t, b.store, otherOrg.ID, otherOld)

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

// testEventCommitOrder checks the promise replay rests on: each organization's events are
// numbered 1, 2, 3, … in commit order, even when many transactions of one organization commit
// at once (and some read a clock that stepped back). A reader polls FindEvents after the last
// Seq it saw, as a reconnecting dashboard does, while writers commit; it must see every event
// exactly once, in order.
func testEventCommitOrder(t *testing.T, f Features, store jack.Store) {
	const writers, txsPerWriter, eventsPerTx = 20, 10, 2
	ctx := t.Context()
	org, _ := MustCreateOrganization(t, store)
	lead := MustCreateLead(t, store, org.ID, NewPhone())
	if f.SetClock == nil {
		t.Log("Features.SetClock is nil: the transactions read the real clock")
	} else {
		var clockReads atomic.Int64
		f.SetClock(store, func() time.Time {
			// Every third transaction runs on a clock up to a week behind.
			if n := clockReads.Add(1); n%3 == 0 {
				return time.Now().Add(-time.Duration(n%7+1) * 24 * time.Hour)
			}
			return time.Now()
		})
	}

	stop := make(chan struct{})
	readerDone := make(chan error, 1)
	var seen []*jack.Event
	go func() { readerDone <- TailEvents(ctx, store, org.ID, func() int { return 7 }, stop, &seen) }()

	type written struct {
		events     []*jack.Event
		timestamps []time.Time
	}
	results := make(chan written, writers*txsPerWriter)
	errs := make(chan error, writers*txsPerWriter)
	var wg sync.WaitGroup
	for w := range writers {
		wg.Go(func() {
			for i := range txsPerWriter {
				var w2 written
				for k := range eventsPerTx {
					// Timestamps are unrelated to commit order; the store must keep them.
					ts := f.now().Add(-time.Duration(w*1000+i*10+k) * time.Second)
					w2.events = append(w2.events, jack.NewEvent(jack.EventSMSReceived, org.ID, lead.ID, lead.PhoneNumberNormalized, ts,
						map[string]int{"writer": w, "tx": i, "event": k}))
					w2.timestamps = append(w2.timestamps, ts)
				}
				err := store.InConversationTx(ctx, org.ID, func(tx jack.ConversationTx) error {
					return tx.InsertEvents(ctx, w2.events...)
				})
				if err != nil {
					errs <- fmt.Errorf("writer %d tx %d: %w", w, i, err)
					return
				}
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
		for k, e := range r.events {
			if k > 0 {
				require.Equal(t, r.events[k-1].Seq+1, e.Seq, "the events of one transaction are numbered in order")
			}
			timestampOf[e.ID] = r.timestamps[k]
		}
	}
	const total = writers * txsPerWriter * eventsPerTx
	require.Len(t, timestampOf, total, "ids are unique")

	all, err := store.FindEvents(ctx, org.ID, jack.EventFilter{Limit: total + 1})
	require.NoError(t, err)
	require.Len(t, all, total)
	for i, e := range all {
		require.Equal(t, int64(i+1), e.Seq, "numbered 1..n without a gap")
		ts, ok := timestampOf[e.ID]
		require.True(t, ok, "stored id %s is the one InsertEvents gave the caller", e.ID)
		requireTimeEqual(t, f, ts, e.Timestamp, "an event keeps its own timestamp")
	}
	require.Equal(t, eventIDs(all), eventIDs(seen), "a reader resuming after the last Seq it saw got every event once, in order")

	// A transaction begun after all of those commits, on a clock a year behind, still comes after.
	if f.SetClock != nil {
		f.SetClock(store, func() time.Time { return time.Now().AddDate(-1, 0, 0) })
	}
	late := jack.NewEvent(jack.EventLeadUpdated, org.ID, lead.ID, lead.PhoneNumberNormalized, time.Time{}, nil)
	require.NoError(t, store.InConversationTx(ctx, org.ID, func(tx jack.ConversationTx) error {
		return tx.InsertEvents(ctx, late)
	}))
	require.Equal(t, int64(total+1), late.Seq)
	got, err := store.FindEvents(ctx, org.ID, jack.EventFilter{After: all[total-1].ID})
	require.NoError(t, err)
	require.Equal(t, []uuid.UUID{late.ID}, eventIDs(got))
}

// TailEvents follows orgID's events in pages of pageSize() after the last Seq it saw, as a
// dashboard that reconnects does, appending each to seen, until stop is closed (then it reads
// until it finds nothing more). It fails on a gap or a repeat in the numbering.
func TailEvents(ctx context.Context, store jack.Store, orgID uuid.UUID, pageSize func() int, stop <-chan struct{}, seen *[]*jack.Event) error {
	var after int64
	drain := func() error {
		for {
			page, err := store.FindEvents(ctx, orgID, jack.EventFilter{AfterSeq: after, Limit: pageSize()})
			if err != nil || len(page) == 0 {
				return err
			}
			for _, e := range page {
				if e.Seq != after+1 {
					return fmt.Errorf("after event %d came event %d", after, e.Seq)
				}
				*seen = append(*seen, e)
				after = e.Seq
			}
		}
	}
	for {
		select {
		case <-stop:
			return drain()
		default:
			if err := drain(); err != nil {
				return err
			}
		}
	}
}

// eventSeqs returns the Seqs of events in order.
func eventSeqs(events []*jack.Event) []int64 {
	seqs := make([]int64, 0, len(events))
	for _, e := range events {
		seqs = append(seqs, e.Seq)
	}
	return seqs
}

// eventIDs returns the ids of events in order.
func eventIDs(events []*jack.Event) []uuid.UUID {
	ids := make([]uuid.UUID, 0, len(events))
	for _, e := range events {
		ids = append(ids, e.ID)
	}
	return ids
}
