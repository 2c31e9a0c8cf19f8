package offline

import (
	"testing"

	"github.com/jack-auto/jack"
	"github.com/stretchr/testify/require"
)

func TestExtractVehicle(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ name, text, want string }{
		{"YearMakeModel", "2021 Honda Civic please", "2021 Honda Civic"},
		{"UsedWithArticle", "I'm looking for a used F-150", "a used F-150"},
		{"ModelAndTrim", "Interested in the RAV4 hybrid, around $400/month", "RAV4 hybrid"},
		{"BodyTypes", "maybe a new SUV or a truck", "a new SUV or a truck"},
		{"TwoWordModels", "Model 3 or Model Y", "Model 3 or Model Y"},
		{"MakeWithVagueModel", "what about the Ford Escape?", "Ford Escape"},
		{"YearAfterModel", "a Grand Cherokee 2019", "a Grand Cherokee 2019"},
		{"Plural", "do you have any minivans", "minivans"},
		{"VagueWordAlone", "does it fit my budget", ""},
		{"SentenceBreaks", "I drive a Civic. 2021 was a good year", "a Civic"},
		{"Nothing", "hello there", ""},
		{"YearAlone", "since 2019", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			require.Equal(t, tc.want, extract(tc.text, "").vehicle)
		})
	}
}

func TestExtractBudget(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ name, text, asked, want string }{
		{"Monthly", "$400/month", "", "$400/month"},
		{"MonthlyWords", "about 400 a month", "", "$400/month"},
		{"MonthlyShort", "400/mo max", "", "$400/month"},
		{"MonthlyAdverb", "350 monthly", "", "$350/month"},
		{"Total", "under $25,000", "", "$25,000"},
		{"TotalK", "25k", "", "$25,000"},
		{"RangeMonthly", "$300-$350 a month", "", "$300-$350/month"},
		{"RangeTo", "300 to 350 per month", "", "$300-$350/month"},
		{"RangeK", "25-30k", "", "$25,000-$30,000"},
		{"Cents", "$399.99/month", "", "$399.99/month"},
		{"DownPaymentSkipped", "$5,000 down and 400/mo", "", "$400/month"},
		{"DownOnly", "I have $2000 down", "", ""},
		{"BareNeedsQuestion", "400", "", ""},
		{"BareAnswer", "400", jack.StepBudget, "$400/month"},
		{"BareTotal", "20000", jack.StepBudget, "$20,000"},
		{"BareYearIgnored", "2021", jack.StepBudget, ""},
		{"ModelNumberIgnored", "an F-150 or a CX-5", jack.StepBudget, ""},
		{"TimeIgnored", "10am works", jack.StepBudget, ""},
		{"BareCreditScoreIgnored", "my credit score is 650", jack.StepBudget, ""},
		{"Months", "$25,000 over 72 months", "", "$25,000"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			require.Equal(t, tc.want, extract(tc.text, tc.asked).budget)
		})
	}
}

func TestExtractCredit(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ name, text, asked, want string }{
		{"Range", "my credit score is 600-650", "", "600-650"},
		{"RangeAnswer", "600 to 650", jack.StepCredit, "600-650"},
		{"Score", "credit is around 650", "", "650"},
		{"Plus", "700+ credit", "", "700+"},
		{"Above", "score above 720", "", "720+"},
		{"Under", "under 550 credit", "", "under 550"},
		{"Word", "good", jack.StepCredit, "good"},
		{"Excellent", "my credit is excellent", "", "excellent"},
		{"NotBad", "my credit is not bad", "", "fair"},
		{"NotGreat", "credit's not great", "", "poor"},
		{"OkThenGood", "ok my credit is good", "", "good"},
		{"Rebuilding", "rebuilding after a bankruptcy", jack.StepCredit, "rebuilding"},
		{"None", "I don't have any credit", "", "no credit"},
		{"NeedsTopic", "sounds good", jack.StepBudget, ""},
		{"BudgetNotAScore", "$650/month and my credit is good", "", "good"},
		{"OutOfRange", "credit score 900", "", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			require.Equal(t, tc.want, extract(tc.text, tc.asked).credit)
		})
	}
}

func TestExtractWhen(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ name, text, want string }{
		{"DayAndTime", "saturday at 10am works", "saturday at 10am"},
		{"Relative", "tomorrow after 5pm", "tomorrow after 5pm"},
		{"Choices", "Sat morning or Sunday afternoon", "Sat morning or Sunday afternoon"},
		{"SpacedClock", "Friday at 3 pm", "Friday at 3 pm"},
		{"ClockRange", "10-11am", "10-11am"},
		{"Greeting", "good morning", ""},
		{"PronounAm", "I am ready", ""},
		{"Nothing", "sure", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			require.Equal(t, tc.want, extract(tc.text, jack.StepAppointment).when)
		})
	}
}

func TestGibberish(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		text string
		want bool
	}{
		{"", true}, {"   ", true}, {"???", true}, {"🚗🚗", true}, {"asdfghjkl", true}, {"zzzzzz", true},
		{"hi", false}, {"ok", false}, {"k", false}, {"400", false}, {"qwerty", false}, {"strengths", false},
	} {
		require.Equal(t, tc.want, gibberish(tc.text), "%q", tc.text)
	}
}

func TestMoney(t *testing.T) {
	t.Parallel()
	for cents, want := range map[int64]string{0: "$0", 40000: "$400", 2500000: "$25,000", 39999: "$399.99", 100000000: "$1,000,000", 40050: "$400.50"} {
		require.Equal(t, want, money(cents))
	}
}

func TestTruncateRunes(t *testing.T) {
	t.Parallel()
	require.Equal(t, "héllo", truncateRunes("héllo wörld", 5))
	require.Equal(t, "abc", truncateRunes("abc", 5))
}
