// Package offline holds what Jack runs without provider credentials: a rule-based AI agent that
// walks a lead through the seed's script (vehicle, budget, credit, appointment) and an SMS outbox
// that sends nothing. The embedded default uses both, and tests use the agent when no ElevenLabs
// key is set.
package offline

import (
	"cmp"
	"context"
	"regexp"
	"slices"
	"strings"
	"sync/atomic"
	"unicode"
	"unicode/utf8"

	"github.com/jack-auto/jack"
)

// Agent answers customers by rules. It reads what the customer states and records it on the
// lead, asks for the next missing piece of the script, and never states a fact it was not told:
// no prices, inventory, availability, rates, approvals or confirmed appointments. Replies are
// deterministic: the same turn always gets the same reply.
type Agent struct {
	// DealershipName names the dealership when the conversation's variables carry no
	// organization_name. Defaults to none: the greeting then names no dealership.
	DealershipName string
}

var _ jack.Agent = (*Agent)(nil)

// NewAgent returns an agent with no fallback dealership name.
func NewAgent() *Agent { return &Agent{} }

// Open starts a session for one conversation. It holds no resources.
func (a *Agent) Open(ctx context.Context, conv jack.AgentConversation) (jack.AgentSession, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	return &session{agent: a, conv: conv}, nil
}

type session struct {
	agent  *Agent
	conv   jack.AgentConversation
	closed atomic.Bool
}

// Reply returns EUNAVAILABLE after Close.
func (s *session) Reply(ctx context.Context, turn jack.AgentTurn) (*jack.AgentReply, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if s.closed.Load() {
		return nil, jack.Errorf(jack.EUNAVAILABLE, "The AI conversation has ended.")
	}
	return s.agent.reply(turn, s.conv), nil
}

func (s *session) Close() error {
	s.closed.Store(true)
	return nil
}

// What the agent says. The questions are the script; nothing here states a price, a stock
// level, a rate, an approval or a confirmed time.
const (
	askVehicle     = "Which vehicle are you interested in? A make and model, or a type like SUV or truck, is perfect."
	askBudget      = "What budget do you have in mind, a monthly payment or a total price?"
	askCredit      = "How would you describe your credit: excellent, good, fair or rebuilding? A score range works too."
	askAppointment = "Would you like to come in? Let me know what day and time work best, and a team member will confirm."
	askCallTime    = "What's a good time to reach you?"
	sayFollowUp    = "A team member will be in touch to confirm your appointment. Anything else I can help with?"
	sayFigures     = "A team member will confirm exact pricing, availability and financing details for you."
	sayCall        = "Sure, our team can give you a call."
	sayUnsure      = "No problem."
	sayHelp        = "How can I help with your vehicle search?"
	sayNotCaught   = "Sorry, I didn't quite catch that."
	sayClose       = "Thanks for chatting with us! If you have more questions, just text us anytime. Have a great day!"
	sayStopped     = "Understood, sorry to bother you. Reply STOP anytime and we won't text you again."
)

// maxReply keeps a reply within two SMS segments.
const maxReply = 320

// Customer intents outside the script.
var (
	figuresRE  = regexp.MustCompile(`(?i)\b(how much|price|prices|pricing|cost|costs|msrp|out the door|otd|apr|interest|rates?|financ\w*|approv\w*|qualify|available|availability|in stock|on the lot|still have|do you have|got any|deals?|discounts?|incentives?|trade[- ]?in value)\b`)
	questionRE = regexp.MustCompile(`(?i)(\?|^\s*(how|what|whats|what's|is|are|do|does|can|could|would|will|any|got)\b)`)
	callRE     = regexp.MustCompile(`(?i)\b(call me|give me a call|can you call|could you call|please call|call back|callback|phone me|ring me|on the phone|(speak|talk) (to|with) (someone|somebody|a person|a human|a real person))\b`)
	noCallRE   = regexp.MustCompile(`(?i)\b(don'?t|do not|no|never) (call|phone|ring)\b`)
	stopRE     = regexp.MustCompile(`(?i)\b(stop (texting|messaging|contacting)|leave me alone|remove me|take me off|unsubscribe|not interested|no longer interested|wrong number|do not (text|contact)|don'?t (text|contact) me)\b`)
	thanksRE   = regexp.MustCompile(`(?i)^\W*((ok(ay)?|k|great|perfect|cool|awesome|sounds good|alright|no)\W+)?(thanks?( you)?( so much)?|thx|ty|thank u|cheers|bye|goodbye|good ?bye|see (you|ya)|have a (good|great|nice) (day|one|night)|talk (to you )?(later|soon)|ttyl|that'?s all)\b`)
	visitRE    = regexp.MustCompile(`(?i)\b(appointment|appt|come (in|by)|stop by|drop by|swing by|visit|test drive|book|schedule)\b`)
)

