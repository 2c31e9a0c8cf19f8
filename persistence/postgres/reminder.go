package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/jack-auto/jack"
	"github.com/jack-auto/jack/persistence"
)

// ClaimDueReminders is tenant-free: through the SECURITY DEFINER claim_due_reminders it claims
// up to limit pending reminders of every organization that are due at now and not claimed
// past now, until now+lease, soonest first. FOR UPDATE SKIP LOCKED inside the function keeps
// concurrent claimers (other nodes) from taking the same reminder. EINVALID for a lease that
// is not positive; limit <= 0 means persistence.DefaultClaimLimit.
func (s *Store) ClaimDueReminders(ctx context.Context, now time.Time, lease time.Duration, limit int) ([]*jack.Reminder, error) {
	until, n, err := persistence.ClaimWindow(now, lease, limit)
	if err != nil {
		return nil, err
	}
	reminders, err := queryTenantFree(ctx, s, "claim due reminders", persistence.ScanReminder,
		`SELECT `+persistence.ReminderColumns+` FROM claim_due_reminders($1, $2, $3)`, persistence.Truncate(now), until, n)
	if err != nil {
		return nil, err
	}
	persistence.SortReminders(reminders)
	return reminders, nil
}

// FindReminders lists orgID's reminders of one phone ("" for all), newest first, at most
// persistence.MaxReminders.
func (s *Store) FindReminders(ctx context.Context, orgID uuid.UUID, phone string) ([]*jack.Reminder, error) {
	reminders := []*jack.Reminder{}
	err := s.inTx(ctx, orgID, func(tx *Tx) error {
		rows, err := tx.tx.Query(ctx, `SELECT `+persistence.ReminderColumns+` FROM reminders
			WHERE organization_id = $1 AND ($2 = '' OR phone_number_normalized = $2)
			ORDER BY created_at DESC, id DESC LIMIT $3`, tx.orgID, phone, persistence.MaxReminders)
		found, err := collect(rows, err, persistence.ScanReminder)
		reminders = append(reminders, found...)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("find reminders: %w", err)
	}
	return reminders, nil
}

// ScheduleReminder makes r the one pending reminder of its lead's conversation: it cancels any
// other pending reminder of the phone, then inserts r (see persistence.PrepareReminder for the
// defaults). ENOTFOUND if r.LeadID is not the organization's, EINVALID for a reminder that
// cannot be stored, ECONFLICT if r.ID is taken or a concurrent transaction scheduled one first.
func (tx *Tx) ScheduleReminder(ctx context.Context, r *jack.Reminder) error {
	// Foreign keys ignore row-level security: make sure the lead is this organization's.
	lead, err := findLeadByID(ctx, tx, r.LeadID, false)
	if err != nil {
		return err
	}
	if err := persistence.PrepareReminder(r, tx.orgID, lead, tx.now); err != nil {
		return err
	}
	if _, err := tx.CancelReminders(ctx, r.Phone); err != nil {
		return err
	}
	_, err = tx.tx.Exec(ctx, `INSERT INTO reminders (id, organization_id, lead_id, phone_number_normalized, step,
			due_at, status, created_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
		r.ID, r.OrganizationID, r.LeadID, r.Phone, r.Step, r.DueAt, r.Status, r.CreatedAt)
	if err != nil {
		return fmt.Errorf("schedule reminder: %w", err)
	}
	return nil
}

// CancelReminders cancels the phone's pending reminders and says how many.
func (tx *Tx) CancelReminders(ctx context.Context, phone string) (int, error) {
	tag, err := tx.tx.Exec(ctx, `UPDATE reminders SET status = $3
		WHERE organization_id = $1 AND phone_number_normalized = $2 AND status = $4`,
		tx.orgID, phone, jack.ReminderCanceled, jack.ReminderPending)
	if err != nil {
		return 0, fmt.Errorf("cancel reminders: %w", err)
	}
	return int(tag.RowsAffected()), nil
}

// FindPendingReminder returns the phone's pending reminder, locked (FOR UPDATE) until the
// transaction ends, so a claim firing it and a reply canceling it apply one after the other.
// ENOTFOUND when none.
func (tx *Tx) FindPendingReminder(ctx context.Context, phone string) (*jack.Reminder, error) {
	r, err := persistence.ScanReminder(tx.tx.QueryRow(ctx, `SELECT `+persistence.ReminderColumns+` FROM reminders
		WHERE organization_id = $1 AND phone_number_normalized = $2 AND status = $3 FOR UPDATE`,
		tx.orgID, phone, jack.ReminderPending))
	return r, orNotFound(err, "Reminder")
}

// MarkReminderFired sets a pending reminder fired at the transaction's time. ECONFLICT when it
// is not pending any more, ENOTFOUND when the organization has no reminder id.
func (tx *Tx) MarkReminderFired(ctx context.Context, id uuid.UUID) error {
	tag, err := tx.tx.Exec(ctx, `UPDATE reminders SET status = $3, fired_at = $4
		WHERE organization_id = $1 AND id = $2 AND status = $5`,
		tx.orgID, id, jack.ReminderFired, tx.now, jack.ReminderPending)
	if err != nil {
		return fmt.Errorf("fire reminder: %w", err)
	}
	if tag.RowsAffected() == 1 {
		return nil
	}
	var status string
	err = tx.tx.QueryRow(ctx, `SELECT status FROM reminders WHERE organization_id = $1 AND id = $2`, tx.orgID, id).Scan(&status)
	if err != nil && !errors.Is(err, pgx.ErrNoRows) {
		return fmt.Errorf("fire reminder: %w", err)
	}
	return persistence.ReminderFireError(err == nil, status)
}

// DeleteRemindersBefore drops fired and canceled reminders older than t, through the SECURITY
// DEFINER delete_reminders_before (it looks across organizations).
func (s *Store) DeleteRemindersBefore(ctx context.Context, t time.Time) (int64, error) {
	var n int64
	err := s.inTenantFreeTx(ctx, func(tx *Tx) error {
		return tx.tx.QueryRow(ctx, `SELECT delete_reminders_before($1)`, t).Scan(&n)
	})
	if err != nil {
		return 0, fmt.Errorf("delete reminders: %w", err)
	}
	return n, nil
}
