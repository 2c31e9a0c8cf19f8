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

// InsertEvents queues events to be stored with the transaction's writes: the group-commit
// writer inserts them at the end of the batch (insertBatchEvents) and numbers them (Seq) from
// the organization's counter row. Each e gets the organization, its Timestamp (the
// transaction's time when zero) and an ID when it has none.
func (tx *Tx) InsertEvents(ctx context.Context, events ...*jack.Event) error {
	return tx.write.AddEvents(tx.now, events...)
}

// insertBatchEvents stores the events of a batch's writes, numbering each organization's from
// its counter row. SQLite has one writer, so the read of the counter and the commit are never
// interleaved with another writer's: Seq is commit-ordered and gap-free.
func insertBatchEvents(ctx context.Context, sqlTx *sql.Tx, now time.Time, writes []*persistence.Write) error {
	last := map[uuid.UUID]int64{}
	for _, w := range writes {
		if len(w.Events) == 0 {
			continue
		}
		tx := &Tx{tx: sqlTx, orgID: w.OrgID, now: now}
		seq, ok := last[w.OrgID]
		if !ok {
			err := tx.queryRow(ctx, `SELECT last_seq FROM event_seqs WHERE organization_id = ?`, w.OrgID.String()).Scan(&seq)
			if err != nil && !errors.Is(err, sql.ErrNoRows) {
				return fmt.Errorf("last event seq: %w", formatError(err))
			}
		}
		for _, e := range w.Events {
			seq++
			e.Seq = seq
			payload, err := json.Marshal(e)
			if err != nil {
				return fmt.Errorf("marshal event: %w", err)
			}
			if _, err := tx.exec(ctx, `INSERT INTO events (id, organization_id, lead_id, type, payload, created_at, seq) VALUES (?, ?, ?, ?, ?, ?, ?)`,
				e.ID.String(), w.OrgID.String(), nullStringArg(e.LeadID), e.Type, string(payload), timeArg(e.Timestamp), seq); err != nil {
				return fmt.Errorf("insert event: %w", err)
			}
		}
		last[w.OrgID] = seq
	}
	for orgID, seq := range last {
		if _, err := sqlTx.ExecContext(ctx, `INSERT INTO event_seqs (organization_id, last_seq) VALUES (?, ?)
			ON CONFLICT (organization_id) DO UPDATE SET last_seq = excluded.last_seq`, orgID.String(), seq); err != nil {
			return fmt.Errorf("bump event seq: %w", formatError(err))
		}
	}
	return nil
}

// FindEvents returns orgID's events after filter.AfterSeq (or after the event filter.After),
// in Seq order.
func (s *Store) FindEvents(ctx context.Context, orgID uuid.UUID, filter jack.EventFilter) ([]*jack.Event, error) {
	var events []*jack.Event
	err := s.inReadTx(ctx, orgID, func(tx *Tx) (err error) {
		events, err = findEvents(ctx, tx, filter)
		return err
	})
	return events, err
}

func findEvents(ctx context.Context, tx *Tx, filter jack.EventFilter) ([]*jack.Event, error) {
	after := filter.AfterSeq
	if filter.After != uuid.Nil {
		var err error
		if after, err = eventSeq(ctx, tx, filter.After); err != nil {
			return nil, err
		}
	}
	query, args := `organization_id = ? AND seq > ?`, []any{tx.orgID.String(), after}
	if filter.LeadID != "" {
		query, args = query+` AND lead_id = ?`, append(args, filter.LeadID)
	}
	limit := jack.PageLimit(filter.Limit, persistence.DefaultEventLimit, persistence.MaxEventLimit)
	rows, err := tx.query(ctx, `SELECT payload, seq FROM events WHERE `+query+` ORDER BY seq LIMIT ?`, append(args, limit)...)
	if err != nil {
		return nil, fmt.Errorf("find events: %w", err)
	}
	defer rows.Close()
	events := []*jack.Event{}
	for rows.Next() {
		e := &jack.Event{}
		var seq int64
		if err := rows.Scan(persistence.JSON(e), &seq); err != nil {
			return nil, fmt.Errorf("scan event: %w", err)
		}
		e.Seq = seq
		events = append(events, e)
	}
	return events, formatError(rows.Err())
}

// eventSeq is EventSeq inside a transaction. The text of a UUID sorts like its 128 bits.
func eventSeq(ctx context.Context, tx *Tx, id uuid.UUID) (int64, error) {
	var seq int64
	err := tx.queryRow(ctx, `SELECT COALESCE(
			(SELECT seq FROM events WHERE organization_id = ? AND id = ?),
			(SELECT seq FROM events WHERE organization_id = ? AND id < ? ORDER BY id DESC LIMIT 1),
			0)`, tx.orgID.String(), id.String(), tx.orgID.String(), id.String()).Scan(&seq)
	if err != nil {
		return 0, fmt.Errorf("event seq: %w", formatError(err))
	}
	return seq, nil
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

// LastEventSeq returns orgID's greatest Seq (its counter row), 0 when it has no events.
func (s *Store) LastEventSeq(ctx context.Context, orgID uuid.UUID) (int64, error) {
	var seq int64
	err := s.inReadTx(ctx, orgID, func(tx *Tx) error {
		err := tx.queryRow(ctx, `SELECT last_seq FROM event_seqs WHERE organization_id = ?`, tx.orgID.String()).Scan(&seq)
		if errors.Is(err, sql.ErrNoRows) {
			return nil
		}
		return formatError(err)
	})
	return seq, err
}

// EventSeq returns the Seq of orgID's event id, or of the latest kept event with a smaller id,
// 0 when none.
func (s *Store) EventSeq(ctx context.Context, orgID uuid.UUID, id uuid.UUID) (int64, error) {
	var seq int64
	err := s.inReadTx(ctx, orgID, func(tx *Tx) (err error) {
		seq, err = eventSeq(ctx, tx, id)
		return err
	})
	return seq, err
}
