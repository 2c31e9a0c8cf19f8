-- Event order (see the Postgres migration of the same number): each event gets seq, its place
-- in the organization's log (1, 2, 3, …), from a counter row bumped in the transaction that
-- inserts it. SQLite has a single writer, so seq is commit-ordered and gap-free.

-- +goose Up
ALTER TABLE events ADD COLUMN seq INTEGER NOT NULL DEFAULT 0;
UPDATE events SET seq = (SELECT count(*) FROM events o
  WHERE o.organization_id = events.organization_id AND o.id <= events.id);
CREATE UNIQUE INDEX events_org_seq_key ON events (organization_id, seq);

CREATE TABLE event_seqs (
  organization_id TEXT PRIMARY KEY REFERENCES organizations(id) ON DELETE CASCADE,
  last_seq INTEGER NOT NULL CHECK (last_seq >= 0)
);
INSERT INTO event_seqs (organization_id, last_seq)
SELECT organization_id, max(seq) FROM events GROUP BY organization_id;

-- +goose Down
DROP TABLE IF EXISTS event_seqs;
DROP INDEX IF EXISTS events_org_seq_key;
ALTER TABLE events DROP COLUMN seq;
