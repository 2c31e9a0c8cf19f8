package http

import (
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/jack-auto/jack"
	"github.com/jack-auto/jack/http/dashboard"
)

// Access says who may call a route: the role × route matrix. routes enforces it, openapi.json
// states it per operation (x-roles) and TestRoleMatrix walks every route with every role.
type Access int

const (
	// Public routes need no credentials.
	Public Access = iota
	// Webhook routes are called by a provider and authenticate by its signature or secret.
	Webhook
	// Staff routes take any signed-in user: owner, admin or agent.
	Staff
	// Admin routes take an owner or an admin.
	Admin
)

// Roles returns the roles a route of this access admits (none for public and webhook routes).
func (a Access) Roles() []jack.Role {
	switch a {
	case Staff:
		return []jack.Role{jack.RoleOwner, jack.RoleAdmin, jack.RoleAgent}
	case Admin:
		return []jack.Role{jack.RoleOwner, jack.RoleAdmin}
	}
	return nil
}

// Route is one row of the matrix: a method and path, who may call it, and its handlers after
// authentication.
type Route struct {
	Method, Path string
	Access       Access
	handlers     []fiber.Handler
	auth         fiber.Handler // replaces s.authenticate (the event stream's credentials)
}

// routeTable is every API route, one line each. Every route here is described in openapi.json
// (TestOpenAPI_CoversRoutes checks both ways, TestOpenAPI_Roles the x-roles).
func (s *Server) routeTable() []Route {
	r := func(method, path string, access Access, handlers ...fiber.Handler) Route {
		return Route{Method: method, Path: path, Access: access, handlers: handlers}
	}
	return []Route{
		// Ops.
		r("GET", "/health", Public, s.health),
		r("GET", "/ready", Public, s.ready),
		r("GET", "/metrics", Public, s.metricsHandler()),
		r("GET", "/api/openapi.json", Public, s.openAPIHandler),

		// Accounts. Logout takes whatever token it is given (an expired one too) and revokes it.
		r("POST", "/api/auth/register", Public, s.register),
		r("POST", "/api/auth/login", Public, s.login),
		r("POST", "/api/auth/logout", Public, s.logout),
		r("POST", "/api/auth/password", Staff, s.changePassword),
		r("GET", "/api/me", Staff, s.me),
		r("PATCH", "/api/organization", Admin, s.updateOrganization),
		r("GET", "/api/users", Staff, s.listUsers), // every role assigns leads to users
		r("POST", "/api/users", Admin, s.createUser),
		r("PATCH", "/api/users/:id", Admin, s.updateUser),
		r("DELETE", "/api/users/:id", Admin, s.deleteUser),

		// Leads.
		r("GET", "/api/leads", Staff, s.listLeads),
		r("GET", "/api/inbox", Staff, s.listInbox),
		r("GET", "/api/inbox/unread", Staff, s.unreadCounts),
		r("POST", "/api/leads/:id/read", Staff, s.markRead),
		r("GET", "/api/leads/:id/notes", Staff, s.listNotes),
		r("POST", "/api/leads/:id/notes", Staff, s.createNote),
		r("POST", "/api/reminders/:id/cancel", Staff, s.cancelReminder),
		r("POST", "/api/reminders/:id/snooze", Staff, s.snoozeReminder),
		r("POST", "/api/leads", Staff, s.createLead),
		r("GET", "/api/leads/:id", Staff, s.getLead),
		r("PATCH", "/api/leads/:id", Staff, s.patchLead),
		r("DELETE", "/api/leads/:id", Admin, s.deleteLead), // removes the whole conversation
		r("GET", "/api/leads/:id/messages", Staff, s.listMessages),
		r("GET", "/api/leads/:id/reminders", Staff, s.listReminders),
		r("GET", "/api/messages/:id/media/:n", Staff, s.messageMedia),
		r("POST", "/api/leads/:id/ai", Staff, s.needsEngine, s.setAI),
		r("POST", "/api/leads/import", Admin, s.importLeads),

		// SMS.
		r("POST", "/api/twilio/send-sms", Staff, s.needsEngine, s.sendSMS),
		r("POST", "/api/webhooks/twilio/sms/incoming", Webhook, s.needsEngine, s.twilioIncomingSMS),
		r("POST", "/api/webhooks/twilio/sms/status", Webhook, s.needsEngine, s.twilioSMSStatus),

		// Voice.
		r("POST", "/api/elevenlabs/outbound-call", Staff, s.needsEngine, s.outboundCall),
		r("POST", "/api/webhooks/elevenlabs/conversation-initiation", Webhook, s.initiationSecret, s.needsEngine, s.elevenLabsInitiation),
		r("POST", "/api/webhooks/elevenlabs/post-call", Webhook, s.needsEngine, s.elevenLabsPostCall),
		// Server tools the voice agent calls mid-call, with the initiation webhook's secret.
		r("POST", "/api/webhooks/elevenlabs/tools/check-availability", Webhook, s.initiationSecret, s.toolCheckAvailability),
		r("POST", "/api/webhooks/elevenlabs/tools/book-appointment", Webhook, s.initiationSecret, s.needsEngine, s.toolBookAppointment),

		// Live events (Server-Sent Events). The stream takes the credentials EventSource can carry.
		r("POST", "/api/stream/token", Staff, s.createStreamToken),
		{Method: "GET", Path: "/api/stream", Access: Staff, handlers: []fiber.Handler{s.stream}, auth: s.authenticateStream},

		// Phone numbers.
		r("GET", "/api/organizations/:orgId/phone-numbers", Staff, s.listPhoneNumbers),
		r("POST", "/api/organizations/:orgId/phone-numbers", Admin, s.importPhoneNumber),
		r("POST", "/api/admin/organizations/:orgId/phone-numbers/purchase", Admin, s.purchasePhoneNumber),
		r("POST", "/api/admin/phone-numbers/:phone/activate", Admin, s.activatePhoneNumber),
		r("POST", "/api/admin/phone-numbers/:phone/deactivate", Admin, s.deactivatePhoneNumber),

		// CRM integrations (admins): webhooks and ADF e-mail, their deliveries.
		r("GET", "/api/integrations", Admin, s.listIntegrations),
		r("POST", "/api/integrations", Admin, s.createIntegration),
		r("GET", "/api/integrations/:id", Admin, s.getIntegration),
		r("PATCH", "/api/integrations/:id", Admin, s.patchIntegration),
		r("DELETE", "/api/integrations/:id", Admin, s.deleteIntegration),
		r("POST", "/api/integrations/:id/test", Admin, s.testIntegration),
		r("GET", "/api/integrations/:id/deliveries", Admin, s.listDeliveries),
		r("POST", "/api/integrations/:id/deliveries/:deliveryId/redeliver", Admin, s.redeliver),

		// Appointments. The calendar feed authenticates by its own token (?token=), for calendar
		// apps that cannot send a header.
		r("GET", "/api/appointments/availability", Staff, s.availability),
		r("GET", "/api/appointments", Staff, s.listAppointments),
		r("POST", "/api/leads/:id/appointments", Staff, s.createAppointment),
		r("GET", "/api/appointments/calendar.ics", Public, s.calendarFeed),
		r("POST", "/api/appointments/feed-token", Admin, s.createFeedToken),
		r("DELETE", "/api/appointments/feed-token", Admin, s.deleteFeedToken),
		r("GET", "/api/appointments/:id", Staff, s.getAppointment),
		r("PATCH", "/api/appointments/:id", Staff, s.patchAppointment),

		// Analytics.
		r("GET", "/api/analytics/summary", Staff, s.analyticsSummary),
	}
}

