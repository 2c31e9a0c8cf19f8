-- Event order without a lock. Until now an organization's writers took a transaction advisory
-- lock and read max(id) to give each event an id after every committed one: every write of a
-- dealership waited for the one before it to commit. Now each event gets seq, its place in the
-- organization's log (1, 2, 3, …), from a counter row the group-commit writer bumps once per
-- organization at the very end of a flush, in the same statement that inserts the flush's
-- events. The row lock lasts from that statement to the commit (one fsync), not for a whole
-- conversation transaction, and it makes seq commit-ordered and gap-free: a tailing reader (or
-- an SSE feed fed by the broker) that has seen n knows the next one is n+1, and sees a gap as a
-- lost message rather than a write still in flight.

-- +goose Up
ALTER TABLE events ADD COLUMN seq BIGINT;
-- Existing events keep their order: their ids increased in commit order per organization.
UPDATE events e SET seq = n.rn
FROM (SELECT id, row_number() OVER (PARTITION BY organization_id ORDER BY id) AS rn FROM events) n
WHERE e.id = n.id;
ALTER TABLE events ALTER COLUMN seq SET NOT NULL;
CREATE UNIQUE INDEX events_org_seq_key ON events (organization_id, seq);

CREATE TABLE event_seqs (
  organization_id UUID PRIMARY KEY REFERENCES organizations(id) ON DELETE CASCADE,
  last_seq BIGINT NOT NULL CHECK (last_seq >= 0)
);
INSERT INTO event_seqs (organization_id, last_seq)
SELECT organization_id, max(seq) FROM events GROUP BY organization_id;

-- +goose StatementBegin
DO $$
BEGIN
  ALTER TABLE event_seqs ENABLE ROW LEVEL SECURITY;
  ALTER TABLE event_seqs FORCE ROW LEVEL SECURITY;
  CREATE POLICY tenant_isolation ON event_seqs
    USING (organization_id = NULLIF(current_setting('app.current_organization_id', true), '')::uuid)
    WITH CHECK (organization_id = NULLIF(current_setting('app.current_organization_id', true), '')::uuid);
  GRANT SELECT, INSERT, UPDATE, DELETE ON event_seqs TO jack_app;
END $$;
-- +goose StatementEnd

-- +goose Down
DROP TABLE IF EXISTS event_seqs;
DROP INDEX IF EXISTS events_org_seq_key;
ALTER TABLE events DROP COLUMN IF EXISTS seq;
