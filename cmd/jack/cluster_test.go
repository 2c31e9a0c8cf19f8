package main

import (
	"bufio"
	"bytes"
	"cmp"
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
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

// testCluster is a set of `jack serve` processes started by a test.
type testCluster struct {
	nodes []*clusterNode
	bin   string // the built jack
	dir   string
}

type clusterNode struct {
	name   string
	url    string // http://127.0.0.1:<port>, also its SERVER_URL
	member string // the cluster member address, as replies name it
	vars   map[string]string
	starts int // processes started for this node (restarts make new members)

	cmd      *exec.Cmd
	log      string // stdout and stderr of the current process
	exited   chan struct{}
	exitCode int // once exited

	dead   atomic.Bool  // killed: the load sends it nothing more
	posted atomic.Int64 // webhooks posted to it
}

// startCluster builds jack and starts n nodes with env plus each node's own addresses, all
// seeded with every node's automanaged health port (CLUSTER_PROVIDER defaults to automanaged;
// env may name another), and waits until each is ready and sees all n members. The nodes get SIGTERM (then SIGKILL) in t.Cleanup; on failure their logs'
// tails are printed.
func startCluster(t *testing.T, n int, env map[string]string) *testCluster {
	t.Helper()
	dir := t.TempDir()
	bin := filepath.Join(dir, "jack")
	build := exec.Command(goTool(), "build", "-o", bin, ".")
	out, err := build.CombinedOutput()
	require.NoError(t, err, "go build: %s", out)

	ports := freePorts(t, 3*n)
	var seeds []string
	for i := range n {
		seeds = append(seeds, net.JoinHostPort("127.0.0.1", strconv.Itoa(ports[3*i+2])))
	}
	cl := &testCluster{bin: bin, dir: dir}
	t.Cleanup(func() {
		cl.stop(t)
		if t.Failed() {
			for _, nd := range cl.nodes {
				t.Logf("--- %s log tail ---\n%s", nd.name, tail(nd.log, 40))
			}
		}
	})
	for i := range n {
		httpPort, clusterPort, healthPort := ports[3*i], ports[3*i+1], ports[3*i+2]
		nd := &clusterNode{
			name:   fmt.Sprintf("node%d", i+1),
			url:    fmt.Sprintf("http://127.0.0.1:%d", httpPort),
			member: net.JoinHostPort("127.0.0.1", strconv.Itoa(clusterPort)),
		}
		nd.vars = mergeEnv(env, map[string]string{
			"JACK_ADDR":                fmt.Sprintf("127.0.0.1:%d", httpPort),
			"SERVER_URL":               nd.url,
			"JACK_DATA_DIR":            filepath.Join(dir, nd.name),
			"CLUSTER_PROVIDER":         cmp.Or(env["CLUSTER_PROVIDER"], "automanaged"),
			"CLUSTER_HOST":             "127.0.0.1",
			"CLUSTER_PORT":             strconv.Itoa(clusterPort),
			"CLUSTER_AUTOMANAGED_PORT": strconv.Itoa(healthPort),
			"CLUSTER_SEEDS":            strings.Join(seeds, ","),
			"LOG_FORMAT":               "text", // lastMemberCount reads the topology changes
			"LOG_LEVEL":                "info",
		})
		cl.start(t, nd)
		cl.nodes = append(cl.nodes, nd)
	}
	for _, nd := range cl.nodes {
		cl.waitReady(t, nd, 30*time.Second)
	}
	// Ready needs only this node in the topology; the test wants every node to see all of
	// them, so conversations have one owner from the first text.
	for _, nd := range cl.nodes {
		waitForCond(t, 20*time.Second, nd.name+" to see every member", func() bool { return lastMemberCount(nd.log) == n })
	}
	return cl
}

// start starts a process for nd, logging to a file of its own (node1.log, then node1.2.log…).
func (cl *testCluster) start(t *testing.T, nd *clusterNode) {
	t.Helper()
	nd.starts++
	nd.log = filepath.Join(cl.dir, nd.name+".log")
	if nd.starts > 1 {
		nd.log = filepath.Join(cl.dir, fmt.Sprintf("%s.%d.log", nd.name, nd.starts))
	}
	f, err := os.Create(nd.log)
	require.NoError(t, err)
	cmd := exec.Command(cl.bin, "serve")
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + cl.dir}
	for k, v := range nd.vars {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	cmd.Stdout, cmd.Stderr = f, f
	require.NoError(t, cmd.Start())
	exited := make(chan struct{})
	nd.cmd, nd.exited = cmd, exited
	go func() {
		_ = cmd.Wait()
		f.Close()
		nd.exitCode = cmd.ProcessState.ExitCode()
		close(exited)
	}()
}

// waitReady waits until nd's /ready answers 200, failing t if its process exits first.
func (cl *testCluster) waitReady(t *testing.T, nd *clusterNode, timeout time.Duration) {
	t.Helper()
	hc := &http.Client{Timeout: time.Second}
	waitForCond(t, timeout, nd.name+" to be ready", func() bool {
		select {
		case <-nd.exited:
			t.Fatalf("%s exited while starting:\n%s", nd.name, tail(nd.log, 40))
		default:
		}
		resp, err := hc.Get(nd.url + "/ready")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	})
}

// crash freezes nd (SIGSTOP) until a webhook is posted to it, then kills it (SIGKILL), so
// that webhook dies unanswered with the node. It returns when nd stopped serving (the freeze);
// the load sends nothing more to nd.
func (cl *testCluster) crash(t *testing.T, nd *clusterNode) time.Time {
	t.Helper()
	at := time.Now()
	require.NoError(t, nd.cmd.Process.Signal(syscall.SIGSTOP))
	// A webhook posted before the freeze may have its answer on the way already.
	posted := nd.posted.Load()
	waitForCond(t, 5*time.Second, "a webhook posted to the frozen "+nd.name, func() bool { return nd.posted.Load() > posted })
	nd.dead.Store(true)
	require.NoError(t, nd.cmd.Process.Kill())
	<-nd.exited
	return at
}

// stop ends the live nodes with SIGTERM, and SIGKILL when one takes longer than 10s.
func (cl *testCluster) stop(t *testing.T) {
	for _, nd := range cl.nodes {
		if nd.cmd.Process != nil {
			_ = nd.cmd.Process.Signal(syscall.SIGTERM)
		}
	}
	timeout := time.After(10 * time.Second)
	for _, nd := range cl.nodes {
		select {
		case <-nd.exited:
		case <-timeout:
			t.Errorf("%s did not stop within 10s of SIGTERM; killing it", nd.name)
			_ = nd.cmd.Process.Kill()
			<-nd.exited
		}
	}
}

func (cl *testCluster) byMember(member string) *clusterNode {
	for _, nd := range cl.nodes {
		if nd.member == member {
			return nd
		}
	}
	return nil
}

func (cl *testCluster) alive() []*clusterNode {
	var out []*clusterNode
	for _, nd := range cl.nodes {
		if !nd.dead.Load() {
			out = append(out, nd)
		}
	}
	return out
}

// textLoad plays Twilio for a set of customers texting the dealership through the cluster.
type textLoad struct {
	cl         *testCluster
	hc         *http.Client
	authToken  string
	accountSID string
	orgPhone   string
	customers  []*customer

	accepted atomic.Int64 // webhooks answered 2xx
	retries  atomic.Int64 // webhooks sent again after an error or a non-2xx answer
	gaveUp   atomic.Int64 // texts never answered 2xx
}

// customer texts sequentially; acks are its texts in the order they were acknowledged.
type customer struct {
	phone string
	texts int
	pace  time.Duration
	next  int // round-robin over the live nodes

	mu   sync.Mutex
	acks []ack
}

type ack struct {
	sid   string
	owner string // X-Jack-Conversation-Node
	at    time.Time
}

func (l *textLoad) total() int {
	n := 0
	for _, c := range l.customers {
		n += c.texts
	}
	return n
}

func (l *textLoad) run(c *customer) {
	for i := range c.texts {
		l.text(c, fmt.Sprintf("text %d from %s", i, c.phone))
		time.Sleep(c.pace)
	}
}

// text sends one text as Twilio would, to the customer's next node, and sends it again (same
// MessageSid) to the following nodes until one answers 2xx, up to six attempts. It returns the
// acknowledgement, nil when every attempt failed.
func (l *textLoad) text(c *customer, body string) *ack {
	params := twilio.InboundSMSParams(l.accountSID, c.phone, l.orgPhone, body, "")
	for attempt := range 6 {
		if attempt > 0 {
			l.retries.Add(1)
			time.Sleep(time.Duration(attempt) * 100 * time.Millisecond)
		}
		nodes := l.cl.alive()
		nd := nodes[c.next%len(nodes)]
		c.next++
		nd.posted.Add(1)
		resp, err := twilio.PostWebhook(context.Background(), l.hc, nd.url+"/api/webhooks/twilio/sms/incoming", l.authToken, params)
		if err != nil {
			continue
		}
		resp.Body.Close()
		if resp.StatusCode/100 != 2 {
			continue
		}
		a := ack{sid: params.Get("MessageSid"), owner: resp.Header.Get("X-Jack-Conversation-Node"), at: time.Now()}
		c.mu.Lock()
		c.acks = append(c.acks, a)
		c.mu.Unlock()
		l.accepted.Add(1)
		return &a
	}
	l.gaveUp.Add(1)
	return nil
}

func (c *customer) lastOwner() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.acks) == 0 {
		return ""
	}
	return c.acks[len(c.acks)-1].owner
}

