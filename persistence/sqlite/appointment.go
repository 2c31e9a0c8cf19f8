package sqlite

import (
	"context"
	"fmt"
	"time"

	"github.com/google/uuid"

	"github.com/jack-auto/jack"
	"github.com/jack-auto/jack/persistence"
)

// FindAppointments lists orgID's appointments matching filter, soonest first.
func (s *Store) FindAppointments(ctx context.Context, orgID uuid.UUID, filter jack.AppointmentFilter) ([]*jack.Appointment, error) {
	out := []*jack.Appointment{}
	limit := filter.Limit
	if limit <= 0 || limit > jack.MaxAppointments {
		limit = jack.MaxAppointments
	}
	err := s.inReadTx(ctx, orgID, func(tx *Tx) error {
		rows, err := tx.query(ctx, `SELECT `+persistence.AppointmentColumns+` FROM appointments
			WHERE organization_id = ? AND (?2 IS NULL OR starts_at >= ?2) AND (?3 IS NULL OR starts_at < ?3)
			  AND (?4 = '' OR status = ?4) AND (?5 = '' OR lead_id = ?5) AND (?6 = '' OR phone_number_normalized = ?6)
			ORDER BY starts_at, id LIMIT ?7`,
			orgID.String(), optTimeArg(filter.From), optTimeArg(filter.To), filter.Status, filter.LeadID, filter.Phone, limit)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			a, err := persistence.ScanAppointment(rows)
			if err != nil {
				return err
			}
			out = append(out, a)
		}
		return formatError(rows.Err())
	})
	if err != nil {
		return nil, fmt.Errorf("find appointments: %w", err)
	}
	return out, nil
}

func optTimeArg(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return timeArg(t)
}

func findAppointment(ctx context.Context, tx *Tx, id uuid.UUID) (*jack.Appointment, error) {
	a, err := persistence.ScanAppointment(tx.queryRow(ctx, `SELECT `+persistence.AppointmentColumns+` FROM appointments
		WHERE organization_id = ? AND id = ?`, tx.orgID.String(), id.String()))
	return a, notFound(err, "Appointment")
}

// FindAppointmentByID returns ENOTFOUND if id is not an appointment of orgID.
func (s *Store) FindAppointmentByID(ctx context.Context, orgID, id uuid.UUID) (*jack.Appointment, error) {
	var a *jack.Appointment
	err := s.inReadTx(ctx, orgID, func(tx *Tx) (err error) { a, err = findAppointment(ctx, tx, id); return err })
	return a, err
}

// checkPlace returns ECONFLICT (slot_full) when capacity confirmed appointments other than a
// overlap a's times. The single writer connection serializes bookings.
func checkPlace(ctx context.Context, tx *Tx, a *jack.Appointment, capacity int) error {
	var n int
	if err := tx.queryRow(ctx, `SELECT count(*) FROM appointments WHERE organization_id = ?
		AND status = 'confirmed' AND id <> ? AND starts_at < ? AND ends_at > ?`,
		tx.orgID.String(), a.ID.String(), timeArg(a.EndsAt), timeArg(a.StartsAt)).Scan(&n); err != nil {
		return fmt.Errorf("count appointments: %w", formatError(err))
	}
	if n >= capacity {
		return jack.SlotFull()
	}
	return nil
}

// CreateAppointment stores a when its slot has a free place (see jack.AppointmentTx).
func (tx *Tx) CreateAppointment(ctx context.Context, a *jack.Appointment, capacity int) error {
	lead, err := findLeadByID(ctx, tx, a.LeadID)
	if err != nil {
		return err
	}
	if err := persistence.PrepareAppointment(a, tx.orgID, lead, tx.now); err != nil {
		return err
	}
	if a.Status == jack.AppointmentConfirmed {
		if err := checkPlace(ctx, tx, a, capacity); err != nil {
			return err
		}
	}
	_, err = tx.exec(ctx, `INSERT INTO appointments (`+persistence.AppointmentColumns+`)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		a.ID.String(), a.OrganizationID.String(), a.LeadID, a.Phone, a.CustomerName, timeArg(a.StartsAt),
		timeArg(a.EndsAt), a.Kind, a.Vehicle, a.Notes, a.Status, a.Source, a.Version, nullUUIDArg(a.CreatedBy),
		nullUUIDArg(a.UpdatedBy), timeArg(a.CreatedAt), timeArg(a.UpdatedAt))
	if err != nil {
		return fmt.Errorf("create appointment: %w", err)
	}
	return nil
}

// UpdateAppointment applies upd (see jack.AppointmentTx).
func (tx *Tx) UpdateAppointment(ctx context.Context, id uuid.UUID, upd jack.AppointmentUpdate, capacity int) (*jack.Appointment, error) {
	a, err := findAppointment(ctx, tx, id)
	if err != nil {
		return nil, err
	}
	needsPlace, err := persistence.UpdateAppointment(a, upd, tx.now)
	if err != nil {
		return nil, err
	}
	if needsPlace {
		if err := checkPlace(ctx, tx, a, capacity); err != nil {
			return nil, err
		}
	}
	_, err = tx.exec(ctx, `UPDATE appointments SET starts_at = ?, ends_at = ?, status = ?, vehicle = ?, notes = ?,
		version = ?, updated_by = ?, updated_at = ? WHERE organization_id = ? AND id = ?`,
		timeArg(a.StartsAt), timeArg(a.EndsAt), a.Status, a.Vehicle, a.Notes, a.Version, nullUUIDArg(a.UpdatedBy),
		timeArg(a.UpdatedAt), tx.orgID.String(), id.String())
	if err != nil {
		return nil, fmt.Errorf("update appointment: %w", err)
	}
	return a, nil
}

// SetAppointmentFeedToken stores the hash of orgID's calendar-feed token, replacing any other.
func (s *Store) SetAppointmentFeedToken(ctx context.Context, orgID uuid.UUID, hash string) error {
	return s.inTx(ctx, orgID, func(tx *Tx) error {
		_, err := tx.exec(ctx, `INSERT INTO appointment_feed_tokens (organization_id, token_hash, created_at)
			VALUES (?, ?, ?) ON CONFLICT (organization_id) DO UPDATE SET token_hash = excluded.token_hash,
			created_at = excluded.created_at`, orgID.String(), hash, timeArg(tx.now))
		if err != nil {
			return notFoundOrg(fmt.Errorf("set appointment feed token: %w", err))
		}
		return nil
	})
}

// AppointmentFeedToken returns the hash of orgID's feed token; ENOTFOUND when none.
func (s *Store) AppointmentFeedToken(ctx context.Context, orgID uuid.UUID) (string, error) {
	var hash string
	err := s.inReadTx(ctx, orgID, func(tx *Tx) error {
		err := tx.queryRow(ctx, `SELECT token_hash FROM appointment_feed_tokens WHERE organization_id = ?`,
			orgID.String()).Scan(&hash)
		return notFound(formatError(err), "Calendar feed token")
	})
	return hash, err
}

// DeleteAppointmentFeedToken revokes orgID's feed token.
func (s *Store) DeleteAppointmentFeedToken(ctx context.Context, orgID uuid.UUID) error {
	return s.inTx(ctx, orgID, func(tx *Tx) error {
		_, err := tx.exec(ctx, `DELETE FROM appointment_feed_tokens WHERE organization_id = ?`, orgID.String())
		return err
	})
}
