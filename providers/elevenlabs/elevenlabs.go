// Package elevenlabs is Jack's edge to the ElevenLabs Agents platform: outbound AI calls over
// Twilio, phone-number import, the text-only WebSocket conversation that answers SMS, and the
// post-call webhook (its HMAC signature and payload). It translates ElevenLabs' refusals into
// domain errors whose messages are safe to show staff.
package elevenlabs

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/jack-auto/jack"
)

// DefaultAPIURL is ElevenLabs' global API host. Residency hosts (api.us.elevenlabs.io,
// api.eu.residency.elevenlabs.io, api.in.residency.elevenlabs.io) serve the same paths.
const DefaultAPIURL = "https://api.elevenlabs.io"

// DefaultTimeout bounds one REST call and the opening of a conversation socket when neither
// Config.Timeout nor the caller's context does.
const DefaultTimeout = 10 * time.Second

// DefaultReplyTimeout bounds the wait for the agent's answer to one message. It is ElevenLabs'
// own LLM timeout: past it the server gives up too (close 1002 llm_timeout).
const DefaultReplyTimeout = 20 * time.Second

var (
	_ jack.VoiceDialer = (*Client)(nil)
	_ jack.Agent       = (*Client)(nil)
)

// Config configures a Client.
type Config struct {
	// APIKey is the workspace's API key, sent as xi-api-key. Required.
	APIKey string
	// AgentID is the agent that places calls, answers texts and is assigned to imported
	// numbers. Required.
	AgentID string
	// APIURL is the REST API as a bare scheme+host, so residency hosts, proxies and fakes need
	// no code (see ARCHITECTURE.md, "HTTP contract"). The conversation socket is opened at the signed URL the API returns.
	// Defaults to DefaultAPIURL.
	APIURL string
	// HTTPClient carries the transport for REST calls and the WebSocket handshake. Its
	// Timeout, if set, is used when Timeout is zero. Defaults to a client on
	// http.DefaultTransport.
	HTTPClient *http.Client
	// Timeout bounds one REST call, and the opening of a conversation (signed URL, handshake,
	// initiation). Defaults to HTTPClient.Timeout, then DefaultTimeout.
	Timeout time.Duration
	// ReplyTimeout bounds the wait for the agent's answer to one message; a reconnect starts a
	// new wait. Defaults to DefaultReplyTimeout.
	ReplyTimeout time.Duration
	// Logger receives warnings (dropped conversations, reconnects) and debug events. Defaults
	// to discarding.
	Logger *slog.Logger
}

// WithDefaults returns a copy of cfg with blank fields filled.
func (cfg Config) WithDefaults() Config {
	cfg.APIURL = cmp.Or(cfg.APIURL, DefaultAPIURL)
	if cfg.HTTPClient == nil {
		cfg.HTTPClient = &http.Client{}
	}
	cfg.Timeout = cmp.Or(cfg.Timeout, cfg.HTTPClient.Timeout, DefaultTimeout)
	cfg.ReplyTimeout = cmp.Or(cfg.ReplyTimeout, DefaultReplyTimeout)
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	return cfg
}

