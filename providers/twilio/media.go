package twilio

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"

	"github.com/jack-auto/jack"
)

// maxMediaRedirects bounds the redirects of one media fetch (Twilio answers with one, to its CDN).
const maxMediaRedirects = 5

// mediaTimeoutFactor: a media download may take longer than one REST call, so it gets several
// times Config.Timeout.
const mediaTimeoutFactor = 6

// FetchMedia downloads an MMS attachment (a MediaUrl of an inbound message) with the account's
// credentials. Twilio answers with a redirect to its CDN: the credentials go only to Twilio's
// API (the configured APIURL's host, or an https host under twilio.com) and never to a host a
// redirect leads to. The caller reads and closes body; size is -1 when unknown.
//
// Returns ENOTFOUND when mediaURL is not a Twilio media URL or Twilio no longer has the media,
// EPROVIDER when Twilio refuses or cannot be reached.
func (c *Client) FetchMedia(ctx context.Context, mediaURL string) (body io.ReadCloser, contentType string, size int64, err error) {
	u, err := url.Parse(mediaURL)
	if err != nil || !c.isTwilioAPI(u) {
		return nil, "", 0, jack.Errorf(jack.ENOTFOUND, "This attachment is not stored at Twilio.")
	}
	ctx, cancel := context.WithTimeout(ctx, mediaTimeoutFactor*c.cfg.Timeout)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		cancel()
		return nil, "", 0, fmt.Errorf("twilio: media request: %w", err)
	}
	req.SetBasicAuth(c.cfg.AccountSID, c.cfg.AuthToken)
	hc := *c.cfg.HTTPClient
	hc.Timeout = 0 // the deadline lives in ctx, and must outlast this call while the body is read
	hc.CheckRedirect = keepCredentialsHome(u)
	resp, err := hc.Do(req)
	if err != nil {
		err = translateError(ctx, err) // before cancel, which would read as the caller's
		cancel()
		return nil, "", 0, fmt.Errorf("twilio: fetch media: %w", err)
	}
	switch {
	case resp.StatusCode == http.StatusNotFound:
		resp.Body.Close()
		cancel()
		return nil, "", 0, jack.Errorf(jack.ENOTFOUND, "Twilio no longer has this attachment.")
	case resp.StatusCode != http.StatusOK:
		resp.Body.Close()
		cancel()
		return nil, "", 0, fmt.Errorf("twilio: fetch media: %w", &jack.Error{Code: jack.EPROVIDER,
			Message: fmt.Sprintf("Twilio did not deliver the attachment (HTTP %d).", resp.StatusCode)})
	}
	return &cancelOnClose{ReadCloser: resp.Body, cancel: cancel}, resp.Header.Get("Content-Type"), resp.ContentLength, nil
}

// isTwilioAPI reports whether u may receive the account's credentials: the configured API host
// (a fake or a proxy in tests and regional setups) or Twilio's own https API hosts.
func (c *Client) isTwilioAPI(u *url.URL) bool {
	if u.User != nil || u.Host == "" {
		return false
	}
	if u.Scheme == c.api.Scheme && strings.EqualFold(u.Host, c.api.Host) {
		return true
	}
	host := strings.ToLower(u.Host)
	return u.Scheme == "https" && u.Port() == "" && (host == "api.twilio.com" || strings.HasSuffix(host, ".twilio.com"))
}

// keepCredentialsHome follows redirects, but sends the Authorization header only to the
// scheme and host the fetch started at: Go's own rule would forward it to any port of the same
// host name, and a CDN must never see the account's token. It refuses https → http.
func keepCredentialsHome(start *url.URL) func(*http.Request, []*http.Request) error {
	return func(req *http.Request, via []*http.Request) error {
		switch {
		case len(via) >= maxMediaRedirects:
			return errors.New("too many redirects")
		case req.URL.Scheme != "https" && (req.URL.Scheme != "http" || start.Scheme == "https"):
			return fmt.Errorf("refusing a redirect to %s", req.URL.Scheme)
		}
		if req.URL.Scheme != start.Scheme || !strings.EqualFold(req.URL.Host, start.Host) {
			req.Header.Del("Authorization")
		}
		return nil
	}
}

// cancelOnClose ends the fetch's context once the body is closed.
type cancelOnClose struct {
	io.ReadCloser
	cancel context.CancelFunc
}

func (b *cancelOnClose) Close() error {
	err := b.ReadCloser.Close()
	b.cancel()
	return err
}
