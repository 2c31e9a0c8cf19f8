package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
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
	committed, fenced, err := commitWithEvents(ctx, conn, writes)
	if fenced >= 0 {
		return fenced, false, jack.Fenced()
	}
	if err != nil {
		// Not committed when a statement or the COMMIT was refused (the batch runs again, each
		// write alone, so one write's failure stays its own); unknown when the COMMIT got no
		// answer: the caller is told to retry, and its retry meets the unique keys.
		if !committed {
			return -1, true, errNotStored(err)
		}
		return -1, false, errNotStored(err)
	}
	return -1, false, nil
}

// errNotStored is a batch's failure as its callers see it: 503, retry (never a 500: the request
// was fine, the database did not take it).
func errNotStored(err error) error {
	if je := (*jack.Error)(nil); errors.As(err, &je) {
		return err
	}
	return fmt.Errorf("%w: %w", jack.Errorf(jack.EUNAVAILABLE, "The database did not store this change; please retry."), err)
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

// commitWithEvents fences, numbers and inserts the batch's events, and commits, in one
// pipelined round trip: per organization (writes are sorted by organization) the owned writes'
// fence (fence_owned_writes: each (phone, epoch) must still own its conversation), then one
// statement that adds the count of events to the organization's counter row and inserts the
// events numbered just below the new value, in submit order; then COMMIT. An error stops the
// server until the end of the pipeline, so a failed fence or insert also skips the COMMIT.
// Each event's Seq is set once its statement answers (the caller sees it only after the
// COMMIT). It reports whether the transaction committed (on an error from the COMMIT itself,
// committed is true and the error wraps errCommitUnknown), and the index of a fenced write
// (-1 when none).
func commitWithEvents(ctx context.Context, conn *pgx.Conn, writes []*persistence.Write) (committed bool, fenced int, err error) {
	type pair struct {
		phone string
		epoch int64
	}
	type group struct {
		orgID  uuid.UUID
		events []*jack.Event
		pairs  []pair
		writer map[pair]int // a write holding each pair, to blame
	}
	var groups []*group
	for i, w := range writes {
		if len(w.Events) == 0 && w.Owner == nil {
			continue
		}
		if n := len(groups); n == 0 || groups[n-1].orgID != w.OrgID {
			groups = append(groups, &group{orgID: w.OrgID, writer: map[pair]int{}})
		}
		g := groups[len(groups)-1]
		g.events = append(g.events, w.Events...)
		if w.Owner != nil {
			p := pair{w.Owner.Phone, w.Owner.Epoch}
			if _, ok := g.writer[p]; !ok {
				g.writer[p] = i
				g.pairs = append(g.pairs, p)
			}
		}
	}
	batch := &pgx.Batch{}
	for _, g := range groups {
		batch.Queue(setOrganization, g.orgID.String())
		if len(g.pairs) > 0 {
			phones, epochs := make([]string, len(g.pairs)), make([]int64, len(g.pairs))
			for i, p := range g.pairs {
				phones[i], epochs[i] = p.phone, p.epoch
			}
			batch.Queue(`SELECT fence_owned_writes($1, $2)`, phones, epochs)
		}
		if n := len(g.events); n > 0 {
			ids, leads, types := make([]uuid.UUID, n), make([]*string, n), make([]string, n)
			payloads, times := make([]string, n), make([]time.Time, n)
			for i, e := range g.events {
				payload, err := json.Marshal(e)
				if err != nil {
					return false, -1, fmt.Errorf("marshal event: %w", err)
				}
				ids[i], leads[i], types[i], payloads[i], times[i] = e.ID, nullText(e.LeadID), e.Type, string(payload), e.Timestamp
			}
			batch.Queue(insertEventsSQL, g.orgID, int64(n), ids, leads, types, payloads, times)
		}
	}
	batch.Queue("COMMIT")
	br := conn.SendBatch(ctx, batch)
	defer func() {
		if cerr := br.Close(); cerr != nil && err == nil && fenced < 0 {
			committed, err = true, fmt.Errorf("postgres: commit: %w: %w", errCommitUnknown, cerr)
		}
	}()
	// A statement's error answered by the server means it skipped the rest, COMMIT included;
	// an I/O error means the answers were lost, whatever the server did: the COMMIT may have run.
	failed := func(what string, err error) (bool, int, error) {
		var pgErr *pgconn.PgError
		if errors.As(err, &pgErr) {
			return false, -1, fmt.Errorf("postgres: %s: %w", what, err)
		}
		return true, -1, fmt.Errorf("postgres: %s: %w: %w", what, errCommitUnknown, err)
	}
	for _, g := range groups {
		if _, err := br.Exec(); err != nil {
			return failed("set organization", err)
		}
		if len(g.pairs) > 0 {
			if _, err := br.Exec(); err != nil {
				if stale, ok := stalePositions(err); ok && len(stale) > 0 && stale[0] <= len(g.pairs) {
					return false, g.writer[g.pairs[stale[0]-1]], err
				}
				return failed("fence", err)
			}
		}
		if len(g.events) > 0 {
			var last int64
			if err := br.QueryRow().Scan(&last); err != nil {
				return failed("insert events", err)
			}
			for i, e := range g.events {
				e.Seq = last - int64(len(g.events)) + int64(i) + 1
			}
		}
	}
	tag, err := br.Exec()
	switch {
	case err != nil: // refused (a deferred constraint or trigger) or unanswered
		return failed("commit", err)
	case tag.String() != "COMMIT": // the server rolled back instead (a deferred constraint)
		return false, -1, fmt.Errorf("postgres: commit answered %q", tag.String())
	}
	return true, -1, nil
}

// codeFenced is the SQLSTATE fence_owned_writes raises (migration 00009).
const codeFenced = "JF001"

// stalePositions reads the 1-based positions of the stale pairs from fence_owned_writes' error.
func stalePositions(err error) ([]int, bool) {
	var pgErr *pgconn.PgError
	if !errors.As(err, &pgErr) || pgErr.Code != codeFenced {
		return nil, false
	}
	var out []int
	for _, f := range strings.Split(pgErr.Detail, ",") {
		if n, err := strconv.Atoi(strings.TrimSpace(f)); err == nil {
			out = append(out, n)
		}
	}
	return out, true
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
