package offline

import (
	"regexp"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/jack-auto/jack"
)

// facts is what one customer text states, in the form the lead stores it.
type facts struct {
	vehicle string // the customer's own wording ("a used F-150")
	budget  string // normalized ("$400/month", "$25,000", "$300-$350/month")
	credit  string // a label ("good", "rebuilding", "no credit") or a score ("650", "600-650", "700+")
	when    string // a preferred day or time, the customer's wording ("Saturday at 10am")
	unsure  bool   // "not sure", "no idea": the customer passes on the question
}

// maxVehicleLen is the lead's vehicle_preference limit.
const maxVehicleLen = 255

// extract reads text. asked is the script step the previous reply asked about (or ""): it lets a
// bare "400" count as a budget and a bare "good" as a credit description.
func extract(text, asked string) facts {
	var f facts
	f.vehicle = truncateRunes(phrase(text, vehicleKind), maxVehicleLen)
	var start, end int
	f.budget, start, end = budget(text, asked)
	// Blank the budget out so "$650/month" is never read as a credit score.
	f.credit = credit(text[:start]+strings.Repeat(" ", end-start)+text[end:], asked)
	f.when = phrase(text, whenKind)
	f.unsure = unsureRE.MatchString(text)
	return f
}

var unsureRE = regexp.MustCompile(`(?i)\b(not sure|unsure|don'?t know|dunno|idk|no idea|not certain|undecided|no preference|open to (anything|suggestions|options)|flexible|haven'?t decided|rather not say|prefer not to say|skip)\b`)

// token is one word of a text and where it sits, so a phrase keeps the customer's own wording.
type token struct {
	word       string // lower case: "f-150", "10-11am"
	key        string // word without hyphens or apostrophes: "f150", "crv", "dont"
	start, end int
}

var wordRE = regexp.MustCompile(`[A-Za-z0-9]+(?:[-'’:.][A-Za-z0-9]+)*`)

func tokenize(s string) []token {
	var toks []token
	for _, m := range wordRE.FindAllStringIndex(s, -1) {
		word := strings.ToLower(s[m[0]:m[1]])
		key := strings.NewReplacer("-", "", "'", "", "’", "").Replace(word)
		toks = append(toks, token{word: word, key: key, start: m[0], end: m[1]})
	}
	return toks
}

// kind is a word's part in a phrase: strong words make a phrase, weak words extend one, links
// join two parts, and a lead ("a", "an") opens one.
type kind int

const (
	other kind = iota
	strong
	weak
	link
	lead
)

// phrase returns the customer's wording of the longest run of words that classify says belong
// together (earliest on ties), or "" when no run holds a strong word. A sentence end breaks a run.
func phrase(text string, classify func(toks []token, i int) kind) string {
	toks := tokenize(text)
	kinds := make([]kind, len(toks))
	for i := range toks {
		kinds[i] = classify(toks, i)
	}
	part := func(i int) bool { return i < len(toks) && (kinds[i] == strong || kinds[i] == weak) }
	glue := func(i int) bool { return i < len(toks) && (kinds[i] == link || kinds[i] == lead) }
	joined := func(i int) bool { return !strings.ContainsAny(text[toks[i-1].end:toks[i].start], ".!?;\n") }
	best, bestFrom, bestTo := 0, 0, 0
	for i := 0; i < len(toks); {
		if !part(i) {
			i++
			continue
		}
		from, to, hasStrong := i, i, kinds[i] == strong
	run:
		for j := i + 1; j < len(toks) && joined(j); j++ {
			switch {
			case part(j):
				to, hasStrong = j, hasStrong || kinds[j] == strong
			case glue(j) && part(j+1) && joined(j+1):
			case glue(j) && glue(j+1) && part(j+2) && joined(j+1) && joined(j+2): // "or a"
			default:
				break run
			}
		}
		if from > 0 && kinds[from-1] == lead && joined(from) {
			from--
		}
		if hasStrong && to-from+1 > best {
			best, bestFrom, bestTo = to-from+1, from, to
		}
		i = to + 1
	}
	if best == 0 {
		return ""
	}
	return text[toks[bestFrom].start:toks[bestTo].end]
}

// Vehicle words. Models that are also everyday words ("fit", "escape", "focus") are weak: they
// count only next to a make, a year or another vehicle word.
var (
	makes = words(`acura alfa audi bmw buick cadillac chevrolet chevy chrysler dodge fiat ford genesis gmc honda
		hyundai infiniti jaguar jeep kia lexus lincoln mazda mercedes mercedesbenz benz mini mitsubishi nissan
		porsche ram subaru tesla toyota volkswagen vw volvo`)
	models = words(`civic accord crv hrv odyssey ridgeline corolla camry rav4 highlander tacoma tundra sienna prius
		4runner sequoia f150 f250 f350 mustang bronco explorer expedition maverick silverado equinox tahoe
		suburban malibu traverse colorado camaro altima rogue sentra maxima murano pathfinder elantra tucson
		sonata kona palisade sorento sportage forte telluride optima cx5 cx30 cx50 cx9 mazda3 mazda6 outback
		forester crosstrek impreza wrangler gladiator cherokee durango charger challenger jetta tiguan atlas
		golf passat sierra yukon acadia terrain mdx rdx rx350 es350 x3 x5 q5 a4 outlander`)
	bodies = words(`suv crossover truck pickup sedan minivan van coupe hatchback convertible wagon`)
	vague  = words(`fit edge escape focus fusion journey compass soul leaf pilot passport frontier ranger
		ascent car vehicle ride`)
	extras = words(`used new certified cpo preowned hybrid electric ev phev plugin awd 4wd 4x4 diesel lx ex exl
		touring sport limited le se xle xlt lariat platinum 1500 2500 3500`)
	pairs = words(`model3 modely models modelx santafe grandcherokee grandcaravan landcruiser rangerover`)
)

