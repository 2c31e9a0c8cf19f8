package crm_test

import (
	"bufio"
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"log/slog"
	"mime"
	"mime/quotedprintable"
	"net"
	"net/http"
	"net/http/httptest"
	"net/mail"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/jack-auto/jack"
	"github.com/jack-auto/jack/crm"
	"github.com/jack-auto/jack/intake"
	"github.com/jack-auto/jack/persistence/postgres/postgrestest"
	"github.com/jack-auto/jack/persistence/storetest"
)

// verifySignature is an independent check of Jack-Signature, written the way a CRM's receiver
// would from the README: split the header, recompute the HMAC, compare in constant time.
func verifySignature(t *testing.T, secret, header string, body []byte, now time.Time) {
	t.Helper()
	parts := map[string]string{}
	for _, kv := range strings.Split(header, ",") {
		k, v, ok := strings.Cut(kv, "=")
		require.True(t, ok, "header part %q", kv)
		parts[k] = v
	}
	ts, err := strconv.ParseInt(parts["t"], 10, 64)
	require.NoError(t, err)
	require.InDelta(t, now.Unix(), ts, 300, "timestamp within five minutes")
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte(parts["t"] + "." + string(body)))
	want := hex.EncodeToString(mac.Sum(nil))
	require.True(t, hmac.Equal([]byte(want), []byte(parts["v1"])), "v1 signature matches")
}

// receiver is a CRM's webhook endpoint: it records every request and answers with respond.
type receiver struct {
	mu       sync.Mutex
	requests []received
	respond  func(n int, r received) int // status for the n-th request (from 1); may sleep
	srv      *httptest.Server
}

type received struct {
	At      time.Time
	EventID string
	Sig     string
	Doc     crm.Document
	Body    []byte
}

func newReceiver(t *testing.T, respond func(n int, r received) int) *receiver {
	rc := &receiver{respond: respond}
	rc.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		got := received{At: time.Now(), EventID: r.Header.Get(crm.EventIDHeader), Sig: r.Header.Get(crm.SignatureHeader), Body: body}
		_ = json.Unmarshal(body, &got.Doc)
		rc.mu.Lock()
		rc.requests = append(rc.requests, got)
		n, respond := len(rc.requests), rc.respond
		rc.mu.Unlock()
		status := http.StatusOK
		if respond != nil {
			status = respond(n, got)
		}
		w.WriteHeader(status)
	}))
	t.Cleanup(rc.srv.Close)
	return rc
}

func (rc *receiver) all() []received {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return append([]received(nil), rc.requests...)
}

// waitFor polls cond until it holds or d passes.
func waitFor(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

type testBundle struct {
	store jack.Store
	org   *jack.Organization
}

func setup(t *testing.T) *testBundle {
	t.Helper()
	store := postgrestest.MustOpenStore(t)
	org, _ := storetest.MustCreateOrganization(t, store)
	return &testBundle{store: store, org: org}
}

// start runs a Service with fast test timings.
func start(t *testing.T, b *testBundle, cfg crm.Config) *crm.Service {
	t.Helper()
	cfg.Poll = max(cfg.Poll, 20*time.Millisecond)
	cfg.AllowPrivate = true
	svc := crm.New(b.store, cfg, slog.New(slog.NewTextHandler(testWriter{t}, nil)))
	svc.Start()
	t.Cleanup(func() { _ = svc.Close() })
	return svc
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimSpace(string(p)))
	return len(p), nil
}

// leadEvent stores what a grain stores when a lead is created or changes.
func leadEvent(t *testing.T, b *testBundle, l *jack.Lead) *jack.Event {
	e := jack.NewEvent(jack.EventLeadUpdated, b.org.ID, l.ID, l.PhoneNumberNormalized, time.Now().UTC(), l)
	storetest.MustInsertEvents(t, b.store, b.org.ID, e)
	return e
}

func integration(t *testing.T, b *testBundle, url string, events ...string) *jack.Integration {
	i := &jack.Integration{Kind: jack.IntegrationWebhook, URL: url, Events: events, Enabled: true, Secret: crm.NewSecret()}
	require.NoError(t, b.store.CreateIntegration(t.Context(), b.org.ID, i))
	return i
}

