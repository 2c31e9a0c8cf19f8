package fake

import (
	"bytes"
	"cmp"
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/jack-auto/jack/providers/elevenlabs"
	"github.com/jack-auto/jack/providers/twilio"
)

// ElevenLabs is a fake of the ElevenLabs Agents API served on 127.0.0.1: outbound calls over
// Twilio, signed conversation URLs, phone-number import, and the text-only conversation
// WebSocket with its handshake, pings and close codes. It answers with ElevenLabs' shapes
// (FastAPI's 422 list, {"detail": {"status", "message"}} refusals), records what it received,
// injects failures on demand and sends ElevenLabs' signed post-call webhooks. It is safe for
// concurrent use.
type ElevenLabs struct {
	tb     testing.TB
	srv    *httptest.Server
	apiKey string
	hc     *http.Client // for webhooks

	ctx    context.Context // ends open sockets at cleanup
	cancel context.CancelFunc
	wg     sync.WaitGroup // socket handlers

	mu             sync.Mutex
	calls          []ElevenLabsCall
	callFailures   []elevenLabsFailure
	numbers        []ElevenLabsPhoneNumber
	importFailures []elevenLabsFailure
	signatures     map[string]string // conversation_signature → agent_id
	signedURLs     int
	greeting       string
	responder      func(text string, vars map[string]any) string
	required       []string
	pingEvery      time.Duration
	idleTimeout    time.Duration
	extraEvents    bool
	drops          []elevenLabsDrop
	conversations  []ElevenLabsConversation
	pongs          int
	open           int
	changed        chan struct{} // closed and replaced on every change, to wake waiters
}

// ElevenLabsCall is an outbound call the fake accepted.
type ElevenLabsCall struct {
	AgentID            string
	AgentPhoneNumberID string
	ToNumber           string
	DynamicVariables   map[string]any // as decoded from JSON: numbers are float64
	ConversationID     string
	CallSid            string
	Body               map[string]any // the request as received
}

// ElevenLabsPhoneNumber is a phone number imported into the fake.
type ElevenLabsPhoneNumber struct {
	ID          string
	Provider    string
	PhoneNumber string
	Label       string
	SID         string // the Twilio account (or API key) SID
	Token       string
	EnableSMS   *bool  // nil when the request left it out (ElevenLabs then takes over SMS)
	AgentID     string // the assigned agent, "" for none
	Deleted     bool
}

// ElevenLabsConversation is one accepted conversation socket.
type ElevenLabsConversation struct {
	ID               string
	AgentID          string
	DynamicVariables map[string]any // as decoded from JSON: numbers are float64
	TextOnly         bool           // conversation_config_override.conversation.text_only
	Prompt           string         // conversation_config_override.agent.prompt.prompt
	Messages         []string       // user messages received, in order
	Closed           bool
}

type elevenLabsFailure struct {
	success bool // false: a 200 with success:false
	status  int
	message string
}

// elevenLabsDrop is an injected end of a socket on its next user_message.
type elevenLabsDrop struct {
	code      websocket.StatusCode
	reason    string
	errorType string // non-empty: send an error event first
	message   string
}

// DefaultAgentAnswer is what the fake agent answers when no responder is set.
const DefaultAgentAnswer = "Thanks for your message! Someone from the dealership will follow up shortly."

// NewElevenLabs starts a fake ElevenLabs that accepts apiKey as xi-api-key. Open sockets are
// closed (1001) and the server shut down in tb.Cleanup.
func NewElevenLabs(tb testing.TB, apiKey string) *ElevenLabs {
	tb.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	f := &ElevenLabs{
		tb:         tb,
		apiKey:     apiKey,
		hc:         &http.Client{Timeout: 30 * time.Second},
		ctx:        ctx,
		cancel:     cancel,
		signatures: map[string]string{},
		changed:    make(chan struct{}),
	}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /v1/convai/twilio/outbound-call", f.outboundCall)
	mux.HandleFunc("GET /v1/convai/conversation/get-signed-url", f.signedURL)
	mux.HandleFunc("GET /v1/convai/conversation/get_signed_url", f.signedURL) // deprecated spelling
	mux.HandleFunc("GET /v1/convai/conversation", f.conversation)
	mux.HandleFunc("POST /v1/convai/phone-numbers", f.importNumber)
	mux.HandleFunc("GET /v1/convai/phone-numbers/{id}", f.getNumber)
	mux.HandleFunc("PATCH /v1/convai/phone-numbers/{id}", f.updateNumber)
	mux.HandleFunc("DELETE /v1/convai/phone-numbers/{id}", f.deleteNumber)
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		elevenLabsJSON(w, http.StatusNotFound, map[string]any{"detail": "Not Found"}) // FastAPI's
	})
	f.srv = httptest.NewServer(mux)
	tb.Cleanup(func() {
		f.mu.Lock()
		f.cancel()
		f.mu.Unlock()
		f.wg.Wait()
		f.srv.Close()
	})
	return f
}

// URL returns the fake's bare scheme+host, to use as elevenlabs.Config.APIURL.
func (f *ElevenLabs) URL() string { return f.srv.URL }

// APIKey returns the key the fake accepts.
func (f *ElevenLabs) APIKey() string { return f.apiKey }

