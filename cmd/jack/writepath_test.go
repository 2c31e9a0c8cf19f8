package main

import (
	"net/http"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/jack-auto/jack/persistence/postgres/postgrestest"
)

// A text whose write fails between the group-commit writer taking it and its COMMIT (here the
// database refuses the COMMIT, through a deferred trigger, as it would a crash or an admin
// shutdown there) is not acknowledged: Twilio gets a 503, nothing of it is stored, and
// Twilio's retry of the same webhook stores it exactly once.
func TestWebhookNotAcknowledgedWhenItsCommitFails(t *testing.T) {
	t.Parallel()
	dbURL := postgrestest.URL(t) // skips when TEST_DATABASE_URL is unset
	b := newSMSBundle(t, map[string]string{"DATABASE_URL": dbURL, "JWT_SECRET": strings.Repeat("w", 40), "JACK_AI_DEBOUNCE": "1h"})
	customer := "+16045550177"
	require.Equal(t, http.StatusOK, b.text(t, customer, "Hello"))

	conn, err := pgx.Connect(t.Context(), dbURL) // the test's own schema, as its owner
	require.NoError(t, err)
	t.Cleanup(func() { _ = conn.Close(t.Context()) })
	_, err = conn.Exec(t.Context(), `
		CREATE FUNCTION fail_at_commit() RETURNS trigger LANGUAGE plpgsql AS $$
		BEGIN
			IF NEW.content = 'fail at commit' THEN RAISE EXCEPTION 'the commit fails'; END IF;
			RETURN NULL;
		END $$;
		CREATE CONSTRAINT TRIGGER fail_at_commit AFTER INSERT ON conversations
			DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION fail_at_commit();`)
	require.NoError(t, err)

	params := b.twilio.InboundSMSParams(customer, b.orgPhone, "fail at commit")
	resp := b.twilio.PostWebhook(t, b.m.URL()+"/api/webhooks/twilio/sms/incoming", params)
	require.Equal(t, http.StatusServiceUnavailable, resp.StatusCode, "not acknowledged: Twilio retries")
	require.NotEmpty(t, resp.Header.Get("Retry-After"))
	lead := b.lead(t, customer)
	require.Len(t, b.messages(t, lead.ID), 1, "nothing of it was stored")

	_, err = conn.Exec(t.Context(), `DROP TRIGGER fail_at_commit ON conversations`)
	require.NoError(t, err)
	for range 2 { // Twilio's retry, and a duplicate of it
		resp = b.twilio.PostWebhook(t, b.m.URL()+"/api/webhooks/twilio/sms/incoming", params)
		require.Equal(t, http.StatusOK, resp.StatusCode)
	}
	msgs := b.messages(t, lead.ID)
	require.Len(t, msgs, 2, "stored exactly once")
	require.Equal(t, "fail at commit", msgs[1].Content)
	require.Equal(t, 2, b.lead(t, customer).TotalConversations)
}
