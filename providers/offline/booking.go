package offline

import (
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/jack-auto/jack"
)

// Booking over SMS. With the dealership's calendar on the turn, a customer who asks to come in
// is offered the time they named when it is free, or the nearest free one; a yes books it (the
// conversation books, then sends the confirmation). The agent is stateless: what it offered is
// read back from its own last message, which always ends with one of the questions below.
const (
	askBook      = "Shall I book it?"
	askTimeOfDay = "What time works for you?"
	askDay       = "What day works for you?"
	askDayTime   = "What day and time work for you?"
	askOther     = "What other day and time work for you?"
)

var (
	bookingAsks = []string{askBook, askTimeOfDay, askDay, askDayTime, askOther, "in the morning or"}
	yesRE       = regexp.MustCompile(`(?i)^\W*(yes|yeah|yea|yep|yup|sure|ok|okay|k|sounds good|perfect|great|that works|works( for me)?|book it|please do|please|y|absolutely|definitely|correct)\b`)
	noRE        = regexp.MustCompile(`(?i)^\W*(no|nope|nah|not really|can'?t|cannot|that doesn'?t work|doesn'?t work)\b`)
	serviceRE   = regexp.MustCompile(`(?i)\b(service|oil change|maintenance|repair|tires?|inspection|recall|brakes?)\b`)
	meantRE     = regexp.MustCompile(`Did you mean (\d{1,2}) in the morning or`)
	deliveryRE  = regexp.MustCompile(`(?i)\b(deliver(y|ed)?|pick ?up (my|the) (car|truck|vehicle))\b`)
)

// kindOf reads the appointment kind from words (test drive unless they say otherwise).
func kindOf(text string) string {
	switch {
	case serviceRE.MatchString(text):
		return jack.AppointmentService
	case deliveryRE.MatchString(text):
		return jack.AppointmentDelivery
	case strings.Contains(strings.ToLower(text), "sales visit"):
		return jack.AppointmentSales
	}
	return jack.AppointmentTestDrive
}

// bookingReply answers a turn about coming in, when the calendar is known: the reply text, the
// booking to make on a yes, and whether the turn was about booking at all.
func bookingReply(turn jack.AgentTurn, text, lastAgent, vehicle string) (string, *jack.AppointmentRequest, bool) {
	cal := turn.Calendar
	loc := cmpLoc(cal.Location)
	now := turn.Now.In(loc)
	inBooking := slices.ContainsFunc(bookingAsks, func(q string) bool { return strings.Contains(lastAgent, q) })
	w := readWhen(text, now, loc)
	if m := meantRE.FindStringSubmatch(lastAgent); m != nil && w.minute < 0 && w.ambiguous == "" {
		// "evening" after "Did you mean 7 in the morning or 7 in the evening…?"
		h, _ := strconv.Atoi(m[1])
		switch lower := strings.ToLower(text); {
		case strings.Contains(lower, "morning"):
			w.minute = h * 60
		case strings.Contains(lower, "evening"), strings.Contains(lower, "night"), strings.Contains(lower, "afternoon"):
			w.minute = (h + 12) * 60
		}
	}
	said := !w.day.IsZero() || w.minute >= 0 || w.ambiguous != ""

	if strings.Contains(lastAgent, askBook) && !said {
		switch {
		case yesRE.MatchString(text):
			start := offeredSlot(lastAgent, now, loc)
			kind := kindOf(lastAgent)
			if !start.IsZero() && isFree(cal.Free, start) {
				return jack.AppointmentConfirmation(kind, start, cal.Address), &jack.AppointmentRequest{StartsAt: start, Kind: kind, Vehicle: vehicle}, true
			}
			if alt, ok := nearest(cal.Free, start); ok {
				return "Sorry, that time was just taken. The nearest free time is " + slotPhrase(alt) + ". " + askBook, nil, true
			}
			return "Sorry, that time was just taken. " + askOther, nil, true
		case noRE.MatchString(text):
			return "No problem. " + askOther, nil, true
		}
	}
	if !visitRE.MatchString(text) && (!inBooking || !said) {
		return "", nil, false
	}
	kind := kindOf(text)
	if inBooking && !serviceRE.MatchString(text) && !deliveryRE.MatchString(text) && !strings.Contains(strings.ToLower(text), "test drive") {
		kind = kindOf(lastAgent) // the kind under discussion
	}
	if inBooking { // "7pm" after "Did you mean 7 in the morning or…", "Saturday" after "What day…?"
		before := readWhen(lastAgent, now, loc)
		if w.day.IsZero() {
			w.day = before.day
		}
		if w.minute < 0 && w.ambiguous == "" && !strings.Contains(lastAgent, askTimeOfDay) {
			w.minute = before.minute
		}
	}
	switch {
	case w.ambiguous != "" && !w.day.IsZero():
		return strings.TrimSuffix(w.ambiguous, "?") + " on " + dayPhrase(w.day) + "?", nil, true
	case w.ambiguous != "":
		return w.ambiguous, nil, true
	case !w.day.IsZero() && w.minute >= 0:
		start := at(w.day, w.minute, loc)
		if isFree(cal.Free, start) {
			return "I can book " + jack.AppointmentKindPhrase(kind) + " for you on " + slotPhrase(start) + ". " + askBook, nil, true
		}
		if alt, ok := nearest(cal.Free, start); ok {
			return slotPhrase(start) + " isn't available; the nearest free time is " + slotPhrase(alt) + " for " +
				jack.AppointmentKindPhrase(kind) + ". " + askBook, nil, true
		}
		return "Sorry, I have no free times in the next two weeks. A team member will reach out to find a time.", nil, true
	case !w.day.IsZero():
		var times []string
		for _, s := range cal.Free {
			if local := s.StartsAt.In(loc); midnight(local).Equal(w.day) && len(times) < 3 {
				times = append(times, clockPhrase(local))
			}
		}
		if len(times) == 0 {
			if alt, ok := nearest(cal.Free, w.day.Add(12*time.Hour)); ok {
				return dayPhrase(w.day) + " is fully booked; the nearest free time is " + slotPhrase(alt) + " for " +
					jack.AppointmentKindPhrase(kind) + ". " + askBook, nil, true
			}
			return "Sorry, I have no free times in the next two weeks. A team member will reach out to find a time.", nil, true
		}
		return "For " + jack.AppointmentKindPhrase(kind) + " on " + dayPhrase(w.day) + " I have " + orList(times) + ". " + askTimeOfDay, nil, true
	case w.minute >= 0:
		return "Sure, " + jack.AppointmentKindPhrase(kind) + " at " + clockPhrase(at(midnight(now), w.minute, loc)) + ". " + askDay, nil, true
	}
	if len(cal.Free) > 0 {
		return "Happy to set up " + jack.AppointmentKindPhrase(kind) + "! The next free time is " + slotPhrase(cal.Free[0].StartsAt.In(loc)) + ". " + askDayTime, nil, true
	}
	return "", nil, false
}

