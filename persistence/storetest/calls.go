package storetest

import (
	"encoding/json"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jack-auto/jack"
	"github.com/stretchr/testify/require"
)

// testCalls covers the voice side of ConversationTx: call sessions, idempotent on either of a
// call's keys, and the conversation summary.
func testCalls(t *testing.T, f Features, newStore NewStoreFunc) {
	type testBundle struct {
		store jack.Store
		org   *jack.Organization
		lead  *jack.Lead
	}
	setup := func(t *testing.T) *testBundle {
		t.Helper()
		store := newStore(t)
		org, _ := MustCreateOrganization(t, store)
		return &testBundle{store: store, org: org, lead: MustCreateLead(t, store, org.ID, NewPhone())}
	}
	inTx := func(t *testing.T, store jack.Store, orgID uuid.UUID, fn func(tx jack.ConversationTx) error) {
		t.Helper()
		require.NoError(t, store.InConversationTx(t.Context(), orgID, fn))
	}
	create := func(t *testing.T, b *testBundle, cs *jack.CallSession) (*jack.CallSession, bool) {
		t.Helper()
		var (
			stored  *jack.CallSession
			created bool
		)
		inTx(t, b.store, b.org.ID, func(tx jack.ConversationTx) (err error) {
			stored, created, err = tx.CreateCallSession(t.Context(), cs)
			return err
		})
		return stored, created
	}
	find := func(t *testing.T, store jack.Store, orgID uuid.UUID, conversationID, callSid string) (*jack.CallSession, error) {
		t.Helper()
		var cs *jack.CallSession
		err := store.InConversationTx(t.Context(), orgID, func(tx jack.ConversationTx) (err error) {
			cs, err = tx.FindCallSession(t.Context(), conversationID, callSid)
			return err
		})
		return cs, err
	}
	update := func(t *testing.T, store jack.Store, orgID uuid.UUID, cs *jack.CallSession) error {
		t.Helper()
		return store.InConversationTx(t.Context(), orgID, func(tx jack.ConversationTx) error {
			return tx.UpdateCallSession(t.Context(), cs)
		})
	}
	upsertSummary := func(t *testing.T, store jack.Store, orgID uuid.UUID, s *jack.Summary) (stored *jack.Summary, now time.Time) {
		t.Helper()
		inTx(t, store, orgID, func(tx jack.ConversationTx) (err error) {
			now = tx.Now()
			stored, err = tx.UpsertSummary(t.Context(), s)
			return err
		})
		return stored, now
	}
	// newCall returns an inbound call of b's lead with fresh keys.
	newCall := func(b *testBundle) *jack.CallSession {
		return &jack.CallSession{
			LeadID:                b.lead.ID,
			VoiceConversationID:   "conv_" + uuid.NewString(),
			ProviderCallID:        "CA" + uuid.NewString(),
			PhoneNumberNormalized: b.lead.PhoneNumberNormalized,
			Direction:             "inbound",
			StartedAt:             f.now().Add(-time.Minute),
		}
	}
	// requireCallEqual compares call sessions, their data as JSON values (Postgres reformats jsonb).
	requireCallEqual := func(t *testing.T, want, got *jack.CallSession) {
		t.Helper()
		require.NotNil(t, got)
		wantData, gotData := string(want.VoiceData), string(got.VoiceData)
		if wantData == "" {
			wantData = "{}"
		}
		require.JSONEq(t, wantData, gotData)
		w, g := *want, *got
		w.VoiceData, g.VoiceData = nil, nil
		requireEqual(t, f, &w, &g)
	}

	t.Run("CreateCallSession", func(t *testing.T) {
		t.Parallel()

		t.Run("OK", func(t *testing.T) {
			t.Parallel()
			b := setup(t)
			cs := newCall(b)
			cs.Direction = "outbound"
			cs.VoiceData = json.RawMessage(`{"agent_id": "agent_1", "dynamic_variables": {"customer_name": "Ann"}}`)
			stored, created := create(t, b, cs)
			require.True(t, created)
			require.NotEqual(t, uuid.Nil, stored.ID)
			require.Equal(t, b.org.ID, stored.OrganizationID)
			requireCallEqual(t, cs, stored)

			got, err := find(t, b.store, b.org.ID, cs.VoiceConversationID, "")
			require.NoError(t, err)
			requireCallEqual(t, stored, got)
		})

		t.Run("Defaults", func(t *testing.T) {
			t.Parallel()
			b := setup(t)
			var now time.Time
			var stored *jack.CallSession
			inTx(t, b.store, b.org.ID, func(tx jack.ConversationTx) (err error) {
				now = tx.Now()
				stored, _, err = tx.CreateCallSession(t.Context(), &jack.CallSession{
					VoiceConversationID: "conv_" + uuid.NewString(),
				})
				return err
			})
			requireTimeEqual(t, f, now, stored.StartedAt, "a call starts now unless told")
			require.Equal(t, "inbound", stored.Direction)
			require.Empty(t, stored.LeadID)
			require.Empty(t, stored.ProviderCallID)
			require.Nil(t, stored.EndedAt)
			require.Nil(t, stored.DurationSeconds)
			require.Nil(t, stored.SentimentScore)
			require.JSONEq(t, `{}`, string(stored.VoiceData), "no data is stored as {}")
		})

		t.Run("EmptyKeysNeverCollide", func(t *testing.T) {
			t.Parallel()
			b := setup(t)
			first, created := create(t, b, &jack.CallSession{PhoneNumberNormalized: b.lead.PhoneNumberNormalized})
			require.True(t, created)
			second, created := create(t, b, &jack.CallSession{PhoneNumberNormalized: b.lead.PhoneNumberNormalized})
			require.True(t, created, "a call without ids is a new call")
			require.NotEqual(t, first.ID, second.ID)
		})

		for _, tc := range []struct {
			name string
			dup  func(first *jack.CallSession) *jack.CallSession
		}{
			{"SameConversationID", func(first *jack.CallSession) *jack.CallSession {
				return &jack.CallSession{VoiceConversationID: first.VoiceConversationID, Direction: "outbound"}
			}},
			{"SameCallSid", func(first *jack.CallSession) *jack.CallSession {
				return &jack.CallSession{ProviderCallID: first.ProviderCallID, VoiceConversationID: "conv_" + uuid.NewString()}
			}},
			{"SameBoth", func(first *jack.CallSession) *jack.CallSession {
				return &jack.CallSession{VoiceConversationID: first.VoiceConversationID, ProviderCallID: first.ProviderCallID}
			}},
		} {
			t.Run("Idempotent/"+tc.name, func(t *testing.T) {
				t.Parallel()
				b := setup(t)
				first, created := create(t, b, newCall(b))
				require.True(t, created)
				again, created := create(t, b, tc.dup(first))
				require.False(t, created)
				requireCallEqual(t, first, again)
			})
		}

		t.Run("Idempotent/FirstSeenBySid", func(t *testing.T) {
			t.Parallel()
			b := setup(t)
			// The Twilio leg is recorded before ElevenLabs names the conversation.
			first, created := create(t, b, &jack.CallSession{ProviderCallID: "CA" + uuid.NewString()})
			require.True(t, created)
			again, created := create(t, b, &jack.CallSession{ProviderCallID: first.ProviderCallID, VoiceConversationID: "conv_late"})
			require.False(t, created)
			require.Equal(t, first.ID, again.ID)
			require.Empty(t, again.VoiceConversationID, "the stored call is returned unchanged")
		})

		t.Run("Idempotent/Concurrent", func(t *testing.T) {
			t.Parallel()
			b := setup(t)
			const n = 10
			conversationID := "conv_" + uuid.NewString()
			type result struct {
				id      uuid.UUID
				created bool
				err     error
			}
			results := make(chan result, n)
			var wg sync.WaitGroup
			for range n {
				wg.Go(func() {
					var r result
					r.err = b.store.InConversationTx(t.Context(), b.org.ID, func(tx jack.ConversationTx) error {
						cs, created, err := tx.CreateCallSession(t.Context(), &jack.CallSession{VoiceConversationID: conversationID})
						if err == nil {
							r.id, r.created = cs.ID, created
						}
						return err
					})
					results <- r
				})
			}
			wg.Wait()
			close(results)
			ids, created := map[uuid.UUID]bool{}, 0
			for r := range results {
				require.NoError(t, r.err)
				ids[r.id] = true
				if r.created {
					created++
				}
			}
			require.Equal(t, 1, created, "exactly one activation records the call")
			require.Len(t, ids, 1, "every activation gets the same call")
		})

		t.Run("ErrIDTaken", func(t *testing.T) {
			t.Parallel()
			b := setup(t)
			first, _ := create(t, b, newCall(b))
			again := newCall(b) // new keys, but the id of a stored call
			again.ID = first.ID
			err := b.store.InConversationTx(t.Context(), b.org.ID, func(tx jack.ConversationTx) error {
				_, _, err := tx.CreateCallSession(t.Context(), again)
				return err
			})
			requireCode(t, jack.ECONFLICT, err)
		})

		t.Run("OtherOrganizationSameKeys", func(t *testing.T) {
			t.Parallel()
			b := setup(t)
			first, _ := create(t, b, newCall(b))
			other, _ := MustCreateOrganization(t, b.store)
			var stored *jack.CallSession
			var created bool
			inTx(t, b.store, other.ID, func(tx jack.ConversationTx) (err error) {
				stored, created, err = tx.CreateCallSession(t.Context(), &jack.CallSession{
					VoiceConversationID: first.VoiceConversationID, ProviderCallID: first.ProviderCallID,
				})
				return err
			})
			require.True(t, created, "keys are unique per organization")
			require.NotEqual(t, first.ID, stored.ID)
			require.Equal(t, other.ID, stored.OrganizationID)
		})

		t.Run("ErrLeadOfOtherOrganization", func(t *testing.T) {
			t.Parallel()
			b := setup(t)
			other, _ := MustCreateOrganization(t, b.store)
			err := b.store.InConversationTx(t.Context(), other.ID, func(tx jack.ConversationTx) error {
				_, _, err := tx.CreateCallSession(t.Context(), newCall(b))
				return err
			})
			requireCode(t, jack.ENOTFOUND, err)
		})

		t.Run("ErrInvalidData", func(t *testing.T) {
			t.Parallel()
			b := setup(t)
			cs := newCall(b)
			cs.VoiceData = json.RawMessage(`{"unterminated": `)
			err := b.store.InConversationTx(t.Context(), b.org.ID, func(tx jack.ConversationTx) error {
				_, _, err := tx.CreateCallSession(t.Context(), cs)
				return err
			})
			requireCode(t, jack.EINVALID, err)
		})
	})

	// LoadConversation carries the latest finished call, whose analysis feeds scoring.
	t.Run("LoadConversationLastCall", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		snap, err := b.store.LoadConversation(t.Context(), b.org.ID, b.lead.PhoneNumberNormalized, 10)
		require.NoError(t, err)
		require.Nil(t, snap.LastCall, "no call yet")

		now := f.now()
		for i, conv := range []string{"conv_old", "conv_new", "conv_open"} {
			cs, _ := create(t, b, &jack.CallSession{ID: uuid.Must(uuid.NewV7()), OrganizationID: b.org.ID, LeadID: b.lead.ID,
				VoiceConversationID: conv, PhoneNumberNormalized: b.lead.PhoneNumberNormalized, Direction: jack.CallInbound,
				StartedAt: now.Add(time.Duration(i) * time.Minute)})
			if conv == "conv_open" {
				continue // not finished
			}
			ended := now.Add(time.Duration(i)*time.Minute + 30*time.Second)
			cs.EndedAt, cs.CallOutcome, cs.VoiceData = &ended, jack.OutcomeSuccess, []byte(`{"call_successful":"success"}`)
			inTx(t, b.store, b.org.ID, func(tx jack.ConversationTx) error { return tx.UpdateCallSession(t.Context(), cs) })
		}
		snap, err = b.store.LoadConversation(t.Context(), b.org.ID, b.lead.PhoneNumberNormalized, 10)
		require.NoError(t, err)
		require.NotNil(t, snap.LastCall)
		require.Equal(t, "conv_new", snap.LastCall.VoiceConversationID)
		require.JSONEq(t, `{"call_successful":"success"}`, string(snap.LastCall.VoiceData))
	})

	t.Run("FindCallSession", func(t *testing.T) {
		t.Parallel()

		t.Run("ByEitherKey", func(t *testing.T) {
			t.Parallel()
			b := setup(t)
			cs, _ := create(t, b, newCall(b))
			for _, keys := range [][2]string{
				{cs.VoiceConversationID, ""},
				{"", cs.ProviderCallID},
				{cs.VoiceConversationID, cs.ProviderCallID},
				{"conv_unknown", cs.ProviderCallID},
				{cs.VoiceConversationID, "CAunknown"},
			} {
				got, err := find(t, b.store, b.org.ID, keys[0], keys[1])
				require.NoError(t, err, "keys %q", keys)
				requireCallEqual(t, cs, got)
			}
		})

		t.Run("ConversationIDFirst", func(t *testing.T) {
			t.Parallel()
			b := setup(t)
			byConversation, _ := create(t, b, &jack.CallSession{VoiceConversationID: "conv_" + uuid.NewString()})
			bySid, _ := create(t, b, &jack.CallSession{ProviderCallID: "CA" + uuid.NewString()})
			got, err := find(t, b.store, b.org.ID, byConversation.VoiceConversationID, bySid.ProviderCallID)
			require.NoError(t, err)
			require.Equal(t, byConversation.ID, got.ID)
		})

		t.Run("ErrNotFound", func(t *testing.T) {
			t.Parallel()
			b := setup(t)
			create(t, b, newCall(b))
			_, err := find(t, b.store, b.org.ID, "conv_unknown", "CAunknown")
			requireCode(t, jack.ENOTFOUND, err)
			_, err = find(t, b.store, b.org.ID, "", "")
			requireCode(t, jack.ENOTFOUND, err)
		})

		t.Run("ErrOtherOrganization", func(t *testing.T) {
			t.Parallel()
			b := setup(t)
			cs, _ := create(t, b, newCall(b))
			other, _ := MustCreateOrganization(t, b.store)
			_, err := find(t, b.store, other.ID, cs.VoiceConversationID, cs.ProviderCallID)
			requireCode(t, jack.ENOTFOUND, err)
		})
	})

	t.Run("UpdateCallSession", func(t *testing.T) {
		t.Parallel()

		t.Run("EveryField", func(t *testing.T) {
			t.Parallel()
			b := setup(t)
			cs, _ := create(t, b, &jack.CallSession{ProviderCallID: "CA" + uuid.NewString(), Direction: "outbound"})

			ended := f.now()
			want := *cs
			want.VoiceConversationID = "conv_" + uuid.NewString()
			want.ProviderCallID = "CA" + uuid.NewString()
			want.LeadID = b.lead.ID
			want.EndedAt = &ended
			want.DurationSeconds = ptr(97)
			want.CallOutcome = "appointment_set"
			want.TerminationReason = "end_call tool was called"
			want.SentimentScore = ptr(0.75)
			want.LeadQualityScore = ptr(8.5)
			want.NextAction = "send_directions"
			want.VoiceData = json.RawMessage(`{"analysis": {"call_successful": "success", "transcript_summary": "Booked"},
				"metadata": {"call_duration_secs": 97, "cost": 412}, "list": [1, "two", null, true]}`)
			require.NoError(t, update(t, b.store, b.org.ID, &want))

			got, err := find(t, b.store, b.org.ID, want.VoiceConversationID, "")
			require.NoError(t, err)
			requireCallEqual(t, &want, got)

			// Clearing: empty strings, nil pointers and nil data.
			cleared := *got
			cleared.VoiceConversationID, cleared.LeadID = "", ""
			cleared.EndedAt, cleared.DurationSeconds, cleared.SentimentScore, cleared.LeadQualityScore = nil, nil, nil, nil
			cleared.CallOutcome, cleared.TerminationReason, cleared.NextAction = "", "", ""
			cleared.VoiceData = nil
			require.NoError(t, update(t, b.store, b.org.ID, &cleared))
			got, err = find(t, b.store, b.org.ID, "", cleared.ProviderCallID)
			require.NoError(t, err)
			requireCallEqual(t, &cleared, got)
			require.JSONEq(t, `{}`, string(got.VoiceData))
		})

		t.Run("KeepsStartDirectionPhone", func(t *testing.T) {
			t.Parallel()
			b := setup(t)
			cs, _ := create(t, b, newCall(b))
			changed := *cs
			changed.StartedAt = cs.StartedAt.Add(-time.Hour)
			changed.Direction = "outbound"
			changed.PhoneNumberNormalized = NewPhone()
			require.NoError(t, update(t, b.store, b.org.ID, &changed))
			got, err := find(t, b.store, b.org.ID, cs.VoiceConversationID, "")
			require.NoError(t, err)
			requireCallEqual(t, cs, got)
		})

		t.Run("ErrNotFound", func(t *testing.T) {
			t.Parallel()
			b := setup(t)
			cs := newCall(b)
			cs.ID = uuid.New()
			requireCode(t, jack.ENOTFOUND, update(t, b.store, b.org.ID, cs))
		})

		t.Run("ErrOtherOrganization", func(t *testing.T) {
			t.Parallel()
			b := setup(t)
			cs, _ := create(t, b, newCall(b))
			other, _ := MustCreateOrganization(t, b.store)
			changed := *cs
			changed.LeadID, changed.CallOutcome = "", "hijacked"
			requireCode(t, jack.ENOTFOUND, update(t, b.store, other.ID, &changed))
			got, err := find(t, b.store, b.org.ID, cs.VoiceConversationID, "")
			require.NoError(t, err)
			requireCallEqual(t, cs, got)
		})

		t.Run("ErrLeadOfOtherOrganization", func(t *testing.T) {
			t.Parallel()
			b := setup(t)
			cs, _ := create(t, b, &jack.CallSession{VoiceConversationID: "conv_" + uuid.NewString()})
			other, _ := MustCreateOrganization(t, b.store)
			otherLead := MustCreateLead(t, b.store, other.ID, NewPhone())
			changed := *cs
			changed.LeadID = otherLead.ID
			requireCode(t, jack.ENOTFOUND, update(t, b.store, b.org.ID, &changed))
		})

		for _, key := range []string{"ConversationID", "CallSid"} {
			t.Run("ErrConflict/"+key, func(t *testing.T) {
				t.Parallel()
				b := setup(t)
				first, _ := create(t, b, newCall(b))
				second, _ := create(t, b, newCall(b))
				changed := *second
				if key == "ConversationID" {
					changed.VoiceConversationID = first.VoiceConversationID
				} else {
					changed.ProviderCallID = first.ProviderCallID
				}
				requireCode(t, jack.ECONFLICT, update(t, b.store, b.org.ID, &changed))
			})
		}
	})

	t.Run("UpsertSummary", func(t *testing.T) {
		t.Parallel()

		t.Run("InsertThenReplace", func(t *testing.T) {
			t.Parallel()
			b := setup(t)
			phone := b.lead.PhoneNumberNormalized
			first, now := upsertSummary(t, b.store, b.org.ID, &jack.Summary{
				PhoneNumberNormalized: phone, Summary: "Wants a truck under $30k.",
				TotalMessages: 3, VoiceMessages: 1, SMSMessages: 2,
			})
			requireEqual(t, f, &jack.Summary{
				ID: first.ID, OrganizationID: b.org.ID, PhoneNumberNormalized: phone, Summary: "Wants a truck under $30k.",
				SummaryType: "elevenlabs", TotalMessages: 3, VoiceMessages: 1, SMSMessages: 2, CreatedAt: now, UpdatedAt: now,
			}, first)

			snap, err := b.store.LoadConversation(t.Context(), b.org.ID, phone, 10)
			require.NoError(t, err)
			requireEqual(t, f, first, snap.Summary)

			second, later := upsertSummary(t, b.store, b.org.ID, &jack.Summary{
				ID: uuid.New(), PhoneNumberNormalized: phone, Summary: "Booked a test drive Saturday.",
				SummaryType: "manual", TotalMessages: 9, VoiceMessages: 4, SMSMessages: 5,
			})
			requireEqual(t, f, &jack.Summary{
				ID: first.ID, OrganizationID: b.org.ID, PhoneNumberNormalized: phone, Summary: "Booked a test drive Saturday.",
				SummaryType: "manual", TotalMessages: 9, VoiceMessages: 4, SMSMessages: 5, CreatedAt: first.CreatedAt, UpdatedAt: later,
			}, second, "one summary per conversation: same id, created_at kept")

			snap, err = b.store.LoadConversation(t.Context(), b.org.ID, phone, 10)
			require.NoError(t, err)
			requireEqual(t, f, second, snap.Summary)
		})

		t.Run("WithoutLead", func(t *testing.T) {
			t.Parallel()
			b := setup(t)
			phone := NewPhone() // a conversation need not have a lead
			stored, _ := upsertSummary(t, b.store, b.org.ID, &jack.Summary{PhoneNumberNormalized: phone, Summary: "Wrong number."})
			snap, err := b.store.LoadConversation(t.Context(), b.org.ID, phone, 10)
			require.NoError(t, err)
			require.Nil(t, snap.Lead)
			requireEqual(t, f, stored, snap.Summary)
		})

		t.Run("OtherOrganization", func(t *testing.T) {
			t.Parallel()
			b := setup(t)
			phone := b.lead.PhoneNumberNormalized
			mine, _ := upsertSummary(t, b.store, b.org.ID, &jack.Summary{PhoneNumberNormalized: phone, Summary: "Ours."})
			other, _ := MustCreateOrganization(t, b.store)

			snap, err := b.store.LoadConversation(t.Context(), other.ID, phone, 10)
			require.NoError(t, err)
			require.Nil(t, snap.Summary, "another organization does not see the summary")

			theirs, _ := upsertSummary(t, b.store, other.ID, &jack.Summary{PhoneNumberNormalized: phone, Summary: "Theirs."})
			require.NotEqual(t, mine.ID, theirs.ID)
			require.Equal(t, other.ID, theirs.OrganizationID)
			snap, err = b.store.LoadConversation(t.Context(), b.org.ID, phone, 10)
			require.NoError(t, err)
			requireEqual(t, f, mine, snap.Summary, "the same customer's summary at another dealership is separate")
		})
	})

	t.Run("DeleteLead/RemovesCallsAndSummary", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		withLead, _ := create(t, b, newCall(b))
		// A call recorded before its lead was known is the conversation's by phone.
		byPhone, _ := create(t, b, &jack.CallSession{
			ProviderCallID: "CA" + uuid.NewString(), PhoneNumberNormalized: b.lead.PhoneNumberNormalized,
		})
		upsertSummary(t, b.store, b.org.ID, &jack.Summary{PhoneNumberNormalized: b.lead.PhoneNumberNormalized, Summary: "Gone soon."})

		require.NoError(t, b.store.DeleteLead(t.Context(), b.org.ID, b.lead.ID))
		for _, cs := range []*jack.CallSession{withLead, byPhone} {
			_, err := find(t, b.store, b.org.ID, cs.VoiceConversationID, cs.ProviderCallID)
			requireCode(t, jack.ENOTFOUND, err)
		}
		snap, err := b.store.LoadConversation(t.Context(), b.org.ID, b.lead.PhoneNumberNormalized, 10)
		require.NoError(t, err)
		require.Nil(t, snap.Summary)
	})
}