// FailNextCall makes the next authenticated outbound-call request fail; calls queue up. With
// success false the fake answers 200 {"success": false, "message": message} with null ids,
// ElevenLabs' refusal without an HTTP error. With success true it answers HTTP status instead:
// 422 as FastAPI's validation list, 200 as {"success": true} without ids, others as
// {"detail": {"status", "message"}}; status 0 drops the connection without an answer.
func (f *ElevenLabs) FailNextCall(success bool, status int, message string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.callFailures = append(f.callFailures, elevenLabsFailure{success: success, status: status, message: message})
}

// FailNextImport makes the next authenticated phone-number import answer HTTP status with
// message (as FailNextCall with success true); calls queue up.
func (f *ElevenLabs) FailNextImport(status int, message string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.importFailures = append(f.importFailures, elevenLabsFailure{success: true, status: status, message: message})
}

// SetGreeting makes every new conversation start with an unprompted agent_response carrying
// text, as an agent with a first_message does. "" (the default) means none.
func (f *ElevenLabs) SetGreeting(text string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.greeting = text
}

// SetResponder sets how the agent answers each user message; vars are the conversation's
// dynamic variables. nil restores the default, DefaultAgentAnswer. It runs on the socket's
// goroutine.
func (f *ElevenLabs) SetResponder(respond func(text string, vars map[string]any) string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.responder = respond
}

// RequireVariables makes a conversation whose initiation lacks any of names end as
// ElevenLabs ends it: an error event, then close 1008 missing_dynamic_variable.
func (f *ElevenLabs) RequireVariables(names ...string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.required = slices.Clone(names)
}

// PingEvery makes conversations ping every d besides the ping each sends right after its
// handshake (and greeting); 0 (the default) sends only that one.
func (f *ElevenLabs) PingEvery(d time.Duration) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.pingEvery = d
}

// IdleTimeout makes conversations that get no user input for d close with 1002
// transport_receive_timeout, as ElevenLabs does after 60 s. 0 (the default) never does. It
// applies to sockets opened afterwards.
func (f *ElevenLabs) IdleTimeout(d time.Duration) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.idleTimeout = d
}

// ExtraEvents makes the agent send, before each answer, events a text client must ignore: an
// audio chunk, a tentative response and an event type from the future.
func (f *ElevenLabs) ExtraEvents(on bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.extraEvents = on
}

// CloseNext makes the next user_message (on any conversation) end its socket with a close
// frame of code and reason, without an answer; calls queue up.
func (f *ElevenLabs) CloseNext(code int, reason string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.drops = append(f.drops, elevenLabsDrop{code: websocket.StatusCode(code), reason: reason})
}

// ErrorNext makes the next user_message end its socket as ElevenLabs ends one on an error:
// an error event {code, message, error_type}, then a close frame of code and errorType; calls
// queue up with CloseNext's.
func (f *ElevenLabs) ErrorNext(code int, errorType, message string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.drops = append(f.drops, elevenLabsDrop{code: websocket.StatusCode(code), reason: errorType, errorType: errorType, message: message})
}

// Calls returns a copy of the outbound calls accepted so far, oldest first.
func (f *ElevenLabs) Calls() []ElevenLabsCall {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := slices.Clone(f.calls)
	for i := range out {
		out[i].DynamicVariables = maps.Clone(out[i].DynamicVariables)
		out[i].Body = maps.Clone(out[i].Body)
	}
	return out
}

// PhoneNumbers returns a copy of the phone numbers imported so far (deleted ones included),
// oldest first.
func (f *ElevenLabs) PhoneNumbers() []ElevenLabsPhoneNumber {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.numbers)
}

// Conversations returns a copy of the conversations accepted so far, oldest first.
func (f *ElevenLabs) Conversations() []ElevenLabsConversation {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := slices.Clone(f.conversations)
	for i := range out {
		out[i].DynamicVariables = maps.Clone(out[i].DynamicVariables)
		out[i].Messages = slices.Clone(out[i].Messages)
	}
	return out
}

// Sessions returns how many conversations completed the handshake.
func (f *ElevenLabs) Sessions() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.conversations)
}

// SignedURLs returns how many signed URLs the fake issued.
func (f *ElevenLabs) SignedURLs() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.signedURLs
}

// Messages returns the user messages received on every conversation, in order.
func (f *ElevenLabs) Messages() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []string
	for _, c := range f.conversations {
		out = append(out, c.Messages...)
	}
	return out
}

// Pongs returns how many pongs answered a ping with its event_id.
func (f *ElevenLabs) Pongs() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.pongs
}

// OpenSockets returns how many conversation sockets are open now.
func (f *ElevenLabs) OpenSockets() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.open
}

// WaitFor waits until cond holds, checking after every change the fake sees; it fails tb
// after timeout. Call it from the test's goroutine.
func (f *ElevenLabs) WaitFor(tb testing.TB, timeout time.Duration, what string, cond func() bool) {
	tb.Helper()
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	for {
		f.mu.Lock()
		changed := f.changed
		f.mu.Unlock()
		if cond() {
			return
		}
		select {
		case <-changed:
		case <-deadline.C:
			tb.Fatalf("fake elevenlabs: %s: not within %s", what, timeout)
			return
		}
	}
}

func (f *ElevenLabs) notifyLocked() {
	close(f.changed)
	f.changed = make(chan struct{})
}

