package main

// The multi-process cluster harness shared by the TestCluster_ tests: it builds jack, starts
// `jack serve` nodes on loopback (optionally behind a TCP proxy on their cluster port, which
// they advertise, so a test can cut a node off from its peers), plays Twilio for customers
// texting through the nodes, and checks what the Store holds at the end.

import (
	"bufio"
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"go/build"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
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
	"github.com/jack-auto/jack/providers/fake"
	"github.com/jack-auto/jack/providers/twilio"
)

// jackBuild is the jack binary the cluster tests share: built once per test process (the
// tests run in parallel, and a build takes a while on a busy machine), removed by TestMain.
var jackBuild struct {
	once sync.Once
	dir  string
	out  []byte
	err  error
}

func buildJack(t *testing.T) string {
	t.Helper()
	jackBuild.once.Do(func() {
		if jackBuild.dir, jackBuild.err = os.MkdirTemp("", "jack-cluster-test-"); jackBuild.err != nil {
			return
		}
		build := exec.Command(goTool(), "build", "-o", filepath.Join(jackBuild.dir, "jack"), ".")
		jackBuild.out, jackBuild.err = build.CombinedOutput()
	})
	require.NoError(t, jackBuild.err, "go build: %s", jackBuild.out)
	return filepath.Join(jackBuild.dir, "jack")
}

func TestMain(m *testing.M) {
	code := m.Run()
	if jackBuild.dir != "" {
		os.RemoveAll(jackBuild.dir)
	}
	os.Exit(code)
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
	proxy  *tcpProxy    // in front of its cluster port (startClusterWith's proxies), or nil
}

// clusterOptions vary startClusterWith.
type clusterOptions struct {
	// proxies puts a tcpProxy in front of every node's cluster (remote) port and has the node
	// advertise the proxy, so the test can cut a node off from its peers (not from Postgres,
	// Redis or its HTTP clients).
	proxies bool
}

// startCluster builds jack and starts n nodes with env plus each node's own addresses, all
// seeded with every node's automanaged health port (CLUSTER_PROVIDER defaults to automanaged;
// env may name another), and waits until each is ready and sees all n members. The nodes get SIGTERM (then SIGKILL) in t.Cleanup; on failure their logs'
// tails are printed.
func startCluster(t *testing.T, n int, env map[string]string) *testCluster {
	t.Helper()
	return startClusterWith(t, n, env, clusterOptions{})
}

