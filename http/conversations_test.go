package http_test

import (
	"context"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"unicode/utf8"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"
	"golang.org/x/crypto/bcrypt"

	"github.com/jack-auto/jack"
	jackhttp "github.com/jack-auto/jack/http"
	"github.com/jack-auto/jack/persistence/storetest"
	"github.com/jack-auto/jack/providers/twilio"
)

// fakeConversations implements jack.Conversations for handler tests; methods without a Func
// panic through the nil embedded interface.
type fakeConversations struct {
	jack.Conversations
	LeadChangedFunc     func(ctx context.Context, orgID uuid.UUID, phone string, deleted bool) error
	ReceiveSMSFunc      func(ctx context.Context, orgID uuid.UUID, in jack.InboundSMS) (*jack.Delivery, error)
	SendSMSFunc         func(ctx context.Context, orgID uuid.UUID, out jack.OutboundSMS) (*jack.Delivery, error)
	UpdateSMSStatusFunc func(ctx context.Context, orgID uuid.UUID, st jack.SMSStatus) error
	SetAIPausedFunc     func(ctx context.Context, orgID uuid.UUID, phone string, paused bool) (*jack.Lead, error)
}

func (f *fakeConversations) LeadChanged(ctx context.Context, orgID uuid.UUID, phone string, deleted bool) error {
	return f.LeadChangedFunc(ctx, orgID, phone, deleted)
}

func (f *fakeConversations) ReceiveSMS(ctx context.Context, orgID uuid.UUID, in jack.InboundSMS) (*jack.Delivery, error) {
	return f.ReceiveSMSFunc(ctx, orgID, in)
}

func (f *fakeConversations) SendSMS(ctx context.Context, orgID uuid.UUID, out jack.OutboundSMS) (*jack.Delivery, error) {
	return f.SendSMSFunc(ctx, orgID, out)
}

func (f *fakeConversations) UpdateSMSStatus(ctx context.Context, orgID uuid.UUID, st jack.SMSStatus) error {
	return f.UpdateSMSStatusFunc(ctx, orgID, st)
}

func (f *fakeConversations) SetAIPaused(ctx context.Context, orgID uuid.UUID, phone string, paused bool) (*jack.Lead, error) {
	return f.SetAIPausedFunc(ctx, orgID, phone, paused)
}

const twilioToken = "twiliotesttoken0123456789"

// webhookBundle is a server with a fake engine recording what reaches it.
type webhookBundle struct {
	*testServer
	org      *jack.Organization
	orgPhone string

	mu       sync.Mutex
	inbound  []jack.InboundSMS
	statuses []jack.SMSStatus
	sent     []jack.OutboundSMS
}

func newWebhookBundle(t *testing.T, configure ...func(*jackhttp.Config)) *webhookBundle {
	t.Helper()
	return newWebhookBundleOn(t, openSQLite(t), configure...)
}

// newWebhookBundleOn is newWebhookBundle over the given store.
func newWebhookBundleOn(t *testing.T, store jack.Store, configure ...func(*jackhttp.Config)) *webhookBundle {
	t.Helper()
	org, _ := storetest.MustCreateOrganization(t, store)
	b := &webhookBundle{org: org, orgPhone: testPhone(900)}
	storetest.MustCreatePhoneNumber(t, store, org.ID, b.orgPhone, true)
	conv := &fakeConversations{
		ReceiveSMSFunc: func(ctx context.Context, orgID uuid.UUID, in jack.InboundSMS) (*jack.Delivery, error) {
			require.Equal(t, org.ID, orgID)
			b.mu.Lock()
			defer b.mu.Unlock()
			b.inbound = append(b.inbound, in)
			return &jack.Delivery{Lead: &jack.Lead{ID: "lead"}, Message: &jack.Message{}}, nil
		},
		UpdateSMSStatusFunc: func(ctx context.Context, orgID uuid.UUID, st jack.SMSStatus) error {
			b.mu.Lock()
			defer b.mu.Unlock()
			b.statuses = append(b.statuses, st)
			if st.ProviderMessageID == "SMunknown" {
				return jack.Errorf(jack.ENOTFOUND, "no such message")
			}
			return nil
		},
		SendSMSFunc: func(ctx context.Context, orgID uuid.UUID, out jack.OutboundSMS) (*jack.Delivery, error) {
			b.mu.Lock()
			defer b.mu.Unlock()
			b.sent = append(b.sent, out)
			if out.To == testPhone(666) {
				return nil, jack.ReasonErrorf(jack.ECONFLICT, "opted_out", "The customer has opted out of text messages.")
			}
			return &jack.Delivery{Lead: &jack.Lead{ID: "lead", PhoneNumberNormalized: out.To}, Message: &jack.Message{Content: out.Body}}, nil
		},
	}
	cfg := jackhttp.Config{JWTSecret: testSecret, BcryptCost: bcrypt.MinCost, SMSWebhooks: twilio.Webhooks{AuthToken: twilioToken},
		ServerURL: "https://jack.example.com"}
	for _, f := range configure {
		f(&cfg)
	}
	srv, err := jackhttp.NewServer(cfg, store, conv, nil, testLogger(t))
	require.NoError(t, err)
	b.testServer = serve(t, srv, store, nil)
	return b
}

