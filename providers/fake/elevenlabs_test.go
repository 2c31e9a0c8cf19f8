package fake_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/stretchr/testify/require"

	"github.com/jack-auto/jack/providers/elevenlabs"
	"github.com/jack-auto/jack/providers/fake"
)

const (
	elKey     = "xi_fake_key_0001"
	elAgentID = "agent_fake_0001"
)

// elRequest sends one REST request to f and decodes the JSON answer.
func elRequest(t *testing.T, f *fake.ElevenLabs, method, path, key string, body string) (int, map[string]any) {
	t.Helper()
	var r io.Reader
	if body != "" {
		r = strings.NewReader(body)
	}
	req, err := http.NewRequestWithContext(t.Context(), method, f.URL()+path, r)
	require.NoError(t, err)
	if key != "" {
		req.Header.Set("xi-api-key", key)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, "application/json", resp.Header.Get("Content-Type"))
	var out map[string]any
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&out))
	return resp.StatusCode, out
}

func detail(status, message string) map[string]any {
	return map[string]any{"detail": map[string]any{"status": status, "message": message}}
}

func TestElevenLabs_Auth(t *testing.T) {
	t.Parallel()
	f := fake.NewElevenLabs(t, elKey)
	for _, path := range []string{"/v1/convai/twilio/outbound-call", "/v1/convai/phone-numbers"} {
		status, body := elRequest(t, f, "POST", path, "", `{}`)
		require.Equal(t, http.StatusUnauthorized, status)
		require.Equal(t, detail("needs_authorization", "Neither authorization header nor xi-api-key received, please provide one."), body)
		status, body = elRequest(t, f, "POST", path, "wrong", `{}`)
		require.Equal(t, http.StatusUnauthorized, status)
		require.Equal(t, detail("invalid_api_key", "Invalid API key"), body)
	}
	status, _ := elRequest(t, f, "GET", "/v1/convai/conversation/get-signed-url?agent_id=a", "wrong", "")
	require.Equal(t, http.StatusUnauthorized, status)
	status, body := elRequest(t, f, "GET", "/v1/nothing", elKey, "")
	require.Equal(t, http.StatusNotFound, status)
	require.Equal(t, map[string]any{"detail": "Not Found"}, body)
}

func TestElevenLabs_OutboundCall(t *testing.T) {
	t.Parallel()

	t.Run("OK", func(t *testing.T) {
		t.Parallel()
		f := fake.NewElevenLabs(t, elKey)
		status, body := elRequest(t, f, "POST", "/v1/convai/twilio/outbound-call", elKey, `{"agent_id":"a","agent_phone_number_id":"p",
			"to_number":"+16045550123","conversation_initiation_client_data":{"dynamic_variables":{"n":1,"s":"x","b":true}},"extra":1}`)
		require.Equal(t, http.StatusOK, status)
		require.Len(t, body, 4)
		require.Equal(t, true, body["success"])
		calls := f.Calls()
		require.Len(t, calls, 1)
		require.Equal(t, calls[0].ConversationID, body["conversation_id"])
		require.Equal(t, calls[0].CallSid, body["callSid"])
		require.Equal(t, map[string]any{"n": float64(1), "s": "x", "b": true}, calls[0].DynamicVariables)
	})

	t.Run("ErrValidation", func(t *testing.T) {
		t.Parallel()
		f := fake.NewElevenLabs(t, elKey)
		status, body := elRequest(t, f, "POST", "/v1/convai/twilio/outbound-call", elKey,
			`{"agent_id":"a","to_number":7,"conversation_initiation_client_data":{"dynamic_variables":{"lead":{"x":1}}}}`)
		require.Equal(t, http.StatusUnprocessableEntity, status)
		var locs []string
		for _, d := range body["detail"].([]any) {
			e := d.(map[string]any)
			require.NotEmpty(t, e["msg"])
			require.NotEmpty(t, e["type"])
			b, _ := json.Marshal(e["loc"])
			locs = append(locs, string(b))
		}
		require.Equal(t, []string{
			`["body","agent_phone_number_id"]`,
			`["body","to_number"]`,
			`["body","conversation_initiation_client_data","dynamic_variables","lead","str"]`,
		}, locs)

		status, body = elRequest(t, f, "POST", "/v1/convai/twilio/outbound-call", elKey, `{"agent_id":`)
		require.Equal(t, http.StatusUnprocessableEntity, status)
		require.Equal(t, "json_invalid", body["detail"].([]any)[0].(map[string]any)["type"])
		require.Empty(t, f.Calls())
	})

	t.Run("Failures", func(t *testing.T) {
		t.Parallel()
		f := fake.NewElevenLabs(t, elKey)
		f.FailNextCall(false, 0, "Twilio refused")
		f.FailNextCall(true, 503, "Busy")
		ok := `{"agent_id":"a","agent_phone_number_id":"p","to_number":"+16045550123"}`
		status, body := elRequest(t, f, "POST", "/v1/convai/twilio/outbound-call", elKey, ok)
		require.Equal(t, http.StatusOK, status)
		require.Equal(t, map[string]any{"success": false, "message": "Twilio refused", "conversation_id": nil, "callSid": nil}, body)
		status, body = elRequest(t, f, "POST", "/v1/convai/twilio/outbound-call", elKey, ok)
		require.Equal(t, http.StatusServiceUnavailable, status)
		require.Equal(t, detail("service_unavailable", "Busy"), body)
		status, _ = elRequest(t, f, "POST", "/v1/convai/twilio/outbound-call", elKey, ok)
		require.Equal(t, http.StatusOK, status)
		require.Len(t, f.Calls(), 1)
	})
}

