package actors

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/asynkron/protoactor-go/cluster"
	"github.com/asynkron/protoactor-go/scheduler"
	"github.com/google/uuid"

	"github.com/jack-auto/jack"
)

// grain is the conversation of one organization with one customer phone. It is the only writer
// of the conversation: each request commits before it is answered, and events are published
// only after their commit. Its memory is a cache of the Store, so passivation loses nothing.
type grain struct {
	e     *Engine
	log   *slog.Logger
	self  *actor.PID
	ctx   actor.Context // the grain's context (the same object for its whole life)
	timer *scheduler.TimerScheduler

	orgID uuid.UUID
	phone string

	// Memory, loaded on activation and kept current by every commit.
	loaded       bool
	org          *jack.Organization
	lead         *jack.Lead // nil until the customer has a lead
	assignedName string
	history      history // recent messages, oldest first
	summary      *jack.Summary
	lastCall     *jack.CallAnalysis // the latest finished call's analysis, for scoring
	total        int                // every message of the conversation
	sms, voice   int                // the same by channel

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

	// Writes that commit after the grain answered (a call start's session), oldest first;
	// writes[0] is with the Store when writing. Every other write waits for them (flushWrites),
	// so the conversation's writes commit in the order the grain made them.
	writes  []*behindWrite
	writing bool
}

