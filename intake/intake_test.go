package intake_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/jack-auto/jack"
	"github.com/jack-auto/jack/intake"
	"github.com/jack-auto/jack/persistence/sqlite/sqlitetest"
)

// importerFunc is a LeadImporter for tests.
type importerFunc func(ctx context.Context, orgID uuid.UUID, in jack.ImportedLead) (*jack.Lead, jack.ImportOutcome, error)

func (f importerFunc) ImportLead(ctx context.Context, orgID uuid.UUID, in jack.ImportedLead) (*jack.Lead, jack.ImportOutcome, error) {
	return f(ctx, orgID, in)
}

func mustParseCSV(tb testing.TB, in string) []intake.Row {
	tb.Helper()
	rows, err := intake.ParseCSV(strings.NewReader(in))
	require.NoError(tb, err)
	return rows
}

// mustOrganization stores an organization with the phone region and returns its id.
func mustOrganization(tb testing.TB, store jack.Store, region string) uuid.UUID {
	tb.Helper()
	now := time.Now()
	org := &jack.Organization{ID: uuid.New(), Name: "Premium Auto", Settings: jack.OrganizationSettings{DefaultRegion: region}, CreatedAt: now}
	owner := &jack.User{ID: uuid.New(), OrganizationID: org.ID, Email: uuid.NewString() + "@dealer.test", FullName: "Owner",
		Role: jack.RoleOwner, PasswordHash: "x", CreatedAt: now}
	require.NoError(tb, store.CreateOrganization(context.Background(), org, owner))
	return org.ID
}

// Import through a real Store: phones read in the organization's region, names defaulted, row
// errors reported with their lines, and a second import changes nothing.
func TestImport_Store(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	store := sqlitetest.MustOpenStore(t)
	orgID := mustOrganization(t, store, "GB")
	rows := mustParseCSV(t, "id,name,phone,email,vehicle\n"+
		"1,Ada,020 7946 0958,ada@example.co.uk,Mini Cooper\n"+
		"2,,07911 123456,,\n"+
		"3,Bad Phone,12,,\n"+
		"4,Bad Email,07911 123457,not-an-email,\n"+
		"5,No Phone,,,\n")

	var progress []int
	report, err := intake.Import(ctx, store, &jack.Organization{ID: orgID, Settings: jack.OrganizationSettings{DefaultRegion: "GB"}}, rows, func(done int, r intake.Result) {
		progress = append(progress, done)
		require.Equal(t, rows[done-1].Line, r.Line)
	})
	require.NoError(t, err)
	require.Equal(t, []int{1, 2, 3, 4, 5}, progress)
	require.Equal(t, 2, report.Created, "%+v", report)
	require.Equal(t, []intake.RowError{
		{Line: 4, Message: "Some fields are invalid.", Fields: map[string]string{"phoneNumber": "is not a valid phone number"}},
		{Line: 5, Message: "Some fields are invalid.", Fields: map[string]string{"email": "is not a valid email address"}},
		{Line: 6, Message: "Some fields are invalid.", Fields: map[string]string{"phoneNumber": "is required"}},
	}, report.Errors)

	ada, err := store.FindLeadByPhone(ctx, orgID, "+442079460958")
	require.NoError(t, err)
	require.Equal(t, "Ada", ada.CustomerName)
	require.Equal(t, "Mini Cooper", ada.VehiclePreference)
	unnamed, err := store.FindLeadByPhone(ctx, orgID, "+447911123456")
	require.NoError(t, err)
	require.Equal(t, "07911 123456", unnamed.CustomerName, "named after its phone, as people there write it")

	again, err := intake.Import(ctx, store, &jack.Organization{ID: orgID, Settings: jack.OrganizationSettings{DefaultRegion: "GB"}}, rows, nil)
	require.NoError(t, err)
	require.Equal(t, intake.Report{Unchanged: 2, Errors: report.Errors}, again)
}

// A lead the file holds twice (the same phone, or the same id) is imported once, from its last
// row; the earlier rows are reported, so a second import changes nothing.
func TestImport_RepeatedLead(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	store := sqlitetest.MustOpenStore(t)
	orgID := mustOrganization(t, store, "US")
	rows := mustParseCSV(t, "id,name,phone,vehicle\n"+
		"1,Ann,604-555-0101,Civic\n"+
		"2,Bob,604-555-0102,Golf\n"+
		"3,Ann,(604) 555-0101,Accord\n"+
		"2,Bob,604-555-0103,Polo\n")
	report, err := intake.Import(ctx, store, &jack.Organization{ID: orgID, Settings: jack.OrganizationSettings{DefaultRegion: "US"}}, rows, nil)
	require.NoError(t, err)
	want := []intake.RowError{
		{Line: 2, Message: "The same lead comes again later in the file (4): only the last is imported.", Fields: map[string]string{"phoneNumber": "repeats at 4"}},
		{Line: 3, Message: "The same lead comes again later in the file (5): only the last is imported.", Fields: map[string]string{"externalId": "repeats at 5"}},
	}
	require.Equal(t, intake.Report{Created: 2, Errors: want}, report)
	ann, err := store.FindLeadByPhone(ctx, orgID, "+16045550101")
	require.NoError(t, err)
	require.Equal(t, "Accord", ann.VehiclePreference)

	again, err := intake.Import(ctx, store, &jack.Organization{ID: orgID, Settings: jack.OrganizationSettings{DefaultRegion: "US"}}, rows, nil)
	require.NoError(t, err)
	require.Equal(t, intake.Report{Unchanged: 2, Errors: want}, again)
}