// authorized checks xi-api-key and answers 401 as ElevenLabs does when it is wrong.
func (f *ElevenLabs) authorized(w http.ResponseWriter, r *http.Request) bool {
	switch key := r.Header.Get("xi-api-key"); {
	case key == "":
		elevenLabsDetail(w, http.StatusUnauthorized, "needs_authorization",
			"Neither authorization header nor xi-api-key received, please provide one.")
		return false
	case key != f.apiKey:
		elevenLabsDetail(w, http.StatusUnauthorized, "invalid_api_key", "Invalid API key")
		return false
	}
	return true
}

// fail pops the next injected failure of queue and answers it; false means none was queued.
func (f *ElevenLabs) fail(w http.ResponseWriter, queue *[]elevenLabsFailure) bool {
	f.mu.Lock()
	if len(*queue) == 0 {
		f.mu.Unlock()
		return false
	}
	fl := (*queue)[0]
	*queue = (*queue)[1:]
	f.mu.Unlock()
	switch {
	case !fl.success || fl.status == http.StatusOK:
		elevenLabsJSON(w, http.StatusOK, map[string]any{"success": fl.success, "message": fl.message, "conversation_id": nil, "callSid": nil})
	case fl.status == 0:
		if hj, ok := w.(http.Hijacker); ok {
			if conn, _, err := hj.Hijack(); err == nil {
				conn.Close()
				return true
			}
		}
		panic(http.ErrAbortHandler)
	case fl.status == http.StatusUnprocessableEntity:
		elevenLabsJSON(w, fl.status, map[string]any{"detail": []map[string]any{
			{"type": "value_error", "loc": []any{"body"}, "msg": fl.message, "input": map[string]any{}},
		}})
	default:
		elevenLabsDetail(w, fl.status, statusCode(fl.status), fl.message)
	}
	return true
}

func (f *ElevenLabs) outboundCall(w http.ResponseWriter, r *http.Request) {
	if !f.authorized(w, r) {
		return
	}
	body, ok := decodeBody(w, r)
	if !ok || f.fail(w, &f.callFailures) {
		return
	}
	var problems []map[string]any
	for _, k := range []string{"agent_id", "agent_phone_number_id", "to_number"} {
		problems = append(problems, requireString(body, k)...)
	}
	vars, varProblems := dynamicVariables(body["conversation_initiation_client_data"], "body", "conversation_initiation_client_data")
	if problems = append(problems, varProblems...); len(problems) > 0 {
		elevenLabsJSON(w, http.StatusUnprocessableEntity, map[string]any{"detail": problems})
		return
	}
	call := ElevenLabsCall{
		AgentID:            body["agent_id"].(string),
		AgentPhoneNumberID: body["agent_phone_number_id"].(string),
		ToNumber:           body["to_number"].(string),
		DynamicVariables:   vars,
		ConversationID:     newID("conv_"),
		CallSid:            twilio.NewSid("CA"),
		Body:               body,
	}
	f.mu.Lock()
	f.calls = append(f.calls, call)
	f.notifyLocked()
	f.mu.Unlock()
	elevenLabsJSON(w, http.StatusOK, map[string]any{
		"success": true, "message": "Success", "conversation_id": call.ConversationID, "callSid": call.CallSid,
	})
}

func (f *ElevenLabs) signedURL(w http.ResponseWriter, r *http.Request) {
	if !f.authorized(w, r) {
		return
	}
	agentID := r.URL.Query().Get("agent_id")
	if agentID == "" {
		elevenLabsJSON(w, http.StatusUnprocessableEntity, map[string]any{"detail": []map[string]any{
			{"type": "missing", "loc": []any{"query", "agent_id"}, "msg": "Field required", "input": nil},
		}})
		return
	}
	token := rand.Text()
	f.mu.Lock()
	f.signatures[token] = agentID
	f.signedURLs++
	f.notifyLocked()
	f.mu.Unlock()
	u := url.URL{
		Scheme:   "ws",
		Host:     strings.TrimPrefix(f.srv.URL, "http://"),
		Path:     "/v1/convai/conversation",
		RawQuery: url.Values{"agent_id": {agentID}, "conversation_signature": {token}}.Encode(),
	}
	elevenLabsJSON(w, http.StatusOK, map[string]any{"signed_url": u.String()})
}

func (f *ElevenLabs) importNumber(w http.ResponseWriter, r *http.Request) {
	if !f.authorized(w, r) {
		return
	}
	body, ok := decodeBody(w, r)
	if !ok || f.fail(w, &f.importFailures) {
		return
	}
	var problems []map[string]any
	for _, k := range []string{"phone_number", "label", "sid", "token"} {
		problems = append(problems, requireString(body, k)...)
	}
	if p, ok := body["provider"]; ok && p != "twilio" {
		problems = append(problems, map[string]any{
			"type": "literal_error", "loc": []any{"body", "twilio", "provider"}, "msg": "Input should be 'twilio'", "input": p,
		})
	}
	var enableSMS *bool
	if v, ok := body["enable_sms"]; ok {
		b, isBool := v.(bool)
		if !isBool {
			problems = append(problems, map[string]any{
				"type": "bool_type", "loc": []any{"body", "twilio", "enable_sms"}, "msg": "Input should be a valid boolean", "input": v,
			})
		}
		enableSMS = &b
	}
	if len(problems) > 0 {
		elevenLabsJSON(w, http.StatusUnprocessableEntity, map[string]any{"detail": problems})
		return
	}
	n := ElevenLabsPhoneNumber{
		ID:          newID("phnum_"),
		Provider:    "twilio",
		PhoneNumber: body["phone_number"].(string),
		Label:       body["label"].(string),
		SID:         body["sid"].(string),
		Token:       body["token"].(string),
		EnableSMS:   enableSMS,
	}
	if a, ok := body["agent_id"].(string); ok {
		n.AgentID = a
	}
	f.mu.Lock()
	f.numbers = append(f.numbers, n)
	f.notifyLocked()
	f.mu.Unlock()
	elevenLabsJSON(w, http.StatusOK, map[string]any{"phone_number_id": n.ID})
}

