package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jack-auto/jack"
	"github.com/jack-auto/jack/persistence"
)

// InsertEvents stores events of the organization for replay, the whole event as JSON in
// payload, and assigns each its id (overwriting e.ID, so the caller publishes what was stored):
// persistence.NextEventID of the transaction's clock after the organization's greatest stored
// id. SQLite has one writer (BEGIN IMMEDIATE), so that read and the commit are never
// interleaved with another writer's, and ids increase in commit order. A missing timestamp
// is the transaction's time; created_at (what DeleteEventsBefore reads) is the event's timestamp.
func (tx *Tx) InsertEvents(ctx context.Context, events ...*jack.Event) error {
	if len(events) == 0 {
		return nil
	}
	var maxID string
	if err := tx.queryRow(ctx, `SELECT max(id) FROM events WHERE organization_id = ?`, tx.orgID.String()).
		Scan(nullString{&maxID}); err != nil {
		return fmt.Errorf("last event id: %w", formatError(err))
	}
	last := uuid.Nil
	if maxID != "" {
		var err error
		if last, err = uuid.Parse(maxID); err != nil {
			return fmt.Errorf("last event id: %w", err)
		}
	}
	for _, e := range events {
		e.ID = persistence.NextEventID(tx.now, last)
		last = e.ID
		e.OrganizationID = tx.orgID
		if e.Timestamp.IsZero() {
			e.Timestamp = tx.now
		}
		e.Timestamp = persistence.Truncate(e.Timestamp)
		payload, err := json.Marshal(e)
		if err != nil {
			return fmt.Errorf("marshal event: %w", err)
		}
		if _, err := tx.exec(ctx, `INSERT INTO events (id, organization_id, lead_id, type, payload, created_at) VALUES (?, ?, ?, ?, ?, ?)`,
			e.ID.String(), tx.orgID.String(), nullStringArg(e.LeadID), e.Type, string(payload), timeArg(e.Timestamp)); err != nil {
			return fmt.Errorf("insert event: %w", err)
		}
	}
	return nil
}

// FindEvents returns orgID's events with an id after filter.After, oldest first. The text of a
// UUID sorts like its 128 bits, so text order is id order, which is commit order.
func (s *Store) FindEvents(ctx context.Context, orgID uuid.UUID, filter jack.EventFilter) ([]*jack.Event, error) {
	var events []*jack.Event
	err := s.inReadTx(ctx, orgID, func(tx *Tx) (err error) {
		events, err = findEvents(ctx, tx, filter)
		return err
	})
	return events, err
}

func findEvents(ctx context.Context, tx *Tx, filter jack.EventFilter) ([]*jack.Event, error) {
	query, args := `organization_id = ? AND id > ?`, []any{tx.orgID.String(), filter.After.String()}
	if filter.LeadID != "" {
		query, args = query+` AND lead_id = ?`, append(args, filter.LeadID)
	}
	limit := jack.PageLimit(filter.Limit, persistence.DefaultEventLimit, persistence.MaxEventLimit)
	rows, err := tx.query(ctx, `SELECT payload FROM events WHERE `+query+` ORDER BY id LIMIT ?`, append(args, limit)...)
	if err != nil {
		return nil, fmt.Errorf("find events: %w", err)
	}
	defer rows.Close()
	events := []*jack.Event{}
	for rows.Next() {
		e := &jack.Event{}
		if err := rows.Scan(jsonText{e}); err != nil {
			return nil, fmt.Errorf("scan event: %w", err)
		}
		events = append(events, e)
	}
	return events, formatError(rows.Err())
}

// DeleteEventsBefore is tenant-free maintenance: it drops every organization's events older
// than t and says how many.
func (s *Store) DeleteEventsBefore(ctx context.Context, t time.Time) (int64, error) {
	var n int64
	err := s.inTx(ctx, uuid.Nil, func(tx *Tx) error {
		res, err := tx.exec(ctx, `DELETE FROM events WHERE created_at < ?`, timeArg(t))
		if err != nil {
			return fmt.Errorf("delete events: %w", err)
		}
		n, err = res.RowsAffected()
		return err
	})
	return n, err
}

// LastEventID returns orgID's greatest event id, uuid.Nil when it has none.
func (s *Store) LastEventID(ctx context.Context, orgID uuid.UUID) (uuid.UUID, error) {
	var id uuid.UUID
	err := s.inReadTx(ctx, orgID, func(tx *Tx) error {
		var raw string
		err := tx.queryRow(ctx, `SELECT id FROM events WHERE organization_id = ? ORDER BY id DESC LIMIT 1`, tx.orgID.String()).Scan(&raw)
		if errors.Is(err, sql.ErrNoRows) {
			return nil
		} else if err != nil {
			return fmt.Errorf("last event id: %w", formatError(err))
		}
		id, err = uuid.Parse(raw)
		return err
	})
	return id, err
}
