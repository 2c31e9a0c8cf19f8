package http

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/google/uuid"

	"github.com/jack-auto/jack"
)

// maxAvailabilityDays bounds one availability query.
const maxAvailabilityDays = 31

// appointmentSettings merges a PATCH /api/organization's appointment settings into settings.
// businessHours replaces the whole week: a day left out is stored as closed (null).
func appointmentSettings(settings *jack.OrganizationSettings, hours *jack.BusinessHours, minutes, capacity *int) {
	if hours != nil {
		week := jack.BusinessHours{}
		for _, d := range jack.Weekdays {
			week[d] = nil
		}
		for d, h := range *hours {
			week[d] = h // unknown days stay, so validation names them
		}
		settings.BusinessHours = week
	}
	if minutes != nil {
		settings.AppointmentMinutes = *minutes
		if *minutes == 0 {
			settings.AppointmentMinutes = -1 // 0 is "unset": refuse it like any other bad length
		}
	}
	if capacity != nil {
		settings.AppointmentCapacity = *capacity
		if *capacity == 0 {
			settings.AppointmentCapacity = -1
		}
	}
}

// availability answers {"timeZone", "slots": [{startsAt, endsAt, free}]}: the free slots of
// days days from the date from (the dealership's calendar; default today, 7 days).
func (s *Server) availability(c *fiber.Ctx) error {
	orgID := principal(c).OrganizationID
	org, err := s.store.FindOrganizationByID(c.UserContext(), orgID)
	if err != nil {
		return err
	}
	if kind := c.Query("kind"); kind != "" && !slices.Contains(jack.AppointmentKinds, kind) {
		return invalidQuery("kind", "must be one of "+strings.Join(jack.AppointmentKinds, ", "))
	}
	sched := org.Schedule()
	now := s.cfg.Now()
	from := now.In(sched.Location)
	if v := c.Query("from"); v != "" {
		if from, err = time.ParseInLocation(time.DateOnly, v, sched.Location); err != nil {
			return invalidQuery("from", "must be a date such as 2026-12-12")
		}
	}
	days := 7
	if v := c.Query("days"); v != "" {
		if days, err = strconv.Atoi(v); err != nil || days < 1 || days > maxAvailabilityDays {
			return invalidQuery("days", "must be an integer from 1 to "+strconv.Itoa(maxAvailabilityDays))
		}
	}
	slots, err := freeSlots(c.UserContext(), s.store, org, from, days, now)
	if err != nil {
		return err
	}
	return c.JSON(fiber.Map{"timeZone": sched.Location.String(), "slots": slots})
}

// freeSlots returns org's free slots of days days from the date from.
func freeSlots(ctx context.Context, store jack.Store, org *jack.Organization, from time.Time, days int, now time.Time) ([]jack.Slot, error) {
	sched := org.Schedule()
	y, m, d := from.Date()
	start := time.Date(y, m, d, 0, 0, 0, 0, sched.Location)
	booked, err := store.FindAppointments(ctx, org.ID, jack.AppointmentFilter{
		From: start.Add(-24 * time.Hour), To: time.Date(y, m, d+days+1, 0, 0, 0, 0, sched.Location),
		Status: jack.AppointmentConfirmed})
	if err != nil {
		return nil, err
	}
	return sched.Slots(start, days, now, booked, false), nil
}

type appointmentRequest struct {
	StartsAt *string `json:"startsAt"` // RFC 3339
	Kind     *string `json:"kind"`
	Vehicle  *string `json:"vehicle"`
	Notes    *string `json:"notes"`
	Status   *string `json:"status"`
	Version  *int64  `json:"version"`
}

