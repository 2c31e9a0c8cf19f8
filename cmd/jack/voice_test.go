package main

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/jack-auto/jack"
	"github.com/jack-auto/jack/actors"
	"github.com/jack-auto/jack/providers/elevenlabs"
	"github.com/jack-auto/jack/providers/fake"
)

const (
	webhookHeader = "X-Jack-Webhook-Secret"
	webhookValue  = "initiation-secret-0123456789"
	postCallKey   = "postcall-secret-0123456789"
)

// voiceBundle is a node wired to a fake Twilio and a fake ElevenLabs (the text agent and the
// dialer), with a signed-in owner and a number imported into ElevenLabs.
type voiceBundle struct {
	*smsBundle
	el *fake.ElevenLabs
}

func newVoiceBundle(t *testing.T) *voiceBundle {
	t.Helper()
	el := fake.NewElevenLabs(t, "elevenlabs-test-key")
	b := newSMSBundle(t, map[string]string{
		"ELEVENLABS_API_KEY": el.APIKey(), "ELEVENLABS_AGENT_ID": "agent_jack", "ELEVENLABS_API_URL": el.URL(),
		"ELEVENLABS_WEBHOOK_HEADER_VALUE": webhookValue, "ELEVENLABS_CONVERSATION_EVENTS_WEBHOOK_SECRET": postCallKey,
	})
	b.owner.must("POST", "/api/admin/phone-numbers/"+strings.ReplaceAll(b.orgPhone, "+", "%2B")+"/activate", map[string]string{"elevenLabsPhoneId": "phnum_jack"}, http.StatusOK, nil)
	return &voiceBundle{smsBundle: b, el: el}
}

func (b *voiceBundle) initiation(t *testing.T, caller, called, callSid string) (int, map[string]any) {
	t.Helper()
	resp := b.el.PostInitiation(t, b.m.URL()+"/api/webhooks/elevenlabs/conversation-initiation", webhookHeader, webhookValue,
		fake.InitiationPayload(caller, called, "agent_jack", callSid), false)
	defer resp.Body.Close()
	var out map[string]any
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	_ = json.Unmarshal(body, &out)
	return resp.StatusCode, out
}

func (b *voiceBundle) postCall(t *testing.T, spec fake.TranscriptionSpec) *http.Response {
	t.Helper()
	return b.el.PostCall(t, b.m.URL()+"/api/webhooks/elevenlabs/post-call", postCallKey, fake.TranscriptionPayload(spec))
}

func lastConversation(t *testing.T, el *fake.ElevenLabs) fake.ElevenLabsConversation {
	t.Helper()
	convs := el.Conversations()
	require.NotEmpty(t, convs)
	return convs[len(convs)-1]
}

// TestMain_CrossChannel: SMS → call → SMS, and the AI knows everything each time.
func TestMain_CrossChannel(t *testing.T) {
	t.Parallel()
	b := newVoiceBundle(t)
	customer := "+16045550188"

	// 1. The customer texts; the ElevenLabs text agent answers.
	require.Equal(t, http.StatusOK, b.text(t, customer, "Hi, do you have a 2022 RAV4 hybrid?"))
	b.twilio.WaitForMessages(t, 1, 10*time.Second)
	first := lastConversation(t, b.el)
	require.True(t, first.TextOnly, "the SMS agent runs text-only")
	require.Equal(t, []string{"Hi, do you have a 2022 RAV4 hybrid?"}, first.Messages)

	// 2. The customer calls: the initiation answer holds the SMS.
	status, answer := b.initiation(t, customer, b.orgPhone, "CAcross01")
	require.Equal(t, http.StatusOK, status, "%v", answer)
	require.Equal(t, "conversation_initiation_client_data", answer["type"])
	vars := answer["dynamic_variables"].(map[string]any)
	for _, name := range actors.DynamicVariableNames {
		require.Contains(t, vars, name, "every variable is present")
	}
	require.Contains(t, vars["conversation_context"], "[SMS] Customer: Hi, do you have a 2022 RAV4 hybrid?")
	require.Equal(t, "Active Lead", vars["lead_status"])

	// 3. The call ends; ElevenLabs posts the transcript.
	resp := b.postCall(t, fake.TranscriptionSpec{
		ConversationID: "conv_cross01", CallSid: "CAcross01", AgentNumber: b.orgPhone, ExternalNumber: customer,
		Turns: []fake.Turn{
			{Role: "agent", Message: "Thanks for calling Premium Auto!", TimeInCallSecs: 0},
			{Role: "user", Message: "I want to trade in my 2015 Corolla.", TimeInCallSecs: 3},
			{Role: "agent", Message: "", TimeInCallSecs: 5},
		},
		Summary: "Customer wants a RAV4 hybrid and to trade in a 2015 Corolla.", CallSuccessful: "success", DurationSecs: 40,
		StartUnix: time.Now().Add(-time.Minute).Unix(),
	})
	resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)

	// 4. The next text's agent session starts with the call in its context.
	require.Equal(t, http.StatusOK, b.text(t, customer, "What would my Corolla be worth?"))
	b.twilio.WaitForMessages(t, 2, 10*time.Second)
	second := lastConversation(t, b.el)
	require.NotEqual(t, first.ID, second.ID, "a fresh session after the call")
	ctx := second.DynamicVariables["conversation_context"].(string)
	require.Contains(t, ctx, "[Voice] Customer: I want to trade in my 2015 Corolla.")
	require.Contains(t, ctx, "[Voice] Agent: Thanks for calling Premium Auto!")
	require.Equal(t, "Customer wants a RAV4 hybrid and to trade in a 2015 Corolla.", second.DynamicVariables["previous_summary"])
	require.Equal(t, "Returning Customer", second.DynamicVariables["lead_status"])

	lead := b.lead(t, customer)
	msgs := b.messages(t, lead.ID)
	require.Len(t, msgs, 6, "sms, reply, two spoken turns, sms, reply")
}

