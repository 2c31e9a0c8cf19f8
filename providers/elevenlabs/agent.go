package elevenlabs

import (
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
	"sync"
	"time"

	"github.com/coder/websocket"

	"github.com/jack-auto/jack"
)

// maxEvent bounds one server event. Text events are small, but an audio event (which a
// text-only conversation should never get) must not break the socket.
const maxEvent = 4 << 20

// pongTimeout bounds writing one pong, so a stuck socket cannot stall the reader.
const pongTimeout = 5 * time.Second

// Open starts a text-only conversation with the client's agent for conv: it fetches a signed
// URL, opens the socket it names, sends conv.Variables as the dynamic variables and waits for
// ElevenLabs to accept (conversation_initiation_metadata). The session answers ElevenLabs'
// pings until Close. Returns EPROVIDER when ElevenLabs refused (for instance, close 1008
// missing_dynamic_variable when a variable the agent uses is absent) or could not be reached.
func (c *Client) Open(ctx context.Context, conv jack.AgentConversation) (jack.AgentSession, error) {
	s := &session{
		c:    c,
		log:  c.log.With("org_id", conv.OrganizationID, "phone", jack.MaskPhone(conv.Phone)),
		turn: make(chan struct{}, 1),
		vars: conv.Variables,
		// The greeting is the voice agent's first message (see Webhooks.InitiationAnswer); a
		// text conversation answers the customer's first text, so it does not use it.
		instructions: conv.Instructions,
	}
	s.ctx, s.cancel = context.WithCancel(context.Background())
	l, err := s.connect(ctx)
	if err != nil {
		s.cancel()
		return nil, fmt.Errorf("elevenlabs: open conversation: %w", err)
	}
	s.link = l
	return s, nil
}

// session is one customer's conversation with the agent. It holds at most one socket (a
// link) and replaces it when ElevenLabs drops it:
//   - A socket that ended while no Reply was waiting (ElevenLabs closes after 60 s without
//     user input, code 1002 transport_receive_timeout) is reopened by the next Reply.
//   - A socket that ends with 1002 or 1011 (or an error event with those codes) while a Reply
//     waits is reopened once and the message sent again; any other end, or a second one, fails
//     the Reply with EPROVIDER.
//
// A reopened socket starts a new ElevenLabs conversation, so it is initiated with the dynamic
// variables of the latest turn (their conversation_context is then the agent's only memory).
//
// Closing an idle session is the grain's job; the session itself never times out.
type session struct {
	c      *Client
	log    *slog.Logger
	ctx    context.Context // ends at Close, aborting a reconnect in progress
	cancel context.CancelFunc
	turn   chan struct{} // holds one token while a Reply runs: one message at a time

	instructions string // the dealership's instructions: the agent's prompt when set

	mu     sync.Mutex
	vars   map[string]any
	link   *link
	closed bool
}

var errSessionClosed = &jack.Error{Code: jack.EUNAVAILABLE, Message: "The AI conversation has ended."}

// Reply sends turn.Text as the customer's message and returns the agent's next answer,
// trimmed. Returns EPROVIDER when ElevenLabs dropped the conversation (see session), did not
// answer within Config.ReplyTimeout or could not be reached, and EUNAVAILABLE after Close.
func (s *session) Reply(ctx context.Context, turn jack.AgentTurn) (*jack.AgentReply, error) {
	select {
	case s.turn <- struct{}{}:
		defer func() { <-s.turn }()
	case <-ctx.Done():
		return nil, fmt.Errorf("elevenlabs: reply: %w", waitError(ctx))
	}
	if turn.Variables != nil {
		s.mu.Lock()
		s.vars = turn.Variables
		s.mu.Unlock()
	}
	for attempt := 1; ; attempt++ {
		l, err := s.current(ctx)
		if err != nil {
			return nil, fmt.Errorf("elevenlabs: reply: %w", err)
		}
		text, err := l.ask(ctx, turn.Text, s.c.cfg.ReplyTimeout)
		if err == nil {
			return &jack.AgentReply{Text: text}, nil
		}
		// Whatever went wrong, the socket is done: broken, or owing an answer that must not
		// become the answer to the next message.
		s.drop(l)
		var d *dropped
		if errors.As(err, &d) && d.retryable() && attempt == 1 {
			s.log.WarnContext(ctx, "elevenlabs: conversation dropped, reconnecting",
				"conversation_id", l.conversationID, "close_code", int(d.code), "reason", d.reason)
			continue
		}
		return nil, fmt.Errorf("elevenlabs: reply: %w", err)
	}
}

