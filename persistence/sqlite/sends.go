package sqlite

import (
	"context"
	"fmt"
	"time"

	"github.com/google/uuid"

	"github.com/jack-auto/jack"
	"github.com/jack-auto/jack/persistence"
)

// UnsentMessages is tenant-free: up to limit outbound texts of every organization still pending
// or sending and created before before, oldest first. limit <= 0 means
// persistence.DefaultClaimLimit.
func (s *Store) UnsentMessages(ctx context.Context, before time.Time, limit int) ([]*jack.Message, error) {
	n := jack.PageLimit(limit, persistence.DefaultClaimLimit, persistence.MaxClaimLimit)
	var messages []*jack.Message
	err := s.inReadTx(ctx, uuid.Nil, func(tx *Tx) (err error) {
		messages, err = findMessages(ctx, tx, `message_status IN (?, ?) AND sent_by = ? AND timestamp < ?
			ORDER BY timestamp, id LIMIT ?`, jack.StatusPending, jack.StatusSending, jack.SentByAgent, timeArg(before), n)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("unsent messages: %w", err)
	}
	return messages, nil
}