// startClusterWith is startCluster with options.
func startClusterWith(t *testing.T, n int, env map[string]string, opts clusterOptions) *testCluster {
	t.Helper()
	dir := t.TempDir()
	bin := buildJack(t)

	ports := freePorts(t, 4*n)
	var seeds []string
	for i := range n {
		seeds = append(seeds, net.JoinHostPort("127.0.0.1", strconv.Itoa(ports[4*i+2])))
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
		httpPort, clusterPort, healthPort := ports[4*i], ports[4*i+1], ports[4*i+2]
		nd := &clusterNode{
			name:   fmt.Sprintf("node%d", i+1),
			url:    fmt.Sprintf("http://127.0.0.1:%d", httpPort),
			member: net.JoinHostPort("127.0.0.1", strconv.Itoa(clusterPort)),
		}
		own := map[string]string{}
		if opts.proxies {
			nd.proxy = startProxy(t, net.JoinHostPort("127.0.0.1", strconv.Itoa(ports[4*i+3])), nd.member)
			nd.member = nd.proxy.addr
			own["CLUSTER_ADVERTISED_ADDRESS"] = nd.proxy.addr
		}
		nd.vars = mergeEnv(env, own, map[string]string{
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
	burst int // loop: up to this many texts back to back
	next  int // round-robin over the live nodes

	mu   sync.Mutex
	acks []ack
}

type ack struct {
	sid   string
	owner string    // X-Jack-Conversation-Node
	sent  time.Time // the first attempt
	at    time.Time // the 2xx answer
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
	sent := time.Now()
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
		a := ack{sid: params.Get("MessageSid"), owner: resp.Header.Get("X-Jack-Conversation-Node"), sent: sent, at: time.Now()}
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
	return filepath.Join(build.Default.GOROOT, "bin", "go")
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

// getMetrics returns nd's /metrics page.
func getMetrics(t *testing.T, nd *clusterNode) string {
	t.Helper()
	resp, err := http.Get(nd.url + "/metrics")
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return string(b)
}

var fenceReasonRE = regexp.MustCompile(`msg="declared dead / lease lost: exiting to rejoin as a new member" reason="([^"]*)"`)

// readyMembers returns the member count and member id nd's /ready names; 0 and "" when it is
// not ready.
func readyMembers(t *testing.T, nd *clusterNode) (int, string) {
	t.Helper()
	hc := &http.Client{Timeout: time.Second}
	resp, err := hc.Get(nd.url + "/ready")
	if err != nil {
		return 0, ""
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return 0, ""
	}
	var body struct {
		MemberID       string `json:"memberId"`
		ClusterMembers int    `json:"clusterMembers"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		return 0, ""
	}
	return body.ClusterMembers, body.MemberID
}

// loop texts for c until stop: bursts of 1 to c.burst texts (at least 1) sent back to back,
// each to the next node in turn, so a burst reaches one conversation through different nodes
// within the AI's debounce window; c.pace between bursts.
func (l *textLoad) loop(c *customer, stop *atomic.Bool) {
	for i := 0; !stop.Load(); i++ {
		for k := range 1 + i%max(c.burst, 1) {
			l.text(c, fmt.Sprintf("text %d.%d from %s: is the Civic still available?", i, k, c.phone))
		}
		time.Sleep(c.pace)
	}
}

// acksBetween returns the latency (first attempt to 2xx) of c's texts first sent in [from, to).
func (c *customer) acksBetween(from, to time.Time) []time.Duration {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []time.Duration
	for _, a := range c.acks {
		if !a.sent.Before(from) && a.sent.Before(to) {
			out = append(out, a.at.Sub(a.sent))
		}
	}
	return out
}

// percentile returns the p-th percentile (0–100) of ds, 0 for none.
func percentile(ds []time.Duration, p float64) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[min(len(s)-1, int(float64(len(s))*p/100))]
}

// conversationTotals are what checkConversations counted.
type conversationTotals struct {
	stored, replies, twice, unknown int
}

// checkConversations waits until the AI has answered every customer, then checks the cluster
// tests' invariants on what the Store and Twilio hold:
//   - every acknowledged text is stored exactly once, in the order acknowledged (none lost);
//   - nothing is left unanswered: every stored customer text has an AI reply after it in its
//     conversation's timeline (one reply answers the whole burst before it), i.e. each
//     conversation ends with an AI reply;
//   - no text is answered twice: no two AI replies follow each other without a customer text
//     between them;
//   - every AI reply went to Twilio exactly once (Twilio's messages are the stored replies, by
//     sid, once each) and none is left pending or sending; a reply marked unknown (a node died
//     between its attempt mark and the Twilio call, and Twilio has nothing) is counted, and must
//     not be at Twilio either.
func checkConversations(t *testing.T, store jack.Store, orgID uuid.UUID, load *textLoad, tw *fake.Twilio, within time.Duration) conversationTotals {
	t.Helper()
	var tot conversationTotals
	var sids map[string]int
	var waiting []string // why the last round was not done
	deadline := time.Now().Add(within)
	for {
		tot, sids, waiting = conversationTotals{}, map[string]int{}, nil
		for _, c := range load.customers {
			lead, err := store.FindLeadByPhone(t.Context(), orgID, c.phone)
			require.NoError(t, err)
			msgs := findAllMessages(t, store, orgID, lead.ID)
			var inbound []string
			for i, m := range msgs {
				switch m.SentBy {
				case jack.SentByCustomer:
					inbound = append(inbound, m.ProviderMessageID)
				case jack.SentByAgent:
					tot.replies++
					sids[m.ProviderMessageID]++
					if i > 0 && msgs[i-1].SentBy == jack.SentByAgent {
						tot.twice++
					}
					switch {
					case m.Status == jack.StatusUnknown:
						tot.unknown++
					case m.ProviderMessageID == "" || m.Status == jack.StatusPending || m.Status == jack.StatusSending:
						waiting = append(waiting, fmt.Sprintf("%s: reply %s is %s (sid %q, %s old)", c.phone, m.ID, m.Status,
							m.ProviderMessageID, time.Since(m.Timestamp).Round(time.Millisecond)))
					}
				}
			}
			require.Equal(t, c.ackedSids(), inbound, "%s: every acknowledged text stored once, in the order acknowledged", c.phone)
			tot.stored += len(inbound)
			if len(msgs) == 0 || msgs[len(msgs)-1].SentBy != jack.SentByAgent {
				last := msgs[len(msgs)-1]
				waiting = append(waiting, fmt.Sprintf("%s: last text %q (%s old) unanswered", c.phone, last.Content,
					time.Since(last.Timestamp).Round(time.Millisecond)))
			}
		}
		if len(waiting) == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after %s, not every customer's last text is answered and every reply's send recorded:\n%s", within, strings.Join(waiting, "\n"))
		}
		time.Sleep(100 * time.Millisecond)
	}
	require.Zero(t, tot.twice, "AI replies with no customer text between them (a text answered twice)")
	sent := tw.Messages()
	require.Len(t, sent, tot.replies-tot.unknown, "texts sent through Twilio = AI replies stored (less the unknown ones)")
	for _, m := range sent {
		require.Equal(t, 1, sids[m.Sid], "Twilio message %s is one stored reply, sent once", m.Sid)
		sids[m.Sid]++ // a second Twilio message with this sid would fail the check above
	}
	return tot
}

// tcpProxy forwards a node's cluster port, until cut: then it refuses connections and drops
// the open ones, as a partition would look to the node's peers, until healed.
type tcpProxy struct {
	addr, target string

	mu    sync.Mutex
	ln    net.Listener
	conns map[net.Conn]bool
	cut   bool
}

func startProxy(t *testing.T, addr, target string) *tcpProxy {
	t.Helper()
	p := &tcpProxy{addr: addr, target: target, conns: map[net.Conn]bool{}}
	require.NoError(t, p.listen())
	t.Cleanup(func() { p.Cut() })
	return p
}

func (p *tcpProxy) listen() error {
	var ln net.Listener
	var err error
	for range 50 { // the port was ours a moment ago; a closing socket may hold it briefly
		if ln, err = net.Listen("tcp", p.addr); err == nil {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err != nil {
		return err
	}
	p.ln = ln
	go p.serve(ln)
	return nil
}

func (p *tcpProxy) serve(ln net.Listener) {
	for {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		go p.forward(c)
	}
}

func (p *tcpProxy) forward(c net.Conn) {
	up, err := net.DialTimeout("tcp", p.target, time.Second)
	if err != nil {
		c.Close()
		return
	}
	p.mu.Lock()
	if p.cut {
		p.mu.Unlock()
		c.Close()
		up.Close()
		return
	}
	p.conns[c], p.conns[up] = true, true
	p.mu.Unlock()
	done := make(chan struct{}, 2)
	pipe := func(dst, src net.Conn) {
		_, _ = io.Copy(dst, src)
		done <- struct{}{}
	}
	go pipe(up, c)
	go pipe(c, up)
	<-done
	c.Close()
	up.Close()
	p.mu.Lock()
	delete(p.conns, c)
	delete(p.conns, up)
	p.mu.Unlock()
}

// Cut refuses new connections (the listener closes) and drops the open ones.
func (p *tcpProxy) Cut() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.cut = true
	if p.ln != nil {
		p.ln.Close()
		p.ln = nil
	}
	for c := range p.conns {
		c.Close()
	}
}

// Heal listens again on the same address.
func (p *tcpProxy) Heal(t *testing.T) {
	t.Helper()
	p.mu.Lock()
	defer p.mu.Unlock()
	p.cut = false
	require.NoError(t, p.listen())
}
