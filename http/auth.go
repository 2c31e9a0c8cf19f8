package http

import (
	"cmp"
	"context"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/golang-jwt/jwt/v5"
	"github.com/google/uuid"
	"github.com/jack-auto/jack"
	"golang.org/x/crypto/bcrypt"
)

// tokenClaims are the access token's claims (see ARCHITECTURE.md, "HTTP contract"): userId, email, organizationId, role,
// exp and iat, plus jti, the id of the session the token belongs to. A stream token has the
// same claims without email, plus typ "stream"; its jti is the session that minted it.
type tokenClaims struct {
	UserID         string `json:"userId"`
	Email          string `json:"email,omitempty"`
	OrganizationID string `json:"organizationId"`
	Role           string `json:"role"`
	// Type tells the kinds of token apart: empty on access tokens, streamTokenType on stream
	// tokens. Each parser demands its own, so neither kind passes for the other.
	Type string `json:"typ,omitempty"`
	jwt.RegisteredClaims
}

// Token types (the typ claim).
const (
	accessTokenType = ""
	streamTokenType = "stream"
)

// tokenCookie holds the access token for browsers, whose EventSource cannot send headers.
const tokenCookie = "jack_token"

var (
	errMissingToken = jack.Errorf(jack.EUNAUTHORIZED, "Missing bearer token.")
	// errMissingCredentials: GET /api/stream takes a bearer token, the cookie or ?token=.
	errMissingCredentials = jack.Errorf(jack.EUNAUTHORIZED, "Missing bearer token, session cookie or stream token.")
	errInvalidToken       = jack.Errorf(jack.EUNAUTHORIZED, "Invalid or expired token.")
	// errBadCredentials is the same for an unknown email and a wrong password.
	errBadCredentials = jack.Errorf(jack.EUNAUTHORIZED, "Email or password is incorrect.")
	errNotAdmin       = jack.Errorf(jack.EFORBIDDEN, "Only an owner or admin may do this.")
	errOtherOrg       = jack.Errorf(jack.EFORBIDDEN, "Organization access denied.")
)

// issueToken starts a session of u valid for JWTTTL and signs its access token. ENOTFOUND when
// u is not an active user any more.
func (s *Server) issueToken(ctx context.Context, u *jack.User) (string, error) {
	sess := &jack.Session{UserID: u.ID, ExpiresAt: s.cfg.Now().Add(s.cfg.JWTTTL)}
	if err := s.store.CreateSession(ctx, u.OrganizationID, sess); err != nil {
		return "", err
	}
	token, _, err := s.signToken(tokenClaims{
		UserID:           u.ID.String(),
		Email:            u.Email,
		OrganizationID:   u.OrganizationID.String(),
		Role:             string(u.Role),
		RegisteredClaims: jwt.RegisteredClaims{ID: sess.ID.String()},
	}, sess.ExpiresAt.Sub(s.cfg.Now()))
	return token, err
}

// streamTokenClaims are the claims of a stream token minted by p, and how long it lives: as
// long as p's session, whose id it carries, so an EventSource can reconnect with the same URL
// for as long as the session lasts, and no longer once it is revoked.
func streamTokenClaims(p *jack.Principal, now time.Time) (tokenClaims, time.Duration) {
	return tokenClaims{
		UserID:           p.UserID.String(),
		OrganizationID:   p.OrganizationID.String(),
		Role:             string(p.Role),
		Type:             streamTokenType,
		RegisteredClaims: jwt.RegisteredClaims{ID: p.SessionID.String()},
	}, p.SessionExpiresAt.Sub(now)
}

// signToken signs claims issued now and valid for ttl, and returns the token with its expiry.
func (s *Server) signToken(claims tokenClaims, ttl time.Duration) (string, time.Time, error) {
	now := s.cfg.Now()
	claims.IssuedAt = jwt.NewNumericDate(now)
	claims.ExpiresAt = jwt.NewNumericDate(now.Add(ttl))
	token, err := jwt.NewWithClaims(jwt.SigningMethodHS256, claims).SignedString(s.cfg.JWTSecret)
	return token, claims.ExpiresAt.Time, err
}

// parseToken verifies an access token.
func (s *Server) parseToken(raw string) (*jack.Principal, error) {
	return s.parseTokenOfType(raw, accessTokenType)
}

