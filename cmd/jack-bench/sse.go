package main

import (
	"bufio"
	"bytes"
	"cmp"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"sync"
	"sync/atomic"
	"time"
)

// sseClient is one dashboard: a raw connection to GET /api/stream that notes when each
// sms_received event arrives. Raw, not net/http's client, so 20,000 of them cost one goroutine
// and a few KB each on the bench's side of the machine.
type sseClient struct {
	org   int
	conn  net.Conn
	ready chan struct{} // closed at the first frame: the server has joined the feed
	ended atomic.Bool   // the stream ended (server closed it, or a read failed)

	mu   sync.Mutex
	recv []delivery
}

type delivery struct {
	seq uint64
	at  int64 // unix nanoseconds
}

var (
	dataPrefix   = []byte("data:")
	smsReceived  = []byte(`"type":"sms_received"`)
	sidFieldName = []byte(`"messageSid":"`)
)

// dialStream opens a stream as EventSource would with a stream token, from a loopback source
// address of its own (127.0.0.x) so 20,000 connections never run out of ephemeral ports.
func dialStream(ctx context.Context, base, token string, org int, local net.IP) (*sseClient, error) {
	u, err := url.Parse(base)
	if err != nil {
		return nil, err
	}
	d := net.Dialer{Timeout: 10 * time.Second, LocalAddr: &net.TCPAddr{IP: local}}
	conn, err := d.DialContext(ctx, "tcp", u.Host)
	if err != nil {
		return nil, err
	}
	c := &sseClient{org: org, conn: conn, ready: make(chan struct{})}
	_ = conn.SetDeadline(time.Now().Add(15 * time.Second))
	if _, err := fmt.Fprintf(conn, "GET /api/stream?token=%s HTTP/1.1\r\nHost: %s\r\nAccept: text/event-stream\r\nCache-Control: no-cache\r\nUser-Agent: jack-bench\r\n\r\n",
		url.QueryEscape(token), u.Host); err != nil {
		conn.Close()
		return nil, err
	}
	br := bufio.NewReaderSize(conn, 1024)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		conn.Close()
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		conn.Close()
		return nil, fmt.Errorf("GET /api/stream answered %d", resp.StatusCode)
	}
	go c.read(resp)
	select {
	case <-c.ready:
		_ = conn.SetDeadline(time.Time{})
		return c, nil
	case <-time.After(15 * time.Second):
		conn.Close()
		return nil, errors.New("no first frame within 15s")
	}
}

func (c *sseClient) read(resp *http.Response) {
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body) // the body is chunked; ReadResponse decodes it
	sc.Buffer(make([]byte, 2048), 1<<20)
	opened := false
	for sc.Scan() {
		line := sc.Bytes()
		if len(line) == 0 {
			if !opened {
				opened = true
				close(c.ready)
			}
			continue
		}
		if !bytes.HasPrefix(line, dataPrefix) || !bytes.Contains(line, smsReceived) {
			continue
		}
		at := time.Now().UnixNano()
		i := bytes.Index(line, sidFieldName)
		if i < 0 || len(line) < i+len(sidFieldName)+34 {
			continue
		}
		if seq, ok := seqOfSid(line[i+len(sidFieldName) : i+len(sidFieldName)+34]); ok {
			c.mu.Lock()
			c.recv = append(c.recv, delivery{seq: seq, at: at})
			c.mu.Unlock()
		}
	}
	c.ended.Store(true)
}

func (c *sseClient) take() []delivery {
	c.mu.Lock()
	defer c.mu.Unlock()
	r := c.recv
	c.recv = nil
	return r
}

func (c *sseClient) close() { _ = c.conn.Close() }

// sseAck is when jack acknowledged the webhook of sequence number seq, and for which dealership.
type sseAck struct {
	at  int64
	org int
}

