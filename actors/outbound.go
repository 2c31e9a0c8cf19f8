package actors

import (
	"context"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/jack-auto/jack"
)

// The dealership's texts: staff texts, AI replies and follow-ups are committed as pending,
// then go to the provider off the mailbox, one per conversation at a time.

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
// provider call happens off the mailbox, one text of the conversation at a time (nextSend), and
// its outcome (Twilio's sid and status, or the failure) is committed afterwards. done, when not
// nil, then runs on the grain with that outcome. A crash mid-send leaves a pending or sending
// message, which reconciliation resolves (reconcile.go).
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
		lead     *jack.Lead
		msg      *jack.Message
		dup      bool
		pending  []*jack.Event
		takeover *pauseUndo
	)
	err = g.inTx(func(ctx context.Context, tx jack.ConversationTx) error {
		// A group commit may run this again (jack.ConversationStore): start from nothing.
		lead, msg, dup, pending, takeover = nil, nil, false, nil, nil
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
		ch := g.outboundChange(l, o, now, g.e.cfg.TakeoverPause)
		if lead, err = tx.UpdateConversation(ctx, l.ID, ch); err != nil {
			return err
		}
		takeover = takeoverOf(l, lead, ch)
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
		msg:      *msg,
		lead:     lead,
		done:     done,
		takeover: takeover,
		req: jack.SMSRequest{
			From: number.PhoneNumber, To: g.phone, Body: o.body, MediaURLs: o.media,
			StatusCallback: strings.TrimRight(g.e.cfg.ServerURL, "/") + "/api/webhooks/twilio/sms/status",
		},
	})
	return lead, msg, false, nil
}

// dispatch is one committed outbound text on its way to the provider.
type dispatch struct {
	msg   jack.Message // as committed: pending
	req   jack.SMSRequest
	done  func(*jack.Lead, *jack.Message, error)
	lead  *jack.Lead // as committed with the text (nil for a text reconciliation sends)
	epoch int64      // the grain's ownership epoch when the text was queued
	// takeover, for a staff text, undoes the AI pause it set if the provider refuses the text.
	takeover *pauseUndo
}

// smsSent is the provider's answer to a dispatch, back on the grain's mailbox.
type smsSent struct {
	d   *dispatch
	res *jack.SMSResult
	err error
}

func (g *grain) enqueueSend(d *dispatch) {
	d.epoch = g.owner.Epoch
	g.outbox = append(g.outbox, d)
	g.unsent[d.msg.ID] = true
	if !g.sending {
		g.nextSend()
	}
}

// nextSend hands the oldest waiting text to the provider on a goroutine of its own, once its
// attempt mark is committed: the text is then "sending" (without a sid), fenced by this
// activation's epoch, so a text is sent only by the conversation's current owner, and after a
// crash a "pending" text provably never reached the provider (reconcile.go sends it) while a
// "sending" one without a sid may have (reconcile.go looks it up, never resends it). A text
// whose mark does not commit is not sent: fenced, the conversation's new owner sends it (it
// is pending in what that owner loaded); on a database error the sweep finds it pending.
func (g *grain) nextSend() {
	if g.lookups > 0 {
		return // a provider lookup is under way (reconcile.go); it sends the rest when done
	}
	for len(g.outbox) > 0 {
		d := g.outbox[0]
		g.outbox = g.outbox[1:]
		if err := g.markAttempt(d); err != nil {
			g.log.Warn("text not handed to the provider: its attempt mark did not commit", "message_id", d.msg.ID, "err", err)
			delete(g.unsent, d.msg.ID)
			if d.done != nil {
				// Committed all the same: the caller's text is stored and goes out through
				// the conversation's owner (or the sweep), so it is answered as accepted.
				d.done(d.lead, &d.msg, nil)
			}
			continue
		}
		g.sending = true
		sms, self, root := g.e.sms, g.self, g.e.system.Root
		// No call of an attempt starts after this deadline (reconcile.go relies on it).
		ctx, cancel := context.WithDeadline(g.e.ctx, time.Now().Add(g.e.cfg.SendTimeout))
		go func() {
			defer cancel()
			res, err := sms.SendSMS(ctx, d.req)
			root.Send(self, &smsSent{d: d, res: res, err: err})
		}()
		return
	}
}

// markAttempt commits d's text as sending (no sid yet), fenced by the grain's epoch. A text
// queued under an earlier epoch of this grain (it was fenced and has claimed the conversation
// again since) may have been taken up by the activation that fenced it: it is read afresh and
// goes on only if still pending. (Read after this claim, "pending" is final for anyone else: a
// later claim fences the mark.)
func (g *grain) markAttempt(d *dispatch) error {
	if g.owner.Epoch == 0 { // fenced, not claimed again yet: the conversation's owner sends it
		return jack.Fenced()
	}
	if d.epoch != g.owner.Epoch {
		ctx, cancel := g.storeCtx()
		cur, err := g.e.store.FindMessage(ctx, g.orgID, d.msg.ID)
		cancel()
		if err != nil {
			return err
		}
		if cur.Status != jack.StatusPending { // taken up by the activation that fenced this one
			return jack.Fenced()
		}
		d.epoch = g.owner.Epoch
	}
	m := d.msg
	m.Status, m.ErrorCode, m.ErrorMessage = jack.StatusSending, "", ""
	err := g.inTx(func(ctx context.Context, tx jack.ConversationTx) error {
		return tx.UpdateMessageDelivery(ctx, &m)
	})
	if err == nil {
		d.msg = m
	}
	return err
}

// onSMSSent commits the provider's answer, then sends the next waiting text.
func (g *grain) onSMSSent(r *smsSent) {
	g.sending = false
	delete(g.unsent, r.d.msg.ID)
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
		sent.ProviderMessageID, sent.Status = r.res.ProviderMessageID, r.res.Status
		if !jack.KnownStatus(sent.Status) {
			sent.Status = jack.StatusQueued
		}
	}
	var (
		lead   *jack.Lead
		events []*jack.Event
	)
	// Not fenced: what the provider answered about a text already sent is a fact to record even
	// when this activation was replaced meanwhile (a stale "pending" would hide a sent text).
	err := g.inUnfencedTx(func(ctx context.Context, tx jack.ConversationTx) error {
		// A group commit may run this again (jack.ConversationStore): start from nothing.
		lead, events = nil, nil
		now := tx.Now()
		if err := tx.UpdateMessageDelivery(ctx, &sent); err != nil {
			return err
		}
		events = append(events, messageEvent(jack.EventSMSSent, &sent, now))
		var ch jack.ConversationChange
		if optOut { // Twilio 21610: the carrier has the customer unsubscribed
			ch.OptOut = ptr(true)
		}
		if sendErr != nil {
			r.d.takeover.undo(g.lead, &ch) // only a text the provider accepted takes the AI over
		}
		if ch != (jack.ConversationChange{}) {
			l, err := tx.UpdateConversation(ctx, sent.LeadID, ch)
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
