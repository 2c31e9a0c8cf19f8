package fake

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestSMSSegments(t *testing.T) {
	t.Parallel()

	tests := []struct {
		name string
		body string
		want int
	}{
		{"Empty", "", 1},
		{"GSMOne", strings.Repeat("a", 160), 1},
		{"GSMTwo", strings.Repeat("a", 161), 2},
		{"GSMThree", strings.Repeat("a", 307), 3},
		{"GSMExtensionCountsTwice", strings.Repeat("€", 80), 1},
		{"GSMExtensionSplits", strings.Repeat("€", 81), 2},
		{"UCS2One", strings.Repeat("é", 69) + "✓", 1},
		{"UCS2Two", strings.Repeat("✓", 71), 2},
		{"UCS2Surrogates", strings.Repeat("😀", 35), 1},
		{"UCS2SurrogatesSplit", strings.Repeat("😀", 36), 2},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			require.Equal(t, tc.want, smsSegments(tc.body))
		})
	}
}
