package storetest

import (
	"testing"

	"github.com/jack-auto/jack"
	"github.com/stretchr/testify/require"
)

// testFencing checks ownership epochs: a claim bumps the conversation's epoch, and a write
// fenced by an epoch that is no longer current commits nothing.
func testFencing(t *testing.T, f Features, newStore NewStoreFunc) {
	t.Run("ClaimBumpsTheEpoch", func(t *testing.T) {
		t.Parallel()
		store := newStore(t)
		org, _ := MustCreateOrganization(t, store)
		other, _ := MustCreateOrganization(t, store)
		phone := NewPhone()
		for want := int64(1); want <= 3; want++ {
			epoch, err := store.ClaimConversation(t.Context(), org.ID, phone, "node-a")
			require.NoError(t, err)
			require.Equal(t, want, epoch)
		}
		epoch, err := store.ClaimConversation(t.Context(), org.ID, NewPhone(), "node-a")
		require.NoError(t, err)
		require.Equal(t, int64(1), epoch, "each conversation has its own epoch")
		epoch, err = store.ClaimConversation(t.Context(), other.ID, phone, "node-b")
		require.NoError(t, err)
		require.Equal(t, int64(1), epoch, "the same customer of another organization is another conversation")
	})

	t.Run("StaleEpochCommitsNothing", func(t *testing.T) {
		t.Parallel()
		store := newStore(t)
		org, _ := MustCreateOrganization(t, store)
		lead := MustCreateLead(t, store, org.ID, NewPhone())
		phone := lead.PhoneNumberNormalized
		first, err := store.ClaimConversation(t.Context(), org.ID, phone, "node-a")
		require.NoError(t, err)
		old := jack.ConversationOwner{OrgID: org.ID, Phone: phone, Epoch: first}
		write := func(owner jack.ConversationOwner, body string) error {
			return store.InOwnedConversationTx(t.Context(), owner, func(tx jack.ConversationTx) error {
				if _, _, err := tx.InsertMessage(t.Context(), NewMessage(lead, body, tx.Now())); err != nil {
					return err
				}
				if _, err := tx.UpdateConversation(t.Context(), lead.ID, jack.ConversationChange{Messages: 1}); err != nil {
					return err
				}
				return tx.InsertEvents(t.Context(), jack.NewEvent(jack.EventSMSReceived, org.ID, lead.ID, phone, tx.Now(), nil))
			})
		}
		require.NoError(t, write(old, "while it owns the conversation"))

		second, err := store.ClaimConversation(t.Context(), org.ID, phone, "node-b")
		require.NoError(t, err)
		err = write(old, "after another node claimed it")
		require.True(t, jack.IsFenced(err), "the replaced owner's write is refused: %v", err)
		require.Equal(t, jack.EUNAVAILABLE, jack.ErrorCode(err))
		require.NoError(t, write(jack.ConversationOwner{OrgID: org.ID, Phone: phone, Epoch: second}, "the new owner"))

		page, err := store.FindMessages(t.Context(), org.ID, jack.MessageFilter{LeadID: lead.ID})
		require.NoError(t, err)
		var bodies []string
		for _, m := range page.Messages {
			bodies = append(bodies, m.Content)
		}
		require.Equal(t, []string{"while it owns the conversation", "the new owner"}, bodies)
		got, err := store.FindLeadByID(t.Context(), org.ID, lead.ID)
		require.NoError(t, err)
		require.Equal(t, 2, got.TotalConversations, "the refused write changed no counter")
		events, err := store.FindEvents(t.Context(), org.ID, jack.EventFilter{})
		require.NoError(t, err)
		require.Equal(t, []int64{1, 2}, eventSeqs(events), "nor stored an event or used a number")

		// A conversation nobody claimed has no current owner.
		foreign := jack.ConversationOwner{OrgID: org.ID, Phone: NewPhone(), Epoch: 1}
		require.True(t, jack.IsFenced(write(foreign, "never claimed")))
	})
}
