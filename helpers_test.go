package jack_test

import (
	"errors"
	"fmt"
)

// errorsJoin wraps err the way callers do on the way up (a plain error when err is nil).
func errorsJoin(err error) error {
	if err == nil {
		return errors.New("sql: connection reset")
	}
	return fmt.Errorf("load lead: %w", err)
}
