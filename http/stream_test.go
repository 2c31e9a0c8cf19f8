package http_test

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/jack-auto/jack"
	jackhttp "github.com/jack-auto/jack/http"
	redisbroker "github.com/jack-auto/jack/persistence/redis"
)

// brokerOpener opens a fresh Broker for one test; needsEnv names a variable it needs.
type brokerOpener struct {
	name     string
	needsEnv string
	open     func(testing.TB) jack.Broker
}

// brokers are the adapters the stream suite runs against.
var brokers = []brokerOpener{
	{"Memory", "", mustMemoryBroker},
	{"Redis", "TEST_REDIS_URL", func(tb testing.TB) jack.Broker {
		b, err := redisbroker.Open(context.Background(), os.Getenv("TEST_REDIS_URL"), testLogger(tb))
		require.NoError(tb, err)
		tb.Cleanup(func() { require.NoError(tb, b.Close()) })
		return b
	}},
}

// TestStream runs the event stream's behaviour on every broker.
func TestStream(t *testing.T) {
	t.Parallel()
	for _, bo := range brokers {
		t.Run(bo.name, func(t *testing.T) {
			if bo.needsEnv != "" && os.Getenv(bo.needsEnv) == "" {
				t.Skipf("%s is not set (e.g. redis://127.0.0.1:6379/0): skipping the stream tests on a real Redis", bo.needsEnv)
			}
			t.Parallel()
			testStream(t, bo.open)
		})
	}
}