func TestMain_PostCallWebhook(t *testing.T) {
	t.Parallel()
	b := newVoiceBundle(t)
	customer := "+16045550187"
	spec := fake.TranscriptionSpec{
		ConversationID: "conv_once", AgentNumber: b.orgPhone, ExternalNumber: customer,
		Turns:   []fake.Turn{{Role: "user", Message: "Hello?", TimeInCallSecs: 1}, {Role: "agent", Message: "Hi!", TimeInCallSecs: 2}},
		Summary: "Short hello.", CallSuccessful: "failure", DurationSecs: 10,
	}
	url := b.m.URL() + "/api/webhooks/elevenlabs/post-call"
	payload, err := json.Marshal(fake.TranscriptionPayload(spec))
	require.NoError(t, err)

	for _, tc := range []struct{ name, header string }{
		{"Forged", elevenlabs.Sign("not-the-secret", payload, time.Now())},
		{"Stale", elevenlabs.Sign(postCallKey, payload, time.Now().Add(-31*time.Minute))},
		{"Missing", ""},
		{"Garbage", "t=abc,v0=zz"},
	} {
		resp := b.el.PostCallRaw(t, url, tc.header, payload)
		resp.Body.Close()
		require.Equal(t, http.StatusUnauthorized, resp.StatusCode, tc.name)
	}
	var page jack.LeadPage
	b.owner.must("GET", "/api/leads", nil, http.StatusOK, &page)
	require.Empty(t, page.Leads, "nothing stored for rejected webhooks")

	for range 2 { // a replay of the same signed webhook stores nothing twice
		resp := b.el.PostCallRaw(t, url, elevenlabs.Sign(postCallKey, payload, time.Now()), payload)
		resp.Body.Close()
		require.Equal(t, http.StatusOK, resp.StatusCode)
	}
	lead := b.lead(t, customer)
	require.Len(t, b.messages(t, lead.ID), 2)
	require.Equal(t, 2, lead.TotalConversations)

	audio := map[string]any{"type": "post_call_audio", "event_timestamp": time.Now().Unix(), "data": map[string]any{"agent_id": "a", "conversation_id": "conv_once", "full_audio": "AAAA"}}
	resp := b.el.PostCall(t, url, postCallKey, audio)
	resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode, "audio is acknowledged and ignored")

	failure := b.el.PostCall(t, url, postCallKey, fake.CallInitiationFailurePayload("agent_jack", "conv_busy", "CAbusy", "busy"))
	failure.Body.Close()
	require.Equal(t, http.StatusOK, failure.StatusCode)
}

func TestMain_InitiationWebhook(t *testing.T) {
	t.Parallel()
	b := newVoiceBundle(t)
	customer := "+16045550186"
	require.Equal(t, http.StatusOK, b.text(t, customer, "My trade-in is a 2015 Corolla"))

	t.Run("ErrNoSecret", func(t *testing.T) {
		resp := b.el.PostInitiation(t, b.m.URL()+"/api/webhooks/elevenlabs/conversation-initiation", webhookHeader, "wrong", fake.InitiationPayload(customer, b.orgPhone, "agent_jack", "CA1"), false)
		resp.Body.Close()
		require.Equal(t, http.StatusUnauthorized, resp.StatusCode)
	})
	t.Run("Form", func(t *testing.T) {
		resp := b.el.PostInitiation(t, b.m.URL()+"/api/webhooks/elevenlabs/conversation-initiation", webhookHeader, webhookValue, fake.InitiationPayload(customer, b.orgPhone, "agent_jack", "CA2"), true)
		defer resp.Body.Close()
		require.Equal(t, http.StatusOK, resp.StatusCode)
	})
	t.Run("ErrOtherOrganizationsNumber", func(t *testing.T) {
		// Another dealership with its own number: the same customer calling it sees nothing of ours.
		other, a := register(t, b.m.URL(), "owner@other.test")
		other.must("POST", "/api/organizations/"+a.Organization.ID.String()+"/phone-numbers", map[string]string{"phoneNumber": "+16045550200", "twilioPhoneSid": "PN9"}, http.StatusCreated, nil)
		status, answer := b.initiation(t, customer, "+16045550200", "CA3")
		require.Equal(t, http.StatusOK, status)
		vars := answer["dynamic_variables"].(map[string]any)
		require.Equal(t, a.Organization.ID.String(), vars["organization_id"])
		require.NotContains(t, vars["conversation_context"], "Corolla")
		require.Equal(t, "New Inquiry", vars["lead_status"])
	})
	t.Run("ErrUnknownNumber", func(t *testing.T) {
		status, _ := b.initiation(t, customer, "+16045550299", "CA4")
		require.Equal(t, http.StatusNotFound, status)
	})
	t.Run("InstructionsAndGreeting", func(t *testing.T) {
		// Only when set: the agent's own prompt and first message stay otherwise.
		status, answer := b.initiation(t, customer, b.orgPhone, "CA5")
		require.Equal(t, http.StatusOK, status)
		require.NotContains(t, answer, "conversation_config_override")
		b.owner.must("PATCH", "/api/organization", map[string]any{"settings": map[string]any{
			"aiInstructions": "Never quote prices; offer a visit.", "aiGreeting": "Hi, this is Sam at Premium Auto!"}}, http.StatusOK, nil)
		status, answer = b.initiation(t, customer, b.orgPhone, "CA6")
		require.Equal(t, http.StatusOK, status)
		require.Equal(t, map[string]any{"agent": map[string]any{
			"prompt": map[string]any{"prompt": "Never quote prices; offer a visit."}, "first_message": "Hi, this is Sam at Premium Auto!"}},
			answer["conversation_config_override"])
		require.Contains(t, answer["dynamic_variables"].(map[string]any)["conversation_context"], "Corolla")
	})
}

