package postgres

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/jack-auto/jack"
	"github.com/jack-auto/jack/persistence"
)

// InsertEvents queues events to be stored with the transaction's writes: the group-commit
// writer inserts them at the end of the batch and numbers them (Seq) from the organization's
// counter row in the same statement, so numbers follow commit order without a lock held for
// the whole transaction (writer.go, migration 00006). Each e gets the organization, its
// Timestamp (the transaction's time when zero; retention reads it) and an ID when it has none.
func (tx *Tx) InsertEvents(ctx context.Context, events ...*jack.Event) error {
	return tx.write.AddEvents(tx.now, events...)
}

// FindEvents returns orgID's events after filter.AfterSeq (or after the event filter.After),
// in Seq order, optionally only one lead's.
func (s *Store) FindEvents(ctx context.Context, orgID uuid.UUID, filter jack.EventFilter) ([]*jack.Event, error) {
	limit := jack.PageLimit(filter.Limit, persistence.DefaultEventLimit, persistence.MaxEventLimit)
	events := []*jack.Event{}
	err := s.inTx(ctx, orgID, func(tx *Tx) error {
		after := filter.AfterSeq
		if filter.After != uuid.Nil {
			var err error
			if after, err = eventSeq(ctx, tx, filter.After); err != nil {
				return err
			}
		}
		rows, err := tx.tx.Query(ctx, `SELECT payload, seq FROM events
			WHERE organization_id = $1 AND seq > $2 AND ($3::varchar IS NULL OR lead_id = $3)
			ORDER BY seq LIMIT $4`, tx.orgID, after, nullText(filter.LeadID), limit)
		found, err := collect(rows, err, scanEvent)
		events = append(events, found...)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("find events: %w", err)
	}
	return events, nil
}

// eventSeq is EventSeq inside a transaction.
func eventSeq(ctx context.Context, tx *Tx, id uuid.UUID) (int64, error) {
	var seq int64
	err := tx.tx.QueryRow(ctx, `SELECT COALESCE(
			(SELECT seq FROM events WHERE organization_id = $1 AND id = $2),
			(SELECT seq FROM events WHERE organization_id = $1 AND id < $2 ORDER BY id DESC LIMIT 1),
			0)`, tx.orgID, id).Scan(&seq)
	if err != nil {
		return 0, fmt.Errorf("event seq: %w", err)
	}
	return seq, nil
}

func scanEvent(row persistence.Row) (*jack.Event, error) {
	var payload []byte
	var seq int64
	if err := row.Scan(&payload, &seq); err != nil {
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
	e.Seq = seq
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

// LastEventSeq returns orgID's greatest Seq, 0 when it has no events: the counter row, which
// never goes back even when old events are trimmed.
func (s *Store) LastEventSeq(ctx context.Context, orgID uuid.UUID) (int64, error) {
	var seq int64
	err := s.inTx(ctx, orgID, func(tx *Tx) error {
		err := tx.tx.QueryRow(ctx, `SELECT last_seq FROM event_seqs WHERE organization_id = $1`, tx.orgID).Scan(&seq)
		if errors.Is(err, pgx.ErrNoRows) {
			return nil
		}
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("last event seq: %w", err)
	}
	return seq, nil
}

// EventSeq returns the Seq of orgID's event id, or of the latest kept event with a smaller id
// (event ids are time-ordered), 0 when none.
func (s *Store) EventSeq(ctx context.Context, orgID uuid.UUID, id uuid.UUID) (int64, error) {
	var seq int64
	err := s.inTx(ctx, orgID, func(tx *Tx) (err error) {
		seq, err = eventSeq(ctx, tx, id)
		return err
	})
	return seq, err
}
