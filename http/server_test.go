package http_test

import (
	"bufio"
	"context"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/stretchr/testify/require"
	"golang.org/x/crypto/bcrypt"

	"github.com/jack-auto/jack"
	jackhttp "github.com/jack-auto/jack/http"
)

func TestNewServer_ErrConfig(t *testing.T) {
	t.Parallel()
	store := openSQLite(t)
	for field, cfg := range map[string]jackhttp.Config{
		"JWTSecret":        {JWTSecret: []byte("short")},
		"BcryptCost":       {JWTSecret: testSecret, BcryptCost: 99},
		"ServerURL":        {JWTSecret: testSecret, ServerURL: "not a url"},
		"LoginMaxFailures": {JWTSecret: testSecret, LoginMaxFailures: -1},
		"BodyLimit":        {JWTSecret: testSecret, BodyLimit: 10},
	} {
		_, err := jackhttp.NewServer(cfg, store, nil, nil, nil)
		require.ErrorContains(t, err, field)
	}
	_, err := jackhttp.NewServer(jackhttp.Config{JWTSecret: testSecret}, nil, nil, nil, nil)
	require.ErrorContains(t, err, "store")
}

func TestConfig_WithDefaults(t *testing.T) {
	t.Parallel()
	cfg := jackhttp.Config{}.WithDefaults()
	require.Equal(t, 24*time.Hour, cfg.JWTTTL)
	require.Equal(t, 1<<20, cfg.BodyLimit)
	require.Equal(t, 5, cfg.LoginMaxFailures)
	require.Equal(t, 15*time.Minute, cfg.LoginWindow)
	require.Equal(t, bcrypt.DefaultCost, cfg.BcryptCost)
	require.NotNil(t, cfg.Now)
}

// Close tolerates a server that never started and a second call; Serve refuses a second start.
func TestServer_Close(t *testing.T) {
	t.Parallel()
	store := openSQLite(t)
	cfg := jackhttp.Config{JWTSecret: testSecret, BcryptCost: bcrypt.MinCost}

	never, err := jackhttp.NewServer(cfg, store, nil, nil, nil)
	require.NoError(t, err)
	require.NoError(t, never.Close(context.Background()))
	require.NoError(t, never.Close(context.Background()))

	s, err := jackhttp.NewServer(cfg, store, nil, nil, nil)
	require.NoError(t, err)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	require.NoError(t, s.Serve(ln))
	require.Error(t, s.Serve(ln))
	base := "http://" + ln.Addr().String()
	MustDo(t, base, request{Method: "GET", Path: "/health"}, http.StatusOK, nil)
	require.NoError(t, s.Close(context.Background()))
	require.NoError(t, s.Close(context.Background()))
	_, err = http.Get(base + "/health")
	require.Error(t, err, "closed server still answers")
}

func TestOps(t *testing.T) {
	t.Parallel()
	s := MustOpenServer(t, nil)

	resp := MustDo(t, s.URL, request{Method: "GET", Path: "/health"}, http.StatusOK, nil)
	require.JSONEq(t, `{"status":"ok"}`, string(resp.Body))
	resp = MustDo(t, s.URL, request{Method: "GET", Path: "/ready"}, http.StatusOK, nil)
	require.JSONEq(t, `{"status":"ready"}`, string(resp.Body))

	s.SetReady(false)
	MustFail(t, s.URL, request{Method: "GET", Path: "/ready"}, http.StatusServiceUnavailable, jack.EUNAVAILABLE)
	s.SetReady(true)
	MustDo(t, s.URL, request{Method: "GET", Path: "/ready"}, http.StatusOK, nil)

	token, _, _ := MustRegister(t, s.URL)
	MustListLeads(t, s.URL, token)
	MustFail(t, s.URL, request{Method: "GET", Path: "/api/leads/nope", Token: token}, http.StatusNotFound, jack.ENOTFOUND)
	MustFail(t, s.URL, request{Method: "GET", Path: "/no/such/route/+12015550100"}, http.StatusNotFound, jack.ENOTFOUND)

	resp = MustDo(t, s.URL, request{Method: "GET", Path: "/metrics"}, http.StatusOK, nil)
	metrics := string(resp.Body)
	require.Contains(t, metrics, `jack_http_requests_total{method="GET",route="/api/leads",status="200"} 1`)
	require.Contains(t, metrics, `jack_http_requests_total{method="GET",route="/api/leads/:id",status="404"} 1`)
	require.Contains(t, metrics, `route="unmatched",status="404"`)
	require.NotContains(t, metrics, "+12015550100", "paths never become labels")
	require.Contains(t, metrics, `jack_http_errors_total{code="not_found"} 2`)
	require.Contains(t, metrics, `jack_http_request_duration_seconds_bucket{method="POST",route="/api/auth/register"`)
}

// ReadyInfo's fields (the node's cluster member id and member count) join a ready answer, and
// cannot hide what the answer says.
func TestOps_ReadyInfo(t *testing.T) {
	t.Parallel()
	s := MustOpenServer(t, nil, func(c *jackhttp.Config) {
		c.ReadyInfo = func() map[string]any { return map[string]any{"memberId": "m1", "clusterMembers": 3, "status": "other"} }
	})
	resp := MustDo(t, s.URL, request{Method: "GET", Path: "/ready"}, http.StatusOK, nil)
	require.JSONEq(t, `{"status":"ready","memberId":"m1","clusterMembers":3}`, string(resp.Body))
	s.SetReady(false)
	MustFail(t, s.URL, request{Method: "GET", Path: "/ready"}, http.StatusServiceUnavailable, jack.EUNAVAILABLE)
}

