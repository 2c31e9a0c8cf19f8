-- Indexes the benchmarks asked for: child rows by lead (foreign-key checks and cascades when a
-- lead is deleted) and a conversation's latest finished call (loaded on every activation).

-- +goose Up
CREATE INDEX IF NOT EXISTS conversations_lead_idx ON conversations (lead_id);
CREATE INDEX IF NOT EXISTS call_sessions_lead_idx ON call_sessions (lead_id);
CREATE INDEX IF NOT EXISTS events_lead_idx ON events (lead_id);
CREATE INDEX IF NOT EXISTS call_sessions_org_phone_ended_idx ON call_sessions (organization_id, phone_number_normalized, ended_at);

-- +goose Down
DROP INDEX IF EXISTS call_sessions_org_phone_ended_idx;
DROP INDEX IF EXISTS events_lead_idx;
DROP INDEX IF EXISTS call_sessions_lead_idx;
DROP INDEX IF EXISTS conversations_lead_idx;
