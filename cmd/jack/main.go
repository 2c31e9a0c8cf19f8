// Command jack is the conversation engine's one binary: `jack serve` runs a node (alone on the
// embedded default, or one of many on Postgres + Redis), `jack migrate` manages the schema,
// `jack simulate` plays a customer against a running server, `jack import leads` loads lead
// feeds and `jack audit` checks every organization's data.
package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/asynkron/protoactor-go/cluster"
	"github.com/asynkron/protoactor-go/cluster/clusterproviders/automanaged"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/jack-auto/jack"
	"github.com/jack-auto/jack/actors"
	"github.com/jack-auto/jack/actors/pgmembers"
	"github.com/jack-auto/jack/crm"
	jackhttp "github.com/jack-auto/jack/http"
	"github.com/jack-auto/jack/persistence"
	"github.com/jack-auto/jack/persistence/memory"
	"github.com/jack-auto/jack/persistence/postgres"
	"github.com/jack-auto/jack/persistence/redis"
	"github.com/jack-auto/jack/persistence/sqlite"
	"github.com/jack-auto/jack/providers/elevenlabs"
	"github.com/jack-auto/jack/providers/offline"
	"github.com/jack-auto/jack/providers/twilio"
)

const usage = `jack — the conversation engine for car dealerships

Usage:
  jack serve                      run a node (configuration from the environment, see README)
  jack migrate up|down|status     manage the database schema (down rolls back one step)
  jack simulate sms --to N --from N "text"
                                  text a running server as a customer would (a signed Twilio webhook)
  jack import leads --org ID [--format csv|adf] [--json] FILE
                                  import a CSV or ADF/XML lead feed (row errors are listed, exit 0)
  jack audit [--json] [--show-phones]
                                  check every organization's data; exit 1 when it finds problems

Run "jack <command> -h" for a command's flags.
`

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr); err != nil {
		if errors.Is(err, errRejoin) {
			os.Exit(ExitRejoin) // logged already; the supervisor restarts the node as a new member
		}
		if !errors.Is(err, flag.ErrHelp) {
			fmt.Fprintln(os.Stderr, "jack:", err)
		}
		os.Exit(1)
	}
}

// run dispatches a command line; ctx ends on SIGINT/SIGTERM.
func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return flag.ErrHelp
	}
	if text, ok := commandHelp(args); ok {
		fmt.Fprint(stdout, text) // help is an answer, not an error: exit 0, before any configuration
		return nil
	}
	cfg, err := loadConfig(getenv, args[0] == "serve")
	if err != nil {
		return err
	}
	switch args[0] {
	case "serve":
		return runServe(ctx, cfg, stderr)
	case "migrate":
		return runMigrate(ctx, cfg, args[1:], stdout)
	case "simulate":
		return runSimulate(ctx, cfg, args[1:], stdout, stderr)
	case "import":
		return runImport(ctx, cfg, args[1:], stdout, stderr)
	case "audit":
		return runAudit(ctx, cfg, args[1:], stdout, stderr)
	default:
		fmt.Fprint(stderr, usage)
		return fmt.Errorf("unknown command %q", args[0])
	}
}

// Usages of the commands that have no flag set of their own.
const (
	serveUsage = `usage: jack serve

Runs a node: the API, the dashboard, the webhooks and the conversation engine, configured by the
environment (see the README). It migrates the database first.
`
	migrateUsage = `usage: jack migrate up|down|status

Applies, rolls back (one step) or lists the database migrations of the configured database
(DATABASE_URL, else the embedded one under JACK_DATA_DIR).
`
	simulateUsage = `usage: jack simulate sms --to <dealership number> --from <customer number> [--region US] [--server URL] "text"

Signs an incoming-message webhook as Twilio would and posts it to a running server.
`
)

