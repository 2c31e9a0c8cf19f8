package crm

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/jack-auto/jack"
)

// Webhook headers.
const (
	EventIDHeader   = "Jack-Event-Id"
	EventTypeHeader = "Jack-Event-Type"
	SignatureHeader = "Jack-Signature"
)

// NewSecret returns a fresh webhook signing secret (see jack.NewIntegrationSecret).
func NewSecret() string { return jack.NewIntegrationSecret() }

// Sign returns the Jack-Signature header of body sent at t:
// "t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<body>" keyed with secret's bytes>".
func Sign(secret string, body []byte, t time.Time) string {
	ts := strconv.FormatInt(t.Unix(), 10)
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte(ts + "."))
	mac.Write(body)
	return "t=" + ts + ",v1=" + hex.EncodeToString(mac.Sum(nil))
}

// blockedPrefixes are ranges a webhook may not reach besides loopback, private and link-local:
// carrier-grade NAT, "this network", and the IPv6 site-local and NAT64-local ranges.
var blockedPrefixes = []netip.Prefix{
	netip.MustParsePrefix("0.0.0.0/8"),
	netip.MustParsePrefix("100.64.0.0/10"),
	netip.MustParsePrefix("192.0.0.0/24"),
	netip.MustParsePrefix("198.18.0.0/15"),
	netip.MustParsePrefix("fec0::/10"),
}

// publicAddr reports whether a webhook may connect to ip: not loopback, private, link-local,
// unspecified, multicast or another internal range.
func publicAddr(ip netip.Addr) bool {
	ip = ip.Unmap()
	if !ip.IsValid() || ip.IsLoopback() || ip.IsPrivate() || ip.IsLinkLocalUnicast() || ip.IsLinkLocalMulticast() ||
		ip.IsUnspecified() || ip.IsMulticast() || ip.IsInterfaceLocalMulticast() {
		return false
	}
	for _, p := range blockedPrefixes {
		if p.Contains(ip) {
			return false
		}
	}
	return true
}

// CheckURL returns EUNPROCESSABLE (field url) unless raw is an absolute http(s) URL without
// credentials whose host resolves only to public addresses (any address when allowPrivate).
func CheckURL(ctx context.Context, raw string, allowPrivate bool) error {
	bad := func(problem string) error { return jack.ValidationError(map[string]string{"url": problem}) }
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.Hostname() == "" {
		return bad("must be an absolute http or https URL")
	}
	if u.User != nil {
		return bad("must not carry credentials")
	}
	if allowPrivate {
		return nil
	}
	host := u.Hostname()
	var addrs []netip.Addr
	if ip, err := netip.ParseAddr(host); err == nil {
		addrs = []netip.Addr{ip}
	} else {
		rctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
		ips, err := net.DefaultResolver.LookupNetIP(rctx, "ip", host)
		if err != nil || len(ips) == 0 {
			return bad("does not resolve")
		}
		addrs = ips
	}
	for _, ip := range addrs {
		if !publicAddr(ip) {
			return bad("resolves to a loopback, private or link-local address")
		}
	}
	return nil
}

// errBlockedAddr is the dial error for an address CheckURL would refuse.
var errBlockedAddr = errors.New("webhook address is loopback, private or link-local")

// NewHTTPClient returns the client webhooks are sent with: no redirects followed (a 3xx is a
// failure), a per-request timeout, and unless allowPrivate a dialer that refuses every
// non-public address it is about to connect to, so DNS that changes after CheckURL cannot
// reach the internal network.
func NewHTTPClient(timeout time.Duration, allowPrivate bool) *http.Client {
	dialer := &net.Dialer{Timeout: timeout}
	if !allowPrivate {
		dialer.Control = func(_, address string, _ syscall.RawConn) error {
			ap, err := netip.ParseAddrPort(address)
			if err != nil || !publicAddr(ap.Addr()) {
				return errBlockedAddr
			}
			return nil
		}
	}
	transport := &http.Transport{
		DialContext:           dialer.DialContext,
		TLSHandshakeTimeout:   timeout,
		ResponseHeaderTimeout: timeout,
		MaxIdleConnsPerHost:   4,
		IdleConnTimeout:       90 * time.Second,
	}
	return &http.Client{
		Timeout:       timeout,
		Transport:     transport,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

// Result is the outcome of one attempt.
type Result struct {
	StatusCode int // 0 when no response came
	Latency    time.Duration
	Err        error // nil on success
}

// postWebhook sends one signed delivery.
func postWebhook(ctx context.Context, client *http.Client, i *jack.Integration, eventID, eventType string, body []byte, now time.Time) Result {
	start := time.Now()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, i.URL, bytes.NewReader(body))
	if err != nil {
		return Result{Err: fmt.Errorf("webhook request: %w", err)}
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "Jack-Webhooks/1.0")
	req.Header.Set(EventIDHeader, eventID)
	req.Header.Set(EventTypeHeader, eventType)
	req.Header.Set(SignatureHeader, Sign(i.Secret, body, now))
	resp, err := client.Do(req)
	res := Result{Latency: time.Since(start)}
	if err != nil {
		res.Err = fmt.Errorf("webhook: %s", describeError(err))
		return res
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
	res.StatusCode = resp.StatusCode
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		res.Err = fmt.Errorf("webhook answered HTTP %d", resp.StatusCode)
	}
	return res
}

// describeError shortens a client error for staff: a timeout, a refused address, or the cause.
func describeError(err error) string {
	var ne net.Error
	switch {
	case errors.Is(err, errBlockedAddr):
		return errBlockedAddr.Error()
	case errors.As(err, &ne) && ne.Timeout():
		return "timed out"
	}
	msg := err.Error()
	if i := strings.LastIndex(msg, ": "); i >= 0 {
		return msg[i+2:]
	}
	return msg
}
