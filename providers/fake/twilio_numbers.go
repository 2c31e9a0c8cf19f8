package fake

import (
	"cmp"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/jack-auto/jack"
	"github.com/jack-auto/jack/providers/twilio"
)

// This file adds Twilio's number inventory to the fake: searching local numbers
// (AvailablePhoneNumbers/{Country}/Local.json), buying one (IncomingPhoneNumbers.json),
// fetching, updating and releasing it (IncomingPhoneNumbers/{Sid}.json), in twilio-go's shapes
// (see ARCHITECTURE.md, "Provider wire formats").

// TwilioIncomingNumber is a number the fake sold, as Twilio stores it.
type TwilioIncomingNumber struct {
	Sid                  string
	AccountSid           string
	PhoneNumber          string
	FriendlyName         string
	SmsURL               string
	SmsMethod            string
	VoiceURL             string
	VoiceMethod          string
	StatusCallback       string
	StatusCallbackMethod string
	Released             bool // DELETEd: released back to Twilio
	DateCreated          time.Time
	Form                 url.Values // the purchase request as received
}

// twilioNumbers is the fake's number inventory, guarded by Twilio.mu.
type twilioNumbers struct {
	available map[string][]string // "US/604" → numbers for sale, in offer order
	incoming  []TwilioIncomingNumber
	searches  []url.Values
	failures  []twilioFailure // for purchases only
}

func (f *Twilio) registerNumberRoutes(mux *http.ServeMux) {
	mux.HandleFunc("GET /2010-04-01/Accounts/{AccountSid}/AvailablePhoneNumbers/{Country}/Local.json", f.searchLocalNumbers)
	mux.HandleFunc("POST /2010-04-01/Accounts/{AccountSid}/IncomingPhoneNumbers.json", f.buyNumber)
	mux.HandleFunc("GET /2010-04-01/Accounts/{AccountSid}/IncomingPhoneNumbers/{file}", f.fetchNumber)
	mux.HandleFunc("POST /2010-04-01/Accounts/{AccountSid}/IncomingPhoneNumbers/{file}", f.updateNumber)
	mux.HandleFunc("DELETE /2010-04-01/Accounts/{AccountSid}/IncomingPhoneNumbers/{file}", f.releaseNumber)
}

func poolKey(country string, areaCode int) string {
	return fmt.Sprintf("%s/%03d", strings.ToUpper(country), areaCode)
}

// AddAvailableNumbers puts numbers (E.164) up for sale in country (ISO 3166-1 alpha-2) and
// areaCode, offered in the order given after any added before. A search elsewhere finds none.
func (f *Twilio) AddAvailableNumbers(country string, areaCode int, numbers ...string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.nums.available == nil {
		f.nums.available = map[string][]string{}
	}
	key := poolKey(country, areaCode)
	f.nums.available[key] = append(f.nums.available[key], numbers...)
}

// FailNextPurchase makes the next authenticated purchase (POST IncomingPhoneNumbers.json)
// answer Twilio's error JSON for code and message with HTTP status (400 or more); calls queue
// up. Other requests are unaffected.
func (f *Twilio) FailNextPurchase(status, code int, message string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.nums.failures = append(f.nums.failures, twilioFailure{status: status, code: code, message: message})
}

// IncomingNumbers returns a copy of the numbers sold so far (released ones included), oldest
// first.
func (f *Twilio) IncomingNumbers() []TwilioIncomingNumber {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := make([]TwilioIncomingNumber, len(f.nums.incoming))
	for i, n := range f.nums.incoming {
		n.Form = cloneValues(n.Form)
		out[i] = n
	}
	return out
}

// NumberSearches returns the query of every available-number search so far, oldest first.
func (f *Twilio) NumberSearches() []url.Values {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := make([]url.Values, len(f.nums.searches))
	for i, q := range f.nums.searches {
		out[i] = cloneValues(q)
	}
	return out
}

