package main

import (
	"net/http"
	"net/http/httptest"
	"os"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/require"

	"github.com/jack-auto/jack"
	"github.com/jack-auto/jack/persistence/storetest"
)

// TestBrowser_Integrations drives Settings → Integrations at phone width (375 px): add a webhook
// through the form and see its secret once, send a test event, then see a real delivery listed
// and redeliver it; the page never scrolls sideways. Screenshots go to JACK_SCREENSHOT_DIR when
// set, else to a temp dir.
func TestBrowser_Integrations(t *testing.T) {
	t.Parallel()
	chromiumPath(t)
	dir := os.Getenv("JACK_SCREENSHOT_DIR")
	if dir == "" {
		dir = t.TempDir()
	}
	require.NoError(t, os.MkdirAll(dir, 0o755))

	var received atomic.Int64
	crmServer := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		received.Add(1)
		w.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(crmServer.Close)
	m := MustRunMain(t, map[string]string{"JACK_WEBHOOK_ALLOW_PRIVATE": "1"})
	_, auth := register(t, m.URL(), "owner@settings.test")

	b := newBrowser(t)
	b.do("phone viewport", chromedp.EmulateViewport(375, 812, chromedp.EmulateScale(2), chromedp.EmulateMobile))
	b.do("sign in",
		chromedp.Navigate(m.URL()+"/"),
		chromedp.WaitVisible(chromedp.ID("login-email")),
		chromedp.SendKeys(chromedp.ID("login-email"), "owner@settings.test"),
		chromedp.SendKeys(chromedp.ID("login-password"), "correct horse"),
		chromedp.Click(chromedp.ID("login-submit")),
	)
	b.waitJS("signed in", `!!document.querySelector(".shell")`)
	b.do("open settings", chromedp.Evaluate[chromedp.Void](`location.hash = "#/settings"`))
	b.waitJS("the empty list", `!!document.querySelector("#integrations .empty") && !document.querySelector("#integrations .empty").textContent.startsWith("Loading")`)
	b.do("choose a webhook", chromedp.SetValue(chromedp.ID("f-kind"), "webhook"),
		chromedp.Evaluate[chromedp.Void](`document.querySelector("#f-kind").dispatchEvent(new Event("change"))`))
	b.do("add it",
		chromedp.SendKeys(chromedp.ID("f-url"), crmServer.URL+"/jack"),
		chromedp.Click(chromedp.CSS(`input[value="message.received"]`)),
		chromedp.Click(chromedp.CSS(`#main form button[type=submit]`)),
	)
	b.waitJS("the secret, once", `/^whsec_[0-9a-f]{64}$/.test(document.querySelector(".secret")?.textContent || "")`)
	b.waitJS("the integration card", `document.querySelectorAll("#integrations .integration").length === 1`)
	b.screenshot(dir, "integrations-phone.png")

	b.do("send a test", chromedp.Evaluate[chromedp.Void](`document.querySelector("#integrations .integration-actions button").click()`))
	waitFor(t, "the test event at the CRM", func() bool { return received.Load() == 1 })

	// A real event: a new lead, as the conversation grain stores it.
	store := m.Store
	orgID := auth.Organization.ID
	lead := storetest.MustCreateLead(t, store, orgID, "+16045550163")
	storetest.MustInsertEvents(t, store, orgID, jack.NewEvent(jack.EventLeadUpdated, orgID, lead.ID, lead.PhoneNumberNormalized, time.Now(), lead))
	waitFor(t, "the lead.created delivery", func() bool { return received.Load() == 2 })
	b.do("show deliveries", chromedp.Evaluate[chromedp.Void](
		`[...document.querySelectorAll("#integrations .integration-actions button")].find(x => x.textContent === "Deliveries").click()`))
	b.waitJS("the delivery listed", `[...document.querySelectorAll(".delivery")].some(d => d.textContent.includes("lead.created") && d.textContent.includes("succeeded") && d.textContent.includes("HTTP 204"))`)
	// A click through script: a toast may cover the button at this width.
	b.do("redeliver", chromedp.Evaluate[chromedp.Void](`document.querySelector(".delivery button").click()`))
	waitFor(t, "the redelivery recorded", func() bool {
		integrations, err := store.FindIntegrations(t.Context(), orgID)
		require.NoError(t, err)
		ds, err := store.FindDeliveries(t.Context(), orgID, integrations[0].ID, 0)
		require.NoError(t, err)
		return received.Load() == 3 && len(ds) == 1 && len(ds[0].History) == 2
	})
	b.do("reload deliveries", chromedp.Evaluate[chromedp.Void](`(b => { b.click(); b.click(); })(
		[...document.querySelectorAll("#integrations .integration-actions button")].find(x => x.textContent.endsWith("eliveries")))`))
	b.waitJS("both attempts listed", `(d => d && d.querySelector("summary").textContent === "History: 2 attempts" && d.querySelectorAll("li").length === 2)(document.querySelector(".delivery-attempts"))`)
	require.LessOrEqual(t, evalJS[int](b, `document.documentElement.scrollWidth`), 375, "no sideways scrolling at 375 px")
	b.screenshot(dir, "integrations-deliveries-phone.png")

	b.mu.Lock()
	defer b.mu.Unlock()
	require.Empty(t, b.exceptions, "the page threw")
}
