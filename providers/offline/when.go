package offline

import (
	"github.com/jack-auto/jack"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// Reading a day and a time from a customer's words, deterministically, in the dealership's
// time zone: "Saturday", "tomorrow", "today", "Dec 12", "December 12th", "12/12" for the day;
// "10am", "10 am", "3:30 pm", "noon", "at 10" for the time.

// when is what a text says about a visit's time.
type when struct {
	day       time.Time // midnight of the day in the dealership's zone; zero when unsaid
	minute    int       // minutes after midnight; -1 when unsaid
	ambiguous string    // a clarifying question when the words fit more than one time
}

var (
	monthNames = map[string]time.Month{
		"jan": 1, "january": 1, "feb": 2, "february": 2, "mar": 3, "march": 3, "apr": 4, "april": 4, "may": 5,
		"jun": 6, "june": 6, "jul": 7, "july": 7, "aug": 8, "august": 8, "sep": 9, "sept": 9, "september": 9,
		"oct": 10, "october": 10, "nov": 11, "november": 11, "dec": 12, "december": 12,
	}
	weekdayNames = map[string]time.Weekday{
		"sun": 0, "sunday": 0, "mon": 1, "monday": 1, "tue": 2, "tues": 2, "tuesday": 2, "wed": 3, "wednesday": 3,
		"thu": 4, "thur": 4, "thurs": 4, "thursday": 4, "fri": 5, "friday": 5, "sat": 6, "saturday": 6,
	}
	monthDayRE   = regexp.MustCompile(`(?i)\b(jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?|sept?(?:ember)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)\.?\s+(\d{1,2})(?:st|nd|rd|th)?\b`)
	slashDateRE  = regexp.MustCompile(`\b(\d{1,2})/(\d{1,2})\b`)
	weekdayRE    = regexp.MustCompile(`(?i)\b(next\s+)?(sun(?:day)?|mon(?:day)?|tue(?:s|sday)?|wed(?:nesday)?|thu(?:r|rs|rsday)?|fri(?:day)?|sat(?:urday)?)\b`)
	relDayRE     = regexp.MustCompile(`(?i)\b(today|tonight|tomorrow|tmrw|tmr)\b`)
	visitClockRE = regexp.MustCompile(`(?i)\b(\d{1,2})(?::(\d{2}))?\s*(a\.?m\.?|p\.?m\.?)(?:\W|$)`)
	atHourRE     = regexp.MustCompile(`(?i)\b(?:at|@|around|by)\s+(\d{1,2})(?::(\d{2}))?\b`)
	noonRE       = regexp.MustCompile(`(?i)\b(noon|midday)\b`)
)

// readWhen reads the day and time text names, relative to now (both in loc).
func readWhen(text string, now time.Time, loc *time.Location) when {
	w := when{minute: -1}
	today := midnight(now.In(loc))
	switch m := relDayRE.FindStringSubmatch(text); {
	case m != nil && strings.HasPrefix(strings.ToLower(m[1]), "to") && strings.ToLower(m[1]) != "tomorrow":
		w.day = today
	case m != nil:
		w.day = today.AddDate(0, 0, 1)
	}
	if m := weekdayRE.FindStringSubmatch(text); m != nil && w.day.IsZero() {
		wd := weekdayNames[strings.ToLower(m[2])]
		d := today // "Saturday" on a Saturday is today; "next Saturday" is a week on
		if m[1] != "" {
			d = d.AddDate(0, 0, 1)
		}
		for d.Weekday() != wd {
			d = d.AddDate(0, 0, 1)
		}
		w.day = d
	}
	if m := monthDayRE.FindStringSubmatch(text); m != nil {
		day, _ := strconv.Atoi(m[2])
		w.day = nextDate(today, monthNames[strings.ToLower(strings.TrimSuffix(m[1], "."))], day, loc)
	} else if m := slashDateRE.FindStringSubmatch(text); m != nil && w.day.IsZero() {
		month, _ := strconv.Atoi(m[1])
		day, _ := strconv.Atoi(m[2])
		if month >= 1 && month <= 12 {
			w.day = nextDate(today, time.Month(month), day, loc)
		}
	}

	switch {
	case visitClockRE.MatchString(text):
		m := visitClockRE.FindStringSubmatch(text)
		h, _ := strconv.Atoi(m[1])
		mins, _ := strconv.Atoi(m[2])
		if h >= 1 && h <= 12 && mins < 60 {
			h %= 12
			if strings.HasPrefix(strings.ToLower(m[3]), "p") {
				h += 12
			}
			w.minute = h*60 + mins
		}
	case noonRE.MatchString(text):
		w.minute = 12 * 60
	case atHourRE.MatchString(text):
		m := atHourRE.FindStringSubmatch(text)
		h, _ := strconv.Atoi(m[1])
		mins, _ := strconv.Atoi(m[2])
		switch {
		case mins >= 60 || h > 23:
		case h >= 13 || h == 0:
			w.minute = h*60 + mins // 24-hour clock
		case h >= 8 && h <= 11:
			w.minute = h*60 + mins // a dealership's morning
		case h == 12 || h <= 6:
			w.minute = (h%12+12)*60 + mins // noon to 6 in the afternoon
		default: // 7: morning or evening
			w.ambiguous = "Did you mean " + strconv.Itoa(h) + " in the morning or " + strconv.Itoa(h) + " in the evening?"
		}
	}
	return w
}

func midnight(t time.Time) time.Time {
	return time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, t.Location())
}

// nextDate is month/day in the year that makes it today or later.
func nextDate(today time.Time, month time.Month, day int, loc *time.Location) time.Time {
	d := time.Date(today.Year(), month, day, 0, 0, 0, 0, loc)
	if d.Month() != month { // February 30th
		return time.Time{}
	}
	if d.Before(today) {
		d = time.Date(today.Year()+1, month, day, 0, 0, 0, 0, loc)
	}
	return d
}

// slotPhrase says a slot's start: "Saturday, Dec 12 at 10:00 AM" (offeredSlot reads it back).
func slotPhrase(t time.Time) string { return jack.SlotPhrase(t) }

// dayPhrase says a day: "Saturday, Dec 12".
func dayPhrase(t time.Time) string { return t.Format("Monday, Jan 2") }

// clockPhrase says a time of day: "10:00 AM".
func clockPhrase(t time.Time) string { return t.Format("3:04 PM") }
