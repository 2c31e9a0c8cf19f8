// Package redis is the Broker of a multi-node deployment: nodes publish events to Redis pub/sub
// on channel org:<organization id>, and each node subscribes once per organization its own
// dashboards watch and fans events out to them locally.
package redis

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"
	goredis "github.com/redis/go-redis/v9"

	"github.com/jack-auto/jack"
)

// DefaultBuffer is how many events a local subscriber may fall behind before it is dropped.
const DefaultBuffer = 1024

const (
	// channelPrefix + organization id is an organization's channel. Pub/sub channels are
	// global to the server: the database number of the URL does not separate them.
	channelPrefix = "org:"
	// subscribeTimeout bounds how long Subscribe waits for Redis to confirm a new channel.
	subscribeTimeout = 10 * time.Second
	// commandTimeout bounds each SUBSCRIBE or UNSUBSCRIBE the broker sends in the background.
	commandTimeout = 5 * time.Second
)

// Broker carries events between nodes over Redis pub/sub. Publish is a PUBLISH and never
// waits for local subscribers. The node holds one pub/sub connection, subscribed to the
// channels of the organizations that have local subscribers (SUBSCRIBE on the first,
// UNSUBSCRIBE after the last), and fans each event out to them without blocking: a
// subscriber whose buffer is full is dropped (its channel closed).
//
// Reconnection: go-redis re-dials a lost pub/sub connection and subscribes again to every
// channel. Events published while the connection was down never arrive, so when Redis
// confirms a channel that was already live (which only happens after such a reconnect), the
// broker drops every local subscriber of it. Their channels close, dashboards reconnect and
// replay what they missed from the Store with Last-Event-ID: an outage costs a reconnect,
// never a silently missing event. Subscribers that wait out an outage stay open until the
// connection is back, and Subscribe fails with EUNAVAILABLE while Redis cannot be reached.
type Broker struct {
	// Buffer is each local subscription's channel size. Defaults to DefaultBuffer.
	Buffer int

	client *goredis.Client
	pubsub *goredis.PubSub
	log    *slog.Logger

	// ctx ends at Close, cancelling background SUBSCRIBE/UNSUBSCRIBE calls.
	ctx    context.Context
	cancel context.CancelFunc
	kick   chan struct{} // wakes reconcile; capacity 1
	wg     sync.WaitGroup

	mu     sync.Mutex
	orgs   map[uuid.UUID]*orgChannel
	dirty  map[uuid.UUID]struct{} // organizations whose Redis subscription may need a change
	closed bool
}

var _ jack.Broker = (*Broker)(nil)

// orgChannel is one organization's state on this node, guarded by Broker.mu.
type orgChannel struct {
	subs map[*subscription]struct{}
	// subscribed: the broker sent SUBSCRIBE and has not sent UNSUBSCRIBE since.
	subscribed bool
	// live: Redis confirmed the subscription, so a subscriber added now hears every later event.
	live bool
	// ready is what Subscribe waits on while the channel is not live (nil while live).
	ready *readiness
}

// readiness is resolved once: closed with a nil err when the channel goes live, or with the
// reason it could not.
type readiness struct {
	done chan struct{}
	err  error
}

func newReadiness() *readiness { return &readiness{done: make(chan struct{})} }

func (r *readiness) resolve(err error) {
	r.err = err
	close(r.done)
}

type subscription struct {
	ch      chan *jack.Event
	stop    func() bool // unregisters the ctx callback
	removed bool
}

