package actors

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/asynkron/protoactor-go/cluster"
	"github.com/asynkron/protoactor-go/scheduler"
	"github.com/google/uuid"

	"github.com/jack-auto/jack"
)

// grain is the conversation of one organization with one customer phone, as a Proto.Actor
// virtual actor: the transport around conversation (conversation.go), which holds the memory and
// the rules. The grain is the only writer of the conversation: each request commits before it
// is answered, and events are published only after their commit. Its memory is a cache of the
// Store, so passivation loses nothing. It never waits on a provider or on a write it need not
// answer for (outbox, write-behind).
type grain struct {
	e     *Engine
	log   *slog.Logger
	self  *actor.PID
	ctx   actor.Context // the grain's context (the same object for its whole life)
	timer *scheduler.TimerScheduler

	conversation // memory and rules, loaded on activation and kept current by every commit

	// owner is this activation's claim on the conversation, taken before it loads: every write
	// is fenced by it, so once another activation claims the conversation (this node was paused
	// or cut off meanwhile) nothing this one decided on its old memory commits.
	owner jack.ConversationOwner

	// AI reply state. gen counts customer turns and takeovers: a reply computed for an older
	// generation is stale and dropped.
	gen        uint64
	debounce   scheduler.CancelFunc
	aiInFlight bool
	aiRerun    bool
	session    jack.AgentSession
	sessionAt  time.Time

	// Outbound texts committed as pending and waiting for the provider, oldest first: one is
	// with the provider at a time (sending), so the customer gets them in order, and the
	// mailbox goes on meanwhile (a slow Twilio delays no inbound text).
	outbox  []*dispatch
	sending bool
	// unsent holds the outbound texts this activation is sending or resolving (outbox, the one
	// with the provider, lookups under way), so reconciliation never takes them up twice.
	unsent map[uuid.UUID]bool
	// lookups counts the provider lookups under way (reconcile.go); no text is sent meanwhile.
	lookups int
	// claimedAt is when this activation claimed the conversation (reconcile.go).
	claimedAt time.Time

	// Writes that commit after the grain answered (a call start's session), oldest first;
	// writes[0] is with the Store when writing. Every other write waits for them (flushWrites),
	// so the conversation's writes commit in the order the grain made them.
	writes  []*behindWrite
	writing bool
}

func newGrain(e *Engine) *grain { return &grain{e: e, log: e.log, unsent: map[uuid.UUID]bool{}} }

// Internal messages (local only, never cross nodes).
type (
	aiTick struct{ gen uint64 }
	aiDone struct {
		gen     uint64
		session jack.AgentSession
		reply   *jack.AgentReply
		err     error
	}
	sessionCheck struct{}
)

// sessionCheck does not keep an idle conversation alive.
func (sessionCheck) NotInfluenceReceiveTimeout() {}

// Receive implements actor.Actor.
func (g *grain) Receive(ctx actor.Context) {
	g.ctx = ctx
	switch msg := ctx.Message().(type) {
	case *cluster.ClusterInit:
		g.activate(ctx, msg.Identity.Identity)
	case *Request:
		if g.e.beforeRequest != nil {
			g.e.beforeRequest(msg)
		}
		if reply := g.handle(msg); reply != nil { // nil: answered later, through answerLater
			reply.Node = ctx.ActorSystem().Address()
			ctx.Respond(reply) // never nil: a nil reply makes the caller resend in a loop
		}
	case *aiTick:
		g.onAITick(msg)
	case *aiDone:
		g.onAIDone(msg)
	case sessionCheck:
		g.onSessionCheck()
	case *smsSent:
		g.onSMSSent(msg)
	case *writeDone:
		g.onWriteDone(msg)
	case *reconcileLater:
		g.onReconcileLater(msg)
	case *lookedUp:
		g.onLookedUp(msg)
	case *actor.ReceiveTimeout:
		// An AI reply, a text with the provider or a write on its way: not idle yet.
		if g.debounce != nil || g.aiInFlight || g.sending || len(g.writes) > 0 || len(g.unsent) > 0 {
			ctx.SetReceiveTimeout(g.e.cfg.ConversationIdle)
			return
		}
		ctx.Poison(ctx.Self()) // Poison, not Stop: requests already queued still get answers
	case *actor.Stopping:
		g.cancelAI()
		g.closeSession()
		g.flushWrites() // what the grain answered for is committed before it goes
	case *actor.Stopped:
		if g.self != nil {
			g.e.active.Add(-1)
		}
	}
}

