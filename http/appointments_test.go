package http_test

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	ics "github.com/arran4/golang-ical"
	"github.com/stretchr/testify/require"

	"github.com/jack-auto/jack"
)

func TestAppointments(t *testing.T) {
	t.Parallel()
	for _, so := range stores {
		t.Run(so.name, func(t *testing.T) {
			t.Parallel()
			testAppointmentsAPI(t, so)
		})
	}
}

// nextWeekday returns 10:00 (New York) of the first wd at least two days after now.
func nextWeekday(now time.Time, wd time.Weekday, hour, minute int) time.Time {
	ny, _ := time.LoadLocation("America/New_York")
	d := now.In(ny).AddDate(0, 0, 2)
	for d.Weekday() != wd {
		d = d.AddDate(0, 0, 1)
	}
	return time.Date(d.Year(), d.Month(), d.Day(), hour, minute, 0, 0, ny)
}

type availabilityReply struct {
	TimeZone string      `json:"timeZone"`
	Slots    []jack.Slot `json:"slots"`
}

func testAppointmentsAPI(t *testing.T, so storeOpener) {
	type testBundle struct {
		s     *testServer
		token string
		org   jack.Organization
		lead  jack.Lead
		start time.Time // a Monday 10:00 in New York (the default zone), inside the default hours
	}
	setup := func(t *testing.T) *testBundle {
		t.Helper()
		s := MustOpenServer(t, so.open(t))
		token, _, org := MustRegister(t, s.URL)
		lead := MustCreateLead(t, s.URL, token, "Dana Driver", testPhone(1))
		return &testBundle{s: s, token: token, org: org, lead: lead, start: nextWeekday(time.Now(), time.Monday, 10, 0)}
	}
	book := func(t *testing.T, b *testBundle, leadID string, start time.Time, status int, out any) response {
		t.Helper()
		return MustDo(t, b.s.URL, request{Method: "POST", Path: "/api/leads/" + leadID + "/appointments", Token: b.token,
			Body: map[string]any{"startsAt": start, "kind": "test_drive", "vehicle": "2024 Civic", "notes": "trade-in; bring title"}}, status, out)
	}

	t.Run("OK", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		events, err := b.s.Broker.Subscribe(t.Context(), b.org.ID)
		require.NoError(t, err)

		var a jack.Appointment
		resp := book(t, b, b.lead.ID, b.start, http.StatusCreated, &a)
		require.True(t, a.StartsAt.Equal(b.start))
		require.True(t, a.EndsAt.Equal(b.start.Add(30*time.Minute)), "endsAt from appointmentMinutes")
		require.Equal(t, jack.AppointmentConfirmed, a.Status)
		require.Equal(t, jack.SourceStaff, a.Source)
		require.Equal(t, int64(1), a.Version)
		require.Equal(t, `"1"`, resp.Header.Get("ETag"))
		require.Equal(t, "Dana Driver", a.CustomerName)

		var got jack.Appointment
		MustDo(t, b.s.URL, request{Method: "GET", Path: "/api/appointments/" + a.ID.String(), Token: b.token}, http.StatusOK, &got)
		require.Equal(t, a.ID, got.ID)

		var list struct{ Appointments []jack.Appointment }
		day := b.start.Format(time.DateOnly)
		MustDo(t, b.s.URL, request{Method: "GET", Path: "/api/appointments?from=" + day + "&status=confirmed", Token: b.token}, http.StatusOK, &list)
		require.Len(t, list.Appointments, 1)
		MustDo(t, b.s.URL, request{Method: "GET", Path: "/api/appointments?to=" + day, Token: b.token}, http.StatusOK, &list)
		require.Empty(t, list.Appointments)

		var avail availabilityReply
		MustDo(t, b.s.URL, request{Method: "GET", Path: "/api/appointments/availability?from=" + day + "&days=1&kind=test_drive", Token: b.token}, http.StatusOK, &avail)
		require.Equal(t, "America/New_York", avail.TimeZone)
		require.Len(t, avail.Slots, 18)
		require.True(t, avail.Slots[2].StartsAt.Equal(b.start))
		require.Equal(t, 1, avail.Slots[2].Free, "one of two places taken")

		e := <-events
		require.Equal(t, jack.EventAppointmentBooked, e.Type)
		require.Equal(t, b.lead.ID, e.LeadID)
		require.NotZero(t, e.Seq, "published as stored")
		stored, err := b.s.Store.FindEvents(t.Context(), b.org.ID, jack.EventFilter{})
		require.NoError(t, err)
		require.Equal(t, jack.EventAppointmentBooked, stored[len(stored)-1].Type)
	})

	t.Run("ErrSlotFull", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		other := MustCreateLead(t, b.s.URL, b.token, "Other", testPhone(2))
		book(t, b, b.lead.ID, b.start, http.StatusCreated, nil)
		book(t, b, other.ID, b.start, http.StatusCreated, nil)
		MustFail(t, b.s.URL, request{Method: "POST", Path: "/api/leads/" + b.lead.ID + "/appointments", Token: b.token,
			Body: map[string]any{"startsAt": b.start}}, http.StatusConflict, jack.ReasonSlotFull)
		var avail availabilityReply
		MustDo(t, b.s.URL, request{Method: "GET", Path: "/api/appointments/availability?from=" + b.start.Format(time.DateOnly) + "&days=1", Token: b.token}, http.StatusOK, &avail)
		for _, s := range avail.Slots {
			require.False(t, s.StartsAt.Equal(b.start), "a full slot is not offered")
		}
	})

	t.Run("ErrUnprocessable", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		path := "/api/leads/" + b.lead.ID + "/appointments"
		for _, tc := range []struct {
			name string
			body map[string]any
			code string
		}{
			{"Sunday", map[string]any{"startsAt": nextWeekday(time.Now(), time.Sunday, 10, 0)}, jack.ReasonOutsideHours},
			{"BeforeOpening", map[string]any{"startsAt": b.start.Add(-3 * time.Hour)}, jack.ReasonOutsideHours},
			{"OffTheGrid", map[string]any{"startsAt": b.start.Add(10 * time.Minute)}, jack.ReasonOutsideHours},
			{"Past", map[string]any{"startsAt": time.Now().Add(-time.Hour)}, jack.ReasonInPast},
			{"Kind", map[string]any{"startsAt": b.start, "kind": "picnic"}, jack.EUNPROCESSABLE},
			{"MissingStart", map[string]any{"kind": "service"}, jack.EUNPROCESSABLE},
		} {
			t.Run(tc.name, func(t *testing.T) {
				MustFail(t, b.s.URL, request{Method: "POST", Path: path, Token: b.token, Body: tc.body}, http.StatusUnprocessableEntity, tc.code)
			})
		}
		MustFail(t, b.s.URL, request{Method: "POST", Path: path, Token: b.token, Body: map[string]any{"startsAt": "soon"}}, http.StatusUnprocessableEntity, jack.EUNPROCESSABLE)
		MustFail(t, b.s.URL, request{Method: "POST", Path: path, Token: b.token, Body: `{"startsAt":`}, http.StatusBadRequest, jack.EINVALID)
		MustFail(t, b.s.URL, request{Method: "GET", Path: "/api/appointments/availability?days=99", Token: b.token}, http.StatusBadRequest, jack.EINVALID)
		MustFail(t, b.s.URL, request{Method: "GET", Path: "/api/appointments/availability?from=tomorrow", Token: b.token}, http.StatusBadRequest, jack.EINVALID)
		MustFail(t, b.s.URL, request{Method: "GET", Path: "/api/appointments?status=lost", Token: b.token}, http.StatusBadRequest, jack.EINVALID)
		MustFail(t, b.s.URL, request{Method: "POST", Path: "/api/leads/nope/appointments", Token: b.token, Body: map[string]any{"startsAt": b.start}}, http.StatusNotFound, jack.ENOTFOUND)
		var list struct{ Appointments []jack.Appointment }
		MustDo(t, b.s.URL, request{Method: "GET", Path: "/api/appointments", Token: b.token}, http.StatusOK, &list)
		require.Empty(t, list.Appointments, "refused bookings change nothing")
	})

	t.Run("Patch", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		events, err := b.s.Broker.Subscribe(t.Context(), b.org.ID)
		require.NoError(t, err)
		var a jack.Appointment
		book(t, b, b.lead.ID, b.start, http.StatusCreated, &a)
		path := "/api/appointments/" + a.ID.String()
		later := b.start.Add(time.Hour)
		var moved jack.Appointment
		MustDo(t, b.s.URL, request{Method: "PATCH", Path: path, Token: b.token, Body: map[string]any{"startsAt": later},
			Headers: map[string]string{"If-Match": `"1"`}}, http.StatusOK, &moved)
		require.True(t, moved.StartsAt.Equal(later))
		require.True(t, moved.EndsAt.Equal(later.Add(30*time.Minute)))
		require.Equal(t, int64(2), moved.Version)
		MustFail(t, b.s.URL, request{Method: "PATCH", Path: path, Token: b.token, Body: map[string]any{"status": "cancelled"},
			Headers: map[string]string{"If-Match": `"1"`}}, http.StatusConflict, jack.ReasonVersionChanged)
		MustFail(t, b.s.URL, request{Method: "PATCH", Path: path, Token: b.token, Body: map[string]any{"status": "cancelled", "version": 1}},
			http.StatusConflict, jack.ReasonVersionChanged)
		MustFail(t, b.s.URL, request{Method: "PATCH", Path: path, Token: b.token, Body: map[string]any{"status": "lost"}},
			http.StatusUnprocessableEntity, jack.EUNPROCESSABLE)
		MustFail(t, b.s.URL, request{Method: "PATCH", Path: path, Token: b.token, Body: map[string]any{"startsAt": b.start.Add(-24 * time.Hour).Add(-12 * time.Hour)}},
			http.StatusUnprocessableEntity, jack.ReasonOutsideHours)
		var done jack.Appointment
		MustDo(t, b.s.URL, request{Method: "PATCH", Path: path, Token: b.token, Body: map[string]any{"status": "no_show", "version": 2}}, http.StatusOK, &done)
		require.Equal(t, jack.AppointmentNoShow, done.Status)
		require.Equal(t, int64(3), done.Version)
		MustFail(t, b.s.URL, request{Method: "PATCH", Path: "/api/appointments/not-a-uuid", Token: b.token, Body: map[string]any{"status": "cancelled"}},
			http.StatusNotFound, jack.ENOTFOUND)

		var types []string
		for range 3 {
			types = append(types, (<-events).Type)
		}
		require.Equal(t, []string{jack.EventAppointmentBooked, jack.EventAppointmentUpdated, jack.EventAppointmentUpdated}, types)
	})

	t.Run("Calendar", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		agent, _ := MustCreateUser(t, b.s.URL, b.token, jack.RoleAgent)
		MustFail(t, b.s.URL, request{Method: "POST", Path: "/api/appointments/feed-token", Token: agent}, http.StatusForbidden, jack.EFORBIDDEN)
		MustFail(t, b.s.URL, request{Method: "GET", Path: "/api/appointments/calendar.ics"}, http.StatusUnauthorized, jack.EUNAUTHORIZED)

		var a, c jack.Appointment
		book(t, b, b.lead.ID, b.start, http.StatusCreated, &a)
		book(t, b, b.lead.ID, b.start.Add(24*time.Hour), http.StatusCreated, &c)
		MustDo(t, b.s.URL, request{Method: "PATCH", Path: "/api/appointments/" + c.ID.String(), Token: b.token,
			Body: map[string]any{"status": "cancelled"}}, http.StatusOK, nil)

		var feed struct{ Token, URL string }
		MustDo(t, b.s.URL, request{Method: "POST", Path: "/api/appointments/feed-token", Token: b.token}, http.StatusCreated, &feed)
		require.True(t, strings.HasSuffix(feed.URL, "/api/appointments/calendar.ics?token="+feed.Token), feed.URL)
		fetch := func(token string) *ics.Calendar {
			t.Helper()
			resp := MustDo(t, b.s.URL, request{Method: "GET", Path: "/api/appointments/calendar.ics?token=" + url.QueryEscape(token)}, http.StatusOK, nil)
			require.Contains(t, resp.Header.Get("Content-Type"), "text/calendar")
			for _, line := range strings.Split(strings.TrimSuffix(string(resp.Body), "\r\n"), "\r\n") {
				require.LessOrEqual(t, len(line), 75, "folded lines: %q", line)
			}
			cal, err := ics.ParseCalendar(strings.NewReader(string(resp.Body)))
			require.NoError(t, err)
			return cal
		}
		byUID := func(cal *ics.Calendar) map[string]*ics.VEvent {
			m := map[string]*ics.VEvent{}
			for _, e := range cal.Events() {
				m[e.Id()] = e
			}
			return m
		}
		first := byUID(fetch(feed.Token))
		require.Len(t, first, 2)
		ev := first[a.ID.String()+"@jack"]
		require.NotNil(t, ev)
		start, err := ev.GetStartAt()
		require.NoError(t, err)
		require.True(t, start.Equal(b.start))
		end, err := ev.GetEndAt()
		require.NoError(t, err)
		require.True(t, end.Equal(b.start.Add(30*time.Minute)))
		require.Equal(t, "Test drive: Dana Driver", ev.GetProperty(ics.ComponentPropertySummary).Value)
		require.Contains(t, ev.GetProperty(ics.ComponentPropertyDescription).Value, "Notes: trade-in; bring title",
			"escaped text reads back as written")
		require.Equal(t, "CANCELLED", first[c.ID.String()+"@jack"].GetProperty(ics.ComponentPropertyStatus).Value)

		// A reschedule keeps the UID and bumps SEQUENCE.
		MustDo(t, b.s.URL, request{Method: "PATCH", Path: "/api/appointments/" + a.ID.String(), Token: b.token,
			Body: map[string]any{"startsAt": b.start.Add(time.Hour)}}, http.StatusOK, nil)
		second := byUID(fetch(feed.Token))
		ev = second[a.ID.String()+"@jack"]
		require.NotNil(t, ev, "same UID after a reschedule")
		start, err = ev.GetStartAt()
		require.NoError(t, err)
		require.True(t, start.Equal(b.start.Add(time.Hour)))
		require.Equal(t, "1", ev.GetProperty(ics.ComponentPropertySequence).Value)

		// Rotation revokes the old token; DELETE revokes the new one.
		var rotated struct{ Token, URL string }
		MustDo(t, b.s.URL, request{Method: "POST", Path: "/api/appointments/feed-token", Token: b.token}, http.StatusCreated, &rotated)
		require.NotEqual(t, feed.Token, rotated.Token)
		MustFail(t, b.s.URL, request{Method: "GET", Path: "/api/appointments/calendar.ics?token=" + url.QueryEscape(feed.Token)}, http.StatusUnauthorized, jack.EUNAUTHORIZED)
		fetch(rotated.Token)
		MustDo(t, b.s.URL, request{Method: "DELETE", Path: "/api/appointments/feed-token", Token: b.token}, http.StatusNoContent, nil)
		MustFail(t, b.s.URL, request{Method: "GET", Path: "/api/appointments/calendar.ics?token=" + url.QueryEscape(rotated.Token)}, http.StatusUnauthorized, jack.EUNAUTHORIZED)
	})

	t.Run("ErrOtherOrganization", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		var a jack.Appointment
		book(t, b, b.lead.ID, b.start, http.StatusCreated, &a)
		var feed struct{ Token, URL string }
		MustDo(t, b.s.URL, request{Method: "POST", Path: "/api/appointments/feed-token", Token: b.token}, http.StatusCreated, &feed)

		other, _, otherOrg := MustRegister(t, b.s.URL)
		path := "/api/appointments/" + a.ID.String()
		MustFail(t, b.s.URL, request{Method: "GET", Path: path, Token: other}, http.StatusNotFound, jack.ENOTFOUND)
		MustFail(t, b.s.URL, request{Method: "PATCH", Path: path, Token: other, Body: map[string]any{"status": "cancelled"}}, http.StatusNotFound, jack.ENOTFOUND)
		MustFail(t, b.s.URL, request{Method: "POST", Path: "/api/leads/" + b.lead.ID + "/appointments", Token: other,
			Body: map[string]any{"startsAt": b.start}}, http.StatusNotFound, jack.ENOTFOUND)
		var list struct{ Appointments []jack.Appointment }
		MustDo(t, b.s.URL, request{Method: "GET", Path: "/api/appointments", Token: other}, http.StatusOK, &list)
		require.Empty(t, list.Appointments)
		var avail availabilityReply
		MustDo(t, b.s.URL, request{Method: "GET", Path: "/api/appointments/availability?from=" + b.start.Format(time.DateOnly) + "&days=1", Token: other}, http.StatusOK, &avail)
		require.Equal(t, 2, avail.Slots[2].Free, "another organization's bookings take no place")

		// The other organization's own feed token shows none of the first one's appointments, and
		// a token naming the first organization with the other's secret is refused.
		var otherFeed struct{ Token, URL string }
		MustDo(t, b.s.URL, request{Method: "POST", Path: "/api/appointments/feed-token", Token: other}, http.StatusCreated, &otherFeed)
		resp := MustDo(t, b.s.URL, request{Method: "GET", Path: "/api/appointments/calendar.ics?token=" + url.QueryEscape(otherFeed.Token)}, http.StatusOK, nil)
		require.NotContains(t, string(resp.Body), a.ID.String())
		_, secret, _ := strings.Cut(otherFeed.Token, ".")
		MustFail(t, b.s.URL, request{Method: "GET", Path: "/api/appointments/calendar.ics?token=" + b.org.ID.String() + "." + secret}, http.StatusUnauthorized, jack.EUNAUTHORIZED)
		// Deleting its own token leaves the first organization's.
		MustDo(t, b.s.URL, request{Method: "DELETE", Path: "/api/appointments/feed-token", Token: other}, http.StatusNoContent, nil)
		MustDo(t, b.s.URL, request{Method: "GET", Path: "/api/appointments/calendar.ics?token=" + url.QueryEscape(feed.Token)}, http.StatusOK, nil)
		_ = otherOrg
	})

	t.Run("Analytics", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		other := MustCreateLead(t, b.s.URL, b.token, "Other", testPhone(2))
		var a1, a2 jack.Appointment
		book(t, b, b.lead.ID, b.start, http.StatusCreated, &a1)
		book(t, b, other.ID, b.start, http.StatusCreated, &a2)
		var cancelled jack.Appointment
		book(t, b, other.ID, b.start.Add(time.Hour), http.StatusCreated, &cancelled)
		ai := &jack.Appointment{LeadID: b.lead.ID, StartsAt: b.start.Add(2 * time.Hour), EndsAt: b.start.Add(150 * time.Minute),
			Kind: jack.AppointmentTestDrive, Source: jack.SourceAISMS}
		require.NoError(t, b.s.Store.InConversationTx(t.Context(), b.org.ID, func(tx jack.ConversationTx) error {
			return tx.CreateAppointment(t.Context(), ai, 2)
		}))
		for id, status := range map[string]string{a1.ID.String(): "completed", a2.ID.String(): "no_show", cancelled.ID.String(): "cancelled"} {
			MustDo(t, b.s.URL, request{Method: "PATCH", Path: "/api/appointments/" + id, Token: b.token, Body: map[string]any{"status": status}}, http.StatusOK, nil)
		}
		var summary jack.Analytics
		day := b.start.UTC().Format(time.DateOnly)
		MustDo(t, b.s.URL, request{Method: "GET", Path: "/api/analytics/summary?from=" + day + "&to=" + day, Token: b.token}, http.StatusOK, &summary)
		half := 0.5
		require.Equal(t, jack.AppointmentAnalytics{Set: 3, Cancelled: 1, Shown: 1, NoShow: 1, NoShowRate: &half, ByAI: 1, ByStaff: 2}, summary.Appointments)
		other2, _, _ := MustRegister(t, b.s.URL)
		MustDo(t, b.s.URL, request{Method: "GET", Path: "/api/analytics/summary?from=" + day + "&to=" + day, Token: other2}, http.StatusOK, &summary)
		require.Zero(t, summary.Appointments.Set, "another organization's appointments are not counted")
	})

	t.Run("Settings", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		patch := func(settings map[string]any, status int) response {
			return MustDo(t, b.s.URL, request{Method: "PATCH", Path: "/api/organization", Token: b.token,
				Body: map[string]any{"settings": settings}}, status, nil)
		}
		for _, bad := range []map[string]any{
			{"businessHours": map[string]any{"monday": map[string]string{"open": "18:00", "close": "09:00"}}},
			{"businessHours": map[string]any{"someday": nil}},
			{"appointmentMinutes": 0},
			{"appointmentMinutes": 1000},
			{"appointmentCapacity": -1},
		} {
			resp := patch(bad, http.StatusUnprocessableEntity)
			var e apiError
			require.NoError(t, json.Unmarshal(resp.Body, &e))
			require.NotEmpty(t, e.Error.Fields, "%s", resp.Body)
		}
		var org jack.Organization
		resp := patch(map[string]any{"timeZone": "America/Los_Angeles", "appointmentMinutes": 60, "appointmentCapacity": 1,
			"businessHours": map[string]any{"monday": map[string]string{"open": "10:00", "close": "12:00"}, "sunday": nil}}, http.StatusOK)
		require.NoError(t, json.Unmarshal(resp.Body, &org))
		require.Equal(t, 60, org.Settings.AppointmentMinutes)
		require.Nil(t, org.Settings.BusinessHours["tuesday"], "a day left out is closed")

		var avail availabilityReply
		MustDo(t, b.s.URL, request{Method: "GET", Path: "/api/appointments/availability?from=" + b.start.Format(time.DateOnly) + "&days=2", Token: b.token}, http.StatusOK, &avail)
		require.Equal(t, "America/Los_Angeles", avail.TimeZone)
		require.Len(t, avail.Slots, 2, "Monday 10:00 and 11:00; Tuesday closed")
		la, _ := time.LoadLocation("America/Los_Angeles")
		require.Equal(t, "10:00", avail.Slots[0].StartsAt.In(la).Format("15:04"))
		require.Equal(t, 1, avail.Slots[0].Free)
	})
}
