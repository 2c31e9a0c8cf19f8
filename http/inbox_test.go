package http_test

import (
	"net/http"
	"os"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/jack-auto/jack"
	"github.com/jack-auto/jack/persistence/storetest"
)

// TestInbox: the inbox routes on every Store: previews and per-user unread counts, mark-read
// (the same state from any client of the user, another user's untouched), filters and search,
// bad input 400 and another organization's lead 404.
func TestInbox(t *testing.T) {
	t.Parallel()
	for _, st := range stores {
		t.Run(st.name, func(t *testing.T) {
			t.Parallel()
			if st.needsEnv != "" && os.Getenv(st.needsEnv) == "" {
				t.Skipf("%s is not set: skipping the inbox API test on %s", st.needsEnv, st.name)
			}
			srv := MustOpenServer(t, st.open(t))
			owner, ownerUser, org := MustRegister(t, srv.URL)
			agent, agentUser := MustCreateUser(t, srv.URL, owner, jack.RoleAgent)
			lead := MustCreateLead(t, srv.URL, owner, "Maria Lopez", testPhone(1))
			MustDo(t, srv.URL, request{Method: "PATCH", Path: "/api/leads/" + lead.ID, Token: owner, Body: map[string]string{"assignedTo": agentUser.ID.String()}}, http.StatusOK, nil)
			other := MustCreateLead(t, srv.URL, owner, "Bob Quiet", testPhone(2))
			storetest.MustInsertMessage(t, srv.Store, org.ID, storetest.NewMessage(&lead, "Any used trucks on the lot?", time.Now().Add(time.Minute)))

			type page struct {
				Items []struct {
					Lead        jack.Lead
					LastMessage *jack.MessagePreview
					Unread      int
					NeedsHuman  bool
				}
				NextCursor string
			}
			var p page
			MustDo(t, srv.URL, request{Method: "GET", Path: "/api/inbox", Token: owner}, http.StatusOK, &p)
			require.Len(t, p.Items, 2)
			byID := map[string]int{}
			for i, it := range p.Items {
				byID[it.Lead.ID] = i
			}
			maria := p.Items[byID[lead.ID]]
			require.Equal(t, "Any used trucks on the lot?", maria.LastMessage.Content)
			require.Equal(t, 1, maria.Unread)
			require.Nil(t, p.Items[byID[other.ID]].LastMessage)

			var counts struct {
				Leads map[string]int
				Total int
			}
			MustDo(t, srv.URL, request{Method: "GET", Path: "/api/inbox/unread", Token: owner}, http.StatusOK, &counts)
			require.Equal(t, map[string]int{lead.ID: 1}, counts.Leads)
			require.Equal(t, 1, counts.Total)

			// Read from one session; a second session of the same user sees it read; the agent not.
			MustDo(t, srv.URL, request{Method: "POST", Path: "/api/leads/" + lead.ID + "/read", Token: owner}, http.StatusNoContent, nil)
			owner2 := MustLogin(t, srv.URL, ownerUser.Email, testPassword)
			MustDo(t, srv.URL, request{Method: "GET", Path: "/api/inbox/unread", Token: owner2}, http.StatusOK, &counts)
			require.Zero(t, counts.Total)
			MustDo(t, srv.URL, request{Method: "GET", Path: "/api/inbox/unread", Token: agent}, http.StatusOK, &counts)
			require.Equal(t, 1, counts.Total)

			MustDo(t, srv.URL, request{Method: "GET", Path: "/api/inbox?assignee=mine", Token: agent}, http.StatusOK, &p)
			require.Len(t, p.Items, 1)
			require.Equal(t, lead.ID, p.Items[0].Lead.ID)
			MustDo(t, srv.URL, request{Method: "GET", Path: "/api/inbox?assignee=unassigned&source=none&status=new", Token: owner}, http.StatusOK, &p)
			require.Len(t, p.Items, 1)
			require.Equal(t, other.ID, p.Items[0].Lead.ID)
			MustDo(t, srv.URL, request{Method: "GET", Path: "/api/inbox?q=truck", Token: owner}, http.StatusOK, &p)
			require.Len(t, p.Items, 1)
			require.Equal(t, lead.ID, p.Items[0].Lead.ID)
			MustDo(t, srv.URL, request{Method: "GET", Path: "/api/inbox?needsHuman=true", Token: owner}, http.StatusOK, &p)
			require.Empty(t, p.Items)

			for _, path := range []string{"/api/inbox?status=maybe", "/api/inbox?assignee=bob", "/api/inbox?needsHuman=perhaps", "/api/inbox?limit=0", "/api/inbox?cursor=zzz"} {
				MustFail(t, srv.URL, request{Method: "GET", Path: path, Token: owner}, http.StatusBadRequest, "invalid")
			}
			stranger, _, _ := MustRegister(t, srv.URL)
			MustFail(t, srv.URL, request{Method: "POST", Path: "/api/leads/" + lead.ID + "/read", Token: stranger}, http.StatusNotFound, "not_found")
			MustFail(t, srv.URL, request{Method: "GET", Path: "/api/inbox", Token: ""}, http.StatusUnauthorized, "unauthorized")
		})
	}
}