func testStream(t *testing.T, openBroker func(testing.TB) jack.Broker) {
	type testBundle struct {
		s     *testServer
		token string
		org   jack.Organization
		lead  jack.Lead
	}
	setup := func(t *testing.T, store jack.Store, configure ...func(*jackhttp.Config)) *testBundle {
		t.Helper()
		s := MustOpenServerWithBroker(t, store, openBroker(t), configure...)
		token, _, org := MustRegister(t, s.URL)
		return &testBundle{s: s, token: token, org: org, lead: MustCreateLead(t, s.URL, token, "Lena Lead", testPhone(1))}
	}

	t.Run("OK", func(t *testing.T) {
		t.Parallel()
		b := setup(t, nil)
		st := MustOpenStream(t, b.s.URL, request{Path: "/api/stream", Token: b.token})
		require.Equal(t, "text/event-stream", st.Header.Get("Content-Type"))
		require.Equal(t, "no-cache", st.Header.Get("Cache-Control"))
		require.Equal(t, "no", st.Header.Get("X-Accel-Buffering"))

		sent := []*jack.Event{
			jack.NewEvent(jack.EventSMSReceived, b.org.ID, b.lead.ID, b.lead.PhoneNumberNormalized, time.Now().UTC(), map[string]string{"content": "line one\nline two"}),
			jack.NewEvent(jack.EventLeadUpdated, b.org.ID, b.lead.ID, b.lead.PhoneNumberNormalized, time.Now().UTC(), nil),
			jack.NewEvent(jack.EventSMSSent, b.org.ID, b.lead.ID, b.lead.PhoneNumberNormalized, time.Now().UTC(), nil),
		}
		sent[0].Message = "Hi!\r\nIs the RAV4 still available?"
		MustEmit(t, b.s.Store, b.s.Broker, sent...)
		for _, want := range sent {
			f, got := st.NextEvent(t)
			require.Equal(t, want.ID.String(), f.ID)
			require.Equal(t, want.Type, f.Event)
			require.Equal(t, want.ID, got.ID)
			require.Equal(t, want.Message, got.Message)
			if want.Data != nil {
				require.JSONEq(t, string(want.Data), string(got.Data))
			}
		}
	})

	t.Run("LeadNarrows", func(t *testing.T) {
		t.Parallel()
		b := setup(t, nil)
		other := MustCreateLead(t, b.s.URL, b.token, "Otto Other", testPhone(2))
		st := MustOpenStream(t, b.s.URL, request{Path: "/api/stream?leadId=" + b.lead.ID, Token: b.token})
		MustEmit(t, b.s.Store, b.s.Broker, leadEvent(b.org.ID, other.ID))
		mine := leadEvent(b.org.ID, b.lead.ID)
		MustEmit(t, b.s.Store, b.s.Broker, mine)
		st.RequireEvents(t, mine.ID) // the other lead's event, published first, never came
	})

	t.Run("ErrLeadNotFound", func(t *testing.T) {
		t.Parallel()
		b := setup(t, nil)
		otherToken, _, _ := MustRegister(t, b.s.URL)
		foreign := MustCreateLead(t, b.s.URL, otherToken, "Fran Foreign", testPhone(3))
		for _, id := range []string{foreign.ID, "no-such-lead"} {
			MustFail(t, b.s.URL, request{Method: "GET", Path: "/api/stream?leadId=" + id, Token: b.token}, http.StatusNotFound, jack.ENOTFOUND)
		}
	})

	t.Run("ErrOtherOrganization", func(t *testing.T) {
		t.Parallel()
		b := setup(t, nil)
		MustFail(t, b.s.URL, request{Method: "GET", Path: "/api/stream?organizationId=" + uuid.NewString(), Token: b.token}, http.StatusForbidden, jack.EFORBIDDEN)
	})

	t.Run("OrganizationsStayApart", func(t *testing.T) {
		t.Parallel()
		b := setup(t, nil)
		otherToken, _, otherOrg := MustRegister(t, b.s.URL)
		mine := MustOpenStream(t, b.s.URL, request{Path: "/api/stream", Token: b.token})
		theirs := MustOpenStream(t, b.s.URL, request{Path: "/api/stream", Token: otherToken})
		var mineIDs, theirIDs []uuid.UUID
		for i := range 6 {
			org, ids := b.org.ID, &mineIDs
			if i%2 == 0 {
				org, ids = otherOrg.ID, &theirIDs
			}
			e := leadEvent(org, "")
			MustEmit(t, b.s.Store, b.s.Broker, e)
			*ids = append(*ids, e.ID)
		}
		mine.RequireEvents(t, mineIDs...)
		theirs.RequireEvents(t, theirIDs...)
	})

	t.Run("Replay", func(t *testing.T) {
		t.Parallel()
		b := setup(t, nil)
		events := MustInsertEvents(t, b.s.Store, b.org.ID, b.lead.ID, 8)
		for _, e := range events {
			MustPublish(t, b.s.Broker, e) // to nobody: no stream is open yet
		}
		st := MustOpenStream(t, b.s.URL, request{Path: "/api/stream", Token: b.token,
			Headers: map[string]string{"Last-Event-ID": events[2].ID.String()}})
		st.RequireEvents(t, ids(events[3:])...)
		live := MustInsertEvents(t, b.s.Store, b.org.ID, b.lead.ID, 2)
		for _, e := range live {
			MustPublish(t, b.s.Broker, e)
		}
		st.RequireEvents(t, ids(live)...)
	})

	t.Run("ReplayFromQuery", func(t *testing.T) {
		t.Parallel()
		b := setup(t, nil)
		other := MustCreateLead(t, b.s.URL, b.token, "Otto Other", testPhone(2))
		mine := MustInsertEvents(t, b.s.Store, b.org.ID, b.lead.ID, 3)
		MustInsertEvents(t, b.s.Store, b.org.ID, other.ID, 2)
		st := MustOpenStream(t, b.s.URL, request{Path: "/api/stream?leadId=" + b.lead.ID + "&lastEventId=" + mine[0].ID.String(), Token: b.token})
		st.RequireEvents(t, ids(mine[1:])...)
		marker := leadEvent(b.org.ID, b.lead.ID)
		MustEmit(t, b.s.Store, b.s.Broker, marker)
		st.RequireEvents(t, marker.ID) // the other lead's stored events were not replayed
	})

	t.Run("ReplayEveryPage", func(t *testing.T) {
		t.Parallel()
		b := setup(t, nil)
		events := MustInsertEvents(t, b.s.Store, b.org.ID, b.lead.ID, 1003) // more than two pages of 500
		st := MustOpenStream(t, b.s.URL, request{Path: "/api/stream", Token: b.token,
			Headers: map[string]string{"Last-Event-ID": uuid.Nil.String()}})
		st.RequireEvents(t, ids(events)...)
	})

	// Events committed and published while the replay runs come both ways: each is sent once.
	t.Run("ReplayOverlapsLive", func(t *testing.T) {
		t.Parallel()
		store := &gatedStore{Store: openSQLite(t), gate: make(chan struct{})}
		b := setup(t, store)
		events := MustInsertEvents(t, store, b.org.ID, b.lead.ID, 6)
		// MustOpenStream returns after the first frame: subscribed, and the replay is waiting.
		st := MustOpenStream(t, b.s.URL, request{Path: "/api/stream", Token: b.token,
			Headers: map[string]string{"Last-Event-ID": events[2].ID.String()}})
		for _, e := range events[3:] {
			MustPublish(t, b.s.Broker, e)
		}
		late := MustInsertEvents(t, store, b.org.ID, b.lead.ID, 1)
		MustPublish(t, b.s.Broker, late[0])
		close(store.gate)

		st.RequireEvents(t, ids(append(events[3:], late...))...) // from the replay
		after := MustInsertEvents(t, store, b.org.ID, b.lead.ID, 1)
		MustPublish(t, b.s.Broker, after[0])
		st.RequireEvents(t, after[0].ID) // the live copies of the replayed events were dropped
	})

	t.Run("ErrMalformedLastEventID", func(t *testing.T) {
		t.Parallel()
		b := setup(t, nil)
		MustFail(t, b.s.URL, request{Method: "GET", Path: "/api/stream", Token: b.token,
			Headers: map[string]string{"Last-Event-ID": "not-an-id"}}, http.StatusBadRequest, jack.EINVALID)
		MustFail(t, b.s.URL, request{Method: "GET", Path: "/api/stream?lastEventId=42", Token: b.token}, http.StatusBadRequest, jack.EINVALID)
	})

	t.Run("Heartbeat", func(t *testing.T) {
		t.Parallel()
		b := setup(t, nil, func(cfg *jackhttp.Config) { cfg.StreamHeartbeat = 20 * time.Millisecond })
		st := MustOpenStream(t, b.s.URL, request{Path: "/api/stream", Token: b.token})
		require.Equal(t, sseFrame{Comment: "ping"}, st.Next(t))
		require.Equal(t, sseFrame{Comment: "ping"}, st.Next(t))
	})

	// A client that stops reading is disconnected once its buffer overflows; Publish never
	// waits for it, and a client that keeps up keeps receiving.
	t.Run("SlowClient", func(t *testing.T) {
		t.Parallel()
		b := setup(t, nil, func(cfg *jackhttp.Config) { cfg.StreamBuffer = 4 })
		fast := MustOpenStream(t, b.s.URL, request{Path: "/api/stream", Token: b.token})
		slow := dialStalledStream(t, b.s.URL, b.token)
		waitUntil(t, 5*time.Second, "both streams open", func() bool { return openStreams(t, b.s) == 2 })

		big := strings.Repeat("x", 64<<10)
		for batch := 0; openStreams(t, b.s) > 1; batch++ {
			require.Less(t, batch, 64, "the stalled client was never disconnected")
			for range 32 {
				e := leadEvent(b.org.ID, b.lead.ID)
				e.Message = big
				MustEmit(t, b.s.Store, b.s.Broker, e)
				fast.RequireEvents(t, e.ID)
			}
			// Once the buffer overflows, the stream ends as soon as its writer returns.
			pollUntil(500*time.Millisecond, func() bool { return openStreams(t, b.s) == 1 })
		}
		// The server closed the connection: what the client sends now is answered with a
		// reset (an open connection would answer it as the next request and stay open).
		_, _ = io.WriteString(slow, "GET /health HTTP/1.1\r\nHost: jack.test\r\n\r\n")
		require.NoError(t, slow.SetReadDeadline(time.Now().Add(10*time.Second)))
		_, err := io.Copy(io.Discard, slow)
		var ne net.Error
		require.False(t, errors.As(err, &ne) && ne.Timeout(), "the server closed the stalled connection: %v", err)

		e := leadEvent(b.org.ID, b.lead.ID)
		MustEmit(t, b.s.Store, b.s.Broker, e)
		fast.RequireEvents(t, e.ID)
	})

	// Events reach streams from the Store: the broker only wakes the feed up. A commit whose
	// publish was lost (its node died between the two) arrives at the next poll, and events
	// published out of commit order still stream in id order, each once.
	t.Run("CommittedButNeverPublished", func(t *testing.T) {
		t.Parallel()
		b := setup(t, nil, func(cfg *jackhttp.Config) { cfg.StreamPoll = 50 * time.Millisecond })
		st := MustOpenStream(t, b.s.URL, request{Path: "/api/stream", Token: b.token})
		lost := MustInsertEvents(t, b.s.Store, b.org.ID, b.lead.ID, 2) // never published
		st.RequireEvents(t, ids(lost)...)
	})
	t.Run("PublishedOutOfOrder", func(t *testing.T) {
		t.Parallel()
		b := setup(t, nil)
		st := MustOpenStream(t, b.s.URL, request{Path: "/api/stream", Token: b.token})
		events := MustInsertEvents(t, b.s.Store, b.org.ID, b.lead.ID, 3)
		MustPublish(t, b.s.Broker, events[2])
		MustPublish(t, b.s.Broker, events[0])
		MustPublish(t, b.s.Broker, events[1])
		st.RequireEvents(t, ids(events)...)
		more := leadEvent(b.org.ID, b.lead.ID)
		MustEmit(t, b.s.Store, b.s.Broker, more)
		st.RequireEvents(t, more.ID) // and nothing twice in between
	})
	t.Run("BrokerGoneFallsBackToPolling", func(t *testing.T) {
		t.Parallel()
		b := setup(t, nil, func(cfg *jackhttp.Config) { cfg.StreamPoll = 50 * time.Millisecond })
		st := MustOpenStream(t, b.s.URL, request{Path: "/api/stream", Token: b.token})
		require.NoError(t, b.s.Broker.Close())
		events := MustInsertEvents(t, b.s.Store, b.org.ID, b.lead.ID, 2)
		st.RequireEvents(t, ids(events)...)
		again := MustOpenStream(t, b.s.URL, request{Path: "/api/stream", Token: b.token,
			Headers: map[string]string{"Last-Event-ID": events[0].ID.String()}})
		again.RequireEvents(t, events[1].ID)
	})

	t.Run("CloseEndsStreams", func(t *testing.T) {
		t.Parallel()
		b := setup(t, nil)
		streams := []*sseStream{
			MustOpenStream(t, b.s.URL, request{Path: "/api/stream", Token: b.token}),
			MustOpenStream(t, b.s.URL, request{Path: "/api/stream", Token: b.token}),
		}
		start := time.Now()
		require.NoError(t, b.s.Close(context.Background()))
		require.Less(t, time.Since(start), 3*time.Second, "Close waited for the streams")
		for _, st := range streams {
			st.RequireEnded(t)
		}
	})
}

