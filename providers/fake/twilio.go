// Package fake serves the real wire formats of Jack's providers on local httptest servers, so the
// real adapters (twilio-go, the ElevenLabs client) and webhook handlers are tested end to end
// without the network. Each fake records what it received, injects the providers' documented
// errors on demand, and sends the providers' signed webhooks.
package fake

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf16"

	"github.com/jack-auto/jack"
	"github.com/jack-auto/jack/providers/twilio"
)

// Twilio is a fake of Twilio's REST API for messages, served on 127.0.0.1. It answers
// POST /2010-04-01/Accounts/{AccountSid}/Messages.json, GET …/Messages/{Sid}.json and the list
// GET …/Messages.json (twilio_list.go) with
// Twilio's status codes, error JSON and ApiV2010Message shape, and sends status callbacks
// signed like Twilio's. It also sells numbers (twilio_numbers.go) and serves MMS media
// (twilio_media.go). It is safe for concurrent use.
type Twilio struct {
	tb         testing.TB
	srv        *httptest.Server
	accountSID string
	authToken  string
	hc         *http.Client // for callbacks

	ctx    context.Context // ends background callbacks at cleanup
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu           sync.Mutex
	messages     []TwilioMessage
	optedOut     map[string]bool
	failures     []twilioFailure
	latency      time.Duration
	autoStatuses []string
	callbacks    []TwilioCallback
	nums         twilioNumbers // number search, purchase and release (twilio_numbers.go)
	media        twilioMedia   // MMS attachments and their CDN (twilio_media.go)
	changed      chan struct{} // closed and replaced on every change, to wake waiters
}

// TwilioMessage is a message the fake accepted, as Twilio would store it.
type TwilioMessage struct {
	Sid                 string
	AccountSid          string
	MessagingServiceSid string
	From                string
	To                  string
	Body                string
	MediaURLs           []string
	StatusCallback      string
	Status              string    // the create status, then the last status called back
	DateSent            time.Time // zero until a status past sending (Twilio's date_sent is null until then)
	NumSegments         int
	DateCreated         time.Time
	Form                url.Values // the request as received
}

// TwilioCallback is one status callback the fake sent.
type TwilioCallback struct {
	URL        string
	Params     url.Values
	StatusCode int   // 0 when the request failed
	Err        error // transport error, if any
}

type twilioFailure struct {
	status  int
	code    int
	message string
}

// NewTwilio starts a fake Twilio for one account. accountSID and authToken must be letters and
// digits (twilio-go refuses anything else). The server closes in tb.Cleanup after in-flight
// callbacks end.
func NewTwilio(tb testing.TB, accountSID, authToken string) *Twilio {
	tb.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	f := &Twilio{
		tb:         tb,
		accountSID: accountSID,
		authToken:  authToken,
		hc:         &http.Client{Timeout: twilio.WebhookTimeout},
		ctx:        ctx,
		cancel:     cancel,
		optedOut:   map[string]bool{},
		changed:    make(chan struct{}),
	}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /2010-04-01/Accounts/{AccountSid}/Messages.json", f.createMessage)
	mux.HandleFunc("GET /2010-04-01/Accounts/{AccountSid}/Messages/{file}", f.fetchMessage)
	mux.HandleFunc("GET /2010-04-01/Accounts/{AccountSid}/Messages.json", f.listMessages)
	f.registerNumberRoutes(mux)
	f.registerMediaRoutes(mux)
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) { twilioNotFound(w, r) })
	f.srv = httptest.NewServer(mux)
	tb.Cleanup(func() {
		f.mu.Lock()
		f.cancel()
		f.mu.Unlock()
		f.wg.Wait()
		f.srv.Close()
	})
	return f
}

// URL returns the fake's bare scheme+host, to use as twilio.Config.APIURL.
func (f *Twilio) URL() string { return f.srv.URL }

// AccountSID returns the account the fake serves.
func (f *Twilio) AccountSID() string { return f.accountSID }

// AuthToken returns the account's token, which signs the fake's webhooks.
func (f *Twilio) AuthToken() string { return f.authToken }

// OptOut makes sends to phone fail with 21610, as after the customer texted STOP.
func (f *Twilio) OptOut(phone string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.optedOut[phone] = true
}

