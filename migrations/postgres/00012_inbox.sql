-- Inbox triage: each staff member's read state per lead (unread counts kept on the server, the
-- same in every tab and on every device), full-text search over message bodies (a GIN index on
-- the messages' english tsvector; the inbox query uses the same expression), and staff's
-- internal notes on a lead (shown in its timeline, never sent).

-- +goose Up
CREATE TABLE lead_reads (
  organization_id UUID NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
  user_id UUID NOT NULL REFERENCES user_profiles(id) ON DELETE CASCADE,
  lead_id VARCHAR(255) NOT NULL REFERENCES leads(id) ON DELETE CASCADE,
  read_at TIMESTAMPTZ NOT NULL,
  PRIMARY KEY (organization_id, user_id, lead_id)
);
CREATE INDEX lead_reads_lead_idx ON lead_reads (lead_id);
CREATE TABLE lead_notes (
  id UUID PRIMARY KEY,
  organization_id UUID NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
  lead_id VARCHAR(255) NOT NULL REFERENCES leads(id) ON DELETE CASCADE,
  author_user_id UUID REFERENCES user_profiles(id) ON DELETE SET NULL,
  body TEXT NOT NULL,
  created_at TIMESTAMPTZ NOT NULL
);
CREATE INDEX lead_notes_lead_idx ON lead_notes (organization_id, lead_id, created_at);
CREATE INDEX conversations_content_fts_idx ON conversations USING GIN (to_tsvector('english', content));

-- +goose StatementBegin
DO $$
DECLARE t TEXT;
BEGIN
  FOREACH t IN ARRAY ARRAY['lead_reads', 'lead_notes'] LOOP
    EXECUTE format('ALTER TABLE %I ENABLE ROW LEVEL SECURITY', t);
    EXECUTE format('ALTER TABLE %I FORCE ROW LEVEL SECURITY', t);
    EXECUTE format($p$CREATE POLICY tenant_isolation ON %I
      USING (organization_id = NULLIF(current_setting('app.current_organization_id', true), '')::uuid)
      WITH CHECK (organization_id = NULLIF(current_setting('app.current_organization_id', true), '')::uuid)$p$, t);
    EXECUTE format('GRANT SELECT, INSERT, UPDATE, DELETE ON %I TO jack_app', t);
  END LOOP;
END
$$;
-- +goose StatementEnd

-- +goose Down
DROP INDEX IF EXISTS conversations_content_fts_idx;
DROP TABLE IF EXISTS lead_notes;
DROP TABLE IF EXISTS lead_reads;
