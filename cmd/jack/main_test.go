package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/jack-auto/jack"
	"github.com/jack-auto/jack/persistence/postgres/postgrestest"
	"github.com/jack-auto/jack/persistence/storetest"
	"github.com/jack-auto/jack/providers/fake"
	"github.com/jack-auto/jack/providers/twilio"
)

// MustRunMain starts a node in-process on 127.0.0.1:0 with env (plus a temp data dir unless env
// names one) and closes it in tb.Cleanup.
func MustRunMain(tb testing.TB, env map[string]string) *Main {
	tb.Helper()
	m := runMain(tb, env)
	tb.Cleanup(func() { require.NoError(tb, m.Close()) })
	return m
}

func runMain(tb testing.TB, env map[string]string) *Main {
	tb.Helper()
	full := map[string]string{"JACK_ADDR": "127.0.0.1:0", "JACK_DATA_DIR": tb.TempDir(), "JACK_AI_DEBOUNCE": "50ms"}
	for k, v := range env {
		full[k] = v
	}
	cfg, err := LoadConfig(func(k string) string { return full[k] })
	require.NoError(tb, err)
	m := NewMain(cfg, testLogger(tb))
	require.NoError(tb, m.Run(context.Background()))
	return m
}

func testLogger(tb testing.TB) *slog.Logger {
	w := &tbWriter{tb: tb}
	tb.Cleanup(func() { w.done.Store(true) })
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: slog.LevelWarn}))
}

type tbWriter struct {
	tb   testing.TB
	done atomic.Bool
}

func (w *tbWriter) Write(p []byte) (int, error) {
	if !w.done.Load() {
		w.tb.Log(strings.TrimSpace(string(p)))
	}
	return len(p), nil
}

// client is a signed-in API client of one node.
type client struct {
	tb    testing.TB
	base  string
	token string
}

// do sends a JSON request and decodes a JSON answer into out; it returns the status.
func (c *client) do(method, path string, body, out any) int {
	c.tb.Helper()
	var r io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		require.NoError(c.tb, err)
		r = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, c.base+path, r)
	require.NoError(c.tb, err)
	req.Header.Set("Content-Type", "application/json")
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(c.tb, err)
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	require.NoError(c.tb, err)
	if out != nil && len(data) > 0 {
		require.NoError(c.tb, json.Unmarshal(data, out), "%s %s: %s", method, path, data)
	}
	return resp.StatusCode
}

func (c *client) must(method, path string, body any, status int, out any) {
	c.tb.Helper()
	var raw json.RawMessage
	got := c.do(method, path, body, &raw)
	require.Equal(c.tb, status, got, "%s %s answered %s", method, path, raw)
	if out != nil {
		require.NoError(c.tb, json.Unmarshal(raw, out))
	}
}

type authAnswer struct {
	Token        string            `json:"token"`
	User         jack.User         `json:"user"`
	Organization jack.Organization `json:"organization"`
}

// register signs up a dealership and returns a client signed in as its owner.
func register(tb testing.TB, base, email string) (*client, authAnswer) {
	tb.Helper()
	c := &client{tb: tb, base: base}
	var a authAnswer
	c.must("POST", "/api/auth/register", map[string]string{"email": email, "password": "correct horse", "fullName": "Sam Owner", "organizationName": "Premium Auto"}, http.StatusCreated, &a)
	c.token = a.Token
	return c, a
}

