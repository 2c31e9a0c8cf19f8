package actors

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/jack-auto/jack"
	"github.com/jack-auto/jack/persistence/storetest"
	"github.com/jack-auto/jack/providers/offline"
)

// The offline agent books a test drive over SMS through the engine: the customer asks, the
// agent offers the time, the customer says yes, the appointment is stored (source ai_sms) with
// its event, the confirmation goes out with day, time and address in the dealership's zone,
// and the agent's variables mention the appointment. Then the node stops and another starts
// over the same store: the day-before and two-hours-before reminders each fire once.
func TestAIBooksOverSMS(t *testing.T) {
	t.Parallel()
	for _, sk := range stores {
		t.Run(sk.name, func(t *testing.T) {
			t.Parallel()
			clock := newFakeClock(t, "2026-12-10T17:00:00Z") // Thursday, noon in New York
			store := sk.open(t)
			setClock(store, clock.Now)
			tune := func(c *Config) { c.Now, c.AIDebounce, c.ReminderPoll = clock.Now, time.Millisecond, -1 }
			b := setup(t, store, tune)
			settings := b.org.Settings
			settings.TimeZone, settings.Address = "America/New_York", "12 Main St, Springfield"
			_, err := store.UpdateOrganization(t.Context(), b.org.ID, jack.OrganizationUpdate{Settings: &settings})
			require.NoError(t, err)
			off := offline.NewAgent()
			b.agent.ReplyFunc = func(turn jack.AgentTurn) (*jack.AgentReply, error) {
				s, err := off.Open(context.Background(), jack.AgentConversation{OrganizationID: b.org.ID})
				if err != nil {
					return nil, err
				}
				return s.Reply(context.Background(), turn)
			}
			customer := storetest.NewPhone()

			b.inbound(t, customer, "Hi, I'm interested in the 2024 Civic")
			b.waitSent(t, 1)
			b.inbound(t, customer, "can I come Saturday at 10 for a test drive?")
			offer := b.waitSent(t, 2)[1].Body
			require.Contains(t, offer, "Saturday, Dec 12 at 10:00 AM")
			require.True(t, strings.HasSuffix(offer, "Shall I book it?"), offer)
			list, err := store.FindAppointments(t.Context(), b.org.ID, jack.AppointmentFilter{})
			require.NoError(t, err)
			require.Empty(t, list, "nothing booked before the yes")

			b.inbound(t, customer, "Yes")
			confirm := b.waitSent(t, 3)[2].Body
			require.Equal(t, "You're booked for a test drive on Saturday, Dec 12 at 10:00 AM at 12 Main St, Springfield. "+
				"See you then! Reply here anytime to reschedule or cancel.", confirm)
			list, err = store.FindAppointments(t.Context(), b.org.ID, jack.AppointmentFilter{})
			require.NoError(t, err)
			require.Len(t, list, 1)
			a := list[0]
			require.Equal(t, jack.SourceAISMS, a.Source)
			require.Equal(t, jack.AppointmentTestDrive, a.Kind)
			require.Equal(t, customer, a.Phone)
			require.True(t, a.StartsAt.Equal(time.Date(2026, 12, 12, 15, 0, 0, 0, time.UTC)), "%v", a.StartsAt)
			require.Nil(t, a.CreatedBy, "booked by the AI")

			events, err := store.FindEvents(t.Context(), b.org.ID, jack.EventFilter{})
			require.NoError(t, err)
			require.True(t, slicesContainsType(events, jack.EventAppointmentBooked))

			vars, err := b.engine.Context(t.Context(), b.org.ID, customer)
			require.NoError(t, err)
			require.Equal(t, "Test drive on Saturday, Dec 12 at 10:00 AM (America/New_York)", vars["upcoming_appointment"])

			reminders, err := store.FindReminders(t.Context(), b.org.ID, customer)
			require.NoError(t, err)
			require.Equal(t, AppointmentReminderStep, reminders[0].Step)
			require.True(t, reminders[0].DueAt.Equal(a.StartsAt.Add(-24*time.Hour)), "%v", reminders[0].DueAt)
			require.Zero(t, b.poll(t), "nothing is due yet")

			// The node goes away; another one takes over the same store.
			b.engine.Close()
			cfg := Config{ServerURL: "http://jack.test", RequestTimeout: 5 * time.Second}
			tune(&cfg)
			e2, err := NewEngine(cfg, store, b.broker, b.sms, b.agent, b.dialer, testLogger(t))
			require.NoError(t, err)
			require.NoError(t, e2.Start())
			t.Cleanup(func() { e2.Close() })
			b.engine = e2

			clock.set(t, "2026-12-11T15:00:00Z") // the day before, 10:00 in New York
			require.Equal(t, 1, b.poll(t))
			dayBefore := b.waitSent(t, 4)[3].Body
			require.Equal(t, "Reminder: a test drive is booked for you tomorrow, Saturday, Dec 12 at 10:00 AM at 12 Main St, Springfield. "+
				"Reply here to reschedule or cancel.", dayBefore)
			require.Zero(t, b.poll(t), "fired once")
			clock.advance(time.Hour)
			require.Zero(t, b.poll(t))

			clock.set(t, "2026-12-12T13:00:00Z") // two hours before
			require.Equal(t, 1, b.poll(t))
			soon := b.waitSent(t, 5)[4].Body
			require.Equal(t, "See you soon! A test drive today at 10:00 AM at 12 Main St, Springfield.", soon)
			clock.advance(30 * time.Minute)
			require.Zero(t, b.poll(t), "fired once")
			require.Len(t, b.sms.Sent(), 5)
		})
	}
}

