package main

import (
	"encoding/json"
	"io"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"time"

	"github.com/jack-auto/jack/providers/twilio"
)

// fakeTwilio answers Twilio's create-message call at once (201, status queued), so jack's
// outbound texts never wait on a network. providers/fake.Twilio is a test helper (it takes a
// testing.TB and keeps every message); this one keeps only a count.
type fakeTwilio struct {
	srv  *http.Server
	url  string
	sent atomic.Int64
}

func startFakeTwilio() (*fakeTwilio, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	f := &fakeTwilio{url: "http://" + ln.Addr().String()}
	f.srv = &http.Server{Handler: f, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = f.srv.Serve(ln) }() // ErrServerClosed at the end of the run
	return f, nil
}

func (f *fakeTwilio) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost || !strings.HasSuffix(r.URL.Path, "/Messages.json") {
		_, _ = io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusNotFound)
		_, _ = io.WriteString(w, `{"code":20404,"message":"The requested resource was not found","status":404}`)
		return
	}
	f.sent.Add(1)
	_ = r.ParseForm()
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusCreated)
	_ = json.NewEncoder(w).Encode(map[string]any{
		"sid": twilio.NewSid("SM"), "status": "queued", "account_sid": twilioAccountSID,
		"to": r.PostForm.Get("To"), "from": r.PostForm.Get("From"), "body": r.PostForm.Get("Body"),
		"num_segments": "1", "direction": "outbound-api", "api_version": twilio.APIVersion,
	})
}

func (f *fakeTwilio) close() { _ = f.srv.Close() }
