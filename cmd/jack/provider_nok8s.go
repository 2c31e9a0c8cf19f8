//go:build !k8s

package main

import (
	"errors"

	"github.com/asynkron/protoactor-go/cluster"
)

// kubernetesProvider is the default binary's answer to CLUSTER_PROVIDER=kubernetes: the
// provider and its client-go dependency are only in binaries built with -tags k8s.
func kubernetesProvider() (cluster.ClusterProvider, error) {
	return nil, errors.New("CLUSTER_PROVIDER=kubernetes needs a binary built with -tags k8s (make build-k8s, or the k8s target of deploy/Dockerfile)")
}
