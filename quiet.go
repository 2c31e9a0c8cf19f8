package jack

import (
	"fmt"
	"slices"
	"time"

	"github.com/nyaruka/phonenumbers"
)

// Default contact hours: the dealership may start a text or a call 08:00–21:00 in the
// customer's local time.
const (
	DefaultContactStart = "08:00"
	DefaultContactEnd   = "21:00"
)

// ReplyWindow is how recent a customer's message must be for a text or call to count as a
// reply, which quiet hours allow.
const ReplyWindow = time.Hour

// ContactWindow is the part of each local day, [Start, End) in minutes after midnight, in which
// the dealership may start contact. It never spans midnight; End may be 24:00.
type ContactWindow struct{ Start, End int }

// ParseContactWindow reads "HH:MM" bounds; EUNPROCESSABLE names the bad one.
func ParseContactWindow(start, end string) (ContactWindow, error) {
	s, err1 := parseClock(start)
	e, err2 := parseClock(end)
	fields := map[string]string{}
	if err1 != nil {
		fields["settings.contactHoursStart"] = "must be a time such as 08:00"
	}
	if err2 != nil {
		fields["settings.contactHoursEnd"] = "must be a time such as 21:00"
	}
	if len(fields) == 0 && s >= e {
		fields["settings.contactHoursEnd"] = "must be after contactHoursStart (windows cannot span midnight)"
	}
	if err := ValidationError(fields); err != nil {
		return ContactWindow{}, err
	}
	return ContactWindow{Start: s, End: e}, nil
}

func parseClock(s string) (int, error) {
	if s == "24:00" { // the end of the day: 00:00–24:00 means no quiet hours
		return 24 * 60, nil
	}
	t, err := time.Parse("15:04", s)
	if err != nil {
		return 0, err
	}
	return t.Hour()*60 + t.Minute(), nil
}

// ContactWindow returns the organization's contact hours (DefaultContactStart–End when unset).
func (o *Organization) ContactWindow() ContactWindow {
	start, end := DefaultContactStart, DefaultContactEnd
	if o != nil && o.Settings.ContactHoursStart != "" && o.Settings.ContactHoursEnd != "" {
		start, end = o.Settings.ContactHoursStart, o.Settings.ContactHoursEnd
	}
	w, err := ParseContactWindow(start, end)
	if err != nil { // validated on save; a bad stored value falls back to the default
		w, _ = ParseContactWindow(DefaultContactStart, DefaultContactEnd)
	}
	return w
}

// CustomerZones returns the time zones a customer may be in: the zone of their number when the
// numbering plan tells (a Vancouver 604 number is America/Vancouver), else the organization's
// zone, else every zone the number may belong to (a toll-free number), else UTC.
func CustomerZones(phone, orgZone string) []*time.Location {
	var zones []string
	if num, err := phonenumbers.Parse(phone, ""); err == nil {
		zones, _ = phonenumbers.GetTimezonesForNumber(num)
	}
	if len(zones) > 1 || (len(zones) == 1 && zones[0] == phonenumbers.UNKNOWN_TIMEZONE) {
		if loc, err := time.LoadLocation(orgZone); err == nil && orgZone != "" {
			return []*time.Location{loc}
		}
	}
	var locs []*time.Location
	for _, z := range zones {
		if loc, err := time.LoadLocation(z); err == nil {
			locs = append(locs, loc)
		}
	}
	if len(locs) == 0 {
		if loc, err := time.LoadLocation(orgZone); err == nil && orgZone != "" {
			return []*time.Location{loc}
		}
		return []*time.Location{time.UTC}
	}
	return locs
}

// allowed reports whether t falls inside w in loc.
func (w ContactWindow) allowed(t time.Time, loc *time.Location) bool {
	l := t.In(loc)
	m := l.Hour()*60 + l.Minute()
	return m >= w.Start && m < w.End
}

// NextContactTime returns now when contact is allowed in every zone at now; otherwise the
// earliest later instant that is inside the window in every zone (when the zones are uncertain,
// the customer is protected in all of them).
func (w ContactWindow) NextContactTime(now time.Time, zones []*time.Location) time.Time {
	allowedAll := func(t time.Time) bool {
		for _, loc := range zones {
			if !w.allowed(t, loc) {
				return false
			}
		}
		return true
	}
	if allowedAll(now) {
		return now
	}
	// The answer is a window start in one of the zones.
	var candidates []time.Time
	for _, loc := range zones {
		l := now.In(loc)
		for d := 0; d <= 3; d++ {
			// time.Date, not midnight plus a duration: a day with a DST change is not 24 hours.
			start := time.Date(l.Year(), l.Month(), l.Day()+d, w.Start/60, w.Start%60, 0, 0, loc)
			if start.After(now) {
				candidates = append(candidates, start)
			}
		}
	}
	slices.SortFunc(candidates, time.Time.Compare)
	for _, c := range candidates {
		if allowedAll(c) {
			return c
		}
	}
	return now.Add(24 * time.Hour) // zones too far apart to share a window: try again tomorrow
}

// QuietHoursError is the refusal of contact outside the window: 409 quiet_hours with the next
// allowed time.
func QuietHoursError(next time.Time) error {
	return &Error{Code: ECONFLICT, Reason: "quiet_hours",
		Message: fmt.Sprintf("Outside the customer's contact hours; the next allowed time is %s.", next.UTC().Format(time.RFC3339)),
		Details: map[string]any{"nextAllowedAt": next.UTC().Format(time.RFC3339)}}
}
