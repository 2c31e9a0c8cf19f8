package elevenlabs_test

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/jack-auto/jack"
	"github.com/jack-auto/jack/providers/elevenlabs"
	"github.com/jack-auto/jack/providers/fake"
)

// The golden vector was computed independently with Python's hmac module:
// hmac.new(b"wsec_test_secret", b"1739537297." + body, hashlib.sha256).hexdigest().
const (
	goldenSecret = "wsec_test_secret"
	goldenBody   = `{"type":"post_call_transcription","event_timestamp":1739537297,"data":{}}`
	goldenTS     = 1739537297
	goldenHeader = "t=1739537297,v0=b1ddeece11fd4f046a04b4eeeae80c71e9b5fc02821f8e317f49cb5bbee23043"
)

func TestSign(t *testing.T) {
	t.Parallel()
	require.Equal(t, goldenHeader, elevenlabs.Sign(goldenSecret, []byte(goldenBody), time.Unix(goldenTS, 0)))
}

func TestVerifySignature(t *testing.T) {
	t.Parallel()
	const (
		missing   = "Missing signature header"
		noScheme  = "No signature hash found with expected scheme v0"
		tolerance = "Timestamp outside the tolerance zone"
		mismatch  = "Signature hash does not match the expected signature hash for payload"
	)
	now := time.Unix(goldenTS, 0)
	sig := strings.TrimPrefix(goldenHeader, "t=1739537297,")
	signedAt := func(d time.Duration) string {
		return elevenlabs.Sign(goldenSecret, []byte(goldenBody), now.Add(d))
	}
	tests := []struct {
		name   string
		secret string
		header string
		body   string
		now    time.Time
		want   string // "" for valid
	}{
		{name: "OK", header: goldenHeader},
		{name: "OKPartsSwapped", header: sig + ",t=1739537297"},
		{name: "OKExtraSchemes", header: goldenHeader + ",v1=deadbeef,x=1"},
		{name: "OKLastV0Wins", header: "t=1739537297,v0=00," + sig},
		{name: "OKLastTimestampWins", header: "t=1,t=1739537297," + sig},
		{name: "OKThirtyMinutesOld", header: goldenHeader, now: now.Add(30 * time.Minute)},
		{name: "OKFiveMinutesAhead", header: signedAt(5 * time.Minute)},
		{name: "ErrMissingHeader", header: "", want: missing},
		{name: "ErrNoSecret", secret: "-", header: goldenHeader, want: "Webhook secret not configured"},
		{name: "ErrNoV0", header: "t=1739537297", want: noScheme},
		{name: "ErrNoTimestamp", header: sig, want: noScheme},
		{name: "ErrEmptyTimestamp", header: "t=," + sig, want: noScheme},
		{name: "ErrOtherScheme", header: "t=1739537297,v1=" + strings.TrimPrefix(sig, "v0="), want: noScheme},
		{name: "ErrSpaces", header: "t=1739537297, " + sig, want: noScheme},
		{name: "ErrTimestampNotNumber", header: "t=yesterday," + sig, want: tolerance},
		{name: "ErrTooOld", header: goldenHeader, now: now.Add(30*time.Minute + time.Second), want: tolerance},
		{name: "ErrTooFarAhead", header: signedAt(5*time.Minute + time.Second), want: tolerance},
		{name: "ErrLastV0Wins", header: goldenHeader + ",v0=00", want: mismatch},
		{name: "ErrUpperCaseHex", header: "t=1739537297," + strings.ToUpper(sig[:3]) + sig[3:], want: noScheme},
		{name: "ErrUpperCaseDigest", header: "t=1739537297,v0=" + strings.ToUpper(sig[3:]), want: mismatch},
		{name: "ErrBodyChanged", header: goldenHeader, body: goldenBody + " ", want: mismatch},
		{name: "ErrWrongSecret", secret: "other", header: goldenHeader, want: mismatch},
		{name: "ErrTimestampChanged", header: "t=1739537298," + sig, want: mismatch},
		{name: "ErrTimestampReformatted", header: "t=01739537297," + sig, want: mismatch},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			secret := tc.secret
			switch secret {
			case "":
				secret = goldenSecret
			case "-":
				secret = ""
			}
			body := tc.body
			if body == "" {
				body = goldenBody
			}
			at := tc.now
			if at.IsZero() {
				at = now
			}
			err := elevenlabs.VerifySignature(secret, tc.header, []byte(body), at)
			if tc.want == "" {
				require.NoError(t, err)
				return
			}
			require.Error(t, err)
			require.Equal(t, jack.EUNAUTHORIZED, jack.ErrorCode(err))
			require.Equal(t, tc.want, jack.ErrorMessage(err))
		})
	}
}

