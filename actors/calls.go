package actors

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/google/uuid"

	"github.com/jack-auto/jack"
)

// This file is the voice side of the conversation: call context for ElevenLabs, finished calls,
// failed calls and outbound AI calls.

// StartCall implements jack.Conversations.
func (e *Engine) StartCall(ctx context.Context, orgID uuid.UUID, call jack.InboundCall) (map[string]any, error) {
	reply, err := e.request(ctx, orgID, call.Caller, &Request{Body: &Request_CallStart{CallStart: &CallStart{
		CallSid: call.ProviderCallID, Called: call.Called, AgentId: call.AgentID,
	}}})
	if err != nil {
		return nil, err
	}
	return contextFrom(reply)
}

// CompleteCall implements jack.Conversations.
func (e *Engine) CompleteCall(ctx context.Context, orgID uuid.UUID, phone string, t jack.CallTranscript) (*jack.CallSession, error) {
	b, err := json.Marshal(t)
	if err != nil {
		return nil, err
	}
	reply, err := e.request(ctx, orgID, phone, &Request{Body: &Request_CallCompleted{CallCompleted: &CallCompleted{TranscriptJson: b}}})
	if err != nil {
		return nil, err
	}
	return callFrom(reply)
}

// FailCall implements jack.Conversations.
func (e *Engine) FailCall(ctx context.Context, orgID uuid.UUID, phone string, f jack.CallFailure) (*jack.CallSession, error) {
	b, err := json.Marshal(f)
	if err != nil {
		return nil, err
	}
	reply, err := e.request(ctx, orgID, phone, &Request{Body: &Request_CallFailed{CallFailed: &CallFailed{FailureJson: b}}})
	if err != nil {
		return nil, err
	}
	return callFrom(reply)
}

// Call implements jack.Conversations. Not retried by the engine: a vanished request may have
// dialed already, and a second call to the customer is worse than an error.
func (e *Engine) Call(ctx context.Context, orgID uuid.UUID, phone string) (*jack.CallSession, error) {
	reply, err := e.requestOnce(ctx, orgID, phone, &Request{Body: &Request_OutboundCall{OutboundCall: &OutboundCall{}}})
	if err != nil {
		return nil, err
	}
	return callFrom(reply)
}

func contextFrom(reply *Reply) (map[string]any, error) {
	if err := replyError(reply); err != nil {
		return nil, err
	}
	var vars map[string]any
	if err := json.Unmarshal(reply.GetContext().GetVariablesJson(), &vars); err != nil {
		return nil, fmt.Errorf("decode context reply: %w", err)
	}
	return vars, nil
}

func callFrom(reply *Reply) (*jack.CallSession, error) {
	if err := replyError(reply); err != nil {
		return nil, err
	}
	var cs jack.CallSession
	if err := json.Unmarshal(reply.GetCall().GetSessionJson(), &cs); err != nil {
		return nil, fmt.Errorf("decode call reply: %w", err)
	}
	return &cs, nil
}

func callReply(cs *jack.CallSession) *Reply {
	b, _ := json.Marshal(cs)
	return &Reply{Body: &Reply_Call{Call: &CallReply{SessionJson: b}}}
}

// startCall answers from memory, then stores the call session behind the answer (a
// write-behind): the mailbox does not wait for it, so the conversation's next call start is
// served while it commits.
func (g *grain) startCall(c *CallStart) *Reply {
	reply := g.contextReply()
	g.recordCallStart(c)
	return reply
}

