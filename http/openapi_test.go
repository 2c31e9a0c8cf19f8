package http_test

import (
	"encoding/json"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/jack-auto/jack"
	jackhttp "github.com/jack-auto/jack/http"
)

// openAPIDoc is the part of an OpenAPI document these tests read.
type openAPIDoc struct {
	OpenAPI string                                 `json:"openapi"`
	Servers []struct{ URL string }                 `json:"servers"`
	Paths   map[string]map[string]openAPIOperation `json:"paths"`
}

type openAPIOperation struct {
	OperationID string                    `json:"operationId"`
	Security    []map[string][]string     `json:"security"`
	Responses   map[string]map[string]any `json:"responses"`
}

func mustOpenAPI(tb testing.TB, s *testServer) openAPIDoc {
	tb.Helper()
	var doc openAPIDoc
	resp := MustDo(tb, s.URL, request{Method: "GET", Path: "/api/openapi.json"}, http.StatusOK, &doc)
	require.Contains(tb, resp.Header.Get("Content-Type"), "application/json")
	require.Equal(tb, "3.0.3", doc.OpenAPI)
	return doc
}

var fiberParam = regexp.MustCompile(`:([A-Za-z0-9_]+)`)

// Every route registered on the app is in the document with the same method, and the document
// has no operation that no route serves.
func TestOpenAPI_CoversRoutes(t *testing.T) {
	t.Parallel()
	s := MustOpenServer(t, nil)
	doc := mustOpenAPI(t, s)

	var routes, documented []string
	for _, r := range s.App().GetRoutes(true) {
		if r.Method == http.MethodHead { // Fiber adds HEAD for every GET
			continue
		}
		routes = append(routes, r.Method+" "+fiberParam.ReplaceAllString(r.Path, "{$1}"))
	}
	for path, ops := range doc.Paths {
		for method := range ops {
			documented = append(documented, strings.ToUpper(method)+" "+path)
		}
	}
	slices.Sort(routes)
	slices.Sort(documented)
	require.Equal(t, slices.Compact(routes), documented)
}

// Each operation is well formed: a unique operationId, responses, and a declared security.
func TestOpenAPI_Operations(t *testing.T) {
	t.Parallel()
	s := MustOpenServer(t, nil)
	doc := mustOpenAPI(t, s)
	ids := map[string]bool{}
	for path, ops := range doc.Paths {
		for method, op := range ops {
			name := method + " " + path
			require.NotEmpty(t, op.OperationID, name)
			require.False(t, ids[op.OperationID], "duplicate operationId %s", op.OperationID)
			ids[op.OperationID] = true
			require.NotEmpty(t, op.Responses, name)
			require.NotNil(t, op.Security, "%s must declare security ([] when public)", name)
		}
	}
}

// What the document says about auth is what the server does: an operation that needs a bearer
// token answers 401 without one.
func TestOpenAPI_SecurityMatchesServer(t *testing.T) {
	t.Parallel()
	s := MustOpenServer(t, nil)
	doc := mustOpenAPI(t, s)
	params := strings.NewReplacer("{id}", "some-lead", "{orgId}", "00000000-0000-0000-0000-000000000000", "{phone}", "%2B12015550100")
	for path, ops := range doc.Paths {
		for method, op := range ops {
			if len(op.Security) == 0 {
				continue
			}
			r := request{Method: strings.ToUpper(method), Path: params.Replace(path)}
			if r.Method != http.MethodGet && r.Method != http.MethodDelete {
				r.Body = map[string]string{}
			}
			MustFail(t, s.URL, r, http.StatusUnauthorized, jack.EUNAUTHORIZED)
			require.Contains(t, op.Responses, "401", "%s %s can answer 401", method, path)
		}
	}
}

func TestOpenAPI_ServerURL(t *testing.T) {
	t.Parallel()
	s := MustOpenServer(t, nil, func(cfg *jackhttp.Config) { cfg.ServerURL = "https://jack.example.com" })
	doc := mustOpenAPI(t, s)
	require.Len(t, doc.Servers, 1)
	require.Equal(t, "https://jack.example.com", doc.Servers[0].URL)
	raw := MustDo(t, s.URL, request{Method: "GET", Path: "/api/openapi.json"}, http.StatusOK, nil).Body
	require.True(t, json.Valid(raw))
}

// TestOpenAPI_Roles: each operation's x-roles is the role × route matrix the server enforces.
func TestOpenAPI_Roles(t *testing.T) {
	t.Parallel()
	s := MustOpenServer(t, nil)
	var doc struct {
		Paths map[string]map[string]struct {
			Roles *[]string `json:"x-roles"`
		} `json:"paths"`
	}
	raw := MustDo(t, s.URL, request{Method: "GET", Path: "/api/openapi.json"}, http.StatusOK, nil).Body
	require.NoError(t, json.Unmarshal(raw, &doc))
	for _, rt := range jackhttp.RouteTable(s.Server) {
		op, ok := doc.Paths[fiberParam.ReplaceAllString(rt.Path, "{$1}")][strings.ToLower(rt.Method)]
		require.True(t, ok, "%s %s is documented", rt.Method, rt.Path)
		require.NotNil(t, op.Roles, "%s %s has x-roles", rt.Method, rt.Path)
		want := []string{}
		for _, r := range rt.Access.Roles() {
			want = append(want, string(r))
		}
		require.Equal(t, want, *op.Roles, "%s %s", rt.Method, rt.Path)
	}
}
