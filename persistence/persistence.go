// Package persistence holds what the SQL Store adapters (postgres, sqlite) share: the opaque
// page cursors, the transaction clock, page limits, LIKE escaping, unique-constraint messages and
// the conversation-change rule and the migrate command. It is small on purpose; each adapter
// keeps its own SQL.
package persistence

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/jack-auto/jack"
	"github.com/pressly/goose/v3"
)

// Page sizes shared by every adapter so both answer the same page for the same filter.
const (
	DefaultLeadLimit    = 50
	MaxLeadLimit        = 200
	DefaultMessageLimit = 50
	MaxMessageLimit     = 200
	DefaultEventLimit   = 500
	MaxEventLimit       = 5000
)

// TimeFormat is how SQLite stores times: fixed-width UTC with microseconds, so strings sort as times.
const TimeFormat = "2006-01-02T15:04:05.000000Z"

// TxTime is a transaction's clock reading: now() in UTC truncated to microseconds, the
// precision both databases keep, so a value written and read back compares equal.
func TxTime(now func() time.Time) time.Time {
	if now == nil {
		now = time.Now
	}
	return Truncate(now())
}

// Truncate returns t in UTC truncated to microseconds.
func Truncate(t time.Time) time.Time { return t.UTC().Truncate(time.Microsecond) }

// FormatTime formats t in TimeFormat (after Truncate).
func FormatTime(t time.Time) string { return Truncate(t).Format(TimeFormat) }

// ParseTime reads a time written by FormatTime. It also accepts RFC 3339 for hand-written rows.
func ParseTime(s string) (time.Time, error) {
	t, err := time.Parse(TimeFormat, s)
	if err != nil {
		t, err = time.Parse(time.RFC3339Nano, s)
	}
	return t.UTC(), err
}

// Cursor kinds: a cursor is only valid for the listing that issued it.
const (
	CursorLeadsCreated  = "lc"
	CursorLeadsActivity = "la"
	CursorMessages      = "m"
)

// Cursor is the position after which (in the listing's order) the next page starts: the sort
// time and the id of the last row of the previous page.
type Cursor struct {
	Time time.Time
	ID   string
}

type cursorJSON struct {
	K string `json:"k"`
	T string `json:"t"`
	I string `json:"i"`
}

// EncodeCursor returns the opaque form of c for a listing of kind.
func EncodeCursor(kind string, c Cursor) string {
	b, _ := json.Marshal(cursorJSON{K: kind, T: Truncate(c.Time).Format(time.RFC3339Nano), I: c.ID})
	return base64.RawURLEncoding.EncodeToString(b)
}

// DecodeCursor reads a cursor of kind. Returns EINVALID when s is malformed or was issued by
// another listing (a lead cursor of the other sort, a message cursor for leads).
func DecodeCursor(kind, s string) (Cursor, error) {
	invalid := jack.Errorf(jack.EINVALID, "Invalid cursor.")
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return Cursor{}, invalid
	}
	var c cursorJSON
	if err := json.Unmarshal(b, &c); err != nil || c.K != kind || c.I == "" {
		return Cursor{}, invalid
	}
	t, err := time.Parse(time.RFC3339Nano, c.T)
	if err != nil {
		return Cursor{}, invalid
	}
	return Cursor{Time: t.UTC(), ID: c.I}, nil
}

// LeadSort returns the cursor kind and sort column of a lead listing; EINVALID for an unknown sort.
func LeadSort(s jack.LeadSort) (kind, column string, err error) {
	switch s {
	case "", jack.LeadSortCreated:
		return CursorLeadsCreated, "created_at", nil
	case jack.LeadSortActivity:
		return CursorLeadsActivity, "last_activity", nil
	}
	return "", "", jack.Errorf(jack.EINVALID, "Unknown sort %q: use created or activity.", string(s))
}

