package dashboard_test

import (
	"io"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"

	"github.com/gofiber/fiber/v2"
	"github.com/stretchr/testify/require"

	"github.com/jack-auto/jack"
	"github.com/jack-auto/jack/http/dashboard"
)

// newApp mounts the dashboard the way the server does: after an API route, with a final
// handler standing for "no route".
func newApp(tb testing.TB) *fiber.App {
	tb.Helper()
	app := fiber.New(fiber.Config{DisableStartupMessage: true})
	app.Get("/api/leads", func(c *fiber.Ctx) error { return c.SendString("api") })
	app.Use(dashboard.Handler())
	app.Use(func(c *fiber.Ctx) error { return c.Status(http.StatusNotFound).SendString("no route") })
	return app
}

func do(tb testing.TB, app *fiber.App, method, path string, header map[string]string) (*http.Response, string) {
	tb.Helper()
	req := httptest.NewRequest(method, path, nil)
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := app.Test(req, -1)
	require.NoError(tb, err)
	body, err := io.ReadAll(resp.Body)
	require.NoError(tb, err)
	require.NoError(tb, resp.Body.Close())
	return resp, string(body)
}

func TestHandler(t *testing.T) {
	t.Parallel()
	app := newApp(t)

	t.Run("Index", func(t *testing.T) {
		t.Parallel()
		resp, body := do(t, app, "GET", "/", nil)
		require.Equal(t, http.StatusOK, resp.StatusCode)
		require.Equal(t, "text/html; charset=utf-8", resp.Header.Get("Content-Type"))
		require.Contains(t, body, `<script type="module" src="/assets/app.js">`)
		require.Contains(t, resp.Header.Get("Content-Security-Policy"), "script-src 'self'")
		require.Equal(t, "nosniff", resp.Header.Get("X-Content-Type-Options"))
		require.Equal(t, "no-cache", resp.Header.Get("Cache-Control"))
	})
	t.Run("Assets", func(t *testing.T) {
		t.Parallel()
		for path, ct := range map[string]string{
			"/assets/app.js":      "text/javascript; charset=utf-8",
			"/assets/app.css":     "text/css; charset=utf-8",
			"/assets/favicon.svg": "image/svg+xml",
		} {
			resp, body := do(t, app, "GET", path, nil)
			require.Equal(t, http.StatusOK, resp.StatusCode, path)
			require.Equal(t, ct, resp.Header.Get("Content-Type"), path)
			require.NotEmpty(t, body, path)
		}
	})
	t.Run("NotModified", func(t *testing.T) {
		t.Parallel()
		resp, _ := do(t, app, "GET", "/assets/app.css", nil)
		etag := resp.Header.Get("ETag")
		require.NotEmpty(t, etag)
		resp, body := do(t, app, "GET", "/assets/app.css", map[string]string{"If-None-Match": etag})
		require.Equal(t, http.StatusNotModified, resp.StatusCode)
		require.Empty(t, body)
	})
	t.Run("Head", func(t *testing.T) {
		t.Parallel()
		resp, _ := do(t, app, "HEAD", "/", nil)
		require.Equal(t, http.StatusOK, resp.StatusCode)
	})
	t.Run("PassesOn", func(t *testing.T) {
		t.Parallel()
		for _, tc := range []struct{ method, path, want string }{
			{"GET", "/api/leads", "api"},
			{"GET", "/api/nope", "no route"},
			{"GET", "/assets/missing.js", "no route"},
			{"GET", "/assets/../index.html", "no route"},
			{"GET", "/index.html", "no route"},
			{"GET", "/health", "no route"},
			{"POST", "/", "no route"},
		} {
			_, body := do(t, app, tc.method, tc.path, nil)
			require.Equal(t, tc.want, body, "%s %s", tc.method, tc.path)
		}
	})
}

var (
	importRe = regexp.MustCompile(`(?m)^import [^;]*? from "\./([^"]+)";`)
	assetRe  = regexp.MustCompile(`(?:src|href)="/assets/([^"]+)"`)
)

// Every module an asset imports and every asset index.html names is embedded, so a renamed
// file fails here rather than in a browser.
func TestFS_References(t *testing.T) {
	t.Parallel()
	files := dashboard.FS()
	index, err := fs.ReadFile(files, "index.html")
	require.NoError(t, err)
	refs := assetRe.FindAllStringSubmatch(string(index), -1)
	require.NotEmpty(t, refs)
	for _, m := range refs {
		_, err := fs.Stat(files, "assets/"+m[1])
		require.NoError(t, err, "index.html names %s", m[1])
	}
	scripts, err := fs.Glob(files, "assets/*.js")
	require.NoError(t, err)
	for _, name := range scripts {
		src, err := fs.ReadFile(files, name)
		require.NoError(t, err)
		for _, m := range importRe.FindAllStringSubmatch(string(src), -1) {
			_, err := fs.Stat(files, "assets/"+m[1])
			require.NoError(t, err, "%s imports %s", name, m[1])
		}
		// Server strings must never become markup.
		require.False(t, strings.Contains(string(src), ".innerHTML") || strings.Contains(string(src), "insertAdjacentHTML"), "%s writes HTML", name)
	}
}

// The dashboard's stream listens for every event type the engine publishes (jack.EventTypes,
// the one list): EventSource delivers a named event only to a listener of that name, so a type
// missing here would never reach the screen.
func TestStream_KnowsEveryEventType(t *testing.T) {
	t.Parallel()
	src, err := fs.ReadFile(dashboard.FS(), "assets/stream.js")
	require.NoError(t, err)
	m := regexp.MustCompile(`export const EVENT_TYPES = \[([^\]]*)\];`).FindStringSubmatch(string(src))
	require.NotNil(t, m, "stream.js exports no EVENT_TYPES array")
	var known []string
	for _, q := range regexp.MustCompile(`"([a-z_.]+)"`).FindAllStringSubmatch(m[1], -1) {
		known = append(known, q[1])
	}
	require.ElementsMatch(t, jack.EventTypes, known, "stream.js EVENT_TYPES and jack.EventTypes differ")
}
