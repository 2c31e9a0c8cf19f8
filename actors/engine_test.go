package actors

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/jack-auto/jack"
	"github.com/jack-auto/jack/persistence/memory"
	"github.com/jack-auto/jack/persistence/postgres/postgrestest"
	"github.com/jack-auto/jack/persistence/sqlite/sqlitetest"
	"github.com/jack-auto/jack/persistence/storetest"
	"github.com/jack-auto/jack/providers/elevenlabs"
)

// smsSender is a jack.SMSSender that records what it sends; SendSMSFunc overrides the answer.
type smsSender struct {
	mu          sync.Mutex
	sent        []jack.SMSRequest
	SendSMSFunc func(jack.SMSRequest) (*jack.SMSResult, error)
}

func (s *smsSender) SendSMS(ctx context.Context, req jack.SMSRequest) (*jack.SMSResult, error) {
	s.mu.Lock()
	s.sent = append(s.sent, req)
	fn := s.SendSMSFunc
	n := len(s.sent)
	s.mu.Unlock()
	if fn != nil {
		return fn(req)
	}
	return &jack.SMSResult{ProviderMessageID: fmt.Sprintf("SM%032d", n), Status: jack.StatusQueued}, nil
}

func (s *smsSender) Sent() []jack.SMSRequest {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]jack.SMSRequest(nil), s.sent...)
}

// agent is a jack.Agent whose sessions answer with ReplyFunc and count what they are asked.
type agent struct {
	ReplyFunc func(jack.AgentTurn) (*jack.AgentReply, error)
	turns     atomic.Int64
	opened    atomic.Int64
	closed    atomic.Int64
	mu        sync.Mutex
	texts     []string
}

func (a *agent) Open(ctx context.Context, conv jack.AgentConversation) (jack.AgentSession, error) {
	a.opened.Add(1)
	return &agentSession{a: a}, nil
}

type agentSession struct {
	a    *agent
	once sync.Once
}

func (s *agentSession) Reply(ctx context.Context, turn jack.AgentTurn) (*jack.AgentReply, error) {
	s.a.turns.Add(1)
	s.a.mu.Lock()
	s.a.texts = append(s.a.texts, turn.Text)
	s.a.mu.Unlock()
	if s.a.ReplyFunc != nil {
		return s.a.ReplyFunc(turn)
	}
	return &jack.AgentReply{Text: "Thanks! Which vehicle are you interested in?"}, nil
}

func (s *agentSession) Close() error { s.once.Do(func() { s.a.closed.Add(1) }); return nil }

// voiceDialer is a jack.VoiceDialer that records calls; StartCallFunc overrides the answer.
type voiceDialer struct {
	mu            sync.Mutex
	calls         []jack.CallRequest
	StartCallFunc func(jack.CallRequest) (*jack.CallStarted, error)
}

func (d *voiceDialer) StartCall(ctx context.Context, req jack.CallRequest) (*jack.CallStarted, error) {
	d.mu.Lock()
	d.calls = append(d.calls, req)
	n, fn := len(d.calls), d.StartCallFunc
	d.mu.Unlock()
	if fn != nil {
		return fn(req)
	}
	return &jack.CallStarted{ConversationID: fmt.Sprintf("conv_%d", n), ProviderCallID: fmt.Sprintf("CA%032d", n)}, nil
}

func (d *voiceDialer) Calls() []jack.CallRequest {
	d.mu.Lock()
	defer d.mu.Unlock()
	return append([]jack.CallRequest(nil), d.calls...)
}

type testBundle struct {
	engine   *Engine
	dialer   *voiceDialer
	store    jack.Store
	broker   *memory.Broker
	sms      *smsSender
	agent    *agent
	org      *jack.Organization
	owner    *jack.User
	orgPhone string
}

type storeKind struct {
	name string
	open func(t *testing.T) jack.Store
}

var stores = []storeKind{
	{"SQLite", func(t *testing.T) jack.Store { return sqlitetest.MustOpenStore(t) }},
	{"Postgres", func(t *testing.T) jack.Store { return postgrestest.MustOpenStore(t) }},
}

func newBroker() jack.Broker { return memory.NewBroker() }

func testLogger(t testing.TB) *slog.Logger {
	return slog.New(slog.NewTextHandler(tWriter{t}, &slog.HandlerOptions{Level: slog.LevelWarn}))
}

