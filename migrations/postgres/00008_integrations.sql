-- CRM integrations (signed webhooks, ADF e-mail) and their delivery outbox. The events table is
-- the outbox: every event is stored with the change it reports, and each organization's feed
-- (integration_feeds) remembers the last event whose deliveries are committed, so dispatching
-- inserts deliveries and moves the feed in one transaction. Claims look across organizations,
-- which the application role cannot: claim_integration_feeds and claim_due_deliveries are
-- SECURITY DEFINER functions like 00004's claim_due_reminders.

-- +goose Up
CREATE TABLE integrations (
  id UUID PRIMARY KEY,
  organization_id UUID NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
  kind VARCHAR(20) NOT NULL CHECK (kind IN ('webhook', 'adf_email')),
  url TEXT NOT NULL DEFAULT '',
  recipient TEXT NOT NULL DEFAULT '',
  events JSONB NOT NULL DEFAULT '[]'::jsonb,
  enabled BOOLEAN NOT NULL DEFAULT TRUE,
  secret TEXT NOT NULL DEFAULT '',
  created_by UUID,
  created_at TIMESTAMPTZ NOT NULL DEFAULT NOW(),
  updated_at TIMESTAMPTZ NOT NULL DEFAULT NOW()
);
CREATE INDEX integrations_org_idx ON integrations (organization_id, created_at, id);

-- One row per organization with integrations: the last event dispatched, the next delivery
-- sequence number (per-lead order), and which node dispatches it until when.
CREATE TABLE integration_feeds (
  organization_id UUID PRIMARY KEY REFERENCES organizations(id) ON DELETE CASCADE,
  last_event_id UUID NOT NULL,
  next_seq BIGINT NOT NULL DEFAULT 1,
  since TIMESTAMPTZ NOT NULL,
  claimed_by TEXT,
  claimed_until TIMESTAMPTZ
);

-- What the dispatcher last saw of a lead (status and qualification), to tell lead.updated and
-- lead.qualified from other lead changes. No foreign key to leads: a deleted lead's late
-- events must not block the feed.
CREATE TABLE integration_lead_states (
  organization_id UUID NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
  lead_id VARCHAR(255) NOT NULL,
  fingerprint TEXT NOT NULL,
  PRIMARY KEY (organization_id, lead_id)
);

-- Payload is TEXT, not JSONB: every attempt must send (and sign) the same bytes.
CREATE TABLE integration_deliveries (
  id UUID PRIMARY KEY,
  organization_id UUID NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
  integration_id UUID NOT NULL REFERENCES integrations(id) ON DELETE CASCADE,
  seq BIGINT NOT NULL,
  event_id UUID NOT NULL,
  event_type VARCHAR(50) NOT NULL,
  lead_id VARCHAR(255) NOT NULL DEFAULT '',
  payload TEXT NOT NULL,
  status VARCHAR(20) NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'succeeded', 'failed')),
  attempts INTEGER NOT NULL DEFAULT 0,
  response_code INTEGER,
  latency_ms BIGINT,
  last_error TEXT NOT NULL DEFAULT '',
  last_attempt_at TIMESTAMPTZ,
  next_attempt_at TIMESTAMPTZ,
  delivered_at TIMESTAMPTZ,
  claimed_until TIMESTAMPTZ,
  created_at TIMESTAMPTZ NOT NULL DEFAULT NOW(),
  -- The last attempts, oldest first: [{at, succeeded, responseCode, latencyMs, error}].
  history JSONB NOT NULL DEFAULT '[]'::jsonb,
  CONSTRAINT integration_deliveries_event_key UNIQUE (integration_id, event_id)
);
CREATE INDEX integration_deliveries_due_idx ON integration_deliveries (next_attempt_at) WHERE status = 'pending';
CREATE INDEX integration_deliveries_lead_idx ON integration_deliveries (integration_id, lead_id, seq) WHERE status = 'pending';
CREATE INDEX integration_deliveries_list_idx ON integration_deliveries (organization_id, integration_id, seq DESC);

