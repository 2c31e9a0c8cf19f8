package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jack-auto/jack"
	"github.com/jack-auto/jack/persistence"
)

// queryReminders runs a reminder query and returns its rows (never nil).
func queryReminders(ctx context.Context, tx *Tx, query string, args ...any) ([]*jack.Reminder, error) {
	rows, err := tx.query(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	reminders := []*jack.Reminder{}
	for rows.Next() {
		r, err := persistence.ScanReminder(rows)
		if err != nil {
			return nil, err
		}
		reminders = append(reminders, r)
	}
	return reminders, formatError(rows.Err())
}

// ClaimDueReminders is tenant-free: it claims up to limit pending reminders of every
// organization that are due at now and not claimed past now, until now+lease, soonest first.
// SQLite has one writer, so the claim's read and write are never interleaved with another
// claim's. EINVALID for a lease that is not positive; limit <= 0 means
// persistence.DefaultClaimLimit.
func (s *Store) ClaimDueReminders(ctx context.Context, now time.Time, lease time.Duration, limit int) ([]*jack.Reminder, error) {
	until, n, err := persistence.ClaimWindow(now, lease, limit)
	if err != nil {
		return nil, err
	}
	var reminders []*jack.Reminder
	err = s.inTx(ctx, uuid.Nil, func(tx *Tx) (err error) {
		reminders, err = queryReminders(ctx, tx, `UPDATE reminders SET claimed_until = ?
			WHERE id IN (SELECT id FROM reminders
				WHERE status = ? AND due_at <= ? AND (claimed_until IS NULL OR claimed_until <= ?)
				ORDER BY due_at, id LIMIT ?)
			RETURNING `+persistence.ReminderColumns,
			timeArg(until), jack.ReminderPending, timeArg(now), timeArg(now), n)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("claim due reminders: %w", err)
	}
	persistence.SortReminders(reminders)
	return reminders, nil
}

// FindReminders lists orgID's reminders of one phone ("" for all), newest first, at most
// persistence.MaxReminders.
func (s *Store) FindReminders(ctx context.Context, orgID uuid.UUID, phone string) ([]*jack.Reminder, error) {
	var reminders []*jack.Reminder
	err := s.inReadTx(ctx, orgID, func(tx *Tx) (err error) {
		reminders, err = queryReminders(ctx, tx, `SELECT `+persistence.ReminderColumns+` FROM reminders
			WHERE organization_id = ? AND (? = '' OR phone_number_normalized = ?)
			ORDER BY created_at DESC, id DESC LIMIT ?`, tx.orgID.String(), phone, phone, persistence.MaxReminders)
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
// cannot be stored, ECONFLICT if r.ID is taken.
func (tx *Tx) ScheduleReminder(ctx context.Context, r *jack.Reminder) error {
	lead, err := findLeadByID(ctx, tx, r.LeadID)
	if err != nil {
		return err
	}
	if err := persistence.PrepareReminder(r, tx.orgID, lead, tx.now); err != nil {
		return err
	}
	if _, err := tx.CancelReminders(ctx, r.Phone); err != nil {
		return err
	}
	_, err = tx.exec(ctx, `INSERT INTO reminders (id, organization_id, lead_id, phone_number_normalized, step,
			due_at, status, created_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
		r.ID.String(), r.OrganizationID.String(), r.LeadID, r.Phone, r.Step, timeArg(r.DueAt), r.Status, timeArg(r.CreatedAt))
	if err != nil {
		return fmt.Errorf("schedule reminder: %w", err)
	}
	return nil
}

// CancelReminders cancels the phone's pending reminders and says how many.
func (tx *Tx) CancelReminders(ctx context.Context, phone string) (int, error) {
	res, err := tx.exec(ctx, `UPDATE reminders SET status = ?
		WHERE organization_id = ? AND phone_number_normalized = ? AND status = ?`,
		jack.ReminderCanceled, tx.orgID.String(), phone, jack.ReminderPending)
	if err != nil {
		return 0, fmt.Errorf("cancel reminders: %w", err)
	}
	n, err := res.RowsAffected()
	return int(n), err
}

// FindPendingReminder returns the phone's pending reminder; ENOTFOUND when none. The write
// transaction holds SQLite's database lock, so the row stays put until it ends.
func (tx *Tx) FindPendingReminder(ctx context.Context, phone string) (*jack.Reminder, error) {
	r, err := persistence.ScanReminder(tx.queryRow(ctx, `SELECT `+persistence.ReminderColumns+` FROM reminders
		WHERE organization_id = ? AND phone_number_normalized = ? AND status = ?`,
		tx.orgID.String(), phone, jack.ReminderPending))
	return r, notFound(err, "Reminder")
}

// MarkReminderFired sets a pending reminder fired at the transaction's time. ECONFLICT when it
// is not pending any more, ENOTFOUND when the organization has no reminder id.
func (tx *Tx) MarkReminderFired(ctx context.Context, id uuid.UUID) error {
	res, err := tx.exec(ctx, `UPDATE reminders SET status = ?, fired_at = ?
		WHERE organization_id = ? AND id = ? AND status = ?`,
		jack.ReminderFired, timeArg(tx.now), tx.orgID.String(), id.String(), jack.ReminderPending)
	if err != nil {
		return fmt.Errorf("fire reminder: %w", err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return err
	} else if n == 1 {
		return nil
	}
	var status string
	err = tx.queryRow(ctx, `SELECT status FROM reminders WHERE organization_id = ? AND id = ?`, tx.orgID.String(), id.String()).Scan(&status)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return fmt.Errorf("fire reminder: %w", formatError(err))
	}
	return persistence.ReminderFireError(err == nil, status)
}

// DeleteRemindersBefore drops fired and canceled reminders older than t.
func (s *Store) DeleteRemindersBefore(ctx context.Context, t time.Time) (int64, error) {
	var n int64
	err := s.inTx(ctx, uuid.Nil, func(tx *Tx) error {
		res, err := tx.exec(ctx, `DELETE FROM reminders WHERE status <> 'pending' AND COALESCE(fired_at, created_at) < ?`, timeArg(t))
		if err != nil {
			return fmt.Errorf("delete reminders: %w", err)
		}
		n, err = res.RowsAffected()
		return err
	})
	return n, err
}