type tWriter struct{ t testing.TB }

func (w tWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimSpace(string(p)))
	return len(p), nil
}

// setup starts a one-member engine over store with an organization that has an active number.
func setup(t *testing.T, store jack.Store, tune func(*Config)) *testBundle {
	t.Helper()
	org, owner := storetest.MustCreateOrganization(t, store)
	// No quiet hours, so these tests pass at any time of day (quiet hours have their own test).
	settings := org.Settings
	settings.ContactHoursStart, settings.ContactHoursEnd = "00:00", "24:00"
	org, err := store.UpdateOrganization(t.Context(), org.ID, jack.OrganizationUpdate{Settings: &settings})
	require.NoError(t, err)
	orgPhone := storetest.NewPhone()
	storetest.MustCreatePhoneNumber(t, store, org.ID, orgPhone, true)
	cfg := Config{ServerURL: "http://jack.test", AIDebounce: 30 * time.Millisecond, RequestTimeout: 5 * time.Second,
		CallAnalysis: elevenlabs.ParseCallAnalysis}
	if tune != nil {
		tune(&cfg)
	}
	b := &testBundle{store: store, broker: memory.NewBroker(), sms: &smsSender{}, agent: &agent{}, dialer: &voiceDialer{}, org: org, owner: owner, orgPhone: orgPhone}
	e, err := NewEngine(cfg, store, b.broker, b.sms, b.agent, b.dialer, testLogger(t))
	require.NoError(t, err)
	require.NoError(t, e.Start())
	t.Cleanup(func() { e.Close() })
	b.engine = e
	return b
}

func (b *testBundle) inbound(t *testing.T, from, body string) *jack.Delivery {
	t.Helper()
	d, err := b.engine.ReceiveSMS(context.Background(), b.org.ID, jack.InboundSMS{ProviderMessageID: newSid(), From: from, To: b.orgPhone, Body: body})
	require.NoError(t, err)
	return d
}

func newSid() string { return "SM" + strings.ReplaceAll(uuid.NewString(), "-", "") }

// waitFor polls cond until it holds or the deadline passes.
func waitFor(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", timeout, what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func messagesOf(t *testing.T, store jack.Store, orgID uuid.UUID, leadID string) []*jack.Message {
	t.Helper()
	var all []*jack.Message
	cursor := ""
	for {
		page, err := store.FindMessages(context.Background(), orgID, jack.MessageFilter{LeadID: leadID, Cursor: cursor, Limit: 200})
		require.NoError(t, err)
		all = append(page.Messages, all...) // pages go back in time
		if page.NextCursor == "" {
			return all
		}
		cursor = page.NextCursor
	}
}

func TestReceiveSMS(t *testing.T) {
	t.Parallel()
	t.Run("OK", func(t *testing.T) {
		t.Parallel()
		b := setup(t, sqlitetest.MustOpenStore(t), nil)
		events, err := b.broker.Subscribe(t.Context(), b.org.ID)
		require.NoError(t, err)
		customer := storetest.NewPhone()

		d := b.inbound(t, customer, "Hi, do you have SUVs?")
		require.False(t, d.Duplicate)
		require.Equal(t, customer, d.Lead.PhoneNumberNormalized)
		require.Equal(t, jack.DisplayPhone(customer), d.Lead.CustomerName, "a new customer's lead is named after the number")
		require.Equal(t, 1, d.Lead.TotalConversations)
		require.Equal(t, jack.StatusReceived, d.Message.Status)

		ev := <-events
		require.Equal(t, jack.EventSMSReceived, ev.Type)
		require.Equal(t, d.Lead.ID, ev.LeadID)
		require.Equal(t, "Hi, do you have SUVs?", ev.Message)
		require.Equal(t, d.Message.ProviderMessageID, ev.ProviderMessageID)
		stored, err := b.store.FindEvents(t.Context(), b.org.ID, jack.EventFilter{})
		require.NoError(t, err)
		require.NotEmpty(t, stored)
		require.Equal(t, ev.ID, stored[0].ID, "the published event is the persisted one")
	})
	t.Run("DuplicateSid", func(t *testing.T) {
		t.Parallel()
		b := setup(t, sqlitetest.MustOpenStore(t), nil)
		in := jack.InboundSMS{ProviderMessageID: newSid(), From: storetest.NewPhone(), To: b.orgPhone, Body: "hello"}
		first, err := b.engine.ReceiveSMS(t.Context(), b.org.ID, in)
		require.NoError(t, err)
		again, err := b.engine.ReceiveSMS(t.Context(), b.org.ID, in)
		require.NoError(t, err)
		require.True(t, again.Duplicate)
		require.Equal(t, first.Message.ID, again.Message.ID)
		require.Len(t, messagesOf(t, b.store, b.org.ID, first.Lead.ID), 1)
		lead, err := b.store.FindLeadByID(t.Context(), b.org.ID, first.Lead.ID)
		require.NoError(t, err)
		require.Equal(t, 1, lead.TotalConversations)
	})
}

