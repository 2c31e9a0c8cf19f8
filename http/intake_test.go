package http_test

import (
	"context"
	"net/http"
	"os"
	"strings"
	"sync"
	"testing"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"
	"golang.org/x/crypto/bcrypt"

	"github.com/jack-auto/jack"
	jackhttp "github.com/jack-auto/jack/http"
	"github.com/jack-auto/jack/intake"
	"github.com/jack-auto/jack/intake/intaketest"
)

// importBundle is a server whose fake engine records which conversations were told of a change.
type importBundle struct {
	*testServer
	token string

	mu       sync.Mutex
	notified []string
}

func newImportBundle(t *testing.T, store jack.Store) *importBundle {
	t.Helper()
	b := &importBundle{}
	conv := &fakeConversations{LeadChangedFunc: func(ctx context.Context, orgID uuid.UUID, phone string, deleted bool) error {
		require.False(t, deleted)
		b.mu.Lock()
		defer b.mu.Unlock()
		b.notified = append(b.notified, phone)
		return nil
	}}
	srv, err := jackhttp.NewServer(jackhttp.Config{JWTSecret: testSecret, BcryptCost: bcrypt.MinCost}, store, conv, nil, testLogger(t))
	require.NoError(t, err)
	b.testServer = serve(t, srv, store, nil)
	b.token, _, _ = MustRegister(t, b.URL)
	return b
}

// takeNotified returns and forgets the phones whose conversations were told.
func (b *importBundle) takeNotified() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	n := b.notified
	b.notified = nil
	return n
}

func (b *importBundle) importFile(t *testing.T, contentType, body string, status int) intake.Report {
	t.Helper()
	var report intake.Report
	MustDo(t, b.URL, request{Method: "POST", Path: "/api/leads/import", Token: b.token, Body: body,
		Headers: map[string]string{"Content-Type": contentType}}, status, &report)
	return report
}

// Acceptance: a feed of three leads (one new, one malformed, one known with another vehicle)
// creates one, updates one and reports one error; importing it again changes nothing. For ADF
// and CSV, on every Store.
func TestImportLeads(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, st storeOpener) {
		for _, feed := range intaketest.Feeds("(201) 555-0150", "201.555.0151") {
			t.Run(feed.Name, func(t *testing.T) {
				t.Parallel()
				testImportFeed(t, newImportBundle(t, st.open(t)), feed)
			})
		}
	})
}

// eachStore runs test as a parallel subtest per Store adapter, skipping an adapter whose
// environment is not set.
func eachStore(t *testing.T, test func(t *testing.T, st storeOpener)) {
	t.Helper()
	for _, st := range stores {
		t.Run(st.name, func(t *testing.T) {
			t.Parallel()
			if st.needsEnv != "" && os.Getenv(st.needsEnv) == "" {
				t.Skipf("%s is not set: skipping %s on %s", st.needsEnv, t.Name(), st.name)
			}
			test(t, st)
		})
	}
}

func testImportFeed(t *testing.T, b *importBundle, feed intaketest.Feed) {
	var known jack.Lead
	MustDo(t, b.URL, request{Method: "POST", Path: "/api/leads", Token: b.token, Body: map[string]string{
		"customerName": "Dana Dupe", "phoneNumber": "+12015550151", "vehiclePreference": "SUV"}}, http.StatusCreated, &known)

	report := b.importFile(t, feed.ContentType, feed.Body, http.StatusOK)
	require.Equal(t, 1, report.Created, "%+v", report)
	require.Equal(t, 1, report.Updated)
	require.Equal(t, 0, report.Unchanged)
	require.Len(t, report.Errors, 1)
	require.Equal(t, feed.ErrorLine, report.Errors[0].Line)
	require.NotEmpty(t, report.Errors[0].Message)
	require.ElementsMatch(t, []string{"+12015550150", "+12015550151"}, b.takeNotified(),
		"the created and updated leads' conversations: open dashboards show them live")

	leads := leadsByPhone(MustListLeads(t, b.URL, b.token))
	require.Len(t, leads, 2)
	created := leads["+12015550150"]
	require.Equal(t, feed.NewName, created.CustomerName)
	require.Equal(t, feed.NewVehicle, created.VehiclePreference)
	require.Equal(t, feed.NewEmail, created.Email)
	require.Equal(t, jack.ChaseNew, created.ChaseStatus)
	updated := leads["+12015550151"]
	require.Equal(t, known.ID, updated.ID)
	require.Equal(t, feed.DupVehicle, updated.VehiclePreference)
	require.Equal(t, known.Version+1, updated.Version)

	again := b.importFile(t, feed.ContentType, feed.Body, http.StatusOK)
	require.Equal(t, intake.Report{Unchanged: 2, Errors: report.Errors}, again)
	require.Empty(t, b.takeNotified())
	after := leadsByPhone(MustListLeads(t, b.URL, b.token))
	for phone, l := range leads {
		require.Equal(t, l.Version, after[phone].Version, phone)
		require.True(t, l.UpdatedAt.Equal(after[phone].UpdatedAt), phone)
	}
}

