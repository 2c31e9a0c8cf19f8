package actors

import (
	"encoding/json"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/jack-auto/jack"
)

// conversation is one conversation's memory and the rules that decide what a message changes:
// what an inbound text does to the lead (opt-out keywords, the chase status, the score), what
// an outbound text does (takeover pause, touchpoint, what the AI learned), whether the AI may
// answer and what it answers, when the dealership may start contact (quiet hours), and the
// agent's context. It does no I/O and knows nothing of actors, so it is tested on its own
// (rules_test.go); the grain (grain.go) is the transport around it: it loads it, commits what
// the rules decide, and keeps it current with what committed.
type conversation struct {
	orgID uuid.UUID
	phone string

	loaded       bool
	org          *jack.Organization
	lead         *jack.Lead // nil until the customer has a lead
	assignedName string
	history      history // recent messages, oldest first
	summary      *jack.Summary
	lastCall     *jack.CallAnalysis // the latest finished call's analysis, for scoring
	upcoming     *jack.Appointment  // the customer's next confirmed appointment; nil when none
	total        int                // every message of the conversation
	sms, voice   int                // the same by channel
}

// load replaces the memory with a snapshot read from the Store.
func (c *conversation) load(org *jack.Organization, snap *jack.ConversationSnapshot, historySize int, analysis func(json.RawMessage) *jack.CallAnalysis) {
	c.org, c.lead, c.summary = org, snap.Lead, snap.Summary
	c.history = newHistory(historySize, snap.Messages)
	c.total, c.sms, c.voice = snap.TotalMessages, snap.SMSMessages, snap.VoiceMessages
	c.lastCall = nil
	if snap.LastCall != nil && analysis != nil {
		c.lastCall = analysis(snap.LastCall.VoiceData)
	}
	c.loaded = true
}

// forget empties the memory (the lead was deleted).
func (c *conversation) forget(historySize int) {
	c.lead, c.summary, c.assignedName = nil, nil, ""
	c.history = newHistory(historySize, nil)
	c.total, c.sms, c.voice = 0, 0, 0
}

// record puts committed state into memory: the lead as it now is and a new message. It
// reports whether the lead's assignee changed (the caller looks up the name).
func (c *conversation) record(lead *jack.Lead, msg *jack.Message) (reassigned bool) {
	if lead != nil {
		reassigned = c.lead == nil || !equalPtr(c.lead.AssignedTo, lead.AssignedTo)
		c.lead = lead
	}
	if msg != nil {
		c.history.add(msg)
		c.total++
		if msg.Type == jack.ChannelVoice {
			c.voice++
		} else {
			c.sms++
		}
	}
	return reassigned
}

// inboundChange is what a customer's text m does to lead l: one more message and activity;
// STOP opts out and START back in; a lead being chased is engaged again; the lead is scored
// as it will be once the change commits.
func (c *conversation) inboundChange(l *jack.Lead, m *jack.Message, keyword jack.Keyword, now time.Time) jack.ConversationChange {
	ch := jack.ConversationChange{Messages: 1, Activity: &now}
	switch keyword {
	case jack.KeywordStop:
		ch.OptOut = ptr(true)
	case jack.KeywordStart:
		ch.OptOut = ptr(false)
	}
	if l.ChaseStatus == jack.ChaseNurture {
		ch.ChaseStatus = ptr(jack.ChaseEngaged)
	}
	predicted := cloneLead(l)
	if ch.OptOut != nil && *ch.OptOut {
		predicted.OptedOutAt = &now
	} else if ch.OptOut != nil {
		predicted.OptedOutAt = nil
	}
	ch.LeadQualityScore, ch.Sentiment = c.score(predicted, m, now)
	return ch
}

// outboundChange is what the dealership's text o does to lead l: one more message, activity
// and a touchpoint, what the AI learned (rescoring the lead when it learned something scoring
// reads), and, for a staff member's text, the AI paused for takeoverPause.
func (c *conversation) outboundChange(l *jack.Lead, o outbound, now time.Time, takeoverPause time.Duration) jack.ConversationChange {
	ch := o.change
	ch.Messages, ch.Activity, ch.Touchpoint = 1, &now, &now
	if learned(o.change) {
		ch.LeadQualityScore, ch.Sentiment = c.score(withQualification(l, o.change), nil, now)
	}
	if o.author != nil {
		ch.AIPausedUntil = ptr(now.Add(takeoverPause))
	}
	return ch
}

// pauseUndo is the AI pause a staff text set and the one it replaced, so that a text the
// provider refused gives the conversation back as it was: only an accepted text takes over.
type pauseUndo struct{ set, prev *time.Time }

// takeoverOf is the pause change ch made from before to after, nil when it paused nothing.
func takeoverOf(before, after *jack.Lead, ch jack.ConversationChange) *pauseUndo {
	if ch.AIPausedUntil == nil || after == nil || after.AIPausedUntil == nil {
		return nil
	}
	return &pauseUndo{set: after.AIPausedUntil, prev: before.AIPausedUntil}
}

// undo adds to ch the return to the pause before the text, unless the pause of l changed since
// (staff paused or resumed the AI meanwhile, or another text took over).
func (p *pauseUndo) undo(l *jack.Lead, ch *jack.ConversationChange) {
	if p == nil || l == nil || l.AIPausedUntil == nil || !l.AIPausedUntil.Equal(*p.set) {
		return
	}
	if p.prev == nil {
		ch.ResumeAI = true
	} else {
		ch.AIPausedUntil = p.prev
	}
}