// commandHelp returns the usage of args' command when args ask for help (-h, -help or --help
// after the command, or help as the command).
func commandHelp(args []string) (string, bool) {
	usages := map[string]string{"serve": serveUsage, "migrate": migrateUsage, "simulate": simulateUsage,
		"import": importUsage, "audit": auditUsage}
	if slices.Contains([]string{"-h", "-help", "--help", "help"}, args[0]) {
		return usage, true
	}
	text, known := usages[args[0]]
	if !known {
		return "", false
	}
	for _, a := range args[1:] {
		if a == "--" {
			break
		}
		if a == "-h" || a == "-help" || a == "--help" {
			return text, true
		}
	}
	return "", false
}

// ExitRejoin is the exit status of `jack serve` when the cluster declared the node dead, or its
// membership lease ran out (CLUSTER_PROVIDER=postgres): the node stopped serving and its
// supervisor should start it again, which makes it a new member.
const ExitRejoin = 75 // EX_TEMPFAIL: try again

// errRejoin ends `jack serve` with ExitRejoin.
var errRejoin = errors.New("this node is no longer a cluster member: exiting to rejoin as a new member")

func runServe(ctx context.Context, cfg Config, stderr io.Writer) error {
	m := NewMain(cfg, NewLogger(cfg, stderr))
	if err := m.Run(ctx); err != nil {
		return errors.Join(err, m.Close())
	}
	select {
	case <-ctx.Done():
	case <-m.Fenced():
		// No graceful Close: draining requests and leaving the cluster would keep a node that
		// is no member any more serving for seconds. Nothing acknowledged lives only in memory,
		// and the conversations' ownership epochs refuse whatever a grain here still writes.
		m.Log.Error("declared dead / lease lost: exiting to rejoin as a new member",
			"reason", m.FenceReason(), "member_id", m.Engine.MemberID(), "exit_code", ExitRejoin)
		return errRejoin
	}
	m.Log.Info("shutting down")
	// A second signal while closing forces exit.
	go func() {
		sig := make(chan os.Signal, 1)
		signal.Notify(sig, os.Interrupt, syscall.SIGTERM)
		<-sig
		os.Exit(1)
	}()
	return m.Close()
}

func runMigrate(ctx context.Context, cfg Config, args []string, stdout io.Writer) error {
	if len(args) != 1 || (args[0] != "up" && args[0] != "down" && args[0] != "status") {
		return errors.New("usage: jack migrate up|down|status")
	}
	if cfg.Embedded() {
		return sqlite.Migrate(ctx, sqlitePath(cfg), args[0], stdout)
	}
	return postgres.Migrate(ctx, cfg.DatabaseURL, args[0], stdout)
}

