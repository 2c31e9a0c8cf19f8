package storetest

// This file is the Broker conformance suite (RunBroker). It is self-contained: it uses only the
// jack.Broker interface and helpers declared here, whose names all start with "broker".

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/jack-auto/jack"
)

// BrokerFeatures declares what a Broker adapter promises where adapters may differ.
type BrokerFeatures struct {
	// CrossInstance: events published on one instance reach subscribers of another instance
	// made by the same newBroker (both on one backend, like two nodes on one Redis). The
	// in-process broker does not promise this.
	CrossInstance bool
	// Buffer is how many events a subscriber of the brokers newBroker makes may fall behind
	// before it is dropped. The slow-subscriber case publishes more than this; it must be at
	// least 500, the ordered-delivery batch. Defaults to 1024 (both adapters' default).
	Buffer int
}

// NewBrokerFunc returns an open Broker for one test (closed in t.Cleanup). When
// BrokerFeatures.CrossInstance is set, every broker it returns shares one backend.
type NewBrokerFunc = func(t *testing.T) jack.Broker

// brokerTimeout bounds every wait of the suite: a delivery, a channel closing, a Publish
// returning. It is generous because a real backend under -race on a busy machine is slow;
// a passing run never waits for it.
const brokerTimeout = 15 * time.Second

// RunBroker runs the conformance suite against the adapter newBroker makes. Every subtest
// calls t.Parallel() and uses fresh organization ids, so tests never hear each other.
func RunBroker(t *testing.T, f BrokerFeatures, newBroker func(t *testing.T) jack.Broker) {
	if f.Buffer <= 0 {
		f.Buffer = 1024
	}
	require.GreaterOrEqual(t, f.Buffer, 500, "RunBroker needs subscribers that may fall 500 events behind")
	for _, tc := range []struct {
		name string
		run  func(*testing.T, BrokerFeatures, NewBrokerFunc)
	}{
		{"OrderedDelivery", testBrokerOrderedDelivery},
		{"OtherOrganizationsSilent", testBrokerOtherOrganizationsSilent},
		{"SeveralSubscribers", testBrokerSeveralSubscribers},
		{"ContextCancel", testBrokerContextCancel},
		{"Resubscribe", testBrokerResubscribe},
		{"SubscriberChurn", testBrokerSubscriberChurn},
		{"Close", testBrokerClose},
		{"SlowSubscriberDropped", testBrokerSlowSubscriberDropped},
		{"NoListeners", testBrokerNoListeners},
		{"RoundTrip", testBrokerRoundTrip},
		{"CrossInstance", testBrokerCrossInstance},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tc.run(t, f, newBroker)
		})
	}
}

// A subscriber receives every event published on its organization, in publish order, while
// it reads concurrently with the publisher.
func testBrokerOrderedDelivery(t *testing.T, _ BrokerFeatures, newBroker NewBrokerFunc) {
	b := newBroker(t)
	orgID := uuid.New()
	ch := brokerSubscribe(t, t.Context(), b, orgID)

	want := brokerEvents(orgID, 500)
	errc := brokerPublishAsync(b, want)
	got := brokerReceive(t, ch, len(want))
	require.NoError(t, <-errc)
	brokerRequireSameIDs(t, want, got)
}

// Events of one organization never reach another organization's subscribers.
func testBrokerOtherOrganizationsSilent(t *testing.T, _ BrokerFeatures, newBroker NewBrokerFunc) {
	b := newBroker(t)
	orgA, orgB := uuid.New(), uuid.New()
	chA := brokerSubscribe(t, t.Context(), b, orgA)
	chB := brokerSubscribe(t, t.Context(), b, orgB)

	forA := brokerEvents(orgA, 20)
	brokerPublish(t, b, forA...)
	// The marker is published last: had any of A's events reached B, it would come first.
	marker := brokerEvents(orgB, 1)
	brokerPublish(t, b, marker...)

	brokerRequireSameIDs(t, forA, brokerReceive(t, chA, len(forA)))
	brokerRequireSameIDs(t, marker, brokerReceive(t, chB, 1))
	brokerRequireNothingPending(t, chA)
	brokerRequireNothingPending(t, chB)
}

// Every subscriber of an organization gets every event, in order.
func testBrokerSeveralSubscribers(t *testing.T, _ BrokerFeatures, newBroker NewBrokerFunc) {
	b := newBroker(t)
	orgID := uuid.New()
	chans := make([]<-chan *jack.Event, 4)
	for i := range chans {
		chans[i] = brokerSubscribe(t, t.Context(), b, orgID)
	}

	want := brokerEvents(orgID, 200)
	brokerPublish(t, b, want...)
	for i, ch := range chans {
		got := brokerReceive(t, ch, len(want))
		brokerRequireSameIDs(t, want, got, "subscriber %d", i)
	}
}