// OptIn undoes OptOut, as after the customer texted START.
func (f *Twilio) OptIn(phone string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	delete(f.optedOut, phone)
}

// FailNext makes the next authenticated request fail with Twilio's error JSON for code and
// message and HTTP status; calls queue up. Status 0 drops the connection without an answer.
func (f *Twilio) FailNext(status, code int, message string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.failures = append(f.failures, twilioFailure{status: status, code: code, message: message})
}

// SetLatency delays every REST answer by d (0 for none); a request cancelled meanwhile gets none.
func (f *Twilio) SetLatency(d time.Duration) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.latency = d
}

// AutoCallbacks makes every later message that has a StatusCallback get a callback for each of
// statuses in order, in the background after the create answer (e.g. "sent", "delivered").
// failed and undelivered carry ErrorCode 30003. No statuses turns it off (the default).
func (f *Twilio) AutoCallbacks(statuses ...string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.autoStatuses = slices.Clone(statuses)
}

// Messages returns a copy of the messages accepted so far, oldest first.
func (f *Twilio) Messages() []TwilioMessage {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := make([]TwilioMessage, len(f.messages))
	for i, m := range f.messages {
		out[i] = m.clone()
	}
	return out
}

// Callbacks returns a copy of the status callbacks sent so far, in the order they completed.
func (f *Twilio) Callbacks() []TwilioCallback {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := make([]TwilioCallback, len(f.callbacks))
	for i, c := range f.callbacks {
		c.Params = cloneValues(c.Params)
		out[i] = c
	}
	return out
}

// WaitForMessages waits until at least n messages were accepted and returns them all; it fails
// tb after timeout. Call it from the test's goroutine.
func (f *Twilio) WaitForMessages(tb testing.TB, n int, timeout time.Duration) []TwilioMessage {
	tb.Helper()
	return waitForLen(f, tb, n, timeout, "messages", f.Messages)
}

// WaitForCallbacks waits until at least n status callbacks completed and returns them all; it
// fails tb after timeout. Call it from the test's goroutine.
func (f *Twilio) WaitForCallbacks(tb testing.TB, n int, timeout time.Duration) []TwilioCallback {
	tb.Helper()
	return waitForLen(f, tb, n, timeout, "status callbacks", f.Callbacks)
}

func waitForLen[T any](f *Twilio, tb testing.TB, n int, timeout time.Duration, what string, get func() []T) []T {
	tb.Helper()
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	for {
		f.mu.Lock()
		changed := f.changed
		f.mu.Unlock()
		if got := get(); len(got) >= n {
			return got
		}
		select {
		case <-changed:
		case <-deadline.C:
			tb.Fatalf("fake twilio: want %d %s within %s, have %d", n, what, timeout, len(get()))
			return nil
		}
	}
}

// SendStatus sends one status callback for message sid now and returns the response with its
// body read (no need to close it). errorCode is sent when not empty. It fails tb when sid is
// unknown, has no StatusCallback, or the request fails. Tests use it for out-of-order statuses.
func (f *Twilio) SendStatus(tb testing.TB, sid, status, errorCode string) *http.Response {
	tb.Helper()
	m, ok := f.message(sid)
	if !ok {
		tb.Fatalf("fake twilio: no message %s", sid)
	}
	if m.StatusCallback == "" {
		tb.Fatalf("fake twilio: message %s has no StatusCallback", sid)
	}
	resp, err := f.callback(tb.Context(), m, status, errorCode)
	if err != nil {
		tb.Fatalf("fake twilio: status callback %s %s: %v", sid, status, err)
	}
	return resp
}

// InboundSMSParams returns the webhook form of a text from a customer (from) to the dealership's
// number (to) on this account, with a new MessageSid.
func (f *Twilio) InboundSMSParams(from, to, body string) url.Values {
	return twilio.InboundSMSParams(f.accountSID, from, to, body, "")
}

// PostWebhook posts params to webhookURL signed with the account's token, as Twilio would, and
// returns the response with its body read (no need to close it). It fails tb if the request
// fails. Posting the same params again is a Twilio retry (same idempotency token).
func (f *Twilio) PostWebhook(tb testing.TB, webhookURL string, params url.Values) *http.Response {
	tb.Helper()
	resp, err := twilio.PostWebhook(tb.Context(), f.hc, webhookURL, f.authToken, params)
	if err == nil {
		err = bufferBody(resp)
	}
	if err != nil {
		tb.Fatalf("fake twilio: post webhook: %v", err)
	}
	return resp
}

