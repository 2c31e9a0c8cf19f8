package http

import (
	"slices"
	"sync"
	"time"
)

// loginLimiter counts failed logins per key (a normalized email, a client IP) in a sliding
// window, in memory on this node. Every attempt counts as a failure from the moment it starts
// until it succeeds, so a burst of concurrent guesses cannot slip past the limit while bcrypt runs.
type loginLimiter struct {
	max    int
	window time.Duration

	mu       sync.Mutex
	failures map[string][]time.Time // per key, oldest first, only inside the window
	sweepAt  int                    // map size that triggers dropping idle keys
}

// loginAttempt is an attempt in progress; succeeded withdraws its failure.
type loginAttempt struct {
	l     *loginLimiter
	at    time.Time
	reset string   // the key a success clears (the email)
	keys  []string // every key the attempt counted against
}

const minSweep = 1024

func newLoginLimiter(max int, window time.Duration) *loginLimiter {
	return &loginLimiter{max: max, window: window, failures: map[string][]time.Time{}, sweepAt: minSweep}
}

// begin starts an attempt at now against reset (cleared by a success) and the other keys. When
// any key already has max failures in the window it returns how long until one expires, and the
// attempt does not count.
func (l *loginLimiter) begin(now time.Time, reset string, others ...string) (*loginAttempt, time.Duration) {
	keys := append([]string{reset}, others...)
	l.mu.Lock()
	defer l.mu.Unlock()
	var wait time.Duration
	for _, k := range keys {
		f := l.recent(k, now)
		if len(f) >= l.max {
			wait = max(wait, f[len(f)-l.max].Add(l.window).Sub(now))
		}
	}
	if wait > 0 {
		return nil, wait
	}
	for _, k := range keys {
		l.failures[k] = append(l.failures[k], now)
	}
	l.maybeSweep(now)
	return &loginAttempt{l: l, at: now, reset: reset, keys: keys}, 0
}

// succeeded clears the reset key (the email's failures) and withdraws this attempt from the
// others: a right password does not forgive the IP's earlier guesses at other accounts.
func (a *loginAttempt) succeeded() {
	a.l.mu.Lock()
	defer a.l.mu.Unlock()
	delete(a.l.failures, a.reset)
	for _, k := range a.keys[1:] {
		f := a.l.failures[k]
		if i := slices.Index(f, a.at); i >= 0 {
			a.l.failures[k] = slices.Delete(f, i, i+1)
		}
	}
}

// recent drops k's failures that left the window and returns the rest. Callers hold mu.
func (l *loginLimiter) recent(k string, now time.Time) []time.Time {
	f := l.failures[k]
	i := 0
	for i < len(f) && !f[i].Add(l.window).After(now) {
		i++
	}
	if i == len(f) {
		delete(l.failures, k)
		return nil
	}
	f = f[i:]
	l.failures[k] = f
	return f
}

// maybeSweep drops idle keys once the map has doubled since the last sweep, so guesses at many
// emails cannot grow it without bound. Callers hold mu.
func (l *loginLimiter) maybeSweep(now time.Time) {
	if len(l.failures) < l.sweepAt {
		return
	}
	for k := range l.failures {
		l.recent(k, now)
	}
	l.sweepAt = max(minSweep, 2*len(l.failures))
}
