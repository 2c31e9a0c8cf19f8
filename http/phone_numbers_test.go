package http_test

import (
	"context"
	"net/http"
	"net/url"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/jack-auto/jack"
	jackhttp "github.com/jack-auto/jack/http"
	"github.com/jack-auto/jack/persistence/storetest"
	"github.com/jack-auto/jack/providers/elevenlabs"
	"github.com/jack-auto/jack/providers/fake"
	"github.com/jack-auto/jack/providers/twilio"
)

const (
	numbersServerURL = "https://jack.example.com"
	numbersAgentID   = "agent_numbers_test"
	numbersAccount   = "AC0000000000000000000000000000beef"
	numbersToken     = "numberstoken0123456789"
)

// numbersBundle is a server whose phone-number routes talk to a fake Twilio and, optionally, a
// fake ElevenLabs, with a signed-in owner.
type numbersBundle struct {
	s      *testServer
	twilio *fake.Twilio
	eleven *fake.ElevenLabs // nil without ElevenLabs
	token  string
	org    jack.Organization
}

type numbersOptions struct {
	elevenLabs bool
	// voice wraps the ElevenLabs client, to inject failures the fake has no switch for.
	voice func(jackhttp.VoiceNumberProvider) jackhttp.VoiceNumberProvider
	// noTwilio leaves Twilio unconfigured.
	noTwilio bool
}

func setupNumbers(t *testing.T, opts numbersOptions) *numbersBundle {
	t.Helper()
	b := &numbersBundle{twilio: fake.NewTwilio(t, numbersAccount, numbersToken)}
	tc, err := twilio.NewClient(twilio.Config{AccountSID: numbersAccount, AuthToken: numbersToken, APIURL: b.twilio.URL()})
	require.NoError(t, err)
	var voice jackhttp.VoiceNumberProvider
	if opts.elevenLabs {
		b.eleven = fake.NewElevenLabs(t, "xi-numbers-key")
		ec, err := elevenlabs.NewClient(elevenlabs.Config{APIKey: b.eleven.APIKey(), AgentID: numbersAgentID, APIURL: b.eleven.URL()})
		require.NoError(t, err)
		voice = elevenlabs.Numbers{Client: ec, TwilioAccountSID: numbersAccount, TwilioAuthToken: numbersToken}
		if opts.voice != nil {
			voice = opts.voice(voice)
		}
	}
	b.s = MustOpenServer(t, nil, func(cfg *jackhttp.Config) {
		cfg.ServerURL = numbersServerURL
		cfg.SMSWebhooks = twilio.Webhooks{AuthToken: numbersToken}
		if !opts.noTwilio { // ElevenLabs imports numbers from the Twilio account: both or neither
			cfg.Numbers = twilio.Numbers{Client: tc}
			cfg.VoiceNumbers = voice
		}
	})
	b.token, _, b.org = MustRegister(t, b.s.URL)
	return b
}

func (b *numbersBundle) purchasePath() string {
	return "/api/admin/organizations/" + b.org.ID.String() + "/phone-numbers/purchase"
}

// purchase is the owner's purchase request with body.
func (b *numbersBundle) purchase(body any) request {
	return request{Method: "POST", Path: b.purchasePath(), Token: b.token, Body: body}
}

// importNumber is the owner's request to import phone, which the dealership owns at Twilio.
func (b *numbersBundle) importNumber(phone string) request {
	return request{Method: "POST", Path: "/api/organizations/" + b.org.ID.String() + "/phone-numbers", Token: b.token,
		Body: map[string]string{"phoneNumber": phone, "twilioPhoneSid": "PN0160"}}
}

// giveToOtherOrganization stores phone as a number of a new organization.
func (b *numbersBundle) giveToOtherOrganization(t *testing.T, phone string, active bool) {
	t.Helper()
	_, _, other := MustRegister(t, b.s.URL)
	storetest.MustCreatePhoneNumber(t, b.s.Store, other.ID, phone, active)
}

