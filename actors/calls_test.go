package actors

import (
	"context"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/jack-auto/jack"
	"github.com/jack-auto/jack/persistence/sqlite/sqlitetest"
	"github.com/jack-auto/jack/persistence/storetest"
)

// countingStore counts every read of the Store, inside transactions too.
type countingStore struct {
	jack.Store
	reads atomic.Int64
}

func (s *countingStore) FindOrganizationByID(ctx context.Context, orgID uuid.UUID) (*jack.Organization, error) {
	s.reads.Add(1)
	return s.Store.FindOrganizationByID(ctx, orgID)
}

func (s *countingStore) FindUserByID(ctx context.Context, orgID, id uuid.UUID) (*jack.User, error) {
	s.reads.Add(1)
	return s.Store.FindUserByID(ctx, orgID, id)
}

func (s *countingStore) LoadConversation(ctx context.Context, orgID uuid.UUID, phone string, limit int) (*jack.ConversationSnapshot, error) {
	s.reads.Add(1)
	return s.Store.LoadConversation(ctx, orgID, phone, limit)
}

func (s *countingStore) ActivePhoneNumber(ctx context.Context, orgID uuid.UUID) (*jack.PhoneNumber, error) {
	s.reads.Add(1)
	return s.Store.ActivePhoneNumber(ctx, orgID)
}

func (s *countingStore) FindLeadByPhone(ctx context.Context, orgID uuid.UUID, phone string) (*jack.Lead, error) {
	s.reads.Add(1)
	return s.Store.FindLeadByPhone(ctx, orgID, phone)
}

func (s *countingStore) InConversationTx(ctx context.Context, orgID uuid.UUID, fn func(tx jack.ConversationTx) error) error {
	return s.Store.InConversationTx(ctx, orgID, func(tx jack.ConversationTx) error { return fn(&countingTx{ConversationTx: tx, s: s}) })
}

type countingTx struct {
	jack.ConversationTx
	s *countingStore
}

func (t *countingTx) FindLeadByPhone(ctx context.Context, phone string) (*jack.Lead, error) {
	t.s.reads.Add(1)
	return t.ConversationTx.FindLeadByPhone(ctx, phone)
}

func (t *countingTx) FindMessageByProviderID(ctx context.Context, sid string) (*jack.Message, error) {
	t.s.reads.Add(1)
	return t.ConversationTx.FindMessageByProviderID(ctx, sid)
}

func (t *countingTx) FindCallSession(ctx context.Context, conversationID, callSid string) (*jack.CallSession, error) {
	t.s.reads.Add(1)
	return t.ConversationTx.FindCallSession(ctx, conversationID, callSid)
}

func findCall(t *testing.T, store jack.Store, orgID uuid.UUID, conversationID, callSid string) *jack.CallSession {
	t.Helper()
	var cs *jack.CallSession
	require.NoError(t, store.InConversationTx(t.Context(), orgID, func(tx jack.ConversationTx) (err error) {
		cs, err = tx.FindCallSession(t.Context(), conversationID, callSid)
		return err
	}))
	return cs
}