func words(s string) map[string]bool {
	m := map[string]bool{}
	for _, w := range strings.Fields(s) {
		m[w] = true
	}
	return m
}

var yearRE = regexp.MustCompile(`^(19[89]\d|20[0-3]\d)$`)

func vehicleKind(toks []token, i int) kind {
	k := toks[i].key
	sing := strings.TrimSuffix(k, "s")
	switch {
	case makes[k], models[k], bodies[k], bodies[sing], models[sing] && len(sing) > 3:
		return strong
	case i+1 < len(toks) && pairs[k+toks[i+1].key], i > 0 && pairs[toks[i-1].key+k]:
		return strong
	case vague[k], vague[sing], extras[k], yearRE.MatchString(k):
		return weak
	case k == "or" || k == "and":
		return link
	case k == "a" || k == "an":
		return lead
	}
	return other
}

// Day and time words for an appointment or a call back.
var (
	days = words(`monday tuesday wednesday thursday friday saturday sunday mon tue tues wed thu thur thurs fri sat
		today tomorrow tonight week weekend weekday morning afternoon evening noon lunch lunchtime asap anytime
		january february april june july august september october november december`)
	dayExtras = words(`this next on at around after before by early late any time`)
	clockRE   = regexp.MustCompile(`^\d{1,2}(:\d{2})?(-\d{1,2}(:\d{2})?)?(am|pm)?$`)
)

func whenKind(toks []token, i int) kind {
	k, w := toks[i].key, toks[i].word
	clock := clockRE.MatchString(w)
	switch {
	case (k == "morning" || k == "afternoon" || k == "evening") && i > 0 && toks[i-1].key == "good":
		return other // a greeting, not a time
	case days[k], days[strings.TrimSuffix(k, "s")], clock && (strings.HasSuffix(w, "m") || strings.Contains(w, ":")):
		return strong
	case (k == "am" || k == "pm") && i > 0 && clockRE.MatchString(toks[i-1].word):
		return strong
	case dayExtras[k], clock:
		return weak
	case k == "or" || k == "and" || k == "to":
		return link
	}
	return other
}

// Budget amounts: "$400/month", "400 a month", "$25,000", "25k", "$300-$350 a month".
var (
	amountRE   = regexp.MustCompile(`(?i)(\$\s*)?(\d{1,3}(?:,\d{3})+|\d+)(\.\d{1,2})?(\s*k\b)?`)
	rangeRE    = regexp.MustCompile(`(?i)^\s*(?:-|–|to)\s*`)
	monthlyRE  = regexp.MustCompile(`(?i)^\s*(?:/\s*(?:mo|mth|month)\b|(?:a|per|each|every)\s+(?:mo|mth|month)\b|monthly\b)`)
	downRE     = regexp.MustCompile(`(?i)^\s*(?:down\b|deposit\b|downpayment\b)`)
	creditKeRE = regexp.MustCompile(`(?i)\b(credit|score|fico|beacon)\b`)
)

// amount is one number of a budget.
type amount struct {
	cents     int64
	dollar, k bool
	start     int
	end       int
}

func parseAmount(text string, m []int) (amount, bool) {
	a := amount{dollar: m[2] >= 0, k: m[8] >= 0, start: m[0], end: m[1]}
	if !a.dollar && m[0] > 0 {
		if c := text[m[0]-1]; isAlnum(c) || c == '-' && m[0] > 1 && isAlpha(text[m[0]-2]) {
			return a, false // part of a model name: F-150, RAV4, CX-5
		}
	}
	if !a.k && m[1] < len(text) && isAlpha(text[m[1]]) {
		return a, false // 10am, 4x4, 1500s
	}
	whole, err := strconv.ParseInt(strings.ReplaceAll(text[m[4]:m[5]], ",", ""), 10, 64)
	if err != nil || whole > 10_000_000 {
		return a, false
	}
	a.cents = whole * 100
	if m[6] >= 0 {
		frac := text[m[6]+1 : m[7]]
		c, _ := strconv.ParseInt((frac + "0")[:2], 10, 64)
		a.cents += c
	}
	if a.k {
		a.cents *= 1000
	}
	return a, true
}

