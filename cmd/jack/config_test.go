package main

import (
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestLoadConfig(t *testing.T) {
	t.Parallel()
	t.Run("Defaults", func(t *testing.T) {
		cfg, err := LoadConfig(func(string) string { return "" })
		require.NoError(t, err)
		require.Equal(t, ":3001", cfg.Addr)
		require.True(t, cfg.Embedded())
		require.Equal(t, 24*time.Hour, cfg.JWTTTL)
		require.Equal(t, 10*time.Minute, cfg.ConversationIdle)
		require.Equal(t, 30*time.Minute, cfg.TakeoverPause)
		require.Equal(t, 3*time.Second, cfg.AIDebounce)
		require.Equal(t, 5*time.Minute, cfg.AISessionIdle)
		require.Equal(t, "https://api.twilio.com", cfg.TwilioAPIURL)
		require.Equal(t, "jack_app", cfg.DatabaseRole)
		require.Equal(t, "opportunistic", cfg.SMTPTLS)
		require.False(t, cfg.WebhookAllowPrivate)
		require.Equal(t, 30*time.Second, cfg.DeliveryRetryBase)
		require.Empty(t, cfg.TrustedProxies)
		require.Equal(t, 5*time.Second, cfg.MembershipTimeout)
		require.Equal(t, 500*time.Millisecond, cfg.MembershipHeartbeat)
	})
	t.Run("CRM", func(t *testing.T) {
		env := map[string]string{"SMTP_URL": "smtp://u:p@mail.example.com:587", "SMTP_FROM": "jack@dealer.test",
			"SMTP_TLS": "required", "JACK_WEBHOOK_ALLOW_PRIVATE": "1"}
		cfg, err := LoadConfig(func(k string) string { return env[k] })
		require.NoError(t, err)
		require.Equal(t, "required", cfg.SMTPTLS)
		require.True(t, cfg.WebhookAllowPrivate)
	})
	t.Run("TrustedProxiesAndSubaccounts", func(t *testing.T) {
		env := map[string]string{"JACK_TRUSTED_PROXIES": " 10.0.0.0/8, 192.0.2.7 ,", "TWILIO_SUBACCOUNT_SIDS": "AC2,AC3"}
		cfg, err := LoadConfig(func(k string) string { return env[k] })
		require.NoError(t, err)
		require.Equal(t, []string{"10.0.0.0/8", "192.0.2.7"}, cfg.TrustedProxies)
		require.Equal(t, []string{"AC2", "AC3"}, cfg.TwilioSubaccountSIDs)
	})
	t.Run("PostgresMembership", func(t *testing.T) {
		env := map[string]string{"DATABASE_URL": "postgres://h/db", "REDIS_URL": "redis://r:6379", "JWT_SECRET": strings.Repeat("x", 32),
			"CLUSTER_PROVIDER": "Postgres", "JACK_MEMBERSHIP_TIMEOUT": "2s", "JACK_MEMBERSHIP_HEARTBEAT": "100ms"}
		cfg, err := LoadConfig(func(k string) string { return env[k] })
		require.NoError(t, err)
		require.Equal(t, "postgres", cfg.ClusterProvider)
		require.Equal(t, 2*time.Second, cfg.MembershipTimeout)
		require.Equal(t, 100*time.Millisecond, cfg.MembershipHeartbeat)
	})
	for _, tc := range []struct {
		name string
		env  map[string]string
		bad  string
	}{
		{"DatabaseWithoutSecret", map[string]string{"DATABASE_URL": "postgres://h/db"}, "JWT_SECRET"},
		{"ShortSecret", map[string]string{"JWT_SECRET": "short"}, "JWT_SECRET"},
		{"BadPort", map[string]string{"PORT": "http"}, "PORT"},
		{"BadDuration", map[string]string{"JACK_AI_DEBOUNCE": "soon"}, "JACK_AI_DEBOUNCE"},
		{"BadServerURL", map[string]string{"SERVER_URL": "localhost:3001"}, "SERVER_URL"},
		{"BadDatabaseURL", map[string]string{"DATABASE_URL": "mysql://x", "JWT_SECRET": strings.Repeat("x", 32)}, "DATABASE_URL"},
		{"TwilioWithoutToken", map[string]string{"TWILIO_ACCOUNT_SID": "AC1"}, "TWILIO_AUTH_TOKEN"},
		{"ElevenLabsWithoutAgent", map[string]string{"ELEVENLABS_API_KEY": "k"}, "ELEVENLABS_AGENT_ID"},
		{"BadLogLevel", map[string]string{"LOG_LEVEL": "loud"}, "LOG_LEVEL"},
		{"BadSMTPURL", map[string]string{"SMTP_URL": "http://mail.example.com", "SMTP_FROM": "jack@dealer.test"}, "SMTP_URL"},
		{"SMTPWithoutFrom", map[string]string{"SMTP_URL": "smtp://mail.example.com:587"}, "SMTP_FROM"},
		{"BadSMTPFrom", map[string]string{"SMTP_URL": "smtp://mail.example.com:587", "SMTP_FROM": "jack"}, "SMTP_FROM"},
		{"BadSMTPTLS", map[string]string{"SMTP_TLS": "sometimes"}, "SMTP_TLS"},
		{"BadAllowPrivate", map[string]string{"JACK_WEBHOOK_ALLOW_PRIVATE": "maybe"}, "JACK_WEBHOOK_ALLOW_PRIVATE"},
		{"BadRetryBase", map[string]string{"JACK_DELIVERY_RETRY_BASE": "-1s"}, "JACK_DELIVERY_RETRY_BASE"},
		{"BadTrustedProxy", map[string]string{"JACK_TRUSTED_PROXIES": "10.0.0.0/8, lb.internal"}, "JACK_TRUSTED_PROXIES"},
		{"PostgresMembershipWithoutDatabase", map[string]string{"CLUSTER_PROVIDER": "postgres"}, "CLUSTER_PROVIDER"},
		{"UnknownClusterProvider", map[string]string{"CLUSTER_PROVIDER": "consul"}, "must be postgres, automanaged or kubernetes"},
		{"BadMembershipTimeout", map[string]string{"JACK_MEMBERSHIP_TIMEOUT": "-1s"}, "JACK_MEMBERSHIP_TIMEOUT"},
		{"HeartbeatTooSlow", map[string]string{"JACK_MEMBERSHIP_TIMEOUT": "2s", "JACK_MEMBERSHIP_HEARTBEAT": "1s"}, "JACK_MEMBERSHIP_HEARTBEAT"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := LoadConfig(func(k string) string { return tc.env[k] })
			require.Error(t, err)
			require.Contains(t, err.Error(), tc.bad)
		})
	}
}

