package jack_test

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestRepo_NoBinaries: git tracks source, not build outputs. A tracked file with a NUL byte in
// its first 8 KB is binary; only the documentation's images may be (README screenshots).
func TestRepo_NoBinaries(t *testing.T) {
	if _, err := exec.LookPath("git"); err != nil {
		t.Skip("git is not installed: cannot list the tracked files")
	}
	out, err := exec.Command("git", "ls-files", "-z").Output()
	if err != nil {
		t.Skipf("not a git checkout (%v): nothing to check", err)
	}
	images := map[string]bool{".png": true, ".jpg": true, ".jpeg": true, ".gif": true, ".webp": true, ".ico": true}
	files := strings.Split(strings.TrimRight(string(out), "\x00"), "\x00")
	require.NotEmpty(t, files)
	for _, name := range files {
		b, err := os.ReadFile(name)
		if os.IsNotExist(err) {
			continue // deleted in the working tree
		}
		require.NoError(t, err)
		if len(b) > 8000 {
			b = b[:8000]
		}
		if bytes.IndexByte(b, 0) >= 0 && !images[strings.ToLower(filepath.Ext(name))] {
			t.Errorf("%s is a binary file tracked by git: build outputs belong in .gitignore", name)
		}
	}
}
