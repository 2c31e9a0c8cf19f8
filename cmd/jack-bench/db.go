package main

import (
	"context"
	"database/sql"
	"fmt"
	"net/url"
	"os"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	_ "modernc.org/sqlite" // the embedded store's driver, to count and seed behind the server

	"github.com/jack-auto/jack"
	"github.com/jack-auto/jack/persistence"
)

// seedText is the content of every seeded message: a typical SMS of about 80 characters.
const seedText = "Message %d: is the 2021 Civic still available, and what would $400/month get me?"

// storeAccess reads and seeds a node's database directly, behind the server: stored messages
// are counted where they are stored, and seeding a million messages takes seconds, not the
// hours a million webhooks would.
type storeAccess interface {
	// inboundSids returns the MessageSids of orgID's customer messages.
	inboundSids(ctx context.Context, orgID string) (map[string]struct{}, error)
	// seed gives each phone a lead and perConv messages (alternating customer and agent, one
	// minute apart, ending now), as if the conversations had happened.
	seed(ctx context.Context, orgID string, phones []string, perConv int) error
	// backends maps the pids of Postgres backends to whether they serve the bench's database
	// (nil when the store is not Postgres).
	backends(ctx context.Context) map[int]bool
	close()
}

// --- Postgres ----------------------------------------------------------------------------------

// benchDatabase creates a fresh database jack_bench_<pid> next to adminURL's (dropping those
// of bench processes that no longer run) and returns its URL and a func that drops it.
func benchDatabase(ctx context.Context, adminURL string) (string, func(), error) {
	admin, err := pgx.Connect(ctx, adminURL)
	if err != nil {
		return "", nil, fmt.Errorf("connect to postgres: %w", err)
	}
	defer func() { _ = admin.Close(context.WithoutCancel(ctx)) }()
	rows, err := admin.Query(ctx, `SELECT datname FROM pg_database WHERE datname ~ '^jack_bench_[0-9]+$'`)
	if err != nil {
		return "", nil, err
	}
	stale, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return "", nil, err
	}
	name := fmt.Sprintf("jack_bench_%d", os.Getpid())
	for _, db := range stale {
		pid, _ := strconv.Atoi(regexp.MustCompile(`\d+$`).FindString(db))
		if _, err := os.Stat(fmt.Sprintf("/proc/%d", pid)); err == nil && db != name {
			continue // another bench is running
		}
		if _, err := admin.Exec(ctx, "DROP DATABASE IF EXISTS "+pgx.Identifier{db}.Sanitize()+" WITH (FORCE)"); err != nil {
			return "", nil, err
		}
	}
	if _, err := admin.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize()); err != nil {
		return "", nil, fmt.Errorf("create database %s: %w", name, err)
	}
	u, err := url.Parse(adminURL)
	if err != nil {
		return "", nil, err
	}
	u.Path = "/" + name
	drop := func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		c, err := pgx.Connect(ctx, adminURL)
		if err != nil {
			return
		}
		defer func() { _ = c.Close(ctx) }()
		_, _ = c.Exec(ctx, "DROP DATABASE IF EXISTS "+pgx.Identifier{name}.Sanitize()+" WITH (FORCE)")
	}
	return u.String(), drop, nil
}

// pgAccess connects as the bench's (superuser) role, which row-level security does not confine.
type pgAccess struct{ pool *pgxpool.Pool }

func openPostgresAccess(ctx context.Context, dbURL string) (*pgAccess, error) {
	pool, err := pgxpool.New(ctx, dbURL)
	if err != nil {
		return nil, err
	}
	return &pgAccess{pool: pool}, nil
}

func (p *pgAccess) close() { p.pool.Close() }

// backends lists the backends (client connections, autovacuum workers) and whether they serve
// the bench's database: other engineers' tests share the server. The processes that serve every
// database (checkpointer, walwriter …) have none and are not listed.
func (p *pgAccess) backends(ctx context.Context) map[int]bool {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	rows, err := p.pool.Query(ctx, `SELECT pid, datname = current_database() FROM pg_stat_activity WHERE datname IS NOT NULL`)
	if err != nil {
		return nil
	}
	out := map[int]bool{}
	var (
		pid int32
		own bool
	)
	_, err = pgx.ForEachRow(rows, []any{&pid, &own}, func() error {
		out[int(pid)] = own
		return nil
	})
	if err != nil {
		return nil
	}
	return out
}

func (p *pgAccess) inboundSids(ctx context.Context, orgID string) (map[string]struct{}, error) {
	rows, err := p.pool.Query(ctx, `SELECT twilio_message_sid FROM conversations
		WHERE organization_id = $1 AND sent_by = $2 AND twilio_message_sid IS NOT NULL`, orgID, jack.SentByCustomer)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	return collectSids(rows)
}

