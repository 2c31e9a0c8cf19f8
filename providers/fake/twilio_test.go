package fake_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/jack-auto/jack"
	"github.com/jack-auto/jack/providers/fake"
	"github.com/jack-auto/jack/providers/twilio"
)

const (
	accountSID    = "AC00000000000000000000000000000001"
	authToken     = "authtoken0123456789"
	dealerPhone   = "+16045550199"
	customerPhone = "+16045550123"
	waitTimeout   = 10 * time.Second
)

func messagesURL(f *fake.Twilio, account string) string {
	return f.URL() + "/2010-04-01/Accounts/" + account + "/Messages.json"
}

// post sends a raw create-message request, as twilio-go would, and decodes the JSON answer.
func post(t *testing.T, f *fake.Twilio, user, pass string, form url.Values) (int, map[string]any) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, messagesURL(f, accountSID), strings.NewReader(form.Encode()))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if user != "" {
		req.SetBasicAuth(user, pass)
	}
	return do(t, req)
}

func do(t *testing.T, req *http.Request) (int, map[string]any) {
	t.Helper()
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, "application/json; charset=utf-8", resp.Header.Get("Content-Type"))
	var body map[string]any
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&body))
	return resp.StatusCode, body
}

func sendForm() url.Values {
	return url.Values{"From": {dealerPhone}, "To": {customerPhone}, "Body": {"Hello from the dealership"}}
}

// twilioError is Twilio's REST error JSON as decoded into a map.
func twilioError(status, code int, message string) map[string]any {
	return map[string]any{
		"code":      float64(code),
		"message":   message,
		"more_info": "https://www.twilio.com/docs/errors/" + strconv.Itoa(code),
		"status":    float64(status),
	}
}

