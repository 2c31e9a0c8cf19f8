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

func TestOpenLoopSkipsWhenBehind(t *testing.T) {
	t.Parallel()
	// One slot and requests of 60ms at 100/s for 100ms: 10 are due, and sending stops 200ms in.
	res := openLoop(context.Background(), 100, 100*time.Millisecond, 1, func(context.Context, int, int) bool {
		time.Sleep(60 * time.Millisecond)
		return true
	})
	require.Positive(t, res.Skipped)
	require.Equal(t, 10, res.Requests+res.Skipped)
	require.Equal(t, res.Skipped, res.Errors, "skipped requests count as errors")
	require.Less(t, res.Elapsed, 400*time.Millisecond)
}

func TestCPUUse(t *testing.T) {
	t.Parallel()
	t0 := time.Now()
	a := cpuSample{at: t0, jack: 100, bench: 10, busy: 1000, storeIsPG: true,
		pgProcs:    map[int]int64{1: 50, 2: 500, 3: 20},
		redisProcs: map[int]int64{9: 5},
		pgDB:       map[int]bool{2: false, 3: true}, // 1 is the walwriter
	}
	b := cpuSample{at: t0.Add(10 * time.Second), jack: 600, bench: 110, busy: 2000, storeIsPG: true,
		pgProcs:    map[int]int64{1: 150, 2: 900, 3: 220, 4: 100}, // 4 started during the run
		redisProcs: map[int]int64{9: 25},
		pgDB:       map[int]bool{3: true, 4: false}, // 2 disconnected just now; 4 is another database's
	}
	u := b.sub(a)
	require.Equal(t, cpuUse{wall: 10 * time.Second, jack: 500, pg: 300, pgShared: 100, redis: 20, bench: 100, all: 1000}, u)
	require.Equal(t, cpuShare{Jack: 0.5, Postgres: 0.3, Redis: 0.02, Bench: 0.1, Other: 0.08}, u.share())
	// 500 ticks of jack over 1,000 requests: 5 s / 1,000 = 5 ms each.
	require.Equal(t, &cpuCost{Jack: 5, Postgres: 3, Redis: 0.2, Total: 8.2, PostgresShared: 1}, u.perRequest(1000))
	require.Nil(t, u.perRequest(0))

	// In the embedded mode every postgres and redis-server process is someone else's.
	a.storeIsPG, b.storeIsPG = false, false
	require.Equal(t, cpuShare{Jack: 0.5, Bench: 0.1, Other: 0.4}, b.since(a))
}

func TestParseFlagsCompare(t *testing.T) {
	t.Parallel()
	o, err := parseFlags([]string{"-compare"})
	require.NoError(t, err)
	require.Equal(t, []string{modePostgres}, o.modes)
	require.Equal(t, []string{"mixed", "sse"}, o.scenarios)
	require.Equal(t, []int{5000}, o.sseLevels)
	require.Equal(t, 10*time.Second, o.step)
	require.Equal(t, 10*time.Second, o.sseStep)

	o, err = parseFlags([]string{"-compare", "-step", "3s", "-scenarios", "mixed"})
	require.NoError(t, err)
	require.Equal(t, []string{"mixed"}, o.scenarios)
	require.Equal(t, 3*time.Second, o.step)

	o, err = parseFlags(nil)
	require.NoError(t, err)
	require.Equal(t, []string{"sms", "call", "mixed", "sse", "memory"}, o.scenarios)
	require.Equal(t, 5*time.Second, o.step)
}

func TestJudge(t *testing.T) {
	t.Parallel()
	row := func(scenario, load string, rate, p99, cost float64, extra map[string]any) result {
		return result{Scenario: scenario, Mode: modePostgres, Load: load, Requests: 1000, Throughput: rate,
			Latency: stats{N: 1000, P99: p99}, CPUPerRequest: &cpuCost{Total: cost}, Extra: extra}
	}
	r := &report{Results: []result{
		row("mixed-2org", "c=32", 2600, 30, 0.4, map[string]any{"missing": 0}),
		row("mixed-1org", "c=32", 2100, 30, 0.6, map[string]any{"missing": 3}), // fast enough, not durable
		row("call-32", "c=32", 9000, 4, 0.2, nil),
		row("call-under-sms", "1000/s", 1000, 2.5, 0.3, map[string]any{"callRate": 1000.0, "smsRate": 1000.0, "sms": stats{P99: 9}}),
		row("sse", "K=1000", 500, 20, 0, map[string]any{"connected": 1000, "rate": 500.0}),
		row("sse", "K=5000", 500, 90, 0, map[string]any{"connected": 5000, "rate": 500.0}),
		row("sse", "K=18800", 500, 400, 0, map[string]any{"connected": 18800, "rate": 500.0}),
	}}
	r.judge()
	met := map[string]string{}
	for _, tg := range r.Targets {
		met[tg.Name] = tg.Met
	}
	require.Equal(t, map[string]string{
		"CPU per inbound SMS (jack+Postgres+Redis)":           "missed", // mixed-1org's 0.6 ms
		"CPU per call start (jack+Postgres+Redis)":            "met",
		"inbound SMS, 2 dealerships, 20 dashboards streaming": "met",
		"inbound SMS, one dealership alone":                   "missed",
		"call start p99, 32 in flight":                        "met",
		"call start p99 at 1000/s while 1000 SMS/s arrive":    "missed",
		"SSE delivery p99 at 500 events/s":                    "met", // the 5,000-client step
		"memory per active conversation":                      "not measured",
		"100,000 conversations":                               "not measured",
	}, met)
}

func TestDashboardsCollect(t *testing.T) {
	t.Parallel()
	acks := newAckLog()
	acks.at[1] = sseAck{at: 1_000_000, org: 0}
	acks.at[2] = sseAck{at: 2_000_000, org: 0}
	acks.at[3] = sseAck{at: 3_000_000, org: 1}
	client := func(org int, recv ...delivery) *sseClient { return &sseClient{org: org, recv: recv} }
	gone := client(1)
	gone.ended.Store(true)
	d := &dashboards{clients: []*sseClient{
		client(0, delivery{seq: 1, at: 3_000_000}, delivery{seq: 2, at: 2_500_000}, delivery{seq: 2, at: 2_600_000}),
		client(0, delivery{seq: 1, at: 500_000}, delivery{seq: 3, at: 4_000_000}, delivery{seq: 99, at: 1}), // early, leaked, unknown
		client(1), // missed text 3
		gone,      // ended: expects nothing
	}}
	require.Equal(t, 5, d.expected(acks))
	rep := d.collect(acks)
	require.Equal(t, 3, rep.Live)
	require.Equal(t, 5, rep.Expected)
	require.Equal(t, 3, rep.Received)
	require.Equal(t, 2, rep.Missing)
	require.Equal(t, 1, rep.Duplicates)
	require.Equal(t, 1, rep.Early)
	require.Equal(t, 1, rep.Leaked)
	require.Equal(t, 3, rep.Latency.N)
	require.Equal(t, 2.0, rep.Latency.Max)
}
