package http

import (
	"net/url"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/gofiber/fiber/v2"

	"github.com/jack-auto/jack"
)

type sendSMSRequest struct {
	To             *string `json:"to"`
	LeadID         *string `json:"leadId"`
	Message        string  `json:"message"`
	IdempotencyKey string  `json:"idempotencyKey"`
	// MediaURLs makes the text an MMS: public https URLs Twilio fetches the attachments from.
	MediaURLs []string `json:"mediaUrls"`
}

// maxOutboundMedia is Twilio's limit of attachments on one message.
const maxOutboundMedia = 10

// sendSMS sends a staff member's text (an MMS with mediaUrls) from the organization's active
// number and pauses the AI for that conversation (human takeover). 201 with {lead, message,
// duplicate}; a repeat with the same idempotency key (body or Idempotency-Key header) answers
// the first result with 200, and the same key with a different message 422
// idempotency_key_reused.
func (s *Server) sendSMS(c *fiber.Ctx) error {
	var req sendSMSRequest
	if err := decodeJSON(c, &req); err != nil {
		return err
	}
	p := principal(c)
	fields := map[string]string{}
	body := strings.TrimSpace(req.Message)
	media := outboundMedia(req.MediaURLs, fields)
	switch {
	case body == "" && len(req.MediaURLs) == 0: // an MMS may be media alone
		fields["message"] = "is required"
	case utf8.RuneCountInString(body) > jack.MaxSMSLength:
		fields["message"] = "must be at most 1600 characters"
	}
	key := strings.TrimSpace(req.IdempotencyKey)
	if key == "" {
		key = strings.TrimSpace(c.Get("Idempotency-Key"))
	}
	if len(key) > 255 {
		fields["idempotencyKey"] = "must be at most 255 characters"
	}
	to, err := s.customerPhone(c, p.OrganizationID, req.LeadID, req.To, "to", fields)
	if err != nil {
		return err
	}
	if err := jack.ValidationError(fields); err != nil {
		return err
	}
	d, err := s.conv.SendSMS(c.UserContext(), p.OrganizationID, jack.OutboundSMS{
		To: to, Body: body, IdempotencyKey: key, AuthorUserID: &p.UserID, MediaURLs: media,
	})
	if err != nil {
		return err
	}
	status := fiber.StatusCreated
	if d.Duplicate {
		if !sameSend(d.Message, to, body, media) {
			// The key names another send: answering the old message as if this one were sent
			// would lose the client's edit (the IETF Idempotency-Key draft answers 422).
			return jack.ReasonErrorf(jack.EUNPROCESSABLE, "idempotency_key_reused",
				"This idempotency key was already used for a different message.")
		}
		status = fiber.StatusOK
	}
	presentLead(d.Lead)
	return c.Status(status).JSON(d)
}

// sameSend reports whether the stored message m is the send a retry describes: same customer,
// same text, same attachments.
func sameSend(m *jack.Message, to, body string, media []string) bool {
	if m == nil {
		return true
	}
	if m.PhoneNumberNormalized != to || m.Content != body || len(m.Media) != len(media) {
		return false
	}
	for i, u := range media {
		if m.Media[i].URL != u {
			return false
		}
	}
	return true
}

// outboundMedia checks a send's attachment URLs: at most 10, each an absolute https URL
// (Twilio fetches them from the internet; http would be refused or leak in transit). Problems
// go to fields.
func outboundMedia(urls []string, fields map[string]string) []string {
	if len(urls) > maxOutboundMedia {
		fields["mediaUrls"] = "must hold at most " + strconv.Itoa(maxOutboundMedia) + " URLs"
		return nil
	}
	var out []string
	for i, raw := range urls {
		raw = strings.TrimSpace(raw)
		if u, err := url.Parse(raw); err != nil || u.Scheme != "https" || u.Host == "" || u.User != nil || len(raw) > jack.MaxMediaURLLength {
			fields["mediaUrls["+strconv.Itoa(i)+"]"] = "must be an absolute https URL"
			continue
		}
		out = append(out, raw)
	}
	return out
}

type setAIRequest struct {
	Paused *bool `json:"paused"`
}

// setAI pauses (human takeover) or resumes the AI for a lead's conversation; answers the lead.
func (s *Server) setAI(c *fiber.Ctx) error {
	var req setAIRequest
	if err := decodeJSON(c, &req); err != nil {
		return err
	}
	if req.Paused == nil {
		return jack.ValidationError(map[string]string{"paused": "is required"})
	}
	p := principal(c)
	lead, err := s.store.FindLeadByID(c.UserContext(), p.OrganizationID, c.Params("id"))
	if err != nil {
		return err
	}
	lead, err = s.conv.SetAIPaused(c.UserContext(), p.OrganizationID, lead.PhoneNumberNormalized, *req.Paused)
	if err != nil {
		return err
	}
	return sendLead(c, fiber.StatusOK, lead)
}
