package jack

import (
	"encoding/json"
	"time"

	"github.com/google/uuid"
)

// CallSession is one voice call with the AI agent (the seed's call_sessions).
type CallSession struct {
	ID                       uuid.UUID       `json:"id"`
	OrganizationID           uuid.UUID       `json:"organizationId"`
	LeadID                   string          `json:"leadId"`
	ElevenLabsConversationID string          `json:"elevenlabsConversationId,omitempty"`
	TwilioCallSid            string          `json:"twilioCallSid,omitempty"`
	PhoneNumberNormalized    string          `json:"phoneNumber"`
	Direction                string          `json:"direction"` // inbound | outbound
	StartedAt                time.Time       `json:"startedAt"`
	EndedAt                  *time.Time      `json:"endedAt"`
	DurationSeconds          *int            `json:"durationSeconds"`
	CallOutcome              string          `json:"callOutcome"`
	TerminationReason        string          `json:"terminationReason,omitempty"`
	SentimentScore           *float64        `json:"sentimentScore"`
	LeadQualityScore         *float64        `json:"leadQualityScore"`
	NextAction               string          `json:"nextAction,omitempty"`
	ElevenLabsData           json.RawMessage `json:"elevenlabsData,omitempty"`
}
