package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	goredis "github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"

	"github.com/jack-auto/jack"
	"github.com/jack-auto/jack/persistence/postgres/postgrestest"
	"github.com/jack-auto/jack/providers/fake"
	"github.com/jack-auto/jack/providers/twilio"
)

// nodesBundle is two nodes on one Postgres database and one Redis, wired to one fake Twilio,
// with a dealership registered on node A and its number imported.
type nodesBundle struct {
	a, b     *Main
	twilio   *fake.Twilio
	owner    *client
	org      jack.Organization
	orgPhone string
	// redisName is the client name of node B's Redis connections.
	redisName string
}

// newNodesBundle starts the two nodes. Each runs its own one-member cluster, so an inbound text
// to A is handled by A's grain; what B's dashboards see of it came through Redis.
func newNodesBundle(t *testing.T) *nodesBundle {
	t.Helper()
	redisURL := os.Getenv("TEST_REDIS_URL")
	if redisURL == "" {
		t.Skip("TEST_REDIS_URL is not set (e.g. redis://127.0.0.1:6379/0): skipping the two-node stream tests, which need a real Redis")
	}
	tw := fake.NewTwilio(t, "AC0123456789abcdef0123456789abcdef", "fakeauthtoken0123456789")
	env := map[string]string{
		"DATABASE_URL":       postgrestest.URL(t),
		"JWT_SECRET":         strings.Repeat("n", 40),
		"REDIS_URL":          redisURL,
		"TWILIO_ACCOUNT_SID": tw.AccountSID(),
		"TWILIO_AUTH_TOKEN":  tw.AuthToken(),
		"TWILIO_API_URL":     tw.URL(),
	}
	a := MustRunMain(t, env)
	name := "jack-stream-test-" + uuid.NewString()
	envB := mergeEnv(env, map[string]string{"REDIS_URL": withClientName(redisURL, name)})
	b := MustRunMain(t, envB)

	owner, auth := register(t, a.URL(), "owner@nodes.test")
	nb := &nodesBundle{a: a, b: b, twilio: tw, owner: owner, org: auth.Organization, orgPhone: "+16045550100", redisName: name}
	owner.must("POST", "/api/organizations/"+auth.Organization.ID.String()+"/phone-numbers",
		map[string]string{"phoneNumber": nb.orgPhone, "twilioPhoneSid": "PN0123"}, http.StatusCreated, nil)
	return nb
}

// text posts a signed inbound text to node A, as Twilio would.
func (nb *nodesBundle) text(ctx context.Context, from, body string) error {
	resp, err := twilio.PostInboundSMS(ctx, nb.a.URL()+"/api/webhooks/twilio/sms/incoming", nb.twilio.AuthToken(),
		nb.twilio.InboundSMSParams(from, nb.orgPhone, body))
	if err != nil {
		return err
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("inbound text from %s answered %d", from, resp.StatusCode)
	}
	return nil
}

// storedEvents returns every event the Store keeps for the organization, oldest first.
func (nb *nodesBundle) storedEvents(t *testing.T) []jack.Event {
	t.Helper()
	return findAllEvents(t, nb.a.Store, nb.org.ID)
}

// findAllEvents returns every event store keeps for orgID, oldest first.
func findAllEvents(t *testing.T, store jack.EventStore, orgID uuid.UUID) []jack.Event {
	t.Helper()
	var all []jack.Event
	after := uuid.Nil
	for {
		page, err := store.FindEvents(t.Context(), orgID, jack.EventFilter{After: after, Limit: 1000})
		require.NoError(t, err)
		for _, e := range page {
			all = append(all, *e)
			after = e.ID
		}
		if len(page) < 1000 {
			return all
		}
	}
}

// TestStream_AcrossNodes: a text handled on node A reaches a dashboard streaming from node B.
func TestStream_AcrossNodes(t *testing.T) {
	t.Parallel()
	nb := newNodesBundle(t)
	dash := startEventSource(t, nb.b.URL(), nb.owner.token, "")
	dash.waitForConnects(t, 1)

	require.NoError(t, nb.text(t.Context(), "+16045550111", "Is the blue F-150 still on the lot?"))
	e := dash.waitForEvent(t, func(e jack.Event) bool { return e.Type == jack.EventSMSReceived })
	require.Equal(t, nb.org.ID, e.OrganizationID)
	require.Equal(t, "+16045550111", e.PhoneNumber)
	require.Equal(t, "Is the blue F-150 still on the lot?", e.Message)
	require.NotEmpty(t, e.LeadID)
}

