package postgres

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/jack-auto/jack"
	"github.com/jack-auto/jack/persistence"
)

// inboxDialect: Postgres' full-text search on the english tsvector of message bodies, the
// expression conversations_content_fts_idx (migration 00012) indexes.
var inboxDialect = persistence.InboxDialect{
	Lower:  "lower",
	NoTime: "'-infinity'::timestamptz",
	FullText: func(words []string, arg func(v any) string) string {
		return `to_tsvector('english', c.content) @@ plainto_tsquery('english', ` + arg(strings.Join(words, " ")) + `)`
	},
}

// FindInbox implements jack.InboxStore.
func (s *Store) FindInbox(ctx context.Context, orgID uuid.UUID, filter jack.InboxFilter) (*jack.InboxPage, error) {
	var args []any
	arg := func(v any) string {
		args = append(args, v)
		return "$" + strconv.Itoa(len(args))
	}
	var items []*jack.InboxItem
	err := s.inTx(ctx, orgID, func(tx *Tx) error {
		args, items = nil, nil
		q, err := persistence.InboxSQL(inboxDialect, leadColumns, orgID, filter, tx.now, arg)
		if err != nil {
			return err
		}
		rows, err := tx.tx.Query(ctx, q, args...)
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
			if item.Lead, err = scanLead(withExtra(rows, &last.Content, &last.SentBy, &at, &item.Unread, &needs)); err != nil {
				return err
			}
			if at != nil {
				last.Timestamp = at.UTC()
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

// MarkRead implements jack.InboxStore.
func (s *Store) MarkRead(ctx context.Context, orgID, userID uuid.UUID, leadID string) error {
	return s.inTx(ctx, orgID, func(tx *Tx) error {
		tag, err := tx.tx.Exec(ctx, `
			INSERT INTO lead_reads (organization_id, user_id, lead_id, read_at)
			SELECT $1::uuid, $2::uuid, l.id, COALESCE((SELECT MAX(c.timestamp) FROM conversations c WHERE c.organization_id = $1 AND c.lead_id = l.id), $4::timestamptz)
			FROM leads l WHERE l.organization_id = $1 AND l.id = $3
			ON CONFLICT (organization_id, user_id, lead_id) DO UPDATE SET read_at = GREATEST(lead_reads.read_at, EXCLUDED.read_at)`,
			orgID, userID, leadID, tx.now)
		if err != nil {
			return fmt.Errorf("mark read: %w", err)
		}
		if tag.RowsAffected() == 0 {
			return jack.Errorf(jack.ENOTFOUND, "Lead not found.")
		}
		return nil
	})
}

// UnreadCounts implements jack.InboxStore.
func (s *Store) UnreadCounts(ctx context.Context, orgID, userID uuid.UUID) (map[string]int, error) {
	counts := map[string]int{}
	err := s.inTx(ctx, orgID, func(tx *Tx) error {
		clear(counts)
		rows, err := tx.tx.Query(ctx, `
			SELECT c.lead_id, COUNT(*) FROM conversations c
			LEFT JOIN lead_reads r ON r.organization_id = c.organization_id AND r.user_id = $2 AND r.lead_id = c.lead_id
			WHERE c.organization_id = $1 AND c.lead_id IS NOT NULL AND c.sent_by = $3
				AND c.timestamp > COALESCE(r.read_at, (SELECT u.created_at FROM user_profiles u WHERE u.organization_id = $1 AND u.id = $2), '-infinity'::timestamptz)
			GROUP BY c.lead_id`, orgID, userID, jack.SentByCustomer)
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
	persistence.PrepareNote(n, newID, s.Now)
	return s.inTx(ctx, orgID, func(tx *Tx) error {
		tag, err := tx.tx.Exec(ctx, `INSERT INTO lead_notes (id, organization_id, lead_id, author_user_id, body, created_at)
			SELECT $1, l.organization_id, l.id, $4, $5, $6 FROM leads l WHERE l.organization_id = $2 AND l.id = $3`,
			n.ID, orgID, n.LeadID, n.AuthorUserID, n.Body, n.CreatedAt)
		if err != nil {
			return fmt.Errorf("create note: %w", err)
		}
		if tag.RowsAffected() == 0 {
			return jack.Errorf(jack.ENOTFOUND, "Lead not found.")
		}
		return nil
	})
}

// FindNotes implements jack.NoteStore.
func (s *Store) FindNotes(ctx context.Context, orgID uuid.UUID, leadID string) ([]*jack.Note, error) {
	var notes []*jack.Note
	err := s.inTx(ctx, orgID, func(tx *Tx) error {
		notes = []*jack.Note{}
		var exists bool
		if err := tx.tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM leads WHERE organization_id = $1 AND id = $2)`, orgID, leadID).Scan(&exists); err != nil {
			return err
		} else if !exists {
			return jack.Errorf(jack.ENOTFOUND, "Lead not found.")
		}
		rows, err := tx.tx.Query(ctx, `SELECT id, lead_id, author_user_id, body, created_at FROM (
			SELECT * FROM lead_notes WHERE organization_id = $1 AND lead_id = $2 ORDER BY created_at DESC, id DESC LIMIT $3) n
			ORDER BY created_at, id`, orgID, leadID, persistence.MaxNotes)
		if err != nil {
			return fmt.Errorf("find notes: %w", err)
		}
		defer rows.Close()
		for rows.Next() {
			var n jack.Note
			if err := rows.Scan(&n.ID, &n.LeadID, &n.AuthorUserID, &n.Body, &n.CreatedAt); err != nil {
				return err
			}
			n.CreatedAt = n.CreatedAt.UTC()
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
		r, err = persistence.ScanReminder(tx.tx.QueryRow(ctx, `UPDATE reminders SET
				status = CASE WHEN $3 THEN 'canceled' ELSE status END, due_at = COALESCE($4, due_at), claimed_until = NULL
			WHERE organization_id = $1 AND id = $2 AND status = 'pending' RETURNING `+persistence.ReminderColumns, orgID, id, cancel, truncPtr(dueAt)))
		if errors.Is(err, pgx.ErrNoRows) {
			var exists bool
			if err := tx.tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM reminders WHERE organization_id = $1 AND id = $2)`, orgID, id).Scan(&exists); err != nil {
				return err
			}
			return persistence.ReminderGone(exists)
		}
		return err
	})
	return r, err
}