// NewLogger returns the process logger as LOG_FORMAT and LOG_LEVEL ask.
func NewLogger(cfg Config, w io.Writer) *slog.Logger {
	opts := &slog.HandlerOptions{Level: cfg.LogLevel}
	if cfg.LogFormat == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

// Main is a running node: it wires the adapters the configuration names into the engine and the
// HTTP server, and closes them in reverse order.
type Main struct {
	Config Config
	Log    *slog.Logger

	Store  jack.Store
	Broker jack.Broker
	Engine *actors.Engine
	HTTP   *jackhttp.Server
	CRM    *crm.Service // delivers integration events to dealers' CRMs

	ln          net.Listener
	url         string
	stopJanitor context.CancelFunc

	// members is the Postgres membership (CLUSTER_PROVIDER=postgres), nil otherwise; fenced is
	// closed when it says this node must stop serving.
	members   *pgmembers.Provider
	fenced    chan struct{}
	fenceOnce sync.Once
}

// NewMain returns a node for cfg; Run starts it.
func NewMain(cfg Config, log *slog.Logger) *Main {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Main{Config: cfg, Log: log, fenced: make(chan struct{})}
}

// Fenced is closed when this node was declared dead by the cluster, or lost its membership
// lease (CLUSTER_PROVIDER=postgres): it must stop serving and exit (runServe: ExitRejoin).
func (m *Main) Fenced() <-chan struct{} { return m.fenced }

// FenceReason says why the node was fenced; empty while it is a member.
func (m *Main) FenceReason() string {
	if m.members == nil {
		return ""
	}
	return m.members.FenceReason()
}

// fence is the membership's OnFenced callback: readiness already reads false (readyCheck asks
// the provider); Fenced tells runServe to exit.
func (m *Main) fence(string) { m.fenceOnce.Do(func() { close(m.fenced) }) }

// Run binds the listener (a busy port fails first), opens the store (migrating it), starts the
// engine and serves HTTP; it returns once serving, so URL is usable.
func (m *Main) Run(ctx context.Context) (err error) {
	cfg := &m.Config
	if err := m.loadSecrets(); err != nil {
		return err
	}
	m.ln, err = net.Listen("tcp", cfg.Addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", cfg.Addr, err)
	}
	m.url = "http://" + m.ln.Addr().String()
	if tcp, ok := m.ln.Addr().(*net.TCPAddr); ok && (tcp.IP.IsUnspecified() || tcp.IP.IsLoopback()) {
		m.url = fmt.Sprintf("http://localhost:%d", tcp.Port)
	}
	if cfg.ServerURL == "" {
		cfg.ServerURL = m.url
	}
	m.Log.Info("starting jack", "config", cfg)

	if m.Store, err = openStore(ctx, *cfg, m.Log); err != nil {
		return err
	}
	if m.Broker, err = openBroker(ctx, *cfg, m.Log); err != nil {
		return err
	}
	sms, err := m.smsSender()
	if err != nil {
		return err
	}
	agent, dialer, err := m.voice()
	if err != nil {
		return err
	}
	numbers, voiceNumbers := numberProviders(cfg, sms, dialer)
	provider, err := m.clusterProvider()
	if err != nil {
		return err
	}
	m.Engine, err = actors.NewEngine(actors.Config{
		ClusterName:       cfg.ClusterName,
		Provider:          provider,
		Host:              cfg.ClusterHost,
		Port:              cfg.ClusterPort,
		AdvertisedAddress: cfg.ClusterAdvertisedAddress,
		ServerURL:         cfg.ServerURL,
		ConversationIdle:  cfg.ConversationIdle,
		TakeoverPause:     cfg.TakeoverPause,
		AIDebounce:        cfg.AIDebounce,
		SendTimeout:       cfg.SendTimeout,
		AISessionIdle:     cfg.AISessionIdle,
		ReminderPoll:      cfg.ReminderPoll,
		CallAnalysis:      elevenlabs.ParseCallAnalysis, // the post-call webhook is ElevenLabs'
	}, m.Store, m.Broker, sms, agent, dialer, m.Log.With("component", "engine"))
	if err != nil {
		return err
	}
	if err := m.Engine.Start(); err != nil {
		return err
	}

	if m.CRM, err = m.crmService(); err != nil {
		return err
	}

	m.HTTP, err = jackhttp.NewServer(jackhttp.Config{
		JWTSecret:  []byte(cfg.JWTSecret),
		JWTTTL:     cfg.JWTTTL,
		ServerURL:  cfg.ServerURL,
		ReadyCheck: m.readyCheck,
		ReadyInfo:  m.readyInfo,

		TrustedProxies: cfg.TrustedProxies,

		SMSWebhooks:                  twilio.Webhooks{AuthToken: cfg.TwilioAuthToken, AccountSIDs: twilioAccounts(*cfg)},
		VoiceWebhooks:                elevenlabs.Webhooks{Secret: cfg.ElevenLabsWebhookSecret},
		ElevenLabsWebhookHeaderName:  cfg.ElevenLabsWebhookHeaderName,
		ElevenLabsWebhookHeaderValue: cfg.ElevenLabsWebhookHeaderValue,

		Numbers:      numbers,
		VoiceNumbers: voiceNumbers,
		Media:        mediaFetcher(sms),
		Integrations: m.CRM,
	}, m.Store, m.Engine, m.Broker, m.Log.With("component", "http"))
	if err != nil {
		return err
	}
	m.HTTP.Registry().MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "jack_active_conversations",
		Help: "Conversation grains active on this node.",
	}, func() float64 { return float64(m.Engine.ActiveConversations()) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "jack_fenced_writes_total",
			Help: "Grains of this node that found their conversation claimed by a newer activation and stopped.",
		}, func() float64 { return float64(m.Engine.FencedWrites()) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "jack_cluster_members",
			Help: "Members in this node's cluster topology.",
		}, func() float64 { return float64(m.Engine.Members()) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name:        "jack_cluster_member_info",
			Help:        "This node's cluster member id (new at every start), as a label; always 1.",
			ConstLabels: prometheus.Labels{"member_id": m.Engine.MemberID()},
		}, func() float64 { return 1 }))
	for _, outcome := range actors.ReconcileOutcomes {
		m.HTTP.Registry().MustRegister(prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name:        "jack_reconciled_sends_total",
			Help:        "Outbound texts this node resolved after a crash left them pending or sending, by outcome.",
			ConstLabels: prometheus.Labels{"outcome": outcome},
		}, func() float64 { return float64(m.Engine.ReconciledSends()[outcome]) }))
	}
	if w, ok := m.Store.(writerStatser); ok {
		registerWriterMetrics(m.HTTP.Registry(), w)
	}
	if err := m.HTTP.Serve(m.ln); err != nil {
		return err
	}
	var janitorCtx context.Context
	janitorCtx, m.stopJanitor = context.WithCancel(context.Background())
	go m.janitor(janitorCtx, time.Hour)
	m.CRM.Start()
	m.HTTP.SetReady(true)
	m.Log.Info("jack is serving", "url", m.url, "store", storeName(*cfg))
	return nil
}

