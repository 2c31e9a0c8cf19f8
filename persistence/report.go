package persistence

import (
	"bytes"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/jack-auto/jack"
)

// MaxAnalyticsPeriod bounds an analytics period: a year, leap day included.
const MaxAnalyticsPeriod = 366 * 24 * time.Hour

// DayFormat is how analytics names a UTC day.
const DayFormat = time.DateOnly

// CheckPeriod returns EINVALID unless from < to and the period spans at most MaxAnalyticsPeriod.
func CheckPeriod(from, to time.Time) error {
	if !from.Before(to) {
		return jack.Errorf(jack.EINVALID, "The period must start before it ends.")
	}
	if to.Sub(from) > MaxAnalyticsPeriod {
		return jack.Errorf(jack.EINVALID, "The period must not exceed 366 days.")
	}
	return nil
}

// AnalyticsBuilder assembles a jack.Analytics from the rows an adapter reads, so both adapters
// count the same way: the adapters aggregate in SQL, the builder files the aggregates.
type AnalyticsBuilder struct {
	a        *jack.Analytics
	days     map[string]*jack.DayCounts
	funnel   map[string]*jack.FunnelStep
	durCalls int // calls with a duration
}

// NewAnalyticsBuilder starts the analytics of [from, to) (after CheckPeriod): every UTC day of
// the period and every chase status are present with zero counts. The day of to is left out
// when to is midnight, since the period ends before it starts.
func NewAnalyticsBuilder(from, to time.Time) *AnalyticsBuilder {
	from, to = Truncate(from), Truncate(to)
	b := &AnalyticsBuilder{
		a: &jack.Analytics{
			From: from, To: to,
			Messages: jack.MessageAnalytics{ByDay: []jack.DayCounts{}},
			Funnel:   make([]jack.FunnelStep, len(jack.ChaseStatuses)),
		},
		days:   map[string]*jack.DayCounts{},
		funnel: map[string]*jack.FunnelStep{},
	}
	for d := from.Truncate(24 * time.Hour); d.Before(to); d = d.AddDate(0, 0, 1) {
		b.a.Messages.ByDay = append(b.a.Messages.ByDay, jack.DayCounts{Date: d.Format(DayFormat)})
	}
	for i := range b.a.Messages.ByDay {
		b.days[b.a.Messages.ByDay[i].Date] = &b.a.Messages.ByDay[i]
	}
	for i, s := range jack.ChaseStatuses {
		b.a.Funnel[i] = jack.FunnelStep{ChaseStatus: s}
		b.funnel[s] = &b.a.Funnel[i]
	}
	return b
}

// AddMessages counts n messages of a channel (the message type: voice, anything else is SMS)
// on day (DayFormat, UTC).
func (b *AnalyticsBuilder) AddMessages(day, channel string, n int) {
	m := &b.a.Messages
	m.Total += n
	d := b.days[day]
	if d == nil { // only a day outside the period, which the query excludes
		d = &jack.DayCounts{}
	}
	if channel == jack.ChannelVoice {
		m.ByChannel.Voice += n
		d.Voice += n
	} else {
		m.ByChannel.SMS += n
		d.SMS += n
	}
}

// AddCalls counts n calls of a direction and an outcome (as stored, "" for none), of which
// withDuration have a duration, totalling durationSeconds.
func (b *AnalyticsBuilder) AddCalls(direction, outcome string, n, withDuration, durationSeconds int) {
	c := &b.a.Calls
	c.Total += n
	switch direction {
	case jack.CallInbound:
		c.Inbound += n
	case jack.CallOutbound:
		c.Outbound += n
	}
	switch outcome {
	case jack.OutcomeSuccess:
		c.Outcomes.Success += n
	case jack.OutcomeFailure:
		c.Outcomes.Failure += n
	case jack.OutcomeFailed:
		c.Outcomes.Failed += n
	default:
		c.Outcomes.Unknown += n
	}
	c.TotalDurationSeconds += durationSeconds
	b.durCalls += withDuration
}

// AddFunnel counts n leads now at chase status (statuses outside jack.ChaseStatuses are ignored).
func (b *AnalyticsBuilder) AddFunnel(status string, n int) {
	if s := b.funnel[status]; s != nil {
		s.Count += n
	}
}

// SetLeads records the lead counts.
func (b *AnalyticsBuilder) SetLeads(total, created, optedOut int) {
	b.a.Leads = jack.LeadAnalytics{Total: total, New: created, OptedOut: optedOut}
}

// Analytics returns the analytics with the average call duration and the median first response
// computed from msgs: the period's messages ordered by conversation, then (timestamp, id).
func (b *AnalyticsBuilder) Analytics(msgs []TurnMessage) *jack.Analytics {
	if b.durCalls > 0 {
		b.a.Calls.AverageDurationSeconds = float64(b.a.Calls.TotalDurationSeconds) / float64(b.durCalls)
	}
	b.a.MedianFirstResponseSeconds = MedianFirstResponse(msgs)
	return b.a
}

