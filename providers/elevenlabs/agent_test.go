package elevenlabs_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/jack-auto/jack"
	"github.com/jack-auto/jack/providers/elevenlabs"
	"github.com/jack-auto/jack/providers/fake"
)

func conversation(vars map[string]any) jack.AgentConversation {
	return jack.AgentConversation{OrganizationID: uuid.New(), Phone: customerPhone, Variables: vars}
}

func testVariables() map[string]any {
	return map[string]any{"customer_name": "Ann", "organization_name": "Acme Motors", "total_messages": 2, "email": nil}
}

// echo answers each message naming it and the dealership, so a reply shows what it answers.
func echo(text string, vars map[string]any) string {
	return fmt.Sprintf("%s heard: %s", vars["organization_name"], text)
}

// open starts a session and closes it at cleanup.
func open(tb testing.TB, c *elevenlabs.Client, vars map[string]any) jack.AgentSession {
	tb.Helper()
	s, err := c.Open(tb.Context(), conversation(vars))
	require.NoError(tb, err)
	tb.Cleanup(func() { s.Close() })
	return s
}

func reply(tb testing.TB, s jack.AgentSession, text string) string {
	tb.Helper()
	r, err := s.Reply(tb.Context(), jack.AgentTurn{Text: text})
	require.NoError(tb, err)
	return r.Text
}

// blockingResponder makes f's agent call onMessage (if not nil) on each message, then answer
// only once released; release runs at cleanup at the latest.
func blockingResponder(tb testing.TB, f *fake.ElevenLabs, onMessage func()) (release func()) {
	gate := make(chan struct{})
	var once sync.Once
	release = func() { once.Do(func() { close(gate) }) }
	tb.Cleanup(release) // before the fake's cleanup, which waits for its agents
	f.SetResponder(func(text string, vars map[string]any) string {
		if onMessage != nil {
			onMessage()
		}
		<-gate
		return "late: " + text
	})
	return release
}

