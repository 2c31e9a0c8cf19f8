package sqlite

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/jack-auto/jack"
	"github.com/jack-auto/jack/persistence"
)

const leadColumns = persistence.LeadColumns

const leadPlaceholders = `?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?`

// An update writes every lead column but the key: assigning the primary key, even its own
// value, makes SQLite check every row of every table that references leads.
var (
	leadUpdateColumns      = strings.TrimPrefix(leadColumns, "id, organization_id, ")
	leadUpdatePlaceholders = strings.TrimPrefix(leadPlaceholders, "?, ?, ")
)

func scanLead(row scanner) (*jack.Lead, error) {
	return persistence.ScanLead(row, func(p *[]string) any { return persistence.JSON(p) })
}

// leadArgs returns l's columns in leadColumns order.
func leadArgs(l *jack.Lead) ([]any, error) {
	steps, err := jsonArg(l.ScriptProgress.CompletedSteps)
	if err != nil {
		return nil, err
	}
	issues, err := jsonArg(l.CreditKnownIssues)
	if err != nil {
		return nil, err
	}
	return []any{l.ID, l.OrganizationID.String(), l.CustomerName, l.PhoneNumber, l.PhoneNumberNormalized,
		nullStringArg(l.Email), nullUUIDArg(l.CreatedBy), nullUUIDArg(l.AssignedTo), l.ChaseStatus, l.FundingReadiness,
		nullStringArg(l.FundingReadinessReason), l.Sentiment, l.ScriptProgress.CurrentStep, steps,
		nullStringArg(l.CreditScoreRange), issues, nullStringArg(l.VehiclePreference), nullStringArg(l.BudgetRange),
		nullTimeArg(l.LastTouchpoint), l.TotalConversations, timeArg(l.LastActivity), nullTimeArg(l.AIPausedUntil),
		nullTimeArg(l.OptedOutAt), l.LeadQualityScore, l.Version, timeArg(l.CreatedAt), timeArg(l.UpdatedAt)}, nil
}

// prepareLead fills what the store owns on a new lead: id, organization, version, times and
// the seed's defaults for fields left empty.
func prepareLead(tx *Tx, l *jack.Lead) {
	if l.ID == "" {
		l.ID = uuid.Must(uuid.NewV7()).String()
	}
	l.OrganizationID = tx.orgID
	if l.PhoneNumberNormalized == "" {
		l.PhoneNumberNormalized = l.PhoneNumber
	}
	if l.PhoneNumber == "" {
		l.PhoneNumber = l.PhoneNumberNormalized
	}
	l.Email = jack.NormalizeEmail(l.Email)
	l.ChaseStatus = cmpOr(l.ChaseStatus, jack.ChaseNew)
	l.FundingReadiness = cmpOr(l.FundingReadiness, "unknown")
	l.Sentiment = cmpOr(l.Sentiment, "neutral")
	if l.ScriptProgress.CurrentStep == "" {
		l.ScriptProgress = jack.Progress{CurrentStep: jack.StepContacted, CompletedSteps: []string{jack.StepContacted}}
	}
	if l.ScriptProgress.CompletedSteps == nil {
		l.ScriptProgress.CompletedSteps = []string{}
	}
	if l.CreditKnownIssues == nil {
		l.CreditKnownIssues = []string{}
	}
	l.Version = 1
	l.CreatedAt, l.UpdatedAt = tx.now, tx.now
	if l.LastActivity.IsZero() {
		l.LastActivity = tx.now
	}
	l.LastActivity = persistence.Truncate(l.LastActivity)
	l.LastTouchpoint, l.AIPausedUntil, l.OptedOutAt = truncatePtr(l.LastTouchpoint), truncatePtr(l.AIPausedUntil), truncatePtr(l.OptedOutAt)
	l.LeadQualityScore = nil // scoring writes it, through UpdateConversation only
}

// truncatePtr returns a new pointer to the stored form of *t, leaving the caller's time alone.
func truncatePtr(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	v := persistence.Truncate(*t)
	return &v
}

