package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"time"

	"github.com/jack-auto/jack"
	"github.com/jack-auto/jack/providers/twilio"
)

// Credentials the bench configures its servers with.
const (
	twilioAccountSID  = "AC0123456789abcdef0123456789abcdef"
	twilioAuthToken   = "benchauthtoken0123456789abcdef01"
	initiationHeader  = "X-Jack-Webhook-Secret"
	initiationSecret  = "bench-initiation-secret-0123456789"
	benchJWTSecret    = "bench-jwt-secret-0123456789abcdef0123456789"
	benchPassword     = "correct horse battery"
	benchAgentID      = "agent_bench"
	smsWebhookPath    = "/api/webhooks/twilio/sms/incoming"
	initiationPath    = "/api/webhooks/elevenlabs/conversation-initiation"
	requestTimeout    = 15 * time.Second // Twilio's default webhook timeout
	maxConnsPerClient = 1024
)

// newHTTPClient is a keep-alive client with enough idle connections for the widest sweep.
func newHTTPClient() *http.Client {
	return &http.Client{
		Timeout: requestTimeout,
		Transport: &http.Transport{
			DialContext:         (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
			MaxIdleConns:        maxConnsPerClient,
			MaxIdleConnsPerHost: maxConnsPerClient,
			IdleConnTimeout:     50 * time.Second, // under the server's 60s, so the client closes first
			DisableCompression:  true,
		},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

// api is a client of one node's JSON API and webhooks.
type api struct {
	base string
	hc   *http.Client
}

// call sends a JSON request with an optional bearer token and decodes a 2xx answer into out.
func (a *api) call(ctx context.Context, method, path, token string, body, out any) error {
	var r io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return err
		}
		r = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, a.base+path, r)
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := a.hc.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		return err
	}
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("%s %s answered %d: %s", method, path, resp.StatusCode, bytes.TrimSpace(data))
	}
	if out != nil {
		return json.Unmarshal(data, out)
	}
	return nil
}

// dealership is a registered organization with one imported number.
type dealership struct {
	ID    string
	Token string // the owner's session token
	Phone string // the dealership's number customers text and call
}

// register signs a dealership up and imports its number.
func (a *api) register(ctx context.Context, name, phone string) (*dealership, error) {
	var auth struct {
		Token        string            `json:"token"`
		Organization jack.Organization `json:"organization"`
	}
	email := fmt.Sprintf("owner+%d@%s.bench.test", time.Now().UnixNano(), strings.ToLower(strings.ReplaceAll(name, " ", "-")))
	if err := a.call(ctx, "POST", "/api/auth/register", "", map[string]string{
		"email": email, "password": benchPassword, "fullName": "Bench Owner", "organizationName": name,
	}, &auth); err != nil {
		return nil, err
	}
	d := &dealership{ID: auth.Organization.ID.String(), Token: auth.Token, Phone: phone}
	if err := a.call(ctx, "POST", "/api/organizations/"+d.ID+"/phone-numbers", d.Token,
		map[string]string{"phoneNumber": phone, "twilioPhoneSid": twilio.NewSid("PN")}, nil); err != nil {
		return nil, err
	}
	return d, nil
}

// streamToken returns a short-lived token for GET /api/stream?token=.
func (a *api) streamToken(ctx context.Context, session string) (string, error) {
	var out struct {
		Token string `json:"token"`
	}
	err := a.call(ctx, "POST", "/api/stream/token", session, nil, &out)
	return out.Token, err
}

// sidSeq hands out MessageSids that carry a sequence number, so an SSE client finds the
// webhook an event came from without a lookup: "SM" + 16 hex digits of this run's nonce + 16
// of the sequence.
type sidSeq struct {
	nonce uint64
	next  atomic.Uint64
}

func newSidSeq() *sidSeq {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return &sidSeq{nonce: binary.BigEndian.Uint64(b[:])}
}

func (s *sidSeq) new() (string, uint64) {
	n := s.next.Add(1)
	return fmt.Sprintf("SM%016x%016x", s.nonce, n), n
}

// seqOfSid returns the sequence number in a sid made by sidSeq.
func seqOfSid(sid []byte) (uint64, bool) {
	if len(sid) != 34 {
		return 0, false
	}
	var n uint64
	for _, c := range sid[18:] {
		switch {
		case c >= '0' && c <= '9':
			n = n<<4 | uint64(c-'0')
		case c >= 'a' && c <= 'f':
			n = n<<4 | uint64(c-'a'+10)
		default:
			return 0, false
		}
	}
	return n, true
}

// signedSMS is one inbound-SMS webhook as Twilio sends it: the form body and its signature.
// Keeping both lets a duplicate be the exact same request, as Twilio's retries are.
type signedSMS struct {
	body []byte
	sig  string
	sid  string
	// seq is the sid's sequence number and dealer the index of the dealership texted, for the
	// dashboards that match events to webhooks (zero where nobody watches).
	seq    uint64
	dealer int
}

func newSignedSMS(serverURL, from, to, text, sid string) signedSMS {
	params := twilio.InboundSMSParams(twilioAccountSID, from, to, text, sid)
	u := serverURL + smsWebhookPath
	return signedSMS{body: []byte(params.Encode()), sig: twilio.Sign(twilioAuthToken, u, params), sid: sid}
}

// postSMS posts a signed inbound SMS webhook and reports whether jack acknowledged it (200).
func (a *api) postSMS(ctx context.Context, m signedSMS) bool {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, a.base+smsWebhookPath, bytes.NewReader(m.body))
	if err != nil {
		return false
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("User-Agent", "TwilioProxy/1.1")
	req.Header.Set(twilio.SignatureHeader, m.sig)
	return a.send(req, nil)
}

// postInitiation posts ElevenLabs' conversation-initiation webhook for a call from caller to
// called and reports whether jack answered with the dynamic variables.
func (a *api) postInitiation(ctx context.Context, caller, called, callSid string) bool {
	body, _ := json.Marshal(map[string]string{"caller_id": caller, "called_number": called, "agent_id": benchAgentID, "call_sid": callSid})
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, a.base+initiationPath, bytes.NewReader(body))
	if err != nil {
		return false
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set(initiationHeader, initiationSecret)
	return a.send(req, []byte(`"dynamic_variables"`))
}

// send does req and reports a 200 whose body contains want (when set). The body is read to the
// end so the connection is reused.
func (a *api) send(req *http.Request, want []byte) bool {
	resp, err := a.hc.Do(req)
	if err != nil {
		return false
	}
	defer resp.Body.Close()
	if want == nil {
		_, err = io.Copy(io.Discard, resp.Body)
		return err == nil && resp.StatusCode == http.StatusOK
	}
	b, err := io.ReadAll(resp.Body)
	return err == nil && resp.StatusCode == http.StatusOK && bytes.Contains(b, want)
}

// phoneGen hands out distinct valid North American numbers (validated as jack validates them),
// so every scenario texts from customers of its own.
type phoneGen struct{ next int }

func (g *phoneGen) take(n int) []string {
	out := make([]string, 0, n)
	for len(out) < n {
		i := g.next
		g.next++
		// Area codes 604 and 778 (British Columbia), exchanges 200-999, lines 0000-9999.
		area := []string{"604", "778", "236", "250"}[i/(800*10000)%4]
		raw := fmt.Sprintf("+1%s%03d%04d", area, 200+(i/10000)%800, i%10000)
		if e164, err := jack.NormalizePhone(raw, ""); err == nil && e164 == raw {
			out = append(out, raw)
		}
	}
	return out
}
