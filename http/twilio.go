package http

import (
	"context"
	"sync"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/google/uuid"

	"github.com/jack-auto/jack"
)

// SMSWebhooks verifies and decodes the SMS provider's webhooks (twilio.Webhooks in production).
// Text it returns is clean (jack.CleanText).
type SMSWebhooks interface {
	// InboundSMS verifies an incoming-message webhook and reads it: EFORBIDDEN when the
	// provider did not sign it, EINVALID when From is not a phone number or the message id is
	// missing. From is E.164, To E.164 or "" when absent.
	InboundSMS(r jack.WebhookRequest) (jack.InboundSMS, error)
	// SMSStatus verifies a delivery status callback and reads it (From and To as sent):
	// EFORBIDDEN when the provider did not sign it, EINVALID without a message id.
	SMSStatus(r jack.WebhookRequest) (jack.SMSStatus, error)
	// Ack is the answer that acknowledges a webhook without an inline reply (the AI answers
	// later, after its debounce): its content type and body.
	Ack() (contentType, body string)
}

// smsWebhook verifies and decodes one SMS webhook with decode; without an SMS provider every
// webhook is refused (EFORBIDDEN): an unverifiable webhook is never trusted.
func smsWebhook[T any](s *Server, c *fiber.Ctx, decode func(SMSWebhooks, jack.WebhookRequest) (T, error)) (T, error) {
	var zero T
	if s.cfg.SMSWebhooks == nil {
		s.log.WarnContext(c.UserContext(), "sms webhook refused: no SMS provider configured", "route", c.Route().Path, "request_id", requestIDOf(c))
		return zero, jack.Errorf(jack.EFORBIDDEN, "No SMS provider is configured to verify this webhook.")
	}
	v, err := decode(s.cfg.SMSWebhooks, s.webhookRequest(c))
	if jack.ErrorCode(err) == jack.EFORBIDDEN {
		s.log.WarnContext(c.UserContext(), "sms webhook refused", "route", c.Route().Path, "err", err, "request_id", requestIDOf(c))
	}
	return v, err
}

// ackSMS acknowledges an SMS webhook with status.
func (s *Server) ackSMS(c *fiber.Ctx, status int) error {
	contentType, body := "text/plain", ""
	if s.cfg.SMSWebhooks != nil {
		contentType, body = s.cfg.SMSWebhooks.Ack()
	}
	c.Set(fiber.HeaderContentType, contentType)
	return c.Status(status).SendString(body)
}

// twilioIncomingSMS is Twilio's incoming-message webhook. It answers empty TwiML only after
// the conversation committed the message; an unknown dealership number is 404 with empty TwiML.
func (s *Server) twilioIncomingSMS(c *fiber.Ctx) error {
	in, err := smsWebhook(s, c, SMSWebhooks.InboundSMS)
	if err != nil {
		return err
	}
	orgID, err := s.router.resolve(c.UserContext(), in.To, in.From)
	if jack.ErrorCode(err) == jack.ENOTFOUND {
		s.log.WarnContext(c.UserContext(), "sms to an unknown number", "to", jack.MaskPhone(in.To), "request_id", requestIDOf(c))
		return s.ackSMS(c, fiber.StatusNotFound)
	} else if err != nil {
		return err
	}
	d, err := s.conv.ReceiveSMS(c.UserContext(), orgID, in)
	if err != nil {
		return err
	}
	s.log.InfoContext(c.UserContext(), "sms received", "org_id", orgID, "lead_id", d.Lead.ID, "message_sid", in.ProviderMessageID,
		"duplicate", d.Duplicate, "node", d.Node, "request_id", requestIDOf(c))
	if d.Node != "" {
		c.Set("X-Jack-Conversation-Node", d.Node) // which member owns the conversation, for operators
	}
	return s.ackSMS(c, fiber.StatusOK)
}

