package offline

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/jack-auto/jack"
)

// bookingConvo is a conversation with the agent where the dealership's calendar is known.
type bookingConvo struct {
	*convo
	sched  jack.Schedule
	now    time.Time
	booked []*jack.Appointment
}

func newBookingConvo(t *testing.T) *bookingConvo {
	t.Helper()
	org := &jack.Organization{Settings: jack.OrganizationSettings{TimeZone: "America/New_York", Address: "12 Main St, Springfield"}}
	ny, err := time.LoadLocation("America/New_York")
	require.NoError(t, err)
	// Thursday, Dec 10 2026, noon in New York.
	return &bookingConvo{convo: newConvo(t, NewAgent(), "Dana Driver", premium), sched: org.Schedule(),
		now: time.Date(2026, 12, 10, 12, 0, 0, 0, ny)}
}

// say plays a customer text with the calendar as it is (minus what is booked) and books what
// the reply asks to book, as the conversation grain does.
func (c *bookingConvo) say(text string) *jack.AgentReply {
	c.tb.Helper()
	c.history = append(c.history, &jack.Message{Content: text, SentBy: jack.SentByCustomer, Type: jack.ChannelSMS, Timestamp: c.now})
	before := *c.lead
	cal := &jack.AgentCalendar{Location: c.sched.Location, Address: "12 Main St, Springfield",
		Free: c.sched.Slots(c.now, 14, c.now, c.booked, false)}
	reply, err := c.sess.Reply(context.Background(), jack.AgentTurn{Text: text, Lead: &before, History: slices.Clone(c.history),
		Variables: c.vars, Now: c.now.UTC(), Calendar: cal})
	require.NoError(c.tb, err)
	checkReply(c.tb, &before, reply)
	applyChange(c.lead, reply.Change)
	if b := reply.Book; b != nil {
		c.booked = append(c.booked, &jack.Appointment{StartsAt: b.StartsAt, EndsAt: b.StartsAt.Add(c.sched.Slot), Status: jack.AppointmentConfirmed})
	}
	c.history = append(c.history, &jack.Message{Content: reply.Text, SentBy: jack.SentByAgent, Type: jack.ChannelSMS, Timestamp: c.now})
	c.now = c.now.Add(time.Minute)
	return reply
}

func TestBookingOverSMS(t *testing.T) {
	t.Parallel()
	ny, _ := time.LoadLocation("America/New_York")
	sat10 := time.Date(2026, 12, 12, 10, 0, 0, 0, ny)

	t.Run("AskOfferYesBooked", func(t *testing.T) {
		t.Parallel()
		c := newBookingConvo(t)
		c.say("hi, interested in the 2024 Civic")
		r := c.say("can I come Saturday at 10 for a test drive?")
		require.Nil(t, r.Book, "nothing is booked before the customer says yes")
		require.Contains(t, r.Text, "a test drive for you on Saturday, Dec 12 at 10:00 AM")
		require.Contains(t, r.Text, askBook)
		r = c.say("Yes please")
		require.NotNil(t, r.Book)
		require.True(t, r.Book.StartsAt.Equal(sat10), "%v", r.Book.StartsAt)
		require.Equal(t, jack.AppointmentTestDrive, r.Book.Kind)
		require.Equal(t, "2024 Civic", r.Book.Vehicle)
		require.Equal(t, "You're booked for a test drive on Saturday, Dec 12 at 10:00 AM at 12 Main St, Springfield. "+
			"See you then! Reply here anytime to reschedule or cancel.", r.Text)
		require.Contains(t, c.lead.ScriptProgress.CompletedSteps, jack.StepAppointment)
	})

	t.Run("NearestFreeTime", func(t *testing.T) {
		t.Parallel()
		c := newBookingConvo(t)
		c.booked = []*jack.Appointment{
			{StartsAt: sat10, EndsAt: sat10.Add(30 * time.Minute), Status: jack.AppointmentConfirmed},
			{StartsAt: sat10, EndsAt: sat10.Add(30 * time.Minute), Status: jack.AppointmentConfirmed},
		}
		r := c.say("Could I stop by Dec 12 at 10am?")
		require.Contains(t, r.Text, "Saturday, Dec 12 at 10:00 AM isn't available; the nearest free time is Saturday, Dec 12 at 9:30 AM")
		r = c.say("ok")
		require.NotNil(t, r.Book)
		require.True(t, r.Book.StartsAt.Equal(sat10.Add(-30*time.Minute)))
	})

	t.Run("DayThenTime", func(t *testing.T) {
		t.Parallel()
		c := newBookingConvo(t)
		r := c.say("I'd like to book a service visit tomorrow")
		require.Equal(t, "Hi Dana, thanks for reaching out to Premium Auto Sales! For a service visit on Friday, Dec 11 I have "+
			"9:00 AM, 9:30 AM or 10:00 AM. "+askTimeOfDay, r.Text)
		r = c.say("3:30 pm")
		require.Contains(t, r.Text, "a service visit for you on Friday, Dec 11 at 3:30 PM")
		r = c.say("yep")
		require.NotNil(t, r.Book)
		require.Equal(t, jack.AppointmentService, r.Book.Kind)
		require.True(t, r.Book.StartsAt.Equal(time.Date(2026, 12, 11, 15, 30, 0, 0, ny)))
	})

	t.Run("ClarifyingQuestions", func(t *testing.T) {
		t.Parallel()
		c := newBookingConvo(t)
		r := c.say("can I come in for a test drive?")
		require.Contains(t, r.Text, "The next free time is Thursday, Dec 10 at 12:30 PM. "+askDayTime)
		r = c.say("at 7 on Monday")
		require.Contains(t, r.Text, "Did you mean 7 in the morning or 7 in the evening on Monday, Dec 14?")
		require.Nil(t, r.Book)
		r = c.say("in the evening")
		require.Contains(t, r.Text, "Monday, Dec 14 at 7:00 PM isn't available; the nearest free time is Monday, Dec 14 at 5:30 PM")
		r = c.say("no")
		require.Equal(t, "No problem. "+askOther, r.Text)
		r = c.say("10am")
		require.Contains(t, r.Text, "Sure, a test drive at 10:00 AM. "+askDay)
		r = c.say("Tuesday")
		require.Contains(t, r.Text, "on Tuesday, Dec 15 at 10:00 AM. "+askBook)
		r = c.say("sounds good")
		require.True(t, r.Book.StartsAt.Equal(time.Date(2026, 12, 15, 10, 0, 0, 0, ny)))
	})

	t.Run("MorningAnswer", func(t *testing.T) {
		t.Parallel()
		c := newBookingConvo(t)
		c.say("test drive saturday at 7?")
		r := c.say("7pm")
		require.Contains(t, r.Text, "Saturday, Dec 12 at 7:00 PM isn't available")
		c = newBookingConvo(t)
		c.say("test drive saturday at 7?")
		r = c.say("morning please")
		require.Contains(t, r.Text, "Saturday, Dec 12 at 7:00 AM isn't available; the nearest free time is Saturday, Dec 12 at 9:00 AM")
	})

	t.Run("SlotTakenBeforeYes", func(t *testing.T) {
		t.Parallel()
		c := newBookingConvo(t)
		c.say("test drive Saturday at 10am?")
		c.booked = append(c.booked,
			&jack.Appointment{StartsAt: sat10, EndsAt: sat10.Add(30 * time.Minute), Status: jack.AppointmentConfirmed},
			&jack.Appointment{StartsAt: sat10, EndsAt: sat10.Add(30 * time.Minute), Status: jack.AppointmentConfirmed})
		r := c.say("yes")
		require.Nil(t, r.Book)
		require.Contains(t, r.Text, "Sorry, that time was just taken. The nearest free time is Saturday, Dec 12 at 9:30 AM. "+askBook)
	})

	t.Run("WithoutCalendar", func(t *testing.T) {
		t.Parallel()
		c := newConvo(t, NewAgent(), "Dana Driver", premium)
		r := c.say("can I come Saturday at 10 for a test drive?")
		require.Nil(t, r.Book, "an agent that does not know the calendar books nothing")
	})
}

