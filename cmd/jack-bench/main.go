// Command jack-bench measures a jack node the way its users load it: it starts the jack binary
// (embedded, then Postgres + Redis), drives it with signed webhooks and SSE dashboards from this
// process, and prints a table of throughput, latency, memory and CPU per scenario, with JSON in
// bench/results/. bench/README.md describes the scenarios and how to read the numbers.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	goredis "github.com/redis/go-redis/v9"
)

const (
	modeEmbedded = "embedded"
	modePostgres = "postgres"
)

type options struct {
	jack         string
	quick        bool
	compare      bool
	modes        []string
	scenarios    []string
	out          string
	pgURL        string
	redisURL     string
	goBench      string
	step         time.Duration
	conc         []int
	smsCustomers int
	openRate     float64
	callRate     float64
	coldRate     float64
	sseLevels    []int
	sseFanout    int
	sseRate      float64
	sseStep      time.Duration
	memConvs     int
	memMessages  int
	profile      bool
	// The comparison workload (scenario mixed).
	mixedCustomers int
	mixedConc      int
	mixedSMSRate   float64
	dashboards     int
	// set names the flags given on the command line (they override the per-mode sizes).
	set map[string]bool
}

func main() {
	opt, err := parseFlags(os.Args[1:])
	if err != nil {
		if !errors.Is(err, flag.ErrHelp) {
			fmt.Fprintln(os.Stderr, "jack-bench:", err)
		}
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, opt); err != nil {
		fmt.Fprintln(os.Stderr, "jack-bench:", err)
		os.Exit(1)
	}
}

