// Package deploycheck reads jack's deployment kit (deploy/: Dockerfile, docker-compose.yml,
// k8s/, render.yaml) the way each platform would, without the platform: it parses every file,
// decodes the Kubernetes objects strictly into their API types, and lists every jack process
// the kit starts with the environment that process gets. Its tests check the kit's structure;
// cmd/jack's tests feed each process's environment to LoadConfig.
package deploycheck

import (
	"bufio"
	"bytes"
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"

	"gopkg.in/yaml.v3"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	k8syaml "sigs.k8s.io/yaml"
)

// Placeholders stand for values a platform fills in at run time; they are valid values of the
// right shape, so a configuration check can run on them.
const (
	PlaceholderPodIP       = "10.0.0.7"
	PlaceholderDatabaseURL = "postgresql://jack:placeholder@dpg-placeholder/jack" //nolint:gosec // a placeholder the kit's files are checked with, no credential
	PlaceholderRedisURL    = "redis://red-placeholder:6379"
	PlaceholderSecret      = "placeholder-generated-secret-0123456789abcdef=" // 44 chars, like Render's
)

// Process is one jack process the kit starts.
type Process struct {
	// Name says where the kit defines it, e.g. "docker-compose.yml service node1".
	Name string
	// Args is the jack command line after the binary, e.g. [serve] or [migrate up].
	Args []string
	// Env is every variable the kit sets for the process (the image's ENV included), with
	// platform-provided values replaced by placeholders. A variable the kit leaves for the
	// operator to fill (Render's sync: false) is absent.
	Env map[string]string
}

// Kit is the deployment kit as read from its directory.
type Kit struct {
	Dir        string
	Dockerfile *Dockerfile
	Compose    *Compose
	EnvExample map[string]string // .env.example
	Kubernetes []Object          // k8s/*.yaml except kustomization.yaml, in file order
	Kustomize  *Kustomization
	Render     *Render
}

// Load reads the kit in dir (the repository's deploy/ directory).
func Load(dir string) (*Kit, error) {
	k := &Kit{Dir: dir}
	var err error
	if k.Dockerfile, err = ReadDockerfile(filepath.Join(dir, "Dockerfile")); err != nil {
		return nil, err
	}
	if k.EnvExample, err = readEnvFile(filepath.Join(dir, ".env.example")); err != nil {
		return nil, err
	}
	k.Compose = new(Compose)
	if err := decodeStrict(filepath.Join(dir, "docker-compose.yml"), k.Compose); err != nil {
		return nil, err
	}
	k.Render = new(Render)
	if err := decodeStrict(filepath.Join(dir, "render.yaml"), k.Render); err != nil {
		return nil, err
	}
	k.Kustomize = new(Kustomization)
	if err := decodeStrict(filepath.Join(dir, "k8s", "kustomization.yaml"), k.Kustomize); err != nil {
		return nil, err
	}
	files, err := filepath.Glob(filepath.Join(dir, "k8s", "*.yaml"))
	if err != nil {
		return nil, err
	}
	for _, f := range files {
		if filepath.Base(f) == "kustomization.yaml" {
			continue
		}
		objs, err := ReadObjects(f)
		if err != nil {
			return nil, err
		}
		k.Kubernetes = append(k.Kubernetes, objs...)
	}
	return k, nil
}

