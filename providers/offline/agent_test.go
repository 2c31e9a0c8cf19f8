package offline

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"
	"github.com/jack-auto/jack"
	"github.com/stretchr/testify/require"
)

var update = flag.Bool("update", false, "rewrite testdata golden files")

var (
	orgID = uuid.MustParse("0190f000-0000-7000-8000-000000000001")
	start = time.Date(2025, 3, 14, 15, 0, 0, 0, time.UTC)
	// premium is the dealership's variables; tests only read it.
	premium = map[string]any{"organization_name": "Premium Auto Sales"}
)

// convo is one conversation with the agent; say plays a customer text and applies the reply's
// change to the lead the way the store does, checking the invariants of every reply.
type convo struct {
	tb      testing.TB
	sess    jack.AgentSession
	lead    *jack.Lead
	history []*jack.Message
	vars    map[string]any
}

func newConvo(tb testing.TB, agent *Agent, name string, vars map[string]any) *convo {
	tb.Helper()
	lead := jack.NewLead(orgID, name, "+16045550123", start)
	lead.ID = "lead-1"
	sess, err := agent.Open(context.Background(), jack.AgentConversation{OrganizationID: orgID, Phone: lead.PhoneNumber, Variables: vars})
	require.NoError(tb, err)
	tb.Cleanup(func() { require.NoError(tb, sess.Close()) })
	return &convo{tb: tb, sess: sess, lead: lead, vars: vars}
}

func (c *convo) say(text string) *jack.AgentReply {
	c.tb.Helper()
	now := start.Add(time.Duration(len(c.history)) * time.Minute)
	c.history = append(c.history, &jack.Message{Content: text, SentBy: jack.SentByCustomer, Type: jack.ChannelSMS, Timestamp: now})
	before := *c.lead
	reply, err := c.sess.Reply(context.Background(), jack.AgentTurn{Text: text, Lead: &before, History: slices.Clone(c.history), Variables: c.vars, Now: now})
	require.NoError(c.tb, err)
	checkReply(c.tb, &before, reply)
	applyChange(c.lead, reply.Change)
	requireValid(c.tb, c.lead)
	c.history = append(c.history, &jack.Message{Content: reply.Text, SentBy: jack.SentByAgent, Type: jack.ChannelSMS, Timestamp: now})
	return reply
}

// sayAll plays texts in turn and returns the last reply.
func (c *convo) sayAll(texts ...string) (r *jack.AgentReply) {
	c.tb.Helper()
	for _, text := range texts {
		r = c.say(text)
	}
	return r
}

func requireContainsAll(tb testing.TB, s string, want []string) {
	tb.Helper()
	for _, w := range want {
		require.Contains(tb, s, w)
	}
}

func applyChange(l *jack.Lead, ch jack.ConversationChange) {
	for dst, src := range map[*string]*string{&l.ChaseStatus: ch.ChaseStatus, &l.VehiclePreference: ch.VehicleInterest, &l.BudgetRange: ch.BudgetRange, &l.CreditScoreRange: ch.CreditScoreRange} {
		if src != nil {
			*dst = *src
		}
	}
	if ch.ScriptProgress != nil {
		l.ScriptProgress = *ch.ScriptProgress
	}
}

var dollarsRE = regexp.MustCompile(`\$[\d,]+(\.\d+)?`)

// checkReply asserts what holds for every reply: SMS-sized, no invented figures or promises, and
// script progress that only moves forward.
func checkReply(tb testing.TB, before *jack.Lead, r *jack.AgentReply) {
	tb.Helper()
	require.NotEmpty(tb, r.Text)
	require.LessOrEqual(tb, utf8.RuneCountInString(r.Text), maxReply, r.Text)
	budget := before.BudgetRange
	if r.Change.BudgetRange != nil {
		budget = *r.Change.BudgetRange
	}
	for _, amount := range dollarsRE.FindAllString(r.Text, -1) {
		require.Contains(tb, budget, amount, "reply states an amount the customer did not give: %q", r.Text)
	}
	lower := strings.ToLower(r.Text)
	for _, invented := range []string{"approved", "in stock", "confirmed", "is available", "we have", "% apr", "interest rate of"} {
		require.NotContains(tb, lower, invented)
	}
	if p := r.Change.ScriptProgress; p != nil {
		old := before.ScriptProgress
		require.GreaterOrEqual(tb, slices.Index(jack.ScriptSteps, p.CurrentStep), slices.Index(jack.ScriptSteps, old.CurrentStep), "current step went back")
		for _, s := range old.CompletedSteps {
			require.Contains(tb, p.CompletedSteps, s, "completed step dropped")
		}
		require.True(tb, slices.IsSortedFunc(p.CompletedSteps, func(a, b string) int {
			return slices.Index(jack.ScriptSteps, a) - slices.Index(jack.ScriptSteps, b)
		}), "completed steps out of order: %v", p.CompletedSteps)
		require.Len(tb, slices.Compact(slices.Clone(p.CompletedSteps)), len(p.CompletedSteps), "duplicate completed step")
	}
	if r.Change.VehicleInterest != nil {
		require.LessOrEqual(tb, utf8.RuneCountInString(*r.Change.VehicleInterest), maxVehicleLen)
	}
	if s := r.Change.ChaseStatus; s != nil {
		require.Equal(tb, jack.ChaseEngaged, *s)
		require.Contains(tb, []string{jack.ChaseNew, jack.ChaseContacted}, before.ChaseStatus)
	}
}

