package jack

import (
	"strings"
	"time"

	"github.com/google/uuid"
)

// Who sent a message (the seed's sent_by): the customer or the dealership (AI or staff).
const (
	SentByCustomer = "user"
	SentByAgent    = "agent"
)

// Channels (the seed's conversations.type).
const (
	ChannelSMS   = "sms"
	ChannelVoice = "voice"
)

// Message statuses (the seed's message_status): Twilio's message statuses plus "pending", which
// is an outbound message stored before Twilio accepted it, and "unknown", an outbound message a
// crash left unrecorded that Twilio's message list does not show either: it may or may not have
// gone out, and it is never sent again (staff see it and decide).
const (
	StatusPending     = "pending"
	StatusAccepted    = "accepted"
	StatusScheduled   = "scheduled"
	StatusQueued      = "queued"
	StatusSending     = "sending"
	StatusSent        = "sent"
	StatusReceiving   = "receiving"
	StatusReceived    = "received"
	StatusDelivered   = "delivered"
	StatusUndelivered = "undelivered"
	StatusFailed      = "failed"
	StatusRead        = "read"
	StatusCanceled    = "canceled"
	StatusPartially   = "partially_delivered"
	StatusUnknown     = "unknown"
)

// statusRank orders statuses so callbacks, which Twilio does not send in order, only move a
// message forward. Terminal states share the top rank, so the first terminal state wins, except
// read (a receipt after delivery).
var statusRank = map[string]int{
	StatusPending: 0, StatusUnknown: 1, StatusAccepted: 1, StatusScheduled: 1, StatusQueued: 2, StatusSending: 3,
	StatusReceiving: 3, StatusSent: 4, StatusReceived: 5, StatusPartially: 5,
	StatusDelivered: 6, StatusUndelivered: 6, StatusFailed: 6, StatusCanceled: 6, StatusRead: 7,
}

// KnownStatus reports whether s is a message status.
func KnownStatus(s string) bool { _, ok := statusRank[s]; return ok }

// StatusAdvances reports whether a message in status from may move to status to: statuses only
// move forward, and a terminal state (delivered, undelivered, failed, canceled) is never replaced
// except by read.
func StatusAdvances(from, to string) bool {
	rt, ok := statusRank[to]
	if !ok {
		return false
	}
	return rt > statusRank[from]
}

// Message is one SMS or one voice turn of a conversation (the seed's conversations table).
type Message struct {
	ID                    uuid.UUID      `json:"id"`
	OrganizationID        uuid.UUID      `json:"organizationId"`
	LeadID                string         `json:"leadId"`
	PhoneNumberNormalized string         `json:"phoneNumber"`
	Content               string         `json:"content"`
	SentBy                string         `json:"sentBy"`
	Type                  string         `json:"type"`
	Timestamp             time.Time      `json:"timestamp"`
	ProviderMessageID     string         `json:"twilioMessageSid,omitempty"`
	ProviderCallID        string         `json:"twilioCallSid,omitempty"`
	VoiceConversationID   string         `json:"elevenlabsConversationId,omitempty"`
	TimeInCallSecs        *float64       `json:"timeInCallSecs,omitempty"`
	Status                string         `json:"status"`
	ErrorCode             string         `json:"errorCode,omitempty"`
	ErrorMessage          string         `json:"errorMessage,omitempty"`
	IdempotencyKey        string         `json:"idempotencyKey,omitempty"`
	AuthorUserID          *uuid.UUID     `json:"authorUserId,omitempty"` // staff member for manual sends; nil for the AI and customers
	Media                 []MessageMedia `json:"media,omitempty"`        // MMS attachments
}

// MaxMediaURLLength bounds a stored media URL.
const MaxMediaURLLength = 2048

// MaxSMSLength bounds an outbound message body (Twilio accepts 1600 characters).
const MaxSMSLength = 1600

// Keyword is what a whole inbound SMS body means to Twilio's opt-out handling.
type Keyword int

// Keyword families (Twilio's default English lists).
const (
	KeywordNone Keyword = iota
	KeywordStop
	KeywordStart
	KeywordHelp
)

var keywords = map[string]Keyword{
	"STOP": KeywordStop, "STOPALL": KeywordStop, "UNSUBSCRIBE": KeywordStop, "CANCEL": KeywordStop,
	"END": KeywordStop, "QUIT": KeywordStop, "REVOKE": KeywordStop, "OPTOUT": KeywordStop,
	"START": KeywordStart, "YES": KeywordStart, "UNSTOP": KeywordStart,
	"HELP": KeywordHelp, "INFO": KeywordHelp,
}

// ClassifyKeyword reads an inbound body the way Twilio does: the whole trimmed body, one keyword,
// case-insensitive ("STOP PLEASE" is not a keyword). optOutType is Twilio's OptOutType parameter
// when present (Advanced Opt-Out) and wins over the body.
func ClassifyKeyword(body, optOutType string) Keyword {
	switch strings.ToUpper(strings.TrimSpace(optOutType)) {
	case "STOP":
		return KeywordStop
	case "START":
		return KeywordStart
	case "HELP":
		return KeywordHelp
	}
	return keywords[strings.ToUpper(strings.TrimSpace(body))]
}

// Summary is the latest summary of a conversation (the seed's conversation_summaries).
type Summary struct {
	ID                    uuid.UUID `json:"id"`
	OrganizationID        uuid.UUID `json:"organizationId"`
	PhoneNumberNormalized string    `json:"phoneNumber"`
	Summary               string    `json:"summary"`
	SummaryType           string    `json:"summaryType"`
	TotalMessages         int       `json:"totalMessages"`
	VoiceMessages         int       `json:"voiceMessages"`
	SMSMessages           int       `json:"smsMessages"`
	CreatedAt             time.Time `json:"createdAt"`
	UpdatedAt             time.Time `json:"updatedAt"`
}

// MessageFilter selects a page of a lead's timeline, oldest first.
type MessageFilter struct {
	LeadID string
	Cursor string // opaque, from the previous page; pages go back in time
	Limit  int    // defaults to 50, at most 200
}

// MessagePage is one page of a timeline (oldest first) and the cursor of the older page.
type MessagePage struct {
	Messages   []*Message `json:"messages"`
	NextCursor string     `json:"nextCursor"`
}
