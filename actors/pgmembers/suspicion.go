package pgmembers

import (
	"context"
	"net"
	"strconv"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
)

// Suspicion, after Orleans' membership protocol (write-path-notes §5.1): heartbeats in the
// database only show that a member reaches the database. A member cut off from its peers but
// not from Postgres (a partition between nodes) heartbeats on, while no request reaches its
// grains. So every member also probes every other alive member's cluster address (a TCP
// connect to the address it advertises, which is what a partition breaks), every heartbeat:
//
//   - a peer whose probes have all failed for Config.SuspectAfter gets this member's vote,
//     written into the peer's own row (suspicions = {voter: time}) and refreshed on every
//     failed probe after that; a successful probe takes the vote back;
//   - a member with fresh votes (younger than Config.Timeout, from members alive now) from more
//     than half of the other alive members is declared dead by any alive member that is not in
//     that position itself, in one statement (the same row locks as for a stale heartbeat).
//
// In a cluster of three, a member cut off from the other two gets both their votes (2 of 2)
// and is declared dead, while its own votes against them are 1 of 2 each, not enough. Of two
// members that lose sight of each other, the one whose vote lands first declares the other
// dead (once condemned by a vote, a member declares nobody); if both votes are in before either
// declares, neither is declared (no majority can decide between two; fencing keeps their writes
// safe, and the kill -9 and pause cases are decided by heartbeats). Never both.
// The member declared dead learns it at its next heartbeat and fences itself, as always.

// suspectAfterFraction makes Config.SuspectAfter's default Timeout/4: how long a peer's probes
// fail before this member votes against it.
const suspectAfterFraction = 4

// probe is the default Config.Probe: a TCP connection to address within the context.
func probe(ctx context.Context, address string) error {
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", address)
	if err != nil {
		return err
	}
	return conn.Close()
}

// peer is one other alive member as the prober knows it.
type peer struct {
	id, address string
}

// prober tracks, per peer, since when its probes fail and whether this member voted.
type prober struct {
	mu      sync.Mutex
	peers   []peer
	failing map[string]time.Time // peer id → first failed probe of the current run of failures
	voted   map[string]bool
}

func (pr *prober) setPeers(peers []peer) {
	pr.mu.Lock()
	pr.peers = peers
	pr.mu.Unlock()
}

// probeLoop probes the peers every heartbeat until ctx ends or the member is fenced.
func (p *Provider) probeLoop(ctx context.Context) {
	defer p.probeWG.Done()
	t := time.NewTicker(p.cfg.Heartbeat)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if p.fenced.Load() {
			return
		}
		p.probeOnce(ctx)
	}
}

// probeOnce probes every peer at once and votes or takes votes back.
func (p *Provider) probeOnce(ctx context.Context) {
	p.probes.mu.Lock()
	peers := p.probes.peers
	p.probes.mu.Unlock()
	failed := make([]bool, len(peers))
	var wg sync.WaitGroup
	for i, pe := range peers {
		wg.Go(func() {
			pctx, cancel := context.WithTimeout(ctx, p.probeTimeout())
			defer cancel()
			failed[i] = p.cfg.Probe(pctx, pe.address) != nil
		})
	}
	wg.Wait()
	if ctx.Err() != nil {
		return
	}
	now := time.Now()
	for i, pe := range peers {
		p.probes.mu.Lock()
		since, wasFailing := p.probes.failing[pe.id]
		voted := p.probes.voted[pe.id]
		switch {
		case !failed[i]:
			delete(p.probes.failing, pe.id)
		case !wasFailing:
			p.probes.failing[pe.id], since = now, now
		}
		p.probes.mu.Unlock()

		switch {
		case failed[i] && now.Sub(since) >= p.cfg.SuspectAfter:
			if err := p.vote(ctx, pe.id); err != nil {
				if ctx.Err() == nil {
					p.log.Warn("cluster membership: suspicion vote", "member_id", p.id, "suspect_id", pe.id, "err", err)
				}
				continue
			}
			if !voted {
				p.log.Warn("cluster membership: a member is unreachable; voted it suspect", "member_id", p.id,
					"suspect_id", pe.id, "suspect_address", pe.address, "unreachable_for", now.Sub(since).Round(time.Millisecond))
			}
			p.setVoted(pe.id, true)
		case !failed[i] && voted:
			if err := p.withdraw(ctx, pe.id); err != nil {
				if ctx.Err() == nil {
					p.log.Warn("cluster membership: take back a suspicion vote", "member_id", p.id, "suspect_id", pe.id, "err", err)
				}
				continue
			}
			p.log.Info("cluster membership: a suspected member is reachable again; vote taken back", "member_id", p.id, "suspect_id", pe.id)
			p.setVoted(pe.id, false)
		}
	}
}

