package http

import (
	"bytes"
	"unicode/utf8"

	"github.com/gofiber/fiber/v2"
	"github.com/jack-auto/jack"
)

// cleanText, cleanForm and cleanJSON are the domain's cleaning of text from outside (see
// jack.CleanText), applied at this edge.
var (
	cleanJSON = jack.CleanJSON
)

// cleanRequestURL refuses a path or query that holds NUL or invalid UTF-8 (400 on both Stores):
// ids, filters and tokens never contain them, so nothing legitimate is lost.
func cleanRequestURL(c *fiber.Ctx) error {
	uri := c.Request().URI()
	for _, raw := range [][]byte{uri.Path(), uri.QueryString()} {
		if bytes.IndexByte(raw, 0) >= 0 || !utf8.Valid(raw) {
			return jack.Errorf(jack.EINVALID, "The URL holds characters that are not allowed.")
		}
	}
	bad := false
	uri.QueryArgs().VisitAll(func(k, v []byte) {
		if bytes.IndexByte(k, 0) >= 0 || bytes.IndexByte(v, 0) >= 0 || !utf8.Valid(k) || !utf8.Valid(v) {
			bad = true
		}
	})
	if bad {
		return jack.Errorf(jack.EINVALID, "The URL holds characters that are not allowed.")
	}
	return c.Next()
}