func TestStartCall(t *testing.T) {
	t.Parallel()
	t.Run("HotConversationReadsNothing", func(t *testing.T) {
		t.Parallel()
		store := &countingStore{Store: sqlitetest.MustOpenStore(t)}
		b := setup(t, store, func(c *Config) { c.AIDebounce = time.Hour })
		customer := storetest.NewPhone()
		b.inbound(t, customer, "Hi, calling you in a minute")

		before := store.reads.Load()
		vars, err := b.engine.StartCall(t.Context(), b.org.ID, jack.InboundCall{ProviderCallID: "CA1", Caller: customer, Called: b.orgPhone})
		require.NoError(t, err)
		require.Equal(t, before, store.reads.Load(), "the initiation answer comes from memory")
		for _, name := range DynamicVariableNames {
			require.Contains(t, vars, name)
		}
		require.Contains(t, vars["conversation_context"], "[SMS] Customer: Hi, calling you in a minute")
		require.Equal(t, LeadStatusActive, vars["lead_status"])
		require.Equal(t, b.org.Name, vars["organization_name"])

		waitFor(t, 5*time.Second, "the call session", func() bool {
			var found bool
			_ = store.Store.InConversationTx(t.Context(), b.org.ID, func(tx jack.ConversationTx) error {
				cs, err := tx.FindCallSession(t.Context(), "", "CA1")
				found = err == nil && cs.Direction == jack.CallInbound && cs.PhoneNumberNormalized == customer
				return nil
			})
			return found
		})
	})
	t.Run("UnknownCallerGetsALead", func(t *testing.T) {
		t.Parallel()
		b := setup(t, sqlitetest.MustOpenStore(t), nil)
		customer := storetest.NewPhone()
		vars, err := b.engine.StartCall(t.Context(), b.org.ID, jack.InboundCall{ProviderCallID: "CA2", Caller: customer, Called: b.orgPhone})
		require.NoError(t, err)
		require.Equal(t, LeadStatusNew, vars["lead_status"])
		require.Equal(t, "Customer", vars["customer_name"])
		waitFor(t, 5*time.Second, "the new lead", func() bool {
			_, err := b.store.FindLeadByPhone(t.Context(), b.org.ID, customer)
			return err == nil
		})
	})
}

func transcript(convID string, start time.Time) jack.CallTranscript {
	return jack.CallTranscript{
		ConversationID: convID, ProviderCallID: "CA" + convID, Direction: jack.CallInbound, StartedAt: start, DurationSeconds: 95,
		Turns: []jack.CallTurn{
			{Role: "agent", Message: "Hi, this is Premium Auto. How can I help?", TimeInCallSecs: 0},
			{Role: "user", Message: "I'd like a hybrid SUV around $450 a month.", TimeInCallSecs: 4},
			{Role: "agent", Message: "", TimeInCallSecs: 9}, // a tool call without text
			{Role: "agent", Message: "Great, a team member will follow up with options.", TimeInCallSecs: 12},
		},
		Summary: "Customer wants a hybrid SUV around $450/month.", CallSuccessful: jack.OutcomeSuccess,
		TerminationReason: "client ended call", Analysis: []byte(`{"call_successful":"success","data_collection_results":{"budget":"450"}}`),
	}
}

func TestCompleteCall(t *testing.T) {
	t.Parallel()
	b := setup(t, sqlitetest.MustOpenStore(t), func(c *Config) { c.AIDebounce = 50 * time.Millisecond })
	customer := storetest.NewPhone()
	d := b.inbound(t, customer, "Hello, I texted first")
	waitFor(t, 5*time.Second, "the AI reply", func() bool { return len(b.sms.Sent()) == 1 })
	opened := b.agent.opened.Load()

	start := time.Now().UTC().Add(-100 * time.Second).Truncate(time.Second) // the call ended just now
	cs, err := b.engine.CompleteCall(t.Context(), b.org.ID, customer, transcript("conv_1", start))
	require.NoError(t, err)
	require.NotNil(t, cs.EndedAt)
	require.Equal(t, start.Add(95*time.Second), cs.EndedAt.UTC())
	require.Equal(t, 95, *cs.DurationSeconds)
	require.Equal(t, jack.OutcomeSuccess, cs.CallOutcome)
	require.Equal(t, "client ended call", cs.TerminationReason)
	require.JSONEq(t, `{"call_successful":"success","data_collection_results":{"budget":"450"}}`, string(cs.VoiceData))

	msgs := messagesOf(t, b.store, b.org.ID, d.Lead.ID)
	require.Len(t, msgs, 5, "three spoken turns (the empty one is skipped), then the sms and the AI reply")
	voice := msgs[:3]
	require.Equal(t, "Hi, this is Premium Auto. How can I help?", voice[0].Content)
	require.Equal(t, jack.SentByCustomer, voice[1].SentBy)
	require.Equal(t, jack.ChannelVoice, voice[1].Type)
	require.Equal(t, 4.0, *voice[1].TimeInCallSecs)
	require.Equal(t, start.Add(4*time.Second), voice[1].Timestamp.UTC())
	require.Equal(t, "conv_1", voice[2].VoiceConversationID)

	// A replayed webhook changes nothing.
	again, err := b.engine.CompleteCall(t.Context(), b.org.ID, customer, transcript("conv_1", start))
	require.NoError(t, err)
	require.Equal(t, cs.ID, again.ID)
	require.Len(t, messagesOf(t, b.store, b.org.ID, d.Lead.ID), 5)
	lead, err := b.store.FindLeadByID(t.Context(), b.org.ID, d.Lead.ID)
	require.NoError(t, err)
	require.Equal(t, 5, lead.TotalConversations)

	vars, err := b.engine.Context(t.Context(), b.org.ID, customer)
	require.NoError(t, err)
	require.Equal(t, LeadStatusReturning, vars["lead_status"])
	require.Equal(t, "Customer wants a hybrid SUV around $450/month.", vars["previous_summary"])
	require.Contains(t, vars["conversation_context"], "[Voice] Customer: I'd like a hybrid SUV around $450 a month.")
	require.EqualValues(t, 5, vars["total_messages"])

	snap, err := b.store.LoadConversation(t.Context(), b.org.ID, customer, 50)
	require.NoError(t, err)
	require.NotNil(t, snap.Summary)
	require.Equal(t, 5, snap.Summary.TotalMessages)
	require.Equal(t, 3, snap.Summary.VoiceMessages)
	require.Equal(t, 2, snap.Summary.SMSMessages)

	// The next text is answered by a fresh AI session that starts with the call in its context.
	b.inbound(t, customer, "Any hybrids in stock?")
	waitFor(t, 5*time.Second, "the second AI reply", func() bool { return len(b.sms.Sent()) == 2 })
	require.Greater(t, b.agent.opened.Load(), opened, "the session opened before the call was replaced")
}