// ownerBefore is the member that answered the customer's last text acknowledged before t.
func (c *customer) ownerBefore(t time.Time) string {
	c.mu.Lock()
	defer c.mu.Unlock()
	owner := ""
	for _, a := range c.acks {
		if a.at.Before(t) {
			owner = a.owner
		}
	}
	return owner
}

// answeredAfter is the customer's first text acknowledged after t by a member other than
// dead, nil when none yet.
func (c *customer) answeredAfter(t time.Time, dead string) *ack {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, a := range c.acks {
		if a.at.After(t) && a.owner != dead {
			return &a
		}
	}
	return nil
}

func (c *customer) ackedSids() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make([]string, len(c.acks))
	for i, a := range c.acks {
		out[i] = a.sid
	}
	return out
}

// findAllMessages returns a lead's whole timeline, oldest first.
func findAllMessages(t *testing.T, store jack.ConversationStore, orgID uuid.UUID, leadID string) []*jack.Message {
	t.Helper()
	var all []*jack.Message
	cursor := ""
	for {
		page, err := store.FindMessages(t.Context(), orgID, jack.MessageFilter{LeadID: leadID, Cursor: cursor, Limit: 200})
		require.NoError(t, err)
		all = append(page.Messages, all...) // pages go back in time
		if page.NextCursor == "" {
			return all
		}
		cursor = page.NextCursor
	}
}

