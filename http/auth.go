package http

import (
	"cmp"
	"fmt"
	"math"
	"strconv"
	"strings"

	"github.com/gofiber/fiber/v2"
	"github.com/golang-jwt/jwt/v5"
	"github.com/google/uuid"
	"github.com/jack-auto/jack"
	"golang.org/x/crypto/bcrypt"
)

// tokenClaims are the access token's claims (DESIGN §3): userId, email, organizationId, role,
// exp and iat.
type tokenClaims struct {
	UserID         string `json:"userId"`
	Email          string `json:"email"`
	OrganizationID string `json:"organizationId"`
	Role           string `json:"role"`
	jwt.RegisteredClaims
}

var (
	errMissingToken = jack.Errorf(jack.EUNAUTHORIZED, "Missing bearer token.")
	errInvalidToken = jack.Errorf(jack.EUNAUTHORIZED, "Invalid or expired token.")
	// errBadCredentials is the same for an unknown email and a wrong password.
	errBadCredentials = jack.Errorf(jack.EUNAUTHORIZED, "Email or password is incorrect.")
	errNotAdmin       = jack.Errorf(jack.EFORBIDDEN, "Only an owner or admin may do this.")
	errOtherOrg       = jack.Errorf(jack.EFORBIDDEN, "Organization access denied.")
)

// issueToken signs an access token for u valid for JWTTTL.
func (s *Server) issueToken(u *jack.User) (string, error) {
	now := s.cfg.Now()
	claims := tokenClaims{
		UserID:         u.ID.String(),
		Email:          u.Email,
		OrganizationID: u.OrganizationID.String(),
		Role:           string(u.Role),
		RegisteredClaims: jwt.RegisteredClaims{
			IssuedAt:  jwt.NewNumericDate(now),
			ExpiresAt: jwt.NewNumericDate(now.Add(s.cfg.JWTTTL)),
		},
	}
	return jwt.NewWithClaims(jwt.SigningMethodHS256, claims).SignedString(s.cfg.JWTSecret)
}

// parseToken verifies an access token: HS256 only (so alg:none and key-confusion tokens fail),
// signed with our secret, with an exp that has not passed, and well-formed claims.
func (s *Server) parseToken(raw string) (*jack.Principal, error) {
	var claims tokenClaims
	_, err := jwt.ParseWithClaims(raw, &claims, func(*jwt.Token) (any, error) { return s.cfg.JWTSecret, nil },
		jwt.WithValidMethods([]string{jwt.SigningMethodHS256.Alg()}),
		jwt.WithExpirationRequired(),
		jwt.WithTimeFunc(s.cfg.Now))
	if err != nil {
		return nil, errInvalidToken
	}
	userID, uerr := uuid.Parse(claims.UserID)
	orgID, oerr := uuid.Parse(claims.OrganizationID)
	role := jack.Role(claims.Role)
	if uerr != nil || oerr != nil || !role.Valid() {
		return nil, errInvalidToken
	}
	return &jack.Principal{UserID: userID, Email: claims.Email, OrganizationID: orgID, Role: role}, nil
}

// authenticate is the middleware of every signed-in route: it verifies the bearer token, applies
// the tenant rule and puts the principal into the user context. It runs per route (not per
// group) so it sees the route's :orgId.
func (s *Server) authenticate(c *fiber.Ctx) error {
	p, err := s.bearerPrincipal(c)
	if err != nil {
		c.Set(fiber.HeaderWWWAuthenticate, `Bearer realm="jack"`)
		return err
	}
	if err := checkTenant(c, p.OrganizationID); err != nil {
		return err
	}
	c.SetUserContext(jack.NewContextWithPrincipal(c.UserContext(), p))
	return c.Next()
}

func (s *Server) bearerPrincipal(c *fiber.Ctx) (*jack.Principal, error) {
	scheme, token, ok := strings.Cut(strings.TrimSpace(c.Get(fiber.HeaderAuthorization)), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") || strings.TrimSpace(token) == "" {
		return nil, errMissingToken
	}
	return s.parseToken(strings.TrimSpace(token))
}

// checkTenant is the tenant rule: the organization always comes from the token, and a request
// that names another one (header, query or path) is refused rather than silently narrowed.
func checkTenant(c *fiber.Ctx, orgID uuid.UUID) error {
	for _, named := range []string{c.Get("organizationId"), c.Get("X-Organization-Id"), c.Query("organizationId"), c.Params("orgId")} {
		if named == "" {
			continue
		}
		if id, err := uuid.Parse(named); err != nil || id != orgID {
			return errOtherOrg
		}
	}
	return nil
}

// requireAdmin follows authenticate on routes only an owner or admin may use.
func requireAdmin(c *fiber.Ctx) error {
	if p := principal(c); p == nil || !p.Role.IsAdmin() {
		return errNotAdmin
	}
	return c.Next()
}