func TestTwilio_CreateMessage(t *testing.T) {
	t.Parallel()

	t.Run("OK", func(t *testing.T) {
		t.Parallel()
		f := fake.NewTwilio(t, accountSID, authToken)
		form := sendForm()
		form.Set("StatusCallback", "https://jack.example.com/status")

		status, body := post(t, f, accountSID, authToken, form)
		require.Equal(t, http.StatusCreated, status)
		sid, _ := body["sid"].(string)
		require.Regexp(t, `^SM[0-9a-f]{32}$`, sid)
		base := "/2010-04-01/Accounts/" + accountSID + "/Messages/" + sid
		created, err := time.Parse(time.RFC1123Z, body["date_created"].(string))
		require.NoError(t, err)
		require.WithinDuration(t, time.Now(), created, time.Minute)
		require.Equal(t, map[string]any{
			"account_sid":           accountSID,
			"api_version":           "2010-04-01",
			"body":                  "Hello from the dealership",
			"date_created":          body["date_created"],
			"date_sent":             nil,
			"date_updated":          body["date_created"],
			"direction":             "outbound-api",
			"error_code":            nil,
			"error_message":         nil,
			"from":                  dealerPhone,
			"messaging_service_sid": nil,
			"num_media":             "0",
			"num_segments":          "1",
			"price":                 nil,
			"price_unit":            "USD",
			"sid":                   sid,
			"status":                "queued",
			"subresource_uris":      map[string]any{"media": base + "/Media.json", "feedback": base + "/Feedback.json"},
			"to":                    customerPhone,
			"uri":                   base + ".json",
		}, body)

		msgs := f.Messages()
		require.Len(t, msgs, 1)
		require.Equal(t, sid, msgs[0].Sid)
		require.Equal(t, "https://jack.example.com/status", msgs[0].StatusCallback)
		require.Equal(t, "queued", msgs[0].Status)

		// A copy: changing it changes nothing in the fake.
		msgs[0].Form.Set("Body", "changed")
		require.Equal(t, "Hello from the dealership", f.Messages()[0].Form.Get("Body"))
	})

	t.Run("OKMessagingService", func(t *testing.T) {
		t.Parallel()
		f := fake.NewTwilio(t, accountSID, authToken)
		form := url.Values{"MessagingServiceSid": {"MG00000000000000000000000000000001"}, "To": {customerPhone}, "Body": {"hi"}}

		status, body := post(t, f, accountSID, authToken, form)
		require.Equal(t, http.StatusCreated, status)
		require.Equal(t, "accepted", body["status"])
		require.Equal(t, "0", body["num_segments"])
		require.Nil(t, body["from"])
		require.Equal(t, "MG00000000000000000000000000000001", body["messaging_service_sid"])
	})

	t.Run("OKMedia", func(t *testing.T) {
		t.Parallel()
		f := fake.NewTwilio(t, accountSID, authToken)
		form := url.Values{"From": {dealerPhone}, "To": {customerPhone},
			"MediaUrl": {"https://example.com/a.jpg", "https://example.com/b.jpg"}}

		status, body := post(t, f, accountSID, authToken, form)
		require.Equal(t, http.StatusCreated, status)
		require.Regexp(t, `^MM[0-9a-f]{32}$`, body["sid"])
		require.Equal(t, "2", body["num_media"])
		require.Equal(t, []string{"https://example.com/a.jpg", "https://example.com/b.jpg"}, f.Messages()[0].MediaURLs)
	})

	t.Run("Fetch", func(t *testing.T) {
		t.Parallel()
		f := fake.NewTwilio(t, accountSID, authToken)
		_, created := post(t, f, accountSID, authToken, sendForm())

		req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, f.URL()+created["uri"].(string), nil)
		require.NoError(t, err)
		req.SetBasicAuth(accountSID, authToken)
		status, body := do(t, req)
		require.Equal(t, http.StatusOK, status)
		require.Equal(t, created, body)

		req, err = http.NewRequestWithContext(t.Context(), http.MethodGet, f.URL()+"/2010-04-01/Accounts/"+accountSID+"/Messages/SMnope.json", nil)
		require.NoError(t, err)
		req.SetBasicAuth(accountSID, authToken)
		status, body = do(t, req)
		require.Equal(t, http.StatusNotFound, status)
		require.Equal(t, float64(20404), body["code"])
	})

	t.Run("ErrAuth", func(t *testing.T) {
		t.Parallel()
		f := fake.NewTwilio(t, accountSID, authToken)
		for _, creds := range [][2]string{{"", ""}, {accountSID, "wrong"}, {"ACother", authToken}} {
			status, body := post(t, f, creds[0], creds[1], sendForm())
			require.Equal(t, http.StatusUnauthorized, status)
			require.Equal(t, twilioError(401, 20003, "Authenticate"), body)
		}
		require.Empty(t, f.Messages())
	})

	t.Run("ErrOtherAccountPath", func(t *testing.T) {
		t.Parallel()
		f := fake.NewTwilio(t, accountSID, authToken)
		req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, messagesURL(f, "ACother"), strings.NewReader(sendForm().Encode()))
		require.NoError(t, err)
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.SetBasicAuth(accountSID, authToken)
		status, body := do(t, req)
		require.Equal(t, http.StatusNotFound, status)
		require.Equal(t, float64(20404), body["code"])
	})

	t.Run("ErrValidation", func(t *testing.T) {
		t.Parallel()
		f := fake.NewTwilio(t, accountSID, authToken)
		tests := []struct {
			name    string
			edit    func(url.Values)
			code    int
			message string
		}{
			{"NoTo", func(v url.Values) { v.Del("To") }, 21604, "A 'To' phone number is required."},
			{"NoFrom", func(v url.Values) { v.Del("From") }, 21603, "A 'From' phone number is required."},
			{"NoBody", func(v url.Values) { v.Del("Body") }, 21602, "Message body is required."},
			{"InvalidTo", func(v url.Values) { v.Set("To", "6045550123") }, 21211, "Invalid 'To' Phone Number"},
			{"UnassignedTo", func(v url.Values) { v.Set("To", "+15551234567") }, 21211, "Invalid 'To' Phone Number"},
			{"InvalidFrom", func(v url.Values) { v.Set("From", "+1555") }, 21212, "Invalid 'From' Phone Number"},
			{"BodyTooLong", func(v url.Values) { v.Set("Body", strings.Repeat("a", 1601)) }, 21617, "The concatenated message body exceeds the 1600 character limit."},
			{"BadStatusCallback", func(v url.Values) { v.Set("StatusCallback", "/relative") }, 21609, "Invalid StatusCallback url"},
		}
		for _, tc := range tests {
			form := sendForm()
			tc.edit(form)
			status, body := post(t, f, accountSID, authToken, form)
			require.Equal(t, http.StatusBadRequest, status, tc.name)
			require.Equal(t, twilioError(400, tc.code, tc.message), body, tc.name)
		}
		require.Empty(t, f.Messages())
	})

	t.Run("ErrOptedOut", func(t *testing.T) {
		t.Parallel()
		f := fake.NewTwilio(t, accountSID, authToken)
		f.OptOut(customerPhone)

		status, body := post(t, f, accountSID, authToken, sendForm())
		require.Equal(t, http.StatusBadRequest, status)
		require.Equal(t, map[string]any{
			"code":      float64(21610),
			"message":   "Attempt to send to unsubscribed recipient",
			"more_info": "https://www.twilio.com/docs/errors/21610",
			"status":    float64(400),
		}, body)
		require.Empty(t, f.Messages())
	})

	t.Run("ErrFailNext", func(t *testing.T) {
		t.Parallel()
		f := fake.NewTwilio(t, accountSID, authToken)
		f.FailNext(http.StatusServiceUnavailable, 20503, "Service Unavailable")
		f.FailNext(http.StatusTooManyRequests, 20429, "Too Many Requests")

		status, body := post(t, f, accountSID, authToken, sendForm())
		require.Equal(t, http.StatusServiceUnavailable, status)
		require.Equal(t, twilioError(503, 20503, "Service Unavailable"), body)
		status, _ = post(t, f, accountSID, authToken, sendForm())
		require.Equal(t, http.StatusTooManyRequests, status)
		status, _ = post(t, f, accountSID, authToken, sendForm())
		require.Equal(t, http.StatusCreated, status)
	})

	t.Run("Latency", func(t *testing.T) {
		t.Parallel()
		f := fake.NewTwilio(t, accountSID, authToken)
		f.SetLatency(100 * time.Millisecond)

		start := time.Now()
		status, _ := post(t, f, accountSID, authToken, sendForm())
		require.Equal(t, http.StatusCreated, status)
		require.GreaterOrEqual(t, time.Since(start), 100*time.Millisecond)
	})

	t.Run("WaitForMessages", func(t *testing.T) {
		t.Parallel()
		f := fake.NewTwilio(t, accountSID, authToken)
		c, err := twilio.NewClient(twilio.Config{AccountSID: accountSID, AuthToken: authToken, APIURL: f.URL()})
		require.NoError(t, err)

		var wg sync.WaitGroup
		for range 5 {
			wg.Go(func() {
				if _, err := c.SendSMS(t.Context(), smsRequest("")); err != nil {
					t.Errorf("send: %v", err)
				}
			})
		}
		require.Len(t, f.WaitForMessages(t, 5, waitTimeout), 5)
		wg.Wait()
	})
}

