package elevenlabs_test

import (
	"strings"
	"testing"
	"time"

	"github.com/jack-auto/jack/providers/elevenlabs"
)

// BenchmarkVerifySignature: the HMAC check of a post-call webhook with a 16 KB transcript body.
func BenchmarkVerifySignature(b *testing.B) {
	const secret = "wsec_bench_secret"
	body := []byte(`{"type":"post_call_transcription","data":{"transcript":"` + strings.Repeat("turn ", 3200) + `"}}`)
	now := time.Now()
	header := elevenlabs.Sign(secret, body, now)
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		if err := elevenlabs.VerifySignature(secret, header, body, now); err != nil {
			b.Fatal(err)
		}
	}
}
