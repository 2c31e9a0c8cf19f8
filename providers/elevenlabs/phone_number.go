package elevenlabs

import (
	"context"
	"errors"
	"fmt"
	"net/url"

	"github.com/jack-auto/jack"
)

// ImportPhoneNumber is a Twilio number to import into ElevenLabs.
type ImportPhoneNumber struct {
	PhoneNumber      string // E.164
	Label            string // shown in the ElevenLabs dashboard
	TwilioAccountSID string // the account (or API key SID) that owns the number
	TwilioAuthToken  string // its auth token (or API key secret)
}

// importTwilioNumber is CreateTwilioPhoneNumberRequest. enable_sms is always false: Jack owns
// the number's SMS webhook, and ElevenLabs would otherwise point it at itself.
type importTwilioNumber struct {
	Provider    string `json:"provider"`
	PhoneNumber string `json:"phone_number"`
	Label       string `json:"label"`
	SID         string `json:"sid"`
	Token       string `json:"token"`
	EnableSMS   bool   `json:"enable_sms"`
}

// ImportPhoneNumber imports a Twilio number so ElevenLabs can call from it and answer its calls,
// and returns ElevenLabs' phone number id. The number has no agent until AssignAgent. Returns
// EPROVIDER with ElevenLabs' message when it refused or could not be reached.
func (c *Client) ImportPhoneNumber(ctx context.Context, in ImportPhoneNumber) (phoneNumberID string, err error) {
	body := importTwilioNumber{
		Provider:    "twilio",
		PhoneNumber: in.PhoneNumber,
		Label:       in.Label,
		SID:         in.TwilioAccountSID,
		Token:       in.TwilioAuthToken,
	}
	var res struct {
		PhoneNumberID string `json:"phone_number_id"`
	}
	if err := c.call(ctx, "POST", "/v1/convai/phone-numbers", nil, body, &res, "import the phone number"); err != nil {
		return "", err
	}
	if res.PhoneNumberID == "" {
		return "", fmt.Errorf("elevenlabs: import phone number: %w", unexpected(errors.New("answer has no phone_number_id")))
	}
	c.log.InfoContext(ctx, "elevenlabs: phone number imported", "phone_number_id", res.PhoneNumberID,
		"phone", jack.MaskPhone(in.PhoneNumber))
	return res.PhoneNumberID, nil
}

// AssignAgent makes the client's agent answer and place the calls of phone number
// phoneNumberID. Returns EPROVIDER with ElevenLabs' message when it refused or could not be
// reached, EINVALID when phoneNumberID is empty.
func (c *Client) AssignAgent(ctx context.Context, phoneNumberID string) error {
	if phoneNumberID == "" {
		return jack.Errorf(jack.EINVALID, "An ElevenLabs phone number id is required.")
	}
	body := map[string]string{"agent_id": c.cfg.AgentID}
	return c.call(ctx, "PATCH", phoneNumberPath(phoneNumberID), nil, body, nil, "assign the agent to the phone number")
}

// DeletePhoneNumber removes phone number phoneNumberID from ElevenLabs, to undo a half-done
// import. A number ElevenLabs does not know (404) counts as deleted, so undoing twice is
// harmless. Returns EPROVIDER when ElevenLabs refused or could not be reached, EINVALID when
// phoneNumberID is empty.
func (c *Client) DeletePhoneNumber(ctx context.Context, phoneNumberID string) error {
	if phoneNumberID == "" {
		return jack.Errorf(jack.EINVALID, "An ElevenLabs phone number id is required.")
	}
	err := c.call(ctx, "DELETE", phoneNumberPath(phoneNumberID), nil, nil, nil, "delete the phone number")
	var jerr *jack.Error
	if errors.As(err, &jerr) && jerr.Details["httpStatus"] == 404 {
		return nil
	}
	return err
}

func phoneNumberPath(id string) string {
	return "/v1/convai/phone-numbers/" + url.PathEscape(id)
}