func (cfg Config) validate() (*url.URL, error) {
	if cfg.APIKey == "" {
		return nil, errors.New("elevenlabs: APIKey is required")
	}
	if cfg.AgentID == "" {
		return nil, errors.New("elevenlabs: AgentID is required")
	}
	u, err := url.Parse(cfg.APIURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" ||
		(u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.User != nil {
		return nil, fmt.Errorf("elevenlabs: APIURL must be a bare scheme+host such as %s, got %q", DefaultAPIURL, cfg.APIURL)
	}
	if cfg.Timeout < 0 || cfg.ReplyTimeout < 0 {
		return nil, errors.New("elevenlabs: Timeout and ReplyTimeout must not be negative")
	}
	return u, nil
}

// Client talks to ElevenLabs for one agent. It is safe for concurrent use.
type Client struct {
	cfg Config
	api *url.URL
	hc  *http.Client // cfg.HTTPClient without its Timeout: deadlines live in contexts
	log *slog.Logger
}

// NewClient returns a Client for cfg. It does not contact ElevenLabs.
func NewClient(cfg Config) (*Client, error) {
	cfg = cfg.WithDefaults()
	api, err := cfg.validate()
	if err != nil {
		return nil, err
	}
	hc := *cfg.HTTPClient
	hc.Timeout = 0
	return &Client{cfg: cfg, api: &url.URL{Scheme: api.Scheme, Host: api.Host}, hc: &hc, log: cfg.Logger}, nil
}

// AgentID returns the agent the client works for.
func (c *Client) AgentID() string { return c.cfg.AgentID }

// maxBody bounds how much of a REST answer is read.
const maxBody = 1 << 20

// maxProviderMessage bounds how much of ElevenLabs' own wording reaches an error message.
const maxProviderMessage = 300

// call sends one JSON request to path (already escaped) (in may be nil) and decodes a 2xx answer into out (may be nil).
// action completes "ElevenLabs refused to …" in error messages. Errors are EPROVIDER and wrap
// the cause.
func (c *Client) call(ctx context.Context, method, path string, query url.Values, in, out any, action string) (err error) {
	ctx, cancel := context.WithTimeout(ctx, c.cfg.Timeout)
	defer cancel()

	u := *c.api
	u.RawPath = path // escaped by the caller, so an id cannot add path segments
	if u.Path, err = url.PathUnescape(path); err != nil {
		return fmt.Errorf("elevenlabs: %s %s: %w", method, path, err)
	}
	u.RawQuery = query.Encode()
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return fmt.Errorf("elevenlabs: encode %s %s: %w", method, path, err)
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, u.String(), body)
	if err != nil {
		return fmt.Errorf("elevenlabs: %s %s: %w", method, path, err)
	}
	req.Header.Set("xi-api-key", c.cfg.APIKey)
	req.Header.Set("Accept", "application/json")
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}

	resp, err := c.hc.Do(req)
	if err != nil {
		return fmt.Errorf("elevenlabs: %s %s: %w", method, path, transportError(ctx, err))
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, maxBody))
	if err != nil {
		return fmt.Errorf("elevenlabs: %s %s: read answer: %w", method, path, transportError(ctx, err))
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return fmt.Errorf("elevenlabs: %s %s: %w", method, path, refusal(action, resp.StatusCode, raw))
	}
	if out == nil {
		return nil
	}
	if err := json.Unmarshal(raw, out); err != nil {
		return fmt.Errorf("elevenlabs: %s %s: %w", method, path, unexpected(err))
	}
	return nil
}

// refusal turns an HTTP error answer into EPROVIDER carrying ElevenLabs' own message, which
// comes in three shapes: {"detail": "text"}, {"detail": {"status": "code", "message": "text"}}
// and FastAPI's validation list {"detail": [{"loc": [...], "msg": "text", "type": "code"}]}.
func refusal(action string, status int, raw []byte) error {
	details := map[string]any{"httpStatus": status}
	var body struct {
		Detail json.RawMessage `json:"detail"`
	}
	var msg string
	if json.Unmarshal(raw, &body) == nil && len(body.Detail) > 0 {
		var text string
		var obj struct {
			Status  string `json:"status"`
			Message string `json:"message"`
		}
		var list []struct {
			Loc  []any  `json:"loc"`
			Msg  string `json:"msg"`
			Type string `json:"type"`
		}
		switch {
		case json.Unmarshal(body.Detail, &text) == nil:
			msg = text
		case json.Unmarshal(body.Detail, &list) == nil:
			parts := make([]string, 0, len(list))
			for _, e := range list {
				loc := make([]string, 0, len(e.Loc))
				for _, l := range e.Loc {
					loc = append(loc, fmt.Sprint(l))
				}
				parts = append(parts, strings.TrimPrefix(strings.Join(loc, ".")+": ", ": ")+e.Msg)
			}
			msg = strings.Join(parts, "; ")
		case json.Unmarshal(body.Detail, &obj) == nil:
			msg = cmp.Or(obj.Message, obj.Status)
			if obj.Status != "" {
				details["elevenLabsStatus"] = obj.Status
			}
		}
	}
	msg = cmp.Or(clip(msg), fmt.Sprintf("HTTP %d", status))
	return &jack.Error{
		Code:    jack.EPROVIDER,
		Message: fmt.Sprintf("ElevenLabs refused to %s: %s", action, msg),
		Details: details,
	}
}

// transportError is the domain error for a request that got no answer; it wraps the cause.
func transportError(ctx context.Context, err error) error {
	msg := "ElevenLabs could not be reached."
	if errors.Is(ctx.Err(), context.Canceled) {
		msg = "The request to ElevenLabs was canceled."
	}
	return fmt.Errorf("%w: %w", &jack.Error{Code: jack.EPROVIDER, Message: msg}, err)
}

func unexpected(err error) error {
	return fmt.Errorf("%w: %w", &jack.Error{Code: jack.EPROVIDER, Message: "ElevenLabs returned an unexpected response."}, err)
}

// clip trims s and cuts it to maxProviderMessage bytes on a rune boundary.
func clip(s string) string {
	s = strings.TrimSpace(s)
	if len(s) <= maxProviderMessage {
		return s
	}
	cut := maxProviderMessage
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "…"
}
