-- Inbox triage (see the Postgres migration of the same number): each staff member's read state
-- per lead, staff's internal notes, and full-text search over message bodies with FTS5 (an external-content index on
-- the messages' rowid, kept by triggers; porter stemming like Postgres' english config).

-- +goose Up
CREATE TABLE lead_reads (
  organization_id TEXT NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
  user_id TEXT NOT NULL REFERENCES user_profiles(id) ON DELETE CASCADE,
  lead_id TEXT NOT NULL REFERENCES leads(id) ON DELETE CASCADE,
  read_at TEXT NOT NULL,
  PRIMARY KEY (organization_id, user_id, lead_id)
);
CREATE INDEX lead_reads_lead_idx ON lead_reads (lead_id);
CREATE TABLE lead_notes (
  id TEXT PRIMARY KEY,
  organization_id TEXT NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
  lead_id TEXT NOT NULL REFERENCES leads(id) ON DELETE CASCADE,
  author_user_id TEXT REFERENCES user_profiles(id) ON DELETE SET NULL,
  body TEXT NOT NULL,
  created_at TEXT NOT NULL
);
CREATE INDEX lead_notes_lead_idx ON lead_notes (organization_id, lead_id, created_at);

CREATE VIRTUAL TABLE conversations_fts USING fts5(content, content='conversations', content_rowid='rowid', tokenize='porter unicode61');
INSERT INTO conversations_fts(conversations_fts) VALUES ('rebuild');

-- +goose StatementBegin
CREATE TRIGGER conversations_fts_insert AFTER INSERT ON conversations BEGIN
  INSERT INTO conversations_fts(rowid, content) VALUES (new.rowid, new.content);
END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER conversations_fts_delete AFTER DELETE ON conversations BEGIN
  INSERT INTO conversations_fts(conversations_fts, rowid, content) VALUES ('delete', old.rowid, old.content);
END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER conversations_fts_update AFTER UPDATE OF content ON conversations BEGIN
  INSERT INTO conversations_fts(conversations_fts, rowid, content) VALUES ('delete', old.rowid, old.content);
  INSERT INTO conversations_fts(rowid, content) VALUES (new.rowid, new.content);
END;
-- +goose StatementEnd

-- +goose Down
DROP TRIGGER IF EXISTS conversations_fts_update;
DROP TRIGGER IF EXISTS conversations_fts_delete;
DROP TRIGGER IF EXISTS conversations_fts_insert;
DROP TABLE IF EXISTS conversations_fts;
DROP TABLE IF EXISTS lead_notes;
DROP TABLE IF EXISTS lead_reads;
