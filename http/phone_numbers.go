package http

import (
	"bytes"
	"cmp"
	"context"
	"log/slog"
	"net/url"
	"regexp"
	"strconv"
	"strings"

	"github.com/gofiber/fiber/v2"
	"github.com/google/uuid"

	"github.com/jack-auto/jack"
)

// NumberProvider is the telephony provider's number provisioning, as the phone-number routes
// need it (twilio.Numbers in production).
type NumberProvider interface {
	// SearchLocalNumbers returns up to limit numbers (E.164) for sale in country's areaCode.
	SearchLocalNumbers(ctx context.Context, country string, areaCode int, limit int) ([]string, error)
	// BuyNumber buys a number with Jack's webhooks for its texts.
	BuyNumber(ctx context.Context, buy jack.NumberPurchase) (*jack.BoughtNumber, error)
	// ReleaseNumber undoes BuyNumber; releasing a released number is not an error.
	ReleaseNumber(ctx context.Context, providerPhoneID string) error
}

// VoiceNumberProvider is the voice agent provider's number import, as the phone-number routes
// need it (elevenlabs.Numbers in production).
type VoiceNumberProvider interface {
	// ImportPhoneNumber makes phone (E.164), labelled label, take calls with the voice agent
	// provider and returns the provider's id of it.
	ImportPhoneNumber(ctx context.Context, phone, label string) (voicePhoneID string, err error)
	// AssignAgent assigns the AI agent to the imported number.
	AssignAgent(ctx context.Context, voicePhoneID string) error
	// DeletePhoneNumber undoes ImportPhoneNumber; deleting a deleted number is not an error.
	DeletePhoneNumber(ctx context.Context, voicePhoneID string) error
}

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

type purchasePhoneNumberRequest struct {
	AreaCode any    `json:"areaCode"` // "778" or 778
	Country  string `json:"country"`
}

var (
	// nanpAreaCode: Twilio filters by area code in the US and Canada, whose area codes never
	// start with 0 or 1 (and twilio-go sends it as an integer, which would drop a leading 0).
	nanpAreaCode = regexp.MustCompile(`^[2-9][0-9]{2}$`)
	isoCountry   = regexp.MustCompile(`^[A-Z]{2}$`)
)

