package postgres_test

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/jack-auto/jack"
	"github.com/jack-auto/jack/persistence"
	"github.com/jack-auto/jack/persistence/postgres"
	"github.com/jack-auto/jack/persistence/postgres/postgrestest"
)

// mustCreateOrg creates an organization with an owner whose email is unique to it.
func mustCreateOrg(tb testing.TB, s jack.Store, name string) *jack.Organization {
	tb.Helper()
	org := &jack.Organization{Name: name}
	owner := &jack.User{Email: fmt.Sprintf("owner-%s@example.com", uuid.NewString()), PasswordHash: "hash", FullName: name + " owner"}
	require.NoError(tb, s.CreateOrganization(context.Background(), org, owner))
	return org
}

func requireCode(tb testing.TB, code string, err error) {
	tb.Helper()
	require.Error(tb, err)
	require.Equal(tb, code, jack.ErrorCode(err), "error: %v", err)
}

func TestOpen(t *testing.T) {
	t.Parallel()

	t.Run("ErrUnavailable", func(t *testing.T) {
		t.Parallel()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_, err := postgres.Open(ctx, postgres.Config{URL: "postgres://postgres@127.0.0.1:1/none?sslmode=disable&connect_timeout=2"})
		requireCode(t, jack.EUNAVAILABLE, err)
	})

	t.Run("ErrBadURL", func(t *testing.T) {
		t.Parallel()
		_, err := postgres.Open(context.Background(), postgres.Config{URL: "mysql://nope"})
		require.Error(t, err)
	})

	t.Run("PingAfterClose", func(t *testing.T) {
		t.Parallel()
		s, err := postgres.Open(context.Background(), postgres.Config{URL: postgrestest.URL(t)})
		require.NoError(t, err)
		require.NoError(t, s.Ping(context.Background()))
		require.NoError(t, s.Close())
		requireCode(t, jack.EUNAVAILABLE, s.Ping(context.Background()))
		require.NoError(t, s.Close())
	})
}

func TestStore_Organizations(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := postgrestest.MustOpenStore(t)
	fixed := time.Date(2026, 1, 2, 3, 4, 5, 678901234, time.UTC)
	s.Now = func() time.Time { return fixed }

	org := &jack.Organization{Name: "Acme Motors", Settings: jack.OrganizationSettings{DefaultRegion: "CA"}}
	owner := &jack.User{Email: " Owner@Example.COM ", PasswordHash: "hash"}
	require.NoError(t, s.CreateOrganization(ctx, org, owner))
	require.Equal(t, fixed.Truncate(time.Microsecond), org.CreatedAt)
	require.Equal(t, "owner@example.com", owner.Email)
	require.Equal(t, jack.RoleOwner, owner.Role)
	require.Equal(t, org.ID, owner.OrganizationID)

	got, err := s.FindOrganizationByID(ctx, org.ID)
	require.NoError(t, err)
	require.Equal(t, org, got)

	u, err := s.FindUserByEmail(ctx, "OWNER@example.com")
	require.NoError(t, err)
	require.Equal(t, owner, u)

	t.Run("ErrEmailTaken", func(t *testing.T) {
		err := s.CreateOrganization(ctx, &jack.Organization{Name: "Other"}, &jack.User{Email: "owner@EXAMPLE.com", PasswordHash: "h"})
		requireCode(t, jack.ECONFLICT, err)
		require.Equal(t, "A user with this email already exists.", jack.ErrorMessage(err))
		err = s.CreateUser(ctx, org.ID, &jack.User{Email: "OWNER@example.com", PasswordHash: "h"})
		requireCode(t, jack.ECONFLICT, err)
	})

	t.Run("ErrNotFound", func(t *testing.T) {
		_, err := s.FindOrganizationByID(ctx, uuid.New())
		requireCode(t, jack.ENOTFOUND, err)
		_, err = s.UpdateOrganization(ctx, uuid.New(), jack.OrganizationUpdate{})
		requireCode(t, jack.ENOTFOUND, err)
		requireCode(t, jack.ENOTFOUND, s.CreateUser(ctx, uuid.New(), &jack.User{Email: "x@example.com", PasswordHash: "h"}))
		_, err = s.FindUserByEmail(ctx, "nobody@example.com")
		requireCode(t, jack.ENOTFOUND, err)
	})

	t.Run("Update", func(t *testing.T) {
		name, domain := "Acme Auto", "acme.example"
		got, err := s.UpdateOrganization(ctx, org.ID, jack.OrganizationUpdate{Name: &name, Domain: &domain})
		require.NoError(t, err)
		require.Equal(t, name, got.Name)
		require.Equal(t, domain, got.Domain)
		require.Equal(t, "CA", got.Settings.DefaultRegion)
		empty := ""
		_, err = s.UpdateOrganization(ctx, org.ID, jack.OrganizationUpdate{Name: &empty})
		requireCode(t, jack.EUNPROCESSABLE, err)
	})

	t.Run("Users", func(t *testing.T) {
		agent := &jack.User{Email: "agent@example.com", PasswordHash: "h", FullName: "Agent"}
		require.NoError(t, s.CreateUser(ctx, org.ID, agent))
		users, err := s.FindUsers(ctx, org.ID)
		require.NoError(t, err)
		require.Len(t, users, 2)
		require.Equal(t, jack.RoleAgent, agent.Role)

		other := mustCreateOrg(t, s, "Other")
		_, err = s.FindUserByID(ctx, other.ID, agent.ID)
		requireCode(t, jack.ENOTFOUND, err)
		got, err := s.FindUserByID(ctx, org.ID, agent.ID)
		require.NoError(t, err)
		require.Equal(t, agent, got)
	})
}