func newGrain(e *Engine) *grain { return &grain{e: e, log: e.log} }

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
	case *actor.ReceiveTimeout:
		// An AI reply, a text with the provider or a write on its way: not idle yet.
		if g.debounce != nil || g.aiInFlight || g.sending || len(g.writes) > 0 {
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
	g.orgID, g.phone = org, phone
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

// unansweredWindow is how recent a customer's unanswered text must be for a re-activated grain
// to answer it: the debounce timer lives in memory, so a node that died (or a grain stopped)
// while it ran would otherwise leave the customer without a reply.
const unansweredWindow = 10 * time.Minute

// resumeUnanswered schedules the AI reply to a recent customer text nobody answered.
func (g *grain) resumeUnanswered() {
	n := g.history.len()
	if n == 0 {
		return
	}
	last := g.history.memos[n-1]
	if !last.customer() || jack.ClassifyKeyword(last.content, "") != jack.KeywordNone ||
		g.e.cfg.Now().Sub(last.time()) > unansweredWindow {
		return
	}
	g.scheduleAI()
}

// load reads the conversation from the Store.
func (g *grain) load() error {
	ctx, cancel := g.storeCtx()
	defer cancel()
	org, err := g.e.store.FindOrganizationByID(ctx, g.orgID)
	if err != nil {
		return err
	}
	snap, err := g.e.store.LoadConversation(ctx, g.orgID, g.phone, g.e.cfg.HistorySize)
	if err != nil {
		return err
	}
	g.org, g.lead, g.summary = org, snap.Lead, snap.Summary
	g.history = newHistory(g.e.cfg.HistorySize, snap.Messages)
	g.total, g.sms, g.voice = snap.TotalMessages, snap.SMSMessages, snap.VoiceMessages
	g.lastCall = nil
	if snap.LastCall != nil {
		g.lastCall = jack.ParseCallAnalysis(snap.LastCall.ElevenLabsData)
	}
	g.assignedName = g.findAssignedName(ctx)
	g.loaded = true
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

// inTx runs fn in a conversation transaction. A failed transaction may leave memory behind the
// Store (a concurrent activation elsewhere, a deleted lead), so memory reloads before the next use.
func (g *grain) inTx(fn func(ctx context.Context, tx jack.ConversationTx) error) error {
	g.flushWrites()
	ctx, cancel := g.storeCtx()
	defer cancel()
	err := g.e.store.InConversationTx(ctx, g.orgID, func(tx jack.ConversationTx) error { return fn(ctx, tx) })
	if err != nil {
		g.loaded = false
	}
	return err
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
	default:
		// A newer node may send a case this node does not know yet (rolling deploy).
		return errorReply(jack.Errorf(jack.EUNAVAILABLE, "This node cannot handle that request yet; please retry."))
	}
}

// remember puts committed state into memory and publishes the committed events.
func (g *grain) remember(lead *jack.Lead, msg *jack.Message, events []*jack.Event) {
	if lead != nil {
		reassigned := g.lead == nil || !equalPtr(g.lead.AssignedTo, lead.AssignedTo)
		g.lead = lead
		if reassigned {
			ctx, cancel := g.storeCtx()
			g.assignedName = g.findAssignedName(ctx)
			cancel()
		}
	}
	if msg != nil {
		g.history.add(msg)
		g.total++
		if msg.Type == jack.ChannelVoice {
			g.voice++
		} else {
			g.sms++
		}
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
	lead := jack.NewLead(g.orgID, jack.DisplayPhone(g.phone), g.phone, tx.Now())
	return tx.EnsureLead(ctx, lead)
}

// --- inbound SMS -----------------------------------------------------------------------------

func (g *grain) receiveSMS(in *InboundSMS) *Reply {
	keyword := jack.ClassifyKeyword(in.Body, in.OptOutType)
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
			TwilioMessageSid: in.MessageSid, Status: jack.StatusReceived, Media: mediaOf(in.Media),
		})
		if err != nil {
			return err
		}
		if !inserted {
			lead, msg, dup = l, m, true
			return nil
		}
		ch := jack.ConversationChange{Messages: 1, Activity: &now}
		switch keyword {
		case jack.KeywordStop:
			ch.OptOut = ptr(true)
		case jack.KeywordStart:
			ch.OptOut = ptr(false)
		}
		// The customer answered: no more follow-ups, and a lead being chased is engaged again.
		if err := g.stopCadence(ctx, tx); err != nil {
			return err
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
		ch.LeadQualityScore, ch.Sentiment = g.score(predicted, m, now)
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
	if keyword == jack.KeywordNone {
		g.scheduleAI()
	} else {
		g.cancelAI()
	}
	return deliveryReply(lead, msg, false)
}

// --- outbound SMS ----------------------------------------------------------------------------

// outbound is one text the dealership sends: by staff (author set) or by the AI.
type outbound struct {
	body     string
	key      string
	media    []string
	author   *uuid.UUID
	change   jack.ConversationChange // what the AI learned, committed with its reply
	reminder *jack.Reminder          // the follow-up this text fires, if it is one
}

func (g *grain) sendManual(out *OutboundSMS) *Reply {
	o := outbound{body: out.Body, key: out.IdempotencyKey, media: out.MediaUrls}
	if out.AuthorUserId != "" {
		id, err := uuid.Parse(out.AuthorUserId)
		if err != nil {
			return errorReply(jack.Errorf(jack.EINVALID, "Invalid author."))
		}
		o.author = &id
	}
	answer := g.answerLater()
	lead, msg, dup, err := g.send(o, func(lead *jack.Lead, msg *jack.Message, err error) {
		if err != nil {
			answer(errorReply(err))
		} else {
			answer(deliveryReply(lead, msg, false))
		}
	})
	switch {
	case err != nil:
		return errorReply(err)
	case dup:
		return deliveryReply(lead, msg, true)
	}
	return nil // answered once the provider has answered
}

// answerLater returns a function that answers the request being handled now, for a request
// whose answer waits for something off the mailbox. It must be called exactly once.
func (g *grain) answerLater() func(*Reply) {
	ctx, sender := g.ctx, g.ctx.Sender()
	node := ctx.ActorSystem().Address()
	return func(r *Reply) {
		r.Node = node
		ctx.Send(sender, r)
	}
}

// send records one outbound text as pending and hands it to the provider. It returns once the
// pending message is committed (or is a duplicate of an earlier one, or was refused); the
// provider call happens off the mailbox, one text of the conversation at a time, and its
// outcome (Twilio's sid and status, or the failure) is committed afterwards. done, when not
// nil, then runs on the grain with that outcome. A crash mid-send leaves a pending message,
// a visible trace rather than a text nobody knows about.
func (g *grain) send(o outbound, done func(*jack.Lead, *jack.Message, error)) (*jack.Lead, *jack.Message, bool, error) {
	if g.lead.OptedOut() {
		return nil, nil, false, optedOutError()
	}
	if o.author != nil {
		if err := g.checkContactHours(); err != nil {
			return nil, nil, false, err
		}
	}
	ctx, cancel := g.storeCtx()
	number, err := g.e.store.ActivePhoneNumber(ctx, g.orgID)
	cancel()
	if jack.ErrorCode(err) == jack.ENOTFOUND {
		return nil, nil, false, jack.ReasonErrorf(jack.EUNPROCESSABLE, "no_phone_number", "This organization has no active phone number to send from; add one under Phone numbers.")
	} else if err != nil {
		return nil, nil, false, err
	}
	var (
		lead    *jack.Lead
		msg     *jack.Message
		dup     bool
		pending []*jack.Event
	)
	err = g.inTx(func(ctx context.Context, tx jack.ConversationTx) error {
		// A group commit may run this again (jack.ConversationStore): start from nothing.
		lead, msg, dup, pending = nil, nil, false, nil
		now := tx.Now()
		l, created, err := g.ensureLead(ctx, tx)
		if err != nil {
			return err
		}
		m, inserted, err := tx.InsertMessage(ctx, &jack.Message{
			ID: newID(), OrganizationID: g.orgID, LeadID: l.ID, PhoneNumberNormalized: g.phone,
			Content: o.body, SentBy: jack.SentByAgent, Type: jack.ChannelSMS, Timestamp: now,
			Status: jack.StatusPending, IdempotencyKey: o.key, AuthorUserID: o.author, Media: sentMedia(o.media),
		})
		if err != nil {
			return err
		}
		if !inserted {
			lead, msg, dup = l, m, true
			return nil
		}
		ch := o.change
		ch.Messages, ch.Activity, ch.Touchpoint = 1, &now, &now
		if learned(o.change) { // the AI read a vehicle, budget or credit: the lead ranks differently
			ch.LeadQualityScore, ch.Sentiment = g.score(withQualification(l, o.change), nil, now)
		}
		if o.author != nil {
			ch.AIPausedUntil = ptr(now.Add(g.e.cfg.TakeoverPause))
		}
		if lead, err = tx.UpdateConversation(ctx, l.ID, ch); err != nil {
			return err
		}
		// The dealership wrote last: a follow-up fires its step and schedules the next; any other
		// text (the AI's reply, a staff member's) starts the cadence over.
		if o.reminder != nil {
			if err := tx.MarkReminderFired(ctx, o.reminder.ID); err != nil {
				return err
			}
			if next := g.nextReminder(l.ID, o.reminder.Step+1, now); next != nil {
				if err := tx.ScheduleReminder(ctx, next); err != nil {
					return err
				}
			}
		} else if err := g.restartCadence(ctx, tx, l.ID, now); err != nil {
			return err
		}
		msg = m
		if created || o.author != nil || o.change != (jack.ConversationChange{}) {
			pending = append(pending, leadEvent(lead, now))
		}
		return tx.InsertEvents(ctx, pending...)
	})
	if err != nil {
		return nil, nil, false, err
	}
	if dup {
		return lead, msg, true, nil
	}
	g.remember(lead, msg, pending)
	if o.author != nil {
		g.gen++ // staff took over: drop any AI reply in the making
		g.cancelAI()
	}

	g.enqueueSend(&dispatch{
		msg:  *msg,
		done: done,
		req: jack.SMSRequest{
			From: number.PhoneNumber, To: g.phone, Body: o.body, MediaURLs: o.media,
			StatusCallback: strings.TrimRight(g.e.cfg.ServerURL, "/") + "/api/webhooks/twilio/sms/status",
		},
	})
	return lead, msg, false, nil
}

// dispatch is one committed outbound text on its way to the provider.
type dispatch struct {
	msg  jack.Message // as committed: pending
	req  jack.SMSRequest
	done func(*jack.Lead, *jack.Message, error)
}

// smsSent is the provider's answer to a dispatch, back on the grain's mailbox.
type smsSent struct {
	d   *dispatch
	res *jack.SMSResult
	err error
}

// sendTimeout bounds one provider call (twilio-go's own client waits 10 s).
const sendTimeout = 30 * time.Second

func (g *grain) enqueueSend(d *dispatch) {
	g.outbox = append(g.outbox, d)
	if !g.sending {
		g.nextSend()
	}
}

// nextSend hands the oldest waiting text to the provider on a goroutine of its own.
func (g *grain) nextSend() {
	d := g.outbox[0]
	g.outbox = g.outbox[1:]
	g.sending = true
	sms, self, root, base := g.e.sms, g.self, g.e.system.Root, g.e.ctx
	go func() {
		ctx, cancel := context.WithTimeout(base, sendTimeout)
		defer cancel()
		res, err := sms.SendSMS(ctx, d.req)
		root.Send(self, &smsSent{d: d, res: res, err: err})
	}()
}

// onSMSSent commits the provider's answer, then sends the next waiting text.
func (g *grain) onSMSSent(r *smsSent) {
	g.sending = false
	lead, msg, err := g.recordSend(r)
	if r.d.done != nil {
		r.d.done(lead, msg, err)
	} else if err != nil {
		g.log.Warn("text not sent", "message_id", r.d.msg.ID, "err", err)
	}
	if len(g.outbox) > 0 {
		g.nextSend()
	}
}

// recordSend commits a dispatch's outcome: Twilio's sid and status, or the failure (a 21610
// marks the lead opted out). It returns the lead as it is then, the message, and the send's
// error if it failed.
func (g *grain) recordSend(r *smsSent) (*jack.Lead, *jack.Message, error) {
	sent, sendErr := r.d.msg, r.err
	optOut := jack.ErrorReason(sendErr) == "opted_out"
	if sendErr != nil {
		sent.Status, sent.ErrorCode, sent.ErrorMessage = jack.StatusFailed, jack.ErrorReason(sendErr), jack.ErrorMessage(sendErr)
		g.log.Warn("send sms failed", "message_id", sent.ID, "err", sendErr)
	} else {
		sent.TwilioMessageSid, sent.Status = r.res.Sid, r.res.Status
		if !jack.KnownStatus(sent.Status) {
			sent.Status = jack.StatusQueued
		}
	}
	var (
		lead   *jack.Lead
		events []*jack.Event
	)
	err := g.inTx(func(ctx context.Context, tx jack.ConversationTx) error {
		// A group commit may run this again (jack.ConversationStore): start from nothing.
		lead, events = nil, nil
		now := tx.Now()
		if err := tx.UpdateMessageDelivery(ctx, &sent); err != nil {
			return err
		}
		events = append(events, messageEvent(jack.EventSMSSent, &sent, now))
		if optOut { // Twilio 21610: the carrier has the customer unsubscribed
			l, err := tx.UpdateConversation(ctx, sent.LeadID, jack.ConversationChange{OptOut: ptr(true)})
			if err != nil {
				return err
			}
			lead = l
			events = append(events, leadEvent(l, now))
		}
		return tx.InsertEvents(ctx, events...)
	})
	if err != nil {
		g.log.Error("record send outcome failed", "message_id", sent.ID, "err", err)
		return nil, nil, err
	}
	g.replaceMessage(&sent)
	g.remember(lead, nil, events)
	if lead == nil {
		lead = g.lead
	}
	return lead, &sent, sendErr
}

func (g *grain) replaceMessage(m *jack.Message) {
	g.history.replace(m)
}

// --- delivery status -------------------------------------------------------------------------

func (g *grain) updateStatus(st *SMSStatus) *Reply {
	var (
		updated *jack.Message
		events  []*jack.Event
	)
	err := g.inTx(func(ctx context.Context, tx jack.ConversationTx) error {
		m, err := tx.FindMessageBySid(ctx, st.MessageSid)
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
			ch.AIPausedUntil = ptr(now.AddDate(100, 0, 0)) // until staff resume it
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
	}
	return leadReply(lead)
}

func (g *grain) leadChanged(deleted bool) *Reply {
	if deleted {
		g.cancelAI()
		g.closeSession()
		g.gen++
		g.lead, g.summary, g.assignedName = nil, nil, ""
		g.history = newHistory(g.e.cfg.HistorySize, nil)
		g.total, g.sms, g.voice = 0, 0, 0
		return &Reply{Body: &Reply_Ack{Ack: &Ack{}}}
	}
	if err := g.load(); err != nil {
		return errorReply(err)
	}
	if g.lead != nil {
		ev := leadEvent(g.lead, g.e.cfg.Now().UTC())
		err := g.inTx(func(ctx context.Context, tx jack.ConversationTx) error { return tx.InsertEvents(ctx, ev) })
		if err != nil {
			return errorReply(err)
		}
		g.publish([]*jack.Event{ev})
	}
	return &Reply{Body: &Reply_Ack{Ack: &Ack{}}}
}

// --- AI replies ------------------------------------------------------------------------------

func (g *grain) aiAllowed() bool {
	return g.lead != nil && !g.lead.OptedOut() && !g.lead.AIPaused(g.e.cfg.Now())
}

// scheduleAI (re)starts the debounce: the AI answers once the customer stops typing.
func (g *grain) scheduleAI() {
	g.cancelAI()
	if !g.aiAllowed() {
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
	if t.gen != g.gen || !g.aiAllowed() {
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
	conv := jack.AgentConversation{OrganizationID: g.orgID, Phone: g.phone, Variables: turn.Variables}
	go func() {
		ctx, cancel := context.WithTimeout(g.e.ctx, 30*time.Second)
		defer cancel()
		var err error
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
	if d.gen != g.gen || !g.aiAllowed() {
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

// unansweredText joins the customer's texts since the dealership last wrote.
func (g *grain) unansweredText() string {
	var texts []string
	for i := g.history.len() - 1; i >= 0 && g.history.memos[i].customer(); i-- {
		texts = append(texts, g.history.memos[i].content)
	}
	slices.Reverse(texts)
	return strings.Join(texts, "\n")
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
		go s.Close()
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
	for i := g.history.len() - 1; i >= 0; i-- {
		if m := g.history.memos[i]; m.customer() {
			if now.Sub(m.time()) < jack.ReplyWindow {
				return now, now, nil
			}
			break
		}
	}
	ctx, cancel := g.storeCtx()
	org, err := g.e.store.FindOrganizationByID(ctx, g.orgID)
	cancel()
	if err != nil {
		return now, now, err
	}
	g.org = org
	return now, org.ContactWindow().NextContactTime(now, jack.CustomerZones(g.phone, org.Settings.TimeZone)), nil
}

// score ranks the lead (as it will be once the change commits) on the conversation in memory
// plus extra, the message being stored.
func (g *grain) score(lead *jack.Lead, extra *jack.Message, now time.Time) (*float64, *string) {
	msgs := g.recent(g.history.len())
	if extra != nil {
		msgs = append(msgs, extra)
	}
	score, sentiment := jack.ScoreLead(jack.ScoreInput{Lead: lead, Messages: msgs, Now: now, Call: g.lastCall})
	return &score, &sentiment
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

// recent returns the conversation's n most recent messages, oldest first.
func (g *grain) recent(n int) []*jack.Message {
	leadID := ""
	if g.lead != nil {
		leadID = g.lead.ID
	}
	return g.history.last(n, g.orgID, leadID, g.phone)
}

// contextReply answers with the agent's dynamic variables, from memory.
func (g *grain) contextReply() *Reply {
	vars, _ := json.Marshal(g.variables())
	return &Reply{Body: &Reply_Context{Context: &ContextReply{VariablesJson: vars}}}
}

// variables are the agent's dynamic variables from memory: no database read.
func (g *grain) variables() map[string]any {
	v := conversationView{
		OrgID: g.orgID.String(), Phone: g.phone, Lead: g.lead, AssignedName: g.assignedName,
		Messages: g.recent(contextMessages), Summary: g.summary, Total: g.total, // the variables read no further back
	}
	if g.org != nil {
		v.OrgName = g.org.Name
	}
	return DynamicVariables(v)
}

// --- helpers ---------------------------------------------------------------------------------

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
	ev.Message, ev.MessageSid = m.Content, m.TwilioMessageSid
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
