package jack

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"
)

// Appointment is a customer's visit to the dealership (a test drive, a service visit …), booked
// by staff or by the AI over SMS or a call. Version counts its changes: an update naming a stale
// version is refused (optimistic concurrency).
type Appointment struct {
	ID             uuid.UUID  `json:"id"`
	OrganizationID uuid.UUID  `json:"organizationId"`
	LeadID         string     `json:"leadId"`
	Phone          string     `json:"phoneNumber"`  // the lead's E.164 phone when booked
	CustomerName   string     `json:"customerName"` // the lead's name when booked
	StartsAt       time.Time  `json:"startsAt"`
	EndsAt         time.Time  `json:"endsAt"`
	Kind           string     `json:"kind"`
	Vehicle        string     `json:"vehicle"`
	Notes          string     `json:"notes"`
	Status         string     `json:"status"`
	Source         string     `json:"source"`
	Version        int64      `json:"version"`
	CreatedBy      *uuid.UUID `json:"createdBy,omitempty"` // the staff member who booked it; nil for the AI
	UpdatedBy      *uuid.UUID `json:"updatedBy,omitempty"` // the staff member who changed it last; nil for the AI
	CreatedAt      time.Time  `json:"createdAt"`
	UpdatedAt      time.Time  `json:"updatedAt"`
}

// Appointment kinds.
const (
	AppointmentTestDrive = "test_drive"
	AppointmentSales     = "sales"
	AppointmentService   = "service"
	AppointmentDelivery  = "delivery"
)

// AppointmentKinds are the kinds an appointment may have.
var AppointmentKinds = []string{AppointmentTestDrive, AppointmentSales, AppointmentService, AppointmentDelivery}

// Appointment statuses. Only confirmed appointments take a place in their slot.
const (
	AppointmentConfirmed = "confirmed"
	AppointmentCancelled = "cancelled"
	AppointmentCompleted = "completed"
	AppointmentNoShow    = "no_show"
)

// AppointmentStatuses are the statuses an appointment may have.
var AppointmentStatuses = []string{AppointmentConfirmed, AppointmentCancelled, AppointmentCompleted, AppointmentNoShow}

// Who booked an appointment.
const (
	SourceStaff   = "staff"
	SourceAISMS   = "ai_sms"
	SourceAIVoice = "ai_voice"
)

// AppointmentSources are the sources an appointment may have.
var AppointmentSources = []string{SourceStaff, SourceAISMS, SourceAIVoice}

// Reasons of appointment errors.
const (
	ReasonSlotFull       = "slot_full"
	ReasonOutsideHours   = "outside_business_hours"
	ReasonInPast         = "in_past"
	ReasonVersionChanged = "version_conflict"
)

// Validate returns EUNPROCESSABLE naming each invalid field.
func (a *Appointment) Validate() error {
	fields := map[string]string{}
	if strings.TrimSpace(a.LeadID) == "" {
		fields["leadId"] = "is required"
	}
	if a.StartsAt.IsZero() {
		fields["startsAt"] = "is required"
	} else if !a.EndsAt.After(a.StartsAt) {
		fields["endsAt"] = "must be after startsAt"
	}
	if !slices.Contains(AppointmentKinds, a.Kind) {
		fields["kind"] = "must be one of " + strings.Join(AppointmentKinds, ", ")
	}
	if !slices.Contains(AppointmentStatuses, a.Status) {
		fields["status"] = "must be one of " + strings.Join(AppointmentStatuses, ", ")
	}
	if !slices.Contains(AppointmentSources, a.Source) {
		fields["source"] = "must be one of " + strings.Join(AppointmentSources, ", ")
	}
	if len(a.Vehicle) > 255 {
		fields["vehicle"] = "must be at most 255 characters"
	}
	if len(a.Notes) > 2000 {
		fields["notes"] = "must be at most 2000 characters"
	}
	return ValidationError(fields)
}

// AppointmentUpdate changes an appointment; nil fields change nothing. A reschedule sets
// StartsAt and EndsAt together. Version, when set, must be the appointment's current version.
type AppointmentUpdate struct {
	StartsAt  *time.Time
	EndsAt    *time.Time
	Status    *string
	Vehicle   *string
	Notes     *string
	Version   *int64
	UpdatedBy *uuid.UUID // the staff member; nil for the AI
}