func (f *ElevenLabs) getNumber(w http.ResponseWriter, r *http.Request) {
	f.withNumber(w, r, func(*ElevenLabsPhoneNumber) bool { return true })
}

func (f *ElevenLabs) updateNumber(w http.ResponseWriter, r *http.Request) {
	if !f.authorized(w, r) {
		return
	}
	body, ok := decodeBody(w, r)
	if !ok {
		return
	}
	agentID, isString := body["agent_id"].(string)
	if v, present := body["agent_id"]; present && v != nil && !isString {
		elevenLabsJSON(w, http.StatusUnprocessableEntity, map[string]any{"detail": []map[string]any{
			{"type": "string_type", "loc": []any{"body", "agent_id"}, "msg": "Input should be a valid string", "input": v},
		}})
		return
	}
	f.withNumber(w, r, func(n *ElevenLabsPhoneNumber) bool {
		if _, present := body["agent_id"]; present {
			n.AgentID = agentID
		}
		if l, ok := body["label"].(string); ok {
			n.Label = l
		}
		return true
	})
}

func (f *ElevenLabs) deleteNumber(w http.ResponseWriter, r *http.Request) {
	f.withNumber(w, r, func(n *ElevenLabsPhoneNumber) bool {
		n.Deleted = true
		return false
	})
}

// withNumber authenticates, finds the path's phone number (404 if unknown or deleted), applies
// change under the lock, and answers the number (or {} when change returns false).
func (f *ElevenLabs) withNumber(w http.ResponseWriter, r *http.Request, change func(*ElevenLabsPhoneNumber) bool) {
	if r.Method == http.MethodGet || r.Method == http.MethodDelete {
		if !f.authorized(w, r) {
			return
		}
	}
	id := r.PathValue("id")
	f.mu.Lock()
	i := slices.IndexFunc(f.numbers, func(n ElevenLabsPhoneNumber) bool { return n.ID == id && !n.Deleted })
	if i < 0 {
		f.mu.Unlock()
		elevenLabsDetail(w, http.StatusNotFound, "phone_number_not_found", fmt.Sprintf("Phone number %s not found", id))
		return
	}
	describe := change(&f.numbers[i])
	n := f.numbers[i]
	f.notifyLocked()
	f.mu.Unlock()
	if !describe {
		elevenLabsJSON(w, http.StatusOK, map[string]any{})
		return
	}
	var agent any
	if n.AgentID != "" {
		agent = map[string]any{"agent_id": n.AgentID, "agent_name": "Fake agent"}
	}
	elevenLabsJSON(w, http.StatusOK, map[string]any{
		"phone_number": n.PhoneNumber, "label": n.Label, "supports_inbound": true, "supports_outbound": true,
		"phone_number_id": n.ID, "assigned_agent": agent, "provider": n.Provider,
	})
}

// conversation serves one conversation socket: handshake, optional greeting, pings, answers.
func (f *ElevenLabs) conversation(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	agentID, token := q.Get("agent_id"), q.Get("conversation_signature")
	f.mu.Lock()
	signedFor, known := f.signatures[token]
	stopping := f.ctx.Err() != nil
	if known && signedFor == agentID && !stopping {
		f.wg.Add(1) // under mu, so never after cleanup started waiting
	}
	f.mu.Unlock()
	if stopping {
		elevenLabsDetail(w, http.StatusServiceUnavailable, "system_busy", "The server is shutting down.")
		return
	}
	if !known || signedFor != agentID {
		// Not documented: the fake refuses the upgrade, where ElevenLabs may close instead.
		elevenLabsDetail(w, http.StatusForbidden, "invalid_signature", "The conversation signature is invalid or expired.")
		return
	}
	defer f.wg.Done()
	conn, err := websocket.Accept(w, r, nil)
	if err != nil {
		return
	}
	conn.SetReadLimit(1 << 20)
	f.mu.Lock()
	f.open++
	f.notifyLocked()
	f.mu.Unlock()
	defer func() {
		f.mu.Lock()
		f.open--
		f.notifyLocked()
		f.mu.Unlock()
	}()
	(&elevenLabsSocket{f: f, conn: conn, agentID: agentID, index: -1}).serve()
}

// elevenLabsSocket is the server side of one conversation socket.
type elevenLabsSocket struct {
	f       *ElevenLabs
	conn    *websocket.Conn
	agentID string
	index   int // in f.conversations, once accepted
	vars    map[string]any
	eventID int
	pings   map[int]bool // outstanding ping event ids
}

type socketRead struct {
	data []byte
	err  error
}

