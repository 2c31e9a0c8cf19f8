package elevenlabs

import (
	"context"
	"encoding/json"
	"math"
	"net/url"
	"strings"
	"time"

	"github.com/jack-auto/jack"
)

// Numbers is the voice-number importer http's phone-number routes use
// (http.VoiceNumberProvider): it imports numbers the Twilio account TwilioAccountSID owns into
// ElevenLabs with Client and assigns the agent to them.
type Numbers struct {
	Client           *Client
	TwilioAccountSID string
	TwilioAuthToken  string
}

// ImportPhoneNumber imports phone (E.164) with label and returns ElevenLabs' phone number id.
func (n Numbers) ImportPhoneNumber(ctx context.Context, phone, label string) (string, error) {
	return n.Client.ImportPhoneNumber(ctx, ImportPhoneNumber{
		PhoneNumber: phone, Label: label, TwilioAccountSID: n.TwilioAccountSID, TwilioAuthToken: n.TwilioAuthToken,
	})
}

// AssignAgent assigns the configured agent to the imported number.
func (n Numbers) AssignAgent(ctx context.Context, voicePhoneID string) error {
	return n.Client.AssignAgent(ctx, voicePhoneID)
}

// DeletePhoneNumber undoes ImportPhoneNumber; deleting a deleted number is not an error.
func (n Numbers) DeletePhoneNumber(ctx context.Context, voicePhoneID string) error {
	return n.Client.DeletePhoneNumber(ctx, voicePhoneID)
}

// Webhooks decodes ElevenLabs' webhooks for http's voice routes (http.VoiceWebhooks). Secret
// verifies post-call webhook signatures: without it every post-call webhook is refused.
type Webhooks struct {
	Secret string
}

// Initiation reads the conversation-initiation webhook (JSON or form).
func (Webhooks) Initiation(r jack.WebhookRequest) (jack.InboundCall, error) {
	req, err := parseInitiation(r)
	if err != nil {
		return jack.InboundCall{}, err
	}
	caller, err := jack.NormalizePhone(req.CallerID, "")
	if err != nil {
		return jack.InboundCall{}, &jack.Error{Code: jack.EINVALID, Message: "caller_id is not a phone number.", Fields: map[string]string{"caller_id": "is not a phone number"}}
	}
	var called string
	if req.CalledNumber != "" {
		if called, err = jack.NormalizePhone(req.CalledNumber, ""); err != nil {
			return jack.InboundCall{}, &jack.Error{Code: jack.EINVALID, Message: "called_number is not a phone number.", Fields: map[string]string{"called_number": "is not a phone number"}}
		}
	}
	return jack.InboundCall{ProviderCallID: req.CallSid, Caller: caller, Called: called, AgentID: req.AgentID}, nil
}

// InitiationAnswer is conversation_initiation_client_data with vars as dynamic variables and,
// only when set, conversation_config_override.agent with instructions as prompt.prompt and
// greeting as first_message (the agent's security settings must allow those overrides).
func (Webhooks) InitiationAnswer(vars map[string]any, instructions, greeting string) any {
	answer := map[string]any{"type": "conversation_initiation_client_data", "dynamic_variables": DynamicVariables(vars)}
	agent := map[string]any{}
	if instructions != "" {
		agent["prompt"] = map[string]any{"prompt": instructions}
	}
	if greeting != "" {
		agent["first_message"] = greeting
	}
	if len(agent) > 0 {
		answer["conversation_config_override"] = map[string]any{"agent": agent}
	}
	return answer
}

// PostCall verifies a post-call webhook, signed with HMAC-SHA256 over "t.body" (EUNAUTHORIZED
// when the signature is bad or older than 30 minutes), and reads transcripts and
// call-initiation failures; audio and newer types come back with neither.
func (w Webhooks) PostCall(r jack.WebhookRequest, now time.Time) (*jack.CallEvent, error) {
	if err := VerifySignature(w.Secret, r.Header(SignatureHeader), r.Body, now); err != nil {
		return nil, err
	}
	ev, err := ParsePostCall(jack.CleanJSON(r.Body)) // after the signature, which covers what was sent
	if err != nil {
		return nil, err
	}
	out := &jack.CallEvent{Type: ev.Type}
	switch ev.Type {
	case EventPostCallTranscription:
		t, err := ev.Transcription()
		if err != nil {
			return nil, err
		}
		tr := transcriptOf(t)
		out.Transcript, out.Variables = &tr, t.ClientData.DynamicVariables
		if pc := t.Metadata.PhoneCall; pc != nil {
			agent, err1 := jack.NormalizePhone(pc.AgentNumber, "")
			customer, err2 := jack.NormalizePhone(pc.ExternalNumber, "")
			if err1 == nil && err2 == nil {
				out.Routes = []jack.CallRoute{{DealershipNumber: agent, CustomerNumber: customer}}
			}
		}
	case EventCallInitiationFailure:
		f, err := ev.CallInitiationFailure()
		if err != nil {
			return nil, err
		}
		out.Failure, out.Routes = failureOf(f)
	}
	return out, nil
}

