package sqlite

import (
	"context"

	"github.com/google/uuid"
)

// ExecInTx runs one statement in a write transaction of orgID: tests write rows no Store
// method would (the Store validates them).
func ExecInTx(ctx context.Context, s *Store, orgID uuid.UUID, query string, args ...any) error {
	return s.inTx(ctx, orgID, func(tx *Tx) error {
		_, err := tx.exec(ctx, query, args...)
		return err
	})
}
