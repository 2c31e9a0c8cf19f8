package twilio

import (
	"crypto/hmac"
	"crypto/sha1"
	"encoding/base64"
	"io"
	"net/url"
	"slices"

	"github.com/twilio/twilio-go/client"
)

// SignatureHeader carries Twilio's signature of a webhook request.
const SignatureHeader = "X-Twilio-Signature"

// ValidateRequest reports whether signature is Twilio's signature of a form webhook: webhookURL is
// the full public URL Twilio requested (scheme, host, path and query; no #fragment, which never
// reaches the server) and params every form parameter received, not a known subset, because
// Twilio adds parameters without notice. It uses twilio-go's validator, so a URL also passes
// with its default port added or removed.
//
// A key sent more than once counts with its first value only, as in twilio-go's ValidateBody
// (Twilio's SMS and status webhooks never repeat a key; twilio-node would sign every value).
// An empty authToken validates nothing, so a misconfigured server cannot accept forgeries
// signed with the empty key.
func ValidateRequest(authToken, webhookURL string, params url.Values, signature string) bool {
	if authToken == "" || signature == "" {
		return false
	}
	first := make(map[string]string, len(params))
	for k, v := range params {
		if len(v) > 0 {
			first[k] = v[0]
		}
	}
	rv := client.NewRequestValidator(authToken) // addressable: its methods have pointer receivers
	return rv.Validate(webhookURL, first, signature)
}

// Sign returns the X-Twilio-Signature Twilio would send for a form POST of params to
// webhookURL: base64(HMAC-SHA1(authToken, webhookURL + k1 + v1 + k2 + v2 …)) with keys in byte
// order. Like ValidateRequest it signs the first value of a repeated key, so the two always agree.
func Sign(authToken, webhookURL string, params url.Values) string {
	keys := make([]string, 0, len(params))
	for k, v := range params {
		if len(v) > 0 {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	mac := hmac.New(sha1.New, []byte(authToken))
	io.WriteString(mac, webhookURL)
	for _, k := range keys {
		io.WriteString(mac, k)
		io.WriteString(mac, params[k][0])
	}
	return base64.StdEncoding.EncodeToString(mac.Sum(nil))
}