func TestFailCall(t *testing.T) {
	t.Parallel()
	b := setup(t, sqlitetest.MustOpenStore(t), nil)
	customer := storetest.NewPhone()
	cs, err := b.engine.FailCall(t.Context(), b.org.ID, customer, jack.CallFailure{ConversationID: "conv_busy", ProviderCallID: "CAbusy", Reason: "busy"})
	require.NoError(t, err)
	require.Equal(t, jack.OutcomeFailed, cs.CallOutcome)
	require.Equal(t, "busy", cs.TerminationReason)
	require.Equal(t, cs.ID, findCall(t, b.store, b.org.ID, "conv_busy", "").ID)
}

func TestOutboundCall(t *testing.T) {
	t.Parallel()
	t.Run("OK", func(t *testing.T) {
		t.Parallel()
		store := sqlitetest.MustOpenStore(t)
		b := setup(t, store, nil)
		elID := "phnum_1"
		_, err := store.UpdatePhoneNumber(t.Context(), b.org.ID, b.orgPhone, jack.PhoneNumberUpdate{VoicePhoneID: &elID})
		require.NoError(t, err)
		customer := storetest.NewPhone()
		cs, err := b.engine.Call(t.Context(), b.org.ID, customer)
		require.NoError(t, err)
		require.Equal(t, "conv_1", cs.VoiceConversationID)
		require.True(t, strings.HasPrefix(cs.ProviderCallID, "CA"))
		require.Equal(t, jack.CallOutbound, cs.Direction)
		calls := b.dialer.Calls()
		require.Len(t, calls, 1)
		require.Equal(t, "phnum_1", calls[0].VoicePhoneID)
		require.Equal(t, customer, calls[0].To)
		for _, name := range DynamicVariableNames {
			require.Contains(t, calls[0].Variables, name)
		}
		require.Equal(t, cs.ID, findCall(t, store, b.org.ID, "conv_1", "").ID)
	})
	t.Run("Refusals", func(t *testing.T) {
		t.Parallel()
		store := sqlitetest.MustOpenStore(t)
		b := setup(t, store, nil)
		customer := storetest.NewPhone()
		_, err := b.engine.Call(t.Context(), b.org.ID, customer)
		require.Equal(t, "no_elevenlabs_phone", jack.ErrorReason(err))

		elID := "phnum_1"
		_, err = store.UpdatePhoneNumber(t.Context(), b.org.ID, b.orgPhone, jack.PhoneNumberUpdate{VoicePhoneID: &elID})
		require.NoError(t, err)
		b.dialer.StartCallFunc = func(jack.CallRequest) (*jack.CallStarted, error) {
			return nil, jack.Errorf(jack.EPROVIDER, "ElevenLabs refused the call: agent is busy")
		}
		_, err = b.engine.Call(t.Context(), b.org.ID, customer)
		require.Equal(t, jack.EPROVIDER, jack.ErrorCode(err))
		require.Contains(t, jack.ErrorMessage(err), "agent is busy")

		b.inbound(t, customer, "STOP")
		_, err = b.engine.Call(t.Context(), b.org.ID, customer)
		require.Equal(t, "opted_out", jack.ErrorReason(err))
		require.Len(t, b.dialer.Calls(), 1, "only the refused attempt reached the provider")
	})
	t.Run("NotConfigured", func(t *testing.T) {
		t.Parallel()
		store := sqlitetest.MustOpenStore(t)
		org, _ := storetest.MustCreateOrganization(t, store)
		_, err := NewEngine(Config{}, store, nil, &smsSender{}, &agent{}, nil, testLogger(t))
		require.Error(t, err, "a broker is required")
		e, err := NewEngine(Config{}, store, newBroker(), &smsSender{}, &agent{}, nil, testLogger(t))
		require.NoError(t, err)
		require.NoError(t, e.Start())
		t.Cleanup(func() { e.Close() })
		_, err = e.Call(t.Context(), org.ID, storetest.NewPhone())
		require.Equal(t, "voice_not_configured", jack.ErrorReason(err))
	})
}

