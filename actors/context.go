package actors

import (
	"cmp"
	"strings"
	"time"

	"github.com/jack-auto/jack"
)

// Context-builder limits from the seed: the last 10 messages, and above 100,000 characters the
// summary plus the last 3 messages.
const (
	contextMessages      = 10
	maxContextLength     = 100_000
	fallbackMessages     = 3
	defaultLongSummary   = "Long conversation history"
	defaultFirstSummary  = "First conversation"
	contextTimestampForm = "1/2/2006, 3:04:05 PM" // JavaScript's en-US toLocaleString(), as the seed prints
)

// BuildContext renders the seed's conversation context from messages (oldest first): one line per
// message of the last 10, "<time> [SMS|Voice] Customer|Agent: <text>". When that exceeds 100,000
// characters it falls back to the summary and the last 3 messages. Times print in UTC.
func BuildContext(messages []*jack.Message, summary *jack.Summary) string {
	recent := messages[max(0, len(messages)-contextMessages):]
	var b strings.Builder
	for _, m := range recent {
		b.WriteString(m.Timestamp.UTC().Format(contextTimestampForm))
		b.WriteString(" ")
		b.WriteString(channelLabel(m.Type))
		b.WriteString(" ")
		b.WriteString(speaker(m.SentBy))
		b.WriteString(": ")
		b.WriteString(m.Content)
		b.WriteString("\n")
	}
	if b.Len() <= maxContextLength {
		return b.String()
	}

	text := defaultLongSummary
	if summary != nil && summary.Summary != "" {
		text = summary.Summary
	}
	var s strings.Builder
	s.WriteString("CONVERSATION SUMMARY:\n")
	s.WriteString(text)
	s.WriteString("\n\nRECENT MESSAGES:\n")
	for _, m := range messages[max(0, len(messages)-fallbackMessages):] {
		s.WriteString(speaker(m.SentBy))
		s.WriteString(": ")
		s.WriteString(m.Content)
		s.WriteString("\n")
	}
	return s.String()
}

func channelLabel(typ string) string {
	if typ == jack.ChannelVoice {
		return "[Voice]"
	}
	return "[SMS]"
}

func speaker(sentBy string) string {
	if sentBy == jack.SentByCustomer {
		return "Customer"
	}
	return "Agent"
}

// conversationView is what the dynamic variables are computed from: the grain's memory.
type conversationView struct {
	OrgID        string
	OrgName      string
	Phone        string
	Lead         *jack.Lead // nil for a customer with no lead yet
	AssignedName string
	Messages     []*jack.Message // recent, oldest first
	Summary      *jack.Summary
	Total        int    // every message of the conversation
	Appointment  string // the customer's upcoming appointment, described; "" for none
}

// Lead statuses the agent is told (the seed's lead_status values).
const (
	LeadStatusReturning = "Returning Customer"
	LeadStatusActive    = "Active Lead"
	LeadStatusNew       = "New Inquiry"
)

// DynamicVariableNames lists every dynamic variable the agent receives; each is always present,
// because ElevenLabs ends a conversation when a variable the agent uses is missing.
var DynamicVariableNames = []string{
	"customer_name", "phone_number_normalized", "email", "lead_status",
	"organization_name", "organization_id", "assigned_agent",
	"conversation_context", "previous_summary", "total_messages", "last_interaction",
	"funding_readiness", "credit_score_range", "vehicle_interest", "budget_range", "sentiment",
	"upcoming_appointment",
}

// DynamicVariables returns the agent's variables for a conversation (see ARCHITECTURE.md, "Conversation context"). Absent values
// get readable defaults rather than being left out.
func DynamicVariables(v conversationView) map[string]any {
	lead := v.Lead
	if lead == nil {
		lead = &jack.Lead{}
	}
	status := LeadStatusNew
	switch {
	case v.Summary != nil:
		status = LeadStatusReturning
	case v.Total > 0:
		status = LeadStatusActive
	}
	summary := defaultFirstSummary
	if v.Summary != nil && v.Summary.Summary != "" {
		summary = v.Summary.Summary
	}
	last := "never"
	if n := len(v.Messages); n > 0 {
		last = v.Messages[n-1].Timestamp.UTC().Format(time.RFC3339)
	}
	name := lead.CustomerName
	if name == jack.DisplayPhone(v.Phone) { // a lead created from an unknown number is named after it
		name = ""
	}
	return map[string]any{
		"customer_name":           cmp.Or(name, "Customer"),
		"phone_number_normalized": v.Phone,
		"email":                   cmp.Or(lead.Email, "Not provided"),
		"lead_status":             status,
		"organization_name":       cmp.Or(v.OrgName, "the dealership"),
		"organization_id":         v.OrgID,
		"assigned_agent":          cmp.Or(v.AssignedName, "Not assigned"),
		"conversation_context":    BuildContext(v.Messages, v.Summary),
		"previous_summary":        summary,
		"total_messages":          v.Total,
		"last_interaction":        last,
		"funding_readiness":       cmp.Or(lead.FundingReadiness, "unknown"),
		"credit_score_range":      cmp.Or(lead.CreditScoreRange, "Unknown"),
		"vehicle_interest":        cmp.Or(lead.VehiclePreference, "Not specified"),
		"budget_range":            cmp.Or(lead.BudgetRange, "Not specified"),
		"sentiment":               cmp.Or(lead.Sentiment, "neutral"),
		"upcoming_appointment":    cmp.Or(v.Appointment, "None"),
	}
}
