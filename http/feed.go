package http

import (
	"bytes"
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/jack-auto/jack"
)

// feedPageSize is how many events one catch-up query of a feed reads.
const feedPageSize = 500

// feeds are this node's live views of organizations' events, one per organization with open
// streams. A feed tails the organization's events in the Store in id order. The Store assigns
// ids in commit order per organization, so tailing "after the last id" misses nothing and
// repeats nothing: not an event whose node died between its commit and its publish, nor one
// published out of order by another node. The broker's messages only wake a feed up; a feed
// also looks every poll interval, in case a message was lost.
type feeds struct {
	store  jack.Store
	broker jack.Broker
	poll   time.Duration
	log    *slog.Logger
	ctx    context.Context // ends when the server closes

	mu    sync.Mutex
	byOrg map[uuid.UUID]*feed
}

func newFeeds(ctx context.Context, store jack.Store, broker jack.Broker, poll time.Duration, log *slog.Logger) *feeds {
	return &feeds{store: store, broker: broker, poll: poll, log: log, ctx: ctx, byOrg: map[uuid.UUID]*feed{}}
}

// feed is one organization's live view.
type feed struct {
	fs     *feeds
	orgID  uuid.UUID
	cancel context.CancelFunc
	ready  chan struct{} // closed once last is known (or err is set)
	err    error

	mu      sync.Mutex
	last    uuid.UUID // the greatest id delivered to the streams
	streams map[*stream]struct{}
}

// join adds st to orgID's feed, starting the feed when st is its first stream, and returns the
// id the stream goes live after: events up to it must come from a replay, every later one is
// offered to the stream in id order.
func (fs *feeds) join(ctx context.Context, orgID uuid.UUID, st *stream) (uuid.UUID, error) {
	fs.mu.Lock()
	fd := fs.byOrg[orgID]
	if fd == nil {
		fctx, cancel := context.WithCancel(fs.ctx)
		fd = &feed{fs: fs, orgID: orgID, cancel: cancel, ready: make(chan struct{}), streams: map[*stream]struct{}{}}
		fs.byOrg[orgID] = fd
		go fd.start(fctx)
	}
	fd.mu.Lock() // the feed's goroutine reads the set under fd.mu
	fd.streams[st] = struct{}{}
	fd.mu.Unlock()
	fs.mu.Unlock() // held until now, so an empty feed is never stopped while a stream joins

	select {
	case <-fd.ready:
	case <-ctx.Done():
		fs.leave(orgID, st)
		return uuid.Nil, ctx.Err()
	}
	if fd.err != nil {
		fs.leave(orgID, st)
		return uuid.Nil, fd.err
	}
	fd.mu.Lock()
	defer fd.mu.Unlock()
	return fd.last, nil
}

// leave removes st from its feed and stops the feed with its last stream.
func (fs *feeds) leave(orgID uuid.UUID, st *stream) {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	fd := fs.byOrg[orgID]
	if fd == nil {
		return
	}
	fd.mu.Lock()
	delete(fd.streams, st)
	empty := len(fd.streams) == 0
	fd.mu.Unlock()
	if empty {
		delete(fs.byOrg, orgID)
		fd.cancel()
	}
}

// start learns where the organization's events end, then follows them.
func (fd *feed) start(ctx context.Context) {
	last, err := fd.fs.store.LastEventID(ctx, fd.orgID)
	fd.mu.Lock()
	fd.last, fd.err = last, err
	fd.mu.Unlock()
	close(fd.ready)
	if err != nil {
		fd.fs.log.Warn("event feed could not start", "org_id", fd.orgID, "err", err)
		fd.fs.mu.Lock()
		if fd.fs.byOrg[fd.orgID] == fd {
			delete(fd.fs.byOrg, fd.orgID)
		}
		fd.fs.mu.Unlock()
		return
	}
	fd.run(ctx)
}

// run catches up whenever the broker says something happened, and every poll interval.
func (fd *feed) run(ctx context.Context) {
	var wake <-chan *jack.Event
	subscribe := func() {
		sub, err := fd.fs.broker.Subscribe(ctx, fd.orgID)
		if err != nil {
			if ctx.Err() == nil {
				fd.fs.log.Warn("event feed: subscribe failed; polling until it works", "org_id", fd.orgID, "err", err)
			}
			return
		}
		wake = sub
	}
	subscribe()
	fd.catchUp(ctx) // events committed between LastEventID and the subscription
	tick := time.NewTicker(fd.fs.poll)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case _, ok := <-wake:
			if !ok { // the broker ended the subscription (a Redis reconnect): subscribe again
				wake = nil
				subscribe()
			}
			drain(wake)
		case <-tick.C:
			if wake == nil {
				subscribe()
			}
		}
		fd.catchUp(ctx)
	}
}

// drain empties ch without blocking: one catch-up covers every wake-up already queued.
func drain(ch <-chan *jack.Event) {
	for {
		select {
		case _, ok := <-ch:
			if !ok {
				return
			}
		default:
			return
		}
	}
}

// catchUp reads the events after the last delivered one and offers them to the streams.
func (fd *feed) catchUp(ctx context.Context) {
	for ctx.Err() == nil {
		fd.mu.Lock()
		after := fd.last
		fd.mu.Unlock()
		page, err := fd.fs.store.FindEvents(ctx, fd.orgID, jack.EventFilter{After: after, Limit: feedPageSize})
		if err != nil {
			if ctx.Err() == nil {
				fd.fs.log.Warn("event feed: read failed; retrying at the next poll", "org_id", fd.orgID, "err", err)
			}
			return
		}
		for _, e := range page {
			f, err := encodeEvent(e)
			if err != nil { // cannot happen for a stored event; skip it rather than stall the feed
				fd.fs.log.Warn("event feed: skipped an event that does not encode", "event_id", e.ID, "err", err)
			}
			fd.mu.Lock()
			fd.last = e.ID
			streams := make([]*stream, 0, len(fd.streams))
			for st := range fd.streams {
				streams = append(streams, st)
			}
			fd.mu.Unlock()
			if f != nil {
				for _, st := range streams {
					st.offer(f)
				}
			}
		}
		if len(page) < feedPageSize {
			return
		}
	}
}

// idAfter reports whether event id a sorts after b (ids are ordered as their 16 bytes).
func idAfter(a, b uuid.UUID) bool { return bytes.Compare(a[:], b[:]) > 0 }