func TestWebhook(t *testing.T) {
	t.Run("SignedAndOnTime", func(t *testing.T) {
		b := setup(t)
		rc := newReceiver(t, nil)
		i := integration(t, b, rc.srv.URL+"/jack", jack.IntegrationLeadCreated, jack.IntegrationLeadQualified,
			jack.IntegrationLeadUpdated, jack.IntegrationMessageReceived)
		start(t, b, crm.Config{Poll: 100 * time.Millisecond})

		lead := storetest.MustCreateLead(t, b.store, b.org.ID, storetest.NewPhone())
		msg := storetest.MustInsertMessage(t, b.store, b.org.ID, storetest.NewMessage(lead, "Is the Civic still there?", time.Now()))
		changed := time.Now()
		// A new lead's first text: the message event, then the lead event, as the grain stores them.
		in := jack.NewEvent(jack.EventSMSReceived, b.org.ID, lead.ID, lead.PhoneNumberNormalized, changed, msg)
		storetest.MustInsertEvents(t, b.store, b.org.ID, in, jack.NewEvent(jack.EventLeadUpdated, b.org.ID, lead.ID,
			lead.PhoneNumberNormalized, changed, lead))
		waitFor(t, 5*time.Second, "two deliveries within 5 s of the change", func() bool { return len(rc.all()) >= 2 })

		got := rc.all()
		require.Equal(t, jack.IntegrationLeadCreated, got[0].Doc.Type, "a new lead is announced before its message")
		require.Equal(t, jack.IntegrationMessageReceived, got[1].Doc.Type)
		for _, r := range got {
			verifySignature(t, i.Secret, r.Sig, r.Body, time.Now())
			require.Equal(t, r.Doc.ID.String(), r.EventID, "Jack-Event-Id is the document's id")
			require.Equal(t, b.org.ID, r.Doc.OrganizationID)
			require.Equal(t, lead.ID, r.Doc.Data.Lead.ID)
		}
		require.Equal(t, "Is the Civic still there?", got[1].Doc.Data.Message.Content)

		// Qualification changes: lead.updated with the changes, and lead.qualified.
		lead.ChaseStatus, lead.BudgetRange = jack.ChaseQualified, "$20k-$25k"
		leadEvent(t, b, lead)
		waitFor(t, 5*time.Second, "lead.updated and lead.qualified", func() bool { return len(rc.all()) >= 4 })
		got = rc.all()
		require.Equal(t, jack.IntegrationLeadUpdated, got[2].Doc.Type)
		require.Equal(t, &crm.Change{From: "new", To: "qualified"}, got[2].Doc.Data.Changes["chaseStatus"])
		require.Equal(t, jack.IntegrationLeadQualified, got[3].Doc.Type)

		// The same lead again without a change: nothing more.
		leadEvent(t, b, lead)
		time.Sleep(500 * time.Millisecond)
		require.Len(t, rc.all(), 4)

	})

	t.Run("LeadsWithoutALeadEvent", func(t *testing.T) {
		b := setup(t)
		// A lead from before the first integration, then one created through the API after it:
		// neither has a lead event of its own; each texts in.
		old := storetest.MustCreateLead(t, b.store, b.org.ID, storetest.NewPhone())
		rc := newReceiver(t, nil)
		integration(t, b, rc.srv.URL, jack.IntegrationLeadCreated, jack.IntegrationLeadUpdated, jack.IntegrationMessageReceived)
		fresh := storetest.MustCreateLead(t, b.store, b.org.ID, storetest.NewPhone())
		for _, l := range []*jack.Lead{old, fresh} {
			m := storetest.MustInsertMessage(t, b.store, b.org.ID, storetest.NewMessage(l, "Hello from "+l.CustomerName, time.Now()))
			storetest.MustInsertEvents(t, b.store, b.org.ID, jack.NewEvent(jack.EventSMSReceived, b.org.ID, l.ID, l.PhoneNumberNormalized, time.Now(), m))
		}
		start(t, b, crm.Config{})
		waitFor(t, 5*time.Second, "three deliveries", func() bool { return len(rc.all()) >= 3 })
		time.Sleep(300 * time.Millisecond)
		got := map[string][]string{} // per lead: only a lead's own events are ordered
		for _, r := range rc.all() {
			got[r.Doc.Data.Lead.ID] = append(got[r.Doc.Data.Lead.ID], r.Doc.Type)
		}
		require.Equal(t, []string{jack.IntegrationMessageReceived}, got[old.ID], "an older lead is not announced as new")
		require.Equal(t, []string{jack.IntegrationLeadCreated, jack.IntegrationMessageReceived}, got[fresh.ID])
	})

	t.Run("RetriesWithGrowingGaps", func(t *testing.T) {
		b := setup(t)
		const timeout = 300 * time.Millisecond
		rc := newReceiver(t, func(n int, _ received) int {
			switch n {
			case 1, 2:
				return http.StatusInternalServerError
			case 3:
				time.Sleep(timeout + 200*time.Millisecond) // longer than the attempt may take
				return http.StatusOK
			}
			return http.StatusNoContent
		})
		i := integration(t, b, rc.srv.URL, jack.IntegrationLeadCreated)
		base := 200 * time.Millisecond
		start(t, b, crm.Config{Timeout: timeout, RetryBase: base, RetryMax: 10 * time.Second})
		leadEvent(t, b, storetest.MustCreateLead(t, b.store, b.org.ID, storetest.NewPhone()))

		waitFor(t, 15*time.Second, "success on the fourth attempt", func() bool { return len(rc.all()) >= 4 })
		got := rc.all()
		// Each retry waits within [gap/2, gap] of its nominal gap, which doubles: 200, 400, 800 ms
		// (after a timeout the gap counts from the attempt's end).
		nominal := []time.Duration{base, 2 * base, 4 * base}
		starts := []time.Time{got[0].At, got[1].At, got[2].At.Add(timeout)}
		var gaps []time.Duration
		for k, g := range nominal {
			gap := got[k+1].At.Sub(starts[k])
			gaps = append(gaps, gap)
			t.Logf("retry %d after %v (nominal %v)", k+1, gap, g)
			require.GreaterOrEqual(t, gap, g/2-20*time.Millisecond, "retry %d too early", k+1)
			require.LessOrEqual(t, gap, g+750*time.Millisecond, "retry %d too late (a loaded machine adds a little)", k+1)
			require.Equal(t, got[0].EventID, got[k+1].EventID, "the same event id on every attempt")
		}
		require.Greater(t, gaps[2], gaps[0], "the gaps grow")
		waitFor(t, 5*time.Second, "the success recorded", func() bool {
			ds, err := b.store.FindDeliveries(t.Context(), b.org.ID, i.ID, 0)
			require.NoError(t, err)
			return len(ds) == 1 && ds[0].Status == jack.DeliverySucceeded
		})
		ds, err := b.store.FindDeliveries(t.Context(), b.org.ID, i.ID, 0)
		require.NoError(t, err)
		require.Equal(t, 4, ds[0].Attempts)
		require.Equal(t, http.StatusNoContent, *ds[0].ResponseCode)
		var seen []string
		for _, a := range ds[0].History {
			seen = append(seen, a.Error)
		}
		require.Equal(t, []string{"webhook answered HTTP 500", "webhook answered HTTP 500", "webhook: timed out", ""}, seen,
			"every attempt is listed with its outcome")
		require.Len(t, rc.all(), 4, "nothing after the success")
	})

	t.Run("FailsAfterRetryWindow", func(t *testing.T) {
		b := setup(t)
		rc := newReceiver(t, func(int, received) int { return http.StatusBadGateway })
		i := integration(t, b, rc.srv.URL, jack.IntegrationLeadCreated)
		start(t, b, crm.Config{RetryBase: 50 * time.Millisecond, RetryMax: 100 * time.Millisecond, RetryFor: 300 * time.Millisecond})
		leadEvent(t, b, storetest.MustCreateLead(t, b.store, b.org.ID, storetest.NewPhone()))
		var d *jack.IntegrationDelivery
		waitFor(t, 10*time.Second, "the delivery marked failed", func() bool {
			ds, err := b.store.FindDeliveries(t.Context(), b.org.ID, i.ID, 0)
			require.NoError(t, err)
			if len(ds) == 1 && ds[0].Status == jack.DeliveryFailed {
				d = ds[0]
			}
			return d != nil
		})
		require.Equal(t, http.StatusBadGateway, *d.ResponseCode)
		require.Nil(t, d.NextAttemptAt)
		require.Equal(t, len(rc.all()), d.Attempts)
		require.GreaterOrEqual(t, d.Attempts, 3)

		// Redelivery sends it again with the same event id.
		rc.mu.Lock()
		rc.respond = nil
		rc.mu.Unlock()
		n := len(rc.all())
		_, err := b.store.Redeliver(t.Context(), b.org.ID, i.ID, d.ID)
		require.NoError(t, err)
		waitFor(t, 5*time.Second, "the redelivery", func() bool { return len(rc.all()) > n })
		require.Equal(t, d.EventID.String(), rc.all()[n].EventID)
	})

	t.Run("OrderPerLead", func(t *testing.T) {
		b := setup(t)
		lead := storetest.MustCreateLead(t, b.store, b.org.ID, storetest.NewPhone())
		var mu sync.Mutex
		failures := 0
		rc := newReceiver(t, func(_ int, r received) int {
			mu.Lock()
			defer mu.Unlock()
			if r.Doc.Data.Lead.ID == lead.ID && r.Doc.Type == jack.IntegrationLeadCreated && failures < 3 {
				failures++
				return http.StatusServiceUnavailable
			}
			return http.StatusOK
		})
		integration(t, b, rc.srv.URL, jack.IntegrationLeadCreated, jack.IntegrationLeadUpdated)
		lead.CreatedAt = time.Now().UTC()
		leadEvent(t, b, lead) // lead.created: fails three times
		lead.ChaseStatus = jack.ChaseEngaged
		leadEvent(t, b, lead) // lead.updated: must wait for it
		other := storetest.MustCreateLead(t, b.store, b.org.ID, storetest.NewPhone())
		leadEvent(t, b, other) // another lead: not held back
		start(t, b, crm.Config{RetryBase: 100 * time.Millisecond, RetryMax: 200 * time.Millisecond})

		waitFor(t, 10*time.Second, "every event", func() bool { return len(rc.all()) >= 6 })
		var order []string
		otherAt := -1
		for k, r := range rc.all() {
			switch r.Doc.Data.Lead.ID {
			case lead.ID:
				order = append(order, r.Doc.Type)
			case other.ID:
				otherAt = k
			}
		}
		require.Equal(t, []string{jack.IntegrationLeadCreated, jack.IntegrationLeadCreated, jack.IntegrationLeadCreated,
			jack.IntegrationLeadCreated, jack.IntegrationLeadUpdated}, order, "the update waits for the creation's success")
		require.Less(t, otherAt, 2, "another lead's event is not held back by the failing one")
	})
}

