package http

import (
	"context"
	"encoding/json"
	"log/slog"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/jack-auto/jack"
)

// Sessions: every access token names a stored session (its jti), and every request checks it,
// so logout, a password change, a role change and removing or deactivating a user apply to
// tokens already issued. The check reads a short per-node cache; a node that changes a session
// or a user forgets its own entries at once and tells the other nodes through the broker, on a
// control channel no organization uses (uuid.Nil), so they forget theirs too.

// eventSessionsChanged is the control event that makes every node forget cached sessions.
const eventSessionsChanged = "sessions_changed"

// controlChannel is the broker channel of control events: no organization has the nil id.
var controlChannel = uuid.Nil

// sessionsChanged is the data of eventSessionsChanged: one session, or every session of a user.
type sessionsChanged struct {
	SessionID uuid.UUID `json:"sessionId,omitempty"`
	UserID    uuid.UUID `json:"userId,omitempty"`
}

// sessionCache caches sessions read from the Store for ttl.
type sessionCache struct {
	store jack.Store
	ttl   time.Duration
	now   func() time.Time

	mu      sync.Mutex
	entries map[uuid.UUID]cachedSession
}

type cachedSession struct {
	sess  *jack.Session
	until time.Time
}

// maxCachedSessions bounds the cache; past it, the cache starts over.
const maxCachedSessions = 100_000

func newSessionCache(store jack.Store, ttl time.Duration, now func() time.Time) *sessionCache {
	return &sessionCache{store: store, ttl: ttl, now: now, entries: map[uuid.UUID]cachedSession{}}
}

// find returns the session id of orgID, from the cache while fresh. A database blip is retried
// once (reading a session is idempotent) before it fails the request with EUNAVAILABLE.
func (c *sessionCache) find(ctx context.Context, orgID, id uuid.UUID) (*jack.Session, error) {
	now := c.now()
	c.mu.Lock()
	e, ok := c.entries[id]
	c.mu.Unlock()
	if ok && now.Before(e.until) && e.sess.OrganizationID == orgID {
		return e.sess, nil
	}
	sess, err := c.store.FindSession(ctx, orgID, id)
	if jack.ErrorCode(err) == jack.EUNAVAILABLE {
		sess, err = c.store.FindSession(ctx, orgID, id)
	}
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	if len(c.entries) >= maxCachedSessions {
		clear(c.entries)
	}
	c.entries[id] = cachedSession{sess: sess, until: now.Add(c.ttl)}
	c.mu.Unlock()
	return sess, nil
}

// forget drops what ch names: a session, every session of a user, or (both nil) everything.
func (c *sessionCache) forget(ch sessionsChanged) {
	c.mu.Lock()
	defer c.mu.Unlock()
	switch {
	case ch.SessionID != uuid.Nil:
		delete(c.entries, ch.SessionID)
	case ch.UserID != uuid.Nil:
		for id, e := range c.entries {
			if e.sess.UserID == ch.UserID {
				delete(c.entries, id)
			}
		}
	default:
		clear(c.entries)
	}
}

// sessionsChangedNow forgets ch on this node and tells the others. Publishing is best effort:
// another node that misses it still stops trusting the entry within the cache TTL.
func (s *Server) sessionsChangedNow(ctx context.Context, ch sessionsChanged) {
	s.sessions.forget(ch)
	if s.broker == nil {
		return
	}
	data, _ := json.Marshal(ch)
	e := &jack.Event{ID: uuid.Must(uuid.NewV7()), Type: eventSessionsChanged, OrganizationID: controlChannel,
		Timestamp: s.cfg.Now().UTC(), Data: data}
	if err := s.broker.Publish(context.WithoutCancel(ctx), e); err != nil {
		s.log.WarnContext(ctx, "could not tell other nodes about a session change", "err", err)
	}
}

// watchSessions applies other nodes' session changes until ctx ends. Whenever its subscription
// ends (a broker reconnect may have lost changes) it forgets every cached session and
// subscribes again.
func (s *Server) watchSessions(ctx context.Context, log *slog.Logger) {
	for ctx.Err() == nil {
		ch, err := s.broker.Subscribe(ctx, controlChannel)
		if err != nil {
			log.WarnContext(ctx, "session changes: subscribe failed; retrying", "err", err)
		} else {
			for e := range ch {
				if e.Type != eventSessionsChanged {
					continue
				}
				var change sessionsChanged
				if json.Unmarshal(e.Data, &change) == nil {
					s.sessions.forget(change)
				}
			}
		}
		s.sessions.forget(sessionsChanged{})
		select {
		case <-ctx.Done():
		case <-time.After(time.Second):
		}
	}
}
