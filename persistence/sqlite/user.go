package sqlite

import (
	"context"
	"fmt"

	"github.com/google/uuid"
	"github.com/jack-auto/jack"
	"github.com/jack-auto/jack/persistence"
)

// FindUserByEmail is tenant-free (login); the email is compared normalized.
func (s *Store) FindUserByEmail(ctx context.Context, email string) (*jack.User, error) {
	var u *jack.User
	err := s.inReadTx(ctx, uuid.Nil, func(tx *Tx) (err error) {
		u, err = persistence.ScanUser(tx.queryRow(ctx, `SELECT `+persistence.SelectUserColumns+` FROM user_profiles WHERE email = ?`, jack.NormalizeEmail(email)))
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
	u, err := persistence.ScanUser(tx.queryRow(ctx, `SELECT `+persistence.SelectUserColumns+` FROM user_profiles WHERE organization_id = ? AND id = ?`,
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
	rows, err := tx.query(ctx, `SELECT `+persistence.SelectUserColumns+` FROM user_profiles WHERE organization_id = ? ORDER BY created_at, id`, tx.orgID.String())
	if err != nil {
		return nil, fmt.Errorf("find users: %w", err)
	}
	defer rows.Close()
	users := []*jack.User{}
	for rows.Next() {
		u, err := persistence.ScanUser(rows)
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
	u.CreatedAt, u.UpdatedAt, u.Active = tx.now, tx.now, true
	if err := u.Validate(); err != nil {
		return err
	}
	if _, err := tx.exec(ctx, `INSERT INTO user_profiles (`+persistence.UserColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
		u.ID.String(), u.Email, u.PasswordHash, nullStringArg(u.FullName), u.OrganizationID.String(), string(u.Role),
		timeArg(u.CreatedAt), timeArg(u.UpdatedAt)); err != nil {
		return fmt.Errorf("insert user: %w", err)
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
		if u, err = findUserByID(ctx, tx, id); err != nil {
			return err
		}
		u.Apply(upd, tx.now)
		if _, err := tx.exec(ctx, `
			UPDATE user_profiles SET role = ?, password_hash = ?, updated_at = ?,
				deactivated_at = CASE WHEN ? THEN NULL ELSE COALESCE(deactivated_at, ?) END
			WHERE organization_id = ? AND id = ?`,
			string(u.Role), u.PasswordHash, timeArg(tx.now), u.Active, timeArg(tx.now), tx.orgID.String(), id.String()); err != nil {
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
		res, err := tx.exec(ctx, `DELETE FROM user_profiles WHERE organization_id = ? AND id = ?`, tx.orgID.String(), id.String())
		if err != nil {
			return fmt.Errorf("delete user: %w", err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return jack.Errorf(jack.ENOTFOUND, "User not found.")
		}
		return keepsAdmin(ctx, tx)
	})
}

// keepsAdmin returns ECONFLICT last_admin unless the organization still has an active owner or
// admin (the transaction then rolls back; SQLite's one writer makes the check race-free).
func keepsAdmin(ctx context.Context, tx *Tx) error {
	var ok bool
	if err := tx.queryRow(ctx, `SELECT EXISTS (SELECT 1 FROM user_profiles WHERE organization_id = ?
		AND role IN ('owner', 'admin') AND deactivated_at IS NULL)`, tx.orgID.String()).Scan(&ok); err != nil {
		return fmt.Errorf("count admins: %w", formatError(err))
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
		err := tx.queryRow(ctx, `SELECT role FROM user_profiles WHERE organization_id = ? AND id = ? AND deactivated_at IS NULL`,
			tx.orgID.String(), sess.UserID.String()).Scan(&role)
		if err != nil {
			return notFound(formatError(err), "User")
		}
		if sess.ID == uuid.Nil {
			sess.ID = uuid.Must(uuid.NewV7())
		}
		sess.OrganizationID, sess.CreatedAt, sess.RevokedAt = tx.orgID, tx.now, nil
		sess.ExpiresAt = persistence.Truncate(sess.ExpiresAt)
		sess.Role, sess.Active = jack.ParseRole(role), true
		if _, err := tx.exec(ctx, `DELETE FROM user_sessions WHERE organization_id = ? AND user_id = ? AND expires_at <= ?`,
			tx.orgID.String(), sess.UserID.String(), timeArg(tx.now)); err != nil {
			return fmt.Errorf("drop expired sessions: %w", err)
		}
		if _, err := tx.exec(ctx, `INSERT INTO user_sessions (id, organization_id, user_id, created_at, expires_at) VALUES (?, ?, ?, ?, ?)`,
			sess.ID.String(), tx.orgID.String(), sess.UserID.String(), timeArg(sess.CreatedAt), timeArg(sess.ExpiresAt)); err != nil {
			return fmt.Errorf("insert session: %w", err)
		}
		return nil
	})
}

// FindSession returns a session of orgID with its user's current role and state.
func (s *Store) FindSession(ctx context.Context, orgID, id uuid.UUID) (*jack.Session, error) {
	var sess jack.Session
	err := s.inReadTx(ctx, orgID, func(tx *Tx) error {
		var role string
		err := tx.queryRow(ctx, `
			SELECT s.id, s.organization_id, s.user_id, s.created_at, s.expires_at, s.revoked_at, u.role, u.deactivated_at IS NULL
			FROM user_sessions s JOIN user_profiles u ON u.id = s.user_id AND u.organization_id = s.organization_id
			WHERE s.organization_id = ? AND s.id = ?`, tx.orgID.String(), id.String()).
			Scan(&sess.ID, &sess.OrganizationID, &sess.UserID, persistence.Time(&sess.CreatedAt), persistence.Time(&sess.ExpiresAt),
				persistence.NullTime(&sess.RevokedAt), &role, &sess.Active)
		sess.Role = jack.ParseRole(role)
		return notFound(formatError(err), "Session")
	})
	if err != nil {
		return nil, err
	}
	return &sess, nil
}

// RevokeSession revokes one session of orgID.
func (s *Store) RevokeSession(ctx context.Context, orgID, id uuid.UUID) error {
	return s.inTx(ctx, orgID, func(tx *Tx) error {
		res, err := tx.exec(ctx, `UPDATE user_sessions SET revoked_at = COALESCE(revoked_at, ?) WHERE organization_id = ? AND id = ?`,
			timeArg(tx.now), tx.orgID.String(), id.String())
		if err != nil {
			return fmt.Errorf("revoke session: %w", err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return jack.Errorf(jack.ENOTFOUND, "Session not found.")
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
	res, err := tx.exec(ctx, `UPDATE user_sessions SET revoked_at = ?
		WHERE organization_id = ? AND user_id = ? AND id <> ? AND revoked_at IS NULL AND expires_at > ?`,
		timeArg(tx.now), tx.orgID.String(), userID.String(), except.String(), timeArg(tx.now))
	if err != nil {
		return 0, fmt.Errorf("revoke sessions: %w", err)
	}
	n, _ := res.RowsAffected()
	return int(n), nil
}
