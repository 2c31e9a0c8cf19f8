package postgres

import (
	"context"
	"fmt"

	"github.com/google/uuid"

	"github.com/jack-auto/jack"
	"github.com/jack-auto/jack/persistence"
)

// CreateOrganization stores org and its owner in one transaction whose tenant is the new
// organization. Returns ECONFLICT if the owner's email is taken, EUNPROCESSABLE for invalid fields.
func (s *Store) CreateOrganization(ctx context.Context, org *jack.Organization, owner *jack.User) error {
	if org.ID == uuid.Nil {
		org.ID = newID()
	}
	if owner.Role == "" {
		owner.Role = jack.RoleOwner
	}
	if err := org.Validate(); err != nil {
		return err
	}
	return s.inTx(ctx, org.ID, func(tx *Tx) error {
		org.CreatedAt = tx.now
		stored, err := persistence.ScanOrganization(tx.tx.QueryRow(ctx, `
			INSERT INTO organizations (id, name, domain, settings, default_phone_number_id, created_at)
			VALUES ($1, $2, $3, $4, $5, $6)
			RETURNING `+persistence.OrganizationColumns,
			org.ID, org.Name, nullText(org.Domain), org.Settings, org.DefaultPhoneNumberID, org.CreatedAt,
		))
		if err == nil {
			*org = *stored
		}
		if err != nil {
			return fmt.Errorf("insert organization: %w", err)
		}
		return createUser(ctx, tx, owner)
	})
}

// FindOrganizationByID returns ENOTFOUND if orgID does not exist.
func (s *Store) FindOrganizationByID(ctx context.Context, orgID uuid.UUID) (*jack.Organization, error) {
	var org *jack.Organization
	err := s.inTx(ctx, orgID, func(tx *Tx) (err error) {
		org, err = findOrganization(ctx, tx, false)
		return err
	})
	return org, err
}

// UpdateOrganization returns ENOTFOUND if orgID does not exist, EUNPROCESSABLE for invalid fields.
func (s *Store) UpdateOrganization(ctx context.Context, orgID uuid.UUID, upd jack.OrganizationUpdate) (*jack.Organization, error) {
	var org *jack.Organization
	err := s.inTx(ctx, orgID, func(tx *Tx) (err error) {
		if org, err = findOrganization(ctx, tx, true); err != nil {
			return err
		}
		persistence.ApplyOrganizationUpdate(org, upd)
		if err := org.Validate(); err != nil {
			return err
		}
		_, err = tx.tx.Exec(ctx, `UPDATE organizations SET name = $2, domain = $3, settings = $4 WHERE id = $1`,
			tx.orgID, org.Name, nullText(org.Domain), org.Settings)
		if err != nil {
			return fmt.Errorf("update organization: %w", err)
		}
		return nil
	})
	return org, err
}

func findOrganization(ctx context.Context, tx *Tx, forUpdate bool) (*jack.Organization, error) {
	q := `SELECT ` + persistence.OrganizationColumns + ` FROM organizations WHERE id = $1`
	if forUpdate {
		q += ` FOR UPDATE`
	}
	org, err := persistence.ScanOrganization(tx.tx.QueryRow(ctx, q, tx.orgID))
	if err != nil {
		return nil, orNotFound(err, "Organization")
	}
	return org, nil
}