// Processes lists every jack process the kit starts: compose services built from the image,
// the containers (init containers included) of Kubernetes Deployments, and Render's Docker
// services.
func (k *Kit) Processes() ([]Process, error) {
	var procs []Process
	var errs []error
	image := k.Dockerfile.Final().Env()
	defaultArgs := k.Dockerfile.Final().Cmd()

	names := make([]string, 0, len(k.Compose.Services))
	for name := range k.Compose.Services {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		svc := k.Compose.Services[name]
		if !svc.IsJack() {
			continue
		}
		p := Process{Name: "docker-compose.yml service " + name, Args: orArgs(svc.Command, defaultArgs), Env: maps.Clone(image)}
		for key, v := range svc.Environment {
			val, err := Interpolate(v, k.EnvExample)
			if err != nil {
				errs = append(errs, fmt.Errorf("%s: %s: %w", p.Name, key, err))
			}
			p.Env[key] = val
		}
		procs = append(procs, p)
	}

	for _, obj := range k.Kubernetes {
		d, ok := obj.Object.(*appsv1.Deployment)
		if !ok {
			continue
		}
		spec := d.Spec.Template.Spec
		for _, c := range slices.Concat(spec.InitContainers, spec.Containers) {
			p := Process{Name: fmt.Sprintf("%s Deployment %s container %s", obj.File, d.Name, c.Name),
				Args: orArgs(c.Args, defaultArgs), Env: maps.Clone(image)}
			if err := k.containerEnv(c, p.Env); err != nil {
				errs = append(errs, fmt.Errorf("%s: %w", p.Name, err))
			}
			procs = append(procs, p)
		}
	}

	for _, svc := range k.Render.Services {
		if svc.Runtime != "docker" {
			continue
		}
		p := Process{Name: "render.yaml service " + svc.Name, Args: defaultArgs, Env: maps.Clone(image)}
		for _, ev := range svc.EnvVars {
			v, set, err := k.Render.resolve(ev)
			if err != nil {
				errs = append(errs, fmt.Errorf("%s: %s: %w", p.Name, ev.Key, err))
			}
			if set {
				p.Env[ev.Key] = v
			}
		}
		procs = append(procs, p)
	}
	return procs, errors.Join(errs...)
}

// containerEnv fills env as the kubelet would: envFrom first, then env in order, expanding
// $(VAR) references to variables defined before.
func (k *Kit) containerEnv(c corev1.Container, env map[string]string) error {
	var errs []error
	for _, from := range c.EnvFrom {
		var data map[string]string
		var err error
		switch {
		case from.ConfigMapRef != nil:
			data, err = k.configMap(from.ConfigMapRef.Name)
		case from.SecretRef != nil:
			data, err = k.secret(from.SecretRef.Name)
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("envFrom: %w", err))
		}
		for key, v := range data {
			env[from.Prefix+key] = v
		}
	}
	for _, e := range c.Env {
		var data map[string]string
		var key string
		var err error
		switch from := e.ValueFrom; {
		case from == nil:
			env[e.Name] = ExpandK8s(e.Value, env)
			continue
		case from.FieldRef != nil && from.FieldRef.FieldPath == "status.podIP":
			env[e.Name] = PlaceholderPodIP
			continue
		case from.FieldRef != nil:
			env[e.Name] = "placeholder-" + from.FieldRef.FieldPath
			continue
		case from.ConfigMapKeyRef != nil:
			data, err = k.configMap(from.ConfigMapKeyRef.Name)
			key = from.ConfigMapKeyRef.Key
		case from.SecretKeyRef != nil:
			data, err = k.secret(from.SecretKeyRef.Name)
			key = from.SecretKeyRef.Key
		default:
			err = errors.New("unsupported valueFrom")
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("env %s: %w", e.Name, err))
			continue
		}
		env[e.Name] = data[key]
	}
	return errors.Join(errs...)
}

// configMap returns the data of the kit's ConfigMap name.
func (k *Kit) configMap(name string) (map[string]string, error) {
	cm, ok := Find[*corev1.ConfigMap](k.Kubernetes, name)
	if !ok {
		return nil, fmt.Errorf("no ConfigMap %q in k8s/", name)
	}
	return cm.Data, nil
}

// secret returns the data of the kit's Secret name (the example's placeholders).
func (k *Kit) secret(name string) (map[string]string, error) {
	s, ok := Find[*corev1.Secret](k.Kubernetes, name)
	if !ok {
		return nil, fmt.Errorf("no Secret %q in k8s/ (not even an example)", name)
	}
	data := maps.Clone(s.StringData)
	if data == nil {
		data = map[string]string{}
	}
	for key, v := range s.Data {
		data[key] = string(v)
	}
	return data, nil
}

var k8sRef = regexp.MustCompile(`\$\$|\$\(([A-Za-z_][A-Za-z0-9_]*)\)`)