func (f *Twilio) searchLocalNumbers(w http.ResponseWriter, r *http.Request) {
	if !f.begin(w, r) {
		return
	}
	q := r.URL.Query()
	country := r.PathValue("Country")
	pageSize := 50 // Twilio's default page
	if v := q.Get("PageSize"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			twilioError(w, http.StatusBadRequest, 20001, "Invalid PageSize")
			return
		}
		pageSize = min(n, 1000)
	}
	var found []string
	f.mu.Lock()
	f.nums.searches = append(f.nums.searches, cloneValues(q))
	if v := q.Get("AreaCode"); v != "" {
		if code, err := strconv.Atoi(v); err == nil {
			found = slices.Clone(f.nums.available[poolKey(country, code)])
		}
	}
	f.notifyLocked()
	f.mu.Unlock()
	found = found[:min(len(found), pageSize)]

	uri := r.URL.Path + "?" + q.Encode()
	numbers := make([]map[string]any, 0, len(found))
	for _, n := range found {
		numbers = append(numbers, map[string]any{
			"friendly_name": jack.DisplayPhone(n), "phone_number": n, "lata": "628", "locality": "Vancouver",
			"rate_center": "VANCOUVER", "latitude": "49.280000", "longitude": "-123.120000", "region": "BC",
			"postal_code": nil, "iso_country": strings.ToUpper(country), "address_requirements": "none", "beta": false,
			"capabilities": map[string]any{"voice": true, "SMS": true, "MMS": true, "fax": false},
		})
	}
	writeJSON(w, http.StatusOK, map[string]any{
		"available_phone_numbers": numbers,
		"end":                     max(len(numbers)-1, 0),
		"first_page_uri":          uri,
		"next_page_uri":           nil, // one page: twilio-go would follow it to api.twilio.com
		"page":                    0,
		"page_size":               pageSize,
		"previous_page_uri":       nil,
		"start":                   0,
		"uri":                     uri,
	})
}

func (f *Twilio) buyNumber(w http.ResponseWriter, r *http.Request) {
	if !f.begin(w, r) {
		return
	}
	form := r.PostForm
	n := TwilioIncomingNumber{
		AccountSid:           f.accountSID,
		PhoneNumber:          form.Get("PhoneNumber"),
		FriendlyName:         form.Get("FriendlyName"),
		SmsURL:               form.Get("SmsUrl"),
		SmsMethod:            cmp.Or(form.Get("SmsMethod"), http.MethodPost),
		VoiceURL:             form.Get("VoiceUrl"),
		VoiceMethod:          cmp.Or(form.Get("VoiceMethod"), http.MethodPost),
		StatusCallback:       form.Get("StatusCallback"),
		StatusCallbackMethod: cmp.Or(form.Get("StatusCallbackMethod"), http.MethodPost),
		DateCreated:          time.Now().UTC().Truncate(time.Second),
		Form:                 cloneValues(form),
	}
	if !validNumberSettings(w, n) {
		return
	}
	areaCode := form.Get("AreaCode")
	if n.PhoneNumber == "" && areaCode == "" {
		twilioError(w, http.StatusBadRequest, 21452, "A phone number or area code is required.") // code illustrative
		return
	}

	f.mu.Lock()
	if len(f.nums.failures) > 0 {
		fail := f.nums.failures[0]
		f.nums.failures = f.nums.failures[1:]
		f.mu.Unlock()
		twilioError(w, fail.status, fail.code, fail.message)
		return
	}
	key, i := f.findAvailableLocked(n.PhoneNumber, areaCode)
	if i < 0 {
		f.mu.Unlock()
		// Twilio's answer for a number that is not (or no longer) for sale.
		twilioError(w, http.StatusBadRequest, 21422, "PhoneNumber requested is not available")
		return
	}
	n.PhoneNumber = f.nums.available[key][i]
	f.nums.available[key] = slices.Delete(f.nums.available[key], i, i+1)
	n.Sid = twilio.NewSid("PN")
	if n.FriendlyName == "" {
		n.FriendlyName = jack.DisplayPhone(n.PhoneNumber)
	}
	f.nums.incoming = append(f.nums.incoming, n)
	f.notifyLocked()
	f.mu.Unlock()
	writeJSON(w, http.StatusCreated, incomingNumberJSON(n))
}

// findAvailableLocked finds phone (or, when phone is empty, the first number in areaCode of
// any country) among the numbers for sale; i is -1 when there is none.
func (f *Twilio) findAvailableLocked(phone, areaCode string) (key string, i int) {
	keys := make([]string, 0, len(f.nums.available))
	for k := range f.nums.available {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		pool := f.nums.available[k]
		switch {
		case phone != "":
			if i := slices.Index(pool, phone); i >= 0 {
				return k, i
			}
		case strings.HasSuffix(k, "/"+areaCode) && len(pool) > 0:
			return k, 0
		}
	}
	return "", -1
}

func (f *Twilio) fetchNumber(w http.ResponseWriter, r *http.Request) {
	f.withIncomingNumber(w, r, func(*TwilioIncomingNumber) bool { return true })
}

// updateNumber changes the settings named in the form (Twilio's UpdateIncomingPhoneNumber).
func (f *Twilio) updateNumber(w http.ResponseWriter, r *http.Request) {
	f.withIncomingNumber(w, r, func(n *TwilioIncomingNumber) bool {
		form := r.PostForm
		next := *n
		for key, field := range map[string]*string{
			"FriendlyName": &next.FriendlyName, "SmsUrl": &next.SmsURL, "SmsMethod": &next.SmsMethod,
			"VoiceUrl": &next.VoiceURL, "VoiceMethod": &next.VoiceMethod,
			"StatusCallback": &next.StatusCallback, "StatusCallbackMethod": &next.StatusCallbackMethod,
		} {
			if form.Has(key) {
				*field = form.Get(key)
			}
		}
		if !validNumberSettings(w, next) {
			return false
		}
		*n = next
		return true
	})
}