// purchasePhoneNumber buys a local number in areaCode for the caller's organization with
// Jack's SMS webhooks and ElevenLabs' voice webhook, imports it into ElevenLabs with the agent
// assigned (when ElevenLabs is configured) and stores it active. Nothing is half-written: when
// a later step fails, the earlier ones are undone and nothing is stored. country defaults to
// the organization's phone region.
func (s *Server) purchasePhoneNumber(c *fiber.Ctx) error {
	var req purchasePhoneNumberRequest
	if err := decodeJSON(c, &req); err != nil {
		return err
	}
	if s.cfg.Numbers == nil {
		return jack.ReasonErrorf(jack.EUNPROCESSABLE, "twilio_not_configured", "Twilio is not configured on this server, so numbers cannot be bought.")
	}
	if s.cfg.ServerURL == "" {
		return jack.ReasonErrorf(jack.EUNPROCESSABLE, "server_url_not_configured", "The server has no public URL for Twilio's webhooks, so numbers cannot be bought.")
	}
	ctx := c.UserContext()
	orgID := principal(c).OrganizationID
	org, err := s.store.FindOrganizationByID(ctx, orgID)
	if err != nil {
		return err
	}
	fields := map[string]string{}
	areaCode := parseAreaCode(fields, req.AreaCode)
	country := strings.ToUpper(strings.TrimSpace(cmp.Or(req.Country, org.Region())))
	if !isoCountry.MatchString(country) || !jack.ValidRegion(country) {
		fields["country"] = "must be an ISO 3166-1 alpha-2 country code such as US"
	}
	if err := jack.ValidationError(fields); err != nil {
		return err
	}

	found, err := s.cfg.Numbers.SearchLocalNumbers(ctx, country, areaCode, 1)
	if err != nil {
		return err
	}
	if len(found) == 0 {
		return jack.ReasonErrorf(jack.EUNPROCESSABLE, "no_numbers_available", "No numbers available in area code %d.", areaCode)
	}
	bought, err := s.cfg.Numbers.BuyNumber(ctx, jack.NumberPurchase{
		PhoneNumber:  found[0],
		SMSURL:       s.cfg.ServerURL + "/api/webhooks/twilio/sms/incoming",
		StatusURL:    s.cfg.ServerURL + "/api/webhooks/twilio/sms/status",
		FriendlyName: truncateRunes(org.Name, 64), // Twilio's limit
	})
	if err != nil {
		return err
	}
	log := s.log.With("org_id", orgID, "twilio_sid", bought.ProviderPhoneID, "phone", jack.MaskPhone(bought.PhoneNumber), "request_id", requestIDOf(c))

	// The number is ours (and paid for) now: every failure below releases it.
	phone, err := jack.NormalizePhone(bought.PhoneNumber, country)
	if err != nil {
		s.releaseNumber(ctx, log, bought.ProviderPhoneID)
		return jack.Errorf(jack.EPROVIDER, "Twilio sold a number that is not valid.")
	}
	elevenLabsID, err := s.importVoiceNumber(ctx, log, org, phone)
	if err != nil {
		s.releaseNumber(ctx, log, bought.ProviderPhoneID)
		return err
	}
	pn := &jack.PhoneNumber{
		ID:              uuid.Must(uuid.NewV7()),
		OrganizationID:  orgID,
		PhoneNumber:     phone,
		ProviderPhoneID: bought.ProviderPhoneID,
		VoicePhoneID:    elevenLabsID,
		IsActive:        true,
		CreatedAt:       s.cfg.Now(),
	}
	if err := s.store.CreatePhoneNumber(ctx, orgID, pn); err != nil {
		s.deleteVoiceNumber(ctx, log, elevenLabsID)
		s.releaseNumber(ctx, log, bought.ProviderPhoneID)
		return err
	}
	s.router.invalidate()
	log.InfoContext(ctx, "phone number purchased", "elevenlabs_phone_id", elevenLabsID)
	return c.Status(fiber.StatusCreated).JSON(fiber.Map{
		"success":           true,
		"phoneNumber":       pn,
		"twilioSid":         bought.ProviderPhoneID,
		"elevenLabsPhoneId": elevenLabsID,
		"organizationId":    orgID,
		"nextSteps":         nextSteps(pn),
	})
}

// parseAreaCode reads a three-digit area code given as a string ("778") or a number (778),
// adding a problem to fields when it is missing or malformed.
func parseAreaCode(fields map[string]string, v any) int {
	var s string
	switch v := v.(type) {
	case string:
		s = strings.TrimSpace(v)
	case float64:
		s = strconv.FormatFloat(v, 'f', -1, 64)
	}
	switch {
	case v == nil || v == "":
		fields["areaCode"] = "is required"
	case !nanpAreaCode.MatchString(s):
		fields["areaCode"] = "must be 3 digits, the first not 0 or 1"
	default:
		n, _ := strconv.Atoi(s)
		return n
	}
	return 0
}

// nextSteps tells the admin what is left before the number takes calls: nothing once it has
// an ElevenLabs phone id, otherwise the seed's manual import and activation.
func nextSteps(pn *jack.PhoneNumber) []string {
	if pn.VoicePhoneID != "" {
		return []string{}
	}
	return []string{
		"Import this number into ElevenLabs (Agents > Phone Numbers > Import from Twilio) with SMS turned off",
		"Assign your conversational AI agent to it",
		"Call POST /api/admin/phone-numbers/" + url.PathEscape(pn.PhoneNumber) + "/activate with the ElevenLabs phone number id",
	}
}

