package persistence

import (
	"bytes"
	"encoding/json"
	"fmt"
	"time"

	"github.com/google/uuid"

	"github.com/jack-auto/jack"
)

// Row is one result row of either adapter: pgx.Row and pgx.Rows, *sql.Row and *sql.Rows.
type Row interface{ Scan(dest ...any) error }

// Scan destinations that take a column as either engine hands it over: Postgres's native
// values (time.Time, a UUID as text, jsonb as bytes; pgx passes sql.Scanner destinations the
// database/sql value) or SQLite's text (fixed-width times, UUIDs and JSON as text; an empty
// optional string stored as NULL). NULL reads as the zero value.

// Time scans a NOT NULL time column into p.
func Time(p *time.Time) any { return timeDest{p} }

// NullTime scans a nullable time column into p (nil for NULL).
func NullTime(p **time.Time) any { return nullTimeDest{p} }

// NullString scans a nullable text column into p ("" for NULL).
func NullString(p *string) any { return nullStringDest{p} }

// NullUUID scans a nullable UUID column into p (nil for NULL).
func NullUUID(p **uuid.UUID) any { return nullUUIDDest{p} }

// JSON scans a JSON column (jsonb or text) into p with json.Unmarshal; NULL leaves p alone.
func JSON(p any) any { return jsonDest{p} }

type timeDest struct{ p *time.Time }

func (d timeDest) Scan(v any) error {
	if t, ok := v.(time.Time); ok {
		*d.p = t
		return nil
	}
	s, err := asText(v)
	if err != nil {
		return err
	}
	t, err := ParseTime(s)
	*d.p = t
	return err
}

type nullTimeDest struct{ p **time.Time }

func (d nullTimeDest) Scan(v any) error {
	if v == nil {
		*d.p = nil
		return nil
	}
	var t time.Time
	if err := (timeDest{&t}).Scan(v); err != nil {
		return err
	}
	*d.p = &t
	return nil
}

type nullStringDest struct{ p *string }

func (d nullStringDest) Scan(v any) error {
	if v == nil {
		*d.p = ""
		return nil
	}
	s, err := asText(v)
	*d.p = s
	return err
}

type nullUUIDDest struct{ p **uuid.UUID }

func (d nullUUIDDest) Scan(v any) error {
	if v == nil {
		*d.p = nil
		return nil
	}
	var id uuid.UUID
	if err := id.Scan(v); err != nil {
		return err
	}
	*d.p = &id
	return nil
}

type jsonDest struct{ p any }

func (d jsonDest) Scan(v any) error {
	if v == nil {
		return nil
	}
	s, err := asText(v)
	if err != nil {
		return err
	}
	return json.Unmarshal([]byte(s), d.p)
}

func asText(v any) (string, error) {
	switch v := v.(type) {
	case string:
		return v, nil
	case []byte:
		return string(v), nil
	}
	return "", fmt.Errorf("cannot scan %T as text", v)
}

// compactJSON gives JSON back as json.Marshal writes it (jsonb reformats what it stores).
func compactJSON(b []byte) []byte {
	var buf bytes.Buffer
	if err := json.Compact(&buf, b); err != nil {
		return b
	}
	return buf.Bytes()
}

// Column lists and row scanners both adapters share. Each list is the table's columns in the
// order its scanner reads them; the SQL that selects them is each adapter's own.

// OrganizationColumns are the organizations columns ScanOrganization reads.
const OrganizationColumns = `id, name, domain, settings, default_phone_number_id, created_at`

// ScanOrganization reads a row of OrganizationColumns.
func ScanOrganization(row Row) (*jack.Organization, error) {
	var o jack.Organization
	if err := row.Scan(&o.ID, &o.Name, NullString(&o.Domain), JSON(&o.Settings),
		NullUUID(&o.DefaultPhoneNumberID), Time(&o.CreatedAt)); err != nil {
		return nil, err
	}
	return &o, nil
}

// PhoneNumberColumns are the organization_phone_numbers columns ScanPhoneNumber reads.
const PhoneNumberColumns = `id, organization_id, phone_number, elevenlabs_phone_id, twilio_phone_sid, is_active, created_at`

// ScanPhoneNumber reads a row of PhoneNumberColumns.
func ScanPhoneNumber(row Row) (*jack.PhoneNumber, error) {
	var pn jack.PhoneNumber
	if err := row.Scan(&pn.ID, &pn.OrganizationID, &pn.PhoneNumber, NullString(&pn.VoicePhoneID),
		&pn.ProviderPhoneID, &pn.IsActive, Time(&pn.CreatedAt)); err != nil {
		return nil, err
	}
	return &pn, nil
}