// TestStream_Auth: who may open the stream, and with which credential.
func TestStream_Auth(t *testing.T) {
	t.Parallel()

	t.Run("StreamToken", func(t *testing.T) {
		t.Parallel()
		s := MustOpenServer(t, nil)
		token, _, org := MustRegister(t, s.URL)
		st := mustStreamToken(t, s, token)
		require.WithinDuration(t, s.Clock.Now().Add(jackhttp.DefaultJWTTTL), st.ExpiresAt, 2*time.Second, "as long as the session")

		stream := MustOpenStream(t, s.URL, request{Path: "/api/stream?token=" + st.Token})
		e := leadEvent(org.ID, "")
		MustEmit(t, s.Store, s.Broker, e)
		stream.RequireEvents(t, e.ID)
	})

	// A browser EventSource reconnects with the same URL (and Last-Event-ID) after a network
	// blip of any length: the stream token works for as long as the session that minted it, and
	// no longer (issue 15, item 5).
	t.Run("ReconnectWhileSessionLives", func(t *testing.T) {
		t.Parallel()
		s := MustOpenServer(t, nil)
		token, _, org := MustRegister(t, s.URL)
		st := mustStreamToken(t, s, token)
		first := MustInsertEvents(t, s.Store, org.ID, "", 2)
		s.Clock.Advance(10 * time.Minute) // far past the old 60 s
		again := MustOpenStream(t, s.URL, request{Path: "/api/stream?token=" + st.Token,
			Headers: map[string]string{"Last-Event-ID": first[0].ID.String()}})
		again.RequireEvents(t, first[1].ID)
	})

	t.Run("ErrStreamTokenExpiredWithSession", func(t *testing.T) {
		t.Parallel()
		s := MustOpenServer(t, nil)
		token, _, _ := MustRegister(t, s.URL)
		st := mustStreamToken(t, s, token)
		s.Clock.Advance(jackhttp.DefaultJWTTTL + time.Second)
		MustFail(t, s.URL, request{Method: "GET", Path: "/api/stream?token=" + st.Token}, http.StatusUnauthorized, jack.EUNAUTHORIZED)
	})

	t.Run("ErrStreamTokenRevokedWithSession", func(t *testing.T) {
		t.Parallel()
		s := MustOpenServer(t, nil)
		token, _, _ := MustRegister(t, s.URL)
		st := mustStreamToken(t, s, token)
		MustDo(t, s.URL, request{Method: "POST", Path: "/api/auth/logout", Token: token}, http.StatusNoContent, nil)
		MustFail(t, s.URL, request{Method: "GET", Path: "/api/stream?token=" + st.Token}, http.StatusUnauthorized, jack.EUNAUTHORIZED)
	})

	t.Run("ErrAccessTokenInQuery", func(t *testing.T) {
		t.Parallel()
		s := MustOpenServer(t, nil)
		token, _, _ := MustRegister(t, s.URL)
		MustFail(t, s.URL, request{Method: "GET", Path: "/api/stream?token=" + token}, http.StatusUnauthorized, jack.EUNAUTHORIZED)
	})

	t.Run("ErrStreamTokenElsewhere", func(t *testing.T) {
		t.Parallel()
		s := MustOpenServer(t, nil)
		token, _, _ := MustRegister(t, s.URL)
		st := mustStreamToken(t, s, token)
		MustFail(t, s.URL, request{Method: "GET", Path: "/api/me", Token: st.Token}, http.StatusUnauthorized, jack.EUNAUTHORIZED)
		MustFail(t, s.URL, request{Method: "POST", Path: "/api/stream/token", Token: st.Token}, http.StatusUnauthorized, jack.EUNAUTHORIZED)
		MustFail(t, s.URL, request{Method: "GET", Path: "/api/stream", Token: st.Token}, http.StatusUnauthorized, jack.EUNAUTHORIZED)
		MustFail(t, s.URL, request{Method: "GET", Path: "/api/stream",
			Headers: map[string]string{"Cookie": "jack_token=" + st.Token}}, http.StatusUnauthorized, jack.EUNAUTHORIZED)
	})

	t.Run("ErrNoCredentials", func(t *testing.T) {
		t.Parallel()
		s := MustOpenServer(t, nil)
		resp := Do(t, s.URL, request{Method: "GET", Path: "/api/stream"})
		require.Equal(t, http.StatusUnauthorized, resp.Status)
		require.NotEmpty(t, resp.Header.Get("WWW-Authenticate"))
		MustFail(t, s.URL, request{Method: "GET", Path: "/api/stream?token=garbage"}, http.StatusUnauthorized, jack.EUNAUTHORIZED)
	})

	t.Run("Cookie", func(t *testing.T) {
		t.Parallel()
		s := MustOpenServer(t, nil)
		var out authBody
		resp := MustDo(t, s.URL, request{Method: "POST", Path: "/api/auth/register", Body: map[string]string{
			"email": uniqueEmail("cookie"), "password": testPassword, "fullName": "Cora Cookie", "organizationName": "Cookie Motors",
		}}, http.StatusCreated, &out)
		cookie := tokenCookieOf(t, resp)
		require.Equal(t, out.Token, cookie.Value)
		require.True(t, cookie.HttpOnly)
		require.Equal(t, http.SameSiteLaxMode, cookie.SameSite)
		require.Equal(t, "/", cookie.Path)
		require.Equal(t, int((24 * time.Hour).Seconds()), cookie.MaxAge)
		require.False(t, cookie.Secure, "the server URL is not https")

		loginResp := MustDo(t, s.URL, request{Method: "POST", Path: "/api/auth/login",
			Body: map[string]string{"email": out.User.Email, "password": testPassword}}, http.StatusOK, nil)
		login := tokenCookieOf(t, loginResp)

		st := MustOpenStream(t, s.URL, request{Path: "/api/stream", Headers: map[string]string{"Cookie": "jack_token=" + login.Value}})
		e := leadEvent(out.Organization.ID, "")
		MustEmit(t, s.Store, s.Broker, e)
		st.RequireEvents(t, e.ID)

		// The cookie opens the stream only: other routes want the bearer header.
		MustFail(t, s.URL, request{Method: "GET", Path: "/api/me", Headers: map[string]string{"Cookie": "jack_token=" + login.Value}},
			http.StatusUnauthorized, jack.EUNAUTHORIZED)

		logout := MustDo(t, s.URL, request{Method: "POST", Path: "/api/auth/logout"}, http.StatusNoContent, nil)
		cleared := tokenCookieOf(t, logout)
		require.Empty(t, cleared.Value)
		require.Equal(t, "/", cleared.Path)
		require.True(t, cleared.Expires.Before(time.Now()), "the cookie expires at once: %s", cleared.Raw)
	})

	t.Run("SecureCookie", func(t *testing.T) {
		t.Parallel()
		s := MustOpenServer(t, nil, func(cfg *jackhttp.Config) { cfg.ServerURL = "https://jack.example.com" })
		resp := MustDo(t, s.URL, request{Method: "POST", Path: "/api/auth/register", Body: map[string]string{
			"email": uniqueEmail("secure"), "password": testPassword, "fullName": "Sid Secure", "organizationName": "Secure Motors",
		}}, http.StatusCreated, nil)
		require.True(t, tokenCookieOf(t, resp).Secure)
	})

	t.Run("ErrNoBroker", func(t *testing.T) {
		t.Parallel()
		s := MustOpenServerWithBroker(t, nil, nil)
		token, _, _ := MustRegister(t, s.URL)
		MustFail(t, s.URL, request{Method: "GET", Path: "/api/stream", Token: token}, http.StatusServiceUnavailable, jack.EUNAVAILABLE)
	})
}

