package http

import (
	"github.com/gofiber/fiber/v2"
)

// listReminders answers {"reminders":[...]}: the lead's follow-up reminders, newest first, so
// staff see when the next follow-up is due (status pending) and which fired.
func (s *Server) listReminders(c *fiber.Ctx) error {
	orgID := principal(c).OrganizationID
	lead, err := s.store.FindLeadByID(c.UserContext(), orgID, c.Params("id"))
	if err != nil {
		return err
	}
	reminders, err := s.store.FindReminders(c.UserContext(), orgID, lead.PhoneNumberNormalized)
	if err != nil {
		return err
	}
	return c.JSON(fiber.Map{"reminders": nonNil(reminders)})
}
