package persistence_test

import (
	"math"
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

func TestScoreCursor(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name  string
		score *float64
	}{
		{"Scored", ptr(72.125)},
		{"Zero", ptr(0.0)},
		{"Unscored", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			lead := &jack.Lead{ID: "lead-1", LeadQualityScore: tc.score, CreatedAt: time.Now()}
			s := persistence.NextLeadCursor(persistence.CursorLeadsScore, lead)
			got, err := persistence.DecodeCursor(persistence.CursorLeadsScore, s)
			require.NoError(t, err)
			require.Equal(t, persistence.Cursor{Score: tc.score, ID: "lead-1"}, got)
			_, err = persistence.DecodeCursor(persistence.CursorLeadsCreated, s)
			require.Equal(t, jack.EINVALID, jack.ErrorCode(err), "a score cursor is no other listing's")
		})
	}
}

func TestLeadAfter(t *testing.T) {
	t.Parallel()
	placeholders := func(args *[]any) func(any) string {
		return func(v any) string { *args = append(*args, v); return "?" }
	}
	at := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	for _, tc := range []struct {
		name, kind string
		c          persistence.Cursor
		want       string
		args       []any
	}{
		{"Created", persistence.CursorLeadsCreated, persistence.Cursor{Time: at, ID: "x"},
			"(created_at, id) < (?, ?)", []any{at, "x"}},
		{"Scored", persistence.CursorLeadsScore, persistence.Cursor{Score: ptr(50.0), ID: "x"},
			"(lead_quality_score < ? OR (lead_quality_score = ? AND id < ?) OR lead_quality_score IS NULL)", []any{50.0, 50.0, "x"}},
		{"Unscored", persistence.CursorLeadsScore, persistence.Cursor{ID: "x"},
			"(lead_quality_score IS NULL AND id < ?)", []any{"x"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			column := "created_at"
			if tc.kind == persistence.CursorLeadsScore {
				column = "lead_quality_score"
			}
			var args []any
			require.Equal(t, tc.want, persistence.LeadAfter(tc.kind, column, tc.c, placeholders(&args)))
			require.Equal(t, tc.args, args)
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

	score := 81.5
	persistence.ApplyConversationChange(lead, jack.ConversationChange{LeadQualityScore: &score, Sentiment: ptr("positive")}, later)
	score = 0 // the lead keeps its own copy
	require.Equal(t, ptr(81.5), lead.LeadQualityScore)
	require.Equal(t, "positive", lead.Sentiment)
}

func TestCheckConversationChange(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name  string
		ch    jack.ConversationChange
		field string
	}{
		{"Empty", jack.ConversationChange{}, ""},
		{"Bounds", jack.ConversationChange{LeadQualityScore: ptr(100.0), Sentiment: ptr("neutral")}, ""},
		{"ZeroScore", jack.ConversationChange{LeadQualityScore: ptr(0.0)}, ""},
		{"ScoreAbove", jack.ConversationChange{LeadQualityScore: ptr(100.01)}, "leadQualityScore"},
		{"ScoreBelow", jack.ConversationChange{LeadQualityScore: ptr(-0.5)}, "leadQualityScore"},
		{"ScoreNaN", jack.ConversationChange{LeadQualityScore: ptr(math.NaN())}, "leadQualityScore"},
		{"Sentiment", jack.ConversationChange{Sentiment: ptr("meh")}, "sentiment"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			err := persistence.CheckConversationChange(tc.ch)
			if tc.field == "" {
				require.NoError(t, err)
				return
			}
			var je *jack.Error
			require.ErrorAs(t, err, &je)
			require.Equal(t, jack.EUNPROCESSABLE, je.Code)
			require.Contains(t, je.Fields, tc.field)
		})
	}
}
