package actors

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/jack-auto/jack"
	"github.com/jack-auto/jack/persistence/postgres"
	"github.com/jack-auto/jack/persistence/sqlite"
	"github.com/jack-auto/jack/persistence/sqlite/sqlitetest"
	"github.com/jack-auto/jack/persistence/storetest"
)

// fakeClock is a settable clock shared by the store and the engine.
type fakeClock struct{ now atomic.Pointer[time.Time] }

func newFakeClock(t *testing.T, rfc3339 string) *fakeClock {
	c := &fakeClock{}
	c.set(t, rfc3339)
	return c
}

func (c *fakeClock) set(t *testing.T, rfc3339 string) {
	tm, err := time.Parse(time.RFC3339, rfc3339)
	require.NoError(t, err)
	c.now.Store(&tm)
}

func (c *fakeClock) Now() time.Time { return *c.now.Load() }

func (c *fakeClock) advance(d time.Duration) {
	tm := c.Now().Add(d)
	c.now.Store(&tm)
}

var testCadence = []jack.CadenceStep{
	{After: jack.Duration(2 * time.Hour), Action: jack.FollowUpSMS, Message: "Hi {{customer_name}}, still thinking about {{vehicle_interest}}?"},
	{After: jack.Duration(24 * time.Hour), Action: jack.FollowUpCall},
	{After: jack.Duration(72 * time.Hour), Action: jack.FollowUpSMS, Message: "Last check-in from {{organization_name}}."},
}

// followUpBundle is an engine with the test cadence, the default 08:00–21:00 contact hours and
// a fake clock shared with its store.
func followUpBundle(t *testing.T, store jack.Store, clock *fakeClock, tune func(*Config)) *testBundle {
	t.Helper()
	b := setup(t, store, func(c *Config) {
		c.Now, c.AIDebounce, c.ReminderPoll = clock.Now, time.Millisecond, -1
		if tune != nil {
			tune(c)
		}
	})
	settings := b.org.Settings
	settings.ContactHoursStart, settings.ContactHoursEnd, settings.Cadence = "", "", testCadence
	org, err := store.UpdateOrganization(t.Context(), b.org.ID, jack.OrganizationUpdate{Settings: &settings})
	require.NoError(t, err)
	b.org = org
	elID := "phnum_1"
	_, err = store.UpdatePhoneNumber(t.Context(), b.org.ID, b.orgPhone, jack.PhoneNumberUpdate{VoicePhoneID: &elID})
	require.NoError(t, err)
	return b
}

// waitSent waits until the provider got n texts and returns them.
func (b *testBundle) waitSent(t *testing.T, n int) []jack.SMSRequest {
	t.Helper()
	waitFor(t, 5*time.Second, fmt.Sprintf("%d texts sent", n), func() bool { return len(b.sms.Sent()) >= n })
	sent := b.sms.Sent()
	require.Len(t, sent, n)
	return sent
}

func (b *testBundle) poll(t *testing.T) int {
	t.Helper()
	n, err := b.engine.PollReminders(t.Context())
	require.NoError(t, err)
	return n
}

func sqliteWithClock(t *testing.T, clock *fakeClock) jack.Store {
	store := sqlitetest.MustOpenStore(t)
	store.Now = clock.Now
	return store
}

