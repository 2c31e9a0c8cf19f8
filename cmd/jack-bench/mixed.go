package main

import (
	"context"
	"fmt"
	"net"
	"sync"
	"time"

	"github.com/jack-auto/jack/providers/twilio"
)

// --- 6. the comparison workload ----------------------------------------------------------------
//
// Issue 13 measured jack against a naive Node implementation of the same contract with this
// workload. Each row reports CPU milliseconds per request of jack, Postgres and Redis, which is
// what the comparison is about: on a shared 2-core machine throughput says as much about the
// neighbours as about the node.

// mixedDupShare is the share of inbound webhooks that re-send an already acknowledged one, as
// Twilio's retries do.
const mixedDupShare = 0.05

// runMixed registers three dealerships and runs the comparison rows: mixed-2org (two
// dealerships), mixed-1org (one alone), call-32 and call-under-sms (over mixed-2org's
// customers, whose grains are active by then).
func (m *modeRun) runMixed(ctx context.Context) {
	o := m.b.opt
	dealers, err := m.registerDealerships(ctx, 3)
	if err != nil {
		m.b.note("%s mixed: registering dealerships: %v", m.mode, err)
		return
	}
	two := newSMSTraffic(m, m.b.phones.take(o.mixedCustomers), dealers[0], dealers[1])
	one := newSMSTraffic(m, m.b.phones.take(o.mixedCustomers), dealers[2])
	best := m.runMixedSMS(ctx, "mixed-2org", two)
	m.runMixedSMS(ctx, "mixed-1org", one)
	if m.smsBest == 0 {
		m.smsBest = best // the SSE step's rate check, when the SMS sweep did not run
	}
	if ctx.Err() == nil {
		m.runCall32(ctx, two)
	}
	if ctx.Err() == nil {
		m.runCallUnderSMS(ctx, two)
	}
}

// runMixedSMS: each customer of t texts once (the lead is created; not measured), the
// dashboards connect, and then -mixed-conc callers send signed webhooks for -step, 5% of them
// duplicates, while the dashboards stream. The row's throughput counts every webhook answered
// 200 (duplicates too), and so does its CPU per request; the Store is then read back to check
// stored = acknowledged. It returns the throughput if the row is durable and error-free.
func (m *modeRun) runMixedSMS(ctx context.Context, name string, t *smsTraffic) float64 {
	o := m.b.opt
	t0 := time.Now()
	warm := closedLoop(ctx, 16, 0, len(t.customers), t.request(0))
	m.b.progress("%s %s: %d customers of %s texted once in %s (%d errors)", m.mode, name,
		len(t.customers), plural(len(t.dealers), "dealership"), time.Since(t0).Round(time.Millisecond), warm.Errors)
	dash, err := m.openDashboards(ctx, t.dealers, o.dashboards)
	if err != nil {
		m.b.note("%s %s: dashboards: %v", m.mode, name, err)
		return 0
	}
	defer dash.close()
	m.node.waitIdle(5 * time.Second)
	dash.reset()

	t.mu.Lock()
	dups0 := t.dupAcks
	t.mu.Unlock()
	t.acks = newAckLog()
	r, _ := m.row(name, fmt.Sprintf("c=%d", o.mixedConc), true, func() loadResult {
		res := closedLoop(ctx, o.mixedConc, o.step, 0, t.request(mixedDupShare))
		dash.settle(t.acks)
		return res
	})
	acks := t.acks
	t.acks = nil
	del := dash.collect(acks)
	t.mu.Lock()
	dups := t.dupAcks - dups0
	t.mu.Unlock()

	accepted, stored, missing, unacked, err := t.verify(ctx)
	durable := "stored = acknowledged"
	switch {
	case err != nil:
		durable, missing = "could not read the store: "+err.Error(), -1
	case missing > 0:
		durable = fmt.Sprintf("NOT DURABLE: %d acknowledged texts missing from the Store", missing)
	}
	suffix := r.Note // skipped requests, an exited node
	r.Note = fmt.Sprintf("%s x %d customers, %d duplicates acknowledged; %s (%d); %d dashboards: delivery p99 %.0f ms, %d missing",
		plural(len(t.dealers), "dealership"), len(t.customers)/len(t.dealers), dups, durable, accepted, del.Live, del.Latency.P99, del.Missing)
	if del.Leaked > 0 || del.Duplicates > 0 {
		r.Note += fmt.Sprintf(", %d from another dealership, %d twice", del.Leaked, del.Duplicates)
	}
	r.Note += suffix
	r.Extra = map[string]any{
		"dealerships": len(t.dealers), "customers": len(t.customers), "duplicatesAcknowledged": dups,
		"accepted": accepted, "stored": stored, "missing": missing, "storedNotAcknowledged": unacked,
		"dashboards": del,
	}
	m.b.add(r)
	if r.Errors > 0 || missing != 0 {
		return 0
	}
	return r.Throughput
}