// createAppointment books the lead id: 201 with the appointment; 409 (slot_full) when its slot
// is full, 422 outside business hours or in the past.
func (s *Server) createAppointment(c *fiber.Ctx) error {
	var req appointmentRequest
	if err := decodeJSON(c, &req); err != nil {
		return err
	}
	p := principal(c)
	fields := map[string]string{}
	if req.Version != nil {
		fields["version"] = "is only for updates"
	}
	if req.Status != nil {
		fields["status"] = "is only for updates"
	}
	start := startsAt(fields, req.StartsAt)
	if req.StartsAt == nil {
		fields["startsAt"] = "is required"
	}
	a := &jack.Appointment{LeadID: c.Params("id"), Kind: value(req.Kind), Source: jack.SourceStaff,
		Status: jack.AppointmentConfirmed, CreatedBy: &p.UserID}
	a.Vehicle = textField(fields, "vehicle", value(req.Vehicle), 255, false)
	a.Notes = textField(fields, "notes", value(req.Notes), 2000, false)
	if a.Kind == "" {
		a.Kind = jack.AppointmentTestDrive
	}
	if !slices.Contains(jack.AppointmentKinds, a.Kind) {
		fields["kind"] = "must be one of " + strings.Join(jack.AppointmentKinds, ", ")
	}
	if err := jack.ValidationError(fields); err != nil {
		return err
	}
	a.StartsAt = *start
	if _, err := s.store.FindLeadByID(c.UserContext(), p.OrganizationID, a.LeadID); err != nil {
		return err // another organization's lead is 404 before anything is said about its slots
	}
	if err := s.bookAppointment(c.UserContext(), p.OrganizationID, a); err != nil {
		return err
	}
	return sendAppointment(c, fiber.StatusCreated, a)
}

// bookAppointment checks a's start against orgID's schedule, stores it when its slot has room
// and publishes appointment_booked. a.EndsAt is set from the schedule.
func (s *Server) bookAppointment(ctx context.Context, orgID uuid.UUID, a *jack.Appointment) error {
	org, err := s.store.FindOrganizationByID(ctx, orgID)
	if err != nil {
		return err
	}
	sched := org.Schedule()
	if err := sched.CheckSlot(a.StartsAt, s.cfg.Now()); err != nil {
		return err
	}
	a.EndsAt = a.StartsAt.Add(sched.Slot)
	return s.commitAppointment(ctx, orgID, jack.EventAppointmentBooked, func(tx jack.ConversationTx) (*jack.Appointment, error) {
		return a, tx.CreateAppointment(ctx, a, sched.Capacity)
	})
}

// commitAppointment runs fn in a conversation transaction of orgID with the event of type typ
// about the appointment it returns, then publishes the event.
func (s *Server) commitAppointment(ctx context.Context, orgID uuid.UUID, typ string,
	fn func(tx jack.ConversationTx) (*jack.Appointment, error)) error {
	var ev *jack.Event
	err := s.store.InConversationTx(ctx, orgID, func(tx jack.ConversationTx) error {
		a, err := fn(tx)
		if err != nil {
			return err
		}
		ev = jack.NewEvent(typ, orgID, a.LeadID, a.Phone, tx.Now(), a)
		return tx.InsertEvents(ctx, ev)
	})
	if err != nil {
		return err
	}
	if s.broker != nil {
		if err := s.broker.Publish(context.WithoutCancel(ctx), ev); err != nil {
			// Stored with its change: dashboards fill the gap from the Store.
			s.log.WarnContext(ctx, "publish appointment event", "err", err, "org_id", orgID)
		}
	}
	// The conversation reloads its upcoming appointment and reschedules its reminders.
	if s.conv != nil {
		if err := s.conv.LeadChanged(context.WithoutCancel(ctx), orgID, ev.PhoneNumber, false); err != nil {
			s.log.WarnContext(ctx, "notify conversation of appointment change", "err", err, "org_id", orgID)
		}
	}
	return nil
}

// listAppointments answers {"appointments":[...]}: orgID's appointments starting in
// [from, to) (RFC 3339 times or dates in the dealership's zone), of one status when given.
func (s *Server) listAppointments(c *fiber.Ctx) error {
	orgID := principal(c).OrganizationID
	org, err := s.store.FindOrganizationByID(c.UserContext(), orgID)
	if err != nil {
		return err
	}
	loc := org.Schedule().Location
	filter := jack.AppointmentFilter{Status: c.Query("status"), LeadID: c.Query("leadId")}
	if filter.Status != "" && !slices.Contains(jack.AppointmentStatuses, filter.Status) {
		return invalidQuery("status", "must be one of "+strings.Join(jack.AppointmentStatuses, ", "))
	}
	if filter.From, err = queryTimeIn(c, "from", loc); err != nil {
		return err
	}
	if filter.To, err = queryTimeIn(c, "to", loc); err != nil {
		return err
	}
	list, err := s.store.FindAppointments(c.UserContext(), orgID, filter)
	if err != nil {
		return err
	}
	return c.JSON(fiber.Map{"appointments": nonNil(list)})
}

