package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/jack-auto/jack"
	"github.com/jack-auto/jack/persistence"
)

// inboxDialect: FTS5 over message bodies (conversations_fts, migration 00012), every word
// required, as Postgres' plainto_tsquery does; jack_lower folds beyond ASCII.
var inboxDialect = persistence.InboxDialect{
	Lower:  "jack_lower",
	NoTime: "''",
	FullText: func(words []string, arg func(v any) string) string {
		quoted := make([]string, len(words))
		for i, w := range words {
			quoted[i] = `"` + w + `"` // words hold only letters and digits: no FTS5 syntax
		}
		return `c.rowid IN (SELECT rowid FROM conversations_fts WHERE conversations_fts MATCH ` + arg(strings.Join(quoted, " ")) + `)`
	},
}

// sqlArg is a query argument as this adapter stores it: times as text, ids as strings.
func sqlArg(v any) any {
	switch x := v.(type) {
	case time.Time:
		return timeArg(x)
	case uuid.UUID:
		return x.String()
	}
	return v
}

// FindInbox implements jack.InboxStore.
func (s *Store) FindInbox(ctx context.Context, orgID uuid.UUID, filter jack.InboxFilter) (*jack.InboxPage, error) {
	var args []any
	arg := func(v any) string {
		args = append(args, sqlArg(v))
		return "?"
	}
	var items []*jack.InboxItem
	err := s.inReadTx(ctx, orgID, func(tx *Tx) error {
		args, items = nil, nil
		q, err := persistence.InboxSQL(inboxDialect, leadColumns, orgID, filter, tx.now, arg)
		if err != nil {
			return err
		}
		rows, err := tx.query(ctx, q, args...)
		if err != nil {
			return fmt.Errorf("find inbox: %w", err)
		}
		defer rows.Close()
		for rows.Next() {
			var (
				item  jack.InboxItem
				last  jack.MessagePreview
				at    *time.Time
				needs int
			)
			if item.Lead, err = scanLead(extraScanner{rows, []any{&last.Content, &last.SentBy, persistence.NullTime(&at), &item.Unread, &needs}}); err != nil {
				return err
			}
			if at != nil {
				last.Timestamp = *at
				item.LastMessage = &last
			}
			item.NeedsHuman = needs == 1
			items = append(items, &item)
		}
		return rows.Err()
	})
	if err != nil {
		return nil, err
	}
	return persistence.InboxPage(items, filter), nil
}

// extraScanner scans a row whose columns are a scanner's plus a few more, into extra.
type extraScanner struct {
	row   scanner
	extra []any
}

func (r extraScanner) Scan(dest ...any) error { return r.row.Scan(append(dest, r.extra...)...) }

// MarkRead implements jack.InboxStore.
func (s *Store) MarkRead(ctx context.Context, orgID, userID uuid.UUID, leadID string) error {
	return s.inTx(ctx, orgID, func(tx *Tx) error {
		res, err := tx.exec(ctx, `
			INSERT INTO lead_reads (organization_id, user_id, lead_id, read_at)
			SELECT l.organization_id, ?, l.id, COALESCE((SELECT MAX(c.timestamp) FROM conversations c WHERE c.organization_id = l.organization_id AND c.lead_id = l.id), ?)
			FROM leads l WHERE l.organization_id = ? AND l.id = ?
			ON CONFLICT (organization_id, user_id, lead_id) DO UPDATE SET read_at = MAX(lead_reads.read_at, excluded.read_at)`,
			userID.String(), timeArg(tx.now), orgID.String(), leadID)
		if err != nil {
			return fmt.Errorf("mark read: %w", err)
		}
		if n, err := res.RowsAffected(); err != nil {
			return err
		} else if n == 0 {
			return jack.Errorf(jack.ENOTFOUND, "Lead not found.")
		}
		return nil
	})
}

