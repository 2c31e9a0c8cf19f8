package persistence

import (
	"encoding/json"
	"fmt"
	"slices"
	"time"

	"github.com/google/uuid"
	"github.com/jack-auto/jack"
)

// Reminder listing and claiming bounds shared by both adapters.
const (
	MaxReminders      = 200 // FindReminders
	DefaultClaimLimit = 100 // ClaimDueReminders when limit <= 0
	MaxClaimLimit     = 1000
)

// PrepareReminder fills r's defaults before ScheduleReminder inserts it for the lead of orgID
// (found by the adapter, so it is the organization's) at now: a fresh id, the organization, the
// lead's phone when r has none, pending, created now when zero, times truncated. Returns
// EINVALID when r cannot be stored: no due time, a negative step, a status other than pending,
// or a phone that is not the lead's.
func PrepareReminder(r *jack.Reminder, orgID uuid.UUID, lead *jack.Lead, now time.Time) error {
	switch {
	case r.DueAt.IsZero():
		return jack.Errorf(jack.EINVALID, "A reminder needs a due time.")
	case r.Step < 0:
		return jack.Errorf(jack.EINVALID, "A reminder's step cannot be negative.")
	case r.Status != "" && r.Status != jack.ReminderPending:
		return jack.Errorf(jack.EINVALID, "A reminder is scheduled pending.")
	case r.Phone != "" && r.Phone != lead.PhoneNumberNormalized:
		return jack.Errorf(jack.EINVALID, "A reminder's phone must be its lead's.")
	}
	if r.ID == uuid.Nil {
		r.ID = uuid.Must(uuid.NewV7())
	}
	r.OrganizationID = orgID
	r.Phone = lead.PhoneNumberNormalized
	r.Status = jack.ReminderPending
	if r.CreatedAt.IsZero() {
		r.CreatedAt = now
	}
	r.CreatedAt, r.DueAt = Truncate(r.CreatedAt), Truncate(r.DueAt)
	r.FiredAt = nil
	return nil
}

// ClaimWindow checks ClaimDueReminders' arguments and returns the claim's expiry (now+lease,
// truncated) and the row limit: DefaultClaimLimit when limit <= 0, at most MaxClaimLimit.
// EINVALID for a lease that is not positive: the claim would expire as it is made.
func ClaimWindow(now time.Time, lease time.Duration, limit int) (until time.Time, n int, err error) {
	if lease <= 0 {
		return time.Time{}, 0, jack.Errorf(jack.EINVALID, "The claim lease must be positive.")
	}
	return Truncate(now.Add(lease)), jack.PageLimit(limit, DefaultClaimLimit, MaxClaimLimit), nil
}

// SortReminders orders claimed reminders soonest first (ties by id), the order
// ClaimDueReminders promises whatever order the database returned them in.
func SortReminders(rs []*jack.Reminder) {
	slices.SortFunc(rs, func(a, b *jack.Reminder) int {
		if c := a.DueAt.Compare(b.DueAt); c != 0 {
			return c
		}
		return slices.Compare(a.ID[:], b.ID[:])
	})
}

// ReminderFireError returns what MarkReminderFired answers when its conditional update
// matched no pending reminder: ENOTFOUND when the organization has no reminder id (found is
// false), else ECONFLICT naming the status it has now.
func ReminderFireError(found bool, status string) error {
	if !found {
		return jack.Errorf(jack.ENOTFOUND, "Reminder not found.")
	}
	return jack.Errorf(jack.ECONFLICT, "The reminder is %s, not pending.", status)
}

// MediaJSON returns what conversations.media stores for m: a JSON array, '[]' when m is empty
// (the column is NOT NULL and JSON null is not an array).
func MediaJSON(m []jack.MessageMedia) ([]byte, error) {
	if len(m) == 0 {
		return []byte("[]"), nil
	}
	b, err := json.Marshal(m)
	if err != nil {
		return nil, fmt.Errorf("marshal media: %w", err)
	}
	return b, nil
}

// MediaOrNil returns m, or nil when it is empty, so a message without attachments reads back as
// it was written and its JSON omits media.
func MediaOrNil(m []jack.MessageMedia) []jack.MessageMedia {
	if len(m) == 0 {
		return nil
	}
	return m
}
