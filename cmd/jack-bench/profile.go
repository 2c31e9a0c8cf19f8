package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"
)

// profile is where jack's CPU went during one row, from `perf record` of the server process
// (jack has no pprof endpoint; perf needs no change to the binary). Self time only: a
// function's share counts the samples in its own code.
type profile struct {
	File     string    `json:"file"` // perf report text beside the results
	Samples  int       `json:"samples"`
	Packages []hotSpot `json:"packages"`  // self time per Go package (kernel: syscalls, network, page faults)
	Symbols  []hotSpot `json:"functions"` // the hottest functions
	Jack     []hotSpot `json:"jackPaths"` // jack's functions by inclusive share
}

type hotSpot struct {
	Name    string  `json:"name"`
	Percent float64 `json:"percent"`
}

// perfRecorder runs perf against a pid for the length of a measurement.
type perfRecorder struct {
	cmd  *exec.Cmd
	data string
}

// startPerf starts sampling pid's on-CPU stacks at 499 Hz; nil when perf is unavailable.
func startPerf(pid int, data string) *perfRecorder {
	path, err := exec.LookPath("perf")
	if err != nil {
		return nil
	}
	cmd := exec.Command(path, "record", "-F", "499", "-g", "-p", strconv.Itoa(pid), "-o", data, "--quiet")
	cmd.Stdout, cmd.Stderr = nil, nil
	if err := cmd.Start(); err != nil {
		return nil
	}
	return &perfRecorder{cmd: cmd, data: data}
}

// stop ends the recording (perf writes its file on SIGINT) and summarises it into reportPath.
func (p *perfRecorder) stop(ctx context.Context, reportPath string) *profile {
	if p == nil {
		return nil
	}
	_ = p.cmd.Process.Signal(os.Interrupt)
	done := make(chan struct{})
	go func() { _ = p.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(15 * time.Second):
		_ = p.cmd.Process.Kill()
		<-done
	}
	defer os.Remove(p.data)
	ctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	self, err := exec.CommandContext(ctx, "perf", "report", "-i", p.data, "--no-children", "--sort", "symbol",
		"--stdio", "-g", "none", "--percent-limit", "0.05").Output()
	if err != nil || len(self) == 0 {
		return nil
	}
	// Inclusive time (children) of jack's own functions: which of its paths the samples were under.
	incl, _ := exec.CommandContext(ctx, "perf", "report", "-i", p.data, "--children", "--sort", "symbol",
		"--stdio", "-g", "none", "--percent-limit", "1").Output()
	if err := os.MkdirAll(filepath.Dir(reportPath), 0o755); err == nil {
		_ = os.WriteFile(reportPath, append(append(self, "\n\n# Inclusive (children)\n"...), incl...), 0o644)
	}
	prof := summarise(self)
	prof.Jack = jackPaths(incl)
	prof.File = reportPath
	return prof
}

// jackPaths reads `perf report --children` lines ("  81.17%  0.00%  [.] github.com/…") and
// returns jack's own functions by inclusive share, skipping the ones every request passes
// (they say nothing about where it went).
func jackPaths(report []byte) []hotSpot {
	var out []hotSpot
	sc := bufio.NewScanner(bytes.NewReader(report))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) < 4 || strings.HasPrefix(f[0], "#") || !strings.HasPrefix(f[3], "github.com/jack-auto/jack") {
			continue
		}
		v, err := strconv.ParseFloat(strings.TrimSuffix(f[0], "%"), 64)
		if err != nil {
			continue
		}
		name := strings.TrimPrefix(f[3], "github.com/jack-auto/jack/")
		if strings.HasSuffix(name, ".Receive") || strings.HasSuffix(name, ".handle") || strings.Contains(name, ".func") {
			continue
		}
		out = append(out, hotSpot{Name: name, Percent: v})
	}
	slices.SortFunc(out, func(a, b hotSpot) int { return cmpFloat(b.Percent, a.Percent) })
	return out[:min(len(out), 12)]
}