func leadsByPhone(leads []jack.Lead) map[string]jack.Lead {
	m := map[string]jack.Lead{}
	for _, l := range leads {
		m[l.PhoneNumberNormalized] = l
	}
	return m
}

func TestImportLeads_Errors(t *testing.T) {
	t.Parallel()
	t.Run("ErrNotAdmin", func(t *testing.T) {
		t.Parallel()
		s := MustOpenServer(t, nil)
		owner, _, _ := MustRegister(t, s.URL)
		agent, _ := MustCreateUser(t, s.URL, owner, jack.RoleAgent)
		MustFail(t, s.URL, request{Method: "POST", Path: "/api/leads/import", Token: agent, Body: "phone\n2015550150\n",
			Headers: map[string]string{"Content-Type": "text/csv"}}, http.StatusForbidden, jack.EFORBIDDEN)
		require.Empty(t, MustListLeads(t, s.URL, owner))
	})
	t.Run("ErrNotAFeed", func(t *testing.T) {
		t.Parallel()
		s := MustOpenServer(t, nil)
		token, _, _ := MustRegister(t, s.URL)
		for _, tc := range []struct{ contentType, body, message string }{
			{"text/csv", "name,email\nA,a@b.co\n", "The file has no phone column (phone, phone number, mobile, cell or telephone)."},
			{"application/xml", "name,phone\n", "The document is not XML."},
			{"text/xml", "<html><body/></html>", "The document is not ADF: its root element is <html>, not <adf>."},
			{"application/json", `{"leads":[]}`, "The file has no phone column (phone, phone number, mobile, cell or telephone)."},
			{"text/csv", "", "The file is empty."},
		} {
			e := MustFail(t, s.URL, request{Method: "POST", Path: "/api/leads/import", Token: token, Body: tc.body,
				Headers: map[string]string{"Content-Type": tc.contentType}}, http.StatusUnprocessableEntity, jack.EUNPROCESSABLE)
			require.Equal(t, tc.message, e.Error.Message)
		}
	})
	t.Run("ErrTooLarge", func(t *testing.T) {
		t.Parallel()
		s := MustOpenServer(t, nil, func(cfg *jackhttp.Config) { cfg.BodyLimit = 1024 })
		token, _, _ := MustRegister(t, s.URL)
		body := "name,phone\n" + strings.Repeat("Alex Doe,2015550150\n", 100)
		MustFail(t, s.URL, request{Method: "POST", Path: "/api/leads/import", Token: token, Body: body,
			Headers: map[string]string{"Content-Type": "text/csv"}}, http.StatusRequestEntityTooLarge, jack.ETOOLARGE)
	})
	// Without a feed content type (curl --data-binary sends a form type) the body decides.
	t.Run("Sniffed", func(t *testing.T) {
		t.Parallel()
		b := newImportBundle(t, openSQLite(t))
		adf := `<prospect><customer><contact><name>Sam</name><phone>2015550160</phone></contact></customer></prospect>`
		require.Equal(t, 1, b.importFile(t, "application/x-www-form-urlencoded", adf, http.StatusOK).Created)
		require.Equal(t, 1, b.importFile(t, "application/octet-stream", "Phone Number\n2015550161\n", http.StatusOK).Created)
		require.ElementsMatch(t, []string{"+12015550160", "+12015550161"}, b.takeNotified(), "created leads are shown live")
		leads := leadsByPhone(MustListLeads(t, b.URL, b.token))
		require.Equal(t, "Sam", leads["+12015550160"].CustomerName)
		require.Equal(t, "(201) 555-0161", leads["+12015550161"].CustomerName, "named after the phone")
	})
}