var membersRE = regexp.MustCompile(`msg="cluster topology changed".* members=(\d+)`)

// lastMemberCount reads the member count of the last topology change a node logged; -1 when none.
func lastMemberCount(logPath string) int {
	b, err := os.ReadFile(logPath)
	if err != nil {
		return -1
	}
	n := -1
	s := bufio.NewScanner(bytes.NewReader(b))
	s.Buffer(make([]byte, 0, 64*1024), 1024*1024)
	for s.Scan() {
		if m := membersRE.FindSubmatch(s.Bytes()); m != nil {
			n, _ = strconv.Atoi(string(m[1]))
		}
	}
	return n
}

// freePorts returns n distinct ports that were free a moment ago (another process could take
// one before the node binds it; a small race the test accepts).
func freePorts(t *testing.T, n int) []int {
	t.Helper()
	var ports []int
	for range n {
		ln, err := net.Listen("tcp", ":0")
		require.NoError(t, err)
		defer ln.Close()
		ports = append(ports, ln.Addr().(*net.TCPAddr).Port)
	}
	return ports
}

// goTool is the go command that runs this test.
func goTool() string {
	if p, err := exec.LookPath("go"); err == nil {
		return p
	}
	return filepath.Join(runtime.GOROOT(), "bin", "go")
}

func tail(path string, lines int) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return err.Error()
	}
	all := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	return strings.Join(all[max(0, len(all)-lines):], "\n")
}

// waitForCond polls cond every 20ms until it holds, failing t after timeout.
func waitForCond(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", timeout, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
