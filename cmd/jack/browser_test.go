package main

import (
	"bytes"
	"context"
	"encoding/json"
	"image/png"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/require"

	"github.com/jack-auto/jack"
)

// browser is a headless Chromium tab for one test, with the page's console in the test log.
type browser struct {
	t   *testing.T
	ctx context.Context

	mu         sync.Mutex
	exceptions []string // uncaught exceptions and unhandled rejections of the page
	errors     []string // console errors: console.error calls and the browser's error log entries
}

// chromiumPath is Debian's chromium; the test skips when it is missing (.ci/run installs it).
func chromiumPath(tb testing.TB) string {
	tb.Helper()
	for _, name := range []string{"/usr/bin/chromium", "chromium", "chromium-browser"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	tb.Skip("chromium is not installed (apt-get install chromium; .ci/run does): skipping the dashboard browser test")
	return ""
}

// newBrowser starts Chromium with a fresh profile and closes it in t.Cleanup, before the server
// (cleanups run in reverse), so its event stream ends first.
func newBrowser(t *testing.T) *browser {
	t.Helper()
	path := chromiumPath(t)
	var done atomic.Bool
	logf := func(format string, args ...any) {
		if !done.Load() {
			t.Logf("chromedp: "+format, args...)
		}
	}
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(path),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1440, 900),
	)
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelTab := chromedp.NewContext(actx, chromedp.WithErrorf(logf))
	b := &browser{t: t, ctx: ctx}

	read := b.watch(logf)
	t.Cleanup(func() {
		cancelTab()
		<-read
		cancelAlloc()
		done.Store(true)
	})
	return b
}

// watch records the tab's exceptions and console errors (and logs its console) until its
// context ends; the channel closes then.
func (b *browser) watch(logf func(format string, args ...any)) <-chan struct{} {
	// Console starts the browser (no timeout on this first use: it would stop the browser).
	messages := chromedp.Console(b.ctx)
	read := make(chan struct{})
	go func() {
		defer close(read)
		for m, err := range messages {
			if err != nil {
				return
			}
			logf("console %s", m)
			if m.IsException() {
				b.mu.Lock()
				b.exceptions = append(b.exceptions, m.Text)
				b.mu.Unlock()
			}
			if m.Type == chromedp.ConsoleError || m.IsException() {
				b.mu.Lock()
				b.errors = append(b.errors, m.Source+": "+m.Text)
				b.mu.Unlock()
			}
		}
	}()
	return read
}

// newTab opens another tab in b's browser (the same profile: storage, BroadcastChannel and Web
// Locks are shared between the two), closed in t.Cleanup before the browser.
func (b *browser) newTab(t *testing.T) *browser {
	t.Helper()
	var done atomic.Bool
	logf := func(format string, args ...any) {
		if !done.Load() {
			t.Logf("chromedp tab 2: "+format, args...)
		}
	}
	ctx, cancel := chromedp.NewContext(b.ctx)
	tab := &browser{t: t, ctx: ctx}
	read := tab.watch(logf)
	t.Cleanup(func() {
		cancel()
		<-read
		done.Store(true)
	})
	return tab
}

// do runs steps within a deadline and fails the test with what when one fails.
func (b *browser) do(what string, steps ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 20*time.Second)
	defer cancel()
	require.NoError(b.t, chromedp.Do(ctx, steps...), what)
}

// waitJS waits until the JavaScript expression is truthy in the page.
func (b *browser) waitJS(what, expr string) {
	b.t.Helper()
	b.do("wait for "+what, chromedp.Poll[chromedp.Void](expr, chromedp.WithPollingTimeout(15*time.Second)))
}

// evalJS returns the value of a JavaScript expression.
func evalJS[T any](b *browser, expr string) T {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 10*time.Second)
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](expr))
	require.NoError(b.t, err, expr)
	return v
}

// screenshot saves a PNG of the page as name under dir, after checking it decodes.
func (b *browser) screenshot(dir, name string) string {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 20*time.Second)
	defer cancel()
	data, err := chromedp.Run(ctx, chromedp.FullScreenshot(100)) // 100: PNG, not JPEG
	require.NoError(b.t, err)
	require.NotEmpty(b.t, data)
	img, err := png.Decode(bytes.NewReader(data))
	require.NoError(b.t, err, "the screenshot is a PNG")
	require.Positive(b.t, img.Bounds().Dx())
	require.Positive(b.t, img.Bounds().Dy())
	path := filepath.Join(dir, name)
	require.NoError(b.t, os.WriteFile(path, data, 0o644))
	b.t.Logf("screenshot %s (%dx%d)", path, img.Bounds().Dx(), img.Bounds().Dy())
	return path
}