func parseFlags(args []string) (options, error) {
	fs := flag.NewFlagSet("jack-bench", flag.ContinueOnError)
	var o options
	var modes, scenarios, conc, levels string
	fs.StringVar(&o.jack, "jack", "", "the jack binary to run (default bin/jack)")
	fs.BoolVar(&o.quick, "quick", false, "short steps and smaller sizes (about 3 minutes, for development)")
	fs.BoolVar(&o.compare, "compare", false, "only issue 13's comparison workload on Postgres + Redis, 10s steps (about 2 minutes): -modes postgres -scenarios mixed,sse -sse 5000 -step 10s -sse-step 10s, unless those flags are given")
	fs.StringVar(&modes, "modes", "embedded,postgres", "storage modes to run: embedded, postgres")
	fs.StringVar(&scenarios, "scenarios", "sms,call,mixed,sse,memory", "scenarios to run: sms, call, mixed, sse, memory (call needs sms)")
	fs.StringVar(&o.out, "out", filepath.Join("bench", "results"), "where the JSON results go")
	fs.StringVar(&o.pgURL, "pg", "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable", "Postgres admin URL (the bench creates and drops its own database)")
	fs.StringVar(&o.redisURL, "redis", "redis://127.0.0.1:6379/9", "Redis URL for the Postgres + Redis mode")
	fs.StringVar(&o.goBench, "gobench", "", "output of `go test -bench -benchmem` to include in the report")
	fs.DurationVar(&o.step, "step", 0, "duration of each load step (default 5s, 2s with -quick)")
	fs.StringVar(&conc, "conc", "1,4,16,64,256", "closed-loop concurrency sweep for inbound SMS")
	fs.IntVar(&o.smsCustomers, "customers", 2000, "customers texting in the SMS scenario (their grains stay active)")
	fs.Float64Var(&o.openRate, "sms-rate", 2500, "open-loop inbound SMS rate (the p99 target is at half of 5,000/s)")
	fs.Float64Var(&o.callRate, "call-rate", 1000, "open-loop call-start rate for hot conversations (call-hot, call-under-sms)")
	fs.Float64Var(&o.coldRate, "cold-rate", 200, "open-loop call-start rate for cold conversations")
	fs.StringVar(&levels, "sse", "", "SSE client counts, connected in steps (default 1000,5000,20000; 1000,5000 with -quick; embedded stops at 5000 unless set)")
	fs.IntVar(&o.sseFanout, "sse-fanout", 100, "dashboards per dealership: each event reaches this many clients")
	fs.Float64Var(&o.sseRate, "sse-rate", 500, "events per second while measuring SSE delivery")
	fs.DurationVar(&o.sseStep, "sse-step", 0, "duration of each SSE measurement (default 8s, 4s with -quick)")
	fs.IntVar(&o.memConvs, "conversations", 0, "conversations activated for the memory scenario (default 20000, 2000 with -quick; embedded at most 5000 unless set)")
	fs.IntVar(&o.memMessages, "messages", 50, "messages per conversation in the memory scenario")
	fs.IntVar(&o.mixedCustomers, "mixed-customers", 400, "customers per mixed row, split over its dealerships (mixed-2org: 2 x 200)")
	fs.IntVar(&o.mixedConc, "mixed-conc", 32, "webhooks in flight in mixed-2org, mixed-1org and call-32 (closed loop)")
	fs.Float64Var(&o.mixedSMSRate, "mixed-sms-rate", 1000, "open-loop inbound SMS rate under the call starts of call-under-sms")
	fs.IntVar(&o.dashboards, "dashboards", 20, "SSE dashboards streaming during mixed-2org and mixed-1org")
	fs.BoolVar(&o.profile, "profile", true, "record jack's CPU with perf during the rows the targets are judged on (needs perf)")
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	o.set = map[string]bool{}
	fs.Visit(func(f *flag.Flag) { o.set[f.Name] = true })
	if o.compare {
		preset := func(name string, v *string, value string) {
			if !o.set[name] {
				*v = value
			}
		}
		preset("modes", &modes, modePostgres)
		preset("scenarios", &scenarios, "mixed,sse")
		preset("sse", &levels, "5000")
		if !o.set["step"] {
			o.step = 10 * time.Second
		}
		if !o.set["sse-step"] {
			o.sseStep = 10 * time.Second
		}
	}
	def := func(d *time.Duration, full, quick time.Duration) {
		if *d <= 0 {
			*d = map[bool]time.Duration{false: full, true: quick}[o.quick]
		}
	}
	def(&o.step, 5*time.Second, 2*time.Second)
	def(&o.sseStep, 8*time.Second, 4*time.Second)
	if levels == "" {
		levels = map[bool]string{false: "1000,5000,20000", true: "1000,5000"}[o.quick]
	}
	if o.memConvs <= 0 {
		o.memConvs = map[bool]int{false: 20000, true: 2000}[o.quick]
	}
	o.modes, o.scenarios = splitList(modes), splitList(scenarios)
	for _, m := range o.modes {
		if m != modeEmbedded && m != modePostgres {
			return o, fmt.Errorf("-modes: unknown mode %q", m)
		}
	}
	for _, s := range o.scenarios {
		if !slices.Contains([]string{"sms", "call", "mixed", "sse", "memory"}, s) {
			return o, fmt.Errorf("-scenarios: unknown scenario %q", s)
		}
	}
	if o.mixedCustomers < 2 || o.mixedConc <= 0 || o.mixedSMSRate <= 0 || o.dashboards <= 0 {
		return o, errors.New("-mixed-customers must be at least 2, -mixed-conc, -mixed-sms-rate and -dashboards positive")
	}
	var err error
	if o.conc, err = intList(conc); err != nil {
		return o, fmt.Errorf("-conc: %w", err)
	}
	if o.sseLevels, err = intList(levels); err != nil {
		return o, fmt.Errorf("-sse: %w", err)
	}
	return o, nil
}

func splitList(s string) []string {
	var out []string
	for _, f := range strings.Split(s, ",") {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, f)
		}
	}
	return out
}

func intList(s string) ([]int, error) {
	var out []int
	for _, f := range splitList(s) {
		n, err := strconv.Atoi(f)
		if err != nil || n <= 0 {
			return nil, fmt.Errorf("%q is not a positive number", f)
		}
		out = append(out, n)
	}
	return out, nil
}

// bench is one run of every mode and scenario.
type bench struct {
	opt     options
	jackBin string
	workDir string
	hc      *http.Client
	twilio  *fakeTwilio
	phones  phoneGen
	sids    *sidSeq
	started time.Time

	mu     sync.Mutex
	report report
}

func (b *bench) has(scenario string) bool { return slices.Contains(b.opt.scenarios, scenario) }