func TestElevenLabs_PhoneNumbers(t *testing.T) {
	t.Parallel()
	f := fake.NewElevenLabs(t, elKey)

	status, body := elRequest(t, f, "POST", "/v1/convai/phone-numbers", elKey, `{"provider":"sip_trunk","phone_number":"+1","label":"l","sid":"s"}`)
	require.Equal(t, http.StatusUnprocessableEntity, status)
	require.Len(t, body["detail"], 2) // token missing, provider not twilio

	status, body = elRequest(t, f, "POST", "/v1/convai/phone-numbers", elKey,
		`{"provider":"twilio","phone_number":"+16045550199","label":"Main","sid":"AC1","token":"t","enable_sms":false}`)
	require.Equal(t, http.StatusOK, status)
	id := body["phone_number_id"].(string)
	require.True(t, strings.HasPrefix(id, "phnum_"))

	status, body = elRequest(t, f, "PATCH", "/v1/convai/phone-numbers/"+id, elKey, `{"agent_id":"agent_1"}`)
	require.Equal(t, http.StatusOK, status)
	require.Equal(t, map[string]any{
		"phone_number": "+16045550199", "label": "Main", "supports_inbound": true, "supports_outbound": true,
		"phone_number_id": id, "assigned_agent": map[string]any{"agent_id": "agent_1", "agent_name": "Fake agent"}, "provider": "twilio",
	}, body)
	status, _ = elRequest(t, f, "GET", "/v1/convai/phone-numbers/"+id, elKey, "")
	require.Equal(t, http.StatusOK, status)

	status, body = elRequest(t, f, "DELETE", "/v1/convai/phone-numbers/"+id, elKey, "")
	require.Equal(t, http.StatusOK, status)
	require.Empty(t, body)
	status, body = elRequest(t, f, "DELETE", "/v1/convai/phone-numbers/"+id, elKey, "")
	require.Equal(t, http.StatusNotFound, status)
	require.Equal(t, detail("phone_number_not_found", "Phone number "+id+" not found"), body)

	f.FailNextImport(http.StatusConflict, "Phone number already exists")
	status, body = elRequest(t, f, "POST", "/v1/convai/phone-numbers", elKey,
		`{"phone_number":"+16045550199","label":"Main","sid":"AC1","token":"t"}`)
	require.Equal(t, http.StatusConflict, status)
	require.Equal(t, detail("conflict", "Phone number already exists"), body)

	numbers := f.PhoneNumbers()
	require.Len(t, numbers, 1)
	require.True(t, numbers[0].Deleted)
	require.Equal(t, "agent_1", numbers[0].AgentID)
	require.NotNil(t, numbers[0].EnableSMS)
	require.False(t, *numbers[0].EnableSMS)
}

