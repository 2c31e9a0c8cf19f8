package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"text/tabwriter"
	"time"
)

// result is one measured row: a scenario at one load in one mode.
type result struct {
	Scenario   string   `json:"scenario"`
	Mode       string   `json:"mode"`
	Load       string   `json:"load"` // "c=16" closed loop, "1000/s" open loop, "K=20000" clients
	Requests   int      `json:"requests"`
	Errors     int      `json:"errors"`
	Throughput float64  `json:"throughput"` // answered requests (or deliveries) per second
	Latency    stats    `json:"latency"`
	CPU        cpuShare `json:"cpu"`
	// CPUPerRequest is jack's, Postgres's and Redis's CPU time per request answered, in ms.
	CPUPerRequest *cpuCost       `json:"cpuMsPerRequest,omitempty"`
	Note          string         `json:"note,omitempty"`
	Extra         map[string]any `json:"extra,omitempty"`
	Profile       *profile       `json:"profile,omitempty"`
}

// goBench is one Go benchmark line (scenario 5).
type goBench struct {
	Name        string  `json:"name"`
	NsPerOp     float64 `json:"nsPerOp"`
	BytesPerOp  float64 `json:"bytesPerOp"`
	AllocsPerOp float64 `json:"allocsPerOp"`
}

// target is one of the promises, judged from the results.
type target struct {
	Name string `json:"name"`
	Want string `json:"want"`
	Got  string `json:"got"`
	// Met is "met", "missed" or "not measured".
	Met string `json:"met"`
	// Why is, for a missed target, where the machine's time went during its row.
	Why string `json:"why,omitempty"`
}

// report is everything a run writes: bench/results/<timestamp>.json and latest.json.
type report struct {
	StartedAt time.Time      `json:"startedAt"`
	Duration  string         `json:"duration"`
	Host      map[string]any `json:"host"`
	Options   map[string]any `json:"options"`
	Results   []result       `json:"results"`
	GoBench   []goBench      `json:"goBench,omitempty"`
	Targets   []target       `json:"targets"`
	Notes     []string       `json:"notes,omitempty"`
}

func hostInfo() map[string]any {
	h := map[string]any{"cpus": runtime.NumCPU(), "go": runtime.Version(), "os": runtime.GOOS + "/" + runtime.GOARCH}
	if b, err := os.ReadFile("/proc/meminfo"); err == nil {
		line, _, _ := strings.Cut(string(b), "\n")
		h["memTotal"] = strings.Join(strings.Fields(line)[1:], " ")
	}
	if b, err := os.ReadFile("/proc/loadavg"); err == nil {
		h["loadAvgAtStart"] = strings.TrimSpace(string(b))
	}
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for line := range strings.Lines(string(b)) {
			if v, ok := strings.CutPrefix(line, "model name"); ok {
				h["cpu"] = strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(v), ":"))
				break
			}
		}
	}
	return h
}

// printTable writes the results as an aligned table.
func printTable(w io.Writer, r *report) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "scenario\tmode\tload\tok\terr\trate/s\tp50 ms\tp99 ms\tmax ms\tcpu ms/req jack+pg+redis\tcpu cores jack/pg/redis/bench/other\t")
	for _, res := range r.Results {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%d\t%.0f\t%s\t%s\t%s\t%s\t%.2f/%.2f/%.2f/%.2f/%.2f\t  %s\n",
			res.Scenario, res.Mode, res.Load, res.Requests, res.Errors, res.Throughput,
			msCell(res.Latency.P50, res.Latency.N), msCell(res.Latency.P99, res.Latency.N), msCell(res.Latency.Max, res.Latency.N),
			costCell(res.CPUPerRequest), res.CPU.Jack, res.CPU.Postgres, res.CPU.Redis, res.CPU.Bench, res.CPU.Other, res.Note)
	}
	tw.Flush()
	fmt.Fprintf(w, "cpu ms/req: CPU time of jack, Postgres (its background processes and the bench database's backends) and\n"+
		"Redis during the row, divided by the requests answered; %d cores here are shared by the load generator, the\n"+
		"server and anyone else's work, so throughput and latency are only what this box gave the node, and CPU per\n"+
		"request is the honest figure. cpu cores: the same as a share of the machine (%d.00 = all of it).\n", runtime.NumCPU(), runtime.NumCPU())
	if len(r.GoBench) > 0 {
		fmt.Fprintln(w)
		tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
		fmt.Fprintln(tw, "go benchmark\tns/op\tB/op\tallocs/op\t")
		for _, b := range r.GoBench {
			fmt.Fprintf(tw, "%s\t%.0f\t%.0f\t%.0f\t\n", b.Name, b.NsPerOp, b.BytesPerOp, b.AllocsPerOp)
		}
		tw.Flush()
	}
	fmt.Fprintln(w)
	tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "target\twant\tgot\t")
	for _, t := range r.Targets {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", t.Name, t.Want, t.Got, strings.ToUpper(t.Met))
	}
	tw.Flush()
	for _, t := range r.Targets {
		if t.Why != "" {
			fmt.Fprintf(w, "  %s missed: %s\n", t.Name, t.Why)
		}
	}
	for _, n := range r.Notes {
		fmt.Fprintln(w, "note:", n)
	}
}

