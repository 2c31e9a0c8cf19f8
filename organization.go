package jack

import (
	"errors"
	"maps"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"
)

// Organization is a dealership: the tenant. Every other record belongs to exactly one.
type Organization struct {
	ID                   uuid.UUID            `json:"id"`
	Name                 string               `json:"name"`
	Domain               string               `json:"domain,omitempty"`
	Settings             OrganizationSettings `json:"settings"`
	DefaultPhoneNumberID *uuid.UUID           `json:"defaultPhoneNumberId,omitempty"`
	CreatedAt            time.Time            `json:"createdAt"`
}

// OrganizationSettings are the dealership's preferences (the seed's settings JSONB).
type OrganizationSettings struct {
	// DefaultRegion reads national-format customer numbers (ISO 3166-1 alpha-2). Defaults to "US".
	DefaultRegion string `json:"defaultRegion,omitempty"`
	// TimeZone is an IANA zone used when a customer's zone cannot be told from their number.
	TimeZone string `json:"timeZone,omitempty"`
	// ContactHoursStart and ContactHoursEnd ("HH:MM", customer's local time) bound when the
	// dealership may start a text or call. Default 08:00–21:00.
	ContactHoursStart string `json:"contactHoursStart,omitempty"`
	ContactHoursEnd   string `json:"contactHoursEnd,omitempty"`
	// Cadence is the follow-up cadence for leads who go quiet; empty means no follow-ups.
	Cadence []CadenceStep `json:"cadence,omitempty"`
	// BusinessHours are when customers may come in (appointments), in TimeZone (America/New_York
	// when unset). Defaults to DefaultBusinessHours.
	BusinessHours BusinessHours `json:"businessHours,omitempty"`
	// AppointmentMinutes is an appointment's length and the slot grid. Defaults to 30.
	AppointmentMinutes int `json:"appointmentMinutes,omitempty"`
	// AppointmentCapacity is how many appointments one slot holds. Defaults to 2.
	AppointmentCapacity int `json:"appointmentCapacity,omitempty"`
	// Address is where customers come for appointments; the AI's confirmations give it.
	Address string `json:"address,omitempty"`
	// AIAnswerOnResume: when staff resume the AI, it answers the customer's unanswered last
	// text (one that came in while staff had the conversation). Nil means on, the default.
	AIAnswerOnResume *bool `json:"aiAnswerOnResume,omitempty"`
	// CannedReplies are the team's saved texts; {firstName} and {vehicle} in a body are filled
	// from the lead when staff pick one.
	CannedReplies []CannedReply `json:"cannedReplies,omitempty"`
	// AIEnabledByDefault: a lead created while it is off (by a customer's text or call, the API
	// or an import) starts with the AI paused. Nil means on, the default.
	AIEnabledByDefault *bool `json:"aiEnabledByDefault,omitempty"`
	// AIInstructions are the dealership's own instructions to the AI agents (tone, what to
	// offer, what never to say), added to their prompt. At most MaxAIInstructions characters.
	AIInstructions string `json:"aiInstructions,omitempty"`
	// AIGreeting opens the AI's first reply in a conversation (and a call's first words). At
	// most MaxAIGreeting characters.
	AIGreeting string `json:"aiGreeting,omitempty"`
}

// Bounds of the AI's instructions and greeting, in characters.
const (
	MaxAIInstructions = 4000
	MaxAIGreeting     = 300
)

// AIOnByDefault reports whether new leads start with the AI answering.
func (s OrganizationSettings) AIOnByDefault() bool {
	return s.AIEnabledByDefault == nil || *s.AIEnabledByDefault
}

// StartAI readies a lead about to be created: with AI on by default off, it starts with the AI
// paused until staff resume it (the state POST /api/leads/:id/ai {"paused":true} sets).
func (s OrganizationSettings) StartAI(l *Lead, now time.Time) {
	if !s.AIOnByDefault() {
		until := PausedUntilResumed(now)
		l.AIPausedUntil = &until
	}
}

// PausedUntilResumed is the AI-paused-until time of a pause that lasts until staff resume the AI.
func PausedUntilResumed(now time.Time) time.Time { return now.AddDate(100, 0, 0) }

