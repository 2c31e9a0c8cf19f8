package http_test

import (
	"net/http"
	"net/url"
	"os"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/jack-auto/jack"
)

// TestAPI runs the API suite against every Store adapter.
func TestAPI(t *testing.T) {
	t.Parallel()
	for _, st := range stores {
		t.Run(st.name, func(t *testing.T) {
			t.Parallel()
			if st.needsEnv != "" && os.Getenv(st.needsEnv) == "" {
				t.Skipf("%s is not set: skipping the API suite on %s", st.needsEnv, st.name)
			}
			setup := func(t *testing.T) *testServer {
				t.Helper()
				return MustOpenServer(t, st.open(t))
			}
			t.Run("HappyPath", func(t *testing.T) { t.Parallel(); testHappyPath(t, setup(t)) })
			t.Run("OtherOrganizationLead", func(t *testing.T) { t.Parallel(); testOtherOrganizationLead(t, setup(t)) })
			t.Run("OtherOrganizationNamed", func(t *testing.T) { t.Parallel(); testOtherOrganizationNamed(t, setup(t)) })
			t.Run("Tokens", func(t *testing.T) { t.Parallel(); testTokens(t, setup(t)) })
			t.Run("BadInput", func(t *testing.T) { t.Parallel(); testBadInput(t, setup(t)) })
			t.Run("Conflicts", func(t *testing.T) { t.Parallel(); testConflicts(t, setup(t)) })
			t.Run("Roles", func(t *testing.T) { t.Parallel(); testRoles(t, setup(t)) })
			t.Run("Pagination", func(t *testing.T) { t.Parallel(); testPagination(t, setup(t)) })
			t.Run("Filters", func(t *testing.T) { t.Parallel(); testFilters(t, setup(t)) })
			t.Run("Organization", func(t *testing.T) { t.Parallel(); testOrganization(t, setup(t)) })
			t.Run("PhoneNumbers", func(t *testing.T) { t.Parallel(); testPhoneNumbers(t, setup(t)) })
		})
	}
}