// postTwilio posts a form webhook signed for the public URL path (as Twilio signs it); token
// "" leaves the signature header out.
func (b *webhookBundle) postTwilio(t *testing.T, path string, params url.Values, token string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, b.URL+path, strings.NewReader(params.Encode()))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if token != "" {
		req.Header.Set(twilio.SignatureHeader, twilio.Sign(token, "https://jack.example.com"+path, params))
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp.StatusCode, string(body)
}

const incomingPath = "/api/webhooks/twilio/sms/incoming"
const statusPath = "/api/webhooks/twilio/sms/status"

func TestTwilioIncomingSMS(t *testing.T) {
	t.Parallel()
	t.Run("OK", func(t *testing.T) {
		t.Parallel()
		b := newWebhookBundle(t)
		params := twilio.InboundSMSParams("AC123", testPhone(1), b.orgPhone, "Hi there", "")
		status, body := b.postTwilio(t, incomingPath, params, twilioToken)
		require.Equal(t, http.StatusOK, status)
		require.Equal(t, `<?xml version="1.0" encoding="UTF-8"?><Response></Response>`, body)
		require.Len(t, b.inbound, 1)
		require.Equal(t, jack.InboundSMS{ProviderMessageID: params.Get("MessageSid"), From: testPhone(1), To: b.orgPhone, Body: "Hi there"}, b.inbound[0])
	})
	t.Run("ErrForgedSignature", func(t *testing.T) {
		t.Parallel()
		b := newWebhookBundle(t)
		params := twilio.InboundSMSParams("AC123", testPhone(1), b.orgPhone, "Hi there", "")
		status, _ := b.postTwilio(t, incomingPath, params, "not-the-token")
		require.Equal(t, http.StatusForbidden, status)
		status, _ = b.postTwilio(t, incomingPath, params, "")
		require.Equal(t, http.StatusForbidden, status)
		// A valid signature over other parameters does not cover a changed body.
		req, _ := http.NewRequest(http.MethodPost, b.URL+incomingPath, strings.NewReader(strings.Replace(params.Encode(), "Hi+there", "Hacked", 1)))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set(twilio.SignatureHeader, twilio.Sign(twilioToken, "https://jack.example.com"+incomingPath, params))
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		resp.Body.Close()
		require.Equal(t, http.StatusForbidden, resp.StatusCode)
		require.Empty(t, b.inbound, "nothing reaches the conversation")
	})
	t.Run("ErrUnknownTo", func(t *testing.T) {
		t.Parallel()
		b := newWebhookBundle(t)
		status, body := b.postTwilio(t, incomingPath, twilio.InboundSMSParams("AC123", testPhone(1), testPhone(901), "Hi", ""), twilioToken)
		require.Equal(t, http.StatusNotFound, status)
		require.Equal(t, `<?xml version="1.0" encoding="UTF-8"?><Response></Response>`, body)
		require.Empty(t, b.inbound)
	})
	t.Run("ErrMissingFrom", func(t *testing.T) {
		t.Parallel()
		b := newWebhookBundle(t)
		params := twilio.InboundSMSParams("AC123", testPhone(1), b.orgPhone, "Hi", "")
		params.Set("From", "TWILIO")
		status, _ := b.postTwilio(t, incomingPath, params, twilioToken)
		require.Equal(t, http.StatusBadRequest, status)
		require.Empty(t, b.inbound)
	})
}