// queryTimeIn reads an optional time query parameter: RFC 3339, or a date (midnight in loc).
func queryTimeIn(c *fiber.Ctx, name string, loc *time.Location) (time.Time, error) {
	v := c.Query(name)
	if v == "" {
		return time.Time{}, nil
	}
	if t, err := time.Parse(time.RFC3339, v); err == nil {
		return t, nil
	}
	if t, err := time.ParseInLocation(time.DateOnly, v, loc); err == nil {
		return t, nil
	}
	return time.Time{}, invalidQuery(name, "must be a date (2026-12-12) or an RFC 3339 time")
}

func appointmentID(c *fiber.Ctx) (uuid.UUID, error) {
	id, err := uuid.Parse(c.Params("id"))
	if err != nil {
		return uuid.Nil, jack.Errorf(jack.ENOTFOUND, "Appointment not found.")
	}
	return id, nil
}

// getAppointment answers one appointment with its version as ETag.
func (s *Server) getAppointment(c *fiber.Ctx) error {
	id, err := appointmentID(c)
	if err != nil {
		return err
	}
	a, err := s.store.FindAppointmentByID(c.UserContext(), principal(c).OrganizationID, id)
	if err != nil {
		return err
	}
	return sendAppointment(c, fiber.StatusOK, a)
}

// patchAppointment reschedules (startsAt) or sets the status (cancelled, completed, no_show,
// or confirmed again); version in the body or If-Match makes it conditional (409 when stale).
func (s *Server) patchAppointment(c *fiber.Ctx) error {
	var req appointmentRequest
	if err := decodeJSON(c, &req); err != nil {
		return err
	}
	id, err := appointmentID(c)
	if err != nil {
		return err
	}
	p := principal(c)
	ctx := c.UserContext()
	if _, err := s.store.FindAppointmentByID(ctx, p.OrganizationID, id); err != nil {
		return err
	}
	fields := map[string]string{}
	start := startsAt(fields, req.StartsAt)
	if req.Kind != nil {
		fields["kind"] = "cannot change; cancel and book again"
	}
	if req.Status != nil && !slices.Contains(jack.AppointmentStatuses, *req.Status) {
		fields["status"] = "must be one of " + strings.Join(jack.AppointmentStatuses, ", ")
	}
	upd := jack.AppointmentUpdate{Status: req.Status, UpdatedBy: &p.UserID}
	if req.Vehicle != nil {
		v := textField(fields, "vehicle", *req.Vehicle, 255, false)
		upd.Vehicle = &v
	}
	if req.Notes != nil {
		v := textField(fields, "notes", *req.Notes, 2000, false)
		upd.Notes = &v
	}
	if err := jack.ValidationError(fields); err != nil {
		return err
	}
	if upd.Version, err = ifMatchVersion(c, req.Version); err != nil {
		return err
	}
	org, err := s.store.FindOrganizationByID(ctx, p.OrganizationID)
	if err != nil {
		return err
	}
	sched := org.Schedule()
	if start != nil {
		if err := sched.CheckSlot(*start, s.cfg.Now()); err != nil {
			return err
		}
		end := start.Add(sched.Slot)
		upd.StartsAt, upd.EndsAt = start, &end
	}
	var a *jack.Appointment
	err = s.commitAppointment(ctx, p.OrganizationID, jack.EventAppointmentUpdated, func(tx jack.ConversationTx) (_ *jack.Appointment, err error) {
		a, err = tx.UpdateAppointment(ctx, id, upd, sched.Capacity)
		return a, err
	})
	if err != nil {
		return err
	}
	return sendAppointment(c, fiber.StatusOK, a)
}

