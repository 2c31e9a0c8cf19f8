package main

import (
	"encoding/json"
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/jack-auto/jack"
	"github.com/jack-auto/jack/providers/fake"
	"github.com/jack-auto/jack/providers/twilio"
)

// purchased is what POST …/phone-numbers/purchase answers.
type purchased struct {
	Success      bool             `json:"success"`
	PhoneNumber  jack.PhoneNumber `json:"phoneNumber"`
	TwilioSid    string           `json:"twilioSid"`
	VoicePhoneID string           `json:"elevenLabsPhoneId"`
	NextSteps    []string         `json:"nextSteps"`
}

// TestMain_PurchasedNumber: a dealership buys a number through the API; Twilio sells it with
// Jack's webhooks, ElevenLabs imports it with the agent, and from then on a text and a call to
// that number reach this dealership and no other.
func TestMain_PurchasedNumber(t *testing.T) {
	t.Parallel()
	const (
		agentID      = "agent_e2e_numbers"
		headerSecret = "initiation-shared-secret"
	)
	tw := fake.NewTwilio(t, "AC0123456789abcdef0123456789abcdef", "fakeauthtoken0123456789")
	el := fake.NewElevenLabs(t, "xi-e2e-numbers")
	m := MustRunMain(t, map[string]string{
		"TWILIO_ACCOUNT_SID":                            tw.AccountSID(),
		"TWILIO_AUTH_TOKEN":                             tw.AuthToken(),
		"TWILIO_API_URL":                                tw.URL(),
		"ELEVENLABS_API_KEY":                            el.APIKey(),
		"ELEVENLABS_AGENT_ID":                           agentID,
		"ELEVENLABS_API_URL":                            el.URL(),
		"ELEVENLABS_WEBHOOK_HEADER_VALUE":               headerSecret,
		"ELEVENLABS_CONVERSATION_EVENTS_WEBHOOK_SECRET": "post-call-secret-0123456789",
	})
	tw.AddAvailableNumbers("US", 201, "+12015550100")
	tw.AddAvailableNumbers("US", 212, "+12125550100")

	owner, a := register(t, m.URL(), "owner@numbers.test")
	var bought purchased
	owner.must("POST", "/api/admin/organizations/"+a.Organization.ID.String()+"/phone-numbers/purchase",
		map[string]string{"areaCode": "201"}, http.StatusCreated, &bought)
	require.True(t, bought.Success)
	dealerPhone := bought.PhoneNumber.PhoneNumber
	require.Equal(t, "+12015550100", dealerPhone)
	require.NotEmpty(t, bought.VoicePhoneID)
	require.Empty(t, bought.NextSteps)

	// Another dealership with its own number sees none of it.
	other, b := register(t, m.URL(), "owner@other-numbers.test")
	other.must("POST", "/api/admin/organizations/"+b.Organization.ID.String()+"/phone-numbers/purchase",
		map[string]int{"areaCode": 212}, http.StatusCreated, nil)

	sold := tw.IncomingNumbers()
	require.Len(t, sold, 2)
	require.Equal(t, bought.TwilioSid, sold[0].Sid)
	require.Equal(t, m.URL()+"/api/webhooks/twilio/sms/incoming", sold[0].SmsURL)
	require.Equal(t, m.URL()+"/api/webhooks/twilio/sms/status", sold[0].StatusCallback)
	imported := el.PhoneNumbers()
	require.Len(t, imported, 2)
	require.Equal(t, bought.VoicePhoneID, imported[0].ID)
	require.Equal(t, dealerPhone, imported[0].PhoneNumber)
	require.Equal(t, agentID, imported[0].AgentID)
	require.Equal(t, tw.AccountSID(), imported[0].SID)
	require.False(t, *imported[0].EnableSMS)

	t.Run("InboundSMS", func(t *testing.T) {
		customer := "+16045550188"
		// Twilio posts to the SmsUrl it was given at purchase.
		resp := tw.PostWebhook(t, sold[0].SmsURL, tw.InboundSMSParams(customer, dealerPhone, "Is the Tacoma still available?"))
		require.Equal(t, http.StatusOK, resp.StatusCode)

		var page jack.LeadPage
		owner.must("GET", "/api/leads", nil, http.StatusOK, &page)
		require.Len(t, page.Leads, 1)
		require.Equal(t, customer, page.Leads[0].PhoneNumberNormalized)
		other.must("GET", "/api/leads", nil, http.StatusOK, &page)
		require.Empty(t, page.Leads, "the other dealership got nothing")
	})

	t.Run("CallInitiation", func(t *testing.T) {
		resp := el.PostInitiation(t, m.URL()+"/api/webhooks/elevenlabs/conversation-initiation", "X-Jack-Webhook-Secret", headerSecret,
			fake.InitiationPayload("+16045550177", dealerPhone, agentID, twilio.NewSid("CA")), false)
		body, err := io.ReadAll(resp.Body)
		require.NoError(t, err)
		require.Equal(t, http.StatusOK, resp.StatusCode, "%s", body)
		var init struct {
			Type             string         `json:"type"`
			DynamicVariables map[string]any `json:"dynamic_variables"`
		}
		require.NoError(t, json.Unmarshal(body, &init))
		require.Equal(t, "conversation_initiation_client_data", init.Type)
		require.Equal(t, a.Organization.Name, init.DynamicVariables["organization_name"])
		require.Equal(t, a.Organization.ID.String(), init.DynamicVariables["organization_id"])
	})

	t.Run("DeactivatedNumberRoutesNowhere", func(t *testing.T) {
		owner.must("POST", "/api/admin/phone-numbers/%2B12015550100/deactivate", nil, http.StatusOK, nil)
		resp := tw.PostWebhook(t, sold[0].SmsURL, tw.InboundSMSParams("+16045550166", dealerPhone, "Hello?"))
		require.Equal(t, http.StatusNotFound, resp.StatusCode)
		owner.must("POST", "/api/admin/phone-numbers/%2B12015550100/activate", map[string]string{}, http.StatusOK, nil)
		resp = tw.PostWebhook(t, sold[0].SmsURL, tw.InboundSMSParams("+16045550166", dealerPhone, "Hello?"))
		require.Equal(t, http.StatusOK, resp.StatusCode)
	})
}

