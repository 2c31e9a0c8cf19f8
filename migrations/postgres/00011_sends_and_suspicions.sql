-- Issue 14: reconciling outbound texts, and suspicion votes in the cluster membership.
--
-- Reconciling outbound texts. An outbound text is committed 'pending', marked
-- 'sending' (committed, fenced by the conversation's owner epoch) right before the provider call,
-- and gets Twilio's sid and status right after. A crash leaves it 'pending' (never sent) or
-- 'sending' without a sid (maybe sent); the owning grain resolves such texts when it activates,
-- and a periodic sweep on every node finds the ones nobody resolved. Finding them looks across
-- organizations, which the application role (under RLS) cannot: unsent_messages is a SECURITY
-- DEFINER function like claim_due_reminders, reading through 00003's definer_audit policy on
-- conversations (SELECT for the owner).

-- Suspicion votes (actors/pgmembers): every member probes the cluster address of every other
-- alive member; one it cannot reach for a while gets this member's vote in its own row,
-- suspicions = {voter member_id: time of the vote}, refreshed while the probes fail and taken
-- back when one succeeds. A member with fresh votes from more than half of the other alive
-- members is declared dead (as with a stale heartbeat), so a node cut off from its peers but
-- not from the database leaves the cluster. Not tenant data, like the rest of the table.

-- +goose Up
ALTER TABLE cluster_members ADD COLUMN suspicions JSONB NOT NULL DEFAULT '{}'::jsonb;

-- What unsent_messages scans: the few outbound texts not yet resolved, oldest first.
CREATE INDEX conversations_unsent_idx ON conversations ("timestamp", id)
  WHERE message_status IN ('pending', 'sending') AND sent_by = 'agent';

-- +goose StatementBegin
DO $$
BEGIN
  -- Up to max_rows outbound texts of every organization still pending or sending that were
  -- created before older_than, oldest first. search_path is pinned so a caller cannot redirect it.
  EXECUTE format($f$
    CREATE FUNCTION unsent_messages(older_than TIMESTAMPTZ, max_rows INTEGER)
    RETURNS SETOF conversations
    LANGUAGE sql STABLE SECURITY DEFINER SET search_path = %I, pg_temp AS $body$
      SELECT c.* FROM conversations c
      WHERE c.message_status IN ('pending', 'sending') AND c.sent_by = 'agent' AND c."timestamp" < older_than
      ORDER BY c."timestamp", c.id
      LIMIT max_rows
    $body$ $f$, current_schema());
END $$;
-- +goose StatementEnd

-- +goose Down
ALTER TABLE cluster_members DROP COLUMN IF EXISTS suspicions;
DROP FUNCTION IF EXISTS unsent_messages(TIMESTAMPTZ, INTEGER);
DROP INDEX IF EXISTS conversations_unsent_idx;
