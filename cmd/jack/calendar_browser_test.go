package main

import (
	"fmt"
	"net/http"
	"os"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/require"

	"github.com/jack-auto/jack"
)

// TestBrowser_Calendar drives the appointment screens in headless Chromium, at laptop width and
// at 375 px: book from the lead's panel, see the booking on the week and day calendar, see a
// booking made elsewhere arrive live, reschedule and cancel from the calendar, and the chart of
// the appointment numbers; no console errors throughout.
func TestBrowser_Calendar(t *testing.T) {
	t.Parallel()
	chromiumPath(t)
	dir := os.Getenv("JACK_SCREENSHOT_DIR")
	if dir == "" {
		dir = t.TempDir()
	}
	require.NoError(t, os.MkdirAll(dir, 0o755))

	sms := newSMSBundle(t, nil)
	sms.owner.must("PATCH", "/api/organization", map[string]any{"settings": map[string]any{"timeZone": "America/New_York"}}, http.StatusOK, nil)
	var lead, other jack.Lead
	sms.owner.must("POST", "/api/leads", map[string]string{"customerName": "Maria Lopez", "phoneNumber": "+16045550142"}, http.StatusCreated, &lead)
	sms.owner.must("POST", "/api/leads", map[string]string{"customerName": "Sam Other", "phoneNumber": "+16045550143"}, http.StatusCreated, &other)
	ny, err := time.LoadLocation("America/New_York")
	require.NoError(t, err)
	day := time.Now().In(ny).AddDate(0, 0, 2)
	for day.Weekday() != time.Tuesday {
		day = day.AddDate(0, 0, 1)
	}
	dayStr := day.Format(time.DateOnly)

	b := newBrowser(t)
	b.do("open the dashboard", chromedp.Navigate(sms.m.URL()+"/"), chromedp.WaitVisible(chromedp.ID("login-email")))
	b.do("sign in",
		chromedp.SendKeys(chromedp.ID("login-email"), "owner@sms.test"),
		chromedp.SendKeys(chromedp.ID("login-password"), "correct horse"),
		chromedp.Click(chromedp.ID("login-submit")),
	)
	b.waitJS("the lead list", `!!document.querySelector("a.lead-item")`)

	// Book from the lead's panel: the day's free slots fill the time picker.
	b.do("open Maria", chromedp.Evaluate[chromedp.Void](`location.hash = "#/leads/`+lead.ID+`"`))
	b.waitJS("the appointment section", `!!document.querySelector("#appt-section") && document.querySelector("#appt-section .appt-list").textContent.includes("None booked")`)
	b.do("open the booking form", chromedp.Click(chromedp.ID("appt-new")))
	b.do("pick the day", chromedp.Evaluate[chromedp.Void](`(d => { d.value = `+jsString(t, dayStr)+`; d.dispatchEvent(new Event("change")); })(document.querySelector("#appt-day"))`))
	b.waitJS("the day's free slots", `(o => o.length === 18 && o[0].value.startsWith(`+jsString(t, dayStr)+`))(document.querySelectorAll("#appt-slot option"))`)
	ten := time.Date(day.Year(), day.Month(), day.Day(), 10, 0, 0, 0, ny)
	b.do("pick 10:00", chromedp.Evaluate[chromedp.Void](`(s => { s.value = [...s.options].find(o => new Date(o.value).getTime() === `+fmt.Sprint(ten.UnixMilli())+`).value; })(document.querySelector("#appt-slot"))`))
	b.do("book", chromedp.Click(chromedp.ID("appt-submit")))
	b.waitJS("the booking in the panel", `document.querySelectorAll("#appt-section .appt").length === 1`)
	var list struct{ Appointments []jack.Appointment }
	sms.owner.must("GET", "/api/appointments", nil, http.StatusOK, &list)
	require.Len(t, list.Appointments, 1)
	require.True(t, list.Appointments[0].StartsAt.Equal(ten), "%v", list.Appointments[0].StartsAt)
	b.screenshot(dir, "lead-appointment.png")

	// The week calendar shows it; a booking made elsewhere arrives live.
	b.do("open the calendar", chromedp.Evaluate[chromedp.Void](`location.hash = "#/calendar"`))
	b.waitJS("the week", `document.querySelectorAll("#cal-grid .cal-day").length === 7`)
	b.do("go to the booked week", chromedp.Evaluate[chromedp.Void](`document.querySelector('.cal-tools [aria-label="Next"]').click()`))
	b.waitJS("the booking on the calendar", `!!document.querySelector('#cal-grid .cal-day[data-day="`+dayStr+`"] .appt')`)
	sms.owner.must("POST", "/api/leads/"+other.ID+"/appointments", map[string]any{"startsAt": ten.Add(time.Hour)}, http.StatusCreated, nil)
	b.waitJS("the live booking", `document.querySelectorAll('#cal-grid .cal-day[data-day="`+dayStr+`"] .appt').length === 2`)
	b.waitJS("the chart", `document.querySelectorAll("#appt-chart rect").length === 5 && document.querySelector("#appt-chart").getAttribute("aria-label").startsWith("Set: 2")`)
	b.screenshot(dir, "calendar-week.png")

	// Cancel Sam's from the calendar.
	b.do("cancel", chromedp.Evaluate[chromedp.Void](`window.confirm = () => true; [...document.querySelectorAll('#cal-grid .appt')].find(a => a.textContent.includes("Sam Other")).querySelector(".btn-ghost").click()`))
	b.waitJS("the cancelled look", `!!document.querySelector('#cal-grid .appt.appt-cancelled')`)

	// 375 px: the day view, one column, nothing wider than the screen.
	b.do("phone viewport", chromedp.EmulateViewport(375, 812, chromedp.EmulateScale(2), chromedp.EmulateMobile))
	b.do("day view", chromedp.Evaluate[chromedp.Void](`document.querySelector('.cal-tools [data-view="day"]').click()`))
	b.waitJS("one day", `document.querySelectorAll("#cal-grid .cal-day").length === 1`)
	b.waitJS("no horizontal scroll", `document.documentElement.scrollWidth <= 375`)
	b.screenshot(dir, "calendar-phone.png")

	// Reschedule Maria's from the lead panel at phone width.
	b.do("open Maria", chromedp.Evaluate[chromedp.Void](`location.hash = "#/leads/`+lead.ID+`"`))
	b.waitJS("her appointment", `!!document.querySelector("#appt-section .appt .appt-actions")`)
	b.do("reschedule", chromedp.Evaluate[chromedp.Void](`document.querySelector("#appt-section .appt-actions .btn").click()`))
	b.waitJS("the new times", `document.querySelectorAll("#appt-section .appt-actions select option[value]").length > 1`)
	b.do("move", chromedp.Evaluate[chromedp.Void](`(box => { const s = box.querySelector("select"); s.value = s.options[s.options.length - 1].value; box.querySelector(".btn-primary").click(); })(document.querySelector("#appt-section .appt-actions"))`))
	b.waitJS("the move", `document.querySelector("#appt-section .appt .appt-time") && !document.querySelector("#appt-section .appt-actions select")`)
	b.waitJS("no horizontal scroll", `document.documentElement.scrollWidth <= 375`)
	b.screenshot(dir, "lead-appointment-phone.png")
	var moved jack.Appointment
	sms.owner.must("GET", "/api/appointments/"+list.Appointments[0].ID.String(), nil, http.StatusOK, &moved)
	require.Equal(t, int64(2), moved.Version, "rescheduled")
	require.False(t, moved.StartsAt.Equal(ten))

	b.mu.Lock()
	defer b.mu.Unlock()
	require.Empty(t, b.exceptions, "no console errors")
}
