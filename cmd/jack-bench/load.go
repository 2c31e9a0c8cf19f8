package main

import (
	"context"
	"math"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// latencies collects per-request latencies from many goroutines; percentiles come from the
// sorted samples (every sample is kept: a run is at most a few hundred thousand requests).
type latencies struct {
	mu      sync.Mutex
	samples []time.Duration
}

func (l *latencies) add(d ...time.Duration) {
	l.mu.Lock()
	l.samples = append(l.samples, d...)
	l.mu.Unlock()
}

// stats are a run's latency figures in milliseconds.
type stats struct {
	N   int     `json:"n"`
	P50 float64 `json:"p50Ms"`
	P90 float64 `json:"p90Ms"`
	P99 float64 `json:"p99Ms"`
	Max float64 `json:"maxMs"`
}

func (l *latencies) stats() stats {
	l.mu.Lock()
	s := slices.Clone(l.samples)
	l.mu.Unlock()
	return statsOf(s)
}

func statsOf(s []time.Duration) stats {
	if len(s) == 0 {
		return stats{}
	}
	slices.Sort(s)
	q := func(p float64) float64 {
		i := int(math.Ceil(p*float64(len(s)))) - 1 // nearest rank
		return ms(s[min(max(i, 0), len(s)-1)])
	}
	return stats{N: len(s), P50: q(0.50), P90: q(0.90), P99: q(0.99), Max: ms(s[len(s)-1])}
}

func ms(d time.Duration) float64 { return math.Round(float64(d)/float64(time.Microsecond)) / 1000 }

// loadResult is what a load run measured.
type loadResult struct {
	Requests int           // answered with success
	Errors   int           // failed or answered with an unexpected status
	Elapsed  time.Duration // from the first request to the last answer
	Latency  stats
	// Open loop only: Service is latency from when a request actually started (Latency counts
	// from when it was due), Late counts requests that waited for the in-flight bound, and
	// Skipped those never sent because the node had fallen a whole step behind (they are in
	// Errors too).
	Service stats
	Late    int
	Skipped int
}

func (r loadResult) throughput() float64 {
	if r.Elapsed <= 0 {
		return 0
	}
	return float64(r.Requests) / r.Elapsed.Seconds()
}

// requestFunc sends request number i and reports whether it succeeded.
type requestFunc func(ctx context.Context, worker, i int) bool

// closedLoop runs workers that each send their next request when the previous one answers,
// for d (0: no time limit) or until n requests were sent (0: no count limit). Latency is each
// request's own round trip.
func closedLoop(ctx context.Context, workers int, d time.Duration, n int, do requestFunc) loadResult {
	var (
		next     atomic.Int64
		ok, fail atomic.Int64
		lat      latencies
		wg       sync.WaitGroup
	)
	start := time.Now()
	deadline := start.Add(d)
	if d <= 0 {
		deadline = start.Add(24 * time.Hour)
	}
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			local := make([]time.Duration, 0, 4096)
			for time.Now().Before(deadline) && ctx.Err() == nil {
				i := int(next.Add(1) - 1)
				if n > 0 && i >= n {
					break
				}
				t0 := time.Now()
				if do(ctx, w, i) {
					local = append(local, time.Since(t0))
					ok.Add(1)
				} else {
					fail.Add(1)
				}
			}
			lat.add(local...)
		}()
	}
	wg.Wait()
	return loadResult{Requests: int(ok.Load()), Errors: int(fail.Load()), Elapsed: time.Since(start), Latency: lat.stats()}
}

// openLoop starts requests at rate per second for d, whether or not earlier ones answered (at
// most maxInFlight at once), as independent callers such as Twilio or ElevenLabs do. Latency is
// measured from when a request was due, not from when it could start, so a server that falls
// behind shows it (no coordinated omission). A node slower than rate would make the step last
// as long as its backlog: requests still unsent 2d after the start are skipped and counted as
// errors, so a step never takes more than twice its length plus the last answers.
func openLoop(ctx context.Context, rate float64, d time.Duration, maxInFlight int, do requestFunc) loadResult {
	var (
		ok, fail atomic.Int64
		lat, svc latencies
		wg       sync.WaitGroup
		late     int
	)
	sem := make(chan struct{}, maxInFlight)
	interval := time.Duration(float64(time.Second) / rate)
	total := int(rate * d.Seconds())
	start := time.Now()
	cutoff := start.Add(2 * d)
	sent := 0
	for i := 0; i < total && ctx.Err() == nil; i++ {
		due := start.Add(time.Duration(i) * interval)
		if wait := time.Until(due); wait > 0 {
			time.Sleep(wait)
		}
		acquired := true
		select {
		case sem <- struct{}{}:
		default:
			late++
			timer := time.NewTimer(time.Until(cutoff))
			select {
			case sem <- struct{}{}:
				timer.Stop()
			case <-timer.C:
				acquired = false
			}
		}
		if !acquired || time.Now().After(cutoff) {
			if acquired {
				<-sem
			}
			break // the node is a whole step behind
		}
		sent++
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			t0 := time.Now()
			if do(ctx, i%maxInFlight, i) {
				now := time.Now()
				lat.add(now.Sub(due))
				svc.add(now.Sub(t0))
				ok.Add(1)
			} else {
				fail.Add(1)
			}
		}()
	}
	wg.Wait()
	skipped := 0
	if ctx.Err() == nil {
		skipped = total - sent
	}
	return loadResult{Requests: int(ok.Load()), Errors: int(fail.Load()) + skipped, Elapsed: time.Since(start),
		Latency: lat.stats(), Service: svc.stats(), Late: late, Skipped: skipped}
}
