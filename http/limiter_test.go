package http

import (
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestLoginLimiter(t *testing.T) {
	t.Parallel()
	t0 := time.Date(2030, 1, 1, 9, 0, 0, 0, time.UTC)

	t.Run("GrowingDelaysForThePairOnly", func(t *testing.T) {
		t.Parallel()
		l := newLoginLimiter(3, 100, time.Hour)
		for i := range 3 {
			_, wait := l.begin(t0.Add(time.Duration(i)*time.Second), "a", "1")
			require.Zero(t, wait)
		}
		_, wait := l.begin(t0.Add(2*time.Second), "a", "1")
		require.Equal(t, time.Second, wait)
		_, wait = l.begin(t0.Add(2*time.Second), "a", "2")
		require.Zero(t, wait, "another address is not slowed")
		_, wait = l.begin(t0.Add(3*time.Second), "a", "1")
		require.Zero(t, wait)
		_, wait = l.begin(t0.Add(3*time.Second), "a", "1")
		require.Equal(t, 2*time.Second, wait, "twice as long after each failure")
	})

	t.Run("DelayCappedByWindow", func(t *testing.T) {
		t.Parallel()
		l := newLoginLimiter(1, 1000, time.Minute)
		now := t0
		for range 30 {
			_, wait := l.begin(now, "a", "1")
			require.LessOrEqual(t, wait, time.Minute)
			now = now.Add(wait)
		}
	})

	t.Run("IPCap", func(t *testing.T) {
		t.Parallel()
		l := newLoginLimiter(5, 3, time.Minute)
		for i := range 3 {
			_, wait := l.begin(t0.Add(time.Duration(i)*10*time.Second), "user"+strconv.Itoa(i), "1")
			require.Zero(t, wait)
		}
		_, wait := l.begin(t0.Add(30*time.Second), "someone", "1")
		require.Equal(t, 30*time.Second, wait, "until the oldest failure leaves the window")
		_, wait = l.begin(t0.Add(time.Minute), "someone", "1")
		require.Zero(t, wait, "one failure left the window")
	})

	t.Run("SuccessClearsOnlyThePair", func(t *testing.T) {
		t.Parallel()
		l := newLoginLimiter(2, 10, time.Minute)
		_, _ = l.begin(t0, "a", "1")
		a, wait := l.begin(t0, "a", "1")
		require.Zero(t, wait)
		a.succeeded()
		require.Empty(t, l.failures["pair:a\x001"])
		require.Len(t, l.failures["ip:1"], 1, "the earlier guess from this IP still counts")
	})

	t.Run("SweepBoundsMemory", func(t *testing.T) {
		t.Parallel()
		l := newLoginLimiter(5, 1<<30, time.Minute)
		for i := range 10 * minSweep {
			_, _ = l.begin(t0.Add(time.Duration(i)*time.Second), strconv.Itoa(i), strconv.Itoa(i))
		}
		require.Less(t, len(l.failures), 4*minSweep)
	})
}
