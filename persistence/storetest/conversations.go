package storetest

import (
	"encoding/json"
	"errors"
	"math"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jack-auto/jack"
	"github.com/stretchr/testify/require"
)

func testConversations(t *testing.T, f Features, newStore NewStoreFunc) {
	type testBundle struct {
		store jack.Store
		org   *jack.Organization
		owner *jack.User
		lead  *jack.Lead
	}
	setup := func(t *testing.T) *testBundle {
		t.Helper()
		store := newStore(t)
		org, owner := MustCreateOrganization(t, store)
		return &testBundle{store: store, org: org, owner: owner, lead: MustCreateLead(t, store, org.ID, NewPhone())}
	}
	// inTx runs fn in a conversation transaction of b's organization and requires it to commit.
	inTx := func(t *testing.T, b *testBundle, fn func(tx jack.ConversationTx) error) {
		t.Helper()
		require.NoError(t, b.store.InConversationTx(t.Context(), b.org.ID, fn))
	}
	updateConversation := func(t *testing.T, b *testBundle, ch jack.ConversationChange) *jack.Lead {
		t.Helper()
		var lead *jack.Lead
		inTx(t, b, func(tx jack.ConversationTx) (err error) {
			lead, err = tx.UpdateConversation(t.Context(), b.lead.ID, ch)
			return err
		})
		return lead
	}
	insertMessage := func(t *testing.T, b *testBundle, m *jack.Message) (*jack.Message, bool) {
		t.Helper()
		var (
			stored  *jack.Message
			created bool
		)
		inTx(t, b, func(tx jack.ConversationTx) (err error) {
			stored, created, err = tx.InsertMessage(t.Context(), m)
			return err
		})
		return stored, created
	}

	t.Run("InConversationTx", func(t *testing.T) {
		t.Parallel()

		t.Run("Commit", func(t *testing.T) {
			t.Parallel()
			b := setup(t)
			ctx := t.Context()
			phone := NewPhone()
			var lead *jack.Lead
			inTx(t, b, func(tx jack.ConversationTx) (err error) {
				lead, _, err = tx.EnsureLead(ctx, jack.NewLead(b.org.ID, "New Customer", phone, tx.Now()))
				if err != nil {
					return err
				}
				m := NewMessage(lead, "hi", tx.Now())
				if _, _, err := tx.InsertMessage(ctx, m); err != nil {
					return err
				}
				_, err = tx.UpdateConversation(ctx, lead.ID, jack.ConversationChange{Messages: 1, Activity: ptr(tx.Now())})
				return err
			})
			snap, err := b.store.LoadConversation(ctx, b.org.ID, phone, 10)
			require.NoError(t, err)
			require.NotNil(t, snap.Lead)
			require.Equal(t, lead.ID, snap.Lead.ID)
			require.Equal(t, 1, snap.Lead.TotalConversations)
			require.Len(t, snap.Messages, 1)
		})

		t.Run("RollbackOnError", func(t *testing.T) {
			t.Parallel()
			b := setup(t)
			ctx := t.Context()
			phone := NewPhone()
			boom := errors.New("boom")
			err := b.store.InConversationTx(ctx, b.org.ID, func(tx jack.ConversationTx) error {
				lead, _, err := tx.EnsureLead(ctx, jack.NewLead(b.org.ID, "Ghost", phone, tx.Now()))
				if err != nil {
					return err
				}
				if _, _, err := tx.InsertMessage(ctx, NewMessage(lead, "lost", tx.Now())); err != nil {
					return err
				}
				if _, err := tx.UpdateConversation(ctx, b.lead.ID, jack.ConversationChange{Messages: 5}); err != nil {
					return err
				}
				return boom
			})
			require.ErrorIs(t, err, boom)

			_, err = b.store.FindLeadByPhone(ctx, b.org.ID, phone)
			requireCode(t, jack.ENOTFOUND, err)
			snap, err := b.store.LoadConversation(ctx, b.org.ID, phone, 10)
			require.NoError(t, err)
			require.Empty(t, snap.Messages)
			got, err := b.store.FindLeadByID(ctx, b.org.ID, b.lead.ID)
			require.NoError(t, err)
			require.Zero(t, got.TotalConversations)
			require.Equal(t, b.lead.Version, got.Version)
		})
	})

	t.Run("Now", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		before := time.Now().Add(-time.Second)
		inTx(t, b, func(tx jack.ConversationTx) error {
			now := tx.Now()
			require.Equal(t, time.UTC, now.Location())
			require.True(t, now.After(before), "Now() %v is not current", now)
			require.Equal(t, now, tx.Now(), "one reading per transaction")
			return nil
		})
	})

	t.Run("FindLeadByPhone", func(t *testing.T) {
		t.Parallel()

		t.Run("OK", func(t *testing.T) {
			t.Parallel()
			b := setup(t)
			inTx(t, b, func(tx jack.ConversationTx) error {
				got, err := tx.FindLeadByPhone(t.Context(), b.lead.PhoneNumberNormalized)
				require.NoError(t, err)
				requireEqual(t, f, b.lead, got)
				return nil
			})
		})

		t.Run("ErrNotFound", func(t *testing.T) {
			t.Parallel()
			b := setup(t)
			inTx(t, b, func(tx jack.ConversationTx) error {
				_, err := tx.FindLeadByPhone(t.Context(), NewPhone())
				requireCode(t, jack.ENOTFOUND, err)
				return nil
			})
		})
	})

	t.Run("EnsureLead", func(t *testing.T) {
		t.Parallel()

		t.Run("Created", func(t *testing.T) {
			t.Parallel()
			b := setup(t)
			phone := NewPhone()
			var lead *jack.Lead
			inTx(t, b, func(tx jack.ConversationTx) error {
				var created bool
				var err error
				lead, created, err = tx.EnsureLead(t.Context(), jack.NewLead(b.org.ID, "", phone, tx.Now()))
				require.NoError(t, err)
				require.True(t, created)
				require.EqualValues(t, 1, lead.Version)
				requireTimeEqual(t, f, tx.Now(), lead.CreatedAt)
				return nil
			})
			got, err := b.store.FindLeadByPhone(t.Context(), b.org.ID, phone)
			require.NoError(t, err)
			requireEqual(t, f, lead, got)
		})

		t.Run("Existing", func(t *testing.T) {
			t.Parallel()
			b := setup(t)
			inTx(t, b, func(tx jack.ConversationTx) error {
				lead, created, err := tx.EnsureLead(t.Context(), jack.NewLead(b.org.ID, "Other Name", b.lead.PhoneNumberNormalized, tx.Now()))
				require.NoError(t, err)
				require.False(t, created)
				requireEqual(t, f, b.lead, lead)
				return nil
			})
		})
	})

	t.Run("UpdateConversation", func(t *testing.T) {
		t.Parallel()

		t.Run("Counters", func(t *testing.T) {
			t.Parallel()
			b := setup(t)
			activity := f.now().Add(time.Minute)
			lead := updateConversation(t, b, jack.ConversationChange{Messages: 2, Activity: &activity})
			require.Equal(t, 2, lead.TotalConversations)
			requireTimeEqual(t, f, activity, lead.LastActivity)
			require.Equal(t, b.lead.Version+1, lead.Version)
			require.False(t, lead.UpdatedAt.Before(b.lead.UpdatedAt))

			lead = updateConversation(t, b, jack.ConversationChange{Messages: 3})
			require.Equal(t, 5, lead.TotalConversations)
			requireTimeEqual(t, f, activity, lead.LastActivity, "a zero field changes nothing")
			require.Equal(t, b.lead.Version+2, lead.Version)

			got, err := b.store.FindLeadByID(t.Context(), b.org.ID, b.lead.ID)
			require.NoError(t, err)
			requireEqual(t, f, lead, got)
		})

		t.Run("OptOut", func(t *testing.T) {
			t.Parallel()
			b := setup(t)
			lead := updateConversation(t, b, jack.ConversationChange{OptOut: ptr(true)})
			require.True(t, lead.OptedOut())
			first := *lead.OptedOutAt

			lead = updateConversation(t, b, jack.ConversationChange{OptOut: ptr(true)})
			require.NotNil(t, lead.OptedOutAt)
			requireTimeEqual(t, f, first, *lead.OptedOutAt, "a second STOP keeps the first opt-out time")

			got, err := b.store.FindLeadByID(t.Context(), b.org.ID, b.lead.ID)
			require.NoError(t, err)
			require.NotNil(t, got.OptedOutAt)
			requireTimeEqual(t, f, first, *got.OptedOutAt)

			lead = updateConversation(t, b, jack.ConversationChange{OptOut: ptr(false)})
			require.False(t, lead.OptedOut())
			got, err = b.store.FindLeadByID(t.Context(), b.org.ID, b.lead.ID)
			require.NoError(t, err)
			require.Nil(t, got.OptedOutAt)
		})

		t.Run("AIPause", func(t *testing.T) {
			t.Parallel()
			b := setup(t)
			until := f.now().Add(time.Hour)
			lead := updateConversation(t, b, jack.ConversationChange{AIPausedUntil: &until})
			require.NotNil(t, lead.AIPausedUntil)
			requireTimeEqual(t, f, until, *lead.AIPausedUntil)
			require.True(t, lead.AIPaused(time.Now()))

			got, err := b.store.FindLeadByID(t.Context(), b.org.ID, b.lead.ID)
			require.NoError(t, err)
			require.True(t, got.AIPaused(time.Now()))

			lead = updateConversation(t, b, jack.ConversationChange{ResumeAI: true})
			require.Nil(t, lead.AIPausedUntil)
			got, err = b.store.FindLeadByID(t.Context(), b.org.ID, b.lead.ID)
			require.NoError(t, err)
			require.Nil(t, got.AIPausedUntil)
		})

		t.Run("Qualification", func(t *testing.T) {
			t.Parallel()
			b := setup(t)
			touch := f.now()
			progress := jack.Progress{CurrentStep: jack.StepAppointment, CompletedSteps: []string{jack.StepContacted, jack.StepBudget, jack.StepCredit}}
			lead := updateConversation(t, b, jack.ConversationChange{
				Touchpoint:       &touch,
				ChaseStatus:      ptr(jack.ChaseAppointment),
				VehicleInterest:  ptr("blue SUV"),
				BudgetRange:      ptr("$25k"),
				CreditScoreRange: ptr("good"),
				ScriptProgress:   &progress,
			})
			require.NotNil(t, lead.LastTouchpoint)
			requireTimeEqual(t, f, touch, *lead.LastTouchpoint)
			require.Equal(t, jack.ChaseAppointment, lead.ChaseStatus)
			require.Equal(t, "blue SUV", lead.VehiclePreference)
			require.Equal(t, "$25k", lead.BudgetRange)
			require.Equal(t, "good", lead.CreditScoreRange)
			require.Equal(t, progress, lead.ScriptProgress)

			got, err := b.store.FindLeadByID(t.Context(), b.org.ID, b.lead.ID)
			require.NoError(t, err)
			requireEqual(t, f, lead, got)
		})

		t.Run("ScoreAndSentiment", func(t *testing.T) {
			t.Parallel()
			b := setup(t)
			lead := updateConversation(t, b, jack.ConversationChange{LeadQualityScore: ptr(72.5), Sentiment: ptr("positive")})
			require.Equal(t, ptr(72.5), lead.LeadQualityScore)
			require.Equal(t, "positive", lead.Sentiment)
			require.Equal(t, b.lead.Version+1, lead.Version)
			got, err := b.store.FindLeadByID(t.Context(), b.org.ID, b.lead.ID)
			require.NoError(t, err)
			requireEqual(t, f, lead, got)

			lead = updateConversation(t, b, jack.ConversationChange{Messages: 1})
			require.Equal(t, ptr(72.5), lead.LeadQualityScore, "a zero field changes nothing")
			require.Equal(t, "positive", lead.Sentiment)

			lead = updateConversation(t, b, jack.ConversationChange{LeadQualityScore: ptr(0.0), Sentiment: ptr("negative")})
			require.Equal(t, ptr(0.0), lead.LeadQualityScore, "zero is a score")
			require.Equal(t, "negative", lead.Sentiment)
		})

		t.Run("ErrInvalidScoreOrSentiment", func(t *testing.T) {
			t.Parallel()
			b := setup(t)
			for name, ch := range map[string]jack.ConversationChange{
				"ScoreAbove100":    {LeadQualityScore: ptr(100.5)},
				"ScoreNegative":    {LeadQualityScore: ptr(-1.0)},
				"ScoreNaN":         {LeadQualityScore: ptr(math.NaN())},
				"ScoreInf":         {LeadQualityScore: ptr(math.Inf(1))},
				"UnknownSentiment": {Sentiment: ptr("ecstatic"), Messages: 1},
			} {
				err := b.store.InConversationTx(t.Context(), b.org.ID, func(tx jack.ConversationTx) error {
					_, err := tx.UpdateConversation(t.Context(), b.lead.ID, ch)
					return err
				})
				require.Equal(t, jack.EUNPROCESSABLE, jack.ErrorCode(err), "%s: %v", name, err)
			}
			got, err := b.store.FindLeadByID(t.Context(), b.org.ID, b.lead.ID)
			require.NoError(t, err)
			requireEqual(t, f, b.lead, got, "an invalid change changes nothing")
		})

		t.Run("BumpsVersionForUpdateLead", func(t *testing.T) {
			t.Parallel()
			b := setup(t)
			updateConversation(t, b, jack.ConversationChange{Messages: 1})
			_, err := b.store.UpdateLead(t.Context(), b.org.ID, b.lead.ID, jack.LeadUpdate{CustomerName: ptr("Stale"), Version: ptr(b.lead.Version)})
			requireCode(t, jack.ECONFLICT, err)
		})

		t.Run("ErrNotFound", func(t *testing.T) {
			t.Parallel()
			b := setup(t)
			err := b.store.InConversationTx(t.Context(), b.org.ID, func(tx jack.ConversationTx) error {
				_, err := tx.UpdateConversation(t.Context(), uuid.NewString(), jack.ConversationChange{Messages: 1})
				return err
			})
			requireCode(t, jack.ENOTFOUND, err)
		})
	})

	t.Run("InsertMessage", func(t *testing.T) {
		t.Parallel()

		t.Run("OK", func(t *testing.T) {
			t.Parallel()
			b := setup(t)
			m := &jack.Message{
				LeadID:                b.lead.ID,
				PhoneNumberNormalized: b.lead.PhoneNumberNormalized,
				Content:               "Hello from the dealership",
				SentBy:                jack.SentByAgent,
				Type:                  jack.ChannelSMS,
				Timestamp:             f.now(),
				ProviderMessageID:     "SM" + strings.ReplaceAll(uuid.NewString(), "-", ""),
				Status:                jack.StatusQueued,
				IdempotencyKey:        uuid.NewString(),
				AuthorUserID:          &b.owner.ID,
				ErrorCode:             "",
				ErrorMessage:          "",
				VoiceConversationID:   "",
			}
			stored, created := insertMessage(t, b, m)
			require.True(t, created)
			require.NotEqual(t, uuid.Nil, stored.ID)
			require.Equal(t, b.org.ID, stored.OrganizationID)

			page, err := b.store.FindMessages(t.Context(), b.org.ID, jack.MessageFilter{LeadID: b.lead.ID})
			require.NoError(t, err)
			requireEqual(t, f, []*jack.Message{stored}, page.Messages)
		})

		t.Run("Voice", func(t *testing.T) {
			t.Parallel()
			b := setup(t)
			secs := 12.5
			m := NewMessage(b.lead, "I'd like a test drive", f.now())
			m.Type = jack.ChannelVoice
			m.ProviderCallID = "CA123"
			m.VoiceConversationID = "conv_123"
			m.TimeInCallSecs = &secs
			stored, created := insertMessage(t, b, m)
			require.True(t, created)

			page, err := b.store.FindMessages(t.Context(), b.org.ID, jack.MessageFilter{LeadID: b.lead.ID})
			require.NoError(t, err)
			requireEqual(t, f, []*jack.Message{stored}, page.Messages)
		})

		t.Run("Media", func(t *testing.T) {
			t.Parallel()
			b := setup(t)
			ctx := t.Context()
			media := []jack.MessageMedia{
				{URL: "https://api.twilio.com/2010-04-01/Accounts/AC1/Messages/MM1/Media/ME1", ContentType: "image/jpeg"},
				{URL: "https://api.twilio.com/2010-04-01/Accounts/AC1/Messages/MM1/Media/ME2", ContentType: "application/pdf"},
			}
			m := NewMessage(b.lead, "my trade-in", f.now())
			m.ProviderMessageID = "SMmedia"
			m.Media = media
			stored, created := insertMessage(t, b, m)
			require.True(t, created)
			require.Equal(t, media, stored.Media)
			plain, _ := insertMessage(t, b, NewMessage(b.lead, "no photo", f.now().Add(time.Second)))
			require.Nil(t, plain.Media, "no media reads as nil")
			empty := NewMessage(b.lead, "empty media", f.now().Add(2*time.Second))
			empty.Media = []jack.MessageMedia{}
			emptyStored, _ := insertMessage(t, b, empty)
			require.Nil(t, emptyStored.Media, "empty media reads as nil")

			page, err := b.store.FindMessages(ctx, b.org.ID, jack.MessageFilter{LeadID: b.lead.ID})
			require.NoError(t, err)
			requireEqual(t, f, []*jack.Message{stored, plain, emptyStored}, page.Messages)
			snap, err := b.store.LoadConversation(ctx, b.org.ID, b.lead.PhoneNumberNormalized, 10)
			require.NoError(t, err)
			requireEqual(t, f, []*jack.Message{stored, plain, emptyStored}, snap.Messages)
			inTx(t, b, func(tx jack.ConversationTx) error {
				got, err := tx.FindMessageByProviderID(ctx, "SMmedia")
				require.NoError(t, err)
				require.Equal(t, media, got.Media)
				return nil
			})
			retry := NewMessage(b.lead, "my trade-in", f.now())
			retry.ProviderMessageID = "SMmedia"
			dup, created := insertMessage(t, b, retry)
			require.False(t, created)
			require.Equal(t, media, dup.Media, "a duplicate returns the stored media")

			b2, err := json.Marshal(plain)
			require.NoError(t, err)
			require.NotContains(t, string(b2), `"media"`, "JSON omits absent media")
		})

		// A webhook retry (same MessageSid) or a client retry (same idempotency key) is harmless.
		for _, tc := range []struct {
			name string
			key  func(m *jack.Message)
		}{
			{"DuplicateMessageSid", func(m *jack.Message) { m.ProviderMessageID = "SMdup" }},
			{"DuplicateIdempotencyKey", func(m *jack.Message) { m.IdempotencyKey = "key-1" }},
		} {
			t.Run(tc.name, func(t *testing.T) {
				t.Parallel()
				b := setup(t)
				first := NewMessage(b.lead, "first", f.now())
				tc.key(first)
				stored, created := insertMessage(t, b, first)
				require.True(t, created)

				retry := NewMessage(b.lead, "retry", f.now().Add(time.Second))
				tc.key(retry)
				got, created := insertMessage(t, b, retry)
				require.False(t, created)
				requireEqual(t, f, stored, got)

				snap, err := b.store.LoadConversation(t.Context(), b.org.ID, b.lead.PhoneNumberNormalized, 10)
				require.NoError(t, err)
				require.Equal(t, 1, snap.TotalMessages)
			})
		}

		t.Run("EmptyKeysNeverCollide", func(t *testing.T) {
			t.Parallel()
			b := setup(t)
			for i := range 3 {
				_, created := insertMessage(t, b, NewMessage(b.lead, "no keys", f.now()))
				require.True(t, created, "message %d", i)
			}
			snap, err := b.store.LoadConversation(t.Context(), b.org.ID, b.lead.PhoneNumberNormalized, 10)
			require.NoError(t, err)
			require.Equal(t, 3, snap.TotalMessages)
		})

		t.Run("SameSidOtherOrganization", func(t *testing.T) {
			t.Parallel()
			b := setup(t)
			m := NewMessage(b.lead, "a", f.now())
			m.ProviderMessageID, m.IdempotencyKey = "SMshared", "shared-key"
			_, created := insertMessage(t, b, m)
			require.True(t, created)

			other, _ := MustCreateOrganization(t, b.store)
			otherLead := MustCreateLead(t, b.store, other.ID, NewPhone())
			m2 := NewMessage(otherLead, "b", f.now())
			m2.ProviderMessageID, m2.IdempotencyKey = "SMshared", "shared-key"
			var created2 bool
			require.NoError(t, b.store.InConversationTx(t.Context(), other.ID, func(tx jack.ConversationTx) (err error) {
				_, created2, err = tx.InsertMessage(t.Context(), m2)
				return err
			}))
			require.True(t, created2, "keys are unique per organization")
		})
	})

	t.Run("FindMessageByProviderID", func(t *testing.T) {
		t.Parallel()

		t.Run("OK", func(t *testing.T) {
			t.Parallel()
			b := setup(t)
			m := NewMessage(b.lead, "hi", f.now())
			m.ProviderMessageID = "SMfind"
			stored, _ := insertMessage(t, b, m)
			inTx(t, b, func(tx jack.ConversationTx) error {
				got, err := tx.FindMessageByProviderID(t.Context(), "SMfind")
				require.NoError(t, err)
				requireEqual(t, f, stored, got)
				return nil
			})
		})

		t.Run("ErrNotFound", func(t *testing.T) {
			t.Parallel()
			b := setup(t)
			insertMessage(t, b, NewMessage(b.lead, "no sid", f.now()))
			inTx(t, b, func(tx jack.ConversationTx) error {
				_, err := tx.FindMessageByProviderID(t.Context(), "SMmissing")
				requireCode(t, jack.ENOTFOUND, err)
				return nil
			})
		})
	})

	t.Run("UpdateMessageDelivery", func(t *testing.T) {
		t.Parallel()

		t.Run("OK", func(t *testing.T) {
			t.Parallel()
			b := setup(t)
			m := NewMessage(b.lead, "outbound", f.now())
			m.SentBy, m.Status = jack.SentByAgent, jack.StatusPending
			stored, _ := insertMessage(t, b, m)

			stored.ProviderMessageID = "SMsent"
			stored.Status = jack.StatusSent
			inTx(t, b, func(tx jack.ConversationTx) error { return tx.UpdateMessageDelivery(t.Context(), stored) })

			stored.Status, stored.ErrorCode, stored.ErrorMessage = jack.StatusUndelivered, "30003", "Unreachable destination handset"
			inTx(t, b, func(tx jack.ConversationTx) error {
				got, err := tx.FindMessageByProviderID(t.Context(), "SMsent")
				require.NoError(t, err)
				require.Equal(t, jack.StatusSent, got.Status)
				return tx.UpdateMessageDelivery(t.Context(), stored)
			})

			page, err := b.store.FindMessages(t.Context(), b.org.ID, jack.MessageFilter{LeadID: b.lead.ID})
			require.NoError(t, err)
			requireEqual(t, f, []*jack.Message{stored}, page.Messages)
		})
	})

	t.Run("LoadConversation", func(t *testing.T) {
		t.Parallel()

		t.Run("Empty", func(t *testing.T) {
			t.Parallel()
			b := setup(t)
			snap, err := b.store.LoadConversation(t.Context(), b.org.ID, NewPhone(), 10)
			require.NoError(t, err)
			require.Nil(t, snap.Lead)
			require.Empty(t, snap.Messages)
			require.Nil(t, snap.Summary)
			require.Zero(t, snap.TotalMessages)
			require.Zero(t, snap.SMSMessages)
			require.Zero(t, snap.VoiceMessages)
		})

		t.Run("OK", func(t *testing.T) {
			t.Parallel()
			b := setup(t)
			base := f.now().Add(-time.Hour)
			var all []*jack.Message
			for i := range 6 {
				m := NewMessage(b.lead, "msg", base.Add(time.Duration(i)*time.Minute))
				if i%3 == 0 {
					m.Type = jack.ChannelVoice
				}
				all = append(all, MustInsertMessage(t, b.store, b.org.ID, m))
			}
			// Two messages at the same instant come back in id order.
			tie := NewMessage(b.lead, "tie", base.Add(10*time.Minute))
			tie2 := NewMessage(b.lead, "tie2", base.Add(10*time.Minute))
			all = append(all, MustInsertMessage(t, b.store, b.org.ID, tie), MustInsertMessage(t, b.store, b.org.ID, tie2))
			sortMessages(all)

			snap, err := b.store.LoadConversation(t.Context(), b.org.ID, b.lead.PhoneNumberNormalized, 4)
			require.NoError(t, err)
			requireEqual(t, f, b.lead, snap.Lead)
			requireEqual(t, f, all[len(all)-4:], snap.Messages)
			require.Equal(t, 8, snap.TotalMessages)
			require.Equal(t, 2, snap.VoiceMessages)
			require.Equal(t, 6, snap.SMSMessages)
			require.Nil(t, snap.Summary)
		})
	})

	t.Run("FindMessages", func(t *testing.T) {
		t.Parallel()

		t.Run("Pagination", func(t *testing.T) {
			t.Parallel()
			b := setup(t)
			other := MustCreateLead(t, b.store, b.org.ID, NewPhone())
			MustInsertMessage(t, b.store, b.org.ID, NewMessage(other, "not in this timeline", f.now()))
			base := f.now().Add(-time.Hour)
			var all []*jack.Message
			for i := range 10 {
				// Pairs share a timestamp, so pages must break ties by id.
				all = append(all, MustInsertMessage(t, b.store, b.org.ID, NewMessage(b.lead, "m", base.Add(time.Duration(i/2)*time.Minute))))
			}
			sortMessages(all)

			var pages [][]*jack.Message
			cursor := ""
			for {
				page, err := b.store.FindMessages(t.Context(), b.org.ID, jack.MessageFilter{LeadID: b.lead.ID, Limit: 4, Cursor: cursor})
				require.NoError(t, err)
				pages = append(pages, page.Messages)
				if page.NextCursor == "" {
					break
				}
				require.Less(t, len(pages), 10, "pagination does not end")
				cursor = page.NextCursor
			}
			require.Len(t, pages, 3)
			requireEqual(t, f, all[6:], pages[0], "the first page is the most recent, oldest first")
			requireEqual(t, f, all[2:6], pages[1])
			requireEqual(t, f, all[:2], pages[2])
		})

		t.Run("Empty", func(t *testing.T) {
			t.Parallel()
			b := setup(t)
			page, err := b.store.FindMessages(t.Context(), b.org.ID, jack.MessageFilter{LeadID: b.lead.ID})
			require.NoError(t, err)
			require.NotNil(t, page.Messages, "an empty page is [], never null")
			require.Empty(t, page.Messages)
			require.Empty(t, page.NextCursor)
		})

		t.Run("ErrNotFound", func(t *testing.T) {
			t.Parallel()
			b := setup(t)
			_, err := b.store.FindMessages(t.Context(), b.org.ID, jack.MessageFilter{LeadID: uuid.NewString()})
			requireCode(t, jack.ENOTFOUND, err)
		})

		t.Run("ErrInvalidCursor", func(t *testing.T) {
			t.Parallel()
			b := setup(t)
			_, err := b.store.FindMessages(t.Context(), b.org.ID, jack.MessageFilter{LeadID: b.lead.ID, Cursor: "not-a-cursor"})
			requireCode(t, jack.EINVALID, err)

			// A lead page's cursor is not a message cursor.
			for range 2 {
				MustCreateLead(t, b.store, b.org.ID, NewPhone())
			}
			leads, err := b.store.FindLeads(t.Context(), b.org.ID, jack.LeadFilter{Limit: 1})
			require.NoError(t, err)
			require.NotEmpty(t, leads.NextCursor)
			_, err = b.store.FindMessages(t.Context(), b.org.ID, jack.MessageFilter{LeadID: b.lead.ID, Cursor: leads.NextCursor})
			requireCode(t, jack.EINVALID, err)
		})
	})
}

// sortMessages orders messages as timelines are: by timestamp, then id.
func sortMessages(ms []*jack.Message) {
	slices.SortFunc(ms, func(a, b *jack.Message) int {
		if c := a.Timestamp.Compare(b.Timestamp); c != 0 {
			return c
		}
		return strings.Compare(a.ID.String(), b.ID.String())
	})
}