// A silent lead gets the cadence's steps at the right times, and the lead shows it is chased.
func TestFollowUpCadence(t *testing.T) {
	t.Parallel()
	clock := newFakeClock(t, "2026-11-30T17:00:00Z") // 09:00 in Vancouver
	b := followUpBundle(t, sqliteWithClock(t, clock), clock, nil)
	b.agent.ReplyFunc = func(jack.AgentTurn) (*jack.AgentReply, error) {
		v := "the 2021 Civic"
		return &jack.AgentReply{Text: "Happy to help! What budget?", Change: jack.ConversationChange{VehicleInterest: &v}}, nil
	}
	customer := "+16045550161"
	b.inbound(t, customer, "Hi, I'm looking at the 2021 Civic")
	waitFor(t, 5*time.Second, "the AI reply", func() bool { return len(b.sms.Sent()) == 1 })

	clock.advance(time.Hour + 59*time.Minute)
	require.Zero(t, b.poll(t), "not due before 2h")
	clock.advance(time.Minute)
	require.Equal(t, 1, b.poll(t))
	sent := b.waitSent(t, 2) // the text goes to the provider after the step committed
	require.Equal(t, "Hi Customer, still thinking about the 2021 Civic?", sent[1].Body)
	lead, err := b.store.FindLeadByPhone(t.Context(), b.org.ID, customer)
	require.NoError(t, err)
	require.Equal(t, jack.ChaseNurture, lead.ChaseStatus)
	require.Zero(t, b.poll(t), "fired once")

	clock.advance(24 * time.Hour) // 10:00 next day: the call step
	require.Equal(t, 1, b.poll(t))
	require.Len(t, b.dialer.Calls(), 1)

	clock.advance(72 * time.Hour)
	require.Equal(t, 1, b.poll(t))
	sent = b.waitSent(t, 3)
	require.Len(t, sent, 3)
	require.Equal(t, "Last check-in from "+b.org.Name+".", sent[2].Body)

	clock.advance(30 * 24 * time.Hour)
	require.Zero(t, b.poll(t), "the cadence ended")
	require.Len(t, b.sms.Sent(), 3)
}

// A reminder due at night waits for the customer's morning.
func TestFollowUpSkipsQuietHours(t *testing.T) {
	t.Parallel()
	clock := newFakeClock(t, "2026-11-30T03:30:00Z") // 19:30 in Vancouver
	b := followUpBundle(t, sqliteWithClock(t, clock), clock, nil)
	customer := "+16045550162"
	b.inbound(t, customer, "Send me options tomorrow")
	waitFor(t, 5*time.Second, "the AI reply", func() bool { return len(b.sms.Sent()) == 1 })

	clock.advance(2 * time.Hour) // 21:30 Vancouver: due, but after hours
	require.Equal(t, 1, b.poll(t))
	require.Len(t, b.sms.Sent(), 1, "nothing sent at night")
	rs, err := b.store.FindReminders(t.Context(), b.org.ID, customer)
	require.NoError(t, err)
	var pending *jack.Reminder
	for _, r := range rs {
		if r.Status == jack.ReminderPending {
			pending = r
		}
	}
	require.NotNil(t, pending)
	require.Equal(t, "2026-11-30T16:00:00Z", pending.DueAt.UTC().Format(time.RFC3339), "rescheduled for 08:00 Vancouver")
	require.Equal(t, 0, pending.Step)

	clock.set(t, "2026-11-30T16:00:00Z")
	require.Equal(t, 1, b.poll(t))
	b.waitSent(t, 2)
}

// A reply, an opt-out or a takeover stops the cadence.
func TestFollowUpStops(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		stop func(t *testing.T, b *testBundle, customer string)
	}{
		{"Reply", func(t *testing.T, b *testBundle, customer string) { b.inbound(t, customer, "Thanks, I'll come by") }},
		{"OptOut", func(t *testing.T, b *testBundle, customer string) { b.inbound(t, customer, "STOP") }},
		{"Takeover", func(t *testing.T, b *testBundle, customer string) {
			_, err := b.engine.SetAIPaused(t.Context(), b.org.ID, customer, true)
			require.NoError(t, err)
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			clock := newFakeClock(t, "2026-11-30T17:00:00Z")
			b := followUpBundle(t, sqliteWithClock(t, clock), clock, func(c *Config) { c.AIDebounce = time.Hour })
			customer := storetest.NewPhone()
			_, err := b.engine.SendSMS(t.Context(), b.org.ID, jack.OutboundSMS{To: customer, Body: "Your quote is ready", AuthorUserID: &b.owner.ID})
			require.NoError(t, err) // a staff text starts the cadence
			clock.advance(time.Hour)
			tc.stop(t, b, customer)
			clock.advance(5 * 24 * time.Hour)
			require.Zero(t, b.poll(t))
			require.Len(t, b.sms.Sent(), 1)
			require.Empty(t, b.dialer.Calls())
		})
	}
}

