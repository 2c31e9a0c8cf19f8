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

// TestMain_ImportKeepsActivity: an import does not push the conversations staff are working off
// the top of the activity-sorted list: a row with its own date keeps it, one without has
// jack.NoActivity; and the imported leads reach open dashboards live (lead_updated events).
func TestMain_ImportKeepsActivity(t *testing.T) {
	t.Parallel()
	b := newSMSBundle(t, map[string]string{"DATABASE_URL": postgrestest.URL(t), "JWT_SECRET": strings.Repeat("t", 40)})
	require.Equal(t, http.StatusOK, b.text(t, "+16045550171", "Hi, is the Civic still there?"))
	talking := b.lead(t, "+16045550171")

	b.importCSV(t, "name,phone,last contact\nOld Timer,6045550172,2024-03-30\nNo Date,6045550173,\n")

	var page jack.LeadPage
	b.owner.must("GET", "/api/leads?sort=activity", nil, http.StatusOK, &page)
	require.Len(t, page.Leads, 3)
	require.Equal(t, talking.ID, page.Leads[0].ID, "the conversation stays first")
	require.Equal(t, "Old Timer", page.Leads[1].CustomerName)
	require.Equal(t, time.Date(2024, 3, 30, 0, 0, 0, 0, time.UTC), page.Leads[1].LastActivity.UTC())
	require.Equal(t, "No Date", page.Leads[2].CustomerName)
	require.True(t, page.Leads[2].LastActivity.Equal(jack.NoActivity))

	// Live: each imported lead's lead_updated event is in the organization's event log.
	waitFor(t, "the imported leads' events", func() bool {
		events, err := b.m.Store.FindEvents(t.Context(), page.Leads[0].OrganizationID, jack.EventFilter{})
		require.NoError(t, err)
		seen := map[string]bool{}
		for _, ev := range events {
			if ev.Type == jack.EventLeadUpdated {
				seen[ev.LeadID] = true
			}
		}
		return seen[page.Leads[1].ID] && seen[page.Leads[2].ID]
	})
}

// importCSV posts a CSV file to the lead import as the owner and requires 200.
func (b *smsBundle) importCSV(t *testing.T, csv string) {
	t.Helper()
	req, err := http.NewRequest("POST", b.m.URL()+"/api/leads/import", strings.NewReader(csv))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "text/csv")
	req.Header.Set("Authorization", "Bearer "+b.owner.token)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	require.NoError(t, resp.Body.Close())
	require.Equal(t, http.StatusOK, resp.StatusCode)
}

// TestMain_AIOffByDefault: with AI on by default off, a new customer's text starts a lead with
// the AI paused and gets no AI reply; with it on (the default) a new customer is answered. On
// Postgres, through HTTP and the fake Twilio.
func TestMain_AIOffByDefault(t *testing.T) {
	t.Parallel()
	b := newSMSBundle(t, map[string]string{"DATABASE_URL": postgrestest.URL(t), "JWT_SECRET": strings.Repeat("t", 40)})
	var org jack.Organization
	b.owner.must("PATCH", "/api/organization", map[string]any{"settings": map[string]any{"aiEnabledByDefault": false}}, http.StatusOK, &org)
	require.False(t, org.Settings.AIOnByDefault())

	require.Equal(t, http.StatusOK, b.text(t, "+16045550181", "Do you have the Civic in blue?"))
	var quiet jack.Lead
	waitFor(t, "the new customer's lead", func() bool {
		var page jack.LeadPage
		b.owner.must("GET", "/api/leads?q=%2B16045550181", nil, http.StatusOK, &page)
		if len(page.Leads) == 1 && len(b.messages(t, page.Leads[0].ID)) == 1 {
			quiet = *page.Leads[0]
			return true
		}
		return false
	})
	require.True(t, quiet.AIPaused(time.Now()), "the lead starts with the AI paused")

	b.owner.must("PATCH", "/api/organization", map[string]any{"settings": map[string]any{"aiEnabledByDefault": true}}, http.StatusOK, nil)
	require.Equal(t, http.StatusOK, b.text(t, "+16045550182", "Do you have the Civic in red?"))
	sent := b.twilio.WaitForMessages(t, 1, 10*time.Second)
	require.Equal(t, "+16045550182", sent[0].To, "with it on, the new customer is answered")
	require.Nil(t, b.lead(t, "+16045550182").AIPausedUntil)
	// The AI debounce is 50ms in tests and the second customer was answered after the first
	// wrote: a reply to the first would have come by now.
	time.Sleep(500 * time.Millisecond)
	for _, m := range b.twilio.Messages() {
		require.NotEqual(t, "+16045550181", m.To, "no AI reply while the AI is paused")
	}
	require.Len(t, b.messages(t, quiet.ID), 1, "only the customer's text")
}