// TestConcurrentWebhooks: 200 concurrent inbound texts for one conversation, a fifth of them
// retried duplicates, are each stored exactly once, in the grain's order, with exact counts.
func TestConcurrentWebhooks(t *testing.T) {
	t.Parallel()
	for _, sk := range stores {
		t.Run(sk.name, func(t *testing.T) {
			t.Parallel()
			b := setup(t, sk.open(t), func(c *Config) { c.AIDebounce = time.Hour })
			customer := storetest.NewPhone()
			const n = 200
			sids := make([]string, n)
			for i := range sids {
				sids[i] = newSid()
			}
			// 20% of the requests repeat an earlier sid (a Twilio retry).
			reqs := make([]jack.InboundSMS, 0, n+n/5)
			for i, sid := range sids {
				reqs = append(reqs, jack.InboundSMS{ProviderMessageID: sid, From: customer, To: b.orgPhone, Body: fmt.Sprintf("text %03d", i)})
			}
			for i := range n / 5 {
				reqs = append(reqs, reqs[i*5])
			}
			rand.Shuffle(len(reqs), func(i, j int) { reqs[i], reqs[j] = reqs[j], reqs[i] })

			var wg sync.WaitGroup
			var dups atomic.Int64
			errs := make(chan error, len(reqs))
			for _, in := range reqs {
				wg.Go(func() {
					d, err := b.engine.ReceiveSMS(context.Background(), b.org.ID, in)
					if err != nil {
						errs <- err
						return
					}
					if d.Duplicate {
						dups.Add(1)
					}
				})
			}
			wg.Wait()
			close(errs)
			for err := range errs {
				require.NoError(t, err)
			}
			require.EqualValues(t, n/5, dups.Load())

			lead, err := b.store.FindLeadByPhone(t.Context(), b.org.ID, customer)
			require.NoError(t, err)
			require.Equal(t, n, lead.TotalConversations)
			msgs := messagesOf(t, b.store, b.org.ID, lead.ID)
			require.Len(t, msgs, n)
			seen := map[string]bool{}
			for i, m := range msgs {
				require.False(t, seen[m.ProviderMessageID], "stored twice: %s", m.ProviderMessageID)
				seen[m.ProviderMessageID] = true
				if i > 0 {
					// ids are minted by the grain in processing order: the timeline order is the grain's order
					require.Negative(t, strings.Compare(msgs[i-1].ID.String(), m.ID.String()), "timeline out of grain order at %d", i)
				}
			}
			events, err := b.store.FindEvents(t.Context(), b.org.ID, jack.EventFilter{Limit: 5000})
			require.NoError(t, err)
			received := 0
			for _, ev := range events {
				if ev.Type == jack.EventSMSReceived {
					received++
				}
			}
			require.Equal(t, n, received, "one sms_received event per stored message")
		})
	}
}

func TestOptOut(t *testing.T) {
	t.Parallel()
	b := setup(t, sqlitetest.MustOpenStore(t), nil)
	customer := storetest.NewPhone()
	b.inbound(t, customer, "hello")
	waitFor(t, 5*time.Second, "the AI reply", func() bool { return len(b.sms.Sent()) == 1 })

	d := b.inbound(t, customer, " sToP ")
	require.NotNil(t, d.Lead.OptedOutAt, "STOP opts the customer out")
	_, err := b.engine.SendSMS(t.Context(), b.org.ID, jack.OutboundSMS{To: customer, Body: "Are you there?", AuthorUserID: &b.owner.ID})
	require.Equal(t, jack.ECONFLICT, jack.ErrorCode(err))
	require.Equal(t, "opted_out", jack.ErrorReason(err))

	b.inbound(t, customer, "why?") // no AI reply to an opted-out customer
	d = b.inbound(t, customer, "START")
	require.Nil(t, d.Lead.OptedOutAt, "START opts back in")
	_, err = b.engine.SendSMS(t.Context(), b.org.ID, jack.OutboundSMS{To: customer, Body: "Welcome back", AuthorUserID: &b.owner.ID})
	require.NoError(t, err)
	require.Len(t, b.sms.Sent(), 2, "only the first AI reply and the manual text were sent")
	require.EqualValues(t, 1, b.agent.turns.Load(), "keywords and opted-out texts never reach the AI")
}

