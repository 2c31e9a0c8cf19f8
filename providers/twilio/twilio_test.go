package twilio_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/jack-auto/jack"
	"github.com/jack-auto/jack/providers/fake"
	"github.com/jack-auto/jack/providers/twilio"
)

const (
	testAccountSID = "AC00000000000000000000000000000001"
	testAuthToken  = "authtoken0123456789"
	dealerPhone    = "+16045550199"
	customerPhone  = "+16045550123"
)

type testBundle struct {
	fake   *fake.Twilio
	client *twilio.Client
}

func setup(t *testing.T, cfg twilio.Config) *testBundle {
	t.Helper()
	f := fake.NewTwilio(t, testAccountSID, testAuthToken)
	cfg.AccountSID = cmpOr(cfg.AccountSID, testAccountSID)
	cfg.AuthToken = cmpOr(cfg.AuthToken, testAuthToken)
	cfg.APIURL = f.URL()
	c, err := twilio.NewClient(cfg)
	require.NoError(t, err)
	return &testBundle{fake: f, client: c}
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

func request() jack.SMSRequest {
	return jack.SMSRequest{
		From:           dealerPhone,
		To:             customerPhone,
		Body:           "Hi! The 2021 Civic is still available.",
		StatusCallback: "https://jack.example.com/api/webhooks/twilio/sms/status",
	}
}

// requireError checks the domain error of a failed send.
func requireError(t *testing.T, err error, code, reason, message string) {
	t.Helper()
	require.Error(t, err)
	require.Equal(t, code, jack.ErrorCode(err), "%v", err)
	require.Equal(t, reason, jack.ErrorReason(err), "%v", err)
	require.Equal(t, message, jack.ErrorMessage(err))
}

func TestClient_SendSMS(t *testing.T) {
	t.Parallel()

	t.Run("OK", func(t *testing.T) {
		t.Parallel()
		b := setup(t, twilio.Config{})

		res, err := b.client.SendSMS(t.Context(), request())
		require.NoError(t, err)
		require.Regexp(t, `^SM[0-9a-f]{32}$`, res.ProviderMessageID)
		require.Equal(t, jack.StatusQueued, res.Status)

		msgs := b.fake.Messages()
		require.Len(t, msgs, 1)
		m := msgs[0]
		require.Equal(t, res.ProviderMessageID, m.Sid)
		require.Equal(t, dealerPhone, m.From)
		require.Equal(t, customerPhone, m.To)
		require.Equal(t, request().Body, m.Body)
		require.Equal(t, request().StatusCallback, m.StatusCallback)
		require.Equal(t, 1, m.NumSegments)
	})

	t.Run("NoStatusCallback", func(t *testing.T) {
		t.Parallel()
		b := setup(t, twilio.Config{})
		req := request()
		req.StatusCallback = ""

		_, err := b.client.SendSMS(t.Context(), req)
		require.NoError(t, err)
		m := b.fake.Messages()[0]
		require.Empty(t, m.StatusCallback)
		require.NotContains(t, m.Form, "StatusCallback")
	})

	t.Run("ErrOptedOut", func(t *testing.T) {
		t.Parallel()
		b := setup(t, twilio.Config{})
		b.fake.OptOut(customerPhone)

		_, err := b.client.SendSMS(t.Context(), request())
		requireError(t, err, jack.ECONFLICT, "opted_out", "The customer has opted out of text messages.")
		require.Empty(t, b.fake.Messages())

		b.fake.OptIn(customerPhone)
		_, err = b.client.SendSMS(t.Context(), request())
		require.NoError(t, err)
	})

	t.Run("ErrInvalidTo", func(t *testing.T) {
		t.Parallel()
		b := setup(t, twilio.Config{})
		req := request()
		req.To = "+1555"

		_, err := b.client.SendSMS(t.Context(), req)
		requireError(t, err, jack.EPROVIDER, jack.EPROVIDER, "Twilio refused the message (21211): Invalid 'To' Phone Number")
		var jerr *jack.Error
		require.ErrorAs(t, err, &jerr)
		require.Equal(t, 21211, jerr.Details["twilioCode"])
	})

	t.Run("ErrBadCredentials", func(t *testing.T) {
		t.Parallel()
		b := setup(t, twilio.Config{AuthToken: "wrongtoken"})

		_, err := b.client.SendSMS(t.Context(), request())
		requireError(t, err, jack.EPROVIDER, jack.EPROVIDER, "Twilio refused the message (20003): Authenticate")
	})

	t.Run("ErrInjected", func(t *testing.T) {
		t.Parallel()
		b := setup(t, twilio.Config{})
		b.fake.FailNext(http.StatusTooManyRequests, 20429, "Too Many Requests")

		_, err := b.client.SendSMS(t.Context(), request())
		requireError(t, err, jack.EPROVIDER, jack.EPROVIDER, "Twilio refused the message (20429): Too Many Requests")

		_, err = b.client.SendSMS(t.Context(), request()) // one failure only
		require.NoError(t, err)
	})

	t.Run("ErrConnectionDropped", func(t *testing.T) {
		t.Parallel()
		b := setup(t, twilio.Config{})
		b.fake.FailNext(0, 0, "")

		_, err := b.client.SendSMS(t.Context(), request())
		requireError(t, err, jack.EPROVIDER, jack.EPROVIDER, "Twilio could not be reached.")
	})

	t.Run("ErrTimeout", func(t *testing.T) {
		t.Parallel()
		b := setup(t, twilio.Config{Timeout: 50 * time.Millisecond})
		b.fake.SetLatency(time.Minute)

		start := time.Now()
		_, err := b.client.SendSMS(t.Context(), request())
		requireError(t, err, jack.EPROVIDER, jack.EPROVIDER, "Twilio could not be reached.")
		require.ErrorIs(t, err, context.DeadlineExceeded)
		require.Less(t, time.Since(start), 10*time.Second)
	})

	t.Run("ErrContextDeadline", func(t *testing.T) {
		t.Parallel()
		b := setup(t, twilio.Config{})
		b.fake.SetLatency(time.Minute)
		ctx, cancel := context.WithTimeout(t.Context(), 50*time.Millisecond)
		defer cancel()

		_, err := b.client.SendSMS(ctx, request())
		requireError(t, err, jack.EPROVIDER, jack.EPROVIDER, "Twilio could not be reached.")
		require.ErrorIs(t, err, context.DeadlineExceeded)
	})

	t.Run("ErrCanceled", func(t *testing.T) {
		t.Parallel()
		b := setup(t, twilio.Config{})
		b.fake.SetLatency(time.Minute)
		ctx, cancel := context.WithCancel(t.Context())

		errc := make(chan error, 1)
		go func() {
			_, err := b.client.SendSMS(ctx, request())
			errc <- err
		}()
		time.AfterFunc(50*time.Millisecond, cancel) // usually while the fake holds the request
		select {
		case err := <-errc:
			requireError(t, err, jack.EPROVIDER, jack.EPROVIDER, "The request to Twilio was canceled.")
			require.ErrorIs(t, err, context.Canceled)
		case <-time.After(10 * time.Second):
			t.Fatal("SendSMS did not return after cancel")
		}
	})

	t.Run("ErrUnexpectedResponse", func(t *testing.T) {
		t.Parallel()
		proxy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/html")
			w.WriteHeader(http.StatusBadGateway)
			w.Write([]byte("<html>502 Bad Gateway</html>"))
		}))
		t.Cleanup(proxy.Close)
		c, err := twilio.NewClient(twilio.Config{AccountSID: testAccountSID, AuthToken: testAuthToken, APIURL: proxy.URL})
		require.NoError(t, err)

		_, err = c.SendSMS(t.Context(), request())
		requireError(t, err, jack.EPROVIDER, jack.EPROVIDER, "Twilio returned an unexpected response.")
	})

	t.Run("CustomHTTPClient", func(t *testing.T) {
		t.Parallel()
		var seen *http.Request
		hc := &http.Client{Transport: roundTripFunc(func(r *http.Request) (*http.Response, error) {
			seen = r
			return http.DefaultTransport.RoundTrip(r)
		})}
		b := setup(t, twilio.Config{HTTPClient: hc})

		_, err := b.client.SendSMS(t.Context(), request())
		require.NoError(t, err)
		require.NotNil(t, seen)
		require.Equal(t, "/2010-04-01/Accounts/"+testAccountSID+"/Messages.json", seen.URL.Path)
		require.True(t, strings.HasPrefix(b.fake.URL(), seen.URL.Scheme+"://"+seen.URL.Host))
		require.True(t, strings.HasPrefix(seen.Header.Get("User-Agent"), "twilio-go/"))
		user, pass, ok := seen.BasicAuth()
		require.True(t, ok)
		require.Equal(t, testAccountSID, user)
		require.Equal(t, testAuthToken, pass)
	})
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

