-- Appointments and calendar-feed tokens (see the Postgres migration of the same number). SQLite
-- has one writer, so a booking's capacity check needs no lock.

-- +goose Up
CREATE TABLE appointments (
  id TEXT PRIMARY KEY,
  organization_id TEXT NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
  lead_id TEXT NOT NULL REFERENCES leads(id) ON DELETE CASCADE,
  phone_number_normalized TEXT NOT NULL,
  customer_name TEXT NOT NULL DEFAULT '',
  starts_at TEXT NOT NULL,
  ends_at TEXT NOT NULL,
  kind TEXT NOT NULL CHECK (kind IN ('test_drive', 'sales', 'service', 'delivery')),
  vehicle TEXT NOT NULL DEFAULT '',
  notes TEXT NOT NULL DEFAULT '',
  status TEXT NOT NULL DEFAULT 'confirmed' CHECK (status IN ('confirmed', 'cancelled', 'completed', 'no_show')),
  source TEXT NOT NULL CHECK (source IN ('staff', 'ai_sms', 'ai_voice')),
  version INTEGER NOT NULL DEFAULT 1,
  created_by TEXT REFERENCES user_profiles(id) ON DELETE SET NULL,
  updated_by TEXT REFERENCES user_profiles(id) ON DELETE SET NULL,
  created_at TEXT NOT NULL,
  updated_at TEXT NOT NULL
);
CREATE INDEX appointments_org_starts_idx ON appointments (organization_id, starts_at, id);
CREATE INDEX appointments_org_phone_idx ON appointments (organization_id, phone_number_normalized, starts_at);

CREATE TABLE appointment_feed_tokens (
  organization_id TEXT PRIMARY KEY REFERENCES organizations(id) ON DELETE CASCADE,
  token_hash TEXT NOT NULL,
  created_at TEXT NOT NULL
);

-- +goose Down
DROP TABLE IF EXISTS appointment_feed_tokens;
DROP TABLE IF EXISTS appointments;
