package actors

import (
	"context"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/jack-auto/jack"
)

// Appointments the AI books: the calendar the agent is shown on each turn, the booking on the
// customer's yes, and the customer's upcoming appointment in the agent's variables.

// calendarDays is how far ahead the agent offers times.
const calendarDays = 14

// agentCalendar reads what the agent needs to book (off the mailbox): the organization's free
// slots for the next two weeks and the customer's next confirmed appointment.
func agentCalendar(ctx context.Context, store jack.Store, orgID uuid.UUID, phone string, now time.Time) (*jack.AgentCalendar, error) {
	org, err := store.FindOrganizationByID(ctx, orgID)
	if err != nil {
		return nil, err
	}
	sched := org.Schedule()
	local := now.In(sched.Location)
	from := time.Date(local.Year(), local.Month(), local.Day(), 0, 0, 0, 0, sched.Location)
	booked, err := store.FindAppointments(ctx, orgID, jack.AppointmentFilter{From: from.Add(-24 * time.Hour),
		To: from.AddDate(0, 0, calendarDays+1), Status: jack.AppointmentConfirmed})
	if err != nil {
		return nil, err
	}
	upcoming, err := upcomingAppointment(ctx, store, orgID, phone, now)
	if err != nil {
		return nil, err
	}
	return &jack.AgentCalendar{Location: sched.Location, Address: org.Settings.Address,
		Free: sched.Slots(from, calendarDays, now, booked, false), Upcoming: upcoming}, nil
}

// upcomingAppointment is the customer's next confirmed appointment that has not ended; nil when
// none.
func upcomingAppointment(ctx context.Context, store jack.Store, orgID uuid.UUID, phone string, now time.Time) (*jack.Appointment, error) {
	list, err := store.FindAppointments(ctx, orgID, jack.AppointmentFilter{Phone: phone, Status: jack.AppointmentConfirmed,
		From: now.Add(-24 * time.Hour), Limit: 10})
	if err != nil {
		return nil, err
	}
	for _, a := range list {
		if a.EndsAt.After(now) {
			return a, nil
		}
	}
	return nil, nil
}

// bookFromAI books what the agent asked for on the customer's yes and then sends the agent's
// confirmation; when the slot filled up meanwhile it says so and asks for another time.
func (g *grain) bookFromAI(reply *jack.AgentReply, source string) {
	req := reply.Book
	_, err := g.bookAppointment(req, source)
	body := reply.Text
	switch {
	case jack.ErrorReason(err) == jack.ReasonSlotFull || jack.ErrorCode(err) == jack.EUNPROCESSABLE:
		body = "Sorry, that time was just taken. What other day and time work for you?"
	case err != nil:
		g.log.Warn("AI booking failed", "err", err)
		g.recordAgentFailure(err)
		return
	}
	if _, _, _, err := g.send(outbound{body: body, change: reply.Change}, nil); err != nil {
		g.log.Warn("AI booking reply not sent", "err", err)
	}
}

// bookAppointment stores the customer's appointment from req (fenced, with its event) and
// publishes the event. EUNPROCESSABLE when the time is not a slot any more, ECONFLICT
// (slot_full) when it is full.
func (g *grain) bookAppointment(req *jack.AppointmentRequest, source string) (*jack.Appointment, error) {
	if g.lead == nil {
		return nil, jack.Errorf(jack.ENOTFOUND, "Lead not found.")
	}
	ctx, cancel := g.storeCtx()
	org, err := g.e.store.FindOrganizationByID(ctx, g.orgID)
	cancel()
	if err != nil {
		return nil, err
	}
	sched := org.Schedule()
	if err := sched.CheckSlot(req.StartsAt, g.e.cfg.Now()); err != nil {
		return nil, err
	}
	var (
		a      *jack.Appointment
		events []*jack.Event
	)
	err = g.inTx(func(ctx context.Context, tx jack.ConversationTx) error {
		a = &jack.Appointment{LeadID: g.lead.ID, StartsAt: req.StartsAt, EndsAt: req.StartsAt.Add(sched.Slot),
			Kind: req.Kind, Vehicle: req.Vehicle, Source: source, Status: jack.AppointmentConfirmed}
		if err := tx.CreateAppointment(ctx, a, sched.Capacity); err != nil {
			return err
		}
		if g.upcoming == nil || a.StartsAt.Before(g.upcoming.StartsAt) {
			prev := g.upcoming
			g.upcoming = a
			err := g.syncAppointmentReminder(ctx, tx)
			g.upcoming = prev // memory changes only once the write commits
			if err != nil {
				return err
			}
		}
		events = []*jack.Event{jack.NewEvent(jack.EventAppointmentBooked, g.orgID, a.LeadID, a.Phone, tx.Now(), a)}
		return tx.InsertEvents(ctx, events...)
	})
	if err != nil {
		return nil, err
	}
	if g.upcoming == nil || a.StartsAt.Before(g.upcoming.StartsAt) {
		g.upcoming = a
	}
	g.publish(events)
	return a, nil
}

// appointmentVariable describes the customer's upcoming appointment for the agent.
func appointmentVariable(a *jack.Appointment, org *jack.Organization) string {
	if a == nil {
		return "None"
	}
	loc := time.UTC
	if org != nil {
		loc = org.Schedule().Location
	}
	kinds := map[string]string{jack.AppointmentTestDrive: "Test drive", jack.AppointmentSales: "Sales visit",
		jack.AppointmentService: "Service visit", jack.AppointmentDelivery: "Delivery"}
	return kinds[a.Kind] + " on " + a.StartsAt.In(loc).Format("Monday, Jan 2 at 3:04 PM") + " (" + loc.String() + ")"
}