func TestStore_Leads(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := postgrestest.MustOpenStore(t)
	org, other := mustCreateOrg(t, s, "A"), mustCreateOrg(t, s, "B")

	var leads []*jack.Lead
	for i, name := range []string{"Ann 100%", "Bob_Smith", "Carla", "Dan", "Eve"} {
		l := &jack.Lead{CustomerName: name, PhoneNumberNormalized: fmt.Sprintf("+1604555%04d", 200+i), Email: fmt.Sprintf("Lead%d@Example.com", i)}
		require.NoError(t, s.CreateLead(ctx, org.ID, l))
		leads = append(leads, l)
	}
	require.Equal(t, jack.ChaseNew, leads[0].ChaseStatus)
	require.Equal(t, "lead0@example.com", leads[0].Email)
	require.EqualValues(t, 1, leads[0].Version)

	t.Run("ErrDuplicatePhone", func(t *testing.T) {
		err := s.CreateLead(ctx, org.ID, &jack.Lead{CustomerName: "Again", PhoneNumberNormalized: leads[0].PhoneNumberNormalized})
		requireCode(t, jack.ECONFLICT, err)
		// Another organization may have the same customer.
		require.NoError(t, s.CreateLead(ctx, other.ID, &jack.Lead{CustomerName: "Shared", PhoneNumberNormalized: leads[0].PhoneNumberNormalized}))
	})

	t.Run("ErrAssigneeOfAnotherOrganization", func(t *testing.T) {
		users, err := s.FindUsers(ctx, other.ID)
		require.NoError(t, err)
		err = s.CreateLead(ctx, org.ID, &jack.Lead{CustomerName: "X", PhoneNumberNormalized: "+16045550299", AssignedTo: &users[0].ID})
		requireCode(t, jack.EUNPROCESSABLE, err)
	})

	t.Run("FindByIDAndPhone", func(t *testing.T) {
		got, err := s.FindLeadByID(ctx, org.ID, leads[1].ID)
		require.NoError(t, err)
		require.Equal(t, leads[1], got)
		got, err = s.FindLeadByPhone(ctx, org.ID, leads[1].PhoneNumberNormalized)
		require.NoError(t, err)
		require.Equal(t, leads[1], got)
		_, err = s.FindLeadByID(ctx, other.ID, leads[1].ID)
		requireCode(t, jack.ENOTFOUND, err)
		_, err = s.FindLeadByID(ctx, org.ID, "not-a-uuid")
		requireCode(t, jack.ENOTFOUND, err)
	})

	t.Run("FindPages", func(t *testing.T) {
		var seen []string
		cursor := ""
		for {
			page, err := s.FindLeads(ctx, org.ID, jack.LeadFilter{Limit: 2, Cursor: cursor})
			require.NoError(t, err)
			for _, l := range page.Leads {
				seen = append(seen, l.CustomerName)
			}
			if cursor = page.NextCursor; cursor == "" {
				break
			}
		}
		require.Equal(t, []string{"Eve", "Dan", "Carla", "Bob_Smith", "Ann 100%"}, seen)

		_, err := s.FindLeads(ctx, org.ID, jack.LeadFilter{Cursor: "garbage!"})
		requireCode(t, jack.EINVALID, err)
		page, err := s.FindLeads(ctx, org.ID, jack.LeadFilter{Limit: 1})
		require.NoError(t, err)
		_, err = s.FindLeads(ctx, org.ID, jack.LeadFilter{Cursor: page.NextCursor, Sort: jack.LeadSortActivity})
		requireCode(t, jack.EINVALID, err)
	})

	t.Run("FindFiltered", func(t *testing.T) {
		q := func(s string) *string { return &s }
		cases := []struct {
			name   string
			filter jack.LeadFilter
			want   []string
		}{
			{"Percent", jack.LeadFilter{Q: q("100%")}, []string{"Ann 100%"}},
			{"Underscore", jack.LeadFilter{Q: q("b_s")}, []string{"Bob_Smith"}},
			{"UnderscoreIsNoWildcard", jack.LeadFilter{Q: q("a_l")}, nil},
			{"CaseInsensitive", jack.LeadFilter{Q: q("CARLA")}, []string{"Carla"}},
			{"Phone", jack.LeadFilter{Q: q("5550203")}, []string{"Dan"}},
			{"Email", jack.LeadFilter{Q: q("LEAD4@")}, []string{"Eve"}},
			{"Status", jack.LeadFilter{Status: q(jack.ChaseWon)}, nil},
		}
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				page, err := s.FindLeads(ctx, org.ID, tc.filter)
				require.NoError(t, err)
				require.NotNil(t, page.Leads)
				var names []string
				for _, l := range page.Leads {
					names = append(names, l.CustomerName)
				}
				require.Equal(t, tc.want, names)
			})
		}
	})

	t.Run("Update", func(t *testing.T) {
		status, stale := jack.ChaseContacted, int64(1)
		got, err := s.UpdateLead(ctx, org.ID, leads[2].ID, jack.LeadUpdate{ChaseStatus: &status, Version: &stale})
		require.NoError(t, err)
		require.Equal(t, jack.ChaseContacted, got.ChaseStatus)
		require.EqualValues(t, 2, got.Version)

		_, err = s.UpdateLead(ctx, org.ID, leads[2].ID, jack.LeadUpdate{ChaseStatus: &status, Version: &stale})
		requireCode(t, jack.ECONFLICT, err)
		bad := "bogus"
		_, err = s.UpdateLead(ctx, org.ID, leads[2].ID, jack.LeadUpdate{ChaseStatus: &bad})
		requireCode(t, jack.EUNPROCESSABLE, err)
		_, err = s.UpdateLead(ctx, other.ID, leads[2].ID, jack.LeadUpdate{ChaseStatus: &status})
		requireCode(t, jack.ENOTFOUND, err)
	})

	t.Run("Delete", func(t *testing.T) {
		l := leads[3]
		err := s.InConversationTx(ctx, org.ID, func(tx jack.ConversationTx) error {
			if _, _, err := tx.InsertMessage(ctx, &jack.Message{LeadID: l.ID, PhoneNumberNormalized: l.PhoneNumberNormalized, Content: "hi", SentBy: jack.SentByCustomer}); err != nil {
				return err
			}
			return tx.InsertEvents(ctx, jack.NewEvent(jack.EventSMSReceived, org.ID, l.ID, l.PhoneNumberNormalized, tx.Now(), nil))
		})
		require.NoError(t, err)
		requireCode(t, jack.ENOTFOUND, s.DeleteLead(ctx, other.ID, l.ID))
		require.NoError(t, s.DeleteLead(ctx, org.ID, l.ID))
		requireCode(t, jack.ENOTFOUND, s.DeleteLead(ctx, org.ID, l.ID))
		snap, err := s.LoadConversation(ctx, org.ID, l.PhoneNumberNormalized, 10)
		require.NoError(t, err)
		require.Nil(t, snap.Lead)
		require.Zero(t, snap.TotalMessages)
		events, err := s.FindEvents(ctx, org.ID, jack.EventFilter{LeadID: l.ID})
		require.NoError(t, err)
		require.Empty(t, events)
	})
}

