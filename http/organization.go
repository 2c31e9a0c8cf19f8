package http

import (
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
		DefaultRegion *string `json:"defaultRegion"`
		TimeZone      *string `json:"timeZone"`
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
		upd.Settings = &settings
	}

	next := *org
	if upd.Name != nil {
		next.Name = *upd.Name
	}
	if upd.Settings != nil {
		next.Settings = *upd.Settings
	}
	if err := next.Validate(); err != nil {
		return renameField(err, "organizationName", "name")
	}
	org, err = s.store.UpdateOrganization(c.UserContext(), orgID, upd)
	if err != nil {
		return renameField(err, "organizationName", "name")
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

// renameField renames a field of a validation error when the request calls it otherwise than
// the domain does (the organization's "name" is "organizationName" at registration).
func renameField(err error, from, to string) error {
	var e *jack.Error
	if !errors.As(err, &e) || e.Fields[from] == "" {
		return err
	}
	fields := map[string]string{}
	for k, v := range e.Fields {
		if k == from {
			k = to
		}
		fields[k] = v
	}
	renamed := *e
	renamed.Fields = fields
	return &renamed
}