// TestCallTurnsKeepTimelineOrder: turns of a call that ended after later texts still take their
// place in the grain's memory by when they were said, as the Store orders them.
func TestCallTurnsKeepTimelineOrder(t *testing.T) {
	t.Parallel()
	b := setup(t, sqlitetest.MustOpenStore(t), func(c *Config) { c.AIDebounce = time.Millisecond; c.ConversationIdle = 300 * time.Millisecond })
	b.agent.ReplyFunc = silent
	customer := storetest.NewPhone()
	b.inbound(t, customer, "texting after the call")
	_, err := b.engine.CompleteCall(t.Context(), b.org.ID, customer, transcript("conv_9", time.Now().UTC().Add(-time.Hour)))
	require.NoError(t, err)
	before, err := b.engine.Context(t.Context(), b.org.ID, customer)
	require.NoError(t, err)
	require.True(t, strings.HasSuffix(before["conversation_context"].(string), "[SMS] Customer: texting after the call\n"))
	waitFor(t, 10*time.Second, "passivation", func() bool { return b.engine.ActiveConversations() == 0 })
	after, err := b.engine.Context(t.Context(), b.org.ID, customer)
	require.NoError(t, err)
	require.Equal(t, before, after)
}

// TestQuietHours: texts and calls the dealership starts wait for the customer's contact hours;
// replies to a customer who just wrote do not.
func TestQuietHours(t *testing.T) {
	t.Parallel()
	// 2026-11-29 05:30Z is 21:30 in Vancouver (after hours) and 00:30 in Toronto.
	var now atomic.Pointer[time.Time]
	setNow := func(s string) {
		tm, err := time.Parse(time.RFC3339, s)
		require.NoError(t, err)
		now.Store(&tm)
	}
	setNow("2026-11-29T05:30:00Z")
	clock := func() time.Time { return *now.Load() }
	store := sqlitetest.MustOpenStore(t)
	store.Now = clock
	b := setup(t, store, func(c *Config) { c.Now = clock; c.AIDebounce = time.Hour })
	def := b.org.Settings
	def.ContactHoursStart, def.ContactHoursEnd = "", "" // back to the 08:00–21:00 default
	_, err := store.UpdateOrganization(t.Context(), b.org.ID, jack.OrganizationUpdate{Settings: &def})
	require.NoError(t, err)
	elID := "phnum_1"
	_, err = store.UpdatePhoneNumber(t.Context(), b.org.ID, b.orgPhone, jack.PhoneNumberUpdate{VoicePhoneID: &elID})
	require.NoError(t, err)

	vancouver, toronto := "+16045550142", "+14165550142"
	for _, customer := range []string{vancouver, toronto} {
		_, err := b.engine.SendSMS(t.Context(), b.org.ID, jack.OutboundSMS{To: customer, Body: "Late offer!", AuthorUserID: &b.owner.ID})
		require.Equal(t, "quiet_hours", jack.ErrorReason(err), customer)
		var e *jack.Error
		require.ErrorAs(t, err, &e)
		next := map[string]string{vancouver: "2026-11-29T16:00:00Z", toronto: "2026-11-29T13:00:00Z"}[customer]
		require.Equal(t, next, e.Details["nextAllowedAt"], "08:00 local")
		_, err = b.engine.Call(t.Context(), b.org.ID, customer)
		require.Equal(t, "quiet_hours", jack.ErrorReason(err))
	}
	require.Empty(t, b.sms.Sent())
	require.Empty(t, b.dialer.Calls())

	// The customer writes: answering them now is a reply, allowed.
	b.inbound(t, vancouver, "Are you still open?")
	_, err = b.engine.SendSMS(t.Context(), b.org.ID, jack.OutboundSMS{To: vancouver, Body: "We open at 8!", AuthorUserID: &b.owner.ID})
	require.NoError(t, err)
	// An hour later it is no longer a reply.
	setNow("2026-11-29T06:45:00Z")
	_, err = b.engine.SendSMS(t.Context(), b.org.ID, jack.OutboundSMS{To: vancouver, Body: "One more thing", AuthorUserID: &b.owner.ID})
	require.Equal(t, "quiet_hours", jack.ErrorReason(err))

	// Morning in Toronto (08:30), still night in Vancouver (05:30).
	setNow("2026-11-29T13:30:00Z")
	_, err = b.engine.SendSMS(t.Context(), b.org.ID, jack.OutboundSMS{To: toronto, Body: "Good morning", AuthorUserID: &b.owner.ID})
	require.NoError(t, err)
	_, err = b.engine.SendSMS(t.Context(), b.org.ID, jack.OutboundSMS{To: vancouver, Body: "Good morning", AuthorUserID: &b.owner.ID})
	require.Equal(t, "quiet_hours", jack.ErrorReason(err))
}