func TestAIReply(t *testing.T) {
	t.Parallel()
	t.Run("DebouncesFollowUps", func(t *testing.T) {
		t.Parallel()
		b := setup(t, sqlitetest.MustOpenStore(t), func(c *Config) { c.AIDebounce = 300 * time.Millisecond })
		customer := storetest.NewPhone()
		b.inbound(t, customer, "Hi")
		b.inbound(t, customer, "Looking for a truck")
		waitFor(t, 5*time.Second, "the AI reply", func() bool { return len(b.sms.Sent()) == 1 })
		require.EqualValues(t, 1, b.agent.turns.Load())
		b.agent.mu.Lock()
		require.Equal(t, []string{"Hi\nLooking for a truck"}, b.agent.texts)
		b.agent.mu.Unlock()
		sent := b.sms.Sent()[0]
		require.Equal(t, b.orgPhone, sent.From)
		require.Equal(t, customer, sent.To)
		require.Equal(t, "http://jack.test/api/webhooks/twilio/sms/status", sent.StatusCallback)

		lead, err := b.store.FindLeadByPhone(t.Context(), b.org.ID, customer)
		require.NoError(t, err)
		var msgs []*jack.Message
		waitFor(t, 5*time.Second, "the send's outcome", func() bool { // committed right after the sender answers
			msgs = messagesOf(t, b.store, b.org.ID, lead.ID)
			return len(msgs) == 3 && msgs[2].Status != jack.StatusPending && msgs[2].Status != jack.StatusSending
		})
		require.Equal(t, jack.SentByAgent, msgs[2].SentBy)
		require.Equal(t, jack.StatusQueued, msgs[2].Status)
		require.NotEmpty(t, msgs[2].ProviderMessageID)
		require.Nil(t, msgs[2].AuthorUserID, "the AI has no author")
		require.Equal(t, 3, lead.TotalConversations)
	})
	t.Run("RecordsWhatTheAgentLearned", func(t *testing.T) {
		t.Parallel()
		b := setup(t, sqlitetest.MustOpenStore(t), nil)
		b.agent.ReplyFunc = func(turn jack.AgentTurn) (*jack.AgentReply, error) {
			v := "2021 Honda Civic"
			return &jack.AgentReply{Text: "Great choice! What budget?", Change: jack.ConversationChange{VehicleInterest: &v}}, nil
		}
		customer := storetest.NewPhone()
		b.inbound(t, customer, "I want a 2021 Honda Civic")
		waitFor(t, 5*time.Second, "the lead to learn the vehicle", func() bool {
			l, err := b.store.FindLeadByPhone(t.Context(), b.org.ID, customer)
			return err == nil && l.VehiclePreference == "2021 Honda Civic"
		})
	})
	t.Run("AgentFailureIsVisible", func(t *testing.T) {
		t.Parallel()
		b := setup(t, sqlitetest.MustOpenStore(t), nil)
		b.agent.ReplyFunc = func(jack.AgentTurn) (*jack.AgentReply, error) { return nil, errors.New("boom") }
		customer := storetest.NewPhone()
		d := b.inbound(t, customer, "Hello?")
		waitFor(t, 5*time.Second, "a failed outbound message", func() bool {
			msgs := messagesOf(t, b.store, b.org.ID, d.Lead.ID)
			return len(msgs) == 2 && msgs[1].Status == jack.StatusFailed && msgs[1].ErrorCode == "agent_error"
		})
		require.Empty(t, b.sms.Sent())
		vars, err := b.engine.Context(t.Context(), b.org.ID, customer)
		require.NoError(t, err)
		require.EqualValues(t, 2, vars["total_messages"], "the grain's memory matches the store")
	})
	t.Run("SendFailureIsVisible", func(t *testing.T) {
		t.Parallel()
		b := setup(t, sqlitetest.MustOpenStore(t), nil)
		b.sms.SendSMSFunc = func(jack.SMSRequest) (*jack.SMSResult, error) {
			return nil, jack.Errorf(jack.EPROVIDER, "Twilio could not be reached.")
		}
		d := b.inbound(t, storetest.NewPhone(), "Hello?")
		waitFor(t, 5*time.Second, "a failed outbound message", func() bool {
			msgs := messagesOf(t, b.store, b.org.ID, d.Lead.ID)
			return len(msgs) == 2 && msgs[1].Status == jack.StatusFailed && msgs[1].ErrorMessage == "Twilio could not be reached."
		})
	})
	t.Run("CarrierOptOutOnSend", func(t *testing.T) {
		t.Parallel()
		b := setup(t, sqlitetest.MustOpenStore(t), nil)
		b.sms.SendSMSFunc = func(jack.SMSRequest) (*jack.SMSResult, error) {
			return nil, jack.ReasonErrorf(jack.ECONFLICT, "opted_out", "The customer has opted out of text messages.")
		}
		customer := storetest.NewPhone()
		b.inbound(t, customer, "Hello?")
		waitFor(t, 5*time.Second, "the lead to be opted out", func() bool {
			l, err := b.store.FindLeadByPhone(t.Context(), b.org.ID, customer)
			return err == nil && l.OptedOut()
		})
	})
}