func slicesContainsType(events []*jack.Event, typ string) bool {
	for _, e := range events {
		if e.Type == typ {
			return true
		}
	}
	return false
}

// TestAppointmentReminderQuietHours: a staff booking reaches the conversation, whose day-before
// reminder falls before the customer's contact hours: it waits for them, then fires once.
func TestAppointmentReminderQuietHours(t *testing.T) {
	t.Parallel()
	clock := newFakeClock(t, "2026-12-10T17:00:00Z")
	store := sqliteWithClock(t, clock)
	b := setup(t, store, func(c *Config) { c.Now, c.ReminderPoll = clock.Now, -1 })
	settings := b.org.Settings
	settings.TimeZone, settings.ContactHoursStart, settings.ContactHoursEnd = "America/New_York", "08:00", "21:00"
	_, err := store.UpdateOrganization(t.Context(), b.org.ID, jack.OrganizationUpdate{Settings: &settings})
	require.NoError(t, err)
	customer := "+16045550199" // Vancouver: three hours behind New York
	lead := storetest.MustCreateLead(t, store, b.org.ID, customer)
	start := time.Date(2026, 12, 12, 15, 0, 0, 0, time.UTC) // Saturday 10:00 in New York, 07:00 in Vancouver
	storetest.MustBookAppointment(t, store, b.org.ID, lead, start, 2)
	require.NoError(t, b.engine.LeadChanged(t.Context(), b.org.ID, customer, false))
	reminders, err := store.FindReminders(t.Context(), b.org.ID, customer)
	require.NoError(t, err)
	require.Len(t, reminders, 1)
	require.True(t, reminders[0].DueAt.Equal(start.Add(-24*time.Hour)))

	clock.set(t, "2026-12-11T15:00:00Z") // 07:00 in Vancouver: before the customer's hours
	require.Equal(t, 1, b.poll(t))
	require.Empty(t, b.sms.Sent(), "not before 08:00 the customer's time")
	reminders, err = store.FindReminders(t.Context(), b.org.ID, customer)
	require.NoError(t, err)
	require.Equal(t, jack.ReminderPending, reminders[0].Status)
	require.True(t, reminders[0].DueAt.Equal(time.Date(2026, 12, 11, 16, 0, 0, 0, time.UTC)), "%v", reminders[0].DueAt)

	clock.set(t, "2026-12-11T16:00:00Z")
	require.Equal(t, 1, b.poll(t))
	sent := b.waitSent(t, 1)
	require.Contains(t, sent[0].Body, "tomorrow, Saturday, Dec 12 at 10:00 AM")
	require.Zero(t, b.poll(t))
}
