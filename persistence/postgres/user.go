package postgres

import (
	"context"
	"fmt"

	"github.com/google/uuid"

	"github.com/jack-auto/jack"
	"github.com/jack-auto/jack/persistence"
)

// loginUserColumns are persistence.SelectUserColumns as get_user_for_login (login) has them: it
// does not know whether the user is active, and login checks it when it creates the session.
const loginUserColumns = persistence.UserColumns + `, true`

// FindUserByEmail is tenant-free (login), through the SECURITY DEFINER get_user_for_login:
// returns ENOTFOUND if no user has the email (compared case-insensitively).
func (s *Store) FindUserByEmail(ctx context.Context, email string) (*jack.User, error) {
	var u *jack.User
	err := s.inTenantFreeTx(ctx, func(tx *Tx) (err error) {
		u, err = persistence.ScanUser(tx.tx.QueryRow(ctx, `SELECT `+loginUserColumns+` FROM get_user_for_login($1)`, jack.NormalizeEmail(email)))
		return orNotFound(err, "User")
	})
	return u, err
}

// FindUserByID returns ENOTFOUND if id is not a user of orgID.
func (s *Store) FindUserByID(ctx context.Context, orgID, id uuid.UUID) (*jack.User, error) {
	var u *jack.User
	err := s.inTx(ctx, orgID, func(tx *Tx) (err error) {
		u, err = persistence.ScanUser(tx.tx.QueryRow(ctx, `SELECT `+persistence.SelectUserColumns+` FROM user_profiles WHERE organization_id = $1 AND id = $2`, tx.orgID, id))
		return orNotFound(err, "User")
	})
	return u, err
}