func (s *elevenLabsSocket) serve() {
	ctx := s.f.ctx

	// One goroutine reads, so the serving loop can wait on pings, idleness and cleanup too.
	reads := make(chan socketRead)
	stop := make(chan struct{})
	var readers sync.WaitGroup
	readers.Go(func() {
		for {
			_, data, err := s.conn.Read(context.Background())
			select {
			case reads <- socketRead{data, err}:
			case <-stop:
				return
			}
			if err != nil {
				return
			}
		}
	})
	defer readers.Wait()
	defer s.conn.CloseNow() // ends the reader's Read
	defer close(stop)

	if !s.handshake(ctx, reads) {
		return
	}
	defer func() {
		s.f.mu.Lock()
		s.f.conversations[s.index].Closed = true
		s.f.notifyLocked()
		s.f.mu.Unlock()
	}()

	s.f.mu.Lock()
	greeting, every, idleAfter := s.f.greeting, s.f.pingEvery, s.f.idleTimeout
	s.f.mu.Unlock()
	if greeting != "" {
		s.agentResponse(greeting)
	}
	s.ping()
	var tick <-chan time.Time
	if every > 0 {
		t := time.NewTicker(every)
		defer t.Stop()
		tick = t.C
	}
	var idle *time.Timer
	var idleC <-chan time.Time
	if idleAfter > 0 {
		idle = time.NewTimer(idleAfter)
		defer idle.Stop()
		idleC = idle.C
	}

	// The agent thinks on its own goroutine, as ElevenLabs' LLM does, so the socket keeps
	// answering pongs and close frames meanwhile. It outlives the socket at most until its
	// responder returns, and cleanup waits for it.
	pending := make(chan string, 64)
	answers := make(chan string)
	s.f.wg.Add(1) // the handler holds a count, so this never races cleanup's Wait
	go func() {
		defer s.f.wg.Done()
		for {
			select {
			case text := <-pending:
				s.f.mu.Lock()
				respond := s.f.responder
				s.f.mu.Unlock()
				answer := DefaultAgentAnswer
				if respond != nil {
					answer = respond(text, maps.Clone(s.vars))
				}
				select {
				case answers <- answer:
				case <-stop:
					return
				}
			case <-stop:
				return
			}
		}
	}()

	for {
		select {
		case answer := <-answers:
			if !s.agentResponse(answer) {
				return
			}
		case <-ctx.Done():
			s.conn.Close(websocket.StatusGoingAway, "")
			return
		case <-tick:
			s.ping()
		case <-idleC:
			s.conn.Close(websocket.StatusProtocolError, "transport_receive_timeout")
			return
		case rd := <-reads:
			if rd.err != nil {
				return // the client closed or broke the socket
			}
			var ev struct {
				Type    string `json:"type"`
				Text    string `json:"text"`
				EventID *int   `json:"event_id"`
			}
			if json.Unmarshal(rd.data, &ev) != nil {
				s.fatal(websocket.StatusPolicyViolation, "invalid_message", "Invalid JSON message.")
				return
			}
			switch ev.Type {
			case "user_message", "user_activity":
				if idleAfter > 0 {
					idle.Reset(idleAfter)
				}
			}
			switch ev.Type {
			case "user_message":
				if !s.userMessage(ev.Text) {
					return
				}
				pending <- ev.Text
			case "pong":
				if ev.EventID != nil && s.pings[*ev.EventID] {
					delete(s.pings, *ev.EventID)
					s.f.mu.Lock()
					s.f.pongs++
					s.f.notifyLocked()
					s.f.mu.Unlock()
				}
			}
		}
	}
}

// handshake expects conversation_initiation_client_data first, checks its dynamic variables
// and answers conversation_initiation_metadata; false means it closed the socket.
func (s *elevenLabsSocket) handshake(ctx context.Context, reads <-chan socketRead) bool {
	timeout := time.NewTimer(10 * time.Second)
	defer timeout.Stop()
	var rd socketRead
	select {
	case rd = <-reads:
	case <-timeout.C:
		s.conn.Close(websocket.StatusProtocolError, "transport_receive_timeout")
		return false
	case <-ctx.Done():
		s.conn.Close(websocket.StatusGoingAway, "")
		return false
	}
	if rd.err != nil {
		return false
	}
	var init map[string]any
	if json.Unmarshal(rd.data, &init) != nil || init["type"] != "conversation_initiation_client_data" {
		s.fatal(websocket.StatusPolicyViolation, "invalid_message", "The first message must be conversation_initiation_client_data.")
		return false
	}
	vars, problems := dynamicVariables(init)
	if len(problems) > 0 {
		s.fatal(websocket.StatusPolicyViolation, "invalid_message", fmt.Sprintf("Invalid dynamic variables: %v", problems[0]["loc"]))
		return false
	}
	s.f.mu.Lock()
	var missing []string
	for _, name := range s.f.required {
		if _, ok := vars[name]; !ok {
			missing = append(missing, name)
		}
	}
	s.f.mu.Unlock()
	if len(missing) > 0 {
		s.fatal(websocket.StatusPolicyViolation, "missing_dynamic_variable",
			"Missing required dynamic variables in first message: {"+strings.Join(missing, ", ")+"}")
		return false
	}

	conv := ElevenLabsConversation{ID: newID("conv_"), AgentID: s.agentID, DynamicVariables: vars}
	if o, ok := init["conversation_config_override"].(map[string]any); ok {
		if c, ok := o["conversation"].(map[string]any); ok {
			conv.TextOnly, _ = c["text_only"].(bool)
		}
		if a, ok := o["agent"].(map[string]any); ok {
			if p, ok := a["prompt"].(map[string]any); ok {
				conv.Prompt, _ = p["prompt"].(string)
			}
		}
	}
	s.vars = vars
	s.pings = map[int]bool{}
	s.f.mu.Lock()
	s.index = len(s.f.conversations)
	s.f.conversations = append(s.f.conversations, conv)
	s.f.notifyLocked()
	s.f.mu.Unlock()
	return s.write(map[string]any{
		"type": "conversation_initiation_metadata",
		"conversation_initiation_metadata_event": map[string]any{
			"conversation_id": conv.ID, "agent_output_audio_format": "pcm_16000", "user_input_audio_format": "pcm_16000",
		},
	})
}

