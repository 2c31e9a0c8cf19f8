package http

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"runtime/debug"
	"strings"
	"sync"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/google/uuid"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/jack-auto/jack"
)

// Frames that carry no event. EventSource waits retry milliseconds before it reconnects; a
// comment line keeps proxies from closing an idle stream and shows a gone client (the write
// fails).
const (
	retryFrame = "retry: 2000\n\n"
	pingFrame  = ": ping\n\n"
)

// replayPageSize is how many stored events one FindEvents call of a replay reads.
const replayPageSize = 500

// stuckStreamGrace is how long an ended stream's writer has to return before its connection is
// closed under it: a writer blocked on a client that stopped reading returns only once the
// connection is gone.
const stuckStreamGrace = time.Second

// Why a stream ended, for the log.
var (
	errSlowClient    = errors.New("the client could not keep up")
	errClientGone    = errors.New("the client went away")
	errStreamsClosed = jack.Errorf(jack.EUNAVAILABLE, "The server is shutting down.")
)

// streamTokenAnswer answers POST /api/stream/token.
type streamTokenAnswer struct {
	Token     string    `json:"token"`
	ExpiresAt time.Time `json:"expiresAt"`
}

// createStreamToken issues a token that opens GET /api/stream and nothing else, for EventSource
// URLs: an access token never goes into a URL (and from there into proxy logs and browser
// history). It lasts as long as the caller's session and is revoked with it, so an EventSource
// reconnecting with the same URL after a long network blip still gets in.
func (s *Server) createStreamToken(c *fiber.Ctx) error {
	token, exp, err := s.signToken(streamTokenClaims(principal(c), s.cfg.Now()))
	if err != nil {
		return fmt.Errorf("sign stream token: %w", err)
	}
	return c.Status(fiber.StatusCreated).JSON(streamTokenAnswer{Token: token, ExpiresAt: exp.UTC()})
}

// stream serves the caller's organization's events as Server-Sent Events, narrowed to one lead
// by ?leadId=, strictly in Seq order (which is commit order): it joins the organization's feed,
// replays from the Store what the client missed (Last-Event-ID header, or ?lastEventId= for
// EventSource's first connect) up to where it joined, then sends what the feed offers. The
// stream ends when the client goes, cannot keep up or the server closes; the client reconnects
// and resumes from its last id.
func (s *Server) stream(c *fiber.Ctx) error {
	if s.broker == nil {
		return jack.Errorf(jack.EUNAVAILABLE, "Live events are not available on this server.")
	}
	p := principal(c)
	after, resume, err := lastEventID(c)
	if err != nil {
		return err
	}
	leadID := strings.TrimSpace(c.Query("leadId"))
	if leadID != "" {
		if _, err := s.store.FindLeadByID(c.UserContext(), p.OrganizationID, leadID); err != nil {
			return err
		}
	}
	if c.Method() == fiber.MethodHead {
		setStreamHeaders(c) // no body, so no stream to keep open until a heartbeat fails
		return nil
	}
	// The fiber and fasthttp contexts are recycled once this handler returns, while the stream
	// goes on: the stream keeps copies and a context of its own.
	st, err := s.openStream(p.OrganizationID, leadID, after, resume, requestIDOf(c), c.Context().Conn())
	if err != nil {
		return err
	}
	setStreamHeaders(c)
	c.Context().SetBodyStreamWriter(st.run)
	return nil
}

func setStreamHeaders(c *fiber.Ctx) {
	c.Set(fiber.HeaderContentType, "text/event-stream")
	c.Set(fiber.HeaderCacheControl, "no-cache")
	c.Set(fiber.HeaderConnection, "keep-alive")
	c.Set("X-Accel-Buffering", "no") // nginx would otherwise hold events back
}

// lastEventID reads where the client resumes: the Last-Event-ID header, else ?lastEventId=.
// resume is false when it names none; a value that is not an event id is EINVALID.
func lastEventID(c *fiber.Ctx) (after uuid.UUID, resume bool, err error) {
	raw := strings.TrimSpace(c.Get("Last-Event-ID"))
	if raw == "" {
		raw = strings.TrimSpace(c.Query("lastEventId"))
	}
	if raw == "" {
		return uuid.Nil, false, nil
	}
	id, err := uuid.Parse(raw)
	if err != nil {
		return uuid.Nil, false, jack.Errorf(jack.EINVALID, "Last-Event-ID must be the id of an event.")
	}
	return id, true, nil
}

