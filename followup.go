package jack

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"
)

// Follow-up step actions.
const (
	FollowUpSMS  = "sms"
	FollowUpCall = "call"
)

// CadenceStep is one step of an organization's follow-up cadence: when the customer has not
// answered for After since the dealership's last message (or the previous step), do Action.
type CadenceStep struct {
	After   Duration `json:"after"`             // "2h", "1d", "3d12h"
	Action  string   `json:"action"`            // sms | call
	Message string   `json:"message,omitempty"` // sms: the text, with {{variable}} placeholders (the dynamic variables)
}

// MaxCadenceSteps bounds a cadence.
const MaxCadenceSteps = 10

// ValidateCadence returns EUNPROCESSABLE naming each bad step.
func ValidateCadence(steps []CadenceStep) error {
	fields := map[string]string{}
	if len(steps) > MaxCadenceSteps {
		fields["settings.cadence"] = fmt.Sprintf("must have at most %d steps", MaxCadenceSteps)
	}
	for i, s := range steps {
		name := fmt.Sprintf("settings.cadence[%d]", i)
		switch {
		case s.After.D() < time.Minute || s.After.D() > 90*24*time.Hour:
			fields[name+".after"] = "must be between 1m and 90d"
		case s.Action != FollowUpSMS && s.Action != FollowUpCall:
			fields[name+".action"] = "must be sms or call"
		case s.Action == FollowUpSMS && strings.TrimSpace(s.Message) == "":
			fields[name+".message"] = "is required for an sms step"
		case len(s.Message) > MaxSMSLength:
			fields[name+".message"] = "must be at most 1600 characters"
		}
	}
	return ValidationError(fields)
}

// RenderFollowUp fills {{name}} placeholders of a step's message with the conversation's
// dynamic variables; unknown placeholders are left out.
func RenderFollowUp(template string, vars map[string]any) string {
	var b strings.Builder
	for {
		i := strings.Index(template, "{{")
		if i < 0 {
			b.WriteString(template)
			return strings.TrimSpace(b.String())
		}
		j := strings.Index(template[i:], "}}")
		if j < 0 {
			b.WriteString(template)
			return strings.TrimSpace(b.String())
		}
		b.WriteString(template[:i])
		name := strings.TrimSpace(template[i+2 : i+j])
		if v, ok := vars[name]; ok {
			fmt.Fprint(&b, v)
		}
		template = template[i+j+2:]
	}
}

// Reminder is a conversation's next follow-up, stored so it survives passivation and node
// loss: whichever node owns the conversation when it is due wakes it, and claiming it in the
// database makes it fire once however many nodes run.
type Reminder struct {
	ID             uuid.UUID  `json:"id"`
	OrganizationID uuid.UUID  `json:"organizationId"`
	LeadID         string     `json:"leadId"`
	Phone          string     `json:"phoneNumber"`
	Step           int        `json:"step"` // index into the organization's cadence
	DueAt          time.Time  `json:"dueAt"`
	Status         string     `json:"status"` // pending | fired | canceled
	CreatedAt      time.Time  `json:"createdAt"`
	FiredAt        *time.Time `json:"firedAt,omitempty"`
}

// Reminder statuses.
const (
	ReminderPending  = "pending"
	ReminderFired    = "fired"
	ReminderCanceled = "canceled"
)

// Duration is a time.Duration written as text ("2h", "1d", "1d12h") in JSON.
type Duration time.Duration

// D returns d as a time.Duration.
func (d Duration) D() time.Duration { return time.Duration(d) }

// ParseDuration reads Go durations plus whole days ("3d", "1d12h").
func ParseDuration(s string) (Duration, error) {
	s = strings.TrimSpace(s)
	var days int
	if i := strings.Index(s, "d"); i > 0 {
		n, err := strconv.Atoi(s[:i])
		if err != nil {
			return 0, fmt.Errorf("bad duration %q", s)
		}
		days, s = n, s[i+1:]
	}
	var rest time.Duration
	if s != "" {
		var err error
		if rest, err = time.ParseDuration(s); err != nil {
			return 0, fmt.Errorf("bad duration %q", s)
		}
	}
	return Duration(time.Duration(days)*24*time.Hour + rest), nil
}

// String writes whole days as "d" and the rest as Go does.
func (d Duration) String() string {
	days := time.Duration(d) / (24 * time.Hour)
	rest := time.Duration(d) % (24 * time.Hour)
	switch {
	case days > 0 && rest == 0:
		return strconv.Itoa(int(days)) + "d"
	case days > 0:
		return strconv.Itoa(int(days)) + "d" + shortDuration(rest)
	}
	return shortDuration(rest)
}

// shortDuration is Go's text for d without zero minutes or seconds after a larger unit: "4h",
// "1h30m", "30m" (as people write them in the cadence editor).
func shortDuration(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}

// MarshalJSON writes d as text.
func (d Duration) MarshalJSON() ([]byte, error) { return json.Marshal(d.String()) }

// UnmarshalJSON reads text ("2h", "1d").
func (d *Duration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("duration must be text such as \"2h\" or \"1d\"")
	}
	v, err := ParseDuration(s)
	if err != nil {
		return err
	}
	*d = v
	return nil
}

// MessageMedia is one attachment of an MMS (a trade-in photo, a document).
type MessageMedia struct {
	URL         string `json:"url"`         // the provider's URL; fetched with the account's credentials
	ContentType string `json:"contentType"` // e.g. image/jpeg
}