// routes registers the route table: staff routes start with s.authenticate (token, session and
// tenant rule), admin routes add requireAdmin. A GET's final handler is retried once when it
// fails with EUNAVAILABLE (retryUnavailable).
func (s *Server) routes() {
	for _, rt := range s.routeTable() {
		var chain []fiber.Handler
		switch rt.Access {
		case Staff, Admin:
			chain = append(chain, cmpHandler(rt.auth, s.authenticate))
			if rt.Access == Admin {
				chain = append(chain, requireAdmin)
			}
		}
		chain = append(chain, rt.handlers...)
		if rt.Method == fiber.MethodGet {
			chain[len(chain)-1] = retryUnavailable(chain[len(chain)-1])
		}
		s.app.Add(rt.Method, rt.Path, chain...)
		if rt.Method == fiber.MethodGet {
			s.app.Add(fiber.MethodHead, rt.Path, chain...) // as app.Get does
		}
	}
	// Staff dashboard: GET / and /assets/*; it passes every other request on, so it never
	// shadows the API, and as app.Use it is not an API route for openapi.json.
	s.app.Use(dashboard.Handler())
}

func cmpHandler(h, def fiber.Handler) fiber.Handler {
	if h != nil {
		return h
	}
	return def
}

// unavailableRetryDelay is how long an idempotent request waits before its one retry: long
// enough for the pool to replace a dropped connection, short enough to go unnoticed.
const unavailableRetryDelay = 100 * time.Millisecond

// retryUnavailable runs an idempotent request's handler once more when it fails with
// EUNAVAILABLE (a connection lost, a database restarting or shutting down, a pool timeout), so
// a blip costs the client nothing; a second failure answers 503 with Retry-After.
func retryUnavailable(h fiber.Handler) fiber.Handler {
	return func(c *fiber.Ctx) error {
		err := h(c)
		if jack.ErrorCode(err) != jack.EUNAVAILABLE {
			return err
		}
		select {
		case <-c.UserContext().Done():
			return err
		case <-time.After(unavailableRetryDelay):
		}
		return h(c)
	}
}
