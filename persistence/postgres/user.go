package postgres

import (
	"context"
	"fmt"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/jack-auto/jack"
)

const userColumns = `id, email, password_hash, COALESCE(full_name, ''), organization_id, role, created_at, updated_at`

func scanUser(row pgx.Row) (*jack.User, error) {
	var u jack.User
	var role string
	if err := row.Scan(&u.ID, &u.Email, &u.PasswordHash, &u.FullName, &u.OrganizationID, &role, &u.CreatedAt, &u.UpdatedAt); err != nil {
		return nil, err
	}
	u.Role = jack.ParseRole(role)
	return &u, nil
}

// FindUserByEmail is tenant-free (login), through the SECURITY DEFINER get_user_for_login:
// returns ENOTFOUND if no user has the email (compared case-insensitively).
func (s *Store) FindUserByEmail(ctx context.Context, email string) (*jack.User, error) {
	var u *jack.User
	err := s.inTenantFreeTx(ctx, func(tx *Tx) (err error) {
		u, err = scanUser(tx.tx.QueryRow(ctx, `SELECT `+userColumns+` FROM get_user_for_login($1)`, jack.NormalizeEmail(email)))
		return orNotFound(err, "User")
	})
	return u, err
}

// FindUserByID returns ENOTFOUND if id is not a user of orgID.
func (s *Store) FindUserByID(ctx context.Context, orgID, id uuid.UUID) (*jack.User, error) {
	var u *jack.User
	err := s.inTx(ctx, orgID, func(tx *Tx) (err error) {
		u, err = scanUser(tx.tx.QueryRow(ctx, `SELECT `+userColumns+` FROM user_profiles WHERE organization_id = $1 AND id = $2`, tx.orgID, id))
		return orNotFound(err, "User")
	})
	return u, err
}

// FindUsers lists orgID's users, oldest first.
func (s *Store) FindUsers(ctx context.Context, orgID uuid.UUID) ([]*jack.User, error) {
	var users []*jack.User
	err := s.inTx(ctx, orgID, func(tx *Tx) (err error) {
		rows, err := tx.tx.Query(ctx, `SELECT `+userColumns+` FROM user_profiles WHERE organization_id = $1 ORDER BY created_at, id`, tx.orgID)
		users, err = collect(rows, err, scanUser)
		return err
	})
	if users == nil && err == nil {
		users = []*jack.User{}
	}
	return users, err
}

// CreateUser stores u in orgID with its email normalized. Returns ECONFLICT if the email is
// taken, ENOTFOUND if orgID does not exist, EUNPROCESSABLE for invalid fields.
func (s *Store) CreateUser(ctx context.Context, orgID uuid.UUID, u *jack.User) error {
	return s.inTx(ctx, orgID, func(tx *Tx) error {
		if _, err := findOrganization(ctx, tx, false); err != nil {
			return err
		}
		return createUser(ctx, tx, u)
	})
}

func createUser(ctx context.Context, tx *Tx, u *jack.User) error {
	if u.ID == uuid.Nil {
		u.ID = newID()
	}
	u.OrganizationID = tx.orgID
	u.Email = jack.NormalizeEmail(u.Email)
	if u.Role == "" {
		u.Role = jack.RoleAgent
	}
	if err := u.Validate(); err != nil {
		return err
	}
	u.CreatedAt, u.UpdatedAt = tx.now, tx.now
	_, err := tx.tx.Exec(ctx, `
		INSERT INTO user_profiles (id, email, password_hash, full_name, organization_id, role, created_at, updated_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
		u.ID, u.Email, u.PasswordHash, nullText(u.FullName), u.OrganizationID, string(u.Role), u.CreatedAt, u.UpdatedAt)
	if err != nil {
		return fmt.Errorf("insert user: %w", err)
	}
	return nil
}

// checkUser returns EUNPROCESSABLE naming field unless id is a user of the transaction's
// organization: foreign keys ignore row-level security, so they alone would accept another
// organization's user.
func checkUser(ctx context.Context, tx *Tx, field string, id *uuid.UUID) error {
	if id == nil {
		return nil
	}
	var ok bool
	err := tx.tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM user_profiles WHERE organization_id = $1 AND id = $2)`, tx.orgID, *id).Scan(&ok)
	if err != nil {
		return fmt.Errorf("check user: %w", err)
	}
	if !ok {
		return jack.ValidationError(map[string]string{field: "is not a user of the organization"})
	}
	return nil
}
