package twilio_test

import (
	"io"
	"maps"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/jack-auto/jack/providers/twilio"
)

func TestInboundSMSParams(t *testing.T) {
	t.Parallel()

	p := twilio.InboundSMSParams(testAccountSID, customerPhone, dealerPhone, "Is the Civic available?", "SM0123456789abcdef0123456789abcdef")
	// Every parameter of the captured real payload (see ARCHITECTURE.md, "Provider wire formats"), no more.
	require.ElementsMatch(t, []string{
		"ToCountry", "ToState", "SmsMessageSid", "NumMedia", "ToCity", "FromZip", "SmsSid", "FromState",
		"SmsStatus", "FromCity", "Body", "FromCountry", "To", "ToZip", "NumSegments", "MessageSid",
		"AccountSid", "From", "ApiVersion",
	}, slices.Collect(maps.Keys(p)))
	require.Equal(t, "SM0123456789abcdef0123456789abcdef", p.Get("MessageSid"))
	require.Equal(t, p.Get("MessageSid"), p.Get("SmsSid"))
	require.Equal(t, p.Get("MessageSid"), p.Get("SmsMessageSid"))
	require.Equal(t, customerPhone, p.Get("From"))
	require.Equal(t, dealerPhone, p.Get("To"))
	require.Equal(t, "received", p.Get("SmsStatus"))
	require.Equal(t, "0", p.Get("NumMedia"))
	require.Equal(t, "1", p.Get("NumSegments"))
	require.Equal(t, "2010-04-01", p.Get("ApiVersion"))
	require.Equal(t, "CA", p.Get("FromCountry"))
	require.Equal(t, testAccountSID, p.Get("AccountSid"))

	fresh := twilio.InboundSMSParams(testAccountSID, customerPhone, dealerPhone, "hi", "")
	require.Regexp(t, `^SM[0-9a-f]{32}$`, fresh.Get("MessageSid"))
}

func TestStatusCallbackParams(t *testing.T) {
	t.Parallel()

	p := twilio.StatusCallbackParams(testAccountSID, "SM1", dealerPhone, customerPhone, "delivered", "")
	require.Equal(t, url.Values{
		"MessageSid": {"SM1"}, "SmsSid": {"SM1"}, "MessageStatus": {"delivered"}, "SmsStatus": {"delivered"},
		"AccountSid": {testAccountSID}, "From": {dealerPhone}, "To": {customerPhone}, "ApiVersion": {"2010-04-01"},
	}, p)

	p = twilio.StatusCallbackParams(testAccountSID, "SM1", dealerPhone, customerPhone, "undelivered", "30003")
	require.Equal(t, "30003", p.Get("ErrorCode"))
}

func TestPostInboundSMS(t *testing.T) {
	t.Parallel()

	type received struct {
		url    string
		header http.Header
		form   url.Values
	}
	got := make(chan received, 2)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.ParseForm() != nil {
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		got <- received{url: "http://" + r.Host + r.URL.RequestURI(), header: r.Header, form: r.PostForm}
		w.Header().Set("Content-Type", "text/xml")
		io.WriteString(w, `<?xml version="1.0" encoding="UTF-8"?><Response></Response>`)
	}))
	t.Cleanup(srv.Close)

	params := twilio.InboundSMSParams(testAccountSID, customerPhone, dealerPhone, "STOP", "")
	// Twilio's connection overrides ride in the fragment, which is never sent or signed.
	hook := srv.URL + "/api/webhooks/twilio/sms/incoming?org=1#ct=1000&rc=2"
	for range 2 {
		resp, err := twilio.PostInboundSMS(t.Context(), hook, testAuthToken, params)
		require.NoError(t, err)
		resp.Body.Close()
		require.Equal(t, http.StatusOK, resp.StatusCode)
	}

	first, retry := <-got, <-got
	require.Equal(t, srv.URL+"/api/webhooks/twilio/sms/incoming?org=1", first.url)
	require.Equal(t, params, first.form)
	require.Equal(t, "application/x-www-form-urlencoded", first.header.Get("Content-Type"))
	require.True(t, twilio.ValidateRequest(testAuthToken, first.url, first.form, first.header.Get(twilio.SignatureHeader)))
	require.False(t, twilio.ValidateRequest("othertoken", first.url, first.form, first.header.Get(twilio.SignatureHeader)))
	require.NotEmpty(t, first.header.Get("I-Twilio-Idempotency-Token"))
	require.Equal(t, first.header.Get("I-Twilio-Idempotency-Token"), retry.header.Get("I-Twilio-Idempotency-Token"), "a retry keeps the token")
}