func TestTakeover(t *testing.T) {
	t.Parallel()
	t.Run("ManualSendPausesAI", func(t *testing.T) {
		t.Parallel()
		b := setup(t, sqlitetest.MustOpenStore(t), func(c *Config) { c.AIDebounce = 200 * time.Millisecond })
		customer := storetest.NewPhone()
		b.inbound(t, customer, "Can a person help me?")
		d, err := b.engine.SendSMS(t.Context(), b.org.ID, jack.OutboundSMS{To: customer, Body: "Hi, this is Sarah.", AuthorUserID: &b.owner.ID, IdempotencyKey: "k1"})
		require.NoError(t, err)
		require.True(t, d.Lead.AIPaused(time.Now()))
		require.Equal(t, &b.owner.ID, d.Message.AuthorUserID)
		b.inbound(t, customer, "Thanks Sarah")
		time.Sleep(500 * time.Millisecond) // longer than the debounce: an AI reply would have gone out
		require.Len(t, b.sms.Sent(), 1, "only the manual text")
		require.Zero(t, b.agent.turns.Load())

		again, err := b.engine.SendSMS(t.Context(), b.org.ID, jack.OutboundSMS{To: customer, Body: "Hi, this is Sarah.", AuthorUserID: &b.owner.ID, IdempotencyKey: "k1"})
		require.NoError(t, err)
		require.True(t, again.Duplicate, "same idempotency key")
		require.Equal(t, d.Message.ID, again.Message.ID)
		require.Len(t, b.sms.Sent(), 1)
	})
	t.Run("PauseAndResume", func(t *testing.T) {
		t.Parallel()
		b := setup(t, sqlitetest.MustOpenStore(t), nil)
		customer := storetest.NewPhone()
		_, err := b.engine.SetAIPaused(t.Context(), b.org.ID, customer, true)
		require.Equal(t, jack.ENOTFOUND, jack.ErrorCode(err), "no lead yet")

		b.inbound(t, customer, "hi")
		waitFor(t, 5*time.Second, "the AI reply", func() bool { return len(b.sms.Sent()) == 1 })
		lead, err := b.engine.SetAIPaused(t.Context(), b.org.ID, customer, true)
		require.NoError(t, err)
		require.True(t, lead.AIPaused(time.Now().AddDate(1, 0, 0)), "paused until resumed")
		b.inbound(t, customer, "anyone?")
		time.Sleep(200 * time.Millisecond)
		require.Len(t, b.sms.Sent(), 1)

		lead, err = b.engine.SetAIPaused(t.Context(), b.org.ID, customer, false)
		require.NoError(t, err)
		require.Nil(t, lead.AIPausedUntil)
		b.inbound(t, customer, "hello again")
		waitFor(t, 5*time.Second, "the AI to answer again", func() bool { return len(b.sms.Sent()) == 2 })
	})
	t.Run("NoActiveNumber", func(t *testing.T) {
		t.Parallel()
		store := sqlitetest.MustOpenStore(t)
		b := setup(t, store, nil)
		off := false
		_, err := store.UpdatePhoneNumber(t.Context(), b.org.ID, b.orgPhone, jack.PhoneNumberUpdate{IsActive: &off})
		require.NoError(t, err)
		_, err = b.engine.SendSMS(t.Context(), b.org.ID, jack.OutboundSMS{To: storetest.NewPhone(), Body: "hi", AuthorUserID: &b.owner.ID})
		require.Equal(t, jack.EUNPROCESSABLE, jack.ErrorCode(err))
	})
}

