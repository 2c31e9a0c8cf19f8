package http

import (
	"cmp"

	"github.com/gofiber/fiber/v2"
	"github.com/google/uuid"
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

type updateUserRequest struct {
	Role   *string `json:"role"`
	Active *bool   `json:"active"`
}

// updateUser changes a staff member's role or deactivates ({"active":false}) or reactivates
// them. A deactivated user's tokens stop working at once on every node, and a role change
// applies to tokens already issued. Only an owner may make an owner or change one; the
// organization keeps at least one active owner or admin (409 last_admin).
func (s *Server) updateUser(c *fiber.Ctx) error {
	id, err := userIDParam(c)
	if err != nil {
		return err
	}
	var req updateUserRequest
	if err := decodeJSON(c, &req); err != nil {
		return err
	}
	p := principal(c)
	upd := jack.UserUpdate{Active: req.Active}
	if req.Role != nil {
		role := jack.Role(*req.Role)
		if !role.Valid() {
			return jack.ValidationError(map[string]string{"role": "must be one of owner, admin, agent"})
		}
		upd.Role = &role
	}
	if upd.Role == nil && upd.Active == nil {
		return jack.ValidationError(map[string]string{"role": "or active is required"})
	}
	if err := s.mayManage(c, id, upd.Role); err != nil {
		return err
	}
	u, err := s.store.UpdateUser(c.UserContext(), p.OrganizationID, id, upd)
	if err != nil {
		return err
	}
	s.sessionsChangedNow(c.UserContext(), sessionsChanged{UserID: id})
	return c.JSON(u)
}

// deleteUser removes a staff member with every session of theirs (on every node at once); their
// leads and messages keep no author. Same rules as updateUser.
func (s *Server) deleteUser(c *fiber.Ctx) error {
	id, err := userIDParam(c)
	if err != nil {
		return err
	}
	if err := s.mayManage(c, id, nil); err != nil {
		return err
	}
	if err := s.store.DeleteUser(c.UserContext(), principal(c).OrganizationID, id); err != nil {
		return err
	}
	s.sessionsChangedNow(c.UserContext(), sessionsChanged{UserID: id})
	return c.SendStatus(fiber.StatusNoContent)
}

// mayManage returns EFORBIDDEN unless the caller may change the user id (to role, when set):
// owners are made and changed by owners only. ENOTFOUND when id is not a user of the caller's
// organization.
func (s *Server) mayManage(c *fiber.Ctx, id uuid.UUID, role *jack.Role) error {
	p := principal(c)
	target, err := s.store.FindUserByID(c.UserContext(), p.OrganizationID, id)
	if err != nil {
		return err
	}
	if p.Role != jack.RoleOwner && (target.Role == jack.RoleOwner || (role != nil && *role == jack.RoleOwner)) {
		return jack.Errorf(jack.EFORBIDDEN, "Only an owner may make or change an owner.")
	}
	return nil
}

// userIDParam reads :id; a malformed id is no user (404).
func userIDParam(c *fiber.Ctx) (uuid.UUID, error) {
	id, err := uuid.Parse(c.Params("id"))
	if err != nil {
		return uuid.Nil, jack.Errorf(jack.ENOTFOUND, "User not found.")
	}
	return id, nil
}
