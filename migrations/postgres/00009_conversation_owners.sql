-- Fencing: one owner per conversation. A grain that activates claims its conversation by
-- bumping the epoch here; every write it makes carries the epoch it claimed, and the
-- group-commit writer checks it in the write's own transaction, right before COMMIT
-- (fence_owned_writes, pipelined with the COMMIT). A replaced activation (on a paused or
-- partitioned node that resumes) can then change nothing: its first write is refused and it
-- stops. FOR SHARE makes the check and a concurrent claim take turns: a claim waits for a write
-- of the old epoch that is committing, and a write after the claim sees the new epoch.

-- +goose Up
CREATE TABLE conversation_owners (
  organization_id UUID NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
  phone_number_normalized VARCHAR(50) NOT NULL,
  epoch BIGINT NOT NULL CHECK (epoch > 0),
  node VARCHAR(255) NOT NULL DEFAULT '',
  claimed_at TIMESTAMPTZ NOT NULL DEFAULT NOW(),
  PRIMARY KEY (organization_id, phone_number_normalized)
);

-- +goose StatementBegin
DO $$
BEGIN
  ALTER TABLE conversation_owners ENABLE ROW LEVEL SECURITY;
  ALTER TABLE conversation_owners FORCE ROW LEVEL SECURITY;
  CREATE POLICY tenant_isolation ON conversation_owners
    USING (organization_id = NULLIF(current_setting('app.current_organization_id', true), '')::uuid)
    WITH CHECK (organization_id = NULLIF(current_setting('app.current_organization_id', true), '')::uuid);
  GRANT SELECT, INSERT, UPDATE, DELETE ON conversation_owners TO jack_app;

  -- Raises JF001 (DETAIL: the 1-based positions of the stale pairs) unless each (phone, epoch)
  -- is its conversation's current owner in the organization the transaction is set to. Runs as
  -- the caller, under row-level security.
  EXECUTE format($f$
    CREATE FUNCTION fence_owned_writes(phones VARCHAR[], epochs BIGINT[]) RETURNS void
    LANGUAGE plpgsql VOLATILE SET search_path = %I, pg_temp AS $body$
    DECLARE
      stale TEXT;
    BEGIN
      PERFORM 1 FROM conversation_owners o
        JOIN unnest(phones) AS p(phone) ON o.phone_number_normalized = p.phone
        WHERE o.organization_id = NULLIF(current_setting('app.current_organization_id', true), '')::uuid
        ORDER BY o.phone_number_normalized
        FOR SHARE OF o;
      SELECT string_agg(i.ord::text, ',' ORDER BY i.ord) INTO stale
        FROM unnest(phones, epochs) WITH ORDINALITY AS i(phone, epoch, ord)
        LEFT JOIN conversation_owners o
          ON o.organization_id = NULLIF(current_setting('app.current_organization_id', true), '')::uuid
         AND o.phone_number_normalized = i.phone
        WHERE o.epoch IS DISTINCT FROM i.epoch;
      IF stale IS NOT NULL THEN
        RAISE EXCEPTION USING ERRCODE = 'JF001', MESSAGE = 'fenced', DETAIL = stale;
      END IF;
    END
    $body$ $f$, current_schema());
END $$;
-- +goose StatementEnd

-- +goose Down
DROP FUNCTION IF EXISTS fence_owned_writes(VARCHAR[], BIGINT[]);
DROP TABLE IF EXISTS conversation_owners;
