package jack_test

import (
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/jack-auto/jack"
)

func mustLoad(t *testing.T, name string) *time.Location {
	t.Helper()
	loc, err := time.LoadLocation(name)
	require.NoError(t, err)
	return loc
}

// localStarts renders slots' starts as wall-clock times with their UTC offsets.
func localStarts(slots []jack.Slot, loc *time.Location) []string {
	out := []string{}
	for _, s := range slots {
		out = append(out, s.StartsAt.In(loc).Format("Mon 15:04 -0700"))
	}
	return out
}

func TestScheduleSlots(t *testing.T) {
	t.Parallel()
	ny := mustLoad(t, "America/New_York")
	longAgo := time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)
	hours := func(open, shut string) jack.BusinessHours {
		h := jack.BusinessHours{}
		for _, d := range jack.Weekdays {
			h[d] = &jack.OpenHours{Open: open, Close: shut}
		}
		return h
	}

	t.Run("BusinessHoursInTheDealershipsZone", func(t *testing.T) {
		t.Parallel()
		org := &jack.Organization{Settings: jack.OrganizationSettings{TimeZone: "America/New_York",
			BusinessHours:      jack.BusinessHours{"saturday": {Open: "09:00", Close: "11:00"}, "sunday": nil},
			AppointmentMinutes: 45}}
		s := org.Schedule()
		require.Equal(t, 2, s.Capacity, "default capacity")
		// Friday 2026-12-11 (closed: not listed), Saturday 12th, Sunday 13th (null: closed).
		slots := s.Slots(time.Date(2026, 12, 11, 0, 0, 0, 0, ny), 3, longAgo, nil, false)
		require.Equal(t, []string{"Sat 09:00 -0500", "Sat 09:45 -0500"}, localStarts(slots, ny),
			"45-minute slots that end by closing time")
		require.Equal(t, time.Date(2026, 12, 12, 14, 0, 0, 0, time.UTC), slots[0].StartsAt.UTC())
		require.Equal(t, 45*time.Minute, slots[0].EndsAt.Sub(slots[0].StartsAt))
		require.Equal(t, 2, slots[0].Free)
	})

	t.Run("Defaults", func(t *testing.T) {
		t.Parallel()
		s := (&jack.Organization{}).Schedule()
		require.Equal(t, "America/New_York", s.Location.String())
		require.Equal(t, 30*time.Minute, s.Slot)
		require.Equal(t, 2, s.Capacity)
		sunday := s.Slots(time.Date(2026, 12, 13, 0, 0, 0, 0, ny), 1, longAgo, nil, false)
		require.Empty(t, sunday, "closed on Sundays")
		monday := s.Slots(time.Date(2026, 12, 14, 0, 0, 0, 0, ny), 1, longAgo, nil, false)
		require.Len(t, monday, 18) // 09:00–18:00
	})

	t.Run("Capacity", func(t *testing.T) {
		t.Parallel()
		s := jack.Schedule{Location: ny, Hours: hours("09:00", "10:30"), Slot: 30 * time.Minute, Capacity: 2}
		at := func(h, m int) time.Time { return time.Date(2026, 12, 14, h, m, 0, 0, ny) }
		appt := func(h, m int, status string) *jack.Appointment {
			return &jack.Appointment{ID: uuid.New(), StartsAt: at(h, m), EndsAt: at(h, m).Add(30 * time.Minute), Status: status}
		}
		booked := []*jack.Appointment{
			appt(9, 0, jack.AppointmentConfirmed), appt(9, 0, jack.AppointmentConfirmed), // full
			appt(9, 30, jack.AppointmentConfirmed), appt(9, 30, jack.AppointmentCancelled), // one left
			appt(10, 0, jack.AppointmentNoShow), // a no-show takes no place
		}
		free := s.Slots(at(0, 0), 1, longAgo, booked, false)
		require.Equal(t, []string{"Mon 09:30 -0500", "Mon 10:00 -0500"}, localStarts(free, ny))
		require.Equal(t, []int{1, 2}, []int{free[0].Free, free[1].Free})
		all := s.Slots(at(0, 0), 1, longAgo, booked, true)
		require.Len(t, all, 3)
		require.Zero(t, all[0].Free)
	})

	t.Run("PastSlotsExcluded", func(t *testing.T) {
		t.Parallel()
		s := jack.Schedule{Location: ny, Hours: hours("09:00", "11:00"), Slot: 30 * time.Minute, Capacity: 1}
		now := time.Date(2026, 12, 14, 9, 30, 0, 0, ny) // a slot starting now is past
		slots := s.Slots(time.Date(2026, 12, 14, 0, 0, 0, 0, ny), 1, now, nil, false)
		require.Equal(t, []string{"Mon 10:00 -0500", "Mon 10:30 -0500"}, localStarts(slots, ny))
	})

	// 2026-03-08: New York springs forward at 02:00 EST to 03:00 EDT (a 23-hour day);
	// 2026-11-01: it falls back at 02:00 EDT to 01:00 EST (a 25-hour day).
	t.Run("DSTSpringForward", func(t *testing.T) {
		t.Parallel()
		day := time.Date(2026, 3, 8, 0, 0, 0, 0, ny)
		s := jack.Schedule{Location: ny, Hours: hours("09:00", "10:00"), Slot: 30 * time.Minute, Capacity: 1}
		require.Equal(t, []string{"Sun 09:00 -0400", "Sun 09:30 -0400"}, localStarts(s.Slots(day, 1, longAgo, nil, false), ny),
			"daytime hours keep their wall-clock times after the change")
		before := s.Slots(time.Date(2026, 3, 7, 0, 0, 0, 0, ny), 1, longAgo, nil, false)
		require.Equal(t, time.Date(2026, 3, 7, 14, 0, 0, 0, time.UTC), before[0].StartsAt.UTC(), "09:00 EST is 14:00 UTC")
		require.Equal(t, time.Date(2026, 3, 8, 13, 0, 0, 0, time.UTC), s.Slots(day, 1, longAgo, nil, false)[0].StartsAt.UTC(), "09:00 EDT is 13:00 UTC")

		// Open 01:00–04:00 across the change: 01:00 EST to 04:00 EDT is two real hours.
		night := jack.Schedule{Location: ny, Hours: hours("01:00", "04:00"), Slot: 30 * time.Minute, Capacity: 1}
		require.Equal(t, []string{"Sun 01:00 -0500", "Sun 01:30 -0500", "Sun 03:00 -0400", "Sun 03:30 -0400"},
			localStarts(night.Slots(day, 1, longAgo, nil, false), ny))
		// The grid runs in real time from opening: 03:15 EDT (07:15 UTC) is off it, 03:00 EDT on it.
		require.Error(t, night.CheckSlot(time.Date(2026, 3, 8, 7, 15, 0, 0, time.UTC), longAgo))
		require.NoError(t, night.CheckSlot(time.Date(2026, 3, 8, 7, 0, 0, 0, time.UTC), longAgo)) // 03:00 EDT
	})

	t.Run("DSTFallBack", func(t *testing.T) {
		t.Parallel()
		day := time.Date(2026, 11, 1, 0, 0, 0, 0, ny)
		s := jack.Schedule{Location: ny, Hours: hours("09:00", "10:00"), Slot: 30 * time.Minute, Capacity: 1}
		require.Equal(t, []string{"Sun 09:00 -0500", "Sun 09:30 -0500"}, localStarts(s.Slots(day, 1, longAgo, nil, false), ny))
		require.Equal(t, time.Date(2026, 11, 1, 14, 0, 0, 0, time.UTC), s.Slots(day, 1, longAgo, nil, false)[0].StartsAt.UTC())

		// Open 00:00–03:00 across the change: four real hours, 01:00–02:00 happens twice.
		night := jack.Schedule{Location: ny, Hours: hours("00:00", "03:00"), Slot: time.Hour, Capacity: 1}
		require.Equal(t, []string{"Sun 00:00 -0400", "Sun 01:00 -0400", "Sun 01:00 -0500", "Sun 02:00 -0500"},
			localStarts(night.Slots(day, 1, longAgo, nil, false), ny))
		// A week across the change: the day before and after keep 09:00 local.
		week := s.Slots(time.Date(2026, 10, 31, 0, 0, 0, 0, ny), 3, longAgo, nil, false)
		require.Equal(t, []string{"Sat 09:00 -0400", "Sat 09:30 -0400", "Sun 09:00 -0500", "Sun 09:30 -0500",
			"Mon 09:00 -0500", "Mon 09:30 -0500"}, localStarts(week, ny))
	})
}