// TurnMessage is what the first-response figure reads of a message.
type TurnMessage struct {
	Phone     string // the conversation
	Timestamp time.Time
	SentBy    string
	Status    string
}

// MedianFirstResponse returns the median time, in seconds, from a customer message that opens a
// turn to the dealership's next message in the same conversation; nil when no turn is answered.
// msgs are ordered by conversation, then by (timestamp, id). A customer message opens a turn when
// the previous message of its conversation is not the customer's (or there is none); a failed
// dealership message never reached the customer, so it neither answers nor ends a turn. Messages
// of other senders are ignored.
func MedianFirstResponse(msgs []TurnMessage) *float64 {
	var (
		secs   []float64
		phone  string
		opened *time.Time // the open turn's first customer message
	)
	for i := range msgs {
		m := &msgs[i]
		if m.Phone != phone {
			phone, opened = m.Phone, nil
		}
		switch {
		case m.SentBy == jack.SentByCustomer && opened == nil:
			opened = &m.Timestamp
		case m.SentBy == jack.SentByAgent && m.Status != jack.StatusFailed && opened != nil:
			secs = append(secs, m.Timestamp.Sub(*opened).Seconds())
			opened = nil
		}
	}
	if len(secs) == 0 {
		return nil
	}
	slices.Sort(secs)
	n := len(secs)
	median := secs[n/2]
	if n%2 == 0 {
		median = (secs[n/2-1] + secs[n/2]) / 2
	}
	return &median
}

// TenantTables are the tables whose rows belong to an organization through organization_id:
// the keys of jack.AuditReport.RowsWithoutOrganization.
var TenantTables = []string{
	"call_sessions", "conversation_summaries", "conversations", "events", "leads",
	"organization_phone_numbers", "reminders", "user_profiles",
}

// OrphanCounts returns counts with every tenant table present (zero when missing).
func OrphanCounts(counts map[string]int64) map[string]int64 {
	all := make(map[string]int64, len(TenantTables))
	for _, t := range TenantTables {
		all[t] = counts[t]
	}
	return all
}

// PhoneOrganization is one organization holding a customer phone, as the audit reads it.
type PhoneOrganization struct {
	Phone          string
	OrganizationID uuid.UUID
}

// SharedPhones groups rows of customer phones held by several organizations, sorted by phone
// and each phone's organizations by id; never nil.
func SharedPhones(rows []PhoneOrganization) []jack.SharedPhone {
	byPhone := map[string][]uuid.UUID{}
	for _, r := range rows {
		if !slices.Contains(byPhone[r.Phone], r.OrganizationID) {
			byPhone[r.Phone] = append(byPhone[r.Phone], r.OrganizationID)
		}
	}
	shared := []jack.SharedPhone{}
	for phone, orgs := range byPhone {
		if len(orgs) > 1 {
			slices.SortFunc(orgs, compareUUID)
			shared = append(shared, jack.SharedPhone{Phone: phone, Organizations: orgs})
		}
	}
	slices.SortFunc(shared, func(a, b jack.SharedPhone) int { return strings.Compare(a.Phone, b.Phone) })
	return shared
}

// SortNumberRefs sorts numbers by organization, then phone; never nil.
func SortNumberRefs(refs []jack.NumberRef) []jack.NumberRef {
	if refs == nil {
		return []jack.NumberRef{}
	}
	slices.SortFunc(refs, func(a, b jack.NumberRef) int {
		if c := compareUUID(a.OrganizationID, b.OrganizationID); c != 0 {
			return c
		}
		return strings.Compare(a.Phone, b.Phone)
	})
	return refs
}

// AuditPageSize is how many leads the invalid-phone scan reads per query.
const AuditPageSize = 1000

// InvalidLeadPhones scans every lead's phone, page by page in (organization, id) order, and
// returns the leads whose normalized phone is not valid E.164 (jack.IsE164), in that order;
// never nil. page returns up to limit leads after the given one (the zero LeadRef to start).
// Shapes aside, validity depends on the numbering plan, which SQL cannot check: hence Go.
func InvalidLeadPhones(page func(after jack.LeadRef, limit int) ([]jack.LeadRef, error)) ([]jack.LeadRef, error) {
	invalid := []jack.LeadRef{}
	var after jack.LeadRef
	for {
		leads, err := page(after, AuditPageSize)
		if err != nil {
			return nil, err
		}
		for _, l := range leads {
			if !jack.IsE164(l.Phone) {
				invalid = append(invalid, l)
			}
		}
		if len(leads) < AuditPageSize {
			return invalid, nil
		}
		after = leads[len(leads)-1]
	}
}

// compareUUID orders UUIDs by their bytes, as both databases do.
func compareUUID(a, b uuid.UUID) int { return bytes.Compare(a[:], b[:]) }
