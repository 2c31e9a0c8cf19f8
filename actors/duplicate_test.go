package actors

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/asynkron/protoactor-go/cluster/clusterproviders/test"
	"github.com/stretchr/testify/require"

	"github.com/jack-auto/jack"
	"github.com/jack-auto/jack/persistence/memory"
	"github.com/jack-auto/jack/persistence/sqlite/sqlitetest"
	"github.com/jack-auto/jack/persistence/storetest"
)

// TestDuplicateActivation: two engines, each its own one-member cluster, host an activation of
// the same conversation over one Store, as happens while members disagree about the topology
// (see ARCHITECTURE.md, "Proto.Actor rules"). Both receive the same inbound texts (plus a few only one of them sees) and
// both send the same staff texts with shared idempotency keys, concurrently. Ownership epochs
// make one activation at a time the writer (a replaced one refuses as fenced and stops; the
// caller retries), and the Store's unique keys and counters are the guard: every MessageSid and
// every key is stored once, each key is sent through Twilio once (the pending row is committed
// before the send, so the other activation finds it), and the lead's counters and version are
// exact.
func TestDuplicateActivation(t *testing.T) {
	t.Parallel()
	for _, sk := range stores {
		t.Run(sk.name, func(t *testing.T) {
			t.Parallel()
			// Slow sends widen the window between the pending row's commit and the outcome's.
			a := setup(t, sk.open(t), func(c *Config) { c.AIDebounce = time.Hour })
			a.sms.SendSMSFunc = func(req jack.SMSRequest) (*jack.SMSResult, error) {
				time.Sleep(20 * time.Millisecond)
				return &jack.SMSResult{ProviderMessageID: newSid(), Status: jack.StatusQueued}, nil
			}
			b, err := NewEngine(a.engine.cfg, a.store, memory.NewBroker(), a.sms, a.agent, a.dialer, testLogger(t))
			require.NoError(t, err)
			require.NoError(t, b.Start())
			t.Cleanup(func() { b.Close() })
			engines := []*Engine{a.engine, b}
			customer := storetest.NewPhone()

			// One stream of operations per engine: the shared texts and staff texts in the same
			// order for both, with each engine's own texts mixed in.
			const shared, own, staff = 60, 10, 15
			type op struct {
				in  *jack.InboundSMS
				out *jack.OutboundSMS
			}
			inbound := func(body string) op {
				return op{in: &jack.InboundSMS{ProviderMessageID: newSid(), From: customer, To: a.orgPhone, Body: body}}
			}
			var common []op
			for i := range shared {
				common = append(common, inbound(fmt.Sprintf("shared %d", i)))
				if i%4 == 3 && i/4 < staff {
					k := i / 4
					common = append(common, op{out: &jack.OutboundSMS{To: customer, Body: fmt.Sprintf("staff %d", k),
						IdempotencyKey: fmt.Sprintf("dup-key-%d", k), AuthorUserID: &a.owner.ID}})
				}
			}
			streams := make([][]op, len(engines))
			wantSids := map[string]bool{}
			for _, o := range common {
				if o.in != nil {
					wantSids[o.in.ProviderMessageID] = true
				}
			}
			for e := range engines {
				for i, o := range common {
					streams[e] = append(streams[e], o)
					if i%7 == 0 && i/7 < own {
						u := inbound(fmt.Sprintf("only engine %d, %d", e, i/7))
						wantSids[u.in.ProviderMessageID] = true
						streams[e] = append(streams[e], u)
					}
				}
			}

			// Per engine, a few workers take the stream in order, so both activations work on
			// the same texts at nearly the same time.
			var (
				mu       sync.Mutex
				firsts   = map[string]int{} // sid or key → answers that were not duplicates
				wins     = make([]int, len(engines))
				wg       sync.WaitGroup
				errs     = make(chan error, 4*len(engines))
				workers  = 4
				nextOpOf = make([]chan op, len(engines))
			)
			for e, eng := range engines {
				nextOpOf[e] = make(chan op)
				go func() {
					defer close(nextOpOf[e])
					for _, o := range streams[e] {
						nextOpOf[e] <- o
					}
				}()
				for range workers {
					wg.Go(func() {
						for o := range nextOpOf[e] {
							var (
								d   *jack.Delivery
								err error
								key string
							)
							// An activation the other engine's activation replaced refuses the
							// request (fenced) and stops, and the two keep replacing each other;
							// the caller retries a 503, as Twilio and the dashboard do, with the
							// same MessageSid or key.
							for try := 0; ; try++ {
								if o.in != nil {
									d, err = eng.ReceiveSMS(context.Background(), a.org.ID, *o.in)
									key = o.in.ProviderMessageID
								} else {
									d, err = eng.SendSMS(context.Background(), a.org.ID, *o.out)
									key = o.out.IdempotencyKey
								}
								if jack.ErrorCode(err) != jack.EUNAVAILABLE || try == 50 {
									break
								}
								time.Sleep(time.Duration(5+rand.IntN(20)) * time.Millisecond)
							}
							if err != nil {
								errs <- fmt.Errorf("engine %d: %w", e, err)
								for range nextOpOf[e] { // drain so the feeder ends
								}
								return
							}
							mu.Lock()
							if !d.Duplicate {
								firsts[key]++
								wins[e]++
							}
							mu.Unlock()
						}
					})
				}
			}
			wg.Wait()
			close(errs)
			for err := range errs {
				require.NoError(t, err)
			}
			t.Logf("first to commit: engine A %d times, engine B %d times", wins[0], wins[1])

			lead, err := a.store.FindLeadByPhone(t.Context(), a.org.ID, customer)
			require.NoError(t, err)
			// A staff text is acknowledged once committed; the conversation's owner at the time
			// sends it (a fenced activation leaves it to the one that replaced it), so its
			// outcome may be recorded after the acknowledgement.
			var msgs []*jack.Message
			waitFor(t, 15*time.Second, "every staff text sent and its outcome recorded", func() bool {
				msgs = messagesOf(t, a.store, a.org.ID, lead.ID)
				for _, m := range msgs {
					if m.SentBy == jack.SentByAgent && (m.Status == jack.StatusPending || m.Status == jack.StatusSending) {
						return false
					}
				}
				return true
			})
			sids, keys := map[string]int{}, map[string]int{}
			for _, m := range msgs {
				if m.SentBy == jack.SentByCustomer {
					sids[m.ProviderMessageID]++
				} else {
					keys[m.IdempotencyKey]++
					require.Equal(t, jack.StatusQueued, m.Status, "the send's outcome was recorded for %s", m.IdempotencyKey)
				}
			}
			require.Len(t, sids, len(wantSids))
			for sid := range wantSids {
				require.Equal(t, 1, sids[sid], "MessageSid %s stored once", sid)
				require.Equal(t, 1, firsts[sid], "MessageSid %s acknowledged as new once", sid)
			}
			require.Len(t, keys, staff)
			sends := map[string]int{}
			for _, s := range a.sms.Sent() {
				sends[s.Body]++
			}
			require.Len(t, sends, staff)
			for k := range staff {
				key := fmt.Sprintf("dup-key-%d", k)
				require.Equal(t, 1, keys[key], "key %s stored once", key)
				require.Equal(t, 1, firsts[key], "key %s acknowledged as new once", key)
				require.Equal(t, 1, sends[fmt.Sprintf("staff %d", k)], "key %s sent once", key)
			}

			require.Equal(t, len(msgs), lead.TotalConversations, "total_conversations counts every stored message once")
			require.EqualValues(t, 1+len(msgs), lead.Version, "version: the creation plus one conversation update per stored message")
			events, err := a.store.FindEvents(t.Context(), a.org.ID, jack.EventFilter{Limit: 5000})
			require.NoError(t, err)
			received := 0
			for _, ev := range events {
				if ev.Type == jack.EventSMSReceived {
					received++
				}
			}
			require.Equal(t, len(wantSids), received, "one sms_received event per stored text")
		})
	}
}