// startsAt reads the request's startsAt (RFC 3339) and names it in fields when malformed.
func startsAt(fields map[string]string, v *string) *time.Time {
	if v == nil {
		return nil
	}
	t, err := time.Parse(time.RFC3339, strings.TrimSpace(*v))
	if err != nil {
		fields["startsAt"] = "must be an RFC 3339 time such as 2026-12-12T10:00:00-05:00"
		return nil
	}
	return &t
}

// sendAppointment answers an appointment with its version as ETag, for If-Match.
func sendAppointment(c *fiber.Ctx, status int, a *jack.Appointment) error {
	c.Set(fiber.HeaderETag, strconv.Quote(strconv.FormatInt(a.Version, 10)))
	return c.Status(status).JSON(a)
}

// Calendar-feed tokens are "<organization id>.<secret>": the id scopes the lookup to one
// organization (no tenant-free query), the secret is compared with the stored SHA-256.

// createFeedToken issues the organization's calendar-feed token, replacing (revoking) any
// previous one: {token, url}. The token is shown once.
func (s *Server) createFeedToken(c *fiber.Ctx) error {
	orgID := principal(c).OrganizationID
	secret := make([]byte, 32)
	_, _ = rand.Read(secret)
	token := orgID.String() + "." + base64.RawURLEncoding.EncodeToString(secret)
	if err := s.store.SetAppointmentFeedToken(c.UserContext(), orgID, hashFeedToken(token)); err != nil {
		return err
	}
	base := strings.TrimRight(s.cfg.ServerURL, "/")
	if base == "" {
		base = c.BaseURL()
	}
	return c.Status(fiber.StatusCreated).JSON(fiber.Map{"token": token,
		"url": base + "/api/appointments/calendar.ics?token=" + token})
}

// deleteFeedToken revokes the organization's calendar-feed token; 204.
func (s *Server) deleteFeedToken(c *fiber.Ctx) error {
	if err := s.store.DeleteAppointmentFeedToken(c.UserContext(), principal(c).OrganizationID); err != nil {
		return err
	}
	return c.SendStatus(fiber.StatusNoContent)
}

func hashFeedToken(token string) string {
	sum := sha256.Sum256([]byte(token))
	return hex.EncodeToString(sum[:])
}

// feedOrganization returns the organization a calendar-feed token belongs to; 401 for a
// malformed, unknown, rotated or revoked token.
func (s *Server) feedOrganization(c *fiber.Ctx) (uuid.UUID, error) {
	bad := jack.Errorf(jack.EUNAUTHORIZED, "The calendar feed token is invalid or was revoked.")
	token := c.Query("token")
	orgPart, _, ok := strings.Cut(token, ".")
	if !ok {
		return uuid.Nil, bad
	}
	orgID, err := uuid.Parse(orgPart)
	if err != nil {
		return uuid.Nil, bad
	}
	hash, err := s.store.AppointmentFeedToken(c.UserContext(), orgID)
	if jack.ErrorCode(err) == jack.ENOTFOUND {
		return uuid.Nil, bad
	} else if err != nil {
		return uuid.Nil, err
	}
	if subtle.ConstantTimeCompare([]byte(hashFeedToken(token)), []byte(hash)) != 1 {
		return uuid.Nil, bad
	}
	return orgID, nil
}

// calendarFeed answers the organization's appointments from 30 days ago on as an RFC 5545
// calendar (text/calendar), one VEVENT per appointment; cancelled ones are CANCELLED so
// subscribed calendars drop them.
func (s *Server) calendarFeed(c *fiber.Ctx) error {
	orgID, err := s.feedOrganization(c)
	if err != nil {
		return err
	}
	ctx := c.UserContext()
	org, err := s.store.FindOrganizationByID(ctx, orgID)
	if err != nil {
		return err
	}
	list, err := s.store.FindAppointments(ctx, orgID, jack.AppointmentFilter{From: s.cfg.Now().Add(-30 * 24 * time.Hour)})
	if err != nil {
		return err
	}
	c.Set(fiber.HeaderContentType, "text/calendar; charset=utf-8")
	c.Set(fiber.HeaderCacheControl, "private, max-age=300")
	return c.SendString(calendarICS(org, list, s.cfg.Now()))
}
