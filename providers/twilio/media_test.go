package twilio_test

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/jack-auto/jack"
	"github.com/jack-auto/jack/providers/twilio"
)

func TestClient_FetchMedia(t *testing.T) {
	t.Parallel()

	t.Run("OK", func(t *testing.T) {
		t.Parallel()
		b := setup(t, twilio.Config{})
		jpeg := []byte("\xff\xd8\xff\xe0 a trade-in photo")
		u := b.fake.AddMedia("image/jpeg", jpeg)

		body, contentType, size, err := b.client.FetchMedia(t.Context(), u)
		require.NoError(t, err)
		defer body.Close()
		got, err := io.ReadAll(body)
		require.NoError(t, err)
		require.Equal(t, jpeg, got)
		require.Equal(t, "image/jpeg", contentType)
		require.Equal(t, int64(len(jpeg)), size)

		reqs := b.fake.MediaRequests()
		require.Len(t, reqs, 1, "Twilio redirected to its CDN")
		require.Empty(t, reqs[0].Authorization, "the credentials stay with Twilio's API")
	})

	t.Run("ErrUnknownMedia", func(t *testing.T) {
		t.Parallel()
		b := setup(t, twilio.Config{})
		b.fake.AddMedia("image/png", []byte("png"))

		_, _, _, err := b.client.FetchMedia(t.Context(), b.fake.URL()+"/2010-04-01/Accounts/"+testAccountSID+"/Messages/MM1/Media/ME1")
		require.Equal(t, jack.ENOTFOUND, jack.ErrorCode(err), "%v", err)
	})

	t.Run("ErrBadCredentials", func(t *testing.T) {
		t.Parallel()
		b := setup(t, twilio.Config{AuthToken: "wrongtoken"})
		u := b.fake.AddMedia("image/png", []byte("png"))

		_, _, _, err := b.client.FetchMedia(t.Context(), u)
		require.Equal(t, jack.EPROVIDER, jack.ErrorCode(err), "%v", err)
		require.Empty(t, b.fake.MediaRequests())
	})

	t.Run("ErrInjected", func(t *testing.T) {
		t.Parallel()
		b := setup(t, twilio.Config{})
		u := b.fake.AddMedia("image/png", []byte("png"))
		b.fake.FailNext(0, 0, "")

		_, _, _, err := b.client.FetchMedia(t.Context(), u)
		requireError(t, err, jack.EPROVIDER, jack.EPROVIDER, "Twilio could not be reached.")
	})

	t.Run("ErrNotATwilioURL", func(t *testing.T) {
		t.Parallel()
		var calls int
		other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { calls++ }))
		t.Cleanup(other.Close)
		b := setup(t, twilio.Config{})

		for _, u := range []string{
			other.URL + "/2010-04-01/Accounts/" + testAccountSID + "/Messages/MM1/Media/ME1",
			"https://evil.example.com/api.twilio.com/x",
			"https://api.twilio.com.evil.example.com/x",
			"http://api.twilio.com/x", // Twilio's API is https only: no token in clear text
			"https://user:pw@api.twilio.com/x",
			"::not a url",
		} {
			_, _, _, err := b.client.FetchMedia(t.Context(), u)
			require.Equal(t, jack.ENOTFOUND, jack.ErrorCode(err), "%s: %v", u, err)
		}
		require.Zero(t, calls, "no credentials sent to another host")
	})

	t.Run("RedirectToSameHostKeepsCredentials", func(t *testing.T) {
		t.Parallel()
		var api *httptest.Server
		api = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if user, pass, ok := r.BasicAuth(); !ok || user != testAccountSID || pass != testAuthToken {
				http.Error(w, "no", http.StatusUnauthorized)
				return
			}
			if r.URL.Path == "/first" {
				http.Redirect(w, r, api.URL+"/second", http.StatusFound)
				return
			}
			w.Header().Set("Content-Type", "application/pdf")
			w.Write([]byte("%PDF"))
		}))
		t.Cleanup(api.Close)
		c, err := twilio.NewClient(twilio.Config{AccountSID: testAccountSID, AuthToken: testAuthToken, APIURL: api.URL})
		require.NoError(t, err)

		body, contentType, _, err := c.FetchMedia(t.Context(), api.URL+"/first")
		require.NoError(t, err)
		defer body.Close()
		require.Equal(t, "application/pdf", contentType)
	})
}