func TestGreeting(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name     string
		customer string
		vars     map[string]any
		fallback string
		want     string
	}{
		{"ByFirstName", "John Smith", premium, "", "Hi John, thanks for reaching out to Premium Auto Sales!"},
		{"PlaceholderCustomer", "Customer", premium, "", "Hi there, thanks for reaching out to Premium Auto Sales!"},
		{"PlaceholderEmpty", "", premium, "", "Hi there, thanks for reaching out to Premium Auto Sales!"},
		{"PlaceholderPhone", "+16045550123", premium, "", "Hi there, thanks for reaching out to Premium Auto Sales!"},
		{"PlaceholderNationalPhone", "(604) 555-0123", premium, "", "Hi there, thanks for reaching out to Premium Auto Sales!"},
		{"PlaceholderUnknown", "unknown", premium, "", "Hi there, thanks for reaching out to Premium Auto Sales!"},
		{"FallbackDealership", "Ana", nil, "Jack Motors", "Hi Ana, thanks for reaching out to Jack Motors!"},
		{"VariableWinsOverFallback", "Ana", premium, "Jack Motors", "Hi Ana, thanks for reaching out to Premium Auto Sales!"},
		{"NoDealership", "Ana", map[string]any{"organization_name": ""}, "", "Hi Ana, thanks for reaching out!"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c := newConvo(t, &Agent{DealershipName: tc.fallback}, tc.customer, tc.vars)
			r := c.say("hi")
			require.True(t, strings.HasPrefix(r.Text, tc.want+" "), r.Text)
			require.Contains(t, r.Text, askVehicle)
			require.NotContains(t, c.say("hi again").Text, "Hi ", "greets only on the first reply")
		})
	}
}

func TestGreeting_NameFromVariablesWithoutLead(t *testing.T) {
	t.Parallel()
	sess, err := NewAgent().Open(context.Background(), jack.AgentConversation{Variables: map[string]any{"customer_name": "Li Wei"}})
	require.NoError(t, err)
	r, err := sess.Reply(context.Background(), jack.AgentTurn{Text: "hello"})
	require.NoError(t, err)
	require.True(t, strings.HasPrefix(r.Text, "Hi Li, thanks for reaching out!"), r.Text)
}