// Close ends the conversation with close code 1000 and stops its reader. It is safe to call
// twice and interrupts a Reply in progress (which then returns EUNAVAILABLE).
func (s *session) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	l := s.link
	s.link = nil
	s.mu.Unlock()
	s.cancel()
	if l != nil {
		l.close(true)
	}
	return nil
}

// current returns the open socket, reopening it if ElevenLabs ended it meanwhile.
func (s *session) current(ctx context.Context) (*link, error) {
	s.mu.Lock()
	l, closed := s.link, s.closed
	s.mu.Unlock()
	if closed {
		return nil, errSessionClosed
	}
	if l != nil {
		d := l.failure()
		if d == nil {
			return l, nil
		}
		s.log.DebugContext(ctx, "elevenlabs: conversation ended while idle, reconnecting",
			"conversation_id", l.conversationID, "close_code", int(d.code), "reason", d.reason)
		s.drop(l)
	}
	l, err := s.connect(ctx)
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	closed = s.closed
	if !closed {
		s.link = l
	}
	s.mu.Unlock()
	if closed { // Close ran during the connect
		l.close(true)
		return nil, errSessionClosed
	}
	return l, nil
}

// drop forgets l and aborts its socket.
func (s *session) drop(l *link) {
	s.mu.Lock()
	if s.link == l {
		s.link = nil
	}
	s.mu.Unlock()
	l.close(false)
}

// connect opens a new socket: signed URL, handshake, initiation data, metadata.
func (s *session) connect(ctx context.Context) (*link, error) {
	ctx, cancel := context.WithTimeout(ctx, s.c.cfg.Timeout)
	defer cancel()
	defer context.AfterFunc(s.ctx, cancel)()
	if s.ctx.Err() != nil {
		return nil, errSessionClosed
	}

	var signed struct {
		SignedURL string `json:"signed_url"`
	}
	query := url.Values{"agent_id": {s.c.cfg.AgentID}}
	if err := s.c.call(ctx, "GET", "/v1/convai/conversation/get-signed-url", query, nil, &signed, "open a conversation"); err != nil {
		return nil, s.closedOr(err)
	}
	if signed.SignedURL == "" {
		return nil, unexpected(errors.New("get-signed-url answered no signed_url"))
	}

	// The signed URL is opaque: dialed verbatim, it carries the credential.
	ws, resp, err := websocket.Dial(ctx, signed.SignedURL, &websocket.DialOptions{HTTPClient: s.c.hc})
	if err != nil {
		if resp != nil && resp.StatusCode != http.StatusSwitchingProtocols && resp.Body != nil {
			raw, _ := io.ReadAll(resp.Body)
			return nil, fmt.Errorf("%w: %w", refusal("open a conversation", resp.StatusCode, raw), err)
		}
		return nil, s.closedOr(transportError(ctx, err))
	}
	ws.SetReadLimit(maxEvent)
	l := &link{ws: ws, log: s.log, failed: make(chan struct{}), done: make(chan struct{})}

	s.mu.Lock()
	vars := DynamicVariables(s.vars)
	s.mu.Unlock()
	init := initiationData{Type: "conversation_initiation_client_data", DynamicVariables: vars, Override: &configOverride{}}
	init.Override.Conversation.TextOnly = true
	if s.instructions != "" {
		init.Override.Agent = &agentOverride{}
		init.Override.Agent.Prompt.Prompt = s.instructions
	}
	if err := l.send(ctx, init); err != nil {
		ws.CloseNow()
		return nil, s.closedOr(transportError(ctx, err))
	}

	// ElevenLabs' first event should be the metadata; answer pings meanwhile all the same.
	for {
		_, data, err := ws.Read(ctx)
		if err != nil {
			ws.CloseNow()
			if ctx.Err() != nil {
				return nil, s.closedOr(transportError(ctx, err))
			}
			return nil, droppedBy(err).domain()
		}
		var ev serverEvent
		if json.Unmarshal(data, &ev) != nil {
			continue
		}
		switch ev.Type {
		case "conversation_initiation_metadata":
			if ev.Metadata != nil {
				l.conversationID = ev.Metadata.ConversationID
			}
			s.log.DebugContext(ctx, "elevenlabs: conversation opened", "conversation_id", l.conversationID)
			go l.read() //nolint:gosec // the socket's reader lives as long as the session, not the call that opened it
			return l, nil
		case "ping":
			l.pong(ev)
		case "error":
			ws.CloseNow()
			return nil, ev.dropped().domain()
		}
	}
}