// FindUsers lists orgID's users, oldest first.
func (s *Store) FindUsers(ctx context.Context, orgID uuid.UUID) ([]*jack.User, error) {
	var users []*jack.User
	err := s.inTx(ctx, orgID, func(tx *Tx) (err error) {
		rows, err := tx.tx.Query(ctx, `SELECT `+persistence.SelectUserColumns+` FROM user_profiles WHERE organization_id = $1 ORDER BY created_at, id`, tx.orgID)
		users, err = collect(rows, err, persistence.ScanUser)
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
	u.CreatedAt, u.UpdatedAt, u.Active = tx.now, tx.now, true
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

// UpdateUser applies upd to the user id of orgID; see jack.UserStore.
func (s *Store) UpdateUser(ctx context.Context, orgID, id uuid.UUID, upd jack.UserUpdate) (*jack.User, error) {
	var u *jack.User
	err := s.inTx(ctx, orgID, func(tx *Tx) (err error) {
		if upd.Role != nil && !upd.Role.Valid() {
			return jack.ValidationError(map[string]string{"role": "must be one of owner, admin, agent"})
		}
		if err := lockAdmins(ctx, tx); err != nil {
			return err
		}
		if u, err = persistence.ScanUser(tx.tx.QueryRow(ctx, `SELECT `+persistence.SelectUserColumns+` FROM user_profiles WHERE organization_id = $1 AND id = $2`, tx.orgID, id)); err != nil {
			return orNotFound(err, "User")
		}
		u.Apply(upd, tx.now)
		if _, err := tx.tx.Exec(ctx, `
			UPDATE user_profiles SET role = $3, password_hash = $4, updated_at = $5,
				deactivated_at = CASE WHEN $6 THEN NULL ELSE COALESCE(deactivated_at, $5) END
			WHERE organization_id = $1 AND id = $2`, tx.orgID, id, string(u.Role), u.PasswordHash, tx.now, u.Active); err != nil {
			return fmt.Errorf("update user: %w", err)
		}
		if !u.Active {
			if _, err := revokeUserSessions(ctx, tx, id, uuid.Nil); err != nil {
				return err
			}
		}
		return keepsAdmin(ctx, tx)
	})
	return u, err
}

// DeleteUser removes the user id of orgID; see jack.UserStore.
func (s *Store) DeleteUser(ctx context.Context, orgID, id uuid.UUID) error {
	return s.inTx(ctx, orgID, func(tx *Tx) error {
		if err := lockAdmins(ctx, tx); err != nil {
			return err
		}
		tag, err := tx.tx.Exec(ctx, `DELETE FROM user_profiles WHERE organization_id = $1 AND id = $2`, tx.orgID, id)
		if err != nil {
			return fmt.Errorf("delete user: %w", err)
		}
		if tag.RowsAffected() == 0 {
			return notFound("User")
		}
		return keepsAdmin(ctx, tx)
	})
}

// lockAdmins locks the organization's owners and admins, so two concurrent changes cannot each
// remove a different last admin.
func lockAdmins(ctx context.Context, tx *Tx) error {
	if _, err := tx.tx.Exec(ctx, `SELECT 1 FROM user_profiles WHERE organization_id = $1 AND role IN ('owner', 'admin') FOR UPDATE`, tx.orgID); err != nil {
		return fmt.Errorf("lock admins: %w", err)
	}
	return nil
}

// keepsAdmin returns ECONFLICT last_admin unless the organization still has an active owner or
// admin (the transaction then rolls back).
func keepsAdmin(ctx context.Context, tx *Tx) error {
	var ok bool
	if err := tx.tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM user_profiles WHERE organization_id = $1
		AND role IN ('owner', 'admin') AND deactivated_at IS NULL)`, tx.orgID).Scan(&ok); err != nil {
		return fmt.Errorf("count admins: %w", err)
	}
	if !ok {
		return jack.ReasonErrorf(jack.ECONFLICT, jack.ReasonLastAdmin, "The organization must keep at least one active owner or admin.")
	}
	return nil
}

// CreateSession stores a session of an active user of orgID; see jack.UserStore.
func (s *Store) CreateSession(ctx context.Context, orgID uuid.UUID, sess *jack.Session) error {
	return s.inTx(ctx, orgID, func(tx *Tx) error {
		var role string
		err := tx.tx.QueryRow(ctx, `SELECT role FROM user_profiles WHERE organization_id = $1 AND id = $2 AND deactivated_at IS NULL`,
			tx.orgID, sess.UserID).Scan(&role)
		if err != nil {
			return orNotFound(err, "User")
		}
		if sess.ID == uuid.Nil {
			sess.ID = newID()
		}
		sess.OrganizationID, sess.CreatedAt, sess.RevokedAt = tx.orgID, tx.now, nil
		sess.ExpiresAt = persistence.Truncate(sess.ExpiresAt)
		sess.Role, sess.Active = jack.ParseRole(role), true
		if _, err := tx.tx.Exec(ctx, `DELETE FROM user_sessions WHERE organization_id = $1 AND user_id = $2 AND expires_at <= $3`,
			tx.orgID, sess.UserID, tx.now); err != nil {
			return fmt.Errorf("drop expired sessions: %w", err)
		}
		_, err = tx.tx.Exec(ctx, `INSERT INTO user_sessions (id, organization_id, user_id, created_at, expires_at) VALUES ($1, $2, $3, $4, $5)`,
			sess.ID, tx.orgID, sess.UserID, sess.CreatedAt, sess.ExpiresAt)
		if err != nil {
			return fmt.Errorf("insert session: %w", err)
		}
		return nil
	})
}

// FindSession returns a session of orgID with its user's current role and state.
func (s *Store) FindSession(ctx context.Context, orgID, id uuid.UUID) (*jack.Session, error) {
	var sess jack.Session
	err := s.inTx(ctx, orgID, func(tx *Tx) error {
		var role string
		err := tx.tx.QueryRow(ctx, `
			SELECT s.id, s.organization_id, s.user_id, s.created_at, s.expires_at, s.revoked_at, u.role, u.deactivated_at IS NULL
			FROM user_sessions s JOIN user_profiles u ON u.id = s.user_id AND u.organization_id = s.organization_id
			WHERE s.organization_id = $1 AND s.id = $2`, tx.orgID, id).
			Scan(&sess.ID, &sess.OrganizationID, &sess.UserID, &sess.CreatedAt, &sess.ExpiresAt, &sess.RevokedAt, &role, &sess.Active)
		sess.Role = jack.ParseRole(role)
		return orNotFound(err, "Session")
	})
	if err != nil {
		return nil, err
	}
	return &sess, nil
}

// RevokeSession revokes one session of orgID.
func (s *Store) RevokeSession(ctx context.Context, orgID, id uuid.UUID) error {
	return s.inTx(ctx, orgID, func(tx *Tx) error {
		tag, err := tx.tx.Exec(ctx, `UPDATE user_sessions SET revoked_at = COALESCE(revoked_at, $3) WHERE organization_id = $1 AND id = $2`,
			tx.orgID, id, tx.now)
		if err != nil {
			return fmt.Errorf("revoke session: %w", err)
		}
		if tag.RowsAffected() == 0 {
			return notFound("Session")
		}
		return nil
	})
}

// RevokeUserSessions revokes a user's live sessions but except.
func (s *Store) RevokeUserSessions(ctx context.Context, orgID, userID, except uuid.UUID) (int, error) {
	var n int
	err := s.inTx(ctx, orgID, func(tx *Tx) (err error) {
		n, err = revokeUserSessions(ctx, tx, userID, except)
		return err
	})
	return n, err
}

func revokeUserSessions(ctx context.Context, tx *Tx, userID, except uuid.UUID) (int, error) {
	tag, err := tx.tx.Exec(ctx, `UPDATE user_sessions SET revoked_at = $4
		WHERE organization_id = $1 AND user_id = $2 AND id <> $3 AND revoked_at IS NULL AND expires_at > $4`,
		tx.orgID, userID, except, tx.now)
	if err != nil {
		return 0, fmt.Errorf("revoke sessions: %w", err)
	}
	return int(tag.RowsAffected()), nil
}