// CannedReply is one saved text of the team.
type CannedReply struct {
	Title string `json:"title"`
	Body  string `json:"body"`
}

// MaxCannedReplies bounds an organization's saved texts.
const MaxCannedReplies = 50

// validateCannedReplies adds the problems of replies to fields.
func validateCannedReplies(fields map[string]string, replies []CannedReply) {
	if len(replies) > MaxCannedReplies {
		fields["settings.cannedReplies"] = "must hold at most 50 replies"
		return
	}
	for i, r := range replies {
		name := "settings.cannedReplies[" + strconv.Itoa(i) + "]"
		switch {
		case strings.TrimSpace(r.Title) == "" || len(r.Title) > 60:
			fields[name+".title"] = "must be 1 to 60 characters"
		case strings.TrimSpace(r.Body) == "" || utf8.RuneCountInString(r.Body) > MaxSMSLength:
			fields[name+".body"] = "must be 1 to 1600 characters"
		}
	}
}

// AnswersOnResume reports whether the AI answers an unanswered text when staff resume it.
func (s OrganizationSettings) AnswersOnResume() bool {
	return s.AIAnswerOnResume == nil || *s.AIAnswerOnResume
}

// Region returns the organization's phone region, DefaultRegion when unset.
func (o *Organization) Region() string {
	if o == nil || o.Settings.DefaultRegion == "" {
		return DefaultRegion
	}
	return o.Settings.DefaultRegion
}

// Validate returns EUNPROCESSABLE naming each invalid field.
func (o *Organization) Validate() error {
	fields := map[string]string{}
	if strings.TrimSpace(o.Name) == "" {
		fields["organizationName"] = "is required"
	} else if len(o.Name) > 255 {
		fields["organizationName"] = "must be at most 255 characters"
	}
	if r := o.Settings.DefaultRegion; r != "" && !ValidRegion(r) {
		fields["settings.defaultRegion"] = "is not a known region code"
	}
	if st, en := o.Settings.ContactHoursStart, o.Settings.ContactHoursEnd; st != "" || en != "" {
		if _, err := ParseContactWindow(st, en); err != nil {
			var e *Error
			if errors.As(err, &e) {
				maps.Copy(fields, e.Fields)
			}
		}
	}
	if err := ValidateCadence(o.Settings.Cadence); err != nil {
		var e *Error
		if errors.As(err, &e) {
			maps.Copy(fields, e.Fields)
		}
	}
	if err := ValidateBusinessHours(o.Settings.BusinessHours); err != nil {
		var e *Error
		if errors.As(err, &e) {
			maps.Copy(fields, e.Fields)
		}
	}
	if m := o.Settings.AppointmentMinutes; m != 0 && (m < 5 || m > 480) {
		fields["settings.appointmentMinutes"] = "must be between 5 and 480"
	}
	if c := o.Settings.AppointmentCapacity; c != 0 && (c < 1 || c > 100) {
		fields["settings.appointmentCapacity"] = "must be between 1 and 100"
	}
	if len(o.Settings.Address) > 255 {
		fields["settings.address"] = "must be at most 255 characters"
	}
	validateCannedReplies(fields, o.Settings.CannedReplies)
	if utf8.RuneCountInString(o.Settings.AIInstructions) > MaxAIInstructions {
		fields["settings.aiInstructions"] = "must be at most 4000 characters"
	}
	if utf8.RuneCountInString(o.Settings.AIGreeting) > MaxAIGreeting {
		fields["settings.aiGreeting"] = "must be at most 300 characters"
	}
	if tz := o.Settings.TimeZone; tz != "" {
		if _, err := time.LoadLocation(tz); err != nil {
			fields["settings.timeZone"] = "is not a known IANA time zone"
		}
	}
	return ValidationError(fields)
}

// OrganizationUpdate holds the fields of an organization that may change; nil means unchanged.
type OrganizationUpdate struct {
	Name     *string               `json:"name"`
	Domain   *string               `json:"domain"`
	Settings *OrganizationSettings `json:"settings"`
}