// ExpandK8s expands $(VAR) in a container env value with the variables defined so far, as the
// kubelet does: an undefined reference stays as written and $$ escapes a dollar.
func ExpandK8s(s string, env map[string]string) string {
	return k8sRef.ReplaceAllStringFunc(s, func(m string) string {
		if m == "$$" {
			return "$"
		}
		if v, ok := env[m[2:len(m)-1]]; ok {
			return v
		}
		return m
	})
}

var composeRef = regexp.MustCompile(`\$\$|\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-?])([^}]*))?\}|\$([A-Za-z_][A-Za-z0-9_]*)`)

// Interpolate resolves docker compose's ${VAR}, ${VAR:-default}, ${VAR-default}, ${VAR:?err}
// and ${VAR?err} against vars (the --env-file). A required variable that is missing is an error.
func Interpolate(s string, vars map[string]string) (string, error) {
	var errs []error
	out := composeRef.ReplaceAllStringFunc(s, func(m string) string {
		if m == "$$" {
			return "$"
		}
		sub := composeRef.FindStringSubmatch(m)
		name, op, arg := sub[1], sub[2], sub[3]
		if name == "" {
			name = sub[4]
		}
		v, set := vars[name]
		empty := !set || (strings.HasPrefix(op, ":") && v == "")
		switch {
		case strings.HasSuffix(op, "-") && empty:
			return arg
		case strings.HasSuffix(op, "?") && empty:
			errs = append(errs, fmt.Errorf("${%s} is required (%s) and not set in .env.example", name, arg))
			return ""
		}
		return v
	})
	return out, errors.Join(errs...)
}

// ComposeRefs returns the variable names s interpolates.
func ComposeRefs(s string) []string {
	var names []string
	for _, sub := range composeRef.FindAllStringSubmatch(s, -1) {
		if n := cmp.Or(sub[1], sub[4]); n != "" {
			names = append(names, n)
		}
	}
	return names
}

// Compose is the subset of the Compose file format the kit uses; decoding is strict, so a
// misspelt key fails. Top-level x- extension fields hold YAML anchors.
type Compose struct {
	Name       string                    `yaml:"name"`
	Services   map[string]ComposeService `yaml:"services"`
	Volumes    map[string]any            `yaml:"volumes"`
	Extensions map[string]yaml.Node      `yaml:",inline"`
}

// ComposeService is one service of a Compose file.
type ComposeService struct {
	Image       string            `yaml:"image"`
	Build       *ComposeBuild     `yaml:"build"`
	Hostname    string            `yaml:"hostname"`
	Command     []string          `yaml:"command"`
	Environment map[string]string `yaml:"environment"`
	Ports       []string          `yaml:"ports"`
	Volumes     []string          `yaml:"volumes"`
	DependsOn   map[string]struct {
		Condition string `yaml:"condition"`
	} `yaml:"depends_on"`
	Healthcheck *struct {
		Test     []string `yaml:"test"`
		Interval string   `yaml:"interval"`
		Timeout  string   `yaml:"timeout"`
		Retries  int      `yaml:"retries"`
	} `yaml:"healthcheck"`
	Restart string `yaml:"restart"`
}

// ComposeBuild is a service's build section.
type ComposeBuild struct {
	Context    string `yaml:"context"`
	Dockerfile string `yaml:"dockerfile"`
}

// IsJack reports whether the service runs the jack image (built from deploy/Dockerfile).
func (s ComposeService) IsJack() bool {
	return s.Build != nil && strings.HasSuffix(s.Build.Dockerfile, "deploy/Dockerfile")
}

// Render is the subset of Render's Blueprint spec the kit uses (strict, like Compose).
type Render struct {
	Services  []RenderService  `yaml:"services"`
	Databases []RenderDatabase `yaml:"databases"`
}

// RenderDatabase is one entry of a Blueprint's databases (Render Postgres).
type RenderDatabase struct {
	Name                 string `yaml:"name"`
	DatabaseName         string `yaml:"databaseName"`
	User                 string `yaml:"user"`
	Plan                 string `yaml:"plan"`
	PostgresMajorVersion string `yaml:"postgresMajorVersion"`
	IPAllowList          []any  `yaml:"ipAllowList"`
}

