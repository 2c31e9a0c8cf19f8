package main

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/jack-auto/jack/deploy/deploycheck"
)

// TestDeployKit feeds every jack process of the deployment kit (deploy/: the compose nodes and
// migration, the Kubernetes containers, the Render service) to LoadConfig: each variable the kit
// sets must be one jack reads, and together they must be a configuration `jack` accepts (a
// cluster has DATABASE_URL and REDIS_URL, DATABASE_URL has JWT_SECRET, and so on).
// Platform-provided values (pod IP, Render's generated secrets) are placeholders of the right shape.
func TestDeployKit(t *testing.T) {
	t.Parallel()
	kit, err := deploycheck.Load(filepath.Join("..", "..", "deploy"))
	require.NoError(t, err)
	procs, err := kit.Processes()
	require.NoError(t, err)
	require.GreaterOrEqual(t, len(procs), 7, "compose: migrate + 3 nodes; k8s: migrate + serve; render: 1")

	read := map[string]bool{}
	_, _ = LoadConfig(func(name string) string { read[name] = true; return "" })
	for _, name := range strings.Fields(`PORT JACK_ADDR SERVER_URL JACK_DATA_DIR DATABASE_URL JACK_DB_ROLE REDIS_URL
		JWT_SECRET JWT_TTL TWILIO_ACCOUNT_SID TWILIO_AUTH_TOKEN ELEVENLABS_API_KEY ELEVENLABS_AGENT_ID LOG_LEVEL LOG_FORMAT
		CLUSTER_PROVIDER CLUSTER_NAME CLUSTER_HOST CLUSTER_PORT CLUSTER_ADVERTISED_ADDRESS CLUSTER_SEEDS CLUSTER_AUTOMANAGED_PORT`) {
		require.True(t, read[name], "LoadConfig no longer reads %s: update the kit and this list", name)
	}

	var clusterNodes int
	for _, p := range procs {
		for name := range p.Env {
			require.True(t, read[name], "%s sets %s, which jack does not read", p.Name, name)
		}
		_, err := LoadConfig(func(name string) string { return p.Env[name] })
		require.NoError(t, err, "%s: `jack %s` would refuse this configuration", p.Name, strings.Join(p.Args, " "))
		require.NotEmpty(t, p.Args, p.Name)
		if p.Args[0] == "serve" && p.Env["CLUSTER_PROVIDER"] != "" {
			clusterNodes++
		}
	}
	require.Equal(t, 4, clusterNodes, "three compose nodes and the Kubernetes Deployment's container")
}
