package storetest

import (
	"testing"

	"github.com/google/uuid"
	"github.com/jack-auto/jack"
	"github.com/stretchr/testify/require"
)

func testOrganizations(t *testing.T, f Features, newStore NewStoreFunc) {
	t.Run("CreateOrganization", func(t *testing.T) {
		t.Parallel()

		t.Run("OK", func(t *testing.T) {
			t.Parallel()
			store := newStore(t)
			ctx := t.Context()
			before := f.now()
			org := &jack.Organization{
				Name:     "Maple Motors",
				Domain:   "maple.example",
				Settings: jack.OrganizationSettings{DefaultRegion: "CA", TimeZone: "America/Vancouver"},
			}
			owner := &jack.User{Email: "owner-" + uuid.NewString() + "@example.com", PasswordHash: "hash", FullName: "Olive Owner", Role: jack.RoleOwner}
			require.NoError(t, store.CreateOrganization(ctx, org, owner))

			require.NotEqual(t, uuid.Nil, org.ID)
			require.NotEqual(t, uuid.Nil, owner.ID)
			require.Equal(t, org.ID, owner.OrganizationID)
			require.False(t, org.CreatedAt.Before(before), "CreatedAt %v is before %v", org.CreatedAt, before)

			got, err := store.FindOrganizationByID(ctx, org.ID)
			require.NoError(t, err)
			requireEqual(t, f, org, got)

			gotOwner, err := store.FindUserByID(ctx, org.ID, owner.ID)
			require.NoError(t, err)
			requireEqual(t, f, owner, gotOwner)
			require.Equal(t, "hash", gotOwner.PasswordHash)
		})

		t.Run("ErrEmailTaken", func(t *testing.T) {
			t.Parallel()
			store := newStore(t)
			ctx := t.Context()
			_, owner := MustCreateOrganization(t, store)

			org := &jack.Organization{Name: "Second Dealership"}
			err := store.CreateOrganization(ctx, org, &jack.User{Email: owner.Email, PasswordHash: "x", Role: jack.RoleOwner})
			requireCode(t, jack.ECONFLICT, err)
			require.NotContains(t, jack.ErrorMessage(err), "UNIQUE", "the message must not leak SQL")

			// One transaction: the organization went away with its owner.
			if org.ID != uuid.Nil {
				_, err = store.FindOrganizationByID(ctx, org.ID)
				requireCode(t, jack.ENOTFOUND, err)
			}
		})
	})

	t.Run("FindOrganizationByID", func(t *testing.T) {
		t.Parallel()

		t.Run("OK", func(t *testing.T) {
			t.Parallel()
			store := newStore(t)
			org, _ := MustCreateOrganization(t, store)
			got, err := store.FindOrganizationByID(t.Context(), org.ID)
			require.NoError(t, err)
			requireEqual(t, f, org, got)
		})

		t.Run("ErrNotFound", func(t *testing.T) {
			t.Parallel()
			store := newStore(t)
			_, err := store.FindOrganizationByID(t.Context(), uuid.New())
			requireCode(t, jack.ENOTFOUND, err)
		})
	})

	t.Run("UpdateOrganization", func(t *testing.T) {
		t.Parallel()

		t.Run("OK", func(t *testing.T) {
			t.Parallel()
			store := newStore(t)
			ctx := t.Context()
			org, _ := MustCreateOrganization(t, store)

			settings := jack.OrganizationSettings{DefaultRegion: "GB", TimeZone: "Europe/London"}
			got, err := store.UpdateOrganization(ctx, org.ID, jack.OrganizationUpdate{
				Name: ptr("Renamed Motors"), Domain: ptr("renamed.example"), Settings: &settings,
			})
			require.NoError(t, err)
			require.Equal(t, "Renamed Motors", got.Name)
			require.Equal(t, "renamed.example", got.Domain)
			require.Equal(t, settings, got.Settings)
			require.Equal(t, "GB", got.Region())

			found, err := store.FindOrganizationByID(ctx, org.ID)
			require.NoError(t, err)
			requireEqual(t, f, got, found)
		})

		t.Run("NilFieldsUnchanged", func(t *testing.T) {
			t.Parallel()
			store := newStore(t)
			ctx := t.Context()
			org, _ := MustCreateOrganization(t, store)
			got, err := store.UpdateOrganization(ctx, org.ID, jack.OrganizationUpdate{})
			require.NoError(t, err)
			requireEqual(t, f, org, got)
		})

		t.Run("ErrNotFound", func(t *testing.T) {
			t.Parallel()
			store := newStore(t)
			_, err := store.UpdateOrganization(t.Context(), uuid.New(), jack.OrganizationUpdate{Name: ptr("Ghost")})
			requireCode(t, jack.ENOTFOUND, err)
		})
	})

	t.Run("Ping", func(t *testing.T) {
		t.Parallel()
		store := newStore(t)
		require.NoError(t, store.Ping(t.Context()))
	})
}
