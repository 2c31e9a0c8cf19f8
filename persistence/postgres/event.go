package postgres

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/jack-auto/jack"
	"github.com/jack-auto/jack/persistence"
)

// InsertEvents stores events for replay, the whole event as JSON in payload, and assigns each
// its id (overwriting e.ID, so the caller publishes what was stored): ids increase in commit
// order per organization. The transaction takes the organization's event lock (a transaction
// advisory lock, held until commit), then reads the greatest stored id and gives each event
// persistence.NextEventID of the transaction's clock. created_at is the event's timestamp
// (what DeleteEventsBefore reads), the transaction's time when zero.
//
// The lock is an advisory lock rather than the organizations row FOR UPDATE: every insert
// into a tenant table takes FOR KEY SHARE on that row for its foreign key, which FOR UPDATE
// conflicts with, so a row lock would queue every write of the organization behind event
// writers and deadlock two conversation transactions that each inserted a message first.
// Call InsertEvents last in a transaction: the lock serializes the organization's event writers
// until commit.
func (tx *Tx) InsertEvents(ctx context.Context, events ...*jack.Event) error {
	if len(events) == 0 {
		return nil
	}
	// Its own statement: under READ COMMITTED the max(id) below then reads a snapshot taken
	// after the previous holder of the lock committed.
	if _, err := tx.tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1)`, eventLockKey(tx.orgID)); err != nil {
		return fmt.Errorf("lock events: %w", err)
	}
	// Postgres has no max(uuid); the (organization_id, id) index answers this backwards.
	last := uuid.Nil
	err := tx.tx.QueryRow(ctx, `SELECT id FROM events WHERE organization_id = $1 ORDER BY id DESC LIMIT 1`, tx.orgID).Scan(&last)
	if err != nil && !errors.Is(err, pgx.ErrNoRows) {
		return fmt.Errorf("last event id: %w", err)
	}
	batch := &pgx.Batch{}
	for _, e := range events {
		e.ID = persistence.NextEventID(tx.now, last)
		last = e.ID
		e.OrganizationID = tx.orgID
		e.Timestamp = orNow(e.Timestamp, tx.now)
		payload, err := json.Marshal(e)
		if err != nil {
			return fmt.Errorf("marshal event: %w", err)
		}
		batch.Queue(`INSERT INTO events (id, organization_id, lead_id, type, payload, created_at)
			VALUES ($1, $2, $3, $4, $5, $6)`,
			e.ID, tx.orgID, nullText(e.LeadID), e.Type, payload, e.Timestamp)
	}
	if err := tx.tx.SendBatch(ctx, batch).Close(); err != nil {
		return fmt.Errorf("insert events: %w", err)
	}
	return nil
}

// eventLockKey is the 64-bit advisory-lock key of an organization's events: FNV-1a of a
// namespace and the organization id, so it does not meet other users of advisory locks (a
// collision between two organizations would only serialize them).
func eventLockKey(orgID uuid.UUID) int64 {
	h := fnv.New64a()
	h.Write([]byte("jack events "))
	h.Write(orgID[:])
	return int64(h.Sum64())
}

// FindEvents returns orgID's events with an id after filter.After (ids increase in commit
// order), oldest first, optionally only one lead's.
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

// LastEventID returns orgID's greatest event id, uuid.Nil when it has none.
func (s *Store) LastEventID(ctx context.Context, orgID uuid.UUID) (uuid.UUID, error) {
	var id uuid.UUID
	err := s.inTx(ctx, orgID, func(tx *Tx) error {
		err := tx.tx.QueryRow(ctx, `SELECT id FROM events WHERE organization_id = $1 ORDER BY id DESC LIMIT 1`, tx.orgID).Scan(&id)
		if errors.Is(err, pgx.ErrNoRows) {
			return nil
		}
		return err
	})
	if err != nil {
		return uuid.Nil, fmt.Errorf("last event id: %w", err)
	}
	return id, nil
}
