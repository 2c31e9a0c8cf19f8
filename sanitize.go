package jack

import (
	"bytes"
	"encoding/json"
	"net/url"
	"strings"
	"unicode/utf8"
)

// Text from outside (webhooks, API requests) is cleaned at the edge that receives it so that both Stores take it alike: Postgres refuses
// U+0000 in text and jsonb (a 500 before this, and a Twilio retry that failed the same way), and
// invalid UTF-8 would be stored differently by the two. NUL is dropped and each invalid UTF-8
// sequence becomes U+FFFD; the message itself is kept.

// CleanText returns s without NUL and with invalid UTF-8 replaced.
func CleanText(s string) string {
	if strings.IndexByte(s, 0) < 0 && utf8.ValidString(s) {
		return s
	}
	return strings.ReplaceAll(strings.ToValidUTF8(s, "\uFFFD"), "\x00", "")
}

// CleanForm cleans every key and value of a form in place (after its signature was checked
// over what was received).
func CleanForm(params url.Values) {
	for k, vs := range params {
		for i, v := range vs {
			vs[i] = CleanText(v)
		}
		if ck := CleanText(k); ck != k {
			delete(params, k)
			params[ck] = append(params[ck], vs...)
		}
	}
}

// CleanJSON returns body with NUL (the \u0000 escape) dropped from every string and key and
// invalid UTF-8 replaced, or body itself when it holds neither. A body that is not JSON is
// returned as is, for the decoder to refuse.
func CleanJSON(body []byte) []byte {
	if utf8.Valid(body) && !bytes.Contains(body, []byte(`\u0000`)) {
		return body
	}
	dec := json.NewDecoder(bytes.NewReader(bytes.ToValidUTF8(body, []byte("\uFFFD"))))
	dec.UseNumber() // numbers keep their literal
	var v any
	if err := dec.Decode(&v); err != nil {
		return body
	}
	out, err := json.Marshal(cleanValue(v))
	if err != nil {
		return body
	}
	return out
}

func cleanValue(v any) any {
	switch v := v.(type) {
	case string:
		return CleanText(v)
	case []any:
		for i := range v {
			v[i] = cleanValue(v[i])
		}
	case map[string]any:
		for k, e := range v {
			ck := CleanText(k)
			if ck != k {
				delete(v, k)
			}
			v[ck] = cleanValue(e)
		}
	}
	return v
}
