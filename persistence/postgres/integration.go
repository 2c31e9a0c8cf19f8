package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/jack-auto/jack"
	"github.com/jack-auto/jack/persistence"
)

// CreateIntegration stores i and, on orgID's first integration, starts the organization's feed
// after its latest event (earlier events are not sent).
func (s *Store) CreateIntegration(ctx context.Context, orgID uuid.UUID, i *jack.Integration) error {
	return s.inTx(ctx, orgID, func(tx *Tx) error {
		if err := persistence.PrepareIntegration(i, orgID, tx.now); err != nil {
			return err
		}
		events, _ := json.Marshal(i.Events)
		if _, err := tx.tx.Exec(ctx, `INSERT INTO integrations (`+persistence.IntegrationColumns+`)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)`,
			i.ID, orgID, i.Kind, i.URL, i.To, events, i.Enabled, i.Secret, i.CreatedBy, i.CreatedAt, i.UpdatedAt); err != nil {
			return fmt.Errorf("create integration: %w", err)
		}
		// Alone, the new integration (re)starts the feed at the latest event: a feed left behind
		// by deleted integrations must not replay their backlog to it.
		_, err := tx.tx.Exec(ctx, `INSERT INTO integration_feeds (organization_id, last_event_id, since)
			VALUES ($1, COALESCE((SELECT id FROM events WHERE organization_id = $1 ORDER BY seq DESC LIMIT 1), $2), $3)
			ON CONFLICT (organization_id) DO UPDATE SET last_event_id = EXCLUDED.last_event_id, since = EXCLUDED.since
			WHERE NOT EXISTS (SELECT 1 FROM integrations WHERE organization_id = $1 AND id <> $4)`, orgID, uuid.Nil, tx.now, i.ID)
		if err != nil {
			return fmt.Errorf("start integration feed: %w", err)
		}
		return nil
	})
}

