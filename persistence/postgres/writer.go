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
// transaction for the whole batch, on a connection of its own. Before each write it sets
// app.current_organization_id to that write's organization (writes come sorted by
// organization, so once per organization per batch), and row-level security checks every
// statement against it exactly as in a transaction of one organization: the writer never
// bypasses RLS.
//
// The batch's events go in last, one statement per organization that bumps the organization's
// counter row (insertBatchEvents), pipelined with the COMMIT in one round trip: the counter's
// row lock is held only while the server runs that statement and the COMMIT right behind it,
// never while the client thinks, so neither a slow node nor a paused one holds an
// organization's events up (a flush serializes with another flush of the same organization
// for the length of one commit, not of a transaction).
func (s *Store) commitWrites(writes []*persistence.Write) (culprit int, retryable bool, err error) {
	ctx, cancel := context.WithTimeout(context.Background(), writeTimeout)
	defer cancel()
	pc, err := s.pool.Acquire(ctx)
	if err != nil {
		return -1, true, translate(fmt.Errorf("postgres: acquire: %w", err))
	}
	// A connection left inside a transaction is destroyed by Release; roll back on every
	// failure so it is not.
	committed := false
	defer func() {
		if !committed {
			_, _ = pc.Exec(context.WithoutCancel(ctx), "ROLLBACK")
		}
		pc.Release()
	}()
	conn := pc.Conn()
	if _, err := conn.Exec(ctx, "BEGIN"); err != nil {
		return -1, true, translate(fmt.Errorf("postgres: begin: %w", err))
	}

	now := persistence.TxTime(s.Now)
	current := uuid.Nil
	for i, w := range writes {
		w.Events = w.Events[:0]
		if w.OrgID != current {
			if _, err := conn.Exec(ctx, setOrganization, w.OrgID.String()); err != nil {
				return -1, true, translate(fmt.Errorf("postgres: set organization: %w", err))
			}
			current = w.OrgID
		}
		if err := w.Fn(&Tx{tx: conn, orgID: w.OrgID, now: now, write: w}); err != nil {
			if !blameable(err) {
				return -1, true, translate(err)
			}
			return i, false, translate(err)
		}
	}
	if s.beforeCommit != nil {
		if err := s.beforeCommit(ctx, conn, len(writes)); err != nil {
			return -1, true, err
		}
	}
	committed, err = commitWithEvents(ctx, conn, writes)
	if err != nil {
		// Not committed when a statement before the COMMIT failed (the server then skipped
		// the COMMIT); unknown when the COMMIT itself got no answer.
		return -1, !committed && !errors.Is(err, errCommitUnknown), translate(err)
	}
	return -1, false, nil
}

// errCommitUnknown marks a COMMIT sent without an answer: it may have committed.
var errCommitUnknown = errors.New("commit outcome unknown")

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

// commitWithEvents numbers and inserts the batch's events and commits, in one pipelined round
// trip: per organization (writes are sorted by organization) one statement that adds the count
// to the organization's counter row and inserts the events numbered just below the new value,
// in submit order; then COMMIT. Each event's Seq is set once its statement answers (the caller
// sees it only after the COMMIT). It reports whether the transaction committed: on an error
// from the COMMIT itself, committed is true and the error wraps errCommitUnknown.
func commitWithEvents(ctx context.Context, conn *pgx.Conn, writes []*persistence.Write) (committed bool, err error) {
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
	batch := &pgx.Batch{}
	for _, g := range groups {
		n := len(g.events)
		ids, leads, types := make([]uuid.UUID, n), make([]*string, n), make([]string, n)
		payloads, times := make([]string, n), make([]time.Time, n)
		for i, e := range g.events {
			payload, err := json.Marshal(e)
			if err != nil {
				return false, fmt.Errorf("marshal event: %w", err)
			}
			ids[i], leads[i], types[i], payloads[i], times[i] = e.ID, nullText(e.LeadID), e.Type, string(payload), e.Timestamp
		}
		batch.Queue(setOrganization, g.orgID.String())
		batch.Queue(insertEventsSQL, g.orgID, int64(n), ids, leads, types, payloads, times)
	}
	batch.Queue("COMMIT")
	br := conn.SendBatch(ctx, batch)
	defer func() {
		if cerr := br.Close(); cerr != nil && err == nil {
			committed, err = true, fmt.Errorf("postgres: commit: %w: %w", errCommitUnknown, cerr)
		}
	}()
	for _, g := range groups {
		if _, err := br.Exec(); err != nil {
			return false, fmt.Errorf("postgres: set organization: %w", err)
		}
		var last int64
		if err := br.QueryRow().Scan(&last); err != nil {
			return false, fmt.Errorf("insert events: %w", err)
		}
		for i, e := range g.events {
			e.Seq = last - int64(len(g.events)) + int64(i) + 1
		}
	}
	tag, err := br.Exec()
	switch {
	case err != nil:
		return true, fmt.Errorf("postgres: commit: %w: %w", errCommitUnknown, err)
	case tag.String() != "COMMIT": // the server rolled back instead (a deferred constraint)
		return false, fmt.Errorf("postgres: commit answered %q", tag.String())
	}
	return true, nil
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
