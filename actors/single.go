package actors

import "github.com/asynkron/protoactor-go/cluster"

// singleMember is the cluster provider of a node that runs alone (no CLUSTER_PROVIDER): its
// member list is itself, once, for good. Nothing polls, nothing expires, no other node is ever
// looked for: the library's own test provider (an in-memory agent with TTL tickers) would do
// the same with moving parts a production node does not need.
type singleMember struct{}

func (singleMember) StartMember(c *cluster.Cluster) error {
	host, port, err := c.ActorSystem.GetHostPort()
	if err != nil {
		return err
	}
	c.MemberList.UpdateClusterTopology([]*cluster.Member{{
		Id:    c.ActorSystem.ID,
		Host:  host,
		Port:  int32(port), //nolint:gosec // a TCP port (0-65535) fits
		Kinds: c.GetClusterKinds(),
	}})
	return nil
}

// StartClient is never used: a node that runs alone hosts its grains.
func (singleMember) StartClient(c *cluster.Cluster) error { return singleMember{}.StartMember(c) }

func (singleMember) Shutdown(bool) error { return nil }
