package main

import (
	"cmp"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/jack-auto/jack"
	"github.com/jack-auto/jack/actors/pgmembers"
	"github.com/jack-auto/jack/crm"
)

// Config is the whole configuration of a jack process, read from the environment (the seed's
// variable names where the seed has one). Packages never read the environment themselves.
type Config struct {
	// Addr is where HTTP listens. Defaults to ":" + PORT (PORT defaults to 3001).
	Addr string
	// ServerURL is the public base URL (scheme+host) that Twilio signs webhooks against and that
	// callbacks are built from (SERVER_URL). Defaults to http://localhost:<port> of the bound listener.
	ServerURL string
	// DataDir keeps the embedded database and generated secrets (JACK_DATA_DIR). Defaults to ./data.
	DataDir string

	// TrustedProxies are the IPs or CIDRs of the load balancers in front of the node
	// (JACK_TRUSTED_PROXIES, comma-separated): only from them is X-Forwarded-For believed, so
	// the login limiter sees each client's address. Empty: the socket's peer is the client.
	TrustedProxies []string

	// DatabaseURL switches the Store to Postgres (DATABASE_URL). Empty: SQLite under DataDir.
	DatabaseURL string
	// WriterFlushers is how many group-commit batches commit at once on Postgres
	// (JACK_WRITER_FLUSHERS). Defaults to 2.
	WriterFlushers int
	// WriterMaxBatch bounds the writes of one group-commit batch (JACK_WRITER_MAX_BATCH). Defaults to 64.
	WriterMaxBatch int
	// DatabaseRole is the Postgres role the app switches to so RLS applies (JACK_DB_ROLE).
	// Defaults to jack_app; "none" keeps the connecting role.
	DatabaseRole string
	// RedisURL switches the Broker to Redis (REDIS_URL). Empty: in-process broker.
	RedisURL string

	// JWTSecret signs session tokens (JWT_SECRET). Required with DatabaseURL; in the embedded
	// default a missing secret is generated once and kept under DataDir.
	JWTSecret string
	// JWTTTL is how long a session token lasts (JWT_TTL). Defaults to 24h.
	JWTTTL time.Duration

	TwilioAccountSID string // TWILIO_ACCOUNT_SID; empty: texts go to the local outbox, nothing is sent
	TwilioAuthToken  string // TWILIO_AUTH_TOKEN; verifies webhook signatures and authenticates sends
	// TwilioSubaccountSIDs are subaccounts of TwilioAccountSID whose webhooks are accepted too
	// (TWILIO_SUBACCOUNT_SIDS, comma-separated). With TwilioAccountSID set, a webhook naming any
	// other AccountSid is refused.
	TwilioSubaccountSIDs []string
	// TwilioAPIURL is Twilio's REST host (TWILIO_API_URL). Defaults to https://api.twilio.com.
	TwilioAPIURL string

	ElevenLabsAPIKey        string // ELEVENLABS_API_KEY; empty: the offline agent answers texts
	ElevenLabsAgentID       string // ELEVENLABS_AGENT_ID
	ElevenLabsWebhookSecret string // ELEVENLABS_CONVERSATION_EVENTS_WEBHOOK_SECRET (post-call HMAC)
	// ElevenLabsAPIURL is ElevenLabs' REST host (ELEVENLABS_API_URL). Defaults to https://api.elevenlabs.io.
	ElevenLabsAPIURL string
	// ElevenLabsWebhookHeaderName/Value authenticate the conversation-initiation webhook
	// (ELEVENLABS_WEBHOOK_HEADER_NAME / ELEVENLABS_WEBHOOK_HEADER_VALUE). Name defaults to X-Jack-Webhook-Secret.
	ElevenLabsWebhookHeaderName  string
	ElevenLabsWebhookHeaderValue string

	// ConversationIdle passivates a conversation grain after this long without messages
	// (JACK_CONVERSATION_IDLE). Defaults to 10m.
	ConversationIdle time.Duration
	// TakeoverPause pauses the AI after a staff member's manual text (JACK_TAKEOVER_PAUSE). Defaults to 30m.
	TakeoverPause time.Duration
	// AIDebounce waits for follow-up texts before the AI replies (JACK_AI_DEBOUNCE). Defaults to 3s.
	AIDebounce time.Duration
	// SendTimeout bounds one provider call of an outbound text from its attempt mark
	// (JACK_SEND_TIMEOUT); a node that takes a conversation over looks up a text another node
	// attempted only after it. Defaults to 30s.
	SendTimeout time.Duration
	// AISessionIdle closes an idle AI session (JACK_AI_SESSION_IDLE). Defaults to 5m.
	AISessionIdle time.Duration
	// ReminderPoll is how often this node claims due follow-up reminders (JACK_REMINDER_POLL).
	// Defaults to 5s.
	ReminderPoll time.Duration

	// SMTPURL is where ADF e-mail to CRMs leaves (SMTP_URL), smtp://user:pass@host:587 (STARTTLS
	// whenever the server offers it) or smtps://…:465. Empty: adf_email deliveries fail with
	// "SMTP is not configured" until it is set.
	SMTPURL string
	// SMTPFrom is the sender of ADF e-mail (SMTP_FROM). Required with SMTPURL.
	SMTPFrom string
	// SMTPTLS is "opportunistic" (default: STARTTLS when offered) or "required" (SMTP_TLS).
	SMTPTLS string
	// WebhookAllowPrivate lets CRM webhooks reach loopback, private and link-local addresses
	// (JACK_WEBHOOK_ALLOW_PRIVATE=1): on-premises CRMs, tests. Defaults to refusing them.
	WebhookAllowPrivate bool
	// DeliveryRetryBase is the first retry's nominal gap of a failed CRM delivery; gaps double
	// up to an hour, for 24 hours (JACK_DELIVERY_RETRY_BASE). Defaults to 30s.
	DeliveryRetryBase time.Duration

	// ClusterProvider makes the process one node of a cluster (CLUSTER_PROVIDER): "postgres"
	// (a membership table in DATABASE_URL; a node declared dead exits with ExitRejoin),
	// "automanaged" (static seed list; LAN, loopback) or "kubernetes". Empty: a one-member
	// cluster. A cluster needs DATABASE_URL and REDIS_URL, so every node shares the data and
	// the events.
	ClusterProvider string
	// MembershipTimeout is how old a node's last heartbeat may be, by the database clock,
	// before the others declare it dead (JACK_MEMBERSHIP_TIMEOUT; CLUSTER_PROVIDER=postgres).
	// A node stops serving on its own after half of it without a heartbeat. Defaults to 5s.
	MembershipTimeout time.Duration
	// MembershipHeartbeat is how often a node heartbeats and refreshes the membership
	// (JACK_MEMBERSHIP_HEARTBEAT; CLUSTER_PROVIDER=postgres). At most a quarter of
	// MembershipTimeout. Defaults to 500ms.
	MembershipHeartbeat time.Duration
	// ClusterName separates clusters sharing a network (CLUSTER_NAME). Defaults to jack.
	ClusterName string
	// ClusterHost and ClusterPort are where the node listens for other nodes (CLUSTER_HOST,
	// CLUSTER_PORT). Default 127.0.0.1 and 0 (any free port; automanaged and kubernetes
	// advertise the bound port).
	ClusterHost string
	ClusterPort int
	// ClusterAdvertisedAddress is how other nodes reach this one, host:port
	// (CLUSTER_ADVERTISED_ADDRESS), when it differs from ClusterHost:ClusterPort (containers).
	ClusterAdvertisedAddress string
	// ClusterSeeds are the automanaged health endpoints of every node, host:port, comma-separated
	// (CLUSTER_SEEDS). Defaults to this node's own.
	ClusterSeeds []string
	// ClusterAutomanagedPort is this node's automanaged health port (CLUSTER_AUTOMANAGED_PORT).
	// Defaults to 6330.
	ClusterAutomanagedPort int

	LogLevel  slog.Level // LOG_LEVEL: debug, info, warn, error. Defaults to info.
	LogFormat string     // LOG_FORMAT: text or json. Defaults to text.
}

