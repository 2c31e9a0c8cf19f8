package fake_test

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/jack-auto/jack/providers/fake"
)

// numbersRequest sends an authenticated request to the account's IncomingPhoneNumbers path
// (rest is ".json" or "/{Sid}.json") and decodes the JSON answer (nil for 204).
func numbersRequest(t *testing.T, f *fake.Twilio, method, rest string, form url.Values) (int, map[string]any) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), method, f.URL()+"/2010-04-01/Accounts/"+accountSID+"/IncomingPhoneNumbers"+rest,
		strings.NewReader(form.Encode()))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(accountSID, authToken)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	if resp.StatusCode == http.StatusNoContent {
		return resp.StatusCode, nil
	}
	var body map[string]any
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&body))
	return resp.StatusCode, body
}

func TestTwilio_IncomingNumbers(t *testing.T) {
	t.Parallel()
	f := fake.NewTwilio(t, accountSID, authToken)
	f.AddAvailableNumbers("US", 201, "+12015550100", "+12015550101")

	// Buying by area code takes the first number offered.
	status, body := numbersRequest(t, f, http.MethodPost, ".json", url.Values{
		"AreaCode": {"201"}, "SmsUrl": {"https://jack.example.com/sms"}, "VoiceUrl": {"https://voice.example.com/in"},
	})
	require.Equal(t, http.StatusCreated, status, "%v", body)
	sid := body["sid"].(string)
	require.Regexp(t, `^PN[0-9a-f]{32}$`, sid)
	require.Equal(t, "+12015550100", body["phone_number"])
	require.Equal(t, "(201) 555-0100", body["friendly_name"])
	require.Equal(t, "POST", body["sms_method"])
	require.Equal(t, "https://voice.example.com/in", body["voice_url"])
	require.Equal(t, "/2010-04-01/Accounts/"+accountSID+"/IncomingPhoneNumbers/"+sid+".json", body["uri"])

	// A sold number is no longer for sale.
	status, body = numbersRequest(t, f, http.MethodPost, ".json", url.Values{"PhoneNumber": {"+12015550100"}})
	require.Equal(t, http.StatusBadRequest, status)
	require.Equal(t, float64(21422), body["code"])

	status, body = numbersRequest(t, f, http.MethodPost, "/"+sid+".json", url.Values{"SmsUrl": {"https://jack.example.com/sms2"}})
	require.Equal(t, http.StatusOK, status, "%v", body)
	require.Equal(t, "https://jack.example.com/sms2", body["sms_url"])
	require.Equal(t, "https://voice.example.com/in", body["voice_url"], "only named settings change")

	status, body = numbersRequest(t, f, http.MethodPost, "/"+sid+".json", url.Values{"VoiceUrl": {"not a url"}})
	require.Equal(t, http.StatusBadRequest, status)
	require.Equal(t, float64(21402), body["code"])

	status, body = numbersRequest(t, f, http.MethodGet, "/"+sid+".json", nil)
	require.Equal(t, http.StatusOK, status)
	require.Equal(t, "https://jack.example.com/sms2", body["sms_url"])

	status, _ = numbersRequest(t, f, http.MethodDelete, "/"+sid+".json", nil)
	require.Equal(t, http.StatusNoContent, status)
	got := f.IncomingNumbers()
	require.Len(t, got, 1)
	require.True(t, got[0].Released)
	require.Equal(t, "https://jack.example.com/sms2", got[0].SmsURL)

	// A released number is gone.
	for _, method := range []string{http.MethodGet, http.MethodPost, http.MethodDelete} {
		status, body = numbersRequest(t, f, method, "/"+sid+".json", nil)
		require.Equal(t, http.StatusNotFound, status, method)
		require.Equal(t, float64(20404), body["code"], method)
	}
}
