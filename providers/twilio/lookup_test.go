package twilio_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/jack-auto/jack"
	"github.com/jack-auto/jack/providers/twilio"
)

func TestClient_FetchSMS(t *testing.T) {
	t.Parallel()
	b := setup(t, twilioConfig())
	callbacks := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusNoContent) }))
	t.Cleanup(callbacks.Close)
	req := request()
	req.StatusCallback = callbacks.URL
	res, err := b.client.SendSMS(t.Context(), req)
	require.NoError(t, err)

	got, err := b.client.FetchSMS(t.Context(), res.ProviderMessageID)
	require.NoError(t, err)
	require.Equal(t, res.ProviderMessageID, got.Sid)
	require.Equal(t, jack.StatusQueued, got.Status)
	require.Equal(t, request().Body, got.Body)
	require.Equal(t, dealerPhone, got.From)
	require.Equal(t, customerPhone, got.To)
	require.WithinDuration(t, time.Now(), got.Created, 5*time.Second)

	b.fake.SendStatus(t, res.ProviderMessageID, jack.StatusDelivered, "")
	got, err = b.client.FetchSMS(t.Context(), res.ProviderMessageID)
	require.NoError(t, err)
	require.Equal(t, jack.StatusDelivered, got.Status)

	_, err = b.client.FetchSMS(t.Context(), "SM00000000000000000000000000000000")
	require.Equal(t, jack.ENOTFOUND, jack.ErrorCode(err), "%v", err)
}

func TestClient_FindSMS(t *testing.T) {
	t.Parallel()
	b := setup(t, twilioConfig())
	since := time.Now().Add(-time.Second)
	target := request()
	target.Body = "The one a crash left unrecorded"
	first, err := b.client.SendSMS(t.Context(), target)
	require.NoError(t, err)
	// More than a page (50) of later texts of the same conversation: the lookup follows
	// next_page_uri to reach the older one.
	for i := range 60 {
		r := request()
		r.Body = fmt.Sprintf("later text %d", i)
		_, err := b.client.SendSMS(t.Context(), r)
		require.NoError(t, err)
	}
	other := target
	other.To = "+16045550124" // another customer, same body
	_, err = b.client.SendSMS(t.Context(), other)
	require.NoError(t, err)

	q := jack.SMSQuery{From: dealerPhone, To: customerPhone, Body: target.Body, Since: since}
	got, err := b.client.FindSMS(t.Context(), q)
	require.NoError(t, err)
	require.Len(t, got, 1, "only that conversation's text with that body")
	require.Equal(t, first.ProviderMessageID, got[0].Sid)
	require.Equal(t, jack.StatusQueued, got[0].Status, "a text still queued (no date_sent yet) is found")

	q.Since = time.Now().Add(2 * time.Minute) // created before the attempt: not this attempt's text
	got, err = b.client.FindSMS(t.Context(), q)
	require.NoError(t, err)
	require.Empty(t, got)

	q.Since, q.Body = since, "never sent"
	got, err = b.client.FindSMS(t.Context(), q)
	require.NoError(t, err)
	require.Empty(t, got)

	b.fake.FailNext(500, 20500, "Internal Server Error")
	_, err = b.client.FindSMS(t.Context(), q)
	require.Equal(t, jack.EPROVIDER, jack.ErrorCode(err), "%v", err)
}

func twilioConfig() twilio.Config { return twilio.Config{} }
