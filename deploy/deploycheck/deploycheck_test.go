package deploycheck

import (
	"bytes"
	"context"
	"errors"
	"io"
	"io/fs"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"gopkg.in/yaml.v3"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/util/validation"
)

// kitDir is deploy/, seen from this package.
const kitDir = ".."

// MustLoad reads the kit or fails the test.
func MustLoad(tb testing.TB) *Kit {
	tb.Helper()
	k, err := Load(kitDir)
	require.NoError(tb, err)
	return k
}

// MustProcesses lists the kit's jack processes or fails the test.
func MustProcesses(tb testing.TB, k *Kit) []Process {
	tb.Helper()
	procs, err := k.Processes()
	require.NoError(tb, err)
	return procs
}

// isSecret reports whether a variable holds a credential, so it belongs in a Secret, an env
// file or Render's dashboard, never in a committed value.
func isSecret(name string) bool {
	switch name {
	case "JWT_SECRET", "DATABASE_URL", "REDIS_URL":
		return true
	}
	for _, suffix := range []string{"_TOKEN", "_API_KEY", "_SECRET", "_HEADER_VALUE", "_PASSWORD"} {
		if strings.HasSuffix(name, suffix) {
			return true
		}
	}
	return false
}

func TestEveryYAMLFileParses(t *testing.T) {
	t.Parallel()
	var files []string
	err := filepath.WalkDir(kitDir, func(path string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() && (strings.HasSuffix(path, ".yaml") || strings.HasSuffix(path, ".yml")) {
			files = append(files, path)
		}
		return err
	})
	require.NoError(t, err)
	require.GreaterOrEqual(t, len(files), 9, "docker-compose.yml, render.yaml and the k8s manifests")
	for _, f := range files {
		b, err := os.ReadFile(f)
		require.NoError(t, err)
		dec := yaml.NewDecoder(bytes.NewReader(b))
		docs := 0
		for {
			var v any
			err := dec.Decode(&v)
			if errors.Is(err, io.EOF) {
				break
			}
			require.NoError(t, err, f)
			if v != nil {
				docs++
			}
		}
		require.Positive(t, docs, "%s has no YAML document", f)
	}
	MustLoad(t) // and the strict decoders accept every file
}

func TestDockerfile(t *testing.T) {
	t.Parallel()
	k := MustLoad(t)
	df := k.Dockerfile
	require.GreaterOrEqual(t, len(df.Stages), 2, "a multi-stage build: the toolchain stays out of the image")
	build := df.Stages[0]
	require.True(t, strings.HasPrefix(build.From, "golang:1.26"), "builder %s", build.From)

	run := strings.Join(build.All("RUN"), "\n")
	for _, want := range []string{"CGO_ENABLED=0", "-trimpath", `-ldflags "-s -w"`, "--mount=type=cache,target=/go/pkg/mod", "./cmd/jack"} {
		require.Contains(t, run, want)
	}
	require.Contains(t, run, "timetzdata", "quiet hours load time zones; the image has no zoneinfo")

	final := df.Final()
	require.Contains(t, strings.Join(final.All("COPY"), "\n"), "--from="+build.Name, "the binary comes from the builder")
	user := final.Last("USER")
	if !strings.Contains(final.From, "distroless") || !strings.HasSuffix(final.From, ":nonroot") {
		uid, _, _ := strings.Cut(user, ":")
		n, err := strconv.Atoi(uid)
		require.NoError(t, err, "USER %q must be numeric so runAsNonRoot can verify it", user)
		require.NotZero(t, n, "USER must not be root")
	}
	require.Equal(t, []string{"jack"}, Exec(final.Last("ENTRYPOINT")))
	require.Equal(t, []string{"serve"}, final.Cmd())
	require.Contains(t, final.Last("HEALTHCHECK"), "/health")

	exposed := strings.Fields(strings.Join(final.All("EXPOSE"), " "))
	for _, p := range MustProcesses(t, k) {
		for _, name := range []string{"PORT", "CLUSTER_PORT", "CLUSTER_AUTOMANAGED_PORT"} {
			if v := p.Env[name]; v != "" && v != "0" && (name != "PORT" || !strings.HasPrefix(p.Name, "render")) {
				require.Contains(t, exposed, v, "%s: %s=%s is not EXPOSEd", p.Name, name, v)
			}
		}
	}
}