func FuzzVerifySignature(f *testing.F) {
	f.Add(goldenHeader, []byte(goldenBody), int64(goldenTS))
	f.Add("t=1739537297,v0=", []byte(""), int64(goldenTS))
	f.Add("v0=abc,t=99999999999999999999", []byte("{}"), int64(0))
	f.Add("t=-1,v0=00,,", []byte(`{"type":"post_call_audio","data":{"full_audio":"AAAA"}}`), int64(-1))
	f.Add(",,,t=,v0=,", []byte{0xff, 0x00}, int64(1<<40))
	f.Fuzz(func(t *testing.T, header string, body []byte, unix int64) {
		now := time.Unix(unix, 0)
		err := elevenlabs.VerifySignature(goldenSecret, header, body, now)
		if err != nil {
			require.Equal(t, jack.EUNAUTHORIZED, jack.ErrorCode(err), "%v", err)
		} else {
			// Only a header carrying the digest of its own (last) timestamp passes.
			var ts, v0 string
			for _, p := range strings.Split(header, ",") {
				if v, ok := strings.CutPrefix(p, "t="); ok {
					ts = v
				} else if strings.HasPrefix(p, "v0=") {
					v0 = p
				}
			}
			mac := hmac.New(sha256.New, []byte(goldenSecret))
			mac.Write([]byte(ts + "."))
			mac.Write(body)
			require.Equal(t, "v0="+hex.EncodeToString(mac.Sum(nil)), v0)
		}
		// What Sign makes, VerifySignature accepts at the same instant.
		if unix > -1<<40 && unix < 1<<40 {
			require.NoError(t, elevenlabs.VerifySignature(goldenSecret, elevenlabs.Sign(goldenSecret, body, now), body, now))
		}
	})
}

