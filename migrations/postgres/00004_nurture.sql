-- Nurturing: stored follow-up reminders, a lead quality score on leads and MMS media on
-- messages. A reminder is stored, not held in memory, so it survives passivation and node loss;
-- whichever node claims it when it is due wakes the conversation. Claiming looks across
-- organizations, which the application role (under RLS) cannot: claim_due_reminders is a
-- SECURITY DEFINER function like 00001's lookups, and its owner (the migrating user) gets its
-- own policy on reminders because FORCE ROW LEVEL SECURITY binds the owner too.

-- +goose Up
ALTER TABLE leads ADD COLUMN lead_quality_score DOUBLE PRECISION;
-- Staff list leads best first: highest score first, unscored leads last, id as the tiebreak.
CREATE INDEX leads_org_score_idx ON leads (organization_id, lead_quality_score DESC NULLS LAST, id DESC);

-- MMS attachments, a JSON array of {url, contentType}; '[]' for a plain text or a call turn.
ALTER TABLE conversations ADD COLUMN media JSONB NOT NULL DEFAULT '[]'::jsonb;

CREATE TABLE reminders (
  id UUID PRIMARY KEY,
  organization_id UUID NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
  lead_id VARCHAR(255) NOT NULL REFERENCES leads(id) ON DELETE CASCADE,
  phone_number_normalized VARCHAR(50) NOT NULL,
  step INTEGER NOT NULL CHECK (step >= 0),
  due_at TIMESTAMPTZ NOT NULL,
  status VARCHAR(20) NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'fired', 'canceled')),
  claimed_until TIMESTAMPTZ,
  created_at TIMESTAMPTZ NOT NULL DEFAULT NOW(),
  fired_at TIMESTAMPTZ
);
-- A conversation has at most one pending reminder.
CREATE UNIQUE INDEX reminders_org_phone_pending_key ON reminders (organization_id, phone_number_normalized)
  WHERE status = 'pending';
-- What claim_due_reminders scans: pending reminders by due time, across organizations.
CREATE INDEX reminders_due_idx ON reminders (due_at) WHERE status = 'pending';
-- FindReminders (newest first) and the cascade from leads.
CREATE INDEX reminders_org_phone_created_idx ON reminders (organization_id, phone_number_normalized, created_at DESC, id DESC);
CREATE INDEX reminders_lead_idx ON reminders (lead_id);

-- +goose StatementBegin
DO $$
BEGIN
  ALTER TABLE reminders ENABLE ROW LEVEL SECURITY;
  ALTER TABLE reminders FORCE ROW LEVEL SECURITY;
  CREATE POLICY tenant_isolation ON reminders
    USING (organization_id = NULLIF(current_setting('app.current_organization_id', true), '')::uuid)
    WITH CHECK (organization_id = NULLIF(current_setting('app.current_organization_id', true), '')::uuid);
  -- claim_due_reminders reads and updates every organization's reminders as the owner.
  EXECUTE format('CREATE POLICY definer_claim ON reminders FOR ALL TO %I USING (true) WITH CHECK (true)', current_user);

  -- 00001's default privileges cover the table when the same user migrates; granting again
  -- keeps it right when another user runs this migration.
  GRANT SELECT, INSERT, UPDATE, DELETE ON reminders TO jack_app;

  -- Claims up to claim_limit due reminders whose earlier claim, if any, has expired, until
  -- claim_until, soonest first. SKIP LOCKED: concurrent claimers on other nodes take other
  -- rows rather than wait, and a row a concurrent claim committed meanwhile is re-checked
  -- (claimed_until is then in the future) and left out. MATERIALIZED: the locking SELECT runs
  -- once, so LIMIT holds. search_path is pinned to this schema so a caller cannot redirect it.
  EXECUTE format($f$
    CREATE FUNCTION claim_due_reminders(claim_now TIMESTAMPTZ, claim_until TIMESTAMPTZ, claim_limit INTEGER)
    RETURNS TABLE (id UUID, organization_id UUID, lead_id VARCHAR, phone_number_normalized VARCHAR, step INTEGER,
                   due_at TIMESTAMPTZ, status VARCHAR, created_at TIMESTAMPTZ, fired_at TIMESTAMPTZ)
    LANGUAGE sql VOLATILE SECURITY DEFINER SET search_path = %I, pg_temp AS $body$
      WITH due AS MATERIALIZED (
        SELECT d.id FROM reminders d
        WHERE d.status = 'pending' AND d.due_at <= claim_now
          AND (d.claimed_until IS NULL OR d.claimed_until <= claim_now)
        ORDER BY d.due_at, d.id
        LIMIT claim_limit
        FOR UPDATE SKIP LOCKED
      ), claimed AS (
        UPDATE reminders r SET claimed_until = claim_until
        FROM due WHERE r.id = due.id
        RETURNING r.id, r.organization_id, r.lead_id, r.phone_number_normalized, r.step, r.due_at, r.status,
          r.created_at, r.fired_at
      )
      SELECT c.id, c.organization_id, c.lead_id, c.phone_number_normalized, c.step, c.due_at, c.status,
        c.created_at, c.fired_at
      FROM claimed c ORDER BY c.due_at, c.id
    $body$ $f$, current_schema());
END $$;
-- +goose StatementEnd

-- +goose Down
DROP FUNCTION IF EXISTS claim_due_reminders(TIMESTAMPTZ, TIMESTAMPTZ, INTEGER);
DROP TABLE IF EXISTS reminders;
ALTER TABLE conversations DROP COLUMN IF EXISTS media;
DROP INDEX IF EXISTS leads_org_score_idx;
ALTER TABLE leads DROP COLUMN IF EXISTS lead_quality_score;