// TestScoring: every inbound text and call re-scores the lead, with the latest call counted
// even after the conversation passivated and came back.
func TestScoring(t *testing.T) {
	t.Parallel()
	b := setup(t, sqlitetest.MustOpenStore(t), func(c *Config) { c.AIDebounce = time.Millisecond; c.ConversationIdle = 300 * time.Millisecond })
	b.agent.ReplyFunc = silent
	customer := storetest.NewPhone()
	d := b.inbound(t, customer, "Thanks, this looks great!")
	require.NotNil(t, d.Lead.LeadQualityScore)
	require.Equal(t, 19.0, *d.Lead.LeadQualityScore, "one message (4) sent just now (15)")
	require.Equal(t, "positive", d.Lead.Sentiment)

	tr := transcript("conv_score", time.Now().UTC().Add(-2*time.Minute))
	cs, err := b.engine.CompleteCall(t.Context(), b.org.ID, customer, tr)
	require.NoError(t, err)
	require.NotNil(t, cs.LeadQualityScore)
	require.NotNil(t, cs.SentimentScore)
	lead, err := b.store.FindLeadByPhone(t.Context(), b.org.ID, customer)
	require.NoError(t, err)
	withCall := *lead.LeadQualityScore
	require.Greater(t, withCall, 19.0, "a successful call with collected data adds to the score")

	waitFor(t, 10*time.Second, "passivation", func() bool { return b.engine.ActiveConversations() == 0 })
	d = b.inbound(t, customer, "One more question")
	require.GreaterOrEqual(t, *d.Lead.LeadQualityScore, withCall, "the call still counts after re-activation")
}

// silent is an agent that has nothing to say: the AI runs, nothing is sent, the grain may idle.
func silent(jack.AgentTurn) (*jack.AgentReply, error) { return &jack.AgentReply{}, nil }