func (g *grain) recordCallStart(c *CallStart) {
	known, org, phone, settings := cloneLead(g.lead), g.orgID, g.phone, g.settings()
	var (
		lead   *jack.Lead
		events []*jack.Event
	)
	g.writeBehind(func(ctx context.Context, tx jack.ConversationTx) error {
		// A group commit may run this again (jack.ConversationStore): start from nothing.
		lead, events = nil, nil
		now := tx.Now()
		l, created := known, false
		if l == nil {
			var err error
			if l, created, err = tx.EnsureLead(ctx, newLead(org, phone, settings, now)); err != nil {
				return err
			}
		}
		cs, inserted, err := tx.CreateCallSession(ctx, &jack.CallSession{
			ID: newID(), OrganizationID: org, LeadID: l.ID, ProviderCallID: c.CallSid,
			PhoneNumberNormalized: phone, Direction: jack.CallInbound, StartedAt: now,
		})
		if err != nil || !inserted {
			return err
		}
		lead = l
		events = append(events, callEvent(jack.EventCallStarted, cs, now))
		if created {
			events = append(events, leadEvent(l, now))
		}
		return tx.InsertEvents(ctx, events...)
	}, func(err error) {
		if err != nil {
			g.log.Error("record call start failed", "call_sid", c.CallSid, "err", err)
			return
		}
		g.remember(lead, nil, events)
	})
}

// completeCall stores a finished call once: its turns as voice messages, the summary and the
// session's outcome. A repeat of the same conversation id finds the session ended and does nothing.
func (g *grain) completeCall(c *CallCompleted) *Reply {
	var t jack.CallTranscript
	if err := json.Unmarshal(c.TranscriptJson, &t); err != nil {
		return errorReply(jack.Errorf(jack.EINVALID, "Invalid call transcript."))
	}
	var (
		lead     *jack.Lead
		session  *jack.CallSession
		stored   []*jack.Message
		summary  *jack.Summary
		events   []*jack.Event
		lastCall *jack.CallAnalysis
	)
	err := g.inTx(func(ctx context.Context, tx jack.ConversationTx) error {
		// A group commit may run this again (jack.ConversationStore): start from nothing.
		lead, session, stored, summary, events, lastCall = nil, nil, nil, nil, nil, nil
		now := tx.Now()
		l, created, err := g.ensureLead(ctx, tx)
		if err != nil {
			return err
		}
		cs, err := tx.FindCallSession(ctx, t.ConversationID, t.ProviderCallID)
		switch {
		case jack.ErrorCode(err) == jack.ENOTFOUND:
			var inserted bool
			cs, inserted, err = tx.CreateCallSession(ctx, &jack.CallSession{
				ID: newID(), OrganizationID: g.orgID, LeadID: l.ID, VoiceConversationID: t.ConversationID,
				ProviderCallID: t.ProviderCallID, PhoneNumberNormalized: g.phone, Direction: cmpOr(t.Direction, jack.CallInbound),
				StartedAt: startOf(t, now),
			})
			if err != nil {
				return err
			}
			if !inserted && cs.EndedAt != nil {
				session = cs
				return nil
			}
		case err != nil:
			return err
		case cs.EndedAt != nil:
			session = cs // already recorded: a replayed webhook changes nothing
			return nil
		}

		start := startOf(t, cs.StartedAt)
		for _, turn := range t.Turns {
			if turn.Message == "" {
				continue
			}
			sentBy, status := jack.SentByAgent, jack.StatusSent
			if turn.Role == "user" {
				sentBy, status = jack.SentByCustomer, jack.StatusReceived
			}
			secs := turn.TimeInCallSecs
			m, inserted, err := tx.InsertMessage(ctx, &jack.Message{
				ID: newID(), OrganizationID: g.orgID, LeadID: l.ID, PhoneNumberNormalized: g.phone,
				Content: turn.Message, SentBy: sentBy, Type: jack.ChannelVoice,
				Timestamp:           start.Add(time.Duration(secs * float64(time.Second))),
				ProviderCallID:      t.ProviderCallID,
				VoiceConversationID: t.ConversationID, TimeInCallSecs: &secs, Status: status,
			})
			if err != nil {
				return err
			}
			if inserted {
				stored = append(stored, m)
			}
		}
		end := start.Add(time.Duration(t.DurationSeconds) * time.Second)
		var analysis *jack.CallAnalysis
		if g.e.cfg.CallAnalysis != nil {
			analysis = g.e.cfg.CallAnalysis(t.Analysis)
		}
		ch := jack.ConversationChange{Messages: len(stored), Activity: &end}
		{ // score with the call: its turns join the conversation in memory only after commit
			msgs := append(g.recent(g.history.len()), stored...)
			score, sentiment := jack.ScoreLead(jack.ScoreInput{Lead: l, Messages: msgs, Now: now, Call: analysis})
			ch.LeadQualityScore, ch.Sentiment = &score, &sentiment
		}
		if l, err = tx.UpdateConversation(ctx, l.ID, ch); err != nil {
			return err
		}
		lead = l
		if t.Summary != "" {
			sms, voice := g.sms, g.voice
			summary, err = tx.UpsertSummary(ctx, &jack.Summary{
				ID: newID(), OrganizationID: g.orgID, PhoneNumberNormalized: g.phone, Summary: t.Summary,
				SummaryType: "elevenlabs", TotalMessages: g.total + len(stored), VoiceMessages: voice + len(stored),
				SMSMessages: sms, CreatedAt: now, UpdatedAt: now,
			})
			if err != nil {
				return err
			}
		}
		cs.VoiceConversationID = cmpOr(cs.VoiceConversationID, t.ConversationID)
		cs.ProviderCallID = cmpOr(cs.ProviderCallID, t.ProviderCallID)
		cs.LeadID = l.ID
		cs.EndedAt = &end
		cs.DurationSeconds = &t.DurationSeconds
		cs.CallOutcome = cmpOr(t.CallSuccessful, jack.OutcomeUnknown)
		cs.TerminationReason = t.TerminationReason
		cs.VoiceData = t.Analysis
		if analysis != nil {
			sentimentScore, quality := jack.CallScores(analysis)
			cs.SentimentScore, cs.LeadQualityScore = &sentimentScore, &quality
		}
		lastCall = analysis
		if err := tx.UpdateCallSession(ctx, cs); err != nil {
			return err
		}
		session = cs
		events = append(events, callEvent(jack.EventCallEnded, cs, now))
		if created {
			events = append(events, leadEvent(l, now))
		}
		return tx.InsertEvents(ctx, events...)
	})
	if err != nil {
		g.log.Error("record finished call failed", "conversation_id", t.ConversationID, "err", err)
		return errorReply(err)
	}
	if len(events) > 0 {
		for _, m := range stored {
			g.remember(nil, m, nil)
		}
		if summary != nil {
			g.summary = summary
		}
		if lastCall != nil {
			g.lastCall = lastCall
		}
		g.remember(lead, nil, events)
		// The text agent's session was opened with the context before the call: start a fresh one.
		g.closeSession()
	}
	return callReply(session)
}

