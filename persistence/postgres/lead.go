package postgres

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/jack-auto/jack"
	"github.com/jack-auto/jack/persistence"
)

const leadColumns = persistence.LeadColumns

func scanLead(row persistence.Row) (*jack.Lead, error) {
	return persistence.ScanLead(row, func(p *[]string) any { return p })
}

// CreateLead stores lead in orgID, filling blank fields with the seed's defaults. Returns
// ECONFLICT if orgID already has a lead with that phone, EUNPROCESSABLE for invalid fields.
func (s *Store) CreateLead(ctx context.Context, orgID uuid.UUID, lead *jack.Lead) error {
	return s.inTx(ctx, orgID, func(tx *Tx) error {
		if err := prepareLead(ctx, tx, lead, true); err != nil {
			return err
		}
		stored, err := insertLead(ctx, tx, lead, false)
		if err != nil {
			return err
		}
		*lead = *stored
		return nil
	})
}

// prepareLead fills lead's blanks with the seed's defaults and checks that the users it names
// are the organization's. With validate it also checks the fields the API accepts; the
// conversation grain creates leads for unknown customers, who have no name yet.
func prepareLead(ctx context.Context, tx *Tx, lead *jack.Lead, validate bool) error {
	if lead.ID == "" {
		lead.ID = newID().String()
	}
	lead.OrganizationID = tx.orgID
	if lead.PhoneNumberNormalized == "" {
		lead.PhoneNumberNormalized = lead.PhoneNumber
	}
	if lead.PhoneNumber == "" {
		lead.PhoneNumber = lead.PhoneNumberNormalized
	}
	def := jack.NewLead(tx.orgID, "", "", tx.now)
	fill := func(dst *string, v string) {
		if *dst == "" {
			*dst = v
		}
	}
	fill(&lead.ChaseStatus, def.ChaseStatus)
	fill(&lead.FundingReadiness, def.FundingReadiness)
	fill(&lead.Sentiment, def.Sentiment)
	if lead.ScriptProgress.CurrentStep == "" {
		lead.ScriptProgress = def.ScriptProgress
	}
	if lead.ScriptProgress.CompletedSteps == nil {
		lead.ScriptProgress.CompletedSteps = []string{}
	}
	if lead.CreditKnownIssues == nil {
		lead.CreditKnownIssues = []string{}
	}
	lead.Email = jack.NormalizeEmail(lead.Email)
	lead.CreatedAt, lead.UpdatedAt = tx.now, tx.now
	lead.LastActivity = orNow(lead.LastActivity, tx.now)
	lead.LastTouchpoint = truncPtr(lead.LastTouchpoint)
	lead.AIPausedUntil = truncPtr(lead.AIPausedUntil)
	lead.OptedOutAt = truncPtr(lead.OptedOutAt)
	lead.LeadQualityScore = nil // scoring writes it, through UpdateConversation only
	lead.Version = 1
	if validate {
		if err := lead.Validate(); err != nil {
			return err
		}
	}
	if err := checkUser(ctx, tx, "createdBy", lead.CreatedBy); err != nil {
		return err
	}
	return checkUser(ctx, tx, "assignedTo", lead.AssignedTo)
}

// insertLead inserts a prepared lead. With ensure, a lead already holding the phone is no
// error: the result is nil and the caller reads the existing one.
func insertLead(ctx context.Context, tx *Tx, lead *jack.Lead, ensure bool) (*jack.Lead, error) {
	q := `INSERT INTO leads (id, organization_id, customer_name, phone_number, phone_number_normalized,
		email, created_by, assigned_to, chase_status, funding_readiness, funding_readiness_reason,
		sentiment, script_progress_current_step, script_progress_completed_steps, credit_score_range,
		credit_known_issues, vehicle_preference, budget_range, last_touchpoint, total_conversations,
		last_activity, ai_paused_until, opted_out_at, version, created_at, updated_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19,
		$20, $21, $22, $23, $24, $25, $26)`
	if ensure {
		q += ` ON CONFLICT (organization_id, phone_number_normalized) DO NOTHING`
	}
	l := lead
	stored, err := scanLead(tx.tx.QueryRow(ctx, q+` RETURNING `+leadColumns,
		l.ID, l.OrganizationID, l.CustomerName, l.PhoneNumber, l.PhoneNumberNormalized,
		nullText(l.Email), l.CreatedBy, l.AssignedTo, l.ChaseStatus, l.FundingReadiness, nullText(l.FundingReadinessReason),
		l.Sentiment, l.ScriptProgress.CurrentStep, l.ScriptProgress.CompletedSteps, nullText(l.CreditScoreRange),
		l.CreditKnownIssues, nullText(l.VehiclePreference), nullText(l.BudgetRange), l.LastTouchpoint, l.TotalConversations,
		l.LastActivity, l.AIPausedUntil, l.OptedOutAt, l.Version, l.CreatedAt, l.UpdatedAt))
	if ensure && errors.Is(err, pgx.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("insert lead: %w", err)
	}
	return stored, nil
}

