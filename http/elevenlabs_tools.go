package http

import (
	"context"
	"encoding/json"
	"slices"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/google/uuid"

	"github.com/jack-auto/jack"
)

// ElevenLabs server tools: the voice agent checks availability and books during a call. Each
// tool is configured in ElevenLabs with the same secret header as the conversation-initiation
// webhook and a JSON body whose caller_id and called_number are the system dynamic variables
// {{system__caller_id}} and {{system__called_number}}; the rest are the LLM's parameters. The
// answers are JSON the agent reads aloud: a "message" sentence plus the data. An outcome such as
// a full slot is a 200 with booked false (the agent should say it), not an HTTP error.

type toolRequest struct {
	CallerID     string `json:"caller_id"`
	CalledNumber string `json:"called_number"`
	// check-availability: a date (YYYY-MM-DD, the dealership's calendar; default today) and
	// how many days (default 1, at most 14).
	Date string `json:"date"`
	Days int    `json:"days"`
	// book-appointment: the slot's start, RFC 3339 or the dealership's wall clock
	// ("2026-12-12T10:00"), and what the visit is for.
	StartsAt string `json:"starts_at"`
	Kind     string `json:"kind"`
	Vehicle  string `json:"vehicle"`
	Notes    string `json:"notes"`
}

// toolCaller reads a tool request and finds the organization and the caller.
func (s *Server) toolCaller(c *fiber.Ctx) (toolRequest, uuid.UUID, string, error) {
	var req toolRequest
	if err := json.Unmarshal(cleanJSON(c.Request().Body()), &req); err != nil {
		return req, uuid.Nil, "", jack.Errorf(jack.EINVALID, "Tool body is not valid JSON.")
	}
	caller, err := jack.NormalizePhone(req.CallerID, "")
	if err != nil {
		return req, uuid.Nil, "", &jack.Error{Code: jack.EINVALID, Message: "caller_id is not a phone number.", Fields: map[string]string{"caller_id": "is required"}}
	}
	var called string
	if req.CalledNumber != "" {
		if called, err = jack.NormalizePhone(req.CalledNumber, ""); err != nil {
			return req, uuid.Nil, "", &jack.Error{Code: jack.EINVALID, Message: "called_number is not a phone number.", Fields: map[string]string{"called_number": "is not a phone number"}}
		}
	}
	orgID, err := s.router.resolve(c.UserContext(), called, caller)
	if jack.ErrorCode(err) == jack.ENOTFOUND {
		return req, uuid.Nil, "", jack.Errorf(jack.ENOTFOUND, "No organization owns the called number.")
	}
	return req, orgID, caller, err
}

// toolCheckAvailability answers {"message", "timeZone", "slots": [{"startsAt", "label"}]}.
func (s *Server) toolCheckAvailability(c *fiber.Ctx) error {
	req, orgID, _, err := s.toolCaller(c)
	if err != nil {
		return err
	}
	org, err := s.store.FindOrganizationByID(c.UserContext(), orgID)
	if err != nil {
		return err
	}
	sched := org.Schedule()
	now := s.cfg.Now()
	from := now.In(sched.Location)
	if req.Date != "" {
		if from, err = time.ParseInLocation(time.DateOnly, req.Date, sched.Location); err != nil {
			return &jack.Error{Code: jack.EUNPROCESSABLE, Message: "date must be YYYY-MM-DD.", Fields: map[string]string{"date": "must be a date such as 2026-12-12"}}
		}
	}
	days := min(max(req.Days, 1), 14)
	slots, err := freeSlots(c.UserContext(), s.store, org, from, days, now)
	if err != nil {
		return err
	}
	type toolSlot struct {
		StartsAt string `json:"startsAt"`
		Label    string `json:"label"`
	}
	out := []toolSlot{}
	var labels []string
	for _, sl := range slots {
		local := sl.StartsAt.In(sched.Location)
		out = append(out, toolSlot{StartsAt: local.Format(time.RFC3339), Label: jack.SlotPhrase(local)})
		if len(labels) < 6 {
			labels = append(labels, jack.SlotPhrase(local))
		}
	}
	msg := "There are no free times then."
	if len(labels) > 0 {
		msg = "Free times: " + strings.Join(labels, "; ") + "."
	}
	return c.JSON(fiber.Map{"message": msg, "timeZone": sched.Location.String(), "slots": out})
}

