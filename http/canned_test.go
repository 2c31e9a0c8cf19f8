package http_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/jack-auto/jack"
)

// TestCannedReplies: the team's saved texts live in the organization's settings; bad ones are
// 422 naming the field and change nothing; agents cannot change them.
func TestCannedReplies(t *testing.T) {
	t.Parallel()
	srv := MustOpenServer(t, openSQLite(t))
	owner, _, _ := MustRegister(t, srv.URL)
	patch := func(replies any) request {
		return request{Method: "PATCH", Path: "/api/organization", Token: owner, Body: map[string]any{"settings": map[string]any{"cannedReplies": replies}}}
	}
	var org jack.Organization
	MustDo(t, srv.URL, patch([]map[string]string{{"title": "Test drive", "body": "Hi {firstName}, the {vehicle} is ready!"}}), http.StatusOK, &org)
	require.Equal(t, []jack.CannedReply{{Title: "Test drive", Body: "Hi {firstName}, the {vehicle} is ready!"}}, org.Settings.CannedReplies)

	e := MustFail(t, srv.URL, patch([]map[string]string{{"title": "", "body": "x"}}), http.StatusUnprocessableEntity, "unprocessable")
	require.Contains(t, e.Error.Fields, "settings.cannedReplies[0].title")
	e = MustFail(t, srv.URL, patch([]map[string]string{{"title": "Long", "body": strings.Repeat("x", 1601)}}), http.StatusUnprocessableEntity, "unprocessable")
	require.Contains(t, e.Error.Fields, "settings.cannedReplies[0].body")
	many := make([]map[string]string, 51)
	for i := range many {
		many[i] = map[string]string{"title": "t", "body": "b"}
	}
	MustFail(t, srv.URL, patch(many), http.StatusUnprocessableEntity, "unprocessable")

	var me struct{ Organization jack.Organization }
	MustDo(t, srv.URL, request{Method: "GET", Path: "/api/me", Token: owner}, http.StatusOK, &me)
	require.Len(t, me.Organization.Settings.CannedReplies, 1, "the bad ones changed nothing")

	agent, _ := MustCreateUser(t, srv.URL, owner, jack.RoleAgent)
	MustFail(t, srv.URL, request{Method: "PATCH", Path: "/api/organization", Token: agent, Body: map[string]any{"settings": map[string]any{"cannedReplies": []any{}}}}, http.StatusForbidden, "forbidden")
}