func (g *grain) activate(ctx actor.Context, identity string) {
	g.self = ctx.Self()
	g.timer = scheduler.NewTimerScheduler(ctx)
	g.e.active.Add(1) // Stopped takes it back
	org, phone, err := jack.ParseConversationIdentity(identity)
	if err != nil {
		g.log.Error("bad conversation identity", "err", err)
		ctx.Poison(ctx.Self())
		return
	}
	g.conversation = conversation{orgID: org, phone: phone}
	if g.e.onActivate != nil {
		g.e.onActivate()
	}
	g.log = g.e.log.With("org_id", org, "phone", jack.MaskPhone(phone))
	ctx.SetReceiveTimeout(g.e.cfg.ConversationIdle)
	if err := g.load(); err != nil {
		g.log.Warn("conversation load failed; will retry on the next message", "err", err)
		return
	}
	g.resumeUnanswered()
}

// resumeUnanswered schedules the AI reply to a recent customer text nobody answered.
func (g *grain) resumeUnanswered() {
	if g.owesReply(g.e.cfg.Now()) {
		g.scheduleAI()
	}
}

// load reads the conversation from the Store.
func (g *grain) load() error {
	ctx, cancel := g.storeCtx()
	defer cancel()
	claimed := g.owner.Epoch == 0
	if claimed {
		// Claimed before reading: the claim waits for a write of a previous owner that is
		// committing, so what is read next includes it.
		epoch, err := g.e.store.ClaimConversation(ctx, g.orgID, g.phone, g.e.system.Address())
		if err != nil {
			return err
		}
		g.owner = jack.ConversationOwner{OrgID: g.orgID, Phone: g.phone, Epoch: epoch}
		g.claimedAt = time.Now()
	}
	org, err := g.e.store.FindOrganizationByID(ctx, g.orgID)
	if err != nil {
		return err
	}
	snap, err := g.e.store.LoadConversation(ctx, g.orgID, g.phone, g.e.cfg.HistorySize)
	if err != nil {
		return err
	}
	g.conversation.load(org, snap, g.e.cfg.HistorySize, g.e.cfg.CallAnalysis)
	g.assignedName = g.findAssignedName(ctx)
	if claimed {
		// A new owner takes up the texts a previous one left unresolved, on the mailbox once
		// the request being handled is answered (reconcile.go).
		var ids []uuid.UUID
		for _, m := range snap.Messages {
			if unresolved(m) {
				ids = append(ids, m.ID)
			}
		}
		if len(ids) > 0 {
			g.e.system.Root.Send(g.self, &reconcileLater{ids: ids})
		}
	}
	if g.upcoming, err = upcomingAppointment(ctx, g.e.store, g.orgID, g.phone, g.e.cfg.Now()); err != nil {
		return err
	}
	return nil
}

func (g *grain) findAssignedName(ctx context.Context) string {
	if g.lead == nil || g.lead.AssignedTo == nil {
		return ""
	}
	u, err := g.e.store.FindUserByID(ctx, g.orgID, *g.lead.AssignedTo)
	if err != nil {
		return ""
	}
	return u.FullName
}

func (g *grain) storeCtx() (context.Context, context.CancelFunc) {
	return context.WithTimeout(g.e.ctx, g.e.cfg.StoreTimeout)
}

// inTx runs fn in a conversation transaction fenced by the grain's ownership epoch. A failed
// transaction may leave memory behind the Store (a concurrent activation elsewhere, a deleted
// lead), so memory reloads before the next use.
func (g *grain) inTx(fn func(ctx context.Context, tx jack.ConversationTx) error) error {
	return g.commit(true, fn)
}

// inUnfencedTx is inTx without the ownership fence, for recording facts that hold whoever owns
// the conversation now (a provider's answer about a text already sent).
func (g *grain) inUnfencedTx(fn func(ctx context.Context, tx jack.ConversationTx) error) error {
	return g.commit(false, fn)
}

func (g *grain) commit(fenced bool, fn func(ctx context.Context, tx jack.ConversationTx) error) error {
	g.flushWrites()
	ctx, cancel := g.storeCtx()
	defer cancel()
	run := func(tx jack.ConversationTx) error { return fn(ctx, tx) }
	var err error
	if fenced {
		err = g.e.store.InOwnedConversationTx(ctx, g.owner, run)
	} else {
		err = g.e.store.InConversationTx(ctx, g.orgID, run)
	}
	g.afterWrite(err)
	return err
}

