package http_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/jack-auto/jack"
	jackhttp "github.com/jack-auto/jack/http"
	"github.com/jack-auto/jack/persistence/storetest"
	"github.com/jack-auto/jack/providers/fake"
	"github.com/jack-auto/jack/providers/twilio"
)

const (
	mediaAccountSID = "AC0123456789abcdef0123456789abcdef"
	mediaAuthToken  = "mediaauthtoken0123456789"
)

// mediaBundle is a server whose media route fetches from a fake Twilio, with an organization
// whose lead sent an MMS.
type mediaBundle struct {
	*testServer
	twilio *fake.Twilio
	token  string
	lead   jack.Lead
}

func newMediaBundle(t *testing.T, configure ...func(*jackhttp.Config)) *mediaBundle {
	t.Helper()
	tw := fake.NewTwilio(t, mediaAccountSID, mediaAuthToken)
	client, err := twilio.NewClient(twilio.Config{AccountSID: mediaAccountSID, AuthToken: mediaAuthToken, APIURL: tw.URL()})
	require.NoError(t, err)
	configure = append([]func(*jackhttp.Config){func(cfg *jackhttp.Config) { cfg.Media = client }}, configure...)
	s := MustOpenServer(t, nil, configure...)
	token, _, _ := MustRegister(t, s.URL)
	return &mediaBundle{testServer: s, twilio: tw, token: token, lead: MustCreateLead(t, s.URL, token, "Maya Media", "(201) 555-0142")}
}

// mms stores an inbound MMS of the bundle's lead with media and returns it.
func (b *mediaBundle) mms(t *testing.T, media ...jack.MessageMedia) *jack.Message {
	t.Helper()
	m := storetest.NewMessage(&b.lead, "Here is my trade-in", time.Now())
	m.Media = media
	return storetest.MustInsertMessage(t, b.Store, b.lead.OrganizationID, m)
}

func mediaPath(m *jack.Message, n string) string {
	return "/api/messages/" + m.ID.String() + "/media/" + n
}