func TestSign(t *testing.T) {
	body := []byte(`{"id":"evt"}`)
	at := time.Unix(1700000000, 0)
	sig := crm.Sign("whsec_abc", body, at)
	require.True(t, strings.HasPrefix(sig, "t=1700000000,v1="))
	verifySignature(t, "whsec_abc", sig, body, at)
	// Stripe-compatible: the same HMAC a receiver gets from openssl.
	// printf '1700000000.{"id":"evt"}' | openssl dgst -sha256 -hmac whsec_abc
	require.Equal(t, "t=1700000000,v1=284ba11cfa9751942a6b8c6599eba9e33e87b2e74f6bdf9d6f55152d5e93c522", sig)
	require.NotEqual(t, sig, crm.Sign("whsec_abd", body, at), "another secret signs differently")
	require.NotEqual(t, sig, crm.Sign("whsec_abc", []byte(`{"id":"evu"}`), at), "another body signs differently")
}

func TestSSRFGuard(t *testing.T) {
	for _, tc := range []struct{ name, url string }{
		{"Loopback", "http://127.0.0.1:8080/hook"},
		{"Localhost", "http://localhost/hook"},
		{"IPv6Loopback", "http://[::1]/hook"},
		{"Private10", "https://10.1.2.3/hook"},
		{"Private192", "https://192.168.0.10/hook"},
		{"LinkLocalMetadata", "http://169.254.169.254/latest/meta-data"},
		{"IPv4MappedLoopback", "http://[::ffff:127.0.0.1]/hook"},
		{"Unspecified", "http://0.0.0.0/hook"},
		{"CGNAT", "http://100.64.1.1/hook"},
		{"NotHTTP", "ftp://crm.example.com/hook"},
		{"Credentials", "https://user:pass@93.184.216.34/hook"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := crm.CheckURL(t.Context(), tc.url, false)
			require.Error(t, err)
			require.Equal(t, jack.EUNPROCESSABLE, jack.ErrorCode(err))
		})
	}
	t.Run("PublicLiteral", func(t *testing.T) {
		require.NoError(t, crm.CheckURL(t.Context(), "https://93.184.216.34/hook", false))
	})
	t.Run("AllowPrivate", func(t *testing.T) {
		require.NoError(t, crm.CheckURL(t.Context(), "http://127.0.0.1:8080/hook", true))
	})
	t.Run("RefusedWhenConnecting", func(t *testing.T) {
		// A name that resolved to a public address at creation and to loopback now: the dialer
		// checks the address it connects to.
		var hits int
		srv := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { hits++ }))
		t.Cleanup(srv.Close)
		resp, err := crm.NewHTTPClient(time.Second, false).Post(srv.URL, "application/json", strings.NewReader("{}"))
		if resp != nil {
			resp.Body.Close()
		}
		require.ErrorContains(t, err, "loopback, private or link-local")
		require.Zero(t, hits)
	})
	t.Run("DeliveryRefusedWhenConnecting", func(t *testing.T) {
		b := setup(t)
		var hits int
		srv := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { hits++ }))
		t.Cleanup(srv.Close)
		i := integration(t, b, srv.URL, jack.IntegrationLeadCreated)
		svc := crm.New(b.store, crm.Config{}, nil) // private addresses refused
		res := svc.Send(t.Context(), i, uuid.NewString(), jack.IntegrationTest, []byte("{}"))
		require.Error(t, res.Err)
		require.Zero(t, hits)
	})
}

