package http

import (
	"context"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/google/uuid"

	"github.com/jack-auto/jack"
)

// Integrations checks webhook URLs and sends test events (package crm). Delivery itself runs
// beside the server, from the outbox.
type Integrations interface {
	// CheckWebhookURL returns EUNPROCESSABLE (field url) for a URL that is not http(s) or that
	// resolves to a loopback, private or link-local address where those are not allowed.
	CheckWebhookURL(ctx context.Context, url string) error
	// TestIntegration sends one integration.test event through i now and reports the response
	// code (0 for none), the latency and the failure.
	TestIntegration(ctx context.Context, i *jack.Integration) (int, time.Duration, error)
}

type integrationRequest struct {
	Kind         *string   `json:"kind"`
	URL          *string   `json:"url"`
	To           *string   `json:"to"`
	Events       *[]string `json:"events"`
	Enabled      *bool     `json:"enabled"`
	RotateSecret bool      `json:"rotateSecret"`
}

// integrationReply is an integration as the API shows it; Secret only on creation and rotation.
type integrationReply struct {
	*jack.Integration
	Secret string `json:"secret,omitempty"`
}

func (s *Server) needsIntegrations() error {
	if s.cfg.Integrations == nil {
		return jack.ReasonErrorf(jack.EUNAVAILABLE, "integrations_not_configured", "CRM integrations are not available on this server.")
	}
	return nil
}

// audit logs an admin's change to an integration (who, what, which).
func (s *Server) audit(c *fiber.Ctx, action string, i *jack.Integration) {
	p := principal(c)
	s.log.InfoContext(c.UserContext(), "audit: integration "+action, "audit", true, "org_id", p.OrganizationID,
		"user_id", p.UserID, "integration_id", i.ID, "kind", i.Kind, "request_id", requestIDOf(c))
}

// createIntegration adds a webhook ({kind:"webhook", url, events}) or ADF e-mail ({kind:"adf_email",
// to, events}) integration; a webhook's generated secret is in this reply only.
func (s *Server) createIntegration(c *fiber.Ctx) error {
	if err := s.needsIntegrations(); err != nil {
		return err
	}
	var req integrationRequest
	if err := decodeJSON(c, &req); err != nil {
		return err
	}
	p := principal(c)
	i := &jack.Integration{Kind: value(req.Kind), URL: strings.TrimSpace(value(req.URL)), To: strings.TrimSpace(value(req.To)),
		Events: value(req.Events), Enabled: req.Enabled == nil || *req.Enabled, CreatedBy: &p.UserID}
	if err := s.checkIntegration(c, i, req.RotateSecret); err != nil {
		return err
	}
	if i.Kind == jack.IntegrationWebhook {
		i.Secret = jack.NewIntegrationSecret()
	}
	if err := s.store.CreateIntegration(c.UserContext(), p.OrganizationID, i); err != nil {
		return err
	}
	s.audit(c, "created", i)
	return c.Status(fiber.StatusCreated).JSON(integrationReply{Integration: i, Secret: i.Secret})
}

// checkIntegration validates i and, for a webhook, its URL's safety.
func (s *Server) checkIntegration(c *fiber.Ctx, i *jack.Integration, rotate bool) error {
	fields := map[string]string{}
	if rotate && i.Kind != jack.IntegrationWebhook {
		fields["rotateSecret"] = "only a webhook has a secret"
	}
	if i.Events == nil {
		i.Events = []string{}
	}
	errs := []error{i.Validate()}
	if i.Kind == jack.IntegrationWebhook && i.URL != "" {
		errs = append(errs, s.cfg.Integrations.CheckWebhookURL(c.UserContext(), i.URL))
	}
	return mergeFields(fields, errs...)
}

// listIntegrations answers {"integrations":[...]}, oldest first, without secrets.
func (s *Server) listIntegrations(c *fiber.Ctx) error {
	list, err := s.store.FindIntegrations(c.UserContext(), principal(c).OrganizationID)
	if err != nil {
		return err
	}
	return c.JSON(fiber.Map{"integrations": nonNil(list)})
}

// integrationParam reads :id; a malformed id is 404 like another organization's.
func integrationParam(c *fiber.Ctx, name string) (uuid.UUID, error) {
	id, err := uuid.Parse(c.Params(name))
	if err != nil {
		return uuid.Nil, jack.Errorf(jack.ENOTFOUND, "Integration not found.")
	}
	return id, nil
}