// userMessage records text and ends the socket if a drop was injected; false means the socket
// is done.
func (s *elevenLabsSocket) userMessage(text string) bool {
	s.f.mu.Lock()
	s.f.conversations[s.index].Messages = append(s.f.conversations[s.index].Messages, text)
	var drop *elevenLabsDrop
	if len(s.f.drops) > 0 {
		drop = &s.f.drops[0]
		s.f.drops = s.f.drops[1:]
	}
	s.f.notifyLocked()
	s.f.mu.Unlock()

	switch {
	case drop == nil:
		return true
	case drop.errorType != "":
		s.fatal(drop.code, drop.errorType, drop.message)
	default:
		s.conn.Close(drop.code, drop.reason)
	}
	return false
}

// agentResponse sends text as the agent's answer, after the noise of ExtraEvents if on.
func (s *elevenLabsSocket) agentResponse(text string) bool {
	s.f.mu.Lock()
	extra := s.f.extraEvents
	s.f.mu.Unlock()
	if extra {
		s.eventID++
		s.write(map[string]any{"type": "audio", "audio_event": map[string]any{"audio_base_64": "AAAAAA==", "event_id": s.eventID}})
		s.write(map[string]any{"type": "internal_tentative_agent_response",
			"tentative_agent_response_internal_event": map[string]any{"tentative_agent_response": "Thinking"}})
		s.write(map[string]any{"type": "agent_mood_from_the_future", "mood_event": map[string]any{"mood": "cheerful"}})
	}
	s.eventID++
	return s.write(map[string]any{
		"type":                 "agent_response",
		"agent_response_event": map[string]any{"agent_response": text, "event_id": s.eventID},
	})
}

func (s *elevenLabsSocket) ping() {
	s.eventID++
	s.pings[s.eventID] = true
	s.write(map[string]any{"type": "ping", "ping_event": map[string]any{"event_id": s.eventID, "ping_ms": nil}})
}

// fatal ends the socket as ElevenLabs does on an error: an error event, then the close frame.
func (s *elevenLabsSocket) fatal(code websocket.StatusCode, errorType, message string) {
	s.write(map[string]any{"type": "error", "error_event": map[string]any{
		"code": int(code), "message": message, "error_type": errorType, "reason": errorType,
	}})
	s.conn.Close(code, errorType)
}

