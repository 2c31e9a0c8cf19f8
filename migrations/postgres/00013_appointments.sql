-- Appointments (test drives, sales and service visits, deliveries) booked by staff or the AI,
-- and each organization's calendar-feed token (only its SHA-256 is stored). A booking counts
-- the confirmed appointments overlapping its slot under a transaction-scoped advisory lock of
-- its organization, so concurrent bookings never overfill a slot.

-- +goose Up
CREATE TABLE appointments (
  id UUID PRIMARY KEY,
  organization_id UUID NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
  lead_id VARCHAR(255) NOT NULL REFERENCES leads(id) ON DELETE CASCADE,
  phone_number_normalized VARCHAR(50) NOT NULL,
  customer_name VARCHAR(255) NOT NULL DEFAULT '',
  starts_at TIMESTAMPTZ NOT NULL,
  ends_at TIMESTAMPTZ NOT NULL,
  kind VARCHAR(20) NOT NULL CHECK (kind IN ('test_drive', 'sales', 'service', 'delivery')),
  vehicle VARCHAR(255) NOT NULL DEFAULT '',
  notes TEXT NOT NULL DEFAULT '',
  status VARCHAR(20) NOT NULL DEFAULT 'confirmed' CHECK (status IN ('confirmed', 'cancelled', 'completed', 'no_show')),
  source VARCHAR(20) NOT NULL CHECK (source IN ('staff', 'ai_sms', 'ai_voice')),
  version BIGINT NOT NULL DEFAULT 1,
  created_by UUID REFERENCES user_profiles(id) ON DELETE SET NULL,
  updated_by UUID REFERENCES user_profiles(id) ON DELETE SET NULL,
  created_at TIMESTAMPTZ NOT NULL DEFAULT NOW(),
  updated_at TIMESTAMPTZ NOT NULL DEFAULT NOW(),
  CHECK (ends_at > starts_at)
);
CREATE INDEX appointments_org_starts_idx ON appointments (organization_id, starts_at, id);
CREATE INDEX appointments_org_phone_idx ON appointments (organization_id, phone_number_normalized, starts_at);

CREATE TABLE appointment_feed_tokens (
  organization_id UUID PRIMARY KEY REFERENCES organizations(id) ON DELETE CASCADE,
  token_hash TEXT NOT NULL,
  created_at TIMESTAMPTZ NOT NULL DEFAULT NOW()
);

-- +goose StatementBegin
DO $$
DECLARE t TEXT;
BEGIN
  FOREACH t IN ARRAY ARRAY['appointments', 'appointment_feed_tokens'] LOOP
    EXECUTE format('ALTER TABLE %I ENABLE ROW LEVEL SECURITY', t);
    EXECUTE format('ALTER TABLE %I FORCE ROW LEVEL SECURITY', t);
    EXECUTE format($p$CREATE POLICY tenant_isolation ON %I
      USING (organization_id = NULLIF(current_setting('app.current_organization_id', true), '')::uuid)
      WITH CHECK (organization_id = NULLIF(current_setting('app.current_organization_id', true), '')::uuid)$p$, t);
    EXECUTE format('GRANT SELECT, INSERT, UPDATE, DELETE ON %I TO jack_app', t);
  END LOOP;
END $$;
-- +goose StatementEnd

-- +goose Down
DROP TABLE IF EXISTS appointment_feed_tokens;
DROP TABLE IF EXISTS appointments;
