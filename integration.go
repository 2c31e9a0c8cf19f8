package jack

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"slices"
	"time"

	"github.com/google/uuid"
)

// Integration kinds: how Jack hands events to a dealership's CRM.
const (
	IntegrationWebhook  = "webhook"   // signed JSON POSTs, the way Stripe sends them
	IntegrationADFEmail = "adf_email" // ADF 1.0 XML by e-mail to the CRM's lead address
)

// Integration event types. Appointment events are accepted in an integration's list now and
// fire once appointments exist.
const (
	IntegrationLeadCreated        = "lead.created"
	IntegrationLeadUpdated        = "lead.updated" // status or qualification changed
	IntegrationLeadQualified      = "lead.qualified"
	IntegrationMessageReceived    = "message.received"
	IntegrationCallCompleted      = "call.completed"
	IntegrationAppointmentBooked  = "appointment.booked"
	IntegrationAppointmentUpdated = "appointment.updated"
	IntegrationTest               = "integration.test" // POST /api/integrations/:id/test only
)

// Delivery list bounds.
const (
	DefaultDeliveryListLimit = 50
	MaxDeliveryListLimit     = 200
)

const integrationMaxRecipientsLength = 1000

// IntegrationEvents lists the event types an integration may subscribe to.
var IntegrationEvents = []string{
	IntegrationLeadCreated, IntegrationLeadUpdated, IntegrationLeadQualified, IntegrationMessageReceived,
	IntegrationCallCompleted, IntegrationAppointmentBooked, IntegrationAppointmentUpdated,
}

// Integration is one CRM hand-off of an organization: a webhook URL or an ADF e-mail address,
// and the event types it receives. Secret signs webhooks; it is shown once (on creation or
// rotation) and never listed.
type Integration struct {
	ID             uuid.UUID  `json:"id"`
	OrganizationID uuid.UUID  `json:"organizationId"`
	Kind           string     `json:"kind"`
	URL            string     `json:"url,omitempty"`
	To             string     `json:"to,omitempty"`
	Events         []string   `json:"events"`
	Enabled        bool       `json:"enabled"`
	Secret         string     `json:"-"`
	CreatedBy      *uuid.UUID `json:"createdBy"`
	CreatedAt      time.Time  `json:"createdAt"`
	UpdatedAt      time.Time  `json:"updatedAt"`
}

// Wants reports whether the integration is enabled and subscribed to typ.
func (i *Integration) Wants(typ string) bool { return i.Enabled && slices.Contains(i.Events, typ) }

// IntegrationUpdate changes an integration; nil fields stay.
type IntegrationUpdate struct {
	URL     *string
	To      *string
	Events  []string // nil keeps the list
	Enabled *bool
	Secret  *string // a rotated secret
}

// Apply copies the update's fields into i.
func (u IntegrationUpdate) Apply(i *Integration) {
	if u.URL != nil {
		i.URL = *u.URL
	}
	if u.To != nil {
		i.To = *u.To
	}
	if u.Events != nil {
		i.Events = u.Events
	}
	if u.Enabled != nil {
		i.Enabled = *u.Enabled
	}
	if u.Secret != nil {
		i.Secret = *u.Secret
	}
}

// Validate returns EUNPROCESSABLE naming each invalid field (the URL's safety is the caller's:
// it needs DNS).
func (i *Integration) Validate() error {
	fields := map[string]string{}
	switch i.Kind {
	case IntegrationWebhook:
		if i.URL == "" {
			fields["url"] = "is required"
		} else if len(i.URL) > 2048 {
			fields["url"] = "is too long"
		}
		if i.To != "" {
			fields["to"] = "is only for adf_email"
		}
	case IntegrationADFEmail:
		if i.To == "" {
			fields["to"] = "is required"
		} else if len(i.To) > integrationMaxRecipientsLength {
			fields["to"] = "is too long"
		} else if p := ValidateEmail(i.To); p != "" {
			fields["to"] = p
		}
		if i.URL != "" {
			fields["url"] = "is only for webhook"
		}
	default:
		fields["kind"] = "must be webhook or adf_email"
	}
	if len(i.Events) == 0 {
		fields["events"] = "must name at least one event"
	}
	for _, e := range i.Events {
		if !slices.Contains(IntegrationEvents, e) {
			fields["events"] = "has an unknown event " + e
		}
	}
	if len(fields) > 0 {
		return ValidationError(fields)
	}
	return nil
}

// Delivery statuses.
const (
	DeliveryPending   = "pending"
	DeliverySucceeded = "succeeded"
	DeliveryFailed    = "failed"
)

// IntegrationDelivery is one event on its way to one integration. EventID is stable across
// attempts and redeliveries (Jack-Event-Id), so a receiver dedupes a retry after a lost response.
// Payload is the JSON document sent (frozen when the event was dispatched). The last attempt's
// outcome is on the delivery itself, and every attempt in History.
type IntegrationDelivery struct {
	ID             uuid.UUID       `json:"id"`
	OrganizationID uuid.UUID       `json:"organizationId"`
	IntegrationID  uuid.UUID       `json:"integrationId"`
	EventID        uuid.UUID       `json:"eventId"`
	EventType      string          `json:"eventType"`
	LeadID         string          `json:"leadId,omitempty"`
	Payload        json.RawMessage `json:"-"`
	Status         string          `json:"status"`
	Attempts       int             `json:"attempts"`
	ResponseCode   *int            `json:"responseCode"`
	LatencyMillis  *int64          `json:"latencyMs"`
	LastError      string          `json:"lastError,omitempty"`
	LastAttemptAt  *time.Time      `json:"lastAttemptAt"`
	NextAttemptAt  *time.Time      `json:"nextAttemptAt"`
	DeliveredAt    *time.Time      `json:"deliveredAt"`
	CreatedAt      time.Time       `json:"createdAt"`
	// History is the delivery's attempts, oldest first: the last MaxDeliveryHistory of them.
	History []DeliveryAttemptRecord `json:"history"`
}