func TestAgent_Conversation(t *testing.T) {
	t.Parallel()

	t.Run("OK", func(t *testing.T) {
		t.Parallel()
		f := fake.NewElevenLabs(t, testAPIKey)
		f.SetResponder(echo)
		f.RequireVariables("customer_name", "organization_name", "email")
		s := open(t, newClient(t, f), testVariables())

		require.Equal(t, "Acme Motors heard: Do you have a blue truck?", reply(t, s, "Do you have a blue truck?"))
		require.Equal(t, "Acme Motors heard: Under 30k", reply(t, s, "Under 30k"))

		convs := f.Conversations()
		require.Len(t, convs, 1)
		require.Equal(t, testAgentID, convs[0].AgentID)
		require.True(t, convs[0].TextOnly)
		require.Empty(t, convs[0].Prompt, "no instructions: the agent's own prompt")
		require.Equal(t, map[string]any{"customer_name": "Ann", "organization_name": "Acme Motors", "total_messages": float64(2), "email": ""},
			convs[0].DynamicVariables)
		require.Equal(t, []string{"Do you have a blue truck?", "Under 30k"}, convs[0].Messages)
		require.Equal(t, 1, f.SignedURLs())

		require.NoError(t, s.Close())
		f.WaitFor(t, waitTimeout, "socket closed", func() bool { return f.OpenSockets() == 0 })
		require.True(t, f.Conversations()[0].Closed)
	})

	t.Run("Instructions", func(t *testing.T) {
		t.Parallel()
		f := fake.NewElevenLabs(t, testAPIKey)
		f.SetResponder(echo)
		conv := conversation(testVariables())
		conv.Instructions, conv.Greeting = "Never quote prices.", "Hi from Acme!"
		s, err := newClient(t, f).Open(t.Context(), conv)
		require.NoError(t, err)
		t.Cleanup(func() { s.Close() })
		require.Equal(t, "Acme Motors heard: Hello", reply(t, s, "Hello"))
		convs := f.Conversations()
		require.Len(t, convs, 1)
		require.Equal(t, "Never quote prices.", convs[0].Prompt, "the dealership's instructions are the agent's prompt")
		require.True(t, convs[0].TextOnly)
	})

	t.Run("PingPong", func(t *testing.T) {
		t.Parallel()
		f := fake.NewElevenLabs(t, testAPIKey)
		f.PingEvery(10 * time.Millisecond)
		open(t, newClient(t, f), testVariables())
		f.WaitFor(t, waitTimeout, "five pongs", func() bool { return f.Pongs() >= 5 })
	})

	t.Run("GreetingDiscarded", func(t *testing.T) {
		t.Parallel()
		f := fake.NewElevenLabs(t, testAPIKey)
		f.SetGreeting("Hi! This is Jack from Acme Motors.")
		f.SetResponder(echo)
		s := open(t, newClient(t, f), testVariables())
		// The fake pings right after the greeting; the pong proves the greeting was read
		// while no reply waited.
		f.WaitFor(t, waitTimeout, "pong after greeting", func() bool { return f.Pongs() >= 1 })
		require.Equal(t, "Acme Motors heard: Hello?", reply(t, s, "Hello?"))
	})

	t.Run("OtherEventsIgnored", func(t *testing.T) {
		t.Parallel()
		f := fake.NewElevenLabs(t, testAPIKey)
		f.ExtraEvents(true)
		f.SetResponder(echo)
		s := open(t, newClient(t, f), testVariables())
		require.Equal(t, "Acme Motors heard: one", reply(t, s, "one"))
		require.Equal(t, "Acme Motors heard: two", reply(t, s, "two"))
	})

	t.Run("RepliesInTurn", func(t *testing.T) {
		t.Parallel()
		f := fake.NewElevenLabs(t, testAPIKey)
		f.SetResponder(echo)
		s := open(t, newClient(t, f), testVariables())
		var wg sync.WaitGroup
		for i := range 5 {
			wg.Go(func() {
				text := fmt.Sprintf("message %d", i)
				r, err := s.Reply(t.Context(), jack.AgentTurn{Text: text})
				if err != nil {
					t.Errorf("reply to %q: %v", text, err)
				} else if r.Text != "Acme Motors heard: "+text {
					t.Errorf("reply to %q: %q", text, r.Text)
				}
			})
		}
		wg.Wait()
	})

	t.Run("ErrMissingVariable", func(t *testing.T) {
		t.Parallel()
		f := fake.NewElevenLabs(t, testAPIKey)
		f.RequireVariables("customer_name", "lead_status", "vehicle_interest")
		_, err := newClient(t, f).Open(t.Context(), conversation(testVariables()))
		requireError(t, err, jack.EPROVIDER, "ElevenLabs ended the conversation (1008 missing_dynamic_variable): "+
			"Missing required dynamic variables in first message: {lead_status, vehicle_interest}.")
		require.Zero(t, f.Sessions())
		f.WaitFor(t, waitTimeout, "socket closed", func() bool { return f.OpenSockets() == 0 })
	})

	t.Run("ErrUnauthorized", func(t *testing.T) {
		t.Parallel()
		f := fake.NewElevenLabs(t, testAPIKey)
		c := newClient(t, f, func(cfg *elevenlabs.Config) { cfg.APIKey = "wrong" })
		_, err := c.Open(t.Context(), conversation(testVariables()))
		requireError(t, err, jack.EPROVIDER, "ElevenLabs refused to open a conversation: Invalid API key")
	})

	t.Run("ErrBadSignedURL", func(t *testing.T) {
		t.Parallel()
		f := fake.NewElevenLabs(t, testAPIKey)
		// An API that signs URLs the socket server does not accept.
		api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			fmt.Fprintf(w, `{"signed_url":"ws%s/v1/convai/conversation?agent_id=%s&conversation_signature=forged"}`,
				strings.TrimPrefix(f.URL(), "http"), testAgentID)
		}))
		t.Cleanup(api.Close)
		c := newClient(t, f, func(cfg *elevenlabs.Config) { cfg.APIURL = api.URL })
		_, err := c.Open(t.Context(), conversation(testVariables()))
		requireError(t, err, jack.EPROVIDER, "ElevenLabs refused to open a conversation: The conversation signature is invalid or expired.")
	})
}

