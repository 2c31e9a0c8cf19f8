package http

import (
	"cmp"
	"errors"
	"strings"

	"github.com/gofiber/fiber/v2"
	"github.com/jack-auto/jack"
)

// me answers {user, organization} for the caller.
func (s *Server) me(c *fiber.Ctx) error {
	p := principal(c)
	u, err := s.store.FindUserByID(c.UserContext(), p.OrganizationID, p.UserID)
	if jack.ErrorCode(err) == jack.ENOTFOUND {
		return errInvalidToken // the account was removed after the token was issued
	} else if err != nil {
		return err
	}
	org, err := s.store.FindOrganizationByID(c.UserContext(), p.OrganizationID)
	if err != nil {
		return err
	}
	return c.JSON(fiber.Map{"user": u, "organization": org})
}

type updateOrganizationRequest struct {
	Name     *string `json:"name"`
	Domain   *string `json:"domain"`
	Settings *struct {
		DefaultRegion     *string             `json:"defaultRegion"`
		TimeZone          *string             `json:"timeZone"`
		ContactHoursStart *string             `json:"contactHoursStart"`
		ContactHoursEnd   *string             `json:"contactHoursEnd"`
		Cadence           *[]jack.CadenceStep `json:"cadence"` // replaces the whole cadence; [] for none
		// Appointments: businessHours replaces the whole week (a day left out or null is closed).
		BusinessHours       *jack.BusinessHours `json:"businessHours"`
		AppointmentMinutes  *int                `json:"appointmentMinutes"`
		AppointmentCapacity *int                `json:"appointmentCapacity"`
		Address             *string             `json:"address"`
		AIAnswerOnResume    *bool               `json:"aiAnswerOnResume"`
		CannedReplies       *[]jack.CannedReply `json:"cannedReplies"` // replaces them all; [] for none
		AIEnabledByDefault  *bool               `json:"aiEnabledByDefault"`
		AIInstructions      *string             `json:"aiInstructions"` // "" clears
		AIGreeting          *string             `json:"aiGreeting"`     // "" clears
	} `json:"settings"`
}

// updateOrganization changes the caller's organization's name, domain or settings; settings
// merge field by field, so {"settings":{"timeZone":"…"}} keeps the region.
func (s *Server) updateOrganization(c *fiber.Ctx) error {
	var req updateOrganizationRequest
	if err := decodeJSON(c, &req); err != nil {
		return err
	}
	orgID := principal(c).OrganizationID
	org, err := s.store.FindOrganizationByID(c.UserContext(), orgID)
	if err != nil {
		return err
	}
	upd := jack.OrganizationUpdate{Name: trimmed(req.Name), Domain: trimmed(req.Domain)}
	if req.Settings != nil {
		settings := org.Settings
		if r := trimmed(req.Settings.DefaultRegion); r != nil {
			settings.DefaultRegion = strings.ToUpper(*r)
		}
		if tz := trimmed(req.Settings.TimeZone); tz != nil {
			settings.TimeZone = *tz
		}
		if v := trimmed(req.Settings.ContactHoursStart); v != nil {
			settings.ContactHoursStart = *v
		}
		if v := trimmed(req.Settings.ContactHoursEnd); v != nil {
			settings.ContactHoursEnd = *v
		}
		if req.Settings.Cadence != nil {
			settings.Cadence = *req.Settings.Cadence
		}
		appointmentSettings(&settings, req.Settings.BusinessHours, req.Settings.AppointmentMinutes, req.Settings.AppointmentCapacity)
		if v := trimmed(req.Settings.Address); v != nil {
			settings.Address = *v
		}
		if req.Settings.CannedReplies != nil {
			settings.CannedReplies = *req.Settings.CannedReplies
		}
		if req.Settings.AIAnswerOnResume != nil {
			settings.AIAnswerOnResume = req.Settings.AIAnswerOnResume
		}
		if req.Settings.AIEnabledByDefault != nil {
			settings.AIEnabledByDefault = req.Settings.AIEnabledByDefault
		}
		if v := trimmed(req.Settings.AIInstructions); v != nil {
			settings.AIInstructions = *v
		}
		if v := trimmed(req.Settings.AIGreeting); v != nil {
			settings.AIGreeting = *v
		}
		upd.Settings = &settings
	}

	next := *org
	if upd.Name != nil {
		next.Name = *upd.Name
	}
	if upd.Settings != nil {
		next.Settings = *upd.Settings
	}
	fields := map[string]string{}
	if upd.Domain != nil {
		textField(fields, "domain", *upd.Domain, 255, false)
	}
	if err := mergeFields(fields, next.Validate()); err != nil {
		return renameFields(err, map[string]string{"organizationName": "name"})
	}
	org, err = s.store.UpdateOrganization(c.UserContext(), orgID, upd)
	if err != nil {
		return renameFields(err, map[string]string{"organizationName": "name"})
	}
	return c.JSON(org)
}

// trimmed returns a trimmed copy of an optional string.
func trimmed(v *string) *string {
	if v == nil {
		return nil
	}
	t := strings.TrimSpace(*v)
	return &t
}

// renameFields renames the fields of a validation error that a request calls otherwise than
// the domain does (the organization's "name" is "organizationName" at registration).
func renameFields(err error, names map[string]string) error {
	var e *jack.Error
	if !errors.As(err, &e) || len(e.Fields) == 0 {
		return err
	}
	renamed := *e
	renamed.Fields = make(map[string]string, len(e.Fields))
	for k, v := range e.Fields {
		renamed.Fields[cmp.Or(names[k], k)] = v
	}
	return &renamed
}