// costCell is "0.123+0.456+0.012=0.591" ms, or "-".
func costCell(c *cpuCost) string {
	if c == nil {
		return "-"
	}
	return fmt.Sprintf("%.3f+%.3f+%.3f=%.3f", c.Jack, c.Postgres, c.Redis, c.Total)
}

func msCell(v float64, n int) string {
	if n == 0 {
		return "-"
	}
	return fmt.Sprintf("%.2f", v)
}

// writeJSON writes the report to dir/<timestamp>.json and dir/latest.json.
func writeJSON(dir string, r *report) (string, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return "", err
	}
	path := filepath.Join(dir, r.StartedAt.UTC().Format("20060102T150405Z")+".json")
	if err := os.WriteFile(path, b, 0o644); err != nil {
		return "", err
	}
	return path, os.WriteFile(filepath.Join(dir, "latest.json"), b, 0o644)
}

// parseGoBench reads `go test -bench -benchmem` output.
func parseGoBench(path string) ([]goBench, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var out []goBench
	for line := range strings.Lines(string(b)) {
		f := strings.Fields(line)
		if len(f) < 4 || !strings.HasPrefix(f[0], "Benchmark") {
			continue
		}
		gb := goBench{Name: f[0]}
		for i := 2; i+1 < len(f); i++ {
			var v float64
			if _, err := fmt.Sscan(f[i], &v); err != nil {
				continue
			}
			switch f[i+1] {
			case "ns/op":
				gb.NsPerOp = v
			case "B/op":
				gb.BytesPerOp = v
			case "allocs/op":
				gb.AllocsPerOp = v
			}
		}
		out = append(out, gb)
	}
	return out, nil
}

// find returns the results of scenario in mode.
func (r *report) find(scenario, mode string) []result {
	var out []result
	for _, res := range r.Results {
		if res.Scenario == scenario && res.Mode == mode {
			out = append(out, res)
		}
	}
	return out
}

// judge fills r.Targets from the Postgres + Redis results (the reference mode).
func (r *report) judge() {
	const mode = modePostgres
	add := func(name, want string, rows []result, got func([]result) (string, bool, result)) {
		t := target{Name: name, Want: want, Met: "not measured", Got: "-"}
		if len(rows) > 0 {
			g, ok, row := got(rows)
			t.Got, t.Met = g, "met"
			if !ok {
				t.Met, t.Why = "missed", r.explain(row)
			}
		}
		r.Targets = append(r.Targets, t)
	}
	mixed2, mixed1 := r.find("mixed-2org", mode), r.find("mixed-1org", mode)
	add("CPU per inbound SMS (jack+Postgres+Redis)", "<= 0.5 ms", append(slices.Clone(mixed2), mixed1...), func(rows []result) (string, bool, result) {
		worst := slices.MaxFunc(rows, func(a, b result) int { return cmpFloat(costOf(a).Total, costOf(b).Total) })
		var parts []string
		for _, x := range rows {
			parts = append(parts, fmt.Sprintf("%s %s", x.Scenario, costCell(x.CPUPerRequest)))
		}
		return strings.Join(parts, ", ") + " ms", worst.CPUPerRequest != nil && worst.CPUPerRequest.Total <= 0.5, worst
	})
	call32 := r.find("call-32", mode)
	add("CPU per call start (jack+Postgres+Redis)", "<= 0.25 ms", call32, func(rows []result) (string, bool, result) {
		x := rows[0]
		return fmt.Sprintf("%s ms in %s %s", costCell(x.CPUPerRequest), x.Scenario, x.Load), x.CPUPerRequest != nil && x.CPUPerRequest.Total <= 0.25, x
	})
	durable := func(want float64) func([]result) (string, bool, result) {
		return func(rows []result) (string, bool, result) {
			x := rows[0]
			missing := intOf(x.Extra["missing"])
			d := "stored = acknowledged"
			if missing != 0 {
				d = fmt.Sprintf("%d acknowledged not stored", missing)
			}
			return fmt.Sprintf("%.0f/s at %s, %d errors, %s", x.Throughput, x.Load, x.Errors, d),
				x.Throughput >= want && x.Errors == 0 && missing == 0, x
		}
	}
	add("inbound SMS, 2 dealerships, 20 dashboards streaming", ">= 2500/s durable", mixed2, durable(2500))
	add("inbound SMS, one dealership alone", ">= 2000/s durable", mixed1, durable(2000))
	add("call start p99, 32 in flight", "<= 5 ms", call32, func(rows []result) (string, bool, result) {
		x := rows[0]
		return fmt.Sprintf("p99 %.2f ms at %s (%.0f/s, %d errors)", x.Latency.P99, x.Load, x.Throughput, x.Errors), x.Latency.P99 <= 5 && x.Errors == 0, x
	})
	add("call start p99 at 1000/s while 1000 SMS/s arrive", "<= 2 ms", r.find("call-under-sms", mode), func(rows []result) (string, bool, result) {
		x := rows[0]
		sms := x.Extra["sms"]
		smsP99 := 0.0
		if st, ok := sms.(stats); ok {
			smsP99 = st.P99
		}
		callRate, smsRate := floatOf(x.Extra["callRate"]), floatOf(x.Extra["smsRate"])
		smsErrors, smsMissing := intOf(x.Extra["smsErrors"]), intOf(x.Extra["smsMissing"])
		got := fmt.Sprintf("p99 %.2f ms at %.0f/s (%d errors) with SMS at %.0f/s (p99 %.1f ms, %d errors)", x.Latency.P99, callRate, x.Errors, smsRate, smsP99, smsErrors)
		if smsMissing != 0 {
			got += fmt.Sprintf(", %d acknowledged texts not stored", smsMissing)
		}
		return got, x.Latency.P99 <= 2 && x.Errors == 0 && smsErrors == 0 && smsMissing == 0 && callRate >= 1000 && smsRate >= 1000, x
	})
	add("SSE delivery p99 at 500 events/s", "<= 100 ms with 5000 clients", r.find("sse", mode), func(rows []result) (string, bool, result) {
		// The smallest step of at least 5,000 clients, else the largest there is.
		x := slices.MaxFunc(rows, func(a, b result) int { return intOf(a.Extra["connected"]) - intOf(b.Extra["connected"]) })
		for _, y := range rows {
			if n := intOf(y.Extra["connected"]); n >= 5000 && n < intOf(x.Extra["connected"]) {
				x = y
			}
		}
		missing, rate, live := intOf(x.Extra["missing"]), floatOf(x.Extra["rate"]), intOf(x.Extra["connected"])
		return fmt.Sprintf("p99 %.1f ms with %d clients at %.0f events/s, %d missing", x.Latency.P99, live, rate, missing),
			x.Latency.P99 <= 100 && live >= 5000 && missing == 0 && rate >= 500, x
	})
	mem := r.find("memory", mode)
	add("memory per active conversation", "<= 16 KB", mem, func(rows []result) (string, bool, result) {
		kb := floatOf(rows[0].Extra["rssPerConvKB"])
		return fmt.Sprintf("%.1f KB RSS (%.1f KB heap) over %d conversations", kb, floatOf(rows[0].Extra["heapPerConvKB"]), intOf(rows[0].Extra["conversations"])), kb <= 16, rows[0]
	})
	add("100,000 conversations", "< 2 GiB", mem, func(rows []result) (string, bool, result) {
		gib := floatOf(rows[0].Extra["projected100kGiB"])
		return fmt.Sprintf("%.2f GiB projected (baseline + 100k x per-conversation RSS)", gib), gib < 2, rows[0]
	})
}

