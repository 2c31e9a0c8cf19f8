-- The seed's tables (organizations, user_profiles, organization_phone_numbers, leads,
-- conversations, conversation_summaries, call_sessions) plus events, with RLS on each.

-- +goose Up
-- +goose StatementBegin
DO $$
BEGIN
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'jack_app') THEN
    CREATE ROLE jack_app NOLOGIN NOSUPERUSER NOBYPASSRLS NOCREATEDB NOCREATEROLE;
  END IF;
  -- The migrating user must be able to SET ROLE jack_app. A superuser can without membership.
  IF NOT (SELECT rolsuper FROM pg_roles WHERE rolname = current_user) AND NOT pg_has_role(current_user, 'jack_app', 'MEMBER') THEN
    EXECUTE format('GRANT jack_app TO %I', current_user);
  END IF;
END $$;
-- +goose StatementEnd

CREATE TABLE organizations (
  id UUID PRIMARY KEY DEFAULT gen_random_uuid(),
  name VARCHAR(255) NOT NULL,
  domain VARCHAR(255),
  created_at TIMESTAMPTZ NOT NULL DEFAULT NOW(),
  settings JSONB NOT NULL DEFAULT '{}'::jsonb,
  default_phone_number_id UUID
);

CREATE TABLE user_profiles (
  id UUID PRIMARY KEY DEFAULT gen_random_uuid(),
  email VARCHAR(255) NOT NULL,
  password_hash VARCHAR(255) NOT NULL,
  full_name VARCHAR(255),
  organization_id UUID NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
  role VARCHAR(50) NOT NULL DEFAULT 'agent',
  created_at TIMESTAMPTZ NOT NULL DEFAULT NOW(),
  updated_at TIMESTAMPTZ NOT NULL DEFAULT NOW(),
  CONSTRAINT user_profiles_email_key UNIQUE (email)
);
CREATE INDEX user_profiles_org_idx ON user_profiles (organization_id, created_at);

CREATE TABLE organization_phone_numbers (
  id UUID PRIMARY KEY DEFAULT gen_random_uuid(),
  organization_id UUID NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
  phone_number VARCHAR(50) NOT NULL,
  elevenlabs_phone_id VARCHAR(255),
  twilio_phone_sid VARCHAR(255) NOT NULL,
  is_active BOOLEAN NOT NULL DEFAULT true,
  created_at TIMESTAMPTZ NOT NULL DEFAULT NOW(),
  CONSTRAINT organization_phone_numbers_phone_number_key UNIQUE (phone_number)
);
CREATE INDEX organization_phone_numbers_org_idx ON organization_phone_numbers (organization_id);
ALTER TABLE organizations ADD CONSTRAINT organizations_default_phone_number_fkey
  FOREIGN KEY (default_phone_number_id) REFERENCES organization_phone_numbers(id) ON DELETE SET NULL;

CREATE TABLE leads (
  id VARCHAR(255) PRIMARY KEY,
  customer_name VARCHAR(255) NOT NULL,
  phone_number VARCHAR(50) NOT NULL,
  phone_number_normalized VARCHAR(50) NOT NULL,
  email VARCHAR(255),
  organization_id UUID NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
  created_by UUID REFERENCES user_profiles(id) ON DELETE SET NULL,
  assigned_to UUID REFERENCES user_profiles(id) ON DELETE SET NULL,
  chase_status VARCHAR(50) NOT NULL DEFAULT 'new',
  funding_readiness VARCHAR(50) NOT NULL DEFAULT 'unknown',
  funding_readiness_reason TEXT,
  sentiment VARCHAR(50) NOT NULL DEFAULT 'neutral',
  script_progress_current_step VARCHAR(100) NOT NULL DEFAULT 'contacted',
  script_progress_completed_steps JSONB NOT NULL DEFAULT '["contacted"]'::jsonb,
  credit_score_range VARCHAR(50),
  credit_known_issues JSONB NOT NULL DEFAULT '[]'::jsonb,
  vehicle_preference VARCHAR(255),
  budget_range VARCHAR(100),
  last_touchpoint TIMESTAMPTZ,
  created_at TIMESTAMPTZ NOT NULL DEFAULT NOW(),
  updated_at TIMESTAMPTZ NOT NULL DEFAULT NOW(),
  total_conversations INTEGER NOT NULL DEFAULT 0,
  last_activity TIMESTAMPTZ NOT NULL DEFAULT NOW(),
  ai_paused_until TIMESTAMPTZ,
  opted_out_at TIMESTAMPTZ,
  version BIGINT NOT NULL DEFAULT 1,
  CONSTRAINT leads_organization_id_phone_number_normalized_key UNIQUE (organization_id, phone_number_normalized)
);
CREATE INDEX leads_org_created_idx ON leads (organization_id, created_at DESC, id DESC);
CREATE INDEX leads_org_activity_idx ON leads (organization_id, last_activity DESC, id DESC);