// doCallStart returns a request that starts a call from t's customers first..first+n (cycling)
// to the dealership each of them texts.
func doCallStart(t *smsTraffic, first, n int) requestFunc {
	return func(ctx context.Context, _, i int) bool {
		c := first + i%n
		_, to := t.dealerOf(c)
		return t.m.api.postInitiation(ctx, t.customers[c], to, twilio.NewSid("CA"))
	}
}

// runCall32 sends conversation-initiation webhooks from 32 callers (-mixed-conc), closed loop,
// for customers whose grains are active. The second CPU sample waits until jack is idle, so the
// call session written after the answer counts in the CPU per call start.
func (m *modeRun) runCall32(ctx context.Context, t *smsTraffic) {
	c := m.b.opt.mixedConc
	m.node.waitIdle(5 * time.Second)
	r, _ := m.row(fmt.Sprintf("call-%d", c), fmt.Sprintf("c=%d", c), true, func() loadResult {
		return closedLoop(ctx, c, m.b.opt.step, 0, doCallStart(t, 0, len(t.customers)))
	})
	r.Note = fmt.Sprintf("hot conversations of %s", plural(len(t.dealers), "dealership")) + r.Note
	m.b.add(r)
}

// runCallUnderSMS starts calls open loop at -call-rate from half of t's customers while the
// other half text at -mixed-sms-rate, open loop, both at once. The row is the call starts; the
// texts' latency is in the note, and the CPU per request divides by calls + texts.
func (m *modeRun) runCallUnderSMS(ctx context.Context, t *smsTraffic) {
	o := m.b.opt
	// Split on a multiple of the dealership count, so each customer keeps texting the
	// dealership where the lead is.
	half := len(t.customers) / 2 / len(t.dealers) * len(t.dealers)
	texts := newSMSTraffic(m, t.customers[half:], t.dealers...)
	m.node.waitIdle(5 * time.Second)
	var calls, sms loadResult
	r, use := m.row("call-under-sms", fmt.Sprintf("%.0f/s", o.callRate), true, func() loadResult {
		var wg sync.WaitGroup
		wg.Add(1)
		go func() {
			defer wg.Done()
			sms = openLoop(ctx, o.mixedSMSRate, o.step, 512, texts.request(0))
		}()
		calls = openLoop(ctx, o.callRate, o.step, 512, doCallStart(t, 0, half))
		wg.Wait()
		return calls
	})
	r.CPUPerRequest = use.perRequest(r.Requests + sms.Requests)
	_, _, missing, _, err := texts.verify(ctx)
	durable := "stored = acknowledged"
	switch {
	case err != nil:
		durable, missing = "could not read the store: "+err.Error(), -1
	case missing > 0:
		durable = fmt.Sprintf("NOT DURABLE: %d missing", missing)
	}
	if sms.Skipped > 0 {
		durable = fmt.Sprintf("%d not sent, %s", sms.Skipped, durable)
	}
	r.Note = fmt.Sprintf("with SMS at %.0f/s: %d acknowledged (%.0f/s), p50 %.2f ms, p99 %.2f ms, %d errors, %s; call service p99 %.2f ms, %d late starts; cpu/req over calls + texts",
		o.mixedSMSRate, sms.Requests, sms.throughput(), sms.Latency.P50, sms.Latency.P99, sms.Errors, durable, calls.Service.P99, calls.Late) + r.Note
	r.Extra = map[string]any{
		"smsRate": o.mixedSMSRate, "sms": sms.Latency, "smsService": sms.Service, "smsAcknowledged": sms.Requests,
		"smsErrors": sms.Errors, "smsSkipped": sms.Skipped, "smsMissing": missing, "callRate": o.callRate,
		"callService": calls.Service, "callLate": calls.Late, "callSkipped": calls.Skipped,
	}
	m.b.add(r)
}

// plural is "1 dealership", "2 dealerships".
func plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}

// --- dashboards --------------------------------------------------------------------------------