func TestStore_PhoneNumbers(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := postgrestest.MustOpenStore(t)
	org, other := mustCreateOrg(t, s, "A"), mustCreateOrg(t, s, "B")

	_, err := s.ActivePhoneNumber(ctx, org.ID)
	requireCode(t, jack.ENOTFOUND, err)

	inactive := &jack.PhoneNumber{PhoneNumber: "+16045550300", ProviderPhoneID: "PN0"}
	first := &jack.PhoneNumber{PhoneNumber: "+16045550301", ProviderPhoneID: "PN1", IsActive: true}
	second := &jack.PhoneNumber{PhoneNumber: "+16045550302", ProviderPhoneID: "PN2", IsActive: true, VoicePhoneID: "el"}
	for _, pn := range []*jack.PhoneNumber{inactive, first, second} {
		require.NoError(t, s.CreatePhoneNumber(ctx, org.ID, pn))
	}
	requireCode(t, jack.ECONFLICT, s.CreatePhoneNumber(ctx, other.ID, &jack.PhoneNumber{PhoneNumber: first.PhoneNumber, ProviderPhoneID: "PNx"}))

	got, err := s.ActivePhoneNumber(ctx, org.ID)
	require.NoError(t, err)
	require.Equal(t, first, got)

	all, err := s.FindPhoneNumbers(ctx, org.ID)
	require.NoError(t, err)
	require.Equal(t, []*jack.PhoneNumber{second, first, inactive}, all)
	none, err := s.FindPhoneNumbers(ctx, uuid.New())
	require.NoError(t, err)
	require.NotNil(t, none)
	require.Empty(t, none)

	id, err := s.OrganizationByPhoneNumber(ctx, second.PhoneNumber)
	require.NoError(t, err)
	require.Equal(t, org.ID, id)
	_, err = s.OrganizationByPhoneNumber(ctx, inactive.PhoneNumber)
	requireCode(t, jack.ENOTFOUND, err)

	off := false
	updated, err := s.UpdatePhoneNumber(ctx, org.ID, first.PhoneNumber, jack.PhoneNumberUpdate{IsActive: &off})
	require.NoError(t, err)
	require.False(t, updated.IsActive)
	got, err = s.ActivePhoneNumber(ctx, org.ID)
	require.NoError(t, err)
	require.Equal(t, second.ID, got.ID)
	require.Equal(t, "el", got.VoicePhoneID)
	_, err = s.UpdatePhoneNumber(ctx, other.ID, second.PhoneNumber, jack.PhoneNumberUpdate{IsActive: &off})
	requireCode(t, jack.ENOTFOUND, err)

	require.NoError(t, s.CreateLead(ctx, org.ID, &jack.Lead{CustomerName: "C", PhoneNumberNormalized: "+16045550350"}))
	require.NoError(t, s.CreateLead(ctx, other.ID, &jack.Lead{CustomerName: "C", PhoneNumberNormalized: "+16045550350"}))
	orgs, err := s.OrganizationsByCustomerPhone(ctx, "+16045550350")
	require.NoError(t, err)
	require.ElementsMatch(t, []uuid.UUID{org.ID, other.ID}, orgs)
	orgs, err = s.OrganizationsByCustomerPhone(ctx, "+16045550399")
	require.NoError(t, err)
	require.NotNil(t, orgs)
	require.Empty(t, orgs)
}