// failCall records a call that never connected.
func (g *grain) failCall(c *CallFailed) *Reply {
	var f jack.CallFailure
	if err := json.Unmarshal(c.FailureJson, &f); err != nil {
		return errorReply(jack.Errorf(jack.EINVALID, "Invalid call failure."))
	}
	var (
		session *jack.CallSession
		events  []*jack.Event
		lead    *jack.Lead
	)
	err := g.inTx(func(ctx context.Context, tx jack.ConversationTx) error {
		now := tx.Now()
		l, _, err := g.ensureLead(ctx, tx)
		if err != nil {
			return err
		}
		cs, err := tx.FindCallSession(ctx, f.ConversationID, f.ProviderCallID)
		if jack.ErrorCode(err) == jack.ENOTFOUND {
			cs, _, err = tx.CreateCallSession(ctx, &jack.CallSession{
				ID: newID(), OrganizationID: g.orgID, LeadID: l.ID, VoiceConversationID: f.ConversationID,
				ProviderCallID: f.ProviderCallID, PhoneNumberNormalized: g.phone, Direction: jack.CallOutbound, StartedAt: now,
			})
		}
		if err != nil {
			return err
		}
		if cs.EndedAt != nil {
			session = cs
			return nil
		}
		zero := 0
		cs.EndedAt, cs.DurationSeconds = &now, &zero
		cs.CallOutcome, cs.TerminationReason, cs.VoiceData = jack.OutcomeFailed, f.Reason, f.Data
		if err := tx.UpdateCallSession(ctx, cs); err != nil {
			return err
		}
		session, lead = cs, l
		events = []*jack.Event{callEvent(jack.EventCallEnded, cs, now)}
		return tx.InsertEvents(ctx, events...)
	})
	if err != nil {
		return errorReply(err)
	}
	g.remember(lead, nil, events)
	return callReply(session)
}