// afterWrite reacts to a failed write: memory may be behind the Store now, so it reloads before
// the next use. A fenced write means another activation claimed the conversation: everything
// this one holds was decided on memory that is no longer the conversation's, so it is dropped
// (the AI's pending reply, the writes still queued behind the answer) and the grain starts over
// as a new activation: its next request claims the conversation again and reads it afresh. (It
// does not stop: requests queued to a stopping actor are lost to their callers' timeouts.) Texts
// already committed as pending still go to the provider: they were decided while this activation
// owned the conversation, and no other activation sends them.
func (g *grain) afterWrite(err error) {
	switch {
	case err == nil:
	case jack.IsFenced(err):
		if g.owner.Epoch == 0 {
			return // already started over
		}
		g.e.fenced.Add(1)
		g.log.Warn("conversation claimed by another activation: this one starts over", "epoch", g.owner.Epoch)
		g.owner, g.loaded = jack.ConversationOwner{}, false
		g.gen++
		g.cancelAI()
		g.closeSession()
		g.dropQueuedWrites(err)
	default:
		g.loaded = false
	}
}

func (g *grain) handle(req *Request) *Reply {
	if !g.loaded {
		if err := g.load(); err != nil {
			g.log.Error("conversation load failed", "err", err)
			return errorReply(jack.Errorf(jack.EUNAVAILABLE, "The conversation could not be loaded; please retry."))
		}
	}
	switch body := req.Body.(type) {
	case *Request_InboundSms:
		return g.receiveSMS(body.InboundSms)
	case *Request_OutboundSms:
		return g.sendManual(body.OutboundSms)
	case *Request_SmsStatus:
		return g.updateStatus(body.SmsStatus)
	case *Request_SetAiPaused:
		return g.setAIPaused(body.SetAiPaused.Paused)
	case *Request_LeadChanged:
		return g.leadChanged(body.LeadChanged.Deleted)
	case *Request_GetContext:
		return g.contextReply()
	case *Request_CallStart:
		return g.startCall(body.CallStart)
	case *Request_CallCompleted:
		return g.completeCall(body.CallCompleted)
	case *Request_CallFailed:
		return g.failCall(body.CallFailed)
	case *Request_OutboundCall:
		return g.outboundCall()
	case *Request_FollowUp:
		return g.followUp(body.FollowUp)
	case *Request_Reconcile:
		return g.reconcileRequest(body.Reconcile)
	default:
		// A newer node may send a case this node does not know yet (rolling deploy).
		return errorReply(jack.Errorf(jack.EUNAVAILABLE, "This node cannot handle that request yet; please retry."))
	}
}

// remember puts committed state into memory and publishes the committed events.
func (g *grain) remember(lead *jack.Lead, msg *jack.Message, events []*jack.Event) {
	if g.record(lead, msg) {
		ctx, cancel := g.storeCtx()
		g.assignedName = g.findAssignedName(ctx)
		cancel()
	}
	g.publish(events)
}

func (g *grain) publish(events []*jack.Event) {
	for _, ev := range events {
		// The event is committed: a failed publish only delays it until the dashboard replays.
		if err := g.e.broker.Publish(g.e.ctx, ev); err != nil {
			g.log.Warn("publish event failed", "event_id", ev.ID, "type", ev.Type, "err", err)
		}
	}
}

// ensureLead returns the conversation's lead, creating it in tx for a new customer.
func (g *grain) ensureLead(ctx context.Context, tx jack.ConversationTx) (*jack.Lead, bool, error) {
	if g.lead != nil {
		return g.lead, false, nil
	}
	return tx.EnsureLead(ctx, newLead(g.orgID, g.phone, g.settings(), tx.Now()))
}

// settings returns a copy of the organization's settings (zero when not loaded), safe to use
// off the actor's goroutine.
func (g *grain) settings() jack.OrganizationSettings {
	if g.org == nil {
		return jack.OrganizationSettings{}
	}
	return g.org.Settings
}

// newLead is the lead of a new customer, with the AI paused when the organization turned AI on
// by default off.
func newLead(orgID uuid.UUID, phone string, settings jack.OrganizationSettings, now time.Time) *jack.Lead {
	lead := jack.NewLead(orgID, jack.DisplayPhone(phone), phone, now)
	settings.StartAI(lead, now)
	return lead
}

// --- inbound SMS -----------------------------------------------------------------------------

