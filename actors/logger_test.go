package actors

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestLibraryLogger: the library's Info is dropped, and a Warn or Error repeated about the same
// peer is written once (the next one after a minute carries the count dropped meanwhile).
func TestLibraryLogger(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	log := libraryLogger(slog.New(slog.NewTextHandler(&buf, nil)))
	log.Info("Started partition manager")
	for i := range 5 {
		log.Error("Bad connection to the node health status", "error", "connection refused", "retry", i, "autoManMemberUrl", "http://10.0.0.2:6330/_health")
	}
	log.Error("Bad connection to the node health status", "error", "connection refused", "autoManMemberUrl", "http://10.0.0.3:6330/_health")
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	require.Len(t, lines, 2, buf.String())
	require.Contains(t, lines[0], "10.0.0.2")
	require.Contains(t, lines[0], "component=protoactor")
	require.Contains(t, lines[1], "10.0.0.3")
}
