package actors

import (
	"context"
	"encoding/json"
	"strings"
	"time"

	"github.com/jack-auto/jack"
)

// AI replies: the debounce after a customer's text, the agent session, quiet hours and the
// agent's context.

// scheduleAI (re)starts the debounce: the AI answers once the customer stops typing.
func (g *grain) scheduleAI() {
	g.cancelAI()
	if !g.aiAllowed(g.e.cfg.Now()) {
		return
	}
	g.debounce = g.timer.SendOnce(g.e.cfg.AIDebounce, g.self, &aiTick{gen: g.gen})
}

func (g *grain) cancelAI() {
	if g.debounce != nil {
		g.debounce()
		g.debounce = nil
	}
}

func (g *grain) onAITick(t *aiTick) {
	g.debounce = nil
	if t.gen != g.gen || !g.aiAllowed(g.e.cfg.Now()) {
		return
	}
	if g.aiInFlight {
		g.aiRerun = true // answer again once the reply in flight comes back (it will be stale)
		return
	}
	turn := jack.AgentTurn{
		Text: g.unansweredText(), Lead: cloneLead(g.lead), History: g.recent(g.history.len()),
		Variables: g.variables(), Now: g.e.cfg.Now().UTC(),
	}
	if strings.TrimSpace(turn.Text) == "" {
		return
	}
	g.aiInFlight = true
	session, gen, self, root := g.session, g.gen, g.self, g.e.system.Root
	settings := g.settings()
	conv := jack.AgentConversation{OrganizationID: g.orgID, Phone: g.phone, Variables: turn.Variables,
		Instructions: settings.AIInstructions, Greeting: settings.AIGreeting}
	store, log := g.e.store, g.log
	go func() {
		ctx, cancel := context.WithTimeout(g.e.ctx, 30*time.Second)
		defer cancel()
		var err error
		if turn.Calendar, err = agentCalendar(ctx, store, conv.OrganizationID, conv.Phone, turn.Now); err != nil {
			log.Warn("calendar unavailable to the AI: it books nothing this turn", "err", err)
			turn.Calendar, err = nil, nil
		}
		if session == nil {
			session, err = g.e.agent.Open(ctx, conv)
		}
		var reply *jack.AgentReply
		if err == nil {
			reply, err = session.Reply(ctx, turn)
		}
		root.Send(self, &aiDone{gen: gen, session: session, reply: reply, err: err})
	}()
}

func (g *grain) onAIDone(d *aiDone) {
	g.aiInFlight = false
	if d.session != nil && d.session != g.session {
		g.closeSession()
		g.session = d.session
	}
	if g.session != nil {
		g.sessionAt = g.e.cfg.Now()
		g.timer.SendOnce(g.e.cfg.AISessionIdle, g.self, sessionCheck{})
	}
	if d.gen != g.gen || !g.aiAllowed(g.e.cfg.Now()) {
		if g.aiRerun {
			g.aiRerun = false
			g.scheduleAI()
		}
		return
	}
	g.aiRerun = false
	if d.err != nil {
		g.log.Warn("AI agent failed", "err", d.err)
		g.closeSession() // a broken session is not reused
		g.recordAgentFailure(d.err)
		return
	}
	if strings.TrimSpace(d.reply.Text) == "" {
		return
	}
	if d.reply.Book != nil {
		g.bookFromAI(d.reply, jack.SourceAISMS)
		return
	}
	if _, _, _, err := g.send(outbound{body: d.reply.Text, change: d.reply.Change}, nil); err != nil {
		g.log.Warn("AI reply not sent", "err", err)
	}
}

// recordAgentFailure stores a failed outbound message so staff see that the AI did not answer.
func (g *grain) recordAgentFailure(agentErr error) {
	msg := "The AI assistant could not answer."
	if code := jack.ErrorCode(agentErr); code != jack.EINTERNAL {
		msg = jack.ErrorMessage(agentErr)
	}
	var (
		lead   *jack.Lead
		m      *jack.Message
		events []*jack.Event
	)
	err := g.inTx(func(ctx context.Context, tx jack.ConversationTx) error {
		now := tx.Now()
		stored, _, err := tx.InsertMessage(ctx, &jack.Message{
			ID: newID(), OrganizationID: g.orgID, LeadID: g.lead.ID, PhoneNumberNormalized: g.phone,
			Content: "[AI reply failed]", SentBy: jack.SentByAgent, Type: jack.ChannelSMS, Timestamp: now,
			Status: jack.StatusFailed, ErrorCode: "agent_error", ErrorMessage: msg,
		})
		if err != nil {
			return err
		}
		if lead, err = tx.UpdateConversation(ctx, g.lead.ID, jack.ConversationChange{Messages: 1}); err != nil {
			return err
		}
		m, events = stored, []*jack.Event{messageEvent(jack.EventSMSSent, stored, now)}
		return tx.InsertEvents(ctx, events...)
	})
	if err != nil {
		g.log.Error("record AI failure failed", "err", err)
		return
	}
	g.remember(lead, m, events)
}

func (g *grain) onSessionCheck() {
	if g.session != nil && !g.aiInFlight && g.e.cfg.Now().Sub(g.sessionAt) >= g.e.cfg.AISessionIdle {
		g.closeSession()
	}
}

func (g *grain) closeSession() {
	if g.session != nil {
		s := g.session
		g.session = nil
		go func() { _ = s.Close() }() // closing an idle session has nobody to tell
	}
}

// checkContactHours refuses contact the dealership starts outside the customer's contact hours
// (the organization's settings, read fresh so a change applies at once). A reply to a message
// the customer sent within jack.ReplyWindow is always allowed.
func (g *grain) checkContactHours() error {
	now, next, err := g.nextContact()
	if err == nil && next.After(now) {
		return jack.QuietHoursError(next)
	}
	return err
}

// nextContact returns the clock reading and the earliest time, now or later, the dealership may
// start contact with the customer (see checkContactHours).
func (g *grain) nextContact() (now, next time.Time, err error) {
	now = g.e.cfg.Now()
	if g.inReplyWindow(now) { // no need to read the settings
		return now, now, nil
	}
	ctx, cancel := g.storeCtx()
	org, err := g.e.store.FindOrganizationByID(ctx, g.orgID)
	cancel()
	if err != nil {
		return now, now, err
	}
	g.org = org
	return now, g.contactAt(now, org), nil
}

// contextReply answers with the agent's dynamic variables, from memory.
func (g *grain) contextReply() *Reply {
	vars, _ := json.Marshal(g.variables())
	return &Reply{Body: &Reply_Context{Context: &ContextReply{VariablesJson: vars}}}
}
