package persistence

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jack-auto/jack"
)

// PrepareIntegration fills a new integration's id, organization and times and validates it.
func PrepareIntegration(i *jack.Integration, orgID uuid.UUID, now time.Time) error {
	if err := i.Validate(); err != nil {
		return err
	}
	i.ID = uuid.Must(uuid.NewV7())
	i.OrganizationID = orgID
	i.CreatedAt, i.UpdatedAt = now, now
	if i.Events == nil {
		i.Events = []string{}
	}
	return nil
}

// IntegrationNotFound is what a lookup of another organization's integration answers.
func IntegrationNotFound() error { return jack.Errorf(jack.ENOTFOUND, "Integration not found.") }

// DeliveryNotFound is what a lookup of another organization's delivery answers.
func DeliveryNotFound() error { return jack.Errorf(jack.ENOTFOUND, "Delivery not found.") }

// FeedMoved is what CommitIntegrationDispatch answers when another node dispatched meanwhile.
func FeedMoved() error {
	return jack.Errorf(jack.ECONFLICT, "The integration feed moved: another node dispatched it.")
}

// NotPending is what RecordDeliveryAttempt answers for a delivery that is not pending any more.
func NotPending() error { return jack.Errorf(jack.ECONFLICT, "The delivery is not pending any more.") }

// ApplyAttempt returns the delivery columns an attempt sets: status, delivered_at and
// next_attempt_at (nil unless retried).
func ApplyAttempt(a jack.DeliveryAttempt) (status string, deliveredAt, next *time.Time) {
	at := Truncate(a.At)
	switch {
	case a.Succeeded:
		return jack.DeliverySucceeded, &at, nil
	case a.NextAttemptAt == nil:
		return jack.DeliveryFailed, nil, nil
	}
	n := Truncate(*a.NextAttemptAt)
	return jack.DeliveryPending, nil, &n
}

// AppendAttempt returns a delivery's history (JSON, as stored) with attempt a added, keeping
// the last jack.MaxDeliveryHistory.
func AppendAttempt(history []byte, a jack.DeliveryAttempt) ([]byte, error) {
	var h []jack.DeliveryAttemptRecord
	if len(history) > 0 {
		if err := json.Unmarshal(history, &h); err != nil {
			return nil, fmt.Errorf("delivery history: %w", err)
		}
	}
	h = append(h, jack.DeliveryAttemptRecord{At: Truncate(a.At), Succeeded: a.Succeeded, ResponseCode: a.ResponseCode,
		LatencyMillis: a.LatencyMillis, Error: a.Error})
	if len(h) > jack.MaxDeliveryHistory {
		h = h[len(h)-jack.MaxDeliveryHistory:]
	}
	return json.Marshal(h)
}

// ParseHistory reads a stored history ([] when empty).
func ParseHistory(history []byte) ([]jack.DeliveryAttemptRecord, error) {
	h := []jack.DeliveryAttemptRecord{}
	if len(history) == 0 {
		return h, nil
	}
	if err := json.Unmarshal(history, &h); err != nil {
		return nil, fmt.Errorf("delivery history: %w", err)
	}
	return h, nil
}
