package http_test

import (
	"encoding/json"
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/jack-auto/jack"
	"github.com/jack-auto/jack/persistence/storetest"
)

// analyticsBundle is an organization with a known day of activity: leads at three chase statuses,
// a customer text answered after 30s, a voice turn and a 60-second inbound call, all at noon
// (UTC) of a day one or two days ago.
type analyticsBundle struct {
	*testServer
	token string
	noon  time.Time
}

func newAnalyticsBundle(t *testing.T, s *testServer) *analyticsBundle {
	t.Helper()
	b := &analyticsBundle{testServer: s, noon: time.Now().UTC().Add(-26 * time.Hour).Truncate(24 * time.Hour).Add(12 * time.Hour)}
	var org jack.Organization
	b.token, _, org = MustRegister(t, s.URL)
	var leads []jack.Lead
	for i, status := range []string{jack.ChaseNew, jack.ChaseEngaged, jack.ChaseWon} {
		var lead jack.Lead
		MustDo(t, s.URL, request{Method: "POST", Path: "/api/leads", Token: b.token, Body: map[string]string{
			"customerName": "Analytics " + status, "phoneNumber": testPhone(70 + i), "chaseStatus": status}}, http.StatusCreated, &lead)
		leads = append(leads, lead)
	}

	lead := &leads[0]
	storetest.MustInsertMessage(t, s.Store, org.ID, storetest.NewMessage(lead, "Is the Civic available?", b.noon))
	reply := storetest.NewMessage(lead, "It is! Want to see it?", b.noon.Add(30*time.Second))
	reply.SentBy, reply.Status = jack.SentByAgent, jack.StatusDelivered
	storetest.MustInsertMessage(t, s.Store, org.ID, reply)
	voice := storetest.NewMessage(lead, "I'd like to book a test drive", b.noon.Add(time.Minute))
	voice.Type = jack.ChannelVoice
	storetest.MustInsertMessage(t, s.Store, org.ID, voice)
	ended, duration := b.noon.Add(2*time.Minute), 60
	require.NoError(t, s.Store.InConversationTx(t.Context(), org.ID, func(tx jack.ConversationTx) error {
		_, _, err := tx.CreateCallSession(t.Context(), &jack.CallSession{LeadID: lead.ID, PhoneNumberNormalized: lead.PhoneNumberNormalized,
			VoiceConversationID: "conv_analytics", Direction: jack.CallInbound, StartedAt: b.noon.Add(time.Minute),
			EndedAt: &ended, DurationSeconds: &duration, CallOutcome: jack.OutcomeSuccess})
		return err
	}))
	return b
}

func (b *analyticsBundle) summary(t *testing.T, token, query string) jack.Analytics {
	t.Helper()
	var a jack.Analytics
	MustDo(t, b.URL, request{Method: "GET", Path: "/api/analytics/summary" + query, Token: token}, http.StatusOK, &a)
	return a
}

func TestAnalyticsSummary(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, st storeOpener) {
		testAnalyticsSummary(t, newAnalyticsBundle(t, MustOpenServer(t, st.open(t))))
	})
}