// HEAD answers the stream's headers without a body, and leaves no stream open behind it.
func TestStream_Head(t *testing.T) {
	t.Parallel()
	s := MustOpenServer(t, nil)
	token, _, _ := MustRegister(t, s.URL)
	resp := MustDo(t, s.URL, request{Method: "HEAD", Path: "/api/stream", Token: token}, http.StatusOK, nil)
	require.Equal(t, "text/event-stream", resp.Header.Get("Content-Type"))
	require.Empty(t, resp.Body)
	waitUntil(t, 5*time.Second, "no open stream", func() bool { return openStreams(t, s) == 0 })
}

func TestConfig_Stream(t *testing.T) {
	t.Parallel()
	cfg := jackhttp.Config{}.WithDefaults()
	require.Equal(t, 15*time.Second, cfg.StreamHeartbeat)
	require.Equal(t, 1024, cfg.StreamBuffer)

	store := openSQLite(t)
	for field, cfg := range map[string]jackhttp.Config{
		"StreamHeartbeat": {JWTSecret: testSecret, StreamHeartbeat: -time.Second},
		"StreamBuffer":    {JWTSecret: testSecret, StreamBuffer: -1},
	} {
		_, err := jackhttp.NewServer(cfg, store, nil, nil, nil)
		require.ErrorContains(t, err, field)
	}
}