// URL is the base URL the node listens on (for tests and logs).
func (m *Main) URL() string { return m.url }

// Close stops the node in reverse start order: readiness off, HTTP drained, the engine leaves
// the cluster (every grain has committed what it acknowledged), then the broker and the store.
// It tolerates a node that never started and a second call.
func (m *Main) Close() error {
	var errs []error
	if m.HTTP != nil {
		m.HTTP.SetReady(false)
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		errs = append(errs, m.HTTP.Close(ctx))
		cancel()
		m.HTTP, m.ln = nil, nil
	} else if m.ln != nil { // bound but never served
		errs = append(errs, m.ln.Close())
		m.ln = nil
	}
	if m.stopJanitor != nil {
		m.stopJanitor()
		m.stopJanitor = nil
	}
	if m.CRM != nil {
		errs = append(errs, m.CRM.Close())
		m.CRM = nil
	}
	if m.Engine != nil {
		errs = append(errs, m.Engine.Close())
		m.Engine = nil
	}
	if m.Broker != nil {
		errs = append(errs, m.Broker.Close())
		m.Broker = nil
	}
	if m.Store != nil {
		errs = append(errs, m.Store.Close())
		m.Store = nil
	}
	return errors.Join(errs...)
}

// crmService returns the CRM hand-off: webhooks always, ADF e-mail when SMTP_URL is set.
func (m *Main) crmService() (*crm.Service, error) {
	cfg := m.Config
	var mailer *crm.Mailer
	if cfg.SMTPURL != "" {
		var err error
		mailer, err = crm.NewMailer(crm.SMTPConfig{URL: cfg.SMTPURL, From: cfg.SMTPFrom, TLS: cfg.SMTPTLS})
		if err != nil {
			return nil, err
		}
	}
	if cfg.WebhookAllowPrivate {
		m.Log.Warn("JACK_WEBHOOK_ALLOW_PRIVATE is set: CRM webhooks may reach loopback and private addresses")
	}
	return crm.New(m.Store, crm.Config{
		AllowPrivate: cfg.WebhookAllowPrivate,
		RetryBase:    cfg.DeliveryRetryBase,
		Mailer:       mailer,
	}, m.Log.With("component", "crm")), nil
}

// smsSender is Twilio when an account is configured, otherwise the local outbox (nothing
// leaves the machine).
func (m *Main) smsSender() (jack.SMSSender, error) {
	cfg := m.Config
	if cfg.TwilioAccountSID == "" {
		m.Log.Warn("TWILIO_ACCOUNT_SID is not set: texts go to the local outbox and are not sent")
		return offline.NewOutbox(m.Log.With("component", "outbox")), nil
	}
	return twilio.NewClient(twilio.Config{AccountSID: cfg.TwilioAccountSID, AuthToken: cfg.TwilioAuthToken, APIURL: cfg.TwilioAPIURL})
}

