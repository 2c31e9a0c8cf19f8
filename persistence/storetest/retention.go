package storetest

import (
	"testing"
	"time"

	"github.com/jack-auto/jack"
	"github.com/stretchr/testify/require"
)

// testReminderUpkeep: fired and canceled reminders are dropped after their retention, pending
// ones never; the audit reports pending reminders long overdue (issue 15, item 10).
func testReminderUpkeep(t *testing.T, f Features, newStore NewStoreFunc) {
	t.Run("DeleteRemindersBefore", func(t *testing.T) {
		t.Parallel()
		store := newStore(t)
		org, _ := MustCreateOrganization(t, store)
		fired := MustScheduleReminder(t, store, org.ID, MustCreateLead(t, store, org.ID, NewPhone()), 0, f.now().Add(-time.Hour))
		require.NoError(t, store.InConversationTx(t.Context(), org.ID, func(tx jack.ConversationTx) error {
			return tx.MarkReminderFired(t.Context(), fired.ID)
		}))
		canceledLead := MustCreateLead(t, store, org.ID, NewPhone())
		MustScheduleReminder(t, store, org.ID, canceledLead, 0, f.now().Add(time.Hour))
		require.NoError(t, store.InConversationTx(t.Context(), org.ID, func(tx jack.ConversationTx) error {
			_, err := tx.CancelReminders(t.Context(), canceledLead.PhoneNumberNormalized)
			return err
		}))
		pendingLead := MustCreateLead(t, store, org.ID, NewPhone())
		pending := MustScheduleReminder(t, store, org.ID, pendingLead, 0, f.now().Add(time.Hour))

		n, err := store.DeleteRemindersBefore(t.Context(), time.Now().Add(-time.Hour))
		require.NoError(t, err)
		require.Zero(t, n, "nothing is old enough yet")
		n, err = store.DeleteRemindersBefore(t.Context(), time.Now().Add(time.Minute))
		require.NoError(t, err)
		require.EqualValues(t, 2, n, "the fired and the canceled reminder")
		left, err := store.FindReminders(t.Context(), org.ID, "")
		require.NoError(t, err)
		require.Len(t, left, 1)
		require.Equal(t, pending.ID, left[0].ID, "pending reminders stay")
	})

	t.Run("AuditOverdue", func(t *testing.T) {
		t.Parallel()
		store := newStore(t)
		org, _ := MustCreateOrganization(t, store)
		stalled := MustCreateLead(t, store, org.ID, NewPhone())
		due := f.now().Add(-2 * jack.ReminderOverdue)
		MustScheduleReminder(t, store, org.ID, stalled, 0, due)
		MustScheduleReminder(t, store, org.ID, MustCreateLead(t, store, org.ID, NewPhone()), 0, f.now().Add(-time.Minute)) // late, not stalled
		got, err := store.Audit(t.Context())
		require.NoError(t, err)
		require.Len(t, got.OverdueReminders, 1)
		require.Equal(t, jack.ReminderRef{OrganizationID: org.ID, LeadID: stalled.ID, Phone: stalled.PhoneNumberNormalized, DueAt: due},
			got.OverdueReminders[0])
		require.Zero(t, got.RowsWithoutOrganization["reminders"])
		require.True(t, got.Problems())
	})
}
