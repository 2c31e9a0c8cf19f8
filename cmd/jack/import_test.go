package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/jack-auto/jack"
	"github.com/jack-auto/jack/intake"
	"github.com/jack-auto/jack/intake/intaketest"
	"github.com/jack-auto/jack/persistence/postgres/postgrestest"
	"github.com/jack-auto/jack/persistence/storetest"
)

// cliBackends are the databases the command tests run on: the embedded default under a temp
// data dir, and Postgres when TEST_DATABASE_URL is set.
var cliBackends = []struct {
	name string
	env  func(t *testing.T) map[string]string
}{
	{"Embedded", func(t *testing.T) map[string]string { return map[string]string{"JACK_DATA_DIR": t.TempDir()} }},
	{"Postgres", func(t *testing.T) map[string]string {
		// JWT_SECRET only for mustOpenCLIStore, which reads the configuration as serve does.
		return map[string]string{"JACK_DATA_DIR": t.TempDir(), "DATABASE_URL": postgrestest.URL(t), "JWT_SECRET": strings.Repeat("s", 40)}
	}},
}

// runCLI runs a command line with env and returns its stdout, stderr and error.
func runCLI(t *testing.T, env map[string]string, args ...string) (string, string, error) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	err := run(context.Background(), args, func(k string) string { return env[k] }, &stdout, &stderr)
	return stdout.String(), stderr.String(), err
}

// mustOpenCLIStore opens the store the commands of env use (migrated), closed in t.Cleanup.
func mustOpenCLIStore(t *testing.T, env map[string]string) jack.Store {
	t.Helper()
	cfg, err := LoadConfig(func(k string) string { return env[k] })
	require.NoError(t, err)
	store, err := openStore(context.Background(), cfg, testLogger(t))
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, store.Close()) })
	return store
}

// mustWriteFile writes a file under a temp dir and returns its path.
func mustWriteFile(t *testing.T, name, body string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	require.NoError(t, os.WriteFile(path, []byte(body), 0o600))
	return path
}

func leadVersions(t *testing.T, store jack.Store, org *jack.Organization) map[string]jack.Lead {
	t.Helper()
	page, err := store.FindLeads(context.Background(), org.ID, jack.LeadFilter{Limit: 200})
	require.NoError(t, err)
	m := map[string]jack.Lead{}
	for _, l := range page.Leads {
		m[l.PhoneNumberNormalized] = *l
	}
	return m
}

// Acceptance, through the command: a feed of three leads (one new, one malformed, one known with
// another vehicle) creates one, updates one and reports one error, exiting 0; importing it again
// changes nothing. For ADF and CSV, on the embedded database and Postgres.
func TestImportLeadsCommand(t *testing.T) {
	t.Parallel()
	for _, backend := range cliBackends {
		for _, feed := range intaketest.Feeds("(201) 555-0150", "201.555.0151") {
			t.Run(backend.name+"/"+feed.Name, func(t *testing.T) {
				t.Parallel()
				env := backend.env(t)
				store := mustOpenCLIStore(t, env)
				org, _ := storetest.MustCreateOrganization(t, store)
				known := jack.NewLead(org.ID, "Dana Dupe", "+12015550151", time.Now())
				known.VehiclePreference = "SUV"
				require.NoError(t, store.CreateLead(context.Background(), org.ID, known))
				ext := map[string]string{"ADF": ".xml", "CSV": ".csv"}[feed.Name]
				path := mustWriteFile(t, "leads"+ext, feed.Body)

				out, errOut, err := runCLI(t, env, "import", "leads", "--org", org.ID.String(), "--json", path)
				require.NoError(t, err, errOut)
				var report intake.Report
				require.NoError(t, json.Unmarshal([]byte(out), &report), out)
				require.Equal(t, 1, report.Created, "%+v", report)
				require.Equal(t, 1, report.Updated)
				require.Len(t, report.Errors, 1)
				require.Equal(t, feed.ErrorLine, report.Errors[0].Line)
				require.Contains(t, errOut, "imported 3 of 3 rows in ", "stderr is no terminal: a summary line")

				leads := leadVersions(t, store, org)
				require.Len(t, leads, 2)
				require.Equal(t, feed.NewName, leads["+12015550150"].CustomerName)
				require.Equal(t, feed.NewVehicle, leads["+12015550150"].VehiclePreference)
				require.Equal(t, feed.DupVehicle, leads["+12015550151"].VehiclePreference)
				require.Equal(t, known.Version+1, leads["+12015550151"].Version)

				// FILE first, flags after; the readable report.
				out, errOut, err = runCLI(t, env, "import", "leads", path, "--org", org.ID.String())
				require.NoError(t, err, errOut)
				where := map[string]string{"ADF": "prospect", "CSV": "line"}[feed.Name]
				require.Contains(t, out, "Imported leads"+ext+" into "+org.Name+": 0 created, 0 updated, 2 unchanged, 1 error.\n")
				require.Contains(t, out, "  "+where+" "+strconv.Itoa(feed.ErrorLine)+": "+report.Errors[0].Message)

				out, _, err = runCLI(t, env, "import", "leads", "--org", org.ID.String(), "--json", path)
				require.NoError(t, err)
				var again intake.Report
				require.NoError(t, json.Unmarshal([]byte(out), &again))
				require.Equal(t, intake.Report{Unchanged: 2, Errors: report.Errors}, again)
				after := leadVersions(t, store, org)
				for phone, l := range leads {
					require.Equal(t, l.Version, after[phone].Version, phone)
				}
			})
		}
	}
}

