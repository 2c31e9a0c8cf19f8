package main

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/jack-auto/jack/providers/twilio"
)

// modeRun is one storage mode's run: its node, its database access and its main dealership.
type modeRun struct {
	b      *bench
	mode   string
	env    map[string]string
	access storeAccess
	node   *node
	api    *api
	dealer *dealership
	// hot are the customers who texted during the SMS scenario: their grains are active.
	hot []string
	// smsBest is the SMS sweep's best throughput without errors (0 before it ran).
	smsBest float64
}

// start runs a node of this mode (logging to the work dir) and points the API client at it.
func (m *modeRun) start(ctx context.Context, what string) error {
	n, err := startNode(ctx, m.b.jackBin, m.env, fmt.Sprintf("%s/jack-%s-%s.log", m.b.workDir, m.mode, what))
	if err != nil {
		return err
	}
	m.node = n
	m.api = &api{base: n.url, hc: m.b.hc}
	return nil
}

// profiled are the rows perf records with -profile: those the targets are judged on.
var profiled = map[string]bool{"sms@c=64": true, "sms-open": true, "call-hot": true, "call-cold": true, "activation": true, "sse": true}

func (m *modeRun) startProfile(scenario, load string) *perfRecorder {
	if !m.b.opt.profile || !(profiled[scenario] || profiled[scenario+"@"+load]) {
		return nil
	}
	return startPerf(m.node.pid(), filepath.Join(m.b.workDir, fmt.Sprintf("perf-%s-%s.data", m.mode, scenario)))
}

func (m *modeRun) stopProfile(rec *perfRecorder, scenario, load string) *profile {
	name := strings.NewReplacer("=", "", "/", "per").Replace(fmt.Sprintf("%s-%s-%s.txt", m.mode, scenario, load))
	return rec.stop(context.Background(), filepath.Join(m.b.opt.out, "profiles", name))
}

func (m *modeRun) stop() {
	if m.node != nil {
		m.node.stop()
		m.b.hc.CloseIdleConnections()
	}
}

// measure runs fn between two CPU samples (and, for the rows that explain the targets, under
// perf) and records its result.
func (m *modeRun) measure(scenario, load string, fn func() (loadResult, string, map[string]any)) result {
	rec := m.startProfile(scenario, load)
	before := sampleCPU(m.node.pid())
	res, note, extra := fn()
	r := result{
		Scenario: scenario, Mode: m.mode, Load: load, Requests: res.Requests, Errors: res.Errors,
		Throughput: res.throughput(), Latency: res.Latency, CPU: sampleCPU(m.node.pid()).since(before), Note: note, Extra: extra,
	}
	r.Profile = m.stopProfile(rec, scenario, load)
	if !m.node.alive() {
		r.Note += fmt.Sprintf(" (jack exited: %v; log %s)", m.node.waitErr, m.node.logPath)
	}
	m.b.add(r)
	return r
}

// --- 1. inbound SMS ----------------------------------------------------------------------------

// smsTraffic makes signed inbound-SMS webhooks from a pool of customers, and remembers which
// MessageSids jack acknowledged, so the Store can be checked against them.
type smsTraffic struct {
	m         *modeRun
	customers []string

	mu       sync.Mutex
	accepted map[string]struct{}
	recent   []signedSMS // acknowledged webhooks, resent as Twilio retries
	dupAcks  int
}

func (t *smsTraffic) request(dupShare float64) requestFunc {
	srv, to := t.m.node.url, t.m.dealer.Phone
	return func(ctx context.Context, _, i int) bool {
		var msg signedSMS
		dup := false
		if dupShare > 0 && rand.Float64() < dupShare {
			t.mu.Lock()
			if len(t.recent) > 0 {
				msg, dup = t.recent[rand.IntN(len(t.recent))], true
			}
			t.mu.Unlock()
		}
		if !dup {
			sid, _ := t.m.b.sids.new()
			msg = newSignedSMS(srv, t.customers[i%len(t.customers)], to, "Hi, is the 2021 Civic still available? What would my payments be?", sid)
		}
		if !t.m.api.postSMS(ctx, msg) {
			return false
		}
		t.mu.Lock()
		if dup {
			t.dupAcks++
		} else {
			t.accepted[msg.sid] = struct{}{}
			if len(t.recent) < 4096 {
				t.recent = append(t.recent, msg)
			} else {
				t.recent[rand.IntN(len(t.recent))] = msg
			}
		}
		t.mu.Unlock()
		return true
	}
}

