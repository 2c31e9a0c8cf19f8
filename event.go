package jack

import (
	"context"
	"encoding/json"
	"time"

	"github.com/google/uuid"
)

// Event types published to dashboards (the seed's names). EventTypes lists them all: a new type
// goes into both, and http/dashboard's tests fail until the dashboard's stream handles it.
const (
	EventSMSReceived = "sms_received"
	EventSMSSent     = "sms_sent"
	EventSMSStatus   = "sms_status"
	EventCallStarted = "call_started"
	EventCallEnded   = "call_ended"
	EventLeadUpdated = "lead_updated"
	// EventAppointmentBooked and EventAppointmentUpdated carry the appointment (jack.Appointment).
	EventAppointmentBooked  = "appointment_booked"
	EventAppointmentUpdated = "appointment_updated"
)

// EventTypes is every event type the engine publishes, in one place.
var EventTypes = []string{
	EventSMSReceived, EventSMSSent, EventSMSStatus, EventCallStarted, EventCallEnded, EventLeadUpdated,
	EventAppointmentBooked, EventAppointmentUpdated,
}

// Event is something that happened in a conversation, persisted with the change that caused it
// and then published on the organization's channel. ID names the event (a UUIDv7, the SSE id a
// dashboard resumes after); Seq is its place in the organization's event log: 1, 2, 3, … in
// commit order with no gaps, assigned when the write commits (see EventStore).
type Event struct {
	ID                uuid.UUID       `json:"id"`
	Seq               int64           `json:"seq,omitempty"`
	Type              string          `json:"type"`
	OrganizationID    uuid.UUID       `json:"organizationId"`
	LeadID            string          `json:"leadId,omitempty"`
	PhoneNumber       string          `json:"phoneNumber,omitempty"`
	Message           string          `json:"message,omitempty"`
	ProviderMessageID string          `json:"messageSid,omitempty"`
	Timestamp         time.Time       `json:"timestamp"`
	Data              json.RawMessage `json:"data,omitempty"` // the message, lead or call the event is about
}

// NewEvent returns an event with a fresh time-ordered id. data is marshaled into Data.
func NewEvent(typ string, orgID uuid.UUID, leadID, phone string, now time.Time, data any) *Event {
	e := &Event{ID: uuid.Must(uuid.NewV7()), Type: typ, OrganizationID: orgID, LeadID: leadID, PhoneNumber: phone, Timestamp: now}
	if data != nil {
		b, err := json.Marshal(data)
		if err == nil {
			e.Data = b
		}
	}
	return e
}

// EventFilter selects persisted events for replay, in Seq order.
type EventFilter struct {
	// AfterSeq: only events with a greater Seq.
	AfterSeq int64
	// After, when set, starts after that event instead (or, when it was trimmed, after the
	// latest kept event whose id is not greater: ids are time-ordered).
	After  uuid.UUID
	LeadID string // only this lead's events when set
	Limit  int    // defaults to 500, at most 5000
}

// Broker carries events between nodes: every node publishes what its grains commit, and
// every node's SSE hub subscribes to the organizations its dashboards watch. Safe for
// concurrent use.
type Broker interface {
	// Publish sends e to the subscribers of e.OrganizationID. It does not block on slow
	// subscribers: they are dropped (they resume from the Store with Last-Event-ID). Returns
	// EUNAVAILABLE when the broker is closed or its backend cannot be reached.
	Publish(ctx context.Context, e *Event) error
	// Subscribe returns a channel of orgID's events. The channel is closed when ctx ends, when
	// the subscriber is too slow, or when the Broker closes; adapters may also close it when
	// events could have been lost (a reconnect), so the subscriber resumes from the Store.
	// Returns EUNAVAILABLE when the broker is closed or its backend cannot be reached.
	Subscribe(ctx context.Context, orgID uuid.UUID) (<-chan *Event, error)
	// Close stops the broker and closes every subscription.
	Close() error
}