func TestImportLeadsCommand_Errors(t *testing.T) {
	t.Parallel()
	env := map[string]string{"JACK_DATA_DIR": t.TempDir()}
	store := mustOpenCLIStore(t, env)
	org, _ := storetest.MustCreateOrganization(t, store)
	feed := mustWriteFile(t, "leads.csv", "phone\n2015550150\n")
	notAFeed := mustWriteFile(t, "notes.txt", "call Alex tomorrow\n")
	adfAsCSV := mustWriteFile(t, "feed.dat", "<adf></adf>")

	for _, tc := range []struct {
		name string
		args []string
		err  string
	}{
		{"NoSubcommand", []string{"import"}, "usage: jack import leads"},
		{"NoOrg", []string{"import", "leads", feed}, "--org must be an organization id (UUID)"},
		{"NoFile", []string{"import", "leads", "--org", org.ID.String()}, "import leads takes one FILE"},
		{"UnknownOrg", []string{"import", "leads", "--org", "00000000-0000-0000-0000-000000000001", feed}, "organization 00000000-0000-0000-0000-000000000001 does not exist"},
		{"MissingFile", []string{"import", "leads", "--org", org.ID.String(), filepath.Join(t.TempDir(), "gone.csv")}, "read feed: open "},
		{"NotAFeed", []string{"import", "leads", "--org", org.ID.String(), notAFeed}, "notes.txt: The file has no phone column"},
		{"FormatOverrides", []string{"import", "leads", "--org", org.ID.String(), "--format", "csv", adfAsCSV}, "feed.dat: The file has no phone column"},
		{"BadFormat", []string{"import", "leads", "--org", org.ID.String(), "--format", "xls", feed}, `--format must be csv or adf, not "xls"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := runCLI(t, env, tc.args...)
			require.ErrorContains(t, err, tc.err)
		})
	}
	page, err := store.FindLeads(context.Background(), org.ID, jack.LeadFilter{})
	require.NoError(t, err)
	require.Empty(t, page.Leads, "nothing imported")

	// Without --format, the content decides for an unknown extension.
	out, errOut, err := runCLI(t, env, "import", "leads", "--org", org.ID.String(), adfAsCSV)
	require.NoError(t, err, errOut)
	require.Contains(t, out, ": 0 created, 0 updated, 0 unchanged, 0 errors.")
}

// On a terminal the bar draws at once, then at most every 100ms, and always at the end.
func TestProgressBar(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	now := time.Unix(0, 0)
	bar := newProgressBar(&buf, 10, func() time.Time { return now })
	require.False(t, bar.terminal, "a buffer is no terminal")
	bar.terminal = true
	for i := 1; i <= 10; i++ {
		now = now.Add(30 * time.Millisecond)
		bar.update(i)
	}
	bar.finish()
	require.Equal(t, "\r[###...........................] 1/10"+
		"\r[###############...............] 5/10"+
		"\r[###########################...] 9/10"+
		"\r[##############################] 10/10"+
		"\r[##############################] 10/10\n", buf.String())

	buf.Reset()
	bar = newProgressBar(&buf, 1, func() time.Time { return now })
	bar.update(1)
	bar.finish()
	require.Equal(t, "imported 1 of 1 row in 0s\n", buf.String())
}