// A store that does not answer makes the server not ready.
func TestOps_ReadyStoreDown(t *testing.T) {
	t.Parallel()
	store := openSQLite(t)
	s := MustOpenServer(t, store)
	require.NoError(t, store.Close())
	MustFail(t, s.URL, request{Method: "GET", Path: "/ready"}, http.StatusServiceUnavailable, jack.EUNAVAILABLE)
	MustDo(t, s.URL, request{Method: "GET", Path: "/health"}, http.StatusOK, nil)
}

func TestErrors(t *testing.T) {
	t.Parallel()
	store := openSQLite(t)
	s, err := jackhttp.NewServer(jackhttp.Config{JWTSecret: testSecret, BcryptCost: bcrypt.MinCost}, store, nil, nil, testLogger(t))
	require.NoError(t, err)
	// Routes only this test has, added before serving.
	s.App().Get("/test/panic", func(*fiber.Ctx) error { panic("boom: secret detail") })
	s.App().Get("/test/internal", func(*fiber.Ctx) error { return context.DeadlineExceeded })
	s.App().Get("/test/reason", func(*fiber.Ctx) error {
		return &jack.Error{Code: jack.ECONFLICT, Reason: "quiet_hours", Message: "Quiet hours.",
			Details: map[string]any{"nextAllowedAt": "2030-01-01T09:00:00Z"}}
	})
	ts := serve(t, s, store, nil)

	t.Run("Panic", func(t *testing.T) {
		resp := Do(t, ts.URL, request{Method: "GET", Path: "/test/panic", Headers: map[string]string{"X-Request-ID": "req-123"}})
		require.Equal(t, http.StatusInternalServerError, resp.Status)
		require.JSONEq(t, `{"error":{"code":"internal","message":"Internal error.","requestId":"req-123"}}`, string(resp.Body))
		require.Equal(t, "req-123", resp.Header.Get("X-Request-ID"))
		MustDo(t, ts.URL, request{Method: "GET", Path: "/health"}, http.StatusOK, nil) // still serving
	})
	t.Run("Internal", func(t *testing.T) {
		e := MustFail(t, ts.URL, request{Method: "GET", Path: "/test/internal"}, http.StatusInternalServerError, jack.EINTERNAL)
		require.Equal(t, "Internal error.", e.Error.Message)
		require.NotEmpty(t, e.Error.RequestID)
	})
	t.Run("ReasonAndDetails", func(t *testing.T) {
		resp := MustDo(t, ts.URL, request{Method: "GET", Path: "/test/reason"}, http.StatusConflict, nil)
		require.JSONEq(t, `{"error":{"code":"quiet_hours","message":"Quiet hours.","nextAllowedAt":"2030-01-01T09:00:00Z"}}`, string(resp.Body))
	})
	t.Run("UnknownRoute", func(t *testing.T) {
		resp := MustDo(t, ts.URL, request{Method: "GET", Path: "/api/nothing-here"}, http.StatusNotFound, nil)
		require.JSONEq(t, `{"error":{"code":"not_found","message":"No such route."}}`, string(resp.Body))
		MustFail(t, ts.URL, request{Method: "POST", Path: "/nothing"}, http.StatusNotFound, jack.ENOTFOUND)
	})
	t.Run("MethodNotAllowed", func(t *testing.T) {
		MustFail(t, ts.URL, request{Method: "PUT", Path: "/api/leads"}, http.StatusMethodNotAllowed, "method_not_allowed")
	})
	t.Run("RequestID", func(t *testing.T) {
		resp := Do(t, ts.URL, request{Method: "GET", Path: "/health", Headers: map[string]string{"X-Request-ID": "abc-DEF_1.2:3"}})
		require.Equal(t, "abc-DEF_1.2:3", resp.Header.Get("X-Request-ID"))
		for _, insane := range []string{"has space", "<script>", strings.Repeat("a", 129)} {
			resp := Do(t, ts.URL, request{Method: "GET", Path: "/health", Headers: map[string]string{"X-Request-ID": insane}})
			got := resp.Header.Get("X-Request-ID")
			require.NotEmpty(t, got)
			require.NotEqual(t, insane, got)
		}
	})
	t.Run("TooLarge", func(t *testing.T) {
		resp := Do(t, ts.URL, request{Method: "POST", Path: "/api/auth/login", Body: strings.Repeat("x", 2<<20)})
		require.Equal(t, http.StatusRequestEntityTooLarge, resp.Status)
		require.JSONEq(t, `{"error":{"code":"too_large","message":"Request body is larger than 1 MiB."}}`, string(resp.Body))
		require.NotEmpty(t, resp.Header.Get("X-Request-ID"))
	})
	// A body far over the limit is refused by the transport from its Content-Length alone,
	// before any middleware runs; the answer has the same shape.
	t.Run("TooLargeForTransport", func(t *testing.T) {
		conn, err := net.Dial("tcp", strings.TrimPrefix(ts.URL, "http://"))
		require.NoError(t, err)
		defer conn.Close()
		_, err = conn.Write([]byte("POST /api/auth/login HTTP/1.1\r\nHost: jack\r\nContent-Type: application/json\r\nContent-Length: 104857600\r\n\r\n"))
		require.NoError(t, err)
		resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
		require.NoError(t, err)
		defer resp.Body.Close()
		body, err := io.ReadAll(resp.Body)
		require.NoError(t, err)
		require.Equal(t, http.StatusRequestEntityTooLarge, resp.StatusCode)
		require.JSONEq(t, `{"error":{"code":"too_large","message":"Request body is larger than 1 MiB."}}`, string(body))
		require.NotEmpty(t, resp.Header.Get("X-Request-ID"))
	})
}