// MaxDeliveryHistory is how many attempts a delivery remembers.
const MaxDeliveryHistory = 20

// DeliveryAttemptRecord is one attempt as the deliveries list shows it.
type DeliveryAttemptRecord struct {
	At            time.Time `json:"at"`
	Succeeded     bool      `json:"succeeded"`
	ResponseCode  *int      `json:"responseCode"`
	LatencyMillis int64     `json:"latencyMs"`
	Error         string    `json:"error,omitempty"`
}

// DeliveryAttempt is the outcome of one attempt. NextAttemptAt nil with Succeeded false marks
// the delivery failed for good.
type DeliveryAttempt struct {
	At            time.Time
	Succeeded     bool
	ResponseCode  *int
	LatencyMillis int64
	Error         string
	NextAttemptAt *time.Time
}

// IntegrationFeed is an organization's position in its event stream: the last event whose
// deliveries are committed. Since is when the organization's first integration was created;
// leads created before it are not announced as lead.created.
type IntegrationFeed struct {
	OrganizationID uuid.UUID
	After          uuid.UUID
	Since          time.Time
}

// IntegrationDispatch is what one dispatch step commits atomically: the deliveries made from
// the events in (From, To], the leads' new states (lead id → fingerprint), and To as the feed's
// new position.
type IntegrationDispatch struct {
	From, To   uuid.UUID
	Deliveries []*IntegrationDelivery
	LeadStates map[string]string
}

// IntegrationStore keeps integrations, their delivery outbox and the per-organization feed
// position. Events themselves are the EventStore's rows, written with the change they report.
type IntegrationStore interface {
	// CreateIntegration stores i for orgID (fresh id and times) and, when it is the organization's
	// only integration, (re)starts its feed at the latest event, so nothing that happened before
	// is sent. EUNPROCESSABLE for an invalid integration.
	CreateIntegration(ctx context.Context, orgID uuid.UUID, i *Integration) error
	// FindIntegrations lists orgID's integrations, oldest first.
	FindIntegrations(ctx context.Context, orgID uuid.UUID) ([]*Integration, error)
	// FindIntegrationByID returns ENOTFOUND if id is not an integration of orgID.
	FindIntegrationByID(ctx context.Context, orgID, id uuid.UUID) (*Integration, error)
	// UpdateIntegration returns ENOTFOUND if id is not an integration of orgID.
	UpdateIntegration(ctx context.Context, orgID, id uuid.UUID, upd IntegrationUpdate) (*Integration, error)
	// DeleteIntegration removes the integration with its deliveries; ENOTFOUND if id is not orgID's.
	DeleteIntegration(ctx context.Context, orgID, id uuid.UUID) error

	// ClaimIntegrationFeeds is tenant-free: it claims up to limit feeds of organizations with
	// at least one integration (enabled or not) whose claim expired or is owner's already, until
	// now+lease. One owner at a time holds a feed. EINVALID for a lease that is not positive.
	ClaimIntegrationFeeds(ctx context.Context, owner string, now time.Time, lease time.Duration, limit int) ([]*IntegrationFeed, error)
	// IntegrationLeadStates returns the stored fingerprints of orgID's leads among ids.
	IntegrationLeadStates(ctx context.Context, orgID uuid.UUID, ids []string) (map[string]string, error)
	// CommitIntegrationDispatch inserts d's deliveries (a delivery whose integration and event id
	// exist already is skipped), stores d's lead states and moves orgID's feed from d.From to
	// d.To, in one transaction. ECONFLICT when the feed is not at d.From any more (another node
	// dispatched meanwhile): nothing is written.
	CommitIntegrationDispatch(ctx context.Context, orgID uuid.UUID, d IntegrationDispatch) error

	// ClaimDueDeliveries is tenant-free: it claims up to limit pending deliveries that are due at
	// now, not claimed past now and not behind an earlier pending delivery of the same lead to
	// the same integration, until now+lease, oldest first.
	ClaimDueDeliveries(ctx context.Context, now time.Time, lease time.Duration, limit int) ([]*IntegrationDelivery, error)
	// RecordDeliveryAttempt stores a pending delivery's attempt (its outcome and a History entry)
	// and releases its claim.
	// ENOTFOUND if id is not a delivery of orgID; ECONFLICT if it is not pending any more.
	RecordDeliveryAttempt(ctx context.Context, orgID, id uuid.UUID, a DeliveryAttempt) (*IntegrationDelivery, error)
	// FindDeliveries lists an integration's deliveries, newest first, at most limit
	// (DefaultDeliveryListLimit when <= 0). ENOTFOUND if the integration is not orgID's.
	FindDeliveries(ctx context.Context, orgID, integrationID uuid.UUID, limit int) ([]*IntegrationDelivery, error)
	// Redeliver makes a delivery pending again, due at once, with the same event id and a fresh
	// retry schedule (attempts back to 0).
	// ENOTFOUND if id is not a delivery of that integration of orgID.
	Redeliver(ctx context.Context, orgID, integrationID, id uuid.UUID) (*IntegrationDelivery, error)
}

// NewIntegrationSecret returns a fresh webhook signing secret: "whsec_" and 32 random bytes in
// hex. A receiver keys its HMAC with the secret's bytes exactly as shown.
func NewIntegrationSecret() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	return "whsec_" + hex.EncodeToString(b)
}
