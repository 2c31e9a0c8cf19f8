package jack

import (
	"math"
	"slices"
	"strings"
	"time"
	"unicode"
)

// ScoreInput is what a lead is scored on: the lead as it is now, its recent messages (oldest
// first, both channels), the clock and the latest call's analysis (nil when it had no call).
type ScoreInput struct {
	Lead     *Lead
	Messages []*Message
	Now      time.Time
	Call     *CallAnalysis
}

// CallAnalysis is the part of the voice provider's post-call analysis that scoring reads (the
// provider's adapter reads it from the data it reported, e.g. elevenlabs.ParseCallAnalysis).
type CallAnalysis struct {
	Successful        string            // success | failure | unknown
	EvaluationResults map[string]string // criterion id → success | failure | unknown
	DataCollected     map[string]string // data collection id → value as text ("" when none)
}

// Points of the lead quality score (see ScoreLead).
const (
	scorePerCustomerMessage = 4
	scoreEngagementMax      = 20
	scoreRecentDay          = 15 // latest customer message within 24 hours
	scoreRecentWeek         = 8  // within 7 days
	scoreQualifier          = 10 // each of vehicle, budget, credit
	scoreAppointment        = 10
	scoreCallSuccess        = 15
	scoreCallUnknown        = 5
	scorePerCriterion       = 3
	scoreCriteriaMax        = 9
	scorePerDataValue       = 2
	scoreDataMax            = 6
	scoreCallMax            = scoreCallSuccess + scoreCriteriaMax + scoreDataMax
)

// sentimentWindow is how many of the customer's latest messages sentiment reads.
const sentimentWindow = 5

// ScoreLead ranks a lead from 0 to 100 (rounded to one decimal) so staff call the most promising
// first, and reads the customer's sentiment. It is deterministic: the same input always scores
// the same, and nothing but the input is read. The score adds up
//
//   - engagement: 4 points per customer message in Messages, at most 20;
//   - recency of the latest customer message: 15 within 24 hours of Now, 8 within 7 days;
//   - qualification: 10 each for a stated vehicle, budget and credit range on the lead;
//   - script progress: 10 once the appointment step is reached (current or completed);
//   - the latest call: 15 when ElevenLabs judged it successful, 5 when unknown, 0 when failed;
//     3 per evaluation criterion met (at most 9); 2 per collected data value (at most 6);
//
// and is clamped to 100. A customer who opted out scores 0: they cannot be contacted.
//
// Sentiment reads the customer's last 5 messages with a small fixed lexicon, matched as whole
// words or phrases, case-insensitively, longest phrase first, so "not interested" counts as
// negative and not also as "interested": more positive than negative hits is "positive", more
// negative is "negative", otherwise (including no messages) "neutral".
func ScoreLead(in ScoreInput) (score float64, sentiment string) {
	var customer []*Message
	for _, m := range in.Messages {
		if m != nil && m.SentBy == SentByCustomer {
			customer = append(customer, m)
		}
	}
	sentiment = readSentiment(customer[max(0, len(customer)-sentimentWindow):])
	if in.Lead.OptedOut() {
		return 0, sentiment
	}

	points := min(scorePerCustomerMessage*len(customer), scoreEngagementMax)
	if len(customer) > 0 {
		var latest time.Time
		for _, m := range customer {
			if m.Timestamp.After(latest) {
				latest = m.Timestamp
			}
		}
		switch age := in.Now.Sub(latest); {
		case age <= 24*time.Hour:
			points += scoreRecentDay
		case age <= 7*24*time.Hour:
			points += scoreRecentWeek
		}
	}
	if l := in.Lead; l != nil {
		for _, v := range []string{l.VehiclePreference, l.BudgetRange, l.CreditScoreRange} {
			if strings.TrimSpace(v) != "" {
				points += scoreQualifier
			}
		}
		if l.ScriptProgress.CurrentStep == StepAppointment || slices.Contains(l.ScriptProgress.CompletedSteps, StepAppointment) {
			points += scoreAppointment
		}
	}
	points += callPoints(in.Call)
	return round1(min(float64(points), 100)), sentiment
}

// CallScores are a call session's scores: sentiment from -1 to 1 (success 1, unknown 0,
// failure -1) and quality from 0 to 100, the call's part of ScoreLead scaled to 100. A nil
// analysis (a call ElevenLabs did not analyse) scores 0 and 0.
func CallScores(a *CallAnalysis) (sentimentScore, qualityScore float64) {
	if a == nil {
		return 0, 0
	}
	switch a.Successful {
	case OutcomeSuccess:
		sentimentScore = 1
	case OutcomeFailure:
		sentimentScore = -1
	}
	return sentimentScore, round1(float64(callPoints(a)) * 100 / scoreCallMax)
}

func callPoints(a *CallAnalysis) int {
	if a == nil {
		return 0
	}
	var points, criteria, data int
	switch a.Successful {
	case OutcomeSuccess:
		points = scoreCallSuccess
	case OutcomeUnknown:
		points = scoreCallUnknown
	}
	for _, r := range a.EvaluationResults {
		if r == OutcomeSuccess {
			criteria += scorePerCriterion
		}
	}
	for _, v := range a.DataCollected {
		if strings.TrimSpace(v) != "" {
			data += scorePerDataValue
		}
	}
	return points + min(criteria, scoreCriteriaMax) + min(data, scoreDataMax)
}

func round1(v float64) float64 { return math.Round(v*10) / 10 }

// The sentiment lexicon, as lowercase word sequences.
var (
	positiveWords = lexicon("great", "thanks", "thank you", "love", "perfect", "awesome", "interested", "yes", "excited")
	negativeWords = lexicon("not interested", "stop", "annoyed", "angry", "bad", "terrible", "scam", "too expensive", "never", "no thanks")
)

type phrase struct {
	words    []string
	positive bool
}

// phrases holds the whole lexicon, longest phrase first, so a longer phrase wins over a word
// it contains.
var phrases = func() []phrase {
	var out []phrase
	for _, w := range positiveWords {
		out = append(out, phrase{words: w, positive: true})
	}
	for _, w := range negativeWords {
		out = append(out, phrase{words: w})
	}
	slices.SortStableFunc(out, func(a, b phrase) int { return len(b.words) - len(a.words) })
	return out
}()

func lexicon(entries ...string) [][]string {
	out := make([][]string, len(entries))
	for i, e := range entries {
		out[i] = strings.Fields(e)
	}
	return out
}

func readSentiment(msgs []*Message) string {
	var pos, neg int
	for _, m := range msgs {
		words := strings.FieldsFunc(strings.ToLower(m.Content), func(r rune) bool {
			return !unicode.IsLetter(r) && !unicode.IsDigit(r) && r != '\'' && r != '’'
		})
		for i := 0; i < len(words); {
			matched := false
			for _, p := range phrases {
				if len(words)-i >= len(p.words) && slices.Equal(words[i:i+len(p.words)], p.words) {
					if p.positive {
						pos++
					} else {
						neg++
					}
					i += len(p.words)
					matched = true
					break
				}
			}
			if !matched {
				i++
			}
		}
	}
	switch {
	case pos > neg:
		return "positive"
	case neg > pos:
		return "negative"
	}
	return "neutral"
}
