package persistence_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jack-auto/jack"
	"github.com/jack-auto/jack/persistence"
	"github.com/stretchr/testify/require"
)

func TestMedianFirstResponse(t *testing.T) {
	t.Parallel()
	t0 := time.Date(2025, 3, 1, 10, 0, 0, 0, time.UTC)
	msg := func(phone, sentBy string, secs float64, status string) persistence.TurnMessage {
		return persistence.TurnMessage{Phone: phone, Timestamp: t0.Add(time.Duration(secs * float64(time.Second))), SentBy: sentBy, Status: status}
	}
	customer := func(phone string, secs float64) persistence.TurnMessage {
		return msg(phone, jack.SentByCustomer, secs, jack.StatusReceived)
	}
	agent := func(phone string, secs float64) persistence.TurnMessage {
		return msg(phone, jack.SentByAgent, secs, jack.StatusDelivered)
	}
	for _, tc := range []struct {
		name string
		msgs []persistence.TurnMessage
		want *float64
	}{
		{"None", nil, nil},
		{"Unanswered", []persistence.TurnMessage{customer("a", 0), customer("a", 5)}, nil},
		{"AgentFirst", []persistence.TurnMessage{agent("a", 0), agent("a", 5)}, nil},
		{"One", []persistence.TurnMessage{customer("a", 0), agent("a", 7.5)}, ptr(7.5)},
		{"TurnOpensAtFirstCustomerMessage", []persistence.TurnMessage{customer("a", 0), customer("a", 30), agent("a", 40)}, ptr(40.0)},
		{"FailedReplyIgnored", []persistence.TurnMessage{
			customer("a", 0), msg("a", jack.SentByAgent, 5, jack.StatusFailed), customer("a", 8), agent("a", 20),
		}, ptr(20.0)},
		{"OtherSendersIgnored", []persistence.TurnMessage{customer("a", 0), msg("a", "system", 1, ""), agent("a", 3)}, ptr(3.0)},
		{"Odd", []persistence.TurnMessage{
			customer("a", 0), agent("a", 10), customer("a", 100), agent("a", 130), customer("a", 200), agent("a", 202),
		}, ptr(10.0)},
		{"EvenAveragesTheMiddle", []persistence.TurnMessage{
			customer("a", 0), agent("a", 10), customer("a", 100), agent("a", 130),
			customer("b", 0), agent("b", 2), customer("b", 50), agent("b", 150),
		}, ptr(20.0)},
		{"TurnDoesNotCrossConversations", []persistence.TurnMessage{customer("a", 0), agent("b", 10)}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			require.Equal(t, tc.want, persistence.MedianFirstResponse(tc.msgs))
		})
	}
}

func TestCheckPeriod(t *testing.T) {
	t.Parallel()
	from := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	require.NoError(t, persistence.CheckPeriod(from, from.Add(time.Microsecond)))
	require.NoError(t, persistence.CheckPeriod(from, from.AddDate(0, 0, 366)))
	for _, to := range []time.Time{from, from.Add(-time.Hour), from.AddDate(0, 0, 366).Add(time.Nanosecond)} {
		require.Equal(t, jack.EINVALID, jack.ErrorCode(persistence.CheckPeriod(from, to)), "to %s", to)
	}
}

func TestAnalyticsBuilder(t *testing.T) {
	t.Parallel()
	from := time.Date(2025, 2, 27, 18, 30, 0, 0, time.FixedZone("X", -5*3600)) // Feb 27 23:30 UTC
	to := time.Date(2025, 3, 2, 0, 0, 0, 0, time.UTC)
	b := persistence.NewAnalyticsBuilder(from, to)
	b.AddMessages("2025-02-28", jack.ChannelVoice, 2)
	b.AddMessages("2025-02-28", "whatsapp", 1) // anything but voice is SMS
	b.AddCalls(jack.CallInbound, jack.OutcomeSuccess, 2, 1, 40)
	b.AddCalls(jack.CallOutbound, "busy", 1, 1, 20)
	b.AddFunnel(jack.ChaseWon, 3)
	b.AddFunnel("retired", 9)
	a := b.Analytics(nil)

	require.Equal(t, from.UTC(), a.From)
	require.Equal(t, []jack.DayCounts{{Date: "2025-02-27"}, {Date: "2025-02-28", SMS: 1, Voice: 2}, {Date: "2025-03-01"}}, a.Messages.ByDay)
	require.Equal(t, jack.ChannelCounts{SMS: 1, Voice: 2}, a.Messages.ByChannel)
	require.Equal(t, jack.CallAnalytics{Total: 3, Inbound: 2, Outbound: 1, TotalDurationSeconds: 60, AverageDurationSeconds: 30,
		Outcomes: jack.CallOutcomes{Success: 2, Unknown: 1}}, a.Calls)
	require.Len(t, a.Funnel, len(jack.ChaseStatuses))
	total := 0
	for i, s := range a.Funnel {
		require.Equal(t, jack.ChaseStatuses[i], s.ChaseStatus)
		total += s.Count
	}
	require.Equal(t, 3, total)
	require.Nil(t, a.MedianFirstResponseSeconds)
}

func TestInvalidLeadPhones(t *testing.T) {
	t.Parallel()
	org := uuid.MustParse("01900000-0000-7000-8000-000000000001")
	// 2.5 pages of leads, every 1000th phone invalid.
	var leads []jack.LeadRef
	for i := range persistence.AuditPageSize*5/2 + 1 {
		phone := fmt.Sprintf("+1604555%04d", i%10000)
		if i%1000 == 999 {
			phone = "555"
		}
		leads = append(leads, jack.LeadRef{OrganizationID: org, LeadID: fmt.Sprintf("lead-%05d", i), Phone: phone})
	}
	var calls []jack.LeadRef
	got, err := persistence.InvalidLeadPhones(func(after jack.LeadRef, limit int) ([]jack.LeadRef, error) {
		calls = append(calls, after)
		start := 0
		for start < len(leads) && after.LeadID != "" && leads[start].LeadID <= after.LeadID {
			start++
		}
		return leads[start:min(start+limit, len(leads))], nil
	})
	require.NoError(t, err)
	require.Equal(t, []jack.LeadRef{leads[999], leads[1999]}, got)
	require.Equal(t, []jack.LeadRef{{}, leads[999], leads[1999]}, calls, "pages resume after the last lead read")

	none, err := persistence.InvalidLeadPhones(func(jack.LeadRef, int) ([]jack.LeadRef, error) { return nil, nil })
	require.NoError(t, err)
	require.Equal(t, []jack.LeadRef{}, none)
}

func TestSharedPhones(t *testing.T) {
	t.Parallel()
	a := uuid.MustParse("00000000-0000-7000-8000-00000000000a")
	b := uuid.MustParse("00000000-0000-7000-8000-00000000000b")
	got := persistence.SharedPhones([]persistence.PhoneOrganization{
		{"+2", b}, {"+1", b}, {"+2", a}, {"+3", a}, {"+1", a}, {"+1", a},
	})
	require.Equal(t, []jack.SharedPhone{{Phone: "+1", Organizations: []uuid.UUID{a, b}}, {Phone: "+2", Organizations: []uuid.UUID{a, b}}}, got)
	require.Equal(t, []jack.SharedPhone{}, persistence.SharedPhones(nil))
}

func ptr[T any](v T) *T { return &v }
