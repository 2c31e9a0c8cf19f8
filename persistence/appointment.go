package persistence

import (
	"time"

	"github.com/google/uuid"

	"github.com/jack-auto/jack"
)

// PrepareAppointment fills a new appointment's defaults for orgID: an ID, the lead's phone and
// name, status confirmed, version 1, the times of change; then validates it.
func PrepareAppointment(a *jack.Appointment, orgID uuid.UUID, lead *jack.Lead, now time.Time) error {
	if a.ID == uuid.Nil {
		a.ID = uuid.Must(uuid.NewV7())
	}
	a.OrganizationID = orgID
	a.Phone = lead.PhoneNumberNormalized
	a.CustomerName = lead.CustomerName
	if a.Status == "" {
		a.Status = jack.AppointmentConfirmed
	}
	a.StartsAt, a.EndsAt = Truncate(a.StartsAt), Truncate(a.EndsAt)
	a.Version = 1
	a.UpdatedBy = a.CreatedBy
	a.CreatedAt, a.UpdatedAt = now, now
	return a.Validate()
}

// UpdateAppointment applies upd to a (a stored appointment) at now: ECONFLICT when upd.Version
// is stale, EUNPROCESSABLE when the result is invalid. It reports whether the result needs a
// place in its slot (confirmed, and newly so or at new times).
func UpdateAppointment(a *jack.Appointment, upd jack.AppointmentUpdate, now time.Time) (needsPlace bool, err error) {
	if upd.Version != nil && *upd.Version != a.Version {
		return false, jack.AppointmentVersionConflict()
	}
	before := *a
	upd.Apply(a)
	a.StartsAt, a.EndsAt = Truncate(a.StartsAt), Truncate(a.EndsAt)
	if err := a.Validate(); err != nil {
		return false, err
	}
	a.Version++
	a.UpdatedAt = now
	moved := !a.StartsAt.Equal(before.StartsAt) || !a.EndsAt.Equal(before.EndsAt)
	return a.Status == jack.AppointmentConfirmed && (moved || before.Status != jack.AppointmentConfirmed), nil
}
