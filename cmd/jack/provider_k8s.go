//go:build k8s

package main

import (
	"fmt"

	"github.com/asynkron/protoactor-go/cluster"
	"github.com/asynkron/protoactor-go/cluster/clusterproviders/k8s"
)

// kubernetesProvider finds the other pods through the Kubernetes API server (the pods are
// labelled by the provider and watched). Only in binaries built with -tags k8s (make build-k8s,
// the k8s target of deploy/Dockerfile): the client-go dependency weighs about 40 MB.
func kubernetesProvider() (cluster.ClusterProvider, error) {
	p, err := k8s.New()
	if err != nil {
		return nil, fmt.Errorf("kubernetes cluster provider: %w", err)
	}
	return p, nil
}