func TestDockerignore(t *testing.T) {
	t.Parallel()
	b, err := os.ReadFile(filepath.Join(kitDir, "..", ".dockerignore"))
	require.NoError(t, err)
	var patterns []string
	for _, l := range strings.Split(string(b), "\n") {
		if l = strings.TrimSpace(l); l != "" && !strings.HasPrefix(l, "#") {
			patterns = append(patterns, l)
		}
	}
	for _, want := range []string{".git", "data/", "bin/", "deploy/.env"} {
		require.Contains(t, patterns, want)
	}
	// The build needs the module, the sources, the migrations and the dashboard.
	for _, path := range []string{"go.mod", "go.sum", "cmd/jack/main.go", "migrations/migrations.go", "http/dashboard/index.html", "deploy/.env.example"} {
		for _, p := range patterns {
			ok, err := filepath.Match(strings.TrimPrefix(p, "/"), path)
			require.NoError(t, err)
			require.False(t, ok, ".dockerignore pattern %q drops %s", p, path)
		}
	}
}

func TestCompose(t *testing.T) {
	t.Parallel()
	k := MustLoad(t)
	c := k.Compose
	for key := range c.Extensions {
		require.True(t, strings.HasPrefix(key, "x-"), "unknown top-level key %q", key)
	}

	pg := c.Services["postgres"]
	require.Equal(t, "postgres:15", pg.Image)
	require.NotNil(t, pg.Healthcheck, "the migration waits for a healthy Postgres")
	redis := c.Services["redis"]
	require.Equal(t, "redis:7", redis.Image)
	require.NotNil(t, redis.Healthcheck)

	migrate := c.Services["migrate"]
	require.True(t, migrate.IsJack())
	require.Equal(t, []string{"migrate", "up"}, migrate.Command)
	require.Equal(t, "service_healthy", migrate.DependsOn["postgres"].Condition)
	require.Equal(t, "no", migrate.Restart, "a one-shot")

	env := map[string]map[string]string{}
	for _, p := range MustProcesses(t, k) {
		if name, ok := strings.CutPrefix(p.Name, "docker-compose.yml service "); ok {
			env[name] = p.Env
		}
	}
	var nodes []string
	for name, svc := range c.Services {
		if svc.IsJack() && len(svc.Command) == 0 {
			nodes = append(nodes, name)
		}
	}
	slices.Sort(nodes)
	require.Equal(t, []string{"node1", "node2", "node3"}, nodes)

	first := env[nodes[0]]
	var seeds, hostPorts []string
	for _, name := range nodes {
		seeds = append(seeds, net.JoinHostPort(name, env[name]["CLUSTER_AUTOMANAGED_PORT"]))
	}
	for i, name := range nodes {
		svc, e := c.Services[name], env[name]
		require.Equal(t, "automanaged", e["CLUSTER_PROVIDER"], name)
		require.Equal(t, "0.0.0.0", e["CLUSTER_HOST"], "%s: other containers must reach the cluster port", name)
		require.NotEmpty(t, e["CLUSTER_PORT"], "%s: a fixed cluster port, advertised and EXPOSEd", name)
		require.Equal(t, net.JoinHostPort(name, e["CLUSTER_PORT"]), e["CLUSTER_ADVERTISED_ADDRESS"], name)
		require.ElementsMatch(t, seeds, strings.Split(e["CLUSTER_SEEDS"], ","), "%s: every node's automanaged endpoint", name)
		for _, shared := range []string{"DATABASE_URL", "REDIS_URL", "JWT_SECRET", "SERVER_URL", "CLUSTER_NAME", "CLUSTER_PORT"} {
			require.Equal(t, first[shared], e[shared], "%s: %s must be the same on every node", name, shared)
		}
		require.Len(t, svc.Ports, 1)
		host, container, ok := strings.Cut(svc.Ports[0], ":")
		require.True(t, ok)
		require.Equal(t, e["PORT"], container, "%s publishes the HTTP port", name)
		hostPorts = append(hostPorts, host)
		require.Equal(t, strconv.Itoa(3001+i), host)
		require.Equal(t, "service_completed_successfully", svc.DependsOn["migrate"].Condition, name)
		require.Contains(t, svc.DependsOn, "redis", name)
	}
	require.Len(t, hostPorts, 3)

	// Every variable the compose file interpolates is documented in .env.example, and every
	// documented one is used.
	b, err := os.ReadFile(filepath.Join(kitDir, "docker-compose.yml"))
	require.NoError(t, err)
	refs := ComposeRefs(string(b))
	for _, name := range refs {
		require.Contains(t, k.EnvExample, name, "docker-compose.yml uses ${%s}; document it in .env.example", name)
	}
	for name, v := range k.EnvExample {
		require.Contains(t, refs, name, ".env.example documents %s, which docker-compose.yml does not use", name)
		if isSecret(name) && v != "" {
			require.Contains(t, v, "CHANGE_ME", ".env.example: %s must be a marked placeholder", name)
		}
	}
	for name, svc := range c.Services {
		for key, v := range svc.Environment {
			if isSecret(key) && key != "DATABASE_URL" && key != "REDIS_URL" {
				require.True(t, strings.HasPrefix(v, "${"), "%s: %s must come from the env file, not a committed value", name, key)
			}
		}
	}
}

