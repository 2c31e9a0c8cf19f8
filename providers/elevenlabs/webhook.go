package elevenlabs

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/jack-auto/jack"
)

// SignatureHeader carries ElevenLabs' signature of a post-call webhook.
const SignatureHeader = "ElevenLabs-Signature"

// SignatureTolerance is how old a signed webhook may be: the official SDKs' 30 minutes.
const SignatureTolerance = 30 * time.Minute

// SignatureFutureSkew is how far in the future a signature's timestamp may be. The SDKs do not
// check the future at all; Jack allows for clock skew but refuses a timestamp minted ahead to
// outlive the tolerance.
const SignatureFutureSkew = 5 * time.Minute

// Post-call webhook event types (the envelope's "type").
const (
	EventPostCallTranscription = "post_call_transcription"
	EventPostCallAudio         = "post_call_audio"
	EventCallInitiationFailure = "call_initiation_failure"
)

// Sign returns the ElevenLabs-Signature header ElevenLabs sends with body at time t:
// "t=<unix>,v0=<hex HMAC-SHA256(secret, "<unix>.<body>")>".
func Sign(secret string, body []byte, t time.Time) string {
	ts := strconv.FormatInt(t.Unix(), 10)
	return "t=" + ts + ",v0=" + signature(secret, ts, body)
}

func signature(secret, ts string, body []byte) string {
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte(ts))
	mac.Write([]byte{'.'})
	mac.Write(body)
	return hex.EncodeToString(mac.Sum(nil))
}

// VerifySignature checks header, the ElevenLabs-Signature of the raw request body, as the
// official SDKs do (ElevenLabs' construct_event): the header's comma-separated parts give the
// timestamp (t=) and the signature (v0=), the last of each winning; the timestamp must be no
// older than SignatureTolerance at now and, unlike the SDKs, no more than SignatureFutureSkew
// ahead; the signature must be the lower-case hex HMAC-SHA256 of "<t>.<body>", compared in
// constant time. Errors are EUNAUTHORIZED with the SDKs' messages; an empty secret verifies
// nothing, so a misconfigured server cannot accept forgeries signed with the empty key.
func VerifySignature(secret string, header string, body []byte, now time.Time) error {
	if header == "" {
		return jack.Errorf(jack.EUNAUTHORIZED, "Missing signature header")
	}
	if secret == "" {
		return jack.Errorf(jack.EUNAUTHORIZED, "Webhook secret not configured")
	}
	var ts, sig string
	for part := range strings.SplitSeq(header, ",") {
		if v, ok := strings.CutPrefix(part, "t="); ok {
			ts = v
		} else if strings.HasPrefix(part, "v0=") {
			sig = part
		}
	}
	if ts == "" || sig == "" {
		return jack.Errorf(jack.EUNAUTHORIZED, "No signature hash found with expected scheme v0")
	}
	unix, err := strconv.ParseInt(ts, 10, 64)
	if err != nil || unix < now.Add(-SignatureTolerance).Unix() || unix > now.Add(SignatureFutureSkew).Unix() {
		return jack.Errorf(jack.EUNAUTHORIZED, "Timestamp outside the tolerance zone")
	}
	if !hmac.Equal([]byte(sig), []byte("v0="+signature(secret, ts, body))) {
		return jack.Errorf(jack.EUNAUTHORIZED, "Signature hash does not match the expected signature hash for payload")
	}
	return nil
}

// PostCallEvent is the envelope of every post-call webhook. Data's shape depends on Type:
// Transcription for post_call_transcription, CallInitiationFailure for call_initiation_failure.
type PostCallEvent struct {
	Type           string          `json:"type"`
	EventTimestamp int64           `json:"event_timestamp"`
	Data           json.RawMessage `json:"data"`
}

// UnmarshalJSON reads the envelope, taking a fractional event_timestamp (whole seconds kept)
// as well as an integer one.
func (ev *PostCallEvent) UnmarshalJSON(b []byte) error {
	var raw struct {
		Type           string          `json:"type"`
		EventTimestamp json.Number     `json:"event_timestamp"`
		Data           json.RawMessage `json:"data"`
	}
	if err := json.Unmarshal(b, &raw); err != nil {
		return err
	}
	*ev = PostCallEvent{Type: raw.Type, Data: raw.Data}
	if raw.EventTimestamp == "" {
		return nil
	}
	if n, err := raw.EventTimestamp.Int64(); err == nil {
		ev.EventTimestamp = n
		return nil
	}
	f, err := raw.EventTimestamp.Float64()
	if err != nil || f < math.MinInt64 || f >= math.MaxInt64 {
		return fmt.Errorf("event_timestamp %s out of range", raw.EventTimestamp)
	}
	ev.EventTimestamp = int64(f)
	return nil
}