// Apply sets upd's fields on a (not its version or times of change).
func (upd AppointmentUpdate) Apply(a *Appointment) {
	if upd.StartsAt != nil {
		a.StartsAt = *upd.StartsAt
	}
	if upd.EndsAt != nil {
		a.EndsAt = *upd.EndsAt
	}
	if upd.Status != nil {
		a.Status = *upd.Status
	}
	if upd.Vehicle != nil {
		a.Vehicle = *upd.Vehicle
	}
	if upd.Notes != nil {
		a.Notes = *upd.Notes
	}
	a.UpdatedBy = upd.UpdatedBy
}

// AppointmentFilter selects appointments: those starting in [From, To) (zero: unbounded), of
// one status and one lead when set, soonest first, at most Limit (MaxAppointments when 0).
type AppointmentFilter struct {
	From, To time.Time
	Status   string
	LeadID   string
	Phone    string
	Limit    int
}

// MaxAppointments bounds one listing of appointments.
const MaxAppointments = 1000

// AppointmentStore keeps appointments and the organization's calendar-feed token. Bookings and
// changes go through AppointmentTx (a conversation transaction), so their events are stored and
// numbered with them.
type AppointmentStore interface {
	// FindAppointments lists orgID's appointments matching filter, soonest first.
	FindAppointments(ctx context.Context, orgID uuid.UUID, filter AppointmentFilter) ([]*Appointment, error)
	// FindAppointmentByID returns ENOTFOUND if id is not an appointment of orgID.
	FindAppointmentByID(ctx context.Context, orgID, id uuid.UUID) (*Appointment, error)
	// SetAppointmentFeedToken stores the hash of orgID's calendar-feed token, replacing any
	// previous one (rotation).
	SetAppointmentFeedToken(ctx context.Context, orgID uuid.UUID, hash string) error
	// AppointmentFeedToken returns the hash of orgID's calendar-feed token; ENOTFOUND when none.
	AppointmentFeedToken(ctx context.Context, orgID uuid.UUID) (string, error)
	// DeleteAppointmentFeedToken revokes orgID's calendar-feed token (none: no change).
	DeleteAppointmentFeedToken(ctx context.Context, orgID uuid.UUID) error
}

// AppointmentTx books and changes appointments inside a conversation transaction.
type AppointmentTx interface {
	// CreateAppointment stores a (ID, times of change, Version 1 and the lead's phone and name
	// filled in) when fewer than capacity confirmed appointments overlap [StartsAt, EndsAt);
	// concurrent bookings of one organization are serialized, so a slot never holds more than
	// capacity. ENOTFOUND if a.LeadID is not the organization's lead, EUNPROCESSABLE for an
	// invalid appointment, ECONFLICT (reason slot_full) when the slot is full.
	CreateAppointment(ctx context.Context, a *Appointment, capacity int) error
	// UpdateAppointment applies upd and bumps the version. A change that leaves the appointment
	// confirmed at new times checks capacity as CreateAppointment does. ENOTFOUND if id is not
	// the organization's, ECONFLICT (reason version_conflict) if upd.Version is stale, ECONFLICT
	// (slot_full) when the new slot is full, EUNPROCESSABLE when the result is invalid.
	UpdateAppointment(ctx context.Context, id uuid.UUID, upd AppointmentUpdate, capacity int) (*Appointment, error)
}

// SlotFull is the error of a booking into a full slot.
func SlotFull() error {
	return ReasonErrorf(ECONFLICT, ReasonSlotFull, "That time is fully booked.")
}

// AppointmentVersionConflict is the error of a change naming a stale version.
func AppointmentVersionConflict() error {
	return ReasonErrorf(ECONFLICT, ReasonVersionChanged, "The appointment changed since you loaded it.")
}

// Appointment settings defaults.
const (
	DefaultAppointmentMinutes  = 30
	DefaultAppointmentCapacity = 2
	// DefaultDealerTimeZone is the dealership's zone when settings.timeZone is unset.
	DefaultDealerTimeZone = "America/New_York"
)