func TestMessageMedia(t *testing.T) {
	t.Parallel()

	t.Run("OK", func(t *testing.T) {
		t.Parallel()
		b := newMediaBundle(t)
		photo, card := []byte("\xff\xd8\xff\xe0 front bumper"), []byte("BEGIN:VCARD\nFN:Maya\nEND:VCARD")
		m := b.mms(t,
			jack.MessageMedia{URL: b.twilio.AddMedia("image/jpeg", photo), ContentType: "image/jpeg"},
			jack.MessageMedia{URL: b.twilio.AddMedia("text/vcard", card), ContentType: "text/vcard"})

		resp := MustDo(t, b.URL, request{Method: "GET", Path: mediaPath(m, "0"), Token: b.token}, http.StatusOK, nil)
		require.Equal(t, photo, resp.Body)
		require.Equal(t, "image/jpeg", resp.Header.Get("Content-Type"))
		require.Equal(t, "private, max-age=300", resp.Header.Get("Cache-Control"))
		require.Equal(t, "nosniff", resp.Header.Get("X-Content-Type-Options"))
		require.Equal(t, `inline; filename=attachment-1.jpg`, resp.Header.Get("Content-Disposition"))
		require.Contains(t, resp.Header.Get("Content-Security-Policy"), "sandbox")

		resp = MustDo(t, b.URL, request{Method: "GET", Path: mediaPath(m, "1"), Token: b.token}, http.StatusOK, nil)
		require.Equal(t, card, resp.Body)
		require.Equal(t, `inline; filename=attachment-2.vcf`, resp.Header.Get("Content-Disposition"))

		for _, r := range b.twilio.MediaRequests() {
			require.Empty(t, r.Authorization, "the CDN never sees the account's credentials")
		}
		require.Len(t, b.twilio.MediaRequests(), 2)
	})

	t.Run("OtherTypesDownload", func(t *testing.T) {
		t.Parallel()
		b := newMediaBundle(t)
		m := b.mms(t,
			jack.MessageMedia{URL: b.twilio.AddMedia("text/html", []byte("<script>alert(1)</script>")), ContentType: "text/html"},
			jack.MessageMedia{URL: b.twilio.AddMedia("image/png", []byte("png")), ContentType: "not a type"})

		resp := MustDo(t, b.URL, request{Method: "GET", Path: mediaPath(m, "0"), Token: b.token}, http.StatusOK, nil)
		require.Equal(t, "text/html", resp.Header.Get("Content-Type"))
		require.Equal(t, `attachment; filename=attachment-1`, resp.Header.Get("Content-Disposition"))

		resp = MustDo(t, b.URL, request{Method: "GET", Path: mediaPath(m, "1"), Token: b.token}, http.StatusOK, nil)
		require.Equal(t, "image/png", resp.Header.Get("Content-Type"), "an unusable stored type falls back to the provider's")
	})

	t.Run("ErrOtherOrganization", func(t *testing.T) {
		t.Parallel()
		b := newMediaBundle(t)
		m := b.mms(t, jack.MessageMedia{URL: b.twilio.AddMedia("image/jpeg", []byte("private")), ContentType: "image/jpeg"})
		other, _, _ := MustRegister(t, b.URL)

		MustFail(t, b.URL, request{Method: "GET", Path: mediaPath(m, "0"), Token: other}, http.StatusNotFound, jack.ENOTFOUND)
		require.Empty(t, b.twilio.MediaRequests(), "nothing was fetched")
	})

	t.Run("ErrNotFound", func(t *testing.T) {
		t.Parallel()
		b := newMediaBundle(t)
		m := b.mms(t, jack.MessageMedia{URL: b.twilio.AddMedia("image/jpeg", []byte("x")), ContentType: "image/jpeg"})
		text := b.mms(t)
		for _, path := range []string{
			mediaPath(m, "1"), mediaPath(m, "-1"), mediaPath(m, "x"), mediaPath(m, "99999999999999999999"), mediaPath(text, "0"),
			"/api/messages/" + uuid.NewString() + "/media/0", "/api/messages/not-a-uuid/media/0",
		} {
			MustFail(t, b.URL, request{Method: "GET", Path: path, Token: b.token}, http.StatusNotFound, jack.ENOTFOUND)
		}
		gone := b.mms(t, jack.MessageMedia{URL: b.twilio.URL() + "/2010-04-01/Accounts/" + mediaAccountSID + "/Messages/MM1/Media/ME1", ContentType: "image/jpeg"})
		MustFail(t, b.URL, request{Method: "GET", Path: mediaPath(gone, "0"), Token: b.token}, http.StatusNotFound, jack.ENOTFOUND)
		elsewhere := b.mms(t, jack.MessageMedia{URL: "https://cdn.example.com/photo.jpg", ContentType: "image/jpeg"})
		MustFail(t, b.URL, request{Method: "GET", Path: mediaPath(elsewhere, "0"), Token: b.token}, http.StatusNotFound, jack.ENOTFOUND)
	})

	t.Run("ErrUnauthorized", func(t *testing.T) {
		t.Parallel()
		b := newMediaBundle(t)
		m := b.mms(t, jack.MessageMedia{URL: b.twilio.AddMedia("image/jpeg", []byte("x")), ContentType: "image/jpeg"})
		MustFail(t, b.URL, request{Method: "GET", Path: mediaPath(m, "0")}, http.StatusUnauthorized, jack.EUNAUTHORIZED)
	})

	t.Run("ErrNotConfigured", func(t *testing.T) {
		t.Parallel()
		b := newMediaBundle(t, func(cfg *jackhttp.Config) { cfg.Media = nil })
		m := b.mms(t, jack.MessageMedia{URL: b.twilio.AddMedia("image/jpeg", []byte("x")), ContentType: "image/jpeg"})
		MustFail(t, b.URL, request{Method: "GET", Path: mediaPath(m, "0"), Token: b.token}, http.StatusServiceUnavailable, "media_not_configured")
	})

	t.Run("ErrProvider", func(t *testing.T) {
		t.Parallel()
		b := newMediaBundle(t)
		m := b.mms(t, jack.MessageMedia{URL: b.twilio.AddMedia("image/jpeg", []byte("x")), ContentType: "image/jpeg"})
		b.twilio.FailNext(http.StatusInternalServerError, 20500, "Internal Server Error")
		MustFail(t, b.URL, request{Method: "GET", Path: mediaPath(m, "0"), Token: b.token}, http.StatusBadGateway, jack.EPROVIDER)
	})

	t.Run("ErrTooLarge", func(t *testing.T) {
		t.Parallel()
		b := newMediaBundle(t, func(cfg *jackhttp.Config) { cfg.MediaMaxBytes = 8 })
		m := b.mms(t,
			jack.MessageMedia{URL: b.twilio.AddMedia("image/jpeg", []byte("123456789")), ContentType: "image/jpeg"},
			jack.MessageMedia{URL: b.twilio.AddMedia("image/jpeg", []byte("12345678")), ContentType: "image/jpeg"})
		MustFail(t, b.URL, request{Method: "GET", Path: mediaPath(m, "0"), Token: b.token}, http.StatusBadGateway, "media_too_large")
		MustDo(t, b.URL, request{Method: "GET", Path: mediaPath(m, "1"), Token: b.token}, http.StatusOK, nil)
	})

	t.Run("UnknownLength", func(t *testing.T) {
		t.Parallel()
		f := &fakeMediaFetcher{body: strings.Repeat("x", 8)}
		b := newMediaBundle(t, func(cfg *jackhttp.Config) { cfg.Media, cfg.MediaMaxBytes = f, 8 })
		m := b.mms(t, jack.MessageMedia{URL: "https://api.twilio.com/x", ContentType: "audio/amr"})

		resp := MustDo(t, b.URL, request{Method: "GET", Path: mediaPath(m, "0"), Token: b.token}, http.StatusOK, nil)
		require.Equal(t, "xxxxxxxx", string(resp.Body))
		require.Equal(t, "audio/amr", resp.Header.Get("Content-Type"))
		f.set(strings.Repeat("x", 9))
		MustFail(t, b.URL, request{Method: "GET", Path: mediaPath(m, "0"), Token: b.token}, http.StatusBadGateway, "media_too_large")
		f.mu.Lock()
		defer f.mu.Unlock()
		require.Equal(t, []string{"https://api.twilio.com/x", "https://api.twilio.com/x"}, f.urls)
		require.Equal(t, 2, f.closed, "every body is closed")
	})

	t.Run("RedirectKeepsCredentialsHome", func(t *testing.T) {
		t.Parallel()
		var mu sync.Mutex
		var leaked []string
		// Same host name, another port: Go's own redirect rule would forward the credentials.
		elsewhere := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			mu.Lock()
			leaked = append(leaked, r.Header.Get("Authorization"))
			mu.Unlock()
			w.Header().Set("Content-Type", "image/gif")
			w.Write([]byte("GIF89a"))
		}))
		t.Cleanup(elsewhere.Close)
		api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if user, pass, ok := r.BasicAuth(); !ok || user != mediaAccountSID || pass != mediaAuthToken {
				http.Error(w, "Authenticate", http.StatusUnauthorized)
				return
			}
			http.Redirect(w, r, elsewhere.URL+"/cdn"+r.URL.Path, http.StatusFound)
		}))
		t.Cleanup(api.Close)
		client, err := twilio.NewClient(twilio.Config{AccountSID: mediaAccountSID, AuthToken: mediaAuthToken, APIURL: api.URL})
		require.NoError(t, err)
		b := newMediaBundle(t, func(cfg *jackhttp.Config) { cfg.Media = client })
		m := b.mms(t, jack.MessageMedia{URL: api.URL + "/2010-04-01/Accounts/" + mediaAccountSID + "/Messages/MM1/Media/ME1", ContentType: "image/gif"})

		resp := MustDo(t, b.URL, request{Method: "GET", Path: mediaPath(m, "0"), Token: b.token}, http.StatusOK, nil)
		require.Equal(t, "GIF89a", string(resp.Body))
		require.Equal(t, []string{""}, leaked, "the redirect target got no credentials")
	})
}

