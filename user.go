package jack

import (
	"net/mail"
	"strings"
	"time"

	"github.com/google/uuid"
)

// Role is what a user may do inside their organization.
type Role string

// Roles, from most to least powerful. The seed's default role "user" reads as RoleAgent.
const (
	RoleOwner Role = "owner" // created with the organization; everything an admin can do
	RoleAdmin Role = "admin" // manages users and phone numbers
	RoleAgent Role = "agent" // works leads and conversations
)

// Valid reports whether r is a known role.
func (r Role) Valid() bool { return r == RoleOwner || r == RoleAdmin || r == RoleAgent }

// IsAdmin reports whether r may administer the organization (users, phone numbers, imports).
func (r Role) IsAdmin() bool { return r == RoleOwner || r == RoleAdmin }

// ParseRole reads a stored role; the seed's "user" and anything unknown read as RoleAgent.
func ParseRole(s string) Role {
	if r := Role(s); r.Valid() {
		return r
	}
	return RoleAgent
}

// User is a member of a dealership's staff (the seed's user_profiles).
type User struct {
	ID             uuid.UUID `json:"id"`
	Email          string    `json:"email"`
	PasswordHash   string    `json:"-"`
	FullName       string    `json:"fullName"`
	OrganizationID uuid.UUID `json:"organizationId"`
	Role           Role      `json:"role"`
	// Active is false for a deactivated user, who can neither sign in nor use a token.
	Active    bool      `json:"active"`
	CreatedAt time.Time `json:"createdAt"`
	UpdatedAt time.Time `json:"updatedAt"`
}

// UserUpdate changes a user; nil fields change nothing.
type UserUpdate struct {
	Role         *Role
	Active       *bool   // false deactivates (and revokes every session), true reactivates
	PasswordHash *string // a new bcrypt hash
}

// Apply sets upd's fields on u, changed at now.
func (u *User) Apply(upd UserUpdate, now time.Time) {
	if upd.Role != nil {
		u.Role = *upd.Role
	}
	if upd.Active != nil {
		u.Active = *upd.Active
	}
	if upd.PasswordHash != nil {
		u.PasswordHash = *upd.PasswordHash
	}
	u.UpdatedAt = now
}

// Session is one sign-in: every access token (and the stream tokens minted from it) names one,
// and a token works only while its session is valid.
type Session struct {
	ID             uuid.UUID
	OrganizationID uuid.UUID
	UserID         uuid.UUID
	CreatedAt      time.Time
	ExpiresAt      time.Time
	RevokedAt      *time.Time
	// Role and Active are the user's current ones, read with the session: a role change or a
	// deactivation applies to tokens already issued.
	Role   Role
	Active bool
}

// Valid reports whether the session may be used at now.
func (s *Session) Valid(now time.Time) bool {
	return s.RevokedAt == nil && s.Active && now.Before(s.ExpiresAt)
}

// Reasons of the user-management conflicts.
const (
	// ReasonLastAdmin: the change would leave the organization without an active owner or admin.
	ReasonLastAdmin = "last_admin"
)

// MinPasswordLength is the shortest password accepted.
const MinPasswordLength = 8

// NormalizeEmail trims and lower-cases an address so lookups are case-insensitive.
func NormalizeEmail(email string) string { return strings.ToLower(strings.TrimSpace(email)) }

// ValidateEmail returns a problem description for an invalid address, or "".
func ValidateEmail(email string) string {
	if email == "" {
		return "is required"
	}
	if len(email) > 255 {
		return "must be at most 255 characters"
	}
	a, err := mail.ParseAddress(email)
	if err != nil || a.Address != email || !strings.Contains(email[strings.LastIndex(email, "@")+1:], ".") {
		return "is not a valid email address"
	}
	return ""
}

// ValidatePassword returns a problem description for an unacceptable password, or "".
func ValidatePassword(password string) string {
	switch {
	case password == "":
		return "is required"
	case len(password) < MinPasswordLength:
		return "must be at least 8 characters"
	case len(password) > 72: // bcrypt reads at most 72 bytes
		return "must be at most 72 bytes"
	}
	return ""
}

// Validate returns EUNPROCESSABLE naming each invalid field of a user about to be stored.
func (u *User) Validate() error {
	fields := map[string]string{}
	if p := ValidateEmail(u.Email); p != "" {
		fields["email"] = p
	}
	if len(u.FullName) > 255 {
		fields["fullName"] = "must be at most 255 characters"
	}
	if !u.Role.Valid() {
		fields["role"] = "must be one of owner, admin, agent"
	}
	if u.PasswordHash == "" {
		fields["password"] = "is required"
	}
	return ValidationError(fields)
}
