package elevenlabs_test

import (
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/jack-auto/jack"
	"github.com/jack-auto/jack/providers/elevenlabs"
	"github.com/jack-auto/jack/providers/fake"
)

const (
	testAPIKey    = "xi_test_key_0123"
	testAgentID   = "agent_01test"
	dealerPhone   = "+16045550199"
	customerPhone = "+16045550123"
	waitTimeout   = 10 * time.Second
)

// newClient returns a client of f's API for testAgentID; opts adjust its Config.
func newClient(tb testing.TB, f *fake.ElevenLabs, opts ...func(*elevenlabs.Config)) *elevenlabs.Client {
	tb.Helper()
	cfg := elevenlabs.Config{APIKey: testAPIKey, AgentID: testAgentID, APIURL: f.URL(), Logger: testLogger(tb)}
	for _, o := range opts {
		o(&cfg)
	}
	c, err := elevenlabs.NewClient(cfg)
	require.NoError(tb, err)
	return c
}

// requireError checks err's code and user-safe message.
func requireError(tb testing.TB, err error, code, message string) {
	tb.Helper()
	require.Error(tb, err)
	require.Equal(tb, code, jack.ErrorCode(err), "%v", err)
	require.Equal(tb, message, jack.ErrorMessage(err), "%v", err)
}

// testLogger writes the client's logs to tb.Log until the test ends.
func testLogger(tb testing.TB) *slog.Logger {
	w := &tbWriter{tb: tb}
	tb.Cleanup(func() { w.done.Store(true) })
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

type tbWriter struct {
	tb   testing.TB
	done atomic.Bool
}

func (w *tbWriter) Write(p []byte) (int, error) {
	if !w.done.Load() {
		w.tb.Log(strings.TrimSpace(string(p)))
	}
	return len(p), nil
}

func TestNewClient(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		cfg  elevenlabs.Config
		want string
	}{
		{name: "OK", cfg: elevenlabs.Config{APIKey: "k", AgentID: "a"}},
		{name: "OKResidencyHost", cfg: elevenlabs.Config{APIKey: "k", AgentID: "a", APIURL: "https://api.eu.residency.elevenlabs.io/"}},
		{name: "ErrNoKey", cfg: elevenlabs.Config{AgentID: "a"}, want: "APIKey is required"},
		{name: "ErrNoAgent", cfg: elevenlabs.Config{APIKey: "k"}, want: "AgentID is required"},
		{name: "ErrPath", cfg: elevenlabs.Config{APIKey: "k", AgentID: "a", APIURL: "https://api.elevenlabs.io/v1"}, want: "bare scheme+host"},
		{name: "ErrScheme", cfg: elevenlabs.Config{APIKey: "k", AgentID: "a", APIURL: "wss://api.elevenlabs.io"}, want: "bare scheme+host"},
		{name: "ErrQuery", cfg: elevenlabs.Config{APIKey: "k", AgentID: "a", APIURL: "https://api.elevenlabs.io?x=1"}, want: "bare scheme+host"},
		{name: "ErrTimeout", cfg: elevenlabs.Config{APIKey: "k", AgentID: "a", Timeout: -1}, want: "must not be negative"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c, err := elevenlabs.NewClient(tc.cfg)
			if tc.want != "" {
				require.ErrorContains(t, err, tc.want)
				return
			}
			require.NoError(t, err)
			require.Equal(t, "a", c.AgentID())
		})
	}
}

func TestConfig_WithDefaults(t *testing.T) {
	t.Parallel()
	cfg := elevenlabs.Config{}.WithDefaults()
	require.Equal(t, elevenlabs.DefaultAPIURL, cfg.APIURL)
	require.Equal(t, elevenlabs.DefaultTimeout, cfg.Timeout)
	require.Equal(t, elevenlabs.DefaultReplyTimeout, cfg.ReplyTimeout)
	require.NotNil(t, cfg.HTTPClient)
	require.NotNil(t, cfg.Logger)

	cfg = elevenlabs.Config{HTTPClient: &http.Client{Timeout: 3 * time.Second}}.WithDefaults()
	require.Equal(t, 3*time.Second, cfg.Timeout)
}

func TestDynamicVariables(t *testing.T) {
	t.Parallel()
	name := "Ann"
	var nilName *string
	when := time.Date(2025, 1, 2, 3, 4, 5, 0, time.FixedZone("PST", -8*3600))
	got := elevenlabs.DynamicVariables(map[string]any{
		"s": "x", "b": true, "i": 7, "u": uint8(3), "f": 2.5, "nan": 0 / zero(), "nil": nil,
		"ptr": &name, "nilptr": nilName, "time": when, "slice": []string{"a", "b"},
		"dur": 90 * time.Second, "map": map[string]int{"k": 1},
	})
	require.Equal(t, map[string]any{
		"s": "x", "b": true, "i": int64(7), "u": uint64(3), "f": 2.5, "nan": "NaN", "nil": "",
		"ptr": "Ann", "nilptr": "", "time": "2025-01-02T11:04:05Z", "slice": "[a b]",
		"dur": "1m30s", "map": "map[k:1]",
	}, got)
	require.Nil(t, elevenlabs.DynamicVariables(nil))
}

