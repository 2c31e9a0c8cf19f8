package main

import (
	"bufio"
	"encoding/hex"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/jack-auto/jack"
	"github.com/jack-auto/jack/crm"
	"github.com/jack-auto/jack/persistence/postgres"
	"github.com/jack-auto/jack/persistence/postgres/postgrestest"
	"github.com/jack-auto/jack/persistence/storetest"
)

// TestIntegrations_KillNodeMidRetry: two `jack serve` processes on one Postgres deliver a CRM
// webhook; the receiver fails the first attempt, holds the retry open and the node making it is
// killed (SIGKILL) mid-attempt. The event still arrives from the surviving node, with the same
// Jack-Event-Id, and is marked delivered.
func TestIntegrations_KillNodeMidRetry(t *testing.T) {
	t.Parallel()
	redisURL := os.Getenv("TEST_REDIS_URL")
	if redisURL == "" {
		t.Skip("TEST_REDIS_URL is not set (e.g. redis://127.0.0.1:6379/0): skipping the two-process CRM delivery test, which needs a real Redis")
	}
	dbURL := postgrestest.URL(t) // skips when TEST_DATABASE_URL is unset

	type hit struct {
		eventID, sig string
		body         []byte
		status       int
	}
	var (
		mu      sync.Mutex
		hits    []hit
		healed  bool
		holding = make(chan int, 1) // the pid of the node whose attempt is held open
	)
	var cl *testCluster
	receiver := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		h := hit{eventID: r.Header.Get(crm.EventIDHeader), sig: r.Header.Get(crm.SignatureHeader), body: body}
		mu.Lock()
		n, ok := len(hits), healed
		mu.Unlock()
		switch {
		case ok:
			h.status = http.StatusOK
		case n == 1:
			// The retry: find which node sent it, let the test kill that node, never answer.
			holding <- peerPID(t, r.RemoteAddr, cl)
			h.status = -1
			mu.Lock()
			hits = append(hits, h)
			mu.Unlock()
			<-r.Context().Done()
			return
		default:
			h.status = http.StatusInternalServerError
		}
		mu.Lock()
		hits = append(hits, h)
		mu.Unlock()
		w.WriteHeader(h.status)
	}))
	t.Cleanup(receiver.Close)

	cl = startCluster(t, 2, map[string]string{
		"DATABASE_URL": dbURL, "REDIS_URL": redisURL, "JWT_SECRET": strings.Repeat("k", 40),
		"JACK_WEBHOOK_ALLOW_PRIVATE": "1", "JACK_DELIVERY_RETRY_BASE": "1s",
	})
	owner, auth := register(t, cl.nodes[0].url, "owner@crm-kill.test")
	orgID := auth.Organization.ID
	var created struct {
		jack.Integration
		Secret string `json:"secret"`
	}
	owner.must("POST", "/api/integrations", map[string]any{"kind": "webhook", "url": receiver.URL + "/crm",
		"events": []string{"lead.created"}}, http.StatusCreated, &created)

	// A customer's first text creates a lead: the grain stores the lead event with it.
	store, err := postgres.Open(t.Context(), postgres.Config{URL: dbURL})
	require.NoError(t, err)
	t.Cleanup(func() { store.Close() })
	lead := storetest.MustCreateLead(t, store, orgID, "+16045550187")
	storetest.MustInsertEvents(t, store, orgID, jack.NewEvent(jack.EventLeadUpdated, orgID, lead.ID, lead.PhoneNumberNormalized, time.Now(), lead))

	var pid int
	select {
	case pid = <-holding:
	case <-time.After(30 * time.Second):
		t.Fatal("no retry reached the receiver within 30s")
	}
	var victim *clusterNode
	for _, nd := range cl.nodes {
		if nd.cmd.Process.Pid == pid {
			victim = nd
		}
	}
	require.NotNil(t, victim, "the held retry came from one of the nodes (pid %d)", pid)
	killedAt := time.Now()
	require.NoError(t, victim.cmd.Process.Kill())
	<-victim.exited
	mu.Lock()
	healed = true
	mu.Unlock()
	t.Logf("killed %s (pid %d) mid-retry", victim.name, pid)

	waitForCond(t, 60*time.Second, "the event delivered after the kill", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(hits) > 0 && hits[len(hits)-1].status == http.StatusOK
	})
	mu.Lock()
	got := append([]hit(nil), hits...)
	mu.Unlock()
	t.Logf("delivered %v after the kill, after %d attempts", time.Since(killedAt).Round(time.Millisecond), len(got))
	successes := 0
	for _, h := range got {
		require.Equal(t, got[0].eventID, h.eventID, "every attempt carries the same Jack-Event-Id")
		require.Equal(t, crm.Sign(created.Secret, h.body, time.Unix(sigTime(t, h.sig), 0)), h.sig)
		if h.status == http.StatusOK {
			successes++
		}
	}
	require.Equal(t, 1, successes, "accepted once")

	waitForCond(t, 10*time.Second, "the delivery marked succeeded", func() bool {
		ds, err := store.FindDeliveries(t.Context(), orgID, created.ID, 0)
		require.NoError(t, err)
		return len(ds) == 1 && ds[0].Status == jack.DeliverySucceeded
	})
	time.Sleep(2 * time.Second) // a doubled delivery would show
	mu.Lock()
	require.Len(t, hits, len(got), "nothing after the success")
	mu.Unlock()
}

func sigTime(t *testing.T, sig string) int64 {
	t.Helper()
	var ts int64
	_, err := fmt.Sscanf(sig, "t=%d,", &ts)
	require.NoError(t, err)
	return ts
}

// peerPID finds which node process owns the client end of a loopback connection (remote is
// the peer address the receiver saw), from /proc/net/tcp and the nodes' file descriptors.
func peerPID(t *testing.T, remote string, cl *testCluster) int {
	_, portText, err := net.SplitHostPort(remote)
	if err != nil {
		return 0
	}
	port, _ := strconv.Atoi(portText)
	f, err := os.Open("/proc/net/tcp")
	if err != nil {
		t.Logf("peerPID: %v", err)
		return 0
	}
	defer f.Close()
	inode := ""
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) < 10 {
			continue
		}
		local := strings.Split(fields[1], ":")
		if len(local) == 2 {
			if p, err := strconv.ParseUint(local[1], 16, 32); err == nil && int(p) == port && strings.EqualFold(local[0], hex.EncodeToString([]byte{1, 0, 0, 127})) {
				inode = fields[9]
			}
		}
	}
	for _, nd := range cl.nodes {
		pid := nd.cmd.Process.Pid
		fds, _ := filepath.Glob(fmt.Sprintf("/proc/%d/fd/*", pid))
		for _, fd := range fds {
			if link, err := os.Readlink(fd); err == nil && link == "socket:["+inode+"]" {
				return pid
			}
		}
	}
	return 0
}
