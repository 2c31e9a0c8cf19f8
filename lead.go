package jack

import (
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"
)

// Chase statuses: where a lead is in the dealership's funnel (the seed's chase_status, default "new").
const (
	ChaseNew         = "new"
	ChaseContacted   = "contacted"
	ChaseEngaged     = "engaged"
	ChaseQualified   = "qualified"
	ChaseAppointment = "appointment"
	ChaseWon         = "won"
	ChaseLost        = "lost"
	ChaseNurture     = "nurture"
)

// ChaseStatuses lists the chase statuses in funnel order.
var ChaseStatuses = []string{ChaseNew, ChaseContacted, ChaseEngaged, ChaseQualified, ChaseAppointment, ChaseWon, ChaseLost, ChaseNurture}

// FundingReadinesses lists the seed's funding readiness values.
var FundingReadinesses = []string{"unknown", "pre-approved", "needs-work", "ready", "not-ready"}

// Sentiments lists the seed's sentiment values.
var Sentiments = []string{"positive", "neutral", "negative"}

// Script steps the assistant walks a lead through (the seed's script_progress).
const (
	StepContacted       = "contacted"
	StepVehicleInterest = "vehicle_interest"
	StepBudget          = "budget"
	StepCredit          = "credit"
	StepAppointment     = "appointment"
)

// ScriptSteps lists the script steps in order.
var ScriptSteps = []string{StepContacted, StepVehicleInterest, StepBudget, StepCredit, StepAppointment}

// Lead is a customer of one dealership, identified within it by their phone number. Its
// conversation fields (counts, activity, opt-out, AI pause) are written only by the
// conversation grain; the CRM fields by staff through the API.
type Lead struct {
	ID                     string     `json:"id"`
	OrganizationID         uuid.UUID  `json:"organizationId"`
	CustomerName           string     `json:"customerName"`
	PhoneNumber            string     `json:"phoneNumber"`
	PhoneNumberNormalized  string     `json:"phoneNumberNormalized"`
	Email                  string     `json:"email"`
	CreatedBy              *uuid.UUID `json:"createdBy"`
	AssignedTo             *uuid.UUID `json:"assignedTo"`
	ChaseStatus            string     `json:"chaseStatus"`
	FundingReadiness       string     `json:"fundingReadiness"`
	FundingReadinessReason string     `json:"fundingReadinessReason"`
	Sentiment              string     `json:"sentiment"`
	ScriptProgress         Progress   `json:"scriptProgress"`
	CreditScoreRange       string     `json:"creditScoreRange"`
	CreditKnownIssues      []string   `json:"creditKnownIssues"`
	VehiclePreference      string     `json:"vehiclePreference"`
	BudgetRange            string     `json:"budgetRange"`
	LastTouchpoint         *time.Time `json:"lastTouchpoint"`
	TotalConversations     int        `json:"totalConversations"`
	LastActivity           time.Time  `json:"lastActivity"`
	AIPausedUntil          *time.Time `json:"aiPausedUntil"`
	OptedOutAt             *time.Time `json:"optedOutAt"`
	// LeadQualityScore (0–100) ranks leads so staff call the best first (see ScoreLead).
	LeadQualityScore *float64  `json:"leadQualityScore"`
	Version          int64     `json:"version"`
	CreatedAt        time.Time `json:"createdAt"`
	UpdatedAt        time.Time `json:"updatedAt"`
}

// Progress is the seed's script progress: the current step and the steps done.
type Progress struct {
	CurrentStep    string   `json:"currentStep"`
	CompletedSteps []string `json:"completedSteps"`
}

// NoActivity is the last activity of a lead nobody has talked to yet and whose feed had no date
// (an imported list): the start of Unix time, so such leads sort after every conversation.
var NoActivity = time.Unix(0, 0).UTC()

// OptedOut reports whether the customer asked not to be texted.
func (l *Lead) OptedOut() bool { return l != nil && l.OptedOutAt != nil }

// AIPaused reports whether staff took the conversation over at now.
func (l *Lead) AIPaused(now time.Time) bool {
	return l != nil && l.AIPausedUntil != nil && now.Before(*l.AIPausedUntil)
}

// NewLead returns a lead with the seed's defaults for a customer phone in E.164.
func NewLead(orgID uuid.UUID, name, phoneE164 string, now time.Time) *Lead {
	return &Lead{
		ID:                    uuid.Must(uuid.NewV7()).String(),
		OrganizationID:        orgID,
		CustomerName:          name,
		PhoneNumber:           phoneE164,
		PhoneNumberNormalized: phoneE164,
		ChaseStatus:           ChaseNew,
		FundingReadiness:      "unknown",
		Sentiment:             "neutral",
		ScriptProgress:        Progress{CurrentStep: StepContacted, CompletedSteps: []string{StepContacted}},
		CreditKnownIssues:     []string{},
		LastActivity:          now,
		CreatedAt:             now,
		UpdatedAt:             now,
	}
}