// TestStream_RedisReconnect: node B's Redis pub/sub connection is killed twice while customers
// keep texting node A (B's feed subscribes again and catches up from the Store), and each time
// the dashboard's connection drops too and it reconnects with Last-Event-ID. In the end it has
// seen every stored event of the organization exactly once. The kill is CLIENT KILL of B's
// pub/sub connections only, found by client name, so other tests sharing the Redis are untouched.
func TestStream_RedisReconnect(t *testing.T) {
	t.Parallel()
	nb := newNodesBundle(t)
	admin := mustRedisAdmin(t)
	// Replay from the beginning on the first connect too, so the dashboard's view can be
	// compared with everything stored.
	dash := startEventSource(t, nb.b.URL(), nb.owner.token, uuid.Nil.String())
	dash.waitForConnects(t, 1)

	const customers, textsEach = 5, 20
	var sent atomic.Int64
	errs := make(chan error, customers)
	for c := range customers {
		go func() {
			from := fmt.Sprintf("+1604555%04d", 200+c)
			for i := range textsEach {
				if err := nb.text(t.Context(), from, fmt.Sprintf("text %d from customer %d", i, c)); err != nil {
					errs <- err
					return
				}
				sent.Add(1)
			}
			errs <- nil
		}()
	}
	for _, at := range []int64{30, 70} {
		waitFor(t, fmt.Sprintf("%d texts sent", at), func() bool { return sent.Load() >= at })
		connects := dash.connects()
		killPubSub(t, admin, nb.redisName)
		dash.drop()
		dash.waitForConnects(t, connects+1) // the dashboard came back with its Last-Event-ID
	}
	for range customers {
		require.NoError(t, <-errs)
	}

	// Quiescence: the AI's debounced replies come after the texts; wait until the Store stops
	// changing, then until the dashboard has caught up.
	stored := waitForQuiescence(t, nb)
	require.GreaterOrEqual(t, len(stored), customers*textsEach, "every text is at least one event")
	got := dash.requireExactly(t, stored)
	require.GreaterOrEqual(t, dash.connects(), 3, "the dashboard reconnected after each kill")
	t.Logf("%d events, %d connections", len(got), dash.connects())
}

// requireExactly waits until the stream has caught up with stored (the organization's events
// in the Store, oldest first) and checks it received each of them once and nothing else. It
// returns what the stream received.
func (es *eventSource) requireExactly(t *testing.T, stored []jack.Event) []jack.Event {
	t.Helper()
	want := make([]uuid.UUID, len(stored))
	for i, e := range stored {
		want[i] = e.ID
	}
	deadline := time.Now().Add(20 * time.Second)
	for len(es.events()) < len(want) && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	got := es.events()
	gotIDs := make([]uuid.UUID, len(got))
	seen := map[uuid.UUID]int{}
	for i, e := range got {
		gotIDs[i] = e.ID
		seen[e.ID]++
	}
	var duplicated, missed []uuid.UUID
	for id, n := range seen {
		if n > 1 {
			duplicated = append(duplicated, id)
		}
	}
	for _, id := range want {
		if seen[id] == 0 {
			missed = append(missed, id)
		}
	}
	require.Empty(t, duplicated, "events delivered twice")
	require.Empty(t, missed, "stored events the dashboard never saw")
	require.Equal(t, want, gotIDs, "the dashboard saw exactly the stored events, in the Store's order")
	return got
}

// waitForQuiescence returns the organization's stored events once their number and the texts
// sent through the fake Twilio have not changed for a second.
func waitForQuiescence(t *testing.T, nb *nodesBundle) []jack.Event {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	var last []jack.Event
	lastSent, stableSince := -1, time.Now()
	for {
		events, sent := nb.storedEvents(t), len(nb.twilio.Messages())
		if len(events) != len(last) || sent != lastSent {
			last, lastSent, stableSince = events, sent, time.Now()
		} else if time.Since(stableSince) >= time.Second {
			return events
		}
		require.True(t, time.Now().Before(deadline), "the store never settled")
		time.Sleep(100 * time.Millisecond)
	}
}

// eventSource reads GET /api/stream as a browser's EventSource does: when the stream ends or
// a connect fails, it waits and reconnects with Last-Event-ID set to the last id it saw. It
// keeps every event it receives, duplicates included. Given several nodes, a connect that
// fails moves on to the next one, as a load balancer would.
type eventSource struct {
	bases []string
	token string
	retry time.Duration // the server asks for 2s; tests do not wait that long

	mu         sync.Mutex
	lastID     string
	received   []jack.Event
	opened     int                // streams opened (counted at their first frame: the server has subscribed)
	cancelConn context.CancelFunc // ends the current connection
	changed    chan struct{}
	done       chan struct{}
}

// startEventSource connects to base's stream with token, resuming after lastID when set, and
// stops in t.Cleanup.
func startEventSource(t *testing.T, base, token, lastID string) *eventSource {
	t.Helper()
	return startFailoverEventSource(t, []string{base}, token, lastID)
}

// startFailoverEventSource is startEventSource over several nodes: it streams from the first
// and moves to the next whenever a connect fails.
func startFailoverEventSource(t *testing.T, bases []string, token, lastID string) *eventSource {
	t.Helper()
	es := &eventSource{bases: bases, token: token, retry: 50 * time.Millisecond, lastID: lastID,
		changed: make(chan struct{}), done: make(chan struct{})}
	ctx, cancel := context.WithCancel(context.Background())
	go es.run(ctx)
	t.Cleanup(func() {
		cancel()
		<-es.done
	})
	return es
}

