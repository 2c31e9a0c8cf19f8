package jack_test

import (
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestArchitectureReferences holds the code's pointers into ARCHITECTURE.md to the document: a
// comment that says `see ARCHITECTURE.md, "Section"` names a section that exists, and nothing
// cites the design notes that live outside the repository (a newcomer cannot follow those).
func TestArchitectureReferences(t *testing.T) {
	doc, err := os.ReadFile("ARCHITECTURE.md")
	require.NoError(t, err)
	sections := map[string]bool{}
	for _, m := range regexp.MustCompile(`(?m)^##+ (.+)$`).FindAllStringSubmatch(string(doc), -1) {
		sections[strings.TrimSpace(m[1])] = true
	}
	ref := regexp.MustCompile(`ARCHITECTURE\.md, "([^"]+)"`)
	outside := regexp.MustCompile(`DESIGN(\.md)? §|reference §|reference/[a-z-]+\.md`)
	refs := 0
	err = filepath.WalkDir(".", func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if name := d.Name(); path != "." && (strings.HasPrefix(name, ".") || name == "testdata" || name == "node_modules" || name == "bin" || name == "data") {
				return filepath.SkipDir
			}
			return nil
		}
		switch filepath.Ext(path) {
		case ".go", ".proto", ".js", ".sql", ".yaml", ".yml":
		default:
			if d.Name() != "Makefile" {
				return nil
			}
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		if path == "architecture_test.go" {
			return nil
		}
		for _, m := range ref.FindAllStringSubmatch(string(b), -1) {
			refs++
			require.True(t, sections[m[1]], "%s points to ARCHITECTURE.md section %q, which does not exist", path, m[1])
		}
		if loc := outside.FindIndex(b); loc != nil {
			line := strings.Count(string(b[:loc[0]]), "\n") + 1
			t.Errorf("%s:%d cites a document outside the repository (%q): point into ARCHITECTURE.md instead", path, line, b[loc[0]:loc[1]])
		}
		return nil
	})
	require.NoError(t, err)
	require.Positive(t, refs, "no reference into ARCHITECTURE.md found: is the walk reading the tree?")
}