func TestSMSStatus(t *testing.T) {
	t.Parallel()
	b := setup(t, sqlitetest.MustOpenStore(t), nil)
	customer := storetest.NewPhone()
	d, err := b.engine.SendSMS(t.Context(), b.org.ID, jack.OutboundSMS{To: customer, Body: "Your car is ready", AuthorUserID: &b.owner.ID})
	require.NoError(t, err)
	sid := d.Message.ProviderMessageID
	require.NotEmpty(t, sid)
	status := func(s string) {
		require.NoError(t, b.engine.UpdateSMSStatus(t.Context(), b.org.ID, jack.SMSStatus{ProviderMessageID: sid, Status: s, To: customer, From: b.orgPhone}))
	}
	status(jack.StatusSent)
	status(jack.StatusDelivered)
	status(jack.StatusSent) // late and out of order
	msgs := messagesOf(t, b.store, b.org.ID, d.Lead.ID)
	require.Equal(t, jack.StatusDelivered, msgs[0].Status)

	err = b.engine.UpdateSMSStatus(t.Context(), b.org.ID, jack.SMSStatus{ProviderMessageID: newSid(), Status: jack.StatusSent, To: customer})
	require.Equal(t, jack.ENOTFOUND, jack.ErrorCode(err))
}

// TestPassivation: a grain that passivates and re-activates from the Store builds the same
// context as before.
func TestPassivation(t *testing.T) {
	t.Parallel()
	var activations atomic.Int64
	b := setup(t, sqlitetest.MustOpenStore(t), func(c *Config) { c.ConversationIdle = 300 * time.Millisecond; c.AIDebounce = time.Hour })
	b.engine.onActivate = func() { activations.Add(1) }
	customer := storetest.NewPhone()
	b.inbound(t, customer, "Hi, I saw the Civic online")
	_, err := b.engine.SendSMS(t.Context(), b.org.ID, jack.OutboundSMS{To: customer, Body: "Hi! Which trim?", AuthorUserID: &b.owner.ID})
	require.NoError(t, err)
	b.inbound(t, customer, "The sport one")
	before, err := b.engine.Context(t.Context(), b.org.ID, customer)
	require.NoError(t, err)
	require.EqualValues(t, 1, activations.Load())

	waitFor(t, 10*time.Second, "passivation", func() bool { return b.engine.ActiveConversations() == 0 })
	after, err := b.engine.Context(t.Context(), b.org.ID, customer)
	require.NoError(t, err)
	require.EqualValues(t, 2, activations.Load(), "the grain was activated again")
	require.Equal(t, before, after)
	require.Contains(t, after["conversation_context"], "[SMS] Customer: The sport one")
}

// TestRequestRetry: a request that times out (an artificially slow grain) is retried once with
// the same idempotency key, and the retry stores nothing twice.
func TestRequestRetry(t *testing.T) {
	t.Parallel()
	b := setup(t, sqlitetest.MustOpenStore(t), func(c *Config) { c.RequestTimeout = 300 * time.Millisecond; c.AIDebounce = time.Hour })
	var calls atomic.Int64
	b.engine.beforeRequest = func(req *Request) {
		if req.GetInboundSms() != nil && calls.Add(1) == 1 {
			time.Sleep(500 * time.Millisecond) // the first attempt outlives its timeout
		}
	}
	customer := storetest.NewPhone()
	d := b.inbound(t, customer, "are you open sunday?")
	require.EqualValues(t, 2, calls.Load(), "the handler retried once")
	require.True(t, d.Duplicate, "the retry found the first attempt's commit")
	require.Len(t, messagesOf(t, b.store, b.org.ID, d.Lead.ID), 1)

	_, err := b.engine.SendSMS(t.Context(), b.org.ID, jack.OutboundSMS{To: customer, Body: "Yes, 10-4", AuthorUserID: &b.owner.ID})
	require.NoError(t, err)
	require.Len(t, b.sms.Sent(), 1)
}