// LikePattern returns a case-folded "%q%" pattern with LIKE wildcards in q escaped by '\'
// (use ESCAPE '\' in the query and compare against a lower-cased column).
func LikePattern(q string) string {
	r := strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`)
	return "%" + r.Replace(strings.ToLower(q)) + "%"
}

// Unique constraint names of the schema (migrations/*/00001_init.sql).
const (
	UniqueUserEmail        = "user_profiles_email_key"
	UniquePhoneNumber      = "organization_phone_numbers_phone_number_key"
	UniqueLeadPhone        = "leads_organization_id_phone_number_normalized_key"
	UniqueMessageSid       = "conversations_org_message_sid_key"
	UniqueIdempotencyKey   = "conversations_org_idempotency_key"
	UniqueSummaryPhone     = "conversation_summaries_org_phone_key"
	UniqueCallConversation = "call_sessions_org_conversation_key"
)

var conflictMessages = map[string]string{
	UniqueUserEmail:        "A user with this email already exists.",
	UniquePhoneNumber:      "This phone number is already registered.",
	UniqueLeadPhone:        "A lead with this phone number already exists.",
	UniqueMessageSid:       "A message with this MessageSid already exists.",
	UniqueIdempotencyKey:   "A message with this idempotency key already exists.",
	UniqueSummaryPhone:     "This conversation already has a summary.",
	UniqueCallConversation: "This call is already recorded.",
}

// ConflictError returns the ECONFLICT error for a violated unique constraint, with a message
// safe for users (never the database's text).
func ConflictError(constraint string) error {
	if msg, ok := conflictMessages[constraint]; ok {
		return jack.Errorf(jack.ECONFLICT, "%s", msg)
	}
	return jack.Errorf(jack.ECONFLICT, "This record already exists.")
}

// ApplyConversationChange applies ch to l's conversation fields at now (the transaction's time)
// and bumps its version and updated_at. Both adapters run it between a locked read and a write.
func ApplyConversationChange(l *jack.Lead, ch jack.ConversationChange, now time.Time) {
	l.TotalConversations += ch.Messages
	if ch.Activity != nil {
		l.LastActivity = Truncate(*ch.Activity)
	}
	if ch.Touchpoint != nil {
		t := Truncate(*ch.Touchpoint)
		l.LastTouchpoint = &t
	}
	if ch.OptOut != nil {
		switch {
		case !*ch.OptOut:
			l.OptedOutAt = nil
		case l.OptedOutAt == nil:
			t := now
			l.OptedOutAt = &t
		}
	}
	if ch.AIPausedUntil != nil {
		t := Truncate(*ch.AIPausedUntil)
		l.AIPausedUntil = &t
	}
	if ch.ResumeAI {
		l.AIPausedUntil = nil
	}
	if ch.ChaseStatus != nil {
		l.ChaseStatus = *ch.ChaseStatus
	}
	if ch.VehicleInterest != nil {
		l.VehiclePreference = *ch.VehicleInterest
	}
	if ch.BudgetRange != nil {
		l.BudgetRange = *ch.BudgetRange
	}
	if ch.CreditScoreRange != nil {
		l.CreditScoreRange = *ch.CreditScoreRange
	}
	if ch.ScriptProgress != nil {
		l.ScriptProgress = *ch.ScriptProgress
	}
	l.Version++
	l.UpdatedAt = now
}

// ApplyOrganizationUpdate copies the set fields of upd onto o.
func ApplyOrganizationUpdate(o *jack.Organization, upd jack.OrganizationUpdate) {
	if upd.Name != nil {
		o.Name = *upd.Name
	}
	if upd.Domain != nil {
		o.Domain = *upd.Domain
	}
	if upd.Settings != nil {
		o.Settings = *upd.Settings
	}
}

// RunMigrations runs a migrate command with p and reports to w: "up" applies every pending
// migration, "down" rolls back the latest one (nothing to roll back is no error), "status"
// lists each migration's state.
func RunMigrations(ctx context.Context, p *goose.Provider, command string, w io.Writer) error {
	if w == nil {
		w = io.Discard
	}
	switch command {
	case "up":
		results, err := p.Up(ctx)
		for _, r := range results {
			fmt.Fprintln(w, r)
		}
		if err != nil {
			return fmt.Errorf("migrate up: %w", err)
		}
		if len(results) == 0 {
			fmt.Fprintln(w, "no pending migrations")
		}
	case "down":
		r, err := p.Down(ctx)
		if errors.Is(err, goose.ErrNoNextVersion) {
			fmt.Fprintln(w, "no migration to roll back")
			return nil
		} else if err != nil {
			return fmt.Errorf("migrate down: %w", err)
		}
		fmt.Fprintln(w, r)
	case "status":
		statuses, err := p.Status(ctx)
		if err != nil {
			return fmt.Errorf("migrate status: %w", err)
		}
		for _, st := range statuses {
			state := "pending"
			if st.State == goose.StateApplied {
				state = "applied " + st.AppliedAt.UTC().Format(time.DateTime)
			}
			fmt.Fprintf(w, "%-28s %s\n", st.Source.Path, state)
		}
	default:
		return fmt.Errorf("unknown migrate command %q: use up, down or status", command)
	}
	return nil
}
