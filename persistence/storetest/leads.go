package storetest

import (
	"cmp"
	"math"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jack-auto/jack"
	"github.com/stretchr/testify/require"
)

func testLeads(t *testing.T, f Features, newStore NewStoreFunc) {
	type testBundle struct {
		store jack.Store
		org   *jack.Organization
		owner *jack.User
	}
	setup := func(t *testing.T) *testBundle {
		t.Helper()
		store := newStore(t)
		org, owner := MustCreateOrganization(t, store)
		return &testBundle{store: store, org: org, owner: owner}
	}

	t.Run("CreateLead", func(t *testing.T) {
		t.Parallel()

		t.Run("OK", func(t *testing.T) {
			t.Parallel()
			b := setup(t)
			ctx := t.Context()
			now := f.now()
			lead := jack.NewLead(b.org.ID, "Casey Customer", NewPhone(), now.Add(-time.Hour))
			lead.Email = "casey@example.com"
			lead.CreatedBy = &b.owner.ID
			lead.AssignedTo = &b.owner.ID
			lead.ChaseStatus = jack.ChaseEngaged
			lead.FundingReadiness = "pre-approved"
			lead.FundingReadinessReason = "bank letter"
			lead.Sentiment = "positive"
			lead.ScriptProgress = jack.Progress{CurrentStep: jack.StepBudget, CompletedSteps: []string{jack.StepContacted, jack.StepVehicleInterest}}
			lead.CreditScoreRange = "700-750"
			lead.CreditKnownIssues = []string{"late payment", "collections"}
			lead.VehiclePreference = "red pickup"
			lead.BudgetRange = "$30k-$40k"
			lead.LastTouchpoint = ptr(now.Add(-30 * time.Minute))
			lead.TotalConversations = 3

			require.NoError(t, b.store.CreateLead(ctx, b.org.ID, lead))
			require.NotEmpty(t, lead.ID)
			require.Equal(t, b.org.ID, lead.OrganizationID)
			require.EqualValues(t, 1, lead.Version)
			require.False(t, lead.CreatedAt.Before(now), "CreatedAt is the transaction's time")

			got, err := b.store.FindLeadByID(ctx, b.org.ID, lead.ID)
			require.NoError(t, err)
			requireEqual(t, f, lead, got)
		})

		t.Run("Defaults", func(t *testing.T) {
			t.Parallel()
			b := setup(t)
			lead := MustCreateLead(t, b.store, b.org.ID, NewPhone())
			got, err := b.store.FindLeadByID(t.Context(), b.org.ID, lead.ID)
			require.NoError(t, err)
			require.Equal(t, jack.ChaseNew, got.ChaseStatus)
			require.Equal(t, "unknown", got.FundingReadiness)
			require.Equal(t, "neutral", got.Sentiment)
			require.Equal(t, []string{}, got.CreditKnownIssues)
			require.Equal(t, jack.StepContacted, got.ScriptProgress.CurrentStep)
			require.Nil(t, got.AssignedTo)
			require.Nil(t, got.OptedOutAt)
			require.Nil(t, got.AIPausedUntil)
			require.Nil(t, got.LastTouchpoint)
			require.Empty(t, got.Email)
		})

		t.Run("ScoreStaysUnset", func(t *testing.T) {
			t.Parallel()
			b := setup(t)
			ctx := t.Context()
			// Only scoring (ConversationTx.UpdateConversation) writes the score.
			lead := jack.NewLead(b.org.ID, "Scored Elsewhere", NewPhone(), f.now())
			lead.LeadQualityScore = ptr(99.0)
			require.NoError(t, b.store.CreateLead(ctx, b.org.ID, lead))
			require.Nil(t, lead.LeadQualityScore)
			got, err := b.store.FindLeadByID(ctx, b.org.ID, lead.ID)
			require.NoError(t, err)
			require.Nil(t, got.LeadQualityScore)

			imported := jack.NewLead(b.org.ID, "Imported", NewPhone(), f.now())
			imported.LeadQualityScore = ptr(99.0)
			stored, outcome, err := b.store.ImportLead(ctx, b.org.ID, jack.ImportedLead{Lead: *imported, Source: "csv", ExternalID: "x1"})
			require.NoError(t, err)
			require.Equal(t, jack.ImportCreated, outcome)
			require.Nil(t, stored.LeadQualityScore)
			got, err = b.store.FindLeadByID(ctx, b.org.ID, stored.ID)
			require.NoError(t, err)
			require.Nil(t, got.LeadQualityScore)

			inTx := func(fn func(tx jack.ConversationTx) error) {
				require.NoError(t, b.store.InConversationTx(ctx, b.org.ID, fn))
			}
			inTx(func(tx jack.ConversationTx) error {
				ensured := jack.NewLead(b.org.ID, "", NewPhone(), tx.Now())
				ensured.LeadQualityScore = ptr(99.0)
				l, created, err := tx.EnsureLead(ctx, ensured)
				require.True(t, created)
				require.Nil(t, l.LeadQualityScore)
				return err
			})
		})

		t.Run("ErrConflict", func(t *testing.T) {
			t.Parallel()
			b := setup(t)
			phone := NewPhone()
			MustCreateLead(t, b.store, b.org.ID, phone)
			err := b.store.CreateLead(t.Context(), b.org.ID, jack.NewLead(b.org.ID, "Dup", phone, f.now()))
			requireCode(t, jack.ECONFLICT, err)
		})

		t.Run("SamePhoneOtherOrganization", func(t *testing.T) {
			t.Parallel()
			b := setup(t)
			phone := NewPhone()
			a := MustCreateLead(t, b.store, b.org.ID, phone)
			other, _ := MustCreateOrganization(t, b.store)
			c := MustCreateLead(t, b.store, other.ID, phone)
			require.NotEqual(t, a.ID, c.ID)
		})
	})

	t.Run("FindLeadByID", func(t *testing.T) {
		t.Parallel()

		t.Run("OK", func(t *testing.T) {
			t.Parallel()
			b := setup(t)
			lead := MustCreateLead(t, b.store, b.org.ID, NewPhone())
			got, err := b.store.FindLeadByID(t.Context(), b.org.ID, lead.ID)
			require.NoError(t, err)
			requireEqual(t, f, lead, got)
		})

		t.Run("ErrNotFound", func(t *testing.T) {
			t.Parallel()
			b := setup(t)
			_, err := b.store.FindLeadByID(t.Context(), b.org.ID, uuid.NewString())
			requireCode(t, jack.ENOTFOUND, err)
		})
	})

	t.Run("FindLeadByPhone", func(t *testing.T) {
		t.Parallel()

		t.Run("OK", func(t *testing.T) {
			t.Parallel()
			b := setup(t)
			lead := MustCreateLead(t, b.store, b.org.ID, NewPhone())
			MustCreateLead(t, b.store, b.org.ID, NewPhone())
			got, err := b.store.FindLeadByPhone(t.Context(), b.org.ID, lead.PhoneNumberNormalized)
			require.NoError(t, err)
			requireEqual(t, f, lead, got)
		})

		t.Run("ErrNotFound", func(t *testing.T) {
			t.Parallel()
			b := setup(t)
			_, err := b.store.FindLeadByPhone(t.Context(), b.org.ID, NewPhone())
			requireCode(t, jack.ENOTFOUND, err)
		})
	})

	t.Run("FindLeads", func(t *testing.T) {
		t.Parallel()

		t.Run("Empty", func(t *testing.T) {
			t.Parallel()
			b := setup(t)
			page, err := b.store.FindLeads(t.Context(), b.org.ID, jack.LeadFilter{})
			require.NoError(t, err)
			require.NotNil(t, page.Leads, "an empty page is [], never null")
			require.Empty(t, page.Leads)
			require.Empty(t, page.NextCursor)
		})

		t.Run("NewestFirst", func(t *testing.T) {
			t.Parallel()
			b := setup(t)
			var created []*jack.Lead
			for range 3 {
				created = append(created, MustCreateLead(t, b.store, b.org.ID, NewPhone()))
			}
			page, err := b.store.FindLeads(t.Context(), b.org.ID, jack.LeadFilter{})
			require.NoError(t, err)
			require.Empty(t, page.NextCursor)
			slices.Reverse(created)
			requireEqual(t, f, created, page.Leads)
		})

		t.Run("FilterStatus", func(t *testing.T) {
			t.Parallel()
			b := setup(t)
			ctx := t.Context()
			MustCreateLead(t, b.store, b.org.ID, NewPhone())
			won := MustCreateLead(t, b.store, b.org.ID, NewPhone())
			_, err := b.store.UpdateLead(ctx, b.org.ID, won.ID, jack.LeadUpdate{ChaseStatus: ptr(jack.ChaseWon)})
			require.NoError(t, err)

			page, err := b.store.FindLeads(ctx, b.org.ID, jack.LeadFilter{Status: ptr(jack.ChaseWon)})
			require.NoError(t, err)
			require.Equal(t, []string{won.ID}, leadIDs(page.Leads))
		})

		t.Run("FilterQ", func(t *testing.T) {
			t.Parallel()
			b := setup(t)
			ctx := t.Context()
			store, orgID := b.store, b.org.ID
			alice := jack.NewLead(orgID, "Alice O'Hara", NewPhone(), f.now())
			require.NoError(t, store.CreateLead(ctx, orgID, alice))
			bob := jack.NewLead(orgID, "Bob Stone", NewPhone(), f.now())
			bob.Email = "bobby_tables@example.com"
			require.NoError(t, store.CreateLead(ctx, orgID, bob))
			carol := jack.NewLead(orgID, "Carol 100% Real", NewPhone(), f.now())
			require.NoError(t, store.CreateLead(ctx, orgID, carol))
			emile := jack.NewLead(orgID, "ÉMILE Zola", NewPhone(), f.now())
			require.NoError(t, store.CreateLead(ctx, orgID, emile))

			for _, tc := range []struct {
				name string
				q    string
				want []string
			}{
				{"NameCaseInsensitive", "aLiCe", []string{alice.ID}},
				{"NameUnicode", "émile", []string{emile.ID}},
				{"Email", "BOBBY_", []string{bob.ID}},
				{"Phone", bob.PhoneNumberNormalized[2:], []string{bob.ID}},
				{"PercentIsLiteral", "100%", []string{carol.ID}},
				{"UnderscoreIsLiteral", "b_s", []string{}},
				{"NoMatch", "zebra", []string{}},
				{"Blank", "  ", []string{emile.ID, carol.ID, bob.ID, alice.ID}},
			} {
				t.Run(tc.name, func(t *testing.T) {
					t.Parallel()
					page, err := store.FindLeads(ctx, orgID, jack.LeadFilter{Q: ptr(tc.q)})
					require.NoError(t, err)
					require.Equal(t, tc.want, leadIDs(page.Leads))
				})
			}
		})

		t.Run("FilterAssignedTo", func(t *testing.T) {
			t.Parallel()
			b := setup(t)
			ctx := t.Context()
			agent := MustCreateUser(t, b.store, b.org.ID, jack.RoleAgent)
			MustCreateLead(t, b.store, b.org.ID, NewPhone())
			mine := MustCreateLead(t, b.store, b.org.ID, NewPhone())
			_, err := b.store.UpdateLead(ctx, b.org.ID, mine.ID, jack.LeadUpdate{AssignedTo: &agent.ID})
			require.NoError(t, err)

			page, err := b.store.FindLeads(ctx, b.org.ID, jack.LeadFilter{AssignedTo: &agent.ID})
			require.NoError(t, err)
			require.Equal(t, []string{mine.ID}, leadIDs(page.Leads))
		})

		t.Run("SortActivity", func(t *testing.T) {
			t.Parallel()
			b := setup(t)
			ctx := t.Context()
			base := f.now().Add(-time.Hour)
			var leads []*jack.Lead
			for i, offset := range []time.Duration{30 * time.Minute, 10 * time.Minute, 50 * time.Minute} {
				l := jack.NewLead(b.org.ID, "Lead", NewPhone(), base.Add(offset))
				require.NoError(t, b.store.CreateLead(ctx, b.org.ID, l), i)
				leads = append(leads, l)
			}
			page, err := b.store.FindLeads(ctx, b.org.ID, jack.LeadFilter{Sort: jack.LeadSortActivity})
			require.NoError(t, err)
			require.Equal(t, []string{leads[2].ID, leads[0].ID, leads[1].ID}, leadIDs(page.Leads))
		})

		t.Run("Pagination", func(t *testing.T) {
			t.Parallel()
			b := setup(t)
			ctx := t.Context()
			// Several leads share a last activity so the cursor must break ties by id.
			same := f.now().Add(-time.Hour)
			var want []string
			for i := range 11 {
				at := same
				if i%3 == 0 {
					at = same.Add(time.Duration(i) * time.Minute)
				}
				l := jack.NewLead(b.org.ID, "Paged Lead", NewPhone(), at)
				require.NoError(t, b.store.CreateLead(ctx, b.org.ID, l))
				want = append(want, l.ID)
			}
			for _, sort := range []jack.LeadSort{jack.LeadSortCreated, jack.LeadSortActivity} {
				t.Run(string(sort), func(t *testing.T) {
					t.Parallel()
					got, pages := allLeadPages(t, b.store, b.org.ID, jack.LeadFilter{Sort: sort, Limit: 4})
					require.Equal(t, 3, pages)
					require.ElementsMatch(t, want, leadIDs(got), "every lead exactly once")
					for i := 1; i < len(got); i++ {
						prev, cur := got[i-1].CreatedAt, got[i].CreatedAt
						if sort == jack.LeadSortActivity {
							prev, cur = got[i-1].LastActivity, got[i].LastActivity
						}
						require.False(t, cur.After(prev), "leads %d and %d are out of order", i-1, i)
					}
				})
			}
		})

		t.Run("FilterMinScore", func(t *testing.T) {
			t.Parallel()
			b := setup(t)
			ctx := t.Context()
			MustCreateLead(t, b.store, b.org.ID, NewPhone()) // unscored
			var ids []string
			for _, score := range []float64{10, 50, 90.5, 49.999} {
				l := MustCreateLead(t, b.store, b.org.ID, NewPhone())
				MustUpdateConversation(t, b.store, b.org.ID, l.ID, jack.ConversationChange{LeadQualityScore: ptr(score)})
				ids = append(ids, l.ID)
			}
			page, err := b.store.FindLeads(ctx, b.org.ID, jack.LeadFilter{MinScore: ptr(50.0)})
			require.NoError(t, err)
			require.Equal(t, []string{ids[2], ids[1]}, leadIDs(page.Leads), "score >= 50, newest first")

			page, err = b.store.FindLeads(ctx, b.org.ID, jack.LeadFilter{MinScore: ptr(0.0), Sort: jack.LeadSortScore})
			require.NoError(t, err)
			require.Equal(t, []string{ids[2], ids[1], ids[3], ids[0]}, leadIDs(page.Leads), "unscored leads never pass a score filter")
		})

		t.Run("SortScore", func(t *testing.T) {
			t.Parallel()
			b := setup(t)
			ctx := t.Context()
			var leads []*jack.Lead
			for _, score := range []*float64{nil, ptr(40.0), ptr(85.0), nil, ptr(40.0), ptr(0.0)} {
				l := MustCreateLead(t, b.store, b.org.ID, NewPhone())
				if score != nil {
					l = MustUpdateConversation(t, b.store, b.org.ID, l.ID, jack.ConversationChange{LeadQualityScore: score})
				}
				leads = append(leads, l)
			}
			page, err := b.store.FindLeads(ctx, b.org.ID, jack.LeadFilter{Sort: jack.LeadSortScore})
			require.NoError(t, err)
			want := slices.Clone(leads)
			sortByScore(want)
			require.Equal(t, leadIDs(want), leadIDs(page.Leads))
			require.Equal(t, leads[2].ID, page.Leads[0].ID, "highest first")
			require.Nil(t, page.Leads[5].LeadQualityScore, "unscored last")
			requireEqual(t, f, leads[2], page.Leads[0])
		})

		t.Run("PaginationScore", func(t *testing.T) {
			t.Parallel()
			b := setup(t)
			// Ties among scores and among the unscored: the cursor breaks them by id and
			// carries a NULL score across pages.
			var all []*jack.Lead
			for _, score := range []*float64{nil, ptr(30.0), ptr(30.0), ptr(70.0), nil, ptr(30.0), ptr(90.0), nil, ptr(70.0), ptr(30.0), nil, ptr(0.0)} {
				l := MustCreateLead(t, b.store, b.org.ID, NewPhone())
				if score != nil {
					l = MustUpdateConversation(t, b.store, b.org.ID, l.ID, jack.ConversationChange{LeadQualityScore: score})
				}
				all = append(all, l)
			}
			sortByScore(all)
			for _, tc := range []struct {
				name     string
				minScore *float64
				want     []*jack.Lead
			}{
				{"All", nil, all},
				{"MinScore", ptr(30.0), all[:7]},
			} {
				t.Run(tc.name, func(t *testing.T) {
					t.Parallel()
					got, _ := allLeadPages(t, b.store, b.org.ID, jack.LeadFilter{Sort: jack.LeadSortScore, MinScore: tc.minScore, Limit: 3})
					require.Equal(t, leadIDs(tc.want), leadIDs(got), "every lead once, in score order")
				})
			}
		})

		t.Run("ErrInvalidScore", func(t *testing.T) {
			t.Parallel()
			b := setup(t)
			ctx := t.Context()
			_, err := b.store.FindLeads(ctx, b.org.ID, jack.LeadFilter{MinScore: ptr(math.NaN())})
			requireCode(t, jack.EINVALID, err)
			_, err = b.store.FindLeads(ctx, b.org.ID, jack.LeadFilter{Sort: "bogus"})
			requireCode(t, jack.EINVALID, err)

			// A cursor of another sort is not a score cursor, and the other way round.
			for range 2 {
				MustCreateLead(t, b.store, b.org.ID, NewPhone())
			}
			byCreated, err := b.store.FindLeads(ctx, b.org.ID, jack.LeadFilter{Limit: 1})
			require.NoError(t, err)
			_, err = b.store.FindLeads(ctx, b.org.ID, jack.LeadFilter{Sort: jack.LeadSortScore, Cursor: byCreated.NextCursor})
			requireCode(t, jack.EINVALID, err)
			byScore, err := b.store.FindLeads(ctx, b.org.ID, jack.LeadFilter{Sort: jack.LeadSortScore, Limit: 1})
			require.NoError(t, err)
			require.NotEmpty(t, byScore.NextCursor)
			_, err = b.store.FindLeads(ctx, b.org.ID, jack.LeadFilter{Sort: jack.LeadSortActivity, Cursor: byScore.NextCursor})
			requireCode(t, jack.EINVALID, err)
		})

		t.Run("DefaultLimit", func(t *testing.T) {
			t.Parallel()
			b := setup(t)
			for range 51 {
				MustCreateLead(t, b.store, b.org.ID, NewPhone())
			}
			page, err := b.store.FindLeads(t.Context(), b.org.ID, jack.LeadFilter{})
			require.NoError(t, err)
			require.Len(t, page.Leads, 50)
			require.NotEmpty(t, page.NextCursor)
		})

		t.Run("ErrInvalidCursor", func(t *testing.T) {
			t.Parallel()
			b := setup(t)
			for _, cursor := range []string{"garbage", "!!!", "eyJ4IjoxfQ"} {
				_, err := b.store.FindLeads(t.Context(), b.org.ID, jack.LeadFilter{Cursor: cursor})
				requireCode(t, jack.EINVALID, err)
			}
		})
	})

	t.Run("UpdateLead", func(t *testing.T) {
		t.Parallel()

		t.Run("OK", func(t *testing.T) {
			t.Parallel()
			b := setup(t)
			ctx := t.Context()
			lead := MustCreateLead(t, b.store, b.org.ID, NewPhone())
			agent := MustCreateUser(t, b.store, b.org.ID, jack.RoleAgent)
			progress := jack.Progress{CurrentStep: jack.StepCredit, CompletedSteps: []string{jack.StepContacted, jack.StepBudget}}
			got, err := b.store.UpdateLead(ctx, b.org.ID, lead.ID, jack.LeadUpdate{
				CustomerName:           ptr("Renamed"),
				Email:                  ptr("renamed@example.com"),
				AssignedTo:             &agent.ID,
				ChaseStatus:            ptr(jack.ChaseQualified),
				FundingReadiness:       ptr("ready"),
				FundingReadinessReason: ptr("cash"),
				Sentiment:              ptr("negative"),
				ScriptProgress:         &progress,
				CreditScoreRange:       ptr("600-650"),
				CreditKnownIssues:      []string{"bankruptcy"},
				VehiclePreference:      ptr("sedan"),
				BudgetRange:            ptr("$10k"),
				Version:                ptr(lead.Version),
			})
			require.NoError(t, err)
			require.Equal(t, lead.Version+1, got.Version)
			require.False(t, got.UpdatedAt.Before(lead.UpdatedAt))
			require.Equal(t, "Renamed", got.CustomerName)
			require.Equal(t, "renamed@example.com", got.Email)
			require.Equal(t, &agent.ID, got.AssignedTo)
			require.Equal(t, jack.ChaseQualified, got.ChaseStatus)
			require.Equal(t, progress, got.ScriptProgress)
			require.Equal(t, []string{"bankruptcy"}, got.CreditKnownIssues)
			require.Equal(t, lead.PhoneNumberNormalized, got.PhoneNumberNormalized)
			requireTimeEqual(t, f, lead.CreatedAt, got.CreatedAt)

			found, err := b.store.FindLeadByID(ctx, b.org.ID, lead.ID)
			require.NoError(t, err)
			requireEqual(t, f, got, found)
		})

		t.Run("KeepsScore", func(t *testing.T) {
			t.Parallel()
			b := setup(t)
			lead := MustCreateLead(t, b.store, b.org.ID, NewPhone())
			MustUpdateConversation(t, b.store, b.org.ID, lead.ID, jack.ConversationChange{LeadQualityScore: ptr(64.0)})
			got, err := b.store.UpdateLead(t.Context(), b.org.ID, lead.ID, jack.LeadUpdate{CustomerName: ptr("Renamed")})
			require.NoError(t, err)
			require.Equal(t, ptr(64.0), got.LeadQualityScore, "the CRM never writes the score")
			found, err := b.store.FindLeadByID(t.Context(), b.org.ID, lead.ID)
			require.NoError(t, err)
			require.Equal(t, ptr(64.0), found.LeadQualityScore)
		})

		t.Run("ClearAssignedTo", func(t *testing.T) {
			t.Parallel()
			b := setup(t)
			ctx := t.Context()
			lead := MustCreateLead(t, b.store, b.org.ID, NewPhone())
			_, err := b.store.UpdateLead(ctx, b.org.ID, lead.ID, jack.LeadUpdate{AssignedTo: &b.owner.ID})
			require.NoError(t, err)
			got, err := b.store.UpdateLead(ctx, b.org.ID, lead.ID, jack.LeadUpdate{ClearAssignedTo: true})
			require.NoError(t, err)
			require.Nil(t, got.AssignedTo)
			require.EqualValues(t, 3, got.Version)
		})

		t.Run("ErrVersionConflict", func(t *testing.T) {
			t.Parallel()
			b := setup(t)
			ctx := t.Context()
			lead := MustCreateLead(t, b.store, b.org.ID, NewPhone())
			_, err := b.store.UpdateLead(ctx, b.org.ID, lead.ID, jack.LeadUpdate{CustomerName: ptr("First"), Version: ptr(lead.Version)})
			require.NoError(t, err)
			_, err = b.store.UpdateLead(ctx, b.org.ID, lead.ID, jack.LeadUpdate{CustomerName: ptr("Stale"), Version: ptr(lead.Version)})
			requireCode(t, jack.ECONFLICT, err)

			got, err := b.store.FindLeadByID(ctx, b.org.ID, lead.ID)
			require.NoError(t, err)
			require.Equal(t, "First", got.CustomerName)
			require.Equal(t, lead.Version+1, got.Version)
		})

		t.Run("ErrInvalid", func(t *testing.T) {
			t.Parallel()
			b := setup(t)
			ctx := t.Context()
			lead := MustCreateLead(t, b.store, b.org.ID, NewPhone())
			for name, upd := range map[string]jack.LeadUpdate{
				"ChaseStatus":  {ChaseStatus: ptr("bogus")},
				"CustomerName": {CustomerName: ptr("  ")},
				"Email":        {Email: ptr("not an email")},
			} {
				_, err := b.store.UpdateLead(ctx, b.org.ID, lead.ID, upd)
				requireCode(t, jack.EUNPROCESSABLE, err)
				require.NotEmpty(t, name)
			}
			got, err := b.store.FindLeadByID(ctx, b.org.ID, lead.ID)
			require.NoError(t, err)
			requireEqual(t, f, lead, got, "an invalid update changes nothing")
		})

		t.Run("ErrNotFound", func(t *testing.T) {
			t.Parallel()
			b := setup(t)
			_, err := b.store.UpdateLead(t.Context(), b.org.ID, uuid.NewString(), jack.LeadUpdate{CustomerName: ptr("Ghost")})
			requireCode(t, jack.ENOTFOUND, err)
		})
	})

	t.Run("DeleteLead", func(t *testing.T) {
		t.Parallel()

		t.Run("OK", func(t *testing.T) {
			t.Parallel()
			b := setup(t)
			ctx := t.Context()
			lead := MustCreateLead(t, b.store, b.org.ID, NewPhone())
			keep := MustCreateLead(t, b.store, b.org.ID, NewPhone())
			now := f.now()
			for _, l := range []*jack.Lead{lead, keep} {
				MustInsertMessage(t, b.store, b.org.ID, NewMessage(l, "hello", now))
				require.NoError(t, b.store.InConversationTx(ctx, b.org.ID, func(tx jack.ConversationTx) error {
					return tx.InsertEvents(ctx, jack.NewEvent(jack.EventSMSReceived, b.org.ID, l.ID, l.PhoneNumberNormalized, now, nil))
				}))
			}

			require.NoError(t, b.store.DeleteLead(ctx, b.org.ID, lead.ID))

			_, err := b.store.FindLeadByID(ctx, b.org.ID, lead.ID)
			requireCode(t, jack.ENOTFOUND, err)
			snap, err := b.store.LoadConversation(ctx, b.org.ID, lead.PhoneNumberNormalized, 10)
			require.NoError(t, err)
			require.Nil(t, snap.Lead)
			require.Empty(t, snap.Messages)
			require.Zero(t, snap.TotalMessages)
			require.Nil(t, snap.Summary)
			events, err := b.store.FindEvents(ctx, b.org.ID, jack.EventFilter{})
			require.NoError(t, err)
			require.Len(t, events, 1)
			require.Equal(t, keep.ID, events[0].LeadID)

			// The other lead's conversation is untouched.
			page, err := b.store.FindMessages(ctx, b.org.ID, jack.MessageFilter{LeadID: keep.ID})
			require.NoError(t, err)
			require.Len(t, page.Messages, 1)

			// The phone is free for a new lead.
			MustCreateLead(t, b.store, b.org.ID, lead.PhoneNumberNormalized)
		})

		t.Run("ErrNotFound", func(t *testing.T) {
			t.Parallel()
			b := setup(t)
			err := b.store.DeleteLead(t.Context(), b.org.ID, uuid.NewString())
			requireCode(t, jack.ENOTFOUND, err)
		})
	})
}

