package persistence_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/jack-auto/jack"
	"github.com/jack-auto/jack/persistence"
)

func TestAppendAttempt(t *testing.T) {
	var history []byte
	start := time.Date(2026, 12, 6, 12, 0, 0, 0, time.UTC)
	for i := range jack.MaxDeliveryHistory + 5 {
		var err error
		history, err = persistence.AppendAttempt(history, jack.DeliveryAttempt{At: start.Add(time.Duration(i) * time.Minute),
			Error: fmt.Sprintf("attempt %d", i+1)})
		require.NoError(t, err)
	}
	h, err := persistence.ParseHistory(history)
	require.NoError(t, err)
	require.Len(t, h, jack.MaxDeliveryHistory, "only the last attempts are kept")
	require.Equal(t, "attempt 6", h[0].Error)
	require.Equal(t, fmt.Sprintf("attempt %d", jack.MaxDeliveryHistory+5), h[len(h)-1].Error)

	empty, err := persistence.ParseHistory(nil)
	require.NoError(t, err)
	require.NotNil(t, empty, "an empty history is [], never null")
	_, err = persistence.AppendAttempt([]byte("{not json"), jack.DeliveryAttempt{})
	require.Error(t, err)
}
