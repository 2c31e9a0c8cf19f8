package main

import (
	"bytes"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/jack-auto/jack"
	"github.com/jack-auto/jack/persistence/postgres/postgrestest"
	"github.com/jack-auto/jack/persistence/storetest"
)

// hardeningStores are the two Stores a node can run on; Postgres skips without its URL.
func hardeningStores(t *testing.T) map[string]func(t *testing.T) map[string]string {
	return map[string]func(t *testing.T) map[string]string{
		"SQLite": func(t *testing.T) map[string]string { return nil },
		"Postgres": func(t *testing.T) map[string]string {
			return map[string]string{"DATABASE_URL": postgrestest.URL(t), "JWT_SECRET": strings.Repeat("h", 40)}
		},
	}
}

// TestHardening_BadText: U+0000 and invalid UTF-8 in a signed inbound SMS, in JSON requests and
// in URLs are cleaned or refused alike on both Stores, never a 5xx; the customer's text is
// stored (issue 15, item 1).
func TestHardening_BadText(t *testing.T) {
	t.Parallel()
	for name, env := range hardeningStores(t) {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			b := newSMSBundle(t, env(t))
			customer := "+16045550122"
			require.Equal(t, http.StatusOK, b.text(t, customer, "Hi\x00 there \xff\xfe is the Civic in?"))
			lead := b.lead(t, customer)
			var msgs []jack.Message
			waitFor(t, "the inbound text", func() bool { msgs = b.messages(t, lead.ID); return len(msgs) >= 1 })
			require.Equal(t, "Hi there \uFFFD is the Civic in?", msgs[0].Content)

			var created jack.Lead
			b.owner.must("POST", "/api/leads", map[string]string{"customerName": "Nul\x00 Name", "phoneNumber": "+16045550121", "email": "n\x00@x.test"},
				http.StatusCreated, &created)
			require.Equal(t, "Nul Name", created.CustomerName)
			require.Equal(t, "n@x.test", created.Email)
			b.owner.must("POST", "/api/twilio/send-sms", map[string]string{"leadId": created.ID, "message": "Hello\x00 there"}, http.StatusCreated, nil)

			raw := []byte(`{"customerName":"Bad ` + "\xff\xfe" + ` bytes","phoneNumber":"+16045550120"}`)
			req, err := http.NewRequest(http.MethodPost, b.m.URL()+"/api/leads", bytes.NewReader(raw))
			require.NoError(t, err)
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("Authorization", "Bearer "+b.owner.token)
			resp, err := http.DefaultClient.Do(req)
			require.NoError(t, err)
			resp.Body.Close()
			require.Equal(t, http.StatusCreated, resp.StatusCode)

			for _, path := range []string{"/api/leads?q=%00", "/api/leads/%00", "/api/leads?q=%ff", "/api/leads/" + created.ID + "%00/messages"} {
				require.Equal(t, http.StatusBadRequest, b.owner.do("GET", path, nil, nil), path)
			}
		})
	}
}

// TestHardening_IdempotencyKeyReused: the same idempotency key with a different message is 422,
// not the old message as if this one were sent (issue 15, item 9).
func TestHardening_IdempotencyKeyReused(t *testing.T) {
	t.Parallel()
	for name, env := range hardeningStores(t) {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			b := newSMSBundle(t, env(t))
			var lead jack.Lead
			b.owner.must("POST", "/api/leads", map[string]string{"customerName": "Ida Empotent", "phoneNumber": "+16045550119"}, http.StatusCreated, &lead)
			send := map[string]string{"leadId": lead.ID, "message": "See you at 3", "idempotencyKey": "k-1"}
			b.owner.must("POST", "/api/twilio/send-sms", send, http.StatusCreated, nil)
			b.owner.must("POST", "/api/twilio/send-sms", send, http.StatusOK, nil)
			var e struct{ Error struct{ Code string } }
			edited := map[string]string{"leadId": lead.ID, "message": "See you at 4", "idempotencyKey": "k-1"}
			require.Equal(t, http.StatusUnprocessableEntity, b.owner.do("POST", "/api/twilio/send-sms", edited, &e))
			require.Equal(t, "idempotency_key_reused", e.Error.Code)
			time.Sleep(50 * time.Millisecond)
			require.Len(t, b.twilio.Messages(), 1, "one text went out")
		})
	}
}

// TestCommandHelp: `jack <cmd> --help` (and -h) prints the command's usage and succeeds, for
// every command, whatever the environment (issue 15, item 10).
func TestCommandHelp(t *testing.T) {
	t.Parallel()
	broken := map[string]string{"DATABASE_URL": "postgres://nowhere/db"} // no JWT_SECRET: serve would refuse
	for _, args := range [][]string{
		{"serve", "--help"}, {"serve", "-h"}, {"migrate", "--help"}, {"migrate", "up", "-h"},
		{"simulate", "sms", "--help"}, {"simulate", "--help"}, {"import", "leads", "--help"}, {"import", "--help"},
		{"audit", "--help"}, {"audit", "-h"}, {"help"}, {"--help"}, {"-h"},
	} {
		t.Run(strings.Join(args, " "), func(t *testing.T) {
			t.Parallel()
			out, errOut, err := runCLI(t, broken, args...)
			require.NoError(t, err, errOut)
			require.Contains(t, strings.ToLower(out), "usage:")
		})
	}
}

// TestImportLeadsCommand_PostgresWithoutSecret: `jack import leads` on Postgres signs no token,
// so it runs without JWT_SECRET (issue 15, item 10).
func TestImportLeadsCommand_PostgresWithoutSecret(t *testing.T) {
	t.Parallel()
	withSecret := map[string]string{"DATABASE_URL": postgrestest.URL(t), "JWT_SECRET": strings.Repeat("s", 40), "JACK_DATA_DIR": t.TempDir()}
	store := mustOpenCLIStore(t, withSecret)
	org, _ := storetest.MustCreateOrganization(t, store)
	path := mustWriteFile(t, "leads.csv", "name,phone\nNo Secret,(201) 555-0160\n")
	env := map[string]string{"DATABASE_URL": withSecret["DATABASE_URL"], "JACK_DATA_DIR": withSecret["JACK_DATA_DIR"]}
	_, errOut, err := runCLI(t, env, "import", "leads", "--org", org.ID.String(), path)
	require.NoError(t, err, errOut)
	_, err = store.FindLeadByPhone(t.Context(), org.ID, "+12015550160")
	require.NoError(t, err)
	_, _, err = runCLI(t, env, "serve")
	require.ErrorContains(t, err, "JWT_SECRET", "serve still needs it")
}
