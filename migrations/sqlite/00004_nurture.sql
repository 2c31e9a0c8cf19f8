-- Nurturing: stored follow-up reminders, a lead quality score on leads and MMS media on
-- messages. SQLite has one writer, so claiming due reminders is a plain UPDATE … RETURNING.

-- +goose Up
ALTER TABLE leads ADD COLUMN lead_quality_score REAL;
-- Staff list leads best first: highest score first, unscored leads last, id as the tiebreak.
CREATE INDEX leads_org_score_idx ON leads (organization_id, lead_quality_score DESC, id DESC);

-- MMS attachments, a JSON array of {url, contentType}; '[]' for a plain text or a call turn.
ALTER TABLE conversations ADD COLUMN media TEXT NOT NULL DEFAULT '[]';

CREATE TABLE reminders (
  id TEXT PRIMARY KEY,
  organization_id TEXT NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
  lead_id TEXT NOT NULL REFERENCES leads(id) ON DELETE CASCADE,
  phone_number_normalized TEXT NOT NULL,
  step INTEGER NOT NULL CHECK (step >= 0),
  due_at TEXT NOT NULL,
  status TEXT NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'fired', 'canceled')),
  claimed_until TEXT,
  created_at TEXT NOT NULL,
  fired_at TEXT
);
-- A conversation has at most one pending reminder.
CREATE UNIQUE INDEX reminders_org_phone_pending_key ON reminders (organization_id, phone_number_normalized)
  WHERE status = 'pending';
CREATE INDEX reminders_due_idx ON reminders (due_at) WHERE status = 'pending';
CREATE INDEX reminders_org_phone_created_idx ON reminders (organization_id, phone_number_normalized, created_at DESC, id DESC);
CREATE INDEX reminders_lead_idx ON reminders (lead_id);

-- +goose Down
DROP TABLE IF EXISTS reminders;
ALTER TABLE conversations DROP COLUMN media;
DROP INDEX IF EXISTS leads_org_score_idx;
ALTER TABLE leads DROP COLUMN lead_quality_score;
