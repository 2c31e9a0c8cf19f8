package main

import (
	"net/http"
	"testing"

	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/require"

	"github.com/jack-auto/jack"
)

// TestBrowser_SettingsAI drives Settings → Follow-ups and AI at laptop and 375 px widths on
// Postgres: a cadence step without its text is answered in the form; then the cadence is
// edited (a step changed, one removed, one added), the AI is turned off for new leads, its
// instructions and greeting set, and after a reload the form shows what was saved.
func TestBrowser_SettingsAI(t *testing.T) {
	t.Parallel()
	for _, v := range viewports {
		t.Run(v.name, func(t *testing.T) {
			w := newWorkday(t, v.phone, v.width, v.height)
			w.owner.must("PATCH", "/api/organization", map[string]any{"settings": map[string]any{"cadence": []map[string]string{
				{"after": "2h", "action": "sms", "message": "Still looking, {{customer_name}}?"},
				{"after": "1d", "action": "call"}}}}, http.StatusOK, nil)
			w.js("open settings", `location.hash = "#/settings"`)
			w.b.do("reload (the page read the settings at sign-in)", chromedp.Reload())
			w.b.waitJS("the cadence", `document.querySelectorAll("#cadence-rows li").length === 2`)
			row := func(i string) string { return `document.querySelectorAll("#cadence-rows li")[` + i + `]` }
			set := func(what, el, value string) {
				w.js(what, `(f => { f.value = `+jsString(t, value)+`; f.dispatchEvent(new Event("change", {bubbles: true})); })(`+el+`)`)
			}

			w.js("add a step", `document.querySelector("#cadence-add").click()`)
			set("its action", row("2")+`.querySelector("[data-field=action]")`, "sms")
			set("its delay", row("2")+`.querySelector("[data-field=after]")`, "3d")
			w.js("save", `document.querySelector("#ai-save").click()`)
			w.b.waitJS("the field error", row("2")+`.querySelector("[aria-invalid=true]")?.dataset.field === "message" && !!document.querySelector("#ai-form .field-error")`)

			set("its text", row("2")+`.querySelector("[data-field=message]")`, "Our Saturday test-drive event is on, want a spot?")
			set("the first step's delay", row("0")+`.querySelector("[data-field=after]")`, "4h")
			w.js("remove the call", row("1")+`.querySelector(".cadence-remove").click()`)
			w.js("AI off for new leads", `document.querySelector("#org-ai-default").click()`)
			set("the greeting", `document.querySelector("#org-ai-greeting")`, "Hi, this is Sam at Premium Auto!")
			set("the instructions", `document.querySelector("#org-ai-instructions")`, "Never quote prices; offer a visit.")
			w.js("save", `document.querySelector("#ai-save").click()`)
			waitFor(t, "the settings stored", func() bool {
				var me struct{ Organization jack.Organization }
				w.owner.must("GET", "/api/me", nil, http.StatusOK, &me)
				s := me.Organization.Settings
				return len(s.Cadence) == 2 && !s.AIOnByDefault() && s.AIGreeting == "Hi, this is Sam at Premium Auto!" &&
					s.AIInstructions == "Never quote prices; offer a visit."
			})
			var me struct{ Organization jack.Organization }
			w.owner.must("GET", "/api/me", nil, http.StatusOK, &me)
			require.Equal(t, []jack.CadenceStep{
				{After: jack.Duration(4 * 3600e9), Action: "sms", Message: "Still looking, {{customer_name}}?"},
				{After: jack.Duration(3 * 24 * 3600e9), Action: "sms", Message: "Our Saturday test-drive event is on, want a spot?"}},
				me.Organization.Settings.Cadence)
			w.b.waitJS("no field error left", `!document.querySelector("#ai-form .field-error")`)

			w.b.do("reload", chromedp.Reload())
			w.b.waitJS("the saved form", `document.querySelectorAll("#cadence-rows li").length === 2`)
			require.Equal(t, "4h|3d|Our Saturday test-drive event is on, want a spot?", evalJS[string](w.b,
				`[...document.querySelectorAll("#cadence-rows [data-field=after]")].map(e => e.value).join("|") + "|" + `+row("1")+`.querySelector("[data-field=message]").value`))
			require.False(t, evalJS[bool](w.b, `document.querySelector("#org-ai-default").checked`))
			require.Equal(t, "Hi, this is Sam at Premium Auto!", evalJS[string](w.b, `document.querySelector("#org-ai-greeting").value`))
			require.Equal(t, "Never quote prices; offer a visit.", evalJS[string](w.b, `document.querySelector("#org-ai-instructions").value`))
			w.requireClean(t, http.StatusUnprocessableEntity)
		})
	}
}
