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

	t.Run("SlidingWindow", func(t *testing.T) {
		t.Parallel()
		l := newLoginLimiter(3, time.Minute)
		for i := range 3 {
			_, wait := l.begin(t0.Add(time.Duration(i)*10*time.Second), "email:a", "ip:1")
			require.Zero(t, wait)
		}
		_, wait := l.begin(t0.Add(30*time.Second), "email:a", "ip:2")
		require.Equal(t, 30*time.Second, wait, "until the oldest failure leaves the window")
		_, wait = l.begin(t0.Add(time.Minute), "email:a", "ip:2")
		require.Zero(t, wait, "one failure left the window")
	})

	t.Run("SuccessClearsOnlyTheEmail", func(t *testing.T) {
		t.Parallel()
		l := newLoginLimiter(2, time.Minute)
		_, _ = l.begin(t0, "email:a", "ip:1")
		a, wait := l.begin(t0, "email:a", "ip:1")
		require.Zero(t, wait)
		a.succeeded()
		require.Empty(t, l.failures["email:a"])
		require.Len(t, l.failures["ip:1"], 1, "the earlier guess from this IP still counts")
	})

	t.Run("SweepBoundsMemory", func(t *testing.T) {
		t.Parallel()
		l := newLoginLimiter(5, time.Minute)
		for i := range 10 * minSweep {
			_, _ = l.begin(t0.Add(time.Duration(i)*time.Second), "email:"+strconv.Itoa(i))
		}
		require.Less(t, len(l.failures), 2*minSweep)
	})
}
