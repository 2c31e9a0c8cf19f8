package twilio_test

import (
	"net/url"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/jack-auto/jack/providers/twilio"
)

// The twilio-go README vector (see ARCHITECTURE.md, "Provider wire formats").
const (
	readmeToken     = "12345"
	readmeURL       = "https://mycompany.com/myapp.php?foo=1&bar=2"
	readmeSignature = "0/KCTR6DLpKmkAf8muzZqo1nDgQ="
)

func readmeParams() url.Values {
	return url.Values{
		"CallSid": {"CA1234567890ABCDE"},
		"Caller":  {"+12349013030"},
		"Digits":  {"1234"},
		"From":    {"+12349013030"},
		"To":      {"+18005551212"},
	}
}

func TestSign(t *testing.T) {
	t.Parallel()

	t.Run("READMEVector", func(t *testing.T) {
		t.Parallel()
		require.Equal(t, readmeSignature, twilio.Sign(readmeToken, readmeURL, readmeParams()))
	})
	t.Run("READMEJSONVector", func(t *testing.T) {
		t.Parallel()
		// JSON webhooks sign the URL alone; the body is checked by its bodySHA256.
		u := "https://mycompany.com/myapp.php?bodySHA256=0a1ff7634d9ab3b95db5c9a2dfe9416e41502b283a80c7cf19632632f96e6620"
		require.Equal(t, "y77kIzt2vzLz71DgmJGsen2scGs=", twilio.Sign(readmeToken, u, nil))
	})
	t.Run("RepeatedKeySignsEveryDistinctValueSorted", func(t *testing.T) {
		t.Parallel()
		// Vectors computed with twilio-node's getExpectedTwilioSignature (issue 15, item 8).
		params := readmeParams()
		params.Add("Digits", "9999")
		require.Equal(t, "5Kil6zG72Lo+VjhPSDtj4dAZptk=", twilio.Sign(readmeToken, readmeURL, params))
		params["Digits"] = []string{"1234", "1234", "0"}
		require.Equal(t, "QnO+vPQduLlgpoOIoEDURFLh9N4=", twilio.Sign(readmeToken, readmeURL, params))
	})
	t.Run("KeyWithoutValuesIsNotSigned", func(t *testing.T) {
		t.Parallel()
		params := readmeParams()
		params["Empty"] = nil
		require.Equal(t, readmeSignature, twilio.Sign(readmeToken, readmeURL, params))
	})
}

