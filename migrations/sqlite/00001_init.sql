-- The seed's tables for the embedded default. SQLite has no RLS: every query of the adapter
-- carries organization_id = ?. Times are TEXT in fixed-width UTC with microseconds
-- (2006-01-02T15:04:05.000000Z) so they sort as strings; UUIDs are TEXT; JSON is TEXT.

-- +goose Up
CREATE TABLE organizations (
  id TEXT PRIMARY KEY,
  name TEXT NOT NULL,
  domain TEXT,
  created_at TEXT NOT NULL,
  settings TEXT NOT NULL DEFAULT '{}',
  default_phone_number_id TEXT REFERENCES organization_phone_numbers(id) ON DELETE SET NULL
);

CREATE TABLE user_profiles (
  id TEXT PRIMARY KEY,
  email TEXT NOT NULL,
  password_hash TEXT NOT NULL,
  full_name TEXT,
  organization_id TEXT NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
  role TEXT NOT NULL DEFAULT 'agent',
  created_at TEXT NOT NULL,
  updated_at TEXT NOT NULL,
  CONSTRAINT user_profiles_email_key UNIQUE (email)
);
CREATE INDEX user_profiles_org_idx ON user_profiles (organization_id, created_at);

CREATE TABLE organization_phone_numbers (
  id TEXT PRIMARY KEY,
  organization_id TEXT NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
  phone_number TEXT NOT NULL,
  elevenlabs_phone_id TEXT,
  twilio_phone_sid TEXT NOT NULL,
  is_active INTEGER NOT NULL DEFAULT 1,
  created_at TEXT NOT NULL,
  CONSTRAINT organization_phone_numbers_phone_number_key UNIQUE (phone_number)
);
CREATE INDEX organization_phone_numbers_org_idx ON organization_phone_numbers (organization_id);

CREATE TABLE leads (
  id TEXT PRIMARY KEY,
  customer_name TEXT NOT NULL,
  phone_number TEXT NOT NULL,
  phone_number_normalized TEXT NOT NULL,
  email TEXT,
  organization_id TEXT NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
  created_by TEXT REFERENCES user_profiles(id) ON DELETE SET NULL,
  assigned_to TEXT REFERENCES user_profiles(id) ON DELETE SET NULL,
  chase_status TEXT NOT NULL DEFAULT 'new',
  funding_readiness TEXT NOT NULL DEFAULT 'unknown',
  funding_readiness_reason TEXT,
  sentiment TEXT NOT NULL DEFAULT 'neutral',
  script_progress_current_step TEXT NOT NULL DEFAULT 'contacted',
  script_progress_completed_steps TEXT NOT NULL DEFAULT '["contacted"]',
  credit_score_range TEXT,
  credit_known_issues TEXT NOT NULL DEFAULT '[]',
  vehicle_preference TEXT,
  budget_range TEXT,
  last_touchpoint TEXT,
  created_at TEXT NOT NULL,
  updated_at TEXT NOT NULL,
  total_conversations INTEGER NOT NULL DEFAULT 0,
  last_activity TEXT NOT NULL,
  ai_paused_until TEXT,
  opted_out_at TEXT,
  version INTEGER NOT NULL DEFAULT 1,
  CONSTRAINT leads_organization_id_phone_number_normalized_key UNIQUE (organization_id, phone_number_normalized)
);
CREATE INDEX leads_org_created_idx ON leads (organization_id, created_at DESC, id DESC);
CREATE INDEX leads_org_activity_idx ON leads (organization_id, last_activity DESC, id DESC);

CREATE TABLE conversations (
  id TEXT PRIMARY KEY,
  lead_id TEXT REFERENCES leads(id) ON DELETE CASCADE,
  organization_id TEXT NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
  phone_number_normalized TEXT NOT NULL,
  content TEXT NOT NULL,
  sent_by TEXT NOT NULL,
  timestamp TEXT NOT NULL,
  type TEXT NOT NULL DEFAULT 'sms',
  twilio_message_sid TEXT,
  twilio_call_sid TEXT,
  elevenlabs_conversation_id TEXT,
  dynamic_variables TEXT NOT NULL DEFAULT '{}',
  conversation_context TEXT,
  message_status TEXT NOT NULL DEFAULT 'sent',
  idempotency_key TEXT,
  error_code TEXT,
  error_message TEXT,
  time_in_call_secs REAL,
  author_user_id TEXT REFERENCES user_profiles(id) ON DELETE SET NULL,
  CONSTRAINT conversations_org_message_sid_key UNIQUE (organization_id, twilio_message_sid),
  CONSTRAINT conversations_org_idempotency_key UNIQUE (organization_id, idempotency_key)
);
CREATE INDEX conversations_org_phone_idx ON conversations (organization_id, phone_number_normalized, timestamp, id);
CREATE INDEX conversations_org_lead_idx ON conversations (organization_id, lead_id, timestamp, id);

CREATE TABLE conversation_summaries (
  id TEXT PRIMARY KEY,
  phone_number_normalized TEXT NOT NULL,
  organization_id TEXT NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
  summary TEXT NOT NULL,
  summary_type TEXT NOT NULL DEFAULT 'elevenlabs',
  total_messages INTEGER NOT NULL DEFAULT 0,
  voice_messages INTEGER NOT NULL DEFAULT 0,
  sms_messages INTEGER NOT NULL DEFAULT 0,
  created_at TEXT NOT NULL,
  updated_at TEXT NOT NULL,
  CONSTRAINT conversation_summaries_org_phone_key UNIQUE (organization_id, phone_number_normalized)
);

CREATE TABLE call_sessions (
  id TEXT PRIMARY KEY,
  organization_id TEXT NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
  lead_id TEXT REFERENCES leads(id) ON DELETE CASCADE,
  elevenlabs_conversation_id TEXT,
  twilio_call_sid TEXT,
  phone_number_normalized TEXT,
  direction TEXT NOT NULL DEFAULT 'inbound',
  started_at TEXT NOT NULL,
  ended_at TEXT,
  duration_seconds INTEGER,
  call_outcome TEXT,
  termination_reason TEXT,
  sentiment_score REAL,
  lead_quality_score REAL,
  next_action TEXT,
  elevenlabs_data TEXT NOT NULL DEFAULT '{}',
  CONSTRAINT call_sessions_org_conversation_key UNIQUE (organization_id, elevenlabs_conversation_id)
);
CREATE INDEX call_sessions_org_started_idx ON call_sessions (organization_id, started_at);

CREATE TABLE events (
  id TEXT PRIMARY KEY,
  organization_id TEXT NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
  lead_id TEXT REFERENCES leads(id) ON DELETE CASCADE,
  type TEXT NOT NULL,
  payload TEXT NOT NULL,
  created_at TEXT NOT NULL
);
CREATE INDEX events_org_id_idx ON events (organization_id, id);
CREATE INDEX events_created_idx ON events (created_at);

-- +goose Down
DROP TABLE IF EXISTS events;
DROP TABLE IF EXISTS call_sessions;
DROP TABLE IF EXISTS conversation_summaries;
DROP TABLE IF EXISTS conversations;
DROP TABLE IF EXISTS leads;
DROP TABLE IF EXISTS organization_phone_numbers;
DROP TABLE IF EXISTS user_profiles;
DROP TABLE IF EXISTS organizations;