// purchaseAnswer is what a purchase answers.
type purchaseAnswer struct {
	Success        bool             `json:"success"`
	PhoneNumber    jack.PhoneNumber `json:"phoneNumber"`
	TwilioSid      string           `json:"twilioSid"`
	VoicePhoneID   string           `json:"elevenLabsPhoneId"`
	OrganizationID string           `json:"organizationId"`
	NextSteps      []string         `json:"nextSteps"`
}

func (b *numbersBundle) mustPurchase(t *testing.T, body any) purchaseAnswer {
	t.Helper()
	var out purchaseAnswer
	MustDo(t, b.s.URL, b.purchase(body), http.StatusCreated, &out)
	return out
}

// requireNothingKept checks that a failed purchase left no number anywhere: every number the
// fake Twilio sold is released, every ElevenLabs number deleted, and the store has none.
func (b *numbersBundle) requireNothingKept(t *testing.T) {
	t.Helper()
	for _, n := range b.twilio.IncomingNumbers() {
		require.True(t, n.Released, "Twilio number %s was released", n.PhoneNumber)
	}
	if b.eleven != nil {
		for _, n := range b.eleven.PhoneNumbers() {
			require.True(t, n.Deleted, "ElevenLabs number %s was deleted", n.ID)
		}
	}
	numbers, err := b.s.Store.FindPhoneNumbers(t.Context(), b.org.ID)
	require.NoError(t, err)
	require.Empty(t, numbers)
}

// failAssign makes AssignAgent fail as ElevenLabs would when it refuses.
type failAssign struct{ jackhttp.VoiceNumberProvider }

func (failAssign) AssignAgent(context.Context, string) error {
	return jack.Errorf(jack.EPROVIDER, "ElevenLabs refused to assign the agent to the phone number: agent not found")
}

