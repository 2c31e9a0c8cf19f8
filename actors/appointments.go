package actors

import (
	"context"
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
	a, err := g.bookAppointment(req, source)
	body := reply.Text
	switch {
	case jack.ErrorReason(err) == jack.ReasonSlotFull || jack.ErrorCode(err) == jack.EUNPROCESSABLE:
		body = "Sorry, that time was just taken. What other day and time work for you?"
	case err != nil:
		g.log.Warn("AI booking failed", "err", err)
		g.recordAgentFailure(err)
		return
	default:
		g.upcoming = a
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
		events = []*jack.Event{jack.NewEvent(jack.EventAppointmentBooked, g.orgID, a.LeadID, a.Phone, tx.Now(), a)}
		return tx.InsertEvents(ctx, events...)
	})
	if err != nil {
		return nil, err
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