// LoadConfig reads the configuration through getenv (os.Getenv in main, a map in tests), fills
// defaults and validates it for serving, naming the variable at fault.
func LoadConfig(getenv func(string) string) (Config, error) {
	return loadConfig(getenv, true)
}

// loadConfig is LoadConfig; signs says whether the command signs session tokens (serve), so
// that DATABASE_URL requires JWT_SECRET. Other commands (migrate, import, audit) never sign a
// token and run without it.
func loadConfig(getenv func(string) string, signs bool) (Config, error) {
	var errs []string
	dur := func(name string, def time.Duration) time.Duration {
		v := strings.TrimSpace(getenv(name))
		if v == "" {
			return def
		}
		d, err := time.ParseDuration(v)
		if err != nil || d <= 0 {
			errs = append(errs, fmt.Sprintf("%s: %q is not a positive duration such as 30s or 10m", name, v))
			return def
		}
		return d
	}
	env := func(name string) string { return strings.TrimSpace(getenv(name)) }

	port := cmp.Or(env("PORT"), "3001")
	if p, err := strconv.Atoi(port); err != nil || p < 0 || p > 65535 {
		errs = append(errs, fmt.Sprintf("PORT: %q is not a port number", port))
	}
	c := Config{
		Addr:                         cmp.Or(env("JACK_ADDR"), ":"+port),
		ServerURL:                    strings.TrimRight(env("SERVER_URL"), "/"),
		DataDir:                      cmp.Or(env("JACK_DATA_DIR"), "./data"),
		DatabaseURL:                  env("DATABASE_URL"),
		DatabaseRole:                 cmp.Or(env("JACK_DB_ROLE"), "jack_app"),
		RedisURL:                     env("REDIS_URL"),
		JWTSecret:                    env("JWT_SECRET"),
		JWTTTL:                       dur("JWT_TTL", 24*time.Hour),
		TwilioAccountSID:             env("TWILIO_ACCOUNT_SID"),
		TwilioAuthToken:              env("TWILIO_AUTH_TOKEN"),
		TwilioSubaccountSIDs:         list(env("TWILIO_SUBACCOUNT_SIDS")),
		TrustedProxies:               list(env("JACK_TRUSTED_PROXIES")),
		TwilioAPIURL:                 strings.TrimRight(cmp.Or(env("TWILIO_API_URL"), "https://api.twilio.com"), "/"),
		ElevenLabsAPIKey:             env("ELEVENLABS_API_KEY"),
		ElevenLabsAgentID:            env("ELEVENLABS_AGENT_ID"),
		ElevenLabsWebhookSecret:      env("ELEVENLABS_CONVERSATION_EVENTS_WEBHOOK_SECRET"),
		ElevenLabsAPIURL:             strings.TrimRight(cmp.Or(env("ELEVENLABS_API_URL"), "https://api.elevenlabs.io"), "/"),
		ElevenLabsWebhookHeaderName:  cmp.Or(env("ELEVENLABS_WEBHOOK_HEADER_NAME"), "X-Jack-Webhook-Secret"),
		ElevenLabsWebhookHeaderValue: env("ELEVENLABS_WEBHOOK_HEADER_VALUE"),
		ConversationIdle:             dur("JACK_CONVERSATION_IDLE", 10*time.Minute),
		TakeoverPause:                dur("JACK_TAKEOVER_PAUSE", 30*time.Minute),
		AIDebounce:                   dur("JACK_AI_DEBOUNCE", 3*time.Second),
		SendTimeout:                  dur("JACK_SEND_TIMEOUT", 30*time.Second),
		AISessionIdle:                dur("JACK_AI_SESSION_IDLE", 5*time.Minute),
		ReminderPoll:                 dur("JACK_REMINDER_POLL", 5*time.Second),
		SMTPURL:                      env("SMTP_URL"),
		SMTPFrom:                     env("SMTP_FROM"),
		SMTPTLS:                      strings.ToLower(cmp.Or(env("SMTP_TLS"), crm.TLSOpportunistic)),
		DeliveryRetryBase:            dur("JACK_DELIVERY_RETRY_BASE", 30*time.Second),
		LogFormat:                    strings.ToLower(cmp.Or(env("LOG_FORMAT"), "text")),
		ClusterProvider:              strings.ToLower(env("CLUSTER_PROVIDER")),
		ClusterName:                  cmp.Or(env("CLUSTER_NAME"), "jack"),
		MembershipTimeout:            dur("JACK_MEMBERSHIP_TIMEOUT", pgmembers.DefaultTimeout),
		MembershipHeartbeat:          dur("JACK_MEMBERSHIP_HEARTBEAT", pgmembers.DefaultHeartbeat),
		ClusterHost:                  cmp.Or(env("CLUSTER_HOST"), "127.0.0.1"),
		ClusterAdvertisedAddress:     env("CLUSTER_ADVERTISED_ADDRESS"),
	}
	number := func(name string, def int) int {
		v := env(name)
		if v == "" {
			return def
		}
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 || n > 65535 {
			errs = append(errs, fmt.Sprintf("%s: %q is not a port number", name, v))
			return def
		}
		return n
	}
	count := func(name string, def, most int) int {
		v := env(name)
		if v == "" {
			return def
		}
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > most {
			errs = append(errs, fmt.Sprintf("%s: %q is not a number from 1 to %d", name, v, most))
			return def
		}
		return n
	}
	c.WriterFlushers = count("JACK_WRITER_FLUSHERS", 2, 64)
	c.WriterMaxBatch = count("JACK_WRITER_MAX_BATCH", 64, 1000)
	switch v := strings.ToLower(env("JACK_WEBHOOK_ALLOW_PRIVATE")); v {
	case "", "0", "false", "no":
	case "1", "true", "yes":
		c.WebhookAllowPrivate = true
	default:
		errs = append(errs, fmt.Sprintf("JACK_WEBHOOK_ALLOW_PRIVATE: %q must be 1 or 0", v))
	}
	c.ClusterPort = number("CLUSTER_PORT", 0)
	c.ClusterAutomanagedPort = number("CLUSTER_AUTOMANAGED_PORT", 6330)
	for _, seed := range strings.Split(env("CLUSTER_SEEDS"), ",") {
		if seed = strings.TrimSpace(seed); seed != "" {
			c.ClusterSeeds = append(c.ClusterSeeds, seed)
		}
	}
	if err := c.LogLevel.UnmarshalText([]byte(cmp.Or(env("LOG_LEVEL"), "info"))); err != nil {
		errs = append(errs, fmt.Sprintf("LOG_LEVEL: %q is not one of debug, info, warn, error", env("LOG_LEVEL")))
	}
	errs = append(errs, c.validate(signs)...)
	if len(errs) > 0 {
		return c, fmt.Errorf("invalid configuration:\n  %s", strings.Join(errs, "\n  "))
	}
	return c, nil
}