// A reminder due while its conversation is passivated wakes it and fires once.
func TestFollowUpWakesPassivatedConversation(t *testing.T) {
	t.Parallel()
	clock := newFakeClock(t, "2026-11-30T17:00:00Z")
	b := followUpBundle(t, sqliteWithClock(t, clock), clock, func(c *Config) { c.ConversationIdle = 200 * time.Millisecond; c.AIDebounce = time.Hour })
	customer := storetest.NewPhone()
	_, err := b.engine.SendSMS(t.Context(), b.org.ID, jack.OutboundSMS{To: customer, Body: "Your quote is ready", AuthorUserID: &b.owner.ID})
	require.NoError(t, err)
	waitFor(t, 10*time.Second, "passivation", func() bool { return b.engine.ActiveConversations() == 0 })

	clock.advance(2 * time.Hour)
	require.Equal(t, 1, b.poll(t))
	b.waitSent(t, 2)
	require.True(t, strings.HasPrefix(b.sms.Sent()[1].Body, "Hi "))
	require.Zero(t, b.poll(t))
}

// Two nodes polling the same database (two engines, each its own one-member cluster, so each
// activates its own copy of the conversation) fire each due reminder exactly once.
func TestFollowUpFiresOnceAcrossNodes(t *testing.T) {
	t.Parallel()
	for _, sk := range stores {
		t.Run(sk.name, func(t *testing.T) {
			t.Parallel()
			clock := newFakeClock(t, "2026-11-30T17:00:00Z")
			store := sk.open(t)
			setClock(store, clock.Now)
			a := followUpBundle(t, store, clock, func(c *Config) { c.AIDebounce = time.Hour })
			other, err := NewEngine(Config{Now: clock.Now, AIDebounce: time.Hour, ReminderPoll: -1, ServerURL: "http://jack.test"},
				store, newBroker(), a.sms, a.agent, a.dialer, testLogger(t))
			require.NoError(t, err)
			require.NoError(t, other.Start())
			t.Cleanup(func() { other.Close() })

			const customers = 12
			for i := range customers {
				customer := storetest.NewPhone()
				_, err := a.engine.SendSMS(t.Context(), a.org.ID, jack.OutboundSMS{To: customer, Body: "Quote", AuthorUserID: &a.owner.ID, IdempotencyKey: "q" + string(rune('a'+i))})
				require.NoError(t, err)
			}
			clock.advance(2 * time.Hour)
			var wg sync.WaitGroup
			var claimed atomic.Int64
			for _, e := range []*Engine{a.engine, other, a.engine, other} {
				wg.Go(func() {
					n, err := e.PollReminders(context.Background())
					assertNoError(t, err)
					claimed.Add(int64(n))
				})
			}
			wg.Wait()
			require.EqualValues(t, customers, claimed.Load(), "each reminder claimed once")
			followUps := func() int {
				n := 0
				for _, s := range a.sms.Sent() {
					if strings.HasPrefix(s.Body, "Hi ") {
						n++
					}
				}
				return n
			}
			waitFor(t, 5*time.Second, "every follow-up sent", func() bool { return followUps() >= customers })
			time.Sleep(200 * time.Millisecond) // a second firing would be on its way by now
			require.Equal(t, customers, followUps(), "each reminder fired exactly once")
		})
	}
}

// setClock gives a store the test's clock.
func setClock(store jack.Store, now func() time.Time) {
	switch s := store.(type) {
	case *sqlite.Store:
		s.Now = now
	case *postgres.Store:
		s.Now = now
	}
}