// closedOr returns errSessionClosed when Close interrupted the connect, else err.
func (s *session) closedOr(err error) error {
	if s.ctx.Err() != nil {
		return fmt.Errorf("%w: %w", errSessionClosed, err)
	}
	return err
}

// link is one conversation socket and its reader goroutine. The reader answers every ping at
// once, hands the first agent_response to a waiting ask and discards the rest: an answer that
// arrives while nobody waits is the agent's greeting (an agent with a first_message speaks
// first, unprompted) or a late or second answer, and must never become the answer to a later
// message. A greeting that arrives after the first message was sent cannot be told apart from
// the answer; agents used for SMS should have an empty first_message.
type link struct {
	ws             *websocket.Conn
	log            *slog.Logger
	conversationID string
	failed         chan struct{} // closed when the socket ends or ElevenLabs reports an error
	done           chan struct{} // closed when the reader returns

	mu     sync.Mutex
	why    *dropped    // set once, before failed closes
	waiter chan string // set while an ask waits; buffered
}

// ask sends text as a user_message and waits for the agent's answer.
func (l *link) ask(ctx context.Context, text string, timeout time.Duration) (string, error) {
	l.mu.Lock()
	if l.why != nil {
		l.mu.Unlock()
		return "", l.why.domain()
	}
	answer := make(chan string, 1)
	l.waiter = answer // before sending: a quick answer must find it
	l.mu.Unlock()
	defer func() {
		l.mu.Lock()
		if l.waiter == answer {
			l.waiter = nil
		}
		l.mu.Unlock()
	}()

	if err := l.send(ctx, userMessage{Type: "user_message", Text: text}); err != nil {
		if ctx.Err() != nil {
			return "", waitError(ctx)
		}
		// The socket is broken; its reader knows why (a close frame, say).
		l.ws.CloseNow()
		<-l.done
		return "", l.failure().domain()
	}
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	select {
	case text := <-answer:
		return text, nil
	case <-l.failed:
		select {
		case text := <-answer:
			return text, nil
		default:
		}
		if ctx.Err() != nil {
			// A write cut short by ctx closes the socket: the end is ours, not ElevenLabs'.
			return "", waitError(ctx)
		}
		return "", l.failure().domain()
	case <-ctx.Done():
		return "", waitError(ctx)
	case <-timer.C:
		return "", fmt.Errorf("%w: no agent_response within %s", noAnswer, timeout)
	}
}

// read runs until the socket ends, then records why.
func (l *link) read() {
	defer close(l.done)
	for {
		typ, data, err := l.ws.Read(context.Background())
		if err != nil {
			l.fail(droppedBy(err))
			return
		}
		if typ != websocket.MessageText {
			continue
		}
		var ev serverEvent
		if err := json.Unmarshal(data, &ev); err != nil {
			l.log.Debug("elevenlabs: unreadable event ignored", "conversation_id", l.conversationID, "err", err)
			continue
		}
		switch ev.Type {
		case "ping":
			l.pong(ev)
		case "agent_response":
			if ev.AgentResponse != nil {
				l.deliver(strings.TrimSpace(ev.AgentResponse.AgentResponse))
			}
		case "error":
			// ElevenLabs closes right after; the waiting ask need not wait for the close.
			l.fail(ev.dropped())
		default: // audio, transcripts, metadata, tool events…: not for a text reply
		}
	}
}

func (l *link) deliver(text string) {
	l.mu.Lock()
	w := l.waiter
	if text != "" {
		l.waiter = nil
	}
	l.mu.Unlock()
	if w == nil || text == "" {
		l.log.Debug("elevenlabs: agent response discarded, no reply waiting", "conversation_id", l.conversationID)
		return
	}
	w <- text
}

func (l *link) pong(ev serverEvent) {
	if ev.Ping == nil || len(ev.Ping.EventID) == 0 {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), pongTimeout)
	defer cancel()
	if err := l.send(ctx, pong{Type: "pong", EventID: ev.Ping.EventID}); err != nil {
		l.log.Debug("elevenlabs: pong not sent", "conversation_id", l.conversationID, "err", err)
	}
}

func (l *link) send(ctx context.Context, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return l.ws.Write(ctx, websocket.MessageText, b)
}

// fail records why the link ended; the first reason wins.
func (l *link) fail(d *dropped) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.why == nil {
		l.why = d
		close(l.failed)
	}
}

