package sqlite

import (
	"encoding/json"
	"time"

	"github.com/google/uuid"
	"github.com/jack-auto/jack/persistence"
)

// The schema keeps times as fixed-width text, UUIDs as text and JSON as text, and stores an
// empty optional string as NULL (so empty MessageSids never collide). These adapters convert
// between those columns and the domain's Go types: reads through persistence's scan
// destinations, which both adapters share, and writes through the arguments below.

// scanner is a row of either kind (*sql.Row, *sql.Rows); reads go through persistence's scan
// destinations (persistence.Time, NullString, …), which take these columns as text.
type scanner = persistence.Row

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
