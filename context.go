package jack

import (
	"context"
	"time"

	"github.com/google/uuid"
)

// contextKey keeps this package's context values private.
type contextKey int

const (
	userContextKey = contextKey(iota + 1)
	requestIDContextKey
)

// Principal is who is calling: the authenticated user and their organization, taken from the token.
type Principal struct {
	UserID         uuid.UUID
	Email          string
	OrganizationID uuid.UUID
	// Role is the user's current role (read with the session), not the one the token was
	// issued with.
	Role Role
	// SessionID is the sign-in the token belongs to; SessionExpiresAt is when it ends.
	SessionID        uuid.UUID
	SessionExpiresAt time.Time
}

// NewContextWithPrincipal returns a copy of ctx carrying the authenticated principal.
func NewContextWithPrincipal(ctx context.Context, p *Principal) context.Context {
	return context.WithValue(ctx, userContextKey, p)
}

// PrincipalFromContext returns the authenticated principal, or nil.
func PrincipalFromContext(ctx context.Context) *Principal {
	p, _ := ctx.Value(userContextKey).(*Principal)
	return p
}

// NewContextWithRequestID returns a copy of ctx carrying the request id (for logs).
func NewContextWithRequestID(ctx context.Context, id string) context.Context {
	return context.WithValue(ctx, requestIDContextKey, id)
}

// RequestIDFromContext returns the request id, or "".
func RequestIDFromContext(ctx context.Context) string {
	id, _ := ctx.Value(requestIDContextKey).(string)
	return id
}
