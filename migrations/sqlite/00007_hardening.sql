-- Hardening (issue 15). Sessions that can end: every access token names a row here, checked on each
-- request, so logout, a password change and removing or deactivating a user take effect at once.

-- +goose Up
ALTER TABLE user_profiles ADD COLUMN deactivated_at TEXT;

CREATE TABLE user_sessions (
  id TEXT PRIMARY KEY,
  organization_id TEXT NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
  user_id TEXT NOT NULL REFERENCES user_profiles(id) ON DELETE CASCADE,
  created_at TEXT NOT NULL,
  expires_at TEXT NOT NULL,
  revoked_at TEXT
);
CREATE INDEX user_sessions_user_idx ON user_sessions (user_id, expires_at);

-- +goose Down
DROP TABLE IF EXISTS user_sessions;
ALTER TABLE user_profiles DROP COLUMN deactivated_at;