// openStream registers a stream and joins it to its organization's feed.
func (s *Server) openStream(orgID uuid.UUID, leadID string, after uuid.UUID, resume bool, requestID string, conn net.Conn) (*stream, error) {
	if !s.streams.begin() {
		return nil, errStreamsClosed
	}
	ctx, cancel := context.WithCancelCause(jack.NewContextWithRequestID(s.streams.ctx, requestID))
	st := &stream{
		ctx:       ctx,
		cancel:    cancel,
		hub:       s.streams,
		feeds:     s.feeds,
		store:     s.store,
		log:       s.log.With("org_id", orgID, "request_id", requestID),
		orgID:     orgID,
		leadID:    leadID,
		after:     after,
		resume:    resume,
		heartbeat: s.cfg.StreamHeartbeat,
		events:    make(chan *eventFrame, s.cfg.StreamBuffer),
		conn:      conn,
		done:      make(chan struct{}),
	}
	joinAt, err := s.feeds.join(ctx, orgID, st)
	if err != nil {
		cancel(nil)
		s.streams.end()
		if s.streams.ctx.Err() != nil {
			return nil, errStreamsClosed
		}
		return nil, fmt.Errorf("join the event feed: %w", err)
	}
	st.joinAt = joinAt
	st.stopWatch = context.AfterFunc(ctx, st.closeIfStuck)
	return st, nil
}

// stream is one open GET /api/stream response.
type stream struct {
	ctx       context.Context // ends when the stream must end; its cause says why
	cancel    context.CancelCauseFunc
	hub       *streamHub
	feeds     *feeds
	store     jack.Store
	log       *slog.Logger
	orgID     uuid.UUID
	leadID    string    // "" for every lead
	after     uuid.UUID // the replay starts after this event (the client's Last-Event-ID)
	resume    bool      // the client named a last event id: replay before going live
	joinAt    int64     // the feed offers the events after this Seq; earlier ones are replayed
	heartbeat time.Duration
	// events is the stream's bounded buffer between the feed and the client: the feed fills it,
	// the writer drains it, and the stream ends when it overflows.
	events    chan *eventFrame
	conn      net.Conn // the client's connection, closed under a stuck writer
	done      chan struct{}
	stopWatch func() bool

	mu       sync.Mutex
	finished bool // the writer returned: conn may serve another request now
}

// offer hands the stream one of its organization's events without ever blocking, so the feed
// never waits on this client. It ends the stream when the buffer overflows.
func (st *stream) offer(e *eventFrame) {
	if st.leadID != "" && e.leadID != st.leadID {
		return
	}
	select {
	case st.events <- e:
	default:
		// The writer is most likely blocked on the client: only closing the connection frees it.
		if st.ctx.Err() == nil {
			st.cancel(errSlowClient)
			st.closeConn()
		}
	}
}

// run is the response body writer; fasthttp runs it in a goroutine of its own.
func (st *stream) run(w *bufio.Writer) {
	var reason error
	defer func() {
		if r := recover(); r != nil {
			reason = fmt.Errorf("panic: %v\n%s", r, debug.Stack())
		}
		st.finish(reason)
	}()
	reason = st.serve(w)
}

func (st *stream) serve(w *bufio.Writer) error {
	if err := writeFrame(w, retryFrame); err != nil {
		return err
	}
	sent, err := st.replay(w)
	if err != nil {
		return err
	}
	heartbeat := time.NewTicker(st.heartbeat)
	defer heartbeat.Stop()
	for {
		select {
		case <-st.ctx.Done():
			return context.Cause(st.ctx)
		case <-heartbeat.C:
			if err := writeFrame(w, pingFrame); err != nil {
				return err
			}
		case e := <-st.events:
			if e.seq <= sent { // the client has it already (it resumed past it)
				continue
			}
			if err := writeEvent(w, e); err != nil {
				return err
			}
			sent = e.seq
		}
	}
}

// replay sends the stored events after the client's last event up to where the stream joined
// its feed, and returns the Seq the client is at. Without a last id there is nothing to replay:
// the stream starts live. A client that resumes ahead of this node's feed (it was connected to
// a node that had delivered more) gets nothing twice: the live events it has are skipped.
func (st *stream) replay(w *bufio.Writer) (int64, error) {
	if !st.resume {
		return st.joinAt, nil
	}
	at, err := st.store.EventSeq(st.ctx, st.orgID, st.after)
	if err != nil {
		return 0, fmt.Errorf("replay events: %w", err)
	}
	for at < st.joinAt {
		page, err := st.store.FindEvents(st.ctx, st.orgID, jack.EventFilter{AfterSeq: at, LeadID: st.leadID, Limit: replayPageSize})
		if err != nil {
			return at, fmt.Errorf("replay events: %w", err)
		}
		for _, e := range page {
			if e.Seq > st.joinAt {
				return st.joinAt, nil // the feed offers this one and what follows
			}
			f, err := encodeEvent(e)
			if err != nil {
				st.log.Warn("event stream: skipped an event that does not encode", "event_id", e.ID, "err", err)
			} else if err := writeEvent(w, f); err != nil {
				return at, err
			}
			at = e.Seq
		}
		if len(page) < replayPageSize {
			break
		}
	}
	return max(at, st.joinAt), nil
}

