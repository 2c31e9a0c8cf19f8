package storetest

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jack-auto/jack"
	"github.com/stretchr/testify/require"
)

// MustCreateIntegration creates an enabled webhook integration of orgID to url for events.
func MustCreateIntegration(tb testing.TB, store jack.Store, orgID uuid.UUID, url string, events ...string) *jack.Integration {
	tb.Helper()
	i := &jack.Integration{Kind: jack.IntegrationWebhook, URL: url, Events: events, Enabled: true, Secret: "whsec_test"}
	require.NoError(tb, store.CreateIntegration(tb.Context(), orgID, i))
	return i
}

// MustInsertEvents stores events in a conversation transaction of orgID (ids assigned there).
func MustInsertEvents(tb testing.TB, store jack.Store, orgID uuid.UUID, events ...*jack.Event) {
	tb.Helper()
	require.NoError(tb, store.InConversationTx(tb.Context(), orgID, func(tx jack.ConversationTx) error {
		return tx.InsertEvents(tb.Context(), events...)
	}))
}

func testIntegrations(t *testing.T, f Features, newStore NewStoreFunc) {
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
	newDelivery := func(i *jack.Integration, leadID string) *jack.IntegrationDelivery {
		return &jack.IntegrationDelivery{ID: uuid.Must(uuid.NewV7()), IntegrationID: i.ID, EventID: uuid.Must(uuid.NewV7()),
			EventType: jack.IntegrationLeadUpdated, LeadID: leadID, Payload: json.RawMessage(`{"b":1,"a":2}`)}
	}
	feedOf := func(t *testing.T, b *testBundle) *jack.IntegrationFeed {
		t.Helper()
		feeds, err := b.store.ClaimIntegrationFeeds(t.Context(), "node-a", time.Now(), time.Minute, 0)
		require.NoError(t, err)
		require.Len(t, feeds, 1)
		return feeds[0]
	}
	dispatch := func(t *testing.T, b *testBundle, ds ...*jack.IntegrationDelivery) {
		t.Helper()
		feed := feedOf(t, b)
		require.NoError(t, b.store.CommitIntegrationDispatch(t.Context(), b.org.ID,
			jack.IntegrationDispatch{From: feed.After, To: feed.After, Deliveries: ds}))
	}
	claim := func(t *testing.T, b *testBundle, now time.Time) []*jack.IntegrationDelivery {
		t.Helper()
		ds, err := b.store.ClaimDueDeliveries(t.Context(), now, time.Minute, 0)
		require.NoError(t, err)
		require.NotNil(t, ds)
		return ds
	}

	t.Run("CRUD", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		i := MustCreateIntegration(t, b.store, b.org.ID, "https://crm.example.com/hook", jack.IntegrationLeadCreated)
		require.NotEqual(t, uuid.Nil, i.ID)
		got, err := b.store.FindIntegrationByID(t.Context(), b.org.ID, i.ID)
		require.NoError(t, err)
		require.Equal(t, "whsec_test", got.Secret)
		requireEqual(t, f, i, got)

		email := &jack.Integration{Kind: jack.IntegrationADFEmail, To: "leads@crm.example.com", Enabled: true,
			Events: []string{jack.IntegrationLeadQualified}}
		require.NoError(t, b.store.CreateIntegration(t.Context(), b.org.ID, email))
		list, err := b.store.FindIntegrations(t.Context(), b.org.ID)
		require.NoError(t, err)
		require.Len(t, list, 2)
		require.Equal(t, i.ID, list[0].ID, "oldest first")

		off := false
		upd, err := b.store.UpdateIntegration(t.Context(), b.org.ID, i.ID, jack.IntegrationUpdate{Enabled: &off,
			Events: []string{jack.IntegrationLeadUpdated, jack.IntegrationCallCompleted}})
		require.NoError(t, err)
		require.False(t, upd.Enabled)
		got, err = b.store.FindIntegrationByID(t.Context(), b.org.ID, i.ID)
		require.NoError(t, err)
		require.Equal(t, []string{jack.IntegrationLeadUpdated, jack.IntegrationCallCompleted}, got.Events)

		bad := ""
		_, err = b.store.UpdateIntegration(t.Context(), b.org.ID, i.ID, jack.IntegrationUpdate{URL: &bad})
		requireCode(t, jack.EUNPROCESSABLE, err)
		requireCode(t, jack.EUNPROCESSABLE, b.store.CreateIntegration(t.Context(), b.org.ID,
			&jack.Integration{Kind: "fax", Events: []string{jack.IntegrationLeadCreated}}))

		require.NoError(t, b.store.DeleteIntegration(t.Context(), b.org.ID, i.ID))
		_, err = b.store.FindIntegrationByID(t.Context(), b.org.ID, i.ID)
		requireCode(t, jack.ENOTFOUND, err)
		requireCode(t, jack.ENOTFOUND, b.store.DeleteIntegration(t.Context(), b.org.ID, i.ID))
	})

	t.Run("ErrOtherOrganization", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		i := MustCreateIntegration(t, b.store, b.org.ID, "https://crm.example.com/hook", jack.IntegrationLeadCreated)
		dispatch(t, b, newDelivery(i, b.lead.ID))
		d := claim(t, b, time.Now())[0]
		other, _ := MustCreateOrganization(t, b.store)

		_, err := b.store.FindIntegrationByID(t.Context(), other.ID, i.ID)
		requireCode(t, jack.ENOTFOUND, err)
		list, err := b.store.FindIntegrations(t.Context(), other.ID)
		require.NoError(t, err)
		require.Empty(t, list)
		on := true
		_, err = b.store.UpdateIntegration(t.Context(), other.ID, i.ID, jack.IntegrationUpdate{Enabled: &on})
		requireCode(t, jack.ENOTFOUND, err)
		requireCode(t, jack.ENOTFOUND, b.store.DeleteIntegration(t.Context(), other.ID, i.ID))
		_, err = b.store.FindDeliveries(t.Context(), other.ID, i.ID, 0)
		requireCode(t, jack.ENOTFOUND, err)
		_, err = b.store.Redeliver(t.Context(), other.ID, i.ID, d.ID)
		requireCode(t, jack.ENOTFOUND, err)
		_, err = b.store.RecordDeliveryAttempt(t.Context(), other.ID, d.ID, jack.DeliveryAttempt{At: time.Now(), Succeeded: true})
		requireCode(t, jack.ENOTFOUND, err)
		states, err := b.store.IntegrationLeadStates(t.Context(), other.ID, []string{b.lead.ID})
		require.NoError(t, err)
		require.Empty(t, states)
		_, err = b.store.FindIntegrationByID(t.Context(), b.org.ID, i.ID)
		require.NoError(t, err, "still there for its own organization")
	})

	t.Run("Feed", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		before := jack.NewEvent(jack.EventLeadUpdated, b.org.ID, b.lead.ID, b.lead.PhoneNumberNormalized, f.now(), b.lead)
		MustInsertEvents(t, b.store, b.org.ID, before)

		feeds, err := b.store.ClaimIntegrationFeeds(t.Context(), "node-a", time.Now(), time.Minute, 0)
		require.NoError(t, err)
		require.Empty(t, feeds, "no integration, no feed")

		i := MustCreateIntegration(t, b.store, b.org.ID, "https://crm.example.com/hook", jack.IntegrationLeadUpdated)
		feed := feedOf(t, b)
		require.Equal(t, before.ID, feed.After, "a new feed starts after the latest event")
		require.Equal(t, b.org.ID, feed.OrganizationID)

		other, err := b.store.ClaimIntegrationFeeds(t.Context(), "node-b", time.Now(), time.Minute, 0)
		require.NoError(t, err)
		require.Empty(t, other, "one node at a time")
		later, err := b.store.ClaimIntegrationFeeds(t.Context(), "node-b", time.Now().Add(2*time.Minute), time.Minute, 0)
		require.NoError(t, err)
		require.Len(t, later, 1, "an expired claim goes to another node")

		after := jack.NewEvent(jack.EventLeadUpdated, b.org.ID, b.lead.ID, b.lead.PhoneNumberNormalized, f.now(), b.lead)
		MustInsertEvents(t, b.store, b.org.ID, after)
		events, err := b.store.FindEvents(t.Context(), b.org.ID, jack.EventFilter{After: feed.After})
		require.NoError(t, err)
		require.Len(t, events, 1)

		d := newDelivery(i, b.lead.ID)
		commit := jack.IntegrationDispatch{From: feed.After, To: after.ID, Deliveries: []*jack.IntegrationDelivery{d},
			LeadStates: map[string]string{b.lead.ID: "new|"}}
		require.NoError(t, b.store.CommitIntegrationDispatch(t.Context(), b.org.ID, commit))
		requireCode(t, jack.ECONFLICT, b.store.CommitIntegrationDispatch(t.Context(), b.org.ID, commit))

		states, err := b.store.IntegrationLeadStates(t.Context(), b.org.ID, []string{b.lead.ID, "nobody"})
		require.NoError(t, err)
		require.Equal(t, map[string]string{b.lead.ID: "new|"}, states)

		// The same event again (a dispatcher that lost its commit's answer) is skipped.
		again := *d
		again.ID = uuid.Must(uuid.NewV7())
		require.NoError(t, b.store.CommitIntegrationDispatch(t.Context(), b.org.ID,
			jack.IntegrationDispatch{From: after.ID, To: after.ID, Deliveries: []*jack.IntegrationDelivery{&again}}))
		list, err := b.store.FindDeliveries(t.Context(), b.org.ID, i.ID, 0)
		require.NoError(t, err)
		require.Len(t, list, 1)
		require.Equal(t, d.EventID, list[0].EventID)
		require.Equal(t, jack.DeliveryPending, list[0].Status)

		// Paused, the organization's feed still moves (what happens meanwhile is skipped).
		off := false
		_, err = b.store.UpdateIntegration(t.Context(), b.org.ID, i.ID, jack.IntegrationUpdate{Enabled: &off})
		require.NoError(t, err)
		paused, err := b.store.ClaimIntegrationFeeds(t.Context(), "node-a", time.Now().Add(time.Hour), time.Minute, 0)
		require.NoError(t, err)
		require.Len(t, paused, 1)

		// All integrations gone, events go on; a new integration starts after them, not at the
		// old position.
		require.NoError(t, b.store.DeleteIntegration(t.Context(), b.org.ID, i.ID))
		gone := jack.NewEvent(jack.EventLeadUpdated, b.org.ID, b.lead.ID, b.lead.PhoneNumberNormalized, f.now(), b.lead)
		MustInsertEvents(t, b.store, b.org.ID, gone)
		MustCreateIntegration(t, b.store, b.org.ID, "https://crm.example.com/other", jack.IntegrationLeadUpdated)
		feeds, err = b.store.ClaimIntegrationFeeds(t.Context(), "node-a", time.Now().Add(2*time.Hour), time.Minute, 0)
		require.NoError(t, err)
		require.Len(t, feeds, 1)
		require.Equal(t, gone.ID, feeds[0].After)
		MustInsertEvents(t, b.store, b.org.ID, jack.NewEvent(jack.EventLeadUpdated, b.org.ID, b.lead.ID, b.lead.PhoneNumberNormalized, f.now(), b.lead))
		MustCreateIntegration(t, b.store, b.org.ID, "https://crm.example.com/third", jack.IntegrationLeadUpdated)
		feeds, err = b.store.ClaimIntegrationFeeds(t.Context(), "node-a", time.Now().Add(3*time.Hour), time.Minute, 0)
		require.NoError(t, err)
		require.Equal(t, gone.ID, feeds[0].After, "a second integration leaves the feed where it is")
	})

	t.Run("Deliveries", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		i := MustCreateIntegration(t, b.store, b.org.ID, "https://crm.example.com/hook", jack.IntegrationLeadUpdated)
		other := MustCreateLead(t, b.store, b.org.ID, NewPhone())
		first, second, third := newDelivery(i, b.lead.ID), newDelivery(i, b.lead.ID), newDelivery(i, other.ID)
		dispatch(t, b, first, second, third)

		now := time.Now()
		got := claim(t, b, now)
		require.Len(t, got, 2, "the lead's second event waits for its first")
		require.Equal(t, first.ID, got[0].ID)
		require.Equal(t, third.ID, got[1].ID)
		require.JSONEq(t, `{"b":1,"a":2}`, string(got[0].Payload))
		require.Equal(t, `{"b":1,"a":2}`, string(got[0].Payload), "the payload's bytes are kept as they are")
		require.Empty(t, claim(t, b, now), "claimed until the lease ends")

		code := 500
		next := now.Add(time.Hour)
		d, err := b.store.RecordDeliveryAttempt(t.Context(), b.org.ID, first.ID,
			jack.DeliveryAttempt{At: now, ResponseCode: &code, LatencyMillis: 12, Error: "HTTP 500", NextAttemptAt: &next})
		require.NoError(t, err)
		require.Equal(t, jack.DeliveryPending, d.Status)
		require.Equal(t, 1, d.Attempts)
		require.Equal(t, 500, *d.ResponseCode)
		require.Equal(t, int64(12), *d.LatencyMillis)
		requireTimeEqual(t, f, next, *d.NextAttemptAt)
		require.Len(t, d.History, 1)
		require.Equal(t, 500, *d.History[0].ResponseCode)
		require.Equal(t, "HTTP 500", d.History[0].Error)
		require.False(t, d.History[0].Succeeded)
		requireTimeEqual(t, f, now, d.History[0].At)
		require.Empty(t, claim(t, b, now.Add(30*time.Second)), "not due yet, and the second still waits")

		_, err = b.store.RecordDeliveryAttempt(t.Context(), b.org.ID, third.ID, jack.DeliveryAttempt{At: now, Succeeded: true})
		require.NoError(t, err)

		// A final failure lets the lead's next event go.
		d, err = b.store.RecordDeliveryAttempt(t.Context(), b.org.ID, first.ID, jack.DeliveryAttempt{At: now, Error: "gave up"})
		require.NoError(t, err)
		require.Equal(t, jack.DeliveryFailed, d.Status)
		require.Nil(t, d.NextAttemptAt)
		require.Len(t, d.History, 2, "every attempt is remembered")
		require.Equal(t, "gave up", d.History[1].Error)
		got = claim(t, b, now.Add(2*time.Minute))
		require.Len(t, got, 1)
		require.Equal(t, second.ID, got[0].ID)

		ok := 204
		d, err = b.store.RecordDeliveryAttempt(t.Context(), b.org.ID, second.ID, jack.DeliveryAttempt{At: now, Succeeded: true, ResponseCode: &ok})
		require.NoError(t, err)
		require.Equal(t, jack.DeliverySucceeded, d.Status)
		require.NotNil(t, d.DeliveredAt)
		_, err = b.store.RecordDeliveryAttempt(t.Context(), b.org.ID, second.ID, jack.DeliveryAttempt{At: now, Succeeded: true})
		requireCode(t, jack.ECONFLICT, err)

		// Redelivery: pending again with the same event id, due at once.
		d, err = b.store.Redeliver(t.Context(), b.org.ID, i.ID, first.ID)
		require.NoError(t, err)
		require.Equal(t, jack.DeliveryPending, d.Status)
		require.Equal(t, first.EventID, d.EventID)
		got = claim(t, b, time.Now().Add(3*time.Minute))
		require.Len(t, got, 1)
		require.Equal(t, first.ID, got[0].ID)

		list, err := b.store.FindDeliveries(t.Context(), b.org.ID, i.ID, 0)
		require.NoError(t, err)
		require.Len(t, list, 3)
		require.Equal(t, third.ID, list[0].ID, "newest first")
		require.Len(t, list[2].History, 2, "a redelivery keeps the earlier attempts")
		require.NotNil(t, list[1].History)
		require.True(t, list[1].History[0].Succeeded)
		_, err = b.store.Redeliver(t.Context(), b.org.ID, i.ID, uuid.New())
		requireCode(t, jack.ENOTFOUND, err)

		require.NoError(t, b.store.DeleteIntegration(t.Context(), b.org.ID, i.ID))
		require.Empty(t, claim(t, b, time.Now().Add(time.Hour)), "deleting an integration drops its deliveries")
	})
}