func (g *grain) receiveSMS(in *InboundSMS) *Reply {
	keyword := jack.ClassifyKeyword(in.Body, in.OptOutType)
	// "YES" is an opt-in keyword, but from a customer who never opted out it answers a question
	// (the AI's "Shall I book it?"): the AI hears it.
	answer := keyword == jack.KeywordStart && strings.EqualFold(strings.TrimSpace(in.Body), "yes") &&
		in.OptOutType == "" && (g.lead == nil || !g.lead.OptedOut())
	var (
		lead   *jack.Lead
		msg    *jack.Message
		dup    bool
		events []*jack.Event
	)
	err := g.inTx(func(ctx context.Context, tx jack.ConversationTx) error {
		// A group commit may run this again (jack.ConversationStore): start from nothing.
		lead, msg, dup, events = nil, nil, false, nil
		now := tx.Now()
		l, created, err := g.ensureLead(ctx, tx)
		if err != nil {
			return err
		}
		m, inserted, err := tx.InsertMessage(ctx, &jack.Message{
			ID: newID(), OrganizationID: g.orgID, LeadID: l.ID, PhoneNumberNormalized: g.phone,
			Content: in.Body, SentBy: jack.SentByCustomer, Type: jack.ChannelSMS, Timestamp: now,
			ProviderMessageID: in.MessageSid, Status: jack.StatusReceived, Media: mediaOf(in.Media),
		})
		if err != nil {
			return err
		}
		if !inserted {
			lead, msg, dup = l, m, true
			return nil
		}
		ch := g.inboundChange(l, m, keyword, now)
		// The customer answered: no more follow-ups.
		if err := g.stopCadence(ctx, tx); err != nil {
			return err
		}
		if lead, err = tx.UpdateConversation(ctx, l.ID, ch); err != nil {
			return err
		}
		msg = m
		events = append(events, messageEvent(jack.EventSMSReceived, m, now))
		if created || ch.OptOut != nil {
			events = append(events, leadEvent(lead, now))
		}
		return tx.InsertEvents(ctx, events...)
	})
	if err != nil {
		g.log.Error("store inbound sms failed", "message_sid", in.MessageSid, "err", err)
		return errorReply(err)
	}
	if dup {
		return deliveryReply(lead, msg, true)
	}
	g.remember(lead, msg, events)
	g.gen++ // a new customer turn: any reply being computed is stale
	if keyword == jack.KeywordNone || answer {
		g.scheduleAI()
	} else {
		g.cancelAI()
	}
	return deliveryReply(lead, msg, false)
}

// --- delivery status -------------------------------------------------------------------------

func (g *grain) updateStatus(st *SMSStatus) *Reply {
	var (
		updated *jack.Message
		events  []*jack.Event
	)
	err := g.inTx(func(ctx context.Context, tx jack.ConversationTx) error {
		m, err := tx.FindMessageByProviderID(ctx, st.MessageSid)
		if err != nil {
			return err
		}
		if m.PhoneNumberNormalized != g.phone || !jack.StatusAdvances(m.Status, st.Status) {
			return nil // another conversation's sid, or a late callback: statuses only move forward
		}
		m.Status = st.Status
		if st.ErrorCode != "" {
			m.ErrorCode, m.ErrorMessage = st.ErrorCode, st.ErrorMessage
		}
		if err := tx.UpdateMessageDelivery(ctx, m); err != nil {
			return err
		}
		updated = m
		events = []*jack.Event{messageEvent(jack.EventSMSStatus, m, tx.Now())}
		return tx.InsertEvents(ctx, events...)
	})
	if err != nil {
		if jack.ErrorCode(err) != jack.ENOTFOUND {
			g.log.Error("update sms status failed", "message_sid", st.MessageSid, "err", err)
		}
		return errorReply(err)
	}
	if updated != nil {
		g.replaceMessage(updated)
		g.publish(events)
	}
	return &Reply{Body: &Reply_Ack{Ack: &Ack{}}}
}

// --- takeover and CRM changes ----------------------------------------------------------------

func (g *grain) setAIPaused(paused bool) *Reply {
	if g.lead == nil {
		return errorReply(jack.Errorf(jack.ENOTFOUND, "Lead not found."))
	}
	var (
		lead   *jack.Lead
		events []*jack.Event
	)
	err := g.inTx(func(ctx context.Context, tx jack.ConversationTx) error {
		now := tx.Now()
		ch := jack.ConversationChange{ResumeAI: !paused}
		if paused {
			ch.AIPausedUntil = ptr(jack.PausedUntilResumed(now))
			if err := g.stopCadence(ctx, tx); err != nil { // staff took over: no automatic follow-ups
				return err
			}
		}
		l, err := tx.UpdateConversation(ctx, g.lead.ID, ch)
		if err != nil {
			return err
		}
		lead, events = l, []*jack.Event{leadEvent(l, now)}
		return tx.InsertEvents(ctx, events...)
	})
	if err != nil {
		return errorReply(err)
	}
	g.remember(lead, nil, events)
	if paused {
		g.gen++
		g.cancelAI()
	} else if g.refreshOrg(); g.owesReplyOnResume(g.e.cfg.Now()) {
		g.scheduleAI() // texts that came in while staff had the conversation get their answer
	}
	return leadReply(lead)
}