func TestPurchasePhoneNumber(t *testing.T) {
	t.Parallel()

	t.Run("OKWithElevenLabs", func(t *testing.T) {
		t.Parallel()
		b := setupNumbers(t, numbersOptions{elevenLabs: true})
		b.twilio.AddAvailableNumbers("US", 201, "+12015550100", "+12015550101")

		out := b.mustPurchase(t, map[string]any{"areaCode": "201"})
		require.True(t, out.Success)
		require.Equal(t, b.org.ID.String(), out.OrganizationID)
		require.Equal(t, "+12015550100", out.PhoneNumber.PhoneNumber)
		require.True(t, out.PhoneNumber.IsActive)
		require.Equal(t, out.TwilioSid, out.PhoneNumber.ProviderPhoneID)
		require.Equal(t, out.VoicePhoneID, out.PhoneNumber.VoicePhoneID)
		require.NotEmpty(t, out.VoicePhoneID)
		require.NotNil(t, out.NextSteps)
		require.Empty(t, out.NextSteps)

		search := b.twilio.NumberSearches()[0]
		require.Equal(t, "201", search.Get("AreaCode"))
		require.Equal(t, "true", search.Get("SmsEnabled"))
		require.Equal(t, "true", search.Get("VoiceEnabled"))

		bought := b.twilio.IncomingNumbers()
		require.Len(t, bought, 1)
		require.Equal(t, out.TwilioSid, bought[0].Sid)
		require.Equal(t, numbersServerURL+"/api/webhooks/twilio/sms/incoming", bought[0].SmsURL)
		require.Equal(t, "POST", bought[0].SmsMethod)
		require.Equal(t, twilio.DefaultVoiceURL, bought[0].VoiceURL)
		require.Equal(t, "POST", bought[0].VoiceMethod)
		require.Equal(t, numbersServerURL+"/api/webhooks/twilio/sms/status", bought[0].StatusCallback)
		require.Equal(t, b.org.Name, bought[0].FriendlyName)

		imported := b.eleven.PhoneNumbers()
		require.Len(t, imported, 1)
		el := imported[0]
		require.Equal(t, out.VoicePhoneID, el.ID)
		require.Equal(t, "+12015550100", el.PhoneNumber)
		require.Equal(t, b.org.Name+" +12015550100", el.Label)
		require.Equal(t, numbersAccount, el.SID)
		require.Equal(t, numbersToken, el.Token)
		require.NotNil(t, el.EnableSMS)
		require.False(t, *el.EnableSMS, "Jack keeps the number's SMS webhook")
		require.Equal(t, numbersAgentID, el.AgentID)

		numbers, err := b.s.Store.FindPhoneNumbers(t.Context(), b.org.ID)
		require.NoError(t, err)
		require.Len(t, numbers, 1)
		require.Equal(t, out.PhoneNumber.ID, numbers[0].ID)
		owner, err := b.s.Store.OrganizationByPhoneNumber(t.Context(), "+12015550100")
		require.NoError(t, err)
		require.Equal(t, b.org.ID, owner)
	})

	t.Run("OKWithoutElevenLabs", func(t *testing.T) {
		t.Parallel()
		b := setupNumbers(t, numbersOptions{})
		b.twilio.AddAvailableNumbers("CA", 778, "+17785550100")

		out := b.mustPurchase(t, map[string]any{"areaCode": 778, "country": "ca"})
		require.Equal(t, "+17785550100", out.PhoneNumber.PhoneNumber)
		require.True(t, out.PhoneNumber.IsActive)
		require.Empty(t, out.VoicePhoneID)
		require.Empty(t, out.PhoneNumber.VoicePhoneID)
		require.Len(t, out.NextSteps, 3)
		require.Contains(t, out.NextSteps[2], "/api/admin/phone-numbers/"+url.PathEscape("+17785550100")+"/activate")
		require.Len(t, b.twilio.IncomingNumbers(), 1)
	})

	t.Run("CountryDefaultsToOrganizationRegion", func(t *testing.T) {
		t.Parallel()
		b := setupNumbers(t, numbersOptions{})
		MustDo(t, b.s.URL, request{Method: "PATCH", Path: "/api/organization", Token: b.token,
			Body: map[string]any{"settings": map[string]string{"defaultRegion": "CA"}}}, http.StatusOK, nil)
		b.twilio.AddAvailableNumbers("CA", 604, "+16045550100")

		out := b.mustPurchase(t, map[string]any{"areaCode": "604"})
		require.Equal(t, "+16045550100", out.PhoneNumber.PhoneNumber)
	})

	t.Run("ErrElevenLabsImportFails", func(t *testing.T) {
		t.Parallel()
		b := setupNumbers(t, numbersOptions{elevenLabs: true})
		b.twilio.AddAvailableNumbers("US", 201, "+12015550100")
		b.eleven.FailNextImport(http.StatusBadRequest, "Phone number could not be verified with Twilio")

		e := MustFail(t, b.s.URL, b.purchase(map[string]any{"areaCode": "201"}), http.StatusBadGateway, jack.EPROVIDER)
		require.Contains(t, e.Error.Message, "Phone number could not be verified with Twilio")
		require.Len(t, b.twilio.IncomingNumbers(), 1, "the number was bought")
		require.Empty(t, b.eleven.PhoneNumbers())
		b.requireNothingKept(t)
	})

	t.Run("ErrElevenLabsAssignFails", func(t *testing.T) {
		t.Parallel()
		b := setupNumbers(t, numbersOptions{elevenLabs: true, voice: func(v jackhttp.VoiceNumberProvider) jackhttp.VoiceNumberProvider {
			return failAssign{v}
		}})
		b.twilio.AddAvailableNumbers("US", 201, "+12015550100")

		e := MustFail(t, b.s.URL, b.purchase(map[string]any{"areaCode": "201"}), http.StatusBadGateway, jack.EPROVIDER)
		require.Contains(t, e.Error.Message, "agent not found")
		require.Len(t, b.eleven.PhoneNumbers(), 1, "the number was imported")
		b.requireNothingKept(t)
	})

	t.Run("ErrStoreFails", func(t *testing.T) {
		t.Parallel()
		b := setupNumbers(t, numbersOptions{elevenLabs: true})
		// Another dealership has the number here already (inactive, so it does not route).
		b.giveToOtherOrganization(t, "+12015550100", false)
		b.twilio.AddAvailableNumbers("US", 201, "+12015550100")

		MustFail(t, b.s.URL, b.purchase(map[string]any{"areaCode": "201"}), http.StatusConflict, jack.ECONFLICT)
		require.Len(t, b.twilio.IncomingNumbers(), 1)
		require.Len(t, b.eleven.PhoneNumbers(), 1)
		b.requireNothingKept(t)
	})

	t.Run("ErrTwilioPurchaseFails", func(t *testing.T) {
		t.Parallel()
		b := setupNumbers(t, numbersOptions{elevenLabs: true})
		b.twilio.AddAvailableNumbers("US", 201, "+12015550100")
		b.twilio.FailNextPurchase(http.StatusBadRequest, 21631, "Phone Number Requires an Address")

		e := MustFail(t, b.s.URL, b.purchase(map[string]any{"areaCode": "201"}), http.StatusBadGateway, jack.EPROVIDER)
		require.Equal(t, "Twilio refused to sell the number (21631): Phone Number Requires an Address", e.Error.Message)
		require.Empty(t, b.twilio.IncomingNumbers())
		require.Empty(t, b.eleven.PhoneNumbers())
		b.requireNothingKept(t)
	})

	t.Run("ErrNoNumbersAvailable", func(t *testing.T) {
		t.Parallel()
		b := setupNumbers(t, numbersOptions{elevenLabs: true})
		b.twilio.AddAvailableNumbers("US", 201, "+12015550100") // another area code

		e := MustFail(t, b.s.URL, b.purchase(map[string]any{"areaCode": "212"}), http.StatusUnprocessableEntity, "no_numbers_available")
		require.Contains(t, e.Error.Message, "area code 212")
		require.Empty(t, b.twilio.IncomingNumbers())
		b.requireNothingKept(t)
	})

	t.Run("ErrTwilioNotConfigured", func(t *testing.T) {
		t.Parallel()
		b := setupNumbers(t, numbersOptions{noTwilio: true})
		MustFail(t, b.s.URL, b.purchase(map[string]any{"areaCode": "201"}), http.StatusUnprocessableEntity, "twilio_not_configured")
	})

	t.Run("ErrAgent", func(t *testing.T) {
		t.Parallel()
		b := setupNumbers(t, numbersOptions{})
		b.twilio.AddAvailableNumbers("US", 201, "+12015550100")
		agentToken, _ := MustCreateUser(t, b.s.URL, b.token, jack.RoleAgent)
		MustFail(t, b.s.URL, request{Method: "POST", Path: b.purchasePath(), Token: agentToken,
			Body: map[string]any{"areaCode": "201"}}, http.StatusForbidden, jack.EFORBIDDEN)
		require.Empty(t, b.twilio.IncomingNumbers())
	})

	t.Run("ErrOtherOrganization", func(t *testing.T) {
		t.Parallel()
		b := setupNumbers(t, numbersOptions{})
		b.twilio.AddAvailableNumbers("US", 201, "+12015550100")
		_, _, other := MustRegister(t, b.s.URL)
		MustFail(t, b.s.URL, request{Method: "POST", Path: "/api/admin/organizations/" + other.ID.String() + "/phone-numbers/purchase",
			Token: b.token, Body: map[string]any{"areaCode": "201"}}, http.StatusForbidden, jack.EFORBIDDEN)
		require.Empty(t, b.twilio.IncomingNumbers())
	})

	t.Run("ErrValidation", func(t *testing.T) {
		t.Parallel()
		b := setupNumbers(t, numbersOptions{})
		for _, tc := range []struct {
			name  string
			body  map[string]any
			field string
		}{
			{"NoAreaCode", map[string]any{}, "areaCode"},
			{"EmptyAreaCode", map[string]any{"areaCode": ""}, "areaCode"},
			{"TwoDigits", map[string]any{"areaCode": "20"}, "areaCode"},
			{"FourDigits", map[string]any{"areaCode": "2011"}, "areaCode"},
			{"Letters", map[string]any{"areaCode": "abc"}, "areaCode"},
			{"LeadingZero", map[string]any{"areaCode": "012"}, "areaCode"},
			{"Fraction", map[string]any{"areaCode": 201.5}, "areaCode"},
			{"Bool", map[string]any{"areaCode": true}, "areaCode"},
			{"CountryTooLong", map[string]any{"areaCode": "201", "country": "USA"}, "country"},
			{"CountryUnknown", map[string]any{"areaCode": "201", "country": "ZZ"}, "country"},
			{"CountryDigits", map[string]any{"areaCode": "201", "country": "1A"}, "country"},
		} {
			t.Run(tc.name, func(t *testing.T) {
				e := MustFail(t, b.s.URL, b.purchase(tc.body),
					http.StatusUnprocessableEntity, jack.EUNPROCESSABLE)
				require.Contains(t, e.Error.Fields, tc.field)
			})
		}
		MustFail(t, b.s.URL, b.purchase(map[string]any{"areaCode": "201", "area_code": "201"}), http.StatusUnprocessableEntity, jack.EUNPROCESSABLE)
		MustFail(t, b.s.URL, b.purchase("not json"),
			http.StatusBadRequest, jack.EINVALID)
		require.Empty(t, b.twilio.NumberSearches(), "nothing reached Twilio")
	})
}

