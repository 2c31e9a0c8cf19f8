// Package persistence holds what the SQL Store adapters (postgres, sqlite) share: the opaque
// page cursors, the transaction clock, page limits, LIKE escaping, unique-constraint messages,
// the conversation-change rule, call-session and summary defaults, event-id assignment, the lead
// import rule, the report figures (report.go), the column lists and row scanners with the scan
// destinations both engines' values fit (scan.go) and the migrate command. Each adapter keeps
// its own SQL statements.
package persistence

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"
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
	CursorLeadsScore    = "ls"
	CursorMessages      = "m"
)

// Cursor is the position after which (in the listing's order) the next page starts: the sort
// key and the id of the last row of the previous page. Score listings sort by Score (nil for
// an unscored lead, which sorts last), the others by Time.
type Cursor struct {
	Time  time.Time
	Score *float64
	ID    string
}

type cursorJSON struct {
	K string   `json:"k"`
	T string   `json:"t,omitempty"`
	S *float64 `json:"s,omitempty"`
	I string   `json:"i"`
}

// EncodeCursor returns the opaque form of c for a listing of kind.
func EncodeCursor(kind string, c Cursor) string {
	cj := cursorJSON{K: kind, I: c.ID}
	if kind == CursorLeadsScore {
		cj.S = c.Score
	} else {
		cj.T = Truncate(c.Time).Format(time.RFC3339Nano)
	}
	b, _ := json.Marshal(cj)
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
	if kind == CursorLeadsScore {
		return Cursor{Score: c.S, ID: c.I}, nil
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
	case jack.LeadSortScore:
		return CursorLeadsScore, "lead_quality_score", nil
	}
	return "", "", jack.Errorf(jack.EINVALID, "Unknown sort %q: use created, activity or score.", string(s))
}

// LeadOrderBy returns the ORDER BY terms of a lead listing of kind sorted by column: newest (or
// highest score) first, unscored leads last, id as the tiebreak. Both dialects accept it.
func LeadOrderBy(kind, column string) string {
	if kind == CursorLeadsScore {
		return column + " DESC NULLS LAST, id DESC"
	}
	return column + " DESC, id DESC"
}

// LeadAfter returns the WHERE condition that starts a lead listing of kind, sorted by column,
// after cursor c; arg adds a query argument and returns its placeholder. A score cursor of an
// unscored lead continues among the unscored; one of a scored lead continues with lower scores,
// then the unscored.
func LeadAfter(kind, column string, c Cursor, arg func(v any) string) string {
	switch {
	case kind != CursorLeadsScore:
		return fmt.Sprintf("(%s, id) < (%s, %s)", column, arg(c.Time), arg(c.ID))
	case c.Score == nil:
		return fmt.Sprintf("(%s IS NULL AND id < %s)", column, arg(c.ID))
	}
	// One placeholder per use: SQLite's ? cannot be referenced twice. Placeholders appear in
	// the order arg is called.
	return fmt.Sprintf("(%[1]s < %[2]s OR (%[1]s = %[3]s AND id < %[4]s) OR %[1]s IS NULL)",
		column, arg(*c.Score), arg(*c.Score), arg(c.ID))
}

// NextLeadCursor returns the cursor of the page after one that ended with last.
func NextLeadCursor(kind string, last *jack.Lead) string {
	c := Cursor{Time: last.CreatedAt, ID: last.ID}
	switch kind {
	case CursorLeadsActivity:
		c.Time = last.LastActivity
	case CursorLeadsScore:
		c.Time, c.Score = time.Time{}, last.LeadQualityScore
	}
	return EncodeCursor(kind, c)
}

// CheckMinScore returns EINVALID for a score filter that is not a number.
func CheckMinScore(score *float64) error {
	if score != nil && (math.IsNaN(*score) || math.IsInf(*score, 0)) {
		return jack.Errorf(jack.EINVALID, "The minimum score must be a number.")
	}
	return nil
}

