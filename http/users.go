package http

import (
	"cmp"

	"github.com/gofiber/fiber/v2"
	"github.com/jack-auto/jack"
)

// listUsers answers {"users":[...]}: the caller's organization's staff, oldest first.
func (s *Server) listUsers(c *fiber.Ctx) error {
	users, err := s.store.FindUsers(c.UserContext(), principal(c).OrganizationID)
	if err != nil {
		return err
	}
	return c.JSON(fiber.Map{"users": nonNil(users)})
}

type createUserRequest struct {
	Email    string `json:"email"`
	Password string `json:"password"`
	FullName string `json:"fullName"`
	Role     string `json:"role"`
}

// createUser adds a staff member (admin or agent; agent when role is omitted) to the caller's
// organization. An organization has one owner, made at registration, so owner is refused.
func (s *Server) createUser(c *fiber.Ctx) error {
	var req createUserRequest
	if err := decodeJSON(c, &req); err != nil {
		return err
	}
	role := jack.Role(cmp.Or(req.Role, string(jack.RoleAgent)))
	fields := map[string]string{}
	if role != jack.RoleAdmin && role != jack.RoleAgent {
		fields["role"] = "must be admin or agent"
	}
	u, err := s.newUser(principal(c).OrganizationID, req.Email, req.Password, req.FullName, role)
	if err := mergeFields(fields, err); err != nil {
		return err
	}
	if err := s.store.CreateUser(c.UserContext(), u.OrganizationID, u); err != nil {
		return err
	}
	return c.Status(fiber.StatusCreated).JSON(u)
}

// nonNil returns s, or an empty slice for nil: lists answer [], never null.
func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}
