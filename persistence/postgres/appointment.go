package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

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
	err := s.inTx(ctx, orgID, func(tx *Tx) error {
		rows, err := tx.tx.Query(ctx, `SELECT `+persistence.AppointmentColumns+` FROM appointments
			WHERE organization_id = $1 AND ($2::timestamptz IS NULL OR starts_at >= $2)
			  AND ($3::timestamptz IS NULL OR starts_at < $3) AND ($4 = '' OR status = $4)
			  AND ($5 = '' OR lead_id = $5) AND ($6 = '' OR phone_number_normalized = $6)
			ORDER BY starts_at, id LIMIT $7`,
			orgID, optTime(filter.From), optTime(filter.To), filter.Status, filter.LeadID, filter.Phone, limit)
		found, err := collect(rows, err, persistence.ScanAppointment)
		out = append(out, found...)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("find appointments: %w", err)
	}
	return out, nil
}

func optTime(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}

func findAppointment(ctx context.Context, tx *Tx, id uuid.UUID, forUpdate bool) (*jack.Appointment, error) {
	q := `SELECT ` + persistence.AppointmentColumns + ` FROM appointments WHERE organization_id = $1 AND id = $2`
	if forUpdate {
		q += ` FOR UPDATE`
	}
	a, err := persistence.ScanAppointment(tx.tx.QueryRow(ctx, q, tx.orgID, id))
	return a, orNotFound(err, "Appointment")
}

// FindAppointmentByID returns ENOTFOUND if id is not an appointment of orgID.
func (s *Store) FindAppointmentByID(ctx context.Context, orgID, id uuid.UUID) (*jack.Appointment, error) {
	var a *jack.Appointment
	err := s.inTx(ctx, orgID, func(tx *Tx) (err error) { a, err = findAppointment(ctx, tx, id, false); return err })
	return a, err
}

// lockSlots serializes the organization's bookings until the transaction ends: a booking
// counts what overlaps its slot and inserts while holding it, so two transactions cannot both
// take the last place.
func lockSlots(ctx context.Context, tx *Tx) error {
	_, err := tx.tx.Exec(ctx, `SELECT pg_advisory_xact_lock(hashtextextended('appointments:' || $1::text, 0))`, tx.orgID)
	return err
}

// checkPlace returns ECONFLICT (slot_full) when capacity confirmed appointments other than a
// overlap a's times.
func checkPlace(ctx context.Context, tx *Tx, a *jack.Appointment, capacity int) error {
	if err := lockSlots(ctx, tx); err != nil {
		return fmt.Errorf("lock appointment slots: %w", err)
	}
	var n int
	if err := tx.tx.QueryRow(ctx, `SELECT count(*) FROM appointments WHERE organization_id = $1
		AND status = 'confirmed' AND id <> $2 AND starts_at < $4 AND ends_at > $3`,
		tx.orgID, a.ID, a.StartsAt, a.EndsAt).Scan(&n); err != nil {
		return fmt.Errorf("count appointments: %w", err)
	}
	if n >= capacity {
		return jack.SlotFull()
	}
	return nil
}

// CreateAppointment stores a when its slot has a free place (see jack.AppointmentTx).
func (tx *Tx) CreateAppointment(ctx context.Context, a *jack.Appointment, capacity int) error {
	// Foreign keys ignore row-level security: make sure the lead is this organization's.
	lead, err := findLeadByID(ctx, tx, a.LeadID, false)
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
	_, err = tx.tx.Exec(ctx, `INSERT INTO appointments (`+persistence.AppointmentColumns+`)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17)`,
		a.ID, a.OrganizationID, a.LeadID, a.Phone, a.CustomerName, a.StartsAt, a.EndsAt, a.Kind, a.Vehicle,
		a.Notes, a.Status, a.Source, a.Version, a.CreatedBy, a.UpdatedBy, a.CreatedAt, a.UpdatedAt)
	if err != nil {
		return fmt.Errorf("create appointment: %w", err)
	}
	return nil
}

// UpdateAppointment applies upd (see jack.AppointmentTx).
func (tx *Tx) UpdateAppointment(ctx context.Context, id uuid.UUID, upd jack.AppointmentUpdate, capacity int) (*jack.Appointment, error) {
	a, err := findAppointment(ctx, tx, id, true)
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
	_, err = tx.tx.Exec(ctx, `UPDATE appointments SET starts_at = $3, ends_at = $4, status = $5, vehicle = $6,
		notes = $7, version = $8, updated_by = $9, updated_at = $10 WHERE organization_id = $1 AND id = $2`,
		tx.orgID, id, a.StartsAt, a.EndsAt, a.Status, a.Vehicle, a.Notes, a.Version, a.UpdatedBy, a.UpdatedAt)
	if err != nil {
		return nil, fmt.Errorf("update appointment: %w", err)
	}
	return a, nil
}

// SetAppointmentFeedToken stores the hash of orgID's calendar-feed token, replacing any other.
func (s *Store) SetAppointmentFeedToken(ctx context.Context, orgID uuid.UUID, hash string) error {
	return s.inTx(ctx, orgID, func(tx *Tx) error {
		_, err := tx.tx.Exec(ctx, `INSERT INTO appointment_feed_tokens (organization_id, token_hash, created_at)
			VALUES ($1, $2, $3) ON CONFLICT (organization_id) DO UPDATE SET token_hash = EXCLUDED.token_hash,
			created_at = EXCLUDED.created_at`, orgID, hash, tx.now)
		if err != nil {
			return fmt.Errorf("set appointment feed token: %w", err)
		}
		return nil
	})
}

// AppointmentFeedToken returns the hash of orgID's feed token; ENOTFOUND when none.
func (s *Store) AppointmentFeedToken(ctx context.Context, orgID uuid.UUID) (string, error) {
	var hash string
	err := s.inTx(ctx, orgID, func(tx *Tx) error {
		err := tx.tx.QueryRow(ctx, `SELECT token_hash FROM appointment_feed_tokens WHERE organization_id = $1`, orgID).Scan(&hash)
		if errors.Is(err, pgx.ErrNoRows) {
			return notFound("Calendar feed token")
		}
		return err
	})
	return hash, err
}

// DeleteAppointmentFeedToken revokes orgID's feed token.
func (s *Store) DeleteAppointmentFeedToken(ctx context.Context, orgID uuid.UUID) error {
	return s.inTx(ctx, orgID, func(tx *Tx) error {
		_, err := tx.tx.Exec(ctx, `DELETE FROM appointment_feed_tokens WHERE organization_id = $1`, orgID)
		return err
	})
}
