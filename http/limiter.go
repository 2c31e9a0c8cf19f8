package http

import (
	"slices"
	"sync"
	"time"
)

// loginLimiter throttles failed logins in memory on this node, so that guessing is slow but
// nobody can lock anyone else out:
//   - per (account, client IP) pair, the first maxFree failures inside the window cost nothing;
//     each further one makes the pair wait twice as long as the one before (1s, 2s, 4s … up to
//     the window). Only that pair waits: the account's owner typing the right password from
//     another address gets in.
//   - per client IP, a looser cap (ipMax failures inside the window, whatever the accounts)
//     stops one address spraying guesses across many accounts.
//
// Every attempt counts as a failure from the moment it starts until it succeeds, so a burst of
// concurrent guesses cannot slip past while bcrypt runs.
type loginLimiter struct {
	maxFree int
	ipMax   int
	window  time.Duration

	mu       sync.Mutex
	failures map[string][]time.Time // per key, oldest first, only inside the window
	sweepAt  int                    // map size that triggers dropping idle keys
}

// loginAttempt is an attempt in progress; succeeded withdraws its failure.
type loginAttempt struct {
	l        *loginLimiter
	at       time.Time
	pair, ip string
}

const minSweep = 1024

// maxLoginDelayShift bounds the doubling (1s << 20 is past any window).
const maxLoginDelayShift = 20

func newLoginLimiter(maxFree, ipMax int, window time.Duration) *loginLimiter {
	return &loginLimiter{maxFree: maxFree, ipMax: ipMax, window: window, failures: map[string][]time.Time{}, sweepAt: minSweep}
}

// begin starts an attempt at now on account (a normalized email) from the client IP ip. When
// the pair must still wait, or the IP is over its cap, it returns how long, and the attempt
// does not count.
func (l *loginLimiter) begin(now time.Time, account, ip string) (*loginAttempt, time.Duration) {
	pair, ipKey := "pair:"+account+"\x00"+ip, "ip:"+ip
	l.mu.Lock()
	defer l.mu.Unlock()
	var wait time.Duration
	if f := l.recent(pair, now); len(f) >= l.maxFree {
		delay := min(l.window, time.Second<<min(len(f)-l.maxFree, maxLoginDelayShift))
		wait = max(wait, f[len(f)-1].Add(delay).Sub(now))
	}
	if f := l.recent(ipKey, now); len(f) >= l.ipMax {
		wait = max(wait, f[len(f)-l.ipMax].Add(l.window).Sub(now))
	}
	if wait > 0 {
		return nil, wait
	}
	l.failures[pair] = append(l.failures[pair], now)
	l.failures[ipKey] = append(l.failures[ipKey], now)
	l.maybeSweep(now)
	return &loginAttempt{l: l, at: now, pair: pair, ip: ipKey}, 0
}

// succeeded clears the pair's failures and withdraws this attempt from the IP's: a right
// password does not forgive the IP's earlier guesses at other accounts.
func (a *loginAttempt) succeeded() {
	a.l.mu.Lock()
	defer a.l.mu.Unlock()
	delete(a.l.failures, a.pair)
	f := a.l.failures[a.ip]
	if i := slices.Index(f, a.at); i >= 0 {
		a.l.failures[a.ip] = slices.Delete(f, i, i+1)
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
