package persistence_test

import (
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jack-auto/jack"
	"github.com/jack-auto/jack/persistence"
	"github.com/stretchr/testify/require"
)

func TestPrepareReminder(t *testing.T) {
	t.Parallel()
	orgID := uuid.New()
	now := time.Date(2026, 5, 6, 7, 8, 9, 0, time.UTC)
	lead := &jack.Lead{ID: "lead-1", PhoneNumberNormalized: "+16045550100"}

	t.Run("Defaults", func(t *testing.T) {
		t.Parallel()
		due := now.Add(time.Hour + time.Nanosecond)
		r := &jack.Reminder{LeadID: lead.ID, Step: 2, DueAt: due}
		require.NoError(t, persistence.PrepareReminder(r, orgID, lead, now))
		require.NotEqual(t, uuid.Nil, r.ID)
		require.Equal(t, orgID, r.OrganizationID)
		require.Equal(t, lead.PhoneNumberNormalized, r.Phone)
		require.Equal(t, jack.ReminderPending, r.Status)
		require.Equal(t, now, r.CreatedAt)
		require.Equal(t, now.Add(time.Hour), r.DueAt, "truncated to microseconds")
	})

	t.Run("Kept", func(t *testing.T) {
		t.Parallel()
		id, created := uuid.New(), now.Add(-time.Minute)
		r := &jack.Reminder{ID: id, LeadID: lead.ID, Phone: lead.PhoneNumberNormalized, DueAt: now, CreatedAt: created, Status: jack.ReminderPending}
		require.NoError(t, persistence.PrepareReminder(r, orgID, lead, now))
		require.Equal(t, id, r.ID)
		require.Equal(t, created, r.CreatedAt)
	})

	for name, r := range map[string]jack.Reminder{
		"NoDueAt":      {},
		"NegativeStep": {DueAt: now, Step: -1},
		"Canceled":     {DueAt: now, Status: jack.ReminderCanceled},
		"OtherPhone":   {DueAt: now, Phone: "+16045550199"},
	} {
		t.Run("ErrInvalid/"+name, func(t *testing.T) {
			t.Parallel()
			require.Equal(t, jack.EINVALID, jack.ErrorCode(persistence.PrepareReminder(&r, orgID, lead, now)))
		})
	}
}

func TestClaimWindow(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 5, 6, 7, 8, 9, 1500, time.UTC)
	until, n, err := persistence.ClaimWindow(now, time.Minute, 0)
	require.NoError(t, err)
	require.Equal(t, persistence.Truncate(now.Add(time.Minute)), until)
	require.Equal(t, persistence.DefaultClaimLimit, n)
	_, n, err = persistence.ClaimWindow(now, time.Minute, 1e6)
	require.NoError(t, err)
	require.Equal(t, persistence.MaxClaimLimit, n)
	_, _, err = persistence.ClaimWindow(now, 0, 10)
	require.Equal(t, jack.EINVALID, jack.ErrorCode(err))
}

func TestMediaJSON(t *testing.T) {
	t.Parallel()
	for _, m := range [][]jack.MessageMedia{nil, {}} {
		b, err := persistence.MediaJSON(m)
		require.NoError(t, err)
		require.Equal(t, "[]", string(b))
		require.Nil(t, persistence.MediaOrNil(m))
	}
	m := []jack.MessageMedia{{URL: "https://example.com/1", ContentType: "image/png"}}
	b, err := persistence.MediaJSON(m)
	require.NoError(t, err)
	require.JSONEq(t, `[{"url":"https://example.com/1","contentType":"image/png"}]`, string(b))
	require.Equal(t, m, persistence.MediaOrNil(m))
}
