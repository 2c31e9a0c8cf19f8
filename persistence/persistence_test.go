package persistence_test

import (
	"bytes"
	"encoding/binary"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jack-auto/jack"
	"github.com/jack-auto/jack/persistence"
	"github.com/stretchr/testify/require"
)

func TestCursor(t *testing.T) {
	t.Parallel()
	c := persistence.Cursor{Time: time.Date(2026, 1, 2, 3, 4, 5, 6789, time.FixedZone("X", 7200)), ID: "lead-1"}
	s := persistence.EncodeCursor(persistence.CursorLeadsCreated, c)

	got, err := persistence.DecodeCursor(persistence.CursorLeadsCreated, s)
	require.NoError(t, err)
	require.Equal(t, persistence.Cursor{Time: c.Time.UTC().Truncate(time.Microsecond), ID: "lead-1"}, got)

	for _, tc := range []struct{ name, kind, cursor string }{
		{"OtherKind", persistence.CursorLeadsActivity, s},
		{"NotBase64", persistence.CursorLeadsCreated, "!!"},
		{"NotJSON", persistence.CursorLeadsCreated, "bm90IGpzb24"},
		{"Empty", persistence.CursorMessages, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, err := persistence.DecodeCursor(tc.kind, tc.cursor)
			require.Equal(t, jack.EINVALID, jack.ErrorCode(err))
		})
	}
}

func TestLikePattern(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ q, want string }{
		{"Bob", "%bob%"},
		{"100%", `%100\%%`},
		{"a_b", `%a\_b%`},
		{`back\slash`, `%back\\slash%`},
	} {
		require.Equal(t, tc.want, persistence.LikePattern(tc.q), tc.q)
	}
}

func TestApplyConversationChange(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 5, 6, 7, 8, 9, 0, time.UTC)
	lead := &jack.Lead{Version: 3, TotalConversations: 2}

	yes := true
	persistence.ApplyConversationChange(lead, jack.ConversationChange{Messages: 2, OptOut: &yes}, now)
	require.Equal(t, 4, lead.TotalConversations)
	require.Equal(t, now, *lead.OptedOutAt)
	require.EqualValues(t, 4, lead.Version)
	require.Equal(t, now, lead.UpdatedAt)

	later := now.Add(time.Hour)
	persistence.ApplyConversationChange(lead, jack.ConversationChange{OptOut: &yes, AIPausedUntil: &later}, later)
	require.Equal(t, now, *lead.OptedOutAt, "an existing opt-out time is kept")
	require.Equal(t, later, *lead.AIPausedUntil)

	no := false
	persistence.ApplyConversationChange(lead, jack.ConversationChange{OptOut: &no, ResumeAI: true}, later)
	require.Nil(t, lead.OptedOutAt)
	require.Nil(t, lead.AIPausedUntil)
	require.EqualValues(t, 6, lead.Version)
}

func TestNextEventID(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 5, 6, 7, 8, 9, 123456000, time.UTC)
	requireV7 := func(t *testing.T, id uuid.UUID) {
		t.Helper()
		require.Equal(t, uuid.Version(7), id.Version(), id.String())
		require.Equal(t, uuid.RFC4122, id.Variant(), id.String())
	}
	less := func(a, b uuid.UUID) bool { return bytes.Compare(a[:], b[:]) < 0 }
	millis := func(id uuid.UUID) int64 { return int64(binary.BigEndian.Uint64(id[:8]) >> 16) }

	t.Run("FirstEvent", func(t *testing.T) {
		t.Parallel()
		id := persistence.NextEventID(now, uuid.Nil)
		requireV7(t, id)
		require.Equal(t, now.UnixMilli(), millis(id))
	})

	t.Run("ClockAhead", func(t *testing.T) {
		t.Parallel()
		last := persistence.NextEventID(now, uuid.Nil)
		id := persistence.NextEventID(now.Add(time.Second), last)
		requireV7(t, id)
		require.True(t, less(last, id))
		require.Equal(t, now.Add(time.Second).UnixMilli(), millis(id), "a clock ahead of the last id gives its own time")
	})

	t.Run("ClockBehind", func(t *testing.T) {
		t.Parallel()
		last := persistence.NextEventID(now, uuid.Nil)
		id := persistence.NextEventID(now.Add(-time.Hour), last)
		requireV7(t, id)
		require.True(t, less(last, id))
		require.Equal(t, now.UnixMilli(), millis(id), "a clock behind continues after the last id")
	})

	t.Run("SameClock", func(t *testing.T) {
		t.Parallel()
		last := uuid.Nil
		for range 1000 {
			id := persistence.NextEventID(now, last)
			requireV7(t, id)
			require.True(t, less(last, id))
			last = id
		}
	})

	for _, tc := range []struct{ name, last, want string }{
		{"Increment", "019e0000-0000-7000-8000-000000000000", "019e0000-0000-7000-8000-000000000001"},
		{"CarryIntoRandA", "019e0000-0000-7000-bfff-ffffffffffff", "019e0000-0000-7001-8000-000000000000"},
		{"CarryIntoMillis", "019e0000-0000-7fff-bfff-ffffffffffff", "019e0000-0001-7000-8000-000000000000"},
		{"OtherVariant", "019e0000-0000-7000-ffff-ffffffffffff", "019e0000-0000-7001-8000-000000000000"},
		{"OtherVariantNextMilli", "019e0000-0000-7000-c000-000000000000", "019e0000-0001-7000-8000-000000000000"},
		{"LaterVersion", "019e0000-0000-8000-8000-000000000000", "019e0000-0001-7000-8000-000000000000"},
		{"OlderVersion", "019e0000-0000-4000-8000-000000000000", "019e0000-0000-7000-8000-000000000001"},
	} {
		t.Run("Successor/"+tc.name, func(t *testing.T) {
			t.Parallel()
			last := uuid.MustParse(tc.last)
			id := persistence.NextEventID(time.UnixMilli(0), last)
			require.Equal(t, tc.want, id.String())
			requireV7(t, id)
			require.True(t, less(last, id))
		})
	}
}