// Ending the subscription's ctx closes its channel and leaves other subscribers alone.
func testBrokerContextCancel(t *testing.T, _ BrokerFeatures, newBroker NewBrokerFunc) {
	b := newBroker(t)
	orgID := uuid.New()
	ctx, cancel := context.WithCancel(t.Context())
	cancelled := brokerSubscribe(t, ctx, b, orgID)
	other := brokerSubscribe(t, t.Context(), b, orgID)

	cancel()
	brokerRequireClosed(t, cancelled)

	want := brokerEvents(orgID, 3)
	brokerPublish(t, b, want...)
	brokerRequireSameIDs(t, want, brokerReceive(t, other, len(want)))

	t.Run("AlreadyCancelled", func(t *testing.T) {
		// Either refusing or returning a channel that closes is fine; a live channel is not.
		ctx, cancel := context.WithCancel(t.Context())
		cancel()
		ch, err := b.Subscribe(ctx, orgID)
		if err == nil {
			brokerRequireClosed(t, ch)
		}
	})
}

// An organization whose last subscriber left can be subscribed again, and the new
// subscriber hears what is published afterwards.
func testBrokerResubscribe(t *testing.T, _ BrokerFeatures, newBroker NewBrokerFunc) {
	b := newBroker(t)
	orgID := uuid.New()
	for i := range 5 {
		ctx, cancel := context.WithCancel(t.Context())
		ch := brokerSubscribe(t, ctx, b, orgID)
		want := brokerEvents(orgID, 2)
		brokerPublish(t, b, want...)
		brokerRequireSameIDs(t, want, brokerReceive(t, ch, len(want)), "round %d", i)
		cancel()
		brokerRequireClosed(t, ch)
	}
}

// Subscribers coming and going on an organization never disturb a steady subscriber.
func testBrokerSubscriberChurn(t *testing.T, _ BrokerFeatures, newBroker NewBrokerFunc) {
	b := newBroker(t)
	orgID := uuid.New()
	steady := brokerSubscribe(t, t.Context(), b, orgID)

	want := brokerEvents(orgID, 300)
	errc := brokerPublishAsync(b, want)
	var wg sync.WaitGroup
	churnErrs := make(chan error, 8)
	for range 8 {
		wg.Go(func() {
			for range 10 {
				ctx, cancel := context.WithCancel(t.Context())
				ch, err := b.Subscribe(ctx, orgID)
				cancel()
				if err != nil {
					churnErrs <- err
					return
				}
				if !brokerDrainUntilClosed(ch) {
					churnErrs <- fmt.Errorf("a cancelled subscription stayed open")
					return
				}
			}
		})
	}
	got := brokerReceive(t, steady, len(want))
	require.NoError(t, <-errc)
	wg.Wait()
	close(churnErrs)
	for err := range churnErrs {
		require.NoError(t, err)
	}
	brokerRequireSameIDs(t, want, got)
}

// Close closes every subscription; afterwards Publish and Subscribe fail with EUNAVAILABLE,
// and a second Close is harmless.
func testBrokerClose(t *testing.T, _ BrokerFeatures, newBroker NewBrokerFunc) {
	b := newBroker(t)
	orgA, orgB := uuid.New(), uuid.New()
	chans := []<-chan *jack.Event{
		brokerSubscribe(t, t.Context(), b, orgA),
		brokerSubscribe(t, t.Context(), b, orgA),
		brokerSubscribe(t, t.Context(), b, orgB),
	}

	require.NoError(t, b.Close())
	for _, ch := range chans {
		brokerRequireClosed(t, ch)
	}

	err := b.Publish(t.Context(), brokerEvents(orgA, 1)[0])
	require.Error(t, err)
	require.Equal(t, jack.EUNAVAILABLE, jack.ErrorCode(err), "Publish after Close: %v", err)
	_, err = b.Subscribe(t.Context(), orgA)
	require.Error(t, err)
	require.Equal(t, jack.EUNAVAILABLE, jack.ErrorCode(err), "Subscribe after Close: %v", err)
	require.NoError(t, b.Close(), "a second Close")
}

