-- Lead intake and reports: leads.source and leads.external_id are a feed's own key for a lead (ADF
-- id@source, a CSV's id column), unique per organization when present, so a re-import finds the
-- lead it created. The audit needs nothing more: SQLite has no row-level security.

-- +goose Up
ALTER TABLE leads ADD COLUMN source TEXT;
ALTER TABLE leads ADD COLUMN external_id TEXT;
CREATE UNIQUE INDEX leads_org_source_external_id_key ON leads (organization_id, source, external_id)
  WHERE external_id IS NOT NULL;
-- Analytics reads an organization's messages by time, across conversations.
CREATE INDEX conversations_org_timestamp_idx ON conversations (organization_id, timestamp);

-- +goose Down
DROP INDEX IF EXISTS conversations_org_timestamp_idx;
DROP INDEX IF EXISTS leads_org_source_external_id_key;
ALTER TABLE leads DROP COLUMN external_id;
ALTER TABLE leads DROP COLUMN source;
