package storetest

import (
	"strings"
	"testing"

	"github.com/google/uuid"
	"github.com/jack-auto/jack"
	"github.com/stretchr/testify/require"
)

func testUsers(t *testing.T, f Features, newStore NewStoreFunc) {
	t.Run("FindUserByEmail", func(t *testing.T) {
		t.Parallel()

		t.Run("OK", func(t *testing.T) {
			t.Parallel()
			store := newStore(t)
			_, owner := MustCreateOrganization(t, store)
			got, err := store.FindUserByEmail(t.Context(), owner.Email)
			require.NoError(t, err)
			requireEqual(t, f, owner, got)
		})

		t.Run("CaseInsensitive", func(t *testing.T) {
			t.Parallel()
			store := newStore(t)
			_, owner := MustCreateOrganization(t, store)
			got, err := store.FindUserByEmail(t.Context(), "  "+strings.ToUpper(owner.Email)+" ")
			require.NoError(t, err)
			require.Equal(t, owner.ID, got.ID)
		})

		t.Run("ErrNotFound", func(t *testing.T) {
			t.Parallel()
			store := newStore(t)
			_, err := store.FindUserByEmail(t.Context(), "nobody@example.com")
			requireCode(t, jack.ENOTFOUND, err)
		})
	})

	t.Run("FindUserByID", func(t *testing.T) {
		t.Parallel()

		t.Run("OK", func(t *testing.T) {
			t.Parallel()
			store := newStore(t)
			org, _ := MustCreateOrganization(t, store)
			u := MustCreateUser(t, store, org.ID, jack.RoleAgent)
			got, err := store.FindUserByID(t.Context(), org.ID, u.ID)
			require.NoError(t, err)
			requireEqual(t, f, u, got)
		})

		t.Run("ErrNotFound", func(t *testing.T) {
			t.Parallel()
			store := newStore(t)
			org, _ := MustCreateOrganization(t, store)
			_, err := store.FindUserByID(t.Context(), org.ID, uuid.New())
			requireCode(t, jack.ENOTFOUND, err)
		})

		t.Run("ErrOtherOrganization", func(t *testing.T) {
			t.Parallel()
			store := newStore(t)
			orgA, ownerA := MustCreateOrganization(t, store)
			orgB, _ := MustCreateOrganization(t, store)
			_, err := store.FindUserByID(t.Context(), orgB.ID, ownerA.ID)
			requireCode(t, jack.ENOTFOUND, err)
			_, err = store.FindUserByID(t.Context(), orgA.ID, ownerA.ID)
			require.NoError(t, err)
		})
	})

	t.Run("FindUsers", func(t *testing.T) {
		t.Parallel()

		t.Run("OldestFirst", func(t *testing.T) {
			t.Parallel()
			store := newStore(t)
			org, owner := MustCreateOrganization(t, store)
			admin := MustCreateUser(t, store, org.ID, jack.RoleAdmin)
			agent := MustCreateUser(t, store, org.ID, jack.RoleAgent)
			other, _ := MustCreateOrganization(t, store)
			MustCreateUser(t, store, other.ID, jack.RoleAgent)

			users, err := store.FindUsers(t.Context(), org.ID)
			require.NoError(t, err)
			requireEqual(t, f, []*jack.User{owner, admin, agent}, users)
		})

		t.Run("UnknownOrganization", func(t *testing.T) {
			t.Parallel()
			store := newStore(t)
			users, err := store.FindUsers(t.Context(), uuid.New())
			require.NoError(t, err)
			require.Empty(t, users)
		})
	})

	t.Run("CreateUser", func(t *testing.T) {
		t.Parallel()

		t.Run("OK", func(t *testing.T) {
			t.Parallel()
			store := newStore(t)
			org, _ := MustCreateOrganization(t, store)
			before := f.now()
			u := &jack.User{Email: "agent-" + uuid.NewString() + "@example.com", PasswordHash: "h", FullName: "Ada Agent", Role: jack.RoleAgent}
			require.NoError(t, store.CreateUser(t.Context(), org.ID, u))
			require.NotEqual(t, uuid.Nil, u.ID)
			require.Equal(t, org.ID, u.OrganizationID)
			require.False(t, u.CreatedAt.Before(before))

			got, err := store.FindUserByEmail(t.Context(), u.Email)
			require.NoError(t, err)
			requireEqual(t, f, u, got)
			require.Equal(t, jack.RoleAgent, got.Role)
		})

		t.Run("ErrConflict", func(t *testing.T) {
			t.Parallel()
			store := newStore(t)
			org, _ := MustCreateOrganization(t, store)
			u := MustCreateUser(t, store, org.ID, jack.RoleAgent)
			err := store.CreateUser(t.Context(), org.ID, &jack.User{Email: u.Email, PasswordHash: "x", Role: jack.RoleAgent})
			requireCode(t, jack.ECONFLICT, err)
		})

		t.Run("ErrConflictAcrossOrganizations", func(t *testing.T) {
			t.Parallel()
			store := newStore(t)
			_, ownerA := MustCreateOrganization(t, store)
			orgB, _ := MustCreateOrganization(t, store)
			err := store.CreateUser(t.Context(), orgB.ID, &jack.User{Email: ownerA.Email, PasswordHash: "x", Role: jack.RoleAgent})
			requireCode(t, jack.ECONFLICT, err)
			require.NotContains(t, jack.ErrorMessage(err), "user_profiles", "the message must not leak SQL")
		})
	})
}
