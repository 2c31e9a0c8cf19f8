package storetest

import (
	"testing"

	"github.com/google/uuid"
	"github.com/jack-auto/jack"
	"github.com/stretchr/testify/require"
)

// testTenancy checks that organization B cannot see or change organization A's records through
// any method: another organization's record is simply ENOTFOUND (or absent from lists).
func testTenancy(t *testing.T, f Features, newStore NewStoreFunc) {
	type testBundle struct {
		store  jack.Store
		orgA   *jack.Organization
		ownerA *jack.User
		leadA  *jack.Lead
		msgA   *jack.Message
		orgB   *jack.Organization
		ownerB *jack.User
	}
	setup := func(t *testing.T) *testBundle {
		t.Helper()
		store := newStore(t)
		orgA, ownerA := MustCreateOrganization(t, store)
		orgB, ownerB := MustCreateOrganization(t, store)
		leadA := MustCreateLead(t, store, orgA.ID, NewPhone())
		m := NewMessage(leadA, "private", f.now())
		m.ProviderMessageID = "SMtenantA"
		msgA := MustInsertMessage(t, store, orgA.ID, m)
		require.NoError(t, store.InConversationTx(t.Context(), orgA.ID, func(tx jack.ConversationTx) error {
			return tx.InsertEvents(t.Context(), jack.NewEvent(jack.EventSMSReceived, orgA.ID, leadA.ID, leadA.PhoneNumberNormalized, f.now(), nil))
		}))
		return &testBundle{store: store, orgA: orgA, ownerA: ownerA, leadA: leadA, msgA: msgA, orgB: orgB, ownerB: ownerB}
	}
	// requireLeadAUntouched checks org A still sees its lead exactly as created.
	requireLeadAUntouched := func(t *testing.T, b *testBundle) {
		t.Helper()
		got, err := b.store.FindLeadByID(t.Context(), b.orgA.ID, b.leadA.ID)
		require.NoError(t, err)
		requireEqual(t, f, b.leadA, got)
		page, err := b.store.FindMessages(t.Context(), b.orgA.ID, jack.MessageFilter{LeadID: b.leadA.ID})
		require.NoError(t, err)
		require.Len(t, page.Messages, 1)
	}
	// inTxB runs fn in a conversation transaction of organization B.
	inTxB := func(t *testing.T, b *testBundle, fn func(tx jack.ConversationTx) error) error {
		return b.store.InConversationTx(t.Context(), b.orgB.ID, fn)
	}

	for _, tc := range []struct {
		name string
		run  func(t *testing.T, b *testBundle) error
	}{
		{"FindLeadByID", func(t *testing.T, b *testBundle) error {
			_, err := b.store.FindLeadByID(t.Context(), b.orgB.ID, b.leadA.ID)
			return err
		}},
		{"FindLeadByPhone", func(t *testing.T, b *testBundle) error {
			_, err := b.store.FindLeadByPhone(t.Context(), b.orgB.ID, b.leadA.PhoneNumberNormalized)
			return err
		}},
		{"UpdateLead", func(t *testing.T, b *testBundle) error {
			_, err := b.store.UpdateLead(t.Context(), b.orgB.ID, b.leadA.ID, jack.LeadUpdate{CustomerName: ptr("Hijacked")})
			return err
		}},
		{"DeleteLead", func(t *testing.T, b *testBundle) error {
			return b.store.DeleteLead(t.Context(), b.orgB.ID, b.leadA.ID)
		}},
		{"FindMessages", func(t *testing.T, b *testBundle) error {
			_, err := b.store.FindMessages(t.Context(), b.orgB.ID, jack.MessageFilter{LeadID: b.leadA.ID})
			return err
		}},
		{"FindMessage", func(t *testing.T, b *testBundle) error {
			_, err := b.store.FindMessage(t.Context(), b.orgB.ID, b.msgA.ID)
			return err
		}},
		{"FindUserByID", func(t *testing.T, b *testBundle) error {
			_, err := b.store.FindUserByID(t.Context(), b.orgB.ID, b.ownerA.ID)
			return err
		}},
		{"TxFindLeadByPhone", func(t *testing.T, b *testBundle) error {
			return inTxB(t, b, func(tx jack.ConversationTx) error {
				_, err := tx.FindLeadByPhone(t.Context(), b.leadA.PhoneNumberNormalized)
				return err
			})
		}},
		{"TxUpdateConversation", func(t *testing.T, b *testBundle) error {
			return inTxB(t, b, func(tx jack.ConversationTx) error {
				_, err := tx.UpdateConversation(t.Context(), b.leadA.ID, jack.ConversationChange{Messages: 1, OptOut: ptr(true)})
				return err
			})
		}},
		{"TxFindMessageBySid", func(t *testing.T, b *testBundle) error {
			return inTxB(t, b, func(tx jack.ConversationTx) error {
				_, err := tx.FindMessageByProviderID(t.Context(), b.msgA.ProviderMessageID)
				return err
			})
		}},
	} {
		t.Run(tc.name+"/ErrOtherOrganization", func(t *testing.T) {
			t.Parallel()
			b := setup(t)
			requireCode(t, jack.ENOTFOUND, tc.run(t, b))
			requireLeadAUntouched(t, b)
		})
	}

	t.Run("FindLeads/OtherOrganization", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		leadB := MustCreateLead(t, b.store, b.orgB.ID, NewPhone())
		page, err := b.store.FindLeads(t.Context(), b.orgB.ID, jack.LeadFilter{})
		require.NoError(t, err)
		require.Equal(t, []string{leadB.ID}, leadIDs(page.Leads))

		page, err = b.store.FindLeads(t.Context(), b.orgB.ID, jack.LeadFilter{Q: ptr(b.leadA.PhoneNumberNormalized)})
		require.NoError(t, err)
		require.Empty(t, page.Leads)
	})

	t.Run("LoadConversation/OtherOrganization", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		snap, err := b.store.LoadConversation(t.Context(), b.orgB.ID, b.leadA.PhoneNumberNormalized, 10)
		require.NoError(t, err)
		require.Nil(t, snap.Lead)
		require.Empty(t, snap.Messages)
		require.Zero(t, snap.TotalMessages)
	})

	t.Run("EnsureLead/OtherOrganization", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		// The same customer texting dealership B starts B's own lead.
		require.NoError(t, inTxB(t, b, func(tx jack.ConversationTx) error {
			lead, created, err := tx.EnsureLead(t.Context(), jack.NewLead(b.orgB.ID, "", b.leadA.PhoneNumberNormalized, tx.Now()))
			require.NoError(t, err)
			require.True(t, created)
			require.NotEqual(t, b.leadA.ID, lead.ID)
			require.Equal(t, b.orgB.ID, lead.OrganizationID)
			return nil
		}))
		requireLeadAUntouched(t, b)
	})

	t.Run("FindMessage/OwnOrganization", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		got, err := b.store.FindMessage(t.Context(), b.orgA.ID, b.msgA.ID)
		require.NoError(t, err)
		requireEqual(t, f, b.msgA, got)

		m := NewMessage(b.leadA, "", f.now())
		m.Media = []jack.MessageMedia{{URL: "https://api.twilio.com/2010-04-01/Accounts/AC1/Messages/MM1/Media/ME1", ContentType: "image/jpeg"},
			{URL: "https://api.twilio.com/2010-04-01/Accounts/AC1/Messages/MM1/Media/ME2", ContentType: "application/pdf"}}
		mms := MustInsertMessage(t, b.store, b.orgA.ID, m)
		got, err = b.store.FindMessage(t.Context(), b.orgA.ID, mms.ID)
		require.NoError(t, err)
		require.Equal(t, m.Media, got.Media, "the media proxy reads the attachments in order")

		_, err = b.store.FindMessage(t.Context(), b.orgA.ID, uuid.New())
		requireCode(t, jack.ENOTFOUND, err)
	})

	t.Run("FindEvents/OtherOrganization", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		events, err := b.store.FindEvents(t.Context(), b.orgB.ID, jack.EventFilter{LeadID: b.leadA.ID})
		require.NoError(t, err)
		require.Empty(t, events)
	})

	t.Run("FindUsers/OtherOrganization", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		users, err := b.store.FindUsers(t.Context(), b.orgB.ID)
		require.NoError(t, err)
		require.Len(t, users, 1)
		require.Equal(t, b.ownerB.ID, users[0].ID)
	})

	t.Run("PhoneNumbers/OtherOrganization", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		pn := MustCreatePhoneNumber(t, b.store, b.orgA.ID, NewPhone(), true)
		_, err := b.store.UpdatePhoneNumber(t.Context(), b.orgB.ID, pn.PhoneNumber, jack.PhoneNumberUpdate{IsActive: ptr(false)})
		requireCode(t, jack.ENOTFOUND, err)
		numbers, err := b.store.FindPhoneNumbers(t.Context(), b.orgB.ID)
		require.NoError(t, err)
		require.Empty(t, numbers)
		_, err = b.store.ActivePhoneNumber(t.Context(), b.orgB.ID)
		requireCode(t, jack.ENOTFOUND, err)
		orgID, err := b.store.OrganizationByPhoneNumber(t.Context(), pn.PhoneNumber)
		require.NoError(t, err)
		require.Equal(t, b.orgA.ID, orgID, "the number stays active and A's")
	})

	t.Run("UpdateLead/ErrAssigneeOfOtherOrganization", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		// Foreign keys alone would accept another organization's user.
		_, err := b.store.UpdateLead(t.Context(), b.orgA.ID, b.leadA.ID, jack.LeadUpdate{AssignedTo: &b.ownerB.ID})
		requireCode(t, jack.EUNPROCESSABLE, err)
		requireLeadAUntouched(t, b)
	})
}
