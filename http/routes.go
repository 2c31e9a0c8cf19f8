package http

import "github.com/jack-auto/jack/http/dashboard"

// routes registers every route: one line each, with who may call it. Signed-in routes start
// with s.authenticate (token + tenant rule), admin-only routes add requireAdmin. Every route
// here is described in openapi.json (TestOpenAPI_CoversRoutes checks both ways).
func (s *Server) routes() {
	app := s.app

	// Ops.
	app.Get("/health", s.health)
	app.Get("/ready", s.ready)
	app.Get("/metrics", s.metricsHandler())
	app.Get("/api/openapi.json", s.openAPIHandler)

	// Accounts.
	app.Post("/api/auth/register", s.register)
	app.Post("/api/auth/login", s.login)
	app.Post("/api/auth/logout", s.logout)
	app.Get("/api/me", s.authenticate, s.me)
	app.Patch("/api/organization", s.authenticate, requireAdmin, s.updateOrganization)
	app.Get("/api/users", s.authenticate, s.listUsers)
	app.Post("/api/users", s.authenticate, requireAdmin, s.createUser)

	// Leads.
	app.Get("/api/leads", s.authenticate, s.listLeads)
	app.Post("/api/leads", s.authenticate, s.createLead)
	app.Get("/api/leads/:id", s.authenticate, s.getLead)
	app.Patch("/api/leads/:id", s.authenticate, s.patchLead)
	app.Delete("/api/leads/:id", s.authenticate, s.deleteLead)
	app.Get("/api/leads/:id/messages", s.authenticate, s.listMessages)
	app.Get("/api/leads/:id/reminders", s.authenticate, s.listReminders)
	app.Get("/api/messages/:id/media/:n", s.authenticate, s.messageMedia)
	app.Post("/api/leads/:id/ai", s.authenticate, s.needsEngine, s.setAI)
	app.Post("/api/leads/import", s.authenticate, requireAdmin, s.importLeads)

	// SMS.
	app.Post("/api/twilio/send-sms", s.authenticate, s.needsEngine, s.sendSMS)
	app.Post("/api/webhooks/twilio/sms/incoming", s.needsEngine, s.twilioIncomingSMS)
	app.Post("/api/webhooks/twilio/sms/status", s.needsEngine, s.twilioSMSStatus)

	// Voice.
	app.Post("/api/elevenlabs/outbound-call", s.authenticate, s.needsEngine, s.outboundCall)
	app.Post("/api/webhooks/elevenlabs/conversation-initiation", s.initiationSecret, s.needsEngine, s.elevenLabsInitiation)
	app.Post("/api/webhooks/elevenlabs/post-call", s.needsEngine, s.elevenLabsPostCall)

	// Live events (Server-Sent Events). The stream takes the credentials EventSource can carry.
	app.Post("/api/stream/token", s.authenticate, s.createStreamToken)
	app.Get("/api/stream", s.authenticateStream, s.stream)

	// Phone numbers.
	app.Get("/api/organizations/:orgId/phone-numbers", s.authenticate, s.listPhoneNumbers)
	app.Post("/api/organizations/:orgId/phone-numbers", s.authenticate, requireAdmin, s.importPhoneNumber)
	app.Post("/api/admin/organizations/:orgId/phone-numbers/purchase", s.authenticate, requireAdmin, s.purchasePhoneNumber)
	app.Post("/api/admin/phone-numbers/:phone/activate", s.authenticate, requireAdmin, s.activatePhoneNumber)
	app.Post("/api/admin/phone-numbers/:phone/deactivate", s.authenticate, requireAdmin, s.deactivatePhoneNumber)

	// CRM integrations (admins): webhooks and ADF e-mail, their deliveries.
	app.Get("/api/integrations", s.authenticate, requireAdmin, s.listIntegrations)
	app.Post("/api/integrations", s.authenticate, requireAdmin, s.createIntegration)
	app.Get("/api/integrations/:id", s.authenticate, requireAdmin, s.getIntegration)
	app.Patch("/api/integrations/:id", s.authenticate, requireAdmin, s.patchIntegration)
	app.Delete("/api/integrations/:id", s.authenticate, requireAdmin, s.deleteIntegration)
	app.Post("/api/integrations/:id/test", s.authenticate, requireAdmin, s.testIntegration)
	app.Get("/api/integrations/:id/deliveries", s.authenticate, requireAdmin, s.listDeliveries)
	app.Post("/api/integrations/:id/deliveries/:deliveryId/redeliver", s.authenticate, requireAdmin, s.redeliver)

	// Analytics.
	app.Get("/api/analytics/summary", s.authenticate, s.analyticsSummary)

	// Staff dashboard: GET / and /assets/*; it passes every other request on, so it never
	// shadows the API, and as app.Use it is not an API route for openapi.json.
	app.Use(dashboard.Handler())
}
