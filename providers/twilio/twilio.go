// Package twilio is Jack's edge to Twilio: it sends SMS through twilio-go's REST client against a
// configurable API host, translates Twilio's refusals into domain errors, and owns Twilio's
// webhook protocol (X-Twilio-Signature signing and checking, the exact forms Twilio posts).
package twilio

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"regexp"
	"time"

	"github.com/jack-auto/jack"
	"github.com/twilio/twilio-go/client"
	openapi "github.com/twilio/twilio-go/rest/api/v2010"
)

// DefaultAPIURL is Twilio's REST API host.
const DefaultAPIURL = "https://api.twilio.com"

// DefaultTimeout bounds one REST call when neither Config.Timeout nor the caller's context does;
// it is twilio-go's own default.
const DefaultTimeout = 10 * time.Second

// ErrorOptedOut is Twilio's error for a send to a recipient who texted STOP to the sender.
const ErrorOptedOut = 21610

var _ jack.SMSSender = (*Client)(nil)

// Config configures a Client.
type Config struct {
	// AccountSID and AuthToken are the account's credentials (Basic auth). Required; twilio-go
	// refuses anything but letters and digits.
	AccountSID string
	AuthToken  string
	// APIURL is the REST API as a bare scheme+host, so regional setups, proxies and fakes need
	// no code (see ARCHITECTURE.md, "HTTP contract"). Defaults to DefaultAPIURL.
	APIURL string
	// HTTPClient carries the transport (proxies, TLS). Its Timeout, if set, is used when Timeout
	// is zero. Defaults to a client on http.DefaultTransport.
	HTTPClient *http.Client
	// Timeout bounds one REST call. Defaults to HTTPClient.Timeout, then DefaultTimeout.
	Timeout time.Duration
}

// alphanumeric is what twilio-go accepts as credentials; it checks only when sending, so
// NewClient checks first and names the field.
var alphanumeric = regexp.MustCompile(`^[A-Za-z0-9]+$`)

// WithDefaults returns a copy of cfg with blank fields filled.
func (cfg Config) WithDefaults() Config {
	cfg.APIURL = cmp.Or(cfg.APIURL, DefaultAPIURL)
	if cfg.HTTPClient == nil {
		cfg.HTTPClient = &http.Client{}
	}
	cfg.Timeout = cmp.Or(cfg.Timeout, cfg.HTTPClient.Timeout, DefaultTimeout)
	return cfg
}