// TestMain_NumberWithoutProviderID: a number imported without the provider's id (the README's
// quick start) is stored without one and works end to end: a text to it reaches the
// dealership and the AI answers from it.
func TestMain_NumberWithoutProviderID(t *testing.T) {
	t.Parallel()
	tw := fake.NewTwilio(t, "AC0123456789abcdef0123456789abcdef", "fakeauthtoken0123456789")
	m := MustRunMain(t, map[string]string{"TWILIO_ACCOUNT_SID": tw.AccountSID(), "TWILIO_AUTH_TOKEN": tw.AuthToken(), "TWILIO_API_URL": tw.URL()})
	owner, a := register(t, m.URL(), "owner@noid.test")
	owner.must("PATCH", "/api/organization", map[string]any{"settings": map[string]string{"contactHoursStart": "00:00", "contactHoursEnd": "24:00"}}, http.StatusOK, nil)
	b := &smsBundle{m: m, twilio: tw, owner: owner, orgPhone: "+16045550144"}

	var pn jack.PhoneNumber
	owner.must("POST", "/api/organizations/"+a.Organization.ID.String()+"/phone-numbers", map[string]string{"phoneNumber": b.orgPhone}, http.StatusCreated, &pn)
	require.Empty(t, pn.ProviderPhoneID)
	require.True(t, pn.IsActive)

	customer := "+16045550145"
	require.Equal(t, http.StatusOK, b.text(t, customer, "Is the RAV4 available?"))
	sent := tw.WaitForMessages(t, 1, 10*time.Second)
	require.Equal(t, customer, sent[0].To)
	require.Equal(t, b.orgPhone, sent[0].From)
	require.Len(t, b.messages(t, b.lead(t, customer).ID), 2)
}
