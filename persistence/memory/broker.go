// Package memory is the in-process Broker of the embedded default: events published by this
// process's grains reach this process's subscribers, and nothing else.
package memory

import (
	"context"
	"sync"

	"github.com/google/uuid"

	"github.com/jack-auto/jack"
)

// DefaultBuffer is how many events a subscriber may fall behind before it is dropped.
const DefaultBuffer = 1024

// Broker fans events out to subscribers of the same organization, in publish order. A
// subscriber whose buffer is full is dropped (its channel closed) rather than slowing Publish;
// it resumes from the Store with Last-Event-ID.
type Broker struct {
	// Buffer is each subscription's channel size. Defaults to DefaultBuffer.
	Buffer int

	mu     sync.Mutex
	subs   map[uuid.UUID]map[*subscription]struct{}
	closed bool
}

var _ jack.Broker = (*Broker)(nil)

type subscription struct {
	ch   chan *jack.Event
	once sync.Once
	stop func() bool // unregisters the ctx callback; set under Broker.mu once registered
}

// close closes the channel once and forgets the ctx callback, so a subscription dropped or
// closed before its ctx ends leaves nothing behind.
func (s *subscription) close() {
	s.once.Do(func() {
		close(s.ch)
		if s.stop != nil {
			s.stop()
		}
	})
}

// NewBroker returns an open broker.
func NewBroker() *Broker {
	return &Broker{subs: map[uuid.UUID]map[*subscription]struct{}{}}
}

// Publish delivers e to every current subscriber of e.OrganizationID without blocking.
func (b *Broker) Publish(ctx context.Context, e *jack.Event) error {
	if e == nil {
		return jack.Errorf(jack.EINVALID, "No event to publish.")
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return jack.Errorf(jack.EUNAVAILABLE, "The event broker is closed.")
	}
	for s := range b.subs[e.OrganizationID] {
		select {
		case s.ch <- e:
		default:
			b.removeLocked(e.OrganizationID, s)
		}
	}
	return nil
}

// Subscribe returns orgID's events until ctx ends, the subscriber falls too far behind, or the
// broker closes.
func (b *Broker) Subscribe(ctx context.Context, orgID uuid.UUID) (<-chan *jack.Event, error) {
	size := b.Buffer
	if size <= 0 {
		size = DefaultBuffer
	}
	s := &subscription{ch: make(chan *jack.Event, size)}
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		return nil, jack.Errorf(jack.EUNAVAILABLE, "The event broker is closed.")
	}
	if b.subs[orgID] == nil {
		b.subs[orgID] = map[*subscription]struct{}{}
	}
	b.subs[orgID][s] = struct{}{}
	b.mu.Unlock()

	// AfterFunc rather than a goroutine per subscription: nothing waits on a ctx that never
	// ends once the subscription is gone.
	stop := context.AfterFunc(ctx, func() {
		b.mu.Lock()
		b.removeLocked(orgID, s)
		b.mu.Unlock()
	})
	b.mu.Lock()
	if _, ok := b.subs[orgID][s]; ok {
		s.stop = stop
	} else {
		stop() // already dropped or closed
	}
	b.mu.Unlock()
	return s.ch, nil
}

func (b *Broker) removeLocked(orgID uuid.UUID, s *subscription) {
	if set := b.subs[orgID]; set != nil {
		delete(set, s)
		if len(set) == 0 {
			delete(b.subs, orgID)
		}
	}
	s.close()
}

// Close closes every subscription; later calls do nothing.
func (b *Broker) Close() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return nil
	}
	b.closed = true
	for org, set := range b.subs {
		for s := range set {
			s.close()
		}
		delete(b.subs, org)
	}
	return nil
}
