package crm

import (
	"context"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"

	mail "github.com/wneessen/go-mail"
)

// SMTP TLS modes (SMTP_TLS).
const (
	TLSOpportunistic = "opportunistic" // STARTTLS whenever the server offers it
	TLSRequired      = "required"      // refuse a server without STARTTLS
)

// SMTPConfig says how ADF e-mail leaves: URL smtp://user:pass@host:587 (STARTTLS when offered,
// or always with TLS required) or smtps://…:465 (TLS from the first byte).
type SMTPConfig struct {
	URL  string
	From string
	TLS  string // TLSOpportunistic (default) or TLSRequired
	// Timeout bounds one delivery. Defaults to 10 s.
	Timeout time.Duration
}

// ParseSMTPURL checks an SMTP_URL: scheme smtp or smtps, a host, a numeric port if any.
func ParseSMTPURL(raw string) (*url.URL, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return nil, fmt.Errorf("not a URL")
	}
	if u.Scheme != "smtp" && u.Scheme != "smtps" {
		return nil, fmt.Errorf("scheme must be smtp or smtps")
	}
	if u.Hostname() == "" {
		return nil, fmt.Errorf("no host")
	}
	if p := u.Port(); p != "" {
		if _, err := strconv.Atoi(p); err != nil {
			return nil, fmt.Errorf("bad port")
		}
	}
	return u, nil
}

// Mailer sends ADF e-mail through one SMTP server with go-mail.
type Mailer struct {
	cfg  SMTPConfig
	opts []mail.Option
	host string
}

// NewMailer checks cfg and returns a Mailer.
func NewMailer(cfg SMTPConfig) (*Mailer, error) {
	u, err := ParseSMTPURL(cfg.URL)
	if err != nil {
		return nil, fmt.Errorf("SMTP_URL: %w", err)
	}
	if cfg.From == "" {
		return nil, fmt.Errorf("SMTP_FROM is required with SMTP_URL")
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 10 * time.Second
	}
	port := 587
	if u.Scheme == "smtps" {
		port = 465
	}
	if p := u.Port(); p != "" {
		port, _ = strconv.Atoi(p)
	}
	opts := []mail.Option{mail.WithPort(port), mail.WithTimeout(cfg.Timeout)}
	switch {
	case u.Scheme == "smtps":
		opts = append(opts, mail.WithSSL())
	case cfg.TLS == TLSRequired:
		opts = append(opts, mail.WithTLSPolicy(mail.TLSMandatory))
	default:
		opts = append(opts, mail.WithTLSPolicy(mail.TLSOpportunistic))
	}
	if u.User != nil && u.User.Username() != "" {
		pass, _ := u.User.Password()
		opts = append(opts, mail.WithSMTPAuth(mail.SMTPAuthAutoDiscover),
			mail.WithUsername(u.User.Username()), mail.WithPassword(pass))
	}
	return &Mailer{cfg: cfg, opts: opts, host: u.Hostname()}, nil
}

// Email is one ADF message.
type Email struct {
	To        []string
	Subject   string
	MessageID string // stable per event, so a CRM can drop a resent copy
	Body      []byte // the ADF XML
}

// Send delivers e. The body is the ADF document as text/plain, the form CRMs' lead inboxes parse.
func (m *Mailer) Send(ctx context.Context, e Email) error {
	msg := mail.NewMsg()
	if err := msg.From(m.cfg.From); err != nil {
		return fmt.Errorf("SMTP_FROM: %w", err)
	}
	if err := msg.To(e.To...); err != nil {
		return fmt.Errorf("recipient: %w", err)
	}
	msg.Subject(e.Subject)
	msg.SetMessageIDWithValue(e.MessageID)
	msg.SetDate()
	msg.SetBodyString(mail.TypeTextPlain, string(e.Body))
	client, err := mail.NewClient(m.host, m.opts...)
	if err != nil {
		return fmt.Errorf("smtp client: %w", err)
	}
	ctx, cancel := context.WithTimeout(ctx, m.cfg.Timeout)
	defer cancel()
	if err := client.DialAndSendWithContext(ctx, msg); err != nil {
		return fmt.Errorf("smtp: %w", err)
	}
	return nil
}

// recipients splits a "to" list on commas.
func recipients(to string) []string {
	var out []string
	for _, r := range strings.Split(to, ",") {
		if r = strings.TrimSpace(r); r != "" {
			out = append(out, r)
		}
	}
	return out
}