// register → login → create lead → list → get → patch → delete.
func testHappyPath(t *testing.T, s *testServer) {
	email := uniqueEmail("Happy")
	var reg authBody
	MustDo(t, s.URL, request{Method: "POST", Path: "/api/auth/register", Body: map[string]string{
		"email": "  " + strings.ToUpper(email) + " ", "password": testPassword, "fullName": "Hap Py", "organizationName": "Happy Motors",
	}}, http.StatusCreated, &reg)
	require.Equal(t, strings.ToLower(email), reg.User.Email)
	require.Equal(t, jack.RoleOwner, reg.User.Role)
	require.Equal(t, reg.Organization.ID, reg.User.OrganizationID)
	require.Equal(t, "US", reg.Organization.Settings.DefaultRegion)
	require.NotContains(t, MustDo(t, s.URL, request{Method: "GET", Path: "/api/me", Token: reg.Token}, http.StatusOK, nil).Body, "password")

	token := MustLogin(t, s.URL, strings.ToUpper(email), testPassword)
	var me struct {
		User         jack.User         `json:"user"`
		Organization jack.Organization `json:"organization"`
	}
	MustDo(t, s.URL, request{Method: "GET", Path: "/api/me", Token: token}, http.StatusOK, &me)
	require.Equal(t, reg.User.ID, me.User.ID)
	require.Equal(t, "Happy Motors", me.Organization.Name)

	var lead jack.Lead
	resp := MustDo(t, s.URL, request{Method: "POST", Path: "/api/leads", Token: token, Body: map[string]any{
		"customerName": "Carla Customer", "phoneNumber": "(201) 555-0142", "email": "Carla@Example.com",
		"assignedTo": me.User.ID, "vehiclePreference": "SUV", "creditKnownIssues": []string{"late payment"},
	}}, http.StatusCreated, &lead)
	require.Equal(t, "+12015550142", lead.PhoneNumberNormalized)
	require.Equal(t, "carla@example.com", lead.Email)
	require.Equal(t, jack.ChaseNew, lead.ChaseStatus)
	require.Equal(t, &me.User.ID, lead.CreatedBy)
	require.Equal(t, &me.User.ID, lead.AssignedTo)
	require.Equal(t, []string{"late payment"}, lead.CreditKnownIssues)
	require.Equal(t, `"`+itoa(lead.Version)+`"`, resp.Header.Get("ETag"))

	leads := MustListLeads(t, s.URL, token)
	require.Len(t, leads, 1)
	require.Equal(t, lead.ID, leads[0].ID)

	var got jack.Lead
	MustDo(t, s.URL, request{Method: "GET", Path: "/api/leads/" + lead.ID, Token: token}, http.StatusOK, &got)
	require.Equal(t, lead.ID, got.ID)
	require.Equal(t, "SUV", got.VehiclePreference)

	var patched jack.Lead
	MustDo(t, s.URL, request{Method: "PATCH", Path: "/api/leads/" + lead.ID, Token: token,
		Headers: map[string]string{"If-Match": `"` + itoa(got.Version) + `"`},
		Body:    `{"chaseStatus":"engaged","assignedTo":null,"budgetRange":"20-30k"}`}, http.StatusOK, &patched)
	require.Equal(t, jack.ChaseEngaged, patched.ChaseStatus)
	require.Nil(t, patched.AssignedTo)
	require.Equal(t, "20-30k", patched.BudgetRange)
	require.Equal(t, "SUV", patched.VehiclePreference)
	require.Greater(t, patched.Version, got.Version)

	// The version the client saw is stale now: in the body or as If-Match.
	MustFail(t, s.URL, request{Method: "PATCH", Path: "/api/leads/" + lead.ID, Token: token,
		Body: map[string]any{"chaseStatus": "won", "version": got.Version}}, http.StatusConflict, jack.ECONFLICT)
	MustFail(t, s.URL, request{Method: "PATCH", Path: "/api/leads/" + lead.ID, Token: token,
		Headers: map[string]string{"If-Match": `"` + itoa(got.Version) + `"`},
		Body:    map[string]any{"chaseStatus": "won"}}, http.StatusConflict, jack.ECONFLICT)

	var msgs struct {
		Messages   []jack.Message `json:"messages"`
		NextCursor *string        `json:"nextCursor"`
	}
	resp = MustDo(t, s.URL, request{Method: "GET", Path: "/api/leads/" + lead.ID + "/messages", Token: token}, http.StatusOK, &msgs)
	require.Contains(t, string(resp.Body), `"messages":[]`)

	MustDo(t, s.URL, request{Method: "DELETE", Path: "/api/leads/" + lead.ID, Token: token}, http.StatusNoContent, nil)
	MustFail(t, s.URL, request{Method: "GET", Path: "/api/leads/" + lead.ID, Token: token}, http.StatusNotFound, jack.ENOTFOUND)
	MustFail(t, s.URL, request{Method: "GET", Path: "/api/leads/" + lead.ID + "/messages", Token: token}, http.StatusNotFound, jack.ENOTFOUND)
	require.Empty(t, MustListLeads(t, s.URL, token))
}

// Org A's token gets 404 for org B's lead on get, patch, delete and messages, and B's lead is
// unchanged afterwards.
func testOtherOrganizationLead(t *testing.T, s *testServer) {
	tokenA, _, _ := MustRegister(t, s.URL)
	tokenB, _, _ := MustRegister(t, s.URL)
	leadB := MustCreateLead(t, s.URL, tokenB, "Bea B", testPhone(1))
	MustCreateLead(t, s.URL, tokenA, "Al A", testPhone(1)) // the same customer, a different dealership

	path := "/api/leads/" + leadB.ID
	MustFail(t, s.URL, request{Method: "GET", Path: path, Token: tokenA}, http.StatusNotFound, jack.ENOTFOUND)
	MustFail(t, s.URL, request{Method: "PATCH", Path: path, Token: tokenA, Body: map[string]string{"customerName": "Hijacked"}}, http.StatusNotFound, jack.ENOTFOUND)
	MustFail(t, s.URL, request{Method: "DELETE", Path: path, Token: tokenA}, http.StatusNotFound, jack.ENOTFOUND)
	MustFail(t, s.URL, request{Method: "GET", Path: path + "/messages", Token: tokenA}, http.StatusNotFound, jack.ENOTFOUND)

	var after jack.Lead
	MustDo(t, s.URL, request{Method: "GET", Path: path, Token: tokenB}, http.StatusOK, &after)
	require.Equal(t, "Bea B", after.CustomerName)
	require.Equal(t, leadB.Version, after.Version)
	require.Len(t, MustListLeads(t, s.URL, tokenA), 1)
	require.Len(t, MustListLeads(t, s.URL, tokenB), 1)
}

