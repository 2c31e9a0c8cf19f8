package actors

import (
	"context"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/jack-auto/jack"
	"github.com/jack-auto/jack/persistence/memory"
	"github.com/jack-auto/jack/persistence/storetest"
	"github.com/jack-auto/jack/providers/fake"
	"github.com/jack-auto/jack/providers/twilio"
)

// crashSender sends through the real Twilio client to the fake Twilio, and can play a crash
// around the call: "before" holds right before the call (the attempt is committed, Twilio never
// gets the text), "after" holds right after Twilio accepted it (its sid is never recorded); both
// hold until the engine closes, as if the process had died there.
type crashSender struct {
	*twilio.Client
	mode    string
	reached chan struct{}
	once    sync.Once
}

func (s *crashSender) SendSMS(ctx context.Context, req jack.SMSRequest) (*jack.SMSResult, error) {
	switch s.mode {
	case "before":
		s.once.Do(func() { close(s.reached) })
		<-ctx.Done()
		return nil, ctx.Err()
	case "after":
		if _, err := s.Client.SendSMS(ctx, req); err != nil {
			return nil, err
		}
		s.once.Do(func() { close(s.reached) })
		<-ctx.Done()
		return nil, ctx.Err()
	}
	return s.Client.SendSMS(ctx, req)
}

type reconcileBundle struct {
	*testBundle
	twilio   *fake.Twilio
	client   *twilio.Client
	customer string
}

func setupReconcile(t *testing.T, store jack.Store) *reconcileBundle {
	t.Helper()
	b := setup(t, store, func(c *Config) { c.ReconcilePoll = -1 })
	b.engine.Close() // the organization is all this test takes from setup
	f := fake.NewTwilio(t, "AC00000000000000000000000000000001", "authtoken0123456789")
	client, err := twilio.NewClient(twilio.Config{AccountSID: f.AccountSID(), AuthToken: f.AuthToken(), APIURL: f.URL()})
	require.NoError(t, err)
	return &reconcileBundle{testBundle: b, twilio: f, client: client, customer: storetest.NewPhone()}
}

// engine starts an engine of its own (a node) over the bundle's store, sending through sender.
func (b *reconcileBundle) engine(t *testing.T, sender jack.SMSSender, tune func(*Config)) *Engine {
	t.Helper()
	cfg := Config{ServerURL: "http://jack.test", AIDebounce: time.Hour, SendTimeout: time.Second, ReconcilePoll: -1}
	if tune != nil {
		tune(&cfg)
	}
	e, err := NewEngine(cfg, b.store, memory.NewBroker(), sender, b.agent, nil, testLogger(t))
	require.NoError(t, err)
	require.NoError(t, e.Start())
	t.Cleanup(func() { e.Close() })
	return e
}

// crashDuringAIReply has a node answer the customer with the AI and crash in mode around the
// provider call; it returns the reply as the crash left it.
func (b *reconcileBundle) crashDuringAIReply(t *testing.T, mode string) *jack.Message {
	t.Helper()
	sender := &crashSender{Client: b.client, mode: mode, reached: make(chan struct{})}
	a := b.engine(t, sender, func(c *Config) { c.AIDebounce = 10 * time.Millisecond; c.SendTimeout = time.Minute })
	d, err := a.ReceiveSMS(t.Context(), b.org.ID, jack.InboundSMS{ProviderMessageID: newSid(), From: b.customer, To: b.orgPhone, Body: "Is the truck still there?"})
	require.NoError(t, err)
	select {
	case <-sender.reached:
	case <-time.After(10 * time.Second):
		t.Fatal("the AI reply never reached the provider call")
	}
	a.Close() // the crash
	msgs := messagesOf(t, b.store, b.org.ID, d.Lead.ID)
	require.GreaterOrEqual(t, len(msgs), 2)
	reply := msgs[len(msgs)-1]
	require.Equal(t, jack.SentByAgent, reply.SentBy)
	require.Equal(t, jack.StatusSending, reply.Status, "the attempt was committed before the call")
	require.Empty(t, reply.ProviderMessageID)
	return reply
}