// wsConversation fetches a signed URL and opens its socket.
func wsConversation(t *testing.T, ctx context.Context, f *fake.ElevenLabs) *websocket.Conn {
	t.Helper()
	status, body := elRequest(t, f, "GET", "/v1/convai/conversation/get-signed-url?agent_id="+elAgentID, elKey, "")
	require.Equal(t, http.StatusOK, status)
	signed := body["signed_url"].(string)
	u, err := url.Parse(signed)
	require.NoError(t, err)
	require.Equal(t, "ws", u.Scheme)
	require.True(t, strings.HasPrefix(u.Host, "127.0.0.1:"))
	require.Equal(t, "/v1/convai/conversation", u.Path)
	require.Equal(t, elAgentID, u.Query().Get("agent_id"))
	require.NotEmpty(t, u.Query().Get("conversation_signature"))
	conn, _, err := websocket.Dial(ctx, signed, nil)
	require.NoError(t, err)
	t.Cleanup(func() { conn.CloseNow() })
	return conn
}

func wsSend(t *testing.T, conn *websocket.Conn, v any) {
	t.Helper()
	b, err := json.Marshal(v)
	require.NoError(t, err)
	require.NoError(t, conn.Write(t.Context(), websocket.MessageText, b))
}

func wsRecv(t *testing.T, conn *websocket.Conn) map[string]any {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	_, data, err := conn.Read(ctx)
	require.NoError(t, err)
	var ev map[string]any
	require.NoError(t, json.Unmarshal(data, &ev))
	return ev
}

// wsClosed reads until the server's close frame and returns it.
func wsClosed(t *testing.T, conn *websocket.Conn) websocket.CloseError {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	for {
		_, _, err := conn.Read(ctx)
		if err != nil {
			var ce websocket.CloseError
			require.ErrorAs(t, err, &ce)
			return ce
		}
	}
}

func initiation(vars map[string]any) map[string]any {
	return map[string]any{
		"type": "conversation_initiation_client_data", "dynamic_variables": vars,
		"conversation_config_override": map[string]any{"conversation": map[string]any{"text_only": true}},
	}
}

