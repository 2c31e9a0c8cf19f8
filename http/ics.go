package http

import (
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/jack-auto/jack"
)

// icsTime is RFC 5545's UTC DATE-TIME form (FORM #2).
const icsTime = "20060102T150405Z"

// calendarICS renders appointments as an RFC 5545 calendar: CRLF line ends, lines folded at 75
// octets, TEXT values escaped. Each appointment is one VEVENT whose UID is its id, so a
// reschedule updates the same event (SEQUENCE follows the version) and a cancelled one is
// STATUS:CANCELLED.
func calendarICS(org *jack.Organization, list []*jack.Appointment, now time.Time) string {
	var b strings.Builder
	line := func(name, value string) { writeFolded(&b, name+":"+value) }
	line("BEGIN", "VCALENDAR")
	line("VERSION", "2.0")
	line("PRODID", "-//Jack//Appointments//EN")
	line("CALSCALE", "GREGORIAN")
	line("METHOD", "PUBLISH")
	line("X-WR-CALNAME", icsText(org.Name+" appointments"))
	line("X-WR-TIMEZONE", icsText(org.Schedule().Location.String()))
	stamp := now.UTC().Format(icsTime)
	for _, a := range list {
		line("BEGIN", "VEVENT")
		line("UID", a.ID.String()+"@jack")
		line("DTSTAMP", stamp)
		line("DTSTART", a.StartsAt.UTC().Format(icsTime))
		line("DTEND", a.EndsAt.UTC().Format(icsTime))
		line("CREATED", a.CreatedAt.UTC().Format(icsTime))
		line("LAST-MODIFIED", a.UpdatedAt.UTC().Format(icsTime))
		line("SEQUENCE", strconv.FormatInt(max(a.Version-1, 0), 10))
		line("SUMMARY", icsText(kindLabel(a.Kind)+": "+a.CustomerName))
		desc := []string{"Phone: " + a.Phone, "Booked by: " + a.Source, "Status: " + a.Status}
		if a.Vehicle != "" {
			desc = append(desc, "Vehicle: "+a.Vehicle)
		}
		if a.Notes != "" {
			desc = append(desc, "Notes: "+a.Notes)
		}
		line("DESCRIPTION", icsText(strings.Join(desc, "\n")))
		status := "CONFIRMED"
		if a.Status == jack.AppointmentCancelled {
			status = "CANCELLED"
		}
		line("STATUS", status)
		line("END", "VEVENT")
	}
	line("END", "VCALENDAR")
	return b.String()
}

// kindLabel names an appointment kind for people.
func kindLabel(kind string) string {
	switch kind {
	case jack.AppointmentTestDrive:
		return "Test drive"
	case jack.AppointmentSales:
		return "Sales visit"
	case jack.AppointmentService:
		return "Service visit"
	case jack.AppointmentDelivery:
		return "Delivery"
	}
	return kind
}

// icsText escapes a TEXT value (RFC 5545 3.3.11): backslash, semicolon, comma and newlines;
// other control characters are dropped.
func icsText(s string) string {
	var b strings.Builder
	for _, r := range strings.ReplaceAll(s, "\r\n", "\n") {
		switch {
		case r == '\\':
			b.WriteString(`\\`)
		case r == ';':
			b.WriteString(`\;`)
		case r == ',':
			b.WriteString(`\,`)
		case r == '\n':
			b.WriteString(`\n`)
		case r < 0x20 || r == 0x7f:
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}

// writeFolded writes a content line ending in CRLF, folded so that no line is longer than 75
// octets (RFC 5545 3.1): continuation lines start with one space, and a UTF-8 sequence is never
// split.
func writeFolded(b *strings.Builder, s string) {
	limit := 75
	for len(s) > limit {
		cut := limit
		for cut > 0 && !utf8.RuneStart(s[cut]) {
			cut--
		}
		b.WriteString(s[:cut])
		b.WriteString("\r\n ")
		s = s[cut:]
		limit = 74 // the leading space counts
	}
	b.WriteString(s)
	b.WriteString("\r\n")
}
