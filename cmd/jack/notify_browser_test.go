package main

import (
	"net/http"
	"testing"

	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/require"

	"github.com/jack-auto/jack"
)

// notifyStubs replaces the Notification API (headless Chromium shows none) and WebAudio with
// counters: window.__notes holds each notification shown, window.__tones counts the tones
// started (a beep is two). permission is the Notification permission the stub starts with.
func notifyStubs(permission string) string {
	return `(() => {
		window.__notes = [];
		window.__tones = 0;
		class N {
			constructor(title, opts) { window.__notes.push({ title, body: opts.body, tag: opts.tag }); }
			close() {}
		}
		N.permission = "` + permission + `";
		N.requestPermission = () => { N.permission = "granted"; return Promise.resolve("granted"); };
		window.Notification = N;
		window.AudioContext = class {
			constructor() { this.currentTime = 0; this.state = "running"; this.destination = {}; }
			resume() { return Promise.resolve(); }
			createOscillator() { return { frequency: {}, connect() {}, start() { window.__tones++; }, stop() {} }; }
			createGain() { return { gain: { setValueAtTime() {}, exponentialRampToValueAtTime() {} }, connect() {} }; }
		};
	})()`
}

// TestBrowser_Notify drives notifications at laptop and 375 px widths on Postgres with two tabs
// of one browser signed in as the same user: permission is asked from the "Turn on
// notifications" click; a text to the user's own conversation and one asking for a person
// notify exactly once across both tabs, with a beep; a text to someone else's conversation
// that needs no human does not; muted (in either tab, remembered), a text notifies without a
// sound; when the notifying tab reloads, the other takes over.
func TestBrowser_Notify(t *testing.T) {
	t.Parallel()
	for _, v := range viewports {
		t.Run(v.name, func(t *testing.T) {
			w := newWorkday(t, v.phone, v.width, v.height, "JACK_AI_DEBOUNCE", "1h")
			tab := w.b.newTab(t)
			emulate(tab, v.phone, v.width, v.height)
			signIn(tab, w.m.URL())
			w2 := &workday{smsBundle: w.smsBundle, b: tab, phone: v.phone}

			var me struct{ User jack.User }
			w.owner.must("GET", "/api/me", nil, http.StatusOK, &me)
			var maria, bob, carl jack.Lead
			w.owner.must("POST", "/api/leads", map[string]any{"customerName": "Maria Lopez", "phoneNumber": "+16045550142", "assignedTo": me.User.ID}, http.StatusCreated, &maria)
			w.owner.must("POST", "/api/leads", map[string]string{"customerName": "Bob Stone", "phoneNumber": "+16045550143"}, http.StatusCreated, &bob)
			w.owner.must("POST", "/api/leads", map[string]string{"customerName": "Carl Reed", "phoneNumber": "+16045550144"}, http.StatusCreated, &carl)

			w.js("stub the notifications", notifyStubs("default"))
			w2.js("stub the notifications", notifyStubs("granted"))
			w.b.waitJS("the ask button", `!!document.querySelector("#notify-ask")`)
			w.js("turn on notifications", `document.querySelector("#notify-ask").click()`)
			w.b.waitJS("permission granted, the button gone", `Notification.permission === "granted" && document.querySelector("#notify-ask").hidden`)

			handled := func(n int) {
				t.Helper()
				const total = `Number(document.querySelector(".notify")?.dataset.handled || 0)`
				waitFor(t, "the tabs decided on every text", func() bool {
					return evalJS[int](w.b, total)+evalJS[int](tab, total) == n
				})
			}
			notes := func() []string {
				return append(evalJS[[]string](w.b, `window.__notes.map(n => n.title)`), evalJS[[]string](tab, `window.__notes.map(n => n.title)`)...)
			}
			tones := func() int { return evalJS[int](w.b, `window.__tones`) + evalJS[int](tab, `window.__tones`) }

			require.Equal(t, http.StatusOK, w.text(t, maria.PhoneNumberNormalized, "Is the Civic still there?"))
			handled(1)
			require.Equal(t, []string{"Text from Maria Lopez"}, notes(), "one notification across two tabs")
			require.Equal(t, 2, tones(), "one beep")

			require.Equal(t, http.StatusOK, w.text(t, carl.PhoneNumberNormalized, "Thanks, just looking"))
			handled(2)
			require.Equal(t, http.StatusOK, w.text(t, bob.PhoneNumberNormalized, "Can I talk to a real person please?"))
			handled(3)
			require.Equal(t, []string{"Text from Maria Lopez", "Text from Bob Stone (needs a human)"}, notes(), "Carl's text needs nobody")
			require.Equal(t, 4, tones())

			// Muted in the second tab: every tab is quiet, the notification still shows.
			w2.js("mute", `document.querySelector("#notify-sound").click()`)
			w.b.waitJS("muted in the first tab too", `document.querySelector("#notify-sound").getAttribute("aria-pressed") === "true"`)
			require.Equal(t, http.StatusOK, w.text(t, maria.PhoneNumberNormalized, "Saturday at 10?"))
			handled(4)
			require.Len(t, notes(), 3)
			require.Equal(t, 4, tones(), "a muted browser plays no sound")
			w2.b.do("reload", chromedp.Reload())
			w2.b.waitJS("still muted after a reload", `document.querySelector("#notify-sound")?.getAttribute("aria-pressed") === "true"`)
			w2.b.waitJS("the second tab live again", `document.querySelector("#live")?.dataset.state === "live"`)
			w2.js("stub the notifications", notifyStubs("granted"))

			// The leader (the first tab) reloads: the second tab takes over, and the first,
			// back, follows.
			w.b.do("reload the leader", chromedp.Reload())
			w.b.waitJS("the first tab live again", `document.querySelector("#live")?.dataset.state === "live"`)
			w.js("stub the notifications", notifyStubs("granted"))
			require.Equal(t, http.StatusOK, w.text(t, maria.PhoneNumberNormalized, "Are you open Sunday?"))
			w2.b.waitJS("the second tab notified", `window.__notes.length === 1 && window.__notes[0].title === "Text from Maria Lopez"`)
			require.Equal(t, 0, evalJS[int](w.b, `window.__notes.length`), "the first tab, now a follower, did not")

			w.requireClean(t)
			w2.requireClean(t)
		})
	}
}
