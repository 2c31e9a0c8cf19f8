package http_test

import (
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/stretchr/testify/require"

	"github.com/jack-auto/jack"
	jackhttp "github.com/jack-auto/jack/http"
)

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

// badTokens are tokens for u that must all be refused, by name.
func badTokens(tb testing.TB, u jack.User, now time.Time) map[string]string {
	tb.Helper()
	claims := func(exp time.Time) jwt.MapClaims {
		return jwt.MapClaims{"userId": u.ID.String(), "email": u.Email, "organizationId": u.OrganizationID.String(),
			"role": string(u.Role), "iat": now.Unix(), "exp": exp.Unix()}
	}
	sign := func(method jwt.SigningMethod, key any, c jwt.Claims) string {
		tok, err := jwt.NewWithClaims(method, c).SignedString(key)
		require.NoError(tb, err)
		return tok
	}
	noExp := claims(now)
	delete(noExp, "exp")
	badRole := claims(now.Add(time.Hour))
	badRole["role"] = "superuser"

	return map[string]string{
		"AlgNone":     sign(jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType, claims(now.Add(time.Hour))),
		"WrongSecret": sign(jwt.SigningMethodHS256, []byte("another-secret-another-secret-another"), claims(now.Add(time.Hour))),
		"Expired":     sign(jwt.SigningMethodHS256, testSecret, claims(now.Add(-time.Minute))),
		"NoExpiry":    sign(jwt.SigningMethodHS256, testSecret, noExp),
		"HS512":       sign(jwt.SigningMethodHS512, testSecret, claims(now.Add(time.Hour))),
		"BadRole":     sign(jwt.SigningMethodHS256, testSecret, badRole),
		"Garbage":     "not-a-token",
		"Truncated":   sign(jwt.SigningMethodHS256, testSecret, claims(now.Add(time.Hour)))[:40],
	}
}

// A token expires after JWTTTL.
func TestToken_Expires(t *testing.T) {
	t.Parallel()
	s := MustOpenServer(t, nil)
	token, _, _ := MustRegister(t, s.URL)
	s.Clock.Advance(jackhttp.DefaultJWTTTL - time.Minute)
	MustDo(t, s.URL, request{Method: "GET", Path: "/api/me", Token: token}, http.StatusOK, nil)
	s.Clock.Advance(2 * time.Minute)
	MustFail(t, s.URL, request{Method: "GET", Path: "/api/me", Token: token}, http.StatusUnauthorized, jack.EUNAUTHORIZED)
}

