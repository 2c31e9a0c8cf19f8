package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/jack-auto/jack"
	"github.com/jack-auto/jack/persistence"
)

// Analytics summarizes orgID's activity in [from, to), in one transaction of orgID: the counts
// are aggregated in SQL, the first-response median in Go from the period's messages. EINVALID
// unless from < to and the period spans at most 366 days.
func (s *Store) Analytics(ctx context.Context, orgID uuid.UUID, from, to time.Time) (*jack.Analytics, error) {
	if err := persistence.CheckPeriod(from, to); err != nil {
		return nil, err
	}
	b := persistence.NewAnalyticsBuilder(from, to)
	var turns []persistence.TurnMessage
	err := s.inTx(ctx, orgID, func(tx *Tx) error {
		var day, channel, direction, outcome, status string
		var n, withDuration, duration int
		rows, err := tx.tx.Query(ctx, `
			SELECT to_char("timestamp" AT TIME ZONE 'UTC', 'YYYY-MM-DD'), type, count(*) FROM conversations
			WHERE organization_id = $1 AND "timestamp" >= $2 AND "timestamp" < $3 GROUP BY 1, 2`, tx.orgID, from, to)
		if err := forEach(rows, err, []any{&day, &channel, &n}, func() { b.AddMessages(day, channel, n) }); err != nil {
			return fmt.Errorf("count messages: %w", err)
		}

		rows, err = tx.tx.Query(ctx, `
			SELECT direction, COALESCE(call_outcome, ''), count(*), count(duration_seconds), COALESCE(sum(duration_seconds), 0)
			FROM call_sessions WHERE organization_id = $1 AND started_at >= $2 AND started_at < $3 GROUP BY 1, 2`,
			tx.orgID, from, to)
		err = forEach(rows, err, []any{&direction, &outcome, &n, &withDuration, &duration}, func() {
			b.AddCalls(direction, outcome, n, withDuration, duration)
		})
		if err != nil {
			return fmt.Errorf("count calls: %w", err)
		}

		rows, err = tx.tx.Query(ctx, `SELECT chase_status, count(*) FROM leads WHERE organization_id = $1 GROUP BY 1`, tx.orgID)
		if err := forEach(rows, err, []any{&status, &n}, func() { b.AddFunnel(status, n) }); err != nil {
			return fmt.Errorf("count funnel: %w", err)
		}

		var total, created, optedOut int
		err = tx.tx.QueryRow(ctx, `SELECT count(*), count(*) FILTER (WHERE created_at >= $2 AND created_at < $3),
			count(*) FILTER (WHERE opted_out_at IS NOT NULL) FROM leads WHERE organization_id = $1`,
			tx.orgID, from, to).Scan(&total, &created, &optedOut)
		if err != nil {
			return fmt.Errorf("count leads: %w", err)
		}
		b.SetLeads(total, created, optedOut)

		var m persistence.TurnMessage
		rows, err = tx.tx.Query(ctx, `
			SELECT phone_number_normalized, "timestamp", sent_by, message_status FROM conversations
			WHERE organization_id = $1 AND "timestamp" >= $2 AND "timestamp" < $3 AND sent_by IN ($4, $5)
			ORDER BY phone_number_normalized, "timestamp", id`, tx.orgID, from, to, jack.SentByCustomer, jack.SentByAgent)
		if err := forEach(rows, err, []any{&m.Phone, &m.Timestamp, &m.SentBy, &m.Status}, func() { turns = append(turns, m) }); err != nil {
			return fmt.Errorf("read turns: %w", err)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return b.Analytics(turns), nil
}

// Audit is tenant-free: the cross-organization health check of `jack audit`. Row-level
// security hides other organizations from the application role, so it reads through the
// SECURITY DEFINER audit_* functions of migration 00003.
func (s *Store) Audit(ctx context.Context) (*jack.AuditReport, error) {
	r := &jack.AuditReport{}
	err := s.inTenantFreeTx(ctx, func(tx *Tx) error {
		counts := map[string]int64{}
		var table string
		var n int64
		rows, err := tx.tx.Query(ctx, `SELECT table_name, orphans FROM audit_rows_without_organization()`)
		if err := forEach(rows, err, []any{&table, &n}, func() { counts[table] = n }); err != nil {
			return fmt.Errorf("audit rows without organization: %w", err)
		}
		var rr jack.ReminderRef
		var orphan bool
		rows, err = tx.tx.Query(ctx, `SELECT organization_id, lead_id, phone, due_at, orphan FROM audit_reminders($1)`,
			time.Now().Add(-jack.ReminderOverdue))
		if err := forEach(rows, err, []any{&rr.OrganizationID, &rr.LeadID, &rr.Phone, &rr.DueAt, &orphan}, func() {
			if orphan {
				counts["reminders"]++
			} else {
				r.OverdueReminders = append(r.OverdueReminders, rr)
			}
		}); err != nil {
			return fmt.Errorf("audit reminders: %w", err)
		}
		r.RowsWithoutOrganization = persistence.OrphanCounts(counts)
		if r.OverdueReminders == nil {
			r.OverdueReminders = []jack.ReminderRef{}
		}

		var shared []persistence.PhoneOrganization
		var po persistence.PhoneOrganization
		rows, err = tx.tx.Query(ctx, `SELECT phone, organization_id FROM audit_shared_customer_phones()`)
		if err := forEach(rows, err, []any{&po.Phone, &po.OrganizationID}, func() { shared = append(shared, po) }); err != nil {
			return fmt.Errorf("audit shared customer phones: %w", err)
		}
		r.SharedCustomerPhones = persistence.SharedPhones(shared)

		var numbers []jack.NumberRef
		var nr jack.NumberRef
		rows, err = tx.tx.Query(ctx, `SELECT organization_id, phone FROM audit_numbers_without_elevenlabs()`)
		if err := forEach(rows, err, []any{&nr.OrganizationID, &nr.Phone}, func() { numbers = append(numbers, nr) }); err != nil {
			return fmt.Errorf("audit numbers without ElevenLabs: %w", err)
		}
		r.NumbersWithoutVoice = persistence.SortNumberRefs(numbers)

		r.InvalidLeadPhones, err = persistence.InvalidLeadPhones(func(after jack.LeadRef, limit int) ([]jack.LeadRef, error) {
			rows, err := tx.tx.Query(ctx, `SELECT organization_id, id, phone FROM audit_lead_phones($1, $2, $3)`,
				after.OrganizationID, after.LeadID, limit)
			return collect(rows, err, func(row persistence.Row) (l jack.LeadRef, err error) {
				return l, row.Scan(&l.OrganizationID, &l.LeadID, &l.Phone)
			})
		})
		if err != nil {
			return fmt.Errorf("audit lead phones: %w", err)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return r, nil
}

// forEach scans every row into dest and calls fn after each.
func forEach(rows pgx.Rows, err error, dest []any, fn func()) error {
	if err != nil {
		return err
	}
	_, err = pgx.ForEachRow(rows, dest, func() error { fn(); return nil })
	return err
}
