package jack_test

import (
	"os/exec"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestLayers_NoAdapterInTheCore: the domain, the engine and the HTTP layer meet the providers
// only through the ports they define, wired in cmd/jack; none of them (nor anything they
// import) imports an adapter under providers/.
func TestLayers_NoAdapterInTheCore(t *testing.T) {
	t.Parallel()
	const module = "github.com/jack-auto/jack"
	for _, pkg := range []string{".", "./actors/...", "./http/..."} {
		out, err := exec.Command("go", "list", "-deps", "-f", "{{.ImportPath}}", pkg).CombinedOutput()
		require.NoError(t, err, "go list %s: %s", pkg, out)
		var deps int
		for dep := range strings.FieldsSeq(string(out)) {
			deps++
			require.False(t, strings.HasPrefix(dep, module+"/providers/"), "%s depends on the adapter %s", pkg, dep)
		}
		require.Greater(t, deps, 1, "go list %s listed its dependencies", pkg)
	}
}
