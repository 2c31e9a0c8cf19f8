package sqlite

import (
	"context"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jack-auto/jack"
	"github.com/jack-auto/jack/persistence"
)

// Analytics summarizes orgID's activity in [from, to), in one read transaction: the counts
// are aggregated in SQL (times are fixed-width UTC text, so a day is its first 10 characters),
// the first-response median in Go from the period's messages. EINVALID unless from < to and
// the period spans at most 366 days.
func (s *Store) Analytics(ctx context.Context, orgID uuid.UUID, from, to time.Time) (*jack.Analytics, error) {
	if err := persistence.CheckPeriod(from, to); err != nil {
		return nil, err
	}
	b := persistence.NewAnalyticsBuilder(from, to)
	var turns []persistence.TurnMessage
	err := s.inReadTx(ctx, orgID, func(tx *Tx) error {
		org, start, end := tx.orgID.String(), timeArg(from), timeArg(to)
		var day, channel, direction, outcome, status string
		var n, withDuration, duration int
		err := tx.forEach(ctx, []any{&day, &channel, &n}, func() { b.AddMessages(day, channel, n) },
			`SELECT substr(timestamp, 1, 10), type, count(*) FROM conversations
			WHERE organization_id = ? AND timestamp >= ? AND timestamp < ? GROUP BY 1, 2`, org, start, end)
		if err != nil {
			return fmt.Errorf("count messages: %w", err)
		}

		err = tx.forEach(ctx, []any{&direction, &outcome, &n, &withDuration, &duration},
			func() { b.AddCalls(direction, outcome, n, withDuration, duration) },
			`SELECT direction, coalesce(call_outcome, ''), count(*), count(duration_seconds), coalesce(sum(duration_seconds), 0)
			FROM call_sessions WHERE organization_id = ? AND started_at >= ? AND started_at < ? GROUP BY 1, 2`, org, start, end)
		if err != nil {
			return fmt.Errorf("count calls: %w", err)
		}

		err = tx.forEach(ctx, []any{&status, &n}, func() { b.AddFunnel(status, n) },
			`SELECT chase_status, count(*) FROM leads WHERE organization_id = ? GROUP BY 1`, org)
		if err != nil {
			return fmt.Errorf("count funnel: %w", err)
		}

		var total, created, optedOut int
		err = tx.queryRow(ctx, `SELECT count(*), count(*) FILTER (WHERE created_at >= ? AND created_at < ?),
			count(*) FILTER (WHERE opted_out_at IS NOT NULL) FROM leads WHERE organization_id = ?`,
			start, end, org).Scan(&total, &created, &optedOut)
		if err != nil {
			return fmt.Errorf("count leads: %w", formatError(err))
		}
		b.SetLeads(total, created, optedOut)

		var m persistence.TurnMessage
		err = tx.forEach(ctx, []any{&m.Phone, persistence.Time(&m.Timestamp), &m.SentBy, &m.Status}, func() { turns = append(turns, m) },
			`SELECT phone_number_normalized, timestamp, sent_by, message_status FROM conversations
			WHERE organization_id = ? AND timestamp >= ? AND timestamp < ? AND sent_by IN (?, ?)
			ORDER BY phone_number_normalized, timestamp, id`, org, start, end, jack.SentByCustomer, jack.SentByAgent)
		if err != nil {
			return fmt.Errorf("read turns: %w", err)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return b.Analytics(turns), nil
}

// Audit is tenant-free: the cross-organization health check of `jack audit`.
func (s *Store) Audit(ctx context.Context) (*jack.AuditReport, error) {
	r := &jack.AuditReport{RowsWithoutOrganization: map[string]int64{}}
	err := s.inReadTx(ctx, uuid.Nil, func(tx *Tx) error {
		for _, table := range persistence.TenantTables { // constants, not input
			var n int64
			err := tx.queryRow(ctx, `SELECT count(*) FROM `+table+` t
				WHERE NOT EXISTS (SELECT 1 FROM organizations o WHERE o.id = t.organization_id)`).Scan(&n)
			if err != nil {
				return fmt.Errorf("audit rows without organization in %s: %w", table, formatError(err))
			}
			r.RowsWithoutOrganization[table] = n
		}

		var rr jack.ReminderRef
		err := tx.forEach(ctx, []any{&rr.OrganizationID, &rr.LeadID, &rr.Phone, persistence.Time(&rr.DueAt)},
			func() { r.OverdueReminders = append(r.OverdueReminders, rr) },
			`SELECT organization_id, lead_id, phone_number_normalized, due_at FROM reminders
			WHERE status = 'pending' AND due_at < ? ORDER BY organization_id, lead_id, due_at`,
			timeArg(time.Now().Add(-jack.ReminderOverdue)))
		if err != nil {
			return fmt.Errorf("audit reminders: %w", err)
		}
		if r.OverdueReminders == nil {
			r.OverdueReminders = []jack.ReminderRef{}
		}

		var shared []persistence.PhoneOrganization
		var po persistence.PhoneOrganization
		err = tx.forEach(ctx, []any{&po.Phone, &po.OrganizationID}, func() { shared = append(shared, po) },
			`SELECT DISTINCT phone_number_normalized, organization_id FROM leads
			WHERE phone_number_normalized IN (SELECT phone_number_normalized FROM leads
				GROUP BY phone_number_normalized HAVING count(DISTINCT organization_id) > 1)`)
		if err != nil {
			return fmt.Errorf("audit shared customer phones: %w", err)
		}
		r.SharedCustomerPhones = persistence.SharedPhones(shared)

		var numbers []jack.NumberRef
		var nr jack.NumberRef
		err = tx.forEach(ctx, []any{&nr.OrganizationID, &nr.Phone}, func() { numbers = append(numbers, nr) },
			`SELECT organization_id, phone_number FROM organization_phone_numbers
			WHERE is_active = 1 AND trim(coalesce(elevenlabs_phone_id, '')) = ''`)
		if err != nil {
			return fmt.Errorf("audit numbers without ElevenLabs: %w", err)
		}
		r.NumbersWithoutVoice = persistence.SortNumberRefs(numbers)

		r.InvalidLeadPhones, err = persistence.InvalidLeadPhones(func(after jack.LeadRef, limit int) ([]jack.LeadRef, error) {
			var page []jack.LeadRef
			var l jack.LeadRef
			err := tx.forEach(ctx, []any{&l.OrganizationID, &l.LeadID, &l.Phone}, func() { page = append(page, l) },
				`SELECT organization_id, id, phone_number_normalized FROM leads
				WHERE (organization_id, id) > (?, ?) ORDER BY organization_id, id LIMIT ?`,
				after.OrganizationID.String(), after.LeadID, limit)
			return page, err
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

// forEach runs a query, scans every row into dest and calls fn after each.
func (tx *Tx) forEach(ctx context.Context, dest []any, fn func(), query string, args ...any) error {
	rows, err := tx.query(ctx, query, args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		if err := rows.Scan(dest...); err != nil {
			return formatError(err)
		}
		fn()
	}
	return formatError(rows.Err())
}
