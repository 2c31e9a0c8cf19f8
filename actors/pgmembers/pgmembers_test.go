package pgmembers_test

import (
	"bytes"
	"context"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/asynkron/protoactor-go/cluster"
	"github.com/asynkron/protoactor-go/cluster/identitylookup/disthash"
	"github.com/asynkron/protoactor-go/remote"
	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/jack-auto/jack/actors/pgmembers"
	"github.com/jack-auto/jack/persistence/postgres/postgrestest"
)

// Short timings so a member is declared dead within seconds.
const (
	heartbeat = 100 * time.Millisecond
	timeout   = 2 * time.Second
)

// member is one in-process cluster member on the provider under test (loopback only).
type member struct {
	cluster  *cluster.Cluster
	provider *pgmembers.Provider
	log      *syncBuffer

	mu     sync.Mutex
	fenced []string // reasons OnFenced was called with
}

func (m *member) id() string { return m.cluster.ActorSystem.ID }

func (m *member) fenceReasons() []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	return slices.Clone(m.fenced)
}

// sees returns the member ids of m's current topology.
func (m *member) sees() []string {
	var ids []string
	for _, mm := range m.cluster.MemberList.Members().Members() {
		ids = append(ids, mm.Id)
	}
	slices.Sort(ids)
	return ids
}

type echo struct{}

func (echo) Receive(actor.Context) {}

// startMember starts a member of the cluster named "test" on url's schema.
func startMember(t *testing.T, url string) *member {
	t.Helper()
	return startNamedMember(t, url, "test")
}

// startNamedMember starts a member of the cluster named name on url's schema.
func startNamedMember(t *testing.T, url, name string) *member {
	t.Helper()
	return startProbingMember(t, url, name, nil)
}

// startProbingMember starts a member of the cluster named name whose probes of its peers go
// through probe (nil: the provider's TCP connect).
func startProbingMember(t *testing.T, url, name string, probe func(context.Context, string) error) *member {
	t.Helper()
	m := &member{log: &syncBuffer{}}
	m.provider = pgmembers.New(pgmembers.Config{
		URL: url, Role: "jack_app", Heartbeat: heartbeat, Timeout: timeout, Probe: probe,
		Logger: slog.New(slog.NewTextHandler(m.log, &slog.HandlerOptions{Level: slog.LevelInfo})),
		OnFenced: func(reason string) {
			m.mu.Lock()
			m.fenced = append(m.fenced, reason)
			m.mu.Unlock()
		},
	})
	system := actor.NewActorSystem(actor.WithLoggerFactory(func(*actor.ActorSystem) *slog.Logger {
		return slog.New(slog.DiscardHandler)
	}))
	m.cluster = cluster.New(system, cluster.Configure(name, m.provider, disthash.New(),
		remote.Configure("127.0.0.1", 0),
		cluster.WithKinds(cluster.NewKind("echo", actor.PropsFromProducer(func() actor.Actor { return echo{} })))))
	m.cluster.StartMember() // panics when the provider fails to join
	t.Cleanup(func() {
		m.cluster.Shutdown(false)
		require.NoError(t, m.provider.Shutdown(false))
		if t.Failed() {
			t.Logf("--- member %s log ---\n%s", m.id(), m.log.String())
		}
	})
	return m
}

// row reads a member's row as the test user.
func row(t *testing.T, conn *pgx.Conn, id string) (status string, heartbeat time.Time) {
	t.Helper()
	require.NoError(t, conn.QueryRow(t.Context(), `SELECT status, heartbeat_at FROM cluster_members WHERE member_id = $1`, id).
		Scan(&status, &heartbeat))
	return status, heartbeat
}

func connect(t *testing.T, url string) *pgx.Conn {
	t.Helper()
	conn, err := pgx.Connect(t.Context(), url)
	require.NoError(t, err)
	t.Cleanup(func() { conn.Close(context.Background()) })
	return conn
}

func ids(ms ...*member) []string {
	var out []string
	for _, m := range ms {
		out = append(out, m.id())
	}
	slices.Sort(out)
	return out
}

// TestProvider_JoinAndHeartbeat: three members join through the table, each sees all three,
// and each keeps its row alive with a heartbeat by the database clock.
func TestProvider_JoinAndHeartbeat(t *testing.T) {
	t.Parallel()
	url := postgrestest.URL(t)
	a, b, c := startMember(t, url), startMember(t, url), startMember(t, url)
	all := ids(a, b, c)
	for _, m := range []*member{a, b, c} {
		require.Eventually(t, func() bool { return slices.Equal(m.sees(), all) }, 5*time.Second, 20*time.Millisecond,
			"member %s sees every member", m.id())
		require.Equal(t, m.id(), m.provider.MemberID())
		require.Equal(t, 3, m.provider.Members())
		require.True(t, m.provider.Serving())
	}
	conn := connect(t, url)
	status, first := row(t, conn, a.id())
	require.Equal(t, "alive", status)
	time.Sleep(3 * heartbeat)
	status, second := row(t, conn, a.id())
	require.Equal(t, "alive", status)
	require.True(t, second.After(first), "the heartbeat advances: %s then %s", first, second)
	var host string
	var port int
	var kinds []string
	require.NoError(t, conn.QueryRow(t.Context(), `SELECT host, port, kinds FROM cluster_members WHERE member_id = $1`, a.id()).Scan(&host, &port, &kinds))
	_, wantPort, err := a.cluster.ActorSystem.GetHostPort()
	require.NoError(t, err)
	require.Equal(t, "127.0.0.1", host)
	require.Equal(t, wantPort, port)
	require.Contains(t, kinds, "echo") // and the library's own kinds (pub/sub)
	for _, m := range []*member{a, b, c} {
		require.Empty(t, m.fenceReasons())
	}
}

