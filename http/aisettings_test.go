package http_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/jack-auto/jack"
)

// TestAISettings: AI on by default, the AI's instructions and greeting and the cadence are
// organization settings on every Store; bad ones are 422 naming the field and change nothing.
func TestAISettings(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, st storeOpener) {
		srv := MustOpenServer(t, st.open(t))
		owner, _, _ := MustRegister(t, srv.URL)
		patch := func(settings map[string]any) request {
			return request{Method: "PATCH", Path: "/api/organization", Token: owner, Body: map[string]any{"settings": settings}}
		}
		var me struct{ Organization jack.Organization }
		MustDo(t, srv.URL, request{Method: "GET", Path: "/api/me", Token: owner}, http.StatusOK, &me)
		require.True(t, me.Organization.Settings.AIOnByDefault(), "on unless turned off")

		var org jack.Organization
		MustDo(t, srv.URL, patch(map[string]any{"aiEnabledByDefault": false, "aiInstructions": "  Never quote prices.  ",
			"aiGreeting": "Hi, this is Sam at Main Street Motors.",
			"cadence":    []map[string]string{{"after": "2h", "action": "sms", "message": "Still interested, {{customer_name}}?"}, {"after": "1d", "action": "call"}}}),
			http.StatusOK, &org)
		require.False(t, org.Settings.AIOnByDefault())
		require.Equal(t, "Never quote prices.", org.Settings.AIInstructions)
		require.Equal(t, "Hi, this is Sam at Main Street Motors.", org.Settings.AIGreeting)
		require.Len(t, org.Settings.Cadence, 2)

		e := MustFail(t, srv.URL, patch(map[string]any{"aiInstructions": strings.Repeat("x", 4001), "aiGreeting": strings.Repeat("é", 301),
			"cadence": []map[string]string{{"after": "2h", "action": "sms"}}}), http.StatusUnprocessableEntity, "unprocessable")
		require.Contains(t, e.Error.Fields, "settings.aiInstructions")
		require.Contains(t, e.Error.Fields, "settings.aiGreeting")
		require.Contains(t, e.Error.Fields, "settings.cadence[0].message")
		e = MustFail(t, srv.URL, patch(map[string]any{"aiEnabledByDefault": "no"}), http.StatusUnprocessableEntity, "unprocessable")
		require.Contains(t, e.Error.Fields, "settings.aiEnabledByDefault")

		MustDo(t, srv.URL, request{Method: "GET", Path: "/api/me", Token: owner}, http.StatusOK, &me)
		require.Equal(t, org.Settings, me.Organization.Settings, "the bad ones changed nothing")

		org = jack.Organization{} // a fresh value: decoding leaves absent fields as they were
		MustDo(t, srv.URL, patch(map[string]any{"aiEnabledByDefault": true, "aiInstructions": "", "cadence": []any{}}), http.StatusOK, &org)
		require.True(t, org.Settings.AIOnByDefault())
		require.Empty(t, org.Settings.AIInstructions)
		require.Empty(t, org.Settings.Cadence)
		require.Equal(t, "Hi, this is Sam at Main Street Motors.", org.Settings.AIGreeting, "left out keeps it")
	})
}

// TestAIOffByDefault: with AI on by default off, a lead the API or an import creates starts
// with the AI paused (as POST /api/leads/:id/ai {"paused":true} leaves it); one an import
// only updates keeps its state; with it on again, new leads start with the AI answering.
func TestAIOffByDefault(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, st storeOpener) {
		b := newImportBundle(t, st.open(t))
		create := func(name, phone string) jack.Lead {
			var l jack.Lead
			MustDo(t, b.URL, request{Method: "POST", Path: "/api/leads", Token: b.token, Body: map[string]string{
				"customerName": name, "phoneNumber": phone}}, http.StatusCreated, &l)
			return l
		}
		before := create("Before Switch", "+12015550170")
		MustDo(t, b.URL, request{Method: "PATCH", Path: "/api/organization", Token: b.token,
			Body: map[string]any{"settings": map[string]any{"aiEnabledByDefault": false}}}, http.StatusOK, nil)

		require.NotNil(t, create("Api Lead", "+12015550171").AIPausedUntil, "created by the API: paused")
		report := b.importFile(t, "text/csv", "name,phone\nCsv Lead,+12015550172\nBefore Switch,+12015550170\n", http.StatusOK)
		require.Equal(t, 1, report.Created, "%+v", report)
		leads := leadsByPhone(MustListLeads(t, b.URL, b.token))
		require.NotNil(t, leads["+12015550172"].AIPausedUntil, "created by an import: paused")
		require.Nil(t, leads["+12015550170"].AIPausedUntil, "an existing lead keeps its state")
		require.Nil(t, before.AIPausedUntil)

		MustDo(t, b.URL, request{Method: "PATCH", Path: "/api/organization", Token: b.token,
			Body: map[string]any{"settings": map[string]any{"aiEnabledByDefault": true}}}, http.StatusOK, nil)
		require.Nil(t, create("After Switch", "+12015550173").AIPausedUntil, "on again: answering")
	})
}