func TestMain_OutboundCall(t *testing.T) {
	t.Parallel()
	b := newVoiceBundle(t)
	var lead jack.Lead
	b.owner.must("POST", "/api/leads", map[string]string{"customerName": "Casey Call", "phoneNumber": "+16045550185"}, http.StatusCreated, &lead)
	var out struct {
		Success        bool   `json:"success"`
		ConversationID string `json:"conversationId"`
		CallSid        string `json:"callSid"`
	}
	b.owner.must("POST", "/api/elevenlabs/outbound-call", map[string]string{"leadId": lead.ID}, http.StatusCreated, &out)
	require.True(t, out.Success)
	require.NotEmpty(t, out.ConversationID)
	require.NotEmpty(t, out.CallSid)
	calls := b.el.Calls()
	require.Len(t, calls, 1)
	require.Equal(t, "phnum_jack", calls[0].AgentPhoneNumberID)
	require.Equal(t, "Casey Call", calls[0].DynamicVariables["customer_name"])

	b.el.FailNextCall(false, http.StatusOK, "Twilio could not place the call")
	var e struct {
		Error struct{ Code, Message string }
	}
	require.Equal(t, http.StatusBadGateway, b.owner.do("POST", "/api/elevenlabs/outbound-call", map[string]string{"leadId": lead.ID}, &e))
	require.Contains(t, e.Error.Message, "Twilio could not place the call")

	require.Equal(t, http.StatusOK, b.text(t, "+16045550185", "STOP"))
	require.Equal(t, http.StatusConflict, b.owner.do("POST", "/api/elevenlabs/outbound-call", map[string]string{"leadId": lead.ID}, nil))
}

// TestMain_TextAgentSession: the grain closes an idle ElevenLabs session, and an agent failure
// is visible as a failed outbound message.
func TestMain_TextAgentSession(t *testing.T) {
	t.Parallel()
	t.Run("IdleClose", func(t *testing.T) {
		t.Parallel()
		el := fake.NewElevenLabs(t, "elevenlabs-test-key")
		b := newSMSBundle(t, map[string]string{"ELEVENLABS_API_KEY": el.APIKey(), "ELEVENLABS_AGENT_ID": "agent_jack",
			"ELEVENLABS_API_URL": el.URL(), "JACK_AI_SESSION_IDLE": "300ms"})
		require.Equal(t, http.StatusOK, b.text(t, "+16045550184", "Hello there"))
		b.twilio.WaitForMessages(t, 1, 10*time.Second)
		el.WaitFor(t, 10*time.Second, "the idle session to close", func() bool { return el.OpenSockets() == 0 })
		require.Equal(t, 1, el.Sessions())
	})
	t.Run("ProviderErrorIsAFailedMessage", func(t *testing.T) {
		t.Parallel()
		el := fake.NewElevenLabs(t, "elevenlabs-test-key")
		b := newSMSBundle(t, map[string]string{"ELEVENLABS_API_KEY": el.APIKey(), "ELEVENLABS_AGENT_ID": "agent_jack", "ELEVENLABS_API_URL": el.URL()})
		el.ErrorNext(1008, "invalid_message", "The agent is misconfigured")
		customer := "+16045550183"
		require.Equal(t, http.StatusOK, b.text(t, customer, "Hello?"))
		lead := b.lead(t, customer)
		waitFor(t, "a failed outbound message", func() bool {
			msgs := b.messages(t, lead.ID)
			return len(msgs) == 2 && msgs[1].Status == jack.StatusFailed && msgs[1].ErrorCode == "agent_error"
		})
		require.Empty(t, b.twilio.Messages(), "nothing was texted")
	})
}
