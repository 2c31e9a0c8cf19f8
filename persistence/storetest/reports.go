package storetest

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jack-auto/jack"
	"github.com/stretchr/testify/require"
)

// testReports covers ReportStore: Analytics over seeded data whose every figure is known, and
// the cross-organization Audit. Each test's store is its own (a file, a schema), so the audit
// sees only the test's data.
func testReports(t *testing.T, f Features, newStore NewStoreFunc) {
	t.Run("Analytics", func(t *testing.T) { testAnalytics(t, f, newStore) })
	t.Run("Audit", func(t *testing.T) { testAudit(t, f, newStore) })
}

func testAnalytics(t *testing.T, f Features, newStore NewStoreFunc) {
	// The period: four UTC days, Mar 1 to Mar 4; its end is midnight, so Mar 5 is not a day of it.
	from := time.Date(2025, 3, 1, 0, 0, 0, 0, time.UTC)
	to := from.AddDate(0, 0, 4)
	at := func(day, hour, minute, second int) time.Time {
		return time.Date(2025, 3, day, hour, minute, second, 0, time.UTC)
	}
	message := func(lead *jack.Lead, sentBy, channel, status string, ts time.Time) *jack.Message {
		m := NewMessage(lead, sentBy+" says hi", ts)
		m.SentBy, m.Type, m.Status = sentBy, channel, status
		return m
	}
	call := func(lead *jack.Lead, direction, outcome string, started time.Time, duration *int) *jack.CallSession {
		return &jack.CallSession{
			LeadID: lead.ID, VoiceConversationID: "conv_" + uuid.NewString(), PhoneNumberNormalized: lead.PhoneNumberNormalized,
			Direction: direction, CallOutcome: outcome, StartedAt: started, DurationSeconds: duration,
		}
	}
	seed := func(t *testing.T, store jack.Store, orgID uuid.UUID, msgs []*jack.Message, calls []*jack.CallSession) {
		t.Helper()
		for _, m := range msgs {
			MustInsertMessage(t, store, orgID, m)
		}
		require.NoError(t, store.InConversationTx(t.Context(), orgID, func(tx jack.ConversationTx) error {
			for _, cs := range calls {
				if _, _, err := tx.CreateCallSession(t.Context(), cs); err != nil {
					return err
				}
			}
			return nil
		}))
	}
	// createLead creates a lead of orgID at status; with a settable clock, at createdAt.
	createLead := func(t *testing.T, store jack.Store, orgID uuid.UUID, status string, optedOut bool, createdAt time.Time) *jack.Lead {
		t.Helper()
		if f.SetClock != nil {
			f.SetClock(store, func() time.Time { return createdAt })
			defer f.SetClock(store, time.Now)
		}
		lead := jack.NewLead(orgID, "Customer", NewPhone(), createdAt)
		lead.ChaseStatus = status
		if optedOut {
			lead.OptedOutAt = ptr(createdAt)
		}
		require.NoError(t, store.CreateLead(t.Context(), orgID, lead))
		return lead
	}
	// zeroAnalytics returns the analytics of a period with no activity.
	zeroAnalytics := func(from, to time.Time, days ...string) *jack.Analytics {
		a := &jack.Analytics{From: from, To: to, Messages: jack.MessageAnalytics{ByDay: []jack.DayCounts{}}}
		for _, d := range days {
			a.Messages.ByDay = append(a.Messages.ByDay, jack.DayCounts{Date: d})
		}
		for _, s := range jack.ChaseStatuses {
			a.Funnel = append(a.Funnel, jack.FunnelStep{ChaseStatus: s})
		}
		return a
	}

	t.Run("OK", func(t *testing.T) {
		t.Parallel()
		store := newStore(t)
		ctx := t.Context()
		org, _ := MustCreateOrganization(t, store)
		inPeriod, before := at(2, 8, 0, 0), from.AddDate(0, 0, -9)
		first := createLead(t, store, org.ID, jack.ChaseNew, false, inPeriod)
		second := createLead(t, store, org.ID, jack.ChaseEngaged, false, inPeriod)
		createLead(t, store, org.ID, jack.ChaseQualified, false, before)
		createLead(t, store, org.ID, jack.ChaseQualified, false, before)
		createLead(t, store, org.ID, jack.ChaseWon, true, before)

		seed(t, store, org.ID, []*jack.Message{
			// first: a turn of two customer texts answered in 120s (the failed reply never
			// reached the customer), a follow-up, a voice turn answered in 10s, and a last
			// text answered only after the period.
			message(first, jack.SentByCustomer, jack.ChannelSMS, jack.StatusReceived, at(1, 10, 0, 0)),
			message(first, jack.SentByCustomer, jack.ChannelSMS, jack.StatusReceived, at(1, 10, 0, 30)),
			message(first, jack.SentByAgent, jack.ChannelSMS, jack.StatusFailed, at(1, 10, 1, 0)),
			message(first, jack.SentByAgent, jack.ChannelSMS, jack.StatusDelivered, at(1, 10, 2, 0)),
			message(first, jack.SentByAgent, jack.ChannelSMS, jack.StatusDelivered, at(1, 10, 5, 0)),
			message(first, jack.SentByCustomer, jack.ChannelVoice, jack.StatusReceived, at(2, 9, 0, 0)),
			message(first, jack.SentByAgent, jack.ChannelVoice, jack.StatusSent, at(2, 9, 0, 10)),
			message(first, jack.SentByCustomer, jack.ChannelSMS, jack.StatusReceived, at(4, 23, 59, 0)),
			message(first, jack.SentByAgent, jack.ChannelSMS, jack.StatusDelivered, at(5, 0, 0, 30)),
			// second: the customer's text came before the period, so the reply opens no turn.
			message(second, jack.SentByCustomer, jack.ChannelSMS, jack.StatusReceived, from.Add(-time.Minute)),
			message(second, jack.SentByAgent, jack.ChannelSMS, jack.StatusDelivered, at(1, 0, 0, 10)),
		}, []*jack.CallSession{
			call(first, jack.CallInbound, jack.OutcomeSuccess, at(1, 12, 0, 0), ptr(60)),
			call(first, jack.CallInbound, jack.OutcomeFailure, at(2, 12, 0, 0), ptr(30)),
			call(first, jack.CallOutbound, jack.OutcomeFailed, at(3, 12, 0, 0), nil),
			call(first, jack.CallOutbound, "", at(4, 12, 0, 0), nil),
			call(first, jack.CallInbound, jack.OutcomeUnknown, at(4, 13, 0, 0), ptr(90)),
			call(second, jack.CallOutbound, jack.OutcomeSuccess, from.AddDate(0, 0, -2), ptr(1000)),
			call(second, jack.CallInbound, jack.OutcomeSuccess, to, ptr(5)),
		})

		// Another organization's activity in the same period counts for it alone.
		orgB, _ := MustCreateOrganization(t, store)
		leadB := jack.NewLead(orgB.ID, "B", first.PhoneNumberNormalized, f.now())
		leadB.ChaseStatus = jack.ChaseLost
		require.NoError(t, store.CreateLead(ctx, orgB.ID, leadB))
		seed(t, store, orgB.ID, []*jack.Message{
			message(leadB, jack.SentByCustomer, jack.ChannelSMS, jack.StatusReceived, at(1, 10, 0, 0)),
			message(leadB, jack.SentByAgent, jack.ChannelVoice, jack.StatusSent, at(1, 10, 0, 1)),
		}, []*jack.CallSession{call(leadB, jack.CallInbound, jack.OutcomeSuccess, at(1, 11, 0, 0), ptr(500))})

		want := zeroAnalytics(from, to, "2025-03-01", "2025-03-02", "2025-03-03", "2025-03-04")
		want.Messages.Total = 9
		want.Messages.ByChannel = jack.ChannelCounts{SMS: 7, Voice: 2}
		want.Messages.ByDay[0].SMS = 6
		want.Messages.ByDay[1].Voice = 2
		want.Messages.ByDay[3].SMS = 1
		want.Calls = jack.CallAnalytics{
			Total: 5, Inbound: 3, Outbound: 2, TotalDurationSeconds: 180, AverageDurationSeconds: 60,
			Outcomes: jack.CallOutcomes{Success: 1, Failure: 1, Failed: 1, Unknown: 2},
		}
		want.Funnel[slices.Index(jack.ChaseStatuses, jack.ChaseNew)].Count = 1
		want.Funnel[slices.Index(jack.ChaseStatuses, jack.ChaseEngaged)].Count = 1
		want.Funnel[slices.Index(jack.ChaseStatuses, jack.ChaseQualified)].Count = 2
		want.Funnel[slices.Index(jack.ChaseStatuses, jack.ChaseWon)].Count = 1
		want.MedianFirstResponseSeconds = ptr(65.0) // (120 + 10) / 2
		want.Leads = jack.LeadAnalytics{Total: 5, New: 2, OptedOut: 1}
		if f.SetClock == nil {
			want.Leads.New = 0 // every lead was created now, after the period
		}

		got, err := store.Analytics(ctx, org.ID, from, to)
		require.NoError(t, err)
		requireEqual(t, f, want, got)

		// The single answered turn of organization B.
		gotB, err := store.Analytics(ctx, orgB.ID, from, to)
		require.NoError(t, err)
		require.Equal(t, 2, gotB.Messages.Total)
		require.Equal(t, 1, gotB.Calls.Total)
		require.Equal(t, 1, gotB.Leads.Total)
		require.Equal(t, ptr(1.0), gotB.MedianFirstResponseSeconds)
	})

	t.Run("Empty", func(t *testing.T) {
		t.Parallel()
		store := newStore(t)
		org, _ := MustCreateOrganization(t, store)
		// A period that does not end at midnight includes the day it ends on.
		from, to := at(1, 12, 0, 0), at(3, 6, 0, 0)
		got, err := store.Analytics(t.Context(), org.ID, from, to)
		require.NoError(t, err)
		requireEqual(t, f, zeroAnalytics(from, to, "2025-03-01", "2025-03-02", "2025-03-03"), got)
	})

	t.Run("LongestPeriod", func(t *testing.T) {
		t.Parallel()
		store := newStore(t)
		org, _ := MustCreateOrganization(t, store)
		got, err := store.Analytics(t.Context(), org.ID, from, from.AddDate(0, 0, 366))
		require.NoError(t, err)
		require.Len(t, got.Messages.ByDay, 366)
		require.Equal(t, "2025-03-01", got.Messages.ByDay[0].Date)
		require.Equal(t, "2026-03-01", got.Messages.ByDay[365].Date)
	})

	t.Run("ErrInvalid", func(t *testing.T) {
		t.Parallel()
		store := newStore(t)
		org, _ := MustCreateOrganization(t, store)
		for _, tc := range []struct {
			name     string
			from, to time.Time
		}{
			{"Empty", from, from},
			{"Reversed", to, from},
			{"TooLong", from, from.AddDate(0, 0, 366).Add(time.Microsecond)},
			{"Unset", time.Time{}, to.AddDate(1, 0, 0)},
		} {
			_, err := store.Analytics(t.Context(), org.ID, tc.from, tc.to)
			requireCode(t, jack.EINVALID, err)
		}
	})
}