// receiver is a webhook endpoint that records what it got and whether the signature held.
type receiver struct {
	srv *httptest.Server
	mu  sync.Mutex
	got []receivedHook
}

type receivedHook struct {
	form        url.Values
	header      http.Header
	signatureOK bool
}

func newReceiver(t *testing.T, token string) *receiver {
	t.Helper()
	rc := &receiver{}
	rc.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.ParseForm() != nil {
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		public := "http://" + r.Host + r.URL.RequestURI()
		ok := twilio.ValidateRequest(token, public, r.PostForm, r.Header.Get(twilio.SignatureHeader))
		rc.mu.Lock()
		rc.got = append(rc.got, receivedHook{form: r.PostForm, header: r.Header, signatureOK: ok})
		rc.mu.Unlock()
		if !ok {
			w.WriteHeader(http.StatusForbidden)
			return
		}
		w.Header().Set("Content-Type", "text/xml")
		io.WriteString(w, `<?xml version="1.0" encoding="UTF-8"?><Response></Response>`)
	}))
	t.Cleanup(rc.srv.Close)
	return rc
}

func (rc *receiver) hooks() []receivedHook {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return append([]receivedHook(nil), rc.got...)
}

func smsRequest(callback string) jack.SMSRequest {
	return jack.SMSRequest{From: dealerPhone, To: customerPhone, Body: "Your test drive is booked.", StatusCallback: callback}
}