// budget returns the first budget text states, normalized, and where it was. A bare number
// counts only as the answer to the budget question.
func budget(text, asked string) (string, int, int) {
	ms := amountRE.FindAllStringSubmatchIndex(text, -1)
	bareOK := asked == jack.StepBudget && !creditKeRE.MatchString(text)
	for i := 0; i < len(ms); i++ {
		lo, ok := parseAmount(text, ms[i])
		if !ok {
			continue
		}
		hi, end := lo, lo.end
		if i+1 < len(ms) {
			if sep := rangeRE.FindStringIndex(text[end:]); sep != nil && ms[i+1][0] == end+sep[1] {
				if h, ok := parseAmount(text, ms[i+1]); ok {
					hi, end = h, h.end
					i++
				}
			}
		}
		if hi.k && !lo.k {
			lo.cents *= 1000 // "25-30k"
		}
		per := monthlyRE.FindString(text[end:])
		monthly := per != ""
		marked := lo.dollar || lo.k || hi.dollar || hi.k || monthly
		year := !marked && lo.cents >= 190000 && lo.cents < 210000
		if downRE.MatchString(text[end:]) || year || (!marked && (!bareOK || lo.cents < 5000)) {
			continue
		}
		s := money(lo.cents)
		if hi != lo {
			s += "-" + money(hi.cents)
		}
		if monthly || !marked && hi.cents < 200000 { // a bare "400" answering the budget question is a payment
			s += "/month"
		}
		return s, lo.start, end + len(per)
	}
	return "", 0, 0
}

// money formats cents as "$25,000" or "$399.99".
func money(cents int64) string {
	digits := strconv.FormatInt(cents/100, 10)
	var b strings.Builder
	for i, c := range digits {
		if i > 0 && (len(digits)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	s := "$" + b.String()
	if cents%100 != 0 {
		s += "." + strconv.FormatInt(cents%100+100, 10)[1:]
	}
	return s
}

// Credit descriptions, checked in order: the first match wins, so "not bad" is fair, not poor.
var (
	scoreRangeRE = regexp.MustCompile(`\b([3-8]\d{2})\s*(?:-|–|to)\s*([3-8]\d{2})\b`)
	scoreRE      = regexp.MustCompile(`(?i)(?:^|[^$\d,.\w])(?:(over|above|under|below)\s+)?([3-8]\d{2})s?\b(\+|\s*plus\b)?`)
	creditWords  = []struct {
		re    *regexp.Regexp
		label string
	}{
		{regexp.MustCompile(`(?i)\b(rebuild\w*|re-build\w*|bankrupt\w*|repo|repossess\w*|collections?|consumer proposal|working on (it|my credit))\b`), "rebuilding"},
		{regexp.MustCompile(`(?i)\b(no credit|no credit history|none|don'?t have (any )?credit|new to credit)\b`), "no credit"},
		{regexp.MustCompile(`(?i)\bnot (too )?bad\b`), "fair"},
		{regexp.MustCompile(`(?i)\b(not (great|good|the best)|bad|poor|terrible|low|damaged)\b`), "poor"},
		{regexp.MustCompile(`(?i)\b(excellent|great|amazing|perfect|exceptional)\b`), "excellent"},
		{regexp.MustCompile(`(?i)\b(good|solid|decent)\b`), "good"},
		{regexp.MustCompile(`(?i)\b(ok|okay|average|alright|so-so|fair)\b`), "fair"},
	}
)

// credit returns how text describes the customer's credit, when text talks about credit or
// answers the credit question.
func credit(text, asked string) string {
	if asked != jack.StepCredit && !creditKeRE.MatchString(text) {
		return ""
	}
	if m := scoreRangeRE.FindStringSubmatch(text); m != nil && score(m[1]) && score(m[2]) {
		return m[1] + "-" + m[2]
	}
	for _, m := range scoreRE.FindAllStringSubmatch(text, -1) {
		if !score(m[2]) {
			continue
		}
		switch {
		case m[3] != "", strings.EqualFold(m[1], "over"), strings.EqualFold(m[1], "above"):
			return m[2] + "+"
		case m[1] != "":
			return "under " + m[2]
		}
		return m[2]
	}
	for _, w := range creditWords {
		if w.re.MatchString(text) {
			return w.label
		}
	}
	return ""
}

func score(s string) bool {
	n, err := strconv.Atoi(s)
	return err == nil && n >= 300 && n <= 850
}

func isAlpha(c byte) bool { return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' }
func isAlnum(c byte) bool { return isAlpha(c) || c >= '0' && c <= '9' }

func truncateRunes(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	return strings.TrimSpace(string([]rune(s)[:n]))
}

// gibberish reports whether text holds nothing that reads as words: empty, punctuation or emoji
// only, or keyboard mashing ("asdfghjkl", "zzzzz").
func gibberish(text string) bool {
	for _, t := range tokenize(text) {
		if len(t.key) <= 3 || wordlike(t.key) {
			return false
		}
	}
	return true
}

func wordlike(w string) bool {
	vowel, run, maxRun := false, 0, 0
	for _, c := range w {
		switch {
		case strings.ContainsRune("aeiouy", c):
			vowel, run = true, 0
		case c >= '0' && c <= '9':
			return true
		default:
			run++
			maxRun = max(maxRun, run)
		}
	}
	return vowel && maxRun < 6
}
