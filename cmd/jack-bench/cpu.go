package main

import (
	"bytes"
	"math"
	"os"
	"strconv"
	"strings"
	"time"
)

// clockTicks is USER_HZ, the unit of /proc CPU times (100 on every Linux jack runs on).
const clockTicks = 100.0

// procTicks is a process's user+system CPU time in clock ticks (/proc/<pid>/stat fields 14, 15).
func procTicks(pid int) int64 {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0
	}
	// The command name may hold spaces; the fields after it are fixed.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 13 {
		return 0
	}
	utime, _ := strconv.ParseInt(f[11], 10, 64)
	stime, _ := strconv.ParseInt(f[12], 10, 64)
	return utime + stime
}

// cpuSample is a moment's CPU counters of everything that shares the machine during a run.
type cpuSample struct {
	at                  time.Time
	jack, bench         int64 // ticks
	busy                int64 // the whole machine's non-idle ticks
	pgProcs, redisProcs map[int]int64
	// pgDB maps the postgres backends to whether they serve the bench's database (true) or
	// another (false: other engineers' tests on the same server, whose CPU is not jack's and
	// counts as other). Processes not in it serve every database: the postmaster, checkpointer,
	// background writer, walwriter.
	pgDB map[int]bool
	// storeIsPG is false in the embedded mode, where every postgres and redis-server process
	// belongs to someone else.
	storeIsPG bool
}

// cpuShare is CPU used during a run, in cores (2.0 = both cores of this machine busy).
// Other is everything else on the machine (other test suites, the kernel's softirqs).
type cpuShare struct {
	Jack     float64 `json:"jack"`
	Postgres float64 `json:"postgres"`
	Redis    float64 `json:"redis"`
	Bench    float64 `json:"bench"`
	Other    float64 `json:"other"`
}

// cpuCost is the CPU time one request cost, in milliseconds: the server side's CPU during a row
// divided by the requests answered. Unlike cores, it does not depend on what else ran.
type cpuCost struct {
	Jack     float64 `json:"jack"`
	Postgres float64 `json:"postgres"`
	Redis    float64 `json:"redis"`
	Total    float64 `json:"total"` // jack + postgres + redis
	// PostgresShared is the part of Postgres spent by the processes that serve every database
	// (walwriter, checkpointer …), whose work other databases' writes add to.
	PostgresShared float64 `json:"postgresShared"`
}

// sampleCPU reads the counters of jack (jackPID), this process, every postgres and
// redis-server process (by /proc/<pid>/comm) and the machine.
func sampleCPU(jackPID int) cpuSample {
	s := cpuSample{at: time.Now(), pgProcs: map[int]int64{}, redisProcs: map[int]int64{}, storeIsPG: true}
	if jackPID > 0 {
		s.jack = procTicks(jackPID)
	}
	s.bench = procTicks(os.Getpid())
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		comm, err := os.ReadFile("/proc/" + e.Name() + "/comm")
		if err != nil {
			continue
		}
		switch strings.TrimSpace(string(comm)) {
		case "postgres":
			s.pgProcs[pid] = procTicks(pid)
		case "redis-server":
			s.redisProcs[pid] = procTicks(pid)
		}
	}
	if b, err := os.ReadFile("/proc/stat"); err == nil {
		line, _, _ := strings.Cut(string(b), "\n")
		f := strings.Fields(line)
		for i, v := range f[1:] {
			n, _ := strconv.ParseInt(v, 10, 64)
			if i != 3 && i != 4 && i < 8 { // idle, iowait; guest time is already in user
				s.busy += n
			}
		}
	}
	return s
}

// cpuUse is the CPU each part of the machine used between two samples, in clock ticks.
type cpuUse struct {
	wall                        time.Duration
	jack, pg, redis, bench, all int64
	pgShared                    int64 // the part of pg used by processes serving every database
}

// sub returns the CPU used between a and b. Postgres backends that started during the run
// count from zero; those that ended are lost (a short connection's CPU is small). Backends of
// other databases (in either sample) are left out.
func (b cpuSample) sub(a cpuSample) cpuUse {
	u := cpuUse{wall: b.at.Sub(a.at), jack: b.jack - a.jack, bench: b.bench - a.bench, all: b.busy - a.busy}
	if !b.storeIsPG {
		return u
	}
	for pid, t := range b.pgProcs {
		ownA, inA := a.pgDB[pid]
		ownB, inB := b.pgDB[pid]
		switch {
		case inA && !ownA || inB && !ownB:
			continue
		case !inA && !inB:
			u.pgShared += t - a.pgProcs[pid]
		}
		u.pg += t - a.pgProcs[pid]
	}
	for pid, t := range b.redisProcs {
		u.redis += t - a.redisProcs[pid]
	}
	return u
}

// since returns the CPU used between a and b in cores.
func (b cpuSample) since(a cpuSample) cpuShare { return b.sub(a).share() }

func (u cpuUse) share() cpuShare {
	wall := u.wall.Seconds()
	if wall <= 0 {
		return cpuShare{}
	}
	cores := func(ticks int64) float64 { return math.Round(float64(ticks)/clockTicks/wall*100) / 100 }
	s := cpuShare{Jack: cores(u.jack), Postgres: cores(u.pg), Redis: cores(u.redis), Bench: cores(u.bench)}
	s.Other = math.Max(0, math.Round((cores(u.all)-s.Jack-s.Postgres-s.Redis-s.Bench)*100)/100)
	return s
}

// perRequest divides the server side's CPU by n requests (nil when n is 0). A tick is 10 ms,
// so a row needs thousands of requests for the figure to mean something.
func (u cpuUse) perRequest(n int) *cpuCost {
	if n <= 0 {
		return nil
	}
	msPer := func(ticks int64) float64 { return math.Round(float64(ticks)*1000/clockTicks/float64(n)*1000) / 1000 }
	return &cpuCost{Jack: msPer(u.jack), Postgres: msPer(u.pg), Redis: msPer(u.redis), Total: msPer(u.jack + u.pg + u.redis),
		PostgresShared: msPer(u.pgShared)}
}