// RenderService is one entry of a Blueprint's services.
type RenderService struct {
	Type            string      `yaml:"type"`
	Name            string      `yaml:"name"`
	Runtime         string      `yaml:"runtime"`
	Plan            string      `yaml:"plan"`
	Region          string      `yaml:"region"`
	DockerfilePath  string      `yaml:"dockerfilePath"`
	DockerContext   string      `yaml:"dockerContext"`
	DockerCommand   string      `yaml:"dockerCommand"`
	BuildCommand    string      `yaml:"buildCommand"`
	StartCommand    string      `yaml:"startCommand"`
	NumInstances    int         `yaml:"numInstances"`
	HealthCheckPath string      `yaml:"healthCheckPath"`
	EnvVars         []RenderEnv `yaml:"envVars"`
	IPAllowList     []any       `yaml:"ipAllowList"`
	MaxmemoryPolicy string      `yaml:"maxmemoryPolicy"`
}

// RenderEnv is one envVars entry: exactly one of Value, Sync false, GenerateValue, FromDatabase
// or FromService says where the value comes from.
type RenderEnv struct {
	Key           string  `yaml:"key"`
	Value         *string `yaml:"value"`
	Sync          *bool   `yaml:"sync"`
	GenerateValue bool    `yaml:"generateValue"`
	FromDatabase  *struct {
		Name     string `yaml:"name"`
		Property string `yaml:"property"`
	} `yaml:"fromDatabase"`
	FromService *struct {
		Type      string `yaml:"type"`
		Name      string `yaml:"name"`
		Property  string `yaml:"property"`
		EnvVarKey string `yaml:"envVarKey"`
	} `yaml:"fromService"`
}

// resolve returns the value ev gives its service at run time (placeholders for what Render
// generates) and whether it sets one at all.
func (r *Render) resolve(ev RenderEnv) (string, bool, error) {
	sources := 0
	for _, b := range []bool{ev.Value != nil, ev.Sync != nil, ev.GenerateValue, ev.FromDatabase != nil, ev.FromService != nil} {
		if b {
			sources++
		}
	}
	if sources != 1 {
		return "", false, fmt.Errorf("needs exactly one of value, sync, generateValue, fromDatabase, fromService (has %d)", sources)
	}
	switch {
	case ev.Value != nil:
		return *ev.Value, true, nil
	case ev.Sync != nil:
		if *ev.Sync {
			return "", false, errors.New("sync: true is the default; write a value or sync: false")
		}
		return "", false, nil
	case ev.GenerateValue:
		return PlaceholderSecret, true, nil
	case ev.FromDatabase != nil:
		if !slices.ContainsFunc(r.Databases, func(d RenderDatabase) bool { return d.Name == ev.FromDatabase.Name }) {
			return "", false, fmt.Errorf("fromDatabase %q is not in databases", ev.FromDatabase.Name)
		}
		if ev.FromDatabase.Property != "connectionString" {
			return "placeholder", true, nil
		}
		return PlaceholderDatabaseURL, true, nil
	default:
		ref := ev.FromService
		i := slices.IndexFunc(r.Services, func(s RenderService) bool { return s.Name == ref.Name })
		if i < 0 || r.Services[i].Type != ref.Type {
			return "", false, fmt.Errorf("fromService %s %q is not in services", ref.Type, ref.Name)
		}
		if ref.Type == "keyvalue" && ref.Property == "connectionString" {
			return PlaceholderRedisURL, true, nil
		}
		return "placeholder", true, nil
	}
}

// Kustomization is the subset of kustomize's file the kit uses.
type Kustomization struct {
	APIVersion string   `yaml:"apiVersion"`
	Kind       string   `yaml:"kind"`
	Resources  []string `yaml:"resources"`
}

// Object is one Kubernetes object of k8s/, decoded strictly into its API type.
type Object struct {
	File   string // base name, e.g. deployment.yaml
	Kind   string
	Name   string
	Meta   metav1.ObjectMeta
	Object runtime.Object
}