// principal is the caller authenticate put into the user context.
func principal(c *fiber.Ctx) *jack.Principal { return jack.PrincipalFromContext(c.UserContext()) }

// authResponse answers register and login.
type authResponse struct {
	Token        string             `json:"token"`
	User         *jack.User         `json:"user"`
	Organization *jack.Organization `json:"organization"`
}

type registerRequest struct {
	Email            string `json:"email"`
	Password         string `json:"password"`
	FullName         string `json:"fullName"`
	OrganizationName string `json:"organizationName"`
	DefaultRegion    string `json:"defaultRegion"`
	TimeZone         string `json:"timeZone"`
}

// register creates an organization and its owner and signs the owner in.
func (s *Server) register(c *fiber.Ctx) error {
	var req registerRequest
	if err := decodeJSON(c, &req); err != nil {
		return err
	}
	org := &jack.Organization{
		ID:   uuid.Must(uuid.NewV7()),
		Name: strings.TrimSpace(req.OrganizationName),
		Settings: jack.OrganizationSettings{
			DefaultRegion: cmp.Or(strings.ToUpper(strings.TrimSpace(req.DefaultRegion)), jack.DefaultRegion),
			TimeZone:      strings.TrimSpace(req.TimeZone),
		},
		CreatedAt: s.cfg.Now(),
	}
	owner, err := s.newUser(org.ID, req.Email, req.Password, req.FullName, jack.RoleOwner)
	if err := mergeFields(nil, err, org.Validate()); err != nil {
		return renameFields(err, map[string]string{"settings.defaultRegion": "defaultRegion", "settings.timeZone": "timeZone"})
	}
	if err := s.store.CreateOrganization(c.UserContext(), org, owner); err != nil {
		return err
	}
	return s.signedIn(c, fiber.StatusCreated, owner, org)
}

type loginRequest struct {
	Email    string `json:"email"`
	Password string `json:"password"`
}

// login checks a password under the login limiter and signs the user in.
func (s *Server) login(c *fiber.Ctx) error {
	var req loginRequest
	if err := decodeJSON(c, &req); err != nil {
		return err
	}
	email := jack.NormalizeEmail(req.Email)
	fields := map[string]string{}
	if email == "" {
		fields["email"] = "is required"
	}
	if req.Password == "" {
		fields["password"] = "is required"
	}
	if err := jack.ValidationError(fields); err != nil {
		return err
	}

	attempt, wait := s.logins.begin(s.cfg.Now(), "email:"+email, "ip:"+c.IP())
	if wait > 0 {
		secs := int(math.Ceil(wait.Seconds()))
		c.Set(fiber.HeaderRetryAfter, strconv.Itoa(secs))
		return &jack.Error{Code: jack.ERATELIMIT, Message: "Too many failed logins. Try again later.",
			Details: map[string]any{"retryAfter": secs}}
	}
	u, err := s.store.FindUserByEmail(c.UserContext(), email)
	if jack.ErrorCode(err) == jack.ENOTFOUND {
		_ = bcrypt.CompareHashAndPassword(s.dummyHash, []byte(req.Password)) // same time as a wrong password
		return errBadCredentials
	} else if err != nil {
		return err
	}
	if bcrypt.CompareHashAndPassword([]byte(u.PasswordHash), []byte(req.Password)) != nil {
		return errBadCredentials
	}
	attempt.succeeded()

	org, err := s.store.FindOrganizationByID(c.UserContext(), u.OrganizationID)
	if err != nil {
		return err
	}
	return s.signedIn(c, fiber.StatusOK, u, org)
}

// signedIn answers {token,user,organization}.
func (s *Server) signedIn(c *fiber.Ctx, status int, u *jack.User, org *jack.Organization) error {
	token, err := s.issueToken(u)
	if err != nil {
		return err
	}
	return c.Status(status).JSON(authResponse{Token: token, User: u, Organization: org})
}

// newUser builds a staff account of orgID with a bcrypt hash of password, naming every invalid
// field. It hashes only an acceptable password.
func (s *Server) newUser(orgID uuid.UUID, email, password, fullName string, role jack.Role) (*jack.User, error) {
	now := s.cfg.Now()
	u := &jack.User{
		ID:             uuid.Must(uuid.NewV7()),
		Email:          jack.NormalizeEmail(email),
		FullName:       strings.TrimSpace(fullName),
		OrganizationID: orgID,
		Role:           role,
		CreatedAt:      now,
		UpdatedAt:      now,
	}
	fields := map[string]string{}
	if u.FullName == "" {
		fields["fullName"] = "is required"
	}
	if p := jack.ValidatePassword(password); p != "" {
		fields["password"] = p
	} else {
		hash, err := bcrypt.GenerateFromPassword([]byte(password), s.cfg.BcryptCost)
		if err != nil {
			return nil, fmt.Errorf("hash password: %w", err)
		}
		u.PasswordHash = string(hash)
	}
	return u, mergeFields(fields, u.Validate())
}
