package jack

import (
	"errors"
	"fmt"
)

// Error codes. Each is a class of failure that the HTTP layer maps to one status in one place
// (http/error.go). Codes are snake_case because they travel to clients as the body's "code".
const (
	EINVALID       = "invalid"        // 400: malformed input (bad JSON, bad query)
	EUNAUTHORIZED  = "unauthorized"   // 401: missing, bad or expired credentials or signature
	EFORBIDDEN     = "forbidden"      // 403: authenticated but not allowed
	ENOTFOUND      = "not_found"      // 404: no such thing in this organization
	ECONFLICT      = "conflict"       // 409: duplicate or state conflict
	ETOOLARGE      = "too_large"      // 413: body over the limit
	EUNPROCESSABLE = "unprocessable"  // 422: well-formed but invalid fields
	ERATELIMIT     = "rate_limited"   // 429: slow down
	EINTERNAL      = "internal"       // 500: a bug or an unexpected failure; details never reach users
	EPROVIDER      = "provider_error" // 502: Twilio or ElevenLabs refused or failed
	EUNAVAILABLE   = "unavailable"    // 503: a dependency is down or the node is shutting down
)

// Error is a domain error: Code picks the status, Reason (optional) is a finer snake_case code
// shown to clients instead of Code (opted_out, quiet_hours), Message is safe to show to users.
// Fields names invalid input fields (field → problem); Details carries extra machine-readable data.
type Error struct {
	Code    string
	Reason  string
	Message string
	Fields  map[string]string
	Details map[string]any
}

// Error implements the error interface. Not used for display.
func (e *Error) Error() string {
	code := e.Code
	if e.Reason != "" {
		code += "/" + e.Reason
	}
	return fmt.Sprintf("jack error: code=%s message=%s", code, e.Message)
}

// Errorf is a helper to return an *Error with a formatted message.
func Errorf(code string, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// ReasonErrorf returns an *Error with a finer reason code.
func ReasonErrorf(code, reason string, format string, args ...any) *Error {
	return &Error{Code: code, Reason: reason, Message: fmt.Sprintf(format, args...)}
}

// ReasonFenced is the reason of the EUNAVAILABLE a write gets when its conversation has a newer
// owner (see ConversationStore.InOwnedConversationTx): the caller's activation is stale.
const ReasonFenced = "fenced"

// Fenced returns the error of a write refused because its conversation has a newer owner.
func Fenced() *Error {
	return ReasonErrorf(EUNAVAILABLE, ReasonFenced, "The conversation moved to another node; please retry.")
}

// IsFenced reports whether err is a write refused because its conversation has a newer owner.
func IsFenced(err error) bool {
	var e *Error
	return errors.As(err, &e) && e.Reason == ReasonFenced
}

// ErrorCode unwraps err and returns its code, or EINTERNAL for anything that is not an *Error.
// A nil error has no code.
func ErrorCode(err error) string {
	var e *Error
	if err == nil {
		return ""
	} else if errors.As(err, &e) {
		return e.Code
	}
	return EINTERNAL
}

// ErrorReason returns the finer reason of err when it has one, otherwise its code.
func ErrorReason(err error) string {
	var e *Error
	if errors.As(err, &e) && e.Reason != "" {
		return e.Reason
	}
	return ErrorCode(err)
}

// ErrorMessage unwraps err and returns its user-safe message, or "Internal error." for anything
// that is not an *Error, so SQL or provider internals never reach a user.
func ErrorMessage(err error) string {
	var e *Error
	if err == nil {
		return ""
	} else if errors.As(err, &e) {
		return e.Message
	}
	return "Internal error."
}

// ValidationError returns an EUNPROCESSABLE error naming every invalid field.
// It returns nil when fields is empty, so callers can build the map and return the result.
func ValidationError(fields map[string]string) error {
	if len(fields) == 0 {
		return nil
	}
	return &Error{Code: EUNPROCESSABLE, Message: "Some fields are invalid.", Fields: fields}
}
