package storetest

import (
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jack-auto/jack"
	"github.com/stretchr/testify/require"
)

// MustScheduleReminder schedules step of lead's follow-up cadence due at dueAt in a conversation
// transaction of orgID and returns the stored reminder.
func MustScheduleReminder(tb testing.TB, store jack.Store, orgID uuid.UUID, lead *jack.Lead, step int, dueAt time.Time) *jack.Reminder {
	tb.Helper()
	r := &jack.Reminder{LeadID: lead.ID, Phone: lead.PhoneNumberNormalized, Step: step, DueAt: dueAt}
	require.NoError(tb, store.InConversationTx(tb.Context(), orgID, func(tx jack.ConversationTx) error {
		return tx.ScheduleReminder(tb.Context(), r)
	}))
	return r
}

func testReminders(t *testing.T, f Features, newStore NewStoreFunc) {
	type testBundle struct {
		store jack.Store
		org   *jack.Organization
		lead  *jack.Lead
	}
	setup := func(t *testing.T) *testBundle {
		t.Helper()
		store := newStore(t)
		org, _ := MustCreateOrganization(t, store)
		return &testBundle{store: store, org: org, lead: MustCreateLead(t, store, org.ID, NewPhone())}
	}
	inTx := func(t *testing.T, b *testBundle, fn func(tx jack.ConversationTx) error) error {
		t.Helper()
		return b.store.InConversationTx(t.Context(), b.org.ID, fn)
	}
	findReminders := func(t *testing.T, b *testBundle, phone string) []*jack.Reminder {
		t.Helper()
		rs, err := b.store.FindReminders(t.Context(), b.org.ID, phone)
		require.NoError(t, err)
		require.NotNil(t, rs, "an empty list is [], never null")
		return rs
	}
	claim := func(t *testing.T, b *testBundle, now time.Time, lease time.Duration) []*jack.Reminder {
		t.Helper()
		rs, err := b.store.ClaimDueReminders(t.Context(), now, lease, 0)
		require.NoError(t, err)
		require.NotNil(t, rs, "an empty claim is [], never null")
		return rs
	}

	t.Run("ScheduleReminder", func(t *testing.T) {
		t.Parallel()

		t.Run("OK", func(t *testing.T) {
			t.Parallel()
			b := setup(t)
			due := f.now().Add(2 * time.Hour)
			r := &jack.Reminder{LeadID: b.lead.ID, Step: 1, DueAt: due}
			var now time.Time
			require.NoError(t, inTx(t, b, func(tx jack.ConversationTx) error {
				now = tx.Now()
				return tx.ScheduleReminder(t.Context(), r)
			}))
			require.NotEqual(t, uuid.Nil, r.ID)
			require.Equal(t, b.org.ID, r.OrganizationID)
			require.Equal(t, b.lead.PhoneNumberNormalized, r.Phone, "the phone is the lead's when empty")
			require.Equal(t, jack.ReminderPending, r.Status)
			requireTimeEqual(t, f, now, r.CreatedAt, "CreatedAt is the transaction's time when empty")
			require.Nil(t, r.FiredAt)

			requireEqual(t, f, []*jack.Reminder{r}, findReminders(t, b, b.lead.PhoneNumberNormalized))
			require.NoError(t, inTx(t, b, func(tx jack.ConversationTx) error {
				got, err := tx.FindPendingReminder(t.Context(), b.lead.PhoneNumberNormalized)
				require.NoError(t, err)
				requireEqual(t, f, r, got)
				return nil
			}))
		})

		t.Run("ReplacesPending", func(t *testing.T) {
			t.Parallel()
			b := setup(t)
			other := MustCreateLead(t, b.store, b.org.ID, NewPhone())
			keep := MustScheduleReminder(t, b.store, b.org.ID, other, 0, f.now().Add(time.Hour))
			first := MustScheduleReminder(t, b.store, b.org.ID, b.lead, 0, f.now().Add(time.Hour))
			second := MustScheduleReminder(t, b.store, b.org.ID, b.lead, 1, f.now().Add(3*time.Hour))

			got := findReminders(t, b, b.lead.PhoneNumberNormalized)
			require.Len(t, got, 2)
			require.Equal(t, second.ID, got[0].ID, "newest first")
			require.Equal(t, jack.ReminderPending, got[0].Status)
			require.Equal(t, first.ID, got[1].ID)
			require.Equal(t, jack.ReminderCanceled, got[1].Status)

			require.NoError(t, inTx(t, b, func(tx jack.ConversationTx) error {
				pending, err := tx.FindPendingReminder(t.Context(), b.lead.PhoneNumberNormalized)
				require.NoError(t, err)
				require.Equal(t, second.ID, pending.ID)
				return nil
			}))
			all := findReminders(t, b, "")
			require.Len(t, all, 3)
			for _, r := range all {
				if r.ID == keep.ID {
					require.Equal(t, jack.ReminderPending, r.Status, "another conversation's reminder stays")
				}
			}
		})

		t.Run("ErrNotFound", func(t *testing.T) {
			t.Parallel()
			b := setup(t)
			for _, leadID := range []string{"", uuid.NewString()} {
				err := inTx(t, b, func(tx jack.ConversationTx) error {
					return tx.ScheduleReminder(t.Context(), &jack.Reminder{LeadID: leadID, DueAt: f.now()})
				})
				requireCode(t, jack.ENOTFOUND, err)
			}
		})

		t.Run("ErrInvalid", func(t *testing.T) {
			t.Parallel()
			b := setup(t)
			for name, r := range map[string]jack.Reminder{
				"NoDueAt":      {},
				"NegativeStep": {Step: -1, DueAt: f.now()},
				"Fired":        {Status: jack.ReminderFired, DueAt: f.now()},
				"OtherPhone":   {Phone: NewPhone(), DueAt: f.now()},
			} {
				r.LeadID = b.lead.ID
				err := inTx(t, b, func(tx jack.ConversationTx) error { return tx.ScheduleReminder(t.Context(), &r) })
				require.Equal(t, jack.EINVALID, jack.ErrorCode(err), "%s: %v", name, err)
			}
			require.Empty(t, findReminders(t, b, ""))
		})
	})

	t.Run("CancelReminders", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		r := MustScheduleReminder(t, b.store, b.org.ID, b.lead, 0, f.now().Add(-time.Minute))
		require.NoError(t, inTx(t, b, func(tx jack.ConversationTx) error {
			n, err := tx.CancelReminders(t.Context(), b.lead.PhoneNumberNormalized)
			require.NoError(t, err)
			require.Equal(t, 1, n)
			n, err = tx.CancelReminders(t.Context(), b.lead.PhoneNumberNormalized)
			require.NoError(t, err)
			require.Zero(t, n, "nothing pending is left")
			_, err = tx.FindPendingReminder(t.Context(), b.lead.PhoneNumberNormalized)
			requireCode(t, jack.ENOTFOUND, err)
			return nil
		}))
		got := findReminders(t, b, b.lead.PhoneNumberNormalized)
		require.Len(t, got, 1)
		require.Equal(t, r.ID, got[0].ID)
		require.Equal(t, jack.ReminderCanceled, got[0].Status)
		require.Empty(t, claim(t, b, f.now(), time.Minute), "a canceled reminder is never claimed")
	})

	t.Run("FindPendingReminder/ErrNotFound", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		err := inTx(t, b, func(tx jack.ConversationTx) error {
			_, err := tx.FindPendingReminder(t.Context(), b.lead.PhoneNumberNormalized)
			return err
		})
		requireCode(t, jack.ENOTFOUND, err)
	})

	t.Run("ClaimDueReminders", func(t *testing.T) {
		t.Parallel()

		t.Run("DueOnly", func(t *testing.T) {
			t.Parallel()
			b := setup(t)
			now := f.now()
			otherOrg, _ := MustCreateOrganization(t, b.store)
			otherLead := MustCreateLead(t, b.store, otherOrg.ID, NewPhone())
			later := MustCreateLead(t, b.store, b.org.ID, NewPhone())
			exact := MustCreateLead(t, b.store, b.org.ID, NewPhone())

			second := MustScheduleReminder(t, b.store, b.org.ID, b.lead, 2, now.Add(-time.Minute))
			first := MustScheduleReminder(t, b.store, otherOrg.ID, otherLead, 0, now.Add(-time.Hour))
			third := MustScheduleReminder(t, b.store, b.org.ID, exact, 1, now)
			MustScheduleReminder(t, b.store, b.org.ID, later, 0, now.Add(time.Microsecond))

			got := claim(t, b, now, time.Minute)
			requireEqual(t, f, []*jack.Reminder{first, second, third}, got,
				"due at or before now, soonest first, every organization's")
		})

		t.Run("Lease", func(t *testing.T) {
			t.Parallel()
			b := setup(t)
			now := f.now()
			r := MustScheduleReminder(t, b.store, b.org.ID, b.lead, 0, now.Add(-time.Minute))
			lease := time.Minute

			require.Len(t, claim(t, b, now, lease), 1)
			require.Empty(t, claim(t, b, now, lease), "claimed until now+lease")
			require.Empty(t, claim(t, b, now.Add(lease-time.Microsecond), lease), "the lease has not expired")

			again := claim(t, b, now.Add(lease), lease)
			require.Len(t, again, 1, "an unfired claim expires and the reminder is claimed again")
			require.Equal(t, r.ID, again[0].ID)
			require.Equal(t, jack.ReminderPending, again[0].Status)
		})

		t.Run("Limit", func(t *testing.T) {
			t.Parallel()
			b := setup(t)
			now := f.now()
			var want []uuid.UUID
			for i := range 5 {
				lead := MustCreateLead(t, b.store, b.org.ID, NewPhone())
				want = append(want, MustScheduleReminder(t, b.store, b.org.ID, lead, 0, now.Add(time.Duration(i-10)*time.Minute)).ID)
			}
			got, err := b.store.ClaimDueReminders(t.Context(), now, time.Minute, 2)
			require.NoError(t, err)
			require.Equal(t, want[:2], reminderIDs(got), "the soonest first")
			got, err = b.store.ClaimDueReminders(t.Context(), now, time.Minute, 10)
			require.NoError(t, err)
			require.Equal(t, want[2:], reminderIDs(got))
		})

		t.Run("Exclusive", func(t *testing.T) {
			t.Parallel()
			b := setup(t)
			now := f.now()
			const reminders, claimers = 30, 8
			want := map[uuid.UUID]bool{}
			for i := range reminders {
				lead := MustCreateLead(t, b.store, b.org.ID, NewPhone())
				want[MustScheduleReminder(t, b.store, b.org.ID, lead, 0, now.Add(-time.Duration(i)*time.Second)).ID] = true
			}

			var (
				mu      sync.Mutex
				claimed = map[uuid.UUID]int{}
				wg      sync.WaitGroup
				start   = make(chan struct{})
				errs    = make(chan error, claimers)
			)
			for range claimers {
				wg.Add(1)
				go func() {
					defer wg.Done()
					<-start
					for {
						// A claimer that finds nothing stops: whatever it skipped is locked
						// by another claimer, which takes it.
						got, err := b.store.ClaimDueReminders(t.Context(), now, time.Hour, 3)
						if err != nil {
							errs <- err
							return
						}
						if len(got) == 0 {
							return
						}
						mu.Lock()
						for _, r := range got {
							claimed[r.ID]++
						}
						mu.Unlock()
					}
				}()
			}
			close(start)
			wg.Wait()
			close(errs)
			for err := range errs {
				require.NoError(t, err)
			}
			require.Len(t, claimed, reminders, "every due reminder is claimed")
			for id, n := range claimed {
				require.True(t, want[id], "claimed an unknown reminder %s", id)
				require.Equal(t, 1, n, "reminder %s claimed %d times within one lease", id, n)
			}
		})

		t.Run("ErrInvalidLease", func(t *testing.T) {
			t.Parallel()
			b := setup(t)
			_, err := b.store.ClaimDueReminders(t.Context(), f.now(), 0, 10)
			requireCode(t, jack.EINVALID, err)
		})
	})

	t.Run("MarkReminderFired", func(t *testing.T) {
		t.Parallel()

		t.Run("OK", func(t *testing.T) {
			t.Parallel()
			b := setup(t)
			now := f.now()
			r := MustScheduleReminder(t, b.store, b.org.ID, b.lead, 0, now.Add(-time.Minute))
			require.Len(t, claim(t, b, now, time.Minute), 1)

			var firedAt time.Time
			require.NoError(t, inTx(t, b, func(tx jack.ConversationTx) error {
				firedAt = tx.Now()
				pending, err := tx.FindPendingReminder(t.Context(), b.lead.PhoneNumberNormalized)
				require.NoError(t, err)
				require.Equal(t, r.ID, pending.ID)
				return tx.MarkReminderFired(t.Context(), pending.ID)
			}))
			got := findReminders(t, b, b.lead.PhoneNumberNormalized)
			require.Len(t, got, 1)
			require.Equal(t, jack.ReminderFired, got[0].Status)
			require.NotNil(t, got[0].FiredAt)
			requireTimeEqual(t, f, firedAt, *got[0].FiredAt, "fired at the transaction's time")

			err := inTx(t, b, func(tx jack.ConversationTx) error { return tx.MarkReminderFired(t.Context(), r.ID) })
			requireCode(t, jack.ECONFLICT, err)
			require.Empty(t, claim(t, b, now.Add(time.Hour), time.Minute), "a fired reminder is never claimed again")
			err = inTx(t, b, func(tx jack.ConversationTx) error {
				_, err := tx.FindPendingReminder(t.Context(), b.lead.PhoneNumberNormalized)
				return err
			})
			requireCode(t, jack.ENOTFOUND, err)
		})

		t.Run("ErrConflictCanceled", func(t *testing.T) {
			t.Parallel()
			b := setup(t)
			r := MustScheduleReminder(t, b.store, b.org.ID, b.lead, 0, f.now())
			MustScheduleReminder(t, b.store, b.org.ID, b.lead, 1, f.now()) // cancels r
			err := inTx(t, b, func(tx jack.ConversationTx) error { return tx.MarkReminderFired(t.Context(), r.ID) })
			requireCode(t, jack.ECONFLICT, err)
		})

		t.Run("ErrNotFound", func(t *testing.T) {
			t.Parallel()
			b := setup(t)
			err := inTx(t, b, func(tx jack.ConversationTx) error { return tx.MarkReminderFired(t.Context(), uuid.New()) })
			requireCode(t, jack.ENOTFOUND, err)
		})
	})

	t.Run("OtherOrganization", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		r := MustScheduleReminder(t, b.store, b.org.ID, b.lead, 0, f.now().Add(-time.Minute))
		orgB, _ := MustCreateOrganization(t, b.store)
		inTxB := func(fn func(tx jack.ConversationTx) error) error {
			return b.store.InConversationTx(t.Context(), orgB.ID, fn)
		}
		phone := b.lead.PhoneNumberNormalized

		rs, err := b.store.FindReminders(t.Context(), orgB.ID, "")
		require.NoError(t, err)
		require.Empty(t, rs)
		rs, err = b.store.FindReminders(t.Context(), orgB.ID, phone)
		require.NoError(t, err)
		require.Empty(t, rs)
		requireCode(t, jack.ENOTFOUND, inTxB(func(tx jack.ConversationTx) error {
			_, err := tx.FindPendingReminder(t.Context(), phone)
			return err
		}))
		requireCode(t, jack.ENOTFOUND, inTxB(func(tx jack.ConversationTx) error {
			return tx.MarkReminderFired(t.Context(), r.ID)
		}))
		// B cannot schedule for A's lead.
		requireCode(t, jack.ENOTFOUND, inTxB(func(tx jack.ConversationTx) error {
			return tx.ScheduleReminder(t.Context(), &jack.Reminder{LeadID: b.lead.ID, DueAt: f.now()})
		}))
		require.NoError(t, inTxB(func(tx jack.ConversationTx) error {
			n, err := tx.CancelReminders(t.Context(), phone)
			require.Zero(t, n)
			return err
		}))

		requireEqual(t, f, []*jack.Reminder{r}, findReminders(t, b, phone), "A's reminder is untouched")
	})

	t.Run("DeleteLeadCascades", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		keep := MustCreateLead(t, b.store, b.org.ID, NewPhone())
		MustScheduleReminder(t, b.store, b.org.ID, b.lead, 0, f.now().Add(-time.Minute))
		kept := MustScheduleReminder(t, b.store, b.org.ID, keep, 0, f.now().Add(-time.Minute))

		require.NoError(t, b.store.DeleteLead(t.Context(), b.org.ID, b.lead.ID))
		require.Empty(t, findReminders(t, b, b.lead.PhoneNumberNormalized))
		got := claim(t, b, f.now(), time.Minute)
		require.Equal(t, []uuid.UUID{kept.ID}, reminderIDs(got))
	})
}

func reminderIDs(rs []*jack.Reminder) []uuid.UUID {
	ids := make([]uuid.UUID, 0, len(rs))
	for _, r := range rs {
		ids = append(ids, r.ID)
	}
	return ids
}
