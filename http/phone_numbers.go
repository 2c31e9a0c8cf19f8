package http

import (
	"net/url"

	"github.com/gofiber/fiber/v2"
	"github.com/google/uuid"
	"github.com/jack-auto/jack"
)

// listPhoneNumbers answers {"phoneNumbers":[...],"organizationId":"..."}; :orgId must be the
// caller's (authenticate's tenant rule).
func (s *Server) listPhoneNumbers(c *fiber.Ctx) error {
	orgID := principal(c).OrganizationID
	numbers, err := s.store.FindPhoneNumbers(c.UserContext(), orgID)
	if err != nil {
		return err
	}
	return c.JSON(fiber.Map{"phoneNumbers": nonNil(numbers), "organizationId": orgID})
}

type importPhoneNumberRequest struct {
	PhoneNumber       string `json:"phoneNumber"`
	TwilioPhoneSid    string `json:"twilioPhoneSid"`
	ElevenLabsPhoneID string `json:"elevenLabsPhoneId"`
}

// importPhoneNumber records a number the dealership already owns at Twilio, active at once
// (the seed's default). 409 when any organization has the number.
func (s *Server) importPhoneNumber(c *fiber.Ctx) error {
	var req importPhoneNumberRequest
	if err := decodeJSON(c, &req); err != nil {
		return err
	}
	orgID := principal(c).OrganizationID
	fields := map[string]string{}
	phone, err := s.orgPhone(c, orgID, "phoneNumber", req.PhoneNumber, fields)
	if err != nil {
		return err
	}
	sid := textField(fields, "twilioPhoneSid", req.TwilioPhoneSid, 64, true)
	elevenLabsID := textField(fields, "elevenLabsPhoneId", req.ElevenLabsPhoneID, 255, false)
	if err := jack.ValidationError(fields); err != nil {
		return err
	}
	pn := &jack.PhoneNumber{
		ID:                uuid.Must(uuid.NewV7()),
		OrganizationID:    orgID,
		PhoneNumber:       phone,
		TwilioPhoneSid:    sid,
		ElevenLabsPhoneID: elevenLabsID,
		IsActive:          true,
		CreatedAt:         s.cfg.Now(),
	}
	if err := s.store.CreatePhoneNumber(c.UserContext(), orgID, pn); err != nil {
		return err
	}
	s.router.invalidate()
	return c.Status(fiber.StatusCreated).JSON(pn)
}

type activatePhoneNumberRequest struct {
	ElevenLabsPhoneID string `json:"elevenLabsPhoneId"`
}

// activatePhoneNumber links one of the caller's numbers to its ElevenLabs phone and turns it
// on. Another organization's number is 404.
func (s *Server) activatePhoneNumber(c *fiber.Ctx) error {
	var req activatePhoneNumberRequest
	if err := decodeJSON(c, &req); err != nil {
		return err
	}
	orgID := principal(c).OrganizationID
	fields := map[string]string{}
	raw, _ := url.PathUnescape(c.Params("phone"))
	phone, err := s.orgPhone(c, orgID, "phone", raw, fields)
	if err != nil {
		return err
	}
	elevenLabsID := textField(fields, "elevenLabsPhoneId", req.ElevenLabsPhoneID, 255, true)
	if err := jack.ValidationError(fields); err != nil {
		return err
	}
	active := true
	pn, err := s.store.UpdatePhoneNumber(c.UserContext(), orgID, phone,
		jack.PhoneNumberUpdate{ElevenLabsPhoneID: &elevenLabsID, IsActive: &active})
	if err != nil {
		return err
	}
	s.router.invalidate()
	return c.JSON(pn)
}
