package sqlite

import (
	"context"
	"fmt"

	"github.com/google/uuid"
	"github.com/jack-auto/jack"
)

const userColumns = `id, email, password_hash, full_name, organization_id, role, created_at, updated_at`

func scanUser(row scanner) (*jack.User, error) {
	var u jack.User
	var role string
	if err := row.Scan(&u.ID, &u.Email, &u.PasswordHash, nullString{&u.FullName}, &u.OrganizationID, &role,
		textTime{&u.CreatedAt}, textTime{&u.UpdatedAt}); err != nil {
		return nil, formatError(err)
	}
	u.Role = jack.ParseRole(role)
	return &u, nil
}

// FindUserByEmail is tenant-free (login); the email is compared normalized.
func (s *Store) FindUserByEmail(ctx context.Context, email string) (*jack.User, error) {
	var u *jack.User
	err := s.inReadTx(ctx, uuid.Nil, func(tx *Tx) (err error) {
		u, err = scanUser(tx.queryRow(ctx, `SELECT `+userColumns+` FROM user_profiles WHERE email = ?`, jack.NormalizeEmail(email)))
		return notFound(err, "User")
	})
	return u, err
}

// FindUserByID returns ENOTFOUND if id is not a user of orgID.
func (s *Store) FindUserByID(ctx context.Context, orgID, id uuid.UUID) (*jack.User, error) {
	var u *jack.User
	err := s.inReadTx(ctx, orgID, func(tx *Tx) (err error) {
		u, err = findUserByID(ctx, tx, id)
		return err
	})
	return u, err
}

func findUserByID(ctx context.Context, tx *Tx, id uuid.UUID) (*jack.User, error) {
	u, err := scanUser(tx.queryRow(ctx, `SELECT `+userColumns+` FROM user_profiles WHERE organization_id = ? AND id = ?`,
		tx.orgID.String(), id.String()))
	return u, notFound(err, "User")
}

// FindUsers lists orgID's users, oldest first.
func (s *Store) FindUsers(ctx context.Context, orgID uuid.UUID) ([]*jack.User, error) {
	var users []*jack.User
	err := s.inReadTx(ctx, orgID, func(tx *Tx) (err error) {
		users, err = findUsers(ctx, tx)
		return err
	})
	return users, err
}

func findUsers(ctx context.Context, tx *Tx) ([]*jack.User, error) {
	rows, err := tx.query(ctx, `SELECT `+userColumns+` FROM user_profiles WHERE organization_id = ? ORDER BY created_at, id`, tx.orgID.String())
	if err != nil {
		return nil, fmt.Errorf("find users: %w", err)
	}
	defer rows.Close()
	users := []*jack.User{}
	for rows.Next() {
		u, err := scanUser(rows)
		if err != nil {
			return nil, err
		}
		users = append(users, u)
	}
	return users, formatError(rows.Err())
}

// CreateUser adds u to orgID, assigning a missing id and the creation times. ECONFLICT if the
// email is taken in any organization.
func (s *Store) CreateUser(ctx context.Context, orgID uuid.UUID, u *jack.User) error {
	return s.inTx(ctx, orgID, func(tx *Tx) error {
		if _, err := findOrganization(ctx, tx); err != nil {
			return err
		}
		return createUser(ctx, tx, u)
	})
}

func createUser(ctx context.Context, tx *Tx, u *jack.User) error {
	if u.ID == uuid.Nil {
		u.ID = uuid.Must(uuid.NewV7())
	}
	u.Email = jack.NormalizeEmail(u.Email)
	u.OrganizationID = tx.orgID
	u.CreatedAt, u.UpdatedAt = tx.now, tx.now
	if err := u.Validate(); err != nil {
		return err
	}
	if _, err := tx.exec(ctx, `INSERT INTO user_profiles (`+userColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
		u.ID.String(), u.Email, u.PasswordHash, nullStringArg(u.FullName), u.OrganizationID.String(), string(u.Role),
		timeArg(u.CreatedAt), timeArg(u.UpdatedAt)); err != nil {
		return fmt.Errorf("insert user: %w", err)
	}
	return nil
}
