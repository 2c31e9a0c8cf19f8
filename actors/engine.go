// Package actors is the conversation engine: one Proto.Actor virtual actor (grain) per
// (organization, customer phone) holds the conversation's memory, timers and AI session, and is
// its single writer. Engine starts the cluster and implements jack.Conversations by routing each
// call to the right grain, retrying once when a request vanishes (see ARCHITECTURE.md, "Proto.Actor rules").
package actors

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/asynkron/protoactor-go/cluster"
	"github.com/asynkron/protoactor-go/cluster/identitylookup/disthash"
	"github.com/asynkron/protoactor-go/remote"
	"github.com/google/uuid"

	"github.com/jack-auto/jack"
)

// Kind is the cluster kind of conversation grains.
const Kind = "conversation"

// Config tunes the engine; zero values take the defaults named on each field.
type Config struct {
	// ClusterName names the cluster; members with another name never meet. Defaults to "jack".
	ClusterName string
	// Provider finds the other members. Nil: the node runs alone (singleMember).
	Provider cluster.ClusterProvider
	// Host and Port are where the member listens for other members. Default 127.0.0.1:0.
	Host string
	Port int
	// AdvertisedAddress ("host:port") is how other members reach this one, when it differs
	// from Host:Port (containers, Kubernetes pod IPs).
	AdvertisedAddress string

	// RequestTimeout bounds one attempt to reach a grain. Defaults to 5s.
	RequestTimeout time.Duration
	// StoreTimeout bounds a grain's database work per message. Defaults to 10s.
	StoreTimeout time.Duration

	// ServerURL is the public base URL Twilio's status callbacks are addressed to.
	ServerURL string
	// ConversationIdle passivates a grain after this long without messages. Defaults to 10m.
	ConversationIdle time.Duration
	// TakeoverPause pauses the AI after a staff member's manual text. Defaults to 30m.
	TakeoverPause time.Duration
	// AIDebounce waits for follow-up texts before the AI replies. Defaults to 3s.
	AIDebounce time.Duration
	// AISessionIdle closes an unused AI session. Defaults to 5m.
	AISessionIdle time.Duration
	// ReminderPoll is how often this node claims due follow-up reminders. Defaults to 5s;
	// negative disables polling (tests call PollReminders).
	ReminderPoll time.Duration
	// SendTimeout bounds one provider call of an outbound text, counted from the commit of its
	// attempt mark. Defaults to 30s (twilio-go's own client waits 10s).
	SendTimeout time.Duration
	// ReconcilePoll is how often this node sweeps for outbound texts a crash left unresolved
	// (reconcile.go). Defaults to 1m; negative disables the sweep (tests call SweepUnsent).
	ReconcilePoll time.Duration
	// ReconcileAfter is how old an unresolved outbound text is before the sweep takes it up.
	// Defaults to 2m.
	ReconcileAfter time.Duration
	// HistorySize is how many recent messages a grain keeps in memory. Defaults to 50.
	HistorySize int

	// CallAnalysis reads the voice provider's report of a finished call (CallTranscript.Analysis,
	// CallSession.VoiceData) for scoring: elevenlabs.ParseCallAnalysis in production. nil reads
	// none, and calls score as unanalysed.
	CallAnalysis func(data json.RawMessage) *jack.CallAnalysis

	// Now is the clock. Defaults to time.Now.
	Now func() time.Time
}

