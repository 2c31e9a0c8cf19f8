package actors

import (
	"fmt"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/jack-auto/jack"
)

// benchConversation is a full grain's memory: 50 recent messages of typical SMS length across
// both channels, a summary and a qualified lead.
func benchConversation() conversationView {
	msgs := make([]*jack.Message, 50)
	for i := range msgs {
		sentBy, typ := jack.SentByCustomer, jack.ChannelSMS
		if i%2 == 1 {
			sentBy = jack.SentByAgent
		}
		if i%7 == 0 {
			typ = jack.ChannelVoice
		}
		msgs[i] = &jack.Message{Content: fmt.Sprintf("Message %d about the 2021 Civic, trade-in value and a $400/month budget.", i),
			SentBy: sentBy, Type: typ, Timestamp: t0.Add(time.Duration(i) * time.Minute)}
	}
	return conversationView{
		OrgID: uuid.NewString(), OrgName: "Premium Auto", Phone: "+16045550123", AssignedName: "Sam Owner",
		Lead: &jack.Lead{CustomerName: "Alex Doe", Email: "alex@example.com", FundingReadiness: "ready",
			CreditScoreRange: "700-749", VehiclePreference: "2021 Honda Civic", BudgetRange: "$300-400/month", Sentiment: "positive"},
		Messages: msgs, Summary: &jack.Summary{Summary: "Customer wants a Civic under $400/month."}, Total: 120,
	}
}

// BenchmarkBuildContext: the seed's context (last 10 of 50 messages), built on every call start
// and AI reply.
func BenchmarkBuildContext(b *testing.B) {
	v := benchConversation()
	b.ReportAllocs()
	for b.Loop() {
		BuildContext(v.Messages, v.Summary)
	}
}

// BenchmarkDynamicVariables: every dynamic variable of a call start, from memory.
func BenchmarkDynamicVariables(b *testing.B) {
	v := benchConversation()
	b.ReportAllocs()
	for b.Loop() {
		DynamicVariables(v)
	}
}