func (c *Config) validate(signs bool) []string {
	var errs []string
	checkURL := func(name, v string, schemes ...string) {
		u, err := url.Parse(v)
		if err != nil || u.Host == "" || !slices.Contains(schemes, u.Scheme) {
			errs = append(errs, fmt.Sprintf("%s: %q must be a %s URL", name, v, strings.Join(schemes, " or ")))
		}
	}
	if c.ServerURL != "" {
		checkURL("SERVER_URL", c.ServerURL, "http", "https")
	}
	checkURL("TWILIO_API_URL", c.TwilioAPIURL, "http", "https")
	checkURL("ELEVENLABS_API_URL", c.ElevenLabsAPIURL, "http", "https")
	if c.DatabaseURL != "" {
		checkURL("DATABASE_URL", c.DatabaseURL, "postgres", "postgresql")
		if c.JWTSecret == "" && signs {
			errs = append(errs, "JWT_SECRET: required when DATABASE_URL is set (every node must sign tokens with the same secret); generate one with `openssl rand -hex 32`")
		}
	}
	if c.RedisURL != "" {
		checkURL("REDIS_URL", c.RedisURL, "redis", "rediss")
	}
	if c.JWTSecret != "" && len(c.JWTSecret) < 32 {
		errs = append(errs, "JWT_SECRET: must be at least 32 characters")
	}
	for _, p := range c.TrustedProxies {
		if _, err := netip.ParsePrefix(p); err != nil {
			if _, err := netip.ParseAddr(p); err != nil {
				errs = append(errs, fmt.Sprintf("JACK_TRUSTED_PROXIES: %q is not an IP or CIDR", p))
			}
		}
	}
	if c.TwilioAccountSID != "" && c.TwilioAuthToken == "" {
		errs = append(errs, "TWILIO_AUTH_TOKEN: required when TWILIO_ACCOUNT_SID is set")
	}
	if c.ElevenLabsAPIKey != "" && c.ElevenLabsAgentID == "" {
		errs = append(errs, "ELEVENLABS_AGENT_ID: required when ELEVENLABS_API_KEY is set")
	}
	if c.SMTPURL != "" {
		if _, err := crm.ParseSMTPURL(c.SMTPURL); err != nil {
			errs = append(errs, fmt.Sprintf("SMTP_URL: %s (e.g. smtp://user:pass@host:587)", err))
		}
		if c.SMTPFrom == "" {
			errs = append(errs, "SMTP_FROM: required when SMTP_URL is set")
		}
	}
	if c.SMTPFrom != "" && jack.ValidateEmail(c.SMTPFrom) != "" {
		errs = append(errs, fmt.Sprintf("SMTP_FROM: %q is not an e-mail address", c.SMTPFrom))
	}
	if c.SMTPTLS != crm.TLSOpportunistic && c.SMTPTLS != crm.TLSRequired {
		errs = append(errs, fmt.Sprintf("SMTP_TLS: %q must be opportunistic or required", c.SMTPTLS))
	}
	switch c.ClusterProvider {
	case "":
	case "automanaged", "kubernetes", "postgres":
		if c.DatabaseURL == "" || c.RedisURL == "" {
			errs = append(errs, "CLUSTER_PROVIDER: a cluster needs DATABASE_URL and REDIS_URL (every node must share the data and the events)")
		}
		for _, seed := range c.ClusterSeeds {
			if _, _, err := net.SplitHostPort(seed); err != nil {
				errs = append(errs, fmt.Sprintf("CLUSTER_SEEDS: %q is not host:port", seed))
			}
		}
	default:
		errs = append(errs, fmt.Sprintf("CLUSTER_PROVIDER: %q must be postgres, automanaged or kubernetes", c.ClusterProvider))
	}
	if c.MembershipHeartbeat > c.MembershipTimeout/4 {
		errs = append(errs, fmt.Sprintf("JACK_MEMBERSHIP_HEARTBEAT: %s must be at most a quarter of JACK_MEMBERSHIP_TIMEOUT (%s), so a node's lease spans several heartbeats",
			c.MembershipHeartbeat, c.MembershipTimeout))
	}
	if a := c.ClusterAdvertisedAddress; a != "" {
		if _, _, err := net.SplitHostPort(a); err != nil {
			errs = append(errs, fmt.Sprintf("CLUSTER_ADVERTISED_ADDRESS: %q is not host:port", a))
		}
	}
	if c.LogFormat != "text" && c.LogFormat != "json" {
		errs = append(errs, fmt.Sprintf("LOG_FORMAT: %q must be text or json", c.LogFormat))
	}
	return errs
}

