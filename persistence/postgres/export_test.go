package postgres

import "context"

// CurrentUser returns the role the Store's connections run as.
func CurrentUser(ctx context.Context, s *Store) (string, error) {
	var user string
	err := s.pool.QueryRow(ctx, `SELECT current_user`).Scan(&user)
	return user, err
}
