// Package http is Jack's HTTP edge: a Fiber v2 app with the JSON API, authentication (JWT,
// bcrypt, login limits), the tenant rule and the one mapping from domain error codes to statuses.
// It reaches data through jack.Store, conversations through jack.Conversations and live events
// (served as Server-Sent Events) through jack.Broker, never directly.
package http

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/jack-auto/jack"
	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/crypto/bcrypt"
)

// Config holds the server's knobs. Zero values take the documented defaults (WithDefaults).
type Config struct {
	// JWTSecret signs and verifies access tokens (HS256). Required, at least 32 bytes.
	JWTSecret []byte
	// JWTTTL is how long an access token lives. Defaults to 24h.
	JWTTTL time.Duration
	// ServerURL is the public base URL (scheme+host): Twilio signs webhooks against it, and it is
	// written into the OpenAPI document's servers. Required for Twilio webhooks.
	ServerURL string
	// BodyLimit is the largest request body accepted, in bytes. Defaults to 1 MiB.
	BodyLimit int
	// LoginMaxFailures is how many failed logins one account may have from one client IP inside
	// LoginWindow before each further attempt from that IP waits twice as long as the last
	// (1s, 2s, 4s … up to LoginWindow; 429 with Retry-After meanwhile). Other addresses are not
	// slowed: the right password from elsewhere still gets in. Defaults to 5.
	LoginMaxFailures int
	// LoginIPMaxFailures caps the failed logins of one client IP inside LoginWindow, whatever
	// the accounts (one address spraying guesses). Defaults to 100.
	LoginIPMaxFailures int
	// LoginWindow is the sliding window of the login limiter. Defaults to 15m.
	LoginWindow time.Duration
	// BcryptCost is the cost of new password hashes. Defaults to bcrypt.DefaultCost; tests use
	// bcrypt.MinCost.
	BcryptCost int
	// TrustedProxies are the IPs or CIDRs of the proxies (load balancers) in front of Jack
	// (JACK_TRUSTED_PROXIES): only from them is ProxyHeader believed, read from the right up to
	// the first address that is not a trusted proxy. Defaults to none: the client is the socket's
	// peer, and the header is ignored.
	TrustedProxies []string
	// ProxyHeader names the header trusted proxies put the client IP in. Defaults to
	// X-Forwarded-For.
	ProxyHeader string
	// SMSWebhooks verifies and decodes the SMS provider's webhooks (twilio.Webhooks). Without it
	// every SMS webhook is refused (403): an unverifiable webhook is never trusted.
	SMSWebhooks SMSWebhooks
	// VoiceWebhooks decodes the voice provider's conversation-initiation webhook and verifies
	// and decodes its post-call webhooks (elevenlabs.Webhooks). Without it every voice webhook
	// is refused (401).
	VoiceWebhooks VoiceWebhooks
	// ElevenLabsWebhookHeaderName and ElevenLabsWebhookHeaderValue authenticate the
	// conversation-initiation webhook (a static header configured in ElevenLabs). Name defaults
	// to X-Jack-Webhook-Secret; without a value every initiation request is refused (401).
	ElevenLabsWebhookHeaderName  string
	ElevenLabsWebhookHeaderValue string
	// Numbers searches, buys and releases numbers at the telephony provider (POST
	// …/phone-numbers/purchase).
	// Defaults to none: purchases answer 422 twilio_not_configured.
	Numbers NumberProvider
	// VoiceNumbers imports bought or imported numbers into the voice agent provider and assigns
	// the agent. Defaults to none: numbers are stored without a voice phone id, to be activated
	// later.
	VoiceNumbers VoiceNumberProvider
	// Media fetches MMS attachments from the provider for GET /api/messages/:id/media/:n.
	// Defaults to none: that route answers 503 media_not_configured.
	Media MediaFetcher
	// MediaMaxBytes is the largest attachment the media route passes on; a larger one is 502
	// media_too_large. Defaults to DefaultMediaMaxBytes (10 MiB).
	MediaMaxBytes int64
	// Integrations checks webhook URLs and sends test events for /api/integrations (package crm).
	// Defaults to none: creating, changing or testing an integration answers 503
	// integrations_not_configured.
	Integrations Integrations
	// ShutdownTimeout bounds Close when its context has no earlier deadline. Defaults to 10s.
	ShutdownTimeout time.Duration
	// StreamTokenTTL is no longer used: a stream token is good for (re)opening GET /api/stream
	// for as long as the session that minted it. Kept so existing configurations still build.
	StreamTokenTTL time.Duration
	// SessionCacheTTL is how long a node trusts a session it read (each request checks its
	// token's session). Changes made on a node apply there at once and reach the other nodes
	// through the broker; this bounds how stale a node can be if that message is lost.
	// Defaults to 10s.
	SessionCacheTTL time.Duration
	// StreamHeartbeat is how often an event stream gets a comment line, so proxies keep it open
	// and a gone client is noticed. Defaults to 15s.
	StreamHeartbeat time.Duration
	// ReadyCheck, when set, is asked by GET /ready after the Store: the node's other
	// dependencies (the broker, the cluster). Its error's message is shown. Defaults to none.
	ReadyCheck func(ctx context.Context) error
	// ReadyInfo, when set, adds its fields to the body of a ready GET /ready (the cluster
	// member id and member count). Defaults to none.
	ReadyInfo func() map[string]any
	// StreamPoll is how often a node's live feed of an organization reads the Store even when the
	// broker says nothing (a message lost to a crash or a Redis reconnect). Defaults to 2s.
	StreamPoll time.Duration
	// StreamBuffer is how many events one stream may fall behind before the server ends it
	// (the client resumes with Last-Event-ID). Defaults to 1024.
	StreamBuffer int
	// Now is the clock (token times, login windows). Defaults to time.Now.
	Now func() time.Time
}

