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

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/jack-auto/jack/persistence/postgres"
	"github.com/jack-auto/jack/persistence/postgres/postgrestest"
	"github.com/jack-auto/jack/providers/fake"
	"github.com/jack-auto/jack/providers/twilio"
)

// membershipTimeout is JACK_MEMBERSHIP_TIMEOUT in the membership tests: a lease of 2s, so a busy
// test machine does not fence a healthy node. Texts to a conversation whose node froze or was
// cut off are acknowledged within membershipTimeout + 5s.
const membershipTimeout = 4 * time.Second

// membershipScenario is three `jack serve` processes on CLUSTER_PROVIDER=postgres with nine
// customers texting through them, in bursts of up to three texts sent back to back through
// different nodes (inside the AI's debounce), and the AI answering.
type membershipScenario struct {
	cl    *testCluster
	tw    *fake.Twilio
	load  *textLoad
	dbURL string
	orgID uuid.UUID
	start time.Time

	stop atomic.Bool
	wg   sync.WaitGroup
}

func startMembershipScenario(t *testing.T, email string, opts clusterOptions) *membershipScenario {
	t.Helper()
	redisURL := os.Getenv("TEST_REDIS_URL")
	if redisURL == "" {
		t.Skip("TEST_REDIS_URL is not set (e.g. redis://127.0.0.1:6379/0): skipping the three-process cluster test, which needs a real Redis")
	}
	sc := &membershipScenario{dbURL: postgrestest.URL(t), start: time.Now()} // skips when TEST_DATABASE_URL is unset
	sc.tw = fake.NewTwilio(t, "AC0123456789abcdef0123456789abcdef", "fakeauthtoken0123456789")
	sc.cl = startClusterWith(t, 3, map[string]string{
		"DATABASE_URL":              sc.dbURL,
		"REDIS_URL":                 redisURL,
		"JWT_SECRET":                strings.Repeat("m", 40),
		"TWILIO_ACCOUNT_SID":        sc.tw.AccountSID(),
		"TWILIO_AUTH_TOKEN":         sc.tw.AuthToken(),
		"TWILIO_API_URL":            sc.tw.URL(),
		"CLUSTER_PROVIDER":          "postgres",
		"JACK_MEMBERSHIP_TIMEOUT":   membershipTimeout.String(),
		"JACK_MEMBERSHIP_HEARTBEAT": "250ms",
		// A burst (three texts back to back, tens of milliseconds) falls inside the debounce;
		// the AI answers it before the next burst.
		"JACK_AI_DEBOUNCE": "300ms",
		// A node taking a conversation over looks up a text another node attempted after this.
		"JACK_SEND_TIMEOUT": "3s",
	}, opts)
	t.Logf("cluster of %d nodes ready after %s", len(sc.cl.nodes), time.Since(sc.start).Round(time.Millisecond))

	owner, auth := register(t, sc.cl.nodes[0].url, email)
	sc.orgID = auth.Organization.ID
	orgPhone := "+16045550100"
	// No quiet hours, so the AI answers whatever the time of day.
	owner.must("PATCH", "/api/organization", map[string]any{"settings": map[string]string{"contactHoursStart": "00:00", "contactHoursEnd": "24:00"}}, http.StatusOK, nil)
	owner.must("POST", "/api/organizations/"+sc.orgID.String()+"/phone-numbers",
		map[string]string{"phoneNumber": orgPhone, "twilioPhoneSid": "PN0123"}, http.StatusCreated, nil)

	sc.load = &textLoad{cl: sc.cl, authToken: sc.tw.AuthToken(), accountSID: sc.tw.AccountSID(), orgPhone: orgPhone,
		hc: &http.Client{Timeout: twilio.WebhookTimeout, Transport: &http.Transport{}}}
	for c := range 9 {
		sc.load.customers = append(sc.load.customers, &customer{phone: fmt.Sprintf("+1604555%04d", 500+c), pace: 700 * time.Millisecond, burst: 3})
	}
	for _, c := range sc.load.customers {
		sc.wg.Go(func() { sc.load.loop(c, &sc.stop) })
	}
	t.Cleanup(func() { sc.stop.Store(true); sc.wg.Wait() })

	// Every customer has a conversation owner; all three nodes own some.
	waitForCond(t, 20*time.Second, "every customer's texts acknowledged", func() bool {
		for _, c := range sc.load.customers {
			if len(c.ackedSids()) < 2 {
				return false
			}
		}
		return true
	})
	return sc
}

