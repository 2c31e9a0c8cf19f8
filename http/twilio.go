package http

import (
	"context"
	"mime"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/google/uuid"

	"github.com/jack-auto/jack"
	"github.com/jack-auto/jack/providers/twilio"
)

// emptyTwiML answers a Twilio messaging webhook without an inline reply: the AI answers later
// through the REST API, after its debounce.
const emptyTwiML = `<?xml version="1.0" encoding="UTF-8"?><Response></Response>`

// twilioParams reads and verifies a Twilio webhook: the form parameters, signed with the
// account's auth token over SERVER_URL + the requested path and query, and every parameter
// received (Twilio adds parameters without notice). A bad or missing signature is EFORBIDDEN.
// The values it returns are clean text (cleanForm): a NUL in a customer's text never fails it.
func (s *Server) twilioParams(c *fiber.Ctx) (url.Values, error) {
	params, err := parseTwilioForm(c.Request().Body())
	if err != nil {
		return nil, err
	}
	webhookURL := s.cfg.ServerURL + c.OriginalURL()
	if !twilio.ValidateRequest(s.cfg.TwilioAuthToken, webhookURL, params, c.Get(twilio.SignatureHeader)) {
		s.log.WarnContext(c.UserContext(), "twilio webhook signature rejected", "route", c.Route().Path, "request_id", requestIDOf(c))
		return nil, jack.Errorf(jack.EFORBIDDEN, "Invalid Twilio signature.")
	}
	if len(s.cfg.TwilioAccountSIDs) > 0 && !slices.Contains(s.cfg.TwilioAccountSIDs, params.Get("AccountSid")) {
		s.log.WarnContext(c.UserContext(), "twilio webhook for another account rejected", "route", c.Route().Path, "request_id", requestIDOf(c))
		return nil, jack.Errorf(jack.EFORBIDDEN, "The webhook is for another Twilio account.")
	}
	cleanForm(params) // after the signature, which covers what was sent
	return params, nil
}

// parseTwilioForm parses an x-www-form-urlencoded webhook body.
func parseTwilioForm(body []byte) (url.Values, error) {
	params, err := url.ParseQuery(string(body))
	if err != nil {
		return nil, jack.Errorf(jack.EINVALID, "Webhook body is not a valid form.")
	}
	return params, nil
}

// inboundSMSFromForm reads an incoming-message webhook's parameters. From must be a phone
// number (E.164 from Twilio); To may be absent only for the caller fallback.
func inboundSMSFromForm(params url.Values) (jack.InboundSMS, error) {
	in := jack.InboundSMS{
		ProviderMessageID: cleanText(params.Get("MessageSid")),
		Body:              cleanText(params.Get("Body")),
		OptOutType:        cleanText(params.Get("OptOutType")),
	}
	fields := map[string]string{}
	if in.ProviderMessageID == "" || len(in.ProviderMessageID) > 64 {
		fields["MessageSid"] = "is required"
	}
	var err error
	if in.From, err = jack.NormalizePhone(params.Get("From"), ""); err != nil {
		fields["From"] = "is not a phone number"
	}
	if to := params.Get("To"); to != "" {
		if in.To, err = jack.NormalizePhone(to, ""); err != nil {
			fields["To"] = "is not a phone number"
		}
	}
	if len(fields) > 0 {
		return in, &jack.Error{Code: jack.EINVALID, Message: "The webhook is missing required parameters.", Fields: fields}
	}
	in.Media = mediaFromForm(params)
	return in, nil
}

// maxInboundMedia bounds the attachments kept from one MMS (Twilio delivers at most 10).
const maxInboundMedia = 10

// maxMediaURLLength bounds a stored media URL.
const maxMediaURLLength = 2048