// aiAllowed reports whether the AI may text the customer now: there is a lead, it has not
// opted out, and no staff member has taken over.
func (c *conversation) aiAllowed(now time.Time) bool {
	return c.lead != nil && !c.lead.OptedOut() && !c.lead.AIPaused(now)
}

// unansweredWindow is how recent a customer's unanswered text must be for a re-activated grain
// to answer it: the debounce timer lives in memory, so a node that died (or a grain stopped)
// while it ran would otherwise leave the customer without a reply.
const unansweredWindow = 10 * time.Minute

// owesReply reports whether the last message is a customer's text (not a keyword) from within
// unansweredWindow that nobody answered.
func (c *conversation) owesReply(now time.Time) bool {
	return c.unansweredWithin(now, unansweredWindow)
}

// resumeWindow is how recent a customer's unanswered text must be for the AI to answer it when
// staff resume the AI: texts that came in while staff had the conversation, not last week's.
const resumeWindow = 24 * time.Hour

// owesReplyOnResume reports whether the AI, resumed by staff at now, answers the customer's
// unanswered last text: the organization's setting (on by default) and such a text within
// resumeWindow.
func (c *conversation) owesReplyOnResume(now time.Time) bool {
	return (c.org == nil || c.org.Settings.AnswersOnResume()) && c.unansweredWithin(now, resumeWindow)
}

// unansweredWithin reports whether the last message is a customer's text (not a keyword) from
// within window of now.
func (c *conversation) unansweredWithin(now time.Time, window time.Duration) bool {
	n := c.history.len()
	if n == 0 {
		return false
	}
	last := c.history.memos[n-1]
	return last.customer() && jack.ClassifyKeyword(last.content, "") == jack.KeywordNone &&
		now.Sub(last.time()) <= window
}

// unansweredText joins the customer's texts since the dealership last wrote.
func (c *conversation) unansweredText() string {
	var texts []string
	for i := c.history.len() - 1; i >= 0 && c.history.memos[i].customer(); i-- {
		texts = append(texts, c.history.memos[i].content)
	}
	slices.Reverse(texts)
	return strings.Join(texts, "\n")
}

// contactAt is the earliest time, now or later, the dealership may start contact with the
// customer under org's contact hours in the customer's time zone; a reply to a text the
// customer sent within jack.ReplyWindow is always allowed.
func (c *conversation) contactAt(now time.Time, org *jack.Organization) time.Time {
	if c.inReplyWindow(now) {
		return now
	}
	return org.ContactWindow().NextContactTime(now, jack.CustomerZones(c.phone, org.Settings.TimeZone))
}

// inReplyWindow reports whether the customer's latest text is under jack.ReplyWindow old.
func (c *conversation) inReplyWindow(now time.Time) bool {
	for i := c.history.len() - 1; i >= 0; i-- {
		if m := c.history.memos[i]; m.customer() {
			return now.Sub(m.time()) < jack.ReplyWindow
		}
	}
	return false
}

// score ranks the lead (as it will be once the change commits) on the conversation in memory
// plus extra, the message being stored.
func (c *conversation) score(lead *jack.Lead, extra *jack.Message, now time.Time) (*float64, *string) {
	msgs := c.recent(c.history.len())
	if extra != nil {
		msgs = append(msgs, extra)
	}
	score, sentiment := jack.ScoreLead(jack.ScoreInput{Lead: lead, Messages: msgs, Now: now, Call: c.lastCall})
	return &score, &sentiment
}

// recent returns the conversation's n most recent messages, oldest first.
func (c *conversation) recent(n int) []*jack.Message {
	leadID := ""
	if c.lead != nil {
		leadID = c.lead.ID
	}
	return c.history.last(n, c.orgID, leadID, c.phone)
}

// variables are the agent's dynamic variables from memory: no database read.
func (c *conversation) variables() map[string]any {
	v := conversationView{
		OrgID: c.orgID.String(), Phone: c.phone, Lead: c.lead, AssignedName: c.assignedName,
		Messages: c.recent(contextMessages), Summary: c.summary, Total: c.total, // the variables read no further back
	}
	if c.org != nil {
		v.OrgName = c.org.Name
	}
	v.Appointment = appointmentVariable(c.upcoming, c.org)
	return DynamicVariables(v)
}

// learned reports whether an agent's change states something scoring reads.
func learned(ch jack.ConversationChange) bool {
	return ch.VehicleInterest != nil || ch.BudgetRange != nil || ch.CreditScoreRange != nil || ch.ScriptProgress != nil
}

// withQualification returns a copy of l with the qualification fields of ch applied.
func withQualification(l *jack.Lead, ch jack.ConversationChange) *jack.Lead {
	c := cloneLead(l)
	if ch.VehicleInterest != nil {
		c.VehiclePreference = *ch.VehicleInterest
	}
	if ch.BudgetRange != nil {
		c.BudgetRange = *ch.BudgetRange
	}
	if ch.CreditScoreRange != nil {
		c.CreditScoreRange = *ch.CreditScoreRange
	}
	if ch.ScriptProgress != nil {
		c.ScriptProgress = *ch.ScriptProgress
	}
	return c
}
