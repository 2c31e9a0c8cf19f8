package persistence

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/jack-auto/jack"
)

// Writer is the group-commit writer both Stores put behind InConversationTx: flushers take the
// queued writes of many conversations, of any organizations, and hand them to the adapter's
// Commit as one batch, so a busy node pays one BEGIN, one COMMIT and one WAL flush for a whole
// batch instead of one per webhook. What it promises each caller:
//
//   - Acknowledged = committed. A caller is answered only once its batch's COMMIT answered.
//   - Isolation. When one write's fn (or one of its statements) fails, Commit says which; that
//     caller gets its error and the rest of the batch is committed again without it (their fns
//     run again, which jack.ConversationStore allows). A failure nobody can be blamed for that
//     certainly rolled back (a deadlock, a lost connection before COMMIT) runs each write on
//     its own; a failure during COMMIT leaves the outcome unknown and is never re-run.
//   - Order. Writes are sorted by organization (stable, so one conversation's writes keep their
//     order); adapters set each organization's tenant context once and lock per-organization
//     rows (the event counters) in one order, so two batches never deadlock on them.
//   - Backpressure. The queue is bounded: when it is full Submit answers EUNAVAILABLE at once
//     (the HTTP layer answers 503 with Retry-After), never an unbounded backlog.
//
// There is no timer: a flusher takes the first queued write and whatever else is queued at that
// moment (up to MaxBatch), so an idle node commits each write at once and a busy one batches
// the writes that queued while the previous batch was on the wire (Linger adds a wait).
type Writer struct {
	cfg    WriterConfig
	commit CommitFunc
	in     chan *Write
	quit   chan struct{}
	wg     sync.WaitGroup
	once   sync.Once

	mu    sync.Mutex
	stats WriterStats
}

// WriterConfig tunes a Writer; zero fields take the defaults.
type WriterConfig struct {
	// Flushers is how many batches commit at once (each on a connection of its own). Default 4.
	Flushers int
	// MaxBatch bounds the writes of one batch. Default 64.
	MaxBatch int
	// Queue bounds the writes waiting for a flusher. Default 4096.
	Queue int
	// Linger, when positive, lets a flusher wait up to that long for more writes before it
	// commits a batch that is not full (tests use it to force batches).
	Linger time.Duration
}

func (c WriterConfig) withDefaults() WriterConfig {
	if c.Flushers <= 0 {
		c.Flushers = 4
	}
	if c.MaxBatch <= 0 {
		c.MaxBatch = 64
	}
	if c.Queue <= 0 {
		c.Queue = 4096
	}
	return c
}

// WriterStats are a Writer's counters since it started.
type WriterStats struct {
	Batches    int64         // committed batches
	Writes     int64         // writes answered (committed or failed)
	Rejected   int64         // writes refused because the queue was full
	Retried    int64         // writes run again because their batch failed
	QueueDepth int           // writes waiting now
	CommitTime time.Duration // summed time of committed batches, first statement to COMMIT's answer
}

// Write is one caller's conversation write, queued until a flusher commits it.
type Write struct {
	Ctx   context.Context
	OrgID uuid.UUID
	Fn    func(tx jack.ConversationTx) error
	// Owner, when set, fences the write: the adapter commits it only while Owner.Epoch is the
	// conversation's epoch, and blames it with jack.Fenced() otherwise.
	Owner *jack.ConversationOwner
	// Events is what Fn's InsertEvents asked for, in order; the adapter resets it before each
	// run of Fn and sets each event's Seq before Commit returns.
	Events []*jack.Event
	done   chan error
}

// AddEvents is ConversationTx.InsertEvents for the adapters: it gives each event the write's
// organization, its Timestamp (now when zero; truncated as stored) and an id when it has none,
// clears a Seq from an earlier run, and queues them for the adapter's Commit, which numbers and
// inserts them at the end of the batch. A nil w is a transaction outside the writer.
func (w *Write) AddEvents(now time.Time, events ...*jack.Event) error {
	if w == nil {
		return errors.New("InsertEvents outside a conversation transaction")
	}
	for _, e := range events {
		if e.ID == uuid.Nil {
			e.ID = uuid.Must(uuid.NewV7())
		}
		e.OrganizationID = w.OrgID
		if e.Timestamp.IsZero() {
			e.Timestamp = now
		}
		e.Timestamp = Truncate(e.Timestamp)
		e.Seq = 0
	}
	w.Events = append(w.Events, events...)
	return nil
}

// CommitFunc commits writes (sorted by organization) in one transaction. On failure it returns
// the index of the write to blame (its fn or statement failed), or -1 with Retryable set when
// the transaction certainly rolled back for a reason of the batch's, or -1 alone when the
// outcome is unknown.
type CommitFunc func(writes []*Write) (culprit int, retryable bool, err error)

// ErrWriterBusy is the answer when the queue is full.
var ErrWriterBusy = jack.Errorf(jack.EUNAVAILABLE, "The server is busy; please retry shortly.")

// errWriterClosed is the answer after Close.
var errWriterClosed = jack.Errorf(jack.EUNAVAILABLE, "The database writer is shutting down.")

