package http_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"
	"golang.org/x/crypto/bcrypt"

	"github.com/jack-auto/jack"
	jackhttp "github.com/jack-auto/jack/http"
	"github.com/jack-auto/jack/persistence/memory"
	"github.com/jack-auto/jack/persistence/postgres/postgrestest"
	"github.com/jack-auto/jack/persistence/sqlite/sqlitetest"
)

// storeOpener opens a fresh, migrated Store for one test. needsEnv names a variable the
// adapter needs; without it the adapter's tests skip.
type storeOpener struct {
	name     string
	needsEnv string
	open     func(testing.TB) jack.Store
}

// stores are the adapters the API suite runs against.
var stores = []storeOpener{
	{"SQLite", "", func(tb testing.TB) jack.Store { return sqlitetest.MustOpenStore(tb) }},
	{"Postgres", postgrestest.EnvURL, func(tb testing.TB) jack.Store { return postgrestest.MustOpenStore(tb) }},
}

func openSQLite(tb testing.TB) jack.Store { return sqlitetest.MustOpenStore(tb) }

// testSecret signs the test servers' tokens.
var testSecret = []byte("test-secret-test-secret-test-secret!")

// testServer is a Server serving real HTTP on 127.0.0.1:0 over a real Store.
type testServer struct {
	*jackhttp.Server
	Store  jack.Store
	Broker jack.Broker // nil when the server has none
	URL    string
	Clock  *testClock
}

// testClock is a settable clock for token times and login windows.
type testClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *testClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *testClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// MustOpenServer starts a ready server over store (a fresh SQLite store when nil) and an
// in-process broker; configure adjusts its Config. It is closed in tb.Cleanup.
func MustOpenServer(tb testing.TB, store jack.Store, configure ...func(*jackhttp.Config)) *testServer {
	tb.Helper()
	return MustOpenServerWithBroker(tb, store, mustMemoryBroker(tb), configure...)
}

// MustOpenServerWithBroker is MustOpenServer with the given broker (nil for none).
func MustOpenServerWithBroker(tb testing.TB, store jack.Store, broker jack.Broker, configure ...func(*jackhttp.Config)) *testServer {
	tb.Helper()
	if store == nil {
		store = openSQLite(tb)
	}
	clock := &testClock{now: time.Now()}
	cfg := jackhttp.Config{JWTSecret: testSecret, BcryptCost: bcrypt.MinCost, Now: clock.Now}
	for _, f := range configure {
		f(&cfg)
	}
	s, err := jackhttp.NewServer(cfg, store, nil, broker, testLogger(tb))
	require.NoError(tb, err)
	ts := serve(tb, s, store, clock)
	ts.Broker = broker
	return ts
}

// mustMemoryBroker returns an in-process broker closed in tb.Cleanup.
func mustMemoryBroker(tb testing.TB) jack.Broker {
	tb.Helper()
	b := memory.NewBroker()
	tb.Cleanup(func() { require.NoError(tb, b.Close()) })
	return b
}

// serve starts s on 127.0.0.1:0, marks it ready and closes it in tb.Cleanup.
func serve(tb testing.TB, s *jackhttp.Server, store jack.Store, clock *testClock) *testServer {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(tb, err)
	require.NoError(tb, s.Serve(ln))
	s.SetReady(true)
	tb.Cleanup(func() {
		// Connections the client dialed but never used would hold Close for 5s.
		http.DefaultClient.CloseIdleConnections()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		require.NoError(tb, s.Close(ctx))
	})
	return &testServer{Server: s, Store: store, URL: "http://" + ln.Addr().String(), Clock: clock}
}

// testLogger writes the server's logs to tb.Log, until the test ends.
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

// request is one API call. Body is JSON-encoded unless it is a string or []byte (sent as is).
type request struct {
	Method  string
	Path    string
	Token   string
	Body    any
	Headers map[string]string
}

// response is an API answer with its body read.
type response struct {
	Status int
	Header http.Header
	Body   []byte
}

// apiError is the error body every failure answers with.
type apiError struct {
	Error struct {
		Code       string            `json:"code"`
		Message    string            `json:"message"`
		Fields     map[string]string `json:"fields"`
		RequestID  string            `json:"requestId"`
		RetryAfter int               `json:"retryAfter"`
	} `json:"error"`
}