func TestConfigLogValueRedacts(t *testing.T) {
	t.Parallel()
	env := map[string]string{
		"DATABASE_URL": "postgres://jack:pgsecret@db/jack", "JWT_SECRET": strings.Repeat("j", 40),
		"TWILIO_ACCOUNT_SID": "AC1", "TWILIO_AUTH_TOKEN": "twsecret", "ELEVENLABS_API_KEY": "elsecret", "ELEVENLABS_AGENT_ID": "agent",
		"ELEVENLABS_CONVERSATION_EVENTS_WEBHOOK_SECRET": "whsecret", "ELEVENLABS_WEBHOOK_HEADER_VALUE": "hdrsecret", "REDIS_URL": "redis://:rdsecret@r:6379",
		"SMTP_URL": "smtp://mailer:smtpsecret@mail.example.com:587", "SMTP_FROM": "jack@dealer.test",
	}
	cfg, err := LoadConfig(func(k string) string { return env[k] })
	require.NoError(t, err)
	var b strings.Builder
	slog.New(slog.NewTextHandler(&b, nil)).Info("config", "config", cfg)
	out := b.String()
	for _, secret := range []string{"pgsecret", strings.Repeat("j", 40), "twsecret", "elsecret", "whsecret", "hdrsecret", "rdsecret", "smtpsecret"} {
		require.NotContains(t, out, secret, fmt.Sprintf("%s leaked", secret))
	}
	require.Contains(t, out, "[redacted]")
}

func TestDatabaseWithoutSecretRefusesToStart(t *testing.T) {
	t.Parallel()
	m := NewMain(Config{DatabaseURL: "postgres://x/y"}, nil)
	err := m.loadSecrets()
	require.ErrorContains(t, err, "JWT_SECRET")
}
