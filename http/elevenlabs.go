package http

import (
	"crypto/subtle"
	"encoding/json"
	"math"
	"net/url"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/google/uuid"

	"github.com/jack-auto/jack"
	"github.com/jack-auto/jack/providers/elevenlabs"
)

// initiationRequest is ElevenLabs' conversation-initiation webhook body (JSON or form).
type initiationRequest struct {
	CallerID     string `json:"caller_id" form:"caller_id"`
	AgentID      string `json:"agent_id" form:"agent_id"`
	CalledNumber string `json:"called_number" form:"called_number"`
	CallSid      string `json:"call_sid" form:"call_sid"`
}

// elevenLabsInitiation answers ElevenLabs' conversation-initiation webhook for an inbound call
// with every dynamic variable the agent uses, from the conversation's memory. ElevenLabs sends
// one URL per workspace, authenticated by a static header (ELEVENLABS_WEBHOOK_HEADER_NAME/VALUE);
// the organization is the one owning the dialed number.
func (s *Server) elevenLabsInitiation(c *fiber.Ctx) error {
	req, err := parseInitiation(c)
	if err != nil {
		return err
	}
	caller, err := jack.NormalizePhone(req.CallerID, "")
	if err != nil {
		return &jack.Error{Code: jack.EINVALID, Message: "caller_id is not a phone number.", Fields: map[string]string{"caller_id": "is not a phone number"}}
	}
	var called string
	if req.CalledNumber != "" {
		if called, err = jack.NormalizePhone(req.CalledNumber, ""); err != nil {
			return &jack.Error{Code: jack.EINVALID, Message: "called_number is not a phone number.", Fields: map[string]string{"called_number": "is not a phone number"}}
		}
	}
	orgID, err := s.router.resolve(c.UserContext(), called, caller)
	if err != nil {
		if jack.ErrorCode(err) == jack.ENOTFOUND {
			s.log.WarnContext(c.UserContext(), "call to an unknown number", "called", jack.MaskPhone(called), "request_id", requestIDOf(c))
			return jack.Errorf(jack.ENOTFOUND, "No organization owns the called number.")
		}
		return err
	}
	vars, err := s.conv.StartCall(c.UserContext(), orgID, jack.InboundCall{ProviderCallID: req.CallSid, Caller: caller, Called: called, AgentID: req.AgentID})
	if err != nil {
		return err
	}
	return c.JSON(fiber.Map{"type": "conversation_initiation_client_data", "dynamic_variables": elevenlabs.DynamicVariables(vars)})
}

// initiationSecret compares the configured shared-secret header in constant time. Without a
// configured secret every request is refused: an unauthenticated webhook would hand out any
// customer's conversation to whoever asks.
func (s *Server) initiationSecret(c *fiber.Ctx) error {
	want := s.cfg.ElevenLabsWebhookHeaderValue
	got := c.Get(s.cfg.ElevenLabsWebhookHeaderName)
	if want == "" || subtle.ConstantTimeCompare([]byte(got), []byte(want)) != 1 {
		s.log.WarnContext(c.UserContext(), "conversation-initiation webhook refused", "configured", want != "", "request_id", requestIDOf(c))
		return jack.Errorf(jack.EUNAUTHORIZED, "Missing or invalid webhook secret.")
	}
	return c.Next()
}

func parseInitiation(c *fiber.Ctx) (initiationRequest, error) {
	var req initiationRequest
	body := c.Request().Body()
	if strings.HasPrefix(string(c.Request().Header.ContentType()), fiber.MIMEApplicationForm) {
		form, err := url.ParseQuery(string(body))
		if err != nil {
			return req, jack.Errorf(jack.EINVALID, "Webhook body is not a valid form.")
		}
		cleanForm(form)
		req = initiationRequest{CallerID: form.Get("caller_id"), AgentID: form.Get("agent_id"), CalledNumber: form.Get("called_number"), CallSid: form.Get("call_sid")}
	} else if err := json.Unmarshal(cleanJSON(body), &req); err != nil {
		return req, jack.Errorf(jack.EINVALID, "Webhook body is not valid JSON.")
	}
	if req.CallerID == "" {
		return req, &jack.Error{Code: jack.EINVALID, Message: "caller_id is required.", Fields: map[string]string{"caller_id": "is required"}}
	}
	return req, nil
}

