package main

import (
	"context"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"
	"github.com/stretchr/testify/require"

	"github.com/jack-auto/jack"
	"github.com/jack-auto/jack/persistence/postgres/postgrestest"
	"github.com/jack-auto/jack/persistence/storetest"
)

// viewports are the widths every dashboard flow is driven at: a laptop and a 375 px phone.
var viewports = []struct {
	name          string
	width, height int64
	phone         bool
}{
	{"Desktop", 1280, 800, false},
	{"Phone375", 375, 812, true},
}

// workday is one dashboard flow's server (on Postgres, with the fake Twilio) and browser.
type workday struct {
	*smsBundle
	b     *browser
	phone bool
}

// newWorkday starts a server on Postgres (with env) and a browser at viewport v, signed in as
// the owner.
func newWorkday(t *testing.T, phone bool, width, height int64, env ...string) *workday {
	t.Helper()
	chromiumPath(t)
	full := map[string]string{"DATABASE_URL": postgrestest.URL(t), "JWT_SECRET": strings.Repeat("w", 40)}
	for i := 0; i+1 < len(env); i += 2 {
		full[env[i]] = env[i+1]
	}
	sms := newSMSBundle(t, full)
	b := newBrowser(t)
	emulate(b, phone, width, height)
	signIn(b, sms.m.URL())
	return &workday{smsBundle: sms, b: b, phone: phone}
}

// emulate sizes b's tab as a phone or a laptop screen.
func emulate(b *browser, phone bool, width, height int64) {
	b.t.Helper()
	if phone {
		b.do("phone viewport", chromedp.EmulateViewport(width, height, chromedp.EmulateScale(2), chromedp.EmulateMobile))
	} else {
		b.do("desktop viewport", chromedp.EmulateViewport(width, height))
	}
}

// signIn signs the owner in on b's tab at the server base and waits for the live stream.
func signIn(b *browser, base string) {
	b.t.Helper()
	b.do("sign in",
		chromedp.Navigate(base+"/"),
		chromedp.WaitVisible(chromedp.ID("login-email")),
		chromedp.SendKeys(chromedp.ID("login-email"), "owner@sms.test"),
		chromedp.SendKeys(chromedp.ID("login-password"), "correct horse"),
		chromedp.Click(chromedp.ID("login-submit")),
	)
	b.waitJS("signed in", `!!document.querySelector(".shell")`)
	b.waitJS("the live stream", `document.querySelector("#live").dataset.state === "live"`)
}

// js runs a script in the page.
func (w *workday) js(what, script string) {
	w.b.t.Helper()
	w.b.do(what, chromedp.Evaluate[chromedp.Void](script))
}

// openLead opens a lead's conversation by its URL and waits for its title.
func (w *workday) openLead(t *testing.T, lead jack.Lead) {
	t.Helper()
	w.js("open "+lead.CustomerName, `location.hash = "#/leads/`+lead.ID+`"`)
	w.b.waitJS(lead.CustomerName+"'s conversation", `document.querySelector("#conv-title")?.textContent === `+jsString(t, lead.CustomerName))
}

// openDetails shows the lead details form (behind a button below 1200 px).
func (w *workday) openDetails() {
	w.js("open the details", `(b => { if (getComputedStyle(b).display !== "none" && b.getAttribute("aria-expanded") !== "true") b.click(); })(document.querySelector(".details-toggle"))`)
	w.b.waitJS("the details form", `!!document.querySelector("#lead-form") && document.querySelector("#lead-details").getBoundingClientRect().width > 0`)
}

// setField types value into the details form's field name, as a user would.
func (w *workday) setField(t *testing.T, name, value string) {
	t.Helper()
	w.js("edit "+name, `(f => { f.value = `+jsString(t, value)+`; f.dispatchEvent(new Event("input", {bubbles: true})); })(document.querySelector("#lead-`+name+`"))`)
}

