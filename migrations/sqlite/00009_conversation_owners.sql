-- Fencing (see the Postgres migration of the same number): a grain that activates claims its
-- conversation by bumping the epoch here, and the writer commits its writes only while that
-- epoch is current. SQLite has one writer, so the check needs no lock.

-- +goose Up
CREATE TABLE conversation_owners (
  organization_id TEXT NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
  phone_number_normalized TEXT NOT NULL,
  epoch INTEGER NOT NULL CHECK (epoch > 0),
  node TEXT NOT NULL DEFAULT '',
  claimed_at TEXT NOT NULL,
  PRIMARY KEY (organization_id, phone_number_normalized)
);

-- +goose Down
DROP TABLE IF EXISTS conversation_owners;
