package http

import (
	_ "embed"
	"encoding/json"
	"fmt"

	"github.com/gofiber/fiber/v2"
)

// openAPIJSON is the hand-maintained OpenAPI 3.0 document of every route. Change it with the
// route: TestOpenAPI_CoversRoutes fails when a route and the document disagree.
//
//go:embed openapi.json
var openAPIJSON []byte

// openAPIDocument returns the document served at /api/openapi.json, with serverURL (when set)
// as its only server.
func openAPIDocument(serverURL string) ([]byte, error) {
	var doc map[string]any
	if err := json.Unmarshal(openAPIJSON, &doc); err != nil {
		return nil, fmt.Errorf("http: openapi.json: %w", err)
	}
	if serverURL == "" {
		return openAPIJSON, nil
	}
	doc["servers"] = []any{map[string]any{"url": serverURL}}
	return json.MarshalIndent(doc, "", "  ")
}

// openAPIHandler serves the document.
func (s *Server) openAPIHandler(c *fiber.Ctx) error {
	c.Set(fiber.HeaderContentType, fiber.MIMEApplicationJSONCharsetUTF8)
	return c.Send(s.openAPI)
}