// reply is the whole rule set: read the text, update the lead, then say one short message.
func (a *Agent) reply(turn jack.AgentTurn, conv jack.AgentConversation) *jack.AgentReply {
	lead := turn.Lead
	if lead == nil {
		lead = &jack.Lead{ChaseStatus: jack.ChaseNew, ScriptProgress: jack.Progress{CurrentStep: jack.StepContacted}}
	}
	text := strings.TrimSpace(turn.Text)
	lastAgent, first := lastAgentMessage(turn.History)

	done := doneSteps(lead)
	asked := ""
	if !first {
		asked = nextStep(done)
	}
	f := extract(text, asked)

	var ch jack.ConversationChange
	if f.vehicle != "" {
		done[jack.StepVehicleInterest] = true
		if !sameVehicle(lead.VehiclePreference, f.vehicle) {
			ch.VehicleInterest = &f.vehicle
		}
	}
	if f.budget != "" {
		done[jack.StepBudget] = true
		if f.budget != lead.BudgetRange {
			ch.BudgetRange = &f.budget
		}
	}
	if f.credit != "" {
		done[jack.StepCredit] = true
		if f.credit != lead.CreditScoreRange {
			ch.CreditScoreRange = &f.credit
		}
	}
	skipped := f.unsure && (asked == jack.StepVehicleInterest || asked == jack.StepBudget || asked == jack.StepCredit)
	if skipped {
		done[asked] = true // the customer passed: move on rather than ask again
	}
	callback := f.when != "" && strings.Contains(lastAgent, askCallTime)
	booked := f.when != "" && !callback && (asked == jack.StepAppointment || visitRE.MatchString(text))
	if booked {
		done[jack.StepAppointment] = true
	}
	answered := f.vehicle != "" || f.budget != "" || f.credit != "" || skipped || booked || callback
	if p := progress(done); !slices.Equal(p.CompletedSteps, lead.ScriptProgress.CompletedSteps) || p.CurrentStep != lead.ScriptProgress.CurrentStep {
		ch.ScriptProgress = &p
	}
	if answered && (lead.ChaseStatus == jack.ChaseNew || lead.ChaseStatus == jack.ChaseContacted) {
		engaged := jack.ChaseEngaged
		ch.ChaseStatus = &engaged
	}

	var parts []string
	limit := maxReply
	switch greeting := strings.TrimSpace(conv.Greeting); {
	case first && greeting != "":
		// The dealership's own greeting, whole: the rest of the reply keeps its own room.
		parts = append(parts, greeting)
		limit += utf8.RuneCountInString(greeting) + 1
	case first:
		parts = append(parts, a.greeting(lead, turn.Variables, conv.Variables))
	}
	if turn.Calendar != nil {
		vehicle := cmp.Or(f.vehicle, lead.VehiclePreference)
		if say, book, ok := bookingReply(turn, text, lastAgent, vehicle); ok {
			if book != nil {
				done[jack.StepAppointment] = true
				if p := progress(done); !slices.Equal(p.CompletedSteps, lead.ScriptProgress.CompletedSteps) || p.CurrentStep != lead.ScriptProgress.CurrentStep {
					ch.ScriptProgress = &p
				}
			}
			parts = append(parts, say)
			return &jack.AgentReply{Text: truncateRunes(strings.Join(parts, " "), limit), Change: ch, Book: book}
		}
	}
	figures := figuresRE.MatchString(text) && questionRE.MatchString(text)
	call := callRE.MatchString(text) && !noCallRE.MatchString(text)
	switch {
	case stopRE.MatchString(text) && !answered:
		parts = append(parts, sayStopped)
	case thanksRE.MatchString(text) && !strings.Contains(text, "?") && !answered && !call:
		parts = append(parts, sayClose)
	case gibberish(text) && !first:
		parts = append(parts, sayNotCaught, sayHelp)
	case gibberish(text):
		parts = append(parts, sayHelp)
	default:
		var rest []string
		if figures {
			rest = append(rest, sayFigures)
		}
		switch next := nextStep(done); {
		case call:
			rest = append(rest, sayCall, askCallTime)
		case next == "" && !booked:
			rest = append(rest, sayFollowUp)
		case next != "":
			rest = append(rest, question(next))
		}
		// The echo is the first thing to go when the reply would not fit an SMS pair.
		ack := acknowledge(f, booked, callback)
		if ack != "" && utf8.RuneCountInString(strings.Join(slices.Concat(parts, []string{ack}, rest), " ")) <= limit {
			parts = append(parts, ack)
		}
		parts = append(parts, rest...)
	}
	return &jack.AgentReply{Text: truncateRunes(strings.Join(parts, " "), limit), Change: ch}
}

// sameVehicle reports whether the customer's words name the vehicle the lead already holds
// ("the Civic" after "2021 Honda Civic"), so a shorter mention does not erase detail.
func sameVehicle(held, said string) bool {
	said = strings.ToLower(said)
	for _, article := range []string{"a ", "an ", "the "} {
		said = strings.TrimPrefix(said, article)
	}
	return held != "" && strings.Contains(strings.ToLower(held), said)
}

