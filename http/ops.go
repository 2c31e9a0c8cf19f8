package http

import (
	"context"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/gofiber/fiber/v2/middleware/adaptor"
	"github.com/jack-auto/jack"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// readyPingTimeout bounds the Store check of GET /ready, so a hung database reads as not ready
// instead of hanging the probe.
const readyPingTimeout = 2 * time.Second

// health is liveness: the process answers.
func (s *Server) health(c *fiber.Ctx) error {
	return c.JSON(fiber.Map{"status": "ok"})
}

// ready is readiness: SetReady(true) was called, the server is not shutting down, the Store
// answers, and so does Config.ReadyCheck (the broker, the cluster) when set.
func (s *Server) ready(c *fiber.Ctx) error {
	if !s.isReady.Load() {
		return jack.Errorf(jack.EUNAVAILABLE, "Not ready.")
	}
	ctx, cancel := context.WithTimeout(c.UserContext(), readyPingTimeout)
	defer cancel()
	if err := s.store.Ping(ctx); err != nil {
		s.log.WarnContext(ctx, "ready: store ping failed", "err", err)
		return jack.Errorf(jack.EUNAVAILABLE, "Store unavailable.")
	}
	if s.cfg.ReadyCheck != nil {
		if err := s.cfg.ReadyCheck(ctx); err != nil {
			s.log.WarnContext(ctx, "ready: check failed", "err", err)
			return jack.Errorf(jack.EUNAVAILABLE, "Not ready: %s", jack.ErrorMessage(err))
		}
	}
	body := fiber.Map{"status": "ready"}
	if s.cfg.ReadyInfo != nil {
		for k, v := range s.cfg.ReadyInfo() {
			if k != "status" {
				body[k] = v
			}
		}
	}
	return c.JSON(body)
}

// metricsHandler serves the server's own registry in the Prometheus text format.
func (s *Server) metricsHandler() fiber.Handler {
	return adaptor.HTTPHandler(promhttp.HandlerFor(s.metrics.registry, promhttp.HandlerOpts{}))
}