func (es *eventSource) run(ctx context.Context) {
	defer close(es.done)
	hc := &http.Client{Transport: &http.Transport{}}
	defer hc.CloseIdleConnections()
	for at := 0; ; {
		if !es.connect(ctx, hc, es.bases[at]) {
			at = (at + 1) % len(es.bases)
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(es.retry):
		}
	}
}

// drop ends the current connection, as a network blip would; the client reconnects.
func (es *eventSource) drop() {
	es.mu.Lock()
	defer es.mu.Unlock()
	if es.cancelConn != nil {
		es.cancelConn()
	}
}

// connect reads one stream of base until it ends; false when it could not open one.
func (es *eventSource) connect(ctx context.Context, hc *http.Client, base string) bool {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	es.mu.Lock()
	es.cancelConn = cancel
	es.mu.Unlock()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+"/api/stream", nil)
	if err != nil {
		return false
	}
	req.Header.Set("Authorization", "Bearer "+es.token)
	req.Header.Set("Accept", "text/event-stream")
	es.mu.Lock()
	if es.lastID != "" {
		req.Header.Set("Last-Event-ID", es.lastID)
	}
	es.mu.Unlock()
	resp, err := hc.Do(req)
	if err != nil {
		return false
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return false // 503 while the node's Redis subscription comes back: try again
	}
	r := bufio.NewReader(resp.Body)
	var id, data string
	first := true
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			return true
		}
		line = strings.TrimSuffix(line, "\n")
		if line != "" {
			field, value, _ := strings.Cut(line, ":")
			value = strings.TrimPrefix(value, " ")
			switch field {
			case "id":
				id = value
			case "data":
				data = value
			}
			continue
		}
		es.mu.Lock()
		if first {
			es.opened++
			first = false
		}
		if id != "" && data != "" {
			var e jack.Event
			if json.Unmarshal([]byte(data), &e) == nil {
				es.received = append(es.received, e)
			}
			es.lastID = id
		}
		close(es.changed)
		es.changed = make(chan struct{})
		es.mu.Unlock()
		id, data = "", ""
	}
}

func (es *eventSource) events() []jack.Event {
	es.mu.Lock()
	defer es.mu.Unlock()
	return slices.Clone(es.received)
}

func (es *eventSource) connects() int {
	es.mu.Lock()
	defer es.mu.Unlock()
	return es.opened
}

// waitForConnects waits until n streams have been opened.
func (es *eventSource) waitForConnects(t *testing.T, n int) {
	t.Helper()
	waitFor(t, fmt.Sprintf("%d stream connections", n), func() bool { return es.connects() >= n })
}

// waitForEvent waits for a received event that match accepts and returns it.
func (es *eventSource) waitForEvent(t *testing.T, match func(jack.Event) bool) jack.Event {
	t.Helper()
	timeout := time.After(10 * time.Second)
	for {
		es.mu.Lock()
		changed := es.changed
		for _, e := range es.received {
			if match(e) {
				es.mu.Unlock()
				return e
			}
		}
		es.mu.Unlock()
		select {
		case <-changed:
		case <-timeout:
			t.Fatal("timed out waiting for an event on the stream")
		}
	}
}

// mustRedisAdmin returns a plain client of the test Redis, to disturb the nodes' connections.
func mustRedisAdmin(tb testing.TB) *goredis.Client {
	tb.Helper()
	opt, err := goredis.ParseURL(os.Getenv("TEST_REDIS_URL"))
	require.NoError(tb, err)
	c := goredis.NewClient(opt)
	tb.Cleanup(func() { _ = c.Close() })
	return c
}

// killPubSub kills the pub/sub connections of the clients named name (CLIENT KILL ID), as a
// Redis restart would, seen from that node.
func killPubSub(tb testing.TB, admin *goredis.Client, name string) {
	tb.Helper()
	list, err := admin.Do(tb.Context(), "CLIENT", "LIST", "TYPE", "pubsub").Text()
	require.NoError(tb, err)
	var killed int
	for line := range strings.Lines(list) {
		fields := map[string]string{}
		for f := range strings.FieldsSeq(line) {
			k, v, _ := strings.Cut(f, "=")
			fields[k] = v
		}
		if fields["name"] != name {
			continue
		}
		require.NoError(tb, admin.Do(tb.Context(), "CLIENT", "KILL", "ID", fields["id"]).Err())
		killed++
	}
	require.Positive(tb, killed, "pub/sub connections named %s", name)
}

func withClientName(redisURL, name string) string {
	u, err := url.Parse(redisURL)
	if err != nil {
		return redisURL
	}
	q := u.Query()
	q.Set("client_name", name)
	u.RawQuery = q.Encode()
	return u.String()
}

// mergeEnv returns the union of ms, later ones winning.
func mergeEnv(ms ...map[string]string) map[string]string {
	out := map[string]string{}
	for _, m := range ms {
		for k, v := range m {
			out[k] = v
		}
	}
	return out
}
