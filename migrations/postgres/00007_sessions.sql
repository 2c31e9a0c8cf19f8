-- Sessions that can end (issue 15): every access token names a row here, checked on each
-- request (cached briefly per node, invalidated through the broker), so logout, a password
-- change and removing or deactivating a user take effect at once on every node. A deactivated
-- user keeps their row (and their name on leads and messages) but can neither sign in nor use a
-- token; a removed user's sessions go with the row.

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
END $$;
-- +goose StatementEnd

-- +goose Down
DROP TABLE IF EXISTS user_sessions;
ALTER TABLE user_profiles DROP COLUMN IF EXISTS deactivated_at;