CREATE TABLE conversations (
  id UUID PRIMARY KEY DEFAULT gen_random_uuid(),
  lead_id VARCHAR(255) REFERENCES leads(id) ON DELETE CASCADE,
  organization_id UUID NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
  phone_number_normalized VARCHAR(50) NOT NULL,
  content TEXT NOT NULL,
  sent_by VARCHAR(50) NOT NULL,
  timestamp TIMESTAMPTZ NOT NULL DEFAULT NOW(),
  type VARCHAR(50) NOT NULL DEFAULT 'sms',
  twilio_message_sid VARCHAR(255),
  twilio_call_sid VARCHAR(255),
  elevenlabs_conversation_id VARCHAR(255),
  dynamic_variables JSONB NOT NULL DEFAULT '{}'::jsonb,
  conversation_context TEXT,
  message_status VARCHAR(50) NOT NULL DEFAULT 'sent',
  idempotency_key VARCHAR(255),
  error_code VARCHAR(50),
  error_message TEXT,
  time_in_call_secs DOUBLE PRECISION,
  author_user_id UUID REFERENCES user_profiles(id) ON DELETE SET NULL,
  CONSTRAINT conversations_org_message_sid_key UNIQUE (organization_id, twilio_message_sid),
  CONSTRAINT conversations_org_idempotency_key UNIQUE (organization_id, idempotency_key)
);
CREATE INDEX conversations_org_phone_idx ON conversations (organization_id, phone_number_normalized, timestamp, id);
CREATE INDEX conversations_org_lead_idx ON conversations (organization_id, lead_id, timestamp, id);

CREATE TABLE conversation_summaries (
  id UUID PRIMARY KEY DEFAULT gen_random_uuid(),
  phone_number_normalized VARCHAR(50) NOT NULL,
  organization_id UUID NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
  summary TEXT NOT NULL,
  summary_type VARCHAR(50) NOT NULL DEFAULT 'elevenlabs',
  total_messages INTEGER NOT NULL DEFAULT 0,
  voice_messages INTEGER NOT NULL DEFAULT 0,
  sms_messages INTEGER NOT NULL DEFAULT 0,
  created_at TIMESTAMPTZ NOT NULL DEFAULT NOW(),
  updated_at TIMESTAMPTZ NOT NULL DEFAULT NOW(),
  CONSTRAINT conversation_summaries_org_phone_key UNIQUE (organization_id, phone_number_normalized)
);

CREATE TABLE call_sessions (
  id UUID PRIMARY KEY DEFAULT gen_random_uuid(),
  organization_id UUID NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
  lead_id VARCHAR(255) REFERENCES leads(id) ON DELETE CASCADE,
  elevenlabs_conversation_id VARCHAR(255),
  twilio_call_sid VARCHAR(255),
  phone_number_normalized VARCHAR(50),
  direction VARCHAR(20) NOT NULL DEFAULT 'inbound',
  started_at TIMESTAMPTZ NOT NULL DEFAULT NOW(),
  ended_at TIMESTAMPTZ,
  duration_seconds INTEGER,
  call_outcome VARCHAR(100),
  termination_reason TEXT,
  sentiment_score DOUBLE PRECISION,
  lead_quality_score DOUBLE PRECISION,
  next_action VARCHAR(255),
  elevenlabs_data JSONB NOT NULL DEFAULT '{}'::jsonb,
  CONSTRAINT call_sessions_org_conversation_key UNIQUE (organization_id, elevenlabs_conversation_id)
);
CREATE INDEX call_sessions_org_started_idx ON call_sessions (organization_id, started_at);

CREATE TABLE events (
  id UUID PRIMARY KEY,
  organization_id UUID NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
  lead_id VARCHAR(255) REFERENCES leads(id) ON DELETE CASCADE,
  type VARCHAR(50) NOT NULL,
  payload JSONB NOT NULL,
  created_at TIMESTAMPTZ NOT NULL DEFAULT NOW()
);
CREATE INDEX events_org_id_idx ON events (organization_id, id);
CREATE INDEX events_created_idx ON events (created_at);

-- Row-level security: a transaction sees and writes only the rows of the organization in
-- app.current_organization_id; with nothing set it sees nothing. NULLIF: once a transaction-local
-- setting ends, the session reads it as '' rather than NULL.
-- +goose StatementBegin
DO $$
DECLARE
  t TEXT;
  col TEXT;
