package main

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/jack-auto/jack"
	"github.com/jack-auto/jack/persistence/storetest"
)

// `jack audit` reports shared customer phones masked (information: exit 0), then an active number
// without an ElevenLabs phone id (a problem: exit non-zero), readable and as JSON.
func TestAuditCommand(t *testing.T) {
	t.Parallel()
	for _, backend := range cliBackends {
		t.Run(backend.name, func(t *testing.T) {
			t.Parallel()
			env := backend.env(t)
			store := mustOpenCLIStore(t, env)
			ctx := context.Background()
			a, _ := storetest.MustCreateOrganization(t, store)
			b, _ := storetest.MustCreateOrganization(t, store)
			shared := storetest.NewPhone()
			for _, org := range []*jack.Organization{a, b} {
				require.NoError(t, store.CreateLead(ctx, org.ID, jack.NewLead(org.ID, "Shared Customer", shared, time.Now())))
			}

			out, errOut, err := runCLI(t, env, "audit")
			require.NoError(t, err, errOut)
			require.Contains(t, out, "Rows without an organization: none\n")
			require.Contains(t, out, "Active numbers without an ElevenLabs phone id (no AI calls): none\n")
			require.Contains(t, out, "Leads whose phone is not valid E.164: none\n")
			require.Contains(t, out, "Customer phones shared by several organizations (information): 1\n")
			require.Contains(t, out, "  "+jack.MaskPhone(shared)+"  organizations ")
			require.NotContains(t, out, shared, "customer phones are masked")
			require.Contains(t, out, a.ID.String())
			require.Contains(t, out, b.ID.String())
			require.Contains(t, out, "Result: no problems found.\n")

			out, _, err = runCLI(t, env, "audit", "--show-phones")
			require.NoError(t, err)
			require.Contains(t, out, "  "+shared+"  organizations ")

			dealer := storetest.NewPhone()
			storetest.MustCreatePhoneNumber(t, store, a.ID, dealer, true)
			out, _, err = runCLI(t, env, "audit")
			require.ErrorIs(t, err, errAuditProblems)
			require.Contains(t, out, "Active numbers without an ElevenLabs phone id (no AI calls): 1\n  "+dealer+"  organization "+a.ID.String()+"\n")
			require.Contains(t, out, "Result: problems found.\n")

			out, _, err = runCLI(t, env, "audit", "--json")
			require.ErrorIs(t, err, errAuditProblems)
			var report jack.AuditReport
			require.NoError(t, json.Unmarshal([]byte(out), &report), out)
			require.NotEmpty(t, report.RowsWithoutOrganization)
			for table, n := range report.RowsWithoutOrganization {
				require.Zero(t, n, table)
			}
			require.Equal(t, []jack.NumberRef{{OrganizationID: a.ID, Phone: dealer}}, report.NumbersWithoutVoice)
			require.Len(t, report.SharedCustomerPhones, 1)
			require.Equal(t, jack.MaskPhone(shared), report.SharedCustomerPhones[0].Phone)
			require.Empty(t, report.InvalidLeadPhones)
		})
	}
}

func TestAuditCommand_ErrArguments(t *testing.T) {
	t.Parallel()
	env := map[string]string{"JACK_DATA_DIR": t.TempDir()}
	_, _, err := runCLI(t, env, "audit", "everything")
	require.ErrorContains(t, err, `audit takes no arguments, not "everything"`)
	_, errOut, err := runCLI(t, env, "audit", "--verbose")
	require.Error(t, err)
	require.Contains(t, errOut, "usage: jack audit [--json] [--show-phones]")
}

func TestMaskAudit(t *testing.T) {
	t.Parallel()
	r := &jack.AuditReport{
		SharedCustomerPhones: []jack.SharedPhone{{Phone: "+16045550123"}},
		InvalidLeadPhones:    []jack.LeadRef{{LeadID: "l1", Phone: "+1555"}},
		NumbersWithoutVoice:  []jack.NumberRef{{Phone: "+16045550100"}},
	}
	maskAudit(r)
	require.Equal(t, "+1604***0123", r.SharedCustomerPhones[0].Phone)
	require.Equal(t, "***55", r.InvalidLeadPhones[0].Phone)
	require.Equal(t, "+16045550100", r.NumbersWithoutVoice[0].Phone, "the dealership's own line")
}
