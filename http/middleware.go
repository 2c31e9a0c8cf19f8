package http

import (
	"fmt"
	"log/slog"
	"runtime/debug"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/google/uuid"
	"github.com/jack-auto/jack"
)

// localRequestID is the fiber.Ctx local holding the request id.
const localRequestID = "jack.request_id"

// maxRequestIDLength bounds an incoming X-Request-ID we are willing to echo and log.
const maxRequestIDLength = 128

// requestID honours a sane incoming X-Request-ID (so a proxy's id follows the request) or makes
// one, echoes it in the response and puts it in the user context for logs.
func (s *Server) requestID(c *fiber.Ctx) error {
	id := c.Get(fiber.HeaderXRequestID)
	if !saneRequestID(id) {
		id = newRequestID()
	}
	c.Locals(localRequestID, id)
	c.Set(fiber.HeaderXRequestID, id)
	c.SetUserContext(jack.NewContextWithRequestID(c.UserContext(), id))
	return c.Next()
}

func newRequestID() string { return uuid.Must(uuid.NewV7()).String() }

// saneRequestID accepts 1-128 characters of letters, digits and - _ . : only, so the id is safe
// to echo in a header and to write into logs.
func saneRequestID(id string) bool {
	if id == "" || len(id) > maxRequestIDLength {
		return false
	}
	for _, r := range id {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '-', r == '_', r == '.', r == ':':
		default:
			return false
		}
	}
	return true
}

// requestIDOf returns the request id set by the requestID middleware, or "".
func requestIDOf(c *fiber.Ctx) string {
	id, _ := c.Locals(localRequestID).(string)
	return id
}

// observe answers the chain's error itself (so the status is known here), then records the
// request in metrics and the access log. It logs the route pattern, never the path, query or
// body: paths can hold phone numbers and queries can hold tokens.
func (s *Server) observe(c *fiber.Ctx) error {
	start := time.Now()
	if err := c.Next(); err != nil {
		if herr := s.handleError(c, err); herr != nil {
			return herr
		}
	}
	status, elapsed := c.Response().StatusCode(), time.Since(start)
	route := routeLabel(c)
	s.metrics.observe(c.Method(), route, status, elapsed)
	level := slog.LevelInfo
	if quietRoutes[route] {
		level = slog.LevelDebug
	}
	s.log.Log(c.UserContext(), level, "http request", "method", c.Method(), "route", route,
		"status", status, "duration_ms", float64(elapsed.Microseconds())/1000, "request_id", requestIDOf(c))
	return nil
}

// quietRoutes are polled by probes and scrapers; their access log is debug, not info.
var quietRoutes = map[string]bool{"/health": true, "/ready": true, "/metrics": true}

// routeUnmatched labels requests that matched no route, so scanners cannot grow the metrics.
const routeUnmatched = "unmatched"

// routeLabel is the matched route pattern (/api/leads/:id), or routeUnmatched.
func routeLabel(c *fiber.Ctx) string {
	r := c.Route()
	if r == nil || r.Path == "" || r.Path == "/" && c.Path() != "/" {
		return routeUnmatched // only the Use middleware matched
	}
	return r.Path
}

// limitBody refuses a body over BodyLimit with 413 too_large. The transport's own limit is
// higher (readAheadFactor) so the answer reaches the client on an intact connection.
func (s *Server) limitBody(c *fiber.Ctx) error {
	if len(c.Request().Body()) > s.cfg.BodyLimit {
		return s.errTooLarge()
	}
	return c.Next()
}

func (s *Server) errTooLarge() error {
	return jack.Errorf(jack.ETOOLARGE, "Request body is larger than %s.", byteSize(s.cfg.BodyLimit))
}

// recoverPanic turns a handler's panic into an internal error (logged with its stack by
// handleError, answered as a 500 with the request id) so one bad request never crashes the node.
func (s *Server) recoverPanic(c *fiber.Ctx) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("panic: %v\n%s", r, debug.Stack())
		}
	}()
	return c.Next()
}
