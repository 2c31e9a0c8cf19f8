package storetest

import (
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/jack-auto/jack"
)

// testSends checks UnsentMessages, the reconciliation sweep's scan (actors/outbound.go).
func testSends(t *testing.T, f Features, newStore NewStoreFunc) {
	t.Run("UnsentMessages", func(t *testing.T) {
		t.Parallel()
		store := newStore(t)
		now := f.now()
		outbound := func(orgID uuid.UUID, lead *jack.Lead, status, sid string, ts time.Time) *jack.Message {
			m := NewMessage(lead, "reply "+status, ts)
			m.SentBy, m.Status, m.ProviderMessageID = jack.SentByAgent, status, sid
			return MustInsertMessage(t, store, orgID, m)
		}
		orgA, _ := MustCreateOrganization(t, store)
		orgB, _ := MustCreateOrganization(t, store)
		leadA := MustCreateLead(t, store, orgA.ID, NewPhone())
		leadB := MustCreateLead(t, store, orgB.ID, NewPhone())

		pendingA := outbound(orgA.ID, leadA, jack.StatusPending, "", now.Add(-3*time.Minute))
		sendingB := outbound(orgB.ID, leadB, jack.StatusSending, "", now.Add(-2*time.Minute))
		outbound(orgA.ID, leadA, jack.StatusPending, "", now.Add(time.Second))                  // too recent
		outbound(orgA.ID, leadA, jack.StatusQueued, twilioSid(), now.Add(-4*time.Minute))       // resolved
		outbound(orgB.ID, leadB, jack.StatusUnknown, "", now.Add(-4*time.Minute))               // resolved: unknown
		MustInsertMessage(t, store, orgA.ID, NewMessage(leadA, "inbound", now.Add(-time.Hour))) // the customer's

		got, err := store.UnsentMessages(t.Context(), now, 0)
		require.NoError(t, err)
		require.Len(t, got, 2, "across organizations, only outbound texts still pending or sending, created before the cutoff")
		require.Equal(t, pendingA.ID, got[0].ID, "oldest first")
		require.Equal(t, orgA.ID, got[0].OrganizationID)
		require.Equal(t, sendingB.ID, got[1].ID)
		require.Equal(t, leadB.PhoneNumberNormalized, got[1].PhoneNumberNormalized)

		got, err = store.UnsentMessages(t.Context(), now, 1)
		require.NoError(t, err)
		require.Len(t, got, 1, "limit")

		got, err = store.UnsentMessages(t.Context(), now.Add(-time.Hour), 0)
		require.NoError(t, err)
		require.NotNil(t, got, "none is [], never null")
		require.Empty(t, got)
	})
}

func twilioSid() string { return "SM" + uuid.NewString()[:8] }