// Open connects to the Redis at url (redis:// or rediss://) and checks that it answers.
// Returns an EUNAVAILABLE error when it does not. log may be nil.
func Open(ctx context.Context, url string, log *slog.Logger) (*Broker, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	opt, err := goredis.ParseURL(url)
	if err != nil {
		return nil, fmt.Errorf("redis: invalid url: %w", redactURLError(err))
	}
	client := goredis.NewClient(opt)
	if err := client.Ping(ctx).Err(); err != nil {
		_ = client.Close()
		return nil, fmt.Errorf("redis: ping %s: %w", opt.Addr, unavailable(err))
	}

	b := &Broker{
		client: client,
		log:    log,
		kick:   make(chan struct{}, 1),
		orgs:   map[uuid.UUID]*orgChannel{},
		dirty:  map[uuid.UUID]struct{}{},
	}
	b.ctx, b.cancel = context.WithCancel(context.Background())
	b.pubsub = client.Subscribe(b.ctx) // no channel yet: SUBSCRIBE waits for the first subscriber
	// WithSubscriptions: the confirmations are how the broker learns a channel is live, and
	// that a reconnect happened. go-redis pings an idle connection to notice it is gone.
	msgs := b.pubsub.ChannelWithSubscriptions(goredis.WithChannelSize(DefaultBuffer))
	b.wg.Add(2)
	go b.receive(msgs)
	go b.reconcile()
	return b, nil
}

// Ping checks that Redis answers, for readiness probes.
func (b *Broker) Ping(ctx context.Context) error {
	if err := b.client.Ping(ctx).Err(); err != nil {
		return fmt.Errorf("redis: ping: %w", unavailable(err))
	}
	return nil
}

// Publish sends e to the subscribers of e.OrganizationID on every node. Returns EUNAVAILABLE
// when the broker is closed or Redis cannot be reached.
func (b *Broker) Publish(ctx context.Context, e *jack.Event) error {
	if e == nil {
		return jack.Errorf(jack.EINVALID, "No event to publish.")
	}
	b.mu.Lock()
	closed := b.closed
	b.mu.Unlock()
	if closed {
		return errClosed()
	}
	payload, err := json.Marshal(e)
	if err != nil {
		return fmt.Errorf("redis: encode event %s: %w", e.ID, err)
	}
	if err := b.client.Publish(ctx, channelName(e.OrganizationID), payload).Err(); err != nil {
		if ctxErr := ctx.Err(); ctxErr != nil {
			return fmt.Errorf("redis: publish event %s: %w", e.ID, ctxErr)
		}
		return fmt.Errorf("redis: publish event %s: %w", e.ID, unavailable(err))
	}
	return nil
}

// Subscribe returns orgID's events until ctx ends, the subscriber falls too far behind, the
// pub/sub connection is re-established, or the broker closes. It returns once Redis has
// confirmed the organization's channel, so every event published afterwards is delivered.
// Returns EUNAVAILABLE when the broker is closed or Redis does not confirm in time.
func (b *Broker) Subscribe(ctx context.Context, orgID uuid.UUID) (<-chan *jack.Event, error) {
	size := b.Buffer
	if size <= 0 {
		size = DefaultBuffer
	}
	s := &subscription{ch: make(chan *jack.Event, size)}

	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		return nil, errClosed()
	}
	c := b.orgs[orgID]
	if c == nil {
		c = &orgChannel{subs: map[*subscription]struct{}{}, ready: newReadiness()}
		b.orgs[orgID] = c
	}
	c.subs[s] = struct{}{}
	ready := c.ready
	if !c.live {
		b.markDirtyLocked(orgID)
	}
	b.mu.Unlock()

	if ready != nil {
		if err := b.await(ctx, ready); err != nil {
			b.remove(orgID, s)
			return nil, err
		}
	}

	stop := context.AfterFunc(ctx, func() { b.remove(orgID, s) })
	b.mu.Lock()
	if s.removed {
		stop()
	} else {
		s.stop = stop
	}
	b.mu.Unlock()
	return s.ch, nil
}

// await waits until the channel r belongs to is live.
func (b *Broker) await(ctx context.Context, r *readiness) error {
	wctx, cancel := context.WithTimeout(ctx, subscribeTimeout)
	defer cancel()
	select {
	case <-r.done:
		return r.err
	case <-wctx.Done():
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("redis: subscribe: %w", err)
		}
		return fmt.Errorf("redis: subscribe: %w", unavailable(errors.New("no confirmation from redis")))
	}
}