// importVoiceNumber imports phone into the voice agent provider (labelled with the
// organization's name) and assigns the agent, returning its phone number id; "" when no voice
// number provider is configured. On failure nothing is left there.
func (s *Server) importVoiceNumber(ctx context.Context, log *slog.Logger, org *jack.Organization, phone string) (string, error) {
	if s.cfg.VoiceNumbers == nil {
		return "", nil
	}
	id, err := s.cfg.VoiceNumbers.ImportPhoneNumber(ctx, phone, org.Name+" "+phone)
	if err != nil {
		return "", err
	}
	if err := s.cfg.VoiceNumbers.AssignAgent(ctx, id); err != nil {
		s.deleteVoiceNumber(ctx, log, id)
		return "", err
	}
	return id, nil
}

// releaseNumber undoes a purchase at Twilio, even when the request was cancelled. A failure is
// logged for an operator: the number stays bought (and billed) until released by hand.
func (s *Server) releaseNumber(ctx context.Context, log *slog.Logger, sid string) {
	if err := s.cfg.Numbers.ReleaseNumber(context.WithoutCancel(ctx), sid); err != nil {
		log.ErrorContext(ctx, "could not release a bought number after a failed purchase; release it in Twilio's console",
			"twilio_sid", sid, "err", err)
	}
}

// deleteVoiceNumber undoes an ElevenLabs import (id "" is none), even when the request was
// cancelled. A failure is logged for an operator.
func (s *Server) deleteVoiceNumber(ctx context.Context, log *slog.Logger, id string) {
	if id == "" {
		return
	}
	if err := s.cfg.VoiceNumbers.DeletePhoneNumber(context.WithoutCancel(ctx), id); err != nil {
		log.ErrorContext(ctx, "could not delete an imported number from ElevenLabs after a failure; delete it in ElevenLabs",
			"elevenlabs_phone_id", id, "err", err)
	}
}

type importPhoneNumberRequest struct {
	PhoneNumber     string `json:"phoneNumber"`
	ProviderPhoneID string `json:"twilioPhoneSid"`
	VoicePhoneID    string `json:"elevenLabsPhoneId"`
}

// importPhoneNumber records a number the dealership already owns at its SMS provider, active at
// once (the seed's default); twilioPhoneSid, the provider's id of it, is optional (stored as ""
// when absent: nothing routes by it). Without an elevenLabsPhoneId and with a voice number
// provider configured, it is imported there too, with the agent assigned (undone if storing fails). 409 when any
// organization has the number.
func (s *Server) importPhoneNumber(c *fiber.Ctx) error {
	var req importPhoneNumberRequest
	if err := decodeJSON(c, &req); err != nil {
		return err
	}
	ctx := c.UserContext()
	orgID := principal(c).OrganizationID
	fields := map[string]string{}
	phone, err := s.orgPhone(c, orgID, "phoneNumber", req.PhoneNumber, fields)
	if err != nil {
		return err
	}
	sid := textField(fields, "twilioPhoneSid", req.ProviderPhoneID, 64, false)
	elevenLabsID := textField(fields, "elevenLabsPhoneId", req.VoicePhoneID, 255, false)
	if err := jack.ValidationError(fields); err != nil {
		return err
	}
	log := s.log.With("org_id", orgID, "twilio_sid", sid, "phone", jack.MaskPhone(phone), "request_id", requestIDOf(c))
	imported := ""
	if elevenLabsID == "" && s.cfg.VoiceNumbers != nil {
		// Another organization's active number would be refused below; do not import it first.
		if _, err := s.store.OrganizationByPhoneNumber(ctx, phone); err == nil {
			return errNumberTaken
		} else if jack.ErrorCode(err) != jack.ENOTFOUND {
			return err
		}
		org, err := s.store.FindOrganizationByID(ctx, orgID)
		if err != nil {
			return err
		}
		if imported, err = s.importVoiceNumber(ctx, log, org, phone); err != nil {
			return err
		}
		elevenLabsID = imported
	}
	pn := &jack.PhoneNumber{
		ID:              uuid.Must(uuid.NewV7()),
		OrganizationID:  orgID,
		PhoneNumber:     phone,
		ProviderPhoneID: sid,
		VoicePhoneID:    elevenLabsID,
		IsActive:        true,
		CreatedAt:       s.cfg.Now(),
	}
	if err := s.store.CreatePhoneNumber(ctx, orgID, pn); err != nil {
		s.deleteVoiceNumber(ctx, log, imported)
		return err
	}
	s.router.invalidate()
	log.InfoContext(ctx, "phone number imported", "elevenlabs_phone_id", elevenLabsID)
	return c.Status(fiber.StatusCreated).JSON(pn)
}