// Defaults applied by WithDefaults.
const (
	DefaultJWTTTL           = 24 * time.Hour
	DefaultBodyLimit        = 1 << 20
	DefaultLoginMaxFailures = 5
	DefaultLoginIPFailures  = 100
	DefaultLoginWindow      = 15 * time.Minute
	DefaultShutdownTimeout  = 10 * time.Second
	DefaultStreamHeartbeat  = 15 * time.Second
	DefaultStreamBuffer     = 1024
	DefaultStreamPoll       = 2 * time.Second
	DefaultSessionCacheTTL  = 10 * time.Second
)

// WithDefaults returns a copy of c with every unset field at its default.
func (c Config) WithDefaults() Config {
	c.JWTTTL = cmp.Or(c.JWTTTL, DefaultJWTTTL)
	c.BodyLimit = cmp.Or(c.BodyLimit, DefaultBodyLimit)
	c.LoginMaxFailures = cmp.Or(c.LoginMaxFailures, DefaultLoginMaxFailures)
	c.LoginWindow = cmp.Or(c.LoginWindow, DefaultLoginWindow)
	c.LoginIPMaxFailures = cmp.Or(c.LoginIPMaxFailures, DefaultLoginIPFailures)
	c.ProxyHeader = cmp.Or(c.ProxyHeader, fiber.HeaderXForwardedFor)
	c.BcryptCost = cmp.Or(c.BcryptCost, bcrypt.DefaultCost)
	c.ShutdownTimeout = cmp.Or(c.ShutdownTimeout, DefaultShutdownTimeout)
	c.StreamHeartbeat = cmp.Or(c.StreamHeartbeat, DefaultStreamHeartbeat)
	c.StreamBuffer = cmp.Or(c.StreamBuffer, DefaultStreamBuffer)
	c.StreamPoll = cmp.Or(c.StreamPoll, DefaultStreamPoll)
	c.SessionCacheTTL = cmp.Or(c.SessionCacheTTL, DefaultSessionCacheTTL)
	c.ElevenLabsWebhookHeaderName = cmp.Or(c.ElevenLabsWebhookHeaderName, "X-Jack-Webhook-Secret")
	c.MediaMaxBytes = cmp.Or(c.MediaMaxBytes, DefaultMediaMaxBytes)
	if c.Now == nil {
		c.Now = time.Now
	}
	return c
}