// jackContainer returns the Deployment's serving container and its environment.
func jackContainer(t *testing.T, k *Kit, d *appsv1.Deployment) (corev1.Container, map[string]string) {
	t.Helper()
	for _, c := range d.Spec.Template.Spec.Containers {
		if len(c.Args) > 0 && c.Args[0] == "serve" {
			env := map[string]string{}
			require.NoError(t, k.containerEnv(c, env))
			return c, env
		}
	}
	t.Fatalf("Deployment %s has no container running `jack serve`", d.Name)
	return corev1.Container{}, nil
}

// portNumber resolves a probe's or a Service's target port against the container's ports.
func portNumber(t *testing.T, c corev1.Container, p intstr.IntOrString) int32 {
	t.Helper()
	if p.Type == intstr.Int {
		return p.IntVal
	}
	for _, cp := range c.Ports {
		if cp.Name == p.StrVal {
			return cp.ContainerPort
		}
	}
	t.Fatalf("container %s has no port named %q", c.Name, p.StrVal)
	return 0
}

func matches(selector, labels map[string]string) bool {
	for k, v := range selector {
		if labels[k] != v {
			return false
		}
	}
	return len(selector) > 0
}

func TestKubernetes(t *testing.T) {
	t.Parallel()
	k := MustLoad(t)
	objs := k.Kubernetes

	t.Run("Kustomization", func(t *testing.T) {
		require.Equal(t, "Kustomization", k.Kustomize.Kind)
		files, err := filepath.Glob(filepath.Join(kitDir, "k8s", "*.yaml"))
		require.NoError(t, err)
		var want []string
		for _, f := range files {
			if b := filepath.Base(f); b != "kustomization.yaml" && !strings.Contains(b, ".example.") {
				want = append(want, b)
			}
		}
		require.ElementsMatch(t, want, k.Kustomize.Resources, "every manifest but the examples, and nothing else")
	})

	t.Run("NamespaceAgnostic", func(t *testing.T) {
		for _, o := range objs {
			require.Empty(t, o.Meta.Namespace, "%s %s: no namespace, so `kubectl apply -n` and overlays choose", o.Kind, o.Name)
		}
		for _, rb := range All[*rbacv1.RoleBinding](objs) {
			for _, s := range rb.Subjects {
				require.Empty(t, s.Namespace, "RoleBinding %s: a subject namespace pins the kit to one namespace", rb.Name)
			}
		}
	})

	deployments := All[*appsv1.Deployment](objs)
	require.Len(t, deployments, 1)
	d := deployments[0]
	pod := d.Spec.Template
	c, env := jackContainer(t, k, d)

	t.Run("RBAC", func(t *testing.T) {
		sa := pod.Spec.ServiceAccountName
		_, ok := Find[*corev1.ServiceAccount](objs, sa)
		require.True(t, ok, "the pods' ServiceAccount %q is in the kit", sa)
		bound := false
		for _, rb := range All[*rbacv1.RoleBinding](objs) {
			if !slices.ContainsFunc(rb.Subjects, func(s rbacv1.Subject) bool { return s.Kind == "ServiceAccount" && s.Name == sa }) {
				continue
			}
			require.Equal(t, "Role", rb.RoleRef.Kind, "namespaced: the provider only watches its own namespace")
			role, ok := Find[*rbacv1.Role](objs, rb.RoleRef.Name)
			require.True(t, ok, "RoleBinding %s names Role %s, which is not in the kit", rb.Name, rb.RoleRef.Name)
			verbs := map[string]bool{}
			for _, r := range role.Rules {
				if slices.Contains(r.APIGroups, "") && slices.Contains(r.Resources, "pods") {
					for _, v := range r.Verbs {
						verbs[v] = true
					}
				}
			}
			for _, v := range []string{"get", "list", "watch", "patch"} {
				require.True(t, verbs[v], "Role %s must allow %s on pods (the Kubernetes cluster provider)", role.Name, v)
			}
			bound = true
		}
		require.True(t, bound, "no RoleBinding gives ServiceAccount %s the provider's Role", sa)
		require.True(t, pod.Spec.AutomountServiceAccountToken == nil || *pod.Spec.AutomountServiceAccountToken,
			"the provider talks to the API server with the pod's token")
	})

	t.Run("Cluster", func(t *testing.T) {
		require.NotNil(t, d.Spec.Replicas)
		require.EqualValues(t, 3, *d.Spec.Replicas)
		require.Equal(t, "kubernetes", env["CLUSTER_PROVIDER"])
		require.Empty(t, validation.IsValidLabelValue(env["CLUSTER_NAME"]), "CLUSTER_NAME becomes a pod label value")
		var fromPodIP bool
		for _, e := range c.Env {
			if e.Name == "CLUSTER_HOST" {
				fromPodIP = e.ValueFrom != nil && e.ValueFrom.FieldRef != nil && e.ValueFrom.FieldRef.FieldPath == "status.podIP"
			}
		}
		require.True(t, fromPodIP, "CLUSTER_HOST comes from the downward API (status.podIP)")
		require.NotEmpty(t, env["CLUSTER_PORT"], "a fixed cluster port")
		require.NotEqual(t, "0", env["CLUSTER_PORT"])
		require.Equal(t, net.JoinHostPort(PlaceholderPodIP, env["CLUSTER_PORT"]), env["CLUSTER_ADVERTISED_ADDRESS"],
			"the advertised address is podIP:port (Proto.Actor uses it verbatim)")
		port := portNumber(t, c, intstr.FromString("cluster"))
		require.Equal(t, env["CLUSTER_PORT"], strconv.Itoa(int(port)))
		for key := range pod.Labels {
			require.False(t, strings.HasPrefix(key, "cluster.proto.actor/"), "the provider patches %s; a template value would override it", key)
		}
	})

	t.Run("Probes", func(t *testing.T) {
		httpPort := strconv.Itoa(int(portNumber(t, c, intstr.FromString("http"))))
		require.Equal(t, env["PORT"], httpPort, "the http container port is the one jack listens on")
		for _, p := range []struct {
			name  string
			probe *corev1.Probe
			path  string
		}{{"liveness", c.LivenessProbe, "/health"}, {"readiness", c.ReadinessProbe, "/ready"}, {"startup", c.StartupProbe, "/health"}} {
			require.NotNil(t, p.probe, "%s probe", p.name)
			require.NotNil(t, p.probe.HTTPGet, "%s probe is an HTTP GET", p.name)
			require.Equal(t, p.path, p.probe.HTTPGet.Path, "%s probe", p.name)
			require.Equal(t, httpPort, strconv.Itoa(int(portNumber(t, c, p.probe.HTTPGet.Port))), "%s probe port", p.name)
		}
	})

	t.Run("Hardening", func(t *testing.T) {
		psc := pod.Spec.SecurityContext
		for _, ct := range slices.Concat(pod.Spec.InitContainers, pod.Spec.Containers) {
			sc := ct.SecurityContext
			require.NotNil(t, sc, ct.Name)
			nonRoot := (sc.RunAsNonRoot != nil && *sc.RunAsNonRoot) || (psc != nil && psc.RunAsNonRoot != nil && *psc.RunAsNonRoot)
			require.True(t, nonRoot, "%s: runAsNonRoot", ct.Name)
			require.True(t, sc.ReadOnlyRootFilesystem != nil && *sc.ReadOnlyRootFilesystem, "%s: readOnlyRootFilesystem", ct.Name)
			require.True(t, sc.AllowPrivilegeEscalation != nil && !*sc.AllowPrivilegeEscalation, "%s: allowPrivilegeEscalation false", ct.Name)
			require.False(t, ct.Resources.Requests.Memory().IsZero(), "%s: memory request", ct.Name)
			require.False(t, ct.Resources.Limits.Memory().IsZero(), "%s: memory limit", ct.Name)
		}
	})

	t.Run("Migrations", func(t *testing.T) {
		migrates := false
		for _, ic := range pod.Spec.InitContainers {
			migrates = migrates || slices.Equal(ic.Args, []string{"migrate", "up"})
		}
		require.True(t, migrates, "an init container runs `jack migrate up` before the node serves")
	})

	t.Run("Services", func(t *testing.T) {
		var headless, web bool
		for _, s := range All[*corev1.Service](objs) {
			require.True(t, matches(s.Spec.Selector, pod.Labels), "Service %s selects the jack pods", s.Name)
			for _, sp := range s.Spec.Ports {
				target := strconv.Itoa(int(portNumber(t, c, sp.TargetPort)))
				if s.Spec.ClusterIP == corev1.ClusterIPNone {
					headless = headless || target == env["CLUSTER_PORT"]
				} else {
					web = web || target == env["PORT"]
				}
			}
		}
		require.True(t, headless, "a headless Service for the cluster port")
		require.True(t, web, "a Service for HTTP")
	})

	t.Run("PodDisruptionBudget", func(t *testing.T) {
		pdbs := All[*policyv1.PodDisruptionBudget](objs)
		require.Len(t, pdbs, 1)
		pdb := pdbs[0]
		require.NotNil(t, pdb.Spec.MinAvailable)
		require.Equal(t, intstr.FromInt(2), *pdb.Spec.MinAvailable)
		require.NotNil(t, pdb.Spec.Selector)
		require.True(t, matches(pdb.Spec.Selector.MatchLabels, pod.Labels))
		require.Greater(t, int(*d.Spec.Replicas), pdb.Spec.MinAvailable.IntValue(), "a drain must be able to evict a pod")
	})

	t.Run("Secrets", func(t *testing.T) {
		for _, cm := range All[*corev1.ConfigMap](objs) {
			for key := range cm.Data {
				require.False(t, isSecret(key), "ConfigMap %s holds %s; it belongs in the Secret", cm.Name, key)
			}
		}
		secrets := All[*corev1.Secret](objs)
		require.Len(t, secrets, 1)
		s := secrets[0]
		for _, key := range []string{"JWT_SECRET", "DATABASE_URL", "REDIS_URL", "TWILIO_AUTH_TOKEN", "ELEVENLABS_API_KEY",
			"ELEVENLABS_CONVERSATION_EVENTS_WEBHOOK_SECRET", "ELEVENLABS_WEBHOOK_HEADER_VALUE"} {
			require.Contains(t, s.StringData, key)
		}
		for key, v := range s.StringData {
			if v != "" {
				require.Contains(t, v, "CHANGE_ME", "Secret example: %s must be a marked placeholder", key)
			}
		}
	})

	t.Run("KubectlKustomize", func(t *testing.T) {
		kubectl, err := exec.LookPath("kubectl")
		if err != nil {
			t.Skip("kubectl is not installed: the kustomize build of deploy/k8s was not run")
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		out, err := exec.CommandContext(ctx, kubectl, "kustomize", filepath.Join(kitDir, "k8s")).CombinedOutput()
		require.NoError(t, err, "kubectl kustomize deploy/k8s:\n%s", out)
		require.Contains(t, string(out), "kind: Deployment")
	})
}

func TestRender(t *testing.T) {
	t.Parallel()
	k := MustLoad(t)
	var web []RenderService
	for _, s := range k.Render.Services {
		if s.Type == "web" {
			web = append(web, s)
		}
		if s.Type == "keyvalue" {
			require.NotNil(t, s.IPAllowList, "keyvalue %s: ipAllowList is required by Render", s.Name)
		}
	}
	require.Len(t, web, 1)
	svc := web[0]
	require.Equal(t, "docker", svc.Runtime)
	_, err := os.Stat(filepath.Join(kitDir, "..", svc.DockerfilePath))
	require.NoError(t, err, "dockerfilePath is relative to the repository root")
	require.Equal(t, ".", svc.DockerContext)
	require.Equal(t, "/health", svc.HealthCheckPath)
	require.Equal(t, 1, svc.NumInstances, "Render instances cannot find each other: one node (see the comment in render.yaml)")

	env := map[string]RenderEnv{}
	for _, ev := range svc.EnvVars {
		require.NotContains(t, env, ev.Key, "duplicate envVars key")
		env[ev.Key] = ev
		if isSecret(ev.Key) {
			require.Nil(t, ev.Value, "%s must not be committed: use sync: false, generateValue or a reference", ev.Key)
		}
	}
	require.NotContains(t, env, "CLUSTER_PROVIDER", "one instance is a one-member cluster")
	require.NotNil(t, env["DATABASE_URL"].FromDatabase)
	require.NotNil(t, env["REDIS_URL"].FromService)
	require.True(t, env["JWT_SECRET"].GenerateValue)
	require.Contains(t, env, "SERVER_URL", "Twilio signs webhooks against the public URL")
}
