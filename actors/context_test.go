package actors

import (
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/jack-auto/jack"
)

var update = flag.Bool("update", false, "rewrite golden files")

// golden compares got with testdata/<test name>.golden, rewriting it under -update.
func golden(t *testing.T, got string) {
	t.Helper()
	path := filepath.Join("testdata", t.Name()+".golden")
	if *update {
		require.NoError(t, os.MkdirAll(filepath.Dir(path), 0o755))
		require.NoError(t, os.WriteFile(path, []byte(got), 0o644))
	}
	want, err := os.ReadFile(path)
	require.NoError(t, err, "missing golden file; run go test ./actors -run %s -update", t.Name())
	require.Equal(t, string(want), got)
}

var t0 = time.Date(2024, 1, 15, 17, 30, 0, 0, time.UTC)

func msg(i int, sentBy, typ, text string) *jack.Message {
	return &jack.Message{Content: text, SentBy: sentBy, Type: typ, Timestamp: t0.Add(time.Duration(i) * time.Minute)}
}

func TestBuildContext(t *testing.T) {
	t.Parallel()
	t.Run("Empty", func(t *testing.T) {
		require.Equal(t, "", BuildContext(nil, nil))
	})
	t.Run("MixedChannels", func(t *testing.T) {
		msgs := []*jack.Message{
			msg(0, jack.SentByCustomer, jack.ChannelSMS, "Hi, is the 2021 Civic still available?"),
			msg(1, jack.SentByAgent, jack.ChannelSMS, "Hi Sam! A team member will confirm availability. What budget do you have in mind?"),
			msg(62, jack.SentByCustomer, jack.ChannelVoice, "I called to ask about financing."),
			msg(63, jack.SentByAgent, jack.ChannelVoice, "Happy to help with financing."),
		}
		golden(t, BuildContext(msgs, nil))
	})
	t.Run("LastTenOnly", func(t *testing.T) {
		var msgs []*jack.Message
		for i := range 14 {
			msgs = append(msgs, msg(i, []string{jack.SentByCustomer, jack.SentByAgent}[i%2], jack.ChannelSMS, "message "+string(rune('A'+i))))
		}
		got := BuildContext(msgs, nil)
		require.Equal(t, 10, strings.Count(got, "\n"))
		require.NotContains(t, got, "message D")
		require.Contains(t, got, "message E")
		golden(t, got)
	})
	t.Run("TruncatedToSummary", func(t *testing.T) {
		long := strings.Repeat("x", 20_000)
		var msgs []*jack.Message
		for i := range 6 {
			msgs = append(msgs, msg(i, jack.SentByCustomer, jack.ChannelVoice, long))
		}
		msgs = append(msgs, msg(7, jack.SentByAgent, jack.ChannelSMS, "short answer"))
		got := BuildContext(msgs, &jack.Summary{Summary: "Customer wants a Civic under $400/month."})
		require.True(t, strings.HasPrefix(got, "CONVERSATION SUMMARY:\nCustomer wants a Civic under $400/month.\n\nRECENT MESSAGES:\n"))
		require.Equal(t, 2, strings.Count(got, "Customer: "), "last 3 messages: two customer turns and one agent")
		require.True(t, strings.HasSuffix(got, "Agent: short answer\n"))
	})
	t.Run("TruncatedWithoutSummary", func(t *testing.T) {
		msgs := []*jack.Message{msg(0, jack.SentByCustomer, jack.ChannelSMS, strings.Repeat("y", 100_001)), msg(1, jack.SentByAgent, jack.ChannelSMS, "ok")}
		got := BuildContext(msgs, nil)
		require.True(t, strings.HasPrefix(got, "CONVERSATION SUMMARY:\nLong conversation history\n\nRECENT MESSAGES:\n"))
	})
	t.Run("ExactlyAtLimitIsKept", func(t *testing.T) {
		prefix := len(t0.Format(contextTimestampForm) + " [SMS] Customer: ")
		m := msg(0, jack.SentByCustomer, jack.ChannelSMS, strings.Repeat("z", maxContextLength-prefix-1))
		got := BuildContext([]*jack.Message{m}, nil)
		require.Len(t, got, maxContextLength)
		require.False(t, strings.HasPrefix(got, "CONVERSATION SUMMARY"))
	})
}

func TestDynamicVariables(t *testing.T) {
	t.Parallel()
	org := uuid.MustParse("0190f0c0-0000-7000-8000-000000000001")
	t.Run("NewCustomerHasEveryVariable", func(t *testing.T) {
		vars := DynamicVariables(conversationView{OrgID: org.String(), OrgName: "Premium Auto", Phone: "+16045550123"})
		for _, name := range DynamicVariableNames {
			require.Contains(t, vars, name)
		}
		require.Len(t, vars, len(DynamicVariableNames))
		require.Equal(t, LeadStatusNew, vars["lead_status"])
		require.Equal(t, "First conversation", vars["previous_summary"])
		require.Equal(t, 0, vars["total_messages"])
	})
	t.Run("ReturningCustomer", func(t *testing.T) {
		lead := jack.NewLead(org, "Sam Lee", "+16045550123", t0)
		lead.Email, lead.VehiclePreference, lead.BudgetRange, lead.CreditScoreRange = "sam@example.com", "2021 Honda Civic", "$400/month", "650-700"
		vars := DynamicVariables(conversationView{
			OrgID: org.String(), OrgName: "Premium Auto", Phone: "+16045550123", Lead: lead, AssignedName: "Sarah Johnson",
			Messages: []*jack.Message{msg(0, jack.SentByCustomer, jack.ChannelSMS, "Hello")},
			Summary:  &jack.Summary{Summary: "Asked about a Civic."}, Total: 7,
		})
		b, err := json.MarshalIndent(vars, "", "  ")
		require.NoError(t, err)
		golden(t, string(b)+"\n")
	})
	t.Run("ActiveLead", func(t *testing.T) {
		vars := DynamicVariables(conversationView{Phone: "+16045550123", Total: 2, Messages: []*jack.Message{msg(0, jack.SentByCustomer, jack.ChannelSMS, "Hi")}})
		require.Equal(t, LeadStatusActive, vars["lead_status"])
		require.Equal(t, "2024-01-15T17:30:00Z", vars["last_interaction"])
	})
}

func TestDynamicVariablesPlaceholderName(t *testing.T) {
	t.Parallel()
	lead := jack.NewLead(uuid.New(), jack.DisplayPhone("+16045550123"), "+16045550123", t0)
	vars := DynamicVariables(conversationView{Phone: "+16045550123", Lead: lead})
	require.Equal(t, "Customer", vars["customer_name"])
}