// victim picks the node owning the first customer's conversation, and the others.
func (sc *membershipScenario) victim(t *testing.T) (*clusterNode, []*clusterNode) {
	t.Helper()
	owners := map[string]int{}
	for _, c := range sc.load.customers {
		owners[c.lastOwner()]++
	}
	t.Logf("conversations per owner: %v", owners)
	victim := sc.cl.byMember(sc.load.customers[0].lastOwner())
	require.NotNil(t, victim)
	var others []*clusterNode
	for _, nd := range sc.cl.nodes {
		if nd != victim {
			others = append(others, nd)
		}
	}
	return victim, others
}

// ackFigures are the acknowledgement latencies of the texts first sent in a window, split by
// whether the victim owned their conversation before it.
type ackFigures struct {
	ownedN, otherN               int
	ownedMax, ownedP99           time.Duration
	otherP50, otherP99, otherMax time.Duration
}

func (sc *membershipScenario) acks(victim string, from, to time.Time) ackFigures {
	var owned, other []time.Duration
	for _, c := range sc.load.customers {
		ds := c.acksBetween(from, to)
		if c.ownerBefore(from) == victim {
			owned = append(owned, ds...)
		} else {
			other = append(other, ds...)
		}
	}
	return ackFigures{ownedN: len(owned), otherN: len(other), otherP99: percentile(other, 99), otherP50: percentile(other, 50),
		otherMax: percentile(other, 100), ownedP99: percentile(owned, 99), ownedMax: percentile(owned, 100)}
}

func (f ackFigures) String() string {
	return fmt.Sprintf("texts to conversations it did not own: %d acknowledged, p50 %s, p99 %s, max %s; "+
		"texts to conversations it owned: %d acknowledged, p99 %s, max %s",
		f.otherN, f.otherP50.Round(time.Millisecond), f.otherP99.Round(time.Millisecond), f.otherMax.Round(time.Millisecond),
		f.ownedN, f.ownedP99.Round(time.Millisecond), f.ownedMax.Round(time.Millisecond))
}

// rejoin restarts victim as a supervisor would (a new member id) and waits until every node
// reports three members; it returns the new member id.
func (sc *membershipScenario) rejoin(t *testing.T, victim *clusterNode) string {
	t.Helper()
	sc.cl.start(t, victim)
	sc.cl.waitReady(t, victim, 30*time.Second)
	victim.dead.Store(false)
	waitForCond(t, 30*time.Second, "every node to see three members again", func() bool {
		for _, nd := range sc.cl.nodes {
			if n, _ := readyMembers(t, nd); n != 3 {
				return false
			}
		}
		return true
	})
	_, id := readyMembers(t, victim)
	return id
}

// finish keeps texting through all three nodes a while, stops the load and checks the
// invariants (checkConversations).
func (sc *membershipScenario) finish(t *testing.T, victim *clusterNode) conversationTotals {
	t.Helper()
	acceptedAtRejoin := sc.load.accepted.Load()
	waitForCond(t, 20*time.Second, "texts acknowledged through the restarted node", func() bool {
		return victim.posted.Load() > 3 && sc.load.accepted.Load() > acceptedAtRejoin+int64(2*len(sc.load.customers))
	})
	sc.stop.Store(true)
	sc.wg.Wait()
	require.Zero(t, sc.load.gaveUp.Load(), "texts never acknowledged after every retry")
	store, err := postgres.Open(t.Context(), postgres.Config{URL: sc.dbURL, MaxConns: 2})
	require.NoError(t, err)
	t.Cleanup(func() { store.Close() })
	return checkConversations(t, store, sc.orgID, sc.load, sc.tw, 20*time.Second)
}

// declaredBy names the nodes whose log says they declared member dead for why.
func declaredBy(t *testing.T, nodes []*clusterNode, member, why string) string {
	t.Helper()
	by := ""
	for _, nd := range nodes {
		b, err := os.ReadFile(nd.log)
		require.NoError(t, err)
		if strings.Contains(string(b), why) && strings.Contains(string(b), "dead_member_id="+member) {
			by += " " + nd.name
		}
	}
	return by
}

