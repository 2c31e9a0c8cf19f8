package fake

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/jack-auto/jack/providers/twilio"
)

// This file adds MMS media to the fake: attachments served at
// /2010-04-01/Accounts/{AccountSid}/Messages/{MessageSid}/Media/{MediaSid} to the account's
// credentials only, answered as Twilio does with a redirect to a CDN (a second server on another
// port) that, like S3 behind Twilio's CDN, refuses a request carrying an Authorization header.

// TwilioMediaRequest is one request the fake's CDN received.
type TwilioMediaRequest struct {
	Path          string
	Authorization string // what a leaky client forwarded; "" when none
}

// twilioMedia is the fake's media store, guarded by Twilio.mu.
type twilioMedia struct {
	cdn      *httptest.Server     // started with the first attachment
	items    map[string]mediaItem // by media sid
	byURL    map[string]string    // media URL → content type
	requests []TwilioMediaRequest
}

type mediaItem struct {
	contentType string
	body        []byte
}

func (f *Twilio) registerMediaRoutes(mux *http.ServeMux) {
	mux.HandleFunc("GET /2010-04-01/Accounts/{AccountSid}/Messages/{MessageSid}/Media/{MediaSid}", f.fetchMedia)
}

// AddMedia stores an attachment and returns its media URL, as Twilio puts it in an inbound
// MMS webhook's MediaUrl{N} (each attachment gets its own message sid).
func (f *Twilio) AddMedia(contentType string, body []byte) string {
	f.tb.Helper()
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.media.cdn == nil {
		f.media.items, f.media.byURL = map[string]mediaItem{}, map[string]string{}
		f.media.cdn = httptest.NewServer(http.HandlerFunc(f.serveCDN))
		f.tb.Cleanup(f.media.cdn.Close)
	}
	sid := twilio.NewSid("ME")
	f.media.items[sid] = mediaItem{contentType: contentType, body: slices.Clone(body)}
	u := f.srv.URL + "/2010-04-01/Accounts/" + f.accountSID + "/Messages/" + twilio.NewSid("MM") + "/Media/" + sid
	f.media.byURL[u] = contentType
	return u
}

// MediaRequests returns the requests the CDN received, oldest first.
func (f *Twilio) MediaRequests() []TwilioMediaRequest {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.media.requests)
}

// InboundMMSParams returns the webhook form of an MMS from a customer to the dealership's
// number: InboundSMSParams plus NumMedia, MediaUrl{N} and MediaContentType{N} for media (URLs
// from AddMedia; another URL is sent as application/octet-stream), and an MM message sid.
func (f *Twilio) InboundMMSParams(from, to, body string, media ...string) url.Values {
	params := twilio.InboundSMSParams(f.accountSID, from, to, body, twilio.NewSid("MM"))
	params.Set("NumMedia", strconv.Itoa(len(media)))
	f.mu.Lock()
	defer f.mu.Unlock()
	for i, u := range media {
		ct, ok := f.media.byURL[u]
		if !ok {
			ct = "application/octet-stream"
		}
		params.Set("MediaUrl"+strconv.Itoa(i), u)
		params.Set("MediaContentType"+strconv.Itoa(i), ct)
	}
	return params
}

// fetchMedia answers a media URL like Twilio: 401 without the account's credentials, 404 for an
// unknown attachment, otherwise a 307 to the CDN.
func (f *Twilio) fetchMedia(w http.ResponseWriter, r *http.Request) {
	if !f.begin(w, r) {
		return
	}
	f.mu.Lock()
	_, ok := f.media.items[r.PathValue("MediaSid")]
	cdn := f.media.cdn
	f.mu.Unlock()
	if !ok {
		twilioNotFound(w, r)
		return
	}
	http.Redirect(w, r, cdn.URL+"/"+f.accountSID+"/"+r.PathValue("MediaSid"), http.StatusTemporaryRedirect)
}

func (f *Twilio) serveCDN(w http.ResponseWriter, r *http.Request) {
	auth := r.Header.Get("Authorization")
	f.mu.Lock()
	f.media.requests = append(f.media.requests, TwilioMediaRequest{Path: r.URL.Path, Authorization: auth})
	item, ok := f.media.items[r.URL.Path[strings.LastIndex(r.URL.Path, "/")+1:]]
	f.notifyLocked()
	f.mu.Unlock()
	switch {
	case auth != "":
		http.Error(w, "Only one auth mechanism allowed", http.StatusBadRequest)
	case !ok || r.Method != http.MethodGet:
		http.NotFound(w, r)
	default:
		w.Header().Set("Content-Type", item.contentType)
		w.Header().Set("Content-Length", strconv.Itoa(len(item.body)))
		w.Write(item.body)
	}
}