// errNumberTaken is the Store's ECONFLICT for a number some organization has, said early.
var errNumberTaken = jack.Errorf(jack.ECONFLICT, "This phone number belongs to an organization already.")

type activatePhoneNumberRequest struct {
	VoicePhoneID string `json:"elevenLabsPhoneId"`
}

// activatePhoneNumber turns one of the caller's numbers on, linking it to its ElevenLabs phone
// when elevenLabsPhoneId is given. Without one the number keeps whatever it had: a number that
// never had an ElevenLabs phone (imported without voice) comes back on for texts, and calls
// work once it is activated with an id. The body may be empty or {}. Another organization's
// number is 404.
func (s *Server) activatePhoneNumber(c *fiber.Ctx) error {
	var req activatePhoneNumberRequest
	if len(bytes.TrimSpace(c.Request().Body())) > 0 {
		if err := decodeJSON(c, &req); err != nil {
			return err
		}
	}
	orgID := principal(c).OrganizationID
	fields := map[string]string{}
	phone, err := s.phoneParam(c, orgID, fields)
	if err != nil {
		return err
	}
	elevenLabsID := textField(fields, "elevenLabsPhoneId", req.VoicePhoneID, 255, false)
	if err := jack.ValidationError(fields); err != nil {
		return err
	}
	upd := jack.PhoneNumberUpdate{IsActive: ptr(true)}
	if elevenLabsID != "" {
		upd.VoicePhoneID = &elevenLabsID
	}
	return s.setPhoneNumber(c, orgID, phone, upd)
}

// deactivatePhoneNumber turns one of the caller's numbers off: texts and calls to it no
// longer reach the organization and nothing is sent from it. The body may be empty or {}.
// Another organization's number is 404.
func (s *Server) deactivatePhoneNumber(c *fiber.Ctx) error {
	if len(bytes.TrimSpace(c.Request().Body())) > 0 {
		var none struct{}
		if err := decodeJSON(c, &none); err != nil {
			return err
		}
	}
	orgID := principal(c).OrganizationID
	fields := map[string]string{}
	phone, err := s.phoneParam(c, orgID, fields)
	if err != nil {
		return err
	}
	if err := jack.ValidationError(fields); err != nil {
		return err
	}
	return s.setPhoneNumber(c, orgID, phone, jack.PhoneNumberUpdate{IsActive: ptr(false)})
}

// setPhoneNumber applies upd, forgets cached routes and answers the number.
func (s *Server) setPhoneNumber(c *fiber.Ctx, orgID uuid.UUID, phone string, upd jack.PhoneNumberUpdate) error {
	pn, err := s.store.UpdatePhoneNumber(c.UserContext(), orgID, phone, upd)
	if err != nil {
		return err
	}
	s.router.invalidate()
	s.log.InfoContext(c.UserContext(), "phone number changed", "org_id", orgID, "phone", jack.MaskPhone(phone),
		"active", value(upd.IsActive), "request_id", requestIDOf(c))
	return c.JSON(pn)
}

// phoneParam reads the :phone path parameter (URL-escaped, E.164 or national in the
// organization's region), adding a problem to fields when it is not a phone number.
func (s *Server) phoneParam(c *fiber.Ctx, orgID uuid.UUID, fields map[string]string) (string, error) {
	raw, _ := url.PathUnescape(c.Params("phone"))
	return s.orgPhone(c, orgID, "phone", raw, fields)
}

func truncateRunes(s string, n int) string {
	if r := []rune(s); len(r) > n {
		return string(r[:n])
	}
	return s
}

func ptr[T any](v T) *T { return &v }