func TestImport_StopsOnStoreFailure(t *testing.T) {
	t.Parallel()
	rows := mustParseCSV(t, "phone\n6045550101\n6045550102\n6045550103\n")
	calls := 0
	store := importerFunc(func(ctx context.Context, orgID uuid.UUID, in jack.ImportedLead) (*jack.Lead, jack.ImportOutcome, error) {
		calls++
		if calls == 2 {
			return nil, "", errors.New("connection refused")
		}
		return &in.Lead, jack.ImportCreated, nil
	})
	report, err := intake.Import(context.Background(), store, &jack.Organization{ID: uuid.New(), Settings: jack.OrganizationSettings{DefaultRegion: "US"}}, rows, nil)
	require.ErrorContains(t, err, "import line 3: connection refused")
	require.Equal(t, 1, report.Created)
	require.Equal(t, 2, calls, "no row after the failure")
}

func TestImport_StopsWhenContextEnds(t *testing.T) {
	t.Parallel()
	rows := mustParseCSV(t, "phone\n6045550101\n6045550102\n")
	ctx, cancel := context.WithCancel(context.Background())
	store := importerFunc(func(ctx context.Context, orgID uuid.UUID, in jack.ImportedLead) (*jack.Lead, jack.ImportOutcome, error) {
		cancel()
		return &in.Lead, jack.ImportUpdated, nil
	})
	report, err := intake.Import(ctx, store, &jack.Organization{ID: uuid.New(), Settings: jack.OrganizationSettings{DefaultRegion: "US"}}, rows, nil)
	require.ErrorIs(t, err, context.Canceled)
	require.Equal(t, intake.Report{Updated: 1, Errors: []intake.RowError{}}, report)
}

// A conflict (a concurrent import created the lead first) is retried once; a second one is the
// row's error.
func TestImport_RetriesConflictOnce(t *testing.T) {
	t.Parallel()
	rows := mustParseCSV(t, "phone\n6045550101\n6045550102\n")
	calls := map[string]int{}
	store := importerFunc(func(ctx context.Context, orgID uuid.UUID, in jack.ImportedLead) (*jack.Lead, jack.ImportOutcome, error) {
		phone := in.Lead.PhoneNumberNormalized
		calls[phone]++
		if phone == "+16045550101" && calls[phone] == 1 || phone == "+16045550102" {
			return nil, "", jack.Errorf(jack.ECONFLICT, "Lead already exists.")
		}
		return &in.Lead, jack.ImportUnchanged, nil
	})
	report, err := intake.Import(context.Background(), store, &jack.Organization{ID: uuid.New()}, rows, nil)
	require.NoError(t, err)
	require.Equal(t, intake.Report{Unchanged: 1, Errors: []intake.RowError{{Line: 3, Message: "Lead already exists."}}}, report)
	require.Equal(t, map[string]int{"+16045550101": 2, "+16045550102": 2}, calls)
}

// A past feed date is kept; a future one, or none, is jack.NoActivity: an import never puts its
// leads above the conversations staff are working.
func TestImport_RequestDate(t *testing.T) {
	t.Parallel()
	past := time.Date(2024, 3, 30, 23, 30, 20, 0, time.UTC)
	rows := []intake.Row{
		{Line: 1, Lead: jack.ImportedLead{Lead: jack.Lead{PhoneNumber: "6045550101", LastActivity: past}}},
		{Line: 2, Lead: jack.ImportedLead{Lead: jack.Lead{PhoneNumber: "6045550102", LastActivity: time.Now().Add(time.Hour)}}},
		{Line: 3, Lead: jack.ImportedLead{Lead: jack.Lead{PhoneNumber: "6045550103"}}},
	}
	var got []time.Time
	store := importerFunc(func(ctx context.Context, orgID uuid.UUID, in jack.ImportedLead) (*jack.Lead, jack.ImportOutcome, error) {
		got = append(got, in.Lead.LastActivity)
		return &in.Lead, jack.ImportCreated, nil
	})
	_, err := intake.Import(context.Background(), store, &jack.Organization{ID: uuid.New(), Settings: jack.OrganizationSettings{DefaultRegion: "US"}}, rows, nil)
	require.NoError(t, err)
	require.Equal(t, []time.Time{past, jack.NoActivity, jack.NoActivity}, got)
}