// FindLeadByID returns ENOTFOUND if id is not a lead of orgID.
func (s *Store) FindLeadByID(ctx context.Context, orgID uuid.UUID, id string) (*jack.Lead, error) {
	var lead *jack.Lead
	err := s.inTx(ctx, orgID, func(tx *Tx) (err error) {
		lead, err = findLeadByID(ctx, tx, id, false)
		return err
	})
	return lead, err
}

func findLeadByID(ctx context.Context, tx *Tx, id string, forUpdate bool) (*jack.Lead, error) {
	q := `SELECT ` + leadColumns + ` FROM leads WHERE organization_id = $1 AND id = $2`
	if forUpdate {
		q += ` FOR UPDATE`
	}
	lead, err := scanLead(tx.tx.QueryRow(ctx, q, tx.orgID, id))
	return lead, orNotFound(err, "Lead")
}

// FindLeadByPhone returns ENOTFOUND if orgID has no lead with that E.164 phone.
func (s *Store) FindLeadByPhone(ctx context.Context, orgID uuid.UUID, phone string) (*jack.Lead, error) {
	var lead *jack.Lead
	err := s.inTx(ctx, orgID, func(tx *Tx) (err error) {
		lead, err = tx.FindLeadByPhone(ctx, phone)
		return err
	})
	return lead, err
}

// FindLeadByPhone returns ENOTFOUND if the organization has no lead with that phone.
func (tx *Tx) FindLeadByPhone(ctx context.Context, phone string) (*jack.Lead, error) {
	lead, err := scanLead(tx.tx.QueryRow(ctx,
		`SELECT `+leadColumns+` FROM leads WHERE organization_id = $1 AND phone_number_normalized = $2`, tx.orgID, phone))
	return lead, orNotFound(err, "Lead")
}

