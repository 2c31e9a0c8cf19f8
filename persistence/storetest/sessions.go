package storetest

import (
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jack-auto/jack"
	"github.com/stretchr/testify/require"
)

// testSessions: sessions that can end, and user changes that keep an organization administered
// (issue 15, item 2).
func testSessions(t *testing.T, f Features, newStore NewStoreFunc) {
	newSession := func(t *testing.T, store jack.Store, u *jack.User) *jack.Session {
		t.Helper()
		sess := &jack.Session{UserID: u.ID, ExpiresAt: time.Now().Add(time.Hour)}
		require.NoError(t, store.CreateSession(t.Context(), u.OrganizationID, sess))
		require.NotEqual(t, uuid.Nil, sess.ID)
		return sess
	}
	valid := func(t *testing.T, store jack.Store, sess *jack.Session) bool {
		t.Helper()
		got, err := store.FindSession(t.Context(), sess.OrganizationID, sess.ID)
		if jack.ErrorCode(err) == jack.ENOTFOUND {
			return false
		}
		require.NoError(t, err)
		return got.Valid(time.Now())
	}

	t.Run("CreateFindRevoke", func(t *testing.T) {
		t.Parallel()
		store := newStore(t)
		org, owner := MustCreateOrganization(t, store)
		sess := newSession(t, store, owner)
		got, err := store.FindSession(t.Context(), org.ID, sess.ID)
		require.NoError(t, err)
		require.Equal(t, owner.ID, got.UserID)
		require.Equal(t, jack.RoleOwner, got.Role)
		require.True(t, got.Active)
		require.True(t, got.Valid(time.Now()))

		require.NoError(t, store.RevokeSession(t.Context(), org.ID, sess.ID))
		require.NoError(t, store.RevokeSession(t.Context(), org.ID, sess.ID), "a second revoke changes nothing")
		require.False(t, valid(t, store, sess))
		requireCode(t, jack.ENOTFOUND, store.RevokeSession(t.Context(), org.ID, uuid.New()))
	})

	t.Run("ErrOtherOrganization", func(t *testing.T) {
		t.Parallel()
		store := newStore(t)
		_, owner := MustCreateOrganization(t, store)
		other, _ := MustCreateOrganization(t, store)
		sess := newSession(t, store, owner)
		_, err := store.FindSession(t.Context(), other.ID, sess.ID)
		requireCode(t, jack.ENOTFOUND, err)
		requireCode(t, jack.ENOTFOUND, store.RevokeSession(t.Context(), other.ID, sess.ID))
		requireCode(t, jack.ENOTFOUND, store.CreateSession(t.Context(), other.ID, &jack.Session{UserID: owner.ID, ExpiresAt: time.Now().Add(time.Hour)}))
	})

	t.Run("RevokeUserSessionsExcept", func(t *testing.T) {
		t.Parallel()
		store := newStore(t)
		org, owner := MustCreateOrganization(t, store)
		keep, drop1, drop2 := newSession(t, store, owner), newSession(t, store, owner), newSession(t, store, owner)
		n, err := store.RevokeUserSessions(t.Context(), org.ID, owner.ID, keep.ID)
		require.NoError(t, err)
		require.Equal(t, 2, n)
		require.True(t, valid(t, store, keep))
		require.False(t, valid(t, store, drop1))
		require.False(t, valid(t, store, drop2))
	})

	t.Run("DeactivateRevokesAndRoleChangeShows", func(t *testing.T) {
		t.Parallel()
		store := newStore(t)
		org, _ := MustCreateOrganization(t, store)
		admin := MustCreateUser(t, store, org.ID, jack.RoleAdmin)
		sess := newSession(t, store, admin)

		agent := jack.RoleAgent
		u, err := store.UpdateUser(t.Context(), org.ID, admin.ID, jack.UserUpdate{Role: &agent})
		require.NoError(t, err)
		require.Equal(t, jack.RoleAgent, u.Role)
		got, err := store.FindSession(t.Context(), org.ID, sess.ID)
		require.NoError(t, err)
		require.Equal(t, jack.RoleAgent, got.Role, "the session reads the user's current role")

		off := false
		u, err = store.UpdateUser(t.Context(), org.ID, admin.ID, jack.UserUpdate{Active: &off})
		require.NoError(t, err)
		require.False(t, u.Active)
		require.False(t, valid(t, store, sess))
		// A deactivated user cannot sign in.
		requireCode(t, jack.ENOTFOUND, store.CreateSession(t.Context(), org.ID, &jack.Session{UserID: admin.ID, ExpiresAt: time.Now().Add(time.Hour)}))
		found, err := store.FindUserByID(t.Context(), org.ID, admin.ID)
		require.NoError(t, err)
		require.False(t, found.Active)

		on := true
		_, err = store.UpdateUser(t.Context(), org.ID, admin.ID, jack.UserUpdate{Active: &on})
		require.NoError(t, err)
		require.False(t, valid(t, store, sess), "reactivating does not bring revoked sessions back")
		newSession(t, store, admin)
	})

	t.Run("DeleteUser", func(t *testing.T) {
		t.Parallel()
		store := newStore(t)
		org, _ := MustCreateOrganization(t, store)
		agent := MustCreateUser(t, store, org.ID, jack.RoleAgent)
		sess := newSession(t, store, agent)
		lead := MustCreateLead(t, store, org.ID, NewPhone())
		_, err := store.UpdateLead(t.Context(), org.ID, lead.ID, jack.LeadUpdate{AssignedTo: &agent.ID})
		require.NoError(t, err)

		require.NoError(t, store.DeleteUser(t.Context(), org.ID, agent.ID))
		require.False(t, valid(t, store, sess))
		_, err = store.FindUserByID(t.Context(), org.ID, agent.ID)
		requireCode(t, jack.ENOTFOUND, err)
		got, err := store.FindLeadByID(t.Context(), org.ID, lead.ID)
		require.NoError(t, err)
		require.Nil(t, got.AssignedTo, "the lead keeps no assignee")
		requireCode(t, jack.ENOTFOUND, store.DeleteUser(t.Context(), org.ID, agent.ID))
	})

	t.Run("ErrLastAdmin", func(t *testing.T) {
		t.Parallel()
		store := newStore(t)
		org, owner := MustCreateOrganization(t, store)
		admin := MustCreateUser(t, store, org.ID, jack.RoleAdmin)
		agent := jack.RoleAgent
		off := false

		_, err := store.UpdateUser(t.Context(), org.ID, owner.ID, jack.UserUpdate{Role: &agent})
		require.NoError(t, err, "another admin remains")
		_, err = store.UpdateUser(t.Context(), org.ID, admin.ID, jack.UserUpdate{Role: &agent})
		requireReason(t, jack.ReasonLastAdmin, err)
		_, err = store.UpdateUser(t.Context(), org.ID, admin.ID, jack.UserUpdate{Active: &off})
		requireReason(t, jack.ReasonLastAdmin, err)
		requireReason(t, jack.ReasonLastAdmin, store.DeleteUser(t.Context(), org.ID, admin.ID))
		got, err := store.FindUserByID(t.Context(), org.ID, admin.ID)
		require.NoError(t, err)
		require.Equal(t, jack.RoleAdmin, got.Role, "nothing changed")
		require.True(t, got.Active)
	})

	t.Run("ErrOtherOrganizationUser", func(t *testing.T) {
		t.Parallel()
		store := newStore(t)
		_, owner := MustCreateOrganization(t, store)
		other, _ := MustCreateOrganization(t, store)
		agent := jack.RoleAgent
		_, err := store.UpdateUser(t.Context(), other.ID, owner.ID, jack.UserUpdate{Role: &agent})
		requireCode(t, jack.ENOTFOUND, err)
		requireCode(t, jack.ENOTFOUND, store.DeleteUser(t.Context(), other.ID, owner.ID))
		bogus := jack.Role("root")
		_, err = store.UpdateUser(t.Context(), owner.OrganizationID, owner.ID, jack.UserUpdate{Role: &bogus})
		requireCode(t, jack.EUNPROCESSABLE, err)
	})
	_ = f
}

func requireReason(t *testing.T, reason string, err error) {
	t.Helper()
	require.Error(t, err)
	require.Equal(t, reason, jack.ErrorReason(err), "%v", err)
}