// requireClean fails the test on an exception or a console error, except the browser's
// network log lines for the HTTP statuses the test provoked on purpose (allowed).
func (w *workday) requireClean(t *testing.T, allowed ...int) {
	t.Helper()
	w.b.mu.Lock()
	defer w.b.mu.Unlock()
	require.Empty(t, w.b.exceptions, "the page threw")
	var codes []string
	for _, c := range allowed {
		codes = append(codes, strconv.Itoa(c))
	}
	pattern := regexp.MustCompile(`^network: Failed to load resource: the server responded with a status of (` + strings.Join(codes, "|") + `)\b`)
	for _, e := range w.b.errors {
		if len(allowed) > 0 && pattern.MatchString(e) {
			continue
		}
		t.Errorf("console error: %s", e)
	}
	require.LessOrEqual(t, evalJS[int](w.b, `document.documentElement.scrollWidth`), evalJS[int](w.b, `window.innerWidth`), "no sideways scrolling")
}

// TestBrowser_WorkdayBugs drives the fixes of the two bugs that lost work and the smaller ones,
// at laptop and 375 px widths, on Postgres: an edited text after a failed send goes out as
// the edit (a new idempotency key) and the refused text paused nothing; Enter sends and focus
// stays in the composer; a lead save meets another person's change with a conflict message
// (same field) or merges it (other fields) instead of overwriting; a conversation whose load
// failed loads by itself; imported leads appear live without pushing the conversation off the
// top; resuming the AI answers the text that waited.
func TestBrowser_WorkdayBugs(t *testing.T) {
	t.Parallel()
	for _, v := range viewports {
		t.Run(v.name, func(t *testing.T) {
			w := newWorkday(t, v.phone, v.width, v.height)
			var maria jack.Lead
			w.owner.must("POST", "/api/leads", map[string]string{"customerName": "Maria Lopez", "phoneNumber": "+16045550142", "vehiclePreference": "2021 Honda Civic"}, http.StatusCreated, &maria)
			w.openLead(t, maria)

			// 1. The provider refuses a text; the agent edits it and sends again with Enter.
			w.twilio.FailNext(http.StatusBadRequest, 21211, "The 'To' number is not a valid phone number.")
			w.b.do("type and send with Enter", chromedp.SendKeys(chromedp.ID("composer-text"), "Hi Maria, the Civic is in!"+kb.Enter))
			w.b.waitJS("the refused text in red", `!!document.querySelector("#timeline .msg.msg-failed")`)
			w.b.waitJS("focus in the composer", `document.activeElement && document.activeElement.id === "composer-text"`)
			require.Equal(t, "Hi Maria, the Civic is in!", evalJS[string](w.b, `document.querySelector("#composer-text").value.trim()`), "the failed text stays to edit")
			require.False(t, evalJS[bool](w.b, `!!document.querySelector(".banner-warn")`), "a refused text does not pause the AI")
			var after jack.Lead
			w.owner.must("GET", "/api/leads/"+maria.ID, nil, http.StatusOK, &after)
			require.Nil(t, after.AIPausedUntil)

			edited := "Hi Maria, the 2021 Civic is in, want to see it Saturday?"
			w.js("edit the text", `(t => { t.value = `+jsString(t, edited)+`; t.dispatchEvent(new Event("input")); })(document.querySelector("#composer-text"))`)
			w.b.do("send the edit with Enter", chromedp.SendKeys(chromedp.ID("composer-text"), kb.Enter))
			sent := w.twilio.WaitForMessages(t, 1, 10*time.Second)
			require.Equal(t, edited, sent[0].Body, "the edit goes out, not the old text")
			w.b.waitJS("the edit in the timeline", hasBubble(t, "msg-staff", edited))
			w.b.waitJS("the composer empty and focused", `(c => c.value === "" && document.activeElement === c)(document.querySelector("#composer-text"))`)
			w.b.waitJS("the AI-paused banner after an accepted text", `!!document.querySelector(".banner-warn")`)

			// 2. Lost update: another person changes the same field while this form is edited.
			w.openDetails()
			w.setField(t, "vehiclePreference", "2022 Honda Civic Sport")
			var other jack.Lead
			w.owner.must("PATCH", "/api/leads/"+maria.ID, map[string]string{"vehiclePreference": "2023 Toyota Corolla"}, http.StatusOK, &other)
			w.js("save", `document.querySelector("#lead-save").click()`)
			w.b.waitJS("the conflict message", `(c => !c.hidden && c.textContent.includes("Vehicle of interest") && c.textContent.includes("2023 Toyota Corolla"))(document.querySelector("#lead-conflict"))`)
			require.Equal(t, "2022 Honda Civic Sport", evalJS[string](w.b, `document.querySelector("#lead-vehiclePreference").value`), "the user's edit is kept")
			var got jack.Lead
			w.owner.must("GET", "/api/leads/"+maria.ID, nil, http.StatusOK, &got)
			require.Equal(t, "2023 Toyota Corolla", got.VehiclePreference, "the other change is not overwritten")
			w.js("discard", `document.querySelector("#lead-reset").click()`)
			w.b.waitJS("the other's value shown", `document.querySelector("#lead-vehiclePreference").value === "2023 Toyota Corolla"`)

			// ... or other fields: both changes are kept.
			w.setField(t, "budgetRange", "$25-30k")
			w.owner.must("PATCH", "/api/leads/"+maria.ID, map[string]string{"email": "maria@example.com"}, http.StatusOK, nil)
			w.js("save", `document.querySelector("#lead-save").click()`)
			waitFor(t, "both changes stored", func() bool {
				w.owner.must("GET", "/api/leads/"+maria.ID, nil, http.StatusOK, &got)
				return got.BudgetRange == "$25-30k" && got.Email == "maria@example.com" && got.VehiclePreference == "2023 Toyota Corolla"
			})
			w.b.waitJS("no conflict shown", `document.querySelector("#lead-conflict").hidden`)

			// 3. A conversation whose load failed (the network dropped) loads by itself.
			var dana jack.Lead
			w.owner.must("POST", "/api/leads", map[string]string{"customerName": "Dana Smith", "phoneNumber": "+16045550177"}, http.StatusCreated, &dana)
			w.js("drop the next loads", `(() => { let fail = 2; const f = window.fetch; window.fetch = (u, o) =>
				String(u).startsWith("/api/leads/`+dana.ID+`") && fail-- > 0 ? Promise.reject(new TypeError("Failed to fetch")) : f(u, o); })()`)
			w.js("open Dana", `location.hash = "#/leads/`+dana.ID+`"`)
			w.b.waitJS("the failure and its retry", `document.querySelector("#conv-title")?.textContent === "Could not load this lead" && !!document.querySelector("#conv-retry")`)
			w.b.waitJS("loaded on its own", `document.querySelector("#conv-title")?.textContent === "Dana Smith" && !document.querySelector(".composer").hidden`)

			// 4. An import while the list is open: the leads appear live, below the conversation.
			w.js("back to the list", `location.hash = "#/leads"`)
			first := `document.querySelector("#lead-items a.lead-item").dataset.leadId`
			w.b.waitJS("Maria first", first+` === `+jsString(t, maria.ID))
			w.importCSV(t, "name,phone,last contact\nOld Timer,6045550172,2024-03-30\nNo Date,6045550173,\n")
			w.b.waitJS("the imported leads, live", `(n => n.includes("Old Timer") && n.includes("No Date"))([...document.querySelectorAll("#lead-items .lead-name")].map(e => e.textContent))`)
			require.Equal(t, maria.ID, evalJS[string](w.b, first), "the import did not push the conversation down")
			require.Equal(t, "No activity", evalJS[string](w.b, `[...document.querySelectorAll("#lead-items a.lead-item")].find(a => a.textContent.includes("No Date")).querySelector(".lead-time")?.textContent`))

			// 5. Resuming the AI answers what the customer wrote while staff had it.
			w.openLead(t, maria)
			require.Equal(t, http.StatusOK, w.text(t, maria.PhoneNumberNormalized, "Saturday works, what time?"))
			w.b.waitJS("the customer's text", hasBubble(t, "msg-in", "Saturday works, what time?"))
			w.js("resume the AI", `document.querySelector("#ai-toggle").click()`)
			w.b.waitJS("the AI's answer", `!!document.querySelector("#timeline .msg.msg-ai")`)

			// The refused send (400 from the provider, 502 here) and the conflict (409) are the
			// only errors the browser logged.
			w.requireClean(t, http.StatusConflict, http.StatusBadGateway, http.StatusUnprocessableEntity)
		})
	}
}