// answeredReply has a node answer the customer with the AI normally and returns the reply as
// recorded (with its sid).
func (b *reconcileBundle) answeredReply(t *testing.T) *jack.Message {
	t.Helper()
	a := b.engine(t, &crashSender{Client: b.client}, func(c *Config) { c.AIDebounce = 10 * time.Millisecond })
	d, err := a.ReceiveSMS(t.Context(), b.org.ID, jack.InboundSMS{ProviderMessageID: newSid(), From: b.customer, To: b.orgPhone, Body: "Hello?"})
	require.NoError(t, err)
	var reply *jack.Message
	waitFor(t, 10*time.Second, "the AI reply recorded", func() bool {
		msgs := messagesOf(t, b.store, b.org.ID, d.Lead.ID)
		reply = msgs[len(msgs)-1]
		return reply.SentBy == jack.SentByAgent && reply.Status == jack.StatusQueued
	})
	a.Close()
	return reply
}

func (b *reconcileBundle) message(t *testing.T, m *jack.Message) *jack.Message {
	t.Helper()
	got, err := b.store.FindMessage(t.Context(), b.org.ID, m.ID)
	require.NoError(t, err)
	return got
}

func (b *reconcileBundle) waitStatus(t *testing.T, m *jack.Message, status string) *jack.Message {
	t.Helper()
	var got *jack.Message
	waitFor(t, 10*time.Second, "status "+status, func() bool {
		got = b.message(t, m)
		return got.Status == status
	})
	return got
}

func (b *reconcileBundle) sentWithBody(body string) int {
	n := 0
	for _, m := range b.twilio.Messages() {
		if m.Body == body {
			n++
		}
	}
	return n
}

