package postgres_test

import (
	"context"
	"errors"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/jack-auto/jack"
	"github.com/jack-auto/jack/persistence"
	"github.com/jack-auto/jack/persistence/postgres"
	"github.com/jack-auto/jack/persistence/postgres/postgrestest"
	"github.com/jack-auto/jack/persistence/storetest"
)

// openWriterStore opens a Store on a schema of its own with the given writer settings.
func openWriterStore(t *testing.T, cfg persistence.WriterConfig) *postgres.Store {
	t.Helper()
	s, err := postgres.Open(t.Context(), postgres.Config{URL: postgrestest.URL(t), MaxConns: 20, Writer: cfg})
	require.NoError(t, err)
	t.Cleanup(func() { _ = s.Close() })
	return s
}

// eventWrite is a conversation write that stores one event and reports it.
func eventWrite(orgID uuid.UUID, e **jack.Event) func(tx jack.ConversationTx) error {
	return func(tx jack.ConversationTx) error {
		*e = jack.NewEvent(jack.EventLeadUpdated, orgID, "", "", time.Time{}, nil)
		return tx.InsertEvents(context.Background(), *e)
	}
}

// TestWriter_FailedWriteFailsOnlyItsCaller puts good writes of two organizations in one batch
// with a write whose fn fails, one whose statement fails (a check constraint), and one that tries
// to write another organization's row (row-level security refuses it): the three get their own
// errors, the good ones commit, and nothing of the bad ones is stored.
func TestWriter_FailedWriteFailsOnlyItsCaller(t *testing.T) {
	t.Parallel()
	const good = 6
	s := openWriterStore(t, persistence.WriterConfig{Flushers: 1, MaxBatch: good + 3, Linger: 2 * time.Second})
	orgA, _ := storetest.MustCreateOrganization(t, s)
	orgB, _ := storetest.MustCreateOrganization(t, s)
	leadA := storetest.MustCreateLead(t, s, orgA.ID, storetest.NewPhone())

	var wg sync.WaitGroup
	goodEvents := make([]*jack.Event, good)
	goodErrs := make([]error, good)
	for i := range good {
		org := orgA.ID
		if i%2 == 1 {
			org = orgB.ID
		}
		wg.Go(func() { goodErrs[i] = s.InConversationTx(t.Context(), org, eventWrite(org, &goodEvents[i])) })
	}
	fnErr := jack.Errorf(jack.ECONFLICT, "the write's own refusal")
	var refused, badCheck, foreign error
	wg.Go(func() {
		refused = s.InConversationTx(t.Context(), orgA.ID, func(tx jack.ConversationTx) error {
			_, err := tx.UpdateConversation(t.Context(), leadA.ID, jack.ConversationChange{Messages: 1})
			if err != nil {
				return err
			}
			return fnErr // after writing: its update must roll back
		})
	})
	wg.Go(func() {
		badCheck = s.InConversationTx(t.Context(), orgA.ID, func(tx jack.ConversationTx) error {
			return postgres.RawExec(t.Context(), tx, `INSERT INTO reminders (id, organization_id, lead_id,
				phone_number_normalized, step, due_at) VALUES ($1, $2, $3, $4, -1, now())`,
				uuid.New(), orgA.ID, leadA.ID, leadA.PhoneNumberNormalized)
		})
	})
	wg.Go(func() {
		foreign = s.InConversationTx(t.Context(), orgA.ID, func(tx jack.ConversationTx) error {
			return postgres.RawExec(t.Context(), tx, `INSERT INTO event_seqs (organization_id, last_seq) VALUES ($1, 0)`, uuid.New())
		})
	})
	wg.Wait()

	for i, err := range goodErrs {
		require.NoError(t, err, "good write %d", i)
		require.Positive(t, goodEvents[i].Seq)
	}
	require.ErrorIs(t, refused, fnErr)
	require.Error(t, badCheck)
	require.Contains(t, badCheck.Error(), "reminders_step_check", "the statement's own error")
	require.Error(t, foreign)
	require.Contains(t, foreign.Error(), "row-level security")
	st := s.WriterStats()
	require.Positive(t, st.Retried, "the good writes shared a batch with the bad ones and ran again: %+v", st)

	for _, org := range []uuid.UUID{orgA.ID, orgB.ID} {
		events, err := s.FindEvents(t.Context(), org, jack.EventFilter{})
		require.NoError(t, err)
		require.Len(t, events, good/2)
		for i, e := range events {
			require.Equal(t, int64(i+1), e.Seq, "numbered without gaps: rolled-back runs gave their numbers back")
		}
	}
	lead, err := s.FindLeadByID(t.Context(), orgA.ID, leadA.ID)
	require.NoError(t, err)
	require.Zero(t, lead.TotalConversations, "the refused write's update was rolled back")
}

