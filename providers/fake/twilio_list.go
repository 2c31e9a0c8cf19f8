package fake

import (
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Twilio's message list, GET /2010-04-01/Accounts/{AccountSid}/Messages.json: the account's
// messages newest first, filtered by To, From and DateSent (a day: "DateSent" that day,
// "DateSent<" on or before it, "DateSent>" on or after it; a message not sent yet has no
// date_sent and matches none of them), in pages of PageSize (default 50, at most 1000) linked by
// next_page_uri, as twilio-go's ListMessage follows them.

const (
	listDefaultPageSize = 50
	listMaxPageSize     = 1000
)

func (f *Twilio) listMessages(w http.ResponseWriter, r *http.Request) {
	if !f.begin(w, r) {
		return
	}
	q := r.URL.Query()
	size, page := listDefaultPageSize, 0
	if v := q.Get("PageSize"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > listMaxPageSize {
			twilioError(w, http.StatusBadRequest, 20001, "PageSize must be between 1 and 1000")
			return
		}
		size = n
	}
	if v := q.Get("Page"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			twilioError(w, http.StatusBadRequest, 20001, "Invalid Page")
			return
		}
		page = n
	}
	match, err := listFilter(q)
	if err != nil {
		twilioError(w, http.StatusBadRequest, 20001, err.Error())
		return
	}

	f.mu.Lock()
	var found []TwilioMessage
	for _, m := range f.messages {
		if match(m) {
			found = append(found, m.clone())
		}
	}
	f.mu.Unlock()
	// Newest first; the fake's insertion order breaks ties of the same second.
	slices.Reverse(found)
	slices.SortStableFunc(found, func(a, b TwilioMessage) int { return b.DateCreated.Compare(a.DateCreated) })

	start := min(page*size, len(found))
	end := min(start+size, len(found))
	base := r.URL.Path
	pageURI := func(p int) string {
		v := url.Values{}
		for _, k := range []string{"To", "From", "DateSent", "DateSent<", "DateSent>"} {
			if q.Has(k) {
				v.Set(k, q.Get(k))
			}
		}
		v.Set("PageSize", strconv.Itoa(size))
		v.Set("Page", strconv.Itoa(p))
		if p > 0 {
			v.Set("PageToken", fmt.Sprintf("PA%032d", p))
		}
		return base + "?" + v.Encode()
	}
	out := map[string]any{
		"first_page_uri":    pageURI(0),
		"uri":               pageURI(page),
		"page":              page,
		"page_size":         size,
		"start":             start,
		"end":               max(end-1, start),
		"next_page_uri":     nil,
		"previous_page_uri": nil,
	}
	if end < len(found) {
		out["next_page_uri"] = pageURI(page + 1)
	}
	if page > 0 {
		out["previous_page_uri"] = pageURI(page - 1)
	}
	msgs := make([]twilioMessageJSON, 0, end-start)
	for _, m := range found[start:end] {
		msgs = append(msgs, messageJSON(m))
	}
	out["messages"] = msgs
	writeJSON(w, http.StatusOK, out)
}

// listFilter returns the list's filter for query q.
func listFilter(q url.Values) (func(TwilioMessage) bool, error) {
	type dateCmp struct {
		day  time.Time
		test func(sent, day time.Time) bool
	}
	var dates []dateCmp
	for key, test := range map[string]func(sent, day time.Time) bool{
		"DateSent":  func(s, d time.Time) bool { return s.Equal(d) },
		"DateSent<": func(s, d time.Time) bool { return !s.After(d) },
		"DateSent>": func(s, d time.Time) bool { return !s.Before(d) },
	} {
		if !q.Has(key) {
			continue
		}
		day, err := parseListDate(q.Get(key))
		if err != nil {
			return nil, fmt.Errorf("Invalid %s: %v", key, err) //nolint:staticcheck // Twilio's own wording, sent back to the client
		}
		dates = append(dates, dateCmp{day, test})
	}
	to, from := q.Get("To"), q.Get("From")
	return func(m TwilioMessage) bool {
		if (to != "" && m.To != to) || (from != "" && m.From != from) {
			return false
		}
		for _, d := range dates {
			if m.DateSent.IsZero() || !d.test(m.DateSent.Truncate(24*time.Hour), d.day) {
				return false
			}
		}
		return true
	}, nil
}

// parseListDate reads a DateSent value: YYYY-MM-DD, or a full RFC 3339 time as twilio-go
// formats it; either stands for its day (GMT).
func parseListDate(v string) (time.Time, error) {
	if t, err := time.Parse(time.DateOnly, v); err == nil {
		return t, nil
	}
	t, err := time.Parse(time.RFC3339, strings.TrimSpace(v))
	if err != nil {
		return time.Time{}, err
	}
	return t.UTC().Truncate(24 * time.Hour), nil
}