func (b *bench) add(r result) {
	b.mu.Lock()
	b.report.Results = append(b.report.Results, r)
	b.mu.Unlock()
	b.progress("%-12s %-8s %-8s ok=%d err=%d %.0f/s p50=%.2fms p99=%.2fms cpu jack=%.2f pg=%.2f redis=%.2f bench=%.2f other=%.2f %s",
		r.Scenario, r.Mode, r.Load, r.Requests, r.Errors, r.Throughput, r.Latency.P50, r.Latency.P99,
		r.CPU.Jack, r.CPU.Postgres, r.CPU.Redis, r.CPU.Bench, r.CPU.Other, r.Note)
}

// note records something the reader of the table must know (a scenario that could not run).
func (b *bench) note(format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	b.mu.Lock()
	defer b.mu.Unlock()
	if slices.Contains(b.report.Notes, msg) {
		return
	}
	b.report.Notes = append(b.report.Notes, msg)
	b.progress("NOTE %s", msg)
}

func (b *bench) progress(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "[%6.1fs] %s\n", time.Since(b.started).Seconds(), fmt.Sprintf(format, args...))
}

func run(ctx context.Context, opt options) error {
	jackBin, err := findJack(opt.jack)
	if err != nil {
		return err
	}
	limit := raiseFileLimit()
	workDir, err := os.MkdirTemp("", "jack-bench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(workDir)
	tw, err := startFakeTwilio()
	if err != nil {
		return err
	}
	defer tw.close()
	b := &bench{opt: opt, jackBin: jackBin, workDir: workDir, hc: newHTTPClient(), twilio: tw, sids: newSidSeq(), started: time.Now()}
	b.report = report{StartedAt: b.started, Host: hostInfo(), Options: map[string]any{
		"quick": opt.quick, "modes": opt.modes, "scenarios": opt.scenarios, "step": opt.step.String(), "concurrency": opt.conc,
		"customers": opt.smsCustomers, "smsRate": opt.openRate, "callRate": opt.callRate, "coldRate": opt.coldRate,
		"sseLevels": opt.sseLevels, "sseFanout": opt.sseFanout, "sseRate": opt.sseRate, "sseStep": opt.sseStep.String(),
		"conversations": opt.memConvs, "messages": opt.memMessages, "fileLimit": limit, "compare": opt.compare,
		"mixedCustomers": opt.mixedCustomers, "mixedConcurrency": opt.mixedConc, "mixedSMSRate": opt.mixedSMSRate,
		"dashboards": opt.dashboards, "mixedDuplicates": mixedDupShare,
	}}
	b.progress("jack-bench: %s, file limit %d, work dir %s", jackBin, limit, workDir)
	if opt.goBench != "" {
		if gb, err := parseGoBench(opt.goBench); err != nil {
			b.note("go benchmarks: %v", err)
		} else {
			b.report.GoBench = gb
		}
	}
	for _, mode := range opt.modes {
		if ctx.Err() != nil {
			break
		}
		if err := b.runMode(ctx, mode); err != nil {
			b.note("%s mode stopped: %v", mode, err)
		}
	}
	b.report.Duration = time.Since(b.started).Round(time.Second).String()
	if la, err := os.ReadFile("/proc/loadavg"); err == nil {
		b.report.Host["loadAvgAtEnd"] = strings.TrimSpace(string(la))
	}
	b.report.judge()
	printTable(os.Stdout, &b.report)
	printProfiles(os.Stdout, &b.report)
	path, err := writeJSON(opt.out, &b.report)
	if err != nil {
		return fmt.Errorf("write results: %w", err)
	}
	fmt.Printf("\nresults: %s (and %s)\n", path, filepath.Join(opt.out, "latest.json"))
	return ctx.Err()
}

// runMode runs every scenario against one storage mode.
func (b *bench) runMode(ctx context.Context, mode string) error {
	m := &modeRun{b: b, mode: mode, env: map[string]string{
		"JACK_DATA_DIR":                   filepath.Join(b.workDir, mode),
		"JWT_SECRET":                      benchJWTSecret,
		"TWILIO_ACCOUNT_SID":              twilioAccountSID,
		"TWILIO_AUTH_TOKEN":               twilioAuthToken,
		"TWILIO_API_URL":                  b.twilio.url,
		"ELEVENLABS_WEBHOOK_HEADER_VALUE": initiationSecret,
		// AI replies would add their own load (and the fake Twilio's); the scenarios measure
		// the inbound paths, so the debounce outlives the run.
		"JACK_AI_DEBOUNCE": "1h",
	}}
	switch mode {
	case modeEmbedded:
		a, err := openSQLiteAccess(filepath.Join(b.workDir, mode, "jack.db"))
		if err != nil {
			return err
		}
		m.access = a
	case modePostgres:
		if err := pingRedis(ctx, b.opt.redisURL); err != nil {
			return fmt.Errorf("redis at %s: %w", b.opt.redisURL, err)
		}
		dbURL, drop, err := benchDatabase(ctx, b.opt.pgURL)
		if err != nil {
			return err
		}
		defer drop()
		m.env["DATABASE_URL"], m.env["REDIS_URL"] = dbURL, b.opt.redisURL
		a, err := openPostgresAccess(ctx, dbURL)
		if err != nil {
			return err
		}
		m.access = a
	}
	defer m.access.close()

	if err := m.start(ctx, "main"); err != nil {
		return err
	}
	defer m.stop()
	d, err := m.api.register(ctx, "Premium Auto "+mode, b.phones.take(1)[0])
	if err != nil {
		return fmt.Errorf("register: %w", err)
	}
	m.dealer = d
	b.progress("%s: jack pid %d at %s, dealership %s", mode, m.node.pid(), m.node.url, d.ID)

	if b.has("sms") {
		m.runSMS(ctx, b.opt.conc, b.opt.step, b.opt.openRate)
		if b.has("call") {
			m.runCallHot(ctx, b.opt.callRate, b.opt.step)
		}
	} else if b.has("call") {
		b.note("%s: the call scenario's hot conversations come from the sms scenario; skipped", mode)
	}
	if b.has("mixed") && ctx.Err() == nil {
		m.runMixed(ctx)
	}
	// The embedded default is the one-dealership, try-it-out mode: its SSE and memory steps stop
	// at 5,000 so `make bench` fits its time budget; the targets are judged on Postgres + Redis.
	var levels []int
	if b.has("sse") {
		levels = b.sseLevels()
	}
	convs := b.opt.memConvs
	if mode == modeEmbedded {
		if !b.opt.set["sse"] {
			levels = slices.DeleteFunc(levels, func(k int) bool { return k > 5000 })
		}
		if !b.opt.set["conversations"] {
			convs = min(convs, 5000)
		}
	}
	if b.has("sse") && ctx.Err() == nil {
		m.runSSE(ctx, levels, b.opt.sseFanout, b.opt.sseRate, b.opt.sseStep)
	}
	m.stop()
	if b.has("memory") && ctx.Err() == nil {
		if err := m.runMemory(ctx, convs, b.opt.memMessages, b.opt.coldRate, b.opt.step); err != nil {
			return fmt.Errorf("memory: %w", err)
		}
	}
	return nil
}

// sseLevels are the requested dashboard counts, the largest clamped to what the open-file limit
// leaves room for: both jack and this process hold one socket per dashboard, and an
// unprivileged process cannot raise its hard limit (in this sandbox 20,000, without
// CAP_SYS_RESOURCE).
func (b *bench) sseLevels() []int {
	limit := int(b.report.Options["fileLimit"].(uint64))
	room := limit - 1200 // the load generator's connections (up to 512 in flight), the database pool, logs
	var out []int
	for _, k := range b.opt.sseLevels {
		if k > room {
			b.note("SSE: %d dashboards do not fit the open-file limit of %d per process (hard limit, not raisable here); measuring %d instead", k, limit, room)
			k = room
		}
		if len(out) == 0 || k > out[len(out)-1] {
			out = append(out, k)
		}
	}
	return out
}

func pingRedis(ctx context.Context, redisURL string) error {
	opt, err := goredis.ParseURL(redisURL)
	if err != nil {
		return err
	}
	c := goredis.NewClient(opt)
	defer func() { _ = c.Close() }()
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	return c.Ping(ctx).Err()
}

// raiseFileLimit lifts the open-file limit (soft and, as root, hard) so 20,000 dashboards fit on
// both ends; jack inherits it. It returns the soft limit in force.
func raiseFileLimit() uint64 {
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		return 0
	}
	const want = 200_000
	if lim.Max < want {
		raised := syscall.Rlimit{Cur: want, Max: want}
		if syscall.Setrlimit(syscall.RLIMIT_NOFILE, &raised) == nil {
			return want
		}
	}
	lim.Cur = lim.Max
	_ = syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim)
	return lim.Cur
}
