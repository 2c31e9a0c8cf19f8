package actors

import (
	"context"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/jack-auto/jack"
)

// Reconciliation of outbound texts a crash left unresolved (issue 14). A text is committed
// pending, marked sending (committed, fenced) right before the provider call, and gets the
// provider's sid and status right after (outbound.go). So after a crash:
//
//   - pending: no attempt was ever made, the text provably never left: it is sent now;
//   - sending with a sid (a status callback's "sending"): its status is fetched from Twilio;
//   - sending without a sid: the provider may or may not have it. Twilio's list of the
//     conversation's texts is searched for it (From, To, body, created since the text):
//     found, its sid and status are recorded; not found, it is marked unknown, which staff see.
//     It is never sent again.
//
// The conversation's new owner resolves what it loads when it claims the conversation; the
// sweep (every Config.ReconcilePoll on every node) asks the owning grain to resolve any older
// than Config.ReconcileAfter, so nothing stays pending. A lookup waits until Config.SendTimeout
// (plus a sixth for the provider to take in a call that left just before it) has passed since
// this activation's claim: an attempt of a previous owner committed before the claim, and its
// call starts before the attempt's deadline or never, so by then the provider has it or never
// will.

// Outcomes of reconciling one text (the outcome label of jack_reconciled_sends_total).
const (
	ReconcileSent    = "sent"    // pending: never attempted, sent now
	ReconcileFound   = "found"   // attempted without a sid: found at the provider, sid recorded
	ReconcileFetched = "fetched" // attempted with a sid: status fetched from the provider
	ReconcileUnknown = "unknown" // attempted without a sid, not found: marked unknown, not resent
	ReconcileFailed  = "failed"  // pending, but it may not be sent any more (opted out, no number)
	ReconcileError   = "error"   // the provider could not be asked; the sweep tries again
)

// ReconcileOutcomes lists every outcome, for metrics.
var ReconcileOutcomes = []string{ReconcileSent, ReconcileFound, ReconcileFetched, ReconcileUnknown, ReconcileFailed, ReconcileError}

// reconcileLater retries reconciling texts once a previous owner's call cannot be under way.
type reconcileLater struct{ ids []uuid.UUID }

// lookedUp is a provider lookup's answer, back on the mailbox.
type lookedUp struct {
	msg  jack.Message
	recs []jack.SMSRecord // FindSMS's matches, or FetchSMS's record alone
	err  error
}

// unresolved reports whether m is an outbound text a crash may have left unresolved.
func unresolved(m *jack.Message) bool {
	return m.SentBy == jack.SentByAgent && m.Type == jack.ChannelSMS &&
		(m.Status == jack.StatusPending || m.Status == jack.StatusSending)
}

// reconcile resolves those of msgs that are unresolved and not already being handled by this
// activation.
func (g *grain) reconcile(msgs []*jack.Message) {
	var later, soon []uuid.UUID
	for _, m := range msgs {
		if !unresolved(m) || g.unsent[m.ID] {
			continue
		}
		switch {
		case m.Status == jack.StatusPending:
			g.resend(m)
		case time.Since(g.claimedAt) < g.lookupDelay():
			later = append(later, m.ID)
		case g.sending:
			// A text of this grain is with the provider and not recorded yet: it could pass
			// for this one. Look up once it is.
			soon = append(soon, m.ID)
		default:
			g.lookUp(m)
		}
	}
	if len(later) > 0 {
		g.timer.SendOnce(g.lookupDelay()-time.Since(g.claimedAt), g.self, &reconcileLater{ids: later})
	}
	if len(soon) > 0 {
		g.timer.SendOnce(g.e.cfg.SendTimeout/6, g.self, &reconcileLater{ids: soon})
	}
}

// lookupDelay is how long after its claim an activation waits before it looks up a text another
// activation attempted.
func (g *grain) lookupDelay() time.Duration { return g.e.cfg.SendTimeout + g.e.cfg.SendTimeout/6 }

// onReconcileLater reads the texts again (they may have been resolved meanwhile) and reconciles.
func (g *grain) onReconcileLater(r *reconcileLater) {
	g.reconcileIDs(r.ids)
}

// reconcileIDs reads the texts with ids afresh and reconciles them.
func (g *grain) reconcileIDs(ids []uuid.UUID) {
	msgs := make([]*jack.Message, 0, len(ids))
	ctx, cancel := g.storeCtx()
	defer cancel()
	for _, id := range ids {
		m, err := g.e.store.FindMessage(ctx, g.orgID, id)
		if err != nil {
			if jack.ErrorCode(err) != jack.ENOTFOUND {
				g.log.Warn("reconcile: read text failed; the sweep tries again", "message_id", id, "err", err)
			}
			continue
		}
		if m.PhoneNumberNormalized == g.phone {
			msgs = append(msgs, m)
		}
	}
	g.reconcile(msgs)
}

