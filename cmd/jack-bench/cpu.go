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
	jack, pg, redis     int64 // ticks
	bench               int64
	busy                int64 // the whole machine's non-idle ticks
	pgProcs, redisProcs map[int]int64
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

func sampleCPU(jackPID int) cpuSample {
	s := cpuSample{at: time.Now(), pgProcs: map[int]int64{}, redisProcs: map[int]int64{}}
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
			if i != 3 && i != 4 { // idle, iowait
				s.busy += n
			}
		}
	}
	return s
}

// since returns the CPU used between a and b. Postgres backends that started during the run
// count from zero; those that ended are lost (a short connection's CPU is small).
func (b cpuSample) since(a cpuSample) cpuShare {
	wall := b.at.Sub(a.at).Seconds()
	if wall <= 0 {
		return cpuShare{}
	}
	delta := func(before, after map[int]int64) int64 {
		var d int64
		for pid, t := range after {
			d += t - before[pid]
		}
		return d
	}
	cores := func(ticks int64) float64 { return math.Round(float64(ticks)/clockTicks/wall*100) / 100 }
	s := cpuShare{
		Jack:     cores(b.jack - a.jack),
		Postgres: cores(delta(a.pgProcs, b.pgProcs)),
		Redis:    cores(delta(a.redisProcs, b.redisProcs)),
		Bench:    cores(b.bench - a.bench),
	}
	s.Other = math.Max(0, math.Round((cores(b.busy-a.busy)-s.Jack-s.Postgres-s.Redis-s.Bench)*100)/100)
	return s
}
