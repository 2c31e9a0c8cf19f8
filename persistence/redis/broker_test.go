package redis

import (
	"context"
	"encoding/json"
	"log/slog"
	"net"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/google/uuid"
	goredis "github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"

	"github.com/jack-auto/jack"
	"github.com/jack-auto/jack/persistence/storetest"
)

// Every Broker made by the suite's newBroker talks to the same Redis, like nodes of a cluster.
var features = storetest.BrokerFeatures{CrossInstance: true}

func TestBroker(t *testing.T) {
	t.Parallel()
	url := redisURL(t)
	storetest.RunBroker(t, features, func(t *testing.T) jack.Broker { return mustOpen(t, url) })
}

// Losing the pub/sub connection (a Redis restart, seen from this node) drops every local
// subscriber once go-redis has reconnected and subscribed again, and later subscribers hear
// events again. The connection is killed by id, so tests sharing the Redis are untouched.
func TestBroker_ConnectionLoss(t *testing.T) {
	t.Parallel()
	name := "jack-broker-test-" + uuid.NewString()
	b := mustOpen(t, withClientName(redisURL(t), name))
	other := mustOpen(t, redisURL(t)) // another node
	admin := mustAdmin(t)

	orgA, orgB := uuid.New(), uuid.New()
	a1, a2 := mustSubscribe(t, b, orgA), mustSubscribe(t, b, orgA)
	b1 := mustSubscribe(t, b, orgB)
	e := event(orgA)
	require.NoError(t, other.Publish(t.Context(), e))
	requireEvent(t, e, a1)
	requireEvent(t, e, a2)

	killPubSub(t, admin, name)

	// (a) The resubscribe happened (its confirmation is what drops them) and the
	// subscribers were dropped, so their dashboards replay from the Store.
	for _, ch := range []<-chan *jack.Event{a1, a2, b1} {
		requireClosed(t, ch)
	}
	// (b) A new subscriber hears events again, from this node and from another.
	ch := mustSubscribe(t, b, orgA)
	for _, from := range []*Broker{b, other} {
		e := event(orgA)
		require.NoError(t, from.Publish(t.Context(), e))
		requireEvent(t, e, ch)
	}
	// The new subscriber is not dropped by anything left over from the reconnect.
	e = event(orgA)
	require.NoError(t, b.Publish(t.Context(), e))
	requireEvent(t, e, ch)
}

// A node holds one Redis subscription per organization however many local subscribers it
// has, and unsubscribes after the last one leaves.
func TestBroker_SubscribesOncePerOrganization(t *testing.T) {
	t.Parallel()
	b := mustOpen(t, redisURL(t))
	admin := mustAdmin(t)
	orgID := uuid.New()
	channel := channelName(orgID)
	numsub := func() int64 {
		n, err := admin.PubSubNumSub(t.Context(), channel).Result()
		require.NoError(t, err)
		return n[channel]
	}

	ctx1, cancel1 := context.WithCancel(t.Context())
	ctx2, cancel2 := context.WithCancel(t.Context())
	ch1, err := b.Subscribe(ctx1, orgID)
	require.NoError(t, err)
	ch2, err := b.Subscribe(ctx2, orgID)
	require.NoError(t, err)
	require.EqualValues(t, 1, numsub())

	cancel1()
	requireClosed(t, ch1)
	require.EqualValues(t, 1, numsub(), "one local subscriber is left")

	cancel2()
	requireClosed(t, ch2)
	require.Eventually(t, func() bool { return numsub() == 0 }, 10*time.Second, 10*time.Millisecond,
		"the channel is still subscribed after its last local subscriber left")
}

// What other writers put on an organization's channel never reaches subscribers unless it is
// an event of that organization.
func TestBroker_IgnoresForeignPayloads(t *testing.T) {
	t.Parallel()
	b := mustOpen(t, redisURL(t))
	admin := mustAdmin(t)
	orgID := uuid.New()
	ch := mustSubscribe(t, b, orgID)

	foreign, err := json.Marshal(event(uuid.New()))
	require.NoError(t, err)
	for _, payload := range []string{"not json", `{"id":"nope"}`, string(foreign)} {
		require.NoError(t, admin.Publish(t.Context(), channelName(orgID), payload).Err())
	}
	require.NoError(t, admin.Publish(t.Context(), "org:not-a-uuid", "{}").Err())

	e := event(orgID)
	require.NoError(t, b.Publish(t.Context(), e))
	requireEvent(t, e, ch) // the first thing delivered
}

// A broker whose Redis goes away fails Publish and Subscribe with EUNAVAILABLE, keeps its
// subscribers until Close, and closes cleanly.
func TestBroker_ServerGone(t *testing.T) {
	t.Parallel()
	mr := miniredis.RunT(t)
	b, err := Open(t.Context(), "redis://"+mr.Addr()+"/0", testLogger(t))
	require.NoError(t, err)
	orgID := uuid.New()
	ch := mustSubscribe(t, b, orgID)
	e := event(orgID)
	require.NoError(t, b.Publish(t.Context(), e))
	requireEvent(t, e, ch)

	mr.Close()

	err = b.Publish(t.Context(), event(orgID))
	require.Error(t, err)
	require.Equal(t, jack.EUNAVAILABLE, jack.ErrorCode(err), "%v", err)
	_, err = b.Subscribe(t.Context(), uuid.New())
	require.Error(t, err)
	require.Equal(t, jack.EUNAVAILABLE, jack.ErrorCode(err), "%v", err)
	require.Error(t, b.Ping(t.Context()))

	require.NoError(t, b.Close())
	requireClosed(t, ch)
	require.NoError(t, b.Close())
}