// sseFrame is one frame of an event stream; a comment line sets Comment.
type sseFrame struct {
	ID, Event, Data, Retry, Comment string
}

// sseStream is an open GET /api/stream response, read frame by frame in the background.
type sseStream struct {
	Header http.Header
	frames chan sseFrame // closed when the stream ends
}

// MustOpenStream opens r (a GET) as an event stream, requires 200 and the opening retry frame,
// and closes it in tb.Cleanup. Once it returns, the server is subscribed: every event
// published afterwards is delivered.
func MustOpenStream(tb testing.TB, baseURL string, r request) *sseStream {
	tb.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, baseURL+r.Path, nil)
	require.NoError(tb, err)
	req.Header.Set("Accept", "text/event-stream")
	if r.Token != "" {
		req.Header.Set("Authorization", "Bearer "+r.Token)
	}
	for k, v := range r.Headers {
		req.Header.Set(k, v)
	}
	// A client of its own: the shared one's idle connections are closed by other tests.
	client := &http.Client{Transport: &http.Transport{}}
	resp, err := client.Do(req)
	require.NoError(tb, err)
	tb.Cleanup(func() {
		cancel()
		resp.Body.Close()
		client.CloseIdleConnections()
	})
	if resp.StatusCode != http.StatusOK {
		body, _ := io.ReadAll(resp.Body)
		tb.Fatalf("GET %s answered %d: %s", r.Path, resp.StatusCode, body)
	}
	st := &sseStream{Header: resp.Header, frames: make(chan sseFrame, 4096)}
	go st.read(ctx, resp.Body)
	require.Equal(tb, sseFrame{Retry: "2000"}, st.Next(tb), "the first frame sets the reconnect delay")
	return st
}

