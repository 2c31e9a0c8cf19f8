package jack_test

import (
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/jack-auto/jack"
)

var scoreNow = time.Date(2025, 6, 2, 15, 0, 0, 0, time.UTC)

// msgs builds a timeline, oldest first: each entry is who ("c" customer, "a" agent), how long
// before scoreNow, and the text.
func msgs(entries ...any) []*jack.Message {
	var out []*jack.Message
	for i := 0; i+2 < len(entries); i += 3 {
		sentBy := jack.SentByAgent
		if entries[i].(string) == "c" {
			sentBy = jack.SentByCustomer
		}
		out = append(out, &jack.Message{SentBy: sentBy, Type: jack.ChannelSMS,
			Timestamp: scoreNow.Add(-entries[i+1].(time.Duration)), Content: entries[i+2].(string)})
	}
	return out
}

func scoreLead(mutate func(l *jack.Lead)) *jack.Lead {
	l := jack.NewLead(uuid.New(), "Alex", "+16045550123", scoreNow.Add(-30*24*time.Hour))
	if mutate != nil {
		mutate(l)
	}
	return l
}

func TestScoreLead(t *testing.T) {
	t.Parallel()
	successCall := &jack.CallAnalysis{
		Successful:        "success",
		EvaluationResults: map[string]string{"budget": "success", "vehicle": "success", "appointment": "success", "rapport": "success"},
		DataCollected:     map[string]string{"vehicle": "Civic", "budget": "20k", "credit": "good", "trade_in": "yes", "email": ""},
	}
	for _, tc := range []struct {
		name      string
		in        jack.ScoreInput
		score     float64
		sentiment string
	}{
		{
			name:      "NoMessages",
			in:        jack.ScoreInput{Lead: scoreLead(nil), Now: scoreNow},
			score:     0,
			sentiment: "neutral",
		},
		{
			name: "EngagementAndRecencyToday",
			in: jack.ScoreInput{Lead: scoreLead(nil), Now: scoreNow, Messages: msgs(
				"c", 3*time.Hour, "Hi, do you have SUVs?",
				"a", 3*time.Hour, "We do! Great selection.",
				"c", 2*time.Hour, "Thanks, I'm interested in a RAV4",
			)},
			score:     4*2 + 15,
			sentiment: "positive", // "thanks", "interested"; the agent's "great" does not count
		},
		{
			name: "EngagementCapsAndRecencyThisWeek",
			in: jack.ScoreInput{Lead: scoreLead(nil), Now: scoreNow, Messages: msgs(
				"c", 72*time.Hour, "one", "c", 71*time.Hour, "two", "c", 70*time.Hour, "three",
				"c", 69*time.Hour, "four", "c", 68*time.Hour, "five", "c", 67*time.Hour, "six",
			)},
			score:     20 + 8,
			sentiment: "neutral",
		},
		{
			name: "StaleConversation",
			in: jack.ScoreInput{Lead: scoreLead(nil), Now: scoreNow, Messages: msgs(
				"c", 8*24*time.Hour, "This is too expensive, no thanks",
			)},
			score:     4,
			sentiment: "negative",
		},
		{
			name: "QualifiedWithAppointment",
			in: jack.ScoreInput{Now: scoreNow, Lead: scoreLead(func(l *jack.Lead) {
				l.VehiclePreference, l.BudgetRange, l.CreditScoreRange = "2021 Civic", "$20k", "700+"
				l.ScriptProgress = jack.Progress{CurrentStep: jack.StepAppointment, CompletedSteps: []string{jack.StepContacted, jack.StepCredit}}
			})},
			score:     40,
			sentiment: "neutral",
		},
		{
			name:      "CallOnly",
			in:        jack.ScoreInput{Lead: scoreLead(nil), Now: scoreNow, Call: successCall},
			score:     15 + 9 + 6, // 4 criteria met but at most 9; 4 values but at most 6
			sentiment: "neutral",
		},
		{
			name: "CallUnknownWithOneCriterion",
			in: jack.ScoreInput{Lead: scoreLead(nil), Now: scoreNow, Call: &jack.CallAnalysis{
				Successful: "unknown", EvaluationResults: map[string]string{"a": "success", "b": "failure"}, DataCollected: map[string]string{"x": "  "},
			}},
			score:     5 + 3,
			sentiment: "neutral",
		},
		{
			name: "ClampedAt100",
			in: jack.ScoreInput{Now: scoreNow, Call: successCall, Lead: scoreLead(func(l *jack.Lead) {
				l.VehiclePreference, l.BudgetRange, l.CreditScoreRange = "Civic", "20k", "good"
				l.ScriptProgress.CompletedSteps = append(l.ScriptProgress.CompletedSteps, jack.StepAppointment)
			}), Messages: msgs(
				"c", 5*time.Hour, "yes", "c", 4*time.Hour, "perfect", "c", 3*time.Hour, "awesome",
				"c", 2*time.Hour, "love it", "c", time.Hour, "see you then",
			)},
			score:     100, // 20 + 15 + 30 + 10 + 30 = 105
			sentiment: "positive",
		},
		{
			name: "OptedOutScoresZero",
			in: jack.ScoreInput{Now: scoreNow, Call: successCall, Lead: scoreLead(func(l *jack.Lead) {
				at := scoreNow.Add(-time.Minute)
				l.OptedOutAt, l.VehiclePreference = &at, "Civic"
			}), Messages: msgs("c", time.Minute, "STOP")},
			score:     0,
			sentiment: "negative",
		},
		{
			name: "NotInterestedIsNegativeOnly",
			in: jack.ScoreInput{Lead: scoreLead(nil), Now: scoreNow, Messages: msgs(
				"c", 30*time.Minute, "NOT interested. Thank you though",
				"c", 20*time.Minute, "Stop texting me, this is a scam!",
			)},
			score:     8 + 15,
			sentiment: "negative", // not interested, stop, scam vs thank you
		},
		{
			name: "SentimentReadsOnlyTheLastFive",
			in: jack.ScoreInput{Lead: scoreLead(nil), Now: scoreNow, Messages: msgs(
				"c", 10*time.Hour, "terrible", "c", 9*time.Hour, "angry, bad",
				"c", 5*time.Hour, "ok", "c", 4*time.Hour, "great", "c", 3*time.Hour, "fine",
				"c", 2*time.Hour, "sure", "c", time.Hour, "tomorrow",
			)},
			score:     20 + 15,
			sentiment: "positive",
		},
		{
			name: "WholeWordsOnly",
			in: jack.ScoreInput{Lead: scoreLead(nil), Now: scoreNow, Messages: msgs(
				"c", 26*time.Hour, "Yesterday the badge was stopped at the greatest stoplight",
			)},
			score:     4 + 8,
			sentiment: "neutral",
		},
		{
			name:      "NilLead",
			in:        jack.ScoreInput{Now: scoreNow, Messages: msgs("c", time.Hour, "yes")},
			score:     4 + 15,
			sentiment: "positive",
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			score, sentiment := jack.ScoreLead(tc.in)
			require.Equal(t, tc.score, score)
			require.Equal(t, tc.sentiment, sentiment)
			again, _ := jack.ScoreLead(tc.in)
			require.Equal(t, score, again, "deterministic")
		})
	}
}

func TestCallScores(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name               string
		analysis           *jack.CallAnalysis
		sentiment, quality float64
	}{
		{"Nil", nil, 0, 0},
		{"Success", &jack.CallAnalysis{Successful: "success"}, 1, 50},
		{"Failure", &jack.CallAnalysis{Successful: "failure", EvaluationResults: map[string]string{"a": "success"}}, -1, 10},
		{"UnknownWithData", &jack.CallAnalysis{Successful: "unknown", DataCollected: map[string]string{"a": "x"}}, 0, 23.3},
		{"Best", &jack.CallAnalysis{Successful: "success",
			EvaluationResults: map[string]string{"a": "success", "b": "success", "c": "success"},
			DataCollected:     map[string]string{"a": "1", "b": "2", "c": "3"}}, 1, 100},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			sentiment, quality := jack.CallScores(tc.analysis)
			require.Equal(t, tc.sentiment, sentiment)
			require.Equal(t, tc.quality, quality)
		})
	}
}