func TestNewClient(t *testing.T) {
	t.Parallel()

	tests := []struct {
		name    string
		cfg     twilio.Config
		wantErr string
	}{
		{"OK", twilio.Config{AccountSID: "AC1", AuthToken: "tok"}, ""},
		{"OKBareHostSlash", twilio.Config{AccountSID: "AC1", AuthToken: "tok", APIURL: "http://127.0.0.1:8080/"}, ""},
		{"ErrNoAccountSID", twilio.Config{AuthToken: "tok"}, "AccountSID"},
		{"ErrAccountSIDChars", twilio.Config{AccountSID: "AC-1", AuthToken: "tok"}, "AccountSID"},
		{"ErrNoAuthToken", twilio.Config{AccountSID: "AC1"}, "AuthToken"},
		{"ErrAuthTokenChars", twilio.Config{AccountSID: "AC1", AuthToken: "tok:en"}, "AuthToken"},
		{"ErrAPIURLPath", twilio.Config{AccountSID: "AC1", AuthToken: "tok", APIURL: "https://api.twilio.com/2010-04-01"}, "APIURL"},
		{"ErrAPIURLScheme", twilio.Config{AccountSID: "AC1", AuthToken: "tok", APIURL: "api.twilio.com"}, "APIURL"},
		{"ErrAPIURLQuery", twilio.Config{AccountSID: "AC1", AuthToken: "tok", APIURL: "https://api.twilio.com?x=1"}, "APIURL"},
		{"ErrNegativeTimeout", twilio.Config{AccountSID: "AC1", AuthToken: "tok", Timeout: -time.Second}, "Timeout"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c, err := twilio.NewClient(tc.cfg)
			if tc.wantErr == "" {
				require.NoError(t, err)
				require.Equal(t, tc.cfg.AccountSID, c.AccountSID())
				return
			}
			require.ErrorContains(t, err, tc.wantErr)
		})
	}
}

func TestConfig_WithDefaults(t *testing.T) {
	t.Parallel()

	cfg := twilio.Config{}.WithDefaults()
	require.Equal(t, twilio.DefaultAPIURL, cfg.APIURL)
	require.Equal(t, twilio.DefaultTimeout, cfg.Timeout)
	require.NotNil(t, cfg.HTTPClient)

	cfg = twilio.Config{HTTPClient: &http.Client{Timeout: 3 * time.Second}}.WithDefaults()
	require.Equal(t, 3*time.Second, cfg.Timeout)
}