// outboundCall dials the customer through the voice provider with the conversation's context.
func (g *grain) outboundCall() *Reply {
	if g.e.dialer == nil {
		return errorReply(jack.ReasonErrorf(jack.EUNPROCESSABLE, "voice_not_configured", "AI calls need ElevenLabs: set ELEVENLABS_API_KEY and ELEVENLABS_AGENT_ID."))
	}
	if g.lead.OptedOut() {
		return errorReply(optedOutError())
	}
	if err := g.checkContactHours(); err != nil {
		return errorReply(err)
	}
	ctx, cancel := g.storeCtx()
	number, err := g.e.store.ActivePhoneNumber(ctx, g.orgID)
	cancel()
	switch {
	case jack.ErrorCode(err) == jack.ENOTFOUND:
		return errorReply(jack.ReasonErrorf(jack.EUNPROCESSABLE, "no_phone_number", "This organization has no active phone number to call from; add one under Phone numbers."))
	case err != nil:
		return errorReply(err)
	case number.VoicePhoneID == "":
		return errorReply(jack.ReasonErrorf(jack.EUNPROCESSABLE, "no_elevenlabs_phone",
			"The number %s is not imported into ElevenLabs yet: import it there, then activate it with its ElevenLabs phone id (POST /api/admin/phone-numbers/{phone}/activate).", number.PhoneNumber))
	}
	started, err := g.e.dialer.StartCall(g.e.ctx, jack.CallRequest{VoicePhoneID: number.VoicePhoneID, To: g.phone, Variables: g.variables()})
	if err != nil {
		g.log.Warn("outbound call refused", "err", err)
		return errorReply(err)
	}
	var (
		session *jack.CallSession
		lead    *jack.Lead
		events  []*jack.Event
	)
	err = g.inTx(func(ctx context.Context, tx jack.ConversationTx) error {
		now := tx.Now()
		l, created, err := g.ensureLead(ctx, tx)
		if err != nil {
			return err
		}
		cs, _, err := tx.CreateCallSession(ctx, &jack.CallSession{
			ID: newID(), OrganizationID: g.orgID, LeadID: l.ID, VoiceConversationID: started.ConversationID,
			ProviderCallID: started.ProviderCallID, PhoneNumberNormalized: g.phone, Direction: jack.CallOutbound, StartedAt: now,
		})
		if err != nil {
			return err
		}
		if l, err = tx.UpdateConversation(ctx, l.ID, jack.ConversationChange{Touchpoint: &now}); err != nil {
			return err
		}
		session, lead = cs, l
		events = []*jack.Event{callEvent(jack.EventCallStarted, cs, now)}
		if created {
			events = append(events, leadEvent(l, now))
		}
		return tx.InsertEvents(ctx, events...)
	})
	if err != nil {
		g.log.Error("record outbound call failed", "conversation_id", started.ConversationID, "err", err)
		return errorReply(err)
	}
	g.remember(lead, nil, events)
	return callReply(session)
}

func callEvent(typ string, cs *jack.CallSession, now time.Time) *jack.Event {
	return jack.NewEvent(typ, cs.OrganizationID, cs.LeadID, cs.PhoneNumberNormalized, now, cs)
}

// startOf is when a call started: ElevenLabs' start time, else def.
func startOf(t jack.CallTranscript, def time.Time) time.Time {
	if t.StartedAt.IsZero() {
		return def
	}
	return t.StartedAt.UTC()
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}