// Weekdays are the keys of BusinessHours, Sunday first as time.Weekday counts.
var Weekdays = []string{"sunday", "monday", "tuesday", "wednesday", "thursday", "friday", "saturday"}

// OpenHours are one day's opening hours ("HH:MM", the dealership's local time).
type OpenHours struct {
	Open  string `json:"open"`
	Close string `json:"close"`
}

// BusinessHours maps a weekday ("monday" … "sunday") to its hours; a missing or null day is
// closed.
type BusinessHours map[string]*OpenHours

// DefaultBusinessHours are Monday to Saturday 09:00–18:00, Sunday closed.
func DefaultBusinessHours() BusinessHours {
	h := BusinessHours{"sunday": nil}
	for _, d := range Weekdays[1:] {
		h[d] = &OpenHours{Open: "09:00", Close: "18:00"}
	}
	return h
}

// ValidateBusinessHours returns EUNPROCESSABLE naming each bad day.
func ValidateBusinessHours(h BusinessHours) error {
	fields := map[string]string{}
	for day, hours := range h {
		name := "settings.businessHours." + day
		if !slices.Contains(Weekdays, day) {
			fields[name] = "is not a weekday (monday … sunday)"
			continue
		}
		if hours == nil {
			continue
		}
		o, err1 := parseClock(hours.Open)
		c, err2 := parseClock(hours.Close)
		switch {
		case err1 != nil || o >= 24*60:
			fields[name+".open"] = "must be a time such as 09:00"
		case err2 != nil:
			fields[name+".close"] = "must be a time such as 18:00"
		case c <= o:
			fields[name+".close"] = "must be after open"
		}
	}
	return ValidationError(fields)
}

// Schedule is what availability is computed from: the organization's appointment settings
// with their defaults filled in.
type Schedule struct {
	Location *time.Location
	Hours    BusinessHours
	Slot     time.Duration
	Capacity int
}

// Schedule returns the organization's schedule (defaults for unset settings).
func (o *Organization) Schedule() Schedule {
	s := Schedule{Location: time.UTC, Hours: o.Settings.BusinessHours, Slot: DefaultAppointmentMinutes * time.Minute,
		Capacity: DefaultAppointmentCapacity}
	tz := o.Settings.TimeZone
	if tz == "" {
		tz = DefaultDealerTimeZone
	}
	if loc, err := time.LoadLocation(tz); err == nil {
		s.Location = loc
	}
	if s.Hours == nil {
		s.Hours = DefaultBusinessHours()
	}
	if m := o.Settings.AppointmentMinutes; m > 0 {
		s.Slot = time.Duration(m) * time.Minute
	}
	if c := o.Settings.AppointmentCapacity; c > 0 {
		s.Capacity = c
	}
	return s
}

// Slot is a bookable time: Free places of the schedule's capacity are left.
type Slot struct {
	StartsAt time.Time `json:"startsAt"`
	EndsAt   time.Time `json:"endsAt"`
	Free     int       `json:"free"`
}

// dayOpen returns the opening and closing instants of the day of date (its year, month, day
// read in s.Location); ok false when the day is closed.
func (s Schedule) dayOpen(y int, m time.Month, d int) (open, shut time.Time, ok bool) {
	wd := time.Date(y, m, d, 12, 0, 0, 0, s.Location).Weekday()
	h := s.Hours[Weekdays[wd]]
	if h == nil {
		return time.Time{}, time.Time{}, false
	}
	o, err1 := parseClock(h.Open)
	c, err2 := parseClock(h.Close)
	if err1 != nil || err2 != nil || c <= o {
		return time.Time{}, time.Time{}, false
	}
	// time.Date moves a wall time that a DST change skips forward; the span between two instants
	// is real (elapsed) time, so a 23- or 25-hour day has fewer or more slots when the
	// dealership is open across the change.
	open = time.Date(y, m, d, o/60, o%60, 0, 0, s.Location)
	shut = time.Date(y, m, d, c/60, c%60, 0, 0, s.Location)
	return open, shut, true
}