// initiationRequest is ElevenLabs' conversation-initiation webhook body (JSON or form).
type initiationRequest struct {
	CallerID     string `json:"caller_id" form:"caller_id"`
	AgentID      string `json:"agent_id" form:"agent_id"`
	CalledNumber string `json:"called_number" form:"called_number"`
	CallSid      string `json:"call_sid" form:"call_sid"`
}

// parseInitiation reads the initiation body: a form when the content type says so, else JSON.
func parseInitiation(r jack.WebhookRequest) (initiationRequest, error) {
	var req initiationRequest
	if strings.HasPrefix(r.Header("Content-Type"), "application/x-www-form-urlencoded") {
		form, err := url.ParseQuery(string(r.Body))
		if err != nil {
			return req, jack.Errorf(jack.EINVALID, "Webhook body is not a valid form.")
		}
		jack.CleanForm(form)
		req = initiationRequest{CallerID: form.Get("caller_id"), AgentID: form.Get("agent_id"), CalledNumber: form.Get("called_number"), CallSid: form.Get("call_sid")}
	} else if err := json.Unmarshal(jack.CleanJSON(r.Body), &req); err != nil {
		return req, jack.Errorf(jack.EINVALID, "Webhook body is not valid JSON.")
	}
	if req.CallerID == "" {
		return req, &jack.Error{Code: jack.EINVALID, Message: "caller_id is required.", Fields: map[string]string{"caller_id": "is required"}}
	}
	return req, nil
}

// failureOf reads a call-initiation failure and the routes of its numbers from the provider
// payload ElevenLabs forwards (Twilio's To/From; for our outbound calls From is the
// dealership's number, so that reading comes first).
func failureOf(f *CallInitiationFailure) (*jack.CallFailure, []jack.CallRoute) {
	var meta struct {
		Body map[string]any `json:"body"`
	}
	_ = json.Unmarshal(f.Metadata, &meta)
	from := firstPhone(meta.Body, "From", "from", "from_number", "agent_number")
	to := firstPhone(meta.Body, "To", "to", "to_number", "external_number")
	var routes []jack.CallRoute
	if from != "" && to != "" {
		routes = []jack.CallRoute{{DealershipNumber: from, CustomerNumber: to}, {DealershipNumber: to, CustomerNumber: from}}
	}
	return &jack.CallFailure{ConversationID: f.ConversationID, ProviderCallID: callSidOf(meta.Body), Reason: f.FailureReason, Data: f.Metadata}, routes
}

func callSidOf(body map[string]any) string {
	for _, k := range []string{"CallSid", "call_sid", "callSid"} {
		if v, ok := body[k].(string); ok {
			return v
		}
	}
	return ""
}

func firstPhone(m map[string]any, keys ...string) string {
	for _, k := range keys {
		if v, ok := m[k].(string); ok {
			if p, err := jack.NormalizePhone(v, ""); err == nil {
				return p
			}
		}
	}
	return ""
}

// transcriptOf turns ElevenLabs' transcription into the domain's call transcript.
func transcriptOf(t *Transcription) jack.CallTranscript {
	out := jack.CallTranscript{
		ConversationID:    t.ConversationID,
		DurationSeconds:   wholeSeconds(t.Metadata.CallDurationSecs),
		TerminationReason: t.Metadata.TerminationReason,
	}
	if start := t.Metadata.StartTimeUnixSecs; start > 0 && start < maxUnixSecs {
		sec, frac := math.Modf(start)
		out.StartedAt = time.Unix(int64(sec), int64(frac*1e9)).UTC().Truncate(time.Microsecond)
	}
	if pc := t.Metadata.PhoneCall; pc != nil {
		out.ProviderCallID, out.Direction = pc.CallSid, pc.Direction
	}
	for _, turn := range t.Transcript {
		out.Turns = append(out.Turns, jack.CallTurn{Role: turn.Role, Message: turn.Text(), TimeInCallSecs: finiteSeconds(turn.TimeInCallSecs)})
	}
	if a := t.Analysis; a != nil {
		out.Summary, out.CallSuccessful = a.TranscriptSummary, a.CallSuccessful
		out.Analysis, _ = json.Marshal(a)
	}
	return out
}

// maxUnixSecs bounds a provider's Unix time (year 9999); later or negative reads as unknown.
const maxUnixSecs = 253402300799

// maxCallSeconds bounds a call's duration (a day); anything else reads as unknown (0).
const maxCallSeconds = 24 * 60 * 60

// wholeSeconds rounds a provider's duration in seconds (fractions happen) to whole seconds; a
// negative, absurd or non-finite value is 0 (unknown).
func wholeSeconds(secs float64) int {
	if !(secs >= 0 && secs <= maxCallSeconds) { // also false for NaN
		return 0
	}
	return int(math.Round(secs))
}

// finiteSeconds keeps a turn's offset in the call when it is a plausible number, else 0.
func finiteSeconds(secs float64) float64 {
	if !(secs >= 0 && secs <= maxCallSeconds) {
		return 0
	}
	return secs
}