func TestScheduleCheckSlot(t *testing.T) {
	t.Parallel()
	ny := mustLoad(t, "America/New_York")
	s := (&jack.Organization{Settings: jack.OrganizationSettings{TimeZone: "America/New_York"}}).Schedule()
	now := time.Date(2026, 12, 10, 12, 0, 0, 0, ny)
	for _, tc := range []struct {
		name   string
		start  time.Time
		reason string
	}{
		{"OK", time.Date(2026, 12, 12, 10, 0, 0, 0, ny), ""},
		{"LastSlot", time.Date(2026, 12, 12, 17, 30, 0, 0, ny), ""},
		{"EndsAfterClosing", time.Date(2026, 12, 12, 17, 45, 0, 0, ny), jack.ReasonOutsideHours},
		{"OffTheGrid", time.Date(2026, 12, 12, 10, 10, 0, 0, ny), jack.ReasonOutsideHours},
		{"BeforeOpening", time.Date(2026, 12, 12, 8, 30, 0, 0, ny), jack.ReasonOutsideHours},
		{"Closed", time.Date(2026, 12, 13, 10, 0, 0, 0, ny), jack.ReasonOutsideHours},
		{"InTheDealershipsZone", time.Date(2026, 12, 12, 10, 0, 0, 0, time.UTC), jack.ReasonOutsideHours}, // 05:00 in New York
		{"Past", time.Date(2026, 12, 10, 11, 30, 0, 0, ny), jack.ReasonInPast},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := s.CheckSlot(tc.start, now)
			if tc.reason == "" {
				require.NoError(t, err)
				return
			}
			require.Equal(t, jack.EUNPROCESSABLE, jack.ErrorCode(err))
			require.Equal(t, tc.reason, jack.ErrorReason(err))
		})
	}
}

func TestValidateBusinessHours(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name  string
		hours jack.BusinessHours
		field string
	}{
		{"OK", jack.DefaultBusinessHours(), ""},
		{"ClosedDay", jack.BusinessHours{"monday": nil}, ""},
		{"UnknownDay", jack.BusinessHours{"funday": {Open: "09:00", Close: "10:00"}}, "settings.businessHours.funday"},
		{"BadOpen", jack.BusinessHours{"monday": {Open: "9am", Close: "10:00"}}, "settings.businessHours.monday.open"},
		{"CloseBeforeOpen", jack.BusinessHours{"monday": {Open: "10:00", Close: "09:00"}}, "settings.businessHours.monday.close"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := (&jack.Organization{Name: "Dealer", Settings: jack.OrganizationSettings{BusinessHours: tc.hours}}).Validate()
			if tc.field == "" {
				require.NoError(t, err)
				return
			}
			var e *jack.Error
			require.ErrorAs(t, err, &e)
			require.Contains(t, e.Fields, tc.field)
		})
	}
}