// reconcileRequest is the sweep's request (Reconcile).
func (g *grain) reconcileRequest(r *Reconcile) *Reply {
	ids := make([]uuid.UUID, 0, len(r.MessageIds))
	for _, s := range r.MessageIds {
		id, err := uuid.Parse(s)
		if err != nil {
			return errorReply(jack.Errorf(jack.EINVALID, "Invalid message id."))
		}
		ids = append(ids, id)
	}
	g.reconcileIDs(ids)
	return &Reply{Body: &Reply_Ack{Ack: &Ack{}}}
}

// resend sends a text that was never attempted, through the ordinary send path.
func (g *grain) resend(m *jack.Message) {
	fail := func(reason, message string) {
		g.e.countReconciled(ReconcileFailed)
		failed := *m
		failed.Status, failed.ErrorCode, failed.ErrorMessage = jack.StatusFailed, reason, message
		g.recordOutcome(&failed, jack.EventSMSSent)
	}
	if g.lead.OptedOut() {
		fail("opted_out", "The customer opted out before the text was sent.")
		return
	}
	ctx, cancel := g.storeCtx()
	number, err := g.e.store.ActivePhoneNumber(ctx, g.orgID)
	cancel()
	if jack.ErrorCode(err) == jack.ENOTFOUND {
		fail("no_phone_number", "The organization has no active phone number to send from.")
		return
	} else if err != nil {
		g.log.Warn("reconcile: no sender number; the sweep tries again", "message_id", m.ID, "err", err)
		return
	}
	g.e.countReconciled(ReconcileSent)
	g.log.Info("reconcile: sending a text that was never attempted", "message_id", m.ID)
	urls := make([]string, 0, len(m.Media))
	for _, md := range m.Media {
		urls = append(urls, md.URL)
	}
	g.enqueueSend(&dispatch{msg: *m, req: jack.SMSRequest{
		From: number.PhoneNumber, To: g.phone, Body: m.Content, MediaURLs: urls,
		StatusCallback: strings.TrimRight(g.e.cfg.ServerURL, "/") + "/api/webhooks/twilio/sms/status",
	}})
}

// lookUp asks the provider about an attempted text, off the mailbox.
func (g *grain) lookUp(m *jack.Message) {
	lookup, ok := g.e.sms.(jack.SMSLookup)
	if !ok { // a sender that cannot look up: nobody can tell
		g.adopt(m, nil)
		return
	}
	var from string
	if m.ProviderMessageID == "" {
		ctx, cancel := g.storeCtx()
		number, err := g.e.store.ActivePhoneNumber(ctx, g.orgID)
		cancel()
		if err != nil {
			g.log.Warn("reconcile: no sender number to look the text up by; the sweep tries again", "message_id", m.ID, "err", err)
			g.e.countReconciled(ReconcileError)
			return
		}
		from = number.PhoneNumber
	}
	g.unsent[m.ID] = true
	g.lookups++ // sends wait (nextSend): a text in flight would look like this one
	msg, self, root := *m, g.self, g.e.system.Root
	ctx, cancel := context.WithTimeout(g.e.ctx, g.e.cfg.SendTimeout)
	go func() {
		defer cancel()
		r := &lookedUp{msg: msg}
		if msg.ProviderMessageID != "" {
			var rec *jack.SMSRecord
			if rec, r.err = lookup.FetchSMS(ctx, msg.ProviderMessageID); rec != nil {
				r.recs = []jack.SMSRecord{*rec}
			}
		} else {
			r.recs, r.err = lookup.FindSMS(ctx, jack.SMSQuery{From: from, To: msg.PhoneNumberNormalized, Body: msg.Content, Since: msg.Timestamp})
		}
		root.Send(self, r)
	}()
}

// onLookedUp records what the provider said about an attempted text, then lets the sends that
// waited for the lookup go on.
func (g *grain) onLookedUp(r *lookedUp) {
	delete(g.unsent, r.msg.ID)
	g.lookups--
	defer func() {
		if g.lookups == 0 && !g.sending && len(g.outbox) > 0 {
			g.nextSend()
		}
	}()
	m := r.msg
	if r.err != nil && (m.ProviderMessageID == "" || jack.ErrorCode(r.err) != jack.ENOTFOUND) {
		g.e.countReconciled(ReconcileError)
		g.log.Warn("reconcile: provider lookup failed; the sweep tries again", "message_id", m.ID, "err", r.err)
		return
	}
	g.adopt(&m, r.recs)
}

