package fake_test

import (
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/jack-auto/jack/providers/fake"
)

func TestTwilio_Media(t *testing.T) {
	t.Parallel()
	f := fake.NewTwilio(t, accountSID, authToken)
	u := f.AddMedia("image/jpeg", []byte("jpeg bytes"))
	require.True(t, strings.HasPrefix(u, f.URL()+"/2010-04-01/Accounts/"+accountSID+"/Messages/MM"), u)

	get := func(user, pass string) *http.Response {
		req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, u, nil)
		require.NoError(t, err)
		if user != "" {
			req.SetBasicAuth(user, pass)
		}
		resp, err := http.DefaultTransport.RoundTrip(req) // no redirects followed
		require.NoError(t, err)
		t.Cleanup(func() { resp.Body.Close() })
		return resp
	}
	require.Equal(t, http.StatusUnauthorized, get("", "").StatusCode)
	require.Equal(t, http.StatusUnauthorized, get(accountSID, "wrong").StatusCode)
	resp := get(accountSID, authToken)
	require.Equal(t, http.StatusTemporaryRedirect, resp.StatusCode, "Twilio sends media from its CDN")

	cdn := resp.Header.Get("Location")
	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, cdn, nil)
	require.NoError(t, err)
	req.SetBasicAuth(accountSID, authToken)
	leaky, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	leaky.Body.Close()
	require.Equal(t, http.StatusBadRequest, leaky.StatusCode, "the CDN refuses credentials, as S3 does")

	ok, err := http.Get(cdn)
	require.NoError(t, err)
	defer ok.Body.Close()
	body, err := io.ReadAll(ok.Body)
	require.NoError(t, err)
	require.Equal(t, "jpeg bytes", string(body))
	require.Equal(t, "image/jpeg", ok.Header.Get("Content-Type"))

	reqs := f.MediaRequests()
	require.Len(t, reqs, 2)
	require.NotEmpty(t, reqs[0].Authorization)
	require.Empty(t, reqs[1].Authorization)
}

func TestTwilio_InboundMMSParams(t *testing.T) {
	t.Parallel()
	f := fake.NewTwilio(t, accountSID, authToken)
	img := f.AddMedia("image/png", []byte("png"))
	card := f.AddMedia("text/vcard", []byte("BEGIN:VCARD"))

	p := f.InboundMMSParams(customerPhone, dealerPhone, "", img, card, "https://elsewhere.example.com/x")
	require.Equal(t, "3", p.Get("NumMedia"))
	require.Equal(t, img, p.Get("MediaUrl0"))
	require.Equal(t, "image/png", p.Get("MediaContentType0"))
	require.Equal(t, card, p.Get("MediaUrl1"))
	require.Equal(t, "text/vcard", p.Get("MediaContentType1"))
	require.Equal(t, "application/octet-stream", p.Get("MediaContentType2"))
	require.Regexp(t, `^MM[0-9a-f]{32}$`, p.Get("MessageSid"))
	require.Equal(t, p.Get("MessageSid"), p.Get("SmsSid"))
	require.Empty(t, p.Get("Body"))
	require.Equal(t, customerPhone, p.Get("From"))
}