// A token naming another organization in a header, the query or the path gets 403; naming its
// own is fine.
func testOtherOrganizationNamed(t *testing.T, s *testServer) {
	tokenA, _, orgA := MustRegister(t, s.URL)
	_, _, orgB := MustRegister(t, s.URL)
	b := orgB.ID.String()

	for _, r := range []request{
		{Method: "GET", Path: "/api/leads", Headers: map[string]string{"organizationId": b}},
		{Method: "GET", Path: "/api/leads", Headers: map[string]string{"X-Organization-Id": b}},
		{Method: "GET", Path: "/api/leads?organizationId=" + b},
		{Method: "GET", Path: "/api/leads?organizationId=not-a-uuid"},
		{Method: "GET", Path: "/api/organizations/" + b + "/phone-numbers"},
		{Method: "POST", Path: "/api/organizations/" + b + "/phone-numbers", Body: map[string]string{"phoneNumber": testPhone(2), "twilioPhoneSid": "PN1"}},
		{Method: "POST", Path: "/api/leads", Headers: map[string]string{"X-Organization-Id": b}, Body: map[string]string{"customerName": "X", "phoneNumber": testPhone(3)}},
	} {
		r.Token = tokenA
		MustFail(t, s.URL, r, http.StatusForbidden, jack.EFORBIDDEN)
	}
	require.Empty(t, MustListLeads(t, s.URL, tokenA))

	a := orgA.ID.String()
	MustDo(t, s.URL, request{Method: "GET", Path: "/api/leads?organizationId=" + a, Token: tokenA,
		Headers: map[string]string{"organizationId": strings.ToUpper(a)}}, http.StatusOK, nil)
	var numbers struct {
		PhoneNumbers   []jack.PhoneNumber `json:"phoneNumbers"`
		OrganizationID string             `json:"organizationId"`
	}
	resp := MustDo(t, s.URL, request{Method: "GET", Path: "/api/organizations/" + a + "/phone-numbers", Token: tokenA}, http.StatusOK, &numbers)
	require.Equal(t, a, numbers.OrganizationID)
	require.Contains(t, string(resp.Body), `"phoneNumbers":[]`)
}

// alg:none, another secret, expired, other algorithms and garbage are all 401 unauthorized.
func testTokens(t *testing.T, s *testServer) {
	token, user, _ := MustRegister(t, s.URL)
	MustDo(t, s.URL, request{Method: "GET", Path: "/api/leads", Token: token}, http.StatusOK, nil)

	for name, bad := range badTokens(t, user, s.Clock.Now()) {
		t.Run(name, func(t *testing.T) {
			e := MustFail(t, s.URL, request{Method: "GET", Path: "/api/leads", Token: bad}, http.StatusUnauthorized, jack.EUNAUTHORIZED)
			require.NotContains(t, e.Error.Message, "signature", "no token internals in messages")
		})
	}
	resp := Do(t, s.URL, request{Method: "GET", Path: "/api/me"})
	require.Equal(t, http.StatusUnauthorized, resp.Status)
	require.Contains(t, resp.Header.Get("WWW-Authenticate"), "Bearer")
	MustFail(t, s.URL, request{Method: "GET", Path: "/api/me", Headers: map[string]string{"Authorization": "Basic " + token}}, http.StatusUnauthorized, jack.EUNAUTHORIZED)
}