// WithDefaults returns a copy of c with every unset field at its default.
func (c Config) WithDefaults() Config {
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	if c.ClusterName == "" {
		c.ClusterName = "jack"
	}
	if c.Host == "" {
		c.Host = "127.0.0.1"
	}
	def(&c.RequestTimeout, 5*time.Second)
	def(&c.StoreTimeout, 10*time.Second)
	def(&c.ConversationIdle, 10*time.Minute)
	def(&c.TakeoverPause, 30*time.Minute)
	def(&c.AIDebounce, 3*time.Second)
	def(&c.AISessionIdle, 5*time.Minute)
	if c.ReminderPoll == 0 {
		c.ReminderPoll = 5 * time.Second
	}
	if c.ReconcilePoll == 0 {
		c.ReconcilePoll = time.Minute
	}
	def(&c.ReconcileAfter, 2*time.Minute)
	def(&c.SendTimeout, 30*time.Second)
	if c.HistorySize <= 0 {
		c.HistorySize = 50
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	return c
}

// Engine runs the conversation grains of this node and routes requests to grains on any node.
type Engine struct {
	cfg    Config
	store  jack.Store
	broker jack.Broker
	sms    jack.SMSSender
	agent  jack.Agent
	dialer jack.VoiceDialer // nil: outbound AI calls are not configured
	log    *slog.Logger

	system   *actor.ActorSystem
	cluster  *cluster.Cluster
	provider cluster.ClusterProvider

	active atomic.Int64 // live grains on this node
	fenced atomic.Int64 // writes refused because another activation owns the conversation

	reconMu    sync.Mutex
	reconciled map[string]int64 // texts reconciled, by outcome (reconcile.go)

	// memberLeft is closed, and replaced, each time a member leaves the topology (see attempt).
	leftMu     sync.Mutex
	memberLeft chan struct{}

	// ctx ends when the engine closes; grains' background work derives from it.
	ctx    context.Context
	cancel context.CancelFunc

	// Test hooks: beforeRequest runs in the grain before each request, onActivate on activation.
	beforeRequest func(*Request)
	onActivate    func()
}

var _ jack.Conversations = (*Engine)(nil)

// NewEngine returns an engine over its dependencies; Start joins the cluster. dialer may be nil
// when no voice provider is configured (outbound calls then answer voice_not_configured).
func NewEngine(cfg Config, store jack.Store, broker jack.Broker, sms jack.SMSSender, agent jack.Agent, dialer jack.VoiceDialer, log *slog.Logger) (*Engine, error) {
	switch {
	case store == nil:
		return nil, errors.New("actors: a Store is required")
	case broker == nil:
		return nil, errors.New("actors: a Broker is required")
	case sms == nil:
		return nil, errors.New("actors: an SMSSender is required")
	case agent == nil:
		return nil, errors.New("actors: an Agent is required")
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	e := &Engine{cfg: cfg.WithDefaults(), store: store, broker: broker, sms: sms, agent: agent, dialer: dialer, log: log,
		memberLeft: make(chan struct{}), reconciled: map[string]int64{}}
	e.ctx, e.cancel = context.WithCancel(context.Background())
	return e, nil
}

// Start joins the cluster as a member hosting conversation grains. It takes about a second
// (the library waits for the member to settle).
func (e *Engine) Start() error {
	cfg := e.cfg
	e.system = actor.NewActorSystem(actor.WithLoggerFactory(func(*actor.ActorSystem) *slog.Logger {
		return libraryLogger(e.log)
	}))
	props := actor.PropsFromProducer(func() actor.Actor { return newGrain(e) })
	e.provider = cfg.Provider
	if e.provider == nil {
		e.provider = singleMember{}
	}
	var remoteOpts []remote.ConfigOption
	if cfg.AdvertisedAddress != "" {
		remoteOpts = append(remoteOpts, remote.WithAdvertisedHost(cfg.AdvertisedAddress))
	}
	e.cluster = cluster.New(e.system, cluster.Configure(cfg.ClusterName, e.provider, disthash.New(),
		remote.Configure(cfg.Host, cfg.Port, remoteOpts...),
		cluster.WithKinds(cluster.NewKind(Kind, props)),
		cluster.WithRequestTimeout(cfg.RequestTimeout)))
	// The library reports membership only at Info, which libraryLogger drops: say it here,
	// since who joined and who left is what an operator looks for after a node dies.
	e.system.EventStream.Subscribe(func(evt any) {
		if t, ok := evt.(*cluster.ClusterTopology); ok {
			e.log.Info("cluster topology changed", "members", len(t.Members),
				"joined", memberAddresses(t.Joined), "left", memberAddresses(t.Left))
		}
	})
	var startErr error
	func() {
		// StartMember panics when the remote cannot bind or the provider fails.
		defer func() {
			if r := recover(); r != nil {
				startErr = fmt.Errorf("start cluster member: %v", r)
			}
		}()
		e.cluster.StartMember()
	}()
	// Subscribed after StartMember, so the identity lookup has seen the new topology (and the
	// library has dropped the cached PIDs of members that left) before waiting requests retry.
	e.system.EventStream.Subscribe(func(evt any) {
		if t, ok := evt.(*cluster.ClusterTopology); ok && len(t.Left) > 0 {
			e.leftMu.Lock()
			close(e.memberLeft)
			e.memberLeft = make(chan struct{})
			e.leftMu.Unlock()
		}
	})
	if startErr == nil && cfg.ReminderPoll > 0 {
		go e.every(cfg.ReminderPoll, "poll follow-up reminders", e.PollReminders)
	}
	if startErr == nil && cfg.ReconcilePoll > 0 {
		go e.every(cfg.ReconcilePoll, "reconcile sweep", e.SweepUnsent)
	}
	return startErr
}

// Ready reports whether the member sees a cluster topology, so grains can be reached.
func (e *Engine) Ready() bool {
	return e.cluster != nil && e.cluster.MemberList != nil && e.cluster.MemberList.Length() > 0
}

// MemberID is this node's cluster member id (its ActorSystem ID, new at every start); empty
// before Start.
func (e *Engine) MemberID() string {
	if e.system == nil {
		return ""
	}
	return e.system.ID
}

// Members counts the members of this node's current cluster topology.
func (e *Engine) Members() int {
	if c := e.cluster; c != nil && c.MemberList != nil {
		return c.MemberList.Length()
	}
	return 0
}

func memberAddresses(members []*cluster.Member) []string {
	out := make([]string, len(members))
	for i, m := range members {
		out[i] = m.Address()
	}
	return out
}

// ActiveConversations counts this node's live conversation grains.
func (e *Engine) ActiveConversations() int64 { return e.active.Load() }

// FencedWrites is how many grains of this node found their conversation claimed by a newer
// activation (a write refused) and stopped.
func (e *Engine) FencedWrites() int64 { return e.fenced.Load() }

// Close leaves the cluster without the library's graceful wait: every grain has already
// committed what it acknowledged, so nothing is lost. Safe to call twice or before Start.
func (e *Engine) Close() error {
	e.cancel()
	if e.cluster != nil {
		e.cluster.Shutdown(false)
		// Shutdown(false) leaves the provider running (automanaged keeps serving its health
		// endpoint, the test provider keeps the member registered): stop it so peers see us go.
		if err := e.provider.Shutdown(false); err != nil {
			e.log.Warn("cluster provider shutdown", "err", err)
		}
		e.cluster = nil
	}
	return nil
}

// request sends req to the grain of (orgID, phone) and returns its reply. An attempt that times
// out (the grain passivating, its node dying) is retried once: every request carries its own
// idempotency (MessageSid, idempotency key, or being a pure state change), so the retry is harmless.
func (e *Engine) request(ctx context.Context, orgID uuid.UUID, phone string, req *Request) (*Reply, error) {
	return e.send(ctx, orgID, phone, req, 2)
}

// requestOnce is request without the retry, for requests whose repeat would act twice.
func (e *Engine) requestOnce(ctx context.Context, orgID uuid.UUID, phone string, req *Request) (*Reply, error) {
	return e.send(ctx, orgID, phone, req, 1)
}

func (e *Engine) send(ctx context.Context, orgID uuid.UUID, phone string, req *Request, attempts int) (*Reply, error) {
	identity := jack.ConversationIdentity(orgID, phone)
	var lastErr error
	for attempt := 1; attempt <= attempts; attempt++ {
		timeout := e.cfg.RequestTimeout
		if dl, ok := ctx.Deadline(); ok {
			timeout = min(timeout, time.Until(dl))
		}
		if timeout <= 0 || ctx.Err() != nil {
			break
		}
		c := e.cluster
		if c == nil {
			return nil, jack.Errorf(jack.EUNAVAILABLE, "The conversation engine is not running.")
		}
		res, err := e.attempt(c, identity, req, timeout, attempt < attempts)
		if err == nil {
			reply, ok := res.(*Reply)
			if !ok {
				return nil, fmt.Errorf("grain %s answered %T", identity, res)
			}
			// A stale activation refused the request without changing anything and is stopping:
			// the next attempt reaches the conversation's owner (or activates a new one).
			if ferr := replyError(reply); jack.IsFenced(ferr) && attempt < attempts {
				lastErr = ferr
				continue
			}
			return reply, nil
		}
		lastErr = err
		e.log.Warn("conversation request failed", "org_id", orgID, "phone", jack.MaskPhone(phone), "attempt", attempt, "err", err)
	}
	return nil, errors.Join(jack.Errorf(jack.EUNAVAILABLE, "The conversation is busy; please retry."), lastErr)
}

// errMemberLeft ends an attempt that was waiting when a member left the cluster.
var errMemberLeft = errors.New("a cluster member left while the request waited")

// attempt is one cluster request. When a member leaves while it waits and another attempt may
// follow, it stops waiting at once: the grain may have lived on that member, and the library
// never fails a request to a dead member (it only times out, see ARCHITECTURE.md, "Proto.Actor rules"), while the next
// attempt goes to the identity's new owner. Had the grain been alive after all, the next
// attempt is answered as a duplicate, as after a timeout.
func (e *Engine) attempt(c *cluster.Cluster, identity string, req *Request, timeout time.Duration, canRetry bool) (any, error) {
	if !canRetry {
		return c.Request(identity, Kind, req, cluster.WithTimeout(timeout))
	}
	e.leftMu.Lock()
	left := e.memberLeft
	e.leftMu.Unlock()
	type result struct {
		res any
		err error
	}
	done := make(chan result, 1)
	go func() {
		res, err := c.Request(identity, Kind, req, cluster.WithTimeout(timeout))
		done <- result{res, err}
	}()
	select {
	case r := <-done:
		return r.res, r.err
	case <-left:
		return nil, errMemberLeft
	}
}

// replyError turns an error reply into a jack error; nil for any other reply.
func replyError(r *Reply) error {
	e := r.GetError()
	if e == nil {
		return nil
	}
	out := &jack.Error{Code: e.Code, Reason: e.Reason, Message: e.Message, Fields: e.Fields}
	if len(e.Details) > 0 {
		out.Details = map[string]any{}
		for k, v := range e.Details {
			out.Details[k] = v
		}
	}
	return out
}
