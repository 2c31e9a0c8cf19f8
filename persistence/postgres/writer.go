package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/jack-auto/jack"
	"github.com/jack-auto/jack/persistence"
)

// commitWrites is the Postgres CommitFunc of the group-commit writer (persistence.Writer): one
// transaction for the whole batch. Before each write it sets app.current_organization_id to
// that write's organization (writes come sorted by organization, so once per organization per
// batch), and row-level security checks every statement against it exactly as in a transaction
// of one organization: the writer never bypasses RLS. The batch's events go in last, one
// statement per organization (insertBatchEvents), so an organization's counter row is locked
// only from that statement to the COMMIT.
func (s *Store) commitWrites(writes []*persistence.Write) (int, bool, error) {
	ctx, cancel := context.WithTimeout(context.Background(), writeTimeout)
	defer cancel()
	ptx, err := s.pool.Begin(ctx)
	if err != nil {
		return -1, true, translate(fmt.Errorf("postgres: begin: %w", err))
	}
	defer func() { _ = ptx.Rollback(context.WithoutCancel(ctx)) }()

	now := persistence.TxTime(s.Now)
	current := uuid.Nil
	for i, w := range writes {
		w.Events = w.Events[:0]
		if w.OrgID != current {
			if _, err := ptx.Exec(ctx, setOrganization, w.OrgID.String()); err != nil {
				return -1, true, translate(fmt.Errorf("postgres: set organization: %w", err))
			}
			current = w.OrgID
		}
		if err := w.Fn(&Tx{tx: ptx, orgID: w.OrgID, now: now, write: w}); err != nil {
			if !blameable(err) {
				return -1, true, translate(err)
			}
			return i, false, translate(err)
		}
	}
	if err := insertBatchEvents(ctx, ptx, writes); err != nil {
		return -1, true, translate(err)
	}
	if s.beforeCommit != nil {
		if err := s.beforeCommit(ctx, ptx, len(writes)); err != nil {
			return -1, true, err
		}
	}
	if err := ptx.Commit(ctx); err != nil {
		return -1, false, translate(fmt.Errorf("postgres: commit: %w", err))
	}
	return -1, false, nil
}

// blameable reports whether an error that surfaced in one write's fn is that write's own: not
// a deadlock or serialization failure (the batch's), and not "transaction is aborted" (an
// earlier write swallowed the statement error that aborted it).
func blameable(err error) bool {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		switch pgErr.Code {
		case "40001", "40P01", "25P02":
			return false
		}
	}
	return true
}

// writeTimeout bounds one batch; a caller whose context ends sooner stops waiting earlier.
const writeTimeout = 30 * time.Second

const setOrganization = `SELECT set_config('app.current_organization_id', $1, true)`

// insertBatchEvents numbers and inserts the batch's events: per organization (ops are sorted by
// organization) one statement that adds the count to the organization's counter row and
// inserts the events numbered just below the new value, in submit order. Everything goes in one
// pipelined round trip. Each event's Seq is set once the statement answers (the caller sees it
// only after COMMIT).
func insertBatchEvents(ctx context.Context, ptx pgx.Tx, writes []*persistence.Write) error {
	type group struct {
		orgID  uuid.UUID
		events []*jack.Event
	}
	var groups []group
	for _, w := range writes {
		if len(w.Events) == 0 {
			continue
		}
		if n := len(groups); n == 0 || groups[n-1].orgID != w.OrgID {
			groups = append(groups, group{orgID: w.OrgID})
		}
		g := &groups[len(groups)-1]
		g.events = append(g.events, w.Events...)
	}
	if len(groups) == 0 {
		return nil
	}
	batch := &pgx.Batch{}
	for _, g := range groups {
		n := len(g.events)
		ids, leads, types := make([]uuid.UUID, n), make([]*string, n), make([]string, n)
		payloads, times := make([]string, n), make([]time.Time, n)
		for i, e := range g.events {
			payload, err := json.Marshal(e)
			if err != nil {
				return fmt.Errorf("marshal event: %w", err)
			}
			ids[i], leads[i], types[i], payloads[i], times[i] = e.ID, nullText(e.LeadID), e.Type, string(payload), e.Timestamp
		}
		batch.Queue(setOrganization, g.orgID.String())
		batch.Queue(insertEventsSQL, g.orgID, int64(n), ids, leads, types, payloads, times)
	}
	br := ptx.SendBatch(ctx, batch)
	defer br.Close()
	for _, g := range groups {
		if _, err := br.Exec(); err != nil {
			return fmt.Errorf("postgres: set organization: %w", err)
		}
		var last int64
		if err := br.QueryRow().Scan(&last); err != nil {
			return fmt.Errorf("insert events: %w", err)
		}
		for i, e := range g.events {
			e.Seq = last - int64(len(g.events)) + int64(i) + 1
		}
	}
	return br.Close()
}

// insertEventsSQL bumps the organization's counter and inserts the events numbered below it.
// The text is the same for any number of events, so it stays prepared.
const insertEventsSQL = `WITH s AS (
	INSERT INTO event_seqs AS q (organization_id, last_seq) VALUES ($1, $2)
	ON CONFLICT (organization_id) DO UPDATE SET last_seq = q.last_seq + EXCLUDED.last_seq
	RETURNING last_seq
), e AS (
	INSERT INTO events (id, organization_id, lead_id, type, payload, created_at, seq)
	SELECT u.id, $1, u.lead_id, u.type, u.payload::jsonb, u.created_at, s.last_seq - $2 + u.ord
	FROM s, unnest($3::uuid[], $4::varchar[], $5::varchar[], $6::text[], $7::timestamptz[])
		WITH ORDINALITY AS u(id, lead_id, type, payload, created_at, ord)
)
SELECT last_seq FROM s` // a data-modifying CTE runs to completion whether or not it is read