// runSMS: first texts of new customers (lead created, grain activated), then the closed-loop
// concurrency sweep with and without 20% duplicates, then the open loop at rate, and finally
// the check that the Store holds exactly the acknowledged texts.
func (m *modeRun) runSMS(ctx context.Context, conc []int, step time.Duration, openRate float64) {
	t := &smsTraffic{m: m, customers: m.b.phones.take(m.b.opt.smsCustomers), accepted: map[string]struct{}{}}
	m.hot = t.customers
	m.measure("sms-first", "c=16", func() (loadResult, string, map[string]any) {
		return closedLoop(ctx, 16, 0, len(t.customers), t.request(0)), "new customers: lead created, grain activated", nil
	})
	best := 0.0
	for _, c := range conc {
		for _, dup := range []float64{0, 0.2} {
			name := "sms"
			if dup > 0 {
				name = "sms-dup"
			}
			r := m.measure(name, fmt.Sprintf("c=%d", c), func() (loadResult, string, map[string]any) {
				t.mu.Lock()
				dups0 := t.dupAcks
				t.mu.Unlock()
				res := closedLoop(ctx, c, step, 0, t.request(dup))
				note := ""
				if dup > 0 {
					t.mu.Lock()
					note = fmt.Sprintf("%d duplicates acknowledged", t.dupAcks-dups0)
					t.mu.Unlock()
				}
				return res, note, nil
			})
			if dup == 0 && r.Errors == 0 {
				best = max(best, r.Throughput)
			}
		}
	}
	m.smsBest = best
	// The latency promise holds at a rate the node sustains: when the sweep's best is below
	// openRate, the open loop runs at half that best instead (and the target is missed anyway).
	rate, why := openRate, "target rate"
	if best < openRate {
		rate, why = max(1, float64(int(best/2))), fmt.Sprintf("half the sweep's best (%.0f/s), below %.0f/s", best, openRate)
	}
	m.measure("sms-open", fmt.Sprintf("%.0f/s", rate), func() (loadResult, string, map[string]any) {
		res := openLoop(ctx, rate, step, 2048, t.request(0))
		return res, fmt.Sprintf("%s; service p99 %.1f ms, %d late starts", why, res.Service.P99, res.Late),
			map[string]any{"rate": rate, "service": res.Service, "late": res.Late}
	})

	// Durable acknowledgement: every acknowledged MessageSid is stored, once.
	stored, err := m.access.inboundSids(ctx, m.dealer.ID)
	r := result{Scenario: "sms-verify", Mode: m.mode, Load: "-"}
	if err != nil {
		r.Errors, r.Note = 1, "could not read the store: "+err.Error()
	} else {
		missing := 0
		for sid := range t.accepted {
			if _, ok := stored[sid]; !ok {
				missing++
			}
		}
		unacked := len(stored) - (len(t.accepted) - missing)
		r.Requests, r.Errors = len(t.accepted), missing
		r.Extra = map[string]any{"accepted": len(t.accepted), "stored": len(stored), "missing": missing, "storedNotAcknowledged": unacked, "duplicatesAcknowledged": t.dupAcks}
		r.Note = fmt.Sprintf("accepted %d, stored %d, missing %d, stored but unacknowledged %d", len(t.accepted), len(stored), missing, unacked)
		if missing == 0 {
			r.Note = "stored = accepted: " + r.Note
		}
		// SQLite's write-ahead log grows while readers keep it from checkpointing, and every
		// read then walks it: its size explains an embedded node that slows down over the run.
		if st, err := os.Stat(filepath.Join(m.env["JACK_DATA_DIR"], "jack.db-wal")); err == nil && m.mode == modeEmbedded {
			r.Extra["walMB"] = st.Size() >> 20
			r.Note += fmt.Sprintf("; SQLite WAL %d MB", st.Size()>>20)
		}
	}
	m.b.add(r)
}

// --- 2. call start -----------------------------------------------------------------------------

