package jack

import (
	"context"
	"fmt"
	"time"

	"github.com/google/uuid"
)

// ConversationIdentity is the grain identity of the conversation of orgID with a customer phone
// (E.164): "<orgUUID>:<phone>". Two dealerships sharing a customer have two identities.
func ConversationIdentity(orgID uuid.UUID, phone string) string {
	return orgID.String() + ":" + phone
}

// ParseConversationIdentity splits an identity made by ConversationIdentity.
func ParseConversationIdentity(id string) (uuid.UUID, string, error) {
	if len(id) < 38 || id[36] != ':' {
		return uuid.Nil, "", fmt.Errorf("bad conversation identity %q", id)
	}
	org, err := uuid.Parse(id[:36])
	if err != nil {
		return uuid.Nil, "", fmt.Errorf("bad conversation identity %q: %w", id, err)
	}
	return org, id[37:], nil
}

// Conversations is the engine as the HTTP layer sees it: each call is routed to the grain of
// one (organization, customer phone) conversation, which commits before it answers. Methods
// return domain errors (ENOTFOUND, ECONFLICT with reason opted_out, EUNPROCESSABLE, EPROVIDER,
// EUNAVAILABLE when the grain cannot be reached).
type Conversations interface {
	// ReceiveSMS records an inbound SMS (creating the lead for a new customer) and schedules the
	// AI reply. A provider message id seen before returns the stored message with Duplicate set.
	ReceiveSMS(ctx context.Context, orgID uuid.UUID, in InboundSMS) (*Delivery, error)
	// SendSMS sends a message from the organization's active number and records it.
	SendSMS(ctx context.Context, orgID uuid.UUID, out OutboundSMS) (*Delivery, error)
	// UpdateSMSStatus applies a Twilio status callback; statuses only move forward.
	UpdateSMSStatus(ctx context.Context, orgID uuid.UUID, st SMSStatus) error
	// SetAIPaused pauses (human takeover) or resumes the AI for a lead's conversation.
	SetAIPaused(ctx context.Context, orgID uuid.UUID, phone string, paused bool) (*Lead, error)
	// LeadChanged tells the conversation that staff updated (or deleted) its lead through the
	// CRM, so its memory and the dashboards catch up.
	LeadChanged(ctx context.Context, orgID uuid.UUID, phone string, deleted bool) error
	// Context returns the agent's dynamic variables for the conversation, from the grain's
	// memory (no database read for an active conversation).
	Context(ctx context.Context, orgID uuid.UUID, phone string) (map[string]any, error)

	// StartCall answers the conversation-initiation webhook of an inbound call with the agent's
	// dynamic variables, from the grain's memory (no database read for an active conversation).
	// The call session is recorded right after the answer.
	StartCall(ctx context.Context, orgID uuid.UUID, call InboundCall) (map[string]any, error)
	// CompleteCall records a finished call: its turns as voice messages in order, the
	// conversation's summary and the call session's outcome. Idempotent on the ElevenLabs
	// conversation id: a repeat changes nothing and returns the stored session.
	CompleteCall(ctx context.Context, orgID uuid.UUID, phone string, t CallTranscript) (*CallSession, error)
	// FailCall records a call that could not be started.
	FailCall(ctx context.Context, orgID uuid.UUID, phone string, f CallFailure) (*CallSession, error)
	// Call starts an outbound AI call to the customer. ECONFLICT (opted_out) when the customer
	// opted out, EUNPROCESSABLE when the organization has no number imported into ElevenLabs or
	// no voice provider is configured, EPROVIDER when ElevenLabs refused.
	Call(ctx context.Context, orgID uuid.UUID, phone string) (*CallSession, error)
}

// InboundSMS is a customer's text as the SMS provider delivered it; ProviderMessageID is the
// provider's id of it (Twilio's MessageSid), the key a redelivery is recognised by.
type InboundSMS struct {
	ProviderMessageID string
	From              string // customer, E.164
	To                string // the dealership's number, E.164
	Body              string
	OptOutType        string // Twilio's OptOutType when present
	Media             []MessageMedia
}

// OutboundSMS is a message the dealership sends: by staff through the API or by the AI.
type OutboundSMS struct {
	To             string // customer, E.164
	Body           string
	IdempotencyKey string     // optional: a repeat with the same key returns the first result
	AuthorUserID   *uuid.UUID // the staff member; a manual send pauses the AI
	MediaURLs      []string   // optional MMS attachments (public URLs Twilio fetches)
}

// SMSStatus is the SMS provider's delivery status callback.
type SMSStatus struct {
	ProviderMessageID string
	Status            string
	To                string // the customer for outbound messages
	From              string // the dealership's number
	ErrorCode         string
	ErrorMessage      string
}

