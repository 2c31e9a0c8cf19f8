package main

import (
	"fmt"
	"net/http"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/jack-auto/jack"
	"github.com/jack-auto/jack/persistence/postgres"
	"github.com/jack-auto/jack/persistence/postgres/postgrestest"
	"github.com/jack-auto/jack/providers/fake"
	"github.com/jack-auto/jack/providers/twilio"
)

// TestCluster_KillNode runs three `jack serve` processes as one automanaged cluster on
// loopback (one Postgres schema, one Redis), drives customers' texts through all three as
// Twilio would (a webhook not answered 2xx is sent again, same MessageSid, to another node),
// and kill -9s the node owning the busiest conversation midway, with a webhook in flight to
// it. It prints the time until that conversation answers again, and checks that nothing
// acknowledged was lost, duplicated or reordered, that every conversation of the dead node
// answers from the survivors, and that a dashboard streaming through the cluster (and moving
// to another node if its own dies) saw every stored event once.
func TestCluster_KillNode(t *testing.T) {
	t.Parallel()
	redisURL := os.Getenv("TEST_REDIS_URL")
	if redisURL == "" {
		t.Skip("TEST_REDIS_URL is not set (e.g. redis://127.0.0.1:6379/0): skipping the three-process cluster test, which needs a real Redis")
	}
	dbURL := postgrestest.URL(t) // skips when TEST_DATABASE_URL is unset
	start := time.Now()

	tw := fake.NewTwilio(t, "AC0123456789abcdef0123456789abcdef", "fakeauthtoken0123456789")
	cl := startCluster(t, 3, map[string]string{
		"DATABASE_URL":       dbURL,
		"REDIS_URL":          redisURL,
		"JWT_SECRET":         strings.Repeat("c", 40),
		"TWILIO_ACCOUNT_SID": tw.AccountSID(),
		"TWILIO_AUTH_TOKEN":  tw.AuthToken(),
		"TWILIO_API_URL":     tw.URL(),
		"JACK_AI_DEBOUNCE":   "1h", // only the customers' texts: no AI replies in the counts
	})
	t.Logf("cluster of %d nodes ready after %s", len(cl.nodes), time.Since(start).Round(time.Millisecond))

	owner, auth := register(t, cl.nodes[0].url, "owner@cluster.test")
	orgPhone := "+16045550100"
	owner.must("POST", "/api/organizations/"+auth.Organization.ID.String()+"/phone-numbers",
		map[string]string{"phoneNumber": orgPhone, "twilioPhoneSid": "PN0123"}, http.StatusCreated, nil)
	// The dashboard streams from node 3 and moves to another node when its node goes away.
	dash := startFailoverEventSource(t, []string{cl.nodes[2].url, cl.nodes[0].url, cl.nodes[1].url}, owner.token, uuid.Nil.String())
	dash.waitForConnects(t, 1)

	// Ten customers; the first three busy. Each customer texts sequentially, so the order of
	// its texts is defined: the order in which they were acknowledged.
	load := &textLoad{cl: cl, authToken: tw.AuthToken(), accountSID: tw.AccountSID(), orgPhone: orgPhone,
		hc: &http.Client{Timeout: twilio.WebhookTimeout, Transport: &http.Transport{}}}
	for c := range 10 {
		texts, pace := 30, 250*time.Millisecond
		if c < 3 {
			texts, pace = 90, 80*time.Millisecond
		}
		load.customers = append(load.customers, &customer{phone: fmt.Sprintf("+1604555%04d", 300+c), texts: texts, pace: pace})
	}
	busiest := load.customers[0]
	var wg sync.WaitGroup
	for _, c := range load.customers {
		wg.Go(func() { load.run(c) })
	}

	// Midway, kill -9 the node that owns the busiest conversation.
	waitForCond(t, 30*time.Second, "half the texts acknowledged", func() bool { return load.accepted.Load() >= int64(load.total()/2) })
	victim := cl.byMember(busiest.lastOwner())
	require.NotNil(t, victim, "the busiest conversation's owner %q is a node", busiest.lastOwner())
	killedAt := cl.crash(t, victim)
	t.Logf("killed %s (member %s), the owner of the busiest conversation, at %d accepted", victim.name, victim.member, load.accepted.Load())

	waitForCond(t, 30*time.Second, "the busiest conversation to answer again", func() bool { return busiest.answeredAfter(killedAt, victim.member) != nil })
	recovery := busiest.answeredAfter(killedAt, victim.member).at.Sub(killedAt)
	wg.Wait()

	// Every conversation the dead node owned answers again from a survivor.
	var orphans int
	var slowest time.Duration // of the dead node's conversations that kept texting
	for _, c := range load.customers {
		if c.ownerBefore(killedAt) == victim.member {
			orphans++
			if a := c.answeredAfter(killedAt, victim.member); a != nil {
				slowest = max(slowest, a.at.Sub(killedAt))
			}
			a := load.text(c, "are you still there?")
			require.NotNil(t, a, "%s's conversation answers after its node died", c.phone)
			require.NotEqual(t, victim.member, a.owner)
		}
	}
	require.Positive(t, orphans)
	require.Positive(t, load.retries.Load(), "the webhooks in flight to the dead node were sent again")
	require.Zero(t, load.gaveUp.Load(), "texts never acknowledged after every retry")

	// The Store has every acknowledged text once, in each customer's order.
	store, err := postgres.Open(t.Context(), postgres.Config{URL: dbURL, MaxConns: 2})
	require.NoError(t, err)
	t.Cleanup(func() { store.Close() })
	orgID := auth.Organization.ID
	stored := 0
	for _, c := range load.customers {
		lead, err := store.FindLeadByPhone(t.Context(), orgID, c.phone)
		require.NoError(t, err)
		var sids []string
		for _, m := range findAllMessages(t, store, orgID, lead.ID) {
			sids = append(sids, m.ProviderMessageID)
		}
		require.Equal(t, c.ackedSids(), sids, "%s: every acknowledged text stored once, in the order acknowledged", c.phone)
		require.Equal(t, len(sids), lead.TotalConversations)
		stored += len(sids)
	}

	// The dashboard, resuming with Last-Event-ID across the kill, saw every stored event once.
	events := findAllEvents(t, store, orgID)
	got := dash.requireExactly(t, events)
	delivered := 0
	for _, e := range got {
		if e.Type == jack.EventSMSReceived {
			delivered++
		}
	}
	require.Equal(t, stored, delivered, "one sms_received event per stored text")

	summary := fmt.Sprintf("RECOVERY: %s from the crash (SIGSTOP, then kill -9) of %s, owner of the busiest conversation, "+
		"until a survivor answered that conversation (slowest of the dead node's %d conversations: %s); "+
		"accepted %d, stored %d, delivered (SSE) %d, webhooks sent again %d, dashboard connections %d, test took %s",
		recovery.Round(time.Millisecond), victim.name, orphans, slowest.Round(time.Millisecond),
		load.accepted.Load(), stored, delivered, load.retries.Load(), dash.connects(), time.Since(start).Round(time.Millisecond))
	t.Log(summary)
	fmt.Println(summary)
}