// TestReconcile: an outbound text is sent at most once across a crash between its commit and
// the provider, and never stays pending: the conversation's next owner resolves it.
func TestReconcile(t *testing.T) {
	t.Parallel()
	for _, sk := range stores {
		t.Run(sk.name, func(t *testing.T) {
			t.Parallel()

			t.Run("AcceptedThenCrash", func(t *testing.T) {
				t.Parallel()
				b := setupReconcile(t, sk.open(t))
				reply := b.crashDuringAIReply(t, "after")
				require.Equal(t, 1, b.sentWithBody(reply.Content), "Twilio accepted it before the crash")

				node := b.engine(t, &crashSender{Client: b.client}, nil)
				_, err := node.Context(t.Context(), b.org.ID, b.customer) // the new owner activates
				require.NoError(t, err)
				got := b.waitStatus(t, reply, jack.StatusQueued)
				require.Equal(t, b.twilio.Messages()[0].Sid, got.ProviderMessageID, "the sid found in Twilio's list is recorded")
				require.Equal(t, 1, b.sentWithBody(reply.Content), "found, not sent again")
				require.EqualValues(t, 1, node.ReconciledSends()[ReconcileFound])
			})

			// The conversation's earlier reply has the same body (the AI repeats itself): the
			// lookup sees both texts at Twilio and takes the one no other text holds.
			t.Run("AcceptedThenCrashSameBody", func(t *testing.T) {
				t.Parallel()
				b := setupReconcile(t, sk.open(t))
				earlier := b.answeredReply(t)
				reply := b.crashDuringAIReply(t, "after")
				require.Equal(t, earlier.Content, reply.Content)
				require.Equal(t, 2, b.sentWithBody(reply.Content))

				node := b.engine(t, &crashSender{Client: b.client}, nil)
				_, err := node.Context(t.Context(), b.org.ID, b.customer)
				require.NoError(t, err)
				got := b.waitStatus(t, reply, jack.StatusQueued)
				require.Equal(t, b.twilio.Messages()[1].Sid, got.ProviderMessageID, "the text no other message holds")
				require.Equal(t, earlier.ProviderMessageID, b.message(t, earlier).ProviderMessageID)
				require.Equal(t, 2, b.sentWithBody(reply.Content), "found, not sent again")
			})

			t.Run("AttemptedNeverReachedSameBody", func(t *testing.T) {
				t.Parallel()
				b := setupReconcile(t, sk.open(t))
				earlier := b.answeredReply(t)
				reply := b.crashDuringAIReply(t, "before")

				node := b.engine(t, &crashSender{Client: b.client}, nil)
				_, err := node.Context(t.Context(), b.org.ID, b.customer)
				require.NoError(t, err)
				b.waitStatus(t, reply, jack.StatusUnknown)
				require.Equal(t, 1, b.sentWithBody(reply.Content), "the earlier reply's text is not taken for this one, and nothing is resent")
				require.Equal(t, earlier.ProviderMessageID, b.message(t, earlier).ProviderMessageID)
			})

			t.Run("AttemptedNeverReached", func(t *testing.T) {
				t.Parallel()
				b := setupReconcile(t, sk.open(t))
				reply := b.crashDuringAIReply(t, "before")

				node := b.engine(t, &crashSender{Client: b.client}, nil)
				_, err := node.Context(t.Context(), b.org.ID, b.customer)
				require.NoError(t, err)
				got := b.waitStatus(t, reply, jack.StatusUnknown)
				require.Empty(t, got.ProviderMessageID)
				require.EqualValues(t, 1, node.ReconciledSends()[ReconcileUnknown])
				require.Zero(t, b.sentWithBody(reply.Content), "not at Twilio, and never resent: it may have gone out")

				// Nothing left for the sweep either.
				n, err := node.SweepUnsent(t.Context())
				require.NoError(t, err)
				require.Zero(t, n)
			})

			t.Run("NeverAttempted", func(t *testing.T) {
				t.Parallel()
				b := setupReconcile(t, sk.open(t))
				lead := storetest.MustCreateLead(t, b.store, b.org.ID, b.customer)
				// Committed pending, then the process died before the attempt mark.
				m := storetest.NewMessage(lead, "We have three trucks in stock.", time.Now().UTC())
				m.SentBy, m.Status = jack.SentByAgent, jack.StatusPending
				pending := storetest.MustInsertMessage(t, b.store, b.org.ID, m)

				node := b.engine(t, &crashSender{Client: b.client}, nil)
				_, err := node.Context(t.Context(), b.org.ID, b.customer)
				require.NoError(t, err)
				got := b.waitStatus(t, pending, jack.StatusQueued)
				require.Equal(t, 1, b.sentWithBody(pending.Content), "sent once: it never left")
				require.Equal(t, b.twilio.Messages()[0].Sid, got.ProviderMessageID)
				require.Equal(t, b.orgPhone, b.twilio.Messages()[0].From)
				require.EqualValues(t, 1, node.ReconciledSends()[ReconcileSent])

				// Another node activating the conversation later sends nothing again.
				other := b.engine(t, &crashSender{Client: b.client}, nil)
				_, err = other.Context(t.Context(), b.org.ID, b.customer)
				require.NoError(t, err)
				time.Sleep(200 * time.Millisecond)
				require.Equal(t, 1, b.sentWithBody(pending.Content))
				require.Zero(t, other.ReconciledSends()[ReconcileSent])
			})

			t.Run("SweepFetchesStatus", func(t *testing.T) {
				t.Parallel()
				b := setupReconcile(t, sk.open(t))
				callbacks := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusNoContent) }))
				t.Cleanup(callbacks.Close)
				body := "Your appointment is confirmed."
				res, err := b.client.SendSMS(t.Context(), jack.SMSRequest{From: b.orgPhone, To: b.customer, Body: body, StatusCallback: callbacks.URL})
				require.NoError(t, err)
				b.twilio.SendStatus(t, res.ProviderMessageID, jack.StatusDelivered, "")
				// A text whose "sending" callback was the last thing recorded, long ago.
				lead := storetest.MustCreateLead(t, b.store, b.org.ID, b.customer)
				m := storetest.NewMessage(lead, body, time.Now().UTC().Add(-10*time.Minute))
				m.SentBy, m.Status, m.ProviderMessageID = jack.SentByAgent, jack.StatusSending, res.ProviderMessageID
				stale := storetest.MustInsertMessage(t, b.store, b.org.ID, m)

				node := b.engine(t, &crashSender{Client: b.client}, func(c *Config) { c.ReconcileAfter = time.Minute })
				n, err := node.SweepUnsent(t.Context())
				require.NoError(t, err)
				require.Equal(t, 1, n)
				got := b.waitStatus(t, stale, jack.StatusDelivered)
				require.Equal(t, res.ProviderMessageID, got.ProviderMessageID)
				// The status is stored before the counter moves: wait for the counter too.
				require.Eventually(t, func() bool { return node.ReconciledSends()[ReconcileFetched] > 0 }, 5*time.Second, 10*time.Millisecond,
					"the fetched status is counted")
				require.Equal(t, 1, b.sentWithBody(body))
			})
		})
	}
}