// explain says where a missed target's row spent the machine: the CPU split and, from the
// profile of that row (or another profiled row of its scenario), jack's hottest packages.
func (r *report) explain(row result) string {
	if row.Scenario == "memory" {
		return fmt.Sprintf("the Go heap in use grew %.1f KB per conversation of the %.1f KB RSS: the grains' own memory, not the runtime's slack",
			floatOf(row.Extra["heapPerConvKB"]), floatOf(row.Extra["rssPerConvKB"]))
	}
	c := row.CPU
	why := fmt.Sprintf("cpu (cores of %d): jack %.2f, postgres %.2f, redis %.2f, bench %.2f, other %.2f",
		runtime.NumCPU(), c.Jack, c.Postgres, c.Redis, c.Bench, c.Other)
	if p := row.CPUPerRequest; p != nil {
		why += fmt.Sprintf("; per request: jack %.3f ms, postgres %.3f ms (%.3f of it walwriter, checkpointer and the other shared processes), redis %.3f ms",
			p.Jack, p.Postgres, p.PostgresShared, p.Redis)
	}
	prof := row.Profile
	for _, x := range r.find(row.Scenario, row.Mode) {
		if prof == nil {
			prof = x.Profile
		}
	}
	if prof != nil {
		var top []string
		for _, p := range prof.Packages[:min(4, len(prof.Packages))] {
			top = append(top, fmt.Sprintf("%s %.0f%%", p.Name, p.Percent))
		}
		why += "; jack's CPU: " + strings.Join(top, ", ")
		var paths []string
		for _, j := range prof.Jack[:min(4, len(prof.Jack))] {
			paths = append(paths, fmt.Sprintf("%s %.0f%%", j.Name, j.Percent))
		}
		if len(paths) > 0 {
			why += "; under " + strings.Join(paths, ", ")
		}
	}
	return why
}

// costOf is a row's CPU per request, zero when it has none.
func costOf(r result) cpuCost {
	if r.CPUPerRequest == nil {
		return cpuCost{}
	}
	return *r.CPUPerRequest
}

func cmpFloat(a, b float64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

func intOf(v any) int {
	switch x := v.(type) {
	case int:
		return x
	case int64:
		return int(x)
	case float64:
		return int(x)
	}
	return 0
}

func floatOf(v any) float64 {
	switch x := v.(type) {
	case int:
		return float64(x)
	case int64:
		return float64(x)
	case float64:
		return x
	}
	return 0
}