func TestElevenLabs_Conversation(t *testing.T) {
	t.Parallel()

	t.Run("OK", func(t *testing.T) {
		t.Parallel()
		f := fake.NewElevenLabs(t, elKey)
		f.SetGreeting("Hi there!")
		f.SetResponder(func(text string, vars map[string]any) string { return text + " / " + vars["name"].(string) })
		conn := wsConversation(t, t.Context(), f)
		wsSend(t, conn, initiation(map[string]any{"name": "Ann"}))

		meta := wsRecv(t, conn)
		require.Equal(t, "conversation_initiation_metadata", meta["type"])
		ev := meta["conversation_initiation_metadata_event"].(map[string]any)
		require.True(t, strings.HasPrefix(ev["conversation_id"].(string), "conv_"))
		require.Equal(t, "pcm_16000", ev["agent_output_audio_format"])
		require.Equal(t, "pcm_16000", ev["user_input_audio_format"])

		greeting := wsRecv(t, conn)
		require.Equal(t, "agent_response", greeting["type"])
		require.Equal(t, "Hi there!", greeting["agent_response_event"].(map[string]any)["agent_response"])

		ping := wsRecv(t, conn)
		require.Equal(t, "ping", ping["type"])
		pingEvent := ping["ping_event"].(map[string]any)
		require.Contains(t, pingEvent, "ping_ms")
		wsSend(t, conn, map[string]any{"type": "pong", "event_id": 999}) // not a ping of ours
		wsSend(t, conn, map[string]any{"type": "pong", "event_id": pingEvent["event_id"]})
		f.WaitFor(t, 10*time.Second, "pong counted", func() bool { return f.Pongs() == 1 })

		wsSend(t, conn, map[string]any{"type": "user_activity"})
		wsSend(t, conn, map[string]any{"type": "user_message", "text": "hello"})
		answer := wsRecv(t, conn)
		require.Equal(t, "agent_response", answer["type"])
		require.Equal(t, "hello / Ann", answer["agent_response_event"].(map[string]any)["agent_response"])
		require.Greater(t, answer["agent_response_event"].(map[string]any)["event_id"], pingEvent["event_id"])

		require.Equal(t, 1, f.Sessions())
		require.Equal(t, 1, f.OpenSockets())
		require.Equal(t, []string{"hello"}, f.Messages())
		convs := f.Conversations()
		require.True(t, convs[0].TextOnly)
		require.Equal(t, elAgentID, convs[0].AgentID)

		require.NoError(t, conn.Close(websocket.StatusNormalClosure, ""))
		f.WaitFor(t, 10*time.Second, "socket closed", func() bool { return f.OpenSockets() == 0 })
		require.True(t, f.Conversations()[0].Closed)
	})

	t.Run("ErrFirstMessage", func(t *testing.T) {
		t.Parallel()
		f := fake.NewElevenLabs(t, elKey)
		conn := wsConversation(t, t.Context(), f)
		wsSend(t, conn, map[string]any{"type": "user_message", "text": "hello"})
		ev := wsRecv(t, conn)
		require.Equal(t, "error", ev["type"])
		require.Equal(t, float64(1008), ev["error_event"].(map[string]any)["code"])
		require.Equal(t, websocket.CloseError{Code: websocket.StatusPolicyViolation, Reason: "invalid_message"}, wsClosed(t, conn))
		require.Zero(t, f.Sessions())
	})

	t.Run("ErrMissingVariable", func(t *testing.T) {
		t.Parallel()
		f := fake.NewElevenLabs(t, elKey)
		f.RequireVariables("name", "lead_status")
		conn := wsConversation(t, t.Context(), f)
		wsSend(t, conn, initiation(map[string]any{"name": "Ann"}))
		ev := wsRecv(t, conn)
		require.Equal(t, map[string]any{"type": "error", "error_event": map[string]any{
			"code": float64(1008), "error_type": "missing_dynamic_variable", "reason": "missing_dynamic_variable",
			"message": "Missing required dynamic variables in first message: {lead_status}",
		}}, ev)
		require.Equal(t, websocket.CloseError{Code: websocket.StatusPolicyViolation, Reason: "missing_dynamic_variable"}, wsClosed(t, conn))
	})

	t.Run("IdleTimeout", func(t *testing.T) {
		t.Parallel()
		f := fake.NewElevenLabs(t, elKey)
		f.IdleTimeout(20 * time.Millisecond)
		conn := wsConversation(t, t.Context(), f)
		wsSend(t, conn, initiation(nil))
		require.Equal(t, websocket.CloseError{Code: websocket.StatusProtocolError, Reason: "transport_receive_timeout"}, wsClosed(t, conn))
	})

	t.Run("CloseNext", func(t *testing.T) {
		t.Parallel()
		f := fake.NewElevenLabs(t, elKey)
		f.CloseNext(1011, "boom")
		conn := wsConversation(t, t.Context(), f)
		wsSend(t, conn, initiation(nil))
		wsSend(t, conn, map[string]any{"type": "user_message", "text": "hello"})
		require.Equal(t, websocket.CloseError{Code: websocket.StatusInternalError, Reason: "boom"}, wsClosed(t, conn))
		require.Equal(t, []string{"hello"}, f.Messages())
	})

	t.Run("ErrSignature", func(t *testing.T) {
		t.Parallel()
		f := fake.NewElevenLabs(t, elKey)
		wsURL := "ws" + strings.TrimPrefix(f.URL(), "http") + "/v1/convai/conversation?agent_id=a&conversation_signature=forged"
		_, resp, err := websocket.Dial(t.Context(), wsURL, nil)
		require.Error(t, err)
		require.Equal(t, http.StatusForbidden, resp.StatusCode)
	})

	t.Run("CleanupClosesSockets", func(t *testing.T) {
		t.Parallel()
		ended := make(chan error, 1)
		t.Run("Inner", func(t *testing.T) {
			f := fake.NewElevenLabs(t, elKey)
			status, body := elRequest(t, f, "GET", "/v1/convai/conversation/get-signed-url?agent_id=a", elKey, "")
			require.Equal(t, http.StatusOK, status)
			conn, _, err := websocket.Dial(context.Background(), body["signed_url"].(string), nil)
			require.NoError(t, err)
			b, _ := json.Marshal(initiation(nil))
			require.NoError(t, conn.Write(t.Context(), websocket.MessageText, b))
			_, _, err = conn.Read(t.Context()) // metadata
			require.NoError(t, err)
			go func() { // keep reading so the fake's close handshake completes
				for {
					if _, _, err := conn.Read(context.Background()); err != nil {
						ended <- err
						return
					}
				}
			}()
		})
		require.Equal(t, websocket.StatusGoingAway, websocket.CloseStatus(<-ended))
	})
}

