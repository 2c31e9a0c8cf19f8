package sqlite

import (
	"context"
	"fmt"

	"github.com/google/uuid"
	"github.com/jack-auto/jack"
	"github.com/jack-auto/jack/persistence"
)

// CreateOrganization stores org and its owner in one transaction. It assigns missing ids, sets
// both creation times and makes owner a member of org. ECONFLICT if the owner's email is taken.
func (s *Store) CreateOrganization(ctx context.Context, org *jack.Organization, owner *jack.User) error {
	if org.ID == uuid.Nil {
		org.ID = uuid.Must(uuid.NewV7())
	}
	return s.inTx(ctx, org.ID, func(tx *Tx) error {
		if err := createOrganization(ctx, tx, org); err != nil {
			return err
		}
		return createUser(ctx, tx, owner)
	})
}

func createOrganization(ctx context.Context, tx *Tx, org *jack.Organization) error {
	if err := org.Validate(); err != nil {
		return err
	}
	org.CreatedAt = tx.now
	settings, err := jsonArg(org.Settings)
	if err != nil {
		return err
	}
	if _, err := tx.exec(ctx, `INSERT INTO organizations (`+persistence.OrganizationColumns+`) VALUES (?, ?, ?, ?, ?, ?)`,
		org.ID.String(), org.Name, nullStringArg(org.Domain), settings, nullUUIDArg(org.DefaultPhoneNumberID), timeArg(org.CreatedAt)); err != nil {
		return fmt.Errorf("insert organization: %w", err)
	}
	return nil
}

// FindOrganizationByID returns ENOTFOUND if orgID does not exist.
func (s *Store) FindOrganizationByID(ctx context.Context, orgID uuid.UUID) (*jack.Organization, error) {
	var org *jack.Organization
	err := s.inReadTx(ctx, orgID, func(tx *Tx) (err error) {
		org, err = findOrganization(ctx, tx)
		return err
	})
	return org, err
}

func findOrganization(ctx context.Context, tx *Tx) (*jack.Organization, error) {
	org, err := persistence.ScanOrganization(tx.queryRow(ctx, `SELECT `+persistence.OrganizationColumns+` FROM organizations WHERE id = ?`, tx.orgID.String()))
	return org, notFound(err, "Organization")
}

// UpdateOrganization returns ENOTFOUND if orgID does not exist, EUNPROCESSABLE for invalid fields.
func (s *Store) UpdateOrganization(ctx context.Context, orgID uuid.UUID, upd jack.OrganizationUpdate) (*jack.Organization, error) {
	var org *jack.Organization
	err := s.inTx(ctx, orgID, func(tx *Tx) (err error) {
		org, err = updateOrganization(ctx, tx, upd)
		return err
	})
	return org, err
}

func updateOrganization(ctx context.Context, tx *Tx, upd jack.OrganizationUpdate) (*jack.Organization, error) {
	org, err := findOrganization(ctx, tx)
	if err != nil {
		return nil, err
	}
	persistence.ApplyOrganizationUpdate(org, upd)
	if err := org.Validate(); err != nil {
		return nil, err
	}
	settings, err := jsonArg(org.Settings)
	if err != nil {
		return nil, err
	}
	if _, err := tx.exec(ctx, `UPDATE organizations SET name = ?, domain = ?, settings = ? WHERE id = ?`,
		org.Name, nullStringArg(org.Domain), settings, org.ID.String()); err != nil {
		return nil, fmt.Errorf("update organization: %w", err)
	}
	return org, nil
}
