package http

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/jack-auto/jack"
)

// feedPageSize is how many events one catch-up query of a feed reads.
const feedPageSize = 500

// gapWait is how long a feed waits for a missing event to arrive from the broker (it may have
// been published by a slower node) before it reads it from the Store.
const gapWait = 50 * time.Millisecond

// maxPending bounds the events a feed holds while it waits for a gap to close.
const maxPending = 10000

// feeds are this node's live views of organizations' events, one per organization with open
// streams. An organization's events are numbered 1, 2, 3, … in commit order without gaps
// (jack.EventStore), so a feed delivers what the broker brings as long as each event's Seq is
// the one after the last it delivered, and knows a gap when it sees one: an event published
// out of order by another node waits in pending for the events before it, and a gap that does
// not close within gapWait (a publish lost with its node, a dropped Redis message) is filled
// from the Store. The Store is otherwise read only to start, to resume after the broker dropped
// the subscription, and once per poll interval to learn the last Seq (in case the last message
// of a burst was lost). So a stream misses nothing, repeats nothing and never reorders.
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
	last    int64 // the Seq of the last event delivered to the streams
	streams map[*stream]struct{}

	pending map[int64]*jack.Event // arrived ahead of a gap; only the feed's goroutine uses it
}

// join adds st to orgID's feed, starting the feed when st is its first stream, and returns the
// Seq the stream goes live after: events up to it must come from a replay, every later one is
// offered to the stream in Seq order.
func (fs *feeds) join(ctx context.Context, orgID uuid.UUID, st *stream) (int64, error) {
	fs.mu.Lock()
	fd := fs.byOrg[orgID]
	if fd == nil {
		fctx, cancel := context.WithCancel(fs.ctx)
		fd = &feed{fs: fs, orgID: orgID, cancel: cancel, ready: make(chan struct{}), streams: map[*stream]struct{}{},
			pending: map[int64]*jack.Event{}}
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
		return 0, ctx.Err()
	}
	if fd.err != nil {
		fs.leave(orgID, st)
		return 0, fd.err
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
	last, err := fd.fs.store.LastEventSeq(ctx, fd.orgID)
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

// run delivers what the broker brings, fills gaps from the Store, and looks at the Store's
// last Seq every poll interval.
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
	fd.catchUp(ctx) // events committed between LastEventSeq and the subscription
	tick := time.NewTicker(fd.fs.poll)
	defer tick.Stop()
	gap := time.NewTimer(gapWait)
	gap.Stop()
	gapArmed := false
	for {
		behind := false
		select {
		case <-ctx.Done():
			return
		case e, ok := <-wake:
			if !ok { // the broker ended the subscription (a Redis reconnect): events may be lost
				wake = nil
				subscribe()
				fd.catchUp(ctx)
				break
			}
			behind = fd.accept(ctx, e)
			for more := true; more; { // take what else is queued before looking at gaps
				select {
				case e, ok := <-wake:
					if !ok {
						more = false
						break
					}
					behind = fd.accept(ctx, e)
				default:
					more = false
				}
			}
		case <-gap.C:
			gapArmed = false
			fd.catchUp(ctx)
		case <-tick.C:
			if wake == nil {
				subscribe()
			}
			if last, err := fd.fs.store.LastEventSeq(ctx, fd.orgID); err == nil && last > fd.lastSeq() {
				fd.catchUp(ctx)
			}
		}
		switch {
		case len(fd.pending) == 0 && !behind:
			if gapArmed {
				gap.Stop()
				gapArmed = false
			}
		case !gapArmed:
			gap.Reset(gapWait)
			gapArmed = true
		}
	}
}

func (fd *feed) lastSeq() int64 {
	fd.mu.Lock()
	defer fd.mu.Unlock()
	return fd.last
}

// accept takes one event from the broker: the next one is delivered (with whatever was
// pending behind it), an old one is dropped, a later one waits for the gap before it. It
// reports whether the feed is behind the Store: an event without a Seq (from a node that does
// not number events yet) only says that something happened.
func (fd *feed) accept(ctx context.Context, e *jack.Event) bool {
	if e == nil || e.Seq == 0 {
		return true
	}
	last := fd.lastSeq()
	switch {
	case e.Seq <= last:
		return false
	case e.Seq > last+1:
		if len(fd.pending) >= maxPending { // far behind: the Store has it all
			clear(fd.pending)
			fd.catchUp(ctx)
			return false
		}
		fd.pending[e.Seq] = e
		return true
	}
	fd.deliver(e)
	fd.deliverPending()
	return false
}

// deliverPending delivers the pending events that follow the last delivered one, and drops
// those that are behind it.
func (fd *feed) deliverPending() {
	last := fd.lastSeq()
	for seq := range fd.pending {
		if seq <= last {
			delete(fd.pending, seq)
		}
	}
	for {
		e, ok := fd.pending[last+1]
		if !ok {
			return
		}
		delete(fd.pending, last+1)
		fd.deliver(e)
		last = e.Seq
	}
}

// deliver encodes e once and offers it to every stream of the feed.
func (fd *feed) deliver(e *jack.Event) {
	f, err := encodeEvent(e)
	if err != nil { // cannot happen for a stored event; skip it rather than stall the feed
		fd.fs.log.Warn("event feed: skipped an event that does not encode", "event_id", e.ID, "err", err)
	}
	fd.mu.Lock()
	fd.last = e.Seq
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

// catchUp reads the events after the last delivered one from the Store and delivers them, then
// what was pending behind them.
func (fd *feed) catchUp(ctx context.Context) {
	for ctx.Err() == nil {
		page, err := fd.fs.store.FindEvents(ctx, fd.orgID, jack.EventFilter{AfterSeq: fd.lastSeq(), Limit: feedPageSize})
		if err != nil {
			if ctx.Err() == nil {
				fd.fs.log.Warn("event feed: read failed; retrying at the next poll", "org_id", fd.orgID, "err", err)
			}
			return
		}
		for _, e := range page {
			fd.deliver(e)
		}
		if len(page) < feedPageSize {
			break
		}
	}
	fd.deliverPending()
}
