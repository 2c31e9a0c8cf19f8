package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// node is a `jack serve` subprocess: the product as users run it, with its own runtime, so RSS
// and CPU figures are the server's alone.
type node struct {
	cmd     *exec.Cmd
	url     string
	logPath string
	exited  chan struct{}
	waitErr error
}

// startNode runs bin serve with env on a free loopback port and waits until /ready answers 200.
// The server's log (LOG_LEVEL=warn) goes to logPath.
func startNode(ctx context.Context, bin string, env map[string]string, logPath string) (*node, error) {
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	full := map[string]string{"JACK_ADDR": addr, "SERVER_URL": "http://" + addr, "LOG_LEVEL": "warn"}
	// JACK_WRITER_* from the bench's own environment tune the server (experiments).
	for _, kv := range os.Environ() {
		if k, v, ok := strings.Cut(kv, "="); ok && strings.HasPrefix(k, "JACK_WRITER_") {
			full[k] = v
		}
	}
	for k, v := range env {
		full[k] = v
	}
	logFile, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(bin, "serve")
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME")}
	for k, v := range full {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	cmd.Stdout, cmd.Stderr = logFile, logFile
	if err := cmd.Start(); err != nil {
		logFile.Close()
		return nil, fmt.Errorf("start %s: %w", bin, err)
	}
	n := &node{cmd: cmd, url: "http://" + addr, logPath: logPath, exited: make(chan struct{})}
	go func() {
		n.waitErr = cmd.Wait()
		logFile.Close()
		close(n.exited)
	}()
	deadline := time.Now().Add(90 * time.Second)
	for {
		select {
		case <-n.exited:
			return nil, fmt.Errorf("jack exited while starting (%v); log %s:\n%s", n.waitErr, logPath, tail(logPath, 20))
		case <-ctx.Done():
			n.stop()
			return nil, ctx.Err()
		default:
		}
		if time.Now().After(deadline) {
			n.stop()
			return nil, fmt.Errorf("jack was not ready after 90s; log %s:\n%s", logPath, tail(logPath, 20))
		}
		resp, err := http.Get(n.url + "/ready")
		if err == nil {
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return n, nil
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func (n *node) pid() int { return n.cmd.Process.Pid }

// stop ends the server as an orchestrator would (SIGTERM, then SIGKILL after 20s).
func (n *node) stop() {
	select {
	case <-n.exited:
		return
	default:
	}
	_ = n.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-n.exited:
	case <-time.After(20 * time.Second):
		_ = n.cmd.Process.Kill()
		<-n.exited
	}
}

// alive reports whether the server process is still running.
func (n *node) alive() bool {
	select {
	case <-n.exited:
		return false
	default:
		return true
	}
}

// rssBytes is the server's resident set (VmRSS).
func (n *node) rssBytes() int64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", n.pid()))
	if err != nil {
		return 0
	}
	for line := range strings.Lines(string(b)) {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			return kb * 1024
		}
	}
	return 0
}

// fds counts the server's open file descriptors.
func (n *node) fds() int {
	entries, _ := os.ReadDir(fmt.Sprintf("/proc/%d/fd", n.pid()))
	return len(entries)
}

// metrics scrapes the named gauges from /metrics (Go runtime collectors).
func (n *node) metrics(names ...string) map[string]float64 {
	out := map[string]float64{}
	resp, err := http.Get(n.url + "/metrics")
	if err != nil {
		return out
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64*1024), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		for _, name := range names {
			if v, ok := strings.CutPrefix(line, name+" "); ok {
				out[name], _ = strconv.ParseFloat(strings.TrimSpace(v), 64)
			}
		}
	}
	return out
}

// waitIdle waits until the server uses under 5% of a core over 500ms (background writes such as
// call sessions recorded after the answer have finished), at most limit.
func (n *node) waitIdle(limit time.Duration) {
	deadline := time.Now().Add(limit)
	for time.Now().Before(deadline) {
		before := procTicks(n.pid())
		time.Sleep(500 * time.Millisecond)
		if float64(procTicks(n.pid())-before)/clockTicks/0.5 < 0.05 {
			return
		}
	}
}

func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

// tail returns the last n lines of a file, for error messages.
func tail(path string, n int) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return ""
	}
	lines := bytes.Split(bytes.TrimSpace(b), []byte("\n"))
	return string(bytes.Join(lines[max(0, len(lines)-n):], []byte("\n")))
}

// findJack resolves the jack binary: the flag, else bin/jack beside the module root.
func findJack(flagValue string) (string, error) {
	p := flagValue
	if p == "" {
		p = filepath.Join("bin", "jack")
	}
	abs, err := filepath.Abs(p)
	if err != nil {
		return "", err
	}
	if st, err := os.Stat(abs); err != nil || st.IsDir() {
		return "", errors.New("no jack binary at " + abs + ": run `make bench` or `go build -o bin/jack ./cmd/jack` first")
	}
	return abs, nil
}
