package main

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/jack-auto/jack"
	"github.com/jack-auto/jack/persistence/postgres/postgrestest"
)

// TestMain_Takeover: only a staff text the provider accepted pauses the AI, and resuming the AI
// answers what the customer wrote while staff had the conversation, unless the organization
// turned that off. On Postgres, through HTTP and the fake Twilio.
func TestMain_Takeover(t *testing.T) {
	t.Parallel()
	pg := func(t *testing.T) *smsBundle {
		return newSMSBundle(t, map[string]string{"DATABASE_URL": postgrestest.URL(t), "JWT_SECRET": strings.Repeat("t", 40)})
	}

	t.Run("RefusedStaffTextDoesNotPause", func(t *testing.T) {
		t.Parallel()
		b := pg(t)
		var lead jack.Lead
		b.owner.must("POST", "/api/leads", map[string]string{"customerName": "Rita Refused", "phoneNumber": "+16045550161"}, http.StatusCreated, &lead)
		b.twilio.FailNext(http.StatusBadRequest, 21211, "The 'To' number is not a valid phone number.")
		var e struct {
			Error struct{ Code, Message string }
		}
		status := b.owner.do("POST", "/api/twilio/send-sms", map[string]string{"leadId": lead.ID, "message": "Hi Rita", "idempotencyKey": "k-refused"}, &e)
		require.GreaterOrEqual(t, status, 400, "the refused text is an error: %+v", e)
		var after jack.Lead
		b.owner.must("GET", "/api/leads/"+lead.ID, nil, http.StatusOK, &after)
		require.Nil(t, after.AIPausedUntil, "a text the provider refused takes nothing over")

		// The AI still answers the customer.
		require.Equal(t, http.StatusOK, b.text(t, lead.PhoneNumberNormalized, "Are you open Sunday?"))
		sent := b.twilio.WaitForMessages(t, 1, 10*time.Second)
		require.Equal(t, lead.PhoneNumberNormalized, sent[0].To)

		// An accepted staff text does pause it.
		var d jack.Delivery
		b.owner.must("POST", "/api/twilio/send-sms", map[string]string{"leadId": lead.ID, "message": "Yes, 10 to 4!", "idempotencyKey": "k-ok"}, http.StatusCreated, &d)
		require.NotNil(t, d.Lead.AIPausedUntil)
		require.True(t, d.Lead.AIPaused(time.Now()))
	})

	t.Run("ResumeAnswersUnansweredText", func(t *testing.T) {
		t.Parallel()
		b := pg(t)
		var lead jack.Lead
		b.owner.must("POST", "/api/leads", map[string]string{"customerName": "Paula Paused", "phoneNumber": "+16045550162"}, http.StatusCreated, &lead)
		b.owner.must("POST", "/api/leads/"+lead.ID+"/ai", map[string]bool{"paused": true}, http.StatusOK, nil)
		require.Equal(t, http.StatusOK, b.text(t, lead.PhoneNumberNormalized, "Is the Tacoma still available?"))
		waitFor(t, "the customer's text stored", func() bool { return len(b.messages(t, lead.ID)) == 1 })
		require.Empty(t, b.twilio.Messages(), "the AI is quiet while paused")

		b.owner.must("POST", "/api/leads/"+lead.ID+"/ai", map[string]bool{"paused": false}, http.StatusOK, nil)
		sent := b.twilio.WaitForMessages(t, 1, 10*time.Second)
		require.Equal(t, lead.PhoneNumberNormalized, sent[0].To, "the AI answers the text that waited")
	})

	t.Run("ResumeSettingOff", func(t *testing.T) {
		t.Parallel()
		b := pg(t)
		var org jack.Organization
		b.owner.must("PATCH", "/api/organization", map[string]any{"settings": map[string]any{"aiAnswerOnResume": false}}, http.StatusOK, &org)
		require.False(t, org.Settings.AnswersOnResume())
		var lead jack.Lead
		b.owner.must("POST", "/api/leads", map[string]string{"customerName": "Quinn Quiet", "phoneNumber": "+16045550163"}, http.StatusCreated, &lead)
		b.owner.must("POST", "/api/leads/"+lead.ID+"/ai", map[string]bool{"paused": true}, http.StatusOK, nil)
		require.Equal(t, http.StatusOK, b.text(t, lead.PhoneNumberNormalized, "Thanks, I'll think about it"))
		waitFor(t, "the customer's text stored", func() bool { return len(b.messages(t, lead.ID)) == 1 })
		b.owner.must("POST", "/api/leads/"+lead.ID+"/ai", map[string]bool{"paused": false}, http.StatusOK, nil)
		// The AI debounce is 50ms in tests: twenty times that without a reply means none is coming.
		time.Sleep(time.Second)
		require.Empty(t, b.twilio.Messages(), "with the setting off, resuming answers nothing old")
		// The next text is answered as usual.
		require.Equal(t, http.StatusOK, b.text(t, lead.PhoneNumberNormalized, "Actually, can I come Friday?"))
		b.twilio.WaitForMessages(t, 1, 10*time.Second)
	})
}
