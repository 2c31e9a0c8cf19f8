-- CRM integrations (signed webhooks, ADF e-mail) and their delivery outbox; see the Postgres
-- migration for the design. SQLite has one writer, so claims are plain UPDATE … RETURNING.

-- +goose Up
CREATE TABLE integrations (
  id TEXT PRIMARY KEY,
  organization_id TEXT NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
  kind TEXT NOT NULL CHECK (kind IN ('webhook', 'adf_email')),
  url TEXT NOT NULL DEFAULT '',
  recipient TEXT NOT NULL DEFAULT '',
  events TEXT NOT NULL DEFAULT '[]',
  enabled INTEGER NOT NULL DEFAULT 1,
  secret TEXT NOT NULL DEFAULT '',
  created_by TEXT,
  created_at TEXT NOT NULL,
  updated_at TEXT NOT NULL
);
CREATE INDEX integrations_org_idx ON integrations (organization_id, created_at, id);

CREATE TABLE integration_feeds (
  organization_id TEXT PRIMARY KEY REFERENCES organizations(id) ON DELETE CASCADE,
  last_event_id TEXT NOT NULL,
  next_seq INTEGER NOT NULL DEFAULT 1,
  since TEXT NOT NULL,
  claimed_by TEXT,
  claimed_until TEXT
);

CREATE TABLE integration_lead_states (
  organization_id TEXT NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
  lead_id TEXT NOT NULL,
  fingerprint TEXT NOT NULL,
  PRIMARY KEY (organization_id, lead_id)
);

CREATE TABLE integration_deliveries (
  id TEXT PRIMARY KEY,
  organization_id TEXT NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
  integration_id TEXT NOT NULL REFERENCES integrations(id) ON DELETE CASCADE,
  seq INTEGER NOT NULL,
  event_id TEXT NOT NULL,
  event_type TEXT NOT NULL,
  lead_id TEXT NOT NULL DEFAULT '',
  payload TEXT NOT NULL,
  status TEXT NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'succeeded', 'failed')),
  attempts INTEGER NOT NULL DEFAULT 0,
  response_code INTEGER,
  latency_ms INTEGER,
  last_error TEXT NOT NULL DEFAULT '',
  last_attempt_at TEXT,
  next_attempt_at TEXT,
  delivered_at TEXT,
  claimed_until TEXT,
  created_at TEXT NOT NULL,
  history TEXT NOT NULL DEFAULT '[]',
  UNIQUE (integration_id, event_id)
);
CREATE INDEX integration_deliveries_due_idx ON integration_deliveries (next_attempt_at) WHERE status = 'pending';
CREATE INDEX integration_deliveries_lead_idx ON integration_deliveries (integration_id, lead_id, seq) WHERE status = 'pending';
CREATE INDEX integration_deliveries_list_idx ON integration_deliveries (organization_id, integration_id, seq DESC);

-- +goose Down
DROP TABLE IF EXISTS integration_deliveries;
DROP TABLE IF EXISTS integration_lead_states;
DROP TABLE IF EXISTS integration_feeds;
DROP TABLE IF EXISTS integrations;
