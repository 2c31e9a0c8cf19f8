// Package dashboard is the staff dashboard: plain HTML, CSS and JavaScript embedded in the
// binary (no build step), served at / with its files under /assets/. It only reads the JSON API
// and the event stream like any other client, so it has no server-side logic of its own.
package dashboard

import (
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"fmt"
	"io/fs"
	"path"
	"strings"

	"github.com/gofiber/fiber/v2"
)

//go:embed index.html assets
var files embed.FS

// FS returns the dashboard's files: index.html and assets/.
func FS() fs.FS { return files }

// securityHeaders keep the page to its own origin: scripts, styles and connections only from
// here (so an injected string can never load code), never framed, and no Referer that could
// carry a stream token elsewhere.
var securityHeaders = map[string]string{
	"Content-Security-Policy": "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
		"connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'",
	"X-Content-Type-Options": "nosniff",
	"Referrer-Policy":        "no-referrer",
	"X-Frame-Options":        "DENY",
}

// contentTypes is fixed rather than read from the system's MIME database, which differs between
// machines; modules must be served as JavaScript or browsers refuse them.
var contentTypes = map[string]string{
	".html": "text/html; charset=utf-8",
	".css":  "text/css; charset=utf-8",
	".js":   "text/javascript; charset=utf-8",
	".svg":  "image/svg+xml",
}

type file struct {
	body        []byte
	contentType string
	etag        string
}

// Handler serves GET and HEAD of / (index.html) and /assets/<file>; every other request,
// including an unknown asset, passes to the next handler, so it never shadows a route and can
// be mounted with app.Use after the API. The pages route on the URL fragment (#/leads/…), so
// the server needs no fallback for client-side paths.
func Handler() fiber.Handler {
	byPath := map[string]*file{}
	err := fs.WalkDir(files, ".", func(name string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		body, err := fs.ReadFile(files, name)
		if err != nil {
			return err
		}
		sum := sha256.Sum256(body)
		ct, ok := contentTypes[path.Ext(name)]
		if !ok {
			return fmt.Errorf("%s: no content type for its extension", name)
		}
		byPath["/"+name] = &file{body: body, contentType: ct, etag: `"` + hex.EncodeToString(sum[:8]) + `"`}
		return nil
	})
	if err != nil {
		panic("dashboard: embedded files: " + err.Error()) // the embed is fixed at build time
	}
	byPath["/"] = byPath["/index.html"]

	return func(c *fiber.Ctx) error {
		if c.Method() != fiber.MethodGet && c.Method() != fiber.MethodHead {
			return c.Next()
		}
		p := c.Path()
		if p != "/" && !strings.HasPrefix(p, "/assets/") {
			return c.Next()
		}
		f := byPath[p]
		if f == nil {
			return c.Next()
		}
		for k, v := range securityHeaders {
			c.Set(k, v)
		}
		// no-cache still lets the browser keep the file, but it asks each time, so a new binary's
		// files are picked up at once; the ETag makes the answer a cheap 304.
		c.Set(fiber.HeaderCacheControl, "no-cache")
		c.Set(fiber.HeaderETag, f.etag)
		if c.Get(fiber.HeaderIfNoneMatch) == f.etag {
			return c.SendStatus(fiber.StatusNotModified)
		}
		c.Set(fiber.HeaderContentType, f.contentType)
		return c.Send(f.body)
	}
}