func TestParsePostCall(t *testing.T) {
	t.Parallel()

	t.Run("ReferenceShape", func(t *testing.T) {
		t.Parallel()
		// The documented payload shape, a Twilio phone_call, a null message, and fields Jack
		// does not know (at every level).
		body := `{
		  "type": "post_call_transcription",
		  "event_timestamp": 1739537297,
		  "brand_new_top_level": {"x": 1},
		  "data": {
		    "agent_id": "xyz",
		    "conversation_id": "abc",
		    "status": "done",
		    "user_id": null,
		    "transcript": [
		      {"role": "agent", "message": "Hey there angelo. How are you?", "tool_calls": null, "tool_results": null,
		       "feedback": null, "time_in_call_secs": 0, "conversation_turn_metrics": null, "interrupted": false},
		      {"role": "user", "message": null, "time_in_call_secs": 2, "source_medium": "audio"},
		      {"role": "user", "message": "Hey, can you tell me the weather?", "time_in_call_secs": 9}
		    ],
		    "metadata": {
		      "start_time_unix_secs": 1739537297, "call_duration_secs": 22, "cost": 296,
		      "deletion_settings": {"deletion_time_unix_secs": 1802609320}, "feedback": {"overall_score": null},
		      "authorization_method": "authorization_header", "charging": {"dev_discount": true},
		      "termination_reason": "Call ended by remote party",
		      "phone_call": {"type": "twilio", "direction": "outbound", "phone_number_id": "phnum_1",
		        "agent_number": "+16045550199", "external_number": "+16045550123", "stream_sid": "MZ1", "call_sid": "CA1"},
		      "conversation_initiation_source": "twilio"
		    },
		    "analysis": {
		      "evaluation_criteria_results": {"weather": {"criteria_id": "weather", "result": "success"}},
		      "data_collection_results": {"city": {"value": "Vancouver"}},
		      "call_successful": "success",
		      "transcript_summary": "The user asked about the weather.",
		      "call_summary_title": "Weather question"
		    },
		    "conversation_initiation_client_data": {
		      "conversation_config_override": {"agent": {"prompt": null, "first_message": null, "language": "en"}, "tts": {"voice_id": null}},
		      "custom_llm_extra_body": {},
		      "dynamic_variables": {"user_name": "angelo", "total_messages": 3}
		    },
		    "has_audio": true, "has_user_audio": true, "has_response_audio": true
		  }
		}`
		ev, err := elevenlabs.ParsePostCall([]byte(body))
		require.NoError(t, err)
		require.Equal(t, elevenlabs.EventPostCallTranscription, ev.Type)
		require.EqualValues(t, 1739537297, ev.EventTimestamp)

		tr, err := ev.Transcription()
		require.NoError(t, err)
		require.Equal(t, "xyz", tr.AgentID)
		require.Equal(t, "abc", tr.ConversationID)
		require.Equal(t, "done", tr.Status)
		require.Len(t, tr.Transcript, 3)
		require.Equal(t, "agent", tr.Transcript[0].Role)
		require.Equal(t, "Hey there angelo. How are you?", tr.Transcript[0].Text())
		require.Nil(t, tr.Transcript[1].Message)
		require.Empty(t, tr.Transcript[1].Text())
		require.EqualValues(t, 9, tr.Transcript[2].TimeInCallSecs)
		require.Equal(t, elevenlabs.TranscriptionMetadata{
			StartTimeUnixSecs: 1739537297,
			CallDurationSecs:  22,
			TerminationReason: "Call ended by remote party",
			PhoneCall: &elevenlabs.PhoneCall{
				Type: "twilio", Direction: "outbound", PhoneNumberID: "phnum_1",
				AgentNumber: "+16045550199", ExternalNumber: "+16045550123", CallSid: "CA1",
			},
		}, tr.Metadata)
		require.NotNil(t, tr.Analysis)
		require.Equal(t, "success", tr.Analysis.CallSuccessful)
		require.Equal(t, "The user asked about the weather.", tr.Analysis.TranscriptSummary)
		require.Equal(t, "Weather question", tr.Analysis.CallSummaryTitle)
		require.JSONEq(t, `{"city": {"value": "Vancouver"}}`, string(tr.Analysis.DataCollectionResults))
		require.JSONEq(t, `{"weather": {"criteria_id": "weather", "result": "success"}}`, string(tr.Analysis.EvaluationCriteriaResults))
		require.Equal(t, map[string]any{"user_name": "angelo", "total_messages": float64(3)}, tr.ClientData.DynamicVariables)
	})

	t.Run("WebCallNotAnalysed", func(t *testing.T) {
		t.Parallel()
		body := `{"type":"post_call_transcription","event_timestamp":1739537297.75,"data":{"agent_id":"a","conversation_id":"c",
		  "status":"processing","transcript":[],"metadata":{"start_time_unix_secs":1,"call_duration_secs":0,"phone_call":null},
		  "analysis":null,"conversation_initiation_client_data":{"dynamic_variables":{}}}}`
		ev, err := elevenlabs.ParsePostCall([]byte(body))
		require.NoError(t, err)
		require.EqualValues(t, 1739537297, ev.EventTimestamp)
		tr, err := ev.Transcription()
		require.NoError(t, err)
		require.Nil(t, tr.Metadata.PhoneCall)
		require.Nil(t, tr.Analysis)
		require.Empty(t, tr.Transcript)
	})

	t.Run("FakePayload", func(t *testing.T) {
		t.Parallel()
		payload := fake.TranscriptionPayload(fake.TranscriptionSpec{
			ConversationID: "conv_1", AgentNumber: "+16045550199", ExternalNumber: "+16045550123", CallSid: "CA9",
			Direction: "outbound", Summary: "Asked about a truck.", CallSuccessful: "success",
			StartUnix: 1700000000, DurationSecs: 61, TerminationReason: "end_call tool",
			Turns: []fake.Turn{
				{Role: "agent", Message: "Hi, this is Jack.", TimeInCallSecs: 0},
				{Role: "user", Message: "", TimeInCallSecs: 3},
				{Role: "user", Message: "Do you have trucks?", TimeInCallSecs: 5},
			},
			DynamicVariables: map[string]any{"customer_name": "Ann"},
		})
		body, err := json.Marshal(payload)
		require.NoError(t, err)
		require.Contains(t, string(body), `"has_audio":true`)
		require.Contains(t, string(body), `"message":null`)

		ev, err := elevenlabs.ParsePostCall(body)
		require.NoError(t, err)
		require.Equal(t, elevenlabs.EventPostCallTranscription, ev.Type)
		require.EqualValues(t, 1700000061, ev.EventTimestamp)
		tr, err := ev.Transcription()
		require.NoError(t, err)
		require.Equal(t, "conv_1", tr.ConversationID)
		require.Equal(t, &elevenlabs.PhoneCall{
			Type: "twilio", Direction: "outbound", PhoneNumberID: "phnum_fake",
			AgentNumber: "+16045550199", ExternalNumber: "+16045550123", CallSid: "CA9",
		}, tr.Metadata.PhoneCall)
		require.Len(t, tr.Transcript, 3)
		require.Nil(t, tr.Transcript[1].Message)
		require.Equal(t, "Do you have trucks?", tr.Transcript[2].Text())
		require.Equal(t, "Asked about a truck.", tr.Analysis.TranscriptSummary)
		require.EqualValues(t, 61, tr.Metadata.CallDurationSecs)
		require.Equal(t, "end_call tool", tr.Metadata.TerminationReason)
		require.Equal(t, "Ann", tr.ClientData.DynamicVariables["customer_name"])
	})

	t.Run("CallInitiationFailure", func(t *testing.T) {
		t.Parallel()
		body, err := json.Marshal(fake.CallInitiationFailurePayload("agent_1", "conv_2", "CA2", "busy"))
		require.NoError(t, err)
		ev, err := elevenlabs.ParsePostCall(body)
		require.NoError(t, err)
		require.Equal(t, elevenlabs.EventCallInitiationFailure, ev.Type)
		fl, err := ev.CallInitiationFailure()
		require.NoError(t, err)
		require.Equal(t, "agent_1", fl.AgentID)
		require.Equal(t, "conv_2", fl.ConversationID)
		require.Equal(t, "busy", fl.FailureReason)
		require.JSONEq(t, `{"type":"twilio","body":{"CallSid":"CA2","CallStatus":"busy","Direction":"outbound-api"}}`, string(fl.Metadata))
	})

	t.Run("ErrInvalid", func(t *testing.T) {
		t.Parallel()
		for _, body := range []string{``, `{`, `[]`, `"x"`, `null`, `{}`, `{"type":""}`, `{"type":7}`, `{"type":"x","event_timestamp":"soon"}`} {
			_, err := elevenlabs.ParsePostCall([]byte(body))
			require.Error(t, err, body)
			require.Equal(t, jack.EINVALID, jack.ErrorCode(err), body)
		}
		ev, err := elevenlabs.ParsePostCall([]byte(`{"type":"post_call_transcription","data":{"agent_id":"a"}}`))
		require.NoError(t, err)
		_, err = ev.Transcription()
		require.Equal(t, jack.EINVALID, jack.ErrorCode(err))
		ev, err = elevenlabs.ParsePostCall([]byte(`{"type":"post_call_transcription","data":{"conversation_id":"c","transcript":{}}}`))
		require.NoError(t, err)
		_, err = ev.Transcription()
		require.Equal(t, jack.EINVALID, jack.ErrorCode(err))
	})
}