// TestScript plays one customer text at each point of the script.
func TestScript(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name    string
		prior   []string // customer texts played first
		text    string
		want    []string // reply contains
		vehicle string   // lead after the reply
		budget  string
		credit  string
		step    string
		done    []string
	}{
		{
			name: "VehicleAsked", text: "hi",
			want: []string{askVehicle}, step: jack.StepVehicleInterest, done: []string{jack.StepContacted},
		},
		{
			name: "Vehicle", prior: []string{"hi"}, text: "I'm looking for a used F-150",
			want: []string{"Got it: a used F-150.", askBudget}, vehicle: "a used F-150",
			step: jack.StepBudget, done: []string{jack.StepContacted, jack.StepVehicleInterest},
		},
		{
			name: "BudgetMonthly", prior: []string{"hi", "2021 Honda Civic"}, text: "around 400 a month",
			want: []string{"Got it: $400/month budget.", askCredit}, vehicle: "2021 Honda Civic", budget: "$400/month",
			step: jack.StepCredit, done: []string{jack.StepContacted, jack.StepVehicleInterest, jack.StepBudget},
		},
		{
			name: "BudgetBareNumber", prior: []string{"hi", "RAV4 hybrid"}, text: "350",
			want: []string{"$350/month", askCredit}, vehicle: "RAV4 hybrid", budget: "$350/month", step: jack.StepCredit,
			done: []string{jack.StepContacted, jack.StepVehicleInterest, jack.StepBudget},
		},
		{
			name: "BudgetTotal", prior: []string{"hi", "an SUV"}, text: "under $25,000",
			want: []string{"$25,000 budget", askCredit}, vehicle: "an SUV", budget: "$25,000", step: jack.StepCredit,
			done: []string{jack.StepContacted, jack.StepVehicleInterest, jack.StepBudget},
		},
		{
			name: "Credit", prior: []string{"hi", "a truck", "$500/month"}, text: "pretty good",
			want: []string{"Got it: good credit.", askAppointment}, vehicle: "a truck", budget: "$500/month", credit: "good",
			step: jack.StepAppointment, done: []string{jack.StepContacted, jack.StepVehicleInterest, jack.StepBudget, jack.StepCredit},
		},
		{
			name: "CreditRange", prior: []string{"hi", "a truck", "$500/month"}, text: "600-650",
			want: []string{"credit score 600-650", askAppointment}, vehicle: "a truck", budget: "$500/month", credit: "600-650",
			step: jack.StepAppointment, done: []string{jack.StepContacted, jack.StepVehicleInterest, jack.StepBudget, jack.StepCredit},
		},
		{
			name: "Appointment", prior: []string{"hi", "a truck", "$500/month", "fair"}, text: "Saturday at 10am",
			want:    []string{"I've noted Saturday at 10am. A team member will confirm your appointment."},
			vehicle: "a truck", budget: "$500/month", credit: "fair", step: jack.StepAppointment, done: jack.ScriptSteps,
		},
		{
			name: "AppointmentWithoutTime", prior: []string{"hi", "a truck", "$500/month", "fair"}, text: "yes please",
			want: []string{askAppointment}, vehicle: "a truck", budget: "$500/month", credit: "fair", step: jack.StepAppointment,
			done: []string{jack.StepContacted, jack.StepVehicleInterest, jack.StepBudget, jack.StepCredit},
		},
		{
			name: "AfterAppointment", prior: []string{"hi", "a truck", "$500/month", "fair", "tomorrow at 5pm"}, text: "one more thing",
			want: []string{sayFollowUp}, vehicle: "a truck", budget: "$500/month", credit: "fair", step: jack.StepAppointment, done: jack.ScriptSteps,
		},
		{
			name: "AllAtOnce", text: "Hi! I want a 2021 Honda Civic, about $350/month, and my credit is around 650",
			want:    []string{"Got it: a 2021 Honda Civic, $350/month budget, credit score 650.", askAppointment},
			vehicle: "a 2021 Honda Civic", budget: "$350/month", credit: "650", step: jack.StepAppointment,
			done: []string{jack.StepContacted, jack.StepVehicleInterest, jack.StepBudget, jack.StepCredit},
		},
		{
			name: "VisitEarly", prior: []string{"hi"}, text: "can I come in Saturday to test drive a Civic?",
			want:    []string{"Got it: a Civic.", "I've noted Saturday.", askBudget},
			vehicle: "a Civic", step: jack.StepBudget, done: []string{jack.StepContacted, jack.StepVehicleInterest, jack.StepAppointment},
		},
		{
			name: "UnsureMovesOn", prior: []string{"hi", "a minivan"}, text: "not sure yet",
			want: []string{sayUnsure, askCredit}, vehicle: "a minivan", step: jack.StepCredit,
			done: []string{jack.StepContacted, jack.StepVehicleInterest, jack.StepBudget},
		},
		{
			name: "SameVehicleKept", prior: []string{"hi", "2021 Honda Civic"}, text: "the Civic, 400/mo",
			want: []string{askCredit}, vehicle: "2021 Honda Civic", budget: "$400/month", step: jack.StepCredit,
			done: []string{jack.StepContacted, jack.StepVehicleInterest, jack.StepBudget},
		},
		{
			name: "ChangedVehicle", prior: []string{"hi", "2021 Honda Civic"}, text: "actually a Tacoma",
			want: []string{"Got it: a Tacoma.", askBudget}, vehicle: "a Tacoma", step: jack.StepBudget,
			done: []string{jack.StepContacted, jack.StepVehicleInterest},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c := newConvo(t, NewAgent(), "Maria Lopez", premium)
			r := c.sayAll(slices.Concat(tc.prior, []string{tc.text})...)
			requireContainsAll(t, r.Text, tc.want)
			require.Equal(t, tc.vehicle, c.lead.VehiclePreference)
			require.Equal(t, tc.budget, c.lead.BudgetRange)
			require.Equal(t, tc.credit, c.lead.CreditScoreRange)
			require.Equal(t, jack.Progress{CurrentStep: tc.step, CompletedSteps: tc.done}, c.lead.ScriptProgress)
		})
	}
}

