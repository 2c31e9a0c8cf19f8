package twilio

import (
	"cmp"
	"context"
	"mime"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/jack-auto/jack"
)

// DefaultVoiceURL is ElevenLabs' inbound-call webhook for Twilio numbers (the seed's): a bought
// number's calls go straight to the voice agent.
const DefaultVoiceURL = "https://api.us.elevenlabs.io/twilio/inbound_call"

// Numbers is the number provisioner http's phone-number routes use (http.NumberProvider): it
// searches, buys and releases numbers with Client. A bought number's calls go to VoiceURL
// (DefaultVoiceURL when empty).
type Numbers struct {
	Client   *Client
	VoiceURL string
}

// SearchLocalNumbers returns up to limit numbers (E.164) available in country's areaCode.
func (n Numbers) SearchLocalNumbers(ctx context.Context, country string, areaCode, limit int) ([]string, error) {
	found, err := n.Client.SearchLocalNumbers(ctx, country, areaCode, limit)
	if err != nil {
		return nil, err
	}
	phones := make([]string, len(found))
	for i, f := range found {
		phones[i] = f.PhoneNumber
	}
	return phones, nil
}

// BuyNumber buys p.PhoneNumber with p's webhooks for its texts and VoiceURL for its calls.
func (n Numbers) BuyNumber(ctx context.Context, p jack.NumberPurchase) (*jack.BoughtNumber, error) {
	voiceURL := n.VoiceURL
	if strings.TrimSpace(voiceURL) == "" {
		voiceURL = DefaultVoiceURL
	}
	bought, err := n.Client.BuyNumber(ctx, BuyNumber{
		PhoneNumber: p.PhoneNumber, SmsURL: p.SMSURL, VoiceURL: voiceURL, StatusCallback: p.StatusURL, FriendlyName: p.FriendlyName,
	})
	if err != nil {
		return nil, err
	}
	return &jack.BoughtNumber{ProviderPhoneID: bought.Sid, PhoneNumber: bought.PhoneNumber}, nil
}

// ReleaseNumber undoes BuyNumber; releasing a released number is not an error.
func (n Numbers) ReleaseNumber(ctx context.Context, providerPhoneID string) error {
	return n.Client.ReleaseNumber(ctx, providerPhoneID)
}

// emptyTwiML answers a messaging webhook without an inline reply.
const emptyTwiML = `<?xml version="1.0" encoding="UTF-8"?><Response></Response>`

// Webhooks verifies and decodes Twilio's messaging webhooks for http's SMS routes
// (http.SMSWebhooks). AuthToken verifies their signatures: without it every webhook is refused.
// AccountSIDs, when given, are the accounts (the main account and its subaccounts) whose
// webhooks are accepted; a signed webhook of another account is refused.
type Webhooks struct {
	AuthToken   string
	AccountSIDs []string
}

// InboundSMS verifies and reads an incoming-message webhook.
func (w Webhooks) InboundSMS(r jack.WebhookRequest) (jack.InboundSMS, error) {
	params, err := w.params(r)
	if err != nil {
		return jack.InboundSMS{}, err
	}
	return ParseInboundSMS(params)
}

// SMSStatus verifies and reads a delivery status callback.
func (w Webhooks) SMSStatus(r jack.WebhookRequest) (jack.SMSStatus, error) {
	params, err := w.params(r)
	if err != nil {
		return jack.SMSStatus{}, err
	}
	st := jack.SMSStatus{
		ProviderMessageID: params.Get("MessageSid"),
		Status:            cmp.Or(params.Get("MessageStatus"), params.Get("SmsStatus")),
		To:                params.Get("To"),
		From:              params.Get("From"),
		ErrorCode:         params.Get("ErrorCode"),
		ErrorMessage:      params.Get("ErrorMessage"),
	}
	if st.ProviderMessageID == "" {
		return st, &jack.Error{Code: jack.EINVALID, Message: "The webhook is missing required parameters.", Fields: map[string]string{"MessageSid": "is required"}}
	}
	return st, nil
}

// Ack is empty TwiML: no inline reply.
func (Webhooks) Ack() (contentType, body string) { return "application/xml", emptyTwiML }

// params reads and verifies a Twilio webhook: the form parameters, signed with the account's
// auth token over the URL it was sent to, and every parameter received (Twilio adds parameters
// without notice). A bad or missing signature is EFORBIDDEN. The values it returns are clean
// text (jack.CleanForm): a NUL in a customer's text never fails it.
func (w Webhooks) params(r jack.WebhookRequest) (url.Values, error) {
	params, err := ParseForm(r.Body)
	if err != nil {
		return nil, err
	}
	if !ValidateRequest(w.AuthToken, r.URL, params, r.Header(SignatureHeader)) {
		return nil, jack.Errorf(jack.EFORBIDDEN, "Invalid Twilio signature.")
	}
	if len(w.AccountSIDs) > 0 && !slices.Contains(w.AccountSIDs, params.Get("AccountSid")) {
		return nil, jack.Errorf(jack.EFORBIDDEN, "The webhook is for another Twilio account.")
	}
	jack.CleanForm(params) // after the signature, which covers what was sent
	return params, nil
}

// ParseForm parses an x-www-form-urlencoded webhook body.
func ParseForm(body []byte) (url.Values, error) {
	params, err := url.ParseQuery(string(body))
	if err != nil {
		return nil, jack.Errorf(jack.EINVALID, "Webhook body is not a valid form.")
	}
	return params, nil
}

// ParseInboundSMS reads an incoming-message webhook's (clean) parameters. From must be a phone
// number (E.164 from Twilio); To may be absent only for the caller fallback.
func ParseInboundSMS(params url.Values) (jack.InboundSMS, error) {
	in := jack.InboundSMS{
		ProviderMessageID: jack.CleanText(params.Get("MessageSid")),
		Body:              jack.CleanText(params.Get("Body")),
		OptOutType:        jack.CleanText(params.Get("OptOutType")),
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
		if u, err := url.Parse(raw); err != nil || len(raw) > jack.MaxMediaURLLength ||
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