// TestBrowser_Inbox drives inbox triage at laptop and 375 px widths on Postgres: last-message
// previews and unread counts kept on the server (read in one place, read everywhere: a reload
// shows it), the needs-a-human queue, full-text search in messages, and the assignee and
// source filters, and the keyboard (/, Esc, j, k). The AI waits an hour to answer, so the
// customers' texts stay unanswered.
func TestBrowser_Inbox(t *testing.T) {
	t.Parallel()
	for _, v := range viewports {
		t.Run(v.name, func(t *testing.T) {
			w := newWorkday(t, v.phone, v.width, v.height, "JACK_AI_DEBOUNCE", "1h")
			var me struct{ User jack.User }
			w.owner.must("GET", "/api/me", nil, http.StatusOK, &me)
			var maria, bob jack.Lead
			w.owner.must("POST", "/api/leads", map[string]any{"customerName": "Maria Lopez", "phoneNumber": "+16045550142", "assignedTo": me.User.ID}, http.StatusCreated, &maria)
			w.owner.must("POST", "/api/leads", map[string]string{"customerName": "Bob Stone", "phoneNumber": "+16045550143"}, http.StatusCreated, &bob)
			w.importCSV(t, "name,phone\nIvy Imported,6045550144\n")
			w.b.do("reload the page", chromedp.Reload()) // staff-created leads are not pushed to other sessions
			item := func(name string) string {
				return `[...document.querySelectorAll("#lead-items a.lead-item")].find(a => a.querySelector(".lead-name")?.textContent === ` + jsString(t, name) + `)`
			}
			w.b.waitJS("three leads", `document.querySelectorAll("#lead-items a.lead-item").length === 3`)

			require.Equal(t, http.StatusOK, w.text(t, maria.PhoneNumberNormalized, "Do you have any used trucks under 30k?"))
			require.Equal(t, http.StatusOK, w.text(t, bob.PhoneNumberNormalized, "Can I talk to a real person please?"))
			w.b.waitJS("Maria's preview and unread", `(a => a && a.querySelector(".lead-preview")?.textContent === "Do you have any used trucks under 30k?" && a.querySelector(".unread")?.textContent === "1")(`+item("Maria Lopez")+`)`)
			w.b.waitJS("the unread count in the title", `document.title.startsWith("(2) ")`)

			// The needs-a-human queue: Bob asked for a person.
			w.js("the queue", `document.querySelector("#needs-human").click()`)
			w.b.waitJS("only Bob", `(l => l.length === 1 && l[0].querySelector(".lead-name")?.textContent === "Bob Stone" && !!l[0].querySelector(".chip-human-flag"))([...document.querySelectorAll("#lead-items a.lead-item")])`)
			w.js("leave the queue", `document.querySelector("#needs-human").click()`)

			// Full-text search in the messages: "truck" finds Maria's "trucks".
			w.b.do("search", chromedp.SendKeys(chromedp.ID("lead-search"), "truck"))
			w.b.waitJS("only Maria", `(l => l.length === 1 && l[0].querySelector(".lead-name")?.textContent === "Maria Lopez")([...document.querySelectorAll("#lead-items a.lead-item")])`)
			w.js("clear the search", `(s => { s.value = ""; s.dispatchEvent(new Event("input")); })(document.querySelector("#lead-search"))`)
			w.b.waitJS("all three again", `document.querySelectorAll("#lead-items a.lead-item").length === 3`)

			// Assignee and source.
			w.js("mine", `(s => { s.value = "mine"; s.dispatchEvent(new Event("change")); })(document.querySelector("#lead-assignee"))`)
			w.b.waitJS("only my lead", `(l => l.length === 1 && l[0].querySelector(".lead-name")?.textContent === "Maria Lopez")([...document.querySelectorAll("#lead-items a.lead-item")])`)
			w.js("everyone's", `(s => { s.value = ""; s.dispatchEvent(new Event("change")); })(document.querySelector("#lead-assignee"))`)
			w.js("CSV imports", `(s => { s.value = "csv"; s.dispatchEvent(new Event("change")); })(document.querySelector("#lead-source"))`)
			w.b.waitJS("only the import", `(l => l.length === 1 && l[0].querySelector(".lead-name")?.textContent === "Ivy Imported")([...document.querySelectorAll("#lead-items a.lead-item")])`)
			w.js("all sources", `(s => { s.value = ""; s.dispatchEvent(new Event("change")); })(document.querySelector("#lead-source"))`)
			w.b.waitJS("all three", `document.querySelectorAll("#lead-items a.lead-item").length === 3`)

			// Reading Maria's conversation marks it read on the server: a reload (another device
			// would see the same) shows Bob unread and Maria read.
			w.openLead(t, maria)
			waitFor(t, "Maria read on the server", func() bool {
				var counts struct{ Leads map[string]int }
				w.owner.must("GET", "/api/inbox/unread", nil, http.StatusOK, &counts)
				return counts.Leads[maria.ID] == 0 && counts.Leads[bob.ID] == 1
			})
			w.b.do("reload", chromedp.Reload())
			w.js("the list", `location.hash = "#/leads"`)
			w.b.waitJS("Bob unread, Maria read", `(b => b && b.querySelector(".unread")?.textContent === "1")(`+item("Bob Stone")+`) && !`+item("Maria Lopez")+`.querySelector(".unread")`)
			// Keyboard: / searches, Esc leaves the field, j and k walk the conversations, Esc
			// closes the open one.
			key := func(k string) { w.b.do("press "+k, chromedp.KeyEvent(k)) }
			w.js("focus the page", `document.activeElement && document.activeElement.blur()`)
			key("/")
			w.b.waitJS("the search focused", `document.activeElement.id === "lead-search"`)
			key(kb.Escape)
			w.b.waitJS("the search left", `document.activeElement.id !== "lead-search"`)
			order := evalJS[[]string](w.b, `[...document.querySelectorAll("#lead-items a.lead-item")].map(a => a.dataset.leadId)`)
			require.Len(t, order, 3)
			names := evalJS[[]string](w.b, `[...document.querySelectorAll("#lead-items a.lead-item .lead-name")].map(a => a.textContent)`)
			opened := func(what string, i int) {
				w.b.waitJS(what, `location.hash === "#/leads/`+order[i]+`" && document.querySelector("#conv-title")?.textContent === `+jsString(t, names[i])+
					` && document.querySelector('#lead-items a[aria-current="page"]')?.dataset.leadId === "`+order[i]+`"`)
			}
			key("j")
			opened("the first conversation", 0)
			key("j")
			opened("the second conversation", 1)
			key("k")
			opened("the first again", 0)
			key(kb.Escape)
			w.b.waitJS("back to the list", `location.hash === "#/leads"`)

			if !v.phone {
				w.openLead(t, maria)
				w.docsShot(t, "inbox.png")
				w.js("open settings", `location.hash = "#/settings"`)
				w.b.waitJS("settings", `!!document.querySelector("#canned-form")`)
				w.docsShot(t, "settings.png")
			}
			w.requireClean(t)
		})
	}
}