// A subscriber that never reads is dropped (its channel closed) instead of blocking Publish,
// and a subscriber that keeps up still gets everything.
func testBrokerSlowSubscriberDropped(t *testing.T, f BrokerFeatures, newBroker NewBrokerFunc) {
	b := newBroker(t)
	orgID := uuid.New()
	slow := brokerSubscribe(t, t.Context(), b, orgID)
	healthy := brokerSubscribe(t, t.Context(), b, orgID)

	// Published in batches, each received by the healthy subscriber before the next, so the
	// healthy one is never more than a batch behind however the scheduler runs the test.
	const batch = 50
	want := brokerEvents(orgID, f.Buffer+4*batch)
	var got []*jack.Event
	for start := 0; start < len(want); start += batch {
		events := want[start:min(start+batch, len(want))]
		select {
		case err := <-brokerPublishAsync(b, events):
			require.NoError(t, err)
		case <-time.After(brokerTimeout):
			t.Fatalf("Publish blocked for %s with a subscriber that does not read", brokerTimeout)
		}
		got = append(got, brokerReceive(t, healthy, len(events))...)
	}
	brokerRequireSameIDs(t, want, got)

	// The slow subscriber holds at most Buffer events, then its channel is closed.
	var held int
	deadline := time.After(brokerTimeout)
	for {
		select {
		case _, ok := <-slow:
			if !ok {
				require.LessOrEqual(t, held, f.Buffer)
				return
			}
			held++
		case <-deadline:
			t.Fatalf("the slow subscriber was not dropped after %d events (held %d)", len(want), held)
		}
	}
}

// Publishing to an organization nobody listens to, or no longer listens to, is fine.
func testBrokerNoListeners(t *testing.T, _ BrokerFeatures, newBroker NewBrokerFunc) {
	b := newBroker(t)
	brokerPublish(t, b, brokerEvents(uuid.New(), 3)...)

	orgID := uuid.New()
	ctx, cancel := context.WithCancel(t.Context())
	ch := brokerSubscribe(t, ctx, b, orgID)
	cancel()
	brokerRequireClosed(t, ch)
	brokerPublish(t, b, brokerEvents(orgID, 3)...)
}

// Every field of an event survives the trip, for every event type.
func testBrokerRoundTrip(t *testing.T, _ BrokerFeatures, newBroker NewBrokerFunc) {
	b := newBroker(t)
	orgID := uuid.New()
	ch := brokerSubscribe(t, t.Context(), b, orgID)

	ts := time.Date(2025, 3, 9, 14, 30, 15, 123456789, time.UTC)
	data := json.RawMessage(`{"id":"m1","content":"Hi \"there\" ✓","nested":{"n":[1,2.5,null,true]}}`)
	var want []*jack.Event
	for i, typ := range []string{jack.EventSMSReceived, jack.EventSMSSent, jack.EventSMSStatus,
		jack.EventCallStarted, jack.EventCallEnded, jack.EventLeadUpdated} {
		e := jack.NewEvent(typ, orgID, uuid.NewString(), "+16045550123", ts.Add(time.Duration(i)*time.Second), nil)
		e.Message = "Line one\nline two: émoji 🚗 <b>&amp;</b>"
		e.ProviderMessageID = "SM" + uuid.New().String()[:32]
		e.Data = data
		want = append(want, e)
	}
	// Optional fields left empty stay empty.
	want = append(want, &jack.Event{ID: uuid.Must(uuid.NewV7()), Type: jack.EventLeadUpdated, OrganizationID: orgID, Timestamp: ts})

	brokerPublish(t, b, want...)
	got := brokerReceive(t, ch, len(want))
	for i := range want {
		w, g := want[i], got[i]
		require.Equal(t, w.ID, g.ID)
		require.Equal(t, w.Type, g.Type)
		require.Equal(t, w.OrganizationID, g.OrganizationID)
		require.Equal(t, w.LeadID, g.LeadID)
		require.Equal(t, w.PhoneNumber, g.PhoneNumber)
		require.Equal(t, w.Message, g.Message)
		require.Equal(t, w.ProviderMessageID, g.ProviderMessageID)
		require.True(t, w.Timestamp.Equal(g.Timestamp), "timestamp %s, want %s", g.Timestamp, w.Timestamp)
		if w.Data == nil {
			require.Empty(t, g.Data)
		} else {
			require.JSONEq(t, string(w.Data), string(g.Data))
		}
	}
}