// Bad input gets the documented error shape and changes nothing.
func testBadInput(t *testing.T, s *testServer) {
	token, _, _ := MustRegister(t, s.URL)
	otherToken, otherUser, _ := MustRegister(t, s.URL)
	_ = otherToken
	lead := MustCreateLead(t, s.URL, token, "Kept Lead", testPhone(10))
	before := MustListLeads(t, s.URL, token)

	post := func(body any) request { return request{Method: "POST", Path: "/api/leads", Token: token, Body: body} }
	MustFail(t, s.URL, post(`{"customerName": "Broken",`), http.StatusBadRequest, jack.EINVALID)
	MustFail(t, s.URL, post(`[1,2]`), http.StatusBadRequest, jack.EINVALID)
	MustFail(t, s.URL, post(``), http.StatusBadRequest, jack.EINVALID)
	MustFail(t, s.URL, post(`{"customerName":"A","phoneNumber":"+12015550199"} {}`), http.StatusBadRequest, jack.EINVALID)

	e := MustFail(t, s.URL, post(map[string]string{}), http.StatusUnprocessableEntity, jack.EUNPROCESSABLE)
	require.Equal(t, "is required", e.Error.Fields["customerName"])
	require.Equal(t, "is required", e.Error.Fields["phoneNumber"])

	e = MustFail(t, s.URL, post(map[string]string{"customerName": "Ann", "phoneNumber": "12345"}), http.StatusUnprocessableEntity, jack.EUNPROCESSABLE)
	require.Equal(t, map[string]string{"phoneNumber": "is not a valid phone number"}, e.Error.Fields)

	e = MustFail(t, s.URL, post(map[string]any{"customerName": "Ann", "phoneNumber": testPhone(11), "chaseStatus": "hot", "email": "nope", "assignedTo": otherUser.ID}),
		http.StatusUnprocessableEntity, jack.EUNPROCESSABLE)
	require.Contains(t, e.Error.Fields, "chaseStatus")
	require.Contains(t, e.Error.Fields, "email")
	require.Equal(t, "is not a user of this organization", e.Error.Fields["assignedTo"])

	e = MustFail(t, s.URL, post(map[string]any{"customerName": "Ann", "phoneNumber": testPhone(11), "favouriteColour": "red"}), http.StatusUnprocessableEntity, jack.EUNPROCESSABLE)
	require.Contains(t, e.Error.Fields, "favouriteColour")
	e = MustFail(t, s.URL, post(map[string]any{"customerName": 42, "phoneNumber": testPhone(11)}), http.StatusUnprocessableEntity, jack.EUNPROCESSABLE)
	require.Equal(t, "must be a string", e.Error.Fields["customerName"])

	big := `{"customerName":"` + strings.Repeat("x", 2<<20) + `","phoneNumber":"` + testPhone(12) + `"}`
	e = MustFail(t, s.URL, post(big), http.StatusRequestEntityTooLarge, jack.ETOOLARGE)
	require.Contains(t, e.Error.Message, "1 MiB")

	patch := func(body any) request {
		return request{Method: "PATCH", Path: "/api/leads/" + lead.ID, Token: token, Body: body}
	}
	e = MustFail(t, s.URL, patch(map[string]string{"phoneNumber": testPhone(13)}), http.StatusUnprocessableEntity, jack.EUNPROCESSABLE)
	require.Equal(t, "cannot change; create a new lead", e.Error.Fields["phoneNumber"])
	MustFail(t, s.URL, patch(map[string]string{"sentiment": "ecstatic"}), http.StatusUnprocessableEntity, jack.EUNPROCESSABLE)
	MustFail(t, s.URL, patch(map[string]string{"customerName": " "}), http.StatusUnprocessableEntity, jack.EUNPROCESSABLE)
	MustFail(t, s.URL, patch(`{"customerName":`), http.StatusBadRequest, jack.EINVALID)
	MustFail(t, s.URL, request{Method: "PATCH", Path: "/api/leads/" + lead.ID, Token: token, Body: map[string]string{"customerName": "X"},
		Headers: map[string]string{"If-Match": "yesterday"}}, http.StatusBadRequest, jack.EINVALID)

	MustFail(t, s.URL, request{Method: "GET", Path: "/api/leads?sort=random", Token: token}, http.StatusBadRequest, jack.EINVALID)
	MustFail(t, s.URL, request{Method: "GET", Path: "/api/leads?limit=-1", Token: token}, http.StatusBadRequest, jack.EINVALID)
	MustFail(t, s.URL, request{Method: "GET", Path: "/api/leads?status=hot", Token: token}, http.StatusBadRequest, jack.EINVALID)
	MustFail(t, s.URL, request{Method: "GET", Path: "/api/leads?assignedTo=bob", Token: token}, http.StatusBadRequest, jack.EINVALID)
	MustFail(t, s.URL, request{Method: "GET", Path: "/api/leads?cursor=garbage", Token: token}, http.StatusBadRequest, jack.EINVALID)

	require.Equal(t, before, MustListLeads(t, s.URL, token), "bad input changed nothing")
}