// toolBookAppointment books the caller (source ai_voice) and texts them the confirmation:
// {"booked": true, "message", "appointment"}, or {"booked": false, "message"} when the time
// is taken, in the past or outside business hours.
func (s *Server) toolBookAppointment(c *fiber.Ctx) error {
	req, orgID, caller, err := s.toolCaller(c)
	if err != nil {
		return err
	}
	ctx := c.UserContext()
	org, err := s.store.FindOrganizationByID(ctx, orgID)
	if err != nil {
		return err
	}
	sched := org.Schedule()
	start, err := time.Parse(time.RFC3339, req.StartsAt)
	if err != nil {
		if start, err = time.ParseInLocation("2006-01-02T15:04", req.StartsAt, sched.Location); err != nil {
			return &jack.Error{Code: jack.EUNPROCESSABLE, Message: "starts_at must be a time such as 2026-12-12T10:00.",
				Fields: map[string]string{"starts_at": "must be a time such as 2026-12-12T10:00"}}
		}
	}
	kind := req.Kind
	if kind == "" {
		kind = jack.AppointmentTestDrive
	}
	a := &jack.Appointment{StartsAt: start, Kind: kind, Vehicle: strings.TrimSpace(req.Vehicle),
		Notes: strings.TrimSpace(req.Notes), Source: jack.SourceAIVoice, Status: jack.AppointmentConfirmed}
	fields := map[string]string{}
	if !slices.Contains(jack.AppointmentKinds, a.Kind) {
		fields["kind"] = "must be one of " + strings.Join(jack.AppointmentKinds, ", ")
	}
	a.Vehicle = textField(fields, "vehicle", a.Vehicle, 255, false)
	a.Notes = textField(fields, "notes", a.Notes, 2000, false)
	if err := jack.ValidationError(fields); err != nil {
		return err
	}
	lead, err := s.callerLead(ctx, orgID, caller)
	if err != nil {
		return err
	}
	a.LeadID = lead.ID
	err = s.bookAppointment(ctx, orgID, a)
	switch {
	case jack.ErrorReason(err) == jack.ReasonSlotFull:
		return c.JSON(fiber.Map{"booked": false, "message": jack.SlotPhrase(start.In(sched.Location)) + " is fully booked. Offer another time."})
	case jack.ErrorReason(err) == jack.ReasonInPast || jack.ErrorReason(err) == jack.ReasonOutsideHours:
		return c.JSON(fiber.Map{"booked": false, "message": jack.ErrorMessage(err) + " Offer a free time from check-availability."})
	case err != nil:
		return err
	}
	text := jack.AppointmentConfirmation(a.Kind, a.StartsAt.In(sched.Location), org.Settings.Address)
	if _, err := s.conv.SendSMS(context.WithoutCancel(ctx), orgID, jack.OutboundSMS{To: caller, Body: text,
		IdempotencyKey: "appointment:" + a.ID.String()}); err != nil {
		// The booking stands; staff see it on the calendar even if the text could not go.
		s.log.WarnContext(ctx, "appointment confirmation text not sent", "err", err, "org_id", orgID, "request_id", requestIDOf(c))
	}
	return c.JSON(fiber.Map{"booked": true, "message": "Booked " + jack.AppointmentKindPhrase(a.Kind) + " on " +
		jack.SlotPhrase(a.StartsAt.In(sched.Location)) + ". A confirmation text is on its way.", "appointment": a})
}

// callerLead returns the organization's lead of the caller, creating it when the call is the
// customer's first contact.
func (s *Server) callerLead(ctx context.Context, orgID uuid.UUID, caller string) (*jack.Lead, error) {
	lead, err := s.store.FindLeadByPhone(ctx, orgID, caller)
	if jack.ErrorCode(err) != jack.ENOTFOUND {
		return lead, err
	}
	lead = jack.NewLead(orgID, jack.DisplayPhone(caller), caller, s.cfg.Now())
	org, err := s.store.FindOrganizationByID(ctx, orgID)
	if err != nil {
		return nil, err
	}
	org.Settings.StartAI(lead, lead.CreatedAt)
	if err := s.store.CreateLead(ctx, orgID, lead); jack.ErrorCode(err) == jack.ECONFLICT {
		return s.store.FindLeadByPhone(ctx, orgID, caller) // created meanwhile
	} else if err != nil {
		return nil, err
	}
	return lead, nil
}