func TestImportPhoneNumber(t *testing.T) {
	t.Parallel()

	t.Run("ImportsIntoElevenLabs", func(t *testing.T) {
		t.Parallel()
		b := setupNumbers(t, numbersOptions{elevenLabs: true})
		var pn jack.PhoneNumber
		MustDo(t, b.s.URL, b.importNumber("(201) 555-0160"), http.StatusCreated, &pn)
		require.Equal(t, "+12015550160", pn.PhoneNumber)
		require.True(t, pn.IsActive)

		imported := b.eleven.PhoneNumbers()
		require.Len(t, imported, 1)
		require.Equal(t, imported[0].ID, pn.VoicePhoneID)
		require.Equal(t, "+12015550160", imported[0].PhoneNumber)
		require.Equal(t, numbersAgentID, imported[0].AgentID)
		require.False(t, *imported[0].EnableSMS)
	})

	t.Run("GivenElevenLabsPhoneID", func(t *testing.T) {
		t.Parallel()
		b := setupNumbers(t, numbersOptions{elevenLabs: true})
		var pn jack.PhoneNumber
		req := b.importNumber("+12015550160")
		req.Body.(map[string]string)["elevenLabsPhoneId"] = "phnum_mine"
		MustDo(t, b.s.URL, req, http.StatusCreated, &pn)
		require.Equal(t, "phnum_mine", pn.VoicePhoneID)
		require.Empty(t, b.eleven.PhoneNumbers(), "nothing imported")
	})

	t.Run("ErrElevenLabsFails", func(t *testing.T) {
		t.Parallel()
		b := setupNumbers(t, numbersOptions{elevenLabs: true, voice: func(v jackhttp.VoiceNumberProvider) jackhttp.VoiceNumberProvider {
			return failAssign{v}
		}})
		MustFail(t, b.s.URL, b.importNumber("+12015550160"), http.StatusBadGateway, jack.EPROVIDER)
		b.requireNothingKept(t)
	})

	t.Run("ErrTakenNotImported", func(t *testing.T) {
		t.Parallel()
		b := setupNumbers(t, numbersOptions{elevenLabs: true})
		b.giveToOtherOrganization(t, "+12015550160", true)
		MustFail(t, b.s.URL, b.importNumber("+12015550160"), http.StatusConflict, jack.ECONFLICT)
		require.Empty(t, b.eleven.PhoneNumbers(), "ElevenLabs was not asked")
	})

	t.Run("ErrTakenInactiveUndone", func(t *testing.T) {
		t.Parallel()
		b := setupNumbers(t, numbersOptions{elevenLabs: true})
		b.giveToOtherOrganization(t, "+12015550160", false)
		MustFail(t, b.s.URL, b.importNumber("+12015550160"), http.StatusConflict, jack.ECONFLICT)
		require.Len(t, b.eleven.PhoneNumbers(), 1)
		b.requireNothingKept(t)
	})
}

