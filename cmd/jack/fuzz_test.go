package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/jack-auto/jack/persistence/postgres/postgrestest"
	"github.com/jack-auto/jack/providers/elevenlabs"
	"github.com/jack-auto/jack/providers/fake"
)

// fuzzPostCallKey signs the fuzzed post-call webhooks.
const fuzzPostCallKey = "fuzz-postcall-secret-0123456789"

// FuzzWebhooks_Postgres throws arbitrary customer text (NUL, invalid UTF-8, anything) at the two
// webhooks that carry it, a signed Twilio inbound SMS and a signed ElevenLabs post-call
// transcript, through the whole node on the Postgres Store: each must be acknowledged (2xx, so
// stored) and never a 5xx, which would lose the customer's words to the provider's retries
// failing the same way (issue 15, item 1). `make fuzz` runs it; plain `go test` replays the
// seeds and testdata/fuzz.
func FuzzWebhooks_Postgres(f *testing.F) {
	if os.Getenv(postgrestest.EnvURL) == "" {
		f.Skipf("%s is not set: the webhook fuzzer runs against Postgres", postgrestest.EnvURL)
	}
	for _, seed := range []string{
		"Hi, is the 2021 Civic still available?",
		"nul\x00in the middle", "\x00", "\x00\x00\x00",
		"invalid \xff\xfe utf-8", "\xc3\x28", "\xed\xa0\x80 surrogate", "\xf4\x90\x80\x80 past U+10FFFF",
		"mixed \x00 and \xff", "emoji 🚗 and \u0000 escape", `json \u0000 text`, "STOP\x00",
		strings.Repeat("long ", 400),
	} {
		f.Add(seed)
	}
	tw := fake.NewTwilio(f, "AC0123456789abcdef0123456789abcdef", "fakeauthtoken0123456789")
	m := MustRunMain(f, map[string]string{
		"DATABASE_URL": postgrestest.URL(f), "JWT_SECRET": strings.Repeat("f", 40),
		"TWILIO_ACCOUNT_SID": tw.AccountSID(), "TWILIO_AUTH_TOKEN": tw.AuthToken(), "TWILIO_API_URL": tw.URL(),
		"ELEVENLABS_CONVERSATION_EVENTS_WEBHOOK_SECRET": fuzzPostCallKey,
		"JACK_AI_DEBOUNCE": "1h", // the customer's text is what is fuzzed, not the agent
	})
	owner, a := register(f, m.URL(), "owner@fuzz.test")
	orgPhone := "+16045550100"
	owner.must("POST", "/api/organizations/"+a.Organization.ID.String()+"/phone-numbers",
		map[string]string{"phoneNumber": orgPhone, "twilioPhoneSid": "PN0123"}, http.StatusCreated, nil)

	var n atomic.Int64
	f.Fuzz(func(t *testing.T, text string) {
		i := n.Add(1)
		customer := fmt.Sprintf("+1604555%04d", 2000+i%7000)

		resp := tw.PostWebhook(t, m.URL()+"/api/webhooks/twilio/sms/incoming", tw.InboundSMSParams(customer, orgPhone, text))
		require.Equal(t, http.StatusOK, resp.StatusCode, "inbound SMS %q", text)

		payload := postCallPayload(t, fmt.Sprintf("conv_fuzz_%d_%d", time.Now().UnixNano(), i), orgPhone, customer, text)
		req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, m.URL()+"/api/webhooks/elevenlabs/post-call", bytes.NewReader(payload))
		require.NoError(t, err)
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set(elevenlabs.SignatureHeader, elevenlabs.Sign(fuzzPostCallKey, payload, time.Now()))
		resp, err = http.DefaultClient.Do(req)
		require.NoError(t, err)
		answer, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		require.NoError(t, err)
		require.Less(t, resp.StatusCode, 300, "post-call transcript %q: %s", text, answer)
		require.NotContains(t, string(answer), "ignored", "the transcript reached its conversation")
	})
}

// postCallPayload is a post_call_transcription of one call between the dealership's number and
// customer in which both sides said text. The text goes in raw (a JSON string with its bytes as
// they are, invalid UTF-8 included), as a careless sender would write it.
func postCallPayload(t *testing.T, conversationID, agentNumber, customer, text string) []byte {
	t.Helper()
	quoted, err := json.Marshal(text) // escapes NUL as \u0000, replaces invalid UTF-8
	require.NoError(t, err)
	if !bytes.Contains([]byte(text), []byte{'"'}) && !bytes.Contains([]byte(text), []byte{'\\'}) {
		raw := []byte(text)
		if !bytes.ContainsFunc(raw, func(r rune) bool { return r < 0x20 }) {
			quoted = append(append([]byte{'"'}, raw...), '"') // keep invalid bytes as sent
		}
	}
	return []byte(fmt.Sprintf(`{"type":"post_call_transcription","event_timestamp":%d,"data":{"agent_id":"agent_jack",
	"conversation_id":%q,"status":"done","transcript":[{"role":"agent","message":"Hi, Premium Auto here.","time_in_call_secs":0},
	{"role":"user","message":%s,"time_in_call_secs":2.5}],"metadata":{"start_time_unix_secs":%d,"call_duration_secs":12.5,
	"phone_call":{"type":"twilio","direction":"inbound","phone_number_id":"phnum_1","agent_number":%q,"external_number":%q,
	"stream_sid":"MZ1","call_sid":"CA%s"}},"analysis":{"call_successful":"success","transcript_summary":%s},
	"conversation_initiation_client_data":{"dynamic_variables":{}}}}`,
		time.Now().Unix(), conversationID, quoted, time.Now().Add(-time.Minute).Unix(), agentNumber, customer, conversationID, quoted))
}
