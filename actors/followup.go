package actors

import (
	"context"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/jack-auto/jack"
)

// This file is the follow-up cadence: a conversation whose customer went quiet after the
// dealership's last message gets the organization's cadence steps, each a durable reminder in the
// Store. Every node polls for due reminders, claims them in the database and wakes the owning
// grain, which fires the step once (the reminder is marked fired in the same transaction that
// records the follow-up, and the text's idempotency key is the reminder's id).

// reminderLease is how long a claimed reminder stays invisible to other nodes: long enough for
// the grain to fire it; an unfired claim expires and the reminder is claimed again.
const reminderLease = time.Minute

// PollReminders claims the reminders due now and hands each to its conversation. It returns how
// many it claimed. The engine calls it every Config.ReminderPoll; tests call it directly.
func (e *Engine) PollReminders(ctx context.Context) (int, error) {
	due, err := e.store.ClaimDueReminders(ctx, e.cfg.Now().UTC(), reminderLease, 100)
	if err != nil {
		return 0, err
	}
	var wg sync.WaitGroup
	for _, r := range due {
		wg.Go(func() {
			req := &Request{Body: &Request_FollowUp{FollowUp: &FollowUp{ReminderId: r.ID.String()}}}
			reply, err := e.request(ctx, r.OrganizationID, r.Phone, req)
			if err == nil {
				err = replyError(reply)
			}
			if err != nil {
				e.log.Warn("follow-up not fired; it is claimed again after its lease", "reminder_id", r.ID, "err", err)
			}
		})
	}
	wg.Wait()
	return len(due), nil
}

// every runs fn every interval until the engine closes, logging its errors as what (the
// reminder poll, the reconciliation sweep).
func (e *Engine) every(interval time.Duration, what string, fn func(context.Context) (int, error)) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-e.ctx.Done():
			return
		case <-t.C:
			if _, err := fn(e.ctx); err != nil && e.ctx.Err() == nil {
				e.log.Warn(what, "err", err)
			}
		}
	}
}

// cadence returns the organization's follow-up steps.
func (g *grain) cadence() []jack.CadenceStep {
	if g.org == nil {
		return nil
	}
	return g.org.Settings.Cadence
}

// nextReminder is the reminder for step of the cadence, counted from now; nil past the last step.
// A customer with an upcoming appointment gets its next reminder instead (see appointments.go).
func (g *grain) nextReminder(leadID string, step int, now time.Time) *jack.Reminder {
	if r := g.appointmentReminder(now); r != nil {
		return r
	}
	if step >= AppointmentReminderStep {
		return nil
	}
	steps := g.cadence()
	if step >= len(steps) {
		return nil
	}
	return &jack.Reminder{ID: newID(), OrganizationID: g.orgID, LeadID: leadID, Phone: g.phone, Step: step,
		DueAt: now.Add(steps[step].After.D()), Status: jack.ReminderPending, CreatedAt: now}
}

// restartCadence schedules the cadence's first step after a dealership message, in tx.
func (g *grain) restartCadence(ctx context.Context, tx jack.ConversationTx, leadID string, now time.Time) error {
	if r := g.nextReminder(leadID, 0, now); r != nil {
		return tx.ScheduleReminder(ctx, r)
	}
	_, err := tx.CancelReminders(ctx, g.phone)
	return err
}

// stopCadence cancels the conversation's follow-ups (the customer answered, opted out, or staff
// took over), in tx.
func (g *grain) stopCadence(ctx context.Context, tx jack.ConversationTx) error {
	if g.appointmentReminder(tx.Now()) != nil && !g.lead.OptedOut() {
		return g.syncAppointmentReminder(ctx, tx) // the appointment's reminders go on
	}
	if len(g.cadence()) == 0 {
		return nil
	}
	_, err := tx.CancelReminders(ctx, g.phone)
	return err
}