func TestIntents(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name    string
		prior   []string
		text    string
		want    []string
		notWant []string
	}{
		{name: "PriceQuestion", prior: []string{"hi"}, text: "how much is the 2022 Camry?", want: []string{sayFigures, "Got it: 2022 Camry.", askBudget}},
		{name: "AvailabilityQuestion", prior: []string{"hi", "a Civic"}, text: "is it in stock?", want: []string{sayFigures, askBudget}},
		{name: "FinancingQuestion", prior: []string{"hi", "a Civic", "$300/month"}, text: "can I get approved with bad credit?", want: []string{sayFigures, "poor credit", askAppointment}},
		{name: "PriceStatementIsNoQuestion", prior: []string{"hi", "a Civic"}, text: "my price range is $400 a month", want: []string{askCredit}, notWant: []string{sayFigures}},
		{name: "CallRequest", prior: []string{"hi"}, text: "can you call me instead", want: []string{sayCall, askCallTime}, notWant: []string{askVehicle}},
		{name: "CallTimeNoted", prior: []string{"hi", "call me please"}, text: "after 6pm", want: []string{"call you after 6pm.", askVehicle}},
		{name: "DontCall", prior: []string{"hi"}, text: "don't call me, text only", notWant: []string{sayCall}, want: []string{askVehicle}},
		{name: "Thanks", prior: []string{"hi"}, text: "ok thanks!", want: []string{sayClose}, notWant: []string{askVehicle}},
		{name: "Bye", prior: []string{"hi"}, text: "bye", want: []string{sayClose}},
		{name: "ThanksWithAnswer", prior: []string{"hi"}, text: "thanks, a Jeep Wrangler", want: []string{"Jeep Wrangler", askBudget}, notWant: []string{sayClose}},
		{name: "ThanksWithQuestion", prior: []string{"hi"}, text: "thanks! when are you open?", notWant: []string{sayClose}},
		{name: "Gibberish", prior: []string{"hi"}, text: "asdfghjkl", want: []string{sayNotCaught, sayHelp}},
		{name: "Empty", prior: []string{"hi"}, text: "   ", want: []string{sayHelp}},
		{name: "FirstGibberish", text: "???", want: []string{"Hi Maria", sayHelp}, notWant: []string{sayNotCaught}},
		{name: "OptOutLooking", prior: []string{"hi"}, text: "stop texting me", want: []string{sayStopped}},
		{name: "StopKeyword", prior: []string{"hi"}, text: "STOP"},
		{name: "NotInterested", text: "not interested", want: []string{"Hi Maria", sayStopped}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r := newConvo(t, NewAgent(), "Maria", nil).sayAll(slices.Concat(tc.prior, []string{tc.text})...)
			requireContainsAll(t, r.Text, tc.want)
			for _, w := range tc.notWant {
				require.NotContains(t, r.Text, w)
			}
		})
	}
}

func TestChaseStatus(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, status, text string
		want               *string
	}{
		{"NewAnswered", jack.ChaseNew, "a Civic", ptr(jack.ChaseEngaged)},
		{"ContactedAnswered", jack.ChaseContacted, "$400/month", ptr(jack.ChaseEngaged)},
		{"NewOnlyGreeting", jack.ChaseNew, "hello", nil},
		{"QualifiedKept", jack.ChaseQualified, "a Civic", nil},
		{"AppointmentKept", jack.ChaseAppointment, "a Civic", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			lead := jack.NewLead(orgID, "Sam", "+16045550123", start)
			lead.ChaseStatus = tc.status
			r := mustReply(t, jack.AgentTurn{Text: tc.text, Lead: lead})
			require.Equal(t, tc.want, r.Change.ChaseStatus)
		})
	}
}