// write sends one event. Its context is not the fake's: coder/websocket drops the connection
// when a write's context ends mid-write, and cleanup must close sockets with 1001 instead.
func (s *elevenLabsSocket) write(v any) bool {
	b, err := json.Marshal(v)
	if err != nil {
		s.f.tb.Errorf("fake elevenlabs: encode event: %v", err)
		return false
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return s.conn.Write(ctx, websocket.MessageText, b) == nil
}

// decodeBody reads a JSON object body, answering FastAPI's 422 when it is not one.
func decodeBody(w http.ResponseWriter, r *http.Request) (map[string]any, bool) {
	raw, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	if err != nil {
		return nil, false
	}
	var body map[string]any
	if err := json.Unmarshal(raw, &body); err != nil || body == nil {
		elevenLabsJSON(w, http.StatusUnprocessableEntity, map[string]any{"detail": []map[string]any{
			{"type": "json_invalid", "loc": []any{"body", 0}, "msg": "JSON decode error", "input": map[string]any{},
				"ctx": map[string]any{"error": "Expecting value"}},
		}})
		return nil, false
	}
	return body, true
}

// requireString returns pydantic's problems for a missing or non-string body field.
func requireString(body map[string]any, key string) []map[string]any {
	v, ok := body[key]
	switch _, isString := v.(string); {
	case !ok:
		return []map[string]any{{"type": "missing", "loc": []any{"body", key}, "msg": "Field required", "input": body}}
	case !isString:
		return []map[string]any{{"type": "string_type", "loc": []any{"body", key}, "msg": "Input should be a valid string", "input": v}}
	}
	return nil
}

// dynamicVariables reads container["dynamic_variables"] (container being the initiation data)
// and returns pydantic's problems for values that are not a string, number or boolean. loc
// prefixes the problems' locations.
func dynamicVariables(container any, loc ...any) (map[string]any, []map[string]any) {
	data, _ := container.(map[string]any)
	if data == nil {
		return nil, nil
	}
	raw, present := data["dynamic_variables"]
	if !present || raw == nil {
		return nil, nil
	}
	at := append(slices.Clone(loc), "dynamic_variables")
	vars, ok := raw.(map[string]any)
	if !ok {
		return nil, []map[string]any{{"type": "dict_type", "loc": at, "msg": "Input should be a valid dictionary", "input": raw}}
	}
	var problems []map[string]any
	for _, k := range slices.Sorted(maps.Keys(vars)) {
		switch vars[k].(type) {
		case string, float64, bool:
		default:
			problems = append(problems, map[string]any{
				"type": "string_type", "loc": append(slices.Clone(at), k, "str"), "msg": "Input should be a valid string", "input": vars[k],
			})
		}
	}
	return maps.Clone(vars), problems
}

// statusCode is a snake_case status for a refusal with HTTP status.
func statusCode(status int) string {
	switch status {
	case http.StatusUnauthorized:
		return "invalid_api_key"
	case http.StatusTooManyRequests:
		return "too_many_concurrent_requests"
	case http.StatusNotFound:
		return "not_found"
	}
	return strings.ReplaceAll(strings.ToLower(http.StatusText(status)), " ", "_")
}

func elevenLabsDetail(w http.ResponseWriter, status int, code, message string) {
	elevenLabsJSON(w, status, map[string]any{"detail": map[string]any{"status": code, "message": message}})
}

func elevenLabsJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

// newID returns prefix and 26 random lowercase base32 characters, like ElevenLabs' ids.
func newID(prefix string) string { return prefix + strings.ToLower(rand.Text()) }

// PostCall posts payload to webhookURL as ElevenLabs sends a post-call webhook: JSON (payload
// as is when it is []byte, json.RawMessage or string, else marshalled) signed now with secret
// in ElevenLabs-Signature. It returns the response with its body read (no need to close it)
// and fails tb if the request fails.
func (f *ElevenLabs) PostCall(tb testing.TB, webhookURL, secret string, payload any) *http.Response {
	tb.Helper()
	body := payloadBytes(tb, payload)
	return f.PostCallRaw(tb, webhookURL, elevenlabs.Sign(secret, body, time.Now()), body)
}

// PostCallRaw posts body to webhookURL with signatureHeader as ElevenLabs-Signature verbatim
// (empty for none), for forged, stale or malformed signatures. It returns the response with
// its body read and fails tb if the request fails.
func (f *ElevenLabs) PostCallRaw(tb testing.TB, webhookURL, signatureHeader string, body []byte) *http.Response {
	tb.Helper()
	header := http.Header{"Content-Type": {"application/json"}}
	if signatureHeader != "" {
		header.Set(elevenlabs.SignatureHeader, signatureHeader)
	}
	return f.post(tb, webhookURL, header, body)
}

// PostInitiation posts body to webhookURL as ElevenLabs calls the conversation-initiation
// webhook of an inbound Twilio call: JSON, or form-encoded when asForm (the docs do not say
// which; receivers should take both), with the configured header headerName: headerValue
// (none when headerName is empty). It returns the response with its body read and fails tb if
// the request fails.
func (f *ElevenLabs) PostInitiation(tb testing.TB, webhookURL, headerName, headerValue string, body map[string]any, asForm bool) *http.Response {
	tb.Helper()
	header := http.Header{"Content-Type": {"application/json"}}
	raw := payloadBytes(tb, body)
	if asForm {
		form := url.Values{}
		for k, v := range body {
			form.Set(k, fmt.Sprint(v))
		}
		header.Set("Content-Type", "application/x-www-form-urlencoded")
		raw = []byte(form.Encode())
	}
	if headerName != "" {
		header.Set(headerName, headerValue)
	}
	return f.post(tb, webhookURL, header, raw)
}

func (f *ElevenLabs) post(tb testing.TB, webhookURL string, header http.Header, body []byte) *http.Response {
	tb.Helper()
	req, err := http.NewRequestWithContext(tb.Context(), http.MethodPost, webhookURL, bytes.NewReader(body))
	if err != nil {
		tb.Fatalf("fake elevenlabs: webhook request: %v", err)
	}
	req.Header = header
	resp, err := f.hc.Do(req)
	if err == nil {
		err = bufferBody(resp)
	}
	if err != nil {
		tb.Fatalf("fake elevenlabs: post webhook: %v", err)
	}
	return resp
}

func payloadBytes(tb testing.TB, payload any) []byte {
	tb.Helper()
	switch p := payload.(type) {
	case []byte:
		return p
	case json.RawMessage:
		return p
	case string:
		return []byte(p)
	}
	b, err := json.Marshal(payload)
	if err != nil {
		tb.Fatalf("fake elevenlabs: encode payload: %v", err)
	}
	return b
}

// InitiationPayload returns the body ElevenLabs posts to the conversation-initiation webhook
// when callerID calls calledNumber, a number assigned to agentID.
func InitiationPayload(callerID, calledNumber, agentID, callSid string) map[string]any {
	return map[string]any{"caller_id": callerID, "agent_id": agentID, "called_number": calledNumber, "call_sid": callSid}
}

// TranscriptionSpec describes a finished call for TranscriptionPayload. Blank fields get
// defaults: ConversationID a new id, CallSid a new sid, Direction "inbound", AgentID
// "agent_fake", PhoneNumberID "phnum_fake", StartUnix now minus DurationSecs, status "done".
// AgentNumber and ExternalNumber both empty make metadata.phone_call null (a web call); Summary
// and CallSuccessful both empty make analysis null (not analysed yet).
type TranscriptionSpec struct {
	ConversationID    string
	AgentID           string
	PhoneNumberID     string
	AgentNumber       string // the organization's number
	ExternalNumber    string // the customer's number
	CallSid           string
	Direction         string // inbound or outbound
	Turns             []Turn
	Summary           string
	CallSuccessful    string // success, failure or unknown
	StartUnix         int64
	DurationSecs      int64
	TerminationReason string
	DynamicVariables  map[string]any
	EventTimestamp    int64 // defaults to the call's end
}

// Turn is one transcript turn; an empty Message is sent as null, as for a tool-call turn.
type Turn struct {
	Role           string // user or agent
	Message        string
	TimeInCallSecs int64
}

// TranscriptionPayload returns the post_call_transcription webhook of spec in ElevenLabs' real
// nested shape (GetConversationResponseModel), with fields Jack does not read (has_audio,
// costs, tool calls, stream_sid…) to prove receivers tolerate them.
func TranscriptionPayload(spec TranscriptionSpec) map[string]any {
	if spec.ConversationID == "" {
		spec.ConversationID = newID("conv_")
	}
	if spec.CallSid == "" {
		spec.CallSid = twilio.NewSid("CA")
	}
	spec.Direction = cmp.Or(spec.Direction, "inbound")
	spec.AgentID = cmp.Or(spec.AgentID, "agent_fake")
	spec.PhoneNumberID = cmp.Or(spec.PhoneNumberID, "phnum_fake")
	if spec.StartUnix == 0 {
		spec.StartUnix = time.Now().Unix() - spec.DurationSecs
	}
	if spec.EventTimestamp == 0 {
		spec.EventTimestamp = spec.StartUnix + spec.DurationSecs
	}

	transcript := make([]map[string]any, len(spec.Turns))
	for i, t := range spec.Turns {
		var msg any
		if t.Message != "" {
			msg = t.Message
		}
		transcript[i] = map[string]any{
			"role": t.Role, "message": msg, "time_in_call_secs": t.TimeInCallSecs,
			"tool_calls": []any{}, "tool_results": []any{}, "feedback": nil, "llm_override": nil,
			"conversation_turn_metrics": nil, "rag_retrieval_info": nil, "llm_usage": nil,
			"interrupted": false, "original_message": nil, "source_medium": nil,
		}
	}
	var phoneCall any
	if spec.AgentNumber != "" || spec.ExternalNumber != "" {
		phoneCall = map[string]any{
			"type": "twilio", "direction": spec.Direction, "phone_number_id": spec.PhoneNumberID,
			"agent_number": spec.AgentNumber, "external_number": spec.ExternalNumber,
			"stream_sid": twilio.NewSid("MZ"), "call_sid": spec.CallSid,
		}
	}
	var analysis any
	if spec.Summary != "" || spec.CallSuccessful != "" {
		analysis = map[string]any{
			"evaluation_criteria_results": map[string]any{},
			"data_collection_results":     map[string]any{},
			"call_successful":             cmp.Or(spec.CallSuccessful, "unknown"),
			"transcript_summary":          spec.Summary,
			"call_summary_title":          "Customer call",
		}
	}
	vars := spec.DynamicVariables
	if vars == nil {
		vars = map[string]any{}
	}
	return map[string]any{
		"type":            elevenlabs.EventPostCallTranscription,
		"event_timestamp": spec.EventTimestamp,
		"data": map[string]any{
			"agent_id":        spec.AgentID,
			"conversation_id": spec.ConversationID,
			"status":          "done",
			"user_id":         nil,
			"transcript":      transcript,
			"metadata": map[string]any{
				"start_time_unix_secs":           spec.StartUnix,
				"accepted_time_unix_secs":        spec.StartUnix,
				"call_duration_secs":             spec.DurationSecs,
				"cost":                           spec.DurationSecs * 10,
				"deletion_settings":              map[string]any{},
				"feedback":                       map[string]any{"overall_score": nil, "likes": 0, "dislikes": 0},
				"authorization_method":           "signed_url",
				"charging":                       map[string]any{"dev_discount": false},
				"phone_call":                     phoneCall,
				"batch_call":                     nil,
				"termination_reason":             spec.TerminationReason,
				"error":                          nil,
				"main_language":                  "en",
				"rag_usage":                      nil,
				"text_only":                      false,
				"features_usage":                 map[string]any{},
				"conversation_initiation_source": "twilio",
				"timezone":                       nil,
			},
			"analysis": analysis,
			"conversation_initiation_client_data": map[string]any{
				"conversation_config_override": map[string]any{"agent": nil, "tts": nil, "conversation": nil},
				"custom_llm_extra_body":        map[string]any{},
				"user_id":                      nil,
				"source_info":                  map[string]any{"source": nil, "version": nil},
				"dynamic_variables":            vars,
			},
			"has_audio":          true,
			"has_user_audio":     true,
			"has_response_audio": true,
		},
	}
}

// CallInitiationFailurePayload returns the call_initiation_failure webhook of a call that never
// connected; reason is e.g. "busy", "no-answer" or "unknown".
func CallInitiationFailurePayload(agentID, conversationID, callSid, reason string) map[string]any {
	return map[string]any{
		"type":            elevenlabs.EventCallInitiationFailure,
		"event_timestamp": time.Now().Unix(),
		"data": map[string]any{
			"agent_id":        agentID,
			"conversation_id": conversationID,
			"failure_reason":  reason,
			"metadata": map[string]any{
				"type": "twilio",
				"body": map[string]any{"CallSid": callSid, "CallStatus": reason, "Direction": "outbound-api"},
			},
		},
	}
}