// runSSE connects dashboards in steps up to each of levels (clients spread over dealerships,
// fanout per dealership, so every event goes to fanout dashboards), and at each step sends
// inbound texts at rate per second for d, measuring from each webhook's 200 to each dashboard's
// receipt of its sms_received event.
func (m *modeRun) runSSE(ctx context.Context, levels []int, fanout int, rate float64, d time.Duration) {
	// Events come from inbound texts, so they cannot come faster than the node takes texts in:
	// above that the webhooks queue and the step measures the backlog, not the fan-out. A node
	// slower than rate gets half its best instead.
	rateNote := ""
	if m.smsBest > 0 && rate > m.smsBest {
		rateNote = fmt.Sprintf("; %.0f events/s (half the SMS sweep's best %.0f/s; %.0f/s asked)", float64(int(m.smsBest/2)), m.smsBest, rate)
		rate = float64(int(m.smsBest / 2))
	}
	var (
		orgs      []*dealership
		customers [][]string
		clients   []*sseClient
		perOrg    []int
	)
	defer func() {
		for _, c := range clients {
			c.close()
		}
	}()
	srvURL := m.node.url
	for _, K := range levels {
		if ctx.Err() != nil {
			return
		}
		nOrgs := (K + fanout - 1) / fanout
		// More dealerships, each with a number and customers who texted once (their grains are
		// active and their leads exist, so the measured texts are plain conversation turns).
		t0 := time.Now()
		newOrgs, err := m.registerDealerships(ctx, nOrgs-len(orgs))
		if err != nil {
			m.b.note("%s sse: registering dealerships: %v", m.mode, err)
			return
		}
		for range newOrgs {
			customers = append(customers, m.b.phones.take(4))
			perOrg = append(perOrg, 0)
		}
		warm := make([]signedSMS, 0, len(newOrgs)*4)
		for i, o := range newOrgs {
			for _, c := range customers[len(orgs)+i] {
				sid, _ := m.b.sids.new()
				warm = append(warm, newSignedSMS(srvURL, c, o.Phone, "Hi, I saw your ad for the Civic.", sid))
			}
		}
		orgs = append(orgs, newOrgs...)
		closedLoop(ctx, 16, 0, len(warm), func(ctx context.Context, _, i int) bool { return m.api.postSMS(ctx, warm[i]) })
		m.b.progress("%s sse: %d dealerships ready in %s", m.mode, len(orgs), time.Since(t0).Round(time.Millisecond))

		// Dashboards: fanout per dealership, the last one taking the rest of K.
		t0 = time.Now()
		var connectErr error
		var mu sync.Mutex
		sem := make(chan struct{}, 128)
		var wg sync.WaitGroup
		for o := 0; o < nOrgs && connectErr == nil; o++ {
			want := min(fanout, K-o*fanout) - perOrg[o]
			if want <= 0 {
				continue
			}
			token, err := m.api.streamToken(ctx, orgs[o].Token)
			if err != nil {
				connectErr = err
				break
			}
			for range want {
				sem <- struct{}{}
				wg.Add(1)
				go func(o int) {
					defer wg.Done()
					defer func() { <-sem }()
					mu.Lock()
					n := len(clients)
					failed := connectErr != nil
					mu.Unlock()
					if failed {
						return
					}
					c, err := dialStream(ctx, srvURL, token, o, net.IPv4(127, 0, 0, byte(2+n%32)))
					mu.Lock()
					defer mu.Unlock()
					if err != nil {
						if connectErr == nil {
							connectErr = err
						}
						return
					}
					clients = append(clients, c)
					perOrg[o]++
				}(o)
			}
			wg.Wait() // one dealership at a time, so its token stays fresh
		}
		connectTime := time.Since(t0)
		connected := 0
		for _, c := range clients {
			if !c.ended.Load() {
				connected++
			}
		}
		m.b.progress("%s sse: %d/%d dashboards connected in %s (err: %v)", m.mode, connected, K, connectTime.Round(time.Millisecond), connectErr)
		time.Sleep(time.Second)
		for _, c := range clients {
			c.take()
		}

		// Texts at rate/s spread over the dealerships with dashboards.
		var (
			ackMu sync.Mutex
			acks  = map[uint64]sseAck{}
		)
		active := 0
		for _, n := range perOrg {
			if n > 0 {
				active++
			}
		}
		if active == 0 {
			m.b.note("%s sse: no dashboard connected at K=%d: %v", m.mode, K, connectErr)
			return
		}
		rec := m.startProfile("sse", "")
		before := m.sampleCPU()
		res := openLoop(ctx, rate, d, 512, func(ctx context.Context, _, i int) bool {
			o := i % active
			cust := customers[o][(i/active)%len(customers[o])]
			sid, seq := m.b.sids.new()
			if !m.api.postSMS(ctx, newSignedSMS(srvURL, cust, orgs[o].Phone, "Is the blue F-150 still on the lot?", sid)) {
				return false
			}
			ackMu.Lock()
			acks[seq] = sseAck{at: time.Now().UnixNano(), org: o}
			ackMu.Unlock()
			return true
		})
		expectedFor := func() int {
			live := make([]int, len(orgs))
			for _, c := range clients {
				if !c.ended.Load() {
					live[c.org]++
				}
			}
			n := 0
			for _, a := range acks {
				n += live[a.org]
			}
			return n
		}
		// Wait for the stragglers: until every live dashboard has every event, or no progress for 2s.
		expected := expectedFor()
		count := func() int {
			n := 0
			for _, c := range clients {
				c.mu.Lock()
				n += len(c.recv)
				c.mu.Unlock()
			}
			return n
		}
		last, lastChange := -1, time.Now()
		for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
			n := count()
			if n >= expected {
				break
			}
			if n != last {
				last, lastChange = n, time.Now()
			} else if time.Since(lastChange) > 2*time.Second {
				break
			}
		}
		cpu := m.sampleCPU().since(before)
		prof := m.stopProfile(rec, "sse", fmt.Sprintf("K=%d", K))

		var lats []time.Duration
		early, unmatched, received := 0, 0, 0
		dropped := 0
		for _, c := range clients {
			recv := c.take()
			if c.ended.Load() {
				dropped++
				continue
			}
			for _, r := range recv {
				a, ok := acks[r.seq]
				if !ok {
					unmatched++ // a text whose webhook failed but was committed, or from an earlier step
					continue
				}
				received++
				lat := time.Duration(r.at - a.at)
				if lat < 0 {
					early++ // the event overtook the webhook's answer
					lat = 0
				}
				lats = append(lats, lat)
			}
		}
		expected = expectedFor()
		rss := m.node.rssBytes()
		live := len(clients) - dropped
		extra := map[string]any{
			"target": K, "connected": live, "dealerships": active, "fanout": fanout, "eventsAcked": res.Requests,
			"webhookErrors": res.Errors, "expected": expected, "received": received, "missing": expected - received,
			"beforeAck": early, "unmatched": unmatched, "dropped": dropped, "connectSeconds": connectTime.Seconds(),
			"rssMB": rss >> 20, "serverFDs": m.node.fds(), "webhookP99Ms": res.Latency.P99,
		}
		note := fmt.Sprintf("%d dashboards, %d events (%d webhook errors), %d missing, webhook p99 %.0f ms%s",
			live, res.Requests, res.Errors, expected-received, res.Latency.P99, rateNote)
		extra["rate"] = rate
		if connectErr != nil {
			extra["connectError"] = connectErr.Error()
			note += "; connect stopped: " + connectErr.Error()
		}
		m.b.add(result{
			Scenario: "sse", Mode: m.mode, Load: fmt.Sprintf("K=%d", K), Requests: received, Errors: expected - received,
			Throughput: float64(received) / d.Seconds(), Latency: statsOf(lats), CPU: cpu, Note: note, Extra: extra, Profile: prof,
		})
		if connectErr != nil {
			return // the next step would fail the same way
		}
	}
}

// registerDealerships signs n dealerships up (two at a time: registration is a bcrypt hash,
// bound by CPU), each with a number of its own.
func (m *modeRun) registerDealerships(ctx context.Context, n int) ([]*dealership, error) {
	if n <= 0 {
		return nil, nil
	}
	phones := m.b.phones.take(n)
	out := make([]*dealership, n)
	var (
		wg       sync.WaitGroup
		mu       sync.Mutex
		firstErr error
	)
	sem := make(chan struct{}, 2)
	for i := range n {
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			d, err := m.api.register(ctx, fmt.Sprintf("Dealer %s", phones[i][2:]), phones[i])
			if err != nil {
				mu.Lock()
				firstErr = cmp.Or(firstErr, err)
				mu.Unlock()
				return
			}
			out[i] = d
		}()
	}
	wg.Wait()
	return out, firstErr
}