// TestProgress_StaffMovedOn: steps before the lead's current step count as done, so a lead staff
// moved to credit is asked about credit and never moved back.
func TestProgress_StaffMovedOn(t *testing.T) {
	t.Parallel()
	lead := jack.NewLead(orgID, "Sam", "+16045550123", start)
	lead.ScriptProgress = jack.Progress{CurrentStep: jack.StepCredit, CompletedSteps: []string{jack.StepContacted}}
	history := []*jack.Message{{SentBy: jack.SentByAgent, Content: "Hello"}}
	r := mustReply(t, jack.AgentTurn{Text: "hmm", Lead: lead, History: history})
	require.Contains(t, r.Text, askCredit)
	require.Equal(t, &jack.Progress{CurrentStep: jack.StepCredit, CompletedSteps: []string{jack.StepContacted, jack.StepVehicleInterest, jack.StepBudget}}, r.Change.ScriptProgress)

	lead.ScriptProgress = *r.Change.ScriptProgress
	r = mustReply(t, jack.AgentTurn{Text: "hmm", Lead: lead, History: history})
	require.Nil(t, r.Change.ScriptProgress, "unchanged progress is not rewritten")
}

func TestReply_Deterministic(t *testing.T) {
	t.Parallel()
	lead := jack.NewLead(orgID, "Sam Lee", "+16045550123", start)
	for _, text := range []string{"hi", "a used F-150, 400/mo, credit 650", "how much?", "asdf", "call me", "Saturday at 10am"} {
		turn := jack.AgentTurn{Text: text, Lead: lead, Variables: map[string]any{"organization_name": "Premium"}, Now: start}
		first := mustReply(t, turn)
		for range 3 {
			require.Equal(t, first, mustReply(t, turn))
		}
	}
}

func TestReply_FitsAnSMS(t *testing.T) {
	t.Parallel()
	long := strings.Repeat("Grand ", 60)
	c := newConvo(t, NewAgent(), strings.Repeat("Bartholomew", 4)+" Smith", map[string]any{"organization_name": strings.Repeat("Premium Auto Sales ", 5)})
	r := c.say("how much is a 2021 Honda Civic " + strings.Repeat("or a Toyota Corolla ", 30) + " for $400/month with 700 credit, can I come in Saturday at 10am?")
	require.LessOrEqual(t, utf8.RuneCountInString(r.Text), maxReply)
	require.LessOrEqual(t, utf8.RuneCountInString(c.lead.VehiclePreference), maxVehicleLen)
	c.say(long + "Cherokee")
}

func TestSession(t *testing.T) {
	t.Parallel()
	t.Run("CloseTwice", func(t *testing.T) {
		t.Parallel()
		sess, err := NewAgent().Open(context.Background(), jack.AgentConversation{})
		require.NoError(t, err)
		require.NoError(t, sess.Close())
		require.NoError(t, sess.Close())
		_, err = sess.Reply(context.Background(), jack.AgentTurn{Text: "hi"})
		require.Equal(t, jack.EUNAVAILABLE, jack.ErrorCode(err))
	})
	t.Run("Canceled", func(t *testing.T) {
		t.Parallel()
		ctx, cancel := context.WithCancel(context.Background())
		sess, err := NewAgent().Open(ctx, jack.AgentConversation{})
		require.NoError(t, err)
		cancel()
		_, err = sess.Reply(ctx, jack.AgentTurn{Text: "hi"})
		require.ErrorIs(t, err, context.Canceled)
		_, err = NewAgent().Open(ctx, jack.AgentConversation{})
		require.ErrorIs(t, err, context.Canceled)
	})
}

// TestConversation replays whole scripted conversations against testdata/TestConversation/*.golden;
// run with -update to rewrite them after a deliberate change, then review the diff.
func TestConversation(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name     string
		customer string
		vars     map[string]any
		texts    []string
	}{
		{"happy_path", "Maria Lopez", premium, []string{
			"Hi, I saw your ad online", "I'm looking for a used F-150", "around $400 a month", "pretty good, maybe 680",
			"Saturday at 10am", "thanks!",
		}},
		{"all_at_once", "Customer", premium, []string{
			"Hi! I want a 2021 Honda Civic, about $350/month, and my credit is around 650",
			"Can I come in tomorrow after 5pm?", "great thanks",
		}},
		{"questions_and_detours", "+16045550123", nil, []string{
			"how much is the RAV4 hybrid?", "can you call me instead?", "after 6pm", "not sure yet", "is it still available?",
			"asdfghjkl", "rebuilding my credit", "maybe next week", "bye",
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c := newConvo(t, NewAgent(), tc.customer, tc.vars)
			var b strings.Builder
			for _, text := range tc.texts {
				r := c.say(text)
				p := c.lead.ScriptProgress
				fmt.Fprintf(&b, "customer: %s\nagent:    %s\nlead:     status=%s vehicle=%q budget=%q credit=%q step=%s done=%s\n\n",
					text, r.Text, c.lead.ChaseStatus, c.lead.VehiclePreference, c.lead.BudgetRange, c.lead.CreditScoreRange,
					p.CurrentStep, strings.Join(p.CompletedSteps, ","))
			}
			golden(t, filepath.Join("testdata", t.Name()+".golden"), b.String())
		})
	}
}

