package http

import (
	"encoding/json"
	"math"
	"slices"
	"strconv"
	"strings"

	"github.com/gofiber/fiber/v2"
	"github.com/google/uuid"
	"github.com/jack-auto/jack"
)

// maxSearchLength bounds the lead search text.
const maxSearchLength = 200

// listLeads answers {"leads":[...],"nextCursor":"..."}, filtered by status, q, assignedTo and
// minScore, sorted by created (default) or activity, newest first, or by score, best first.
func (s *Server) listLeads(c *fiber.Ctx) error {
	filter := jack.LeadFilter{Cursor: c.Query("cursor"), Sort: jack.LeadSort(c.Query("sort", string(jack.LeadSortCreated)))}
	if !slices.Contains([]jack.LeadSort{jack.LeadSortCreated, jack.LeadSortActivity, jack.LeadSortScore}, filter.Sort) {
		return invalidQuery("sort", "must be created, activity or score")
	}
	if v := c.Query("minScore"); v != "" {
		n, err := strconv.ParseFloat(v, 64)
		if err != nil || math.IsNaN(n) || n < 0 || n > 100 {
			return invalidQuery("minScore", "must be a number from 0 to 100")
		}
		filter.MinScore = &n
	}
	if v := c.Query("status"); v != "" {
		if !slices.Contains(jack.ChaseStatuses, v) {
			return invalidQuery("status", "must be one of "+strings.Join(jack.ChaseStatuses, ", "))
		}
		filter.Status = &v
	}
	if q := strings.TrimSpace(c.Query("q")); len(q) > maxSearchLength {
		return invalidQuery("q", "must be at most "+strconv.Itoa(maxSearchLength)+" characters")
	} else if q != "" {
		filter.Q = &q
	}
	var err error
	if filter.AssignedTo, err = queryUUID(c, "assignedTo"); err != nil {
		return err
	}
	if filter.Limit, err = queryLimit(c); err != nil {
		return err
	}
	page, err := s.store.FindLeads(c.UserContext(), principal(c).OrganizationID, filter)
	if err != nil {
		return err
	}
	for _, l := range page.Leads {
		presentLead(l)
	}
	page.Leads = nonNil(page.Leads)
	return c.JSON(page)
}

// leadRequest is the body of create and patch: the CRM fields, the phone (create only) and the
// expected version (patch only). One flat struct, so JSON errors name fields as clients do.
type leadRequest struct {
	PhoneNumber            *string        `json:"phoneNumber"`
	Version                *int64         `json:"version"`
	CustomerName           *string        `json:"customerName"`
	Email                  *string        `json:"email"`
	AssignedTo             *string        `json:"assignedTo"`
	ChaseStatus            *string        `json:"chaseStatus"`
	FundingReadiness       *string        `json:"fundingReadiness"`
	FundingReadinessReason *string        `json:"fundingReadinessReason"`
	Sentiment              *string        `json:"sentiment"`
	ScriptProgress         *jack.Progress `json:"scriptProgress"`
	CreditScoreRange       *string        `json:"creditScoreRange"`
	CreditKnownIssues      []string       `json:"creditKnownIssues"`
	VehiclePreference      *string        `json:"vehiclePreference"`
	BudgetRange            *string        `json:"budgetRange"`
}

// createLead adds a lead: the phone is read in the organization's region and stored in E.164,
// the seed's defaults fill what the request leaves out, and the caller is its creator.
func (s *Server) createLead(c *fiber.Ctx) error {
	var req leadRequest
	if err := decodeJSON(c, &req); err != nil {
		return err
	}
	p := principal(c)
	fields := map[string]string{}
	if req.Version != nil {
		fields["version"] = "is only for updates"
	}
	phone, err := s.orgPhone(c, p.OrganizationID, "phoneNumber", value(req.PhoneNumber), fields)
	if err != nil {
		return err
	}
	upd, err := s.leadUpdate(c, p.OrganizationID, req, fields)
	if err != nil {
		return err
	}
	lead := jack.NewLead(p.OrganizationID, "", phone, s.cfg.Now())
	upd.Apply(lead)
	lead.CreatedBy = &p.UserID
	if err := mergeFields(fields, lead.Validate()); err != nil {
		return err
	}
	org, err := s.store.FindOrganizationByID(c.UserContext(), p.OrganizationID)
	if err != nil {
		return err
	}
	org.Settings.StartAI(lead, lead.CreatedAt)
	if err := s.store.CreateLead(c.UserContext(), p.OrganizationID, lead); err != nil {
		return err
	}
	return sendLead(c, fiber.StatusCreated, lead)
}

// getLead answers one lead; another organization's lead is 404.
func (s *Server) getLead(c *fiber.Ctx) error {
	lead, err := s.store.FindLeadByID(c.UserContext(), principal(c).OrganizationID, c.Params("id"))
	if err != nil {
		return err
	}
	return sendLead(c, fiber.StatusOK, lead)
}