func TestElevenLabs_Webhooks(t *testing.T) {
	t.Parallel()
	type received struct {
		header http.Header
		body   []byte
	}
	got := make(chan received, 10)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		got <- received{r.Header.Clone(), b}
		w.WriteHeader(http.StatusOK)
		w.Write([]byte(`{"ok":true}`))
	}))
	t.Cleanup(srv.Close)
	f := fake.NewElevenLabs(t, elKey)

	t.Run("PostCall", func(t *testing.T) {
		payload := fake.TranscriptionPayload(fake.TranscriptionSpec{ConversationID: "conv_9", AgentNumber: "+16045550199",
			ExternalNumber: "+16045550123", Turns: []fake.Turn{{Role: "user", Message: "hi"}}})
		resp := f.PostCall(t, srv.URL+"/post-call", "whsec", payload)
		require.Equal(t, http.StatusOK, resp.StatusCode)
		b, _ := io.ReadAll(resp.Body)
		require.JSONEq(t, `{"ok":true}`, string(b))

		r := <-got
		require.Equal(t, "application/json", r.header.Get("Content-Type"))
		require.NoError(t, elevenlabs.VerifySignature("whsec", r.header.Get(elevenlabs.SignatureHeader), r.body, time.Now()))
		want, _ := json.Marshal(payload)
		require.JSONEq(t, string(want), string(r.body))
	})

	t.Run("PostCallRaw", func(t *testing.T) {
		body := []byte(`{"type":"post_call_audio","data":{}}`)
		f.PostCallRaw(t, srv.URL, "t=1,v0=00", body)
		r := <-got
		require.Equal(t, "t=1,v0=00", r.header.Get(elevenlabs.SignatureHeader))
		require.Equal(t, body, r.body)
		f.PostCallRaw(t, srv.URL, "", body)
		r = <-got
		require.Empty(t, r.header.Values(elevenlabs.SignatureHeader))
	})

	t.Run("PostInitiation", func(t *testing.T) {
		in := fake.InitiationPayload("+16045550123", "+16045550199", "agent_1", "CA1")
		f.PostInitiation(t, srv.URL, "X-Jack-Secret", "s3cret", in, false)
		r := <-got
		require.Equal(t, "s3cret", r.header.Get("X-Jack-Secret"))
		require.Equal(t, "application/json", r.header.Get("Content-Type"))
		require.JSONEq(t, `{"caller_id":"+16045550123","called_number":"+16045550199","agent_id":"agent_1","call_sid":"CA1"}`, string(r.body))

		f.PostInitiation(t, srv.URL, "", "", in, true)
		r = <-got
		require.Equal(t, "application/x-www-form-urlencoded", r.header.Get("Content-Type"))
		form, err := url.ParseQuery(string(r.body))
		require.NoError(t, err)
		require.Equal(t, url.Values{"caller_id": {"+16045550123"}, "called_number": {"+16045550199"}, "agent_id": {"agent_1"}, "call_sid": {"CA1"}}, form)
		require.Empty(t, r.header.Get("X-Jack-Secret"))
	})

	t.Run("TranscriptionDefaults", func(t *testing.T) {
		p := fake.TranscriptionPayload(fake.TranscriptionSpec{DurationSecs: 30})
		b, err := json.Marshal(p)
		require.NoError(t, err)
		require.True(t, bytes.Contains(b, []byte(`"phone_call":null`)))
		require.True(t, bytes.Contains(b, []byte(`"analysis":null`)))
		ev, err := elevenlabs.ParsePostCall(b)
		require.NoError(t, err)
		tr, err := ev.Transcription()
		require.NoError(t, err)
		require.True(t, strings.HasPrefix(tr.ConversationID, "conv_"))
		require.EqualValues(t, 30, tr.Metadata.CallDurationSecs)
		require.EqualValues(t, tr.Metadata.StartTimeUnixSecs+30, ev.EventTimestamp)
	})
}