// Duplicates are 409: a lead's phone within an organization, an email anywhere.
func testConflicts(t *testing.T, s *testServer) {
	token, owner, _ := MustRegister(t, s.URL)
	MustCreateLead(t, s.URL, token, "First", testPhone(20))
	MustFail(t, s.URL, request{Method: "POST", Path: "/api/leads", Token: token,
		Body: map[string]string{"customerName": "Again", "phoneNumber": "201-555-0120"}}, http.StatusConflict, jack.ECONFLICT)
	require.Len(t, MustListLeads(t, s.URL, token), 1)

	MustFail(t, s.URL, request{Method: "POST", Path: "/api/auth/register", Body: map[string]string{
		"email": strings.ToUpper(owner.Email), "password": testPassword, "fullName": "Copy Cat", "organizationName": "Copy Motors",
	}}, http.StatusConflict, jack.ECONFLICT)
	MustFail(t, s.URL, request{Method: "POST", Path: "/api/users", Token: token, Body: map[string]string{
		"email": owner.Email, "password": testPassword, "fullName": "Copy Cat",
	}}, http.StatusConflict, jack.ECONFLICT)
}

// Agents work leads but cannot administer; only admin and agent accounts can be created.
func testRoles(t *testing.T, s *testServer) {
	ownerToken, _, org := MustRegister(t, s.URL)
	adminToken, admin := MustCreateUser(t, s.URL, ownerToken, jack.RoleAdmin)
	agentToken, agent := MustCreateUser(t, s.URL, adminToken, jack.RoleAgent)
	require.Equal(t, jack.RoleAdmin, admin.Role)
	require.Equal(t, jack.RoleAgent, agent.Role)
	require.Equal(t, org.ID, agent.OrganizationID)

	newUser := map[string]string{"email": uniqueEmail("x"), "password": testPassword, "fullName": "New Hire"}
	MustFail(t, s.URL, request{Method: "POST", Path: "/api/users", Token: agentToken, Body: newUser}, http.StatusForbidden, jack.EFORBIDDEN)
	MustFail(t, s.URL, request{Method: "PATCH", Path: "/api/organization", Token: agentToken, Body: map[string]string{"name": "Mine"}}, http.StatusForbidden, jack.EFORBIDDEN)
	MustFail(t, s.URL, request{Method: "POST", Path: "/api/organizations/" + org.ID.String() + "/phone-numbers", Token: agentToken,
		Body: map[string]string{"phoneNumber": testPhone(30), "twilioPhoneSid": "PN30"}}, http.StatusForbidden, jack.EFORBIDDEN)
	MustFail(t, s.URL, request{Method: "POST", Path: "/api/admin/phone-numbers/" + url.PathEscape(testPhone(30)) + "/activate", Token: agentToken,
		Body: map[string]string{"elevenLabsPhoneId": "el"}}, http.StatusForbidden, jack.EFORBIDDEN)

	var users struct {
		Users []jack.User `json:"users"`
	}
	MustDo(t, s.URL, request{Method: "GET", Path: "/api/users", Token: agentToken}, http.StatusOK, &users)
	require.Len(t, users.Users, 3)
	MustCreateLead(t, s.URL, agentToken, "Agent's Lead", testPhone(31))

	owner := map[string]string{"email": uniqueEmail("o"), "password": testPassword, "fullName": "Second Owner", "role": "owner"}
	e := MustFail(t, s.URL, request{Method: "POST", Path: "/api/users", Token: ownerToken, Body: owner}, http.StatusUnprocessableEntity, jack.EUNPROCESSABLE)
	require.Equal(t, "must be admin or agent", e.Error.Fields["role"])
	e = MustFail(t, s.URL, request{Method: "POST", Path: "/api/users", Token: ownerToken,
		Body: map[string]string{"email": "bad", "password": "short"}}, http.StatusUnprocessableEntity, jack.EUNPROCESSABLE)
	require.Contains(t, e.Error.Fields, "email")
	require.Contains(t, e.Error.Fields, "password")
	require.Contains(t, e.Error.Fields, "fullName")
	MustDo(t, s.URL, request{Method: "GET", Path: "/api/users", Token: agentToken}, http.StatusOK, &users)
	require.Len(t, users.Users, 3, "refused users were not created")
}