var slotPhraseRE = regexp.MustCompile(`(Sunday|Monday|Tuesday|Wednesday|Thursday|Friday|Saturday), (Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) \d{1,2} at \d{1,2}:\d{2} (AM|PM)`)

// offeredSlot reads back the slot the agent offered last in msg (slotPhrase's form), in the
// year that puts it nearest after now; zero when msg offers none.
func offeredSlot(msg string, now time.Time, loc *time.Location) time.Time {
	all := slotPhraseRE.FindAllString(msg, -1)
	if len(all) == 0 {
		return time.Time{}
	}
	t, err := time.ParseInLocation("Monday, Jan 2 at 3:04 PM", all[len(all)-1], loc)
	if err != nil {
		return time.Time{}
	}
	for _, y := range []int{now.Year(), now.Year() + 1} {
		c := time.Date(y, t.Month(), t.Day(), t.Hour(), t.Minute(), 0, 0, loc)
		if !c.Before(midnight(now)) {
			return c
		}
	}
	return time.Time{}
}

func cmpLoc(loc *time.Location) *time.Location {
	if loc == nil {
		return time.UTC
	}
	return loc
}

// at is minute minutes after midnight of day, on the wall clock of loc; zero when unknown.
func at(day time.Time, minute int, loc *time.Location) time.Time {
	if day.IsZero() || minute < 0 {
		return time.Time{}
	}
	return time.Date(day.Year(), day.Month(), day.Day(), minute/60, minute%60, 0, 0, loc)
}

func isFree(free []jack.Slot, start time.Time) bool {
	return slices.ContainsFunc(free, func(s jack.Slot) bool { return s.StartsAt.Equal(start) })
}

// nearest is the free slot closest to t (the earlier on ties); false when none is free.
func nearest(free []jack.Slot, t time.Time) (time.Time, bool) {
	best, found := time.Time{}, false
	for _, s := range free {
		if !found || absDur(s.StartsAt.Sub(t)) < absDur(best.Sub(t)) {
			best, found = s.StartsAt, true
		}
	}
	if found {
		best = best.In(t.Location())
	}
	return best, found
}

func absDur(d time.Duration) time.Duration {
	if d < 0 {
		return -d
	}
	return d
}

func orList(items []string) string {
	if len(items) <= 1 {
		return strings.Join(items, "")
	}
	return strings.Join(items[:len(items)-1], ", ") + " or " + items[len(items)-1]
}
