// Package pgmembers is a Proto.Actor cluster provider whose membership lives in a Postgres
// table, cluster_members (migration 00010), shaped after Orleans' SQL membership table
// (see ARCHITECTURE.md, "The cluster"), so that membership converges after a
// member was paused or partitioned.
//
// Every member, each Config.Heartbeat:
//   - heartbeats its own row and reads its own status in the same statement
//     (UPDATE … SET heartbeat_at = now() … RETURNING status);
//   - declares dead, in one conditional UPDATE, every alive member of its cluster whose
//     heartbeat is older than Config.Timeout by the database clock (now()), never by its own;
//   - reads the alive members and pushes them to Proto.Actor (MemberList.UpdateClusterTopology);
//   - probes every other alive member's cluster address, votes suspect the ones it cannot
//     reach and declares dead a member suspected by a majority of the others (suspicion.go):
//     heartbeats alone cannot see a member cut off from its peers but not from the database.
//
// A member that was declared dead can never come back under the same id: Proto.Actor blocks
// the id of every member that leaves the topology, for good. So a member fences itself: when
// its own row says dead, or when it has not managed a successful heartbeat for more than
// Timeout/2 by its own monotonic clock (its lease; the others declare it dead only after
// Timeout, so a member that is still running gives up before anyone takes its conversations
// over), it stops heartbeating, tries to mark its row dead, reports Serving() == false and
// calls Config.OnFenced once. The process is then expected to exit and be restarted by its
// supervisor (Kubernetes, docker, a test harness) with a new ActorSystem ID, i.e. as a new
// member incarnation. A member paused past its lease (SIGSTOP, a long GC or VM pause) notices on
// the first tick after it resumes, before heartbeating again.
//
// The provider does not exit the process itself: a library has no business calling os.Exit,
// and only the command knows how to leave (cmd/jack returns a distinct exit code from main
// without draining, since the node is no member any more). Between resuming and exiting a stale
// member may still run a grain for an instant; conversation ownership epochs (migration 00009)
// refuse every write of it at COMMIT, so membership makes stale activations short and rare,
// and fencing makes them harmless.
//
// The provider uses a small pool of its own, so heartbeats never queue behind the Store's
// writes. The table is not tenant data and has no row-level security; the application role
// reads and writes it directly. When Postgres is unreachable for longer than the lease every
// member fences itself: nothing can be served without the database anyway.
package pgmembers

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/asynkron/protoactor-go/cluster"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// Defaults of Config.
const (
	DefaultHeartbeat = 500 * time.Millisecond
	DefaultTimeout   = 5 * time.Second
)

// RoleNone is the Config.Role that keeps the connecting user (no SET ROLE).
const RoleNone = "none"

// Config configures a Provider.
type Config struct {
	// URL is the Postgres connection URL; a search_path parameter selects the schema.
	URL string
	// Role is the role the provider's connections switch to with SET ROLE (the application
	// role); empty or RoleNone keeps the connecting user.
	Role string
	// Heartbeat is how often the member heartbeats, declares stale members dead and refreshes
	// the topology. Defaults to DefaultHeartbeat.
	Heartbeat time.Duration
	// Timeout is how old (by the database clock) a member's last heartbeat may be before any
	// member declares it dead. A member's own lease is Timeout/2. Defaults to DefaultTimeout.
	Timeout time.Duration
	// SuspectAfter is how long a member's probes of a peer must fail before it votes the peer
	// suspect (suspicion.go). Defaults to Timeout/4.
	SuspectAfter time.Duration
	// Probe checks that a peer's cluster address ("host:port") can be reached, within ctx.
	// Defaults to a TCP connect; tests replace it.
	Probe func(ctx context.Context, address string) error
	// OnFenced is called once, from the provider's goroutine, when this member must stop
	// serving: its row was declared dead, or its lease expired. reason says which. The caller
	// should make the process exit and rejoin as a new member. Nil: only Serving reports it.
	OnFenced func(reason string)
	// Logger receives membership changes (members declared dead, this member fenced) and
	// heartbeat failures. Defaults to discarding.
	Logger *slog.Logger
}