// runCallHot sends conversation-initiation webhooks for customers whose grains are active:
// open loop at rate, then closed loop at 16 for the most the node answers.
func (m *modeRun) runCallHot(ctx context.Context, rate float64, step time.Duration) {
	do := func(ctx context.Context, _, i int) bool {
		return m.api.postInitiation(ctx, m.hot[i%len(m.hot)], m.dealer.Phone, twilio.NewSid("CA"))
	}
	m.measure("call-hot", fmt.Sprintf("%.0f/s", rate), func() (loadResult, string, map[string]any) {
		res := openLoop(ctx, rate, step, 512, do)
		return res, fmt.Sprintf("service p99 %.2f ms", res.Service.P99), map[string]any{"service": res.Service, "late": res.Late}
	})
	m.measure("call-hot-max", "c=16", func() (loadResult, string, map[string]any) {
		return closedLoop(ctx, 16, step, 0, do), "", nil
	})
}

// --- 4. memory and cold activation -------------------------------------------------------------

// runMemory seeds n conversations of perConv messages in the Store, starts a fresh node, and
// activates every one with a call start: the first at coldRate/s open loop (call-start cold),
// the rest as fast as 16 callers go (activation). RSS and Go heap are read before and after.
func (m *modeRun) runMemory(ctx context.Context, n, perConv int, coldRate float64, step time.Duration) error {
	phones := m.b.phones.take(n)
	t0 := time.Now()
	if err := m.access.seed(ctx, m.dealer.ID, phones, perConv); err != nil {
		return err
	}
	seedTime := time.Since(t0)
	m.b.progress("%s memory: seeded %d conversations x %d messages in %s", m.mode, n, perConv, seedTime.Round(time.Millisecond))
	if err := m.start(ctx, "memory"); err != nil {
		return err
	}
	defer m.stop()
	const heap = "go_memstats_heap_inuse_bytes"
	m.node.waitIdle(10 * time.Second)
	rss0, heap0 := m.node.rssBytes(), m.node.metrics(heap)[heap]

	do := func(ctx context.Context, _, i int) bool {
		return m.api.postInitiation(ctx, phones[i], m.dealer.Phone, twilio.NewSid("CA"))
	}
	cold := min(n, int(coldRate*step.Seconds()))
	m.measure("call-cold", fmt.Sprintf("%.0f/s", coldRate), func() (loadResult, string, map[string]any) {
		res := openLoop(ctx, coldRate, time.Duration(float64(cold)/coldRate*float64(time.Second)), 512, do)
		return res, fmt.Sprintf("activation from the Store (%d messages each); service p99 %.2f ms", perConv, res.Service.P99),
			map[string]any{"service": res.Service}
	})
	if rest := n - cold; rest > 0 {
		m.measure("activation", "c=16", func() (loadResult, string, map[string]any) {
			return closedLoop(ctx, 16, 0, rest, func(ctx context.Context, w, i int) bool { return do(ctx, w, cold+i) }),
				fmt.Sprintf("%d more conversations activated", rest), nil
		})
	}
	m.node.waitIdle(20 * time.Second)
	rss1, heap1 := m.node.rssBytes(), m.node.metrics(heap)[heap]
	perRSS := float64(rss1-rss0) / float64(n)
	perHeap := (heap1 - heap0) / float64(n)
	projected := (float64(rss0) + 100_000*perRSS) / (1 << 30)
	m.b.add(result{
		Scenario: "memory", Mode: m.mode, Load: fmt.Sprintf("N=%d", n), Requests: n,
		Note: fmt.Sprintf("%.1f KB RSS / conversation (%.1f KB Go heap); RSS %d -> %d MB; 100k projected %.2f GiB",
			perRSS/1024, perHeap/1024, rss0>>20, rss1>>20, projected),
		Extra: map[string]any{
			"conversations": n, "messagesEach": perConv, "rssBeforeMB": rss0 >> 20, "rssAfterMB": rss1 >> 20,
			"rssPerConvKB": round1(perRSS / 1024), "heapPerConvKB": round1(perHeap / 1024), "projected100kGiB": round2(projected),
			"seedSeconds": seedTime.Seconds(),
		},
	})
	return nil
}

func round1(v float64) float64 { return float64(int64(v*10+0.5)) / 10 }
func round2(v float64) float64 { return float64(int64(v*100+0.5)) / 100 }