// patchLead changes the fields present in the body. "assignedTo": null unassigns; the phone
// cannot change (it is the conversation's identity). A version in the body or an If-Match
// header makes the change conditional: 409 when the lead changed since.
func (s *Server) patchLead(c *fiber.Ctx) error {
	var present map[string]json.RawMessage
	if err := decodeJSON(c, &present); err != nil {
		return err
	}
	if _, ok := present["phoneNumber"]; ok {
		return jack.ValidationError(map[string]string{"phoneNumber": "cannot change; create a new lead"})
	}
	var req leadRequest
	if err := decodeJSON(c, &req); err != nil {
		return err
	}
	orgID, id := principal(c).OrganizationID, c.Params("id")
	lead, err := s.store.FindLeadByID(c.UserContext(), orgID, id)
	if err != nil {
		return err
	}

	fields := map[string]string{}
	upd, err := s.leadUpdate(c, orgID, req, fields)
	if err != nil {
		return err
	}
	upd.ClearAssignedTo = string(present["assignedTo"]) == "null"
	if upd.Version, err = ifMatchVersion(c, req.Version); err != nil {
		return err
	}
	next := *lead
	upd.Apply(&next)
	if err := mergeFields(fields, next.Validate()); err != nil {
		return err
	}
	if lead, err = s.store.UpdateLead(c.UserContext(), orgID, id, upd); err != nil {
		return err
	}
	s.leadChanged(c, lead, false)
	return sendLead(c, fiber.StatusOK, lead)
}

// deleteLead removes a lead with its timeline; 204.
func (s *Server) deleteLead(c *fiber.Ctx) error {
	orgID, id := principal(c).OrganizationID, c.Params("id")
	lead, err := s.store.FindLeadByID(c.UserContext(), orgID, id)
	if err != nil {
		return err
	}
	if err := s.store.DeleteLead(c.UserContext(), orgID, id); err != nil {
		return err
	}
	s.leadChanged(c, lead, true)
	return c.SendStatus(fiber.StatusNoContent)
}

// leadChanged tells the lead's conversation, when the engine is wired, that staff changed or
// deleted the lead, so the grain's memory and the dashboards catch up. The change is committed,
// so a failure is logged rather than answered: a retry by the client would only conflict.
func (s *Server) leadChanged(c *fiber.Ctx, lead *jack.Lead, deleted bool) {
	if s.conv == nil {
		return
	}
	if err := s.conv.LeadChanged(c.UserContext(), lead.OrganizationID, lead.PhoneNumberNormalized, deleted); err != nil {
		s.log.WarnContext(c.UserContext(), "notify conversation of lead change", "err", err,
			"org_id", lead.OrganizationID, "lead_id", lead.ID, "request_id", requestIDOf(c))
	}
}

// listMessages answers {"messages":[...],"nextCursor":"..."}: a page of the lead's timeline,
// oldest first; nextCursor reaches further back.
func (s *Server) listMessages(c *fiber.Ctx) error {
	limit, err := queryLimit(c)
	if err != nil {
		return err
	}
	filter := jack.MessageFilter{LeadID: c.Params("id"), Cursor: c.Query("cursor"), Limit: limit}
	page, err := s.store.FindMessages(c.UserContext(), principal(c).OrganizationID, filter)
	if err != nil {
		return err
	}
	page.Messages = nonNil(page.Messages)
	return c.JSON(page)
}

// leadUpdate turns request fields into a LeadUpdate, trimming text and normalizing the email.
// An assignee outside orgID is a problem added to fields.
func (s *Server) leadUpdate(c *fiber.Ctx, orgID uuid.UUID, f leadRequest, fields map[string]string) (jack.LeadUpdate, error) {
	upd := jack.LeadUpdate{
		CustomerName:           trimmed(f.CustomerName),
		ChaseStatus:            f.ChaseStatus,
		FundingReadiness:       f.FundingReadiness,
		FundingReadinessReason: trimmed(f.FundingReadinessReason),
		Sentiment:              f.Sentiment,
		ScriptProgress:         f.ScriptProgress,
		CreditScoreRange:       trimmed(f.CreditScoreRange),
		CreditKnownIssues:      f.CreditKnownIssues,
		VehiclePreference:      trimmed(f.VehiclePreference),
		BudgetRange:            trimmed(f.BudgetRange),
	}
	if f.Email != nil {
		email := jack.NormalizeEmail(*f.Email)
		upd.Email = &email
	}
	if upd.ScriptProgress != nil && upd.ScriptProgress.CompletedSteps == nil {
		upd.ScriptProgress.CompletedSteps = []string{}
	}
	if f.AssignedTo != nil {
		var err error
		if upd.AssignedTo, err = s.parseUserID(c, orgID, "assignedTo", *f.AssignedTo, fields); err != nil {
			return upd, err
		}
	}
	return upd, nil
}

// ifMatchVersion is the expected lead version: the body's version, else the If-Match header
// ("3", W/"3" or 3, as sendLead's ETag), else none.
func ifMatchVersion(c *fiber.Ctx, body *int64) (*int64, error) {
	if body != nil {
		return body, nil
	}
	h := strings.TrimSpace(c.Get(fiber.HeaderIfMatch))
	if h == "" || h == "*" {
		return nil, nil
	}
	v, err := strconv.ParseInt(strings.Trim(strings.TrimPrefix(h, "W/"), `"`), 10, 64)
	if err != nil {
		return nil, jack.Errorf(jack.EINVALID, "If-Match must be a lead version such as \"3\".")
	}
	return &v, nil
}

// sendLead answers a lead with its version as ETag, for If-Match.
func sendLead(c *fiber.Ctx, status int, lead *jack.Lead) error {
	c.Set(fiber.HeaderETag, strconv.Quote(strconv.FormatInt(lead.Version, 10)))
	return c.Status(status).JSON(presentLead(lead))
}

// presentLead makes a lead's lists [] rather than null for clients.
func presentLead(l *jack.Lead) *jack.Lead {
	l.CreditKnownIssues = nonNil(l.CreditKnownIssues)
	l.ScriptProgress.CompletedSteps = nonNil(l.ScriptProgress.CompletedSteps)
	return l
}
