package sqlite

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jack-auto/jack/persistence"
)

// The schema keeps times as fixed-width text, UUIDs as text and JSON as text, and stores an
// empty optional string as NULL (so empty MessageSids never collide). These adapters convert
// between those columns and the domain's Go types in both directions.

type scanner interface{ Scan(dest ...any) error }

// textTime scans a NOT NULL time column.
type textTime struct{ p *time.Time }

func (d textTime) Scan(v any) error {
	s, err := asText(v)
	if err != nil {
		return err
	}
	t, err := persistence.ParseTime(s)
	*d.p = t
	return err
}

// nullTime scans a nullable time column into a *time.Time (nil for NULL).
type nullTime struct{ p **time.Time }

func (d nullTime) Scan(v any) error {
	if v == nil {
		*d.p = nil
		return nil
	}
	var t time.Time
	if err := (textTime{&t}).Scan(v); err != nil {
		return err
	}
	*d.p = &t
	return nil
}

// nullString scans a nullable text column into a string ("" for NULL).
type nullString struct{ p *string }

func (d nullString) Scan(v any) error {
	if v == nil {
		*d.p = ""
		return nil
	}
	s, err := asText(v)
	*d.p = s
	return err
}

// nullUUID scans a nullable UUID column into a *uuid.UUID (nil for NULL).
type nullUUID struct{ p **uuid.UUID }

func (d nullUUID) Scan(v any) error {
	if v == nil {
		*d.p = nil
		return nil
	}
	var id uuid.UUID
	if err := id.Scan(v); err != nil {
		return err
	}
	*d.p = &id
	return nil
}

// jsonText scans a JSON text column into p.
type jsonText struct{ p any }

func (d jsonText) Scan(v any) error {
	if v == nil {
		return nil
	}
	s, err := asText(v)
	if err != nil {
		return err
	}
	return json.Unmarshal([]byte(s), d.p)
}

func asText(v any) (string, error) {
	switch v := v.(type) {
	case string:
		return v, nil
	case []byte:
		return string(v), nil
	}
	return "", fmt.Errorf("sqlite: cannot scan %T as text", v)
}

// Arguments.

func timeArg(t time.Time) string { return persistence.FormatTime(t) }

func nullTimeArg(t *time.Time) any {
	if t == nil {
		return nil
	}
	return persistence.FormatTime(*t)
}

func nullStringArg(s string) any {
	if s == "" {
		return nil
	}
	return s
}

func nullUUIDArg(id *uuid.UUID) any {
	if id == nil {
		return nil
	}
	return id.String()
}

func jsonArg(v any) (string, error) {
	b, err := json.Marshal(v)
	return string(b), err
}

func boolArg(b bool) int {
	if b {
		return 1
	}
	return 0
}