// ackLog records when each text was acknowledged (by its sid's sequence number) and to which
// dealership (an index into the traffic's dealers).
type ackLog struct {
	mu sync.Mutex
	at map[uint64]sseAck
}

func newAckLog() *ackLog { return &ackLog{at: map[uint64]sseAck{}} }

func (l *ackLog) add(seq uint64, dealer int) {
	now := time.Now().UnixNano()
	l.mu.Lock()
	l.at[seq] = sseAck{at: now, org: dealer}
	l.mu.Unlock()
}

// dashboards are SSE clients held open during a row, spread evenly over its dealerships.
type dashboards struct {
	clients []*sseClient
}

// deliveryReport is what the dashboards received of the acknowledged texts.
type deliveryReport struct {
	Live       int   `json:"live"`       // dashboards still connected at the end
	Expected   int   `json:"expected"`   // acknowledged texts x live dashboards of their dealership
	Received   int   `json:"received"`   // of those, received
	Missing    int   `json:"missing"`    // expected - received
	Duplicates int   `json:"duplicates"` // the same text's event received twice by one dashboard
	Early      int   `json:"early"`      // events that arrived before the webhook's 200
	Leaked     int   `json:"leaked"`     // another dealership's events (must be 0: tenant isolation)
	Latency    stats `json:"latency"`    // from the webhook's 200 to the dashboard reading it
}

// openDashboards connects n dashboards, dashboard i to dealers[i%len(dealers)].
func (m *modeRun) openDashboards(ctx context.Context, dealers []*dealership, n int) (*dashboards, error) {
	d := &dashboards{}
	tokens := make([]string, len(dealers))
	for i, dl := range dealers {
		tok, err := m.api.streamToken(ctx, dl.Token)
		if err != nil {
			return nil, err
		}
		tokens[i] = tok
	}
	for i := range n {
		o := i % len(dealers)
		c, err := dialStream(ctx, m.node.url, tokens[o], o, net.IPv4(127, 0, 0, 1))
		if err != nil {
			d.close()
			return nil, err
		}
		d.clients = append(d.clients, c)
	}
	return d, nil
}

func (d *dashboards) close() {
	for _, c := range d.clients {
		c.close()
	}
}

// reset drops what the dashboards received so far.
func (d *dashboards) reset() {
	for _, c := range d.clients {
		c.take()
	}
}

// expected is how many deliveries acks make: each text to every live dashboard of its dealership.
func (d *dashboards) expected(acks *ackLog) int {
	live := map[int]int{}
	for _, c := range d.clients {
		if !c.ended.Load() {
			live[c.org]++
		}
	}
	acks.mu.Lock()
	defer acks.mu.Unlock()
	n := 0
	for _, a := range acks.at {
		n += live[a.org]
	}
	return n
}

// settle waits until the dashboards received every acknowledged text, or for no progress in 2s.
func (d *dashboards) settle(acks *ackLog) {
	want := d.expected(acks)
	last, lastChange := -1, time.Now()
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		n := 0
		for _, c := range d.clients {
			c.mu.Lock()
			n += len(c.recv)
			c.mu.Unlock()
		}
		if n >= want {
			return
		}
		if n != last {
			last, lastChange = n, time.Now()
		} else if time.Since(lastChange) > 2*time.Second {
			return
		}
	}
}

// collect matches what the dashboards received to acks. Events of texts not in acks (the
// warm-up's, a webhook that failed after its commit) are ignored.
func (d *dashboards) collect(acks *ackLog) deliveryReport {
	var (
		rep  deliveryReport
		lats []time.Duration
	)
	acks.mu.Lock()
	defer acks.mu.Unlock()
	live := map[int]int{}
	for _, c := range d.clients {
		recv := c.take()
		if c.ended.Load() {
			continue
		}
		rep.Live++
		live[c.org]++
		seen := make(map[uint64]bool, len(recv))
		for _, r := range recv {
			a, ok := acks.at[r.seq]
			if !ok {
				continue
			}
			if a.org != c.org {
				rep.Leaked++
				continue
			}
			if seen[r.seq] {
				rep.Duplicates++
				continue
			}
			seen[r.seq] = true
			rep.Received++
			lat := time.Duration(r.at - a.at)
			if lat < 0 {
				rep.Early++
				lat = 0
			}
			lats = append(lats, lat)
		}
	}
	for _, a := range acks.at {
		rep.Expected += live[a.org]
	}
	rep.Missing = rep.Expected - rep.Received
	rep.Latency = statsOf(lats)
	return rep
}