-- +goose StatementBegin
DO $$
DECLARE t TEXT;
BEGIN
  FOREACH t IN ARRAY ARRAY['integrations', 'integration_feeds', 'integration_lead_states', 'integration_deliveries'] LOOP
    EXECUTE format('ALTER TABLE %I ENABLE ROW LEVEL SECURITY', t);
    EXECUTE format('ALTER TABLE %I FORCE ROW LEVEL SECURITY', t);
    EXECUTE format($p$CREATE POLICY tenant_isolation ON %I
      USING (organization_id = NULLIF(current_setting('app.current_organization_id', true), '')::uuid)
      WITH CHECK (organization_id = NULLIF(current_setting('app.current_organization_id', true), '')::uuid)$p$, t);
    EXECUTE format('GRANT SELECT, INSERT, UPDATE, DELETE ON %I TO jack_app', t);
  END LOOP;
  -- The claim functions read and update every organization's rows as the owner.
  EXECUTE format('CREATE POLICY definer_claim ON integration_feeds FOR ALL TO %I USING (true) WITH CHECK (true)', current_user);
  EXECUTE format('CREATE POLICY definer_claim ON integration_deliveries FOR ALL TO %I USING (true) WITH CHECK (true)', current_user);
  EXECUTE format('CREATE POLICY definer_claim ON integrations FOR SELECT TO %I USING (true)', current_user);

  -- Claims up to claim_limit feeds of organizations with integrations (paused ones too: a paused
  -- integration skips what happens meanwhile, it does not replay it on resuming) whose claim
  -- expired or is claim_owner's already (a node renews its own), until claim_until. SKIP LOCKED
  -- as in claim_due_reminders.
  EXECUTE format($f$
    CREATE FUNCTION claim_integration_feeds(claim_owner TEXT, claim_now TIMESTAMPTZ, claim_until TIMESTAMPTZ, claim_limit INTEGER)
    RETURNS TABLE (organization_id UUID, last_event_id UUID, since TIMESTAMPTZ)
    LANGUAGE sql VOLATILE SECURITY DEFINER SET search_path = %I, pg_temp AS $body$
      WITH due AS MATERIALIZED (
        SELECT f.organization_id FROM integration_feeds f
        WHERE (f.claimed_until IS NULL OR f.claimed_until <= claim_now OR f.claimed_by = claim_owner)
          AND EXISTS (SELECT 1 FROM integrations i WHERE i.organization_id = f.organization_id)
        ORDER BY f.claimed_until NULLS FIRST, f.organization_id
        LIMIT claim_limit
        FOR UPDATE SKIP LOCKED
      )
      UPDATE integration_feeds f SET claimed_by = claim_owner, claimed_until = claim_until
      FROM due WHERE f.organization_id = due.organization_id
      RETURNING f.organization_id, f.last_event_id, f.since
    $body$ $f$, current_schema());

  -- Claims up to claim_limit due pending deliveries, oldest first, leaving out any delivery
  -- behind an earlier pending delivery of the same lead to the same integration (per-lead order).
  EXECUTE format($f$
    CREATE FUNCTION claim_due_deliveries(claim_now TIMESTAMPTZ, claim_until TIMESTAMPTZ, claim_limit INTEGER)
    RETURNS TABLE (id UUID, organization_id UUID, integration_id UUID, event_id UUID, event_type VARCHAR,
                   lead_id VARCHAR, payload TEXT, status VARCHAR, attempts INTEGER, response_code INTEGER,
                   latency_ms BIGINT, last_error TEXT, last_attempt_at TIMESTAMPTZ, next_attempt_at TIMESTAMPTZ,
                   delivered_at TIMESTAMPTZ, created_at TIMESTAMPTZ, history JSONB)
    LANGUAGE sql VOLATILE SECURITY DEFINER SET search_path = %I, pg_temp AS $body$
      WITH due AS MATERIALIZED (
        SELECT d.id FROM integration_deliveries d
        WHERE d.status = 'pending' AND d.next_attempt_at <= claim_now
          AND (d.claimed_until IS NULL OR d.claimed_until <= claim_now)
          AND (d.lead_id = '' OR NOT EXISTS (
            SELECT 1 FROM integration_deliveries e
            WHERE e.integration_id = d.integration_id AND e.lead_id = d.lead_id
              AND e.status = 'pending' AND e.seq < d.seq))
        ORDER BY d.next_attempt_at, d.seq
        LIMIT claim_limit
        FOR UPDATE SKIP LOCKED
      ), claimed AS (
        UPDATE integration_deliveries r SET claimed_until = claim_until
        FROM due WHERE r.id = due.id
        RETURNING r.*
      )
      SELECT c.id, c.organization_id, c.integration_id, c.event_id, c.event_type, c.lead_id, c.payload, c.status,
        c.attempts, c.response_code, c.latency_ms, c.last_error, c.last_attempt_at, c.next_attempt_at,
        c.delivered_at, c.created_at, c.history
      FROM claimed c ORDER BY c.seq
    $body$ $f$, current_schema());
END $$;
-- +goose StatementEnd

-- +goose Down
DROP FUNCTION IF EXISTS claim_due_deliveries(TIMESTAMPTZ, TIMESTAMPTZ, INTEGER);
DROP FUNCTION IF EXISTS claim_integration_feeds(TEXT, TIMESTAMPTZ, TIMESTAMPTZ, INTEGER);
DROP TABLE IF EXISTS integration_deliveries;
DROP TABLE IF EXISTS integration_lead_states;
DROP TABLE IF EXISTS integration_feeds;
DROP TABLE IF EXISTS integrations;