func (p *pgAccess) seed(ctx context.Context, orgID string, phones []string, perConv int) error {
	now := time.Now().UTC()
	if _, err := p.pool.Exec(ctx, `INSERT INTO leads (id, customer_name, phone_number, phone_number_normalized,
			organization_id, total_conversations, created_at, updated_at, last_activity, last_touchpoint)
		SELECT gen_random_uuid()::text, 'Customer ' || p, p, p, $1, $3, $4, $4, $4, $4 FROM unnest($2::text[]) AS p`,
		orgID, phones, perConv, now); err != nil {
		return fmt.Errorf("seed leads: %w", err)
	}
	// Even turns are the customer's (with a MessageSid), odd ones the agent's answers.
	if _, err := p.pool.Exec(ctx, `INSERT INTO conversations (lead_id, organization_id, phone_number_normalized,
			content, sent_by, timestamp, type, twilio_message_sid, message_status)
		SELECT l.id, l.organization_id, l.phone_number_normalized, format($4, g),
			CASE WHEN g % 2 = 0 THEN $5 ELSE $6 END, $3::timestamptz - ($7 - g) * interval '1 minute', $8,
			CASE WHEN g % 2 = 0 THEN 'SMseed' || md5(l.id || g::text) END,
			CASE WHEN g % 2 = 0 THEN $9 ELSE $10 END
		FROM leads l CROSS JOIN generate_series(1, $7) AS g
		WHERE l.organization_id = $1 AND l.phone_number_normalized = ANY($2)`,
		orgID, phones, now, strings.Replace(seedText, "%d", "%s", 1), jack.SentByCustomer, jack.SentByAgent, perConv, jack.ChannelSMS,
		jack.StatusReceived, jack.StatusDelivered); err != nil {
		return fmt.Errorf("seed messages: %w", err)
	}
	_, err := p.pool.Exec(ctx, "ANALYZE leads, conversations")
	return err
}

// --- SQLite ------------------------------------------------------------------------------------

type sqliteAccess struct{ db *sql.DB }

// openSQLiteAccess opens the embedded store's file beside the server (WAL allows one writer and
// many readers across processes; busy_timeout waits for the server's writer).
func openSQLiteAccess(path string) (*sqliteAccess, error) {
	db, err := sql.Open("sqlite", path+"?_pragma=busy_timeout(30000)&_pragma=foreign_keys(1)")
	if err != nil {
		return nil, err
	}
	db.SetMaxOpenConns(1)
	return &sqliteAccess{db: db}, nil
}

func (s *sqliteAccess) close() { _ = s.db.Close() }

func (s *sqliteAccess) backends(context.Context) map[int]bool { return nil }

func (s *sqliteAccess) inboundSids(ctx context.Context, orgID string) (map[string]struct{}, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT twilio_message_sid FROM conversations
		WHERE organization_id = ? AND sent_by = ? AND twilio_message_sid IS NOT NULL`, orgID, jack.SentByCustomer)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	return collectSids(rows)
}

func (s *sqliteAccess) seed(ctx context.Context, orgID string, phones []string, perConv int) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	lead, err := tx.PrepareContext(ctx, `INSERT INTO leads (id, customer_name, phone_number, phone_number_normalized,
		organization_id, total_conversations, created_at, updated_at, last_activity, last_touchpoint)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`)
	if err != nil {
		return err
	}
	msg, err := tx.PrepareContext(ctx, `INSERT INTO conversations (id, lead_id, organization_id, phone_number_normalized,
		content, sent_by, timestamp, type, twilio_message_sid, message_status) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`)
	if err != nil {
		return err
	}
	now := time.Now().UTC()
	ts := persistence.FormatTime(now)
	for _, phone := range phones {
		id := uuid.Must(uuid.NewV7()).String()
		if _, err := lead.ExecContext(ctx, id, "Customer "+phone, phone, phone, orgID, perConv, ts, ts, ts, ts); err != nil {
			return fmt.Errorf("seed lead: %w", err)
		}
		for g := 1; g <= perConv; g++ {
			sentBy, status, sid := jack.SentByAgent, jack.StatusDelivered, any(nil)
			if g%2 == 0 {
				sentBy, status, sid = jack.SentByCustomer, jack.StatusReceived, "SMseed"+uuid.NewString()
			}
			at := persistence.FormatTime(now.Add(-time.Duration(perConv-g) * time.Minute))
			if _, err := msg.ExecContext(ctx, uuid.Must(uuid.NewV7()).String(), id, orgID, phone, fmt.Sprintf(seedText, g),
				sentBy, at, jack.ChannelSMS, sid, status); err != nil {
				return fmt.Errorf("seed message: %w", err)
			}
		}
	}
	return tx.Commit()
}

// rowScanner is what pgx.Rows and *sql.Rows share.
type rowScanner interface {
	Next() bool
	Scan(...any) error
	Err() error
}

func collectSids(rows rowScanner) (map[string]struct{}, error) {
	out := map[string]struct{}{}
	for rows.Next() {
		var sid string
		if err := rows.Scan(&sid); err != nil {
			return nil, err
		}
		out[sid] = struct{}{}
	}
	return out, rows.Err()
}