func TestTenantIsolation(t *testing.T) {
	t.Parallel()
	store := sqlitetest.MustOpenStore(t)
	a := setup(t, store, func(c *Config) { c.AIDebounce = time.Hour })
	orgB, _ := storetest.MustCreateOrganization(t, store)
	customer := storetest.NewPhone()
	a.inbound(t, customer, "secret trade-in details")
	vars, err := a.engine.Context(t.Context(), orgB.ID, customer)
	require.NoError(t, err)
	require.Equal(t, "", vars["conversation_context"], "the same customer at another dealership is another conversation")
	require.Equal(t, LeadStatusNew, vars["lead_status"])
}

// TestSingleEngineRace drives one engine through every concurrent path (webhooks racing AI
// replies, status callbacks, takeover) so `make test` can run it under -race on its own: with
// several clusters in one process the race detector trips over Proto.Actor's and gRPC's globals
// (see ARCHITECTURE.md, "Proto.Actor rules"), so the packages that start clusters run without -race otherwise.
func TestSingleEngineRace(t *testing.T) {
	t.Parallel()
	b := setup(t, sqlitetest.MustOpenStore(t), func(c *Config) { c.AIDebounce = time.Millisecond; c.AISessionIdle = 20 * time.Millisecond })
	var wg sync.WaitGroup
	for c := range 8 {
		customer := storetest.NewPhone()
		wg.Go(func() {
			for i := range 10 {
				d, err := b.engine.ReceiveSMS(context.Background(), b.org.ID, jack.InboundSMS{ProviderMessageID: newSid(), From: customer, To: b.orgPhone, Body: fmt.Sprintf("text %d", i)})
				if !assertNoError(t, err) {
					return
				}
				switch {
				case i == 5 && c%2 == 0:
					_, err = b.engine.SetAIPaused(context.Background(), b.org.ID, customer, true)
				case i == 7:
					_, err = b.engine.SendSMS(context.Background(), b.org.ID, jack.OutboundSMS{To: customer, Body: "staff here", AuthorUserID: &b.owner.ID})
				default:
					_, err = b.engine.Context(context.Background(), b.org.ID, d.Lead.PhoneNumberNormalized)
				}
				assertNoError(t, err)
			}
		})
	}
	wg.Wait()
	for n, sent := range b.sms.Sent() { // delivery callbacks race each other and the grains
		wg.Go(func() {
			st := jack.SMSStatus{ProviderMessageID: fmt.Sprintf("SM%032d", n+1), Status: jack.StatusDelivered, To: sent.To, From: sent.From}
			assertNoError(t, b.engine.UpdateSMSStatus(context.Background(), b.org.ID, st))
		})
	}
	wg.Wait()
	waitFor(t, 5*time.Second, "AI sessions to close when idle", func() bool { return b.agent.closed.Load() == b.agent.opened.Load() })
}

func assertNoError(t *testing.T, err error) bool {
	if err != nil {
		t.Errorf("unexpected error: %v", err)
		return false
	}
	return true
}

// TestUnansweredTextSurvivesNodeLoss: a node that dies while an AI reply waits out its debounce
// loses the timer; the conversation answers once it is active again elsewhere.
func TestUnansweredTextSurvivesNodeLoss(t *testing.T) {
	t.Parallel()
	store := sqlitetest.MustOpenStore(t)
	b := setup(t, store, func(c *Config) { c.AIDebounce = time.Hour })
	customer := storetest.NewPhone()
	b.inbound(t, customer, "Hello, anyone there?")
	require.NoError(t, b.engine.Close()) // the node dies with the timer

	other, err := NewEngine(Config{AIDebounce: 50 * time.Millisecond, ServerURL: "http://jack.test"}, store, newBroker(), b.sms, b.agent, b.dialer, testLogger(t))
	require.NoError(t, err)
	require.NoError(t, other.Start())
	t.Cleanup(func() { other.Close() })
	_, err = other.Context(t.Context(), b.org.ID, customer) // any request activates it again
	require.NoError(t, err)
	waitFor(t, 5*time.Second, "the reply", func() bool { return len(b.sms.Sent()) == 1 })
}