// twilioSMSStatus is Twilio's delivery status callback for texts we sent. Statuses only move
// forward; a callback for a message or number we do not know is acknowledged and logged.
func (s *Server) twilioSMSStatus(c *fiber.Ctx) error {
	st, err := smsWebhook(s, c, SMSWebhooks.SMSStatus)
	if err != nil {
		return err
	}
	log := s.log.With("message_sid", st.ProviderMessageID, "status", st.Status, "request_id", requestIDOf(c))
	if !jack.KnownStatus(st.Status) {
		log.WarnContext(c.UserContext(), "sms status callback with an unknown status; ignored")
		return s.ackSMS(c, fiber.StatusOK)
	}
	// For a text we sent, From is the dealership's number and To the customer.
	from, errFrom := jack.NormalizePhone(st.From, "")
	to, errTo := jack.NormalizePhone(st.To, "")
	if errFrom != nil || errTo != nil {
		log.WarnContext(c.UserContext(), "sms status callback without usable From/To; ignored")
		return s.ackSMS(c, fiber.StatusOK)
	}
	st.From, st.To = from, to
	orgID, err := s.router.resolve(c.UserContext(), from, "")
	if jack.ErrorCode(err) == jack.ENOTFOUND {
		log.WarnContext(c.UserContext(), "sms status callback from an unknown number; ignored", "from", jack.MaskPhone(from))
		return s.ackSMS(c, fiber.StatusOK)
	} else if err != nil {
		return err
	}
	err = s.conv.UpdateSMSStatus(c.UserContext(), orgID, st)
	if jack.ErrorCode(err) == jack.ENOTFOUND {
		log.WarnContext(c.UserContext(), "sms status callback for an unknown message; ignored", "org_id", orgID)
		return s.ackSMS(c, fiber.StatusOK)
	} else if err != nil {
		return err
	}
	return s.ackSMS(c, fiber.StatusOK)
}

// phoneRouter finds the organization that owns a dialed number, with a short cache so every
// webhook does not hit the database. This node's own number changes clear it at once; changes
// made on other nodes are seen within the TTL.
type phoneRouter struct {
	store  jack.Store
	now    func() time.Time
	ttl    time.Duration // for numbers found
	negTTL time.Duration // for numbers not found, short so a newly added number works quickly

	mu      sync.Mutex
	entries map[string]route
}

type route struct {
	org     uuid.UUID
	found   bool
	expires time.Time
}

func newPhoneRouter(store jack.Store, now func() time.Time) *phoneRouter {
	return &phoneRouter{store: store, now: now, ttl: time.Minute, negTTL: 5 * time.Second, entries: map[string]route{}}
}

// resolve routes by the number the customer dialed. Only when that is absent does it fall back
// to the caller, and only if the caller is a lead of exactly one organization (see ARCHITECTURE.md, "Tenancy").
// ENOTFOUND otherwise.
func (r *phoneRouter) resolve(ctx context.Context, dialed, caller string) (uuid.UUID, error) {
	if dialed != "" {
		return r.byNumber(ctx, dialed)
	}
	if caller == "" {
		return uuid.Nil, jack.Errorf(jack.ENOTFOUND, "No dialed number.")
	}
	orgs, err := r.store.OrganizationsByCustomerPhone(ctx, caller)
	if err != nil {
		return uuid.Nil, err
	}
	if len(orgs) != 1 {
		return uuid.Nil, jack.Errorf(jack.ENOTFOUND, "The caller does not identify one organization.")
	}
	return orgs[0], nil
}

func (r *phoneRouter) byNumber(ctx context.Context, phone string) (uuid.UUID, error) {
	now := r.now()
	r.mu.Lock()
	e, ok := r.entries[phone]
	r.mu.Unlock()
	if !ok || now.After(e.expires) {
		org, err := r.store.OrganizationByPhoneNumber(ctx, phone)
		switch jack.ErrorCode(err) {
		case "":
			e = route{org: org, found: true, expires: now.Add(r.ttl)}
		case jack.ENOTFOUND:
			e = route{expires: now.Add(r.negTTL)}
		default:
			return uuid.Nil, err
		}
		r.mu.Lock()
		if len(r.entries) > 10_000 { // bounded: unknown numbers must not grow it forever
			clear(r.entries)
		}
		r.entries[phone] = e
		r.mu.Unlock()
	}
	if !e.found {
		return uuid.Nil, jack.Errorf(jack.ENOTFOUND, "No organization has this number.")
	}
	return e.org, nil
}

// invalidate forgets every cached route (a number was added, activated or deactivated).
func (r *phoneRouter) invalidate() {
	r.mu.Lock()
	clear(r.entries)
	r.mu.Unlock()
}
