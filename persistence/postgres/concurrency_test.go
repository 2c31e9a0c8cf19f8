package postgres_test

import (
	"context"
	"fmt"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/jack-auto/jack"
	"github.com/jack-auto/jack/persistence/postgres/postgrestest"
)

// TestConcurrentConversationWrites runs many activations of one conversation at once (as a
// cluster may during membership changes): every message lands and the counter is exact.
func TestConcurrentConversationWrites(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := postgrestest.MustOpenStore(t)
	org := mustCreateOrg(t, s, "Busy")
	const phone, n = "+16045550150", 200

	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs <- s.InConversationTx(ctx, org.ID, func(tx jack.ConversationTx) error {
				lead, _, err := tx.EnsureLead(ctx, jack.NewLead(org.ID, "Customer", phone, tx.Now()))
				if err != nil {
					return fmt.Errorf("ensure lead: %w", err)
				}
				_, created, err := tx.InsertMessage(ctx, &jack.Message{
					LeadID: lead.ID, PhoneNumberNormalized: phone, Content: fmt.Sprintf("message %d", i),
					SentBy: jack.SentByCustomer, Type: jack.ChannelSMS, Status: jack.StatusReceived,
					ProviderMessageID: fmt.Sprintf("SM%032d", i),
				})
				if err != nil || !created {
					return fmt.Errorf("insert message (created %v): %w", created, err)
				}
				now := tx.Now()
				_, err = tx.UpdateConversation(ctx, lead.ID, jack.ConversationChange{Messages: 1, Activity: &now})
				return err
			})
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}

	snap, err := s.LoadConversation(ctx, org.ID, phone, 10)
	require.NoError(t, err)
	require.NotNil(t, snap.Lead)
	require.Equal(t, n, snap.Lead.TotalConversations)
	require.EqualValues(t, 1+n, snap.Lead.Version)
	require.Equal(t, n, snap.TotalMessages)
	require.Equal(t, n, snap.SMSMessages)
	require.Len(t, snap.Messages, 10)
}
