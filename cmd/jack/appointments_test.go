package main

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/jack-auto/jack"
)

// postTool calls an ElevenLabs server tool as ElevenLabs does (the configured secret header,
// a JSON body with the caller and the called number) and decodes the answer.
func (b *voiceBundle) postTool(t *testing.T, tool, secret string, body map[string]any) (int, map[string]any) {
	t.Helper()
	buf, err := json.Marshal(body)
	require.NoError(t, err)
	req, err := http.NewRequest("POST", b.m.URL()+"/api/webhooks/elevenlabs/tools/"+tool, bytes.NewReader(buf))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set(webhookHeader, secret)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	var out map[string]any
	require.NoError(t, json.Unmarshal(raw, &out), "%s", raw)
	return resp.StatusCode, out
}

// TestMain_VoiceBooking: the voice agent checks availability and books through the server
// tools; the booking is stored as ai_voice, confirmed to the caller by SMS, and a wrong secret
// or an unknown number is refused.
func TestMain_VoiceBooking(t *testing.T) {
	t.Parallel()
	b := newVoiceBundle(t)
	b.owner.must("PATCH", "/api/organization", map[string]any{"settings": map[string]any{
		"timeZone": "America/New_York", "address": "12 Main St, Springfield", "appointmentCapacity": 1}}, http.StatusOK, nil)
	ny, err := time.LoadLocation("America/New_York")
	require.NoError(t, err)
	day := time.Now().In(ny).AddDate(0, 0, 2)
	for day.Weekday() != time.Tuesday {
		day = day.AddDate(0, 0, 1)
	}
	caller := "+16045550177"
	base := map[string]any{"caller_id": caller, "called_number": b.orgPhone}
	with := func(extra map[string]any) map[string]any {
		m := map[string]any{}
		for k, v := range base {
			m[k] = v
		}
		for k, v := range extra {
			m[k] = v
		}
		return m
	}

	status, out := b.postTool(t, "check-availability", "wrong", with(nil))
	require.Equal(t, http.StatusUnauthorized, status, "%v", out)
	status, out = b.postTool(t, "book-appointment", "", with(map[string]any{"starts_at": day.Format("2006-01-02") + "T10:00"}))
	require.Equal(t, http.StatusUnauthorized, status, "%v", out)

	status, out = b.postTool(t, "check-availability", webhookValue, with(map[string]any{"date": day.Format("2006-01-02")}))
	require.Equal(t, http.StatusOK, status, "%v", out)
	require.Equal(t, "America/New_York", out["timeZone"])
	slots := out["slots"].([]any)
	require.Len(t, slots, 18)
	require.Equal(t, jack.SlotPhrase(time.Date(day.Year(), day.Month(), day.Day(), 9, 0, 0, 0, ny)), slots[0].(map[string]any)["label"])
	require.Contains(t, out["message"], "Free times: ")

	start := day.Format("2006-01-02") + "T10:00"
	status, out = b.postTool(t, "book-appointment", webhookValue, with(map[string]any{"starts_at": start, "kind": "test_drive", "vehicle": "2024 Civic"}))
	require.Equal(t, http.StatusOK, status, "%v", out)
	require.Equal(t, true, out["booked"], "%v", out)
	appt := out["appointment"].(map[string]any)
	require.Equal(t, jack.SourceAIVoice, appt["source"])

	want := jack.AppointmentConfirmation(jack.AppointmentTestDrive, time.Date(day.Year(), day.Month(), day.Day(), 10, 0, 0, 0, ny), "12 Main St, Springfield")
	msgs := b.twilio.WaitForMessages(t, 1, 5*time.Second)
	require.Equal(t, caller, msgs[0].To)
	require.Equal(t, want, msgs[0].Body, "the booking is confirmed by SMS")

	// Capacity 1: the same time again is refused in words the agent can say.
	status, out = b.postTool(t, "book-appointment", webhookValue, with(map[string]any{"caller_id": "+16045550178", "starts_at": start}))
	require.Equal(t, http.StatusOK, status, "%v", out)
	require.Equal(t, false, out["booked"])
	require.Contains(t, out["message"], "fully booked")
	status, out = b.postTool(t, "book-appointment", webhookValue, with(map[string]any{"starts_at": day.Format("2006-01-02") + "T22:00"}))
	require.Equal(t, http.StatusOK, status, "%v", out)
	require.Equal(t, false, out["booked"])
	status, _ = b.postTool(t, "book-appointment", webhookValue, with(map[string]any{"starts_at": "whenever"}))
	require.Equal(t, http.StatusUnprocessableEntity, status)
	status, _ = b.postTool(t, "check-availability", webhookValue, map[string]any{"caller_id": caller, "called_number": "+16045550999"})
	require.Equal(t, http.StatusNotFound, status, "a number no organization owns")

	var list struct{ Appointments []jack.Appointment }
	b.owner.must("GET", "/api/appointments", nil, http.StatusOK, &list)
	require.Len(t, list.Appointments, 1)
	require.Equal(t, caller, list.Appointments[0].Phone)
}
