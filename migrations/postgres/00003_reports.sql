-- Lead intake and reports. leads.source and leads.external_id are a feed's own key for a lead
-- (ADF id@source, a CSV's id column), unique per organization when present, so a re-import
-- finds the lead it created. The audit functions are SECURITY DEFINER like 00001's lookups:
-- `jack audit` looks across organizations, which the application role (jack_app, under RLS)
-- cannot. FORCE ROW LEVEL SECURITY applies to the owner too, so the owner gets read access to
-- the tables 00001 gave it none of; the application never runs as the owner.

-- +goose Up
ALTER TABLE leads ADD COLUMN source VARCHAR(100);
ALTER TABLE leads ADD COLUMN external_id VARCHAR(255);
CREATE UNIQUE INDEX leads_org_source_external_id_key ON leads (organization_id, source, external_id)
  WHERE external_id IS NOT NULL;
-- Analytics reads an organization's messages by time, across conversations.
CREATE INDEX conversations_org_timestamp_idx ON conversations (organization_id, "timestamp");

-- +goose StatementBegin
DO $$
DECLARE
  t TEXT;
BEGIN
  FOREACH t IN ARRAY ARRAY['organizations','conversations','conversation_summaries','call_sessions'] LOOP
    EXECUTE format('CREATE POLICY definer_audit ON %I FOR SELECT TO %I USING (true)', t, current_user);
  END LOOP;

  -- Rows whose organization_id names no organization, per tenant table. The foreign keys make
  -- them impossible unless someone bypassed them by hand (session_replication_role, a dropped
  -- constraint): this is the check that they did not.
  EXECUTE format($f$
    CREATE FUNCTION audit_rows_without_organization() RETURNS TABLE (table_name TEXT, orphans BIGINT)
    LANGUAGE sql STABLE SECURITY DEFINER SET search_path = %I, pg_temp AS $body$
      SELECT 'call_sessions', count(*) FROM call_sessions t
        WHERE NOT EXISTS (SELECT FROM organizations o WHERE o.id = t.organization_id)
      UNION ALL SELECT 'conversation_summaries', count(*) FROM conversation_summaries t
        WHERE NOT EXISTS (SELECT FROM organizations o WHERE o.id = t.organization_id)
      UNION ALL SELECT 'conversations', count(*) FROM conversations t
        WHERE NOT EXISTS (SELECT FROM organizations o WHERE o.id = t.organization_id)
      UNION ALL SELECT 'events', count(*) FROM events t
        WHERE NOT EXISTS (SELECT FROM organizations o WHERE o.id = t.organization_id)
      UNION ALL SELECT 'leads', count(*) FROM leads t
        WHERE NOT EXISTS (SELECT FROM organizations o WHERE o.id = t.organization_id)
      UNION ALL SELECT 'organization_phone_numbers', count(*) FROM organization_phone_numbers t
        WHERE NOT EXISTS (SELECT FROM organizations o WHERE o.id = t.organization_id)
      UNION ALL SELECT 'user_profiles', count(*) FROM user_profiles t
        WHERE NOT EXISTS (SELECT FROM organizations o WHERE o.id = t.organization_id)
    $body$ $f$, current_schema());

  -- Customer phones that are leads of several organizations, one row per (phone, organization).
  EXECUTE format($f$
    CREATE FUNCTION audit_shared_customer_phones() RETURNS TABLE (phone VARCHAR, organization_id UUID)
    LANGUAGE sql STABLE SECURITY DEFINER SET search_path = %I, pg_temp AS $body$
      SELECT DISTINCT l.phone_number_normalized, l.organization_id FROM leads l
      WHERE l.phone_number_normalized IN (
        SELECT phone_number_normalized FROM leads GROUP BY phone_number_normalized
        HAVING count(DISTINCT organization_id) > 1)
      ORDER BY 1, 2
    $body$ $f$, current_schema());

  -- Active numbers that cannot take AI calls: no ElevenLabs phone id.
  EXECUTE format($f$
    CREATE FUNCTION audit_numbers_without_elevenlabs() RETURNS TABLE (organization_id UUID, phone VARCHAR)
    LANGUAGE sql STABLE SECURITY DEFINER SET search_path = %I, pg_temp AS $body$
      SELECT p.organization_id, p.phone_number FROM organization_phone_numbers p
      WHERE p.is_active AND btrim(COALESCE(p.elevenlabs_phone_id, '')) = ''
      ORDER BY 1, 2
    $body$ $f$, current_schema());

  -- One page of every lead's phone in (organization_id, id) order, after the given lead: the
  -- caller checks each phone against the numbering plan, which SQL cannot.
  EXECUTE format($f$
    CREATE FUNCTION audit_lead_phones(after_organization UUID, after_id VARCHAR, page_size INTEGER)
    RETURNS TABLE (organization_id UUID, id VARCHAR, phone VARCHAR)
    LANGUAGE sql STABLE SECURITY DEFINER SET search_path = %I, pg_temp AS $body$
      SELECT l.organization_id, l.id, l.phone_number_normalized FROM leads l
      WHERE (l.organization_id, l.id) > (after_organization, after_id)
      ORDER BY l.organization_id, l.id
      LIMIT page_size
    $body$ $f$, current_schema());
END $$;
-- +goose StatementEnd

-- +goose Down
DROP FUNCTION IF EXISTS audit_lead_phones(UUID, VARCHAR, INTEGER);
DROP FUNCTION IF EXISTS audit_numbers_without_elevenlabs();
DROP FUNCTION IF EXISTS audit_shared_customer_phones();
DROP FUNCTION IF EXISTS audit_rows_without_organization();
DROP POLICY IF EXISTS definer_audit ON call_sessions;
DROP POLICY IF EXISTS definer_audit ON conversation_summaries;
DROP POLICY IF EXISTS definer_audit ON conversations;
DROP POLICY IF EXISTS definer_audit ON organizations;
DROP INDEX IF EXISTS conversations_org_timestamp_idx;
DROP INDEX IF EXISTS leads_org_source_external_id_key;
ALTER TABLE leads DROP COLUMN IF EXISTS external_id;
ALTER TABLE leads DROP COLUMN IF EXISTS source;