// kinds are the API types the kit may use; any other kind is an error, so a typo in kind or
// apiVersion does not slip through as an unknown object.
var kinds = map[string]func() runtime.Object{
	"v1/ServiceAccount":                        func() runtime.Object { return new(corev1.ServiceAccount) },
	"v1/ConfigMap":                             func() runtime.Object { return new(corev1.ConfigMap) },
	"v1/Secret":                                func() runtime.Object { return new(corev1.Secret) },
	"v1/Service":                               func() runtime.Object { return new(corev1.Service) },
	"apps/v1/Deployment":                       func() runtime.Object { return new(appsv1.Deployment) },
	"policy/v1/PodDisruptionBudget":            func() runtime.Object { return new(policyv1.PodDisruptionBudget) },
	"rbac.authorization.k8s.io/v1/Role":        func() runtime.Object { return new(rbacv1.Role) },
	"rbac.authorization.k8s.io/v1/RoleBinding": func() runtime.Object { return new(rbacv1.RoleBinding) },
}

var docSeparator = regexp.MustCompile(`(?m)^---[ \t]*$`)

// ReadObjects decodes every document of a manifest file strictly (unknown fields fail) into
// its API type, and requires apiVersion, kind and metadata.name.
func ReadObjects(path string) ([]Object, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var objs []Object
	for i, doc := range docSeparator.Split(string(b), -1) {
		if strings.TrimSpace(stripComments(doc)) == "" {
			continue
		}
		where := fmt.Sprintf("%s document %d", filepath.Base(path), i+1)
		var tm metav1.TypeMeta
		if err := k8syaml.Unmarshal([]byte(doc), &tm); err != nil {
			return nil, fmt.Errorf("%s: %w", where, err)
		}
		if tm.APIVersion == "" || tm.Kind == "" {
			return nil, fmt.Errorf("%s: apiVersion and kind are required", where)
		}
		newObj := kinds[tm.APIVersion+"/"+tm.Kind]
		if newObj == nil {
			return nil, fmt.Errorf("%s: %s %s is not a kind the kit knows", where, tm.APIVersion, tm.Kind)
		}
		obj := newObj()
		if err := k8syaml.UnmarshalStrict([]byte(doc), obj); err != nil {
			return nil, fmt.Errorf("%s (%s): %w", where, tm.Kind, err)
		}
		meta, err := objectMeta(obj)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", where, err)
		}
		if meta.Name == "" {
			return nil, fmt.Errorf("%s: metadata.name is required", where)
		}
		objs = append(objs, Object{File: filepath.Base(path), Kind: tm.Kind, Name: meta.Name, Meta: meta, Object: obj})
	}
	return objs, nil
}

func objectMeta(obj runtime.Object) (metav1.ObjectMeta, error) {
	m, ok := obj.(interface{ GetObjectMeta() metav1.Object })
	if !ok {
		return metav1.ObjectMeta{}, fmt.Errorf("%T has no metadata", obj)
	}
	// Round-trip through JSON: metav1.Object is an interface over the concrete ObjectMeta.
	b, err := json.Marshal(m.GetObjectMeta())
	if err != nil {
		return metav1.ObjectMeta{}, err
	}
	var meta metav1.ObjectMeta
	return meta, json.Unmarshal(b, &meta)
}

// Find returns the object of type T named name.
func Find[T runtime.Object](objs []Object, name string) (T, bool) {
	for _, o := range objs {
		if t, ok := o.Object.(T); ok && o.Name == name {
			return t, true
		}
	}
	var zero T
	return zero, false
}

// All returns every object of type T.
func All[T runtime.Object](objs []Object) []T {
	var out []T
	for _, o := range objs {
		if t, ok := o.Object.(T); ok {
			out = append(out, t)
		}
	}
	return out
}

// Dockerfile is a parsed Dockerfile: its instructions, split into build stages.
type Dockerfile struct {
	Stages []Stage
}

// Stage is one FROM and the instructions after it.
type Stage struct {
	From         string // the image, e.g. golang:1.26
	Name         string // the AS name, if any
	Instructions []Instruction
}

// Instruction is one Dockerfile instruction, continuation lines joined.
type Instruction struct {
	Cmd  string // upper case: RUN, ENV, USER …
	Args string
}

