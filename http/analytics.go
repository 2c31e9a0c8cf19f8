package http

import (
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/jack-auto/jack"
)

// DefaultAnalyticsPeriod is the period of GET /api/analytics/summary without from.
const DefaultAnalyticsPeriod = 30 * 24 * time.Hour

// analyticsSummary answers the organization's jack.Analytics over [from, to): RFC 3339 times,
// or YYYY-MM-DD dates in UTC, where a date as to includes that whole day. to defaults to now,
// from to 30 days before to. A malformed bound, or a period the Store refuses (empty, reversed,
// longer than it allows), is 400.
func (s *Server) analyticsSummary(c *fiber.Ctx) error {
	to, err := queryTime(c, "to", true)
	if err != nil {
		return err
	}
	if to.IsZero() {
		to = s.cfg.Now()
	}
	from, err := queryTime(c, "from", false)
	if err != nil {
		return err
	}
	if from.IsZero() {
		from = to.Add(-DefaultAnalyticsPeriod)
	}
	orgID := principal(c).OrganizationID
	a, err := s.store.Analytics(c.UserContext(), orgID, from, to)
	if err != nil {
		return err
	}
	list, err := s.store.FindAppointments(c.UserContext(), orgID, jack.AppointmentFilter{From: from, To: to, Limit: jack.MaxAppointments})
	if err != nil {
		return err
	}
	a.Appointments = jack.AppointmentStats(list)
	return c.JSON(a)
}

// queryTime reads an optional RFC 3339 time or YYYY-MM-DD date (UTC midnight; with endOfDay,
// the next midnight, so the day is included in a period ending there). Zero when absent.
func queryTime(c *fiber.Ctx, name string, endOfDay bool) (time.Time, error) {
	v := c.Query(name)
	if v == "" {
		return time.Time{}, nil
	}
	// An unescaped + in a query reads as a space: 2024-05-01T00:00:00+02:00 arrives that way.
	if t, err := time.Parse(time.RFC3339, strings.ReplaceAll(v, " ", "+")); err == nil {
		return t, nil
	}
	d, err := time.Parse(time.DateOnly, v)
	if err != nil {
		return time.Time{}, invalidQuery(name, "must be an RFC 3339 time or a YYYY-MM-DD date")
	}
	if endOfDay {
		d = d.AddDate(0, 0, 1)
	}
	return d, nil
}
