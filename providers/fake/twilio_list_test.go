package fake_test

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/jack-auto/jack"
	"github.com/jack-auto/jack/providers/fake"
)

func TestTwilio_ListMessages(t *testing.T) {
	t.Parallel()
	f := fake.NewTwilio(t, accountSID, authToken)
	callbacks := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusNoContent) }))
	t.Cleanup(callbacks.Close)
	var sids []string
	for _, body := range []string{"one", "two", "three"} {
		form := sendForm()
		form.Set("Body", body)
		form.Set("StatusCallback", callbacks.URL)
		status, m := post(t, f, accountSID, authToken, form)
		require.Equal(t, http.StatusCreated, status)
		sids = append(sids, m["sid"].(string))
	}
	other := sendForm()
	other.Set("To", "+16045550124")
	status, _ := post(t, f, accountSID, authToken, other)
	require.Equal(t, http.StatusCreated, status)

	list := func(t *testing.T, q url.Values) (int, map[string]any) {
		t.Helper()
		req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, messagesURL(f, accountSID)+"?"+q.Encode(), nil)
		require.NoError(t, err)
		req.SetBasicAuth(accountSID, authToken)
		return do(t, req)
	}
	bodies := func(page map[string]any) []string {
		var out []string
		for _, m := range page["messages"].([]any) {
			out = append(out, m.(map[string]any)["body"].(string))
		}
		return out
	}

	t.Run("NewestFirstInPages", func(t *testing.T) {
		status, page := list(t, url.Values{"To": {customerPhone}, "From": {dealerPhone}, "PageSize": {"2"}})
		require.Equal(t, http.StatusOK, status)
		require.Equal(t, []string{"three", "two"}, bodies(page))
		require.EqualValues(t, 0, page["page"])
		require.EqualValues(t, 2, page["page_size"])
		require.Nil(t, page["previous_page_uri"])
		next, err := url.Parse(page["next_page_uri"].(string))
		require.NoError(t, err)
		require.Equal(t, "/2010-04-01/Accounts/"+accountSID+"/Messages.json", next.Path)

		status, page = list(t, next.Query())
		require.Equal(t, http.StatusOK, status)
		require.Equal(t, []string{"one"}, bodies(page))
		require.Nil(t, page["next_page_uri"], "the last page")
		require.NotNil(t, page["previous_page_uri"])
		require.Nil(t, page["messages"].([]any)[0].(map[string]any)["date_sent"], "queued: not sent yet")
	})

	t.Run("DateSent", func(t *testing.T) {
		today := time.Now().UTC().Format(time.DateOnly)
		// Not sent yet: no date_sent, so no DateSent filter matches.
		_, page := list(t, url.Values{"To": {customerPhone}, "DateSent>": {today}})
		require.Empty(t, page["messages"])

		f.SendStatus(t, sids[1], jack.StatusSent, "")
		_, page = list(t, url.Values{"To": {customerPhone}, "DateSent>": {today}})
		require.Equal(t, []string{"two"}, bodies(page))
		require.NotNil(t, page["messages"].([]any)[0].(map[string]any)["date_sent"])
		_, page = list(t, url.Values{"To": {customerPhone}, "DateSent": {today}})
		require.Equal(t, []string{"two"}, bodies(page))
		// twilio-go writes the date as RFC 3339.
		tomorrow := time.Now().UTC().Add(24 * time.Hour).Truncate(24 * time.Hour).Format(time.RFC3339)
		_, page = list(t, url.Values{"To": {customerPhone}, "DateSent>": {tomorrow}})
		require.Empty(t, page["messages"])
		_, page = list(t, url.Values{"To": {customerPhone}, "DateSent<": {tomorrow}})
		require.Equal(t, []string{"two"}, bodies(page))
	})

	t.Run("BadInput", func(t *testing.T) {
		status, body := list(t, url.Values{"PageSize": {"0"}})
		require.Equal(t, http.StatusBadRequest, status)
		require.EqualValues(t, 20001, body["code"])
		status, _ = list(t, url.Values{"DateSent>": {"yesterday"}})
		require.Equal(t, http.StatusBadRequest, status)
	})
}