// releaseNumber answers 204 and marks the number released; it is gone for later requests.
func (f *Twilio) releaseNumber(w http.ResponseWriter, r *http.Request) {
	f.withIncomingNumber(w, r, func(n *TwilioIncomingNumber) bool {
		n.Released = true
		w.Header().Set("Twilio-Request-Id", twilio.NewSid("RQ"))
		w.WriteHeader(http.StatusNoContent)
		return false
	})
}

// withIncomingNumber authenticates, finds the path's number (Twilio's 404 JSON when unknown
// or released) and runs change under the lock; when change returns true it answers the
// number, otherwise change answered.
func (f *Twilio) withIncomingNumber(w http.ResponseWriter, r *http.Request, change func(*TwilioIncomingNumber) bool) {
	if !f.begin(w, r) {
		return
	}
	sid, isJSON := strings.CutSuffix(r.PathValue("file"), ".json")
	f.mu.Lock()
	i := slices.IndexFunc(f.nums.incoming, func(n TwilioIncomingNumber) bool { return n.Sid == sid && !n.Released })
	if !isJSON || i < 0 {
		f.mu.Unlock()
		twilioNotFound(w, r)
		return
	}
	describe := change(&f.nums.incoming[i])
	n := f.nums.incoming[i]
	f.notifyLocked()
	f.mu.Unlock()
	if describe {
		writeJSON(w, http.StatusOK, incomingNumberJSON(n))
	}
}

// validNumberSettings answers Twilio's error for a bad webhook URL or method; false means it
// answered. The error codes are illustrative, the shape is Twilio's.
func validNumberSettings(w http.ResponseWriter, n TwilioIncomingNumber) bool {
	for name, u := range map[string]string{"SmsUrl": n.SmsURL, "VoiceUrl": n.VoiceURL, "StatusCallback": n.StatusCallback} {
		if u != "" && !absoluteHTTPURL(u) {
			twilioError(w, http.StatusBadRequest, 21402, fmt.Sprintf("%s is not a valid URL: %s", name, u))
			return false
		}
	}
	for name, m := range map[string]string{"SmsMethod": n.SmsMethod, "VoiceMethod": n.VoiceMethod, "StatusCallbackMethod": n.StatusCallbackMethod} {
		if m != http.MethodGet && m != http.MethodPost {
			twilioError(w, http.StatusBadRequest, 21403, fmt.Sprintf("%s must be GET or POST", name))
			return false
		}
	}
	return true
}

// incomingNumberJSON is ApiV2010IncomingPhoneNumber as Twilio sends it: every key present,
// null when unset.
func incomingNumberJSON(n TwilioIncomingNumber) map[string]any {
	date := n.DateCreated.Format(rfc2822)
	return map[string]any{
		"account_sid": n.AccountSid, "address_sid": nil, "address_requirements": "none", "api_version": twilio.APIVersion,
		"beta": false, "capabilities": map[string]any{"voice": true, "sms": true, "mms": true, "fax": false},
		"date_created": date, "date_updated": date, "friendly_name": n.FriendlyName, "identity_sid": nil,
		"phone_number": n.PhoneNumber, "origin": "twilio", "sid": n.Sid,
		"sms_application_sid": "", "sms_fallback_method": "POST", "sms_fallback_url": "",
		"sms_method": n.SmsMethod, "sms_url": n.SmsURL,
		"status_callback": n.StatusCallback, "status_callback_method": n.StatusCallbackMethod,
		"trunk_sid": nil, "uri": fmt.Sprintf("/2010-04-01/Accounts/%s/IncomingPhoneNumbers/%s.json", n.AccountSid, n.Sid),
		"voice_receive_mode": "voice", "voice_application_sid": nil, "voice_caller_id_lookup": false,
		"voice_fallback_method": "POST", "voice_fallback_url": nil, "voice_method": n.VoiceMethod, "voice_url": n.VoiceURL,
		"emergency_status": "Inactive", "emergency_address_sid": nil, "emergency_address_status": "unregistered",
		"bundle_sid": nil, "status": "in-use", "type": "local",
		"subresource_uris": map[string]string{
			"assigned_add_ons": fmt.Sprintf("/2010-04-01/Accounts/%s/IncomingPhoneNumbers/%s/AssignedAddOns.json", n.AccountSid, n.Sid),
		},
	}
}
