package storetest

import (
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/jack-auto/jack"
)

// testInbox: the inbox's previews, per-user read state, filters, the "needs a human" queue and
// full-text search in message bodies, tenant-scoped.
func testInbox(t *testing.T, f Features, newStore NewStoreFunc) {
	store := newStore(t)
	ctx := t.Context()
	org, owner := MustCreateOrganization(t, store)
	agent := MustCreateUser(t, store, org.ID, jack.RoleAgent)
	base := f.now().Add(time.Minute) // after both users joined: their unread starts then

	// Three conversations, most recent activity first: Maria (a customer's text about trucks,
	// assigned to the agent), Bob (asked for a person), Imported (from a CSV feed, no messages).
	maria := MustCreateLead(t, store, org.ID, NewPhone())
	bob := MustCreateLead(t, store, org.ID, NewPhone())
	imported, outcome, err := store.ImportLead(ctx, org.ID, jack.ImportedLead{
		Lead: jack.Lead{CustomerName: "Imported Ivy", PhoneNumber: NewPhone(), LastActivity: jack.NoActivity}, Source: "csv", ExternalID: "ivy-1"})
	require.NoError(t, err)
	require.Equal(t, jack.ImportCreated, outcome)
	_, err = store.UpdateLead(ctx, org.ID, maria.ID, jack.LeadUpdate{AssignedTo: &agent.ID})
	require.NoError(t, err)

	MustInsertMessage(t, store, org.ID, NewMessage(bob, "Can I talk to a real person please?", base.Add(1*time.Second)))
	MustUpdateConversation(t, store, org.ID, bob.ID, jack.ConversationChange{Messages: 1, Activity: ptr(base.Add(1 * time.Second))})
	MustInsertMessage(t, store, org.ID, NewMessage(maria, "Hello", base.Add(2*time.Second)))
	MustInsertMessage(t, store, org.ID, NewMessage(maria, "Do you have any used trucks under $30k?", base.Add(3*time.Second)))
	MustUpdateConversation(t, store, org.ID, maria.ID, jack.ConversationChange{Messages: 2, Activity: ptr(base.Add(3 * time.Second))})

	inbox := func(t *testing.T, filter jack.InboxFilter) []*jack.InboxItem {
		t.Helper()
		page, err := store.FindInbox(ctx, org.ID, filter)
		require.NoError(t, err)
		return page.Items
	}
	ids := func(items []*jack.InboxItem) []string {
		out := []string{}
		for _, it := range items {
			out = append(out, it.Lead.ID)
		}
		return out
	}

	t.Run("PreviewUnreadAndOrder", func(t *testing.T) {
		items := inbox(t, jack.InboxFilter{UserID: owner.ID})
		require.Equal(t, []string{maria.ID, bob.ID, imported.ID}, ids(items), "newest activity first, the import last")
		require.Equal(t, "Do you have any used trucks under $30k?", items[0].LastMessage.Content)
		require.Equal(t, jack.SentByCustomer, items[0].LastMessage.SentBy)
		requireTimeEqual(t, f, base.Add(3*time.Second), items[0].LastMessage.Timestamp)
		require.Equal(t, 2, items[0].Unread)
		require.Equal(t, 1, items[1].Unread)
		require.Nil(t, items[2].LastMessage)
		require.Zero(t, items[2].Unread)
	})

	t.Run("Filters", func(t *testing.T) {
		require.Equal(t, []string{maria.ID}, ids(inbox(t, jack.InboxFilter{UserID: agent.ID, Assignee: jack.AssigneeMine})))
		require.Empty(t, ids(inbox(t, jack.InboxFilter{UserID: owner.ID, Assignee: jack.AssigneeMine})))
		require.Equal(t, []string{bob.ID, imported.ID}, ids(inbox(t, jack.InboxFilter{UserID: owner.ID, Assignee: jack.AssigneeUnassigned})))
		require.Equal(t, []string{maria.ID}, ids(inbox(t, jack.InboxFilter{UserID: owner.ID, Assignee: agent.ID.String()})))
		require.Equal(t, []string{imported.ID}, ids(inbox(t, jack.InboxFilter{UserID: owner.ID, Source: "csv"})))
		require.Equal(t, []string{maria.ID, bob.ID}, ids(inbox(t, jack.InboxFilter{UserID: owner.ID, Source: jack.SourceNone})))
		require.Equal(t, []string{maria.ID, bob.ID, imported.ID}, ids(inbox(t, jack.InboxFilter{UserID: owner.ID, Status: jack.ChaseNew})))
		require.Empty(t, ids(inbox(t, jack.InboxFilter{UserID: owner.ID, Status: jack.ChaseWon})))
		_, err := store.FindInbox(ctx, org.ID, jack.InboxFilter{UserID: owner.ID, Assignee: "somebody"})
		require.Equal(t, jack.EINVALID, jack.ErrorCode(err))
		_, err = store.FindInbox(ctx, org.ID, jack.InboxFilter{UserID: owner.ID, Cursor: "nope"})
		require.Equal(t, jack.EINVALID, jack.ErrorCode(err))
	})

	t.Run("Paging", func(t *testing.T) {
		page, err := store.FindInbox(ctx, org.ID, jack.InboxFilter{UserID: owner.ID, Limit: 2})
		require.NoError(t, err)
		require.Equal(t, []string{maria.ID, bob.ID}, ids(page.Items))
		require.NotEmpty(t, page.NextCursor)
		page, err = store.FindInbox(ctx, org.ID, jack.InboxFilter{UserID: owner.ID, Limit: 2, Cursor: page.NextCursor})
		require.NoError(t, err)
		require.Equal(t, []string{imported.ID}, ids(page.Items))
		require.Empty(t, page.NextCursor)
	})

	t.Run("Search", func(t *testing.T) {
		require.Equal(t, []string{maria.ID}, ids(inbox(t, jack.InboxFilter{UserID: owner.ID, Q: "truck"})), "stemmed: truck finds trucks")
		require.Equal(t, []string{maria.ID}, ids(inbox(t, jack.InboxFilter{UserID: owner.ID, Q: "USED Trucks"})))
		require.Equal(t, []string{bob.ID}, ids(inbox(t, jack.InboxFilter{UserID: owner.ID, Q: "person"})))
		require.Empty(t, ids(inbox(t, jack.InboxFilter{UserID: owner.ID, Q: "convertible"})))
		require.Equal(t, []string{imported.ID}, ids(inbox(t, jack.InboxFilter{UserID: owner.ID, Q: "imported iv"})), "names match as substrings")
		require.Empty(t, ids(inbox(t, jack.InboxFilter{UserID: owner.ID, Q: `"*) OR (`})), "query syntax is text, never an error")
	})

	t.Run("ReadState", func(t *testing.T) {
		other, otherOwner := MustCreateOrganization(t, store)
		require.NoError(t, store.MarkRead(ctx, org.ID, owner.ID, maria.ID))
		items := inbox(t, jack.InboxFilter{UserID: owner.ID})
		require.Zero(t, items[0].Unread, "read up to the newest message")
		agentItems := inbox(t, jack.InboxFilter{UserID: agent.ID})
		require.Equal(t, 2, agentItems[0].Unread, "each staff member has their own read state")
		counts, err := store.UnreadCounts(ctx, org.ID, owner.ID)
		require.NoError(t, err)
		require.Equal(t, map[string]int{bob.ID: 1}, counts)
		counts, err = store.UnreadCounts(ctx, org.ID, agent.ID)
		require.NoError(t, err)
		require.Equal(t, map[string]int{maria.ID: 2, bob.ID: 1}, counts)

		require.Equal(t, jack.ENOTFOUND, jack.ErrorCode(store.MarkRead(ctx, other.ID, otherOwner.ID, maria.ID)), "another organization's lead")
		otherItems, err := store.FindInbox(ctx, other.ID, jack.InboxFilter{UserID: otherOwner.ID})
		require.NoError(t, err)
		require.Empty(t, otherItems.Items)
	})

	t.Run("Notes", func(t *testing.T) {
		notes, err := store.FindNotes(ctx, org.ID, bob.ID)
		require.NoError(t, err)
		require.Empty(t, notes)
		earlier := f.now().Add(-time.Hour)
		first := &jack.Note{LeadID: bob.ID, AuthorUserID: &agent.ID, Body: "Wants a callback after 5pm", CreatedAt: earlier}
		require.NoError(t, store.CreateNote(ctx, org.ID, first))
		require.NoError(t, store.CreateNote(ctx, org.ID, &jack.Note{LeadID: bob.ID, Body: "Trade-in: 2015 Civic"}))
		notes, err = store.FindNotes(ctx, org.ID, bob.ID)
		require.NoError(t, err)
		require.Len(t, notes, 2)
		require.Equal(t, first.ID, notes[0].ID, "oldest first")
		require.Equal(t, "Wants a callback after 5pm", notes[0].Body)
		require.Equal(t, agent.ID, *notes[0].AuthorUserID)
		requireTimeEqual(t, f, earlier, notes[0].CreatedAt)
		require.Nil(t, notes[1].AuthorUserID)
		require.NotEqual(t, uuid.Nil, notes[1].ID)

		other, _ := MustCreateOrganization(t, store)
		requireCode(t, jack.ENOTFOUND, store.CreateNote(ctx, other.ID, &jack.Note{LeadID: bob.ID, Body: "x"}))
		_, err = store.FindNotes(ctx, other.ID, bob.ID)
		requireCode(t, jack.ENOTFOUND, err)
		messages, err := store.FindMessages(ctx, org.ID, jack.MessageFilter{LeadID: bob.ID})
		require.NoError(t, err)
		require.Len(t, messages.Messages, 1, "a note is not a message")
	})

	t.Run("FollowUps", func(t *testing.T) {
		r := MustScheduleReminder(t, store, org.ID, imported, 0, base.Add(time.Hour))
		later := base.Add(48 * time.Hour)
		snoozed, err := store.ChangeReminder(ctx, org.ID, r.ID, false, &later)
		require.NoError(t, err)
		require.Equal(t, jack.ReminderPending, snoozed.Status)
		requireTimeEqual(t, f, later, snoozed.DueAt)
		other, _ := MustCreateOrganization(t, store)
		_, err = store.ChangeReminder(ctx, other.ID, r.ID, true, nil)
		requireCode(t, jack.ENOTFOUND, err)
		canceled, err := store.ChangeReminder(ctx, org.ID, r.ID, true, nil)
		require.NoError(t, err)
		require.Equal(t, jack.ReminderCanceled, canceled.Status)
		_, err = store.ChangeReminder(ctx, org.ID, r.ID, false, &later)
		requireCode(t, jack.ECONFLICT, err)
		_, err = store.ChangeReminder(ctx, org.ID, uuid.New(), true, nil)
		requireCode(t, jack.ENOTFOUND, err)
	})

	t.Run("NeedsHuman", func(t *testing.T) {
		items := inbox(t, jack.InboxFilter{UserID: owner.ID})
		require.False(t, items[0].NeedsHuman)
		require.True(t, items[1].NeedsHuman, "asked for a person")
		require.Equal(t, []string{bob.ID}, ids(inbox(t, jack.InboxFilter{UserID: owner.ID, NeedsHuman: true})))
		// Staff paused the AI and the customer wrote last: a person must answer.
		MustUpdateConversation(t, store, org.ID, maria.ID, jack.ConversationChange{AIPausedUntil: ptr(time.Now().Add(time.Hour))})
		require.Equal(t, []string{maria.ID, bob.ID}, ids(inbox(t, jack.InboxFilter{UserID: owner.ID, NeedsHuman: true})))
	})
}