// FindLeads returns one page of orgID's leads, newest first by the filter's sort; EINVALID for
// a malformed cursor or an unknown sort.
func (s *Store) FindLeads(ctx context.Context, orgID uuid.UUID, filter jack.LeadFilter) (*jack.LeadPage, error) {
	kind, column, err := persistence.LeadSort(filter.Sort)
	if err != nil {
		return nil, err
	}
	if err := persistence.CheckMinScore(filter.MinScore); err != nil {
		return nil, err
	}
	where := []string{"organization_id = $1"}
	args := []any{orgID}
	arg := func(v any) string {
		args = append(args, v)
		return "$" + strconv.Itoa(len(args))
	}
	if filter.Cursor != "" {
		c, err := persistence.DecodeCursor(kind, filter.Cursor)
		if err != nil {
			return nil, err
		}
		where = append(where, persistence.LeadAfter(kind, column, c, arg))
	}
	if filter.Status != nil {
		where = append(where, "chase_status = "+arg(*filter.Status))
	}
	if filter.AssignedTo != nil {
		where = append(where, "assigned_to = "+arg(*filter.AssignedTo))
	}
	if filter.MinScore != nil {
		where = append(where, "lead_quality_score >= "+arg(*filter.MinScore))
	}
	if filter.Q != nil && strings.TrimSpace(*filter.Q) != "" {
		p := arg(persistence.LikePattern(strings.TrimSpace(*filter.Q)))
		where = append(where, fmt.Sprintf(`(customer_name ILIKE %[1]s ESCAPE '\' OR phone_number ILIKE %[1]s ESCAPE '\'
			OR phone_number_normalized ILIKE %[1]s ESCAPE '\' OR email ILIKE %[1]s ESCAPE '\')`, p))
	}
	limit := jack.PageLimit(filter.Limit, persistence.DefaultLeadLimit, persistence.MaxLeadLimit)
	q := fmt.Sprintf(`SELECT %s FROM leads WHERE %s ORDER BY %s LIMIT %s`,
		leadColumns, strings.Join(where, " AND "), persistence.LeadOrderBy(kind, column), arg(limit+1))

	page := &jack.LeadPage{Leads: []*jack.Lead{}}
	err = s.inTx(ctx, orgID, func(tx *Tx) error {
		rows, err := tx.tx.Query(ctx, q, args...)
		leads, err := collect(rows, err, scanLead)
		if err != nil {
			return fmt.Errorf("find leads: %w", err)
		}
		if len(leads) > limit {
			leads = leads[:limit]
			page.NextCursor = persistence.NextLeadCursor(kind, leads[limit-1])
		}
		page.Leads = append(page.Leads, leads...)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return page, nil
}

// UpdateLead applies upd to the lead's CRM fields, bumping its version. Returns ENOTFOUND if id
// is not a lead of orgID, ECONFLICT if upd.Version is stale, EUNPROCESSABLE for invalid fields.
func (s *Store) UpdateLead(ctx context.Context, orgID uuid.UUID, id string, upd jack.LeadUpdate) (*jack.Lead, error) {
	var lead *jack.Lead
	err := s.inTx(ctx, orgID, func(tx *Tx) (err error) {
		lead, err = updateLead(ctx, tx, id, upd)
		return err
	})
	return lead, err
}

func updateLead(ctx context.Context, tx *Tx, id string, upd jack.LeadUpdate) (*jack.Lead, error) {
	lead, err := findLeadByID(ctx, tx, id, true)
	if err != nil {
		return nil, err
	}
	if upd.Version != nil && *upd.Version != lead.Version {
		return nil, jack.Errorf(jack.ECONFLICT, "The lead was changed by someone else; reload it and try again.")
	}
	upd.Apply(lead)
	lead.Email = jack.NormalizeEmail(lead.Email)
	if lead.CreditKnownIssues == nil {
		lead.CreditKnownIssues = []string{}
	}
	if lead.ScriptProgress.CompletedSteps == nil {
		lead.ScriptProgress.CompletedSteps = []string{}
	}
	if err := lead.Validate(); err != nil {
		return nil, err
	}
	if upd.AssignedTo != nil && !upd.ClearAssignedTo {
		if err := checkUser(ctx, tx, "assignedTo", upd.AssignedTo); err != nil {
			return nil, err
		}
	}
	l := lead
	stored, err := scanLead(tx.tx.QueryRow(ctx, `
		UPDATE leads SET customer_name = $3, email = $4, assigned_to = $5, chase_status = $6,
			funding_readiness = $7, funding_readiness_reason = $8, sentiment = $9,
			script_progress_current_step = $10, script_progress_completed_steps = $11,
			credit_score_range = $12, credit_known_issues = $13, vehicle_preference = $14,
			budget_range = $15, version = version + 1, updated_at = $16
		WHERE organization_id = $1 AND id = $2
		RETURNING `+leadColumns,
		tx.orgID, id, l.CustomerName, nullText(l.Email), l.AssignedTo, l.ChaseStatus,
		l.FundingReadiness, nullText(l.FundingReadinessReason), l.Sentiment,
		l.ScriptProgress.CurrentStep, l.ScriptProgress.CompletedSteps,
		nullText(l.CreditScoreRange), l.CreditKnownIssues, nullText(l.VehiclePreference),
		nullText(l.BudgetRange), tx.now))
	if err != nil {
		return nil, fmt.Errorf("update lead: %w", err)
	}
	return stored, nil
}

// DeleteLead removes the lead with its messages, call sessions, events and the summary of its
// phone. Returns ENOTFOUND if id is not a lead of orgID.
func (s *Store) DeleteLead(ctx context.Context, orgID uuid.UUID, id string) error {
	return s.inTx(ctx, orgID, func(tx *Tx) error {
		var phone string
		err := tx.tx.QueryRow(ctx, `DELETE FROM leads WHERE organization_id = $1 AND id = $2 RETURNING phone_number_normalized`,
			tx.orgID, id).Scan(&phone)
		if err != nil {
			return orNotFound(err, "Lead")
		}
		// Messages, call sessions and events go with the lead (ON DELETE CASCADE); rows of the
		// conversation stored without a lead id, and the summary, are keyed by phone.
		for _, q := range []string{
			`DELETE FROM conversations WHERE organization_id = $1 AND phone_number_normalized = $2`,
			`DELETE FROM call_sessions WHERE organization_id = $1 AND phone_number_normalized = $2`,
			`DELETE FROM conversation_summaries WHERE organization_id = $1 AND phone_number_normalized = $2`,
		} {
			if _, err := tx.tx.Exec(ctx, q, tx.orgID, phone); err != nil {
				return fmt.Errorf("delete lead: %w", err)
			}
		}
		return nil
	})
}
