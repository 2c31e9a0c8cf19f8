package http_test

import (
	"encoding/json"
	"net/http"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/jack-auto/jack"
	jackhttp "github.com/jack-auto/jack/http"
)

// TestSessions: tokens that can end (issue 15, item 2), on both Stores.
func TestSessions(t *testing.T) {
	t.Parallel()
	for _, st := range stores {
		t.Run(st.name, func(t *testing.T) {
			t.Parallel()
			if st.needsEnv != "" && os.Getenv(st.needsEnv) == "" {
				t.Skipf("%s is not set: the %s Store's tests need it", st.needsEnv, st.name)
			}
			testSessions(t, st.open)
		})
	}
}

func testSessions(t *testing.T, open func(testing.TB) jack.Store) {
	me := func(t *testing.T, s *testServer, token string) int {
		t.Helper()
		return Do(t, s.URL, request{Method: "GET", Path: "/api/me", Token: token}).Status
	}

	t.Run("LogoutRevokesThePresentedToken", func(t *testing.T) {
		t.Parallel()
		s := MustOpenServer(t, open(t))
		token, owner, _ := MustRegister(t, s.URL)
		other := MustLogin(t, s.URL, owner.Email, testPassword)
		require.Equal(t, http.StatusOK, me(t, s, token))
		MustDo(t, s.URL, request{Method: "POST", Path: "/api/auth/logout", Token: token}, http.StatusNoContent, nil)
		MustFail(t, s.URL, request{Method: "GET", Path: "/api/me", Token: token}, http.StatusUnauthorized, jack.EUNAUTHORIZED)
		require.Equal(t, http.StatusOK, me(t, s, other), "only the presented token is revoked")
		MustDo(t, s.URL, request{Method: "POST", Path: "/api/auth/logout", Token: token}, http.StatusNoContent, nil)
	})

	t.Run("PasswordChangeRevokesOtherTokens", func(t *testing.T) {
		t.Parallel()
		s := MustOpenServer(t, open(t))
		token, owner, _ := MustRegister(t, s.URL)
		other := MustLogin(t, s.URL, owner.Email, testPassword)
		MustFail(t, s.URL, request{Method: "POST", Path: "/api/auth/password", Token: token,
			Body: map[string]string{"currentPassword": "wrong password", "newPassword": "a brand new one"}}, http.StatusForbidden, "wrong_password")
		MustFail(t, s.URL, request{Method: "POST", Path: "/api/auth/password", Token: token,
			Body: map[string]string{"currentPassword": testPassword, "newPassword": "short"}}, http.StatusUnprocessableEntity, jack.EUNPROCESSABLE)
		MustDo(t, s.URL, request{Method: "POST", Path: "/api/auth/password", Token: token,
			Body: map[string]string{"currentPassword": testPassword, "newPassword": "a brand new one"}}, http.StatusNoContent, nil)
		require.Equal(t, http.StatusOK, me(t, s, token), "the token presented keeps working")
		require.Equal(t, http.StatusUnauthorized, me(t, s, other))
		MustFail(t, s.URL, request{Method: "POST", Path: "/api/auth/login", Body: map[string]string{"email": owner.Email, "password": testPassword}},
			http.StatusUnauthorized, jack.EUNAUTHORIZED)
		MustLogin(t, s.URL, owner.Email, "a brand new one")
	})

	t.Run("DeactivateAndReactivate", func(t *testing.T) {
		t.Parallel()
		s := MustOpenServer(t, open(t))
		owner, _, _ := MustRegister(t, s.URL)
		agent, u := MustCreateUser(t, s.URL, owner, jack.RoleAgent)
		require.Equal(t, http.StatusOK, me(t, s, agent))
		var got jack.User
		MustDo(t, s.URL, request{Method: "PATCH", Path: "/api/users/" + u.ID.String(), Token: owner, Body: map[string]any{"active": false}}, http.StatusOK, &got)
		require.False(t, got.Active)
		require.Equal(t, http.StatusUnauthorized, me(t, s, agent), "revoked at once")
		MustFail(t, s.URL, request{Method: "POST", Path: "/api/auth/login", Body: map[string]string{"email": u.Email, "password": testPassword}},
			http.StatusUnauthorized, jack.EUNAUTHORIZED)
		MustDo(t, s.URL, request{Method: "PATCH", Path: "/api/users/" + u.ID.String(), Token: owner, Body: map[string]any{"active": true}}, http.StatusOK, &got)
		require.True(t, got.Active)
		require.Equal(t, http.StatusUnauthorized, me(t, s, agent), "old tokens stay revoked")
		require.Equal(t, http.StatusOK, me(t, s, MustLogin(t, s.URL, u.Email, testPassword)))
	})

	t.Run("RemovedAdminCannotCreateAdmins", func(t *testing.T) {
		t.Parallel()
		s := MustOpenServer(t, open(t))
		owner, _, _ := MustRegister(t, s.URL)
		admin, u := MustCreateUser(t, s.URL, owner, jack.RoleAdmin)
		MustDo(t, s.URL, request{Method: "DELETE", Path: "/api/users/" + u.ID.String(), Token: owner}, http.StatusNoContent, nil)
		MustFail(t, s.URL, request{Method: "POST", Path: "/api/users", Token: admin, Body: map[string]string{
			"email": uniqueEmail("x"), "password": testPassword, "fullName": "Mallory", "role": "admin"}}, http.StatusUnauthorized, jack.EUNAUTHORIZED)
		MustFail(t, s.URL, request{Method: "DELETE", Path: "/api/users/" + u.ID.String(), Token: owner}, http.StatusNotFound, jack.ENOTFOUND)
	})

	t.Run("RoleChangeAppliesToIssuedTokens", func(t *testing.T) {
		t.Parallel()
		s := MustOpenServer(t, open(t))
		owner, _, _ := MustRegister(t, s.URL)
		admin, u := MustCreateUser(t, s.URL, owner, jack.RoleAdmin)
		MustDo(t, s.URL, request{Method: "GET", Path: "/api/leads/import", Token: admin}, http.StatusNotFound, nil) // warm the cache
		MustDo(t, s.URL, request{Method: "PATCH", Path: "/api/users/" + u.ID.String(), Token: owner, Body: map[string]any{"role": "agent"}}, http.StatusOK, nil)
		MustFail(t, s.URL, request{Method: "POST", Path: "/api/users", Token: admin, Body: map[string]string{
			"email": uniqueEmail("x"), "password": testPassword, "fullName": "Mallory"}}, http.StatusForbidden, jack.EFORBIDDEN)
		MustFail(t, s.URL, request{Method: "PATCH", Path: "/api/users/" + u.ID.String(), Token: admin, Body: map[string]any{"role": "owner"}},
			http.StatusForbidden, jack.EFORBIDDEN)
	})

	t.Run("OrganizationKeepsAnAdmin", func(t *testing.T) {
		t.Parallel()
		s := MustOpenServer(t, open(t))
		owner, o, _ := MustRegister(t, s.URL)
		MustFail(t, s.URL, request{Method: "PATCH", Path: "/api/users/" + o.ID.String(), Token: owner, Body: map[string]any{"role": "agent"}},
			http.StatusConflict, jack.ReasonLastAdmin)
		MustFail(t, s.URL, request{Method: "DELETE", Path: "/api/users/" + o.ID.String(), Token: owner}, http.StatusConflict, jack.ReasonLastAdmin)
		MustCreateUser(t, s.URL, owner, jack.RoleAdmin)
		MustDo(t, s.URL, request{Method: "PATCH", Path: "/api/users/" + o.ID.String(), Token: owner, Body: map[string]any{"active": false}}, http.StatusOK, nil)
		require.Equal(t, http.StatusUnauthorized, me(t, s, owner), "with another admin, the owner may step down")
	})

	t.Run("ErrOtherOrganization", func(t *testing.T) {
		t.Parallel()
		s := MustOpenServer(t, open(t))
		owner, _, _ := MustRegister(t, s.URL)
		_, victim, _ := MustRegister(t, s.URL)
		MustFail(t, s.URL, request{Method: "DELETE", Path: "/api/users/" + victim.ID.String(), Token: owner}, http.StatusNotFound, jack.ENOTFOUND)
		MustFail(t, s.URL, request{Method: "PATCH", Path: "/api/users/" + victim.ID.String(), Token: owner, Body: map[string]any{"active": false}}, http.StatusNotFound, jack.ENOTFOUND)
		MustFail(t, s.URL, request{Method: "PATCH", Path: "/api/users/not-a-uuid", Token: owner, Body: map[string]any{"active": false}}, http.StatusNotFound, jack.ENOTFOUND)
	})

	// Two nodes over one Store, each trusting a cached session for an hour: a deactivation or a
	// logout on one node stops the token on the other at once (the broker tells it), with the
	// in-process broker and with Redis (each node its own connection).
	for _, br := range brokers {
		t.Run("RevokedOnEveryNode/"+br.name, func(t *testing.T) {
			t.Parallel()
			if br.needsEnv != "" && os.Getenv(br.needsEnv) == "" {
				t.Skipf("%s is not set: the %s broker's tests need it", br.needsEnv, br.name)
			}
			store := open(t)
			shared := br.open(t)
			nodeBroker := func() jack.Broker {
				if br.name == "Memory" {
					return shared // in-process: the nodes must share it to hear each other
				}
				return br.open(t)
			}
			long := func(cfg *jackhttp.Config) { cfg.SessionCacheTTL = time.Hour }
			a := MustOpenServerWithBroker(t, store, nodeBroker(), long)
			b := MustOpenServerWithBroker(t, store, nodeBroker(), long)
			owner, _, _ := MustRegister(t, a.URL)
			agent, u := MustCreateUser(t, a.URL, owner, jack.RoleAgent)
			require.Equal(t, http.StatusOK, me(t, b, agent), "node b caches the session")
			MustDo(t, a.URL, request{Method: "PATCH", Path: "/api/users/" + u.ID.String(), Token: owner, Body: map[string]any{"active": false}}, http.StatusOK, nil)
			waitUntil(t, 5*time.Second, "node b refuses the token", func() bool { return me(t, b, agent) == http.StatusUnauthorized })

			other, _ := MustCreateUser(t, a.URL, owner, jack.RoleAgent)
			require.Equal(t, http.StatusOK, me(t, b, other))
			MustDo(t, a.URL, request{Method: "POST", Path: "/api/auth/logout", Token: other}, http.StatusNoContent, nil)
			waitUntil(t, 5*time.Second, "node b refuses the logged-out token", func() bool { return me(t, b, other) == http.StatusUnauthorized })
		})
	}
}

