package twilio

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/netip"
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
	hc.CheckRedirect = c.checkMediaRedirect(u)
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

// checkMediaRedirect follows a media fetch's redirects only to Twilio's media hosts (the
// configured API's host name, any port; Twilio's own hosts and its CDN), and never to a
// private, loopback, link-local or otherwise non-public address unless the operator configured
// that host as the API (a fake or a proxy): a media URL must not become a way into the
// network Jack runs in. It sends the Authorization header only to the scheme and host the fetch
// started at (Go's own rule would forward it to any port of the same host name, and a CDN must
// never see the account's token), and refuses https → http.
func (c *Client) checkMediaRedirect(start *url.URL) func(*http.Request, []*http.Request) error {
	return func(req *http.Request, via []*http.Request) error {
		switch {
		case len(via) >= maxMediaRedirects:
			return errors.New("too many redirects")
		case req.URL.Scheme != "https" && (req.URL.Scheme != "http" || start.Scheme == "https"):
			return fmt.Errorf("refusing a redirect to %s", req.URL.Scheme)
		case req.URL.User != nil:
			return errors.New("refusing a redirect with credentials in the URL")
		}
		host := strings.ToLower(req.URL.Hostname())
		if host != strings.ToLower(c.api.Hostname()) {
			if !isTwilioMediaHost(host, req.URL.Path) {
				return fmt.Errorf("refusing a media redirect to %s: not a Twilio media host", host)
			}
			if err := c.publicOnly(req.Context(), host); err != nil {
				return err
			}
		}
		if req.URL.Scheme != start.Scheme || !strings.EqualFold(req.URL.Host, start.Host) {
			req.Header.Del("Authorization")
		}
		return nil
	}
}

// isTwilioMediaHost reports whether a redirect may lead to host (lower case): Twilio's hosts,
// its CDN, or the path-style S3 bucket its CDN is served from.
func isTwilioMediaHost(host, path string) bool {
	switch {
	case host == "twilio.com", strings.HasSuffix(host, ".twilio.com"),
		host == "twiliocdn.com", strings.HasSuffix(host, ".twiliocdn.com"):
		return true
	case strings.HasSuffix(host, ".amazonaws.com") && strings.HasPrefix(host, "s3"):
		return strings.HasPrefix(path, "/media.twiliocdn.com/") || strings.HasPrefix(path, "/com.twilio.")
	}
	return false
}

// publicOnly returns an error unless every address host resolves to is a public unicast one.
func (c *Client) publicOnly(ctx context.Context, host string) error {
	var addrs []netip.Addr
	if ip, err := netip.ParseAddr(host); err == nil {
		addrs = []netip.Addr{ip}
	} else {
		ips, err := c.resolve(ctx, host)
		if err != nil {
			return fmt.Errorf("resolve media host %s: %w", host, err)
		}
		for _, ip := range ips {
			if a, ok := netip.AddrFromSlice(ip.IP); ok {
				addrs = append(addrs, a.Unmap())
			}
		}
	}
	if len(addrs) == 0 {
		return fmt.Errorf("media host %s has no address", host)
	}
	for _, a := range addrs {
		if !a.IsGlobalUnicast() || a.IsPrivate() || a.IsLoopback() || a.IsLinkLocalUnicast() ||
			sharedAddressSpace.Contains(a) {
			return fmt.Errorf("refusing a media redirect to %s: %s is not a public address", host, a)
		}
	}
	return nil
}

// sharedAddressSpace is RFC 6598's carrier-grade NAT range, private in all but name.
var sharedAddressSpace = netip.MustParsePrefix("100.64.0.0/10")

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