func TestLogin(t *testing.T) {
	t.Parallel()

	t.Run("ErrBadCredentials", func(t *testing.T) {
		t.Parallel()
		s := MustOpenServer(t, nil)
		_, owner, _ := MustRegister(t, s.URL)
		wrong := MustFail(t, s.URL, loginRequest(owner.Email, "wrong password", ""), http.StatusUnauthorized, jack.EUNAUTHORIZED)
		unknown := MustFail(t, s.URL, loginRequest(uniqueEmail("nobody"), testPassword, ""), http.StatusUnauthorized, jack.EUNAUTHORIZED)
		require.Equal(t, wrong.Error.Message, unknown.Error.Message, "no user enumeration")
		e := MustFail(t, s.URL, request{Method: "POST", Path: "/api/auth/login", Body: map[string]string{}}, http.StatusUnprocessableEntity, jack.EUNPROCESSABLE)
		require.Contains(t, e.Error.Fields, "email")
		require.Contains(t, e.Error.Fields, "password")
	})

	// After LoginMaxFailures failures of one account from one address, that address waits
	// longer and longer (1s, 2s, 4s …) between guesses; the right password from another
	// address still gets in at once (issue 15, item 4).
	t.Run("GrowingDelaysPerAccountAndIP", func(t *testing.T) {
		t.Parallel()
		s := MustOpenServer(t, nil, behindProxy)
		_, owner, _ := MustRegister(t, s.URL)
		attacker := ip(1)
		for range jackhttp.DefaultLoginMaxFailures {
			MustFail(t, s.URL, loginRequest(owner.Email, "wrong password", attacker), http.StatusUnauthorized, jack.EUNAUTHORIZED)
		}
		for _, delay := range []int{1, 2, 4, 8} {
			resp := Do(t, s.URL, loginRequest(owner.Email, testPassword, attacker))
			require.Equal(t, http.StatusTooManyRequests, resp.Status, "%s", resp.Body)
			require.Contains(t, string(resp.Body), `"code":"rate_limited"`)
			retry, err := strconv.Atoi(resp.Header.Get("Retry-After"))
			require.NoError(t, err)
			require.Equal(t, delay, retry)
			// The address is normalized: case and spaces do not dodge the limit.
			MustFail(t, s.URL, loginRequest("  "+strings.ToUpper(owner.Email), "wrong password", attacker), http.StatusTooManyRequests, jack.ERATELIMIT)
			s.Clock.Advance(time.Duration(delay) * time.Second)
			MustFail(t, s.URL, loginRequest(owner.Email, "wrong password", attacker), http.StatusUnauthorized, jack.EUNAUTHORIZED)
		}
		// The owner, typing the right password from another address, is not locked out.
		MustDo(t, s.URL, loginRequest(owner.Email, testPassword, ip(2)), http.StatusOK, nil)
		// The attacker's other guesses (other accounts) are not slowed either, below the IP cap.
		MustFail(t, s.URL, loginRequest(uniqueEmail("other"), testPassword, attacker), http.StatusUnauthorized, jack.EUNAUTHORIZED)
		s.Clock.Advance(jackhttp.DefaultLoginWindow)
		MustDo(t, s.URL, loginRequest(owner.Email, testPassword, attacker), http.StatusOK, nil)
	})

	// One IP spraying guesses across many accounts meets the looser per-IP cap.
	t.Run("IPCap", func(t *testing.T) {
		t.Parallel()
		s := MustOpenServer(t, nil, func(cfg *jackhttp.Config) { cfg.LoginIPMaxFailures = 8 })
		_, owner, _ := MustRegister(t, s.URL)
		for range 8 {
			MustFail(t, s.URL, loginRequest(uniqueEmail("guess"), testPassword, ""), http.StatusUnauthorized, jack.EUNAUTHORIZED)
		}
		MustFail(t, s.URL, loginRequest(owner.Email, testPassword, ""), http.StatusTooManyRequests, jack.ERATELIMIT)
		s.Clock.Advance(jackhttp.DefaultLoginWindow)
		MustDo(t, s.URL, loginRequest(owner.Email, testPassword, ""), http.StatusOK, nil)
	})

	// Without trusted proxies, X-Forwarded-For is not believed: a client cannot dodge its
	// limit by inventing addresses, nor lock out a victim's address.
	t.Run("ForwardedForIgnoredWithoutTrustedProxies", func(t *testing.T) {
		t.Parallel()
		s := MustOpenServer(t, nil)
		_, owner, _ := MustRegister(t, s.URL)
		for i := range jackhttp.DefaultLoginMaxFailures {
			MustFail(t, s.URL, loginRequest(owner.Email, "wrong password", ip(i)), http.StatusUnauthorized, jack.EUNAUTHORIZED)
		}
		MustFail(t, s.URL, loginRequest(owner.Email, "wrong password", ip(50)), http.StatusTooManyRequests, jack.ERATELIMIT)
	})

	// Behind a trusted load balancer, everyone shares the balancer's socket address: one
	// client's failures must not lock out the others, so the client is read from the right of
	// X-Forwarded-For (entries a client wrote itself, on the left, are not believed).
	t.Run("BehindLoadBalancerNobodyLocksOutEveryone", func(t *testing.T) {
		t.Parallel()
		s := MustOpenServer(t, nil, behindProxy)
		_, owner, _ := MustRegister(t, s.URL)
		for range jackhttp.DefaultLoginMaxFailures + 3 {
			Do(t, s.URL, loginRequest(owner.Email, "wrong password", ip(66)+", "+ip(7)))
		}
		MustDo(t, s.URL, loginRequest(owner.Email, testPassword, ip(66)+", "+ip(8)), http.StatusOK, nil)
		MustFail(t, s.URL, loginRequest(owner.Email, testPassword, ip(66)+", "+ip(7)), http.StatusTooManyRequests, jack.ERATELIMIT)
	})

	// A success clears the pair's failures.
	t.Run("SuccessResetsPair", func(t *testing.T) {
		t.Parallel()
		s := MustOpenServer(t, nil, behindProxy)
		_, owner, _ := MustRegister(t, s.URL)
		for range 3 {
			for range jackhttp.DefaultLoginMaxFailures - 1 {
				MustFail(t, s.URL, loginRequest(owner.Email, "wrong password", ip(1)), http.StatusUnauthorized, jack.EUNAUTHORIZED)
			}
			MustDo(t, s.URL, loginRequest(owner.Email, testPassword, ip(1)), http.StatusOK, nil)
		}
	})

	// A burst of concurrent guesses cannot pass more than the limit while bcrypt runs.
	t.Run("ConcurrentBurst", func(t *testing.T) {
		t.Parallel()
		s := MustOpenServer(t, nil)
		_, owner, _ := MustRegister(t, s.URL)
		var wg sync.WaitGroup
		statuses := make(chan int, 20)
		for range 20 {
			wg.Go(func() { statuses <- Do(t, s.URL, loginRequest(owner.Email, "wrong password", "")).Status })
		}
		wg.Wait()
		close(statuses)
		count := map[int]int{}
		for st := range statuses {
			count[st]++
		}
		require.Equal(t, jackhttp.DefaultLoginMaxFailures, count[http.StatusUnauthorized], "%v", count)
		require.Equal(t, 20-jackhttp.DefaultLoginMaxFailures, count[http.StatusTooManyRequests], "%v", count)
	})
}

func loginRequest(email, password, clientIP string) request {
	r := request{Method: "POST", Path: "/api/auth/login", Body: map[string]string{"email": email, "password": password}}
	if clientIP != "" {
		r.Headers = map[string]string{"X-Forwarded-For": clientIP}
	}
	return r
}

// behindProxy makes the test client (127.0.0.1) a trusted proxy, so the server reads the client
// IP from X-Forwarded-For and one test can play many clients.
func behindProxy(cfg *jackhttp.Config) { cfg.TrustedProxies = []string{"127.0.0.1/32"} }

func ip(n int) string { return "203.0.113." + strconv.Itoa(n%250+1) }