func (st *sseStream) read(ctx context.Context, body io.Reader) {
	defer close(st.frames)
	r := bufio.NewReader(body)
	var f sseFrame
	started := false
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			return
		}
		line = strings.TrimSuffix(line, "\n")
		if line == "" {
			if started {
				select {
				case st.frames <- f:
				case <-ctx.Done():
					return
				}
			}
			f, started = sseFrame{}, false
			continue
		}
		started = true
		field, value, _ := strings.Cut(line, ":")
		value = strings.TrimPrefix(value, " ")
		switch field {
		case "":
			f.Comment = value
		case "id":
			f.ID = value
		case "event":
			f.Event = value
		case "data":
			if f.Data != "" {
				f.Data += "\n"
			}
			f.Data += value
		case "retry":
			f.Retry = value
		}
	}
}

// streamWait bounds every wait for a frame.
const streamWait = 10 * time.Second

// Next returns the next frame, failing when the stream ends or nothing comes in time.
func (st *sseStream) Next(tb testing.TB) sseFrame {
	tb.Helper()
	select {
	case f, ok := <-st.frames:
		require.True(tb, ok, "the stream ended")
		return f
	case <-time.After(streamWait):
		tb.Fatalf("no frame within %s", streamWait)
		return sseFrame{}
	}
}