func (g *grain) leadChanged(deleted bool) *Reply {
	if deleted {
		g.cancelAI()
		g.closeSession()
		g.gen++
		g.forget(g.e.cfg.HistorySize)
		return &Reply{Body: &Reply_Ack{Ack: &Ack{}}}
	}
	if err := g.load(); err != nil {
		return errorReply(err)
	}
	if g.lead != nil {
		ev := leadEvent(g.lead, g.e.cfg.Now().UTC())
		err := g.inTx(func(ctx context.Context, tx jack.ConversationTx) error {
			if err := g.syncAppointmentReminder(ctx, tx); err != nil { // booked, moved or cancelled by staff
				return err
			}
			return tx.InsertEvents(ctx, ev)
		})
		if err != nil {
			return errorReply(err)
		}
		g.publish([]*jack.Event{ev})
	}
	return &Reply{Body: &Reply_Ack{Ack: &Ack{}}}
}

// --- helpers ---------------------------------------------------------------------------------

// refreshOrg re-reads the organization's settings, which staff may have changed since the
// conversation loaded; on failure memory keeps what it has.
func (g *grain) refreshOrg() {
	ctx, cancel := g.storeCtx()
	defer cancel()
	if org, err := g.e.store.FindOrganizationByID(ctx, g.orgID); err == nil {
		g.org = org
	} else {
		g.log.Warn("reload organization settings", "err", err)
	}
}

func newID() uuid.UUID { return uuid.Must(uuid.NewV7()) }

func mediaOf(in []*Media) []jack.MessageMedia {
	var out []jack.MessageMedia
	for _, m := range in {
		out = append(out, jack.MessageMedia{URL: m.Url, ContentType: m.ContentType})
	}
	return out
}

// sentMedia records the URLs of an outbound MMS (their type is the recipient's business).
func sentMedia(urls []string) []jack.MessageMedia {
	var out []jack.MessageMedia
	for _, u := range urls {
		out = append(out, jack.MessageMedia{URL: u})
	}
	return out
}

func ptr[T any](v T) *T { return &v }

func equalPtr[T comparable](a, b *T) bool { return a == b || (a != nil && b != nil && *a == *b) }

func cloneLead(l *jack.Lead) *jack.Lead {
	if l == nil {
		return nil
	}
	c := *l
	return &c
}

func optedOutError() error {
	return jack.ReasonErrorf(jack.ECONFLICT, "opted_out", "The customer has opted out of text messages.")
}

func messageEvent(typ string, m *jack.Message, now time.Time) *jack.Event {
	ev := jack.NewEvent(typ, m.OrganizationID, m.LeadID, m.PhoneNumberNormalized, now, m)
	ev.Message, ev.ProviderMessageID = m.Content, m.ProviderMessageID
	return ev
}

func leadEvent(l *jack.Lead, now time.Time) *jack.Event {
	return jack.NewEvent(jack.EventLeadUpdated, l.OrganizationID, l.ID, l.PhoneNumberNormalized, now, l)
}

func errorReply(err error) *Reply {
	var e *jack.Error
	if !errors.As(err, &e) {
		e = &jack.Error{Code: jack.EINTERNAL, Message: "Internal error."}
	}
	out := &Error{Code: e.Code, Reason: e.Reason, Message: e.Message, Fields: e.Fields}
	if len(e.Details) > 0 {
		out.Details = map[string]string{}
		for k, v := range e.Details {
			out.Details[k] = fmt.Sprint(v)
		}
	}
	return &Reply{Body: &Reply_Error{Error: out}}
}

func deliveryReply(lead *jack.Lead, msg *jack.Message, dup bool) *Reply {
	lj, _ := json.Marshal(lead)
	mj, _ := json.Marshal(msg)
	return &Reply{Body: &Reply_Delivery{Delivery: &Delivery{LeadJson: lj, MessageJson: mj, Duplicate: dup}}}
}

func leadReply(lead *jack.Lead) *Reply {
	lj, _ := json.Marshal(lead)
	return &Reply{Body: &Reply_Lead{Lead: &LeadReply{LeadJson: lj}}}
}