func (cfg Config) validate() (*url.URL, error) {
	if !alphanumeric.MatchString(cfg.AccountSID) {
		return nil, errors.New("twilio: AccountSID is required and must be letters and digits")
	}
	if !alphanumeric.MatchString(cfg.AuthToken) {
		return nil, errors.New("twilio: AuthToken is required and must be letters and digits")
	}
	u, err := url.Parse(cfg.APIURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" ||
		(u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.User != nil {
		return nil, fmt.Errorf("twilio: APIURL must be a bare scheme+host such as %s, got %q", DefaultAPIURL, cfg.APIURL)
	}
	if cfg.Timeout < 0 {
		return nil, errors.New("twilio: Timeout must not be negative")
	}
	return u, nil
}

// Client sends SMS through Twilio's REST API. It is safe for concurrent use.
type Client struct {
	cfg   Config
	api   *url.URL // scheme and host every request is sent to
	creds *client.Credentials
	// resolve looks up a media redirect's host (tests replace it).
	resolve func(ctx context.Context, host string) ([]net.IPAddr, error)
}

// NewClient returns a Client for cfg. It does not contact Twilio.
func NewClient(cfg Config) (*Client, error) {
	cfg = cfg.WithDefaults()
	api, err := cfg.validate()
	if err != nil {
		return nil, err
	}
	return &Client{cfg: cfg, api: api, creds: client.NewCredentials(cfg.AccountSID, cfg.AuthToken), resolve: net.DefaultResolver.LookupIPAddr}, nil
}

// AccountSID returns the account the client sends from.
func (c *Client) AccountSID() string { return c.cfg.AccountSID }

// SendSMS sends msg (an MMS when it has MediaURLs) and returns its sid and the status of the
// create response (queued, or accepted through a Messaging Service); Twilio sends no callback
// for that first status.
// Returns ECONFLICT with reason opted_out for Twilio 21610 and EPROVIDER when Twilio refuses
// the message or cannot be reached. Errors also wrap the cause (the Twilio error or ctx.Err()).
func (c *Client) SendSMS(ctx context.Context, msg jack.SMSRequest) (*jack.SMSResult, error) {
	ctx, cancel := context.WithTimeout(ctx, c.cfg.Timeout)
	defer cancel()

	params := &openapi.CreateMessageParams{}
	params.SetFrom(msg.From).SetTo(msg.To)
	if msg.Body != "" || len(msg.MediaURLs) == 0 { // an MMS may be media alone
		params.SetBody(msg.Body)
	}
	if len(msg.MediaURLs) > 0 {
		params.SetMediaUrl(msg.MediaURLs) // one MediaUrl parameter per attachment
	}
	if msg.StatusCallback != "" {
		params.SetStatusCallback(msg.StatusCallback)
	}
	m, err := c.service(ctx).CreateMessage(params)
	if err != nil {
		return nil, fmt.Errorf("twilio: create message: %w", translateError(ctx, err))
	}
	if m.Sid == nil || *m.Sid == "" {
		return nil, fmt.Errorf("twilio: create message: %w", unexpected(errors.New("response has no sid")))
	}
	return &jack.SMSResult{ProviderMessageID: *m.Sid, Status: cmp.Or(deref(m.Status), jack.StatusQueued)}, nil
}

// service returns twilio-go's v2010 API bound to ctx. twilio-go builds every request with
// context.Background() and a hard-coded host, so each call gets its own cheap client whose
// transport swaps in ctx and the configured host; cancelling ctx aborts the call at once.
// The request handler is built by hand because NewRequestHandler reads TWILIO_EDGE/REGION
// from the environment.
func (c *Client) service(ctx context.Context) *openapi.ApiService {
	hc := *c.cfg.HTTPClient
	hc.Timeout = 0 // the deadline lives in ctx: a client timeout would be lost with the swap
	next := hc.Transport
	if next == nil {
		next = http.DefaultTransport
	}
	hc.Transport = &transport{ctx: ctx, api: c.api, next: next}
	if hc.CheckRedirect == nil {
		hc.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	}
	bc := &client.Client{Credentials: c.creds, HTTPClient: &hc}
	bc.SetAccountSid(c.cfg.AccountSID)
	return openapi.NewApiService(&client.RequestHandler{Client: bc})
}

// maxErrorBody bounds how much of an error response is kept.
const maxErrorBody = 64 << 10

// transport sends twilio-go's requests to the configured host under the call's context.
type transport struct {
	ctx  context.Context
	api  *url.URL
	next http.RoundTripper
}

func (t *transport) RoundTrip(req *http.Request) (*http.Response, error) {
	r := req.Clone(t.ctx)
	r.URL.Scheme, r.URL.Host, r.Host = t.api.Scheme, t.api.Host, ""
	resp, err := t.next.RoundTrip(r)
	if err != nil || resp.StatusCode < 400 {
		return resp, err
	}
	// twilio-go decodes error bodies but never closes them, which would pin the connection;
	// hand it a copy and release the connection here.
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxErrorBody))
	resp.Body.Close()
	if err != nil {
		return nil, err
	}
	resp.Body = io.NopCloser(bytes.NewReader(body))
	return resp, nil
}

// translateError turns what twilio-go returned into a domain error that also wraps the cause.
func translateError(ctx context.Context, err error) error {
	var rest *client.TwilioRestError
	var transportErr *url.Error
	var jerr *jack.Error
	switch {
	case errors.As(err, &rest) && rest.Code == ErrorOptedOut:
		jerr = &jack.Error{Code: jack.ECONFLICT, Reason: "opted_out", Message: "The customer has opted out of text messages."}
	case errors.As(err, &rest):
		jerr = &jack.Error{
			Code:    jack.EPROVIDER,
			Message: fmt.Sprintf("Twilio refused the message (%d): %s", rest.Code, rest.Message),
			Details: map[string]any{"twilioCode": rest.Code},
		}
	case errors.Is(ctx.Err(), context.Canceled):
		jerr = &jack.Error{Code: jack.EPROVIDER, Message: "The request to Twilio was canceled."}
	case ctx.Err() != nil || errors.As(err, &transportErr):
		jerr = &jack.Error{Code: jack.EPROVIDER, Message: "Twilio could not be reached."}
	default: // an answer twilio-go could not decode (a proxy's HTML error page, say)
		return unexpected(err)
	}
	return fmt.Errorf("%w: %w", jerr, err)
}

func unexpected(err error) error {
	return fmt.Errorf("%w: %w", &jack.Error{Code: jack.EPROVIDER, Message: "Twilio returned an unexpected response."}, err)
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}