func TestTwilioSMSStatus(t *testing.T) {
	t.Parallel()
	b := newWebhookBundle(t)
	customer := testPhone(2)
	status, _ := b.postTwilio(t, statusPath, twilio.StatusCallbackParams("AC123", "SMabc", b.orgPhone, customer, "delivered", ""), twilioToken)
	require.Equal(t, http.StatusOK, status)
	status, _ = b.postTwilio(t, statusPath, twilio.StatusCallbackParams("AC123", "SMunknown", b.orgPhone, customer, "sent", ""), twilioToken)
	require.Equal(t, http.StatusOK, status, "an unknown MessageSid is acknowledged")
	status, _ = b.postTwilio(t, statusPath, twilio.StatusCallbackParams("AC123", "SMabc", b.orgPhone, customer, "bogus", ""), twilioToken)
	require.Equal(t, http.StatusOK, status, "an unknown status is acknowledged and ignored")
	status, _ = b.postTwilio(t, statusPath, twilio.StatusCallbackParams("AC123", "SMabc", b.orgPhone, customer, "delivered", ""), "forged")
	require.Equal(t, http.StatusForbidden, status)
	require.Equal(t, []jack.SMSStatus{
		{ProviderMessageID: "SMabc", Status: "delivered", From: b.orgPhone, To: customer},
		{ProviderMessageID: "SMunknown", Status: "sent", From: b.orgPhone, To: customer},
	}, b.statuses)
}

func TestSendSMS(t *testing.T) {
	t.Parallel()
	b := newWebhookBundle(t)
	token, _, _ := MustRegister(t, b.URL)
	lead := MustCreateLead(t, b.URL, token, "Sam Send", "(201) 555-0177")

	var d jack.Delivery
	MustDo(t, b.URL, request{Method: "POST", Path: "/api/twilio/send-sms", Token: token, Body: map[string]any{"leadId": lead.ID, "message": " Hello Sam "}}, http.StatusCreated, &d)
	require.Equal(t, "Hello Sam", d.Message.Content)
	MustDo(t, b.URL, request{Method: "POST", Path: "/api/twilio/send-sms", Token: token, Body: map[string]any{"to": "201-555-0178", "message": "Hi"},
		Headers: map[string]string{"Idempotency-Key": "abc"}}, http.StatusCreated, nil)
	require.Len(t, b.sent, 2)
	require.Equal(t, "+12015550178", b.sent[1].To, "national numbers read in the organization's region")
	require.Equal(t, "abc", b.sent[1].IdempotencyKey)
	require.NotNil(t, b.sent[1].AuthorUserID, "a staff send names its author (and so pauses the AI)")

	MustFail(t, b.URL, request{Method: "POST", Path: "/api/twilio/send-sms", Token: token, Body: map[string]any{"to": testPhone(666), "message": "Hi"}}, http.StatusConflict, "opted_out")
	e := MustFail(t, b.URL, request{Method: "POST", Path: "/api/twilio/send-sms", Token: token, Body: map[string]any{"message": ""}}, http.StatusUnprocessableEntity, "unprocessable")
	require.Contains(t, e.Error.Fields, "message")
	require.Contains(t, e.Error.Fields, "to")
	MustFail(t, b.URL, request{Method: "POST", Path: "/api/twilio/send-sms", Token: token, Body: map[string]any{"to": "12", "message": "hi"}}, http.StatusUnprocessableEntity, "unprocessable")
	MustFail(t, b.URL, request{Method: "POST", Path: "/api/twilio/send-sms", Token: token, Body: map[string]any{"to": testPhone(3), "message": strings.Repeat("x", 1601)}}, http.StatusUnprocessableEntity, "unprocessable")
	MustFail(t, b.URL, request{Method: "POST", Path: "/api/twilio/send-sms", Token: token, Body: map[string]any{"leadId": "nope", "message": "hi"}}, http.StatusUnprocessableEntity, "unprocessable")
	MustFail(t, b.URL, request{Method: "POST", Path: "/api/twilio/send-sms", Body: map[string]any{"to": testPhone(3), "message": "hi"}}, http.StatusUnauthorized, "unauthorized")
	require.Len(t, b.sent, 3, "invalid requests never reach the conversation")
}

