package actors

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/jack-auto/jack"
)

// A slow Twilio does not delay the customer: while a staff text to the conversation waits on
// the provider, the customer's texts to the same conversation are stored and acknowledged at
// once; the staff member gets the outcome once Twilio answers, and the texts keep their order.
func TestSlowProviderDoesNotDelayInboundText(t *testing.T) {
	t.Parallel()
	for _, sk := range stores {
		t.Run(sk.name, func(t *testing.T) {
			t.Parallel()
			b := setup(t, sk.open(t), func(c *Config) { c.AIDebounce = time.Hour })
			customer := "+16045550188"
			b.inbound(t, customer, "Hi, is the Tacoma still there?")

			release := make(chan struct{})
			b.sms.SendSMSFunc = func(req jack.SMSRequest) (*jack.SMSResult, error) {
				<-release // Twilio takes its time
				return &jack.SMSResult{ProviderMessageID: "SM" + uuid.NewString()[:8], Status: jack.StatusQueued}, nil
			}
			type outcome struct {
				d   *jack.Delivery
				err error
			}
			staff := make(chan outcome, 1)
			go func() {
				d, err := b.engine.SendSMS(context.Background(), b.org.ID, jack.OutboundSMS{
					To: customer, Body: "It is! Want to see it today?", AuthorUserID: &b.owner.ID, IdempotencyKey: "k1"})
				staff <- outcome{d, err}
			}()
			waitFor(t, 5*time.Second, "the staff text at the provider", func() bool { return len(b.sms.Sent()) == 1 })

			start := time.Now()
			d := b.inbound(t, customer, "Yes, at 5?")
			require.Less(t, time.Since(start), 2*time.Second, "the inbound text did not wait for Twilio")
			require.False(t, d.Duplicate)
			select {
			case <-staff:
				t.Fatal("the staff text was answered before Twilio answered")
			default:
			}

			close(release)
			out := <-staff
			require.NoError(t, out.err)
			require.Equal(t, jack.StatusQueued, out.d.Message.Status)
			require.NotEmpty(t, out.d.Message.ProviderMessageID)

			lead, err := b.store.FindLeadByPhone(t.Context(), b.org.ID, customer)
			require.NoError(t, err)
			msgs := messagesOf(t, b.store, b.org.ID, lead.ID)
			require.Len(t, msgs, 3)
			require.Equal(t, "It is! Want to see it today?", msgs[1].Content)
			require.Equal(t, jack.StatusQueued, msgs[1].Status, "the outcome was committed")
			require.Equal(t, "Yes, at 5?", msgs[2].Content)
		})
	}
}

// A staff member's texts to one conversation reach the provider one at a time, in the order
// they were sent, even though none of them holds up the conversation's mailbox.
func TestOutboundTextsKeepTheirOrder(t *testing.T) {
	t.Parallel()
	b := setup(t, stores[0].open(t), func(c *Config) { c.AIDebounce = time.Hour })
	customer := "+16045550189"
	b.inbound(t, customer, "Hello")
	var inFlight, most atomic.Int64
	b.sms.SendSMSFunc = func(req jack.SMSRequest) (*jack.SMSResult, error) {
		n := inFlight.Add(1)
		defer inFlight.Add(-1)
		if n > most.Load() {
			most.Store(n)
		}
		time.Sleep(20 * time.Millisecond)
		return &jack.SMSResult{ProviderMessageID: "SM" + uuid.NewString()[:8], Status: jack.StatusQueued}, nil
	}
	done := make(chan error, 5)
	bodies := []string{"one", "two", "three", "four", "five"}
	for i, body := range bodies {
		go func() {
			_, err := b.engine.SendSMS(context.Background(), b.org.ID, jack.OutboundSMS{
				To: customer, Body: body, AuthorUserID: &b.owner.ID, IdempotencyKey: body})
			done <- err
		}()
		// Each request reaches the grain before the next one is made.
		waitFor(t, 5*time.Second, "the text stored", func() bool {
			lead, err := b.store.FindLeadByPhone(t.Context(), b.org.ID, customer)
			return err == nil && lead.TotalConversations == i+2
		})
	}
	for range bodies {
		require.NoError(t, <-done)
	}
	var got []string
	for _, s := range b.sms.Sent() {
		got = append(got, s.Body)
	}
	require.Equal(t, bodies, got)
	require.EqualValues(t, 1, most.Load(), "one text of the conversation with the provider at a time")
}

// gatedStore holds every conversation write until the gate opens.
type gatedStore struct {
	jack.Store
	gate    chan struct{}
	waiting atomic.Int64
}

func (s *gatedStore) InConversationTx(ctx context.Context, orgID uuid.UUID, fn func(tx jack.ConversationTx) error) error {
	if err := s.wait(ctx); err != nil {
		return err
	}
	return s.Store.InConversationTx(ctx, orgID, fn)
}

func (s *gatedStore) InOwnedConversationTx(ctx context.Context, owner jack.ConversationOwner, fn func(tx jack.ConversationTx) error) error {
	if err := s.wait(ctx); err != nil {
		return err
	}
	return s.Store.InOwnedConversationTx(ctx, owner, fn)
}