func zero() float64 { return 0 }

func TestClient_StartCall(t *testing.T) {
	t.Parallel()
	req := jack.CallRequest{
		VoicePhoneID: "phnum_1",
		To:           customerPhone,
		Variables:    map[string]any{"customer_name": "Ann", "total_messages": 4, "lead_status": nil, "ai_paused": false},
	}

	t.Run("OK", func(t *testing.T) {
		t.Parallel()
		f := fake.NewElevenLabs(t, testAPIKey)
		started, err := newClient(t, f).StartCall(t.Context(), req)
		require.NoError(t, err)

		calls := f.Calls()
		require.Len(t, calls, 1)
		require.Equal(t, testAgentID, calls[0].AgentID)
		require.Equal(t, "phnum_1", calls[0].AgentPhoneNumberID)
		require.Equal(t, customerPhone, calls[0].ToNumber)
		require.Equal(t, map[string]any{"customer_name": "Ann", "total_messages": float64(4), "lead_status": "", "ai_paused": false},
			calls[0].DynamicVariables)
		require.NotContains(t, calls[0].Body["conversation_initiation_client_data"], "type")
		require.Equal(t, &jack.CallStarted{ConversationID: calls[0].ConversationID, ProviderCallID: calls[0].CallSid}, started)
		require.True(t, strings.HasPrefix(started.ConversationID, "conv_"))
		require.True(t, strings.HasPrefix(started.ProviderCallID, "CA"))
	})

	// Refusals the fake injects, as the client reports them to staff.
	for _, tc := range []struct {
		name    string
		success bool
		status  int
		message string
		want    string
	}{
		{name: "ErrSuccessFalse", success: false, message: "Failed to initiate call: the number is unreachable",
			want: "ElevenLabs refused to start the call: Failed to initiate call: the number is unreachable"},
		{name: "ErrValidation", success: true, status: http.StatusUnprocessableEntity, message: "Value error, to_number must be E.164",
			want: "ElevenLabs refused to start the call: body: Value error, to_number must be E.164"},
		{name: "ErrServer", success: true, status: http.StatusTooManyRequests, message: "Too many concurrent requests",
			want: "ElevenLabs refused to start the call: Too many concurrent requests"},
		{name: "ErrNoIDs", success: true, status: http.StatusOK, message: "Success",
			want: "ElevenLabs returned an unexpected response."},
		{name: "ErrDropped", success: true, status: 0, want: "ElevenLabs could not be reached."},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f := fake.NewElevenLabs(t, testAPIKey)
			f.FailNextCall(tc.success, tc.status, tc.message)
			_, err := newClient(t, f).StartCall(t.Context(), req)
			requireError(t, err, jack.EPROVIDER, tc.want)
			require.Empty(t, f.Calls())
		})
	}

	t.Run("ErrUnauthorized", func(t *testing.T) {
		t.Parallel()
		f := fake.NewElevenLabs(t, testAPIKey)
		c := newClient(t, f, func(cfg *elevenlabs.Config) { cfg.APIKey = "wrong" })
		_, err := c.StartCall(t.Context(), req)
		requireError(t, err, jack.EPROVIDER, "ElevenLabs refused to start the call: Invalid API key")
		var jerr *jack.Error
		require.ErrorAs(t, err, &jerr)
		require.Equal(t, map[string]any{"httpStatus": 401, "elevenLabsStatus": "invalid_api_key"}, jerr.Details)
	})

	t.Run("ErrUnreachable", func(t *testing.T) {
		t.Parallel()
		srv := httptest.NewServer(http.NotFoundHandler())
		srv.Close()
		c, err := elevenlabs.NewClient(elevenlabs.Config{APIKey: testAPIKey, AgentID: testAgentID, APIURL: srv.URL})
		require.NoError(t, err)
		_, err = c.StartCall(t.Context(), req)
		requireError(t, err, jack.EPROVIDER, "ElevenLabs could not be reached.")
	})

	t.Run("ErrCanceled", func(t *testing.T) {
		t.Parallel()
		f := fake.NewElevenLabs(t, testAPIKey)
		ctx, cancel := context.WithCancel(t.Context())
		cancel()
		_, err := newClient(t, f).StartCall(ctx, req)
		requireError(t, err, jack.EPROVIDER, "The request to ElevenLabs was canceled.")
		require.ErrorIs(t, err, context.Canceled)
	})

	// Shapes the fake does not produce: a plain-text detail, no JSON at all, and a 200 that
	// claims success without a conversation.
	for _, tc := range []struct {
		name, body, want string
		status           int
	}{
		{name: "ErrDetailText", status: 400, body: `{"detail":"Agent has no phone number"}`,
			want: "ElevenLabs refused to start the call: Agent has no phone number"},
		{name: "ErrNotJSON", status: 502, body: `<html>Bad gateway</html>`,
			want: "ElevenLabs refused to start the call: HTTP 502"},
		{name: "ErrValidationList", status: 422, body: `{"detail":[{"loc":["body","to_number"],"msg":"Field required","type":"missing"},{"loc":["body","agent_id"],"msg":"Field required","type":"missing"}]}`,
			want: "ElevenLabs refused to start the call: body.to_number: Field required; body.agent_id: Field required"},
		{name: "ErrNoConversation", status: 200, body: `{"success":true,"message":"ok","conversation_id":null,"callSid":null}`,
			want: "ElevenLabs returned an unexpected response."},
		{name: "ErrSuccessFalseSilent", status: 200, body: `{"success":false,"message":"","conversation_id":null,"callSid":null}`,
			want: "ElevenLabs refused to start the call: no reason given"},
		{name: "ErrGarbage", status: 200, body: `not json`, want: "ElevenLabs returned an unexpected response."},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "application/json")
				w.WriteHeader(tc.status)
				w.Write([]byte(tc.body))
			}))
			t.Cleanup(srv.Close)
			c, err := elevenlabs.NewClient(elevenlabs.Config{APIKey: testAPIKey, AgentID: testAgentID, APIURL: srv.URL})
			require.NoError(t, err)
			_, err = c.StartCall(t.Context(), req)
			requireError(t, err, jack.EPROVIDER, tc.want)
		})
	}

	t.Run("OKNoCallSid", func(t *testing.T) {
		t.Parallel()
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Write([]byte(`{"success":true,"message":"Success","conversation_id":"conv_x","callSid":null,"new_field":1}`))
		}))
		t.Cleanup(srv.Close)
		c, err := elevenlabs.NewClient(elevenlabs.Config{APIKey: testAPIKey, AgentID: testAgentID, APIURL: srv.URL})
		require.NoError(t, err)
		started, err := c.StartCall(t.Context(), req)
		require.NoError(t, err)
		require.Equal(t, &jack.CallStarted{ConversationID: "conv_x"}, started)
	})
}