// adopt records the provider's text among recs (newest first) that is m's: the oldest one no
// other text of the organization holds already (the conversation's texts may share a body: the
// others' sids are recorded, since no send of this grain is under way during a lookup, and a
// previous owner's attempts are over). None left: m is marked unknown, and never sent again.
func (g *grain) adopt(m *jack.Message, recs []jack.SMSRecord) {
	var (
		ev      *jack.Event
		updated jack.Message
		others  int
	)
	err := g.inUnfencedTx(func(ctx context.Context, tx jack.ConversationTx) error {
		// A group commit may run this again (jack.ConversationStore): start from nothing.
		updated, ev, others = *m, nil, 0
		var rec *jack.SMSRecord
		for i := len(recs) - 1; i >= 0 && rec == nil; i-- {
			other, err := tx.FindMessageByProviderID(ctx, recs[i].Sid)
			switch {
			case err == nil && other.ID != m.ID:
				others++
			case err == nil || jack.ErrorCode(err) == jack.ENOTFOUND:
				rec = &recs[i]
			default:
				return err
			}
		}
		eventType := jack.EventSMSSent
		if rec == nil {
			updated.Status, eventType = jack.StatusUnknown, jack.EventSMSStatus
		} else {
			updated.ProviderMessageID = rec.Sid
			if st := rec.Status; jack.KnownStatus(st) && st != jack.StatusSending {
				updated.Status = st
			} else if updated.Status == jack.StatusSending && st == "" {
				updated.Status = jack.StatusQueued
			}
			updated.ErrorCode, updated.ErrorMessage = rec.ErrorCode, rec.ErrorMessage
		}
		if err := tx.UpdateMessageDelivery(ctx, &updated); err != nil {
			return err
		}
		ev = messageEvent(eventType, &updated, tx.Now())
		return tx.InsertEvents(ctx, ev)
	})
	if err != nil {
		g.e.countReconciled(ReconcileError)
		g.log.Error("reconcile: record outcome failed; the sweep tries again", "message_id", m.ID, "err", err)
		return
	}
	switch {
	case updated.Status == jack.StatusUnknown:
		g.e.countReconciled(ReconcileUnknown)
		g.log.Warn("reconcile: an attempted text is not at the provider; marked unknown, not resent", "message_id", m.ID,
			"same_body_texts_of_others", others)
	case m.ProviderMessageID != "":
		g.e.countReconciled(ReconcileFetched)
		g.log.Info("reconcile: fetched the status of an attempted text", "message_id", m.ID, "status", updated.Status)
	default:
		g.e.countReconciled(ReconcileFound)
		g.log.Info("reconcile: found an attempted text at the provider and recorded its sid", "message_id", m.ID, "status", updated.Status)
	}
	g.replaceMessage(&updated)
	g.publish([]*jack.Event{ev})
}

// recordOutcome commits m's delivery fields and publishes the change. Not fenced, like
// recordSend: it records what the provider holds, whoever owns the conversation now.
func (g *grain) recordOutcome(m *jack.Message, eventType string) {
	var ev *jack.Event
	err := g.inUnfencedTx(func(ctx context.Context, tx jack.ConversationTx) error {
		if err := tx.UpdateMessageDelivery(ctx, m); err != nil {
			return err
		}
		ev = messageEvent(eventType, m, tx.Now())
		return tx.InsertEvents(ctx, ev)
	})
	if err != nil {
		g.log.Error("reconcile: record outcome failed; the sweep tries again", "message_id", m.ID, "err", err)
		return
	}
	g.replaceMessage(m)
	g.publish([]*jack.Event{ev})
}

// --- the sweep ---------------------------------------------------------------------------------

// SweepUnsent finds outbound texts older than Config.ReconcileAfter still pending or sending
// and asks each conversation's grain to resolve them. It returns how many it found. The engine
// calls it every Config.ReconcilePoll; tests call it directly.
func (e *Engine) SweepUnsent(ctx context.Context) (int, error) {
	msgs, err := e.store.UnsentMessages(ctx, e.cfg.Now().UTC().Add(-e.cfg.ReconcileAfter), 0)
	if err != nil {
		return 0, err
	}
	type conv struct {
		org   uuid.UUID
		phone string
	}
	byConv := map[conv][]string{}
	for _, m := range msgs {
		c := conv{m.OrganizationID, m.PhoneNumberNormalized}
		byConv[c] = append(byConv[c], m.ID.String())
	}
	var wg sync.WaitGroup
	for c, ids := range byConv {
		wg.Go(func() {
			req := &Request{Body: &Request_Reconcile{Reconcile: &Reconcile{MessageIds: ids}}}
			reply, err := e.request(ctx, c.org, c.phone, req)
			if err == nil {
				err = replyError(reply)
			}
			if err != nil {
				e.log.Warn("reconcile sweep: conversation not reached; next sweep", "org_id", c.org, "phone", jack.MaskPhone(c.phone), "err", err)
			}
		})
	}
	wg.Wait()
	return len(msgs), nil
}

func (e *Engine) countReconciled(outcome string) {
	e.reconMu.Lock()
	e.reconciled[outcome]++
	e.reconMu.Unlock()
}

// ReconciledSends counts this node's reconciled texts by outcome (every outcome present).
func (e *Engine) ReconciledSends() map[string]int64 {
	e.reconMu.Lock()
	defer e.reconMu.Unlock()
	out := make(map[string]int64, len(ReconcileOutcomes))
	for _, o := range ReconcileOutcomes {
		out[o] = e.reconciled[o]
	}
	return out
}