func TestAgent_Reconnect(t *testing.T) {
	t.Parallel()

	for _, tc := range []struct {
		name   string
		inject func(f *fake.ElevenLabs)
	}{
		{name: "Close1002", inject: func(f *fake.ElevenLabs) { f.CloseNext(1002, "llm_timeout") }},
		{name: "Close1011", inject: func(f *fake.ElevenLabs) { f.CloseNext(1011, "") }},
		{name: "ErrorEvent1002", inject: func(f *fake.ElevenLabs) { f.ErrorNext(1002, "llm_error", "The LLM failed.") }},
		{name: "ErrorEvent1011", inject: func(f *fake.ElevenLabs) { f.ErrorNext(1011, "internal_error", "Something went wrong.") }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f := fake.NewElevenLabs(t, testAPIKey)
			f.SetResponder(echo)
			s := open(t, newClient(t, f), testVariables())
			require.Equal(t, "Acme Motors heard: first", reply(t, s, "first"))

			tc.inject(f)
			require.Equal(t, "Acme Motors heard: second", reply(t, s, "second"))
			require.Equal(t, 2, f.Sessions())
			require.Equal(t, 2, f.SignedURLs(), "a new signed URL for the new socket")
			require.Equal(t, []string{"first", "second", "second"}, f.Messages(), "the pending message is sent again")
			f.WaitFor(t, waitTimeout, "old socket closed", func() bool { return f.OpenSockets() == 1 })

			require.Equal(t, "Acme Motors heard: third", reply(t, s, "third"))
			require.Equal(t, 2, f.Sessions(), "the new socket stays")
		})
	}

	t.Run("LatestVariables", func(t *testing.T) {
		t.Parallel()
		f := fake.NewElevenLabs(t, testAPIKey)
		f.SetResponder(echo)
		s := open(t, newClient(t, f), testVariables())
		f.CloseNext(1002, "llm_timeout")
		vars := testVariables()
		vars["organization_name"], vars["total_messages"] = "Acme Motors North", 3
		r, err := s.Reply(t.Context(), jack.AgentTurn{Text: "hi", Variables: vars})
		require.NoError(t, err)
		require.Equal(t, "Acme Motors North heard: hi", r.Text)
		require.Equal(t, float64(3), f.Conversations()[1].DynamicVariables["total_messages"])
	})

	t.Run("ErrSecondFailure", func(t *testing.T) {
		t.Parallel()
		f := fake.NewElevenLabs(t, testAPIKey)
		f.SetResponder(echo)
		s := open(t, newClient(t, f), testVariables())
		f.CloseNext(1011, "internal_error")
		f.ErrorNext(1002, "llm_timeout", "LLM response took over 20 seconds")
		_, err := s.Reply(t.Context(), jack.AgentTurn{Text: "hello"})
		requireError(t, err, jack.EPROVIDER, "ElevenLabs ended the conversation (1002 llm_timeout): LLM response took over 20 seconds.")
		require.Equal(t, 2, f.Sessions())
		require.Equal(t, []string{"hello", "hello"}, f.Messages())

		// The session is not spoiled: the next message opens a new socket.
		require.Equal(t, "Acme Motors heard: again", reply(t, s, "again"))
		require.Equal(t, 3, f.Sessions())
	})

	// Ends that are not operational are final: no reconnect.
	for _, tc := range []struct {
		name   string
		code   int
		reason string
		want   string
	}{
		{name: "ErrPolicy", code: 1008, reason: "override_error", want: "ElevenLabs ended the conversation (1008 override_error)."},
		{name: "ErrNormalClose", code: 1000, reason: "max_duration_exceeded", want: "ElevenLabs ended the conversation (1000 max_duration_exceeded)."},
		{name: "ErrGoingAway", code: 1001, want: "ElevenLabs ended the conversation (1001)."},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f := fake.NewElevenLabs(t, testAPIKey)
			s := open(t, newClient(t, f), testVariables())
			f.CloseNext(tc.code, tc.reason)
			_, err := s.Reply(t.Context(), jack.AgentTurn{Text: "hello"})
			requireError(t, err, jack.EPROVIDER, tc.want)
			var jerr *jack.Error
			require.ErrorAs(t, err, &jerr)
			require.Equal(t, tc.code, jerr.Details["closeCode"])
			require.Equal(t, 1, f.Sessions())
			require.Equal(t, []string{"hello"}, f.Messages())
		})
	}

	t.Run("IdleServerClose", func(t *testing.T) {
		t.Parallel()
		f := fake.NewElevenLabs(t, testAPIKey)
		f.SetResponder(echo)
		f.IdleTimeout(50 * time.Millisecond)
		s := open(t, newClient(t, f), testVariables())
		f.WaitFor(t, waitTimeout, "idle socket closed", func() bool { return f.OpenSockets() == 0 })
		f.IdleTimeout(0)

		require.Equal(t, "Acme Motors heard: still there?", reply(t, s, "still there?"))
		require.Equal(t, 2, f.Sessions())
		require.Equal(t, []string{"still there?"}, f.Messages())
	})
}

