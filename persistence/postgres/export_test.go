package postgres

import (
	"context"

	"github.com/google/uuid"
)

// CurrentUser returns the role the Store's connections run as.
func CurrentUser(ctx context.Context, s *Store) (string, error) {
	var user string
	err := s.pool.QueryRow(ctx, `SELECT current_user`).Scan(&user)
	return user, err
}

// ExecInTx runs one statement in a transaction of orgID, as the application role under
// row-level security: tests write rows no Store method would (the Store validates them).
func ExecInTx(ctx context.Context, s *Store, orgID uuid.UUID, query string, args ...any) error {
	return s.inTx(ctx, orgID, func(tx *Tx) error {
		_, err := tx.tx.Exec(ctx, query, args...)
		return err
	})
}

// Translate exposes the error mapping to TestTranslate_Unavailable.
func Translate(err error) error { return translate(err) }