func testAudit(t *testing.T, f Features, newStore NewStoreFunc) {
	noOrphans := func() map[string]int64 {
		m := map[string]int64{}
		for _, table := range []string{"call_sessions", "conversation_summaries", "conversations", "events", "leads",
			"organization_phone_numbers", "reminders", "user_profiles"} {
			m[table] = 0
		}
		return m
	}

	t.Run("Clean", func(t *testing.T) {
		t.Parallel()
		store := newStore(t)
		org, _ := MustCreateOrganization(t, store)
		MustCreateLead(t, store, org.ID, NewPhone())
		pn := MustCreatePhoneNumber(t, store, org.ID, NewPhone(), true)
		_, err := store.UpdatePhoneNumber(t.Context(), org.ID, pn.PhoneNumber, jack.PhoneNumberUpdate{VoicePhoneID: ptr("phnum_1")})
		require.NoError(t, err)

		got, err := store.Audit(t.Context())
		require.NoError(t, err)
		require.Equal(t, &jack.AuditReport{
			RowsWithoutOrganization: noOrphans(),
			SharedCustomerPhones:    []jack.SharedPhone{},
			NumbersWithoutVoice:     []jack.NumberRef{},
			InvalidLeadPhones:       []jack.LeadRef{},
			OverdueReminders:        []jack.ReminderRef{},
		}, got, "empty lists are [], never null")
		require.False(t, got.Problems())
	})

	t.Run("Findings", func(t *testing.T) {
		t.Parallel()
		store := newStore(t)
		ctx := t.Context()
		orgs := make([]uuid.UUID, 3)
		for i := range orgs {
			org, _ := MustCreateOrganization(t, store)
			orgs[i] = org.ID
		}
		sortedOrgs := func(ids ...uuid.UUID) []uuid.UUID {
			return slices.SortedFunc(slices.Values(ids), func(a, b uuid.UUID) int { return strings.Compare(a.String(), b.String()) })
		}

		// Shared customers: one of two dealerships, one of all three; the rest are their own.
		twice, thrice := NewPhone(), NewPhone()
		for _, o := range orgs[:2] {
			MustCreateLead(t, store, o, twice)
		}
		for _, o := range orgs {
			MustCreateLead(t, store, o, thrice)
			MustCreateLead(t, store, o, NewPhone())
		}
		wantShared := []jack.SharedPhone{
			{Phone: twice, Organizations: sortedOrgs(orgs[0], orgs[1])},
			{Phone: thrice, Organizations: sortedOrgs(orgs...)},
		}
		slices.SortFunc(wantShared, func(a, b jack.SharedPhone) int { return strings.Compare(a.Phone, b.Phone) })

		// Numbers: active without an ElevenLabs id are reported; inactive ones and those with an id are not.
		var wantNumbers []jack.NumberRef
		for _, o := range orgs {
			bare := MustCreatePhoneNumber(t, store, o, NewPhone(), true)
			wantNumbers = append(wantNumbers, jack.NumberRef{OrganizationID: o, Phone: bare.PhoneNumber})
			MustCreatePhoneNumber(t, store, o, NewPhone(), false)
			ready := MustCreatePhoneNumber(t, store, o, NewPhone(), true)
			_, err := store.UpdatePhoneNumber(ctx, o, ready.PhoneNumber, jack.PhoneNumberUpdate{VoicePhoneID: ptr("phnum_" + ready.PhoneNumber)})
			require.NoError(t, err)
		}
		// An id set and then cleared is no id.
		cleared := MustCreatePhoneNumber(t, store, orgs[1], NewPhone(), true)
		for _, id := range []string{"phnum_x", ""} {
			_, err := store.UpdatePhoneNumber(ctx, orgs[1], cleared.PhoneNumber, jack.PhoneNumberUpdate{VoicePhoneID: ptr(id)})
			require.NoError(t, err)
		}
		wantNumbers = append(wantNumbers, jack.NumberRef{OrganizationID: orgs[1], Phone: cleared.PhoneNumber})
		slices.SortFunc(wantNumbers, func(a, b jack.NumberRef) int {
			return cmpOrg(a.OrganizationID, b.OrganizationID, a.Phone, b.Phone)
		})

		// Invalid phones can only come from outside the Store.
		wantInvalid := []jack.LeadRef{}
		if f.InsertRawLead == nil {
			t.Log("Features.InsertRawLead is nil: the audit's invalid phones are not checked")
		} else {
			for _, l := range []jack.LeadRef{
				{OrganizationID: orgs[0], LeadID: "raw-b", Phone: "12345"},           // no country code
				{OrganizationID: orgs[0], LeadID: "raw-a", Phone: "+10000000000"},    // E.164's shape, no such number
				{OrganizationID: orgs[2], LeadID: "raw-c", Phone: "+1 604 555 0101"}, // formatted, not normalized
			} {
				f.InsertRawLead(t, store, l.OrganizationID, l.LeadID, l.Phone)
				wantInvalid = append(wantInvalid, l)
			}
			f.InsertRawLead(t, store, orgs[1], "raw-valid", NewPhone())
			slices.SortFunc(wantInvalid, func(a, b jack.LeadRef) int {
				return cmpOrg(a.OrganizationID, b.OrganizationID, a.LeadID, b.LeadID)
			})
		}

		got, err := store.Audit(ctx)
		require.NoError(t, err)
		require.Equal(t, &jack.AuditReport{
			RowsWithoutOrganization: noOrphans(),
			SharedCustomerPhones:    wantShared,
			NumbersWithoutVoice:     wantNumbers,
			InvalidLeadPhones:       wantInvalid,
			OverdueReminders:        []jack.ReminderRef{},
		}, got)
		require.True(t, got.Problems())
	})
}

// cmpOrg orders by organization id, then by a second key.
func cmpOrg(a, b uuid.UUID, ka, kb string) int {
	if c := strings.Compare(a.String(), b.String()); c != 0 {
		return c
	}
	return strings.Compare(ka, kb)
}