// Walking the pages visits every lead once, in either order.
func testPagination(t *testing.T, s *testServer) {
	token, _, _ := MustRegister(t, s.URL)
	want := map[string]bool{}
	for i := range 7 {
		want[MustCreateLead(t, s.URL, token, "Lead "+itoa(int64(i)), testPhone(40+i)).ID] = true
	}
	for _, sort := range []string{"created", "activity"} {
		seen := map[string]bool{}
		cursor, pages := "", 0
		for {
			var page struct {
				Leads      []jack.Lead `json:"leads"`
				NextCursor string      `json:"nextCursor"`
			}
			MustDo(t, s.URL, request{Method: "GET", Path: "/api/leads?limit=3&sort=" + sort + "&cursor=" + url.QueryEscape(cursor), Token: token}, http.StatusOK, &page)
			pages++
			require.LessOrEqual(t, len(page.Leads), 3)
			for _, l := range page.Leads {
				require.False(t, seen[l.ID], "lead %s seen twice", l.ID)
				seen[l.ID] = true
			}
			if page.NextCursor == "" {
				break
			}
			require.Less(t, pages, 10, "pagination does not end")
			cursor = page.NextCursor
		}
		require.Equal(t, want, seen, sort)
		require.Equal(t, 3, pages, sort)
	}
}

func testFilters(t *testing.T, s *testServer) {
	token, owner, _ := MustRegister(t, s.URL)
	ann := MustCreateLead(t, s.URL, token, "Ann Archer", testPhone(50))
	MustCreateLead(t, s.URL, token, "Bob Baker", testPhone(51))
	MustDo(t, s.URL, request{Method: "PATCH", Path: "/api/leads/" + ann.ID, Token: token,
		Body: map[string]any{"chaseStatus": "qualified", "assignedTo": owner.ID}}, http.StatusOK, nil)

	list := func(query string) []string {
		var page struct {
			Leads []jack.Lead `json:"leads"`
		}
		MustDo(t, s.URL, request{Method: "GET", Path: "/api/leads?" + query, Token: token}, http.StatusOK, &page)
		var names []string
		for _, l := range page.Leads {
			names = append(names, l.CustomerName)
		}
		return names
	}
	require.Equal(t, []string{"Ann Archer"}, list("status=qualified"))
	require.Equal(t, []string{"Bob Baker"}, list("q=baker"))
	require.Equal(t, []string{"Ann Archer"}, list("assignedTo="+owner.ID.String()))
	require.Empty(t, list("status=won"))
}

func testOrganization(t *testing.T, s *testServer) {
	token, _, org := MustRegister(t, s.URL)
	var updated jack.Organization
	MustDo(t, s.URL, request{Method: "PATCH", Path: "/api/organization", Token: token,
		Body: map[string]any{"name": "Renamed Motors", "settings": map[string]string{"defaultRegion": "ca", "timeZone": "America/Vancouver"}}}, http.StatusOK, &updated)
	require.Equal(t, org.ID, updated.ID)
	require.Equal(t, "Renamed Motors", updated.Name)
	require.Equal(t, jack.OrganizationSettings{DefaultRegion: "CA", TimeZone: "America/Vancouver"}, updated.Settings)

	// Settings merge field by field.
	MustDo(t, s.URL, request{Method: "PATCH", Path: "/api/organization", Token: token,
		Body: map[string]any{"settings": map[string]string{"timeZone": "America/Toronto"}}}, http.StatusOK, &updated)
	require.Equal(t, "CA", updated.Settings.DefaultRegion)

	e := MustFail(t, s.URL, request{Method: "PATCH", Path: "/api/organization", Token: token,
		Body: map[string]any{"name": "", "settings": map[string]string{"defaultRegion": "ZZ", "timeZone": "Mars/Olympus"}}}, http.StatusUnprocessableEntity, jack.EUNPROCESSABLE)
	require.Contains(t, e.Error.Fields, "name")
	require.Contains(t, e.Error.Fields, "settings.defaultRegion")
	require.Contains(t, e.Error.Fields, "settings.timeZone")

	e = MustFail(t, s.URL, request{Method: "PATCH", Path: "/api/organization", Token: token,
		Body: map[string]any{"domain": strings.Repeat("d", 300)}}, http.StatusUnprocessableEntity, jack.EUNPROCESSABLE)
	require.Contains(t, e.Error.Fields, "domain")
	e = MustFail(t, s.URL, request{Method: "POST", Path: "/api/auth/register", Body: map[string]string{
		"email": uniqueEmail("r"), "password": testPassword, "fullName": "Reg Ion", "organizationName": "Nowhere Motors", "defaultRegion": "ZZ",
	}}, http.StatusUnprocessableEntity, jack.EUNPROCESSABLE)
	require.Equal(t, map[string]string{"defaultRegion": "is not a known region code"}, e.Error.Fields)

	// National numbers are now read as Canadian.
	lead := MustCreateLead(t, s.URL, token, "Cam Canuck", "604 555 0123")
	require.Equal(t, "+16045550123", lead.PhoneNumberNormalized)
}