func TestStore_Conversation(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := postgrestest.MustOpenStore(t)
	org, other := mustCreateOrg(t, s, "A"), mustCreateOrg(t, s, "B")
	const phone = "+16045550400"
	base := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

	var lead *jack.Lead
	err := s.InConversationTx(ctx, org.ID, func(tx jack.ConversationTx) error {
		var created bool
		var err error
		lead, created, err = tx.EnsureLead(ctx, jack.NewLead(org.ID, "Customer", phone, tx.Now()))
		if err != nil || !created {
			return fmt.Errorf("ensure (created %v): %w", created, err)
		}
		for i := range 5 {
			typ := jack.ChannelSMS
			if i == 4 {
				typ = jack.ChannelVoice
			}
			m := &jack.Message{LeadID: lead.ID, PhoneNumberNormalized: phone, Content: fmt.Sprint(i), SentBy: jack.SentByCustomer,
				Type: typ, Timestamp: base.Add(time.Duration(i) * time.Minute), ProviderMessageID: fmt.Sprintf("SM%d", i)}
			if _, _, err := tx.InsertMessage(ctx, m); err != nil {
				return err
			}
		}
		return nil
	})
	require.NoError(t, err)

	t.Run("EnsureLeadExisting", func(t *testing.T) {
		err := s.InConversationTx(ctx, org.ID, func(tx jack.ConversationTx) error {
			got, created, err := tx.EnsureLead(ctx, jack.NewLead(org.ID, "Someone", phone, tx.Now()))
			require.NoError(t, err)
			require.False(t, created)
			require.Equal(t, lead.ID, got.ID)
			return nil
		})
		require.NoError(t, err)
	})

	t.Run("Duplicates", func(t *testing.T) {
		err := s.InConversationTx(ctx, org.ID, func(tx jack.ConversationTx) error {
			got, created, err := tx.InsertMessage(ctx, &jack.Message{LeadID: lead.ID, PhoneNumberNormalized: phone, Content: "again", SentBy: jack.SentByCustomer, ProviderMessageID: "SM2"})
			require.NoError(t, err)
			require.False(t, created)
			require.Equal(t, "2", got.Content)

			first, created, err := tx.InsertMessage(ctx, &jack.Message{LeadID: lead.ID, PhoneNumberNormalized: phone, Content: "keyed", SentBy: jack.SentByAgent, IdempotencyKey: "k1", Status: jack.StatusPending})
			require.NoError(t, err)
			require.True(t, created)
			again, created, err := tx.InsertMessage(ctx, &jack.Message{LeadID: lead.ID, PhoneNumberNormalized: phone, Content: "keyed 2", SentBy: jack.SentByAgent, IdempotencyKey: "k1"})
			require.NoError(t, err)
			require.False(t, created)
			require.Equal(t, first, again)
			return fmt.Errorf("roll back")
		})
		require.EqualError(t, err, "roll back")
	})

	t.Run("ErrLeadOfAnotherOrganization", func(t *testing.T) {
		err := s.InConversationTx(ctx, other.ID, func(tx jack.ConversationTx) error {
			_, _, err := tx.InsertMessage(ctx, &jack.Message{LeadID: lead.ID, PhoneNumberNormalized: phone, Content: "x", SentBy: jack.SentByAgent})
			return err
		})
		requireCode(t, jack.ENOTFOUND, err)
		_, err = s.FindMessages(ctx, other.ID, jack.MessageFilter{LeadID: lead.ID})
		requireCode(t, jack.ENOTFOUND, err)
	})

	t.Run("Load", func(t *testing.T) {
		snap, err := s.LoadConversation(ctx, org.ID, phone, 3)
		require.NoError(t, err)
		require.Equal(t, lead.ID, snap.Lead.ID)
		require.Equal(t, 5, snap.TotalMessages)
		require.Equal(t, 4, snap.SMSMessages)
		require.Equal(t, 1, snap.VoiceMessages)
		require.Nil(t, snap.Summary)
		var contents []string
		for _, m := range snap.Messages {
			contents = append(contents, m.Content)
		}
		require.Equal(t, []string{"2", "3", "4"}, contents)

		empty, err := s.LoadConversation(ctx, other.ID, phone, 3)
		require.NoError(t, err)
		require.Nil(t, empty.Lead)
		require.NotNil(t, empty.Messages)
		require.Empty(t, empty.Messages)
	})

	t.Run("FindPagesBackInTime", func(t *testing.T) {
		var pages [][]string
		cursor := ""
		for {
			page, err := s.FindMessages(ctx, org.ID, jack.MessageFilter{LeadID: lead.ID, Limit: 2, Cursor: cursor})
			require.NoError(t, err)
			var contents []string
			for _, m := range page.Messages {
				contents = append(contents, m.Content)
			}
			pages = append(pages, contents)
			if cursor = page.NextCursor; cursor == "" {
				break
			}
		}
		require.Equal(t, [][]string{{"3", "4"}, {"1", "2"}, {"0"}}, pages)
		_, err := s.FindMessages(ctx, org.ID, jack.MessageFilter{LeadID: lead.ID, Cursor: "%%%"})
		requireCode(t, jack.EINVALID, err)
		forged := persistence.EncodeCursor(persistence.CursorMessages, persistence.Cursor{Time: base, ID: "not-a-uuid"})
		_, err = s.FindMessages(ctx, org.ID, jack.MessageFilter{LeadID: lead.ID, Cursor: forged})
		requireCode(t, jack.EINVALID, err)
	})

	t.Run("Delivery", func(t *testing.T) {
		err := s.InConversationTx(ctx, org.ID, func(tx jack.ConversationTx) error {
			m, err := tx.FindMessageByProviderID(ctx, "SM1")
			if err != nil {
				return err
			}
			m.Status, m.ErrorCode, m.ErrorMessage = jack.StatusFailed, "30003", "Unreachable"
			return tx.UpdateMessageDelivery(ctx, m)
		})
		require.NoError(t, err)
		err = s.InConversationTx(ctx, org.ID, func(tx jack.ConversationTx) error {
			m, err := tx.FindMessageByProviderID(ctx, "SM1")
			require.NoError(t, err)
			require.Equal(t, jack.StatusFailed, m.Status)
			require.Equal(t, "30003", m.ErrorCode)
			_, err = tx.FindMessageByProviderID(ctx, "SM-none")
			requireCode(t, jack.ENOTFOUND, err)
			return nil
		})
		require.NoError(t, err)
		err = s.InConversationTx(ctx, other.ID, func(tx jack.ConversationTx) error {
			_, err := tx.FindMessageByProviderID(ctx, "SM1")
			return err
		})
		requireCode(t, jack.ENOTFOUND, err)
	})

	t.Run("UpdateConversation", func(t *testing.T) {
		yes, no := true, false
		pause := base.Add(time.Hour)
		var optedOut time.Time
		err := s.InConversationTx(ctx, org.ID, func(tx jack.ConversationTx) error {
			l, err := tx.UpdateConversation(ctx, lead.ID, jack.ConversationChange{
				Messages: 2, OptOut: &yes, AIPausedUntil: &pause,
				ScriptProgress: &jack.Progress{CurrentStep: jack.StepBudget, CompletedSteps: []string{jack.StepContacted, jack.StepVehicleInterest}},
			})
			require.NoError(t, err)
			require.Equal(t, tx.Now(), *l.OptedOutAt)
			optedOut = *l.OptedOutAt
			require.Equal(t, pause, *l.AIPausedUntil)
			require.Equal(t, 2, l.TotalConversations)
			require.Equal(t, jack.StepBudget, l.ScriptProgress.CurrentStep)
			return nil
		})
		require.NoError(t, err)
		s.Now = func() time.Time { return base.Add(48 * time.Hour) }
		err = s.InConversationTx(ctx, org.ID, func(tx jack.ConversationTx) error {
			l, err := tx.UpdateConversation(ctx, lead.ID, jack.ConversationChange{OptOut: &yes, ResumeAI: true})
			require.NoError(t, err)
			require.Equal(t, optedOut, *l.OptedOutAt, "an opt-out keeps its first time")
			require.Nil(t, l.AIPausedUntil)
			require.Equal(t, []string{jack.StepContacted, jack.StepVehicleInterest}, l.ScriptProgress.CompletedSteps)
			l, err = tx.UpdateConversation(ctx, lead.ID, jack.ConversationChange{OptOut: &no})
			require.NoError(t, err)
			require.Nil(t, l.OptedOutAt)
			_, err = tx.UpdateConversation(ctx, "missing", jack.ConversationChange{Messages: 1})
			requireCode(t, jack.ENOTFOUND, err)
			return nil
		})
		require.NoError(t, err)
	})

	t.Run("Events", func(t *testing.T) {
		old := jack.NewEvent(jack.EventSMSStatus, org.ID, lead.ID, phone, base.Add(-40*24*time.Hour), map[string]any{"status": "sent", "a": 1})
		events := []*jack.Event{old}
		for range 3 {
			events = append(events, jack.NewEvent(jack.EventSMSReceived, org.ID, lead.ID, phone, base, map[string]string{"x": "y"}))
		}
		events = append(events, jack.NewEvent(jack.EventLeadUpdated, org.ID, "", "", base, nil))
		require.NoError(t, s.InConversationTx(ctx, org.ID, func(tx jack.ConversationTx) error { return tx.InsertEvents(ctx, events...) }))

		got, err := s.FindEvents(ctx, org.ID, jack.EventFilter{})
		require.NoError(t, err)
		require.Len(t, got, 5)
		require.Equal(t, events[1], got[1])
		require.JSONEq(t, string(events[0].Data), string(got[0].Data))

		got, err = s.FindEvents(ctx, org.ID, jack.EventFilter{After: events[1].ID, LeadID: lead.ID, Limit: 1})
		require.NoError(t, err)
		require.Equal(t, []*jack.Event{events[2]}, got)
		got, err = s.FindEvents(ctx, other.ID, jack.EventFilter{})
		require.NoError(t, err)
		require.NotNil(t, got)
		require.Empty(t, got)

		n, err := s.DeleteEventsBefore(ctx, base.Add(-30*24*time.Hour))
		require.NoError(t, err)
		require.EqualValues(t, 1, n)
		got, err = s.FindEvents(ctx, org.ID, jack.EventFilter{})
		require.NoError(t, err)
		require.Len(t, got, 4)
		var payload map[string]any
		require.NoError(t, json.Unmarshal(got[0].Data, &payload))
	})
}
