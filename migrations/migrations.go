// Package migrations holds the schema of each database dialect as goose migrations, embedded so
// the binary migrates itself (`jack migrate`, and `jack serve` on start).
//
// Postgres: every tenant table has ENABLE + FORCE ROW LEVEL SECURITY and a policy on the
// transaction setting app.current_organization_id. The application runs as the role jack_app
// (no superuser, no BYPASSRLS), which the first migration creates and grants to the migrating
// user; the pool switches to it with SET ROLE on every connection. The tenant-free lookups
// (webhook routing, login) and the cross-organization audit are SECURITY DEFINER functions
// owned by the migrating user, which has read policies of its own because FORCE ROW LEVEL
// SECURITY binds the owner too.
package migrations

import "embed"

// Postgres holds the Postgres migrations under "postgres".
//
//go:embed postgres/*.sql
var Postgres embed.FS

// SQLite holds the SQLite migrations under "sqlite".
//
//go:embed sqlite/*.sql
var SQLite embed.FS

// AppRole is the Postgres role the application runs as.
const AppRole = "jack_app"