func TestReadWhen(t *testing.T) {
	t.Parallel()
	ny, _ := time.LoadLocation("America/New_York")
	now := time.Date(2026, 12, 10, 12, 0, 0, 0, ny) // a Thursday
	day := func(m time.Month, d int) time.Time { return time.Date(2026, m, d, 0, 0, 0, 0, ny) }
	for _, tc := range []struct {
		text      string
		day       time.Time
		minute    int
		ambiguous bool
	}{
		{"Saturday", day(12, 12), -1, false},
		{"this sat at 10am", day(12, 12), 600, false},
		{"next saturday", day(12, 12), -1, false},
		{"thursday", day(12, 10), -1, false},
		{"tomorrow at 3:30 pm", day(12, 11), 930, false},
		{"today at noon", day(12, 10), 720, false},
		{"Dec 12", day(12, 12), -1, false},
		{"December 24th 11am", day(12, 24), 660, false},
		{"jan 3 at 2pm", time.Date(2027, 1, 3, 0, 0, 0, 0, ny), 840, false},
		{"12/19 at 10", day(12, 19), 600, false},
		{"at 4", time.Time{}, 960, false},
		{"at 7", time.Time{}, -1, true},
		{"10 a.m.", time.Time{}, 600, false},
		{"sounds good", time.Time{}, -1, false},
	} {
		t.Run(tc.text, func(t *testing.T) {
			w := readWhen(tc.text, now, ny)
			require.True(t, tc.day.Equal(w.day), "day %v", w.day)
			require.Equal(t, tc.minute, w.minute)
			require.Equal(t, tc.ambiguous, w.ambiguous != "")
		})
	}
}

// FuzzReadWhen: any customer text reads without a panic, as a day at midnight in the zone and a
// minute of the day (or none).
func FuzzReadWhen(f *testing.F) {
	for _, s := range []string{"Saturday at 10", "tomorrow 3:30 pm", "Dec 12", "12/31 at 7", "feb 30", "at 99:99", "13/45", "next sun noon", "jan 1st 12am"} {
		f.Add(s)
	}
	ny, _ := time.LoadLocation("America/New_York")
	now := time.Date(2026, 12, 10, 12, 0, 0, 0, ny)
	f.Fuzz(func(t *testing.T, text string) {
		w := readWhen(text, now, ny)
		require.True(t, w.minute >= -1 && w.minute < 24*60, "minute %d", w.minute)
		if !w.day.IsZero() {
			require.Equal(t, w.day, midnight(w.day), "a day is a midnight")
			require.False(t, w.day.Before(midnight(now)), "never a past day")
		}
	})
}
