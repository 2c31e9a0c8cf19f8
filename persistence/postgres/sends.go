package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/jack-auto/jack"
	"github.com/jack-auto/jack/persistence"
)

// UnsentMessages is tenant-free: through the SECURITY DEFINER unsent_messages (migration 00011)
// it returns up to limit outbound texts of every organization still pending or sending and
// created before before, oldest first. limit <= 0 means persistence.DefaultClaimLimit.
func (s *Store) UnsentMessages(ctx context.Context, before time.Time, limit int) ([]*jack.Message, error) {
	n := jack.PageLimit(limit, persistence.DefaultClaimLimit, persistence.MaxClaimLimit)
	messages := []*jack.Message{}
	err := s.inTenantFreeTx(ctx, func(tx *Tx) error {
		rows, err := tx.tx.Query(ctx, `SELECT `+persistence.MessageColumns+` FROM unsent_messages($1, $2)`, before, n)
		found, err := collect(rows, err, persistence.ScanMessage)
		messages = append(messages, found...)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("unsent messages: %w", err)
	}
	return messages, nil
}
