package storetest

import (
	"strings"
	"testing"

	"github.com/jack-auto/jack"
	"github.com/stretchr/testify/require"
)

// testIntake covers ImportLead: a feed's lead is created once, found again by its feed key or
// phone, updated only where the feed says something new, and a re-import changes nothing.
func testIntake(t *testing.T, f Features, newStore NewStoreFunc) {
	type testBundle struct {
		store jack.Store
		org   *jack.Organization
	}
	setup := func(t *testing.T) *testBundle {
		t.Helper()
		store := newStore(t)
		org, _ := MustCreateOrganization(t, store)
		return &testBundle{store: store, org: org}
	}
	// imported returns an ADF-like lead of org with a feed key.
	imported := func(b *testBundle, phone, externalID string) jack.ImportedLead {
		lead := jack.NewLead(b.org.ID, "Imported Customer", phone, f.now())
		lead.Email = "imported@example.com"
		lead.VehiclePreference = "2024 Civic"
		lead.BudgetRange = "$20k-$25k"
		return jack.ImportedLead{Lead: *lead, Source: "cars.com", ExternalID: externalID}
	}
	importLead := func(t *testing.T, b *testBundle, in jack.ImportedLead, want jack.ImportOutcome) *jack.Lead {
		t.Helper()
		lead, outcome, err := b.store.ImportLead(t.Context(), b.org.ID, in)
		require.NoError(t, err)
		require.Equal(t, want, outcome)
		return lead
	}
	requireStored := func(t *testing.T, b *testBundle, want *jack.Lead) {
		t.Helper()
		got, err := b.store.FindLeadByID(t.Context(), b.org.ID, want.ID)
		require.NoError(t, err)
		requireEqual(t, f, want, got)
	}

	t.Run("Created", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		in := imported(b, NewPhone(), "adf-1")
		lead := importLead(t, b, in, jack.ImportCreated)
		require.NotEmpty(t, lead.ID)
		require.Equal(t, b.org.ID, lead.OrganizationID)
		require.Equal(t, "Imported Customer", lead.CustomerName)
		require.Equal(t, in.Lead.PhoneNumberNormalized, lead.PhoneNumberNormalized)
		require.Equal(t, "imported@example.com", lead.Email)
		require.Equal(t, "2024 Civic", lead.VehiclePreference)
		require.Equal(t, "$20k-$25k", lead.BudgetRange)
		require.Equal(t, jack.ChaseNew, lead.ChaseStatus)
		require.EqualValues(t, 1, lead.Version)
		requireStored(t, b, lead)
	})

	t.Run("ReimportUnchanged", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		in := imported(b, NewPhone(), "adf-1")
		created := importLead(t, b, in, jack.ImportCreated)

		again := importLead(t, b, imported(b, in.Lead.PhoneNumberNormalized, "adf-1"), jack.ImportUnchanged)
		requireEqual(t, f, created, again)
		requireStored(t, b, created)

		// A feed that leaves fields empty says nothing about them.
		sparse := imported(b, in.Lead.PhoneNumberNormalized, "adf-1")
		sparse.Lead.Email, sparse.Lead.VehiclePreference, sparse.Lead.BudgetRange = "", "", ""
		importLead(t, b, sparse, jack.ImportUnchanged)
		// An email differing only in case and spaces is the same email.
		cased := imported(b, in.Lead.PhoneNumberNormalized, "adf-1")
		cased.Lead.Email = " Imported@Example.COM "
		importLead(t, b, cased, jack.ImportUnchanged)
		requireStored(t, b, created)
	})

	t.Run("Updated", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		in := imported(b, NewPhone(), "adf-1")
		created := importLead(t, b, in, jack.ImportCreated)
		// Staff and the conversation moved the lead on; a feed never touches that.
		_, err := b.store.UpdateLead(t.Context(), b.org.ID, created.ID, jack.LeadUpdate{ChaseStatus: ptr(jack.ChaseEngaged)})
		require.NoError(t, err)
		require.NoError(t, b.store.InConversationTx(t.Context(), b.org.ID, func(tx jack.ConversationTx) error {
			_, err := tx.UpdateConversation(t.Context(), created.ID, jack.ConversationChange{Messages: 2, OptOut: ptr(true)})
			return err
		}))
		before, err := b.store.FindLeadByID(t.Context(), b.org.ID, created.ID)
		require.NoError(t, err)

		changed := imported(b, in.Lead.PhoneNumberNormalized, "adf-1")
		changed.Lead.VehiclePreference = "2025 Accord"
		changed.Lead.ChaseStatus = jack.ChaseLost
		changed.Lead.OptedOutAt = nil
		changed.Lead.TotalConversations = 0
		updated := importLead(t, b, changed, jack.ImportUpdated)
		require.Equal(t, created.ID, updated.ID)
		require.Equal(t, "2025 Accord", updated.VehiclePreference)
		require.Equal(t, before.Version+1, updated.Version)
		require.False(t, updated.UpdatedAt.Before(before.UpdatedAt))
		require.Equal(t, jack.ChaseEngaged, updated.ChaseStatus)
		require.Equal(t, 2, updated.TotalConversations)
		require.NotNil(t, updated.OptedOutAt)
		want := *before
		want.VehiclePreference, want.Version, want.UpdatedAt = "2025 Accord", updated.Version, updated.UpdatedAt
		requireEqual(t, f, &want, updated)
		requireStored(t, b, updated)

		importLead(t, b, changed, jack.ImportUnchanged)
		requireStored(t, b, updated)
	})

	t.Run("DedupeByPhone", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		existing := MustCreateLead(t, b.store, b.org.ID, NewPhone())

		csv := imported(b, existing.PhoneNumberNormalized, "")
		csv.Source = "csv"
		updated := importLead(t, b, csv, jack.ImportUpdated)
		require.Equal(t, existing.ID, updated.ID)
		require.Equal(t, "Imported Customer", updated.CustomerName)
		require.Equal(t, existing.Version+1, updated.Version)
		importLead(t, b, csv, jack.ImportUnchanged)

		page, err := b.store.FindLeads(t.Context(), b.org.ID, jack.LeadFilter{})
		require.NoError(t, err)
		require.Len(t, page.Leads, 1)
	})

	t.Run("KeyAttachedToLeadFoundByPhone", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		// The customer texted first: the conversation created a lead without a feed key.
		existing := MustCreateLead(t, b.store, b.org.ID, NewPhone())
		in := imported(b, existing.PhoneNumberNormalized, "adf-7")
		in.Lead.CustomerName = existing.CustomerName
		in.Lead.Email, in.Lead.VehiclePreference, in.Lead.BudgetRange = "", "", ""

		updated := importLead(t, b, in, jack.ImportUpdated) // the feed key is new to the lead
		require.Equal(t, existing.ID, updated.ID)
		again := importLead(t, b, in, jack.ImportUnchanged)
		requireEqual(t, f, updated, again)

		// Found by its key even when the feed's phone for it changed; the phone stays.
		moved := imported(b, NewPhone(), "adf-7")
		got := importLead(t, b, moved, jack.ImportUpdated)
		require.Equal(t, existing.ID, got.ID)
		require.Equal(t, existing.PhoneNumberNormalized, got.PhoneNumberNormalized)
	})

	t.Run("SameKeyOtherSource", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		a := importLead(t, b, imported(b, NewPhone(), "42"), jack.ImportCreated)
		other := imported(b, NewPhone(), "42")
		other.Source = "autotrader"
		o := importLead(t, b, other, jack.ImportCreated)
		require.NotEqual(t, a.ID, o.ID)
	})

	t.Run("OtherOrganizationUntouched", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		orgB, _ := MustCreateOrganization(t, b.store)
		phone := NewPhone()
		inB := imported(b, phone, "adf-1")
		inB.Lead.OrganizationID = orgB.ID
		leadB, outcome, err := b.store.ImportLead(t.Context(), orgB.ID, inB)
		require.NoError(t, err)
		require.Equal(t, jack.ImportCreated, outcome)

		in := imported(b, phone, "adf-1")
		in.Lead.CustomerName = "Someone Else"
		leadA := importLead(t, b, in, jack.ImportCreated)
		require.NotEqual(t, leadB.ID, leadA.ID)
		require.Equal(t, b.org.ID, leadA.OrganizationID)

		gotB, err := b.store.FindLeadByID(t.Context(), orgB.ID, leadB.ID)
		require.NoError(t, err)
		requireEqual(t, f, leadB, gotB)
	})

	t.Run("ErrUnprocessable", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		for _, tc := range []struct {
			name   string
			mutate func(in *jack.ImportedLead)
		}{
			{"Phone", func(in *jack.ImportedLead) { in.Lead.PhoneNumber, in.Lead.PhoneNumberNormalized = "12345", "12345" }},
			{"Email", func(in *jack.ImportedLead) { in.Lead.Email = "not an email" }},
			{"Name", func(in *jack.ImportedLead) { in.Lead.CustomerName = " " }},
			{"ExternalID", func(in *jack.ImportedLead) { in.ExternalID = strings.Repeat("x", 256) }},
		} {
			in := imported(b, NewPhone(), "bad-"+tc.name)
			tc.mutate(&in)
			_, _, err := b.store.ImportLead(t.Context(), b.org.ID, in)
			requireCode(t, jack.EUNPROCESSABLE, err)
		}
		// Invalid fields are refused for an existing lead too, and it stays as it was.
		existing := importLead(t, b, imported(b, NewPhone(), "adf-ok"), jack.ImportCreated)
		bad := imported(b, existing.PhoneNumberNormalized, "adf-ok")
		bad.Lead.Email = "still not an email"
		_, _, err := b.store.ImportLead(t.Context(), b.org.ID, bad)
		requireCode(t, jack.EUNPROCESSABLE, err)
		requireStored(t, b, existing)

		page, err := b.store.FindLeads(t.Context(), b.org.ID, jack.LeadFilter{})
		require.NoError(t, err)
		require.Len(t, page.Leads, 1, "nothing but the valid lead is stored")
	})
}