// UserColumns are the user_profiles columns a user is written with; a read adds whether the
// user is active (SelectUserColumns).
const (
	UserColumns       = `id, email, password_hash, full_name, organization_id, role, created_at, updated_at`
	SelectUserColumns = UserColumns + `, deactivated_at IS NULL`
)

// ScanUser reads a row of SelectUserColumns.
func ScanUser(row Row) (*jack.User, error) {
	var u jack.User
	var role string
	if err := row.Scan(&u.ID, &u.Email, &u.PasswordHash, NullString(&u.FullName), &u.OrganizationID, &role,
		Time(&u.CreatedAt), Time(&u.UpdatedAt), &u.Active); err != nil {
		return nil, err
	}
	u.Role = jack.ParseRole(role)
	return &u, nil
}

// IntegrationColumns are the integrations columns ScanIntegration reads.
const IntegrationColumns = `id, organization_id, kind, url, recipient, events, enabled, secret, created_by, created_at, updated_at`

// ScanIntegration reads a row of IntegrationColumns.
func ScanIntegration(row Row) (*jack.Integration, error) {
	var i jack.Integration
	if err := row.Scan(&i.ID, &i.OrganizationID, &i.Kind, &i.URL, &i.To, JSON(&i.Events), &i.Enabled, &i.Secret,
		NullUUID(&i.CreatedBy), Time(&i.CreatedAt), Time(&i.UpdatedAt)); err != nil {
		return nil, err
	}
	return &i, nil
}

// DeliveryColumns are the integration_deliveries columns ScanDelivery reads.
const DeliveryColumns = `id, organization_id, integration_id, event_id, event_type, lead_id, payload, status, attempts,
	response_code, latency_ms, last_error, last_attempt_at, next_attempt_at, delivered_at, created_at, history`

// ScanDelivery reads a row of DeliveryColumns.
func ScanDelivery(row Row) (*jack.IntegrationDelivery, error) {
	var d jack.IntegrationDelivery
	var payload string
	var history []byte
	if err := row.Scan(&d.ID, &d.OrganizationID, &d.IntegrationID, &d.EventID, &d.EventType, &d.LeadID, &payload,
		&d.Status, &d.Attempts, &d.ResponseCode, &d.LatencyMillis, &d.LastError, NullTime(&d.LastAttemptAt),
		NullTime(&d.NextAttemptAt), NullTime(&d.DeliveredAt), Time(&d.CreatedAt), &history); err != nil {
		return nil, err
	}
	d.Payload = json.RawMessage(payload)
	var err error
	d.History, err = ParseHistory(history)
	return &d, err
}

// MessageColumns are the conversations columns ScanMessage reads.
const MessageColumns = `id, organization_id, lead_id, phone_number_normalized, content, sent_by, type, "timestamp",
	twilio_message_sid, twilio_call_sid, elevenlabs_conversation_id, time_in_call_secs, message_status,
	error_code, error_message, idempotency_key, author_user_id, media`

// ScanMessage reads a row of MessageColumns.
func ScanMessage(row Row) (*jack.Message, error) {
	var m jack.Message
	if err := row.Scan(&m.ID, &m.OrganizationID, NullString(&m.LeadID), &m.PhoneNumberNormalized, &m.Content, &m.SentBy,
		&m.Type, Time(&m.Timestamp), NullString(&m.ProviderMessageID), NullString(&m.ProviderCallID),
		NullString(&m.VoiceConversationID), &m.TimeInCallSecs, &m.Status, NullString(&m.ErrorCode),
		NullString(&m.ErrorMessage), NullString(&m.IdempotencyKey), NullUUID(&m.AuthorUserID), JSON(&m.Media)); err != nil {
		return nil, err
	}
	m.Media = MediaOrNil(m.Media)
	return &m, nil
}

// SummaryColumns are the conversation_summaries columns ScanSummary reads.
const SummaryColumns = `id, organization_id, phone_number_normalized, summary, summary_type, total_messages,
	voice_messages, sms_messages, created_at, updated_at`

// ScanSummary reads a row of SummaryColumns.
func ScanSummary(row Row) (*jack.Summary, error) {
	var sm jack.Summary
	if err := row.Scan(&sm.ID, &sm.OrganizationID, &sm.PhoneNumberNormalized, &sm.Summary, &sm.SummaryType, &sm.TotalMessages,
		&sm.VoiceMessages, &sm.SMSMessages, Time(&sm.CreatedAt), Time(&sm.UpdatedAt)); err != nil {
		return nil, err
	}
	return &sm, nil
}

// ReminderColumns are the follow_up_reminders columns ScanReminder reads.
const ReminderColumns = `id, organization_id, lead_id, phone_number_normalized, step, due_at, status, created_at, fired_at`

