package http

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"maps"
	"strconv"
	"strings"

	"github.com/gofiber/fiber/v2"
	"github.com/google/uuid"
	"github.com/jack-auto/jack"
)

// decodeJSON reads the body, one JSON object, into v. It reads the raw body: Fiber's c.Body()
// would inflate a Content-Encoding without a size limit. Malformed JSON is EINVALID (400); a
// well-formed body with an unknown field or a value of the wrong type is EUNPROCESSABLE (422)
// naming the field, so a misspelt field never silently does nothing. Strings come out without
// NUL and with invalid UTF-8 replaced (cleanJSON).
func decodeJSON(c *fiber.Ctx, v any) error {
	body := bytes.TrimSpace(c.Request().Body())
	if len(body) == 0 || body[0] != '{' {
		return jack.Errorf(jack.EINVALID, "Request body must be a JSON object.")
	}
	dec := json.NewDecoder(bytes.NewReader(cleanJSON(body)))
	dec.DisallowUnknownFields()
	err := dec.Decode(v)
	if err == nil {
		if _, extra := dec.Token(); extra != io.EOF {
			return jack.Errorf(jack.EINVALID, "Request body must hold one JSON object.")
		}
		return nil
	}
	var typeErr *json.UnmarshalTypeError
	switch {
	case errors.As(err, &typeErr) && typeErr.Field != "":
		return jack.ValidationError(map[string]string{typeErr.Field: "must be " + jsonKind(typeErr.Type.Kind().String())})
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		field := strings.Trim(strings.TrimPrefix(err.Error(), "json: unknown field "), `"`)
		return jack.ValidationError(map[string]string{field: "is not a known field"})
	}
	return jack.Errorf(jack.EINVALID, "Request body is not valid JSON.")
}

// jsonKind names a Go kind the way a JSON client thinks of it.
func jsonKind(kind string) string {
	switch {
	case kind == "string":
		return "a string"
	case kind == "bool":
		return "true or false"
	case strings.HasPrefix(kind, "int"), strings.HasPrefix(kind, "uint"), strings.HasPrefix(kind, "float"):
		return "a number"
	case kind == "slice", kind == "array":
		return "an array"
	}
	return "an object"
}

// mergeFields joins the field problems of validation errors (earlier ones win) into one
// EUNPROCESSABLE error, or returns the first error that is not a validation error.
func mergeFields(fields map[string]string, errs ...error) error {
	all := maps.Clone(fields)
	if all == nil {
		all = map[string]string{}
	}
	for _, err := range errs {
		var e *jack.Error
		if err == nil {
			continue
		} else if !errors.As(err, &e) || e.Code != jack.EUNPROCESSABLE || len(e.Fields) == 0 {
			return err
		}
		for k, v := range e.Fields {
			if _, ok := all[k]; !ok {
				all[k] = v
			}
		}
	}
	return jack.ValidationError(all)
}

// value returns *p, or the zero value for nil.
func value[T any](p *T) T {
	if p == nil {
		var zero T
		return zero
	}
	return *p
}

// textField trims v and adds a problem to fields when it is required and empty or longer than
// max bytes.
func textField(fields map[string]string, field, v string, limit int, required bool) string {
	v = strings.TrimSpace(v)
	switch {
	case v == "" && required:
		fields[field] = "is required"
	case len(v) > limit:
		fields[field] = "must be at most " + strconv.Itoa(limit) + " characters"
	}
	return v
}

// queryUUID reads an optional UUID query parameter; EINVALID when malformed.
func queryUUID(c *fiber.Ctx, name string) (*uuid.UUID, error) {
	v := c.Query(name)
	if v == "" {
		return nil, nil
	}
	id, err := uuid.Parse(v)
	if err != nil {
		return nil, invalidQuery(name, "must be a UUID")
	}
	return &id, nil
}

// queryLimit reads the optional page size; EINVALID unless a positive integer. The Store
// clamps it to its maximum.
func queryLimit(c *fiber.Ctx) (int, error) {
	v := c.Query("limit")
	if v == "" {
		return 0, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 {
		return 0, invalidQuery("limit", "must be a positive integer")
	}
	return n, nil
}

func invalidQuery(name, problem string) error {
	return &jack.Error{Code: jack.EINVALID, Message: "Query parameter " + name + " " + problem + ".",
		Fields: map[string]string{name: problem}}
}

// parseUserID reads a user id from a request field that must name a user of orgID. A bad value
// adds a problem to fields instead of failing, so every bad field is reported at once; only a
// Store failure is returned.
func (s *Server) parseUserID(c *fiber.Ctx, orgID uuid.UUID, field, v string, fields map[string]string) (*uuid.UUID, error) {
	id, err := uuid.Parse(v)
	if err != nil {
		fields[field] = "must be a UUID"
		return nil, nil
	}
	if _, err := s.store.FindUserByID(c.UserContext(), orgID, id); jack.ErrorCode(err) == jack.ENOTFOUND {
		fields[field] = "is not a user of this organization"
		return nil, nil
	} else if err != nil {
		return nil, err
	}
	return &id, nil
}

// orgPhone normalizes a number in orgID's region to E.164, adding a problem to fields when it
// is missing or invalid; only a Store failure is returned.
func (s *Server) orgPhone(c *fiber.Ctx, orgID uuid.UUID, field, raw string, fields map[string]string) (string, error) {
	if strings.TrimSpace(raw) == "" {
		fields[field] = "is required"
		return "", nil
	}
	org, err := s.store.FindOrganizationByID(c.UserContext(), orgID)
	if err != nil {
		return "", err
	}
	phone, err := jack.NormalizePhone(raw, org.Region())
	if err != nil {
		fields[field] = "is not a valid phone number"
	}
	return phone, nil
}

// customerPhone resolves the customer a request names: a lead of orgID (leadId), or a phone
// number read in the organization's region (phoneField). With both, they must agree. Problems
// are added to fields; only a Store failure is returned.
func (s *Server) customerPhone(c *fiber.Ctx, orgID uuid.UUID, leadID, phone *string, phoneField string, fields map[string]string) (string, error) {
	var fromLead, fromPhone string
	if leadID != nil {
		lead, err := s.store.FindLeadByID(c.UserContext(), orgID, *leadID)
		switch {
		case jack.ErrorCode(err) == jack.ENOTFOUND:
			fields["leadId"] = "is not a lead of this organization"
		case err != nil:
			return "", err
		default:
			fromLead = lead.PhoneNumberNormalized
		}
	}
	if phone != nil {
		var err error
		if fromPhone, err = s.orgPhone(c, orgID, phoneField, *phone, fields); err != nil {
			return "", err
		}
	}
	switch {
	case leadID == nil && phone == nil:
		fields[phoneField] = "or leadId is required"
	case fromLead != "" && fromPhone != "" && fromLead != fromPhone:
		fields[phoneField] = "is not the lead's phone number"
	}
	if fromLead != "" {
		return fromLead, nil
	}
	return fromPhone, nil
}