func testAnalyticsSummary(t *testing.T, b *analyticsBundle) {
	day := b.noon.Format(time.DateOnly)

	// The default period is the last 30 days, ending now (the server's clock, frozen at its
	// start: move it past the leads' creation).
	b.Clock.Advance(time.Minute)
	a := b.summary(t, b.token, "")
	require.WithinDuration(t, b.Clock.Now(), a.To, time.Second)
	require.WithinDuration(t, b.Clock.Now().Add(-30*24*time.Hour), a.From, time.Second)
	require.Equal(t, 3, a.Messages.Total)
	require.Equal(t, jack.ChannelCounts{SMS: 2, Voice: 1}, a.Messages.ByChannel)
	require.Contains(t, a.Messages.ByDay, jack.DayCounts{Date: day, SMS: 2, Voice: 1})
	require.Equal(t, jack.CallAnalytics{Total: 1, Inbound: 1, TotalDurationSeconds: 60, AverageDurationSeconds: 60,
		Outcomes: jack.CallOutcomes{Success: 1}}, a.Calls)
	require.Len(t, a.Funnel, len(jack.ChaseStatuses))
	for i, step := range a.Funnel {
		require.Equal(t, jack.ChaseStatuses[i], step.ChaseStatus)
		want := map[string]int{jack.ChaseNew: 1, jack.ChaseEngaged: 1, jack.ChaseWon: 1}[step.ChaseStatus]
		require.Equal(t, want, step.Count, step.ChaseStatus)
	}
	require.NotNil(t, a.MedianFirstResponseSeconds)
	require.InDelta(t, 30, *a.MedianFirstResponseSeconds, 0.001)
	require.Equal(t, jack.LeadAnalytics{Total: 3, New: 3}, a.Leads)

	// A date as to includes its day.
	a = b.summary(t, b.token, "?from="+day+"&to="+day)
	require.Equal(t, b.noon.Add(-12*time.Hour), a.From.UTC())
	require.Equal(t, b.noon.Add(12*time.Hour), a.To.UTC())
	require.Equal(t, []jack.DayCounts{{Date: day, SMS: 2, Voice: 1}}, a.Messages.ByDay)

	// RFC 3339 bounds, with the offset's + escaped or not: only the customer's first text.
	from := b.noon.Add(-time.Minute).In(time.FixedZone("", 2*3600)).Format(time.RFC3339)
	to := b.noon.Add(10 * time.Second).Format(time.RFC3339)
	a = b.summary(t, b.token, "?from="+url.QueryEscape(from)+"&to="+to)
	require.Equal(t, 1, a.Messages.Total)
	require.Nil(t, a.MedianFirstResponseSeconds)
	a = b.summary(t, b.token, "?from="+from+"&to="+to)
	require.Equal(t, 1, a.Messages.Total)

	// The JSON is the documented shape: a null median, zero days and statuses listed.
	raw := MustDo(t, b.URL, request{Method: "GET", Path: "/api/analytics/summary?from=2020-01-01&to=2020-01-02", Token: b.token}, http.StatusOK, nil).Body
	var doc map[string]any
	require.NoError(t, json.Unmarshal(raw, &doc))
	require.Nil(t, doc["medianFirstResponseSeconds"])
	require.Contains(t, doc, "medianFirstResponseSeconds")
	require.Equal(t, []any{map[string]any{"date": "2020-01-01", "sms": 0.0, "voice": 0.0}, map[string]any{"date": "2020-01-02", "sms": 0.0, "voice": 0.0}},
		doc["messages"].(map[string]any)["byDay"])
	require.Equal(t, map[string]any{"total": 3.0, "new": 0.0, "optedOut": 0.0}, doc["leads"])

	// Any signed-in user of the organization; another organization sees only its own.
	agent, _ := MustCreateUser(t, b.URL, b.token, jack.RoleAgent)
	require.Equal(t, 3, b.summary(t, agent, "").Messages.Total)
	other, _, _ := MustRegister(t, b.URL)
	a = b.summary(t, other, "")
	require.Zero(t, a.Messages.Total)
	require.Zero(t, a.Leads.Total)
}

func TestAnalyticsSummary_ErrInvalid(t *testing.T) {
	t.Parallel()
	s := MustOpenServer(t, nil)
	token, _, _ := MustRegister(t, s.URL)
	for _, query := range []string{
		"?from=yesterday",
		"?to=2024-13-01",
		"?from=2024-05-01T00:00:00",                          // no zone
		"?from=2024-05-02&to=2024-05-01",                     // reversed
		"?from=2024-05-01T00:00:00Z&to=2024-05-01T00:00:00Z", // empty
		"?from=2020-01-01&to=2024-01-01",                     // longer than the Store allows
	} {
		e := MustFail(t, s.URL, request{Method: "GET", Path: "/api/analytics/summary" + query, Token: token}, http.StatusBadRequest, jack.EINVALID)
		require.NotEmpty(t, e.Error.Message, query)
	}
}