// TestMain_Foundation: register → login → create lead → list, and the lead and the session
// survive a restart; on the embedded default and on Postgres.
func TestMain_Foundation(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		env  func(t *testing.T) map[string]string
	}{
		{"Embedded", func(t *testing.T) map[string]string { return map[string]string{"JACK_DATA_DIR": t.TempDir()} }},
		{"Postgres", func(t *testing.T) map[string]string {
			return map[string]string{"JACK_DATA_DIR": t.TempDir(), "DATABASE_URL": postgrestest.URL(t), "JWT_SECRET": strings.Repeat("s", 40)}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			env := tc.env(t)
			m := runMain(t, env)
			c, a := register(t, m.URL(), "owner@premium.test")
			login := &client{tb: t, base: m.URL()}
			var la authAnswer
			login.must("POST", "/api/auth/login", map[string]string{"email": "OWNER@premium.test", "password": "correct horse"}, http.StatusOK, &la)
			require.Equal(t, a.User.ID, la.User.ID)
			c.token = la.Token

			var lead jack.Lead
			c.must("POST", "/api/leads", map[string]any{"customerName": "Alex Doe", "phoneNumber": "(604) 555-0123"}, http.StatusCreated, &lead)
			require.Equal(t, "+16045550123", lead.PhoneNumberNormalized)
			require.NoError(t, m.Close())

			m2 := MustRunMain(t, env)
			c.base = m2.URL()
			var page jack.LeadPage
			c.must("GET", "/api/leads", nil, http.StatusOK, &page)
			require.Len(t, page.Leads, 1, "the lead survived the restart")
			require.Equal(t, lead.ID, page.Leads[0].ID)
		})
	}
}

// smsBundle is a node wired to a fake Twilio, with a signed-in owner and an active number.
type smsBundle struct {
	m        *Main
	twilio   *fake.Twilio
	owner    *client
	orgPhone string
}

func newSMSBundle(t *testing.T, env map[string]string) *smsBundle {
	t.Helper()
	tw := fake.NewTwilio(t, "AC0123456789abcdef0123456789abcdef", "fakeauthtoken0123456789")
	full := map[string]string{"TWILIO_ACCOUNT_SID": tw.AccountSID(), "TWILIO_AUTH_TOKEN": tw.AuthToken(), "TWILIO_API_URL": tw.URL()}
	for k, v := range env {
		full[k] = v
	}
	m := MustRunMain(t, full)
	owner, a := register(t, m.URL(), "owner@sms.test")
	b := &smsBundle{m: m, twilio: tw, owner: owner, orgPhone: "+16045550100"}
	// No quiet hours, so staff texts work whatever the time of day (quiet hours have their own tests).
	owner.must("PATCH", "/api/organization", map[string]any{"settings": map[string]string{"contactHoursStart": "00:00", "contactHoursEnd": "24:00"}}, http.StatusOK, nil)
	owner.must("POST", "/api/organizations/"+a.Organization.ID.String()+"/phone-numbers", map[string]string{"phoneNumber": b.orgPhone, "twilioPhoneSid": "PN0123"}, http.StatusCreated, nil)
	return b
}

// text posts a signed inbound webhook as Twilio would and returns the status.
func (b *smsBundle) text(t *testing.T, from, body string) int {
	t.Helper()
	resp := b.twilio.PostWebhook(t, b.m.URL()+"/api/webhooks/twilio/sms/incoming", b.twilio.InboundSMSParams(from, b.orgPhone, body))
	return resp.StatusCode
}

func (b *smsBundle) lead(t *testing.T, phone string) jack.Lead {
	t.Helper()
	var page jack.LeadPage
	b.owner.must("GET", "/api/leads?q="+url.QueryEscape(phone), nil, http.StatusOK, &page)
	require.Len(t, page.Leads, 1)
	return *page.Leads[0]
}