func TestTwilio_StatusCallbacks(t *testing.T) {
	t.Parallel()

	setup := func(t *testing.T) (*fake.Twilio, *twilio.Client, *receiver) {
		t.Helper()
		f := fake.NewTwilio(t, accountSID, authToken)
		c, err := twilio.NewClient(twilio.Config{AccountSID: accountSID, AuthToken: authToken, APIURL: f.URL()})
		require.NoError(t, err)
		return f, c, newReceiver(t, authToken)
	}

	t.Run("Auto", func(t *testing.T) {
		t.Parallel()
		f, c, rc := setup(t)
		f.AutoCallbacks("sent", "delivered")
		callback := rc.srv.URL + "/api/webhooks/twilio/sms/status?org=abc"

		res, err := c.SendSMS(t.Context(), smsRequest(callback))
		require.NoError(t, err)
		require.Equal(t, "queued", res.Status, "the initial status comes from the create answer")

		cbs := f.WaitForCallbacks(t, 2, waitTimeout)
		for i, want := range []string{"sent", "delivered"} {
			require.Equal(t, http.StatusOK, cbs[i].StatusCode)
			require.NoError(t, cbs[i].Err)
			require.Equal(t, callback, cbs[i].URL)
			require.Equal(t, url.Values{
				"MessageSid": {res.ProviderMessageID}, "SmsSid": {res.ProviderMessageID}, "MessageStatus": {want}, "SmsStatus": {want},
				"AccountSid": {accountSID}, "From": {dealerPhone}, "To": {customerPhone}, "ApiVersion": {"2010-04-01"},
			}, cbs[i].Params)
		}
		hooks := rc.hooks()
		require.Len(t, hooks, 2)
		for _, h := range hooks {
			require.True(t, h.signatureOK)
			require.NotEmpty(t, h.header.Get("I-Twilio-Idempotency-Token"))
		}
		require.Equal(t, "delivered", f.Messages()[0].Status)
	})

	t.Run("AutoFailedCarriesErrorCode", func(t *testing.T) {
		t.Parallel()
		f, c, rc := setup(t)
		f.AutoCallbacks("undelivered")

		_, err := c.SendSMS(t.Context(), smsRequest(rc.srv.URL+"/status"))
		require.NoError(t, err)
		cbs := f.WaitForCallbacks(t, 1, waitTimeout)
		require.Equal(t, "30003", cbs[0].Params.Get("ErrorCode"))
	})

	t.Run("OffByDefault", func(t *testing.T) {
		t.Parallel()
		f, c, rc := setup(t)

		_, err := c.SendSMS(t.Context(), smsRequest(rc.srv.URL+"/status"))
		require.NoError(t, err)
		require.Empty(t, f.Callbacks())
		require.Empty(t, rc.hooks())
	})

	t.Run("SendStatusOutOfOrder", func(t *testing.T) {
		t.Parallel()
		f, c, rc := setup(t)
		res, err := c.SendSMS(t.Context(), smsRequest(rc.srv.URL+"/status"))
		require.NoError(t, err)

		resp := f.SendStatus(t, res.ProviderMessageID, "delivered", "")
		require.Equal(t, http.StatusOK, resp.StatusCode)
		resp = f.SendStatus(t, res.ProviderMessageID, "sent", "")
		require.Equal(t, http.StatusOK, resp.StatusCode)
		resp = f.SendStatus(t, res.ProviderMessageID, "failed", "30008")
		require.Equal(t, http.StatusOK, resp.StatusCode)

		hooks := rc.hooks()
		require.Len(t, hooks, 3)
		require.Equal(t, []string{"delivered", "sent", "failed"},
			[]string{hooks[0].form.Get("MessageStatus"), hooks[1].form.Get("MessageStatus"), hooks[2].form.Get("MessageStatus")})
		require.Equal(t, "30008", hooks[2].form.Get("ErrorCode"))
		for _, h := range hooks {
			require.True(t, h.signatureOK)
		}
	})

	t.Run("SignedWithAccountToken", func(t *testing.T) {
		t.Parallel()
		f, c, _ := setup(t)
		strict := newReceiver(t, "anothertoken")
		res, err := c.SendSMS(t.Context(), smsRequest(strict.srv.URL+"/status"))
		require.NoError(t, err)

		resp := f.SendStatus(t, res.ProviderMessageID, "sent", "")
		require.Equal(t, http.StatusForbidden, resp.StatusCode)
		require.False(t, strict.hooks()[0].signatureOK)
	})
}

func TestTwilio_PostWebhook(t *testing.T) {
	t.Parallel()

	f := fake.NewTwilio(t, accountSID, authToken)
	rc := newReceiver(t, authToken)
	params := f.InboundSMSParams(customerPhone, dealerPhone, "Do you have any trucks?")
	require.Equal(t, accountSID, params.Get("AccountSid"))

	resp := f.PostWebhook(t, rc.srv.URL+"/api/webhooks/twilio/sms/incoming", params)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	require.Equal(t, `<?xml version="1.0" encoding="UTF-8"?><Response></Response>`, string(body))

	hooks := rc.hooks()
	require.Len(t, hooks, 1)
	require.True(t, hooks[0].signatureOK)
	require.Equal(t, params, hooks[0].form)
}