// TestProvider_StoppedHeartbeatsDeclaredDead: a member that can no longer reach the database
// (as a paused or partitioned node looks to the others) fences itself once its lease (half the
// timeout) is gone, and the others declare it dead once its heartbeat is older than the
// timeout — not before — and drop it from their topology.
func TestProvider_StoppedHeartbeatsDeclaredDead(t *testing.T) {
	t.Parallel()
	url := postgrestest.URL(t)
	a, b, c := startMember(t, url), startMember(t, url), startMember(t, url)
	for _, m := range []*member{a, b, c} {
		require.Eventually(t, func() bool { return len(m.sees()) == 3 }, 5*time.Second, 20*time.Millisecond)
	}
	conn := connect(t, url)

	cut := time.Now()
	c.provider.SetUnreachable(true)
	require.Eventually(t, func() bool { return len(c.fenceReasons()) == 1 }, timeout, 10*time.Millisecond, "the cut-off member fences itself")
	fencedAfter := time.Since(cut)
	require.Contains(t, c.fenceReasons()[0], "lease lost")
	require.False(t, c.provider.Serving())
	require.Less(t, fencedAfter, timeout, "the lease (timeout/2) ends before the others may declare the member dead")

	var deadAfter time.Duration
	require.Eventually(t, func() bool {
		status, _ := row(t, conn, c.id())
		deadAfter = time.Since(cut)
		return status == "dead"
	}, 2*timeout, 20*time.Millisecond, "the others declare the silent member dead")
	require.GreaterOrEqual(t, deadAfter, timeout-2*heartbeat, "declared dead only once its heartbeat is older than the timeout")
	for _, m := range []*member{a, b} {
		require.Eventually(t, func() bool { return slices.Equal(m.sees(), ids(a, b)) }, 2*time.Second, 20*time.Millisecond,
			"member %s drops the dead member", m.id())
		require.Empty(t, m.fenceReasons())
		require.True(t, m.provider.Serving())
	}
	logs := a.log.String() + b.log.String()
	require.Contains(t, logs, "declared a member dead")
	require.Contains(t, logs, "dead_member_id="+c.id())
	require.Contains(t, c.log.String(), "this member is stale and stops serving")
	t.Logf("cut-off member fenced itself after %s, declared dead after %s (timeout %s, heartbeat %s)",
		fencedAfter.Round(time.Millisecond), deadAfter.Round(time.Millisecond), timeout, heartbeat)

	// A fenced member stays fenced: reaching the database again does not revive it.
	c.provider.SetUnreachable(false)
	time.Sleep(5 * heartbeat)
	require.Len(t, c.fenceReasons(), 1)
	require.False(t, c.provider.Serving())
	status, _ := row(t, conn, c.id())
	require.Equal(t, "dead", status)
}

// TestProvider_DeclaredDeadFencesItself: a member whose row another member declared dead (it
// was paused past the timeout and resumed) finds out at its next heartbeat, fences itself and
// leaves the topology of the others.
func TestProvider_DeclaredDeadFencesItself(t *testing.T) {
	t.Parallel()
	url := postgrestest.URL(t)
	a, b := startMember(t, url), startMember(t, url)
	for _, m := range []*member{a, b} {
		require.Eventually(t, func() bool { return len(m.sees()) == 2 }, 5*time.Second, 20*time.Millisecond)
	}
	conn := connect(t, url)
	_, err := conn.Exec(t.Context(), `UPDATE cluster_members SET status = 'dead' WHERE member_id = $1`, b.id())
	require.NoError(t, err)
	require.Eventually(t, func() bool { return len(b.fenceReasons()) == 1 }, 5*heartbeat, 10*time.Millisecond)
	require.Contains(t, b.fenceReasons()[0], "declared dead")
	require.False(t, b.provider.Serving())
	require.True(t, a.provider.Serving())
	require.Eventually(t, func() bool { return slices.Equal(a.sees(), ids(a)) }, 5*heartbeat, 10*time.Millisecond)
	require.Equal(t, 1, a.provider.Members())
}

// TestProvider_ShutdownLeaves: a member that shuts down marks its row dead, so the others drop
// it at their next heartbeat instead of after the timeout.
func TestProvider_ShutdownLeaves(t *testing.T) {
	t.Parallel()
	url := postgrestest.URL(t)
	a, b := startMember(t, url), startMember(t, url)
	require.Eventually(t, func() bool { return len(a.sees()) == 2 }, 5*time.Second, 20*time.Millisecond)
	left := time.Now()
	require.NoError(t, b.provider.Shutdown(true))
	require.NoError(t, b.provider.Shutdown(true), "a second Shutdown is harmless")
	require.Eventually(t, func() bool { return slices.Equal(a.sees(), ids(a)) }, timeout/2, 10*time.Millisecond)
	t.Logf("a member that left was dropped after %s", time.Since(left).Round(time.Millisecond))
	status, _ := row(t, connect(t, url), b.id())
	require.Equal(t, "dead", status)
	require.Empty(t, b.fenceReasons())
}

// TestProvider_ClustersApart: clusters with different names sharing one table never see each
// other, and one's stale member is not the other's business.
func TestProvider_ClustersApart(t *testing.T) {
	t.Parallel()
	url := postgrestest.URL(t)
	a, b := startNamedMember(t, url, "blue"), startNamedMember(t, url, "green")
	time.Sleep(5 * heartbeat)
	require.Equal(t, ids(a), a.sees())
	require.Equal(t, ids(b), b.sees())
	require.Equal(t, 1, a.provider.Members())
}

// syncBuffer is a log sink safe for concurrent writers.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.buf.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return strings.Clone(s.buf.String())
}
