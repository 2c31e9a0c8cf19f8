package twilio_test

import (
	"testing"

	"github.com/jack-auto/jack/providers/twilio"
)

// BenchmarkValidateRequest: the signature check every inbound SMS and status webhook pays,
// over a real inbound SMS's full parameter set.
func BenchmarkValidateRequest(b *testing.B) {
	const token = "fakeauthtoken0123456789"
	const url = "https://jack.example.com/api/webhooks/twilio/sms/incoming"
	params := twilio.InboundSMSParams("AC0123456789abcdef0123456789abcdef", "+16045550199", "+16045550100",
		"Hi, is the 2021 Civic still available? What would my payments be?", "")
	sig := twilio.Sign(token, url, params)
	b.ReportAllocs()
	for b.Loop() {
		if !twilio.ValidateRequest(token, url, params, sig) {
			b.Fatal("signature rejected")
		}
	}
}