// Close closes every subscription and the connections; later calls do nothing.
func (b *Broker) Close() error {
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		return nil
	}
	b.closed = true
	for orgID, c := range b.orgs {
		b.dropAllLocked(orgID, c)
		if c.ready != nil {
			c.ready.resolve(errClosed())
			c.ready = nil
		}
	}
	clear(b.orgs)
	b.mu.Unlock()

	b.cancel()
	if err := b.pubsub.Close(); err != nil {
		// The connection may already be gone; nothing is left to release.
		b.log.Debug("redis broker: close pubsub", "err", err)
	}
	b.wg.Wait()
	if err := b.client.Close(); err != nil {
		return fmt.Errorf("redis: close: %w", err)
	}
	return nil
}

// receive fans out what the pub/sub connection delivers, until the PubSub closes.
func (b *Broker) receive(msgs <-chan any) {
	defer b.wg.Done()
	for m := range msgs {
		switch m := m.(type) {
		case *goredis.Subscription:
			if m.Kind == "subscribe" {
				b.confirmed(m.Channel)
			}
		case *goredis.Message:
			b.deliver(m)
		}
	}
}

// confirmed handles Redis's confirmation of a SUBSCRIBE to channel: the first one makes the
// channel live; one for a channel that is already live means go-redis reconnected and
// subscribed again, so local subscribers may have missed events and are dropped.
func (b *Broker) confirmed(channel string) {
	orgID, ok := parseChannel(channel)
	if !ok {
		return
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	c := b.orgs[orgID]
	if c == nil || !c.subscribed {
		return // a late answer to a SUBSCRIBE since undone
	}
	if !c.live {
		c.live = true
		c.ready.resolve(nil)
		c.ready = nil
		return
	}
	if n := b.dropAllLocked(orgID, c); n > 0 {
		b.log.Info("redis broker: resubscribed after a reconnect, dropped local subscribers to replay from the store",
			"org_id", orgID, "subscribers", n)
	}
}

// deliver hands m to the local subscribers of its organization without blocking.
func (b *Broker) deliver(m *goredis.Message) {
	orgID, ok := parseChannel(m.Channel)
	if !ok {
		return
	}
	e := new(jack.Event)
	if err := json.Unmarshal([]byte(m.Payload), e); err != nil {
		b.log.Warn("redis broker: undecodable event", "org_id", orgID, "err", err)
		return
	}
	if e.OrganizationID != orgID {
		// Never let an event reach another organization's dashboards.
		b.log.Warn("redis broker: event on another organization's channel", "org_id", orgID, "event_id", e.ID)
		return
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	c := b.orgs[orgID]
	if c == nil {
		return
	}
	for s := range c.subs {
		select {
		case s.ch <- e:
		default:
			b.removeLocked(orgID, c, s)
		}
	}
}

// dropAllLocked closes every local subscriber of the organization and returns how many there were.
func (b *Broker) dropAllLocked(orgID uuid.UUID, c *orgChannel) int {
	n := len(c.subs)
	for s := range c.subs {
		b.removeLocked(orgID, c, s)
	}
	return n
}

// remove ends s, if it is still subscribed.
func (b *Broker) remove(orgID uuid.UUID, s *subscription) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if c := b.orgs[orgID]; c != nil {
		b.removeLocked(orgID, c, s)
	}
}

// removeLocked closes s and, when it was the organization's last subscriber, has the
// reconciler unsubscribe.
func (b *Broker) removeLocked(orgID uuid.UUID, c *orgChannel, s *subscription) {
	if s.removed {
		return
	}
	s.removed = true
	delete(c.subs, s)
	close(s.ch)
	if s.stop != nil {
		s.stop()
	}
	if len(c.subs) == 0 {
		b.markDirtyLocked(orgID)
	}
}

func (b *Broker) markDirtyLocked(orgID uuid.UUID) {
	if b.closed {
		return
	}
	b.dirty[orgID] = struct{}{}
	select {
	case b.kick <- struct{}{}:
	default:
	}
}

// reconcile brings the Redis subscriptions in line with the local subscribers. It is the only
// goroutine that sends SUBSCRIBE and UNSUBSCRIBE, so they reach Redis in the order the
// broker decided them, and the receive loop never waits on Redis.
func (b *Broker) reconcile() {
	defer b.wg.Done()
	for {
		select {
		case <-b.ctx.Done():
			return
		case <-b.kick:
		}
		b.mu.Lock()
		dirty := b.dirty
		b.dirty = map[uuid.UUID]struct{}{}
		b.mu.Unlock()
		for orgID := range dirty {
			b.sync(orgID)
		}
	}
}

func (b *Broker) sync(orgID uuid.UUID) {
	ctx, cancel := context.WithTimeout(b.ctx, commandTimeout)
	defer cancel()
	channel := channelName(orgID)

	b.mu.Lock()
	c := b.orgs[orgID]
	if c == nil {
		b.mu.Unlock()
		return
	}
	want := len(c.subs) > 0
	switch {
	case want && !c.subscribed:
		c.subscribed = true
		b.mu.Unlock()
		err := b.pubsub.Subscribe(ctx, channel)
		if err == nil {
			return // the confirmation makes the channel live
		}
		// go-redis keeps a channel whose SUBSCRIBE failed and would subscribe it on the next
		// reconnect; forget it so a later attempt starts clean.
		_ = b.pubsub.Unsubscribe(ctx, channel)
		b.log.Warn("redis broker: subscribe failed", "org_id", orgID, "err", err)
		b.mu.Lock()
		c.subscribed = false
		if c.live {
			// A late confirmation of an earlier SUBSCRIBE made the channel look live; it is
			// not subscribed now, so whoever joined meanwhile may miss events.
			c.live = false
			c.ready = newReadiness()
			b.dropAllLocked(orgID, c)
		} else {
			c.ready.resolve(fmt.Errorf("redis: subscribe: %w", unavailable(err)))
			c.ready = newReadiness()
		}
		b.forgetIfIdleLocked(orgID, c)
		b.mu.Unlock()

	case !want && c.subscribed:
		c.subscribed = false
		if c.live {
			c.live = false
			c.ready = newReadiness()
		}
		b.mu.Unlock()
		if err := b.pubsub.Unsubscribe(ctx, channel); err != nil {
			// go-redis has forgotten the channel, so a reconnect will not subscribe it again.
			b.log.Debug("redis broker: unsubscribe failed", "org_id", orgID, "err", err)
		}
		b.mu.Lock()
		b.forgetIfIdleLocked(orgID, c)
		b.mu.Unlock()

	default:
		b.forgetIfIdleLocked(orgID, c)
		b.mu.Unlock()
	}
}

// forgetIfIdleLocked deletes c when nothing refers to it any more. A subscriber that arrived
// meanwhile marked the organization dirty, and the next sync subscribes it.
func (b *Broker) forgetIfIdleLocked(orgID uuid.UUID, c *orgChannel) {
	if len(c.subs) == 0 && !c.subscribed && b.orgs[orgID] == c {
		delete(b.orgs, orgID)
	}
}

func channelName(orgID uuid.UUID) string { return channelPrefix + orgID.String() }

func parseChannel(channel string) (uuid.UUID, bool) {
	id, ok := strings.CutPrefix(channel, channelPrefix)
	if !ok {
		return uuid.Nil, false
	}
	orgID, err := uuid.Parse(id)
	return orgID, err == nil
}

func errClosed() error { return jack.Errorf(jack.EUNAVAILABLE, "The event broker is closed.") }

// unavailable classes err as EUNAVAILABLE while keeping it in the chain for logs.
func unavailable(err error) error {
	return fmt.Errorf("%w: %w", jack.Errorf(jack.EUNAVAILABLE, "The event broker is unavailable."), err)
}

// redactURLError drops the URL that url.Parse puts in its errors: it may hold a password.
func redactURLError(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}