BEGIN
  FOREACH t IN ARRAY ARRAY['organizations','user_profiles','organization_phone_numbers','leads',
                           'conversations','conversation_summaries','call_sessions','events'] LOOP
    col := CASE WHEN t = 'organizations' THEN 'id' ELSE 'organization_id' END;
    EXECUTE format('ALTER TABLE %I ENABLE ROW LEVEL SECURITY', t);
    EXECUTE format('ALTER TABLE %I FORCE ROW LEVEL SECURITY', t);
    EXECUTE format('CREATE POLICY tenant_isolation ON %I USING (%I = NULLIF(current_setting(''app.current_organization_id'', true), '''')::uuid) WITH CHECK (%I = NULLIF(current_setting(''app.current_organization_id'', true), '''')::uuid)', t, col, col);
  END LOOP;

  -- The SECURITY DEFINER functions below run as the migrating user. FORCE makes RLS apply to
  -- the owner too, so the owner gets read access for those lookups. The application never runs
  -- as the owner: it switches to jack_app.
  EXECUTE format('CREATE POLICY definer_lookup ON organization_phone_numbers FOR SELECT TO %I USING (true)', current_user);
  EXECUTE format('CREATE POLICY definer_lookup ON user_profiles FOR SELECT TO %I USING (true)', current_user);
  EXECUTE format('CREATE POLICY definer_lookup ON leads FOR SELECT TO %I USING (true)', current_user);
  EXECUTE format('CREATE POLICY definer_maintenance ON events FOR ALL TO %I USING (true)', current_user);

  EXECUTE format('GRANT USAGE ON SCHEMA %I TO jack_app', current_schema());
  EXECUTE format('GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA %I TO jack_app', current_schema());
  EXECUTE format('ALTER DEFAULT PRIVILEGES IN SCHEMA %I GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO jack_app', current_schema());

  -- Tenant-free lookups. search_path is pinned to this schema so a caller cannot redirect them.
  EXECUTE format($f$
    CREATE FUNCTION get_organization_by_phone_number(phone VARCHAR(50)) RETURNS UUID
    LANGUAGE sql STABLE SECURITY DEFINER SET search_path = %I, pg_temp AS $body$
      SELECT organization_id FROM organization_phone_numbers
      WHERE phone_number = phone AND is_active = true LIMIT 1
    $body$ $f$, current_schema());
  EXECUTE format($f$
    CREATE FUNCTION get_organizations_by_customer_phone(phone VARCHAR(50)) RETURNS SETOF UUID
    LANGUAGE sql STABLE SECURITY DEFINER SET search_path = %I, pg_temp AS $body$
      SELECT organization_id FROM leads WHERE phone_number_normalized = phone ORDER BY organization_id
    $body$ $f$, current_schema());
  EXECUTE format($f$
    CREATE FUNCTION get_user_for_login(login_email VARCHAR(255))
    RETURNS TABLE (id UUID, email VARCHAR, password_hash VARCHAR, full_name VARCHAR, organization_id UUID,
                   role VARCHAR, created_at TIMESTAMPTZ, updated_at TIMESTAMPTZ)
    LANGUAGE sql STABLE SECURITY DEFINER SET search_path = %I, pg_temp AS $body$
      SELECT u.id, u.email, u.password_hash, u.full_name, u.organization_id, u.role, u.created_at, u.updated_at
      FROM user_profiles u WHERE u.email = login_email
    $body$ $f$, current_schema());
  EXECUTE format($f$
    CREATE FUNCTION delete_events_before(cutoff TIMESTAMPTZ) RETURNS BIGINT
    LANGUAGE sql VOLATILE SECURITY DEFINER SET search_path = %I, pg_temp AS $body$
      WITH d AS (DELETE FROM events WHERE created_at < cutoff RETURNING 1) SELECT count(*) FROM d
    $body$ $f$, current_schema());
END $$;
-- +goose StatementEnd

-- +goose Down
DROP FUNCTION IF EXISTS delete_events_before(TIMESTAMPTZ);
DROP FUNCTION IF EXISTS get_user_for_login(VARCHAR);
DROP FUNCTION IF EXISTS get_organizations_by_customer_phone(VARCHAR);
DROP FUNCTION IF EXISTS get_organization_by_phone_number(VARCHAR);
DROP TABLE IF EXISTS events;
DROP TABLE IF EXISTS call_sessions;
DROP TABLE IF EXISTS conversation_summaries;
DROP TABLE IF EXISTS conversations;
DROP TABLE IF EXISTS leads;
ALTER TABLE organizations DROP CONSTRAINT IF EXISTS organizations_default_phone_number_fkey;
DROP TABLE IF EXISTS organization_phone_numbers;
DROP TABLE IF EXISTS user_profiles;
DROP TABLE IF EXISTS organizations;