// jsString quotes s as a JavaScript string literal.
func jsString(tb testing.TB, s string) string {
	tb.Helper()
	q, err := json.Marshal(s)
	require.NoError(tb, err)
	return string(q)
}

// hasBubble is an expression true when the open timeline has a bubble of class cls saying text.
func hasBubble(tb testing.TB, cls, text string) string {
	tb.Helper()
	return `[...document.querySelectorAll("#timeline .msg.` + cls + `")].some(m => m.querySelector(".msg-body").textContent === ` + jsString(tb, text) + `)`
}

// atEnd is true when the conversation is scrolled to its newest message.
const atEnd = `(s => s.scrollHeight - s.scrollTop - s.clientHeight < 2)(document.querySelector(".timeline-scroll"))`

// TestBrowser_Dashboard drives the embedded dashboard in headless Chromium: sign in through the
// form, open a lead, see a customer's text and the AI's answer arrive live over the event
// stream (no reload), reply as staff and see Twilio get it and report it delivered; then the
// phone-width layout, a new lead arriving unread, a failed text to an opted-out customer and
// the other pages. Screenshots go to JACK_SCREENSHOT_DIR when set, else
// to a temp dir.
func TestBrowser_Dashboard(t *testing.T) {
	t.Parallel()
	chromiumPath(t)
	dir := os.Getenv("JACK_SCREENSHOT_DIR")
	if dir == "" {
		dir = t.TempDir()
	}
	require.NoError(t, os.MkdirAll(dir, 0o755))

	sms := newSMSBundle(t, nil)
	customer := "+16045550142"
	var lead jack.Lead
	sms.owner.must("POST", "/api/leads", map[string]string{"customerName": "Maria Lopez", "phoneNumber": customer, "email": "maria@example.com"}, http.StatusCreated, &lead)
	// Some history before the page opens: the customer's first text and the AI's delivered answer.
	require.Equal(t, http.StatusOK, sms.text(t, customer, "Hi! Is the 2021 Honda Civic still on the lot?"))
	first := sms.twilio.WaitForMessages(t, 1, 10*time.Second)
	sms.twilio.SendStatus(t, first[0].Sid, "delivered", "")

	b := newBrowser(t)
	b.do("open the dashboard",
		chromedp.Navigate(sms.m.URL()+"/"),
		chromedp.WaitVisible(chromedp.ID("login-email")),
	)
	b.screenshot(dir, "login.png")
	b.do("sign in",
		chromedp.SendKeys(chromedp.ID("login-email"), "owner@sms.test"),
		chromedp.SendKeys(chromedp.ID("login-password"), "correct horse"),
		chromedp.Click(chromedp.ID("login-submit")),
	)
	item := chromedp.CSS(`a.lead-item[data-lead-id="` + lead.ID + `"]`)
	b.do("open the lead", chromedp.WaitVisible(item), chromedp.Click(item))
	b.waitJS("the history", `document.querySelectorAll("#timeline .msg").length === 2`)
	b.waitJS("the live stream", `document.querySelector("#live").dataset.state === "live"`)
	b.do("mark the page", chromedp.Evaluate[chromedp.Void](`window.__notReloaded = true`))

	// A customer's text arrives over the stream, then the AI's answer to it.
	inbound := "Could I come by Saturday for a test drive?"
	require.Equal(t, http.StatusOK, sms.text(t, customer, inbound))
	b.waitJS("the customer's text", hasBubble(t, "msg-in", inbound))
	sms.twilio.WaitForMessages(t, 2, 10*time.Second)
	b.waitJS("the AI's answer", `document.querySelectorAll("#timeline .msg.msg-ai").length === 2`)
	require.True(t, evalJS[bool](b, `window.__notReloaded === true`), "the page was not reloaded")

	// Staff replies from the composer: the message shows, Twilio gets it, delivery shows live.
	reply := "Saturday at 10 works. I'll have the Civic ready for you, Maria!"
	b.do("send a reply",
		chromedp.SendKeys(chromedp.ID("composer-text"), reply),
		chromedp.Click(chromedp.ID("composer-send")),
	)
	b.waitJS("the staff reply", hasBubble(t, "msg-staff", reply))
	sent := sms.twilio.WaitForMessages(t, 3, 10*time.Second)
	got := sent[len(sent)-1]
	require.Equal(t, reply, got.Body)
	require.Equal(t, customer, got.To)
	require.Equal(t, sms.orgPhone, got.From)
	sms.twilio.SendStatus(t, got.Sid, "delivered", "")
	b.waitJS("the delivered ticks", `[...document.querySelectorAll("#timeline .msg.msg-staff")].some(m => m.dataset.status === "delivered")`)
	b.waitJS("the AI-paused banner", `!!document.querySelector(".banner-warn")`)
	b.waitJS("the newest message in view", atEnd)
	b.waitJS("the lead first in the list", `document.querySelector("#lead-items a.lead-item").dataset.leadId === `+jsString(t, lead.ID))
	require.Equal(t, 5, evalJS[int](b, `document.querySelectorAll("#timeline .msg").length`))
	b.screenshot(dir, "dashboard.png")

	// Phone width: one pane at a time, the conversation first, the list behind "Leads".
	b.do("phone viewport", chromedp.EmulateViewport(390, 844, chromedp.EmulateScale(2), chromedp.EmulateMobile))
	b.waitJS("the list to hide", `getComputedStyle(document.querySelector(".list-pane")).display === "none"`)
	b.waitJS("the newest message in view", atEnd)
	b.screenshot(dir, "dashboard-phone.png")
	b.do("back to the list", chromedp.Click(chromedp.CSS(".conv-head a.back")))
	b.waitJS("the list", `getComputedStyle(document.querySelector(".list-pane")).display !== "none" && location.hash === "#/leads"`)
	b.screenshot(dir, "dashboard-phone-list.png")

	// Laptop width. A new customer texts in while Maria's conversation is open: the new lead
	// shows first in the list, unread.
	b.do("laptop viewport", chromedp.EmulateViewport(1280, 800))
	b.do("open Maria again", chromedp.Click(item))
	b.waitJS("Maria's conversation", `document.querySelectorAll("#timeline .msg").length === 5`)
	require.Equal(t, http.StatusOK, sms.text(t, "+16045550188", "Do you have any used trucks under $30k?"))
	newcomer := sms.lead(t, "+16045550188")
	b.waitJS("the new lead first and unread", `(a => a.dataset.leadId === `+jsString(t, newcomer.ID)+
		` && a.querySelector(".unread")?.textContent === "1")(document.querySelector("#lead-items a.lead-item"))`)

	// A customer unsubscribed at the carrier: the text fails and shows red with the reason, the
	// lead turns opted out and the composer turns off with a banner saying why.
	var dana jack.Lead
	sms.owner.must("POST", "/api/leads", map[string]string{"customerName": "Dana Smith", "phoneNumber": "+16045550177"}, http.StatusCreated, &dana)
	sms.twilio.OptOut(dana.PhoneNumberNormalized)
	b.do("open Dana", chromedp.Evaluate[chromedp.Void](`location.hash = "#/leads/`+dana.ID+`"`))
	b.waitJS("Dana's empty conversation", `document.querySelector("#conv-title").textContent === "Dana Smith" && !!document.querySelector("#timeline .empty")`)
	b.do("text Dana",
		chromedp.SendKeys(chromedp.ID("composer-text"), "Hi Dana, still looking for an SUV?"),
		chromedp.Click(chromedp.ID("composer-send")),
	)
	b.waitJS("the failed text", `(m => m && m.querySelector(".msg-error").textContent !== "")(document.querySelector("#timeline .msg.msg-failed"))`)
	b.waitJS("texting off", `document.querySelector("#composer-text").disabled && !!document.querySelector(".banner-danger")`)
	b.screenshot(dir, "opted-out.png")

	// The other pages: the imported number is listed; analytics shows or says it is not there.
	b.do("open phone numbers", chromedp.Evaluate[chromedp.Void](`location.hash = "#/numbers"`))
	b.waitJS("the org's number", `[...document.querySelectorAll("#numbers .number-phone")].some(e => e.textContent === "+1 (604) 555-0100")`)
	b.screenshot(dir, "numbers.png")
	b.do("open analytics", chromedp.Evaluate[chromedp.Void](`location.hash = "#/analytics"`))
	b.waitJS("analytics or its note", `!!document.querySelector(".analytics .stats, .analytics .note")`)
	b.screenshot(dir, "analytics.png")

	b.mu.Lock()
	defer b.mu.Unlock()
	require.Empty(t, b.exceptions, "the page threw")
}