// lastAgentMessage returns the content of the latest agent message and whether there is none,
// which makes this the first reply of the conversation.
func lastAgentMessage(history []*jack.Message) (string, bool) {
	for i := len(history) - 1; i >= 0; i-- {
		if m := history[i]; m != nil && m.SentBy == jack.SentByAgent {
			return m.Content, false
		}
	}
	return "", true
}

// doneSteps is the steps the lead has passed: those marked completed, those before its current
// step (staff may move a lead on), and those whose answer the lead already holds.
func doneSteps(l *jack.Lead) map[string]bool {
	done := map[string]bool{jack.StepContacted: true}
	for _, s := range l.ScriptProgress.CompletedSteps {
		done[s] = true
	}
	for _, s := range jack.ScriptSteps[:max(0, slices.Index(jack.ScriptSteps, l.ScriptProgress.CurrentStep))] {
		done[s] = true
	}
	done[jack.StepVehicleInterest] = done[jack.StepVehicleInterest] || l.VehiclePreference != ""
	done[jack.StepBudget] = done[jack.StepBudget] || l.BudgetRange != ""
	done[jack.StepCredit] = done[jack.StepCredit] || l.CreditScoreRange != ""
	return done
}

// nextStep is the first step not done, or "" when the whole script is.
func nextStep(done map[string]bool) string {
	for _, s := range jack.ScriptSteps {
		if !done[s] {
			return s
		}
	}
	return ""
}

// progress is the script progress for done: the completed steps in script order and the step
// being worked on (the last one once everything is done). Because done only grows, progress
// never goes backwards.
func progress(done map[string]bool) jack.Progress {
	p := jack.Progress{CurrentStep: cmp.Or(nextStep(done), jack.StepAppointment), CompletedSteps: []string{}}
	for _, s := range jack.ScriptSteps {
		if done[s] {
			p.CompletedSteps = append(p.CompletedSteps, s)
		}
	}
	return p
}

func question(step string) string {
	switch step {
	case jack.StepVehicleInterest:
		return askVehicle
	case jack.StepBudget:
		return askBudget
	case jack.StepCredit:
		return askCredit
	}
	return askAppointment
}

// acknowledge echoes what the customer told us, in their words or our normalized form only.
func acknowledge(f facts, booked, callback bool) string {
	var items []string
	if f.vehicle != "" && utf8.RuneCountInString(f.vehicle) <= 60 {
		items = append(items, f.vehicle)
	}
	if f.budget != "" {
		items = append(items, f.budget+" budget")
	}
	switch {
	case f.credit == "no credit":
		items = append(items, "no credit history yet")
	case f.credit != "" && (unicode.IsDigit(rune(f.credit[0])) || strings.HasPrefix(f.credit, "under")):
		items = append(items, "credit score "+f.credit)
	case f.credit != "":
		items = append(items, f.credit+" credit")
	}
	var s []string
	if len(items) > 0 {
		s = append(s, "Got it: "+strings.Join(items, ", ")+".")
	} else if f.unsure && !booked && !callback {
		s = append(s, sayUnsure)
	}
	when := f.when
	if utf8.RuneCountInString(when) > 40 {
		when = "your preferred time"
	}
	if booked {
		s = append(s, "Thanks, I've noted "+when+". A team member will confirm your appointment.")
	}
	if callback {
		s = append(s, "Thanks, I'll let the team know to call you "+when+".")
	}
	return strings.Join(s, " ")
}

// greeting opens a conversation, by first name when the lead has a real one.
func (a *Agent) greeting(l *jack.Lead, vars ...map[string]any) string {
	name := firstName(cmp.Or(l.CustomerName, variable("customer_name", vars...)))
	org := cmp.Or(variable("organization_name", vars...), a.DealershipName)
	s := "Hi " + cmp.Or(name, "there") + ", thanks for reaching out"
	if org != "" && utf8.RuneCountInString(org) <= 60 {
		s += " to " + org
	}
	return s + "!"
}

// variable returns the first non-empty string variable named key.
func variable(key string, vars ...map[string]any) string {
	for _, v := range vars {
		if s, ok := v[key].(string); ok && strings.TrimSpace(s) != "" {
			return strings.TrimSpace(s)
		}
	}
	return ""
}

var placeholderNames = words(`customer unknown lead none null n/a na test guest user`)

// firstName returns the first word of name, or "" for a placeholder (the seed defaults names to
// "Customer", and imports often put the phone number in the name).
func firstName(name string) string {
	fields := strings.Fields(name)
	if len(fields) == 0 || placeholderNames[strings.ToLower(name)] || placeholderNames[strings.ToLower(fields[0])] {
		return ""
	}
	first := fields[0]
	if utf8.RuneCountInString(first) > 30 || strings.ContainsFunc(name, unicode.IsDigit) || strings.Contains(first, "@") {
		return ""
	}
	return first
}