// TestRoleMatrix walks every route of the matrix with every role: an admitted role passes
// authorization (whatever the handler then answers), any other gets 403 (issue 15, item 3).
func TestRoleMatrix(t *testing.T) {
	t.Parallel()
	s := MustOpenServer(t, nil)
	owner, _, org := MustRegister(t, s.URL)
	admin, _ := MustCreateUser(t, s.URL, owner, jack.RoleAdmin)
	agent, _ := MustCreateUser(t, s.URL, owner, jack.RoleAgent)
	tokens := map[jack.Role]string{jack.RoleOwner: owner, jack.RoleAdmin: admin, jack.RoleAgent: agent}
	params := strings.NewReplacer(":id", "00000000-0000-0000-0000-0000000000aa", ":orgId", org.ID.String(), ":phone", "%2B12015550100", ":n", "0")
	client := &http.Client{Timeout: 10 * time.Second}
	routes := jackhttp.RouteTable(s.Server)
	require.NotEmpty(t, routes)
	for _, rt := range routes {
		for _, role := range []jack.Role{jack.RoleOwner, jack.RoleAdmin, jack.RoleAgent} {
			if rt.Access == jackhttp.Public || rt.Access == jackhttp.Webhook {
				continue
			}
			method := rt.Method
			if rt.Path == "/api/stream" {
				method = http.MethodHead // the stream itself would not end
			}
			req, err := http.NewRequest(method, s.URL+params.Replace(rt.Path), strings.NewReader("{}"))
			require.NoError(t, err)
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("Authorization", "Bearer "+tokens[role])
			resp, err := client.Do(req)
			require.NoError(t, err)
			var e apiError
			_ = json.NewDecoder(resp.Body).Decode(&e)
			resp.Body.Close()
			name := string(role) + " " + rt.Method + " " + rt.Path
			if slices.Contains(rt.Access.Roles(), role) {
				require.NotEqual(t, http.StatusUnauthorized, resp.StatusCode, name)
				require.False(t, resp.StatusCode == http.StatusForbidden && e.Error.Code == jack.EFORBIDDEN, "%s: %s", name, e.Error.Message)
			} else {
				require.Equal(t, http.StatusForbidden, resp.StatusCode, name)
				require.Equal(t, jack.EFORBIDDEN, e.Error.Code, name)
			}
		}
	}
	// The example: an agent may not delete a lead, an admin may.
	lead := MustCreateLead(t, s.URL, owner, "Del Ete", testPhone(40))
	MustFail(t, s.URL, request{Method: "DELETE", Path: "/api/leads/" + lead.ID, Token: agent}, http.StatusForbidden, jack.EFORBIDDEN)
	MustDo(t, s.URL, request{Method: "DELETE", Path: "/api/leads/" + lead.ID, Token: admin}, http.StatusNoContent, nil)
}
