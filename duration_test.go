package jack_test

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/jack-auto/jack"
)

// A cadence delay reads back as people write it and parses back to itself.
func TestDuration_Text(t *testing.T) {
	t.Parallel()
	for _, text := range []string{"4h", "1h30m", "30m", "1m30s", "45s", "1d", "3d12h", "2d1h5m", "1d0s"} {
		d, err := jack.ParseDuration(text)
		require.NoError(t, err, text)
		want := map[string]string{"1d0s": "1d"}[text]
		if want == "" {
			want = text
		}
		require.Equal(t, want, d.String())
		b, err := json.Marshal(d)
		require.NoError(t, err)
		var back jack.Duration
		require.NoError(t, json.Unmarshal(b, &back))
		require.Equal(t, d, back)
	}
}