// callback posts one status callback for m, records it and moves m's status.
func (f *Twilio) callback(ctx context.Context, m TwilioMessage, status, errorCode string) (*http.Response, error) {
	params := twilio.StatusCallbackParams(f.accountSID, m.Sid, m.From, m.To, status, errorCode)
	if m.MessagingServiceSid != "" {
		params.Set("MessagingServiceSid", m.MessagingServiceSid)
	}
	resp, err := twilio.PostWebhook(ctx, f.hc, m.StatusCallback, f.authToken, params)
	if err == nil {
		err = bufferBody(resp)
	}
	cb := TwilioCallback{URL: m.StatusCallback, Params: params, Err: err}
	if err == nil {
		cb.StatusCode = resp.StatusCode
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.callbacks = append(f.callbacks, cb)
	if i := f.indexOf(m.Sid); i >= 0 {
		f.messages[i].Status = status
		if f.messages[i].DateSent.IsZero() && jack.StatusAdvances(jack.StatusSending, status) {
			f.messages[i].DateSent = time.Now().UTC().Truncate(time.Second)
		}
	}
	f.notifyLocked()
	return resp, err
}

// autoCallbacks sends the configured statuses for m in order; like Twilio it goes on after a
// failed callback, and it stops at cleanup.
func (f *Twilio) autoCallbacks(m TwilioMessage, statuses []string) {
	defer f.wg.Done()
	for _, status := range statuses {
		if f.ctx.Err() != nil {
			return
		}
		var code string
		if status == jack.StatusFailed || status == jack.StatusUndelivered {
			code = "30003"
		}
		resp, err := f.callback(f.ctx, m, status, code)
		switch {
		case err != nil && f.ctx.Err() == nil:
			f.tb.Logf("fake twilio: status callback %s %s: %v", m.Sid, status, err)
		case err == nil && resp.StatusCode >= 300:
			f.tb.Logf("fake twilio: status callback %s %s answered %d", m.Sid, status, resp.StatusCode)
		}
	}
}

func (f *Twilio) createMessage(w http.ResponseWriter, r *http.Request) {
	if !f.begin(w, r) {
		return
	}
	form := r.PostForm
	m := TwilioMessage{
		AccountSid:          f.accountSID,
		MessagingServiceSid: form.Get("MessagingServiceSid"),
		From:                form.Get("From"),
		To:                  form.Get("To"),
		Body:                form.Get("Body"),
		MediaURLs:           form["MediaUrl"],
		StatusCallback:      form.Get("StatusCallback"),
		DateCreated:         time.Now().UTC().Truncate(time.Second),
		Form:                cloneValues(form),
	}
	// Twilio's error codes and messages for each refusal (twilio.com/docs/errors/<code>).
	switch {
	case m.To == "":
		twilioError(w, http.StatusBadRequest, 21604, "A 'To' phone number is required.")
		return
	case m.From == "" && m.MessagingServiceSid == "":
		twilioError(w, http.StatusBadRequest, 21603, "A 'From' phone number is required.")
		return
	case m.Body == "" && len(m.MediaURLs) == 0:
		twilioError(w, http.StatusBadRequest, 21602, "Message body is required.")
		return
	case !jack.IsE164(m.To):
		twilioError(w, http.StatusBadRequest, 21211, "Invalid 'To' Phone Number")
		return
	case m.From != "" && !jack.IsE164(m.From):
		twilioError(w, http.StatusBadRequest, 21212, "Invalid 'From' Phone Number")
		return
	case len([]rune(m.Body)) > jack.MaxSMSLength:
		twilioError(w, http.StatusBadRequest, 21617, "The concatenated message body exceeds the 1600 character limit.")
		return
	case m.StatusCallback != "" && !absoluteHTTPURL(m.StatusCallback):
		twilioError(w, http.StatusBadRequest, 21609, "Invalid StatusCallback url")
		return
	}

	f.mu.Lock()
	if f.optedOut[m.To] {
		f.mu.Unlock()
		twilioError(w, http.StatusBadRequest, twilio.ErrorOptedOut, "Attempt to send to unsubscribed recipient")
		return
	}
	m.Sid, m.Status, m.NumSegments = twilio.NewSid("SM"), jack.StatusQueued, smsSegments(m.Body)
	if len(m.MediaURLs) > 0 {
		m.Sid = twilio.NewSid("MM")
	}
	if m.MessagingServiceSid != "" {
		m.Status, m.NumSegments = jack.StatusAccepted, 0 // no sender chosen yet
	}
	f.messages = append(f.messages, m)
	statuses := f.autoStatuses
	callBack := m.StatusCallback != "" && len(statuses) > 0 && f.ctx.Err() == nil
	if callBack {
		f.wg.Add(1) // under mu, so never after cleanup started waiting
	}
	f.notifyLocked()
	f.mu.Unlock()

	writeJSON(w, http.StatusCreated, messageJSON(m))
	if callBack {
		if fl, ok := w.(http.Flusher); ok {
			fl.Flush() // the create answer leaves before the first callback, as with Twilio
		}
		go f.autoCallbacks(m.clone(), statuses)
	}
}

func (f *Twilio) fetchMessage(w http.ResponseWriter, r *http.Request) {
	if !f.begin(w, r) {
		return
	}
	sid, isJSON := strings.CutSuffix(r.PathValue("file"), ".json")
	m, ok := f.message(sid)
	if !isJSON || !ok {
		twilioNotFound(w, r)
		return
	}
	writeJSON(w, http.StatusOK, messageJSON(m))
}

// begin parses the form and applies latency, authentication and injected failures; false
// means it answered (or the client left).
func (f *Twilio) begin(w http.ResponseWriter, r *http.Request) bool {
	// Reading the body first lets the server notice a client that hangs up during latency.
	if err := r.ParseForm(); err != nil {
		twilioError(w, http.StatusBadRequest, 20001, "Invalid form body")
		return false
	}
	f.mu.Lock()
	latency := f.latency
	f.mu.Unlock()
	if latency > 0 {
		t := time.NewTimer(latency)
		defer t.Stop()
		select {
		case <-t.C:
		case <-r.Context().Done():
			return false
		}
	}

	user, pass, ok := r.BasicAuth()
	if !ok || user != f.accountSID || pass != f.authToken {
		w.Header().Set("WWW-Authenticate", `Basic realm="Twilio API"`)
		twilioError(w, http.StatusUnauthorized, 20003, "Authenticate")
		return false
	}
	if r.PathValue("AccountSid") != f.accountSID {
		twilioNotFound(w, r)
		return false
	}

	f.mu.Lock()
	var fail *twilioFailure
	if len(f.failures) > 0 {
		fail = &f.failures[0]
		f.failures = f.failures[1:]
	}
	f.mu.Unlock()
	switch {
	case fail == nil:
		return true
	case fail.status == 0:
		if hj, ok := w.(http.Hijacker); ok {
			if conn, _, err := hj.Hijack(); err == nil {
				conn.Close()
				return false
			}
		}
		panic(http.ErrAbortHandler) // also drops the connection
	default:
		twilioError(w, fail.status, fail.code, fail.message)
		return false
	}
}

// message returns a copy of message sid.
func (f *Twilio) message(sid string) (TwilioMessage, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if i := f.indexOf(sid); i >= 0 {
		return f.messages[i].clone(), true
	}
	return TwilioMessage{}, false
}

func (f *Twilio) indexOf(sid string) int {
	return slices.IndexFunc(f.messages, func(m TwilioMessage) bool { return m.Sid == sid })
}

func (f *Twilio) notifyLocked() {
	close(f.changed)
	f.changed = make(chan struct{})
}

func (m TwilioMessage) clone() TwilioMessage {
	m.MediaURLs = slices.Clone(m.MediaURLs)
	m.Form = cloneValues(m.Form)
	return m
}

func cloneValues(v url.Values) url.Values {
	if v == nil {
		return nil
	}
	out := make(url.Values, len(v))
	for k, vs := range v {
		out[k] = slices.Clone(vs)
	}
	return out
}

// twilioMessageJSON is ApiV2010Message as Twilio sends it: every key present, null when unset.
type twilioMessageJSON struct {
	AccountSid          string            `json:"account_sid"`
	APIVersion          string            `json:"api_version"`
	Body                string            `json:"body"`
	DateCreated         string            `json:"date_created"`
	DateSent            *string           `json:"date_sent"`
	DateUpdated         string            `json:"date_updated"`
	Direction           string            `json:"direction"`
	ErrorCode           *int              `json:"error_code"`
	ErrorMessage        *string           `json:"error_message"`
	From                *string           `json:"from"`
	MessagingServiceSid *string           `json:"messaging_service_sid"`
	NumMedia            string            `json:"num_media"`
	NumSegments         string            `json:"num_segments"`
	Price               *string           `json:"price"`
	PriceUnit           string            `json:"price_unit"`
	Sid                 string            `json:"sid"`
	Status              string            `json:"status"`
	SubresourceURIs     map[string]string `json:"subresource_uris"`
	To                  string            `json:"to"`
	URI                 string            `json:"uri"`
}

// rfc2822 is how Twilio writes dates: RFC 2822 in GMT.
const rfc2822 = time.RFC1123Z

func messageJSON(m TwilioMessage) twilioMessageJSON {
	base := fmt.Sprintf("/2010-04-01/Accounts/%s/Messages/%s", m.AccountSid, m.Sid)
	date := m.DateCreated.Format(rfc2822)
	out := twilioMessageJSON{
		AccountSid:      m.AccountSid,
		APIVersion:      twilio.APIVersion,
		Body:            m.Body,
		DateCreated:     date,
		DateUpdated:     date,
		Direction:       "outbound-api",
		NumMedia:        strconv.Itoa(len(m.MediaURLs)),
		NumSegments:     strconv.Itoa(m.NumSegments),
		PriceUnit:       "USD",
		Sid:             m.Sid,
		Status:          m.Status,
		SubresourceURIs: map[string]string{"media": base + "/Media.json", "feedback": base + "/Feedback.json"},
		To:              m.To,
		URI:             base + ".json",
	}
	if m.From != "" {
		out.From = &m.From
	}
	if m.MessagingServiceSid != "" {
		out.MessagingServiceSid = &m.MessagingServiceSid
	}
	if !m.DateSent.IsZero() {
		sent := m.DateSent.Format(rfc2822)
		out.DateSent = &sent
	}
	return out
}

func twilioNotFound(w http.ResponseWriter, r *http.Request) {
	twilioError(w, http.StatusNotFound, 20404, fmt.Sprintf("The requested resource %s was not found", r.URL.Path))
}

// twilioError writes Twilio's REST error JSON, which twilio-go decodes into TwilioRestError.
func twilioError(w http.ResponseWriter, status, code int, message string) {
	writeJSON(w, status, map[string]any{
		"code":      code,
		"message":   message,
		"more_info": fmt.Sprintf("https://www.twilio.com/docs/errors/%d", code),
		"status":    status,
	})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Twilio-Request-Id", twilio.NewSid("RQ"))
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

// bufferBody reads and closes resp.Body and replaces it with the bytes read.
func bufferBody(resp *http.Response) error {
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	resp.Body = io.NopCloser(strings.NewReader(string(body)))
	return err
}

func absoluteHTTPURL(s string) bool {
	u, err := url.Parse(s)
	return err == nil && (u.Scheme == "http" || u.Scheme == "https") && u.Host != ""
}

// gsm7 is the GSM 03.38 basic character set; gsm7Ext characters take two septets.
const (
	gsm7    = "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
	gsm7Ext = "^{}\\[~]|€\f"
)

// smsSegments counts the SMS segments Twilio bills for body: 160 GSM-7 septets in one segment,
// 153 per segment when split; otherwise UCS-2 with 70 and 67 code units.
func smsSegments(body string) int {
	septets, isGSM := 0, true
	for _, r := range body {
		switch {
		case strings.ContainsRune(gsm7, r):
			septets++
		case strings.ContainsRune(gsm7Ext, r):
			septets += 2
		default:
			isGSM = false
		}
	}
	units, single, multi := septets, 160, 153
	if !isGSM {
		units, single, multi = len(utf16.Encode([]rune(body))), 70, 67
	}
	if units <= single {
		return 1
	}
	return (units + multi - 1) / multi
}