func (s *gatedStore) wait(ctx context.Context) error {
	s.waiting.Add(1)
	defer s.waiting.Add(-1)
	select {
	case <-s.gate:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// A call start is answered from memory while its call session is being stored: the
// conversation's next call start is answered too, before either session has committed; both
// commit, in order, once the Store lets them.
func TestCallStartsDoNotWaitForTheirSessions(t *testing.T) {
	t.Parallel()
	inner := stores[0].open(t)
	store := &gatedStore{Store: inner, gate: make(chan struct{})}
	b := setup(t, store, func(c *Config) { c.AIDebounce = time.Hour })
	customer := "+16045550190"
	close(store.gate)
	b.inbound(t, customer, "Calling you in a minute")
	store.gate = make(chan struct{}) // from now on every write waits

	for _, sid := range []string{"CA1", "CA2"} {
		ctx, cancel := context.WithTimeout(t.Context(), 3*time.Second)
		vars, err := b.engine.StartCall(ctx, b.org.ID, jack.InboundCall{ProviderCallID: sid, Caller: customer, Called: b.orgPhone})
		cancel()
		require.NoError(t, err, "call start %s answered while the Store is held", sid)
		require.Equal(t, customer, vars["phone_number_normalized"])
	}
	waitFor(t, 2*time.Second, "the first session at the Store", func() bool { return store.waiting.Load() == 1 })
	time.Sleep(50 * time.Millisecond)
	require.EqualValues(t, 1, store.waiting.Load(), "one session is with the Store, the other queued behind it")

	close(store.gate)
	waitFor(t, 5*time.Second, "both sessions stored", func() bool {
		lead, err := inner.FindLeadByPhone(t.Context(), b.org.ID, customer)
		if err != nil {
			return false
		}
		a, errA := findSession(t, inner, b.org.ID, "CA1")
		c, errC := findSession(t, inner, b.org.ID, "CA2")
		return errA == nil && errC == nil && a.LeadID == lead.ID && !c.StartedAt.Before(a.StartedAt)
	})
}

// findSession reads a call session by its Twilio call sid.
func findSession(t *testing.T, store jack.Store, orgID uuid.UUID, callSid string) (*jack.CallSession, error) {
	var cs *jack.CallSession
	err := store.InConversationTx(t.Context(), orgID, func(tx jack.ConversationTx) (err error) {
		cs, err = tx.FindCallSession(t.Context(), "", callSid)
		return err
	})
	return cs, err
}

// An activation whose conversation was claimed by another (its node was paused or cut off, and
// the conversation moved) commits nothing more: its next write is refused, it drops what it
// held and starts over, and the request is served once it has claimed the conversation again
// and read it as the other activation left it.
func TestStaleActivationIsFenced(t *testing.T) {
	t.Parallel()
	for _, sk := range stores {
		t.Run(sk.name, func(t *testing.T) {
			t.Parallel()
			b := setup(t, sk.open(t), func(c *Config) { c.AIDebounce = time.Hour })
			customer := "+16045550191"
			b.inbound(t, customer, "first")

			// Another node claims the conversation and writes to it.
			epoch, err := b.store.ClaimConversation(t.Context(), b.org.ID, customer, "another-node")
			require.NoError(t, err)
			lead, err := b.store.FindLeadByPhone(t.Context(), b.org.ID, customer)
			require.NoError(t, err)
			require.NoError(t, b.store.InOwnedConversationTx(t.Context(), jack.ConversationOwner{OrgID: b.org.ID, Phone: customer, Epoch: epoch},
				func(tx jack.ConversationTx) error {
					m := &jack.Message{OrganizationID: b.org.ID, LeadID: lead.ID, PhoneNumberNormalized: customer, Content: "written elsewhere",
						SentBy: jack.SentByCustomer, Type: jack.ChannelSMS, Status: jack.StatusReceived, ProviderMessageID: newSid()}
					if _, _, err := tx.InsertMessage(t.Context(), m); err != nil {
						return err
					}
					_, err := tx.UpdateConversation(t.Context(), lead.ID, jack.ConversationChange{Messages: 1})
					return err
				}))

			d := b.inbound(t, customer, "second")
			require.False(t, d.Duplicate)
			require.EqualValues(t, 1, b.engine.FencedWrites(), "the stale activation's write was refused")
			require.Equal(t, 3, d.Lead.TotalConversations, "counting the message written elsewhere")
			epochNow, err := b.store.ClaimConversation(t.Context(), b.org.ID, customer, "probe")
			require.NoError(t, err)
			require.Equal(t, epoch+2, epochNow, "the grain claimed the conversation again before serving")

			msgs := messagesOf(t, b.store, b.org.ID, lead.ID)
			var bodies []string
			for _, m := range msgs {
				bodies = append(bodies, m.Content)
			}
			require.Equal(t, []string{"first", "written elsewhere", "second"}, bodies, "each stored once")
			vars, err := b.engine.Context(t.Context(), b.org.ID, customer)
			require.NoError(t, err)
			require.Contains(t, vars["conversation_context"], "written elsewhere", "the new activation read it")
		})
	}
}
