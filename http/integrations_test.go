package http_test

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/jack-auto/jack"
	"github.com/jack-auto/jack/crm"
	jackhttp "github.com/jack-auto/jack/http"
)

type integrationReply struct {
	jack.Integration
	Secret string `json:"secret"`
}

func TestIntegrations(t *testing.T) {
	t.Parallel()
	for _, so := range stores {
		t.Run(so.name, func(t *testing.T) {
			t.Parallel()
			testIntegrationsAPI(t, so)
		})
	}
}

func testIntegrationsAPI(t *testing.T, so storeOpener) {
	type testBundle struct {
		s     *testServer
		token string
		org   jack.Organization
	}
	setup := func(t *testing.T, allowPrivate bool) *testBundle {
		t.Helper()
		store := so.open(t)
		s := MustOpenServer(t, store, func(cfg *jackhttp.Config) {
			cfg.Integrations = crm.New(store, crm.Config{AllowPrivate: allowPrivate}, nil)
		})
		token, _, org := MustRegister(t, s.URL)
		return &testBundle{s: s, token: token, org: org}
	}
	create := func(t *testing.T, b *testBundle, body map[string]any) integrationReply {
		t.Helper()
		var out integrationReply
		MustDo(t, b.s.URL, request{Method: "POST", Path: "/api/integrations", Token: b.token, Body: body}, http.StatusCreated, &out)
		return out
	}
	webhook := map[string]any{"kind": "webhook", "url": "https://93.184.216.34/jack", "events": []string{"lead.created", "appointment.booked"}}

	t.Run("OK", func(t *testing.T) {
		t.Parallel()
		b := setup(t, false)
		i := create(t, b, webhook)
		require.Regexp(t, `^whsec_[0-9a-f]{64}$`, i.Secret, "the secret is in the 201 reply")
		require.True(t, i.Enabled)
		require.Equal(t, b.org.ID, i.OrganizationID)

		got := MustDo(t, b.s.URL, request{Method: "GET", Path: "/api/integrations/" + i.ID.String(), Token: b.token}, http.StatusOK, nil)
		require.NotContains(t, string(got.Body), i.Secret)
		require.NotContains(t, string(got.Body), `"secret"`)
		list := MustDo(t, b.s.URL, request{Method: "GET", Path: "/api/integrations", Token: b.token}, http.StatusOK, nil)
		require.NotContains(t, string(list.Body), `"secret"`)
		var page struct{ Integrations []jack.Integration }
		require.NoError(t, json.Unmarshal(list.Body, &page))
		require.Len(t, page.Integrations, 1)

		email := create(t, b, map[string]any{"kind": "adf_email", "to": "leads@crm.example.com", "events": []string{"lead.qualified"}})
		require.Empty(t, email.Secret, "an e-mail integration has no secret")

		var rotated integrationReply
		MustDo(t, b.s.URL, request{Method: "PATCH", Path: "/api/integrations/" + i.ID.String(), Token: b.token,
			Body: map[string]any{"rotateSecret": true, "enabled": false}}, http.StatusOK, &rotated)
		require.Regexp(t, `^whsec_`, rotated.Secret)
		require.NotEqual(t, i.Secret, rotated.Secret)
		require.False(t, rotated.Enabled)
		stored, err := b.s.Store.FindIntegrationByID(t.Context(), b.org.ID, i.ID)
		require.NoError(t, err)
		require.Equal(t, rotated.Secret, stored.Secret)

		var patched integrationReply
		MustDo(t, b.s.URL, request{Method: "PATCH", Path: "/api/integrations/" + i.ID.String(), Token: b.token,
			Body: map[string]any{"events": []string{"call.completed"}}}, http.StatusOK, &patched)
		require.Equal(t, []string{"call.completed"}, patched.Events)
		require.Empty(t, patched.Secret, "no secret unless rotated")

		MustDo(t, b.s.URL, request{Method: "DELETE", Path: "/api/integrations/" + i.ID.String(), Token: b.token}, http.StatusNoContent, nil)
		MustFail(t, b.s.URL, request{Method: "GET", Path: "/api/integrations/" + i.ID.String(), Token: b.token}, http.StatusNotFound, jack.ENOTFOUND)
	})

	t.Run("ErrSSRF", func(t *testing.T) {
		t.Parallel()
		b := setup(t, false)
		for _, url := range []string{"http://127.0.0.1:3001/hook", "http://localhost/hook", "http://10.0.0.5/hook",
			"http://169.254.169.254/latest", "http://[::1]/hook", "ftp://crm.example.com/"} {
			e := MustFail(t, b.s.URL, request{Method: "POST", Path: "/api/integrations", Token: b.token,
				Body: map[string]any{"kind": "webhook", "url": url, "events": []string{"lead.created"}}}, http.StatusUnprocessableEntity, jack.EUNPROCESSABLE)
			require.Contains(t, e.Error.Fields, "url", url)
		}
		i := create(t, b, webhook)
		MustFail(t, b.s.URL, request{Method: "PATCH", Path: "/api/integrations/" + i.ID.String(), Token: b.token,
			Body: map[string]any{"url": "http://192.168.1.10/"}}, http.StatusUnprocessableEntity, jack.EUNPROCESSABLE)
	})

	t.Run("ErrInvalid", func(t *testing.T) {
		t.Parallel()
		b := setup(t, false)
		post := func(body any) request {
			return request{Method: "POST", Path: "/api/integrations", Token: b.token, Body: body}
		}
		e := MustFail(t, b.s.URL, post(map[string]any{"kind": "webhook", "url": "https://93.184.216.34/", "events": []string{"lead.sold"}}),
			http.StatusUnprocessableEntity, jack.EUNPROCESSABLE)
		require.Contains(t, e.Error.Fields, "events")
		e = MustFail(t, b.s.URL, post(map[string]any{"kind": "fax", "events": []string{"lead.created"}}), http.StatusUnprocessableEntity, jack.EUNPROCESSABLE)
		require.Contains(t, e.Error.Fields, "kind")
		e = MustFail(t, b.s.URL, post(map[string]any{"kind": "adf_email", "to": "not an address", "events": []string{"lead.created"}}),
			http.StatusUnprocessableEntity, jack.EUNPROCESSABLE)
		require.Contains(t, e.Error.Fields, "to")
		MustFail(t, b.s.URL, post(map[string]any{"kind": "webhook", "url": "https://93.184.216.34/", "events": []string{}, "secret": "mine"}),
			http.StatusUnprocessableEntity, jack.EUNPROCESSABLE)
		MustFail(t, b.s.URL, request{Method: "POST", Path: "/api/integrations", Token: b.token, Body: "{not json"}, http.StatusBadRequest, jack.EINVALID)
		MustFail(t, b.s.URL, request{Method: "GET", Path: "/api/integrations/not-a-uuid", Token: b.token}, http.StatusNotFound, jack.ENOTFOUND)
	})

	t.Run("ErrOtherOrganization", func(t *testing.T) {
		t.Parallel()
		b := setup(t, false)
		i := create(t, b, webhook)
		d := &jack.IntegrationDelivery{ID: uuid.Must(uuid.NewV7()), IntegrationID: i.ID, EventID: uuid.Must(uuid.NewV7()),
			EventType: jack.IntegrationLeadCreated, Payload: json.RawMessage(`{}`)}
		feeds, err := b.s.Store.ClaimIntegrationFeeds(t.Context(), "test", time.Now(), time.Minute, 0)
		require.NoError(t, err)
		require.NoError(t, b.s.Store.CommitIntegrationDispatch(t.Context(), b.org.ID,
			jack.IntegrationDispatch{From: feeds[0].After, To: feeds[0].After, Deliveries: []*jack.IntegrationDelivery{d}}))

		otherToken, _, _ := MustRegister(t, b.s.URL)
		base := "/api/integrations/" + i.ID.String()
		for _, r := range []request{
			{Method: "GET", Path: base},
			{Method: "PATCH", Path: base, Body: map[string]any{"enabled": false}},
			{Method: "DELETE", Path: base},
			{Method: "POST", Path: base + "/test", Body: map[string]any{}},
			{Method: "GET", Path: base + "/deliveries"},
			{Method: "POST", Path: base + "/deliveries/" + d.ID.String() + "/redeliver", Body: map[string]any{}},
		} {
			r.Token = otherToken
			MustFail(t, b.s.URL, r, http.StatusNotFound, jack.ENOTFOUND)
		}
		var page struct{ Integrations []jack.Integration }
		MustDo(t, b.s.URL, request{Method: "GET", Path: "/api/integrations", Token: otherToken}, http.StatusOK, &page)
		require.Empty(t, page.Integrations)
		require.NotNil(t, page.Integrations)

		// Its own organization still sees both, and can redeliver.
		var ds struct{ Deliveries []jack.IntegrationDelivery }
		MustDo(t, b.s.URL, request{Method: "GET", Path: base + "/deliveries", Token: b.token}, http.StatusOK, &ds)
		require.Len(t, ds.Deliveries, 1)
		require.Equal(t, d.EventID, ds.Deliveries[0].EventID)
		require.NotNil(t, ds.Deliveries[0].History, "history is [] before any attempt")
		var again jack.IntegrationDelivery
		MustDo(t, b.s.URL, request{Method: "POST", Path: base + "/deliveries/" + d.ID.String() + "/redeliver", Token: b.token,
			Body: map[string]any{}}, http.StatusAccepted, &again)
		require.Equal(t, jack.DeliveryPending, again.Status)
		MustFail(t, b.s.URL, request{Method: "POST", Path: base + "/deliveries/" + uuid.NewString() + "/redeliver", Token: b.token,
			Body: map[string]any{}}, http.StatusNotFound, jack.ENOTFOUND)
	})

	t.Run("ErrNotAdmin", func(t *testing.T) {
		t.Parallel()
		b := setup(t, false)
		agent, _ := MustCreateUser(t, b.s.URL, b.token, jack.RoleAgent)
		MustFail(t, b.s.URL, request{Method: "GET", Path: "/api/integrations", Token: agent}, http.StatusForbidden, jack.EFORBIDDEN)
		MustFail(t, b.s.URL, request{Method: "POST", Path: "/api/integrations", Token: agent, Body: webhook}, http.StatusForbidden, jack.EFORBIDDEN)
	})

	t.Run("Test", func(t *testing.T) {
		t.Parallel()
		b := setup(t, true)
		var got struct {
			sig, id string
			body    []byte
		}
		status := http.StatusOK
		crmServer := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			got.body, _ = io.ReadAll(r.Body)
			got.sig, got.id = r.Header.Get(crm.SignatureHeader), r.Header.Get(crm.EventIDHeader)
			w.WriteHeader(status)
		}))
		t.Cleanup(crmServer.Close)
		i := create(t, b, map[string]any{"kind": "webhook", "url": crmServer.URL, "events": []string{"lead.created"}})
		var res struct {
			OK         bool
			StatusCode int
			Error      string
		}
		MustDo(t, b.s.URL, request{Method: "POST", Path: "/api/integrations/" + i.ID.String() + "/test", Token: b.token,
			Body: map[string]any{}}, http.StatusOK, &res)
		require.True(t, res.OK)
		require.Equal(t, http.StatusOK, res.StatusCode)
		require.Equal(t, crm.Sign(i.Secret, got.body, time.Unix(mustUnix(t, got.sig), 0)), got.sig)
		var doc crm.Document
		require.NoError(t, json.Unmarshal(got.body, &doc))
		require.Equal(t, jack.IntegrationTest, doc.Type)
		require.Equal(t, doc.ID.String(), got.id)

		status = http.StatusInternalServerError
		MustDo(t, b.s.URL, request{Method: "POST", Path: "/api/integrations/" + i.ID.String() + "/test", Token: b.token,
			Body: map[string]any{}}, http.StatusOK, &res)
		require.False(t, res.OK)
		require.Equal(t, http.StatusInternalServerError, res.StatusCode)
		require.Contains(t, res.Error, "500")
	})

	t.Run("ErrNotConfigured", func(t *testing.T) {
		t.Parallel()
		s := MustOpenServer(t, so.open(t))
		token, _, _ := MustRegister(t, s.URL)
		MustFail(t, s.URL, request{Method: "POST", Path: "/api/integrations", Token: token, Body: webhook}, http.StatusServiceUnavailable, "integrations_not_configured")
	})
}

// mustUnix reads t= of a Jack-Signature header.
func mustUnix(t *testing.T, sig string) int64 {
	t.Helper()
	var ts int64
	_, err := fmt.Sscanf(sig, "t=%d,", &ts)
	require.NoError(t, err)
	return ts
}