// ParsePostCall reads a post-call webhook body (after VerifySignature), ignoring fields it does
// not know, as ElevenLabs asks. Returns EINVALID when the body is not a JSON object with a type.
func ParsePostCall(body []byte) (*PostCallEvent, error) {
	var ev PostCallEvent
	if err := json.Unmarshal(body, &ev); err != nil {
		return nil, fmt.Errorf("%w: %w", jack.Errorf(jack.EINVALID, "The webhook body is not a valid post-call event."), err)
	}
	if ev.Type == "" {
		return nil, jack.Errorf(jack.EINVALID, "The webhook body has no event type.")
	}
	return &ev, nil
}

// Transcription decodes Data of a post_call_transcription event. Returns EINVALID when Data is
// not a transcription (no conversation_id).
func (ev *PostCallEvent) Transcription() (*Transcription, error) {
	return decodeData(ev.Data, "transcription", func(t *Transcription) string { return t.ConversationID })
}

// CallInitiationFailure decodes Data of a call_initiation_failure event. Returns EINVALID when
// Data is not such a failure (no conversation_id).
func (ev *PostCallEvent) CallInitiationFailure() (*CallInitiationFailure, error) {
	return decodeData(ev.Data, "call initiation failure", func(f *CallInitiationFailure) string { return f.ConversationID })
}

// decodeData decodes an event's data as a T (what, in messages) whose conversation id must not
// be empty.
func decodeData[T any](data json.RawMessage, what string, conversationID func(*T) string) (*T, error) {
	var v T
	if err := json.Unmarshal(data, &v); err != nil {
		return nil, fmt.Errorf("%w: %w", jack.Errorf(jack.EINVALID, "The webhook data is not a valid %s.", what), err)
	}
	if conversationID(&v) == "" {
		return nil, jack.Errorf(jack.EINVALID, "The webhook data has no conversation_id.")
	}
	return &v, nil
}

// Transcription is the data of a post_call_transcription event: ElevenLabs'
// GetConversationResponseModel, as far as Jack reads it.
type Transcription struct {
	AgentID        string                `json:"agent_id"`
	ConversationID string                `json:"conversation_id"`
	Status         string                `json:"status"` // initiated, in-progress, processing, done, failed
	Transcript     []TranscriptTurn      `json:"transcript"`
	Metadata       TranscriptionMetadata `json:"metadata"`
	Analysis       *Analysis             `json:"analysis"` // nil until ElevenLabs analysed the call
	ClientData     ClientData            `json:"conversation_initiation_client_data"`
}

// TranscriptTurn is one turn of a transcript.
type TranscriptTurn struct {
	Role    string  `json:"role"`    // user or agent
	Message *string `json:"message"` // nil for turns without text (tool calls)
	// TimeInCallSecs is a number, not only an integer: the SDKs model it as one (Python int,
	// JavaScript number) and real payloads carry fractions.
	TimeInCallSecs float64 `json:"time_in_call_secs"`
}

// Text returns the turn's message, or "" when it has none.
func (t TranscriptTurn) Text() string {
	if t.Message == nil {
		return ""
	}
	return *t.Message
}

// TranscriptionMetadata is the call's metadata.
type TranscriptionMetadata struct {
	// StartTimeUnixSecs and CallDurationSecs are numbers (fractions happen), like every numeric
	// field the SDKs model.
	StartTimeUnixSecs float64    `json:"start_time_unix_secs"`
	CallDurationSecs  float64    `json:"call_duration_secs"`
	TerminationReason string     `json:"termination_reason"`
	PhoneCall         *PhoneCall `json:"phone_call"` // nil for a call that was not a phone call
}

// PhoneCall describes the telephone side of a call. For Twilio, AgentNumber is the
// organization's number and ExternalNumber the customer's, whatever the Direction.
type PhoneCall struct {
	Type           string `json:"type"`      // twilio, sip_trunking…
	Direction      string `json:"direction"` // inbound or outbound
	PhoneNumberID  string `json:"phone_number_id"`
	AgentNumber    string `json:"agent_number"`
	ExternalNumber string `json:"external_number"`
	CallSid        string `json:"call_sid"`
}

// Analysis is ElevenLabs' analysis of a call.
type Analysis struct {
	CallSuccessful            string          `json:"call_successful"` // success, failure, unknown
	TranscriptSummary         string          `json:"transcript_summary"`
	EvaluationCriteriaResults json.RawMessage `json:"evaluation_criteria_results"`
	DataCollectionResults     json.RawMessage `json:"data_collection_results"`
	CallSummaryTitle          string          `json:"call_summary_title"`
}

// ClientData is the initiation data the call started with.
type ClientData struct {
	DynamicVariables map[string]any `json:"dynamic_variables"`
}

// CallInitiationFailure is the data of a call_initiation_failure event: a call that never
// connected. FailureReason is e.g. busy, no-answer or unknown; Metadata is {"type": "twilio" or
// "sip", "body": the telephony provider's payload}.
type CallInitiationFailure struct {
	AgentID        string          `json:"agent_id"`
	ConversationID string          `json:"conversation_id"`
	FailureReason  string          `json:"failure_reason"`
	Metadata       json.RawMessage `json:"metadata"`
}