// smtpServer is a fake SMTP server on loopback that keeps every message it is given.
type smtpServer struct {
	addr string
	mu   sync.Mutex
	msgs [][]byte
	rcpt []string
}

func newSMTPServer(t *testing.T) *smtpServer {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	s := &smtpServer{addr: ln.Addr().String()}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go s.serve(c)
		}
	}()
	return s
}

func (s *smtpServer) serve(c net.Conn) {
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	r := bufio.NewReader(c)
	say := func(line string) { _, _ = io.WriteString(c, line+"\r\n") }
	say("220 fake.smtp ESMTP")
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			return
		}
		cmd := strings.ToUpper(strings.TrimSpace(line))
		switch {
		case strings.HasPrefix(cmd, "EHLO"), strings.HasPrefix(cmd, "HELO"):
			say("250-fake.smtp")
			say("250 8BITMIME")
		case strings.HasPrefix(cmd, "RCPT TO:"):
			s.mu.Lock()
			s.rcpt = append(s.rcpt, strings.Trim(strings.TrimSpace(line)[8:], "<> "))
			s.mu.Unlock()
			say("250 OK")
		case cmd == "DATA":
			say("354 go ahead")
			var data bytes.Buffer
			for {
				l, err := r.ReadString('\n')
				if err != nil {
					return
				}
				if l == ".\r\n" {
					break
				}
				data.WriteString(strings.TrimPrefix(l, "."))
			}
			s.mu.Lock()
			s.msgs = append(s.msgs, data.Bytes())
			s.mu.Unlock()
			say("250 queued")
		case cmd == "QUIT":
			say("221 bye")
			return
		default:
			say("250 OK")
		}
	}
}

