package postgres

import (
	"context"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/jack-auto/jack"
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

// SetBeforeCommit makes every group-commit batch call f after its statements and before its
// COMMIT; an error from f rolls the batch back. Set it before the first write.
func SetBeforeCommit(s *Store, f func(ctx context.Context, conn *pgx.Conn, writes int) error) {
	s.beforeCommit = f
}

// RawExec runs a statement in a conversation transaction as it is, under that transaction's
// organization: tests write what no ConversationTx method would.
func RawExec(ctx context.Context, tx jack.ConversationTx, query string, args ...any) error {
	_, err := tx.(*Tx).tx.Exec(ctx, query, args...)
	return err
}

// Translate exposes the error mapping to TestTranslate_Unavailable.
func Translate(err error) error { return translate(err) }
