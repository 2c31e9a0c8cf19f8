-- Reconciling outbound texts (issue 14, part 3): the sweep's scan of outbound texts a crash left
-- pending or sending (see the Postgres migration of the same number).

-- +goose Up
CREATE INDEX conversations_unsent_idx ON conversations ("timestamp", id)
  WHERE message_status IN ('pending', 'sending') AND sent_by = 'agent';

-- +goose Down
DROP INDEX IF EXISTS conversations_unsent_idx;