// eventFrame is an event as it goes on the wire — its id, its type as the event name, and the
// whole event as one line of JSON (encoding/json escapes every newline) — encoded once by the
// feed for every stream of its organization.
type eventFrame struct {
	seq    int64
	leadID string
	bytes  []byte
}

func encodeEvent(e *jack.Event) (*eventFrame, error) {
	data, err := json.Marshal(e)
	if err != nil {
		return nil, err
	}
	b := make([]byte, 0, len(data)+len(e.Type)+64)
	b = append(b, "id: "...)
	b = append(b, e.ID.String()...)
	b = append(b, "\nevent: "...)
	b = append(b, e.Type...)
	b = append(b, "\ndata: "...)
	b = append(b, data...)
	b = append(b, "\n\n"...)
	return &eventFrame{seq: e.Seq, leadID: e.LeadID, bytes: b}, nil
}

func writeEvent(w *bufio.Writer, f *eventFrame) error {
	_, _ = w.Write(f.bytes)
	return flush(w)
}

func writeFrame(w *bufio.Writer, frame string) error {
	_, _ = w.WriteString(frame)
	return flush(w)
}

// flush pushes what w holds to the client; bufio errors are sticky, so a failed write shows
// here.
func flush(w *bufio.Writer) error {
	if err := w.Flush(); err != nil {
		return errClientGone
	}
	return nil
}

// closeIfStuck runs once the stream's context ends: a writer that has not returned within
// stuckStreamGrace is blocked on a client that stopped reading, and closing the connection
// is the only way to free it.
func (st *stream) closeIfStuck() {
	grace := time.NewTimer(stuckStreamGrace)
	defer grace.Stop()
	select {
	case <-st.done:
	case <-grace.C:
		st.closeConn()
	}
}

// closeConn closes the client's connection, as long as the stream still owns it: once the
// writer has returned, the connection may be serving the client's next request.
func (st *stream) closeConn() {
	st.mu.Lock()
	defer st.mu.Unlock()
	if !st.finished && st.conn != nil {
		_ = st.conn.Close()
	}
}

// finish releases the stream once its writer returns, and logs why it ended.
func (st *stream) finish(reason error) {
	if errors.Is(context.Cause(st.ctx), errSlowClient) {
		// Even when the writer got away, the end of the response sits behind everything the
		// client has not read: do not keep the connection for it.
		st.closeConn()
	}
	st.mu.Lock()
	st.finished = true
	st.mu.Unlock()
	close(st.done)
	st.stopWatch()
	if st.ctx.Err() != nil {
		reason = context.Cause(st.ctx)
	}
	st.cancel(reason)
	st.feeds.leave(st.orgID, st)
	st.hub.end()

	switch {
	case errors.Is(reason, errSlowClient):
		st.log.Info("event stream ended: the client could not keep up; it resumes from its last event")
	case reason == nil, errors.Is(reason, errClientGone), errors.Is(reason, context.Canceled):
		st.log.Debug("event stream ended", "reason", fmt.Sprint(reason))
	default:
		st.log.Warn("event stream ended", "err", reason)
	}
}

// streamHub tracks the open streams so Close can end them: a stream never finishes on its own,
// and Fiber's graceful shutdown waits for every open response.
type streamHub struct {
	ctx    context.Context // every stream's context derives from it; close cancels it
	cancel context.CancelFunc
	open   prometheus.Gauge

	mu     sync.Mutex
	closed bool
	wg     sync.WaitGroup
}

func newStreamHub(reg *prometheus.Registry) *streamHub {
	h := &streamHub{open: prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "jack_http_streams_open",
		Help: "Open event streams (GET /api/stream).",
	})}
	h.ctx, h.cancel = context.WithCancel(context.Background())
	reg.MustRegister(h.open)
	return h
}

// begin counts a new stream in; false once the hub is closed.
func (h *streamHub) begin() bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		return false
	}
	h.wg.Add(1)
	h.open.Inc()
	return true
}

func (h *streamHub) end() {
	h.open.Dec()
	h.wg.Done()
}

// close ends every stream and waits until their writers have returned, or ctx ends.
func (h *streamHub) close(ctx context.Context) error {
	h.mu.Lock()
	h.closed = true
	h.mu.Unlock()
	h.cancel()
	done := make(chan struct{})
	go func() {
		h.wg.Wait()
		close(done)
	}()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("end event streams: %w", ctx.Err())
	}
}