// When Redis comes back after a restart, subscribers that lived through the outage are
// dropped (they may have missed events) and new ones work.
func TestBroker_ServerRestart(t *testing.T) {
	t.Parallel()
	mr := miniredis.RunT(t)
	b, err := Open(t.Context(), "redis://"+mr.Addr()+"/0", testLogger(t))
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, b.Close()) })
	orgID := uuid.New()
	ch := mustSubscribe(t, b, orgID)

	mr.Close()
	require.Error(t, b.Publish(t.Context(), event(orgID)))
	require.NoError(t, mr.Restart())

	requireClosed(t, ch)
	ch = mustSubscribe(t, b, orgID)
	e := event(orgID)
	require.NoError(t, b.Publish(t.Context(), e))
	requireEvent(t, e, ch)
}

func TestOpen(t *testing.T) {
	t.Parallel()

	t.Run("Unreachable", func(t *testing.T) {
		t.Parallel()
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		require.NoError(t, err)
		addr := ln.Addr().String()
		require.NoError(t, ln.Close())

		_, err = Open(t.Context(), "redis://"+addr+"/0", testLogger(t))
		require.Error(t, err)
		require.Equal(t, jack.EUNAVAILABLE, jack.ErrorCode(err), "%v", err)
	})

	t.Run("InvalidURL", func(t *testing.T) {
		t.Parallel()
		for _, url := range []string{"http://127.0.0.1:6379", "redis://:s3cret@127.0.0.1:port/0", "redis://127.0.0.1:6379/db"} {
			_, err := Open(t.Context(), url, nil)
			require.Error(t, err, url)
			require.NotContains(t, err.Error(), "s3cret")
		}
	})
}

func redisURL(tb testing.TB) string {
	tb.Helper()
	url := os.Getenv("TEST_REDIS_URL")
	if url == "" {
		tb.Skip("TEST_REDIS_URL is not set (e.g. redis://127.0.0.1:6379/0): skipping tests against a real Redis")
	}
	return url
}

// mustOpen opens a Broker on url, closed when the test ends.
func mustOpen(tb testing.TB, url string) *Broker {
	tb.Helper()
	b, err := Open(tb.Context(), url, testLogger(tb))
	require.NoError(tb, err)
	tb.Cleanup(func() { require.NoError(tb, b.Close()) })
	return b
}

// mustAdmin returns a plain client of the test Redis, to look at and disturb the broker's.
func mustAdmin(tb testing.TB) *goredis.Client {
	tb.Helper()
	opt, err := goredis.ParseURL(redisURL(tb))
	require.NoError(tb, err)
	c := goredis.NewClient(opt)
	tb.Cleanup(func() { _ = c.Close() })
	return c
}

func withClientName(url, name string) string {
	sep := "?"
	if strings.Contains(url, "?") {
		sep = "&"
	}
	return url + sep + "client_name=" + name
}

// killPubSub kills the pub/sub connections of the clients named name (CLIENT KILL ID).
func killPubSub(tb testing.TB, admin *goredis.Client, name string) {
	tb.Helper()
	list, err := admin.Do(tb.Context(), "CLIENT", "LIST", "TYPE", "pubsub").Text()
	require.NoError(tb, err)
	var killed int
	for line := range strings.Lines(list) {
		fields := map[string]string{}
		for f := range strings.FieldsSeq(line) {
			k, v, _ := strings.Cut(f, "=")
			fields[k] = v
		}
		if fields["name"] != name {
			continue
		}
		require.NoError(tb, admin.Do(tb.Context(), "CLIENT", "KILL", "ID", fields["id"]).Err())
		killed++
	}
	require.Equal(tb, 1, killed, "pub/sub connections named %s", name)
}

func mustSubscribe(tb testing.TB, b *Broker, orgID uuid.UUID) <-chan *jack.Event {
	tb.Helper()
	ch, err := b.Subscribe(tb.Context(), orgID)
	require.NoError(tb, err)
	return ch
}

func event(orgID uuid.UUID) *jack.Event {
	return jack.NewEvent(jack.EventSMSReceived, orgID, "lead-1", "+16045550100", time.Now().UTC(), nil)
}

// requireEvent fails unless the next thing on ch is want.
func requireEvent(tb testing.TB, want *jack.Event, ch <-chan *jack.Event) {
	tb.Helper()
	select {
	case got, ok := <-ch:
		require.True(tb, ok, "channel closed, want event %s", want.ID)
		require.Equal(tb, want.ID, got.ID)
	case <-time.After(10 * time.Second):
		tb.Fatalf("no event %s within 10s", want.ID)
	}
}

// requireClosed drains ch and fails unless it closes within 10s.
func requireClosed(tb testing.TB, ch <-chan *jack.Event) {
	tb.Helper()
	deadline := time.After(10 * time.Second)
	for {
		select {
		case _, ok := <-ch:
			if !ok {
				return
			}
		case <-deadline:
			tb.Fatal("channel still open after 10s")
		}
	}
}

func testLogger(tb testing.TB) *slog.Logger {
	return slog.New(slog.NewTextHandler(tWriter{tb}, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

type tWriter struct{ tb testing.TB }

func (w tWriter) Write(p []byte) (int, error) {
	w.tb.Log(strings.TrimSpace(string(p)))
	return len(p), nil
}
