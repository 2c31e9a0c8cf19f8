package sqlite

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/jack-auto/jack"
	"github.com/jack-auto/jack/persistence"
)

func queryDeliveries(ctx context.Context, tx *Tx, query string, args ...any) ([]*jack.IntegrationDelivery, error) {
	rows, err := tx.query(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []*jack.IntegrationDelivery{}
	for rows.Next() {
		d, err := persistence.ScanDelivery(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, d)
	}
	return out, formatError(rows.Err())
}

// CreateIntegration stores i and, on orgID's first integration, starts the organization's feed
// after its latest event (earlier events are not sent).
func (s *Store) CreateIntegration(ctx context.Context, orgID uuid.UUID, i *jack.Integration) error {
	return s.inTx(ctx, orgID, func(tx *Tx) error {
		if err := persistence.PrepareIntegration(i, orgID, tx.now); err != nil {
			return err
		}
		events, _ := jsonArg(i.Events)
		if _, err := tx.exec(ctx, `INSERT INTO integrations (`+persistence.IntegrationColumns+`)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			i.ID.String(), orgID.String(), i.Kind, i.URL, i.To, events, boolArg(i.Enabled), i.Secret,
			nullUUIDArg(i.CreatedBy), timeArg(i.CreatedAt), timeArg(i.UpdatedAt)); err != nil {
			return notFoundOrg(fmt.Errorf("create integration: %w", err))
		}
		// Alone, the new integration (re)starts the feed at the latest event: a feed left behind
		// by deleted integrations must not replay their backlog to it.
		_, err := tx.exec(ctx, `INSERT INTO integration_feeds (organization_id, last_event_id, since)
			VALUES (?1, COALESCE((SELECT id FROM events WHERE organization_id = ?1 ORDER BY seq DESC LIMIT 1), ?2), ?3)
			ON CONFLICT (organization_id) DO UPDATE SET last_event_id = excluded.last_event_id, since = excluded.since
			WHERE NOT EXISTS (SELECT 1 FROM integrations WHERE organization_id = ?1 AND id <> ?4)`,
			orgID.String(), uuid.Nil.String(), timeArg(tx.now), i.ID.String())
		if err != nil {
			return fmt.Errorf("start integration feed: %w", err)
		}
		return nil
	})
}

// notFoundOrg reads a foreign-key failure on insert as an unknown organization.
func notFoundOrg(err error) error {
	if strings.Contains(err.Error(), "FOREIGN KEY") {
		return jack.Errorf(jack.ENOTFOUND, "Organization not found.")
	}
	return err
}

// FindIntegrations lists orgID's integrations, oldest first.
func (s *Store) FindIntegrations(ctx context.Context, orgID uuid.UUID) ([]*jack.Integration, error) {
	out := []*jack.Integration{}
	err := s.inReadTx(ctx, orgID, func(tx *Tx) error {
		rows, err := tx.query(ctx, `SELECT `+persistence.IntegrationColumns+` FROM integrations
			WHERE organization_id = ? ORDER BY created_at, id`, orgID.String())
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			i, err := persistence.ScanIntegration(rows)
			if err != nil {
				return err
			}
			out = append(out, i)
		}
		return formatError(rows.Err())
	})
	if err != nil {
		return nil, fmt.Errorf("find integrations: %w", err)
	}
	return out, nil
}

func findIntegration(ctx context.Context, tx *Tx, id uuid.UUID) (*jack.Integration, error) {
	i, err := persistence.ScanIntegration(tx.queryRow(ctx, `SELECT `+persistence.IntegrationColumns+` FROM integrations
		WHERE organization_id = ? AND id = ?`, tx.orgID.String(), id.String()))
	if jack.ErrorCode(err) == jack.ENOTFOUND {
		return nil, persistence.IntegrationNotFound()
	}
	return i, err
}

// FindIntegrationByID returns ENOTFOUND if id is not an integration of orgID.
func (s *Store) FindIntegrationByID(ctx context.Context, orgID, id uuid.UUID) (*jack.Integration, error) {
	var i *jack.Integration
	err := s.inReadTx(ctx, orgID, func(tx *Tx) (err error) { i, err = findIntegration(ctx, tx, id); return err })
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
		events, _ := jsonArg(i.Events)
		_, err = tx.exec(ctx, `UPDATE integrations SET url = ?, recipient = ?, events = ?, enabled = ?,
			secret = ?, updated_at = ? WHERE organization_id = ? AND id = ?`,
			i.URL, i.To, events, boolArg(i.Enabled), i.Secret, timeArg(i.UpdatedAt), orgID.String(), id.String())
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
		res, err := tx.exec(ctx, `DELETE FROM integrations WHERE organization_id = ? AND id = ?`, orgID.String(), id.String())
		if err != nil {
			return fmt.Errorf("delete integration: %w", err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return persistence.IntegrationNotFound()
		}
		return nil
	})
}

// ClaimIntegrationFeeds claims feeds; SQLite's one writer serializes claims.
func (s *Store) ClaimIntegrationFeeds(ctx context.Context, owner string, now time.Time, lease time.Duration, limit int) ([]*jack.IntegrationFeed, error) {
	until, n, err := persistence.ClaimWindow(now, lease, limit)
	if err != nil {
		return nil, err
	}
	feeds := []*jack.IntegrationFeed{}
	err = s.inTx(ctx, uuid.Nil, func(tx *Tx) error {
		rows, err := tx.query(ctx, `UPDATE integration_feeds SET claimed_by = ?1, claimed_until = ?3
			WHERE organization_id IN (SELECT f.organization_id FROM integration_feeds f
				WHERE (f.claimed_until IS NULL OR f.claimed_until <= ?2 OR f.claimed_by = ?1)
				  AND EXISTS (SELECT 1 FROM integrations i WHERE i.organization_id = f.organization_id)
				ORDER BY f.claimed_until, f.organization_id LIMIT ?4)
			RETURNING organization_id, last_event_id, since`, owner, timeArg(now), timeArg(until), n)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var f jack.IntegrationFeed
			if err := rows.Scan(&f.OrganizationID, &f.After, persistence.Time(&f.Since)); err != nil {
				return formatError(err)
			}
			feeds = append(feeds, &f)
		}
		return formatError(rows.Err())
	})
	if err != nil {
		return nil, fmt.Errorf("claim integration feeds: %w", err)
	}
	return feeds, nil
}

// IntegrationLeadStates returns the stored fingerprints of orgID's leads among ids.
func (s *Store) IntegrationLeadStates(ctx context.Context, orgID uuid.UUID, ids []string) (map[string]string, error) {
	states := map[string]string{}
	if len(ids) == 0 {
		return states, nil
	}
	err := s.inReadTx(ctx, orgID, func(tx *Tx) error {
		args := []any{orgID.String()}
		for _, id := range ids {
			args = append(args, id)
		}
		rows, err := tx.query(ctx, `SELECT lead_id, fingerprint FROM integration_lead_states
			WHERE organization_id = ? AND lead_id IN (?`+strings.Repeat(", ?", len(ids)-1)+`)`, args...)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var id, fp string
			if err := rows.Scan(&id, &fp); err != nil {
				return formatError(err)
			}
			states[id] = fp
		}
		return formatError(rows.Err())
	})
	if err != nil {
		return nil, fmt.Errorf("integration lead states: %w", err)
	}
	return states, nil
}

// CommitIntegrationDispatch moves the feed from d.From to d.To, inserts the deliveries in
// sequence and stores the lead states, in one transaction.
func (s *Store) CommitIntegrationDispatch(ctx context.Context, orgID uuid.UUID, d jack.IntegrationDispatch) error {
	return s.inTx(ctx, orgID, func(tx *Tx) error {
		var seq int64
		err := tx.queryRow(ctx, `UPDATE integration_feeds SET last_event_id = ?3, next_seq = next_seq + ?4
			WHERE organization_id = ?1 AND last_event_id = ?2 RETURNING next_seq - ?4`,
			orgID.String(), d.From.String(), d.To.String(), len(d.Deliveries)).Scan(&seq)
		if err != nil {
			if jack.ErrorCode(formatError(err)) == jack.ENOTFOUND {
				return persistence.FeedMoved()
			}
			return fmt.Errorf("move integration feed: %w", formatError(err))
		}
		for k, dl := range d.Deliveries {
			dl.OrganizationID = orgID
			dl.Status = jack.DeliveryPending
			if dl.CreatedAt.IsZero() {
				dl.CreatedAt = tx.now
			}
			next := tx.now
			if dl.NextAttemptAt != nil {
				next = *dl.NextAttemptAt
			}
			dl.NextAttemptAt = &next
			if _, err := tx.exec(ctx, `INSERT INTO integration_deliveries (id, organization_id, integration_id, seq,
					event_id, event_type, lead_id, payload, status, next_attempt_at, created_at)
				VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
				ON CONFLICT (integration_id, event_id) DO NOTHING`,
				dl.ID.String(), orgID.String(), dl.IntegrationID.String(), seq+int64(k), dl.EventID.String(), dl.EventType,
				dl.LeadID, string(dl.Payload), dl.Status, timeArg(next), timeArg(dl.CreatedAt)); err != nil {
				return fmt.Errorf("insert delivery: %w", err)
			}
		}
		for lead, fp := range d.LeadStates {
			if _, err := tx.exec(ctx, `INSERT INTO integration_lead_states (organization_id, lead_id, fingerprint)
				VALUES (?, ?, ?) ON CONFLICT (organization_id, lead_id) DO UPDATE SET fingerprint = excluded.fingerprint`,
				orgID.String(), lead, fp); err != nil {
				return fmt.Errorf("store lead state: %w", err)
			}
		}
		return nil
	})
}

// ClaimDueDeliveries claims due deliveries that no earlier pending delivery of the same lead
// and integration holds back; SQLite's one writer serializes claims.
func (s *Store) ClaimDueDeliveries(ctx context.Context, now time.Time, lease time.Duration, limit int) ([]*jack.IntegrationDelivery, error) {
	until, n, err := persistence.ClaimWindow(now, lease, limit)
	if err != nil {
		return nil, err
	}
	var out []*jack.IntegrationDelivery
	err = s.inTx(ctx, uuid.Nil, func(tx *Tx) (err error) {
		out, err = queryDeliveries(ctx, tx, `UPDATE integration_deliveries SET claimed_until = ?2
			WHERE id IN (SELECT d.id FROM integration_deliveries d
				WHERE d.status = 'pending' AND d.next_attempt_at <= ?1
				  AND (d.claimed_until IS NULL OR d.claimed_until <= ?1)
				  AND (d.lead_id = '' OR NOT EXISTS (SELECT 1 FROM integration_deliveries e
				    WHERE e.integration_id = d.integration_id AND e.lead_id = d.lead_id
				      AND e.status = 'pending' AND e.seq < d.seq))
				ORDER BY d.next_attempt_at, d.seq LIMIT ?3)
			RETURNING `+persistence.DeliveryColumns, timeArg(now), timeArg(until), n)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("claim due deliveries: %w", err)
	}
	return out, nil
}

// RecordDeliveryAttempt stores the attempt on a pending delivery and releases its claim (the
// one writer keeps the read of its history and the write together).
func (s *Store) RecordDeliveryAttempt(ctx context.Context, orgID, id uuid.UUID, a jack.DeliveryAttempt) (*jack.IntegrationDelivery, error) {
	status, delivered, next := persistence.ApplyAttempt(a)
	var d *jack.IntegrationDelivery
	err := s.inTx(ctx, orgID, func(tx *Tx) (err error) {
		var current, history string
		err = formatError(tx.queryRow(ctx, `SELECT status, history FROM integration_deliveries
			WHERE organization_id = ? AND id = ?`, orgID.String(), id.String()).Scan(&current, &history))
		switch {
		case jack.ErrorCode(err) == jack.ENOTFOUND:
			return persistence.DeliveryNotFound()
		case err != nil:
			return err
		case current != jack.DeliveryPending:
			return persistence.NotPending()
		}
		grown, err := persistence.AppendAttempt([]byte(history), a)
		if err != nil {
			return err
		}
		d, err = persistence.ScanDelivery(tx.queryRow(ctx, `UPDATE integration_deliveries SET status = ?, attempts = attempts + 1,
				response_code = ?, latency_ms = ?, last_error = ?, last_attempt_at = ?, next_attempt_at = ?,
				delivered_at = ?, claimed_until = NULL, history = ?
			WHERE organization_id = ? AND id = ?
			RETURNING `+persistence.DeliveryColumns,
			status, a.ResponseCode, a.LatencyMillis, a.Error, timeArg(a.At), nullTimeArg(next), nullTimeArg(delivered),
			string(grown), orgID.String(), id.String()))
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("record delivery attempt: %w", err)
	}
	return d, nil
}

// FindDeliveries lists an integration's deliveries, newest first.
func (s *Store) FindDeliveries(ctx context.Context, orgID, integrationID uuid.UUID, limit int) ([]*jack.IntegrationDelivery, error) {
	var out []*jack.IntegrationDelivery
	err := s.inReadTx(ctx, orgID, func(tx *Tx) (err error) {
		if _, err := findIntegration(ctx, tx, integrationID); err != nil {
			return err
		}
		out, err = queryDeliveries(ctx, tx, `SELECT `+persistence.DeliveryColumns+` FROM integration_deliveries
			WHERE organization_id = ? AND integration_id = ? ORDER BY seq DESC LIMIT ?`,
			orgID.String(), integrationID.String(), jack.PageLimit(limit, jack.DefaultDeliveryListLimit, jack.MaxDeliveryListLimit))
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
		d, err = persistence.ScanDelivery(tx.queryRow(ctx, `UPDATE integration_deliveries SET status = 'pending',
				next_attempt_at = ?, delivered_at = NULL, claimed_until = NULL, attempts = 0
			WHERE organization_id = ? AND integration_id = ? AND id = ? RETURNING `+persistence.DeliveryColumns,
			timeArg(tx.now), orgID.String(), integrationID.String(), id.String()))
		if jack.ErrorCode(err) == jack.ENOTFOUND {
			return persistence.DeliveryNotFound()
		}
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("redeliver: %w", err)
	}
	return d, nil
}