func (b *smsBundle) messages(t *testing.T, leadID string) []jack.Message {
	t.Helper()
	var page struct{ Messages []jack.Message }
	b.owner.must("GET", "/api/leads/"+leadID+"/messages", nil, http.StatusOK, &page)
	return page.Messages
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestMain_SMS: the SMS channel end to end through real HTTP, the engine and the fake Twilio.
func TestMain_SMS(t *testing.T) {
	t.Parallel()
	t.Run("ConversationWithAIAndDelivery", func(t *testing.T) {
		t.Parallel()
		b := newSMSBundle(t, nil)
		customer := "+16045550199"
		require.Equal(t, http.StatusOK, b.text(t, customer, "Hi, I'm looking for a 2021 Honda Civic"))
		sent := b.twilio.WaitForMessages(t, 1, 10*time.Second)
		require.Equal(t, customer, sent[0].To)
		require.Equal(t, b.orgPhone, sent[0].From)
		require.Equal(t, b.m.URL()+"/api/webhooks/twilio/sms/status", sent[0].StatusCallback)

		lead := b.lead(t, customer)
		require.Equal(t, "a 2021 Honda Civic", lead.VehiclePreference, "the offline agent recorded the vehicle")
		var msgs []jack.Message
		waitFor(t, "Twilio's sid on the reply", func() bool { // committed right after Twilio answers
			msgs = b.messages(t, lead.ID)
			return len(msgs) == 2 && msgs[1].ProviderMessageID != ""
		})
		require.Equal(t, sent[0].Sid, msgs[1].ProviderMessageID)
		require.Equal(t, jack.StatusQueued, msgs[1].Status, "the initial status comes from Twilio's create answer")

		b.twilio.SendStatus(t, sent[0].Sid, "sent", "")
		b.twilio.SendStatus(t, sent[0].Sid, "delivered", "")
		b.twilio.SendStatus(t, sent[0].Sid, "sent", "") // late, out of order
		require.Equal(t, jack.StatusDelivered, b.messages(t, lead.ID)[1].Status)
	})
	t.Run("StopAndStart", func(t *testing.T) {
		t.Parallel()
		b := newSMSBundle(t, nil)
		customer := "+16045550177"
		require.Equal(t, http.StatusOK, b.text(t, customer, "STOP"))
		lead := b.lead(t, customer)
		require.NotNil(t, lead.OptedOutAt)
		var e struct{ Error struct{ Code string } }
		require.Equal(t, http.StatusConflict, b.owner.do("POST", "/api/twilio/send-sms", map[string]string{"leadId": lead.ID, "message": "Still interested?"}, &e))
		require.Equal(t, "opted_out", e.Error.Code)
		require.Equal(t, http.StatusOK, b.text(t, customer, "Actually, what SUVs do you have?"))

		require.Equal(t, http.StatusOK, b.text(t, customer, "start"))
		require.Nil(t, b.lead(t, customer).OptedOutAt)
		b.owner.must("POST", "/api/twilio/send-sms", map[string]string{"leadId": lead.ID, "message": "Welcome back!"}, http.StatusCreated, nil)
		time.Sleep(200 * time.Millisecond) // several debounces: an AI reply would have gone out by now
		msgs := b.twilio.Messages()
		require.Len(t, msgs, 1, "keywords and opted-out texts got no AI reply; only the staff text went out")
		require.Equal(t, "Welcome back!", msgs[0].Body)
	})
	t.Run("CarrierOptOut", func(t *testing.T) {
		t.Parallel()
		b := newSMSBundle(t, nil)
		customer := "+16045550166"
		b.twilio.OptOut(customer)
		var lead jack.Lead
		b.owner.must("POST", "/api/leads", map[string]string{"customerName": "Opted Elsewhere", "phoneNumber": customer}, http.StatusCreated, &lead)
		require.Equal(t, http.StatusConflict, b.owner.do("POST", "/api/twilio/send-sms", map[string]string{"leadId": lead.ID, "message": "Hello"}, nil))
		require.NotNil(t, b.lead(t, customer).OptedOutAt, "Twilio 21610 marks the lead opted out")
		msgs := b.messages(t, lead.ID)
		require.Len(t, msgs, 1)
		require.Equal(t, jack.StatusFailed, msgs[0].Status)
	})
	t.Run("ErrForgedSignatureStoresNothing", func(t *testing.T) {
		t.Parallel()
		b := newSMSBundle(t, nil)
		params := b.twilio.InboundSMSParams("+16045550155", b.orgPhone, "forged")
		resp, err := twilio.PostInboundSMS(context.Background(), b.m.URL()+"/api/webhooks/twilio/sms/incoming", "wrong-token", params)
		require.NoError(t, err)
		resp.Body.Close()
		require.Equal(t, http.StatusForbidden, resp.StatusCode)
		var page jack.LeadPage
		b.owner.must("GET", "/api/leads", nil, http.StatusOK, &page)
		require.Empty(t, page.Leads, "no lead, no message")
	})
	t.Run("ErrUnknownTo", func(t *testing.T) {
		t.Parallel()
		b := newSMSBundle(t, nil)
		resp := b.twilio.PostWebhook(t, b.m.URL()+"/api/webhooks/twilio/sms/incoming", b.twilio.InboundSMSParams("+16045550144", "+16045550111", "hello?"))
		require.Equal(t, http.StatusNotFound, resp.StatusCode)
	})
	t.Run("Postgres", func(t *testing.T) {
		t.Parallel()
		b := newSMSBundle(t, map[string]string{"DATABASE_URL": postgrestest.URL(t), "JWT_SECRET": strings.Repeat("p", 40)})
		require.Equal(t, http.StatusOK, b.text(t, "+16045550133", "Do you have trucks?"))
		b.twilio.WaitForMessages(t, 1, 10*time.Second)
		lead := b.lead(t, "+16045550133")
		require.Len(t, b.messages(t, lead.ID), 2)
	})
}

// TestSimulate: `jack simulate sms` signs a webhook the running server accepts.
func TestSimulate(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	m := MustRunMain(t, map[string]string{"JACK_DATA_DIR": dir})
	owner, a := register(t, m.URL(), "owner@sim.test")
	owner.must("POST", "/api/organizations/"+a.Organization.ID.String()+"/phone-numbers", map[string]string{"phoneNumber": "+16045550100", "twilioPhoneSid": "PN1"}, http.StatusCreated, nil)

	env := map[string]string{"JACK_DATA_DIR": dir, "SERVER_URL": m.URL()}
	var out, errOut bytes.Buffer
	err := run(context.Background(), []string{"simulate", "sms", "--to", "604-555-0100", "--from", "+16045550122", "Is", "the", "RAV4", "available?"},
		func(k string) string { return env[k] }, &out, &errOut)
	require.NoError(t, err, errOut.String())
	require.Contains(t, out.String(), "delivered")
	var page jack.LeadPage
	owner.must("GET", "/api/leads", nil, http.StatusOK, &page)
	require.Len(t, page.Leads, 1)
	waitFor(t, "the offline agent's answer", func() bool {
		var msgs struct{ Messages []jack.Message }
		owner.must("GET", "/api/leads/"+page.Leads[0].ID+"/messages", nil, http.StatusOK, &msgs)
		return len(msgs.Messages) == 2 && msgs.Messages[1].Status == jack.StatusSent
	})
}

// TestJanitor: events older than the retention are dropped; newer ones stay for replay.
func TestJanitor(t *testing.T) {
	t.Parallel()
	m := MustRunMain(t, nil)
	org, _ := storetest.MustCreateOrganization(t, m.Store)
	lead := storetest.MustCreateLead(t, m.Store, org.ID, "+16045550190")
	old := jack.NewEvent(jack.EventLeadUpdated, org.ID, lead.ID, lead.PhoneNumberNormalized, time.Now().Add(-EventRetention-time.Hour), nil)
	recent := jack.NewEvent(jack.EventLeadUpdated, org.ID, lead.ID, lead.PhoneNumberNormalized, time.Now(), nil)
	require.NoError(t, m.Store.InConversationTx(t.Context(), org.ID, func(tx jack.ConversationTx) error {
		return tx.InsertEvents(t.Context(), old, recent)
	}))

	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan struct{})
	go func() { m.janitor(ctx, time.Hour); close(done) }()
	waitFor(t, "the old event to be dropped", func() bool {
		events, err := m.Store.FindEvents(t.Context(), org.ID, jack.EventFilter{})
		return err == nil && len(events) == 1 && events[0].ID == recent.ID
	})
	cancel()
	<-done
}
