package main

import (
	"net/http"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/jack-auto/jack"
)

// TestBrowser_Numbers drives the Phone numbers screen at laptop and 375 px widths on Postgres
// with the fake Twilio: a malformed area code is answered in the form; a number is bought by
// area code; one the dealership owns is imported without provider ids; it is deactivated and
// activated again; the voice of the first number is linked with its ElevenLabs phone id.
func TestBrowser_Numbers(t *testing.T) {
	t.Parallel()
	for _, v := range viewports {
		t.Run(v.name, func(t *testing.T) {
			w := newWorkday(t, v.phone, v.width, v.height)
			w.twilio.AddAvailableNumbers("US", 201, "+12015550100")
			var me struct{ Organization jack.Organization }
			w.owner.must("GET", "/api/me", nil, http.StatusOK, &me)
			numbers := func() map[string]jack.PhoneNumber {
				var list struct{ PhoneNumbers []jack.PhoneNumber }
				w.owner.must("GET", "/api/organizations/"+me.Organization.ID.String()+"/phone-numbers", nil, http.StatusOK, &list)
				byPhone := map[string]jack.PhoneNumber{}
				for _, n := range list.PhoneNumbers {
					byPhone[n.PhoneNumber] = n
				}
				return byPhone
			}
			card := func(phone string) string { return `document.querySelector('#numbers [data-phone="` + phone + `"]')` }
			set := func(id, value string) {
				w.js("type "+id, `document.querySelector("#`+id+`").value = `+jsString(t, value))
			}

			w.js("open phone numbers", `location.hash = "#/numbers"`)
			w.b.waitJS("the dealership's number", `!!`+card("+16045550100"))

			// Buy: a malformed area code first.
			set("buy-area", "12")
			w.js("buy", `document.querySelector("#buy-number").click()`)
			w.b.waitJS("the field error", `!!document.querySelector("#buy-area").parentElement.querySelector(".field-error")`)
			set("buy-area", "201")
			w.js("buy", `document.querySelector("#buy-number").click()`)
			w.b.waitJS("the bought number listed", `!!`+card("+12015550100")+` && document.querySelector(".purchase-result").textContent.includes("Bought")`)
			bought := numbers()["+12015550100"]
			require.True(t, bought.IsActive)
			require.NotEmpty(t, bought.ProviderPhoneID, "bought at Twilio")
			require.Len(t, w.twilio.IncomingNumbers(), 1)

			// Import one the dealership owns, without provider ids.
			set("import-phone", "(604) 555-0199")
			w.js("import", `document.querySelector("#import-number").click()`)
			w.b.waitJS("the imported number listed", `!!`+card("+16045550199"))
			imported := numbers()["+16045550199"]
			require.True(t, imported.IsActive)
			require.Empty(t, imported.ProviderPhoneID)

			// Deactivate it, then activate it again.
			w.js("deactivate", card("+16045550199")+`.querySelector(".number-deactivate").click()`)
			w.b.waitJS("shown inactive", card("+16045550199")+`?.querySelector(".number-state").textContent === "Inactive"`)
			require.False(t, numbers()["+16045550199"].IsActive)
			w.js("activate", card("+16045550199")+`.querySelector(".number-activate").click()`)
			w.b.waitJS("shown active", card("+16045550199")+`?.querySelector(".number-state").textContent === "Active"`)
			require.True(t, numbers()["+16045550199"].IsActive)

			// Link the first number's voice.
			w.js("type the ElevenLabs id", card("+16045550100")+`.querySelector("[name=elevenLabsPhoneId]").value = "phnum_0123"`)
			w.js("link", card("+16045550100")+`.querySelector(".number-activate").click()`)
			w.b.waitJS("voice ready", card("+16045550100")+`?.textContent.includes("Voice ready")`)
			require.Equal(t, "phnum_0123", numbers()["+16045550100"].VoicePhoneID)

			w.requireClean(t, http.StatusUnprocessableEntity)
		})
	}
}
