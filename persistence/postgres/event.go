package postgres

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/jack-auto/jack"
	"github.com/jack-auto/jack/persistence"
)

// InsertEvents stores events for replay: the payload column holds the whole event as JSON.
// An event id stored before is skipped, so a retried transaction is harmless.
func (tx *Tx) InsertEvents(ctx context.Context, events ...*jack.Event) error {
	if len(events) == 0 {
		return nil
	}
	batch := &pgx.Batch{}
	for _, e := range events {
		if e.ID == uuid.Nil {
			e.ID = newID()
		}
		e.OrganizationID = tx.orgID
		e.Timestamp = orNow(e.Timestamp, tx.now)
		payload, err := json.Marshal(e)
		if err != nil {
			return fmt.Errorf("marshal event: %w", err)
		}
		batch.Queue(`INSERT INTO events (id, organization_id, lead_id, type, payload, created_at)
			VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (id) DO NOTHING`,
			e.ID, tx.orgID, nullText(e.LeadID), e.Type, payload, e.Timestamp)
	}
	if err := tx.tx.SendBatch(ctx, batch).Close(); err != nil {
		return fmt.Errorf("insert events: %w", err)
	}
	return nil
}

// FindEvents returns orgID's events with an id after filter.After (ids are time-ordered),
// oldest first, optionally only one lead's.
func (s *Store) FindEvents(ctx context.Context, orgID uuid.UUID, filter jack.EventFilter) ([]*jack.Event, error) {
	limit := jack.PageLimit(filter.Limit, persistence.DefaultEventLimit, persistence.MaxEventLimit)
	events := []*jack.Event{}
	err := s.inTx(ctx, orgID, func(tx *Tx) error {
		rows, err := tx.tx.Query(ctx, `SELECT payload FROM events
			WHERE organization_id = $1 AND id > $2 AND ($3::varchar IS NULL OR lead_id = $3)
			ORDER BY id LIMIT $4`, tx.orgID, filter.After, nullText(filter.LeadID), limit)
		found, err := collect(rows, err, scanEvent)
		events = append(events, found...)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("find events: %w", err)
	}
	return events, nil
}

func scanEvent(row pgx.Row) (*jack.Event, error) {
	var payload []byte
	if err := row.Scan(&payload); err != nil {
		return nil, err
	}
	var e jack.Event
	if err := json.Unmarshal(payload, &e); err != nil {
		return nil, fmt.Errorf("unmarshal event: %w", err)
	}
	// jsonb reformats what it stores; give Data back compact, as json.Marshal wrote it.
	if len(e.Data) > 0 {
		var buf bytes.Buffer
		if err := json.Compact(&buf, e.Data); err == nil {
			e.Data = buf.Bytes()
		}
	}
	e.Timestamp = e.Timestamp.UTC()
	return &e, nil
}

// DeleteEventsBefore is tenant-free maintenance through the SECURITY DEFINER
// delete_events_before: it drops every organization's events older than t.
func (s *Store) DeleteEventsBefore(ctx context.Context, t time.Time) (int64, error) {
	var n int64
	err := s.inTenantFreeTx(ctx, func(tx *Tx) error {
		return tx.tx.QueryRow(ctx, `SELECT delete_events_before($1)`, t).Scan(&n)
	})
	if err != nil {
		return 0, fmt.Errorf("delete events: %w", err)
	}
	return n, nil
}