// TestParsePostCall_FractionalNumbers: the SDKs model every numeric field as a number, so
// fractional time_in_call_secs, call_duration_secs and start_time_unix_secs (as real calls
// send them) parse instead of failing the webhook and losing the transcript (issue 15, item 8).
func TestParsePostCall_FractionalNumbers(t *testing.T) {
	t.Parallel()
	body := `{"type":"post_call_transcription","event_timestamp":1739537297.5,"data":{"agent_id":"a","conversation_id":"c",
	  "status":"done","transcript":[{"role":"agent","message":"Hi","time_in_call_secs":0.42},
	  {"role":"user","message":"Hello","time_in_call_secs":3.7e0}],
	  "metadata":{"start_time_unix_secs":1739537297.25,"call_duration_secs":22.6,"cost":12.5},
	  "analysis":null,"conversation_initiation_client_data":{"dynamic_variables":{"total_messages":3.0}}}}`
	ev, err := elevenlabs.ParsePostCall([]byte(body))
	require.NoError(t, err)
	tr, err := ev.Transcription()
	require.NoError(t, err)
	require.Equal(t, 0.42, tr.Transcript[0].TimeInCallSecs)
	require.Equal(t, 3.7, tr.Transcript[1].TimeInCallSecs)
	require.Equal(t, 22.6, tr.Metadata.CallDurationSecs)
	require.Equal(t, 1739537297.25, tr.Metadata.StartTimeUnixSecs)
}