// parseTokenOfType verifies a token of kind typ: HS256 only (so alg:none and key-confusion
// tokens fail), signed with our secret, with an exp that has not passed, the typ claim asked
// for, and well-formed claims.
func (s *Server) parseTokenOfType(raw, typ string) (*jack.Principal, error) {
	var claims tokenClaims
	_, err := jwt.ParseWithClaims(raw, &claims, func(*jwt.Token) (any, error) { return s.cfg.JWTSecret, nil },
		jwt.WithValidMethods([]string{jwt.SigningMethodHS256.Alg()}),
		jwt.WithExpirationRequired(),
		jwt.WithTimeFunc(s.cfg.Now))
	if err != nil || claims.Type != typ {
		return nil, errInvalidToken
	}
	userID, uerr := uuid.Parse(claims.UserID)
	orgID, oerr := uuid.Parse(claims.OrganizationID)
	sessionID, serr := uuid.Parse(claims.ID)
	role := jack.Role(claims.Role)
	if uerr != nil || oerr != nil || serr != nil || !role.Valid() {
		return nil, errInvalidToken
	}
	return &jack.Principal{UserID: userID, Email: claims.Email, OrganizationID: orgID, Role: role, SessionID: sessionID}, nil
}

// checkSession completes p from its session: the token is good only while the session is
// valid (not revoked, not expired, its user active), and the role is the user's current one.
func (s *Server) checkSession(ctx context.Context, p *jack.Principal) error {
	sess, err := s.sessions.find(ctx, p.OrganizationID, p.SessionID)
	if jack.ErrorCode(err) == jack.ENOTFOUND {
		return errInvalidToken
	} else if err != nil {
		return err
	}
	if sess.UserID != p.UserID || !sess.Valid(s.cfg.Now()) {
		return errInvalidToken
	}
	p.Role, p.SessionExpiresAt = sess.Role, sess.ExpiresAt
	return nil
}

// authenticate is the middleware of every signed-in route: it verifies the bearer token, applies
// the tenant rule and puts the principal into the user context. It runs per route (not per
// group) so it sees the route's :orgId.
func (s *Server) authenticate(c *fiber.Ctx) error {
	return s.authenticateWith(c, s.bearerPrincipal)
}

// authenticateStream is authenticate for GET /api/stream, which also takes the credentials an
// EventSource can carry: the token cookie, or a stream token in ?token=.
func (s *Server) authenticateStream(c *fiber.Ctx) error {
	return s.authenticateWith(c, s.streamPrincipal)
}

