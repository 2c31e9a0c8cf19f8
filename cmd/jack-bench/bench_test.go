package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/jack-auto/jack"
)

func TestStatsOf(t *testing.T) {
	t.Parallel()
	var s []time.Duration
	for i := 100; i >= 1; i-- {
		s = append(s, time.Duration(i)*time.Millisecond)
	}
	got := statsOf(s)
	require.Equal(t, stats{N: 100, P50: 50, P90: 90, P99: 99, Max: 100}, got)
	require.Equal(t, stats{}, statsOf(nil))
}

func TestSidSeq(t *testing.T) {
	t.Parallel()
	seq := newSidSeq()
	sid, n := seq.new()
	require.Len(t, sid, 34)
	require.True(t, strings.HasPrefix(sid, "SM"))
	got, ok := seqOfSid([]byte(sid))
	require.True(t, ok)
	require.Equal(t, n, got)
	_, ok = seqOfSid([]byte("SMnot-ours"))
	require.False(t, ok)
}

func TestPhoneGen(t *testing.T) {
	t.Parallel()
	var g phoneGen
	a, b := g.take(500), g.take(500)
	seen := map[string]bool{}
	for _, p := range append(a, b...) {
		require.False(t, seen[p], "%s handed out twice", p)
		seen[p] = true
		n, err := jack.NormalizePhone(p, "")
		require.NoError(t, err)
		require.Equal(t, p, n)
	}
}

func TestClosedLoopCount(t *testing.T) {
	t.Parallel()
	var calls atomic.Int64
	res := closedLoop(context.Background(), 4, 0, 100, func(context.Context, int, int) bool { return calls.Add(1)%10 != 0 })
	require.Equal(t, int64(100), calls.Load())
	require.Equal(t, 90, res.Requests)
	require.Equal(t, 10, res.Errors)
}

func TestOpenLoopRate(t *testing.T) {
	t.Parallel()
	var calls atomic.Int64
	res := openLoop(context.Background(), 200, 250*time.Millisecond, 8, func(context.Context, int, int) bool { calls.Add(1); return true })
	require.Equal(t, int64(50), calls.Load())
	require.Equal(t, 50, res.Requests)
	require.GreaterOrEqual(t, res.Elapsed, 240*time.Millisecond, "requests are spread over the duration")
}

func TestParseGoBench(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "bench.txt")
	require.NoError(t, os.WriteFile(path, []byte(`goos: linux
BenchmarkBuildContext-2   	  409689	      3899 ns/op	    3016 B/op	      17 allocs/op
BenchmarkVerifySignature-2   	  114242	     14382 ns/op	1116.58 MB/s	     761 B/op	      12 allocs/op
PASS
`), 0o644))
	got, err := parseGoBench(path)
	require.NoError(t, err)
	require.Equal(t, []goBench{
		{Name: "BenchmarkBuildContext-2", NsPerOp: 3899, BytesPerOp: 3016, AllocsPerOp: 17},
		{Name: "BenchmarkVerifySignature-2", NsPerOp: 14382, BytesPerOp: 761, AllocsPerOp: 12},
	}, got)
}

func TestFakeTwilio(t *testing.T) {
	t.Parallel()
	f, err := startFakeTwilio()
	require.NoError(t, err)
	t.Cleanup(f.close)
	a := &api{base: f.url, hc: newHTTPClient()}
	var out struct {
		Sid    string `json:"sid"`
		Status string `json:"status"`
		To     string `json:"to"`
	}
	require.Error(t, a.call(t.Context(), "GET", "/2010-04-01/Accounts/AC1/Messages/SM1.json", "", nil, nil))
	require.NoError(t, a.call(t.Context(), "POST", "/2010-04-01/Accounts/AC1/Messages.json", "", nil, &out))
	require.Equal(t, int64(1), f.sent.Load())
	require.True(t, strings.HasPrefix(out.Sid, "SM"))
	require.Equal(t, "queued", out.Status)
}

func TestSummarise(t *testing.T) {
	t.Parallel()
	report := `# Samples: 4K of event 'cpu-clock:ppp'
#
# Overhead  Symbol                                       IPC   [IPC Coverage]
# ........  ...........................................  ....................
#
     6.38%  [k] finish_task_switch.isra.0                 -      -
     5.00%  [.] runtime.(*timers).adjust                  -      -
     3.95%  [.] encoding/json.appendCompact               -      -
     1.00%  [.] github.com/jackc/pgx/v5/pgconn.(*PgConn).Exec  -      -
     0.50%  [.] github.com/jackc/pgx/v5/pgconn.(*PgConn).Close
`
	p := summarise([]byte(report))
	require.Equal(t, 4000, p.Samples)
	require.Equal(t, []hotSpot{{"kernel", 6.38}, {"runtime", 5}, {"encoding/json", 3.95}, {"github.com/jackc/pgx/v5/pgconn", 1.5}}, p.Packages)
	require.Equal(t, "runtime.(*timers).adjust", p.Symbols[1].Name)
	require.Equal(t, "github.com/jackc/pgx/v5/pgconn.(*PgConn).Close", p.Symbols[4].Name)
}

func TestJackPaths(t *testing.T) {
	t.Parallel()
	report := `# Children      Self  Symbol
    90.71%     0.00%  [.] github.com/jack-auto/jack/actors.(*grain).Receive     -      -
    81.17%     0.00%  [.] github.com/jack-auto/jack/persistence/sqlite.(*Tx).UpdateConversation
    85.60%     0.00%  [.] github.com/jack-auto/jack/actors.(*grain).receiveSMS.func1
    79.99%     0.00%  [.] github.com/jack-auto/jack/persistence/sqlite.writeLead
    66.15%     1.31%  [.] modernc.org/sqlite/lib._sqlite3BtreeNext
`
	require.Equal(t, []hotSpot{{"persistence/sqlite.(*Tx).UpdateConversation", 81.17}, {"persistence/sqlite.writeLead", 79.99}}, jackPaths([]byte(report)))
}
