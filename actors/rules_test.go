package actors

import (
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/jack-auto/jack"
)

// The conversation's rules, tested as plain Go: no actor system, no Store.

func newTestConversation(t *testing.T, now time.Time, msgs ...*jack.Message) (*conversation, *jack.Lead) {
	t.Helper()
	orgID := uuid.New()
	phone := "+16045550101" // Vancouver: America/Vancouver
	lead := jack.NewLead(orgID, "Dana", phone, now.Add(-24*time.Hour))
	org := &jack.Organization{ID: orgID, Name: "Maple Motors"}
	org.Settings.TimeZone = "America/Vancouver"
	c := &conversation{orgID: orgID, phone: phone}
	c.load(org, &jack.ConversationSnapshot{Lead: lead, Messages: msgs, TotalMessages: len(msgs)}, 50, nil)
	return c, lead
}

func text(lead *jack.Lead, sentBy, body string, at time.Time) *jack.Message {
	return &jack.Message{ID: uuid.Must(uuid.NewV7()), OrganizationID: lead.OrganizationID, LeadID: lead.ID,
		PhoneNumberNormalized: lead.PhoneNumberNormalized, Content: body, SentBy: sentBy, Type: jack.ChannelSMS, Timestamp: at}
}

func TestRules_InboundChange(t *testing.T) {
	now := time.Date(2026, 12, 7, 18, 0, 0, 0, time.UTC)
	c, lead := newTestConversation(t, now)
	m := text(lead, jack.SentByCustomer, "Is the Civic available?", now)

	ch := c.inboundChange(lead, m, jack.KeywordNone, now)
	require.Equal(t, 1, ch.Messages)
	require.Equal(t, now, *ch.Activity)
	require.Nil(t, ch.OptOut)
	require.Nil(t, ch.ChaseStatus, "a lead not being chased keeps its status")
	require.NotNil(t, ch.LeadQualityScore, "every inbound text rescores the lead")

	stop := c.inboundChange(lead, text(lead, jack.SentByCustomer, "STOP", now), jack.KeywordStop, now)
	require.True(t, *stop.OptOut)
	start := c.inboundChange(lead, text(lead, jack.SentByCustomer, "START", now), jack.KeywordStart, now)
	require.False(t, *start.OptOut)

	chased := cloneLead(lead)
	chased.ChaseStatus = jack.ChaseNurture
	require.Equal(t, jack.ChaseEngaged, *c.inboundChange(chased, m, jack.KeywordNone, now).ChaseStatus,
		"a lead being chased who answers is engaged again")
}

func TestRules_OutboundChange(t *testing.T) {
	now := time.Date(2026, 12, 7, 18, 0, 0, 0, time.UTC)
	c, lead := newTestConversation(t, now)

	ai := c.outboundChange(lead, outbound{body: "Which trim?"}, now, 30*time.Minute)
	require.Equal(t, 1, ai.Messages)
	require.Equal(t, now, *ai.Touchpoint)
	require.Nil(t, ai.AIPausedUntil, "the AI's own text pauses nothing")
	require.Nil(t, ai.LeadQualityScore, "nothing learned, no rescoring")

	staff := uuid.New()
	byStaff := c.outboundChange(lead, outbound{body: "I'll call you", author: &staff}, now, 30*time.Minute)
	require.Equal(t, now.Add(30*time.Minute), *byStaff.AIPausedUntil, "a staff text takes over")

	vehicle := "2021 Civic"
	learnedSomething := c.outboundChange(lead, outbound{body: "Great choice", change: jack.ConversationChange{VehicleInterest: &vehicle}}, now, time.Minute)
	require.Equal(t, vehicle, *learnedSomething.VehicleInterest)
	require.NotNil(t, learnedSomething.LeadQualityScore, "the AI learned a vehicle: the lead is rescored")
}

func TestRules_AIAllowed(t *testing.T) {
	now := time.Date(2026, 12, 7, 18, 0, 0, 0, time.UTC)
	c, lead := newTestConversation(t, now)
	require.True(t, c.aiAllowed(now))

	paused := cloneLead(lead)
	paused.AIPausedUntil = ptr(now.Add(time.Minute))
	c.record(paused, nil)
	require.False(t, c.aiAllowed(now), "staff took over")
	require.True(t, c.aiAllowed(now.Add(2*time.Minute)), "the takeover ran out")

	optedOut := cloneLead(lead)
	optedOut.OptedOutAt = &now
	c.record(optedOut, nil)
	require.False(t, c.aiAllowed(now))

	c.forget(50)
	require.False(t, c.aiAllowed(now), "no lead, no AI")
}

func TestRules_UnansweredTextAndOwedReply(t *testing.T) {
	now := time.Date(2026, 12, 7, 18, 0, 0, 0, time.UTC)
	c, lead := newTestConversation(t, now)
	require.False(t, c.owesReply(now), "an empty conversation owes nothing")

	c.record(nil, text(lead, jack.SentByCustomer, "first", now.Add(-3*time.Minute)))
	c.record(nil, text(lead, jack.SentByAgent, "answer", now.Add(-2*time.Minute)))
	c.record(nil, text(lead, jack.SentByCustomer, "Hi again", now.Add(-time.Minute)))
	c.record(nil, text(lead, jack.SentByCustomer, "still there?", now))
	require.Equal(t, "Hi again\nstill there?", c.unansweredText(), "the customer's texts since the dealership last wrote")
	require.Equal(t, 4, c.total)
	require.Equal(t, 4, c.sms)
	require.True(t, c.owesReply(now))
	require.False(t, c.owesReply(now.Add(unansweredWindow+time.Second)), "too old to answer after a restart")

	c.record(nil, text(lead, jack.SentByCustomer, "STOP", now))
	require.False(t, c.owesReply(now), "a keyword is not answered")
}

func TestRules_ContactAt(t *testing.T) {
	// 06:00 in Vancouver: before the default contact hours (08:00–21:00).
	now := time.Date(2026, 12, 7, 14, 0, 0, 0, time.UTC)
	c, lead := newTestConversation(t, now)
	next := c.contactAt(now, c.org)
	require.Equal(t, time.Date(2026, 12, 7, 16, 0, 0, 0, time.UTC), next.UTC(), "08:00 in the customer's zone")

	c.record(nil, text(lead, jack.SentByCustomer, "Are you open?", now.Add(-10*time.Minute)))
	require.True(t, c.inReplyWindow(now))
	require.Equal(t, now, c.contactAt(now, c.org), "answering a customer who just wrote is always allowed")
	require.False(t, c.inReplyWindow(now.Add(jack.ReplyWindow)))
}