func (s *Server) findIntegration(c *fiber.Ctx) (*jack.Integration, error) {
	id, err := integrationParam(c, "id")
	if err != nil {
		return nil, err
	}
	return s.store.FindIntegrationByID(c.UserContext(), principal(c).OrganizationID, id)
}

// getIntegration answers one integration, without its secret; another organization's is 404.
func (s *Server) getIntegration(c *fiber.Ctx) error {
	i, err := s.findIntegration(c)
	if err != nil {
		return err
	}
	return c.JSON(i)
}

// patchIntegration changes url, to, events or enabled; {"rotateSecret":true} replaces a
// webhook's secret and shows the new one in this reply only. The kind cannot change.
func (s *Server) patchIntegration(c *fiber.Ctx) error {
	if err := s.needsIntegrations(); err != nil {
		return err
	}
	var req integrationRequest
	if err := decodeJSON(c, &req); err != nil {
		return err
	}
	i, err := s.findIntegration(c)
	if err != nil {
		return err
	}
	if req.Kind != nil && *req.Kind != i.Kind {
		return jack.ValidationError(map[string]string{"kind": "cannot change; create another integration"})
	}
	upd := jack.IntegrationUpdate{URL: trimmed(req.URL), To: trimmed(req.To), Enabled: req.Enabled}
	if req.Events != nil {
		upd.Events = nonNil(*req.Events)
	}
	if req.RotateSecret && i.Kind == jack.IntegrationWebhook {
		secret := jack.NewIntegrationSecret()
		upd.Secret = &secret
	}
	next := *i
	upd.Apply(&next)
	if err := s.checkIntegration(c, &next, req.RotateSecret); err != nil {
		return err
	}
	if i, err = s.store.UpdateIntegration(c.UserContext(), i.OrganizationID, i.ID, upd); err != nil {
		return err
	}
	reply := integrationReply{Integration: i}
	if upd.Secret != nil {
		reply.Secret = *upd.Secret
		s.audit(c, "secret rotated", i)
	} else {
		s.audit(c, "updated", i)
	}
	return c.JSON(reply)
}

// deleteIntegration removes an integration with its deliveries; 204.
func (s *Server) deleteIntegration(c *fiber.Ctx) error {
	i, err := s.findIntegration(c)
	if err != nil {
		return err
	}
	if err := s.store.DeleteIntegration(c.UserContext(), i.OrganizationID, i.ID); err != nil {
		return err
	}
	s.audit(c, "deleted", i)
	return c.SendStatus(fiber.StatusNoContent)
}

// testIntegration sends one integration.test event now and answers what happened:
// {"ok", "statusCode", "latencyMs", "error"}. A failed test is still a 200: the request worked.
func (s *Server) testIntegration(c *fiber.Ctx) error {
	if err := s.needsIntegrations(); err != nil {
		return err
	}
	i, err := s.findIntegration(c)
	if err != nil {
		return err
	}
	code, latency, err := s.cfg.Integrations.TestIntegration(c.UserContext(), i)
	reply := fiber.Map{"ok": err == nil, "statusCode": code, "latencyMs": latency.Milliseconds()}
	if err != nil {
		reply["error"] = err.Error()
	}
	s.audit(c, "tested", i)
	return c.JSON(reply)
}

// listDeliveries answers {"deliveries":[...]}: the integration's deliveries, newest first, each
// with its status, attempts, last response code, latency and next try.
func (s *Server) listDeliveries(c *fiber.Ctx) error {
	limit, err := queryLimit(c)
	if err != nil {
		return err
	}
	id, err := integrationParam(c, "id")
	if err != nil {
		return err
	}
	list, err := s.store.FindDeliveries(c.UserContext(), principal(c).OrganizationID, id, limit)
	if err != nil {
		return err
	}
	return c.JSON(fiber.Map{"deliveries": nonNil(list)})
}

// redeliver queues a delivery again, due now, with the same event id; 202.
func (s *Server) redeliver(c *fiber.Ctx) error {
	id, err := integrationParam(c, "id")
	if err != nil {
		return err
	}
	did, err := uuid.Parse(c.Params("deliveryId"))
	if err != nil {
		return jack.Errorf(jack.ENOTFOUND, "Delivery not found.")
	}
	d, err := s.store.Redeliver(c.UserContext(), principal(c).OrganizationID, id, did)
	if err != nil {
		return err
	}
	return c.Status(fiber.StatusAccepted).JSON(d)
}