// Slots returns every slot of the schedule on days days from the date from (its year, month
// and day; a date in the dealership's calendar) that starts after now, with what is free of
// it given the booked appointments (only confirmed ones count), soonest first. Full slots are
// included with Free 0 when full is true, left out otherwise.
func (s Schedule) Slots(from time.Time, days int, now time.Time, booked []*Appointment, full bool) []Slot {
	out := []Slot{}
	if s.Slot <= 0 {
		return out
	}
	y, m, d := from.Date()
	for i := range days {
		open, shut, ok := s.dayOpen(y, m, d+i)
		if !ok {
			continue
		}
		for t := open; !t.Add(s.Slot).After(shut); t = t.Add(s.Slot) {
			if !t.After(now) {
				continue
			}
			slot := Slot{StartsAt: t, EndsAt: t.Add(s.Slot), Free: s.Capacity - overlapping(booked, t, t.Add(s.Slot))}
			if slot.Free < 0 {
				slot.Free = 0
			}
			if slot.Free > 0 || full {
				out = append(out, slot)
			}
		}
	}
	return out
}

// overlapping counts the confirmed appointments that overlap [start, end).
func overlapping(booked []*Appointment, start, end time.Time) int {
	n := 0
	for _, a := range booked {
		if a.Status == AppointmentConfirmed && a.StartsAt.Before(end) && a.EndsAt.After(start) {
			n++
		}
	}
	return n
}

// CheckSlot says whether an appointment may start at start: EUNPROCESSABLE with reason in_past
// when it is not after now, outside_business_hours when it is not one of the day's slots (it
// must start on the day's grid of slots and end by closing time).
func (s Schedule) CheckSlot(start, now time.Time) error {
	if !start.After(now) {
		return &Error{Code: EUNPROCESSABLE, Reason: ReasonInPast, Message: "That time is in the past.",
			Fields: map[string]string{"startsAt": "must be in the future"}}
	}
	local := start.In(s.Location)
	open, shut, ok := s.dayOpen(local.Year(), local.Month(), local.Day())
	if ok && !start.Before(open) && !start.Add(s.Slot).After(shut) && start.Sub(open)%s.Slot == 0 {
		return nil
	}
	return &Error{Code: EUNPROCESSABLE, Reason: ReasonOutsideHours, Message: "That time is outside business hours.",
		Fields: map[string]string{"startsAt": fmt.Sprintf("must be a %d-minute slot within business hours", int(s.Slot/time.Minute))}}
}

// AgentCalendar is what an AI agent knows of the dealership's calendar on one turn.
type AgentCalendar struct {
	Location *time.Location // the dealership's zone: the agent reads and says times in it
	Address  string         // where the customer comes; "" when unset
	Free     []Slot         // free slots from now on, soonest first (two weeks)
	Upcoming *Appointment   // the customer's next confirmed appointment; nil when none
}

// AppointmentRequest is a booking an AI agent asks for on the customer's yes.
type AppointmentRequest struct {
	StartsAt time.Time
	Kind     string
	Vehicle  string
}

// AppointmentKindPhrase names a kind in a sentence ("a test drive").
func AppointmentKindPhrase(kind string) string {
	switch kind {
	case AppointmentService:
		return "a service visit"
	case AppointmentDelivery:
		return "your delivery"
	case AppointmentSales:
		return "a sales visit"
	}
	return "a test drive"
}

// SlotPhrase says a time the way the AI writes it: "Saturday, Dec 12 at 10:00 AM" (t in the
// dealership's zone).
func SlotPhrase(t time.Time) string { return t.Format("Monday, Jan 2 at 3:04 PM") }

// AppointmentConfirmation is the text that confirms a booking to the customer: kind, day, time
// (start in the dealership's zone) and address.
func AppointmentConfirmation(kind string, start time.Time, address string) string {
	s := "You're booked for " + AppointmentKindPhrase(kind) + " on " + SlotPhrase(start)
	if address != "" {
		s += " at " + address
	}
	return s + ". See you then! Reply here anytime to reschedule or cancel."
}