func TestActivateDeactivatePhoneNumber(t *testing.T) {
	t.Parallel()
	b := setupNumbers(t, numbersOptions{elevenLabs: true})
	b.twilio.AddAvailableNumbers("US", 201, "+12015550100")
	out := b.mustPurchase(t, map[string]any{"areaCode": "201"})
	phone := url.PathEscape(out.PhoneNumber.PhoneNumber)
	deactivate := "/api/admin/phone-numbers/" + phone + "/deactivate"
	activate := "/api/admin/phone-numbers/" + phone + "/activate"

	// Another organization's admin cannot touch it.
	otherToken, _, _ := MustRegister(t, b.s.URL)
	MustFail(t, b.s.URL, request{Method: "POST", Path: deactivate, Token: otherToken}, http.StatusNotFound, jack.ENOTFOUND)
	MustFail(t, b.s.URL, request{Method: "POST", Path: activate, Token: otherToken, Body: map[string]string{"elevenLabsPhoneId": "phnum_x"}},
		http.StatusNotFound, jack.ENOTFOUND)
	// Nor can an agent of this one.
	agentToken, _ := MustCreateUser(t, b.s.URL, b.token, jack.RoleAgent)
	MustFail(t, b.s.URL, request{Method: "POST", Path: deactivate, Token: agentToken}, http.StatusForbidden, jack.EFORBIDDEN)

	var pn jack.PhoneNumber
	MustDo(t, b.s.URL, request{Method: "POST", Path: deactivate, Token: b.token}, http.StatusOK, &pn)
	require.False(t, pn.IsActive)
	require.Equal(t, out.VoicePhoneID, pn.VoicePhoneID)
	_, err := b.s.Store.OrganizationByPhoneNumber(t.Context(), out.PhoneNumber.PhoneNumber)
	require.Equal(t, jack.ENOTFOUND, jack.ErrorCode(err), "an inactive number routes nowhere")
	MustDo(t, b.s.URL, request{Method: "POST", Path: deactivate, Token: b.token, Body: map[string]any{}}, http.StatusOK, &pn)
	MustFail(t, b.s.URL, request{Method: "POST", Path: deactivate, Token: b.token, Body: map[string]any{"isActive": false}},
		http.StatusUnprocessableEntity, jack.EUNPROCESSABLE)
	MustFail(t, b.s.URL, request{Method: "POST", Path: "/api/admin/phone-numbers/555/deactivate", Token: b.token},
		http.StatusUnprocessableEntity, jack.EUNPROCESSABLE)

	// Back on, keeping its ElevenLabs phone.
	MustDo(t, b.s.URL, request{Method: "POST", Path: activate, Token: b.token, Body: map[string]any{}}, http.StatusOK, &pn)
	require.True(t, pn.IsActive)
	require.Equal(t, out.VoicePhoneID, pn.VoicePhoneID)
	owner, err := b.s.Store.OrganizationByPhoneNumber(t.Context(), out.PhoneNumber.PhoneNumber)
	require.NoError(t, err)
	require.Equal(t, b.org.ID, owner)

	MustDo(t, b.s.URL, request{Method: "POST", Path: activate, Token: b.token, Body: map[string]string{"elevenLabsPhoneId": "phnum_new"}}, http.StatusOK, &pn)
	require.Equal(t, "phnum_new", pn.VoicePhoneID)
}

// TestActivatePhoneNumber_WithoutElevenLabs: a number that never had an ElevenLabs phone (no
// voice provider configured) can be deactivated and turned back on (issue 15, item 10).
func TestActivatePhoneNumber_WithoutElevenLabs(t *testing.T) {
	t.Parallel()
	b := setupNumbers(t, numbersOptions{})
	var pn jack.PhoneNumber
	MustDo(t, b.s.URL, b.importNumber("+12015550161"), http.StatusCreated, &pn)
	require.Empty(t, pn.VoicePhoneID)
	phone := url.PathEscape("+12015550161")
	MustDo(t, b.s.URL, request{Method: "POST", Path: "/api/admin/phone-numbers/" + phone + "/deactivate", Token: b.token}, http.StatusOK, &pn)
	require.False(t, pn.IsActive)
	MustDo(t, b.s.URL, request{Method: "POST", Path: "/api/admin/phone-numbers/" + phone + "/activate", Token: b.token}, http.StatusOK, &pn)
	require.True(t, pn.IsActive)
	require.Empty(t, pn.VoicePhoneID)
	owner, err := b.s.Store.OrganizationByPhoneNumber(t.Context(), "+12015550161")
	require.NoError(t, err)
	require.Equal(t, b.org.ID, owner)
}
