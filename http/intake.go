package http

import (
	"bytes"
	"context"
	"sync"

	"github.com/gofiber/fiber/v2"
	"github.com/jack-auto/jack"
	"github.com/jack-auto/jack/intake"
)

// notifyConcurrency bounds how many conversations an import tells about their changed lead at
// once: each may activate a grain.
const notifyConcurrency = 8

// importLeads imports the body, a CSV or ADF/XML file (its Content-Type decides, else its first
// bytes), into the caller's organization, row by row, and answers the intake.Report. A file that
// cannot be read as a feed is 422; rows that cannot be imported are listed in the report. The
// conversations of created and updated leads are told, so the grains' memory catches up and
// open dashboards show the leads live (each conversation publishes lead_updated).
func (s *Server) importLeads(c *fiber.Ctx) error {
	body := c.Request().Body() // raw: never inflated beyond the body limit
	format := intake.Detect(c.Get(fiber.HeaderContentType), body)
	rows, err := intake.Parse(format, bytes.NewReader(body))
	if err != nil {
		return err
	}
	ctx, orgID := c.UserContext(), principal(c).OrganizationID
	org, err := s.store.FindOrganizationByID(ctx, orgID)
	if err != nil {
		return err
	}
	var changed []*jack.Lead
	report, err := intake.Import(ctx, s.store, org, rows, func(_ int, r intake.Result) {
		if r.Outcome == jack.ImportCreated || r.Outcome == jack.ImportUpdated {
			changed = append(changed, r.Lead)
		}
	})
	s.notifyLeadsChanged(ctx, requestIDOf(c), changed) // committed, even when the import stopped
	if err != nil {
		return err
	}
	s.log.InfoContext(ctx, "leads imported", "org_id", orgID, "format", format, "rows", len(rows), "created", report.Created,
		"updated", report.Updated, "unchanged", report.Unchanged, "errors", len(report.Errors), "request_id", requestIDOf(c))
	return c.JSON(report)
}

// notifyLeadsChanged tells the conversations of leads, when the engine is wired, that their
// lead changed (as leadChanged does for one lead), a few at a time. Failures are logged: the
// changes are committed.
func (s *Server) notifyLeadsChanged(ctx context.Context, requestID string, leads []*jack.Lead) {
	if s.conv == nil || len(leads) == 0 {
		return
	}
	ctx = context.WithoutCancel(ctx)
	sem := make(chan struct{}, notifyConcurrency)
	var wg sync.WaitGroup
	for _, lead := range leads {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			if err := s.conv.LeadChanged(ctx, lead.OrganizationID, lead.PhoneNumberNormalized, false); err != nil {
				s.log.WarnContext(ctx, "notify conversation of imported lead", "err", err,
					"org_id", lead.OrganizationID, "lead_id", lead.ID, "request_id", requestID)
			}
		})
	}
	wg.Wait()
}
