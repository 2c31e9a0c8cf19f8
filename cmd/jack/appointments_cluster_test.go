package main

import (
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/jack-auto/jack"
	"github.com/jack-auto/jack/actors"
	"github.com/jack-auto/jack/persistence/postgres"
	"github.com/jack-auto/jack/persistence/postgres/postgrestest"
	"github.com/jack-auto/jack/providers/fake"
)

// TestCluster_AppointmentRemindersAcrossKill books a test drive over SMS with the offline agent
// on two `jack serve` processes (ask → offer → yes → booked → confirmed), then kills (SIGKILL)
// the node that owns the conversation. The survivor fires the day-before reminder; the killed
// node is restarted, the survivor is killed in turn, and the restarted node fires the
// two-hours-before one. Each reminder reaches Twilio exactly once. Nothing in the binary moves
// its clock, so time passes by moving the appointment closer in the database.
func TestCluster_AppointmentRemindersAcrossKill(t *testing.T) {
	t.Parallel()
	redisURL := os.Getenv("TEST_REDIS_URL")
	if redisURL == "" {
		t.Skip("TEST_REDIS_URL is not set (e.g. redis://127.0.0.1:6379/0): skipping the two-process appointment test, which needs a real Redis")
	}
	dbURL := postgrestest.URL(t) // skips when TEST_DATABASE_URL is unset
	tw := fake.NewTwilio(t, "AC0123456789abcdef0123456789abcdef", "fakeauthtoken0123456789")
	cl := startCluster(t, 2, map[string]string{
		"DATABASE_URL": dbURL, "REDIS_URL": redisURL, "JWT_SECRET": strings.Repeat("a", 40),
		"TWILIO_ACCOUNT_SID": tw.AccountSID(), "TWILIO_AUTH_TOKEN": tw.AuthToken(), "TWILIO_API_URL": tw.URL(),
		"JACK_REMINDER_POLL": "50ms", "JACK_AI_DEBOUNCE": "50ms",
	})
	owner, auth := register(t, cl.nodes[0].url, "owner@appointments-kill.test")
	orgID := auth.Organization.ID
	const orgPhone = "+16045550100"
	owner.must("POST", "/api/organizations/"+orgID.String()+"/phone-numbers", map[string]string{"phoneNumber": orgPhone}, http.StatusCreated, nil)
	open := map[string]string{"open": "09:00", "close": "18:00"}
	hours := map[string]any{}
	for _, d := range jack.Weekdays {
		hours[d] = open
	}
	owner.must("PATCH", "/api/organization", map[string]any{"settings": map[string]any{
		"timeZone": "America/New_York", "address": "12 Main St, Springfield", "businessHours": hours,
		"contactHoursStart": "00:00", "contactHoursEnd": "24:00",
	}}, http.StatusOK, nil)

	load := &textLoad{cl: cl, hc: &http.Client{Timeout: 10 * time.Second}, authToken: tw.AuthToken(), accountSID: tw.AccountSID(), orgPhone: orgPhone}
	c := &customer{phone: "+16045550177"}
	toCustomer := func(prefix string) (n int, last string) {
		for _, m := range tw.Messages() {
			if m.To == c.phone && strings.HasPrefix(m.Body, prefix) {
				n, last = n+1, m.Body
			}
		}
		return n, last
	}
	say := func(body string, replies int) string {
		t.Helper()
		require.NotNil(t, load.text(c, body), "the text %q was acknowledged", body)
		var last string
		waitForCond(t, 15*time.Second, "the assistant's answer to "+body, func() bool {
			n, l := toCustomer("")
			last = l
			return n >= replies
		})
		return last
	}

	say("Hi, I'm interested in the 2024 Civic", 1)
	// Three days ahead, so that both reminders are still to come.
	ny, err := time.LoadLocation("America/New_York")
	require.NoError(t, err)
	day := time.Now().In(ny).AddDate(0, 0, 3).Format("Jan 2")
	offer := say("can I come "+day+" at 10 for a test drive?", 2)
	require.True(t, strings.HasSuffix(offer, "Shall I book it?"), "the assistant offers the time: %q", offer)
	confirm := say("Yes", 3)
	var store *postgres.Store
	require.True(t, strings.HasPrefix(confirm, "You're booked for a test drive on "), confirm)
	require.Contains(t, confirm, "at 10:00 AM at 12 Main St, Springfield")

	store, err = postgres.Open(t.Context(), postgres.Config{URL: dbURL, MaxConns: 2})
	require.NoError(t, err)
	t.Cleanup(func() { store.Close() })
	booked, err := store.FindAppointments(t.Context(), orgID, jack.AppointmentFilter{})
	require.NoError(t, err)
	require.Len(t, booked, 1)
	require.Equal(t, jack.SourceAISMS, booked[0].Source)
	pendingStep := func() int {
		t.Helper()
		rs, err := store.FindReminders(t.Context(), orgID, c.phone)
		require.NoError(t, err)
		for _, r := range rs {
			if r.Status == jack.ReminderPending {
				return r.Step
			}
		}
		return -1
	}
	require.Equal(t, actors.AppointmentReminderStep, pendingStep(), "the day-before reminder waits")
	conn, err := pgx.Connect(t.Context(), dbURL) // the test's own superuser connection, beside RLS
	require.NoError(t, err)
	t.Cleanup(func() { _ = conn.Close(t.Context()) })
	// Time passes by moving the appointment closer, not the clock: its next reminder is then due
	// now, as it would be that far ahead of the appointment.
	comeCloser := func(ahead time.Duration) {
		t.Helper()
		tag, err := conn.Exec(t.Context(), `UPDATE appointments SET starts_at = now() + $3::interval, ends_at = now() + $3::interval + (ends_at - starts_at)
			WHERE organization_id = $1 AND id = $2`, orgID, booked[0].ID, ahead.String())
		require.NoError(t, err)
		require.EqualValues(t, 1, tag.RowsAffected())
		tag, err = conn.Exec(t.Context(), `UPDATE reminders SET due_at = now() - interval '1 second'
			WHERE organization_id = $1 AND phone_number_normalized = $2 AND status = 'pending'`, orgID, c.phone)
		require.NoError(t, err)
		require.EqualValues(t, 1, tag.RowsAffected(), "one pending reminder")
	}
	kill := func(nd *clusterNode) {
		t.Helper()
		nd.dead.Store(true)
		require.NoError(t, nd.cmd.Process.Kill())
		<-nd.exited
	}

	// The conversation's node dies (SIGKILL); the other fires the day-before reminder, once.
	ownerNode := cl.byMember(c.lastOwner())
	require.NotNil(t, ownerNode, "the node that owns the conversation (%q)", c.lastOwner())
	kill(ownerNode)
	survivor := cl.alive()[0]
	comeCloser(24*time.Hour - time.Minute)
	waitForCond(t, 15*time.Second, "the day-before reminder from "+survivor.name, func() bool {
		n, _ := toCustomer("Reminder: a test drive is booked for you")
		return n == 1
	})
	waitForCond(t, 5*time.Second, "the two-hours-before reminder scheduled", func() bool { return pendingStep() == actors.AppointmentReminderStep+1 })

	// The dead node comes back as a new member; the survivor dies in turn; the two-hours-before
	// reminder fires once, from the restarted node.
	ownerNode.dead.Store(false)
	cl.start(t, ownerNode)
	cl.waitReady(t, ownerNode, 30*time.Second)
	kill(survivor)
	comeCloser(2*time.Hour - time.Minute)
	waitForCond(t, 15*time.Second, "the two-hours-before reminder from "+ownerNode.name, func() bool {
		n, _ := toCustomer("See you soon!")
		return n == 1
	})
	time.Sleep(time.Second) // twenty more poll rounds: a second firing would show
	dayBefore, _ := toCustomer("Reminder: a test drive is booked for you")
	soon, _ := toCustomer("See you soon!")
	require.Equal(t, 1, dayBefore, "the day-before reminder reached Twilio once")
	require.Equal(t, 1, soon, "the two-hours-before reminder reached Twilio once")
	total, _ := toCustomer("")
	require.Equal(t, 5, total, "reply, offer, confirmation and the two reminders: nothing else, nothing twice")
	require.Equal(t, -1, pendingStep(), "no reminder left")
}