// FindIntegrations lists orgID's integrations, oldest first.
func (s *Store) FindIntegrations(ctx context.Context, orgID uuid.UUID) ([]*jack.Integration, error) {
	out := []*jack.Integration{}
	err := s.inTx(ctx, orgID, func(tx *Tx) error {
		rows, err := tx.tx.Query(ctx, `SELECT `+persistence.IntegrationColumns+` FROM integrations
			WHERE organization_id = $1 ORDER BY created_at, id`, orgID)
		found, err := collect(rows, err, persistence.ScanIntegration)
		out = append(out, found...)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("find integrations: %w", err)
	}
	return out, nil
}

func findIntegration(ctx context.Context, tx *Tx, id uuid.UUID) (*jack.Integration, error) {
	i, err := persistence.ScanIntegration(tx.tx.QueryRow(ctx, `SELECT `+persistence.IntegrationColumns+` FROM integrations
		WHERE organization_id = $1 AND id = $2`, tx.orgID, id))
	if err != nil {
		return nil, orIntegrationNotFound(err)
	}
	return i, nil
}

func orIntegrationNotFound(err error) error {
	if errors.Is(err, pgx.ErrNoRows) {
		return persistence.IntegrationNotFound()
	}
	return err
}

// FindIntegrationByID returns ENOTFOUND if id is not an integration of orgID.
func (s *Store) FindIntegrationByID(ctx context.Context, orgID, id uuid.UUID) (*jack.Integration, error) {
	var i *jack.Integration
	err := s.inTx(ctx, orgID, func(tx *Tx) (err error) { i, err = findIntegration(ctx, tx, id); return err })
	return i, err
}

// UpdateIntegration returns ENOTFOUND if id is not an integration of orgID, EUNPROCESSABLE when
// the result is invalid.
func (s *Store) UpdateIntegration(ctx context.Context, orgID, id uuid.UUID, upd jack.IntegrationUpdate) (*jack.Integration, error) {
	var i *jack.Integration
	err := s.inTx(ctx, orgID, func(tx *Tx) (err error) {
		if i, err = findIntegration(ctx, tx, id); err != nil {
			return err
		}
		upd.Apply(i)
		if err := i.Validate(); err != nil {
			return err
		}
		i.UpdatedAt = tx.now
		events, _ := json.Marshal(i.Events)
		_, err = tx.tx.Exec(ctx, `UPDATE integrations SET url = $3, recipient = $4, events = $5, enabled = $6,
			secret = $7, updated_at = $8 WHERE organization_id = $1 AND id = $2`,
			orgID, id, i.URL, i.To, events, i.Enabled, i.Secret, i.UpdatedAt)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("update integration: %w", err)
	}
	return i, nil
}

// DeleteIntegration removes the integration and its deliveries.
func (s *Store) DeleteIntegration(ctx context.Context, orgID, id uuid.UUID) error {
	return s.inTx(ctx, orgID, func(tx *Tx) error {
		tag, err := tx.tx.Exec(ctx, `DELETE FROM integrations WHERE organization_id = $1 AND id = $2`, orgID, id)
		if err != nil {
			return fmt.Errorf("delete integration: %w", err)
		}
		if tag.RowsAffected() == 0 {
			return persistence.IntegrationNotFound()
		}
		return nil
	})
}

// ClaimIntegrationFeeds claims feeds through the SECURITY DEFINER claim_integration_feeds.
func (s *Store) ClaimIntegrationFeeds(ctx context.Context, owner string, now time.Time, lease time.Duration, limit int) ([]*jack.IntegrationFeed, error) {
	until, n, err := persistence.ClaimWindow(now, lease, limit)
	if err != nil {
		return nil, err
	}
	return queryTenantFree(ctx, s, "claim integration feeds", func(r persistence.Row) (*jack.IntegrationFeed, error) {
		var f jack.IntegrationFeed
		return &f, r.Scan(&f.OrganizationID, &f.After, &f.Since)
	}, `SELECT organization_id, last_event_id, since FROM claim_integration_feeds($1, $2, $3, $4)`, owner, persistence.Truncate(now), until, n)
}

// IntegrationLeadStates returns the stored fingerprints of orgID's leads among ids.
func (s *Store) IntegrationLeadStates(ctx context.Context, orgID uuid.UUID, ids []string) (map[string]string, error) {
	states := map[string]string{}
	err := s.inTx(ctx, orgID, func(tx *Tx) error {
		rows, err := tx.tx.Query(ctx, `SELECT lead_id, fingerprint FROM integration_lead_states
			WHERE organization_id = $1 AND lead_id = ANY($2)`, orgID, ids)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var id, fp string
			if err := rows.Scan(&id, &fp); err != nil {
				return err
			}
			states[id] = fp
		}
		return rows.Err()
	})
	if err != nil {
		return nil, fmt.Errorf("integration lead states: %w", err)
	}
	return states, nil
}

// CommitIntegrationDispatch moves the feed from d.From to d.To (compare-and-swap on the feed
// row, which also serializes dispatchers), then inserts the deliveries in sequence and stores
// the lead states.
func (s *Store) CommitIntegrationDispatch(ctx context.Context, orgID uuid.UUID, d jack.IntegrationDispatch) error {
	return s.inTx(ctx, orgID, func(tx *Tx) error {
		var seq int64
		err := tx.tx.QueryRow(ctx, `UPDATE integration_feeds SET last_event_id = $3, next_seq = next_seq + $4
			WHERE organization_id = $1 AND last_event_id = $2 RETURNING next_seq - $4`,
			orgID, d.From, d.To, len(d.Deliveries)).Scan(&seq)
		if err != nil {
			if errors.Is(err, pgx.ErrNoRows) {
				return persistence.FeedMoved()
			}
			return fmt.Errorf("move integration feed: %w", err)
		}
		batch := &pgx.Batch{}
		for k, dl := range d.Deliveries {
			dl.OrganizationID = orgID
			dl.Status = jack.DeliveryPending
			dl.CreatedAt = orNow(dl.CreatedAt, tx.now)
			next := orNow(ptrTime(dl.NextAttemptAt), tx.now)
			dl.NextAttemptAt = &next
			batch.Queue(`INSERT INTO integration_deliveries (id, organization_id, integration_id, seq, event_id,
					event_type, lead_id, payload, status, next_attempt_at, created_at)
				VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
				ON CONFLICT (integration_id, event_id) DO NOTHING`,
				dl.ID, orgID, dl.IntegrationID, seq+int64(k), dl.EventID, dl.EventType, dl.LeadID, string(dl.Payload),
				dl.Status, next, dl.CreatedAt)
		}
		for lead, fp := range d.LeadStates {
			batch.Queue(`INSERT INTO integration_lead_states (organization_id, lead_id, fingerprint) VALUES ($1, $2, $3)
				ON CONFLICT (organization_id, lead_id) DO UPDATE SET fingerprint = EXCLUDED.fingerprint`, orgID, lead, fp)
		}
		if batch.Len() == 0 {
			return nil
		}
		if err := tx.tx.SendBatch(ctx, batch).Close(); err != nil {
			return fmt.Errorf("insert deliveries: %w", err)
		}
		return nil
	})
}

func ptrTime(t *time.Time) time.Time {
	if t == nil {
		return time.Time{}
	}
	return *t
}

// ClaimDueDeliveries claims deliveries through the SECURITY DEFINER claim_due_deliveries.
func (s *Store) ClaimDueDeliveries(ctx context.Context, now time.Time, lease time.Duration, limit int) ([]*jack.IntegrationDelivery, error) {
	until, n, err := persistence.ClaimWindow(now, lease, limit)
	if err != nil {
		return nil, err
	}
	return queryTenantFree(ctx, s, "claim due deliveries", persistence.ScanDelivery,
		`SELECT `+persistence.DeliveryColumns+` FROM claim_due_deliveries($1, $2, $3)`, persistence.Truncate(now), until, n)
}

// RecordDeliveryAttempt stores the attempt on a pending delivery, locked (FOR UPDATE) while its
// history grows, and releases its claim.
func (s *Store) RecordDeliveryAttempt(ctx context.Context, orgID, id uuid.UUID, a jack.DeliveryAttempt) (*jack.IntegrationDelivery, error) {
	status, delivered, next := persistence.ApplyAttempt(a)
	var d *jack.IntegrationDelivery
	err := s.inTx(ctx, orgID, func(tx *Tx) (err error) {
		var current string
		var history []byte
		err = tx.tx.QueryRow(ctx, `SELECT status, history FROM integration_deliveries
			WHERE organization_id = $1 AND id = $2 FOR UPDATE`, orgID, id).Scan(&current, &history)
		switch {
		case errors.Is(err, pgx.ErrNoRows):
			return persistence.DeliveryNotFound()
		case err != nil:
			return err
		case current != jack.DeliveryPending:
			return persistence.NotPending()
		}
		if history, err = persistence.AppendAttempt(history, a); err != nil {
			return err
		}
		d, err = persistence.ScanDelivery(tx.tx.QueryRow(ctx, `UPDATE integration_deliveries SET status = $3, attempts = attempts + 1,
				response_code = $4, latency_ms = $5, last_error = $6, last_attempt_at = $7, next_attempt_at = $8,
				delivered_at = $9, claimed_until = NULL, history = $10
			WHERE organization_id = $1 AND id = $2
			RETURNING `+persistence.DeliveryColumns,
			orgID, id, status, a.ResponseCode, a.LatencyMillis, a.Error, persistence.Truncate(a.At), next, delivered, history))
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("record delivery attempt: %w", err)
	}
	return d, nil
}

// FindDeliveries lists an integration's deliveries, newest first.
func (s *Store) FindDeliveries(ctx context.Context, orgID, integrationID uuid.UUID, limit int) ([]*jack.IntegrationDelivery, error) {
	out := []*jack.IntegrationDelivery{}
	err := s.inTx(ctx, orgID, func(tx *Tx) error {
		if _, err := findIntegration(ctx, tx, integrationID); err != nil {
			return err
		}
		rows, err := tx.tx.Query(ctx, `SELECT `+persistence.DeliveryColumns+` FROM integration_deliveries
			WHERE organization_id = $1 AND integration_id = $2 ORDER BY seq DESC LIMIT $3`,
			orgID, integrationID, jack.PageLimit(limit, jack.DefaultDeliveryListLimit, jack.MaxDeliveryListLimit))
		found, err := collect(rows, err, persistence.ScanDelivery)
		out = append(out, found...)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("find deliveries: %w", err)
	}
	return out, nil
}

// Redeliver makes a delivery pending again, due now, keeping its event id and attempts.
func (s *Store) Redeliver(ctx context.Context, orgID, integrationID, id uuid.UUID) (*jack.IntegrationDelivery, error) {
	var d *jack.IntegrationDelivery
	err := s.inTx(ctx, orgID, func(tx *Tx) (err error) {
		d, err = persistence.ScanDelivery(tx.tx.QueryRow(ctx, `UPDATE integration_deliveries SET status = 'pending',
				next_attempt_at = $4, delivered_at = NULL, claimed_until = NULL, attempts = 0
			WHERE organization_id = $1 AND integration_id = $2 AND id = $3 RETURNING `+persistence.DeliveryColumns,
			orgID, integrationID, id, tx.now))
		if errors.Is(err, pgx.ErrNoRows) {
			return persistence.DeliveryNotFound()
		}
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("redeliver: %w", err)
	}
	return d, nil
}