// mediaFromForm reads an MMS's attachments: MediaUrl{N} and MediaContentType{N} for N below
// NumMedia (at most 10). A URL that is not absolute http(s) is skipped rather than failing the
// message, whose text still counts; a missing or odd content type reads as
// application/octet-stream, which the media proxy serves only as a download.
func mediaFromForm(params url.Values) []jack.MessageMedia {
	n, err := strconv.Atoi(strings.TrimSpace(params.Get("NumMedia")))
	if err != nil || n <= 0 {
		return nil
	}
	var media []jack.MessageMedia
	for i := range min(n, maxInboundMedia) {
		raw := strings.TrimSpace(params.Get("MediaUrl" + strconv.Itoa(i)))
		if u, err := url.Parse(raw); err != nil || len(raw) > maxMediaURLLength ||
			(u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.User != nil {
			continue
		}
		contentType := "application/octet-stream"
		if mt, _, err := mime.ParseMediaType(params.Get("MediaContentType" + strconv.Itoa(i))); err == nil && len(mt) <= 255 && strings.Contains(mt, "/") {
			contentType = mt // lowercased, parameters dropped
		}
		media = append(media, jack.MessageMedia{URL: raw, ContentType: contentType})
	}
	return media
}

// twilioIncomingSMS is Twilio's incoming-message webhook. It answers empty TwiML only after
// the conversation committed the message; an unknown dealership number is 404 with empty TwiML.
func (s *Server) twilioIncomingSMS(c *fiber.Ctx) error {
	params, err := s.twilioParams(c)
	if err != nil {
		return err
	}
	in, err := inboundSMSFromForm(params)
	if err != nil {
		return err
	}
	orgID, err := s.router.resolve(c.UserContext(), in.To, in.From)
	if jack.ErrorCode(err) == jack.ENOTFOUND {
		s.log.WarnContext(c.UserContext(), "sms to an unknown number", "to", jack.MaskPhone(in.To), "request_id", requestIDOf(c))
		return c.Status(fiber.StatusNotFound).Type("xml").SendString(emptyTwiML)
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
	return c.Type("xml").SendString(emptyTwiML)
}

// twilioSMSStatus is Twilio's delivery status callback for texts we sent. Statuses only move
// forward; a callback for a message or number we do not know is acknowledged and logged.
func (s *Server) twilioSMSStatus(c *fiber.Ctx) error {
	params, err := s.twilioParams(c)
	if err != nil {
		return err
	}
	st := jack.SMSStatus{
		ProviderMessageID: params.Get("MessageSid"),
		Status:            params.Get("MessageStatus"),
		ErrorCode:         params.Get("ErrorCode"),
		ErrorMessage:      params.Get("ErrorMessage"),
	}
	if st.Status == "" {
		st.Status = params.Get("SmsStatus")
	}
	if st.ProviderMessageID == "" {
		return &jack.Error{Code: jack.EINVALID, Message: "The webhook is missing required parameters.", Fields: map[string]string{"MessageSid": "is required"}}
	}
	log := s.log.With("message_sid", st.ProviderMessageID, "status", st.Status, "request_id", requestIDOf(c))
	if !jack.KnownStatus(st.Status) {
		log.WarnContext(c.UserContext(), "sms status callback with an unknown status; ignored")
		return c.Type("xml").SendString(emptyTwiML)
	}
	// For a text we sent, From is the dealership's number and To the customer.
	from, errFrom := jack.NormalizePhone(params.Get("From"), "")
	to, errTo := jack.NormalizePhone(params.Get("To"), "")
	if errFrom != nil || errTo != nil {
		log.WarnContext(c.UserContext(), "sms status callback without usable From/To; ignored")
		return c.Type("xml").SendString(emptyTwiML)
	}
	st.From, st.To = from, to
	orgID, err := s.router.resolve(c.UserContext(), from, "")
	if jack.ErrorCode(err) == jack.ENOTFOUND {
		log.WarnContext(c.UserContext(), "sms status callback from an unknown number; ignored", "from", jack.MaskPhone(from))
		return c.Type("xml").SendString(emptyTwiML)
	} else if err != nil {
		return err
	}
	err = s.conv.UpdateSMSStatus(c.UserContext(), orgID, st)
	if jack.ErrorCode(err) == jack.ENOTFOUND {
		log.WarnContext(c.UserContext(), "sms status callback for an unknown message; ignored", "org_id", orgID)
		return c.Type("xml").SendString(emptyTwiML)
	} else if err != nil {
		return err
	}
	return c.Type("xml").SendString(emptyTwiML)
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
// to the caller, and only if the caller is a lead of exactly one organization (DESIGN §1).
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