func cmpOr(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// CreateLead stores a new lead of orgID. ECONFLICT if orgID already has a lead with that phone,
// EUNPROCESSABLE for invalid fields (including an assignee outside orgID).
func (s *Store) CreateLead(ctx context.Context, orgID uuid.UUID, lead *jack.Lead) error {
	return s.inTx(ctx, orgID, func(tx *Tx) error {
		prepareLead(tx, lead)
		if err := validateLead(ctx, tx, lead); err != nil {
			return err
		}
		return insertLead(ctx, tx, lead, false)
	})
}

// validateLead checks the lead's fields and that the users it names belong to the organization
// (the foreign keys alone would accept another organization's user).
func validateLead(ctx context.Context, tx *Tx, l *jack.Lead) error {
	if err := l.Validate(); err != nil {
		return err
	}
	for field, id := range map[string]*uuid.UUID{"assignedTo": l.AssignedTo, "createdBy": l.CreatedBy} {
		if id == nil {
			continue
		}
		if _, err := findUserByID(ctx, tx, *id); jack.ErrorCode(err) == jack.ENOTFOUND {
			return jack.ValidationError(map[string]string{field: "is not a user of this organization"})
		} else if err != nil {
			return err
		}
	}
	return nil
}

// insertLead inserts l. With ignoreDuplicate, an existing lead with the phone makes it return
// errDuplicate instead of a conflict, so EnsureLead can load that lead in the same transaction.
func insertLead(ctx context.Context, tx *Tx, l *jack.Lead, ignoreDuplicate bool) error {
	args, err := leadArgs(l)
	if err != nil {
		return err
	}
	q := `INSERT INTO leads (` + leadColumns + `) VALUES (` + leadPlaceholders + `)`
	if ignoreDuplicate {
		q += ` ON CONFLICT (organization_id, phone_number_normalized) DO NOTHING`
	}
	res, err := tx.exec(ctx, q, args...)
	if err != nil {
		return fmt.Errorf("insert lead: %w", err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return err
	} else if n == 0 {
		return errDuplicate
	}
	return nil
}

// errDuplicate reports an insert that ON CONFLICT DO NOTHING skipped.
var errDuplicate = jack.Errorf(jack.ECONFLICT, "Duplicate.")

// FindLeadByID returns ENOTFOUND if id is not a lead of orgID.
func (s *Store) FindLeadByID(ctx context.Context, orgID uuid.UUID, id string) (*jack.Lead, error) {
	var lead *jack.Lead
	err := s.inReadTx(ctx, orgID, func(tx *Tx) (err error) {
		lead, err = findLeadByID(ctx, tx, id)
		return err
	})
	return lead, err
}

func findLeadByID(ctx context.Context, tx *Tx, id string) (*jack.Lead, error) {
	lead, err := scanLead(tx.queryRow(ctx, `SELECT `+leadColumns+` FROM leads WHERE organization_id = ? AND id = ?`, tx.orgID.String(), id))
	return lead, notFound(err, "Lead")
}

// FindLeadByPhone returns ENOTFOUND if orgID has no lead with that E.164 phone.
func (s *Store) FindLeadByPhone(ctx context.Context, orgID uuid.UUID, phone string) (*jack.Lead, error) {
	var lead *jack.Lead
	err := s.inReadTx(ctx, orgID, func(tx *Tx) (err error) {
		lead, err = findLeadByPhone(ctx, tx, phone)
		return err
	})
	return lead, err
}

func findLeadByPhone(ctx context.Context, tx *Tx, phone string) (*jack.Lead, error) {
	lead, err := scanLead(tx.queryRow(ctx, `SELECT `+leadColumns+` FROM leads WHERE organization_id = ? AND phone_number_normalized = ?`,
		tx.orgID.String(), phone))
	return lead, notFound(err, "Lead")
}

// FindLeads returns one page of orgID's leads, newest first; EINVALID for a malformed cursor.
func (s *Store) FindLeads(ctx context.Context, orgID uuid.UUID, filter jack.LeadFilter) (*jack.LeadPage, error) {
	var page *jack.LeadPage
	err := s.inReadTx(ctx, orgID, func(tx *Tx) (err error) {
		page, err = findLeads(ctx, tx, filter)
		return err
	})
	return page, err
}

func findLeads(ctx context.Context, tx *Tx, filter jack.LeadFilter) (*jack.LeadPage, error) {
	kind, column, err := persistence.LeadSort(filter.Sort)
	if err != nil {
		return nil, err
	}
	if err := persistence.CheckMinScore(filter.MinScore); err != nil {
		return nil, err
	}
	where, args := []string{"organization_id = ?"}, []any{tx.orgID.String()}
	arg := func(v any) string {
		if t, ok := v.(time.Time); ok {
			v = timeArg(t)
		}
		args = append(args, v)
		return "?"
	}
	if filter.Status != nil {
		where, args = append(where, "chase_status = ?"), append(args, *filter.Status)
	}
	if filter.Q != nil && strings.TrimSpace(*filter.Q) != "" {
		p := persistence.LikePattern(strings.TrimSpace(*filter.Q))
		where = append(where, `(jack_lower(customer_name) LIKE ? ESCAPE '\' OR jack_lower(phone_number) LIKE ? ESCAPE '\'
			OR jack_lower(phone_number_normalized) LIKE ? ESCAPE '\' OR jack_lower(coalesce(email, '')) LIKE ? ESCAPE '\')`)
		args = append(args, p, p, p, p)
	}
	if filter.AssignedTo != nil {
		where, args = append(where, "assigned_to = ?"), append(args, filter.AssignedTo.String())
	}
	if filter.MinScore != nil {
		where = append(where, "lead_quality_score >= "+arg(*filter.MinScore))
	}
	if filter.Cursor != "" {
		c, err := persistence.DecodeCursor(kind, filter.Cursor)
		if err != nil {
			return nil, err
		}
		where = append(where, persistence.LeadAfter(kind, column, c, arg))
	}
	limit := jack.PageLimit(filter.Limit, persistence.DefaultLeadLimit, persistence.MaxLeadLimit)
	rows, err := tx.query(ctx, `SELECT `+leadColumns+` FROM leads WHERE `+strings.Join(where, " AND ")+
		` ORDER BY `+persistence.LeadOrderBy(kind, column)+` LIMIT ?`, append(args, limit+1)...)
	if err != nil {
		return nil, fmt.Errorf("find leads: %w", err)
	}
	defer rows.Close()
	page := &jack.LeadPage{Leads: []*jack.Lead{}}
	for rows.Next() {
		l, err := scanLead(rows)
		if err != nil {
			return nil, err
		}
		page.Leads = append(page.Leads, l)
	}
	if err := rows.Err(); err != nil {
		return nil, formatError(err)
	}
	if len(page.Leads) > limit {
		page.Leads = page.Leads[:limit]
		page.NextCursor = persistence.NextLeadCursor(kind, page.Leads[limit-1])
	}
	return page, nil
}

// UpdateLead changes a lead's CRM fields, bumps its version and updated_at. ENOTFOUND if id is
// not a lead of orgID, ECONFLICT if upd.Version is stale, EUNPROCESSABLE if the result is invalid.
func (s *Store) UpdateLead(ctx context.Context, orgID uuid.UUID, id string, upd jack.LeadUpdate) (*jack.Lead, error) {
	var lead *jack.Lead
	err := s.inTx(ctx, orgID, func(tx *Tx) (err error) {
		lead, err = updateLead(ctx, tx, id, upd)
		return err
	})
	return lead, err
}

func updateLead(ctx context.Context, tx *Tx, id string, upd jack.LeadUpdate) (*jack.Lead, error) {
	lead, err := findLeadByID(ctx, tx, id)
	if err != nil {
		return nil, err
	}
	if upd.Version != nil && *upd.Version != lead.Version {
		return nil, jack.Errorf(jack.ECONFLICT, "The lead was changed by someone else; reload it and try again.")
	}
	upd.Apply(lead)
	lead.Email = jack.NormalizeEmail(lead.Email)
	if upd.CreditKnownIssues != nil {
		lead.CreditKnownIssues = slices.Clone(upd.CreditKnownIssues)
	}
	if err := validateLead(ctx, tx, lead); err != nil {
		return nil, err
	}
	prev := lead.Version
	lead.Version, lead.UpdatedAt = prev+1, tx.now
	return lead, writeLead(ctx, tx, lead, prev)
}

// writeLead stores every column of l if the stored version is still prev (ECONFLICT otherwise).
func writeLead(ctx context.Context, tx *Tx, l *jack.Lead, prev int64) error {
	args, err := leadArgs(l)
	if err != nil {
		return err
	}
	res, err := tx.exec(ctx, `UPDATE leads SET (`+leadUpdateColumns+`) = (`+leadUpdatePlaceholders+`)
		WHERE organization_id = ? AND id = ? AND version = ?`, append(args[2:], tx.orgID.String(), l.ID, prev)...)
	if err != nil {
		return fmt.Errorf("update lead: %w", err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return err
	} else if n == 0 {
		return jack.Errorf(jack.ECONFLICT, "The lead was changed by someone else; reload it and try again.")
	}
	return nil
}

// DeleteLead removes the lead with its messages, call sessions, events and summary.
// ENOTFOUND if id is not a lead of orgID.
func (s *Store) DeleteLead(ctx context.Context, orgID uuid.UUID, id string) error {
	return s.inTx(ctx, orgID, func(tx *Tx) error { return deleteLead(ctx, tx, id) })
}

func deleteLead(ctx context.Context, tx *Tx, id string) error {
	lead, err := findLeadByID(ctx, tx, id)
	if err != nil {
		return err
	}
	org := tx.orgID.String()
	for _, q := range []struct {
		sql  string
		args []any
	}{
		{`DELETE FROM conversations WHERE organization_id = ? AND (lead_id = ? OR phone_number_normalized = ?)`, []any{org, id, lead.PhoneNumberNormalized}},
		{`DELETE FROM call_sessions WHERE organization_id = ? AND (lead_id = ? OR phone_number_normalized = ?)`, []any{org, id, lead.PhoneNumberNormalized}},
		{`DELETE FROM events WHERE organization_id = ? AND lead_id = ?`, []any{org, id}},
		{`DELETE FROM conversation_summaries WHERE organization_id = ? AND phone_number_normalized = ?`, []any{org, lead.PhoneNumberNormalized}},
		{`DELETE FROM leads WHERE organization_id = ? AND id = ?`, []any{org, id}},
	} {
		if _, err := tx.exec(ctx, q.sql, q.args...); err != nil {
			return fmt.Errorf("delete lead: %w", err)
		}
	}
	return nil
}