// numberProviders returns what buys numbers (the Twilio client, when an account is configured)
// and what imports them into ElevenLabs (its client, when an API key is and Twilio is
// configured: ElevenLabs imports numbers from the Twilio account); nil for none.
func numberProviders(cfg *Config, sms jack.SMSSender, dialer jack.VoiceDialer) (jackhttp.NumberProvider, jackhttp.VoiceNumberProvider) {
	tc, ok := sms.(*twilio.Client)
	if !ok {
		return nil, nil
	}
	numbers := twilio.Numbers{Client: tc}
	if ec, ok := dialer.(*elevenlabs.Client); ok {
		return numbers, elevenlabs.Numbers{Client: ec, TwilioAccountSID: tc.AccountSID(), TwilioAuthToken: cfg.TwilioAuthToken}
	}
	return numbers, nil
}

// mediaFetcher returns what fetches MMS attachments: the Twilio client, when an account is
// configured (attachments live at Twilio behind its credentials); nil for none.
func mediaFetcher(sms jack.SMSSender) jackhttp.MediaFetcher {
	if c, ok := sms.(*twilio.Client); ok {
		return c
	}
	return nil
}

// openBroker returns the Redis broker when REDIS_URL is set, else the in-process one.
func openBroker(ctx context.Context, cfg Config, log *slog.Logger) (jack.Broker, error) {
	if cfg.RedisURL == "" {
		return memory.NewBroker(), nil
	}
	b, err := redis.Open(ctx, cfg.RedisURL, log.With("component", "redis"))
	if err != nil {
		return nil, fmt.Errorf("open redis broker: %w", err)
	}
	return b, nil
}

// voice returns the AI agent for texts and the dialer for outbound calls: ElevenLabs when an API
// key is configured; otherwise the offline agent and no dialer, and nothing calls ElevenLabs.
func (m *Main) voice() (jack.Agent, jack.VoiceDialer, error) {
	cfg := m.Config
	if cfg.ElevenLabsAPIKey == "" {
		return offline.NewAgent(), nil, nil
	}
	c, err := elevenlabs.NewClient(elevenlabs.Config{APIKey: cfg.ElevenLabsAPIKey, AgentID: cfg.ElevenLabsAgentID,
		APIURL: cfg.ElevenLabsAPIURL, Logger: m.Log.With("component", "elevenlabs")})
	if err != nil {
		return nil, nil, err
	}
	return c, c, nil
}

// EventRetention is how long published events are kept for dashboards to replay (see ARCHITECTURE.md, "HTTP contract").
const EventRetention = 30 * 24 * time.Hour

// ReminderRetention is how long fired and canceled follow-up reminders are kept (for the
// timeline's "what was sent when" and for support); pending ones are never dropped.
const ReminderRetention = 30 * 24 * time.Hour

// janitor drops events older than EventRetention, and fired or canceled reminders older than
// ReminderRetention, now and every interval. Every node runs it;
// the deletes are idempotent.
func (m *Main) janitor(ctx context.Context, interval time.Duration) {
	for {
		n, err := m.Store.DeleteEventsBefore(ctx, time.Now().Add(-EventRetention))
		switch {
		case err != nil && ctx.Err() == nil:
			m.Log.Warn("drop old events", "err", err)
		case n > 0:
			m.Log.Info("dropped old events", "count", n)
		}
		n, err = m.Store.DeleteRemindersBefore(ctx, time.Now().Add(-ReminderRetention))
		switch {
		case err != nil && ctx.Err() == nil:
			m.Log.Warn("drop old reminders", "err", err)
		case n > 0:
			m.Log.Info("dropped old reminders", "count", n)
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(interval):
		}
	}
}