// Appointment reminders ride on the follow-up machinery (durable reminders claimed by one node,
// fired once by the grain): a customer with an upcoming appointment gets its reminders instead
// of the cadence. Their steps are numbered from AppointmentReminderStep so they never read as a
// cadence index: the day before (24 hours ahead, moved into the customer's contact hours) and
// two hours before.
const (
	AppointmentReminderStep = 1000 // the day before
	appointmentSoonStep     = 1001 // two hours before
	dayBefore               = 24 * time.Hour
	soonBefore              = 2 * time.Hour
)

// appointmentReminder is the upcoming appointment's next reminder from now; nil when there is
// no upcoming appointment or both reminders are due already.
func (g *grain) appointmentReminder(now time.Time) *jack.Reminder {
	a := g.upcoming
	if a == nil || a.Status != jack.AppointmentConfirmed || g.lead == nil {
		return nil
	}
	r := &jack.Reminder{ID: newID(), OrganizationID: g.orgID, LeadID: g.lead.ID, Phone: g.phone,
		Status: jack.ReminderPending, CreatedAt: now}
	switch {
	case now.Before(a.StartsAt.Add(-dayBefore)):
		r.Step, r.DueAt = AppointmentReminderStep, a.StartsAt.Add(-dayBefore)
	case now.Before(a.StartsAt.Add(-soonBefore)):
		r.Step, r.DueAt = appointmentSoonStep, a.StartsAt.Add(-soonBefore)
	default:
		return nil
	}
	return r
}

// syncAppointmentReminder makes the conversation's pending reminder the upcoming appointment's
// next one (an appointment booked, moved or cancelled elsewhere), in tx. The cadence's reminder
// stays when there is no appointment.
func (g *grain) syncAppointmentReminder(ctx context.Context, tx jack.ConversationTx) error {
	pending, err := tx.FindPendingReminder(ctx, g.phone)
	if err != nil && jack.ErrorCode(err) != jack.ENOTFOUND {
		return err
	}
	next := g.appointmentReminder(tx.Now())
	switch {
	case next != nil && pending != nil && pending.Step == next.Step && pending.DueAt.Equal(next.DueAt):
		return nil // already the one
	case next != nil:
		return tx.ScheduleReminder(ctx, next)
	case pending != nil && pending.Step >= AppointmentReminderStep:
		_, err := tx.CancelReminders(ctx, g.phone) // the appointment was cancelled or moved past its reminders
		return err
	}
	return nil
}

// fireAppointmentReminder texts the customer about their appointment, once: the text's
// idempotency key is the reminder's id and the reminder is marked fired with it.
func (g *grain) fireAppointmentReminder(r *jack.Reminder) *Reply {
	ctx, cancel := g.storeCtx()
	upcoming, err := upcomingAppointment(ctx, g.e.store, g.orgID, g.phone, g.e.cfg.Now())
	cancel()
	if err != nil {
		return errorReply(err)
	}
	g.upcoming = upcoming
	if upcoming == nil || g.lead == nil || g.lead.OptedOut() {
		if err := g.inTx(func(ctx context.Context, tx jack.ConversationTx) error {
			_, err := tx.CancelReminders(ctx, g.phone)
			return err
		}); err != nil {
			return errorReply(err)
		}
		return ack()
	}
	// A reminder is the dealership starting contact: inside the customer's hours only. The
	// day-before one waits for the morning; one that would land after the start is dropped.
	now, next, err := g.nextContact()
	if err != nil {
		return errorReply(err)
	}
	if next.After(now) {
		later := *r
		later.ID, later.DueAt = newID(), next
		err := g.inTx(func(ctx context.Context, tx jack.ConversationTx) error {
			if !next.Before(upcoming.StartsAt) {
				_, err := tx.CancelReminders(ctx, g.phone)
				return err
			}
			return tx.ScheduleReminder(ctx, &later)
		})
		if err != nil {
			return errorReply(err)
		}
		return ack()
	}
	loc := time.UTC
	address := ""
	if g.org != nil {
		loc, address = g.org.Schedule().Location, g.org.Settings.Address
	}
	body := appointmentReminderText(upcoming, r.Step, loc, address)
	if _, _, _, err := g.send(outbound{body: body, key: "reminder:" + r.ID.String(), reminder: r}, nil); err != nil && jack.ErrorCode(err) != jack.ECONFLICT {
		g.log.Warn("appointment reminder failed", "reminder_id", r.ID, "err", err)
	}
	return ack()
}

// appointmentReminderText is the reminder's text: kind, day, time and address.
func appointmentReminderText(a *jack.Appointment, step int, loc *time.Location, address string) string {
	start := a.StartsAt.In(loc)
	where := ""
	if address != "" {
		where = " at " + address
	}
	kind := jack.AppointmentKindPhrase(a.Kind)
	if step == AppointmentReminderStep {
		return "Reminder: " + kind + " is booked for you tomorrow, " + jack.SlotPhrase(start) + where +
			". Reply here to reschedule or cancel."
	}
	return "See you soon! " + strings.ToUpper(kind[:1]) + kind[1:] + " today at " + start.Format("3:04 PM") + where + "."
}