// validate names the first bad field. It expects WithDefaults to have run.
func (c Config) validate() error {
	switch {
	case len(c.JWTSecret) < 32:
		return errors.New("JWTSecret must be at least 32 bytes")
	case c.JWTTTL < time.Minute:
		return errors.New("JWTTTL must be at least 1m")
	case c.BodyLimit < 1024 || c.BodyLimit > 64<<20:
		return errors.New("BodyLimit must be between 1 KiB and 64 MiB")
	case c.LoginMaxFailures < 1:
		return errors.New("LoginMaxFailures must be at least 1")
	case c.LoginIPMaxFailures < c.LoginMaxFailures:
		return errors.New("LoginIPMaxFailures must be at least LoginMaxFailures")
	case c.LoginWindow < time.Second:
		return errors.New("LoginWindow must be at least 1s")
	case c.BcryptCost < bcrypt.MinCost || c.BcryptCost > bcrypt.MaxCost:
		return fmt.Errorf("BcryptCost must be between %d and %d", bcrypt.MinCost, bcrypt.MaxCost)
	case c.ShutdownTimeout < 0:
		return errors.New("ShutdownTimeout must not be negative")
	case c.SessionCacheTTL < 0:
		return errors.New("SessionCacheTTL must not be negative")
	case c.StreamPoll < time.Millisecond:
		return errors.New("StreamPoll must be at least 1ms")
	case c.StreamHeartbeat < time.Millisecond:
		return errors.New("StreamHeartbeat must be at least 1ms")
	case c.StreamBuffer < 1:
		return errors.New("StreamBuffer must be at least 1")
	case c.MediaMaxBytes < 1:
		return errors.New("MediaMaxBytes must be at least 1")
	}
	if _, err := parseTrustedProxies(c.TrustedProxies); err != nil {
		return fmt.Errorf("TrustedProxies: %w", err)
	}
	if c.ServerURL != "" {
		if u, err := url.Parse(c.ServerURL); err != nil || u.Scheme == "" || u.Host == "" {
			return fmt.Errorf("ServerURL %q must be an absolute URL", c.ServerURL)
		}
	}
	return nil
}

// readAheadFactor: the transport reads bodies up to this many BodyLimits, so a moderately
// oversized body is read whole and answered with a clean 413 by limitBody. Fasthttp refuses a
// larger one before reading it and closes the connection, which a client still writing may see as
// a reset instead of the 413.
const readAheadFactor = 4

// Server is Jack's HTTP server. Create it with NewServer, start it with Serve, stop it with Close.
type Server struct {
	cfg     Config
	store   jack.Store
	conv    jack.Conversations // nil: conversation routes answer 503
	broker  jack.Broker        // nil: GET /api/stream answers 503
	streams *streamHub
	feeds   *feeds // nil without a broker: no live events
	router  *phoneRouter
	log     *slog.Logger
	app     *fiber.App
	metrics *metrics
	logins  *loginLimiter
	proxies trustedProxies
	openAPI []byte

	sessions     *sessionCache
	stopWatching context.CancelFunc // ends watchSessions

	// dummyHash is compared against when a login names an unknown email, so the answer takes
	// as long as a wrong password and does not tell which emails exist.
	dummyHash []byte

	isReady atomic.Bool

	mu      sync.Mutex
	started bool
	closed  bool
	served  chan error // receives Fiber's Listener result once it returns
}