func (l *link) failure() *dropped {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.why
}

// close ends the socket (normally with 1000, else at once) and waits for the reader.
func (l *link) close(normal bool) {
	l.fail(&dropped{code: websocket.StatusNormalClosure, local: true})
	if normal {
		l.ws.Close(websocket.StatusNormalClosure, "")
	} else {
		l.ws.CloseNow()
	}
	<-l.done
}

// dropped is why a socket ended: a close frame, an error event, a broken connection (code -1)
// or our own close (local).
type dropped struct {
	code    websocket.StatusCode
	reason  string // ElevenLabs' snake_case reason (close reason or error_type)
	message string // ElevenLabs' human message, from an error event
	local   bool
	err     error
}

func (d *dropped) Error() string {
	s := fmt.Sprintf("conversation socket ended: code=%d reason=%q", int(d.code), d.reason)
	if d.message != "" {
		s += fmt.Sprintf(" message=%q", d.message)
	}
	if d.err != nil {
		s += ": " + d.err.Error()
	}
	return s
}

func (d *dropped) Unwrap() error { return d.err }

// retryable reports an operational end (1002: timeouts, LLM or transport errors; 1011:
// internal) that a new conversation may not meet.
func (d *dropped) retryable() bool {
	return !d.local && (d.code == websocket.StatusProtocolError || d.code == websocket.StatusInternalError)
}

// domain is d as a domain error that wraps d.
func (d *dropped) domain() error {
	if d.local {
		return fmt.Errorf("%w: %w", errSessionClosed, d)
	}
	msg := "The conversation with ElevenLabs broke off."
	if d.code > 0 {
		msg = fmt.Sprintf("ElevenLabs ended the conversation (%d", int(d.code))
		if d.reason != "" {
			msg += " " + clip(d.reason)
		}
		msg += ")"
		if d.message != "" && d.message != d.reason {
			msg += ": " + clip(d.message)
		}
		msg += "."
	}
	details := map[string]any{"closeCode": int(d.code)}
	if d.reason != "" {
		details["reason"] = d.reason
	}
	return fmt.Errorf("%w: %w", &jack.Error{Code: jack.EPROVIDER, Message: msg, Details: details}, d)
}

// droppedBy reads why a socket read failed.
func droppedBy(err error) *dropped {
	var ce websocket.CloseError
	if errors.As(err, &ce) {
		return &dropped{code: ce.Code, reason: ce.Reason, err: err}
	}
	return &dropped{code: -1, err: err}
}

// noAnswer marks a Reply that got no answer in time.
var noAnswer = &jack.Error{Code: jack.EPROVIDER, Message: "ElevenLabs did not answer in time."}

// waitError is the domain error for a wait that ctx ended; it wraps ctx.Err().
func waitError(ctx context.Context) error {
	if errors.Is(ctx.Err(), context.Canceled) {
		return fmt.Errorf("%w: %w", &jack.Error{Code: jack.EPROVIDER, Message: "The request to ElevenLabs was canceled."}, ctx.Err())
	}
	return fmt.Errorf("%w: %w", noAnswer, ctx.Err())
}

// Client → server events.
type (
	userMessage struct {
		Type string `json:"type"`
		Text string `json:"text"`
	}
	pong struct {
		Type    string          `json:"type"`
		EventID json.RawMessage `json:"event_id"`
	}
)

// serverEvent holds the server events a text conversation reads; the rest are ignored.
type serverEvent struct {
	Type     string `json:"type"`
	Metadata *struct {
		ConversationID string `json:"conversation_id"`
	} `json:"conversation_initiation_metadata_event"`
	AgentResponse *struct {
		AgentResponse string `json:"agent_response"`
	} `json:"agent_response_event"`
	Ping *struct {
		EventID json.RawMessage `json:"event_id"`
	} `json:"ping_event"`
	Error *struct {
		Code      int    `json:"code"`
		Message   string `json:"message"`
		ErrorType string `json:"error_type"`
		Reason    string `json:"reason"`
	} `json:"error_event"`
}

// dropped reads an error event. Without a code it counts as internal (1011).
func (ev serverEvent) dropped() *dropped {
	d := &dropped{code: websocket.StatusInternalError}
	if e := ev.Error; e != nil {
		if e.Code != 0 {
			d.code = websocket.StatusCode(e.Code)
		}
		d.reason = cmp.Or(e.ErrorType, e.Reason)
		d.message = e.Message
	}
	return d
}
