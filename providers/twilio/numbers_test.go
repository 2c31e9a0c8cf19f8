package twilio_test

import (
	"net/http"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/jack-auto/jack"
	"github.com/jack-auto/jack/providers/twilio"
)

func purchase(phone string) twilio.BuyNumber {
	return twilio.BuyNumber{
		PhoneNumber:    phone,
		SmsURL:         "https://jack.example.com/api/webhooks/twilio/sms/incoming",
		VoiceURL:       "https://api.us.elevenlabs.io/twilio/inbound_call",
		StatusCallback: "https://jack.example.com/api/webhooks/twilio/sms/status",
		FriendlyName:   "Premium Auto",
	}
}

// mustBuy puts phone up for sale in the fake and buys it.
func (b *testBundle) mustBuy(t *testing.T, phone string) *twilio.IncomingNumber {
	t.Helper()
	b.fake.AddAvailableNumbers("US", 201, phone)
	n, err := b.client.BuyNumber(t.Context(), purchase(phone))
	require.NoError(t, err)
	return n
}

func TestClient_SearchLocalNumbers(t *testing.T) {
	t.Parallel()

	t.Run("OK", func(t *testing.T) {
		t.Parallel()
		b := setup(t, twilio.Config{})
		b.fake.AddAvailableNumbers("CA", 778, "+17785550100", "+17785550101", "+17785550102")
		b.fake.AddAvailableNumbers("US", 778, "+17785550199") // another country

		found, err := b.client.SearchLocalNumbers(t.Context(), "ca", 778, 2)
		require.NoError(t, err)
		require.Equal(t, []twilio.AvailableNumber{
			{PhoneNumber: "+17785550100", FriendlyName: "(778) 555-0100", Locality: "Vancouver", Region: "BC", ISOCountry: "CA"},
			{PhoneNumber: "+17785550101", FriendlyName: "(778) 555-0101", Locality: "Vancouver", Region: "BC", ISOCountry: "CA"},
		}, found)

		searches := b.fake.NumberSearches()
		require.Len(t, searches, 1, "one page, no next_page_uri followed")
		q := searches[0]
		require.Equal(t, "778", q.Get("AreaCode"))
		require.Equal(t, "true", q.Get("SmsEnabled"))
		require.Equal(t, "true", q.Get("VoiceEnabled"))
		require.Equal(t, "2", q.Get("PageSize"))
	})

	t.Run("NoneAvailable", func(t *testing.T) {
		t.Parallel()
		b := setup(t, twilio.Config{})

		found, err := b.client.SearchLocalNumbers(t.Context(), "US", 212, 1)
		require.NoError(t, err)
		require.NotNil(t, found)
		require.Empty(t, found)
	})

	t.Run("ErrRefused", func(t *testing.T) {
		t.Parallel()
		b := setup(t, twilio.Config{})
		b.fake.FailNext(http.StatusTooManyRequests, 20429, "Too Many Requests")

		_, err := b.client.SearchLocalNumbers(t.Context(), "US", 212, 1)
		requireError(t, err, jack.EPROVIDER, jack.EPROVIDER, "Twilio refused to search for numbers (20429): Too Many Requests")
	})

	t.Run("ErrConnectionDropped", func(t *testing.T) {
		t.Parallel()
		b := setup(t, twilio.Config{})
		b.fake.FailNext(0, 0, "")

		_, err := b.client.SearchLocalNumbers(t.Context(), "US", 212, 1)
		requireError(t, err, jack.EPROVIDER, jack.EPROVIDER, "Twilio could not be reached.")
	})
}