// TestDuplicateActivation_MemberLeft: a request waiting on a grain whose member leaves the
// cluster does not wait out its timeout: it goes at once to the identity's new owner, which
// activates the conversation again. The old activation, stuck meanwhile, commits late and finds
// the text already stored, so it is stored once.
func TestDuplicateActivation_MemberLeft(t *testing.T) {
	t.Parallel()
	agent := test.NewInMemAgent()
	var stuck atomic.Bool
	entered, release := make(chan struct{}), make(chan struct{})
	a := setup(t, sqlitetest.MustOpenStore(t), func(c *Config) {
		c.AIDebounce, c.RequestTimeout = time.Hour, time.Minute
		c.Provider = test.NewTestProvider(agent)
	})
	cfg := a.engine.cfg
	cfg.Provider = test.NewTestProvider(agent)
	b, err := NewEngine(cfg, a.store, memory.NewBroker(), a.sms, a.agent, a.dialer, testLogger(t))
	require.NoError(t, err)
	b.beforeRequest = func(req *Request) {
		if req.GetInboundSms().GetBody() == "stuck" && stuck.CompareAndSwap(false, true) {
			close(entered)
			<-release
		}
	}
	require.NoError(t, b.Start())
	t.Cleanup(func() { b.Close() })
	waitFor(t, 10*time.Second, "two members", func() bool { return a.engine.cluster.MemberList.Length() == 2 })

	// A conversation that member B owns.
	var customer string
	for customer == "" {
		phone := storetest.NewPhone()
		if d := a.inbound(t, phone, "hello"); d.Node == b.system.Address() {
			customer = phone
		}
	}
	in := jack.InboundSMS{ProviderMessageID: newSid(), From: customer, To: a.orgPhone, Body: "stuck"}
	answered := make(chan *jack.Delivery, 1)
	go func() {
		d, err := a.engine.ReceiveSMS(context.Background(), a.org.ID, in)
		assertNoError(t, err)
		answered <- d
	}()
	<-entered
	agent.DeregisterService(b.system.ID) // B leaves, its grain still busy with the text
	var d *jack.Delivery
	select {
	case d = <-answered:
	case <-time.After(20 * time.Second): // far below the request timeout of a minute
		t.Fatal("the request waited on the member that left")
	}
	close(release)
	require.NotNil(t, d)
	require.Equal(t, a.engine.system.Address(), d.Node, "the new owner answered")
	require.False(t, d.Duplicate)

	waitFor(t, 10*time.Second, "the old activation to finish", func() bool { return b.ActiveConversations() == 0 })
	lead, err := a.store.FindLeadByPhone(t.Context(), a.org.ID, customer)
	require.NoError(t, err)
	msgs := messagesOf(t, a.store, a.org.ID, lead.ID)
	require.Len(t, msgs, 2, "hello and the stuck text, once")
	require.Equal(t, 2, lead.TotalConversations)
}
