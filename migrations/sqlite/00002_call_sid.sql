-- A call is recorded once per organization under either of its keys: the ElevenLabs
-- conversation id (unique since 00001) and, from here on, the Twilio call sid, so
-- CreateCallSession's ON CONFLICT DO NOTHING holds for a call first seen by either.

-- +goose Up
CREATE UNIQUE INDEX call_sessions_org_call_sid_key ON call_sessions (organization_id, twilio_call_sid)
  WHERE twilio_call_sid IS NOT NULL;

-- +goose Down
DROP INDEX IF EXISTS call_sessions_org_call_sid_key;