func TestClient_BuyNumber(t *testing.T) {
	t.Parallel()

	t.Run("OK", func(t *testing.T) {
		t.Parallel()
		b := setup(t, twilio.Config{})

		n := b.mustBuy(t, "+12015550100")
		require.Regexp(t, `^PN[0-9a-f]{32}$`, n.Sid)
		require.Equal(t, "+12015550100", n.PhoneNumber)

		bought := b.fake.IncomingNumbers()
		require.Len(t, bought, 1)
		got := bought[0]
		require.Equal(t, n.Sid, got.Sid)
		require.Equal(t, purchase("").SmsURL, got.SmsURL)
		require.Equal(t, "POST", got.SmsMethod)
		require.Equal(t, purchase("").VoiceURL, got.VoiceURL)
		require.Equal(t, "POST", got.VoiceMethod)
		require.Equal(t, purchase("").StatusCallback, got.StatusCallback)
		require.Equal(t, "Premium Auto", got.FriendlyName)
		require.False(t, got.Released)

		found, err := b.client.SearchLocalNumbers(t.Context(), "US", 201, 5)
		require.NoError(t, err)
		require.Empty(t, found, "a sold number is no longer offered")
	})

	t.Run("ErrNotAvailable", func(t *testing.T) {
		t.Parallel()
		b := setup(t, twilio.Config{})

		_, err := b.client.BuyNumber(t.Context(), purchase("+12015550100"))
		requireError(t, err, jack.EPROVIDER, jack.EPROVIDER, "Twilio refused to sell the number (21422): PhoneNumber requested is not available")
		require.Empty(t, b.fake.IncomingNumbers())
	})

	t.Run("ErrInjected", func(t *testing.T) {
		t.Parallel()
		b := setup(t, twilio.Config{})
		b.fake.AddAvailableNumbers("US", 201, "+12015550100")
		b.fake.FailNextPurchase(http.StatusBadRequest, 21631, "Address required")

		_, err := b.client.BuyNumber(t.Context(), purchase("+12015550100"))
		requireError(t, err, jack.EPROVIDER, jack.EPROVIDER, "Twilio refused to sell the number (21631): Address required")
		var jerr *jack.Error
		require.ErrorAs(t, err, &jerr)
		require.Equal(t, 21631, jerr.Details["twilioCode"])

		_, err = b.client.BuyNumber(t.Context(), purchase("+12015550100")) // one failure only
		require.NoError(t, err)
	})

	t.Run("ErrNoPhoneNumber", func(t *testing.T) {
		t.Parallel()
		b := setup(t, twilio.Config{})

		_, err := b.client.BuyNumber(t.Context(), purchase(""))
		require.Equal(t, jack.EINVALID, jack.ErrorCode(err))
	})

	t.Run("ErrUnreachable", func(t *testing.T) {
		t.Parallel()
		c, err := twilio.NewClient(twilio.Config{AccountSID: testAccountSID, AuthToken: testAuthToken, APIURL: "http://127.0.0.1:1"})
		require.NoError(t, err)

		_, err = c.BuyNumber(t.Context(), purchase("+12015550100"))
		requireError(t, err, jack.EPROVIDER, jack.EPROVIDER, "Twilio could not be reached.")
	})
}

func TestClient_ReleaseNumber(t *testing.T) {
	t.Parallel()

	t.Run("OK", func(t *testing.T) {
		t.Parallel()
		b := setup(t, twilio.Config{})
		n := b.mustBuy(t, "+12015550100")

		require.NoError(t, b.client.ReleaseNumber(t.Context(), n.Sid))
		require.True(t, b.fake.IncomingNumbers()[0].Released)

		require.NoError(t, b.client.ReleaseNumber(t.Context(), n.Sid), "releasing twice is harmless")
	})

	t.Run("ErrRefused", func(t *testing.T) {
		t.Parallel()
		b := setup(t, twilio.Config{})
		b.fake.FailNext(http.StatusInternalServerError, 20500, "Internal Server Error")

		err := b.client.ReleaseNumber(t.Context(), "PN00000000000000000000000000000001")
		requireError(t, err, jack.EPROVIDER, jack.EPROVIDER, "Twilio refused to release the number (20500): Internal Server Error")
	})

	t.Run("ErrNoSid", func(t *testing.T) {
		t.Parallel()
		b := setup(t, twilio.Config{})
		require.Equal(t, jack.EINVALID, jack.ErrorCode(b.client.ReleaseNumber(t.Context(), "")))
	})
}