// TestBrowser_WorkingALead drives working a lead at laptop and 375 px widths on Postgres:
// create one (name and phone) from the list, assign it, save a canned reply in Settings and
// send it with the lead's first name and vehicle filled in, keep an internal note that shows
// in the timeline (after a reload too) and is never sent, and snooze then cancel the lead's
// scheduled follow-up.
func TestBrowser_WorkingALead(t *testing.T) {
	t.Parallel()
	for _, v := range viewports {
		t.Run(v.name, func(t *testing.T) {
			w := newWorkday(t, v.phone, v.width, v.height)
			var me struct{ User jack.User }
			w.owner.must("GET", "/api/me", nil, http.StatusOK, &me)

			// Settings → Saved replies: add one with both variables.
			w.js("open settings", `location.hash = "#/settings"`)
			w.b.waitJS("the saved replies form", `!!document.querySelector("#canned-form")`)
			w.js("add a reply", `document.querySelector("#canned-add").click()`)
			w.js("fill it", `(r => { r.querySelector("[name=title]").value = "Test drive"; r.querySelector("[name=body]").value = "Hi {firstName}, the {vehicle} is ready for a test drive!"; })(document.querySelector("#canned-rows li"))`)
			w.js("save", `document.querySelector("#canned-save").click()`)
			waitFor(t, "the reply stored", func() bool {
				var org jack.Organization
				w.owner.must("GET", "/api/me", nil, http.StatusOK, &struct{ Organization *jack.Organization }{&org})
				return len(org.Settings.CannedReplies) == 1 && org.Settings.CannedReplies[0].Title == "Test drive"
			})
			require.LessOrEqual(t, evalJS[int](w.b, `document.documentElement.scrollWidth`), evalJS[int](w.b, `window.innerWidth`), "settings fit the width")

			// Leads → New lead.
			w.js("open the leads", `location.hash = "#/leads"`)
			w.b.do("new lead", chromedp.WaitVisible(chromedp.ID("new-lead")), chromedp.Click(chromedp.ID("new-lead")))
			w.b.do("fill the form",
				chromedp.SendKeys(chromedp.ID("new-lead-name"), "Priya Patel"),
				chromedp.SendKeys(chromedp.ID("new-lead-phone"), "(604) 555-0150"),
				chromedp.Click(chromedp.ID("new-lead-save")))
			w.b.waitJS("the new lead open", `document.querySelector("#conv-title")?.textContent === "Priya Patel"`)
			lead := w.lead(t, "+16045550150")
			require.Equal(t, "Priya Patel", lead.CustomerName)

			// Assign it to me with a vehicle of interest.
			w.openDetails()
			w.setField(t, "vehiclePreference", "2024 RAV4")
			w.js("assign", `(s => { s.value = `+jsString(t, me.User.ID.String())+`; s.dispatchEvent(new Event("change", {bubbles: true})); })(document.querySelector("#lead-assignedTo"))`)
			w.js("save", `document.querySelector("#lead-save").click()`)
			waitFor(t, "assigned", func() bool {
				var got jack.Lead
				w.owner.must("GET", "/api/leads/"+lead.ID, nil, http.StatusOK, &got)
				return got.AssignedTo != nil && *got.AssignedTo == me.User.ID && got.VehiclePreference == "2024 RAV4"
			})
			w.b.waitJS("the page has the saved lead", `document.querySelector("#lead-save").disabled`)
			w.js("close the details", `(b => b && getComputedStyle(b).display !== "none" && b.click())(document.querySelector(".close-details"))`)

			// The saved reply, filled in, sent.
			w.b.waitJS("the saved replies", `!document.querySelector("#canned-reply").hidden`)
			w.js("pick it", `(s => { s.value = "0"; s.dispatchEvent(new Event("change")); })(document.querySelector("#canned-reply"))`)
			want := "Hi Priya, the 2024 RAV4 is ready for a test drive!"
			w.b.waitJS("the filled text", `document.querySelector("#composer-text").value === `+jsString(t, want))
			w.js("send", `document.querySelector("#composer-send").click()`)
			sent := w.twilio.WaitForMessages(t, 1, 10*time.Second)
			require.Equal(t, want, sent[0].Body)
			w.b.waitJS("the sent text", hasBubble(t, "msg-staff", want))

			// An internal note: in the timeline, never sent.
			note := "Trade-in: 2015 Civic, wants numbers before Saturday"
			w.js("write a note", `(t => { t.value = `+jsString(t, note)+`; t.dispatchEvent(new Event("input")); })(document.querySelector("#composer-text"))`)
			w.js("save it as a note", `document.querySelector("#composer-note-add").click()`)
			w.b.waitJS("the note in the timeline", `[...document.querySelectorAll("#timeline .msg-note .msg-body")].some(b => b.textContent === `+jsString(t, note)+`)`)
			var notes struct{ Notes []jack.Note }
			w.owner.must("GET", "/api/leads/"+lead.ID+"/notes", nil, http.StatusOK, &notes)
			require.Len(t, notes.Notes, 1)
			require.Equal(t, note, notes.Notes[0].Body)
			// The lead's next follow-up, as the nurture cadence schedules it.
			var full jack.Lead
			w.owner.must("GET", "/api/leads/"+lead.ID, nil, http.StatusOK, &full)
			due := time.Now().Add(3 * time.Hour).UTC().Truncate(time.Second)
			r := storetest.MustScheduleReminder(t, w.m.Store, full.OrganizationID, &full, 0, due)

			w.b.do("reload", chromedp.Reload())
			w.b.waitJS("the note after a reload", `[...document.querySelectorAll("#timeline .msg-note .msg-body")].some(b => b.textContent === `+jsString(t, note)+`)`)
			require.Len(t, w.twilio.Messages(), 1, "the note was not sent")

			// Snooze it a day, then cancel it.
			w.openDetails()
			w.b.waitJS("the follow-up listed", `!!document.querySelector('#follow-ups [data-reminder-id="`+r.ID.String()+`"]')`)
			w.js("snooze", `document.querySelector("#follow-ups .follow-up-snooze").click()`)
			reminder := func() jack.Reminder {
				rs, err := w.m.Store.FindReminders(t.Context(), full.OrganizationID, full.PhoneNumberNormalized)
				require.NoError(t, err)
				require.Len(t, rs, 1)
				return *rs[0]
			}
			waitFor(t, "snoozed a day", func() bool { return !reminder().DueAt.Before(due.Add(24 * time.Hour)) })
			w.b.waitJS("the snoozed follow-up listed", `!!document.querySelector("#follow-ups .follow-up-cancel")`)
			w.js("cancel", `document.querySelector("#follow-ups .follow-up-cancel").click()`)
			waitFor(t, "canceled", func() bool { return reminder().Status == jack.ReminderCanceled })
			w.b.waitJS("none scheduled", `document.querySelector("#follow-ups")?.textContent === "None scheduled."`)
			w.requireClean(t)
		})
	}
}

