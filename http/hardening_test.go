package http_test

import (
	"context"
	"fmt"
	"net/http"
	"sync/atomic"
	"testing"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/jack-auto/jack"

	jackhttp "github.com/jack-auto/jack/http"
	"github.com/jack-auto/jack/providers/twilio"
)

// TestTwilioWebhook_AccountSid: with accounts configured, a correctly signed webhook for another
// Twilio account is refused; the account and its subaccounts pass (issue 15, item 8).
func TestTwilioWebhook_AccountSid(t *testing.T) {
	t.Parallel()
	b := newWebhookBundle(t, func(cfg *jackhttp.Config) {
		cfg.SMSWebhooks = twilio.Webhooks{AuthToken: twilioToken, AccountSIDs: []string{"AC123", "ACsub"}}
	})
	for _, tc := range []struct {
		account string
		want    int
	}{{"AC123", http.StatusOK}, {"ACsub", http.StatusOK}, {"ACother", http.StatusForbidden}, {"", http.StatusForbidden}} {
		params := twilio.InboundSMSParams(tc.account, testPhone(1), b.orgPhone, "Hi", "SM"+tc.account+"00000000000000000000000000")
		if tc.account == "" {
			params.Del("AccountSid")
		}
		status, _ := b.postTwilio(t, incomingPath, params, twilioToken)
		require.Equal(t, tc.want, status, "AccountSid %q", tc.account)
	}
	require.Len(t, b.inbound, 2)
}

// flakyStore fails FindLeads and CreateLead with EUNAVAILABLE while failures lasts.
type flakyStore struct {
	jack.Store
	failures atomic.Int32
	calls    atomic.Int32
}

func (s *flakyStore) fail() error {
	s.calls.Add(1)
	if s.failures.Add(-1) >= 0 {
		return fmt.Errorf("postgres: %w: terminating connection due to administrator command (SQLSTATE 57P01)",
			jack.Errorf(jack.EUNAVAILABLE, "The database is unavailable. Try again shortly."))
	}
	return nil
}

func (s *flakyStore) FindLeads(ctx context.Context, orgID uuid.UUID, f jack.LeadFilter) (*jack.LeadPage, error) {
	if err := s.fail(); err != nil {
		return nil, err
	}
	return s.Store.FindLeads(ctx, orgID, f)
}

func (s *flakyStore) CreateLead(ctx context.Context, orgID uuid.UUID, lead *jack.Lead) error {
	if err := s.fail(); err != nil {
		return err
	}
	return s.Store.CreateLead(ctx, orgID, lead)
}

// TestDatabaseFaults: a database fault answers 503 with Retry-After, after one transparent retry
// when the request is idempotent (issue 15, item 7).
func TestDatabaseFaults(t *testing.T) {
	t.Parallel()
	store := &flakyStore{Store: openSQLite(t)}
	s := MustOpenServer(t, store)
	token, _, _ := MustRegister(t, s.URL)

	store.failures.Store(1)
	store.calls.Store(0)
	MustDo(t, s.URL, request{Method: "GET", Path: "/api/leads", Token: token}, http.StatusOK, nil)
	require.EqualValues(t, 2, store.calls.Load(), "a GET is retried once")

	store.failures.Store(2)
	resp := Do(t, s.URL, request{Method: "GET", Path: "/api/leads", Token: token})
	require.Equal(t, http.StatusServiceUnavailable, resp.Status)
	require.Equal(t, "2", resp.Header.Get("Retry-After"))
	require.Contains(t, string(resp.Body), `"code":"unavailable"`)

	store.failures.Store(1)
	store.calls.Store(0)
	resp = Do(t, s.URL, request{Method: "POST", Path: "/api/leads", Token: token, Body: map[string]string{"customerName": "Rita Retry", "phoneNumber": testPhone(77)}})
	require.Equal(t, http.StatusServiceUnavailable, resp.Status, "a POST is not retried")
	require.NotEmpty(t, resp.Header.Get("Retry-After"))
	require.EqualValues(t, 1, store.calls.Load())
}
