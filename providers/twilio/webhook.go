package twilio

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/jack-auto/jack"
)

// APIVersion is the API version Twilio names in webhooks and Message resources.
const APIVersion = "2010-04-01"

// WebhookTimeout is how long Twilio waits for a webhook by default (see ARCHITECTURE.md, "Provider wire formats").
const WebhookTimeout = 15 * time.Second

// NewSid returns a fresh random sid: prefix (SM, MM, AC, PN …) and 32 lowercase hex digits.
func NewSid(prefix string) string {
	var b [16]byte
	rand.Read(b[:])
	return prefix + hex.EncodeToString(b[:])
}

// InboundSMSParams returns the form Twilio posts to a number's SMS webhook for a plain text
// (no media) from a customer to the dealership's number, with the full parameter set real
// webhooks carry (see ARCHITECTURE.md, "Provider wire formats"). Geo fields other than the country are empty, as Twilio
// often sends them. An empty messageSid gets a new one.
func InboundSMSParams(accountSID, from, to, body, messageSid string) url.Values {
	if messageSid == "" {
		messageSid = NewSid("SM")
	}
	return url.Values{
		"ToCountry":     {jack.RegionOfPhone(to)},
		"ToState":       {""},
		"SmsMessageSid": {messageSid},
		"NumMedia":      {"0"},
		"ToCity":        {""},
		"FromZip":       {""},
		"SmsSid":        {messageSid},
		"FromState":     {""},
		"SmsStatus":     {jack.StatusReceived},
		"FromCity":      {""},
		"Body":          {body},
		"FromCountry":   {jack.RegionOfPhone(from)},
		"To":            {to},
		"ToZip":         {""},
		"NumSegments":   {"1"},
		"MessageSid":    {messageSid},
		"AccountSid":    {accountSID},
		"From":          {from},
		"ApiVersion":    {APIVersion},
	}
}

// StatusCallbackParams returns the form of a message status callback (see ARCHITECTURE.md, "Provider wire formats") for an
// outbound message from the dealership's number to a customer. ErrorCode is sent only when
// errorCode is not empty (failed and undelivered messages).
func StatusCallbackParams(accountSID, messageSid, from, to, status, errorCode string) url.Values {
	params := url.Values{
		"MessageSid":    {messageSid},
		"SmsSid":        {messageSid},
		"MessageStatus": {status},
		"SmsStatus":     {status},
		"AccountSid":    {accountSID},
		"From":          {from},
		"To":            {to},
		"ApiVersion":    {APIVersion},
	}
	if errorCode != "" {
		params.Set("ErrorCode", errorCode)
	}
	return params
}

// PostWebhook posts params to webhookURL the way Twilio calls a webhook: a form POST signed
// with SignatureHeader over the URL without its #fragment (Twilio's connection overrides live
// there), with Twilio's User-Agent and an I-Twilio-Idempotency-Token that is the same for the
// same URL and params, as it is across Twilio's retries. hc nil means a client that waits
// WebhookTimeout and does not follow redirects. The caller closes the response body.
func PostWebhook(ctx context.Context, hc *http.Client, webhookURL, authToken string, params url.Values) (*http.Response, error) {
	if hc == nil {
		hc = &http.Client{
			Timeout:       WebhookTimeout,
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		}
	}
	signedURL, _, _ := strings.Cut(webhookURL, "#")
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, signedURL, strings.NewReader(params.Encode()))
	if err != nil {
		return nil, fmt.Errorf("twilio: webhook request: %w", err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("User-Agent", "TwilioProxy/1.1")
	req.Header.Set("Accept", "*/*")
	req.Header.Set(SignatureHeader, Sign(authToken, signedURL, params))
	req.Header.Set("I-Twilio-Idempotency-Token", idempotencyToken(signedURL, params))
	resp, err := hc.Do(req)
	if err != nil {
		return nil, fmt.Errorf("twilio: post webhook: %w", err)
	}
	return resp, nil
}

// PostInboundSMS posts an inbound SMS webhook (params from InboundSMSParams) signed with
// authToken, as Twilio would. Used by tests and `jack simulate`; the caller closes the body.
func PostInboundSMS(ctx context.Context, webhookURL, authToken string, params url.Values) (*http.Response, error) {
	return PostWebhook(ctx, nil, webhookURL, authToken, params)
}

// idempotencyToken derives the token from the event, so posting the same event again looks like
// Twilio retrying it.
func idempotencyToken(webhookURL string, params url.Values) string {
	h := sha256.New()
	h.Write([]byte(webhookURL))
	for _, k := range slices.Sorted(maps.Keys(params)) {
		for _, v := range params[k] {
			fmt.Fprintf(h, "\x00%s=%s", k, v)
		}
	}
	return hex.EncodeToString(h.Sum(nil)[:16])
}
