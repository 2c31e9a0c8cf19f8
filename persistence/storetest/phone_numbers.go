package storetest

import (
	"testing"

	"github.com/google/uuid"
	"github.com/jack-auto/jack"
	"github.com/stretchr/testify/require"
)

func testPhoneNumbers(t *testing.T, f Features, newStore NewStoreFunc) {
	type testBundle struct {
		store jack.Store
		org   *jack.Organization
	}
	setup := func(t *testing.T) *testBundle {
		t.Helper()
		store := newStore(t)
		org, _ := MustCreateOrganization(t, store)
		return &testBundle{store: store, org: org}
	}

	t.Run("CreatePhoneNumber", func(t *testing.T) {
		t.Parallel()

		t.Run("OK", func(t *testing.T) {
			t.Parallel()
			b := setup(t)
			before := f.now()
			pn := &jack.PhoneNumber{PhoneNumber: NewPhone(), ProviderPhoneID: "PN123", VoicePhoneID: "phnum_1", IsActive: true}
			require.NoError(t, b.store.CreatePhoneNumber(t.Context(), b.org.ID, pn))
			require.NotEqual(t, uuid.Nil, pn.ID)
			require.Equal(t, b.org.ID, pn.OrganizationID)
			require.False(t, pn.CreatedAt.Before(before))

			numbers, err := b.store.FindPhoneNumbers(t.Context(), b.org.ID)
			require.NoError(t, err)
			requireEqual(t, f, []*jack.PhoneNumber{pn}, numbers)
		})

		t.Run("WithoutProviderIDs", func(t *testing.T) { // imported with neither provider's id
			t.Parallel()
			b := setup(t)
			pn := &jack.PhoneNumber{PhoneNumber: NewPhone(), IsActive: true}
			require.NoError(t, b.store.CreatePhoneNumber(t.Context(), b.org.ID, pn))
			numbers, err := b.store.FindPhoneNumbers(t.Context(), b.org.ID)
			require.NoError(t, err)
			requireEqual(t, f, []*jack.PhoneNumber{pn}, numbers)
			require.Empty(t, numbers[0].ProviderPhoneID)
			require.Empty(t, numbers[0].VoicePhoneID)
		})

		t.Run("ErrConflict", func(t *testing.T) {
			t.Parallel()
			b := setup(t)
			phone := NewPhone()
			MustCreatePhoneNumber(t, b.store, b.org.ID, phone, true)

			err := b.store.CreatePhoneNumber(t.Context(), b.org.ID, &jack.PhoneNumber{PhoneNumber: phone, ProviderPhoneID: "PN2"})
			requireCode(t, jack.ECONFLICT, err)

			other, _ := MustCreateOrganization(t, b.store)
			err = b.store.CreatePhoneNumber(t.Context(), other.ID, &jack.PhoneNumber{PhoneNumber: phone, ProviderPhoneID: "PN3"})
			requireCode(t, jack.ECONFLICT, err)
		})
	})

	t.Run("FindPhoneNumbers", func(t *testing.T) {
		t.Parallel()

		t.Run("NewestFirst", func(t *testing.T) {
			t.Parallel()
			b := setup(t)
			first := MustCreatePhoneNumber(t, b.store, b.org.ID, NewPhone(), true)
			second := MustCreatePhoneNumber(t, b.store, b.org.ID, NewPhone(), false)
			other, _ := MustCreateOrganization(t, b.store)
			MustCreatePhoneNumber(t, b.store, other.ID, NewPhone(), true)

			numbers, err := b.store.FindPhoneNumbers(t.Context(), b.org.ID)
			require.NoError(t, err)
			requireEqual(t, f, []*jack.PhoneNumber{second, first}, numbers)
		})

		t.Run("Empty", func(t *testing.T) {
			t.Parallel()
			b := setup(t)
			numbers, err := b.store.FindPhoneNumbers(t.Context(), b.org.ID)
			require.NoError(t, err)
			require.Empty(t, numbers)
		})
	})

	t.Run("OrganizationByPhoneNumber", func(t *testing.T) {
		t.Parallel()

		t.Run("OK", func(t *testing.T) {
			t.Parallel()
			b := setup(t)
			pn := MustCreatePhoneNumber(t, b.store, b.org.ID, NewPhone(), true)
			other, _ := MustCreateOrganization(t, b.store)
			MustCreatePhoneNumber(t, b.store, other.ID, NewPhone(), true)

			orgID, err := b.store.OrganizationByPhoneNumber(t.Context(), pn.PhoneNumber)
			require.NoError(t, err)
			require.Equal(t, b.org.ID, orgID)
		})

		t.Run("IgnoresInactive", func(t *testing.T) {
			t.Parallel()
			b := setup(t)
			pn := MustCreatePhoneNumber(t, b.store, b.org.ID, NewPhone(), false)
			_, err := b.store.OrganizationByPhoneNumber(t.Context(), pn.PhoneNumber)
			requireCode(t, jack.ENOTFOUND, err)

			_, err = b.store.UpdatePhoneNumber(t.Context(), b.org.ID, pn.PhoneNumber, jack.PhoneNumberUpdate{IsActive: ptr(true)})
			require.NoError(t, err)
			orgID, err := b.store.OrganizationByPhoneNumber(t.Context(), pn.PhoneNumber)
			require.NoError(t, err)
			require.Equal(t, b.org.ID, orgID)
		})

		t.Run("ErrNotFound", func(t *testing.T) {
			t.Parallel()
			b := setup(t)
			_, err := b.store.OrganizationByPhoneNumber(t.Context(), NewPhone())
			requireCode(t, jack.ENOTFOUND, err)
		})
	})

	t.Run("OrganizationsByCustomerPhone", func(t *testing.T) {
		t.Parallel()

		t.Run("OK", func(t *testing.T) {
			t.Parallel()
			b := setup(t)
			phone := NewPhone()
			orgB, _ := MustCreateOrganization(t, b.store)
			orgC, _ := MustCreateOrganization(t, b.store)
			MustCreateLead(t, b.store, b.org.ID, phone)
			MustCreateLead(t, b.store, orgB.ID, phone)
			MustCreateLead(t, b.store, orgC.ID, NewPhone())

			ids, err := b.store.OrganizationsByCustomerPhone(t.Context(), phone)
			require.NoError(t, err)
			require.ElementsMatch(t, []uuid.UUID{b.org.ID, orgB.ID}, ids)
		})

		t.Run("None", func(t *testing.T) {
			t.Parallel()
			b := setup(t)
			ids, err := b.store.OrganizationsByCustomerPhone(t.Context(), NewPhone())
			require.NoError(t, err)
			require.Empty(t, ids)
		})
	})

	t.Run("ActivePhoneNumber", func(t *testing.T) {
		t.Parallel()

		t.Run("OldestActive", func(t *testing.T) {
			t.Parallel()
			b := setup(t)
			MustCreatePhoneNumber(t, b.store, b.org.ID, NewPhone(), false)
			oldest := MustCreatePhoneNumber(t, b.store, b.org.ID, NewPhone(), true)
			MustCreatePhoneNumber(t, b.store, b.org.ID, NewPhone(), true)

			got, err := b.store.ActivePhoneNumber(t.Context(), b.org.ID)
			require.NoError(t, err)
			requireEqual(t, f, oldest, got)
		})

		t.Run("SkipsDeactivated", func(t *testing.T) {
			t.Parallel()
			b := setup(t)
			first := MustCreatePhoneNumber(t, b.store, b.org.ID, NewPhone(), true)
			second := MustCreatePhoneNumber(t, b.store, b.org.ID, NewPhone(), true)
			_, err := b.store.UpdatePhoneNumber(t.Context(), b.org.ID, first.PhoneNumber, jack.PhoneNumberUpdate{IsActive: ptr(false)})
			require.NoError(t, err)

			got, err := b.store.ActivePhoneNumber(t.Context(), b.org.ID)
			require.NoError(t, err)
			require.Equal(t, second.ID, got.ID)
		})

		t.Run("ErrNotFound", func(t *testing.T) {
			t.Parallel()
			b := setup(t)
			_, err := b.store.ActivePhoneNumber(t.Context(), b.org.ID)
			requireCode(t, jack.ENOTFOUND, err)

			MustCreatePhoneNumber(t, b.store, b.org.ID, NewPhone(), false)
			_, err = b.store.ActivePhoneNumber(t.Context(), b.org.ID)
			requireCode(t, jack.ENOTFOUND, err)
		})
	})

	t.Run("UpdatePhoneNumber", func(t *testing.T) {
		t.Parallel()

		t.Run("OK", func(t *testing.T) {
			t.Parallel()
			b := setup(t)
			pn := MustCreatePhoneNumber(t, b.store, b.org.ID, NewPhone(), true)
			got, err := b.store.UpdatePhoneNumber(t.Context(), b.org.ID, pn.PhoneNumber, jack.PhoneNumberUpdate{
				VoicePhoneID: ptr("phnum_new"), IsActive: ptr(false),
			})
			require.NoError(t, err)
			require.Equal(t, "phnum_new", got.VoicePhoneID)
			require.False(t, got.IsActive)
			require.Equal(t, pn.ID, got.ID)

			numbers, err := b.store.FindPhoneNumbers(t.Context(), b.org.ID)
			require.NoError(t, err)
			requireEqual(t, f, []*jack.PhoneNumber{got}, numbers)
		})

		t.Run("ErrNotFound", func(t *testing.T) {
			t.Parallel()
			b := setup(t)
			_, err := b.store.UpdatePhoneNumber(t.Context(), b.org.ID, NewPhone(), jack.PhoneNumberUpdate{IsActive: ptr(true)})
			requireCode(t, jack.ENOTFOUND, err)
		})
	})
}