// fakeMediaFetcher answers every fetch with body and an unknown length.
type fakeMediaFetcher struct {
	mu     sync.Mutex
	body   string
	urls   []string
	closed int
}

func (f *fakeMediaFetcher) set(body string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.body = body
}

func (f *fakeMediaFetcher) FetchMedia(_ context.Context, url string) (io.ReadCloser, string, int64, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.urls = append(f.urls, url)
	return &closeCounter{Reader: strings.NewReader(f.body), f: f}, "application/octet-stream", -1, nil
}

type closeCounter struct {
	io.Reader
	f *fakeMediaFetcher
}

func (c *closeCounter) Close() error {
	c.f.mu.Lock()
	defer c.f.mu.Unlock()
	c.f.closed++
	return nil
}

func TestTwilioIncomingSMS_MMS(t *testing.T) {
	t.Parallel()
	b := newWebhookBundle(t)
	params := twilio.InboundSMSParams("AC123", testPhone(1), b.orgPhone, "", "MM00000000000000000000000000000001")
	params.Set("NumMedia", "4")
	params.Set("MediaUrl0", "https://api.twilio.com/2010-04-01/Accounts/AC123/Messages/MM1/Media/ME1")
	params.Set("MediaContentType0", "image/JPEG")
	params.Set("MediaUrl1", "javascript:alert(1)") // not http(s): skipped
	params.Set("MediaContentType1", "image/png")
	params.Set("MediaUrl2", "http://127.0.0.1:8080/2010-04-01/Accounts/AC123/Messages/MM1/Media/ME3")
	params.Set("MediaContentType2", "text/vcard; charset=utf-8")
	params.Set("MediaUrl3", "https://api.twilio.com/2010-04-01/Accounts/AC123/Messages/MM1/Media/ME4")
	params.Set("MediaUrl4", "https://api.twilio.com/beyond-NumMedia") // N >= NumMedia: ignored
	status, _ := b.postTwilio(t, incomingPath, params, twilioToken)
	require.Equal(t, http.StatusOK, status, "an MMS without text is a valid message")
	require.Len(t, b.inbound, 1)
	require.Empty(t, b.inbound[0].Body)
	require.Equal(t, []jack.MessageMedia{
		{URL: "https://api.twilio.com/2010-04-01/Accounts/AC123/Messages/MM1/Media/ME1", ContentType: "image/jpeg"},
		{URL: "http://127.0.0.1:8080/2010-04-01/Accounts/AC123/Messages/MM1/Media/ME3", ContentType: "text/vcard"},
		{URL: "https://api.twilio.com/2010-04-01/Accounts/AC123/Messages/MM1/Media/ME4", ContentType: "application/octet-stream"},
	}, b.inbound[0].Media)

	params = twilio.InboundSMSParams("AC123", testPhone(2), b.orgPhone, "pics", "")
	params.Set("NumMedia", "25")
	for i := range 25 {
		params.Set("MediaUrl"+strconv.Itoa(i), "https://api.twilio.com/m/"+strconv.Itoa(i))
	}
	status, _ = b.postTwilio(t, incomingPath, params, twilioToken)
	require.Equal(t, http.StatusOK, status)
	require.Len(t, b.inbound[1].Media, 10, "at most 10 attachments")
}