// Delivery is the committed result of an SMS in or out.
type Delivery struct {
	Lead      *Lead    `json:"lead"`
	Message   *Message `json:"message"`
	Duplicate bool     `json:"duplicate"`
	Node      string   `json:"-"` // the cluster member that owns the conversation (diagnostics)
}

// SMSSender sends text messages (Twilio in production, a fake in tests, a local outbox offline).
type SMSSender interface {
	// SendSMS returns ECONFLICT with reason opted_out when the carrier reports the recipient
	// unsubscribed (Twilio 21610), EPROVIDER for other refusals.
	SendSMS(ctx context.Context, msg SMSRequest) (*SMSResult, error)
}

// SMSLookup is a sender that can also look up what it accepted, so a text a crash left
// unrecorded is resolved from the provider's records rather than sent again (Twilio's message
// API has no idempotency key). Senders without it (the offline outbox) leave such texts unknown.
type SMSLookup interface {
	// FetchSMS returns the provider's record of the text with sid; ENOTFOUND when it has none.
	FetchSMS(ctx context.Context, sid string) (*SMSRecord, error)
	// FindSMS returns the texts from q.From to q.To with body q.Body that the provider created
	// at or after q.Since, newest first.
	FindSMS(ctx context.Context, q SMSQuery) ([]SMSRecord, error)
}

// SMSQuery selects texts at the provider (SMSLookup.FindSMS).
type SMSQuery struct {
	From, To, Body string
	Since          time.Time
}

// SMSRecord is the provider's record of one text.
type SMSRecord struct {
	Sid          string
	Status       string
	From, To     string
	Body         string
	Created      time.Time
	ErrorCode    string
	ErrorMessage string
}

// SMSRequest is one text to send.
type SMSRequest struct {
	From           string
	To             string
	Body           string
	StatusCallback string   // URL for delivery status callbacks; empty for none
	MediaURLs      []string // MMS attachments
}

// SMSResult is the provider's answer to a send.
type SMSResult struct {
	ProviderMessageID string
	Status            string
}

// Agent produces the AI's side of a conversation. Open starts a session for one conversation;
// the grain keeps it while the conversation is active and closes it when idle.
type Agent interface {
	Open(ctx context.Context, conv AgentConversation) (AgentSession, error)
}

// AgentSession is an open AI conversation.
type AgentSession interface {
	// Reply answers the customer's latest text(s).
	Reply(ctx context.Context, turn AgentTurn) (*AgentReply, error)
	// Close ends the session; safe to call twice.
	Close() error
}

// AgentConversation is what an agent session starts with.
type AgentConversation struct {
	OrganizationID uuid.UUID
	Phone          string
	Variables      map[string]any // the dynamic variables (see ARCHITECTURE.md, "Conversation context")
	// Instructions are the dealership's own instructions (settings.aiInstructions), added to
	// the agent's prompt; "" for none.
	Instructions string
	// Greeting opens the agent's first reply in the conversation (settings.aiGreeting); "" for
	// the agent's own.
	Greeting string
}

// AgentTurn is one customer turn for the agent to answer.
type AgentTurn struct {
	Text      string         // the customer's text(s) since the last reply
	Lead      *Lead          // the lead as it is now
	History   []*Message     // recent messages, oldest first
	Variables map[string]any // the dynamic variables as they are now
	Now       time.Time
	Calendar  *AgentCalendar // the dealership's free slots; nil when the agent may not book
}

// AgentReply is the agent's answer and what it learned about the lead.
type AgentReply struct {
	Text   string
	Change ConversationChange // qualification fields read from the customer's words
	// Book asks the conversation to book this appointment before Text (its confirmation) is
	// sent; when the slot was taken meanwhile the conversation says so instead.
	Book *AppointmentRequest
}

// VoiceDialer starts outbound AI calls (ElevenLabs over Twilio in production, a fake in tests).
type VoiceDialer interface {
	// StartCall asks the provider to call req.To from the organization's number. It returns only
	// after the provider accepted the call, with its conversation id and Twilio call sid;
	// EPROVIDER with the provider's message when it refused (including success:false).
	StartCall(ctx context.Context, req CallRequest) (*CallStarted, error)
}

// CallRequest is one outbound AI call.
type CallRequest struct {
	VoicePhoneID string         // the organization's ElevenLabs phone id
	To           string         // customer, E.164
	Variables    map[string]any // the dynamic variables (see ARCHITECTURE.md, "Conversation context")
}

// CallStarted is the provider's acceptance of an outbound call.
type CallStarted struct {
	ConversationID string
	ProviderCallID string
}