// readyCheck is the node's readiness beyond the Store: the broker answers, and — except on
// Kubernetes, where a pod only becomes a member once it is ready (see ARCHITECTURE.md, "Proto.Actor rules") — the cluster
// has a topology, so grains can be reached.
func (m *Main) readyCheck(ctx context.Context) error {
	if p, ok := m.Broker.(interface{ Ping(context.Context) error }); ok {
		if err := p.Ping(ctx); err != nil {
			return jack.Errorf(jack.EUNAVAILABLE, "the event broker does not answer")
		}
	}
	if m.members != nil && !m.members.Serving() {
		return jack.Errorf(jack.EUNAVAILABLE, "this node is no longer a cluster member (declared dead, or its membership lease ran out); it exits to rejoin")
	}
	if m.Config.ClusterProvider != "kubernetes" && !m.Engine.Ready() {
		return jack.Errorf(jack.EUNAVAILABLE, "the cluster has no members yet")
	}
	return nil
}

// readyInfo adds the node's cluster member id and member count to a ready GET /ready.
func (m *Main) readyInfo() map[string]any {
	return map[string]any{"memberId": m.Engine.MemberID(), "clusterMembers": m.Engine.Members(),
		"fencedWrites": m.Engine.FencedWrites(), "reconciledSends": m.Engine.ReconciledSends()}
}

// clusterProvider returns how this node finds the others: nil for the one-member default,
// postgres (a membership table with heartbeats; a node declared dead fences itself, see
// actors/pgmembers), automanaged (a static list of health endpoints, polled every second) or
// Kubernetes (pods labelled by the provider, watched through the API server).
func (m *Main) clusterProvider() (cluster.ClusterProvider, error) {
	cfg := m.Config
	switch cfg.ClusterProvider {
	case "postgres":
		m.members = pgmembers.New(pgmembers.Config{
			URL:       cfg.DatabaseURL,
			Role:      cfg.DatabaseRole,
			Heartbeat: cfg.MembershipHeartbeat,
			Timeout:   cfg.MembershipTimeout,
			OnFenced:  m.fence,
			Logger:    m.Log.With("component", "membership"),
		})
		return m.members, nil
	case "automanaged":
		seeds := cfg.ClusterSeeds
		if len(seeds) == 0 {
			seeds = []string{net.JoinHostPort(cfg.ClusterHost, strconv.Itoa(cfg.ClusterAutomanagedPort))}
		}
		return automanaged.NewWithConfig(time.Second, cfg.ClusterAutomanagedPort, seeds...), nil
	case "kubernetes":
		return kubernetesProvider()
	}
	return nil, nil
}

func storeName(cfg Config) string {
	if cfg.Embedded() {
		return "sqlite"
	}
	return "postgres"
}

func sqlitePath(cfg Config) string { return filepath.Join(cfg.DataDir, "jack.db") }

// openStore migrates and opens the configured store.
func openStore(ctx context.Context, cfg Config, log *slog.Logger) (jack.Store, error) {
	if cfg.Embedded() {
		path := sqlitePath(cfg)
		if err := sqlite.Migrate(ctx, path, "up", io.Discard); err != nil {
			return nil, fmt.Errorf("migrate %s: %w", path, err)
		}
		return sqlite.Open(ctx, path)
	}
	if err := postgres.Migrate(ctx, cfg.DatabaseURL, "up", io.Discard); err != nil {
		return nil, fmt.Errorf("migrate postgres: %w", err)
	}
	return postgres.Open(ctx, postgres.Config{URL: cfg.DatabaseURL, Role: cfg.DatabaseRole,
		Writer: persistence.WriterConfig{Flushers: cfg.WriterFlushers, MaxBatch: cfg.WriterMaxBatch}})
}