// ScanReminder reads a row of ReminderColumns.
func ScanReminder(row Row) (*jack.Reminder, error) {
	var r jack.Reminder
	if err := row.Scan(&r.ID, &r.OrganizationID, &r.LeadID, &r.Phone, &r.Step, Time(&r.DueAt), &r.Status,
		Time(&r.CreatedAt), NullTime(&r.FiredAt)); err != nil {
		return nil, err
	}
	return &r, nil
}

// CallSessionColumns are the call_sessions columns ScanCallSession reads.
const CallSessionColumns = `id, organization_id, lead_id, elevenlabs_conversation_id, twilio_call_sid,
	phone_number_normalized, direction, started_at, ended_at, duration_seconds, call_outcome,
	termination_reason, sentiment_score, lead_quality_score, next_action, elevenlabs_data`

// ScanCallSession reads a row of CallSessionColumns; the data comes back compact.
func ScanCallSession(row Row) (*jack.CallSession, error) {
	var cs jack.CallSession
	var data []byte
	if err := row.Scan(&cs.ID, &cs.OrganizationID, NullString(&cs.LeadID), NullString(&cs.VoiceConversationID),
		NullString(&cs.ProviderCallID), NullString(&cs.PhoneNumberNormalized), &cs.Direction, Time(&cs.StartedAt),
		NullTime(&cs.EndedAt), &cs.DurationSeconds, NullString(&cs.CallOutcome), NullString(&cs.TerminationReason),
		&cs.SentimentScore, &cs.LeadQualityScore, NullString(&cs.NextAction), &data); err != nil {
		return nil, err
	}
	cs.VoiceData = compactJSON(data)
	return &cs, nil
}

// LeadColumns are the leads columns ScanLead reads.
const LeadColumns = `id, organization_id, customer_name, phone_number, phone_number_normalized, email,
	created_by, assigned_to, chase_status, funding_readiness, funding_readiness_reason, sentiment,
	script_progress_current_step, script_progress_completed_steps, credit_score_range, credit_known_issues,
	vehicle_preference, budget_range, last_touchpoint, total_conversations, last_activity,
	ai_paused_until, opted_out_at, lead_quality_score, version, created_at, updated_at`

// ScanLead reads a row of LeadColumns. list is the destination of a list column as the adapter
// keeps it (a Postgres text[], SQLite's JSON text); a NULL list reads as empty.
func ScanLead(row Row, list func(*[]string) any) (*jack.Lead, error) {
	var l jack.Lead
	if err := row.Scan(&l.ID, &l.OrganizationID, &l.CustomerName, &l.PhoneNumber, &l.PhoneNumberNormalized,
		NullString(&l.Email), NullUUID(&l.CreatedBy), NullUUID(&l.AssignedTo), &l.ChaseStatus, &l.FundingReadiness,
		NullString(&l.FundingReadinessReason), &l.Sentiment, &l.ScriptProgress.CurrentStep,
		list(&l.ScriptProgress.CompletedSteps), NullString(&l.CreditScoreRange), list(&l.CreditKnownIssues),
		NullString(&l.VehiclePreference), NullString(&l.BudgetRange), NullTime(&l.LastTouchpoint),
		&l.TotalConversations, Time(&l.LastActivity), NullTime(&l.AIPausedUntil), NullTime(&l.OptedOutAt),
		&l.LeadQualityScore, &l.Version, Time(&l.CreatedAt), Time(&l.UpdatedAt)); err != nil {
		return nil, err
	}
	if l.ScriptProgress.CompletedSteps == nil {
		l.ScriptProgress.CompletedSteps = []string{}
	}
	if l.CreditKnownIssues == nil {
		l.CreditKnownIssues = []string{}
	}
	return &l, nil
}

// AppointmentColumns are the appointments columns ScanAppointment reads.
const AppointmentColumns = `id, organization_id, lead_id, phone_number_normalized, customer_name, starts_at, ends_at,
	kind, vehicle, notes, status, source, version, created_by, updated_by, created_at, updated_at`

// ScanAppointment reads a row of AppointmentColumns, times in UTC.
func ScanAppointment(row Row) (*jack.Appointment, error) {
	var a jack.Appointment
	if err := row.Scan(&a.ID, &a.OrganizationID, &a.LeadID, &a.Phone, &a.CustomerName, Time(&a.StartsAt),
		Time(&a.EndsAt), &a.Kind, &a.Vehicle, &a.Notes, &a.Status, &a.Source, &a.Version,
		NullUUID(&a.CreatedBy), NullUUID(&a.UpdatedBy), Time(&a.CreatedAt), Time(&a.UpdatedAt)); err != nil {
		return nil, err
	}
	a.StartsAt, a.EndsAt = a.StartsAt.UTC(), a.EndsAt.UTC()
	a.CreatedAt, a.UpdatedAt = a.CreatedAt.UTC(), a.UpdatedAt.UTC()
	return &a, nil
}