func (s *Server) authenticateWith(c *fiber.Ctx, credentials func(*fiber.Ctx) (*jack.Principal, error)) error {
	p, err := credentials(c)
	if err != nil {
		c.Set(fiber.HeaderWWWAuthenticate, `Bearer realm="jack"`)
		return err
	}
	if err := checkTenant(c, p.OrganizationID); err != nil {
		return err
	}
	if err := s.checkSession(c.UserContext(), p); err != nil {
		if jack.ErrorCode(err) == jack.EUNAUTHORIZED {
			c.Set(fiber.HeaderWWWAuthenticate, `Bearer realm="jack"`)
		}
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

// streamPrincipal tries, in order, a bearer access token, the access token cookie and a stream
// token in ?token=; the first valid one wins. Access tokens stay out of URLs: ?token= takes
// only a stream token, and a stream token is good nowhere else.
func (s *Server) streamPrincipal(c *fiber.Ctx) (*jack.Principal, error) {
	var err error = errMissingCredentials
	if c.Get(fiber.HeaderAuthorization) != "" {
		p, berr := s.bearerPrincipal(c)
		if berr == nil {
			return p, nil
		}
		err = berr
	}
	if raw := c.Cookies(tokenCookie); raw != "" {
		p, cerr := s.parseToken(raw)
		if cerr == nil {
			return p, nil
		}
		err = cerr
	}
	if raw := c.Query("token"); raw != "" {
		p, qerr := s.parseTokenOfType(raw, streamTokenType)
		if qerr == nil {
			return p, nil
		}
		err = qerr
	}
	return nil, err
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

	attempt, wait := s.logins.begin(s.cfg.Now(), email, s.clientIP(c))
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
	org, err := s.store.FindOrganizationByID(c.UserContext(), u.OrganizationID)
	if err != nil {
		return err
	}
	if err := s.signedIn(c, fiber.StatusOK, u, org); jack.ErrorCode(err) == jack.ENOTFOUND {
		return errBadCredentials // deactivated: the same answer as a wrong password
	} else if err != nil {
		return err
	}
	attempt.succeeded()
	return nil
}

// signedIn answers {token,user,organization} and sets the token cookie, which only
// GET /api/stream reads (other routes want the bearer header, so the cookie cannot be
// ridden by cross-site requests that change data).
func (s *Server) signedIn(c *fiber.Ctx, status int, u *jack.User, org *jack.Organization) error {
	token, err := s.issueToken(c.UserContext(), u)
	if err != nil {
		return err
	}
	s.setTokenCookie(c, token, int(s.cfg.JWTTTL/time.Second))
	return c.Status(status).JSON(authResponse{Token: token, User: u, Organization: org})
}

// logout revokes the session of the token presented (bearer header, else the cookie) on every
// node, with the stream tokens minted from it, and clears the cookie. A missing, expired or
// already revoked token is not an error: the caller is signed out either way.
func (s *Server) logout(c *fiber.Ctx) error {
	s.setTokenCookie(c, "", 0)
	p, err := s.bearerPrincipal(c)
	if err != nil {
		p, err = s.parseToken(c.Cookies(tokenCookie))
	}
	if err == nil {
		err := s.store.RevokeSession(c.UserContext(), p.OrganizationID, p.SessionID)
		if err != nil && jack.ErrorCode(err) != jack.ENOTFOUND {
			return err
		}
		s.sessionsChangedNow(c.UserContext(), sessionsChanged{SessionID: p.SessionID})
	}
	return c.SendStatus(fiber.StatusNoContent)
}

type changePasswordRequest struct {
	CurrentPassword string `json:"currentPassword"`
	NewPassword     string `json:"newPassword"`
}

// changePassword sets the caller's password after checking the current one, and revokes every
// other session of the caller on every node: the token presented keeps working.
func (s *Server) changePassword(c *fiber.Ctx) error {
	var req changePasswordRequest
	if err := decodeJSON(c, &req); err != nil {
		return err
	}
	fields := map[string]string{}
	if req.CurrentPassword == "" {
		fields["currentPassword"] = "is required"
	}
	if p := jack.ValidatePassword(req.NewPassword); p != "" {
		fields["newPassword"] = p
	}
	if err := jack.ValidationError(fields); err != nil {
		return err
	}
	p := principal(c)
	u, err := s.store.FindUserByID(c.UserContext(), p.OrganizationID, p.UserID)
	if err != nil {
		return err
	}
	if bcrypt.CompareHashAndPassword([]byte(u.PasswordHash), []byte(req.CurrentPassword)) != nil {
		return jack.ReasonErrorf(jack.EFORBIDDEN, "wrong_password", "The current password is incorrect.")
	}
	hash, err := bcrypt.GenerateFromPassword([]byte(req.NewPassword), s.cfg.BcryptCost)
	if err != nil {
		return fmt.Errorf("hash password: %w", err)
	}
	h := string(hash)
	if _, err := s.store.UpdateUser(c.UserContext(), p.OrganizationID, p.UserID, jack.UserUpdate{PasswordHash: &h}); err != nil {
		return err
	}
	if _, err := s.store.RevokeUserSessions(c.UserContext(), p.OrganizationID, p.UserID, p.SessionID); err != nil {
		return err
	}
	s.sessionsChangedNow(c.UserContext(), sessionsChanged{UserID: p.UserID})
	return c.SendStatus(fiber.StatusNoContent)
}

// setTokenCookie sets the token cookie for maxAge seconds, or deletes it when maxAge is 0.
func (s *Server) setTokenCookie(c *fiber.Ctx, token string, maxAge int) {
	cookie := &fiber.Cookie{
		Name:     tokenCookie,
		Value:    token,
		Path:     "/",
		MaxAge:   maxAge,
		HTTPOnly: true,
		SameSite: fiber.CookieSameSiteLaxMode,
		Secure:   strings.HasPrefix(strings.ToLower(s.cfg.ServerURL), "https://"),
	}
	if maxAge == 0 {
		cookie.Expires = time.Unix(0, 0) // Max-Age=0 cannot be expressed: fasthttp writes only a positive Max-Age
	}
	c.Cookie(cookie)
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
		Active:         true,
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
