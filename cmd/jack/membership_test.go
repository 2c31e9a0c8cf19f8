package main

import (
	"fmt"
	"net/http"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/jack-auto/jack"
	"github.com/jack-auto/jack/persistence/postgres"
	"github.com/jack-auto/jack/persistence/postgres/postgrestest"
	"github.com/jack-auto/jack/providers/fake"
	"github.com/jack-auto/jack/providers/twilio"
)

// TestCluster_PausedNodeRejoins runs three `jack serve` processes with CLUSTER_PROVIDER=postgres
// on loopback, customers texting through them with the AI answering, and freezes (SIGSTOP) the
// node owning a busy conversation for longer than the membership timeout. The two others
// declare it dead and take its conversations over while texts keep being acknowledged; on
// SIGCONT the frozen node finds itself dead and exits with ExitRejoin by itself; the test
// restarts it as a supervisor would (a new member id) and every node sees three members again.
// Nothing acknowledged is lost or stored twice, and no text is answered twice.
func TestCluster_PausedNodeRejoins(t *testing.T) {
	t.Parallel()
	redisURL := os.Getenv("TEST_REDIS_URL")
	if redisURL == "" {
		t.Skip("TEST_REDIS_URL is not set (e.g. redis://127.0.0.1:6379/0): skipping the three-process cluster test, which needs a real Redis")
	}
	dbURL := postgrestest.URL(t) // skips when TEST_DATABASE_URL is unset
	start := time.Now()
	const timeout = 4 * time.Second // a lease of 2s: a busy test machine must not fence a healthy node

	tw := fake.NewTwilio(t, "AC0123456789abcdef0123456789abcdef", "fakeauthtoken0123456789")
	cl := startCluster(t, 3, map[string]string{
		"DATABASE_URL":              dbURL,
		"REDIS_URL":                 redisURL,
		"JWT_SECRET":                strings.Repeat("m", 40),
		"TWILIO_ACCOUNT_SID":        tw.AccountSID(),
		"TWILIO_AUTH_TOKEN":         tw.AuthToken(),
		"TWILIO_API_URL":            tw.URL(),
		"CLUSTER_PROVIDER":          "postgres",
		"JACK_MEMBERSHIP_TIMEOUT":   timeout.String(),
		"JACK_MEMBERSHIP_HEARTBEAT": "250ms",
		"JACK_AI_DEBOUNCE":          "100ms", // the AI answers each text before the next
	})
	t.Logf("cluster of %d nodes ready after %s", len(cl.nodes), time.Since(start).Round(time.Millisecond))
	firstIDs := map[string]string{}
	for _, nd := range cl.nodes {
		n, id := readyMembers(t, nd)
		require.Equal(t, 3, n, "%s sees every member", nd.name)
		require.NotEmpty(t, id)
		firstIDs[nd.name] = id
	}

	owner, auth := register(t, cl.nodes[0].url, "owner@membership.test")
	orgPhone := "+16045550100"
	// No quiet hours, so the AI answers whatever the time of day.
	owner.must("PATCH", "/api/organization", map[string]any{"settings": map[string]string{"contactHoursStart": "00:00", "contactHoursEnd": "24:00"}}, http.StatusOK, nil)
	owner.must("POST", "/api/organizations/"+auth.Organization.ID.String()+"/phone-numbers",
		map[string]string{"phoneNumber": orgPhone, "twilioPhoneSid": "PN0123"}, http.StatusCreated, nil)

	load := &textLoad{cl: cl, authToken: tw.AuthToken(), accountSID: tw.AccountSID(), orgPhone: orgPhone,
		hc: &http.Client{Timeout: twilio.WebhookTimeout, Transport: &http.Transport{}}}
	for c := range 9 {
		load.customers = append(load.customers, &customer{phone: fmt.Sprintf("+1604555%04d", 500+c), pace: 600 * time.Millisecond})
	}
	var stop atomic.Bool
	var wg sync.WaitGroup
	for _, c := range load.customers {
		wg.Go(func() {
			for i := 0; !stop.Load(); i++ {
				load.text(c, fmt.Sprintf("text %d from %s: is the Civic still available?", i, c.phone))
				time.Sleep(c.pace)
			}
		})
	}
	t.Cleanup(func() { stop.Store(true); wg.Wait() })

	// Every customer has a conversation owner; all three nodes own some.
	waitForCond(t, 20*time.Second, "every customer's texts acknowledged", func() bool {
		for _, c := range load.customers {
			if len(c.ackedSids()) < 2 {
				return false
			}
		}
		return true
	})
	owners := map[string]int{}
	for _, c := range load.customers {
		owners[c.lastOwner()]++
	}
	t.Logf("conversations per owner before the pause: %v", owners)
	victim := cl.byMember(load.customers[0].lastOwner())
	require.NotNil(t, victim)
	victimID := firstIDs[victim.name]
	var survivors []*clusterNode
	for _, nd := range cl.nodes {
		if nd != victim {
			survivors = append(survivors, nd)
		}
	}

	// Freeze the victim past the membership timeout; a load balancer stops sending to it (its
	// /ready does not answer).
	pausedAt := time.Now()
	require.NoError(t, victim.cmd.Process.Signal(syscall.SIGSTOP))
	t.Cleanup(func() { _ = victim.cmd.Process.Signal(syscall.SIGCONT) })
	victim.dead.Store(true)
	acceptedAtPause := load.accepted.Load()
	waitForCond(t, timeout+5*time.Second, "the survivors to declare the frozen node dead", func() bool {
		for _, nd := range survivors {
			if n, _ := readyMembers(t, nd); n != 2 {
				return false
			}
		}
		return true
	})
	declaredAfter := time.Since(pausedAt)
	metrics := getMetrics(t, survivors[0])
	require.Contains(t, metrics, "jack_cluster_members 2\n")
	require.Contains(t, metrics, fmt.Sprintf("jack_cluster_member_info{member_id=%q} 1\n", firstIDs[survivors[0].name]))
	require.GreaterOrEqual(t, declaredAfter, timeout-500*time.Millisecond, "not declared dead before its heartbeat is older than the timeout")
	// Keep it frozen a while past the timeout, as a long pause would.
	time.Sleep(time.Until(pausedAt.Add(timeout + time.Second)))
	// Every conversation, the frozen node's included, answers through the survivors.
	waitForCond(t, 15*time.Second, "every conversation to be acknowledged by a survivor", func() bool {
		for _, c := range load.customers {
			if c.answeredAfter(pausedAt.Add(declaredAfter), victim.member) == nil {
				return false
			}
		}
		return true
	})
	var takeover time.Duration
	orphans := 0
	for _, c := range load.customers {
		if c.ownerBefore(pausedAt) == victim.member {
			orphans++
			takeover = max(takeover, c.answeredAfter(pausedAt, victim.member).at.Sub(pausedAt))
		}
	}
	require.Positive(t, orphans)

	// Resume it: it finds itself dead and exits on its own, with ExitRejoin.
	resumedAt := time.Now()
	acceptedDuringPause := load.accepted.Load() - acceptedAtPause
	pauseLength := resumedAt.Sub(pausedAt)
	require.NoError(t, victim.cmd.Process.Signal(syscall.SIGCONT))
	select {
	case <-victim.exited:
	case <-time.After(10 * time.Second):
		t.Fatalf("the resumed node did not exit within 10s:\n%s", tail(victim.log, 40))
	}
	exitAfter := time.Since(resumedAt)
	require.Equal(t, ExitRejoin, victim.exitCode, "exit status of the resumed node")
	oldLog, err := os.ReadFile(victim.log)
	require.NoError(t, err)
	require.Contains(t, string(oldLog), "declared dead / lease lost: exiting to rejoin as a new member")
	reason := ""
	if m := fenceReasonRE.FindSubmatch(oldLog); m != nil {
		reason = string(m[1])
	}
	t.Logf("the resumed node fenced itself: %s", reason)
	declaredBy := ""
	for _, nd := range survivors { // whichever survivor's heartbeat came first declared it
		b, err := os.ReadFile(nd.log)
		require.NoError(t, err)
		if strings.Contains(string(b), "declared a member dead") && strings.Contains(string(b), "dead_member_id="+victimID) {
			declaredBy += " " + nd.name
		}
	}
	require.NotEmpty(t, declaredBy, "a survivor logged declaring %s (member %s) dead", victim.name, victimID)
	t.Logf("declared %s (member %s) dead:%s", victim.name, victimID, declaredBy)

	// Restart it as a supervisor would: a new incarnation, and three members everywhere.
	restartedAt := time.Now()
	cl.start(t, victim)
	cl.waitReady(t, victim, 30*time.Second)
	victim.dead.Store(false)
	waitForCond(t, 30*time.Second, "every node to see three members again", func() bool {
		for _, nd := range cl.nodes {
			if n, _ := readyMembers(t, nd); n != 3 {
				return false
			}
		}
		return true
	})
	rejoinAfter := time.Since(restartedAt)
	_, newID := readyMembers(t, victim)
	require.NotEqual(t, victimID, newID, "the restarted node is a new member")

	// Texts reach all three again; then the load stops and the last AI replies go out.
	acceptedAtRejoin := load.accepted.Load()
	waitForCond(t, 20*time.Second, "texts acknowledged through the restarted node", func() bool {
		return victim.posted.Load() > 3 && load.accepted.Load() > acceptedAtRejoin+int64(2*len(load.customers))
	})
	stop.Store(true)
	wg.Wait()
	require.Zero(t, load.gaveUp.Load(), "texts never acknowledged after every retry")

	store, err := postgres.Open(t.Context(), postgres.Config{URL: dbURL, MaxConns: 2})
	require.NoError(t, err)
	t.Cleanup(func() { store.Close() })
	orgID := auth.Organization.ID
	var stored, replies, twice int
	waitForCond(t, 15*time.Second, "the AI to answer every customer's last text", func() bool {
		stored, replies, twice = 0, 0, 0
		answered := true
		for _, c := range load.customers {
			lead, err := store.FindLeadByPhone(t.Context(), orgID, c.phone)
			require.NoError(t, err)
			msgs := findAllMessages(t, store, orgID, lead.ID)
			var sids []string
			for i, m := range msgs {
				switch m.SentBy {
				case jack.SentByCustomer:
					sids = append(sids, m.TwilioMessageSid)
				case jack.SentByAgent:
					replies++
					if i > 0 && msgs[i-1].SentBy == jack.SentByAgent {
						twice++
					}
				}
			}
			require.Equal(t, c.ackedSids(), sids, "%s: every acknowledged text stored once, in the order acknowledged", c.phone)
			stored += len(sids)
			if len(msgs) == 0 || msgs[len(msgs)-1].SentBy != jack.SentByAgent {
				answered = false
			}
		}
		return answered
	})
	require.Zero(t, twice, "AI replies with no customer text between them (a text answered twice)")
	// Every text Twilio sent is one stored AI reply.
	sent := tw.Messages()
	require.Len(t, sent, replies, "texts sent through Twilio = AI replies stored")
	seen := map[string]bool{}
	for _, m := range sent {
		require.False(t, seen[m.Sid], "Twilio message %s sent once", m.Sid)
		seen[m.Sid] = true
	}

	summary := fmt.Sprintf("MEMBERSHIP: %s frozen (SIGSTOP) %s with a %s membership timeout; the survivors declared it dead after %s "+
		"and answered its %d conversations within %s of the freeze (%d texts acknowledged during the freeze); on SIGCONT it exited "+
		"with status %d after %s; restarted, all three saw 3 members after %s; accepted %d, stored %d, lost 0, AI replies %d, "+
		"answered twice %d, webhooks sent again %d, test took %s",
		victim.name, pauseLength.Round(time.Millisecond), timeout, declaredAfter.Round(time.Millisecond), orphans,
		takeover.Round(time.Millisecond), acceptedDuringPause, victim.exitCode, exitAfter.Round(time.Millisecond),
		rejoinAfter.Round(time.Millisecond), load.accepted.Load(), stored, replies, twice, load.retries.Load(),
		time.Since(start).Round(time.Millisecond))
	t.Log(summary)
	fmt.Println(summary)
}