// NewServer returns a server with every route registered, not yet serving and not ready.
// conv nil makes the conversation routes answer 503, broker nil the event stream; log nil
// discards logs.
func NewServer(cfg Config, store jack.Store, conv jack.Conversations, broker jack.Broker, log *slog.Logger) (*Server, error) {
	cfg = cfg.WithDefaults()
	if err := cfg.validate(); err != nil {
		return nil, fmt.Errorf("http config: %w", err)
	}
	if store == nil {
		return nil, errors.New("http: store is required")
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	dummy, err := bcrypt.GenerateFromPassword([]byte("jack-dummy-password"), cfg.BcryptCost)
	if err != nil {
		return nil, fmt.Errorf("http: dummy hash: %w", err)
	}
	doc, err := openAPIDocument(cfg.ServerURL)
	if err != nil {
		return nil, err
	}
	s := &Server{
		cfg:       cfg,
		store:     store,
		conv:      conv,
		broker:    broker,
		log:       log,
		metrics:   newMetrics(),
		logins:    newLoginLimiter(cfg.LoginMaxFailures, cfg.LoginIPMaxFailures, cfg.LoginWindow),
		openAPI:   doc,
		router:    newPhoneRouter(store, cfg.Now),
		dummyHash: dummy,
		proxies:   must(parseTrustedProxies(cfg.TrustedProxies)), // validate checked them
		sessions:  newSessionCache(store, cfg.SessionCacheTTL, cfg.Now),
	}
	watchCtx, stopWatching := context.WithCancel(context.Background())
	s.stopWatching = stopWatching
	if broker != nil {
		go s.watchSessions(watchCtx, log.With("component", "sessions"))
	}
	s.app = fiber.New(fiber.Config{
		AppName: "jack",
		// Values from the request (params, headers, the method) are copies, not views into
		// fasthttp's reused buffers: they end up in metric labels, maps and goroutines.
		Immutable:             true,
		BodyLimit:             cfg.BodyLimit * readAheadFactor,
		ErrorHandler:          s.handleError,
		DisableStartupMessage: true,
		ReadTimeout:           30 * time.Second,
		IdleTimeout:           60 * time.Second,
		// c.IP() believes the header only from trusted proxies (no proxies: never); the login
		// limiter reads the client with clientIP, which also skips proxy hops.
		ProxyHeader:             cfg.ProxyHeader,
		EnableTrustedProxyCheck: true,
		TrustedProxies:          cfg.TrustedProxies,
		EnableIPValidation:      true,
	})
	s.streams = newStreamHub(s.metrics.registry)
	if broker != nil {
		s.feeds = newFeeds(s.streams.ctx, store, broker, cfg.StreamPoll, log.With("component", "feed"))
	}
	s.app.Use(s.requestID, s.observe, s.recoverPanic, s.limitBody, cleanRequestURL)
	s.routes()
	return s, nil
}

// needsEngine answers 503 on conversation routes of a server built without the engine.
func (s *Server) needsEngine(c *fiber.Ctx) error {
	if s.conv == nil {
		return jack.Errorf(jack.EUNAVAILABLE, "Conversations are not available on this server.")
	}
	return c.Next()
}

// App returns the Fiber app, to list routes (or, in tests, add some before Serve).
func (s *Server) App() *fiber.App { return s.app }

// Registry returns the server's Prometheus registry, served at GET /metrics, so other
// components can register their collectors on it.
func (s *Server) Registry() *prometheus.Registry { return s.metrics.registry }

// SetReady sets what GET /ready answers (with a working Store). A new server is not ready:
// main calls SetReady(true) once everything has started and SetReady(false) first on shutdown.
func (s *Server) SetReady(ready bool) { s.isReady.Store(ready) }

// Serve serves HTTP on ln (already bound, so a busy port fails before this call) in the
// background and returns once Fiber is serving. It fails if the server was started or closed.
func (s *Server) Serve(ln net.Listener) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.started || s.closed {
		return errors.New("http: server already started or closed")
	}
	s.started = true
	s.served = make(chan error, 1)
	listening := make(chan struct{})
	s.app.Hooks().OnListen(func(fiber.ListenData) error { close(listening); return nil })
	go func() { s.served <- s.app.Listener(ln) }()
	select {
	case <-listening:
		s.log.Info("http serving", "addr", ln.Addr().String())
		return nil
	case err := <-s.served:
		s.served <- err // Close still waits for it
		return fmt.Errorf("http: serve: %w", err)
	}
}

// Close marks the server not ready and shuts it down gracefully: event streams end first (a
// graceful shutdown would wait for them forever; their clients reconnect elsewhere and
// resume), then no new connections, and in-flight requests finish until ctx ends or
// ShutdownTimeout passes. It tolerates a server that never started and a second call.
func (s *Server) Close(ctx context.Context) error {
	s.SetReady(false)
	s.stopWatching()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil
	}
	s.closed = true
	ctx, cancel := context.WithTimeout(ctx, s.cfg.ShutdownTimeout)
	defer cancel()
	streamsErr := s.streams.close(ctx)
	if !s.started {
		return nil
	}
	err := cmp.Or(s.app.ShutdownWithContext(ctx), streamsErr)
	if serveErr := <-s.served; serveErr != nil && err == nil {
		err = serveErr
	}
	if err != nil {
		return fmt.Errorf("http: shutdown: %w", err)
	}
	return nil
}

// must returns v, panicking on err: for values validate already checked.
func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}
