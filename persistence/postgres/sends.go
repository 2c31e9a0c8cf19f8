package postgres

import (
	"context"
	"time"

	"github.com/jack-auto/jack"
	"github.com/jack-auto/jack/persistence"
)

// UnsentMessages is tenant-free: through the SECURITY DEFINER unsent_messages (migration 00011)
// it returns up to limit outbound texts of every organization still pending or sending and
// created before before, oldest first. limit <= 0 means persistence.DefaultClaimLimit.
func (s *Store) UnsentMessages(ctx context.Context, before time.Time, limit int) ([]*jack.Message, error) {
	n := jack.PageLimit(limit, persistence.DefaultClaimLimit, persistence.MaxClaimLimit)
	return queryTenantFree(ctx, s, "unsent messages", persistence.ScanMessage,
		`SELECT `+persistence.MessageColumns+` FROM unsent_messages($1, $2)`, before, n)
}