// followUp fires a claimed reminder, if it is still this conversation's pending one.
func (g *grain) followUp(f *FollowUp) *Reply {
	id, err := uuid.Parse(f.ReminderId)
	if err != nil {
		return errorReply(jack.Errorf(jack.EINVALID, "Invalid reminder."))
	}
	var r *jack.Reminder
	err = g.inTx(func(ctx context.Context, tx jack.ConversationTx) (err error) {
		r, err = tx.FindPendingReminder(ctx, g.phone)
		return err
	})
	if jack.ErrorCode(err) == jack.ENOTFOUND || (err == nil && r.ID != id) {
		return ack() // fired, canceled or replaced meanwhile
	} else if err != nil {
		return errorReply(err)
	}
	if r.Step >= AppointmentReminderStep {
		return g.fireAppointmentReminder(r)
	}
	steps := g.cadence()
	if g.lead == nil || g.lead.OptedOut() || g.lead.AIPaused(g.e.cfg.Now()) || r.Step >= len(steps) {
		if err := g.inTx(func(ctx context.Context, tx jack.ConversationTx) error { return g.stopCadence(ctx, tx) }); err != nil {
			return errorReply(err)
		}
		return ack()
	}
	// A follow-up is the dealership starting contact: inside the customer's hours only.
	if now, next, err := g.nextContact(); err != nil {
		return errorReply(err)
	} else if next.After(now) {
		later := *r
		later.ID, later.DueAt = newID(), next
		if err := g.inTx(func(ctx context.Context, tx jack.ConversationTx) error { return tx.ScheduleReminder(ctx, &later) }); err != nil {
			return errorReply(err)
		}
		return ack()
	}

	step := steps[r.Step]
	switch step.Action {
	case jack.FollowUpSMS:
		body := jack.RenderFollowUp(step.Message, g.variables())
		_, _, _, err = g.send(outbound{body: body, key: "reminder:" + r.ID.String(), reminder: r,
			change: jack.ConversationChange{ChaseStatus: nurtureStatus(g.lead)}}, nil)
	case jack.FollowUpCall:
		err = g.fireCallStep(r)
	}
	if err != nil && jack.ErrorCode(err) != jack.ECONFLICT {
		g.log.Warn("follow-up step failed", "reminder_id", r.ID, "step", r.Step, "err", err)
	}
	return ack()
}

// fireCallStep consumes the reminder (and schedules the next step) before dialing, so a call
// is never placed twice; a failed call is recorded on its session by the provider's webhook.
func (g *grain) fireCallStep(r *jack.Reminder) error {
	var lead *jack.Lead
	var events []*jack.Event
	err := g.inTx(func(ctx context.Context, tx jack.ConversationTx) error {
		if err := tx.MarkReminderFired(ctx, r.ID); err != nil {
			return err
		}
		now := tx.Now()
		if next := g.nextReminder(r.LeadID, r.Step+1, now); next != nil {
			if err := tx.ScheduleReminder(ctx, next); err != nil {
				return err
			}
		}
		if st := nurtureStatus(g.lead); st != nil {
			l, err := tx.UpdateConversation(ctx, r.LeadID, jack.ConversationChange{ChaseStatus: st})
			if err != nil {
				return err
			}
			lead, events = l, []*jack.Event{leadEvent(l, now)}
			return tx.InsertEvents(ctx, events...)
		}
		return nil
	})
	if err != nil {
		return err
	}
	g.remember(lead, nil, events)
	if reply := g.outboundCall(); reply.GetError() != nil {
		return replyError(reply)
	}
	return nil
}

// nurtureStatus moves a lead that has not got further than engaged to "nurture" while the
// cadence chases it; nil leaves the status as it is.
func nurtureStatus(l *jack.Lead) *string {
	if l == nil {
		return nil
	}
	switch l.ChaseStatus {
	case jack.ChaseNew, jack.ChaseContacted, jack.ChaseEngaged:
		return ptr(jack.ChaseNurture)
	}
	return nil
}

func ack() *Reply { return &Reply{Body: &Reply_Ack{Ack: &Ack{}}} }