// docsShot saves the visible page as name under JACK_DOCS_DIR (the README's screenshots:
// JACK_DOCS_DIR=$PWD/docs go test ./cmd/jack -run TestBrowser_Inbox/Desktop); without it,
// nothing.
func (w *workday) docsShot(t *testing.T, name string) {
	t.Helper()
	dir := os.Getenv("JACK_DOCS_DIR")
	if dir == "" {
		return
	}
	ctx, cancel := context.WithTimeout(w.b.ctx, 20*time.Second)
	defer cancel()
	data, err := chromedp.Run(ctx, chromedp.CaptureScreenshot())
	require.NoError(t, err)
	require.NoError(t, os.MkdirAll(dir, 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(dir, name), data, 0o644))
	t.Logf("screenshot %s (%d bytes)", filepath.Join(dir, name), len(data))
}

// TestBrowser_Team drives Settings → Team at laptop and 375 px widths on Postgres: add an agent
// with a password, make them an admin, deactivate them (their token stops working), and see a
// bad e-mail answered in the form.
func TestBrowser_Team(t *testing.T) {
	t.Parallel()
	for _, v := range viewports {
		t.Run(v.name, func(t *testing.T) {
			w := newWorkday(t, v.phone, v.width, v.height)
			w.js("open settings", `location.hash = "#/settings"`)
			w.b.waitJS("the team", `document.querySelectorAll("#team .team-member").length === 1`)

			w.b.do("bad e-mail",
				chromedp.SendKeys(chromedp.ID("team-name"), "Alex Agent"),
				chromedp.SendKeys(chromedp.ID("team-email"), "not-an-email"),
				chromedp.SendKeys(chromedp.ID("team-password"), "correct horse"))
			w.js("add", `document.querySelector("#team-add").click()`)
			w.b.waitJS("the field error", `!!document.querySelector("#team-form .field-error")`)
			w.js("fix the e-mail", `(e => { e.value = "alex@sms.test"; })(document.querySelector("#team-email"))`)
			w.js("add", `document.querySelector("#team-add").click()`)
			w.b.waitJS("two members", `document.querySelectorAll("#team .team-member").length === 2`)
			agent := &client{tb: t, base: w.m.URL()}
			var a authAnswer
			agent.must("POST", "/api/auth/login", map[string]string{"email": "alex@sms.test", "password": "correct horse"}, http.StatusOK, &a)
			agent.token = a.Token
			require.Equal(t, jack.RoleAgent, a.User.Role)

			row := `document.querySelector('#team [data-user-id="` + a.User.ID.String() + `"]')`
			w.js("make admin", `(s => { s.value = "admin"; s.dispatchEvent(new Event("change")); })(`+row+`.querySelector(".team-role"))`)
			waitFor(t, "the new role", func() bool {
				var users struct{ Users []jack.User }
				w.owner.must("GET", "/api/users", nil, http.StatusOK, &users)
				for _, u := range users.Users {
					if u.ID == a.User.ID {
						return u.Role == jack.RoleAdmin
					}
				}
				return false
			})
			w.b.waitJS("the row redrawn", row+`?.querySelector(".team-role").value === "admin"`)
			w.js("deactivate", row+`.querySelector(".team-active").click()`)
			waitFor(t, "their token refused", func() bool { return agent.do("GET", "/api/me", nil, nil) == http.StatusUnauthorized })
			w.b.waitJS("shown deactivated", row+`?.classList.contains("team-inactive")`)
			w.requireClean(t, http.StatusUnprocessableEntity)
		})
	}
}