// Events published on one instance reach subscribers of another instance, in order, both ways.
func testBrokerCrossInstance(t *testing.T, f BrokerFeatures, newBroker NewBrokerFunc) {
	if !f.CrossInstance {
		t.Skip("the adapter's instances do not share events (BrokerFeatures.CrossInstance is false)")
	}
	a, b := newBroker(t), newBroker(t)
	orgID := uuid.New()
	onA := brokerSubscribe(t, t.Context(), a, orgID)
	onB := brokerSubscribe(t, t.Context(), b, orgID)

	fromA := brokerEvents(orgID, 100)
	brokerPublish(t, a, fromA...)
	brokerRequireSameIDs(t, fromA, brokerReceive(t, onB, len(fromA)), "A to B")
	brokerRequireSameIDs(t, fromA, brokerReceive(t, onA, len(fromA)), "A to A")

	fromB := brokerEvents(orgID, 100)
	brokerPublish(t, b, fromB...)
	brokerRequireSameIDs(t, fromB, brokerReceive(t, onA, len(fromB)), "B to A")
	brokerRequireSameIDs(t, fromB, brokerReceive(t, onB, len(fromB)), "B to B")
}

// brokerEvents returns n events of orgID with increasing ids and timestamps.
func brokerEvents(orgID uuid.UUID, n int) []*jack.Event {
	now := time.Now().UTC()
	events := make([]*jack.Event, n)
	for i := range events {
		events[i] = jack.NewEvent(jack.EventSMSReceived, orgID, "", "", now.Add(time.Duration(i)*time.Millisecond),
			map[string]int{"seq": i})
	}
	return events
}

func brokerSubscribe(tb testing.TB, ctx context.Context, b jack.Broker, orgID uuid.UUID) <-chan *jack.Event {
	tb.Helper()
	ch, err := b.Subscribe(ctx, orgID)
	require.NoError(tb, err)
	return ch
}

func brokerPublish(tb testing.TB, b jack.Broker, events ...*jack.Event) {
	tb.Helper()
	for _, e := range events {
		require.NoError(tb, b.Publish(tb.Context(), e))
	}
}

// brokerPublishAsync publishes events in order on another goroutine and reports the first
// error (or nil) on the returned channel.
func brokerPublishAsync(b jack.Broker, events []*jack.Event) <-chan error {
	errc := make(chan error, 1)
	go func() {
		for _, e := range events {
			if err := b.Publish(context.Background(), e); err != nil {
				errc <- err
				return
			}
		}
		errc <- nil
	}()
	return errc
}

// brokerReceive returns the next n events of ch, failing if ch closes or stays silent for
// brokerTimeout first.
func brokerReceive(tb testing.TB, ch <-chan *jack.Event, n int) []*jack.Event {
	tb.Helper()
	events := make([]*jack.Event, 0, n)
	timer := time.NewTimer(brokerTimeout)
	defer timer.Stop()
	for len(events) < n {
		select {
		case e, ok := <-ch:
			require.True(tb, ok, "channel closed after %d of %d events", len(events), n)
			events = append(events, e)
			timer.Reset(brokerTimeout)
		case <-timer.C:
			tb.Fatalf("received %d of %d events in %s", len(events), n, brokerTimeout)
		}
	}
	return events
}

// brokerRequireClosed drains ch and fails unless it closes within brokerTimeout.
func brokerRequireClosed(tb testing.TB, ch <-chan *jack.Event) {
	tb.Helper()
	require.True(tb, brokerDrainUntilClosed(ch), "channel still open after %s", brokerTimeout)
}

func brokerDrainUntilClosed(ch <-chan *jack.Event) bool {
	deadline := time.After(brokerTimeout)
	for {
		select {
		case _, ok := <-ch:
			if !ok {
				return true
			}
		case <-deadline:
			return false
		}
	}
}

// brokerRequireNothingPending fails if an event is waiting on ch. Callers first receive an
// event published after anything that could be pending, so nothing is still in flight.
func brokerRequireNothingPending(tb testing.TB, ch <-chan *jack.Event) {
	tb.Helper()
	select {
	case e, ok := <-ch:
		if ok {
			tb.Fatalf("unexpected event %s of organization %s", e.ID, e.OrganizationID)
		}
	default:
	}
}

func brokerRequireSameIDs(tb testing.TB, want, got []*jack.Event, msgAndArgs ...any) {
	tb.Helper()
	ids := func(events []*jack.Event) []uuid.UUID {
		out := make([]uuid.UUID, len(events))
		for i, e := range events {
			out[i] = e.ID
		}
		return out
	}
	require.Equal(tb, ids(want), ids(got), msgAndArgs...)
}