// allLeadPages follows filter's cursors from the first page to the last and returns every lead
// in listing order and the number of pages; each page holds at most filter.Limit leads.
func allLeadPages(tb testing.TB, store jack.Store, orgID uuid.UUID, filter jack.LeadFilter) ([]*jack.Lead, int) {
	tb.Helper()
	var leads []*jack.Lead
	for pages := 1; ; pages++ {
		page, err := store.FindLeads(tb.Context(), orgID, filter)
		require.NoError(tb, err)
		require.LessOrEqual(tb, len(page.Leads), filter.Limit)
		leads = append(leads, page.Leads...)
		if page.NextCursor == "" {
			return leads, pages
		}
		require.Less(tb, pages, 20, "pagination does not end")
		filter.Cursor = page.NextCursor
	}
}

// sortByScore orders leads as the score listing does: highest score first, unscored last,
// ties by id, greatest first.
func sortByScore(leads []*jack.Lead) {
	slices.SortFunc(leads, func(a, b *jack.Lead) int {
		switch {
		case a.LeadQualityScore == nil && b.LeadQualityScore != nil:
			return 1
		case a.LeadQualityScore != nil && b.LeadQualityScore == nil:
			return -1
		case a.LeadQualityScore != nil && *a.LeadQualityScore != *b.LeadQualityScore:
			return cmp.Compare(*b.LeadQualityScore, *a.LeadQualityScore)
		}
		return strings.Compare(b.ID, a.ID)
	})
}

func leadIDs(leads []*jack.Lead) []string {
	ids := make([]string, 0, len(leads))
	for _, l := range leads {
		ids = append(ids, l.ID)
	}
	return ids
}