func testPhoneNumbers(t *testing.T, s *testServer) {
	tokenA, _, orgA := MustRegister(t, s.URL)
	tokenB, _, orgB := MustRegister(t, s.URL)
	pathA := "/api/organizations/" + orgA.ID.String() + "/phone-numbers"

	var pn jack.PhoneNumber
	MustDo(t, s.URL, request{Method: "POST", Path: pathA, Token: tokenA,
		Body: map[string]string{"phoneNumber": "(201) 555-0160", "twilioPhoneSid": "PN0160"}}, http.StatusCreated, &pn)
	require.Equal(t, "+12015550160", pn.PhoneNumber)
	require.Equal(t, orgA.ID, pn.OrganizationID)
	require.True(t, pn.IsActive)

	// The number belongs to A: B can neither import nor activate it.
	MustFail(t, s.URL, request{Method: "POST", Path: "/api/organizations/" + orgB.ID.String() + "/phone-numbers", Token: tokenB,
		Body: map[string]string{"phoneNumber": "+12015550160", "twilioPhoneSid": "PN0160"}}, http.StatusConflict, jack.ECONFLICT)
	activate := "/api/admin/phone-numbers/" + url.PathEscape("+12015550160") + "/activate"
	MustFail(t, s.URL, request{Method: "POST", Path: activate, Token: tokenB, Body: map[string]string{"elevenLabsPhoneId": "phnum_b"}}, http.StatusNotFound, jack.ENOTFOUND)

	e := MustFail(t, s.URL, request{Method: "POST", Path: pathA, Token: tokenA, Body: map[string]string{"phoneNumber": "555"}}, http.StatusUnprocessableEntity, jack.EUNPROCESSABLE)
	require.Contains(t, e.Error.Fields, "phoneNumber")
	require.NotContains(t, e.Error.Fields, "twilioPhoneSid", "the provider's id is optional")
	e = MustFail(t, s.URL, request{Method: "POST", Path: pathA, Token: tokenA, Body: map[string]string{"phoneNumber": "+12015550161", "twilioPhoneSid": strings.Repeat("P", 65)}},
		http.StatusUnprocessableEntity, jack.EUNPROCESSABLE)
	require.Contains(t, e.Error.Fields, "twilioPhoneSid")
	var noID jack.PhoneNumber // imported without the provider's id
	MustDo(t, s.URL, request{Method: "POST", Path: pathA, Token: tokenA, Body: map[string]string{"phoneNumber": "+12015550162"}}, http.StatusCreated, &noID)
	require.Empty(t, noID.ProviderPhoneID)
	// A number without an ElevenLabs phone comes back on for texts (issue 15, item 10).
	MustDo(t, s.URL, request{Method: "POST", Path: activate, Token: tokenA, Body: map[string]string{}}, http.StatusOK, nil)

	var activated jack.PhoneNumber
	MustDo(t, s.URL, request{Method: "POST", Path: activate, Token: tokenA, Body: map[string]string{"elevenLabsPhoneId": "phnum_a"}}, http.StatusOK, &activated)
	require.Equal(t, "phnum_a", activated.VoicePhoneID)
	require.True(t, activated.IsActive)

	var list struct {
		PhoneNumbers []jack.PhoneNumber `json:"phoneNumbers"`
	}
	MustDo(t, s.URL, request{Method: "GET", Path: pathA, Token: tokenA}, http.StatusOK, &list)
	require.Len(t, list.PhoneNumbers, 2)
	for _, n := range list.PhoneNumbers {
		if n.PhoneNumber == "+12015550160" {
			require.Equal(t, "phnum_a", n.VoicePhoneID)
			require.Equal(t, "PN0160", n.ProviderPhoneID)
		} else {
			require.Equal(t, "+12015550162", n.PhoneNumber)
			require.Empty(t, n.ProviderPhoneID)
		}
	}
	MustDo(t, s.URL, request{Method: "GET", Path: "/api/organizations/" + orgB.ID.String() + "/phone-numbers", Token: tokenB}, http.StatusOK, &list)
	require.Empty(t, list.PhoneNumbers)
}
