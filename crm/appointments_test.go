package crm_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/jack-auto/jack"
	"github.com/jack-auto/jack/crm"
	"github.com/jack-auto/jack/persistence/storetest"
)

// TestWebhook_Appointments: appointment_booked and appointment_updated reach a CRM as
// appointment.booked and appointment.updated with the appointment and its lead.
func TestWebhook_Appointments(t *testing.T) {
	b := setup(t)
	rc := newReceiver(t, nil)
	integration(t, b, rc.srv.URL+"/jack", jack.IntegrationAppointmentBooked, jack.IntegrationAppointmentUpdated)
	start(t, b, crm.Config{Poll: 100 * time.Millisecond})

	lead := storetest.MustCreateLead(t, b.store, b.org.ID, storetest.NewPhone())
	a := storetest.MustBookAppointment(t, b.store, b.org.ID, lead, time.Now().Add(48*time.Hour).Truncate(time.Hour), 2)
	booked := jack.NewEvent(jack.EventAppointmentBooked, b.org.ID, lead.ID, lead.PhoneNumberNormalized, time.Now().UTC(), a)
	a.Status = jack.AppointmentCancelled
	updated := jack.NewEvent(jack.EventAppointmentUpdated, b.org.ID, lead.ID, lead.PhoneNumberNormalized, time.Now().UTC(), a)
	storetest.MustInsertEvents(t, b.store, b.org.ID, booked, updated)
	waitFor(t, 5*time.Second, "two deliveries", func() bool { return len(rc.all()) >= 2 })

	got := rc.all()
	require.Equal(t, jack.IntegrationAppointmentBooked, got[0].Doc.Type)
	require.Equal(t, jack.IntegrationAppointmentUpdated, got[1].Doc.Type)
	require.Equal(t, a.ID, got[0].Doc.Data.Appointment.ID)
	require.Equal(t, jack.AppointmentConfirmed, got[0].Doc.Data.Appointment.Status)
	require.Equal(t, jack.AppointmentCancelled, got[1].Doc.Data.Appointment.Status)
	require.Equal(t, lead.ID, got[1].Doc.Data.Lead.ID)
}
