package http_test

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/jack-auto/jack"
	jackhttp "github.com/jack-auto/jack/http"
)

// readCountingStore counts the event reads a node makes.
type readCountingStore struct {
	jack.Store
	finds atomic.Int64
}

func (s *readCountingStore) FindEvents(ctx context.Context, orgID uuid.UUID, f jack.EventFilter) ([]*jack.Event, error) {
	s.finds.Add(1)
	return s.Store.FindEvents(ctx, orgID, f)
}

// TestFeed_FromTheBroker: a live stream gets committed events from the broker message that
// carries them; the Store is read only to fill a gap. Events published out of order wait for
// the ones before them, and one never published (its node died after the commit) is read from
// the Store, so the stream is exactly the Store's order.
func TestFeed_FromTheBroker(t *testing.T) {
	t.Parallel()
	store := &readCountingStore{Store: openSQLite(t)}
	// A long poll: only the broker and the gap timer make the feed look at the Store.
	s := MustOpenServer(t, store, func(cfg *jackhttp.Config) { cfg.StreamPoll = time.Hour })
	token, _, org := MustRegister(t, s.URL)
	lead := MustCreateLead(t, s.URL, token, "Bea Broker", testPhone(7))
	st := MustOpenStream(t, s.URL, request{Path: "/api/stream", Token: token})

	events := MustInsertEvents(t, store, org.ID, lead.ID, 6) // committed, numbered 1..6
	reads := store.finds.Load()

	for _, e := range events[:2] { // in order: delivered straight from the broker
		MustPublish(t, s.Broker, e)
	}
	st.RequireEvents(t, events[0].ID, events[1].ID)
	require.Equal(t, reads, store.finds.Load(), "no Store read for events that arrive in order")

	MustPublish(t, s.Broker, events[3]) // ahead of 3: waits
	MustPublish(t, s.Broker, events[2]) // 3 arrives late: 3 and 4 go out, in order
	st.RequireEvents(t, events[2].ID, events[3].ID)
	require.Equal(t, reads, store.finds.Load(), "a reordering that closes by itself needs no Store read")

	MustPublish(t, s.Broker, events[5]) // 5 is never published: after the gap wait it is read
	st.RequireEvents(t, events[4].ID, events[5].ID)
	require.Greater(t, store.finds.Load(), reads, "the gap was filled from the Store")
}