func (p *Provider) setVoted(id string, v bool) {
	p.probes.mu.Lock()
	defer p.probes.mu.Unlock()
	if v {
		p.probes.voted[id] = true
	} else {
		delete(p.probes.voted, id)
	}
}

func (p *Provider) probeTimeout() time.Duration { return max(p.cfg.Heartbeat, p.cfg.Timeout/8) }

// vote records (or refreshes) this member's suspicion of suspect, by the database clock.
func (p *Provider) vote(ctx context.Context, suspect string) error {
	if p.unreachable.Load() {
		return errUnreachable
	}
	_, err := p.pool.Exec(ctx, `UPDATE cluster_members SET suspicions = suspicions || jsonb_build_object($2::text, now())
		WHERE member_id = $1 AND status = 'alive'`, suspect, p.id)
	return err
}

// withdraw takes this member's vote against suspect back.
func (p *Provider) withdraw(ctx context.Context, suspect string) error {
	if p.unreachable.Load() {
		return errUnreachable
	}
	_, err := p.pool.Exec(ctx, `UPDATE cluster_members SET suspicions = suspicions - $2::text
		WHERE member_id = $1 AND suspicions ? $2::text`, suspect, p.id)
	return err
}

// suspectedMember is a member declared dead on its peers' votes.
type suspectedMember struct {
	id, address  string
	votes, peers int
}

// declareSuspected declares dead every alive member of the cluster with fresh votes from more
// than half of the other alive members, provided this member is alive and not in that position
// itself. A row locked by a concurrent declaration is waited for and checked again (status).
func (p *Provider) declareSuspected(ctx context.Context) ([]suspectedMember, error) {
	if p.unreachable.Load() {
		return nil, errUnreachable
	}
	rows, err := p.pool.Query(ctx, `
		WITH live AS (
			SELECT member_id FROM cluster_members WHERE cluster_name = $1 AND status = 'alive'
		), votes AS (
			SELECT m.member_id, count(*)::int AS votes
			FROM cluster_members m CROSS JOIN LATERAL jsonb_each_text(m.suspicions) v(voter, voted_at)
			WHERE m.cluster_name = $1 AND m.status = 'alive' AND v.voter <> m.member_id
			  AND v.voter IN (SELECT member_id FROM live)
			  AND v.voted_at::timestamptz > now() - make_interval(secs => $3)
			GROUP BY m.member_id
		), condemned AS (
			SELECT member_id, votes, (SELECT count(*)::int - 1 FROM live) AS peers FROM votes
			WHERE votes * 2 > (SELECT count(*) - 1 FROM live)
		)
		UPDATE cluster_members m SET status = 'dead'
		FROM condemned c
		WHERE m.member_id = c.member_id AND m.member_id <> $2 AND m.status = 'alive'
		  AND $2 IN (SELECT member_id FROM live) AND $2 NOT IN (SELECT member_id FROM condemned)
		RETURNING m.member_id, m.host || ':' || m.port, c.votes, c.peers`,
		p.name, p.id, p.cfg.Timeout.Seconds())
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(row pgx.CollectableRow) (suspectedMember, error) {
		var s suspectedMember
		err := row.Scan(&s.id, &s.address, &s.votes, &s.peers)
		return s, err
	})
}

func address(host string, port int) string { return net.JoinHostPort(host, strconv.Itoa(port)) }