// ReadDockerfile parses path. It knows comments, line continuations and stages; nothing more.
func ReadDockerfile(path string) (*Dockerfile, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	df := new(Dockerfile)
	var line strings.Builder
	sc := bufio.NewScanner(bytes.NewReader(b))
	flush := func() error {
		s := strings.TrimSpace(line.String())
		line.Reset()
		if s == "" {
			return nil
		}
		cmd, args, _ := strings.Cut(s, " ")
		in := Instruction{Cmd: strings.ToUpper(cmd), Args: strings.TrimSpace(args)}
		if in.Cmd == "FROM" {
			f := strings.Fields(in.Args)
			st := Stage{From: f[0]}
			if len(f) == 3 && strings.EqualFold(f[1], "AS") {
				st.Name = f[2]
			}
			df.Stages = append(df.Stages, st)
			return nil
		}
		if len(df.Stages) == 0 {
			return fmt.Errorf("%s: %s before the first FROM", path, in.Cmd)
		}
		st := &df.Stages[len(df.Stages)-1]
		st.Instructions = append(st.Instructions, in)
		return nil
	}
	for sc.Scan() {
		t := strings.TrimSpace(sc.Text())
		if strings.HasPrefix(t, "#") {
			continue
		}
		if cont, ok := strings.CutSuffix(t, "\\"); ok {
			line.WriteString(cont + " ")
			continue
		}
		line.WriteString(t)
		if err := flush(); err != nil {
			return nil, err
		}
	}
	if err := flush(); err != nil {
		return nil, err
	}
	if len(df.Stages) == 0 {
		return nil, fmt.Errorf("%s: no FROM", path)
	}
	return df, sc.Err()
}

// Final is the stage that becomes the image.
func (d *Dockerfile) Final() Stage { return d.Stages[len(d.Stages)-1] }

// All returns the arguments of every instruction cmd in the stage.
func (s Stage) All(cmd string) []string {
	var out []string
	for _, in := range s.Instructions {
		if in.Cmd == cmd {
			out = append(out, in.Args)
		}
	}
	return out
}

// Last returns the arguments of the stage's last instruction cmd (the one that takes effect).
func (s Stage) Last(cmd string) string {
	all := s.All(cmd)
	if len(all) == 0 {
		return ""
	}
	return all[len(all)-1]
}

// Env returns the stage's ENV variables (KEY=VALUE form).
func (s Stage) Env() map[string]string {
	env := map[string]string{}
	for _, args := range s.All("ENV") {
		for _, kv := range strings.Fields(args) {
			if k, v, ok := strings.Cut(kv, "="); ok {
				env[k] = strings.Trim(v, `"`)
			}
		}
	}
	return env
}

// Exec returns an instruction's JSON (exec) form, or nil when it is not one.
func Exec(args string) []string {
	var argv []string
	if json.Unmarshal([]byte(args), &argv) != nil {
		return nil
	}
	return argv
}

// Cmd returns the stage's CMD in exec form.
func (s Stage) Cmd() []string { return Exec(s.Last("CMD")) }

// decodeStrict decodes the single YAML document at path into v, failing on unknown fields.
func decodeStrict(path string, v any) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("%s: %w", filepath.Base(path), err)
	}
	return nil
}

// readEnvFile reads KEY=VALUE lines, skipping comments and blank lines.
func readEnvFile(path string) (map[string]string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	env := map[string]string{}
	for i, l := range strings.Split(string(b), "\n") {
		l = strings.TrimSpace(l)
		if l == "" || strings.HasPrefix(l, "#") {
			continue
		}
		k, v, ok := strings.Cut(l, "=")
		if !ok {
			return nil, fmt.Errorf("%s:%d: not KEY=VALUE", filepath.Base(path), i+1)
		}
		env[strings.TrimSpace(k)] = strings.TrimSpace(v)
	}
	return env, nil
}

func stripComments(doc string) string {
	var b strings.Builder
	for _, l := range strings.Split(doc, "\n") {
		if !strings.HasPrefix(strings.TrimSpace(l), "#") {
			b.WriteString(l + "\n")
		}
	}
	return b.String()
}

// orArgs returns args when given, else the image's default.
func orArgs(args, def []string) []string {
	if len(args) > 0 {
		return args
	}
	return def
}
