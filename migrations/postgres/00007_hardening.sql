-- Hardening (issue 15). Sessions that can end: every access token names a row here, checked on each
-- request (cached briefly per node, invalidated through the broker), so logout, a password
-- change and removing or deactivating a user take effect at once on every node. A deactivated
-- user keeps their row (and their name on leads and messages) but can neither sign in nor use a
-- token; a removed user's sessions go with the row.
-- Reminders: fired and canceled ones are dropped after a retention (delete_reminders_before, like
-- events), and the audit looks at them (audit_reminders): pending reminders long overdue mean
-- follow-ups have stalled.

-- +goose Up
ALTER TABLE user_profiles ADD COLUMN deactivated_at TIMESTAMPTZ;

CREATE TABLE user_sessions (
  id UUID PRIMARY KEY,
  organization_id UUID NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
  user_id UUID NOT NULL REFERENCES user_profiles(id) ON DELETE CASCADE,
  created_at TIMESTAMPTZ NOT NULL,
  expires_at TIMESTAMPTZ NOT NULL,
  revoked_at TIMESTAMPTZ
);
CREATE INDEX user_sessions_user_idx ON user_sessions (user_id, expires_at);

-- +goose StatementBegin
DO $$
BEGIN
  ALTER TABLE user_sessions ENABLE ROW LEVEL SECURITY;
  ALTER TABLE user_sessions FORCE ROW LEVEL SECURITY;
  CREATE POLICY tenant_isolation ON user_sessions
    USING (organization_id = NULLIF(current_setting('app.current_organization_id', true), '')::uuid)
    WITH CHECK (organization_id = NULLIF(current_setting('app.current_organization_id', true), '')::uuid);
  GRANT SELECT, INSERT, UPDATE, DELETE ON user_sessions TO jack_app;

  -- Tenant-free maintenance and audit, as the owner (00004's definer_claim policy lets it see
  -- every organization's reminders). search_path is pinned to this schema.
  EXECUTE format($f$
    CREATE FUNCTION delete_reminders_before(cutoff TIMESTAMPTZ) RETURNS BIGINT
    LANGUAGE sql VOLATILE SECURITY DEFINER SET search_path = %I, pg_temp AS $body$
      WITH d AS (DELETE FROM reminders WHERE status <> 'pending' AND COALESCE(fired_at, created_at) < cutoff RETURNING 1)
      SELECT count(*) FROM d
    $body$ $f$, current_schema());
  EXECUTE format($f$
    CREATE FUNCTION audit_reminders(overdue_before TIMESTAMPTZ)
    RETURNS TABLE (organization_id UUID, lead_id VARCHAR, phone VARCHAR, due_at TIMESTAMPTZ, orphan BOOLEAN)
    LANGUAGE sql STABLE SECURITY DEFINER SET search_path = %I, pg_temp AS $body$
      SELECT r.organization_id, r.lead_id, r.phone_number_normalized, r.due_at,
        NOT EXISTS (SELECT FROM organizations o WHERE o.id = r.organization_id)
      FROM reminders r
      WHERE (r.status = 'pending' AND r.due_at < overdue_before)
        OR NOT EXISTS (SELECT FROM organizations o WHERE o.id = r.organization_id)
      ORDER BY 1, 2, 4
    $body$ $f$, current_schema());
END $$;
-- +goose StatementEnd

-- +goose Down
DROP FUNCTION IF EXISTS audit_reminders(TIMESTAMPTZ);
DROP FUNCTION IF EXISTS delete_reminders_before(TIMESTAMPTZ);
DROP TABLE IF EXISTS user_sessions;
ALTER TABLE user_profiles DROP COLUMN IF EXISTS deactivated_at;