// UnreadCounts implements jack.InboxStore.
func (s *Store) UnreadCounts(ctx context.Context, orgID, userID uuid.UUID) (map[string]int, error) {
	counts := map[string]int{}
	err := s.inReadTx(ctx, orgID, func(tx *Tx) error {
		clear(counts)
		rows, err := tx.query(ctx, `
			SELECT c.lead_id, COUNT(*) FROM conversations c
			LEFT JOIN lead_reads r ON r.organization_id = c.organization_id AND r.user_id = ? AND r.lead_id = c.lead_id
			WHERE c.organization_id = ? AND c.lead_id IS NOT NULL AND c.sent_by = ?
				AND c.timestamp > COALESCE(r.read_at, (SELECT u.created_at FROM user_profiles u WHERE u.organization_id = c.organization_id AND u.id = ?), '')
			GROUP BY c.lead_id`, userID.String(), orgID.String(), jack.SentByCustomer, userID.String())
		if err != nil {
			return fmt.Errorf("unread counts: %w", err)
		}
		defer rows.Close()
		for rows.Next() {
			var id string
			var n int
			if err := rows.Scan(&id, &n); err != nil {
				return err
			}
			counts[id] = n
		}
		return rows.Err()
	})
	return counts, err
}

// CreateNote implements jack.NoteStore.
func (s *Store) CreateNote(ctx context.Context, orgID uuid.UUID, n *jack.Note) error {
	persistence.PrepareNote(n, func() uuid.UUID { return uuid.Must(uuid.NewV7()) }, s.Now)
	return s.inTx(ctx, orgID, func(tx *Tx) error {
		var author any
		if n.AuthorUserID != nil {
			author = n.AuthorUserID.String()
		}
		res, err := tx.exec(ctx, `INSERT INTO lead_notes (id, organization_id, lead_id, author_user_id, body, created_at)
			SELECT ?, l.organization_id, l.id, ?, ?, ? FROM leads l WHERE l.organization_id = ? AND l.id = ?`,
			n.ID.String(), author, n.Body, timeArg(n.CreatedAt), orgID.String(), n.LeadID)
		if err != nil {
			return fmt.Errorf("create note: %w", err)
		}
		if k, err := res.RowsAffected(); err != nil {
			return err
		} else if k == 0 {
			return jack.Errorf(jack.ENOTFOUND, "Lead not found.")
		}
		return nil
	})
}

// FindNotes implements jack.NoteStore.
func (s *Store) FindNotes(ctx context.Context, orgID uuid.UUID, leadID string) ([]*jack.Note, error) {
	var notes []*jack.Note
	err := s.inReadTx(ctx, orgID, func(tx *Tx) error {
		notes = []*jack.Note{}
		if _, err := findLeadByID(ctx, tx, leadID); err != nil {
			return err
		}
		rows, err := tx.query(ctx, `SELECT id, lead_id, author_user_id, body, created_at FROM (
			SELECT * FROM lead_notes WHERE organization_id = ? AND lead_id = ? ORDER BY created_at DESC, id DESC LIMIT ?)
			ORDER BY created_at, id`, orgID.String(), leadID, persistence.MaxNotes)
		if err != nil {
			return fmt.Errorf("find notes: %w", err)
		}
		defer rows.Close()
		for rows.Next() {
			var n jack.Note
			if err := rows.Scan(&n.ID, &n.LeadID, persistence.NullUUID(&n.AuthorUserID), &n.Body, persistence.Time(&n.CreatedAt)); err != nil {
				return err
			}
			notes = append(notes, &n)
		}
		return rows.Err()
	})
	return notes, err
}

// ChangeReminder implements jack.FollowUpStore. Its claim is dropped, so a node that claimed
// it before the change claims it again when it is due.
func (s *Store) ChangeReminder(ctx context.Context, orgID, id uuid.UUID, cancel bool, dueAt *time.Time) (*jack.Reminder, error) {
	var r *jack.Reminder
	err := s.inTx(ctx, orgID, func(tx *Tx) (err error) {
		var due any
		if dueAt != nil {
			due = timeArg(*dueAt)
		}
		r, err = persistence.ScanReminder(tx.queryRow(ctx, `UPDATE reminders SET
				status = CASE WHEN ? THEN 'canceled' ELSE status END, due_at = COALESCE(?, due_at), claimed_until = NULL
			WHERE organization_id = ? AND id = ? AND status = 'pending' RETURNING `+persistence.ReminderColumns, cancel, due, orgID.String(), id.String()))
		if errors.Is(err, sql.ErrNoRows) || jack.ErrorCode(err) == jack.ENOTFOUND {
			var n int
			if err := tx.queryRow(ctx, `SELECT COUNT(*) FROM reminders WHERE organization_id = ? AND id = ?`, orgID.String(), id.String()).Scan(&n); err != nil {
				return err
			}
			return persistence.ReminderGone(n > 0)
		}
		return err
	})
	return r, err
}