func TestClient_SendSMS_Media(t *testing.T) {
	t.Parallel()
	b := setup(t, twilio.Config{})
	req := request()
	req.Body = ""
	req.MediaURLs = []string{"https://dealer.example.com/civic-front.jpg", "https://dealer.example.com/civic-side.jpg"}

	res, err := b.client.SendSMS(t.Context(), req)
	require.NoError(t, err)
	require.Regexp(t, `^MM[0-9a-f]{32}$`, res.ProviderMessageID)
	m := b.fake.Messages()[0]
	require.Equal(t, req.MediaURLs, m.MediaURLs)
	require.Equal(t, req.MediaURLs, m.Form["MediaUrl"], "one MediaUrl parameter per attachment")
	require.NotContains(t, m.Form, "Body", "an MMS may be media alone")
}

// TestClient_FetchMedia_RedirectSSRF: a media fetch follows redirects only to Twilio's media
// hosts, never to an internal address: not the metadata service, not another loopback host, not
// a Twilio-looking name that resolves inside the network (issue 15, item 6).
func TestClient_FetchMedia_RedirectSSRF(t *testing.T) {
	t.Parallel()
	var internal atomic.Int32
	inside := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { internal.Add(1) }))
	t.Cleanup(inside.Close)
	insidePort := inside.URL[strings.LastIndex(inside.URL, ":"):]

	for _, tc := range []struct {
		name, location string
		resolvesTo     string
	}{
		{"MetadataService", "http://169.254.169.254/latest/meta-data/", ""},
		{"OtherLoopbackName", "http://localhost" + insidePort + "/x", ""},
		{"PrivateLiteral", "http://10.0.0.7/x", ""},
		{"LookalikeHost", "https://media.twiliocdn.com.evil.test/x", ""},
		{"TwilioNameResolvingToLoopback", "https://media.twiliocdn.com/x", "127.0.0.1"},
		{"TwilioNameResolvingToPrivate", "https://media.twiliocdn.com/x", "192.168.1.10"},
		{"TwilioNameResolvingToLinkLocal", "https://mms.twiliocdn.com/x", "fe80::1"},
		{"S3OtherBucket", "https://s3-external-1.amazonaws.com/other-bucket/x", "52.216.1.1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				http.Redirect(w, r, tc.location, http.StatusTemporaryRedirect)
			}))
			t.Cleanup(api.Close)
			c, err := twilio.NewClient(twilio.Config{AccountSID: testAccountSID, AuthToken: testAuthToken, APIURL: api.URL})
			require.NoError(t, err)
			twilio.SetResolver(c, func(ctx context.Context, host string) ([]net.IPAddr, error) {
				if tc.resolvesTo == "" {
					return nil, errors.New("no such host in this test")
				}
				return []net.IPAddr{{IP: net.ParseIP(tc.resolvesTo)}}, nil
			})
			_, _, _, err = c.FetchMedia(t.Context(), api.URL+"/2010-04-01/Accounts/"+testAccountSID+"/Messages/MM1/Media/ME1")
			require.Error(t, err)
			require.NotEqual(t, jack.EINTERNAL, jack.ErrorCode(err), "%v", err)
		})
	}
	require.Zero(t, internal.Load(), "no request reached the internal server")

	t.Run("TwilioCDNOnPublicAddress", func(t *testing.T) {
		t.Parallel()
		api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			http.Redirect(w, r, "https://media.twiliocdn.com/AC1/ME1", http.StatusTemporaryRedirect)
		}))
		t.Cleanup(api.Close)
		c, err := twilio.NewClient(twilio.Config{AccountSID: testAccountSID, AuthToken: testAuthToken, APIURL: api.URL,
			HTTPClient: &http.Client{Transport: roundTripFunc(func(r *http.Request) (*http.Response, error) {
				if r.URL.Host == "media.twiliocdn.com" {
					return &http.Response{StatusCode: http.StatusOK, Header: http.Header{"Content-Type": {"image/png"}},
						Body: io.NopCloser(strings.NewReader("png")), Request: r}, nil
				}
				return http.DefaultTransport.RoundTrip(r)
			})}})
		require.NoError(t, err)
		twilio.SetResolver(c, func(ctx context.Context, host string) ([]net.IPAddr, error) {
			return []net.IPAddr{{IP: net.ParseIP("151.101.1.1")}}, nil
		})
		body, contentType, _, err := c.FetchMedia(t.Context(), api.URL+"/2010-04-01/Accounts/"+testAccountSID+"/Messages/MM1/Media/ME1")
		require.NoError(t, err)
		body.Close()
		require.Equal(t, "image/png", contentType)
	})
}
