package http

import (
	"crypto/subtle"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/google/uuid"

	"github.com/jack-auto/jack"
)

// VoiceWebhooks decodes the voice provider's webhooks (elevenlabs.Webhooks in production). Text
// it returns is clean (jack.CleanText).
type VoiceWebhooks interface {
	// Initiation reads the conversation-initiation webhook of an inbound call (its shared-secret
	// header was checked): EINVALID when the caller is missing or a number is not a phone
	// number. Caller and Called are E.164 (Called "" when absent).
	Initiation(r jack.WebhookRequest) (jack.InboundCall, error)
	// InitiationAnswer is the JSON answer that gives the call the agent's dynamic variables and,
	// when set, the dealership's instructions (the agent's prompt) and greeting (its first
	// message).
	InitiationAnswer(vars map[string]any, instructions, greeting string) any
	// PostCall verifies a post-call webhook (EUNAUTHORIZED when its signature is bad or too
	// old) and reads it.
	PostCall(r jack.WebhookRequest, now time.Time) (*jack.CallEvent, error)
}

// elevenLabsInitiation answers ElevenLabs' conversation-initiation webhook for an inbound call
// with every dynamic variable the agent uses, from the conversation's memory. ElevenLabs sends
// one URL per workspace, authenticated by a static header (ELEVENLABS_WEBHOOK_HEADER_NAME/VALUE);
// the organization is the one owning the dialed number.
func (s *Server) elevenLabsInitiation(c *fiber.Ctx) error {
	if s.cfg.VoiceWebhooks == nil {
		return jack.Errorf(jack.EUNAUTHORIZED, "No voice provider is configured for this webhook.")
	}
	call, err := s.cfg.VoiceWebhooks.Initiation(s.webhookRequest(c))
	if err != nil {
		return err
	}
	called := call.Called
	orgID, err := s.router.resolve(c.UserContext(), called, call.Caller)
	if err != nil {
		if jack.ErrorCode(err) == jack.ENOTFOUND {
			s.log.WarnContext(c.UserContext(), "call to an unknown number", "called", jack.MaskPhone(called), "request_id", requestIDOf(c))
			return jack.Errorf(jack.ENOTFOUND, "No organization owns the called number.")
		}
		return err
	}
	vars, err := s.conv.StartCall(c.UserContext(), orgID, call)
	if err != nil {
		return err
	}
	org, err := s.store.FindOrganizationByID(c.UserContext(), orgID)
	if err != nil {
		return err
	}
	return c.JSON(s.cfg.VoiceWebhooks.InitiationAnswer(vars, org.Settings.AIInstructions, org.Settings.AIGreeting))
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

// elevenLabsPostCall receives ElevenLabs' post-call webhooks, signed with HMAC-SHA256 over
// "t.body" (401 and nothing stored when the signature is bad or older than 30 minutes).
// Transcripts are stored once per conversation id; call-initiation failures are recorded on the
// call session; audio is acknowledged and ignored.
func (s *Server) elevenLabsPostCall(c *fiber.Ctx) error {
	if s.cfg.VoiceWebhooks == nil {
		s.log.WarnContext(c.UserContext(), "post-call webhook refused: no voice provider configured", "request_id", requestIDOf(c))
		return jack.Errorf(jack.EUNAUTHORIZED, "No voice provider is configured to verify this webhook.")
	}
	ev, err := s.cfg.VoiceWebhooks.PostCall(s.webhookRequest(c), s.cfg.Now())
	if jack.ErrorCode(err) == jack.EUNAUTHORIZED {
		s.log.WarnContext(c.UserContext(), "post-call webhook signature rejected", "request_id", requestIDOf(c))
		return err
	} else if err != nil {
		return err
	}
	log := s.log.With("type", ev.Type, "request_id", requestIDOf(c))
	switch {
	case ev.Transcript != nil:
		t := ev.Transcript
		orgID, phone, ok := s.routeCall(c, ev)
		if !ok {
			log.WarnContext(c.UserContext(), "post-call transcript for no known conversation; ignored", "conversation_id", t.ConversationID)
			return c.JSON(fiber.Map{"status": "ignored"})
		}
		cs, err := s.conv.CompleteCall(c.UserContext(), orgID, phone, *t)
		if err != nil {
			return err
		}
		log.InfoContext(c.UserContext(), "call recorded", "org_id", orgID, "conversation_id", t.ConversationID, "lead_id", cs.LeadID)
	case ev.Failure != nil:
		orgID, phone, ok := s.routeCall(c, ev)
		if !ok {
			log.WarnContext(c.UserContext(), "call-initiation failure for no known conversation; ignored", "conversation_id", ev.Failure.ConversationID)
			return c.JSON(fiber.Map{"status": "ignored"})
		}
		if _, err := s.conv.FailCall(c.UserContext(), orgID, phone, *ev.Failure); err != nil {
			return err
		}
	default: // post_call_audio and anything newer: acknowledged, not stored
		log.DebugContext(c.UserContext(), "post-call webhook ignored")
	}
	return c.JSON(fiber.Map{"status": "ok"})
}

// webhookRequest is c as a provider's adapter reads it.
func (s *Server) webhookRequest(c *fiber.Ctx) jack.WebhookRequest {
	return jack.WebhookRequest{URL: s.cfg.ServerURL + c.OriginalURL(), Header: func(name string) string { return c.Get(name) }, Body: c.Request().Body()}
}

// routeCall finds a reported call's conversation: the organization owning the dealership
// number of the first route that has one, and its customer number. A report without such a
// route falls back to the organization and phone our initiation answer put in the call's
// dynamic variables (signed, so not the caller's claim).
func (s *Server) routeCall(c *fiber.Ctx, ev *jack.CallEvent) (uuid.UUID, string, bool) {
	for _, r := range ev.Routes {
		if orgID, err := s.router.resolve(c.UserContext(), r.DealershipNumber, ""); err == nil {
			return orgID, r.CustomerNumber, true
		}
	}
	if ev.Variables == nil {
		return uuid.Nil, "", false
	}
	orgID, err := uuid.Parse(stringVar(ev.Variables, "organization_id"))
	if err != nil {
		return uuid.Nil, "", false
	}
	phone, err := jack.NormalizePhone(stringVar(ev.Variables, "phone_number_normalized"), "")
	if err != nil {
		return uuid.Nil, "", false
	}
	if _, err := s.store.FindOrganizationByID(c.UserContext(), orgID); err != nil {
		return uuid.Nil, "", false
	}
	return orgID, phone, true
}

func stringVar(vars map[string]any, name string) string {
	v, _ := vars[name].(string)
	return v
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