// elevenLabsPostCall receives ElevenLabs' post-call webhooks, signed with HMAC-SHA256 over
// "t.body" (401 and nothing stored when the signature is bad or older than 30 minutes).
// Transcripts are stored once per conversation id; call-initiation failures are recorded on the
// call session; audio is acknowledged and ignored.
func (s *Server) elevenLabsPostCall(c *fiber.Ctx) error {
	body := c.Request().Body()
	if err := elevenlabs.VerifySignature(s.cfg.ElevenLabsWebhookSecret, c.Get(elevenlabs.SignatureHeader), body, s.cfg.Now()); err != nil {
		s.log.WarnContext(c.UserContext(), "post-call webhook signature rejected", "request_id", requestIDOf(c))
		return err
	}
	ev, err := elevenlabs.ParsePostCall(cleanJSON(body)) // after the signature, which covers what was sent
	if err != nil {
		return err
	}
	log := s.log.With("type", ev.Type, "request_id", requestIDOf(c))
	switch ev.Type {
	case elevenlabs.EventPostCallTranscription:
		t, err := ev.Transcription()
		if err != nil {
			return err
		}
		orgID, phone, ok := s.routeCall(c, t)
		if !ok {
			log.WarnContext(c.UserContext(), "post-call transcript for no known conversation; ignored", "conversation_id", t.ConversationID)
			return c.JSON(fiber.Map{"status": "ignored"})
		}
		cs, err := s.conv.CompleteCall(c.UserContext(), orgID, phone, transcriptOf(t))
		if err != nil {
			return err
		}
		log.InfoContext(c.UserContext(), "call recorded", "org_id", orgID, "conversation_id", t.ConversationID, "lead_id", cs.LeadID)
	case elevenlabs.EventCallInitiationFailure:
		f, err := ev.CallInitiationFailure()
		if err != nil {
			return err
		}
		orgID, phone, ok := s.routeFailure(c, f)
		if !ok {
			log.WarnContext(c.UserContext(), "call-initiation failure for no known conversation; ignored", "conversation_id", f.ConversationID)
			return c.JSON(fiber.Map{"status": "ignored"})
		}
		if _, err := s.conv.FailCall(c.UserContext(), orgID, phone, jack.CallFailure{
			ConversationID: f.ConversationID, ProviderCallID: failureCallSid(f), Reason: f.FailureReason, Data: f.Metadata,
		}); err != nil {
			return err
		}
	default: // post_call_audio and anything newer: acknowledged, not stored
		log.DebugContext(c.UserContext(), "post-call webhook ignored")
	}
	return c.JSON(fiber.Map{"status": "ok"})
}

// routeCall finds a finished call's conversation: the organization owning the agent's number
// and the customer's number. A call without phone metadata falls back to the organization and
// phone our initiation answer put in its dynamic variables (signed, so not the caller's claim).
func (s *Server) routeCall(c *fiber.Ctx, t *elevenlabs.Transcription) (uuid.UUID, string, bool) {
	if pc := t.Metadata.PhoneCall; pc != nil {
		agent, err1 := jack.NormalizePhone(pc.AgentNumber, "")
		customer, err2 := jack.NormalizePhone(pc.ExternalNumber, "")
		if err1 == nil && err2 == nil {
			if orgID, err := s.router.resolve(c.UserContext(), agent, ""); err == nil {
				return orgID, customer, true
			}
		}
	}
	vars := t.ClientData.DynamicVariables
	orgID, err := uuid.Parse(stringVar(vars, "organization_id"))
	if err != nil {
		return uuid.Nil, "", false
	}
	phone, err := jack.NormalizePhone(stringVar(vars, "phone_number_normalized"), "")
	if err != nil {
		return uuid.Nil, "", false
	}
	if _, err := s.store.FindOrganizationByID(c.UserContext(), orgID); err != nil {
		return uuid.Nil, "", false
	}
	return orgID, phone, true
}

// routeFailure reads the numbers of a failed call from the provider payload ElevenLabs
// forwards (Twilio's To/From; for our outbound calls From is the dealership's number).
func (s *Server) routeFailure(c *fiber.Ctx, f *elevenlabs.CallInitiationFailure) (uuid.UUID, string, bool) {
	var meta struct {
		Body map[string]any `json:"body"`
	}
	_ = json.Unmarshal(f.Metadata, &meta)
	from := firstPhone(meta.Body, "From", "from", "from_number", "agent_number")
	to := firstPhone(meta.Body, "To", "to", "to_number", "external_number")
	for _, pair := range [][2]string{{from, to}, {to, from}} { // outbound, then inbound
		if pair[0] == "" || pair[1] == "" {
			continue
		}
		if orgID, err := s.router.resolve(c.UserContext(), pair[0], ""); err == nil {
			return orgID, pair[1], true
		}
	}
	return uuid.Nil, "", false
}

func failureCallSid(f *elevenlabs.CallInitiationFailure) string {
	var meta struct {
		Body map[string]any `json:"body"`
	}
	_ = json.Unmarshal(f.Metadata, &meta)
	for _, k := range []string{"CallSid", "call_sid", "callSid"} {
		if v, ok := meta.Body[k].(string); ok {
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

func stringVar(vars map[string]any, name string) string {
	v, _ := vars[name].(string)
	return v
}

// transcriptOf turns ElevenLabs' transcription into the domain's call transcript.
func transcriptOf(t *elevenlabs.Transcription) jack.CallTranscript {
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

type outboundCallRequest struct {
	PhoneNumber *string `json:"phoneNumber"`
	LeadID      *string `json:"leadId"`
}

// outboundCall starts an AI call to a lead or number and answers once ElevenLabs accepted it.
func (s *Server) outboundCall(c *fiber.Ctx) error {
	var req outboundCallRequest
	if err := decodeJSON(c, &req); err != nil {
		return err
	}
	p := principal(c)
	fields := map[string]string{}
	phone, err := s.customerPhone(c, p.OrganizationID, req.LeadID, req.PhoneNumber, "phoneNumber", fields)
	if err != nil {
		return err
	}
	if err := jack.ValidationError(fields); err != nil {
		return err
	}
	cs, err := s.conv.Call(c.UserContext(), p.OrganizationID, phone)
	if err != nil {
		return err
	}
	return c.Status(fiber.StatusCreated).JSON(fiber.Map{
		"success": true, "conversationId": cs.VoiceConversationID, "callSid": cs.ProviderCallID, "callSession": cs,
	})
}
