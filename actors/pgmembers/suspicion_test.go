package pgmembers_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/jack-auto/jack/persistence/postgres/postgrestest"
)

// network decides which member may reach which cluster address, as a partition would.
type network struct {
	mu  sync.Mutex
	cut map[[2]string]bool // {from member id, to address} → unreachable
}

func (n *network) probeFrom(from *string) func(context.Context, string) error {
	return func(ctx context.Context, address string) error {
		n.mu.Lock()
		cut := n.cut[[2]string{*from, address}]
		n.mu.Unlock()
		if cut {
			return errors.New("unreachable (test partition)")
		}
		var d net.Dialer
		conn, err := d.DialContext(ctx, "tcp", address)
		if err != nil {
			return err
		}
		return conn.Close()
	}
}

func (n *network) set(from *member, to *member, cut bool) {
	host, port, _ := to.cluster.ActorSystem.GetHostPort()
	n.mu.Lock()
	defer n.mu.Unlock()
	n.cut[[2]string{from.id(), net.JoinHostPort(host, strconv.Itoa(port))}] = cut
}

// startOn starts count members of one cluster whose probes go through net.
func (n *network) startOn(t *testing.T, url string, count int) []*member {
	t.Helper()
	name := fmt.Sprintf("net%d", time.Now().UnixNano())
	ms := make([]*member, count)
	for i := range ms {
		id := new(string)
		ms[i] = startProbingMember(t, url, name, n.probeFrom(id))
		*id = ms[i].id()
	}
	for _, m := range ms {
		require.Eventually(t, func() bool { return len(m.sees()) == count }, 5*time.Second, 20*time.Millisecond)
	}
	return ms
}

func suspicions(t *testing.T, url, id string) map[string]string {
	t.Helper()
	var raw []byte
	require.NoError(t, connect(t, url).QueryRow(t.Context(), `SELECT suspicions FROM cluster_members WHERE member_id = $1`, id).Scan(&raw))
	out := map[string]string{}
	require.NoError(t, json.Unmarshal(raw, &out))
	return out
}

// TestProvider_PartitionedMemberDeclaredDead: a member its two peers cannot reach, though it
// reaches the database (and heartbeats on), gets both their votes and is declared dead — well
// before the heartbeat timeout could — fences itself, and leaves the others' topology. Its own
// failing view of them is not a majority.
func TestProvider_PartitionedMemberDeclaredDead(t *testing.T) {
	t.Parallel()
	url := postgrestest.URL(t)
	n := &network{cut: map[[2]string]bool{}}
	ms := n.startOn(t, url, 3)
	a, b, c := ms[0], ms[1], ms[2]

	cut := time.Now()
	for _, m := range []*member{a, b} {
		n.set(m, c, true) // nobody reaches c
		n.set(c, m, true) // and c reaches nobody
	}
	require.Eventually(t, func() bool { return len(c.fenceReasons()) == 1 }, 2*timeout, 10*time.Millisecond, "the cut-off member is declared dead and fences itself")
	fencedAfter := time.Since(cut)
	require.Contains(t, c.fenceReasons()[0], "declared dead")
	require.False(t, c.provider.Serving())
	status, _ := row(t, connect(t, url), c.id())
	require.Equal(t, "dead", status)
	for _, m := range []*member{a, b} {
		require.Eventually(t, func() bool { return slices.Equal(m.sees(), ids(a, b)) }, 2*time.Second, 20*time.Millisecond,
			"member %s drops the cut-off member", m.id())
		require.Empty(t, m.fenceReasons(), "one vote (c's) out of two peers is not a majority")
		require.True(t, m.provider.Serving())
	}
	logs := a.log.String() + b.log.String()
	require.Contains(t, logs, "voted it suspect")
	require.Contains(t, logs, "unreachable for a majority of the others")
	require.Contains(t, logs, "dead_member_id="+c.id())
	t.Logf("cut-off member declared dead and fenced after %s (heartbeat timeout %s, suspect after %s)",
		fencedAfter.Round(time.Millisecond), timeout, timeout/4)
}

// TestProvider_MinoritySuspicionWithdrawn: one peer's vote out of two is not enough, and the
// vote is taken back as soon as the peer is reachable again.
func TestProvider_MinoritySuspicionWithdrawn(t *testing.T) {
	t.Parallel()
	url := postgrestest.URL(t)
	n := &network{cut: map[[2]string]bool{}}
	ms := n.startOn(t, url, 3)
	a, c := ms[0], ms[2]

	n.set(a, c, true) // only a loses sight of c
	require.Eventually(t, func() bool { _, ok := suspicions(t, url, c.id())[a.id()]; return ok }, 2*timeout, 20*time.Millisecond, "a votes c suspect")
	time.Sleep(timeout)
	for _, m := range ms {
		require.Empty(t, m.fenceReasons())
		require.Len(t, m.sees(), 3)
	}
	n.set(a, c, false)
	require.Eventually(t, func() bool { return len(suspicions(t, url, c.id())) == 0 }, 2*timeout, 20*time.Millisecond, "the vote is taken back")
	require.Contains(t, a.log.String(), "vote taken back")
}

// TestProvider_SplitOfTwoKeepsOne: of two members that lose sight of each other, the one whose
// vote lands first declares the other dead (the other, condemned by it, may declare nobody);
// if the votes land together neither is declared. Never both.
func TestProvider_SplitOfTwoKeepsOne(t *testing.T) {
	t.Parallel()
	url := postgrestest.URL(t)
	n := &network{cut: map[[2]string]bool{}}
	ms := n.startOn(t, url, 2)
	a, b := ms[0], ms[1]
	n.set(a, b, true)
	n.set(b, a, true)
	time.Sleep(2 * timeout)
	fenced := 0
	for _, m := range ms {
		if len(m.fenceReasons()) > 0 {
			fenced++
			require.Contains(t, m.fenceReasons()[0], "declared dead")
		}
	}
	require.LessOrEqual(t, fenced, 1, "never both")
	t.Logf("%d of the two declared dead", fenced)
}