// NextEvent returns the next event frame (skipping comments) and its decoded event, which
// must agree with the frame's id and event name.
func (st *sseStream) NextEvent(tb testing.TB) (sseFrame, jack.Event) {
	tb.Helper()
	for {
		f := st.Next(tb)
		if f.Comment != "" {
			continue
		}
		var e jack.Event
		require.NotContains(tb, f.Data, "\n", "data is one line")
		require.NoError(tb, json.Unmarshal([]byte(f.Data), &e), "%s", f.Data)
		require.Equal(tb, e.ID.String(), f.ID)
		require.Equal(tb, e.Type, f.Event)
		return f, e
	}
}

// RequireEvents requires the next events to be exactly want, in order.
func (st *sseStream) RequireEvents(tb testing.TB, want ...uuid.UUID) {
	tb.Helper()
	for i, id := range want {
		_, e := st.NextEvent(tb)
		require.Equal(tb, id, e.ID, "event %d of %d", i+1, len(want))
	}
}

// RequireEnded requires the server to end the stream soon, with no further event.
func (st *sseStream) RequireEnded(tb testing.TB) {
	tb.Helper()
	deadline := time.After(streamWait)
	for {
		select {
		case f, ok := <-st.frames:
			if !ok {
				return
			}
			require.NotEmpty(tb, f.Comment, "an event after the stream should have ended: %+v", f)
		case <-deadline:
			tb.Fatalf("the stream did not end within %s", streamWait)
		}
	}
}

// dialStalledStream opens a stream on a raw connection that is not read. (A tiny receive
// buffer would back the server up sooner, but a window below one segment drains only at the
// pace of zero-window probes once the test reads.)
func dialStalledStream(tb testing.TB, baseURL, token string) net.Conn {
	tb.Helper()
	conn, err := net.Dial("tcp", strings.TrimPrefix(baseURL, "http://"))
	require.NoError(tb, err)
	tb.Cleanup(func() { _ = conn.Close() })
	_, err = fmt.Fprintf(conn, "GET /api/stream HTTP/1.1\r\nHost: jack.test\r\nAuthorization: Bearer %s\r\nAccept: text/event-stream\r\n\r\n", token)
	require.NoError(tb, err)
	return conn
}