// TestCluster_PausedNodeRejoins runs three `jack serve` processes with CLUSTER_PROVIDER=postgres
// on loopback, customers texting through them in bursts with the AI answering, and freezes
// (SIGSTOP) the node owning a busy conversation for longer than the membership timeout. The
// two others declare it dead and take its conversations over while texts keep being
// acknowledged; on SIGCONT the frozen node finds itself dead and exits with ExitRejoin by
// itself; the test restarts it as a supervisor would (a new member id) and every node sees
// three members again. Nothing acknowledged is lost or stored twice, nothing is left
// unanswered, no text is answered twice (checkConversations states the rules).
func TestCluster_PausedNodeRejoins(t *testing.T) {
	t.Parallel()
	sc := startMembershipScenario(t, "owner@membership.test", clusterOptions{})
	firstIDs := map[string]string{}
	for _, nd := range sc.cl.nodes {
		n, id := readyMembers(t, nd)
		require.Equal(t, 3, n, "%s sees every member", nd.name)
		require.NotEmpty(t, id)
		firstIDs[nd.name] = id
	}
	victim, survivors := sc.victim(t)
	victimID := firstIDs[victim.name]

	// Freeze the victim past the membership timeout; a load balancer stops sending to it (its
	// /ready does not answer).
	pausedAt := time.Now()
	require.NoError(t, victim.cmd.Process.Signal(syscall.SIGSTOP))
	t.Cleanup(func() { _ = victim.cmd.Process.Signal(syscall.SIGCONT) })
	victim.dead.Store(true)
	acceptedAtPause := sc.load.accepted.Load()
	waitForCond(t, membershipTimeout+5*time.Second, "the survivors to declare the frozen node dead", func() bool {
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
	require.Contains(t, metrics, `jack_reconciled_sends_total{outcome="unknown"}`)
	require.Contains(t, metrics, "jack_fenced_writes_total")
	require.GreaterOrEqual(t, declaredAfter, membershipTimeout-500*time.Millisecond, "not declared dead before its heartbeat is older than the timeout")
	// Keep it frozen a while past the timeout, as a long pause would, with bursts going on.
	time.Sleep(time.Until(pausedAt.Add(membershipTimeout + 3*time.Second)))
	// Every conversation, the frozen node's included, answers through the survivors.
	waitForCond(t, 15*time.Second, "every conversation to be acknowledged by a survivor", func() bool {
		for _, c := range sc.load.customers {
			if c.answeredAfter(pausedAt.Add(declaredAfter), victim.member) == nil {
				return false
			}
		}
		return true
	})

	// Resume it: it finds itself dead and exits on its own, with ExitRejoin.
	resumedAt := time.Now()
	acceptedDuringPause := sc.load.accepted.Load() - acceptedAtPause
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
	by := declaredBy(t, survivors, victimID, "declared a member dead")
	require.NotEmpty(t, by, "a survivor logged declaring %s (member %s) dead", victim.name, victimID)
	t.Logf("declared %s (member %s) dead:%s", victim.name, victimID, by)

	// While it was frozen: texts to conversations it did not own went on as usual; texts to
	// the ones it owned waited for the membership to drop it, then for the new owner.
	figs := sc.acks(victim.member, pausedAt, resumedAt)
	require.Positive(t, figs.ownedN)
	require.Positive(t, figs.otherN)
	require.LessOrEqual(t, figs.ownedMax, membershipTimeout+5*time.Second, "a text to a frozen node's conversation is acknowledged within the membership timeout + 5s")

	// Restart it as a supervisor would: a new incarnation, and three members everywhere.
	restartedAt := time.Now()
	newID := sc.rejoin(t, victim)
	require.NotEqual(t, victimID, newID, "the restarted node is a new member")
	rejoinAfter, threeAfterResume := time.Since(restartedAt), time.Since(resumedAt)

	tot := sc.finish(t, victim)
	summary := fmt.Sprintf("MEMBERSHIP (SIGSTOP): %s frozen %s with a %s membership timeout; the survivors declared it dead after %s; "+
		"during the freeze %s (%d texts acknowledged); on SIGCONT it exited with status %d after %s; restarted, all three saw 3 members "+
		"%s after the restart (%s after SIGCONT); accepted %d, stored %d, lost 0, AI replies %d (unknown %d), answered twice %d, "+
		"unanswered 0, webhooks sent again %d, test took %s",
		victim.name, pauseLength.Round(time.Millisecond), membershipTimeout, declaredAfter.Round(time.Millisecond),
		figs, acceptedDuringPause, victim.exitCode, exitAfter.Round(time.Millisecond), rejoinAfter.Round(time.Millisecond),
		threeAfterResume.Round(time.Millisecond), sc.load.accepted.Load(), tot.stored, tot.replies, tot.unknown, tot.twice,
		sc.load.retries.Load(), time.Since(sc.start).Round(time.Millisecond))
	t.Log(summary)
	fmt.Println(summary)
}

// TestCluster_PartitionedNodeRejoins runs the same three nodes, each behind a TCP proxy on its
// cluster port (which it advertises), and cuts the proxy of the node owning a busy
// conversation: its peers can no longer reach it, though it still reaches Postgres and Redis,
// heartbeats, and serves HTTP. The peers' probes fail, they vote it suspect, it is declared
// dead on their votes, fences itself and exits with ExitRejoin; the proxy heals and the test
// restarts the node (a new member), and every node sees three members again. The same
// invariants as for a pause hold.
func TestCluster_PartitionedNodeRejoins(t *testing.T) {
	t.Parallel()
	sc := startMembershipScenario(t, "owner@partition.test", clusterOptions{proxies: true})
	victim, peers := sc.victim(t)
	_, victimID := readyMembers(t, victim)
	require.NotEmpty(t, victimID)

	cutAt := time.Now()
	victim.proxy.Cut()
	select {
	case <-victim.exited:
	case <-time.After(membershipTimeout + 10*time.Second):
		t.Fatalf("the cut-off node did not exit:\n%s", tail(victim.log, 40))
	}
	exitAfter := time.Since(cutAt)
	victim.dead.Store(true) // its HTTP port is gone: the load sends it nothing more
	require.Equal(t, ExitRejoin, victim.exitCode, "exit status of the cut-off node")
	oldLog, err := os.ReadFile(victim.log)
	require.NoError(t, err)
	require.Contains(t, string(oldLog), "declared dead / lease lost: exiting to rejoin as a new member")
	by := declaredBy(t, peers, victimID, "unreachable for a majority of the others")
	require.NotEmpty(t, by, "a peer logged declaring %s (member %s) dead on the suspicion votes", victim.name, victimID)
	t.Logf("declared %s (member %s) dead on its peers' votes:%s, after %s", victim.name, victimID, by, exitAfter.Round(time.Millisecond))
	for _, nd := range peers {
		waitForCond(t, 5*time.Second, nd.name+" to drop the cut-off node", func() bool { n, _ := readyMembers(t, nd); return n == 2 })
	}

	// The cut goes on a while, with bursts going on through the two others.
	time.Sleep(time.Until(cutAt.Add(membershipTimeout + 3*time.Second)))
	waitForCond(t, 15*time.Second, "every conversation to be acknowledged by a peer", func() bool {
		for _, c := range sc.load.customers {
			if c.answeredAfter(cutAt.Add(exitAfter), victim.member) == nil {
				return false
			}
		}
		return true
	})
	healedAt := time.Now()
	figs := sc.acks(victim.member, cutAt, healedAt)
	require.Positive(t, figs.ownedN)
	require.Positive(t, figs.otherN)
	require.LessOrEqual(t, figs.ownedMax, membershipTimeout+5*time.Second, "a text to a cut-off node's conversation is acknowledged within the membership timeout + 5s")

	victim.proxy.Heal(t)
	newID := sc.rejoin(t, victim)
	require.NotEqual(t, victimID, newID, "the restarted node is a new member")
	threeAfterHeal := time.Since(healedAt)

	tot := sc.finish(t, victim)
	summary := fmt.Sprintf("MEMBERSHIP (partition): %s cut off from its peers (TCP proxy on its cluster port) for %s with a %s membership timeout; "+
		"declared dead on its peers' suspicion votes and exited with status %d after %s; during the cut %s; healed and restarted, "+
		"all three saw 3 members %s after the heal; accepted %d, stored %d, lost 0, AI replies %d (unknown %d), answered twice %d, "+
		"unanswered 0, webhooks sent again %d, test took %s",
		victim.name, healedAt.Sub(cutAt).Round(time.Millisecond), membershipTimeout, victim.exitCode, exitAfter.Round(time.Millisecond),
		figs, threeAfterHeal.Round(time.Millisecond), sc.load.accepted.Load(), tot.stored, tot.replies, tot.unknown, tot.twice,
		sc.load.retries.Load(), time.Since(sc.start).Round(time.Millisecond))
	t.Log(summary)
	fmt.Println(summary)
}
