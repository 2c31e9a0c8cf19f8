package persistence_test

import (
	"testing"
	"time"

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
