package jack

import (
	"encoding/json"
	"time"

	"github.com/google/uuid"
)

// CallSession is one voice call with the AI agent (the seed's call_sessions). VoiceConversationID
// is the voice agent provider's id of the call (ElevenLabs' conversation id), ProviderCallID the
// telephony provider's (Twilio's call sid), VoiceData what the voice provider reported about it.
type CallSession struct {
	ID                    uuid.UUID       `json:"id"`
	OrganizationID        uuid.UUID       `json:"organizationId"`
	LeadID                string          `json:"leadId"`
	VoiceConversationID   string          `json:"elevenlabsConversationId,omitempty"`
	ProviderCallID        string          `json:"twilioCallSid,omitempty"`
	PhoneNumberNormalized string          `json:"phoneNumber"`
	Direction             string          `json:"direction"` // inbound | outbound
	StartedAt             time.Time       `json:"startedAt"`
	EndedAt               *time.Time      `json:"endedAt"`
	DurationSeconds       *int            `json:"durationSeconds"`
	CallOutcome           string          `json:"callOutcome"`
	TerminationReason     string          `json:"terminationReason,omitempty"`
	SentimentScore        *float64        `json:"sentimentScore"`
	LeadQualityScore      *float64        `json:"leadQualityScore"`
	NextAction            string          `json:"nextAction,omitempty"`
	VoiceData             json.RawMessage `json:"elevenlabsData,omitempty"`
}

// Call directions.
const (
	CallInbound  = "inbound"
	CallOutbound = "outbound"
)

// Call outcomes (ElevenLabs' analysis.call_successful, plus failed for calls never connected).
const (
	OutcomeSuccess = "success"
	OutcomeFailure = "failure"
	OutcomeUnknown = "unknown"
	OutcomeFailed  = "failed"
)

// InboundCall is the voice provider's conversation-initiation request for a call to a dealership number.
type InboundCall struct {
	ProviderCallID string
	Caller         string // customer, E.164
	Called         string // the dealership's number, E.164
	AgentID        string
}

// CallTranscript is a finished call as the voice provider reports it after the call.
type CallTranscript struct {
	ConversationID    string
	ProviderCallID    string
	Direction         string // inbound | outbound
	StartedAt         time.Time
	DurationSeconds   int
	Turns             []CallTurn
	Summary           string
	CallSuccessful    string // success | failure | unknown
	TerminationReason string
	Analysis          json.RawMessage // kept as reported, for analytics
}

// CallTurn is one utterance of a call.
type CallTurn struct {
	Role           string // "user" (customer) or "agent"
	Message        string
	TimeInCallSecs float64
}

// CallFailure is a call the voice provider could not start (busy, no answer...).
type CallFailure struct {
	ConversationID string
	ProviderCallID string
	Reason         string
	Data           json.RawMessage
}