// LikePattern returns a case-folded "%q%" pattern with LIKE wildcards in q escaped by '\'
// (use ESCAPE '\' in the query and compare against a lower-cased column).
func LikePattern(q string) string {
	r := strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`)
	return "%" + r.Replace(strings.ToLower(q)) + "%"
}

// Unique constraint names of the schema (migrations/*/00001_init.sql, 00002_call_sid.sql,
// 00003_reports.sql, 00004_nurture.sql).
const (
	UniqueUserEmail        = "user_profiles_email_key"
	UniquePhoneNumber      = "organization_phone_numbers_phone_number_key"
	UniqueLeadPhone        = "leads_organization_id_phone_number_normalized_key"
	UniqueMessageSid       = "conversations_org_message_sid_key"
	UniqueIdempotencyKey   = "conversations_org_idempotency_key"
	UniqueSummaryPhone     = "conversation_summaries_org_phone_key"
	UniqueCallConversation = "call_sessions_org_conversation_key"
	UniqueCallSid          = "call_sessions_org_call_sid_key"
	UniqueLeadExternalID   = "leads_org_source_external_id_key"
	UniqueReminderPending  = "reminders_org_phone_pending_key"
)

var conflictMessages = map[string]string{
	UniqueUserEmail:        "A user with this email already exists.",
	UniquePhoneNumber:      "This phone number is already registered.",
	UniqueLeadPhone:        "A lead with this phone number already exists.",
	UniqueMessageSid:       "A message with this MessageSid already exists.",
	UniqueIdempotencyKey:   "A message with this idempotency key already exists.",
	UniqueSummaryPhone:     "This conversation already has a summary.",
	UniqueCallConversation: "This call is already recorded.",
	UniqueCallSid:          "This call is already recorded.",
	UniqueLeadExternalID:   "A lead with this source and external id already exists.",
	UniqueReminderPending:  "This conversation already has a pending reminder.",
}

// ConflictError returns the ECONFLICT error for a violated unique constraint, with a message
// safe for users (never the database's text).
func ConflictError(constraint string) error {
	if msg, ok := conflictMessages[constraint]; ok {
		return jack.Errorf(jack.ECONFLICT, "%s", msg)
	}
	return jack.Errorf(jack.ECONFLICT, "This record already exists.")
}

// CheckConversationChange returns EUNPROCESSABLE naming each field of ch a lead cannot hold:
// a score outside 0–100 (or not a number) would break score listings, and a sentiment outside
// jack.Sentiments would make the lead fail validation on its next CRM update.
func CheckConversationChange(ch jack.ConversationChange) error {
	fields := map[string]string{}
	if s := ch.LeadQualityScore; s != nil && !(*s >= 0 && *s <= 100) {
		fields["leadQualityScore"] = "must be between 0 and 100"
	}
	if ch.Sentiment != nil && !slices.Contains(jack.Sentiments, *ch.Sentiment) {
		fields["sentiment"] = "must be one of " + strings.Join(jack.Sentiments, ", ")
	}
	return jack.ValidationError(fields)
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
	if ch.LeadQualityScore != nil {
		score := *ch.LeadQualityScore
		l.LeadQualityScore = &score
	}
	if ch.Sentiment != nil {
		l.Sentiment = *ch.Sentiment
	}
	l.Version++
	l.UpdatedAt = now
}

// PrepareCallSession fills cs's defaults before an insert in orgID at now: a fresh id, the
// organization, the start time (now when zero, else truncated) and the inbound direction.
func PrepareCallSession(cs *jack.CallSession, orgID uuid.UUID, now time.Time) {
	if cs.ID == uuid.Nil {
		cs.ID = uuid.Must(uuid.NewV7())
	}
	cs.OrganizationID = orgID
	if cs.StartedAt.IsZero() {
		cs.StartedAt = now
	}
	cs.StartedAt = Truncate(cs.StartedAt)
	if cs.Direction == "" {
		cs.Direction = "inbound"
	}
}

// CallSessionData returns what elevenlabs_data stores for d: d compacted, or '{}' when d is
// empty (the column is NOT NULL). EINVALID when d is not JSON.
func CallSessionData(d json.RawMessage) ([]byte, error) {
	if len(bytes.TrimSpace(d)) == 0 {
		return []byte("{}"), nil
	}
	var buf bytes.Buffer
	if err := json.Compact(&buf, d); err != nil {
		return nil, jack.Errorf(jack.EINVALID, "The call data is not valid JSON.")
	}
	return buf.Bytes(), nil
}

// DuplicateCallSession returns what CreateCallSession answers when its insert of cs was a
// no-op: the stored call holding one of cs's keys (found by find, the adapter's
// FindCallSession) and false, or ECONFLICT when none does (only the row id collided).
func DuplicateCallSession(cs *jack.CallSession, find func(conversationID, callSid string) (*jack.CallSession, error)) (*jack.CallSession, bool, error) {
	existing, err := find(cs.VoiceConversationID, cs.ProviderCallID)
	if jack.ErrorCode(err) == jack.ENOTFOUND {
		return nil, false, jack.Errorf(jack.ECONFLICT, "This call session already exists.")
	}
	if err != nil {
		return nil, false, fmt.Errorf("find duplicate call session: %w", err)
	}
	return existing, false, nil
}

// CallSessionKey is a unique key of call_sessions: a column and the value to match.
type CallSessionKey struct{ Column, Value string }

// CallSessionKeys returns the keys a call session is found by, in order of precedence: the
// ElevenLabs conversation id, then the Twilio call sid. Empty values are left out (they are
// stored as NULL and match nothing).
func CallSessionKeys(conversationID, callSid string) []CallSessionKey {
	keys := make([]CallSessionKey, 0, 2)
	if conversationID != "" {
		keys = append(keys, CallSessionKey{"elevenlabs_conversation_id", conversationID})
	}
	if callSid != "" {
		keys = append(keys, CallSessionKey{"twilio_call_sid", callSid})
	}
	return keys
}

// PrepareSummary fills s's defaults before an upsert in orgID: a fresh id (kept only when the
// conversation has no summary yet), the organization and the seed's summary type.
func PrepareSummary(s *jack.Summary, orgID uuid.UUID) {
	if s.ID == uuid.Nil {
		s.ID = uuid.Must(uuid.NewV7())
	}
	s.OrganizationID = orgID
	if s.SummaryType == "" {
		s.SummaryType = "elevenlabs"
	}
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