func (s *smtpServer) messages() [][]byte {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([][]byte(nil), s.msgs...)
}

func TestADFEmail(t *testing.T) {
	b := setup(t)
	smtp := newSMTPServer(t)
	mailer, err := crm.NewMailer(crm.SMTPConfig{URL: "smtp://" + smtp.addr, From: "jack@dealer.test"})
	require.NoError(t, err)
	i := &jack.Integration{Kind: jack.IntegrationADFEmail, To: "leads@crm.test", Enabled: true,
		Events: []string{jack.IntegrationLeadCreated}}
	require.NoError(t, b.store.CreateIntegration(t.Context(), b.org.ID, i))
	start(t, b, crm.Config{Mailer: mailer})

	lead := jack.NewLead(b.org.ID, "Alex Doe", storetest.NewPhone(), time.Now().UTC())
	lead.Email, lead.VehiclePreference, lead.BudgetRange = "alex@example.com", "2021 Honda Civic EX", "$20k"
	require.NoError(t, b.store.CreateLead(t.Context(), b.org.ID, lead))
	require.NoError(t, b.store.InConversationTx(t.Context(), b.org.ID, func(tx jack.ConversationTx) error {
		_, err := tx.UpsertSummary(t.Context(), &jack.Summary{PhoneNumberNormalized: lead.PhoneNumberNormalized,
			Summary: "Wants a Civic, trade-in maybe", SummaryType: "conversation"})
		return err
	}))
	leadEvent(t, b, lead)
	waitFor(t, 5*time.Second, "the ADF e-mail", func() bool { return len(smtp.messages()) == 1 })

	m, err := mail.ReadMessage(bytes.NewReader(smtp.messages()[0]))
	require.NoError(t, err)
	require.Equal(t, []string{"leads@crm.test"}, smtp.rcpt)
	require.Contains(t, m.Header.Get("Subject"), "Alex Doe")
	mt, _, err := mime.ParseMediaType(m.Header.Get("Content-Type"))
	require.NoError(t, err)
	require.Equal(t, "text/plain", mt)
	body := io.Reader(m.Body)
	if strings.EqualFold(m.Header.Get("Content-Transfer-Encoding"), "quoted-printable") {
		body = quotedprintable.NewReader(m.Body)
	}
	xml, err := io.ReadAll(body)
	require.NoError(t, err)
	t.Logf("ADF:\n%s", xml)
	require.Contains(t, string(xml), `<?ADF VERSION "1.0"?>`)
	require.Contains(t, string(xml), "<vendorname>"+b.org.Name+"</vendorname>")
	require.Contains(t, string(xml), "Wants a Civic, trade-in maybe")

	rows, err := intake.ParseADF(bytes.NewReader(xml))
	require.NoError(t, err)
	require.Len(t, rows, 1)
	require.NoError(t, rows[0].Err)
	got := rows[0].Lead.Lead
	require.Equal(t, "Alex Doe", got.CustomerName)
	require.Equal(t, lead.PhoneNumberNormalized, got.PhoneNumber)
	require.Equal(t, "alex@example.com", got.Email)
	require.Equal(t, "2021 Honda Civic EX", got.VehiclePreference)
	require.Equal(t, "Jack", rows[0].Lead.Source)
	require.WithinDuration(t, time.Now(), got.LastActivity, time.Minute)

	var ds []*jack.IntegrationDelivery
	waitFor(t, 5*time.Second, "the delivery recorded as succeeded", func() bool {
		ds, err = b.store.FindDeliveries(context.Background(), b.org.ID, i.ID, 0)
		require.NoError(t, err)
		return len(ds) == 1 && ds[0].Status == jack.DeliverySucceeded
	})
	require.Contains(t, string(smtp.messages()[0]), ds[0].EventID.String()+"@jack", "a stable Message-ID per event")
}

func TestMailerTLSRequired(t *testing.T) {
	smtp := newSMTPServer(t) // offers no STARTTLS
	mailer, err := crm.NewMailer(crm.SMTPConfig{URL: "smtp://" + smtp.addr, From: "jack@dealer.test", TLS: crm.TLSRequired})
	require.NoError(t, err)
	err = mailer.Send(t.Context(), crm.Email{To: []string{"leads@crm.test"}, Subject: "x", MessageID: "x@jack", Body: []byte("<adf/>")})
	require.Error(t, err, "SMTP_TLS=required refuses a server without STARTTLS")
	require.Empty(t, smtp.messages())

	_, err = crm.NewMailer(crm.SMTPConfig{URL: "http://mail.example.com", From: "jack@dealer.test"})
	require.Error(t, err)
	_, err = crm.NewMailer(crm.SMTPConfig{URL: "smtp://mail.example.com"})
	require.ErrorContains(t, err, "SMTP_FROM")
}