func TestAgent_Timeouts(t *testing.T) {
	t.Parallel()

	t.Run("ErrNoAnswer", func(t *testing.T) {
		t.Parallel()
		f := fake.NewElevenLabs(t, testAPIKey)
		release := blockingResponder(t, f, nil)
		s := open(t, newClient(t, f, func(cfg *elevenlabs.Config) { cfg.ReplyTimeout = 50 * time.Millisecond }), testVariables())
		_, err := s.Reply(t.Context(), jack.AgentTurn{Text: "slow"})
		requireError(t, err, jack.EPROVIDER, "ElevenLabs did not answer in time.")

		// The late answer must not become the next reply: that one gets a new socket.
		release()
		f.SetResponder(echo)
		f.WaitFor(t, waitTimeout, "old socket closed", func() bool { return f.OpenSockets() == 0 })
		require.Equal(t, "Acme Motors heard: next", reply(t, s, "next"))
		require.Equal(t, 2, f.Sessions())
	})

	t.Run("ErrCanceled", func(t *testing.T) {
		t.Parallel()
		f := fake.NewElevenLabs(t, testAPIKey)
		ctx, cancel := context.WithCancel(t.Context())
		blockingResponder(t, f, cancel)
		s := open(t, newClient(t, f), testVariables())
		_, err := s.Reply(ctx, jack.AgentTurn{Text: "hello"})
		requireError(t, err, jack.EPROVIDER, "The request to ElevenLabs was canceled.")
		require.ErrorIs(t, err, context.Canceled)
	})

	t.Run("ErrDeadline", func(t *testing.T) {
		t.Parallel()
		f := fake.NewElevenLabs(t, testAPIKey)
		blockingResponder(t, f, nil)
		s := open(t, newClient(t, f), testVariables())
		ctx, cancel := context.WithTimeout(t.Context(), 50*time.Millisecond)
		defer cancel()
		_, err := s.Reply(ctx, jack.AgentTurn{Text: "hello"})
		requireError(t, err, jack.EPROVIDER, "ElevenLabs did not answer in time.")
		require.ErrorIs(t, err, context.DeadlineExceeded)
	})
}

func TestAgent_Close(t *testing.T) {
	t.Parallel()

	t.Run("Twice", func(t *testing.T) {
		t.Parallel()
		f := fake.NewElevenLabs(t, testAPIKey)
		s, err := newClient(t, f).Open(t.Context(), conversation(testVariables()))
		require.NoError(t, err)
		require.NoError(t, s.Close())
		require.NoError(t, s.Close())
		f.WaitFor(t, waitTimeout, "socket closed", func() bool { return f.OpenSockets() == 0 })

		_, err = s.Reply(t.Context(), jack.AgentTurn{Text: "hello"})
		requireError(t, err, jack.EUNAVAILABLE, "The AI conversation has ended.")
		require.Empty(t, f.Messages())
	})

	t.Run("DuringReply", func(t *testing.T) {
		t.Parallel()
		f := fake.NewElevenLabs(t, testAPIKey)
		s, err := newClient(t, f).Open(t.Context(), conversation(testVariables()))
		require.NoError(t, err)
		f.SetResponder(func(string, map[string]any) string { s.Close(); return "too late" })
		_, err = s.Reply(t.Context(), jack.AgentTurn{Text: "hello"})
		requireError(t, err, jack.EUNAVAILABLE, "The AI conversation has ended.")
		require.Equal(t, 1, f.Sessions(), "no reconnect after Close")
	})
}

// TestAgent_NoLeak runs alone (no t.Parallel) so the goroutine count is its own.
func TestAgent_NoLeak(t *testing.T) {
	f := fake.NewElevenLabs(t, testAPIKey)
	f.PingEvery(5 * time.Millisecond)
	noKeepAlive := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
	c := newClient(t, f, func(cfg *elevenlabs.Config) { cfg.HTTPClient = noKeepAlive })
	before := runtime.NumGoroutine()

	for range 3 {
		s, err := c.Open(t.Context(), conversation(testVariables()))
		require.NoError(t, err)
		f.CloseNext(1002, "llm_timeout") // a reconnect too
		_, err = s.Reply(t.Context(), jack.AgentTurn{Text: "hello"})
		require.NoError(t, err)
		require.NoError(t, s.Close())
	}
	f.WaitFor(t, waitTimeout, "sockets closed", func() bool { return f.OpenSockets() == 0 })

	deadline := time.Now().Add(waitTimeout)
	for runtime.NumGoroutine() > before && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond) // polling a count, not asserting on time
	}
	if n := runtime.NumGoroutine(); n > before {
		buf := make([]byte, 1<<20)
		t.Fatalf("goroutines: %d before, %d after\n%s", before, n, buf[:runtime.Stack(buf, true)])
	}
}