// NewWriter starts cfg.Flushers flushers committing through commit.
func NewWriter(cfg WriterConfig, commit CommitFunc) *Writer {
	cfg = cfg.withDefaults()
	w := &Writer{cfg: cfg, commit: commit, in: make(chan *Write, cfg.Queue), quit: make(chan struct{})}
	for range cfg.Flushers {
		w.wg.Add(1)
		go w.run()
	}
	return w
}

// Close stops taking writes, answers what is queued, and waits for the flushers.
func (w *Writer) Close() {
	w.once.Do(func() { close(w.quit) })
	w.wg.Wait()
}

// Submit queues fn as a write of orgID and waits for its outcome: nil once committed, fn's
// own error, a database error, ErrWriterBusy when the queue is full, or ctx's error when the
// caller stopped waiting (the write may still commit: retries go through unique keys).
func (w *Writer) Submit(ctx context.Context, orgID uuid.UUID, fn func(tx jack.ConversationTx) error) error {
	return w.submit(ctx, &Write{Ctx: ctx, OrgID: orgID, Fn: fn})
}

// SubmitOwned is Submit fenced by owner (see Write.Owner).
func (w *Writer) SubmitOwned(ctx context.Context, owner jack.ConversationOwner, fn func(tx jack.ConversationTx) error) error {
	return w.submit(ctx, &Write{Ctx: ctx, OrgID: owner.OrgID, Fn: fn, Owner: &owner})
}

func (w *Writer) submit(ctx context.Context, op *Write) error {
	select {
	case <-w.quit:
		return errWriterClosed
	default:
	}
	op.done = make(chan error, 1)
	select {
	case w.in <- op:
	default:
		w.count(func(st *WriterStats) { st.Rejected++ })
		return ErrWriterBusy
	}
	select {
	case err := <-op.done:
		return err
	case <-ctx.Done():
		return fmt.Errorf("write outcome unknown: %w", context.Cause(ctx))
	}
}

// Stats returns the writer's counters.
func (w *Writer) Stats() WriterStats {
	w.mu.Lock()
	defer w.mu.Unlock()
	st := w.stats
	st.QueueDepth = len(w.in)
	return st
}

func (w *Writer) count(f func(*WriterStats)) {
	w.mu.Lock()
	f(&w.stats)
	w.mu.Unlock()
}

func (w *Writer) run() {
	defer w.wg.Done()
	batch := make([]*Write, 0, w.cfg.MaxBatch)
	for {
		var first *Write
		select {
		case first = <-w.in:
		case <-w.quit:
			for { // answer what is still queued; Submit queues nothing new once quit is closed
				select {
				case op := <-w.in:
					w.flush([]*Write{op})
				default:
					return
				}
			}
		}
		batch = w.fill(append(batch[:0], first))
		w.flush(batch)
		clear(batch)
	}
}

// fill adds what is queued (waiting up to Linger for more) until the batch is full.
func (w *Writer) fill(batch []*Write) []*Write {
	var linger <-chan time.Time
	if w.cfg.Linger > 0 {
		t := time.NewTimer(w.cfg.Linger)
		defer t.Stop()
		linger = t.C
	}
	for len(batch) < w.cfg.MaxBatch {
		select {
		case op := <-w.in:
			batch = append(batch, op)
			continue
		default:
		}
		if linger == nil {
			return batch
		}
		select {
		case op := <-w.in:
			batch = append(batch, op)
		case <-linger:
			return batch
		}
	}
	return batch
}

// flush commits ops, answering each caller exactly once.
func (w *Writer) flush(ops []*Write) {
	live := make([]*Write, 0, len(ops))
	for _, op := range ops {
		if op.Ctx.Err() != nil { // never ran: the outcome is known
			op.done <- fmt.Errorf("write not started: %w", context.Cause(op.Ctx))
			continue
		}
		live = append(live, op)
	}
	slices.SortStableFunc(live, func(a, b *Write) int { return bytes.Compare(a.OrgID[:], b.OrgID[:]) })
	w.commitRetrying(live, true)
}

func (w *Writer) commitRetrying(ops []*Write, split bool) {
	for len(ops) > 0 {
		start := time.Now()
		culprit, retryable, err := w.commit(ops)
		switch {
		case err == nil:
			w.count(func(st *WriterStats) {
				st.Batches++
				st.Writes += int64(len(ops))
				st.CommitTime += time.Since(start)
			})
			for _, op := range ops {
				op.done <- nil
			}
			return
		case culprit >= 0 && culprit < len(ops):
			ops[culprit].done <- err
			w.count(func(st *WriterStats) { st.Writes++; st.Retried += int64(len(ops) - 1) })
			ops = slices.Delete(ops, culprit, culprit+1)
		case retryable && split && len(ops) > 1:
			w.count(func(st *WriterStats) { st.Retried += int64(len(ops)) })
			for _, op := range ops {
				w.commitRetrying([]*Write{op}, false)
			}
			return
		default:
			w.count(func(st *WriterStats) { st.Writes += int64(len(ops)) })
			for _, op := range ops {
				op.done <- err
			}
			return
		}
	}
}
