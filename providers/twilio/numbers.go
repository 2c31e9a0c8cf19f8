package twilio

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/jack-auto/jack"
	"github.com/twilio/twilio-go/client"
	openapi "github.com/twilio/twilio-go/rest/api/v2010"
)

// MaxSearchLimit bounds how many available numbers one search asks for: twilio-go follows
// next_page_uri until it has the limit, and a purchase needs only a few candidates.
const MaxSearchLimit = 30

// AvailableNumber is a local number Twilio offers for purchase.
type AvailableNumber struct {
	PhoneNumber  string // E.164
	FriendlyName string // as Twilio formats it, e.g. (604) 555-0100
	Locality     string
	Region       string // state or province
	ISOCountry   string
}

// BuyNumber is a purchase: the number to buy and where Twilio sends its traffic. Every
// webhook is called with POST.
type BuyNumber struct {
	PhoneNumber    string // E.164, as a search returned it. Required.
	SmsURL         string // incoming messages
	VoiceURL       string // incoming calls
	StatusCallback string // status of calls on the number
	FriendlyName   string // shown in Twilio's console; Twilio formats the number when empty
}

// IncomingNumber is a number the account owns.
type IncomingNumber struct {
	Sid         string // PN…
	PhoneNumber string // E.164
}

// SearchLocalNumbers lists up to limit (1 to MaxSearchLimit) local numbers of country
// (ISO 3166-1 alpha-2) in areaCode that take both texts and calls. No match is an empty list,
// not an error. Returns EPROVIDER when Twilio refuses or cannot be reached.
func (c *Client) SearchLocalNumbers(ctx context.Context, country string, areaCode int, limit int) ([]AvailableNumber, error) {
	ctx, cancel := context.WithTimeout(ctx, c.cfg.Timeout)
	defer cancel()

	limit = min(max(limit, 1), MaxSearchLimit)
	params := &openapi.ListAvailablePhoneNumberLocalParams{}
	params.SetAreaCode(areaCode).SetSmsEnabled(true).SetVoiceEnabled(true).SetPageSize(limit).SetLimit(limit)
	found, err := c.service(ctx).ListAvailablePhoneNumberLocal(strings.ToUpper(country), params)
	if err != nil {
		return nil, fmt.Errorf("twilio: search local numbers: %w", translateRequestError(ctx, err, "search for numbers"))
	}
	out := make([]AvailableNumber, 0, len(found))
	for _, n := range found {
		if deref(n.PhoneNumber) == "" {
			continue
		}
		out = append(out, AvailableNumber{
			PhoneNumber:  deref(n.PhoneNumber),
			FriendlyName: deref(n.FriendlyName),
			Locality:     deref(n.Locality),
			Region:       deref(n.Region),
			ISOCountry:   deref(n.IsoCountry),
		})
	}
	return out, nil
}

// BuyNumber buys buy.PhoneNumber for the account with its webhooks set. Returns EINVALID when
// PhoneNumber is empty, EPROVIDER when Twilio refuses (the number was taken meanwhile, say) or
// cannot be reached. A purchase that failed in transit may still have happened: the caller
// owns the undo (ReleaseNumber) only for numbers it got back.
func (c *Client) BuyNumber(ctx context.Context, buy BuyNumber) (*IncomingNumber, error) {
	if buy.PhoneNumber == "" {
		return nil, jack.Errorf(jack.EINVALID, "A phone number to buy is required.")
	}
	ctx, cancel := context.WithTimeout(ctx, c.cfg.Timeout)
	defer cancel()

	params := &openapi.CreateIncomingPhoneNumberParams{}
	params.SetPhoneNumber(buy.PhoneNumber)
	if buy.SmsURL != "" {
		params.SetSmsUrl(buy.SmsURL).SetSmsMethod("POST")
	}
	if buy.VoiceURL != "" {
		params.SetVoiceUrl(buy.VoiceURL).SetVoiceMethod("POST")
	}
	if buy.StatusCallback != "" {
		params.SetStatusCallback(buy.StatusCallback).SetStatusCallbackMethod("POST")
	}
	if buy.FriendlyName != "" {
		params.SetFriendlyName(buy.FriendlyName)
	}
	n, err := c.service(ctx).CreateIncomingPhoneNumber(params)
	if err != nil {
		return nil, fmt.Errorf("twilio: buy number: %w", translateRequestError(ctx, err, "sell the number"))
	}
	if deref(n.Sid) == "" {
		return nil, fmt.Errorf("twilio: buy number: %w", unexpected(errors.New("response has no sid")))
	}
	return &IncomingNumber{Sid: *n.Sid, PhoneNumber: cmp.Or(deref(n.PhoneNumber), buy.PhoneNumber)}, nil
}

// ReleaseNumber gives number sid back to Twilio, to undo a purchase whose later steps failed.
// A number Twilio does not know (404) counts as released, so undoing twice is harmless.
// Returns EINVALID when sid is empty, EPROVIDER when Twilio refuses or cannot be reached.
func (c *Client) ReleaseNumber(ctx context.Context, sid string) error {
	if sid == "" {
		return jack.Errorf(jack.EINVALID, "A phone number sid is required.")
	}
	ctx, cancel := context.WithTimeout(ctx, c.cfg.Timeout)
	defer cancel()

	err := c.service(ctx).DeleteIncomingPhoneNumber(sid, nil)
	var rest *client.TwilioRestError
	if errors.As(err, &rest) && rest.Status == 404 {
		return nil
	}
	if err != nil {
		return fmt.Errorf("twilio: release number %s: %w", sid, translateRequestError(ctx, err, "release the number"))
	}
	return nil
}

// translateRequestError is translateError for requests other than sending a message: Twilio's
// refusal reads "Twilio refused to <action> (code): message".
func translateRequestError(ctx context.Context, err error, action string) error {
	var rest *client.TwilioRestError
	if !errors.As(err, &rest) {
		return translateError(ctx, err)
	}
	return fmt.Errorf("%w: %w", &jack.Error{
		Code:    jack.EPROVIDER,
		Message: fmt.Sprintf("Twilio refused to %s (%d): %s", action, rest.Code, rest.Message),
		Details: map[string]any{"twilioCode": rest.Code},
	}, err)
}