// FuzzTwilioWebhook throws arbitrary bodies and signatures at the inbound webhook's parsing and
// verification: never a panic, only a valid message or an EINVALID error, and a signature check
// that accepts only what was signed.
func FuzzTwilioWebhook(f *testing.F) {
	params := twilio.InboundSMSParams("AC123", "+12015550101", "+12015551000", "Hi", "SM00000000000000000000000000000001")
	f.Add([]byte(params.Encode()), "")
	f.Add([]byte("ToCountry=GB&ToState=&SmsMessageSid=SM1&NumMedia=0&Body=Ack&To=%2B447700900000&MessageSid=SM1&From=%2B447700900513"), "0/KCTR6DLpKmkAf8muzZqo1nDgQ=")
	f.Add([]byte("%zz&&=&From="), "x")
	f.Add([]byte("Body=STOP&From=%2B16045550123&MessageSid=SM2&OptOutType=STOP"), "")
	mms := twilio.InboundSMSParams("AC123", "+12015550101", "+12015551000", "", "MM00000000000000000000000000000001")
	mms.Set("NumMedia", "2")
	mms.Set("MediaUrl0", "https://api.twilio.com/2010-04-01/Accounts/AC123/Messages/MM1/Media/ME1")
	mms.Set("MediaContentType0", "image/jpeg")
	mms.Set("MediaUrl1", "https://api.twilio.com/2010-04-01/Accounts/AC123/Messages/MM1/Media/ME2")
	mms.Set("MediaContentType1", "text/vcard; charset=utf-8")
	f.Add([]byte(mms.Encode()), "")
	f.Add([]byte("From=%2B16045550123&MessageSid=MM3&NumMedia=99&MediaUrl0=javascript:alert(1)&MediaUrl1=%2F%2Fx&MediaContentType1=%3C%3E&MediaUrl2=http://127.0.0.1:9/m"), "")
	f.Add([]byte("From=%2B16045550123&MessageSid=MM4&NumMedia=-1&MediaUrl0=https://x.test/a"), "")
	// NUL and invalid UTF-8 anywhere (issue 15): the parsed text comes out clean.
	f.Add([]byte("From=%2B16045550123&To=%2B12015551000&MessageSid=SM5&Body=nul%00in%00text"), "")
	f.Add([]byte("From=%2B16045550123&To=%2B12015551000&MessageSid=SM6&Body=bad%FF%FEutf8%C3%28"), "")
	f.Add([]byte("From=%2B16045550123&MessageSid=SM7%00&Body=%00&OptOutType=STOP%00"), "")
	f.Add([]byte("From=%2B16045550123&MessageSid=MM8&NumMedia=1&MediaUrl0=https://api.twilio.com/m%00&MediaContentType0=image/jpeg%00"), "")
	f.Add([]byte("Body=\u0000&From=%2B16045550123&MessageSid=SM9"), "")
	const webhookURL = "https://jack.example.com" + incomingPath
	f.Fuzz(func(t *testing.T, body []byte, signature string) {
		params, err := twilio.ParseForm(body)
		var in jack.InboundSMS
		if err == nil {
			in, err = twilio.ParseInboundSMS(params)
		}
		if err != nil {
			require.Equal(t, jack.EINVALID, jack.ErrorCode(err), "%v", err)
			return
		}
		require.True(t, jack.IsE164(in.From), "From %q", in.From)
		require.NotEmpty(t, in.ProviderMessageID)
		for _, text := range []string{in.Body, in.ProviderMessageID, in.OptOutType} {
			require.True(t, utf8.ValidString(text), "%q is valid UTF-8", text)
			require.NotContains(t, text, "\x00", "%q holds no NUL", text)
		}
		if in.To != "" {
			require.True(t, jack.IsE164(in.To), "To %q", in.To)
		}
		require.LessOrEqual(t, len(in.Media), 10)
		for _, m := range in.Media {
			u, err := url.Parse(m.URL)
			require.NoError(t, err)
			require.Contains(t, []string{"http", "https"}, u.Scheme, "media URL %q", m.URL)
			require.NotEmpty(t, u.Host)
			require.Contains(t, m.ContentType, "/")
		}
		if twilio.ValidateRequest(twilioToken, webhookURL, params, signature) {
			require.Equal(t, twilio.Sign(twilioToken, webhookURL, params), signature, "only the real signature validates")
		}
	})
}