// Do sends r and returns the answer.
func Do(tb testing.TB, baseURL string, r request) response {
	tb.Helper()
	var body io.Reader
	switch b := r.Body.(type) {
	case nil:
	case string:
		body = strings.NewReader(b)
	case []byte:
		body = bytes.NewReader(b)
	default:
		buf, err := json.Marshal(b)
		require.NoError(tb, err)
		body = bytes.NewReader(buf)
	}
	req, err := http.NewRequest(r.Method, baseURL+r.Path, body)
	require.NoError(tb, err)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if r.Token != "" {
		req.Header.Set("Authorization", "Bearer "+r.Token)
	}
	for k, v := range r.Headers {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(tb, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(tb, err)
	return response{Status: resp.StatusCode, Header: resp.Header, Body: b}
}

// MustDo sends r, requires status and decodes the body into out (when not nil).
func MustDo(tb testing.TB, baseURL string, r request, status int, out any) response {
	tb.Helper()
	resp := Do(tb, baseURL, r)
	require.Equal(tb, status, resp.Status, "%s %s answered %s", r.Method, r.Path, resp.Body)
	if out != nil {
		require.NoError(tb, json.Unmarshal(resp.Body, out), "%s", resp.Body)
	}
	return resp
}

// MustFail sends r and requires an error answer with status and code, returning the error body.
func MustFail(tb testing.TB, baseURL string, r request, status int, code string) apiError {
	tb.Helper()
	var e apiError
	resp := MustDo(tb, baseURL, r, status, &e)
	require.Equal(tb, code, e.Error.Code, "%s", resp.Body)
	require.NotEmpty(tb, e.Error.Message, "%s", resp.Body)
	require.Contains(tb, resp.Header.Get("Content-Type"), "application/json")
	return e
}

// authBody is what register and login answer.
type authBody struct {
	Token        string            `json:"token"`
	User         jack.User         `json:"user"`
	Organization jack.Organization `json:"organization"`
}

// testPassword is every test user's password.
const testPassword = "correct horse battery"

// MustRegister registers a new organization with a unique owner email and returns the owner's
// token, user and organization.
func MustRegister(tb testing.TB, baseURL string) (string, jack.User, jack.Organization) {
	tb.Helper()
	var out authBody
	MustDo(tb, baseURL, request{Method: "POST", Path: "/api/auth/register", Body: map[string]string{
		"email":            uniqueEmail("owner"),
		"password":         testPassword,
		"fullName":         "Olive Owner",
		"organizationName": "Premium Auto Sales",
	}}, http.StatusCreated, &out)
	require.NotEmpty(tb, out.Token)
	return out.Token, out.User, out.Organization
}

// MustCreateUser has an admin create a staff member with role and signs them in.
func MustCreateUser(tb testing.TB, baseURL, adminToken string, role jack.Role) (string, jack.User) {
	tb.Helper()
	email := uniqueEmail(string(role))
	var u jack.User
	MustDo(tb, baseURL, request{Method: "POST", Path: "/api/users", Token: adminToken, Body: map[string]string{
		"email": email, "password": testPassword, "fullName": "Sam Staff", "role": string(role),
	}}, http.StatusCreated, &u)
	return MustLogin(tb, baseURL, email, testPassword), u
}

// MustLogin signs in and returns the token.
func MustLogin(tb testing.TB, baseURL, email, password string) string {
	tb.Helper()
	var out authBody
	MustDo(tb, baseURL, request{Method: "POST", Path: "/api/auth/login",
		Body: map[string]string{"email": email, "password": password}}, http.StatusOK, &out)
	return out.Token
}

// MustCreateLead creates a lead with the given phone and returns it.
func MustCreateLead(tb testing.TB, baseURL, token, name, phone string) jack.Lead {
	tb.Helper()
	var lead jack.Lead
	MustDo(tb, baseURL, request{Method: "POST", Path: "/api/leads", Token: token,
		Body: map[string]string{"customerName": name, "phoneNumber": phone}}, http.StatusCreated, &lead)
	return lead
}

// MustListLeads returns every lead of the token's organization (one large page).
func MustListLeads(tb testing.TB, baseURL, token string) []jack.Lead {
	tb.Helper()
	var page struct {
		Leads []jack.Lead `json:"leads"`
	}
	MustDo(tb, baseURL, request{Method: "GET", Path: "/api/leads?limit=200", Token: token}, http.StatusOK, &page)
	return page.Leads
}

var emailSeq atomic.Int64

func uniqueEmail(prefix string) string {
	return fmt.Sprintf("%s-%d-%s@dealer.example.com", prefix, emailSeq.Add(1), uuid.NewString()[:8])
}

// testPhone returns a distinct valid US number in E.164 for n in [0, 100).
func testPhone(n int) string { return fmt.Sprintf("+1201555%04d", 100+n) }
