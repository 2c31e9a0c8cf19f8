package twilio

import (
	"crypto/hmac"
	"crypto/sha1" //nolint:gosec // Twilio signs its webhooks with HMAC-SHA1; the protocol is not ours to choose
	"crypto/subtle"
	"encoding/base64"
	"net"
	"net/url"
	"slices"
	"strings"
)

// SignatureHeader carries Twilio's signature of a webhook request.
const SignatureHeader = "X-Twilio-Signature"

// ValidateRequest reports whether signature is Twilio's signature of a form webhook: webhookURL is
// the full public URL Twilio requested (scheme, host, path and query; no #fragment, which never
// reaches the server) and params every form parameter received, not a known subset, because
// Twilio adds parameters without notice. Like twilio-node's validateRequest (Twilio's reference
// validator), a URL also passes with its default port added or removed, and a key sent more
// than once signs each distinct value, sorted (twilio-go would sign only the first and reject
// such a webhook).
//
// An empty authToken validates nothing, so a misconfigured server cannot accept forgeries
// signed with the empty key.
func ValidateRequest(authToken, webhookURL string, params url.Values, signature string) bool {
	if authToken == "" || signature == "" {
		return false
	}
	got, err := base64.StdEncoding.DecodeString(signature)
	if err != nil {
		return false
	}
	ok := 0
	for _, u := range urlVariants(webhookURL) {
		ok |= subtle.ConstantTimeCompare(got, mac(authToken, u, params))
	}
	return ok == 1
}

// Sign returns the X-Twilio-Signature Twilio would send for a form POST of params to
// webhookURL: base64(HMAC-SHA1(authToken, webhookURL + k1 + v1 + k2 + v2 …)) with keys in byte
// order and, for a repeated key, key + value for each distinct value in byte order
// (twilio-node's getExpectedTwilioSignature). ValidateRequest accepts exactly what it signs.
func Sign(authToken, webhookURL string, params url.Values) string {
	return base64.StdEncoding.EncodeToString(mac(authToken, webhookURL, params))
}

func mac(authToken, webhookURL string, params url.Values) []byte {
	keys := make([]string, 0, len(params))
	for k, v := range params {
		if len(v) > 0 {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	m := hmac.New(sha1.New, []byte(authToken))
	m.Write([]byte(webhookURL))
	for _, k := range keys {
		values := params[k]
		if len(values) > 1 {
			values = slices.Compact(slices.Sorted(slices.Values(values)))
		}
		for _, v := range values {
			m.Write([]byte(k))
			m.Write([]byte(v))
		}
	}
	return m.Sum(nil)
}

// urlVariants returns webhookURL as given, with its scheme's default port added when it has
// none, and with its port removed: Twilio's signing is inconsistent about the port, so its own
// validators try both.
func urlVariants(webhookURL string) []string {
	variants := []string{webhookURL}
	u, err := url.Parse(webhookURL)
	if err != nil || u.Host == "" {
		return variants
	}
	other := *u
	host := u.Hostname()
	switch {
	case u.Port() != "":
		other.Host = host
		if strings.Contains(host, ":") { // IPv6 literal
			other.Host = "[" + host + "]"
		}
	case u.Scheme == "https":
		other.Host = net.JoinHostPort(host, "443")
	default:
		other.Host = net.JoinHostPort(host, "80")
	}
	return append(variants, other.String())
}