// summarise reads `perf report --sort symbol --stdio` lines such as
// "    12.34%  [.] github.com/jackc/pgx/v5/pgconn.(*PgConn).Exec" and "1.02%  [k] tcp_sendmsg".
func summarise(report []byte) *profile {
	p := &profile{}
	byPkg := map[string]float64{}
	sc := bufio.NewScanner(bytes.NewReader(report))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if n, ok := strings.CutPrefix(line, "# Samples: "); ok {
			f := strings.Fields(n)
			if len(f) > 0 {
				p.Samples = parseCount(f[0])
			}
			continue
		}
		pct, rest, ok := strings.Cut(line, "%")
		if !ok || strings.HasPrefix(line, "#") {
			continue
		}
		v, err := strconv.ParseFloat(strings.TrimSpace(pct), 64)
		if err != nil {
			continue
		}
		rest = strings.TrimSpace(rest)
		kernel := strings.HasPrefix(rest, "[k]")
		sym := strings.TrimSpace(strings.TrimPrefix(strings.TrimPrefix(rest, "[k]"), "[.]"))
		sym, _, _ = strings.Cut(sym, "  ") // newer perf adds IPC columns after the symbol
		p.Symbols = append(p.Symbols, hotSpot{Name: sym, Percent: v})
		if kernel {
			byPkg["kernel"] += v
		} else {
			byPkg[goPackage(sym)] += v
		}
	}
	for name, v := range byPkg {
		p.Packages = append(p.Packages, hotSpot{Name: name, Percent: round2(v)})
	}
	byShare := func(a, b hotSpot) int { return cmpFloat(b.Percent, a.Percent) }
	slices.SortFunc(p.Packages, byShare)
	slices.SortFunc(p.Symbols, byShare)
	p.Packages = p.Packages[:min(len(p.Packages), 15)]
	p.Symbols = p.Symbols[:min(len(p.Symbols), 15)]
	return p
}

// goPackage returns a Go symbol's package path: "github.com/a/b.(*T).M" → "github.com/a/b",
// "runtime.mallocgc" → "runtime".
func goPackage(sym string) string {
	slash := strings.LastIndexByte(sym, '/')
	dot := strings.IndexByte(sym[slash+1:], '.')
	if dot < 0 {
		return sym
	}
	return sym[:slash+1+dot]
}

func parseCount(s string) int {
	mult := 1.0
	switch {
	case strings.HasSuffix(s, "K"):
		mult, s = 1e3, strings.TrimSuffix(s, "K")
	case strings.HasSuffix(s, "M"):
		mult, s = 1e6, strings.TrimSuffix(s, "M")
	}
	v, _ := strconv.ParseFloat(s, 64)
	return int(v * mult)
}

// printProfiles writes the profiled rows' hottest packages and functions.
func printProfiles(w *os.File, r *report) {
	for _, res := range r.Results {
		p := res.Profile
		if p == nil {
			continue
		}
		fmt.Fprintf(w, "\nwhere jack's CPU went: %s %s %s (%d samples, %s)\n", res.Scenario, res.Mode, res.Load, p.Samples, p.File)
		var paths []string
		for _, j := range p.Jack[:min(len(p.Jack), 6)] {
			paths = append(paths, fmt.Sprintf("%s %.0f%%", j.Name, j.Percent))
		}
		if len(paths) > 0 {
			fmt.Fprintf(w, "  under jack's code: %s\n", strings.Join(paths, ", "))
		}
		fmt.Fprintf(w, "  %-62s %s\n", "self time by package", "self time by function")
		for i := range min(8, max(len(p.Packages), len(p.Symbols))) {
			left, right := "", ""
			if i < len(p.Packages) {
				left = fmt.Sprintf("%5.1f%%  %s", p.Packages[i].Percent, p.Packages[i].Name)
			}
			if i < len(p.Symbols) {
				right = fmt.Sprintf("%5.1f%%  %s", p.Symbols[i].Percent, trimSymbol(p.Symbols[i].Name, 70))
			}
			fmt.Fprintf(w, "  %-62s %s\n", left, right)
		}
	}
}

func trimSymbol(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return "…" + s[len(s)-n+1:]
}
