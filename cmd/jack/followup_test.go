package main

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/jack-auto/jack"
	"github.com/jack-auto/jack/persistence/postgres"
	"github.com/jack-auto/jack/persistence/postgres/postgrestest"
	"github.com/jack-auto/jack/providers/fake"
)

// TestFollowUps_TwoProcesses: two `jack serve` processes on one Postgres both poll for due
// follow-up reminders every 50ms; each due reminder fires exactly once.
func TestFollowUps_TwoProcesses(t *testing.T) {
	t.Parallel()
	redisURL := os.Getenv("TEST_REDIS_URL")
	if redisURL == "" {
		t.Skip("TEST_REDIS_URL is not set (e.g. redis://127.0.0.1:6379/0): skipping the two-process follow-up test, which needs a real Redis")
	}
	dbURL := postgrestest.URL(t) // skips when TEST_DATABASE_URL is unset
	tw := fake.NewTwilio(t, "AC0123456789abcdef0123456789abcdef", "fakeauthtoken0123456789")
	cl := startCluster(t, 2, map[string]string{
		"DATABASE_URL": dbURL, "REDIS_URL": redisURL, "JWT_SECRET": strings.Repeat("f", 40),
		"TWILIO_ACCOUNT_SID": tw.AccountSID(), "TWILIO_AUTH_TOKEN": tw.AuthToken(), "TWILIO_API_URL": tw.URL(),
		"JACK_REMINDER_POLL": "50ms",
	})
	owner, auth := register(t, cl.nodes[0].url, "owner@followups.test")
	orgID := auth.Organization.ID
	owner.must("POST", "/api/organizations/"+orgID.String()+"/phone-numbers",
		map[string]string{"phoneNumber": "+16045550100", "twilioPhoneSid": "PN0123"}, http.StatusCreated, nil)
	owner.must("PATCH", "/api/organization", map[string]any{"settings": map[string]any{
		"contactHoursStart": "00:00", "contactHoursEnd": "24:00",
		"cadence": []map[string]string{{"after": "2h", "action": "sms", "message": "Hi {{customer_name}}, any questions?"}},
	}}, http.StatusOK, nil)
	var bad struct {
		Error struct{ Fields map[string]string }
	}
	require.Equal(t, http.StatusUnprocessableEntity, owner.do("PATCH", "/api/organization", map[string]any{"settings": map[string]any{
		"cadence": []map[string]string{{"after": "30s", "action": "fax"}}}}, &bad))
	require.Contains(t, bad.Error.Fields, "settings.cadence[0].after")

	// Thirty leads whose first follow-up is already due.
	store, err := postgres.Open(t.Context(), postgres.Config{URL: dbURL})
	require.NoError(t, err)
	t.Cleanup(func() { store.Close() })
	const leads = 30
	for i := range leads {
		var lead jack.Lead
		owner.must("POST", "/api/leads", map[string]string{"customerName": fmt.Sprintf("Lead %d", i), "phoneNumber": fmt.Sprintf("+1604555%04d", 400+i)}, http.StatusCreated, &lead)
		require.NoError(t, store.InConversationTx(t.Context(), orgID, func(tx jack.ConversationTx) error {
			return tx.ScheduleReminder(context.Background(), &jack.Reminder{ID: uuid.Must(uuid.NewV7()), OrganizationID: orgID, LeadID: lead.ID,
				Phone: lead.PhoneNumberNormalized, Step: 0, DueAt: time.Now().Add(-time.Second), Status: jack.ReminderPending})
		}))
	}

	tw.WaitForMessages(t, leads, 30*time.Second)
	time.Sleep(500 * time.Millisecond) // ten more poll rounds on each node: a second firing would show
	perPhone := map[string]int{}
	for _, m := range tw.Messages() {
		perPhone[m.To]++
	}
	require.Len(t, perPhone, leads, "every due reminder fired")
	for phone, n := range perPhone {
		require.Equal(t, 1, n, "%s got %d follow-ups", phone, n)
	}
	reminders, err := store.FindReminders(t.Context(), orgID, "")
	require.NoError(t, err)
	fired := 0
	for _, r := range reminders {
		if r.Status == jack.ReminderFired {
			fired++
		}
	}
	require.Equal(t, leads, fired)
}