// Validate returns EUNPROCESSABLE naming each invalid field. The phone must already be normalized.
func (l *Lead) Validate() error {
	fields := map[string]string{}
	validateLeadText(fields, "customerName", l.CustomerName, 255, true)
	if !IsE164(l.PhoneNumberNormalized) {
		fields["phoneNumber"] = "is not a valid phone number"
	}
	if l.Email != "" {
		if p := ValidateEmail(l.Email); p != "" {
			fields["email"] = p
		}
	}
	validateOneOf(fields, "chaseStatus", l.ChaseStatus, ChaseStatuses)
	validateOneOf(fields, "fundingReadiness", l.FundingReadiness, FundingReadinesses)
	validateOneOf(fields, "sentiment", l.Sentiment, Sentiments)
	validateLeadText(fields, "fundingReadinessReason", l.FundingReadinessReason, 2000, false)
	validateLeadText(fields, "creditScoreRange", l.CreditScoreRange, 50, false)
	validateLeadText(fields, "vehiclePreference", l.VehiclePreference, 255, false)
	validateLeadText(fields, "budgetRange", l.BudgetRange, 100, false)
	validateOneOf(fields, "scriptProgress.currentStep", l.ScriptProgress.CurrentStep, ScriptSteps)
	for _, s := range l.ScriptProgress.CompletedSteps {
		if !slices.Contains(ScriptSteps, s) {
			fields["scriptProgress.completedSteps"] = "must only hold " + strings.Join(ScriptSteps, ", ")
		}
	}
	if len(l.CreditKnownIssues) > 50 {
		fields["creditKnownIssues"] = "must hold at most 50 items"
	}
	return ValidationError(fields)
}

func validateLeadText(fields map[string]string, name, v string, limit int, required bool) {
	if required && strings.TrimSpace(v) == "" {
		fields[name] = "is required"
	} else if len(v) > limit {
		fields[name] = "is too long"
	}
}

func validateOneOf(fields map[string]string, name, v string, allowed []string) {
	if !slices.Contains(allowed, v) {
		fields[name] = "must be one of " + strings.Join(allowed, ", ")
	}
}

// LeadUpdate holds the CRM fields staff may change; nil means unchanged. The phone number is
// the conversation's identity and cannot change (create another lead instead).
type LeadUpdate struct {
	CustomerName           *string
	Email                  *string
	AssignedTo             *uuid.UUID
	ClearAssignedTo        bool
	ChaseStatus            *string
	FundingReadiness       *string
	FundingReadinessReason *string
	Sentiment              *string
	ScriptProgress         *Progress
	CreditScoreRange       *string
	CreditKnownIssues      []string // nil means unchanged
	VehiclePreference      *string
	BudgetRange            *string
	// Version, when set, makes the update conditional: ECONFLICT if the lead changed since.
	Version *int64
}

// Apply copies the set fields of upd onto l.
func (upd *LeadUpdate) Apply(l *Lead) {
	set := func(dst *string, src *string) {
		if src != nil {
			*dst = *src
		}
	}
	set(&l.CustomerName, upd.CustomerName)
	set(&l.Email, upd.Email)
	set(&l.ChaseStatus, upd.ChaseStatus)
	set(&l.FundingReadiness, upd.FundingReadiness)
	set(&l.FundingReadinessReason, upd.FundingReadinessReason)
	set(&l.Sentiment, upd.Sentiment)
	set(&l.CreditScoreRange, upd.CreditScoreRange)
	set(&l.VehiclePreference, upd.VehiclePreference)
	set(&l.BudgetRange, upd.BudgetRange)
	if upd.AssignedTo != nil {
		l.AssignedTo = upd.AssignedTo
	}
	if upd.ClearAssignedTo {
		l.AssignedTo = nil
	}
	if upd.ScriptProgress != nil {
		l.ScriptProgress = *upd.ScriptProgress
	}
	if upd.CreditKnownIssues != nil {
		l.CreditKnownIssues = upd.CreditKnownIssues
	}
}

// LeadSort orders a lead list.
type LeadSort string

// Lead orders; both newest first.
const (
	LeadSortCreated  LeadSort = "created"  // by creation time (the default)
	LeadSortActivity LeadSort = "activity" // by last activity
	LeadSortScore    LeadSort = "score"    // by lead quality score, unscored last
)

// LeadFilter narrows a lead list. Nil/zero fields do not filter.
type LeadFilter struct {
	Status     *string    // chase_status equals
	Q          *string    // case-insensitive substring of name, phone or email
	AssignedTo *uuid.UUID // assigned staff member
	MinScore   *float64   // lead quality score at least this
	Sort       LeadSort
	Cursor     string // opaque, from the previous page's NextCursor
	Limit      int    // page size; defaults to 50, at most 200
}

// LeadPage is one page of leads and the cursor of the next ("" at the end).
type LeadPage struct {
	Leads      []*Lead `json:"leads"`
	NextCursor string  `json:"nextCursor"`
}

// PageLimit clamps a requested page size to [1, limit], def when unset.
func PageLimit(n, def, limit int) int {
	switch {
	case n <= 0:
		return def
	case n > limit:
		return limit
	}
	return n
}