// TestBrowser_Settings drives Settings → Dealership at laptop and 375 px widths on Postgres:
// a bad time zone is answered in the form; then name, time zone, contact hours and the
// answer-on-resume switch are saved.
func TestBrowser_Settings(t *testing.T) {
	t.Parallel()
	for _, v := range viewports {
		t.Run(v.name, func(t *testing.T) {
			w := newWorkday(t, v.phone, v.width, v.height)
			w.js("open settings", `location.hash = "#/settings"`)
			w.b.waitJS("the form", `!!document.querySelector("#org-form")`)
			set := func(id, value string) {
				w.js("set "+id, `document.querySelector("#`+id+`").value = `+jsString(t, value))
			}
			set("org-tz", "Mars/Olympus")
			w.js("save", `document.querySelector("#org-save").click()`)
			w.b.waitJS("the field error", `!!document.querySelector("#org-form .field-error")`)
			set("org-name", "Premium Auto North")
			set("org-tz", "America/Vancouver")
			set("org-start", "09:00")
			set("org-end", "20:00")
			w.js("AI resume off", `document.querySelector("#org-resume").click()`)
			w.js("save", `document.querySelector("#org-save").click()`)
			waitFor(t, "the settings stored", func() bool {
				var me struct{ Organization jack.Organization }
				w.owner.must("GET", "/api/me", nil, http.StatusOK, &me)
				o := me.Organization
				return o.Name == "Premium Auto North" && o.Settings.TimeZone == "America/Vancouver" &&
					o.Settings.ContactHoursStart == "09:00" && o.Settings.ContactHoursEnd == "20:00" && !o.Settings.AnswersOnResume()
			})
			w.requireClean(t, http.StatusUnprocessableEntity)
		})
	}
}