// TestNotes: internal notes on a lead, on every Store: added and listed oldest first, never a
// message; bad input 422/400, another organization's lead 404.
func TestNotes(t *testing.T) {
	t.Parallel()
	for _, st := range stores {
		t.Run(st.name, func(t *testing.T) {
			t.Parallel()
			if st.needsEnv != "" && os.Getenv(st.needsEnv) == "" {
				t.Skipf("%s is not set: skipping the notes API test on %s", st.needsEnv, st.name)
			}
			srv := MustOpenServer(t, st.open(t))
			owner, user, _ := MustRegister(t, srv.URL)
			lead := MustCreateLead(t, srv.URL, owner, "Maria Lopez", testPhone(1))
			path := "/api/leads/" + lead.ID + "/notes"
			var n jack.Note
			MustDo(t, srv.URL, request{Method: "POST", Path: path, Token: owner, Body: map[string]string{"body": "  Prefers texts after 5pm  "}}, http.StatusCreated, &n)
			require.Equal(t, "Prefers texts after 5pm", n.Body)
			require.Equal(t, user.ID, *n.AuthorUserID)
			var list struct{ Notes []jack.Note }
			MustDo(t, srv.URL, request{Method: "GET", Path: path, Token: owner}, http.StatusOK, &list)
			require.Len(t, list.Notes, 1)
			require.Equal(t, n.ID, list.Notes[0].ID)
			var msgs struct{ Messages []jack.Message }
			MustDo(t, srv.URL, request{Method: "GET", Path: "/api/leads/" + lead.ID + "/messages", Token: owner}, http.StatusOK, &msgs)
			require.Empty(t, msgs.Messages, "a note is never a message")

			MustFail(t, srv.URL, request{Method: "POST", Path: path, Token: owner, Body: map[string]string{"body": "   "}}, http.StatusUnprocessableEntity, "unprocessable")
			MustFail(t, srv.URL, request{Method: "POST", Path: path, Token: owner, Body: map[string]int{"body": 3}}, http.StatusUnprocessableEntity, "unprocessable")
			stranger, _, _ := MustRegister(t, srv.URL)
			MustFail(t, srv.URL, request{Method: "GET", Path: path, Token: stranger}, http.StatusNotFound, "not_found")
			MustFail(t, srv.URL, request{Method: "POST", Path: path, Token: stranger, Body: map[string]string{"body": "x"}}, http.StatusNotFound, "not_found")
		})
	}
}

// TestFollowUpChanges: staff snooze and cancel a lead's scheduled follow-up; bad times 422,
// another organization's or an unknown follow-up 404, one no longer scheduled 409.
func TestFollowUpChanges(t *testing.T) {
	t.Parallel()
	srv := MustOpenServer(t, openSQLite(t))
	owner, _, org := MustRegister(t, srv.URL)
	lead := MustCreateLead(t, srv.URL, owner, "Maria Lopez", testPhone(1))
	r := storetest.MustScheduleReminder(t, srv.Store, org.ID, &lead, 0, time.Now().Add(time.Hour))
	base := "/api/reminders/" + r.ID.String()

	until := time.Now().Add(48 * time.Hour).UTC().Truncate(time.Second)
	var got jack.Reminder
	MustDo(t, srv.URL, request{Method: "POST", Path: base + "/snooze", Token: owner, Body: map[string]any{"until": until}}, http.StatusOK, &got)
	require.True(t, got.DueAt.Equal(until))
	for _, bad := range []any{map[string]any{}, map[string]any{"until": time.Now().Add(-time.Hour)}, map[string]any{"until": time.Now().AddDate(2, 0, 0)}} {
		MustFail(t, srv.URL, request{Method: "POST", Path: base + "/snooze", Token: owner, Body: bad}, http.StatusUnprocessableEntity, "unprocessable")
	}
	stranger, _, _ := MustRegister(t, srv.URL)
	MustFail(t, srv.URL, request{Method: "POST", Path: base + "/cancel", Token: stranger}, http.StatusNotFound, "not_found")
	MustFail(t, srv.URL, request{Method: "POST", Path: "/api/reminders/nope/cancel", Token: owner}, http.StatusNotFound, "not_found")
	MustDo(t, srv.URL, request{Method: "POST", Path: base + "/cancel", Token: owner}, http.StatusOK, &got)
	require.Equal(t, jack.ReminderCanceled, got.Status)
	MustFail(t, srv.URL, request{Method: "POST", Path: base + "/cancel", Token: owner}, http.StatusConflict, "conflict")
}