func golden(tb testing.TB, path, got string) {
	tb.Helper()
	if *update {
		require.NoError(tb, os.MkdirAll(filepath.Dir(path), 0o755))
		require.NoError(tb, os.WriteFile(path, []byte(got), 0o644))
	}
	want, err := os.ReadFile(path)
	require.NoError(tb, err, "run go test -update to create %s", path)
	require.Equal(tb, string(want), got)
}

// FuzzReply: whatever a customer texts, the agent answers within an SMS pair and keeps the lead valid.
func FuzzReply(f *testing.F) {
	for _, s := range []string{"", "hi", "a used F-150 for $400/mo", "600-650", "Saturday at 10am", "STOP", "$$$", "25-30k", "🚗", "\xff\xfe", "a an or and or a"} {
		f.Add(s, "")
		f.Add(s, jack.StepBudget)
		f.Add(s, jack.StepCredit)
	}
	f.Fuzz(func(t *testing.T, text, step string) {
		lead := jack.NewLead(orgID, "Sam", "+16045550123", start)
		if slices.Contains(jack.ScriptSteps, step) {
			lead.ScriptProgress.CurrentStep = step
		}
		history := []*jack.Message{{SentBy: jack.SentByAgent, Content: "Hello"}}
		r := mustReply(t, jack.AgentTurn{Text: text, Lead: lead, History: history})
		require.LessOrEqual(t, utf8.RuneCountInString(r.Text), maxReply)
		applyChange(lead, r.Change)
		requireValid(t, lead)
	})
}

func mustReply(tb testing.TB, turn jack.AgentTurn) *jack.AgentReply {
	tb.Helper()
	sess, err := NewAgent().Open(context.Background(), jack.AgentConversation{})
	require.NoError(tb, err)
	defer sess.Close()
	r, err := sess.Reply(context.Background(), turn)
	require.NoError(tb, err)
	checkReply(tb, turn.Lead, r)
	return r
}

// requireValid checks the fields the agent writes; a test lead may lack a name on purpose.
func requireValid(tb testing.TB, l *jack.Lead) {
	tb.Helper()
	var e *jack.Error
	if err := l.Validate(); errors.As(err, &e) {
		delete(e.Fields, "customerName")
		require.Empty(tb, e.Fields)
	}
}

func ptr[T any](v T) *T { return &v }

// TestGreeting_Dealership: the dealership's own greeting opens the first reply, whole, before
// the script's question, and only the first.
func TestGreeting_Dealership(t *testing.T) {
	t.Parallel()
	greeting := "Hi, this is Sam at Main Street Motors, family-owned since 1962 and open seven days a week!"
	sess, err := NewAgent().Open(context.Background(), jack.AgentConversation{Greeting: greeting, Instructions: "Never quote prices.",
		Variables: map[string]any{"customer_name": "Li Wei", "organization_name": "Main Street Motors"}})
	require.NoError(t, err)
	history := []*jack.Message{{Content: "hello", SentBy: jack.SentByCustomer, Type: jack.ChannelSMS, Timestamp: start}}
	r, err := sess.Reply(context.Background(), jack.AgentTurn{Text: "hello", History: history, Now: start})
	require.NoError(t, err)
	require.True(t, strings.HasPrefix(r.Text, greeting+" "), r.Text)
	require.Contains(t, r.Text, askVehicle)
	require.NotContains(t, r.Text, "thanks for reaching out", "the dealership's greeting replaces the agent's")

	history = append(history, &jack.Message{Content: r.Text, SentBy: jack.SentByAgent, Type: jack.ChannelSMS, Timestamp: start},
		&jack.Message{Content: "an SUV", SentBy: jack.SentByCustomer, Type: jack.ChannelSMS, Timestamp: start})
	r, err = sess.Reply(context.Background(), jack.AgentTurn{Text: "an SUV", History: history, Now: start})
	require.NoError(t, err)
	require.NotContains(t, r.Text, greeting, "greets only on the first reply")
}
