-- Inbox triage: each staff member's read state per lead (unread counts kept on the server, the
-- same in every tab and on every device), and full-text search over message bodies (a GIN
-- index on the messages' english tsvector; the inbox query uses the same expression).

-- +goose Up
CREATE TABLE lead_reads (
  organization_id UUID NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
  user_id UUID NOT NULL REFERENCES user_profiles(id) ON DELETE CASCADE,
  lead_id VARCHAR(255) NOT NULL REFERENCES leads(id) ON DELETE CASCADE,
  read_at TIMESTAMPTZ NOT NULL,
  PRIMARY KEY (organization_id, user_id, lead_id)
);
CREATE INDEX lead_reads_lead_idx ON lead_reads (lead_id);
CREATE INDEX conversations_content_fts_idx ON conversations USING GIN (to_tsvector('english', content));

-- +goose StatementBegin
DO $$
BEGIN
  ALTER TABLE lead_reads ENABLE ROW LEVEL SECURITY;
  ALTER TABLE lead_reads FORCE ROW LEVEL SECURITY;
  CREATE POLICY tenant_isolation ON lead_reads
    USING (organization_id = NULLIF(current_setting('app.current_organization_id', true), '')::uuid)
    WITH CHECK (organization_id = NULLIF(current_setting('app.current_organization_id', true), '')::uuid);
  GRANT SELECT, INSERT, UPDATE, DELETE ON lead_reads TO jack_app;
END
$$;
-- +goose StatementEnd

-- +goose Down
DROP INDEX IF EXISTS conversations_content_fts_idx;
DROP TABLE IF EXISTS lead_reads;