// loadSecrets fills the secrets the embedded default may generate: a JWT secret, and a Twilio
// auth token that signs local webhooks (jack simulate) when no Twilio account is configured.
// Both are kept under DataDir so tokens and simulations survive restarts.
func (m *Main) loadSecrets() error {
	cfg := &m.Config
	if cfg.JWTSecret == "" {
		if !cfg.Embedded() {
			return errors.New("JWT_SECRET is required when DATABASE_URL is set")
		}
		s, created, err := loadOrCreateSecret(cfg.DataDir, "jwt_secret")
		if err != nil {
			return err
		}
		cfg.JWTSecret = s
		if created {
			m.Log.Warn("JWT_SECRET is not set: generated one and kept it under the data dir; set JWT_SECRET in production", "path", filepath.Join(cfg.DataDir, "jwt_secret"))
		}
	}
	if cfg.TwilioAuthToken == "" && cfg.Embedded() {
		s, created, err := loadOrCreateSecret(cfg.DataDir, "twilio_auth_token")
		if err != nil {
			return err
		}
		cfg.TwilioAuthToken = s
		if created {
			m.Log.Warn("TWILIO_AUTH_TOKEN is not set: generated a local token that signs simulated webhooks; set TWILIO_* to talk to Twilio")
		}
	}
	return nil
}

// loadOrCreateSecret reads dir/name, or writes a new random secret there (mode 0600).
func loadOrCreateSecret(dir, name string) (secret string, created bool, err error) {
	path := filepath.Join(dir, name)
	if s, err := readSecret(path); err == nil {
		return s, false, nil
	} else if !errors.Is(err, os.ErrNotExist) {
		return "", false, err
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", false, fmt.Errorf("create data dir: %w", err)
	}
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", false, err
	}
	secret = hex.EncodeToString(b)
	if err := os.WriteFile(path, []byte(secret+"\n"), 0o600); err != nil {
		return "", false, fmt.Errorf("write %s: %w", path, err)
	}
	return secret, true, nil
}

// readSecret reads the secret kept at path; an error wrapping os.ErrNotExist when there is none.
func readSecret(path string) (string, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return "", err
	} else if err != nil {
		return "", fmt.Errorf("read %s: %w", path, err)
	}
	if s := strings.TrimSpace(string(b)); len(s) >= 32 {
		return s, nil
	}
	return "", fmt.Errorf("%s holds a secret shorter than 32 characters; delete it to generate a new one", path)
}

// writerStatser is a Store with a group-commit writer (both adapters).
type writerStatser interface {
	WriterStats() persistence.WriterStats
}

// registerWriterMetrics exports the group-commit writer's counters: the average batch size is
// rate(jack_writer_writes_total) / rate(jack_writer_batches_total), the average commit latency
// rate(jack_writer_commit_seconds_total) / rate(jack_writer_batches_total).
func registerWriterMetrics(reg *prometheus.Registry, w writerStatser) {
	counter := func(name, help string, v func(persistence.WriterStats) float64) prometheus.Collector {
		return prometheus.NewCounterFunc(prometheus.CounterOpts{Name: name, Help: help}, func() float64 { return v(w.WriterStats()) })
	}
	reg.MustRegister(
		counter("jack_writer_batches_total", "Group-commit batches committed.",
			func(s persistence.WriterStats) float64 { return float64(s.Batches) }),
		counter("jack_writer_writes_total", "Conversation writes answered by the group-commit writer.",
			func(s persistence.WriterStats) float64 { return float64(s.Writes) }),
		counter("jack_writer_rejected_total", "Writes refused (503) because the writer's queue was full.",
			func(s persistence.WriterStats) float64 { return float64(s.Rejected) }),
		counter("jack_writer_retried_total", "Writes run again because another write of their batch failed.",
			func(s persistence.WriterStats) float64 { return float64(s.Retried) }),
		counter("jack_writer_commit_seconds_total", "Time committed batches took, first statement to COMMIT's answer.",
			func(s persistence.WriterStats) float64 { return s.CommitTime.Seconds() }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "jack_writer_queue_depth", Help: "Writes waiting for the group-commit writer."},
			func() float64 { return float64(w.WriterStats().QueueDepth) }),
	)
}

// twilioAccounts are the accounts whose webhooks the server accepts: the configured account and
// its subaccounts; none (no check) when no account is configured (embedded simulation).
func twilioAccounts(cfg Config) []string {
	if cfg.TwilioAccountSID == "" {
		return nil
	}
	return append([]string{cfg.TwilioAccountSID}, cfg.TwilioSubaccountSIDs...)
}