// TestWriter_CrashBeforeCommitIsNotAcknowledged kills the database session of a batch after its
// statements and before its COMMIT, as a node dying there would: the caller is not told its
// write succeeded, nothing of it is stored, and the caller's retry (a webhook retried by
// Twilio) stores it exactly once.
func TestWriter_CrashBeforeCommitIsNotAcknowledged(t *testing.T) {
	t.Parallel()
	s := openWriterStore(t, persistence.WriterConfig{Flushers: 1})
	org, _ := storetest.MustCreateOrganization(t, s)
	lead := storetest.MustCreateLead(t, s, org.ID, storetest.NewPhone())
	var crash atomic.Bool
	crash.Store(true)
	postgres.SetBeforeCommit(s, func(ctx context.Context, conn *pgx.Conn, _ int) error {
		if crash.Swap(false) {
			_, _ = conn.Exec(ctx, `SELECT pg_terminate_backend(pg_backend_pid())`) // fails: the session ends under it
		}
		return nil
	})
	sms := func(tx jack.ConversationTx) error {
		m := storetest.NewMessage(lead, "Is the truck still there?", tx.Now())
		m.ProviderMessageID = "SMcrash"
		if _, _, err := tx.InsertMessage(t.Context(), m); err != nil {
			return err
		}
		return tx.InsertEvents(t.Context(), jack.NewEvent(jack.EventSMSReceived, org.ID, lead.ID, lead.PhoneNumberNormalized, tx.Now(), nil))
	}
	err := s.InConversationTx(t.Context(), org.ID, sms)
	require.Error(t, err, "a write whose batch died before COMMIT is not acknowledged")
	page, err := s.FindMessages(t.Context(), org.ID, jack.MessageFilter{LeadID: lead.ID})
	require.NoError(t, err)
	require.Empty(t, page.Messages, "nothing of it was stored")

	require.NoError(t, s.InConversationTx(t.Context(), org.ID, sms), "the retry")
	require.NoError(t, s.InConversationTx(t.Context(), org.ID, sms), "a duplicate of the retry")
	page, err = s.FindMessages(t.Context(), org.ID, jack.MessageFilter{LeadID: lead.ID})
	require.NoError(t, err)
	require.Len(t, page.Messages, 1, "stored exactly once")
}

// TestWriter_TailingReadersNeverSkipOrRepeat is the property the SSE feeds rest on: many
// writers of three organizations commit through several flushers whose batches wait a random
// time before COMMIT (and sometimes fail there), while readers tail each organization's events
// in pages of random size, each read resuming after the last Seq seen, as a reconnect does. Every reader sees
// exactly the events whose writers were told they committed, each once, in Seq order, and an
// organization's numbers have no gap.
func TestWriter_TailingReadersNeverSkipOrRepeat(t *testing.T) {
	t.Parallel()
	s := openWriterStore(t, persistence.WriterConfig{Flushers: 6, MaxBatch: 16})
	var orgs []uuid.UUID
	for range 3 {
		org, _ := storetest.MustCreateOrganization(t, s)
		orgs = append(orgs, org.ID)
	}
	var failures atomic.Int64
	postgres.SetBeforeCommit(s, func(ctx context.Context, _ *pgx.Conn, _ int) error {
		time.Sleep(time.Duration(rand.IntN(15)) * time.Millisecond)
		if rand.IntN(10) == 0 {
			failures.Add(1)
			return errors.New("injected failure before COMMIT")
		}
		return nil
	})

	const writers, writesPerWriter = 24, 25
	stop := make(chan struct{})
	seen := make([][]*jack.Event, len(orgs)*2) // two readers per organization
	readerErrs := make(chan error, len(seen))
	for r := range seen {
		org := orgs[r%len(orgs)]
		pageSize := func() int { return 1 + rand.IntN(9) } // each page is a reconnect from the last Seq seen
		go func() { readerErrs <- storetest.TailEvents(t.Context(), s, org, pageSize, stop, &seen[r]) }()
	}

	committed := make([]map[uuid.UUID]bool, len(orgs))
	for i := range committed {
		committed[i] = map[uuid.UUID]bool{}
	}
	var mu sync.Mutex
	var wg sync.WaitGroup
	for w := range writers {
		wg.Go(func() {
			for range writesPerWriter {
				oi := rand.IntN(len(orgs))
				events := make([]*jack.Event, 1+rand.IntN(3))
				err := s.InConversationTx(t.Context(), orgs[oi], func(tx jack.ConversationTx) error {
					for k := range events {
						events[k] = jack.NewEvent(jack.EventSMSReceived, orgs[oi], "", "", time.Time{}, map[string]int{"writer": w})
					}
					return tx.InsertEvents(t.Context(), events...)
				})
				if err != nil {
					continue // told it failed: its events must never appear
				}
				mu.Lock()
				for _, e := range events {
					committed[oi][e.ID] = true
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	close(stop)
	for range seen {
		require.NoError(t, <-readerErrs)
	}
	require.Positive(t, failures.Load(), "some batches failed before COMMIT")

	for r, got := range seen {
		want := committed[r%len(orgs)]
		require.Len(t, got, len(want), "reader %d saw every committed event once", r)
		for i, e := range got {
			require.Equal(t, int64(i+1), e.Seq)
			require.True(t, want[e.ID], "reader %d saw event %s that no writer was told committed", r, e.ID)
		}
	}
}