// Provider is a cluster.ClusterProvider over the cluster_members table. One Provider serves
// one member; it cannot be started twice.
type Provider struct {
	cfg Config
	log *slog.Logger

	pool    *pgxpool.Pool
	cluster *cluster.Cluster
	id      string // this member's ActorSystem.ID
	name    string // the cluster's name; clusters sharing a database do not see each other

	started  time.Time    // when the member joined (monotonic)
	lastOK   atomic.Int64 // nanoseconds since started at which the last successful heartbeat was sent
	joined   atomic.Bool
	fenced   atomic.Bool
	members  atomic.Int64 // alive members last pushed to the topology
	fenceMu  sync.Mutex
	fenceWhy string
	lease    *time.Timer

	stop     context.CancelFunc
	done     chan struct{}
	shutOnce sync.Once

	probes  prober
	probeWG sync.WaitGroup

	// unreachable, when set (tests), fails every statement as an unreachable database would.
	unreachable atomic.Bool
}

var _ cluster.ClusterProvider = (*Provider)(nil)

// New returns a provider for cfg; StartMember connects and joins.
func New(cfg Config) *Provider {
	cfg.Heartbeat = cmp.Or(cfg.Heartbeat, DefaultHeartbeat)
	cfg.Timeout = cmp.Or(cfg.Timeout, DefaultTimeout)
	cfg.SuspectAfter = cmp.Or(cfg.SuspectAfter, cfg.Timeout/suspectAfterFraction)
	if cfg.Probe == nil {
		cfg.Probe = probe
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Provider{cfg: cfg, log: log, done: make(chan struct{}),
		probes: prober{failing: map[string]time.Time{}, voted: map[string]bool{}}}
}

// StartMember connects, inserts this member alive, pushes the first topology and starts the
// heartbeat loop.
func (p *Provider) StartMember(c *cluster.Cluster) error {
	if p.cluster != nil {
		return errors.New("pgmembers: the provider is already started")
	}
	host, port, err := c.ActorSystem.GetHostPort()
	if err != nil {
		return fmt.Errorf("pgmembers: this member's address: %w", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := p.connect(ctx); err != nil {
		return err
	}
	p.cluster, p.id, p.name = c, c.ActorSystem.ID, c.Config.Name
	if _, err := p.pool.Exec(ctx, `INSERT INTO cluster_members (member_id, cluster_name, host, port, kinds) VALUES ($1, $2, $3, $4, $5)`,
		p.id, p.name, host, port, c.GetClusterKinds()); err != nil {
		p.pool.Close()
		return fmt.Errorf("pgmembers: join: %w", err)
	}
	// Rows of members long gone are kept a day for diagnosis.
	if _, err := p.pool.Exec(ctx, `DELETE FROM cluster_members WHERE status = 'dead' AND heartbeat_at < now() - interval '1 day'`); err != nil {
		p.log.Warn("cluster membership: drop old members", "err", err)
	}
	p.started = time.Now()
	p.lastOK.Store(0)
	p.lease = time.AfterFunc(p.cfg.Timeout/2, func() { p.checkLease() })
	p.joined.Store(true)
	p.log.Info("joined the cluster membership table", "member_id", p.id, "address", fmt.Sprintf("%s:%d", host, port),
		"heartbeat", p.cfg.Heartbeat, "timeout", p.cfg.Timeout)
	p.tick(ctx)
	loopCtx, stop := context.WithCancel(context.Background())
	p.stop = stop
	go p.loop(loopCtx)
	p.probeWG.Add(1)
	go p.probeLoop(loopCtx)
	return nil
}

// StartClient is not supported: every Jack process is a member.
func (p *Provider) StartClient(*cluster.Cluster) error {
	return errors.New("pgmembers: client mode is not supported")
}

// Shutdown stops heartbeating and marks this member dead, so the others drop it at their next
// tick instead of after Timeout. Safe to call twice and on a provider that never started.
func (p *Provider) Shutdown(bool) error {
	var err error
	p.shutOnce.Do(func() {
		if p.stop == nil {
			return
		}
		p.stop()
		<-p.done
		p.probeWG.Wait()
		p.lease.Stop()
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		if e := p.markDead(ctx); e != nil {
			err = fmt.Errorf("pgmembers: leave: %w", e)
		}
		p.pool.Close()
	})
	return err
}

// MemberID is this member's id (its ActorSystem.ID); empty before StartMember.
func (p *Provider) MemberID() string { return p.id }

// Members is how many alive members the last topology had.
func (p *Provider) Members() int { return int(p.members.Load()) }

// Serving reports whether this member may serve: it has joined, was not fenced, and its lease
// (a successful heartbeat within Timeout/2) holds right now.
func (p *Provider) Serving() bool {
	return p.joined.Load() && !p.fenced.Load() && p.sinceOK() <= p.cfg.Timeout/2
}

// FenceReason is why the member was fenced; empty while it serves.
func (p *Provider) FenceReason() string {
	p.fenceMu.Lock()
	defer p.fenceMu.Unlock()
	return p.fenceWhy
}

func (p *Provider) connect(ctx context.Context) error {
	pcfg, err := pgxpool.ParseConfig(p.cfg.URL)
	if err != nil {
		return fmt.Errorf("pgmembers: parse url: %w", err)
	}
	pcfg.MaxConns = 2
	if role := p.cfg.Role; role != "" && role != RoleNone {
		setRole := "SET ROLE " + pgx.Identifier{role}.Sanitize()
		pcfg.AfterConnect = func(ctx context.Context, conn *pgx.Conn) error {
			_, err := conn.Exec(ctx, setRole)
			return err
		}
	}
	if p.pool, err = pgxpool.NewWithConfig(ctx, pcfg); err != nil {
		return fmt.Errorf("pgmembers: open pool: %w", err)
	}
	return nil
}

// sinceOK is the time since the last successful heartbeat was sent, by the monotonic clock.
func (p *Provider) sinceOK() time.Duration {
	return time.Since(p.started) - time.Duration(p.lastOK.Load())
}

func (p *Provider) loop(ctx context.Context) {
	defer close(p.done)
	t := time.NewTicker(p.cfg.Heartbeat)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if !p.tick(ctx) {
			return
		}
	}
}

// tick is one round: lease check, heartbeat, dead declarations, topology. It returns false
// once the member is fenced.
func (p *Provider) tick(ctx context.Context) bool {
	if p.fenced.Load() {
		return false
	}
	// Checked before heartbeating: a member that resumes after a pause longer than its lease
	// must not renew it; the others may have taken its conversations over already.
	if !p.checkLease() {
		return false
	}
	sent := time.Since(p.started)
	hctx, cancel := context.WithTimeout(ctx, max(p.cfg.Timeout/4, p.cfg.Heartbeat))
	defer cancel()
	status, err := p.heartbeat(hctx)
	switch {
	case err != nil:
		if ctx.Err() == nil {
			p.log.Warn("cluster membership: heartbeat failed", "member_id", p.id, "since_last_heartbeat", p.sinceOK().Round(time.Millisecond), "err", err)
		}
		return true
	case status != "alive":
		p.fence(ctx, "declared dead by the cluster (its membership row says "+status+")")
		return false
	}
	p.lastOK.Store(int64(sent)) // only this goroutine writes it
	// A heartbeat sent before a pause and answered after it renews nothing.
	if !p.checkLease() {
		return false
	}
	p.lease.Reset(p.cfg.Timeout/2 - p.sinceOK())

	dead, err := p.declareDead(hctx)
	if err != nil && ctx.Err() == nil {
		p.log.Warn("cluster membership: declare stale members dead", "member_id", p.id, "err", err)
	}
	for _, d := range dead {
		p.log.Warn("cluster membership: declared a member dead (no heartbeat within the timeout)", "member_id", p.id,
			"dead_member_id", d.id, "dead_address", d.address, "last_heartbeat_ago", d.ago.Round(time.Millisecond))
	}
	suspected, err := p.declareSuspected(hctx)
	if err != nil && ctx.Err() == nil {
		p.log.Warn("cluster membership: declare suspected members dead", "member_id", p.id, "err", err)
	}
	for _, s := range suspected {
		p.log.Warn("cluster membership: declared a member dead (unreachable for a majority of the others)", "member_id", p.id,
			"dead_member_id", s.id, "dead_address", s.address, "votes", s.votes, "peers", s.peers)
	}
	members, err := p.alive(hctx)
	if err != nil {
		if ctx.Err() == nil {
			p.log.Warn("cluster membership: read members", "member_id", p.id, "err", err)
		}
		return true
	}
	if p.fenced.Load() {
		return false
	}
	p.members.Store(int64(len(members)))
	peers := make([]peer, 0, len(members))
	for _, m := range members {
		if m.Id != p.id {
			peers = append(peers, peer{id: m.Id, address: address(m.Host, int(m.Port))})
		}
	}
	p.probes.setPeers(peers)
	p.cluster.MemberList.UpdateClusterTopology(members)
	return true
}

// checkLease fences the member when its lease expired; it reports whether the lease holds.
// It also runs from the lease timer, so a member whose heartbeat statement hangs is fenced on
// time.
func (p *Provider) checkLease() bool {
	if p.fenced.Load() {
		return false
	}
	if since := p.sinceOK(); since > p.cfg.Timeout/2 {
		p.fence(context.Background(), fmt.Sprintf("lease lost: no successful heartbeat for %s (lease %s)",
			since.Round(time.Millisecond), p.cfg.Timeout/2))
		return false
	}
	return true
}

// fence stops the member serving, once: no more heartbeats or topology updates, its row marked
// dead (best effort; the others declare it dead anyway), then Config.OnFenced.
func (p *Provider) fence(ctx context.Context, reason string) {
	p.fenceMu.Lock()
	if p.fenced.Load() {
		p.fenceMu.Unlock()
		return
	}
	p.fenced.Store(true)
	p.fenceWhy = reason
	p.fenceMu.Unlock()
	p.lease.Stop()
	p.log.Error("cluster membership: this member is stale and stops serving", "member_id", p.id, "reason", reason)
	mctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Second)
	if err := p.markDead(mctx); err != nil {
		p.log.Warn("cluster membership: mark this member dead", "member_id", p.id, "err", err)
	}
	cancel()
	if p.cfg.OnFenced != nil {
		p.cfg.OnFenced(reason)
	}
}

var errUnreachable = errors.New("pgmembers: database unreachable (test)")

// heartbeat renews this member's row and returns its status ("" when the row is gone, which
// counts as dead).
func (p *Provider) heartbeat(ctx context.Context) (string, error) {
	if p.unreachable.Load() {
		return "", errUnreachable
	}
	var status string
	err := p.pool.QueryRow(ctx, `UPDATE cluster_members SET heartbeat_at = now() WHERE member_id = $1 RETURNING status`, p.id).Scan(&status)
	if errors.Is(err, pgx.ErrNoRows) {
		return "missing", nil
	}
	return status, err
}

type deadMember struct {
	id, address string
	ago         time.Duration
}

// declareDead marks dead every alive member of the cluster whose heartbeat is older than the
// timeout by the database clock, provided this member is alive itself. Rows are locked in id
// order and locked rows skipped (another member is declaring it, or it is heartbeating right
// now), so concurrent declarations never deadlock.
func (p *Provider) declareDead(ctx context.Context) ([]deadMember, error) {
	if p.unreachable.Load() {
		return nil, errUnreachable
	}
	rows, err := p.pool.Query(ctx, `
		UPDATE cluster_members m SET status = 'dead'
		FROM (SELECT member_id FROM cluster_members
		      WHERE cluster_name = $1 AND status = 'alive' AND member_id <> $2
		        AND heartbeat_at < now() - make_interval(secs => $3)
		        AND EXISTS (SELECT 1 FROM cluster_members WHERE member_id = $2 AND status = 'alive')
		      ORDER BY member_id FOR UPDATE SKIP LOCKED) stale
		WHERE m.member_id = stale.member_id AND m.heartbeat_at < now() - make_interval(secs => $3)
		RETURNING m.member_id, m.host || ':' || m.port, extract(epoch FROM now() - m.heartbeat_at)::float8`,
		p.name, p.id, p.cfg.Timeout.Seconds())
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(row pgx.CollectableRow) (deadMember, error) {
		var d deadMember
		var secs float64
		err := row.Scan(&d.id, &d.address, &secs)
		d.ago = time.Duration(secs * float64(time.Second))
		return d, err
	})
}

// alive reads the alive members of the cluster.
func (p *Provider) alive(ctx context.Context) ([]*cluster.Member, error) {
	if p.unreachable.Load() {
		return nil, errUnreachable
	}
	rows, err := p.pool.Query(ctx, `SELECT member_id, host, port, kinds FROM cluster_members
		WHERE cluster_name = $1 AND status = 'alive' ORDER BY member_id`, p.name)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(row pgx.CollectableRow) (*cluster.Member, error) {
		m := &cluster.Member{}
		err := row.Scan(&m.Id, &m.Host, &m.Port, &m.Kinds)
		return m, err
	})
}

func (p *Provider) markDead(ctx context.Context) error {
	if p.unreachable.Load() {
		return errUnreachable
	}
	_, err := p.pool.Exec(ctx, `UPDATE cluster_members SET status = 'dead' WHERE member_id = $1`, p.id)
	return err
}
