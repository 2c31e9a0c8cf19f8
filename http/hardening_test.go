package http_test

import (
	"net/http"
	"testing"

	"github.com/stretchr/testify/require"

	jackhttp "github.com/jack-auto/jack/http"
	"github.com/jack-auto/jack/providers/twilio"
)

// TestTwilioWebhook_AccountSid: with accounts configured, a correctly signed webhook for another
// Twilio account is refused; the account and its subaccounts pass (issue 15, item 8).
func TestTwilioWebhook_AccountSid(t *testing.T) {
	t.Parallel()
	b := newWebhookBundle(t, func(cfg *jackhttp.Config) { cfg.TwilioAccountSIDs = []string{"AC123", "ACsub"} })
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