// Embedded reports whether the process runs on the embedded default store.
func (c Config) Embedded() bool { return c.DatabaseURL == "" }

// LogValue prints the configuration with secrets redacted, so it can be logged at start.
func (c Config) LogValue() slog.Value {
	secret := func(s string) string {
		if s == "" {
			return ""
		}
		return "[redacted]"
	}
	return slog.GroupValue(
		slog.String("addr", c.Addr),
		slog.String("server_url", c.ServerURL),
		slog.String("data_dir", c.DataDir),
		slog.String("database_url", redactURL(c.DatabaseURL)),
		slog.String("database_role", c.DatabaseRole),
		slog.String("redis_url", redactURL(c.RedisURL)),
		slog.String("jwt_secret", secret(c.JWTSecret)),
		slog.Duration("jwt_ttl", c.JWTTTL),
		slog.String("twilio_account_sid", c.TwilioAccountSID),
		slog.String("twilio_auth_token", secret(c.TwilioAuthToken)),
		slog.String("twilio_api_url", c.TwilioAPIURL),
		slog.String("elevenlabs_api_key", secret(c.ElevenLabsAPIKey)),
		slog.String("elevenlabs_agent_id", c.ElevenLabsAgentID),
		slog.String("elevenlabs_webhook_secret", secret(c.ElevenLabsWebhookSecret)),
		slog.String("elevenlabs_api_url", c.ElevenLabsAPIURL),
		slog.String("elevenlabs_webhook_header_name", c.ElevenLabsWebhookHeaderName),
		slog.String("elevenlabs_webhook_header_value", secret(c.ElevenLabsWebhookHeaderValue)),
		slog.Duration("conversation_idle", c.ConversationIdle),
		slog.Duration("takeover_pause", c.TakeoverPause),
		slog.Duration("ai_debounce", c.AIDebounce),
		slog.Duration("send_timeout", c.SendTimeout),
		slog.Duration("ai_session_idle", c.AISessionIdle),
		slog.Duration("reminder_poll", c.ReminderPoll),
		slog.String("smtp_url", redactURL(c.SMTPURL)),
		slog.String("smtp_from", c.SMTPFrom),
		slog.String("smtp_tls", c.SMTPTLS),
		slog.Bool("webhook_allow_private", c.WebhookAllowPrivate),
		slog.Duration("delivery_retry_base", c.DeliveryRetryBase),
		slog.String("log_level", c.LogLevel.String()),
		slog.String("cluster_provider", c.ClusterProvider),
		slog.String("cluster_name", c.ClusterName),
		slog.Duration("membership_timeout", c.MembershipTimeout),
		slog.Duration("membership_heartbeat", c.MembershipHeartbeat),
		slog.String("cluster_address", net.JoinHostPort(c.ClusterHost, strconv.Itoa(c.ClusterPort))),
		slog.String("cluster_advertised_address", c.ClusterAdvertisedAddress),
		slog.Any("cluster_seeds", c.ClusterSeeds),
	)
}

// redactURL hides a URL's password (postgres://user:secret@host → postgres://user:xxxxx@host).
func redactURL(s string) string {
	if s == "" {
		return ""
	}
	u, err := url.Parse(s)
	if err != nil {
		return "[unparseable]"
	}
	return u.Redacted()
}

// list splits a comma-separated variable, dropping blanks.
func list(v string) []string {
	var out []string
	for _, item := range strings.Split(v, ",") {
		if item = strings.TrimSpace(item); item != "" {
			out = append(out, item)
		}
	}
	return out
}