func TestSendSMS_Media(t *testing.T) {
	t.Parallel()
	b := newWebhookBundle(t)
	token, _, _ := MustRegister(t, b.URL)
	lead := MustCreateLead(t, b.URL, token, "Sam Send", "(201) 555-0177")
	send := func(body map[string]any) request {
		body["leadId"] = lead.ID
		return request{Method: "POST", Path: "/api/twilio/send-sms", Token: token, Body: body}
	}
	urls := []string{"https://dealer.example.com/civic.jpg", " https://dealer.example.com/brochure.pdf "}
	MustDo(t, b.URL, send(map[string]any{"message": "Here it is", "mediaUrls": urls}), http.StatusCreated, nil)
	MustDo(t, b.URL, send(map[string]any{"mediaUrls": urls[:1]}), http.StatusCreated, nil)
	require.Len(t, b.sent, 2)
	require.Equal(t, []string{"https://dealer.example.com/civic.jpg", "https://dealer.example.com/brochure.pdf"}, b.sent[0].MediaURLs)
	require.Equal(t, "", b.sent[1].Body, "media alone is a message")

	for name, tc := range map[string]struct {
		mediaUrls any
		field     string
	}{
		"HTTP":     {[]string{"http://dealer.example.com/a.jpg"}, "mediaUrls[0]"},
		"Relative": {[]string{"https://dealer.example.com/a.jpg", "/a.jpg"}, "mediaUrls[1]"},
		"Other":    {[]string{"ftp://dealer.example.com/a.jpg"}, "mediaUrls[0]"},
		"UserInfo": {[]string{"https://u:p@dealer.example.com/a.jpg"}, "mediaUrls[0]"},
		"TooMany":  {slices.Repeat([]string{"https://dealer.example.com/a.jpg"}, 11), "mediaUrls"},
		"NotList":  {"https://dealer.example.com/a.jpg", "mediaUrls"},
	} {
		e := MustFail(t, b.URL, send(map[string]any{"message": "hi", "mediaUrls": tc.mediaUrls}), http.StatusUnprocessableEntity, "unprocessable")
		require.Contains(t, e.Error.Fields, tc.field, name)
	}
	require.Len(t, b.sent, 2, "invalid requests never reach the conversation")
}