func TestValidateRequest(t *testing.T) {
	t.Parallel()

	with := func(edit func(url.Values)) url.Values {
		p := readmeParams()
		edit(p)
		return p
	}
	tests := []struct {
		name      string
		token     string
		url       string
		params    url.Values
		signature string
		want      bool
	}{
		{"READMEVector", readmeToken, readmeURL, readmeParams(), readmeSignature, true},
		{"DefaultPortAdded", readmeToken, "https://mycompany.com:443/myapp.php?foo=1&bar=2", readmeParams(), readmeSignature, true},
		// twilio-node signs every distinct value of a repeated key, sorted (vectors from its
		// getExpectedTwilioSignature); the first value alone no longer passes.
		{"RepeatedKeyNodeVector", readmeToken, readmeURL, with(func(p url.Values) { p.Add("Digits", "9999") }), "5Kil6zG72Lo+VjhPSDtj4dAZptk=", true},
		{"RepeatedKeyDuplicatesOnce", readmeToken, readmeURL, with(func(p url.Values) { p["Digits"] = []string{"1234", "1234", "0"} }), "QnO+vPQduLlgpoOIoEDURFLh9N4=", true},
		{"RepeatedKeyOrderFree", readmeToken, readmeURL, with(func(p url.Values) { p["Digits"] = []string{"9999", "1234"} }), "5Kil6zG72Lo+VjhPSDtj4dAZptk=", true},
		{"RepeatedKeyFirstValueOnly", readmeToken, readmeURL, with(func(p url.Values) { p.Add("Digits", "9999") }), readmeSignature, false},
		{"DefaultPortRemoved", readmeToken, "https://mycompany.com/myapp.php?foo=1&bar=2", readmeParams(), twilio.Sign(readmeToken, "https://mycompany.com:443/myapp.php?foo=1&bar=2", readmeParams()), true},
		{"TamperedParam", readmeToken, readmeURL, with(func(p url.Values) { p.Set("Digits", "1235") }), readmeSignature, false},
		{"AddedParam", readmeToken, readmeURL, with(func(p url.Values) { p.Set("Body", "hi") }), readmeSignature, false},
		{"EmptyAddedParam", readmeToken, readmeURL, with(func(p url.Values) { p.Set("ToZip", "") }), readmeSignature, false},
		{"RemovedParam", readmeToken, readmeURL, with(func(p url.Values) { p.Del("Caller") }), readmeSignature, false},
		{"KeyCase", readmeToken, readmeURL, with(func(p url.Values) { p["digits"] = p["Digits"]; p.Del("Digits") }), readmeSignature, false},
		{"TamperedQuery", readmeToken, "https://mycompany.com/myapp.php?foo=2&bar=2", readmeParams(), readmeSignature, false},
		{"TamperedPath", readmeToken, "https://mycompany.com/other.php?foo=1&bar=2", readmeParams(), readmeSignature, false},
		{"TamperedHost", readmeToken, "https://evil.com/myapp.php?foo=1&bar=2", readmeParams(), readmeSignature, false},
		{"TamperedScheme", readmeToken, "http://mycompany.com/myapp.php?foo=1&bar=2", readmeParams(), readmeSignature, false},
		{"WrongToken", "12346", readmeURL, readmeParams(), readmeSignature, false},
		{"EmptyToken", "", readmeURL, readmeParams(), twilio.Sign("", readmeURL, readmeParams()), false},
		{"EmptySignature", readmeToken, readmeURL, readmeParams(), "", false},
		{"GarbageSignature", readmeToken, readmeURL, readmeParams(), "not base64!", false},
		{"TruncatedSignature", readmeToken, readmeURL, readmeParams(), readmeSignature[:len(readmeSignature)-1], false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			require.Equal(t, tc.want, twilio.ValidateRequest(tc.token, tc.url, tc.params, tc.signature))
		})
	}
}

// FuzzValidateRequest feeds untrusted webhook input (URL, form body, signature) to the
// validator: it must never panic, and whatever Sign produces must validate.
func FuzzValidateRequest(f *testing.F) {
	f.Add(readmeToken, readmeURL, readmeParams().Encode(), readmeSignature)
	f.Add(readmeToken, "https://mycompany.com/myapp.php?bodySHA256=0a1ff7634d9ab3b95db5c9a2dfe9416e41502b283a80c7cf19632632f96e6620",
		`{"property": "value", "boolean": true}`, "y77kIzt2vzLz71DgmJGsen2scGs=")
	f.Add("authtoken0123", "https://jack.example.com/api/webhooks/twilio/sms/incoming",
		"ToCountry=GB&ToState=&SmsMessageSid=SM0123&NumMedia=0&ToCity=&FromZip=&SmsSid=SM0123&FromState=&SmsStatus=received&FromCity=&Body=Ack&FromCountry=GB&To=%2B447700900000&ToZip=&NumSegments=1&MessageSid=SM0123&AccountSid=AC0123&From=%2B447700900513&ApiVersion=2010-04-01",
		"")
	f.Add("authtoken0123", "http://127.0.0.1:8080/api/webhooks/twilio/sms/status#rc=2&rp=all",
		"SmsSid=SM1&SmsStatus=delivered&MessageStatus=delivered&To=%2B16045550123&MessageSid=SM1&AccountSid=AC1&From=%2B16045550199&ApiVersion=2010-04-01&ErrorCode=30003",
		"AAAA")
	f.Add("t", "http://[::1]:80/x?a=1&a=2", "a=1&a=2&%zz=1&b", "=")
	f.Fuzz(func(t *testing.T, token, rawURL, body, signature string) {
		params, _ := url.ParseQuery(body) // keeps what parsed, like a lenient form reader
		_ = twilio.ValidateRequest(token, rawURL, params, signature)
		if token == "" {
			require.False(t, twilio.ValidateRequest(token, rawURL, params, twilio.Sign(token, rawURL, params)))
			return
		}
		require.True(t, twilio.ValidateRequest(token, rawURL, params, twilio.Sign(token, rawURL, params)),
			"Sign and ValidateRequest disagree")
	})
}
