package persistence

import (
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