func TestClient_PhoneNumbers(t *testing.T) {
	t.Parallel()
	in := elevenlabs.ImportPhoneNumber{
		PhoneNumber: dealerPhone, Label: "Acme Motors", TwilioAccountSID: "AC0123", TwilioAuthToken: "token0123",
	}

	t.Run("OK", func(t *testing.T) {
		t.Parallel()
		f := fake.NewElevenLabs(t, testAPIKey)
		c := newClient(t, f)

		id, err := c.ImportPhoneNumber(t.Context(), in)
		require.NoError(t, err)
		require.True(t, strings.HasPrefix(id, "phnum_"))
		no := false
		require.Equal(t, []fake.ElevenLabsPhoneNumber{{
			ID: id, Provider: "twilio", PhoneNumber: dealerPhone, Label: "Acme Motors",
			SID: "AC0123", Token: "token0123", EnableSMS: &no,
		}}, f.PhoneNumbers())

		require.NoError(t, c.AssignAgent(t.Context(), id))
		require.Equal(t, testAgentID, f.PhoneNumbers()[0].AgentID)

		require.NoError(t, c.DeletePhoneNumber(t.Context(), id))
		require.True(t, f.PhoneNumbers()[0].Deleted)
		require.NoError(t, c.DeletePhoneNumber(t.Context(), id), "undoing twice is harmless")
	})

	t.Run("ErrImportRefused", func(t *testing.T) {
		t.Parallel()
		f := fake.NewElevenLabs(t, testAPIKey)
		f.FailNextImport(http.StatusBadRequest, "Phone number already exists")
		_, err := newClient(t, f).ImportPhoneNumber(t.Context(), in)
		requireError(t, err, jack.EPROVIDER, "ElevenLabs refused to import the phone number: Phone number already exists")
		require.Empty(t, f.PhoneNumbers())
	})

	t.Run("ErrAssignUnknown", func(t *testing.T) {
		t.Parallel()
		f := fake.NewElevenLabs(t, testAPIKey)
		err := newClient(t, f).AssignAgent(t.Context(), "phnum_nope")
		requireError(t, err, jack.EPROVIDER, "ElevenLabs refused to assign the agent to the phone number: Phone number phnum_nope not found")
	})

	t.Run("ErrEmptyID", func(t *testing.T) {
		t.Parallel()
		f := fake.NewElevenLabs(t, testAPIKey)
		c := newClient(t, f)
		require.Equal(t, jack.EINVALID, jack.ErrorCode(c.AssignAgent(t.Context(), "")))
		require.Equal(t, jack.EINVALID, jack.ErrorCode(c.DeletePhoneNumber(t.Context(), "")))
	})

	t.Run("ErrDeleteUnauthorized", func(t *testing.T) {
		t.Parallel()
		f := fake.NewElevenLabs(t, testAPIKey)
		id, err := newClient(t, f).ImportPhoneNumber(t.Context(), in)
		require.NoError(t, err)
		err = newClient(t, f, func(cfg *elevenlabs.Config) { cfg.APIKey = "wrong" }).DeletePhoneNumber(t.Context(), id)
		requireError(t, err, jack.EPROVIDER, "ElevenLabs refused to delete the phone number: Invalid API key")
		require.False(t, f.PhoneNumbers()[0].Deleted)
	})
}
