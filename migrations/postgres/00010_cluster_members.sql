-- Cluster membership (issue 14, part 1), Orleans' SQL membership table in small: one row per
-- member incarnation (member_id is the node's ActorSystem.ID, new at every process start). A
-- member heartbeats its row every ~500 ms and reads its own status in the same statement; any
-- member declares dead every alive member whose heartbeat is older than the membership timeout,
-- by the database clock (one conditional UPDATE); every member pushes the alive rows to
-- Proto.Actor as the topology. A member that finds its own row dead exits and rejoins as a new
-- member (actors/pgmembers). Dead rows stay a day for diagnosis, then a joining member deletes them.
--
-- Not tenant data: no organization_id and no row-level security. The application role reads and
-- writes it directly (it is also excluded from the "every table is a tenant table" RLS test).

-- +goose Up
CREATE TABLE cluster_members (
  member_id TEXT PRIMARY KEY,
  cluster_name TEXT NOT NULL,
  host TEXT NOT NULL,
  port INTEGER NOT NULL CHECK (port > 0 AND port <= 65535),
  kinds TEXT[] NOT NULL DEFAULT '{}',
  status TEXT NOT NULL DEFAULT 'alive' CHECK (status IN ('alive', 'dead')),
  started_at TIMESTAMPTZ NOT NULL DEFAULT NOW(),
  heartbeat_at TIMESTAMPTZ NOT NULL DEFAULT NOW()
);
CREATE INDEX cluster_members_alive_idx ON cluster_members (cluster_name, heartbeat_at) WHERE status = 'alive';

GRANT SELECT, INSERT, UPDATE, DELETE ON cluster_members TO jack_app;

-- +goose Down
DROP TABLE IF EXISTS cluster_members;
