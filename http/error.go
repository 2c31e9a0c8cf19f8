package http

import (
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/gofiber/fiber/v2"
	"github.com/jack-auto/jack"
)

// statusOf maps a domain error code to its HTTP status. It is the only such table: handlers just
// return errors and handleError answers them.
var statusOf = map[string]int{
	jack.EINVALID:       fiber.StatusBadRequest,
	jack.EUNAUTHORIZED:  fiber.StatusUnauthorized,
	jack.EFORBIDDEN:     fiber.StatusForbidden,
	jack.ENOTFOUND:      fiber.StatusNotFound,
	jack.ECONFLICT:      fiber.StatusConflict,
	jack.ETOOLARGE:      fiber.StatusRequestEntityTooLarge,
	jack.EUNPROCESSABLE: fiber.StatusUnprocessableEntity,
	jack.ERATELIMIT:     fiber.StatusTooManyRequests,
	jack.EINTERNAL:      fiber.StatusInternalServerError,
	jack.EPROVIDER:      fiber.StatusBadGateway,
	jack.EUNAVAILABLE:   fiber.StatusServiceUnavailable,
}

// retryAfterUnavailable is the Retry-After of a 503, in seconds.
const retryAfterUnavailable = "2"

// codeOfStatus is statusOf reversed, for Fiber's own errors (unknown route, body too large).
var codeOfStatus = func() map[int]string {
	m := make(map[int]string, len(statusOf))
	for code, status := range statusOf {
		m[status] = code
	}
	return m
}()

// ErrorStatusCode returns the HTTP status of a domain error code; 500 for unknown codes.
func ErrorStatusCode(code string) int {
	if status, ok := statusOf[code]; ok {
		return status
	}
	return fiber.StatusInternalServerError
}

// errorBody is the JSON every failure answers with.
type errorBody struct {
	Error map[string]any `json:"error"`
}

// handleError is fiber.Config.ErrorHandler. It answers
// {"error":{"code","message","fields"?,...details,"requestId"?}}, logs only internal errors and
// counts errors by code.
func (s *Server) handleError(c *fiber.Ctx, err error) error {
	status, err := s.domainError(err)
	id := requestIDOf(c)

	body := map[string]any{"code": jack.ErrorReason(err), "message": jack.ErrorMessage(err)}
	var e *jack.Error
	if errors.As(err, &e) {
		for k, v := range e.Details {
			body[k] = v
		}
		if len(e.Fields) > 0 {
			body["fields"] = e.Fields
		}
	}
	if status == fiber.StatusInternalServerError {
		// Whatever the error says, users only learn that it happened and how to quote it.
		body = map[string]any{"code": jack.EINTERNAL, "message": "Internal error.", "requestId": id}
		s.log.ErrorContext(c.UserContext(), "internal error", "err", err, "request_id", id,
			"method", c.Method(), "route", c.Route().Path)
	}
	s.metrics.errors.WithLabelValues(body["code"].(string)).Inc()
	if status == fiber.StatusServiceUnavailable && len(c.Response().Header.Peek(fiber.HeaderRetryAfter)) == 0 {
		c.Set(fiber.HeaderRetryAfter, retryAfterUnavailable) // a database fault, a node shutting down
	}

	if id == "" {
		// Fasthttp rejected the request (body too large, bad headers) before any middleware ran.
		c.Set(fiber.HeaderXRequestID, newRequestID())
		s.metrics.observe(c.Method(), routeUnmatched, status, 0)
	}
	return c.Status(status).JSON(errorBody{Error: body})
}

// domainError returns the status of err and err as a domain error. Fiber's own errors (no route, wrong
// method, body too large, unreadable request) become domain errors so they answer in the same
// shape, keeping statuses that have no domain code (405, 408, 431).
func (s *Server) domainError(err error) (int, error) {
	var fe *fiber.Error
	if !errors.As(err, &fe) {
		return ErrorStatusCode(jack.ErrorCode(err)), err
	}
	switch {
	case fe.Code == fiber.StatusNotFound:
		return fe.Code, jack.Errorf(jack.ENOTFOUND, "No such route.")
	case fe.Code == fiber.StatusRequestEntityTooLarge:
		return fe.Code, s.errTooLarge()
	case fe.Code >= fiber.StatusInternalServerError:
		return fiber.StatusInternalServerError, fmt.Errorf("fiber: %w", err)
	}
	text := http.StatusText(fe.Code)
	if code, ok := codeOfStatus[fe.Code]; ok {
		return fe.Code, &jack.Error{Code: code, Message: text + "."}
	}
	reason := strings.ToLower(strings.ReplaceAll(text, " ", "_")) // method_not_allowed
	return fe.Code, &jack.Error{Code: jack.EINVALID, Reason: reason, Message: text + "."}
}

// byteSize formats a byte count for messages: 1 MiB, 512 KiB, 1000 bytes.
func byteSize(n int) string {
	switch {
	case n >= 1<<20 && n%(1<<20) == 0:
		return fmt.Sprintf("%d MiB", n>>20)
	case n >= 1<<10 && n%(1<<10) == 0:
		return fmt.Sprintf("%d KiB", n>>10)
	}
	return fmt.Sprintf("%d bytes", n)
}