var streamsOpenMetric = regexp.MustCompile(`(?m)^jack_http_streams_open (\S+)$`)

// openStreams reads the server's gauge of open streams.
func openStreams(tb testing.TB, s *testServer) int {
	tb.Helper()
	resp := MustDo(tb, s.URL, request{Method: "GET", Path: "/metrics"}, http.StatusOK, nil)
	m := streamsOpenMetric.FindSubmatch(resp.Body)
	require.NotNil(tb, m, "jack_http_streams_open is exported")
	n, err := strconv.ParseFloat(string(m[1]), 64)
	require.NoError(tb, err)
	return int(n)
}

// pollUntil polls cond until it holds or d passes, and says whether it held.
func pollUntil(d time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(d)
	for {
		if cond() {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// waitUntil fails tb unless cond holds within d.
func waitUntil(tb testing.TB, d time.Duration, what string, cond func() bool) {
	tb.Helper()
	if !pollUntil(d, cond) {
		tb.Fatalf("timed out after %s waiting for %s", d, what)
	}
}

type streamToken struct {
	Token     string    `json:"token"`
	ExpiresAt time.Time `json:"expiresAt"`
}

func mustStreamToken(tb testing.TB, s *testServer, accessToken string) streamToken {
	tb.Helper()
	var st streamToken
	MustDo(tb, s.URL, request{Method: "POST", Path: "/api/stream/token", Token: accessToken}, http.StatusCreated, &st)
	require.NotEmpty(tb, st.Token)
	return st
}

func tokenCookieOf(tb testing.TB, resp response) *http.Cookie {
	tb.Helper()
	for _, c := range (&http.Response{Header: resp.Header}).Cookies() {
		if c.Name == "jack_token" {
			return c
		}
	}
	tb.Fatalf("no jack_token cookie in %v", resp.Header.Values("Set-Cookie"))
	return nil
}

// MustPublish publishes e on broker.
func MustPublish(tb testing.TB, broker jack.Broker, e *jack.Event) {
	tb.Helper()
	require.NoError(tb, broker.Publish(context.Background(), e))
}

// MustEmit does what a grain does with events: store them (the Store assigns their ids), then
// publish them.
func MustEmit(tb testing.TB, store jack.Store, broker jack.Broker, events ...*jack.Event) {
	tb.Helper()
	require.NoError(tb, store.InConversationTx(context.Background(), events[0].OrganizationID, func(tx jack.ConversationTx) error {
		return tx.InsertEvents(context.Background(), events...)
	}))
	for _, e := range events {
		MustPublish(tb, broker, e)
	}
}

// MustInsertEvents stores n events of the lead in one conversation transaction and returns
// them with the ids the Store assigned.
func MustInsertEvents(tb testing.TB, store jack.Store, orgID uuid.UUID, leadID string, n int) []*jack.Event {
	tb.Helper()
	events := make([]*jack.Event, n)
	for i := range events {
		events[i] = leadEvent(orgID, leadID)
	}
	require.NoError(tb, store.InConversationTx(context.Background(), orgID, func(tx jack.ConversationTx) error {
		return tx.InsertEvents(context.Background(), events...)
	}))
	return events
}

func leadEvent(orgID uuid.UUID, leadID string) *jack.Event {
	return jack.NewEvent(jack.EventLeadUpdated, orgID, leadID, testPhone(1), time.Now().UTC(), map[string]string{"id": leadID})
}

func ids(events []*jack.Event) []uuid.UUID {
	out := make([]uuid.UUID, len(events))
	for i, e := range events {
		out[i] = e.ID
	}
	return out
}

// gatedStore holds every FindEvents until gate is closed, so a test can act while a replay
// is under way.
type gatedStore struct {
	jack.Store
	gate chan struct{}
}

func (s *gatedStore) FindEvents(ctx context.Context, orgID uuid.UUID, filter jack.EventFilter) ([]*jack.Event, error) {
	select {
	case <-s.gate:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	return s.Store.FindEvents(ctx, orgID, filter)
}
