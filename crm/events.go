package crm

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/jack-auto/jack"
)

// Document is the JSON body of a webhook (and what a delivery stores): the integration event.
type Document struct {
	ID             uuid.UUID `json:"id"`
	Type           string    `json:"type"`
	CreatedAt      time.Time `json:"createdAt"`
	OrganizationID uuid.UUID `json:"organizationId"`
	Data           EventData `json:"data"`
}

// EventData is what an integration event is about: always the lead (as it was when the event
// was dispatched), and the message or call where the event is one, with the AI's summary.
type EventData struct {
	Lead    *jack.Lead        `json:"lead"`
	Message *jack.Message     `json:"message,omitempty"`
	Call    *jack.CallSession `json:"call,omitempty"`
	Summary string            `json:"summary,omitempty"`
	// Appointment is the appointment of appointment.booked and appointment.updated.
	Appointment *jack.Appointment  `json:"appointment,omitempty"`
	Changes     map[string]*Change `json:"changes,omitempty"` // lead.updated: what changed
}

// Change is one field's old and new value in a lead.updated event.
type Change struct {
	From string `json:"from"`
	To   string `json:"to"`
}

// leadState is what lead.updated and lead.qualified compare: the status and the qualification.
type leadState struct {
	Status, Funding, Credit, Vehicle, Budget string
}

func stateOf(l *jack.Lead) leadState {
	return leadState{l.ChaseStatus, l.FundingReadiness, l.CreditScoreRange, l.VehiclePreference, l.BudgetRange}
}

// fingerprint encodes a state for the Store (JSON keeps it unambiguous).
func (st leadState) fingerprint() string {
	b, _ := json.Marshal([]string{st.Status, st.Funding, st.Credit, st.Vehicle, st.Budget})
	return string(b)
}

func parseFingerprint(fp string) (leadState, bool) {
	var v []string
	if json.Unmarshal([]byte(fp), &v) != nil || len(v) != 5 {
		return leadState{}, false
	}
	return leadState{v[0], v[1], v[2], v[3], v[4]}, true
}

// changes lists the fields that differ between two states.
func changes(a, b leadState) map[string]*Change {
	out := map[string]*Change{}
	for _, f := range []struct {
		name     string
		from, to string
	}{{"chaseStatus", a.Status, b.Status}, {"fundingReadiness", a.Funding, b.Funding},
		{"creditScoreRange", a.Credit, b.Credit}, {"vehiclePreference", a.Vehicle, b.Vehicle},
		{"budgetRange", a.Budget, b.Budget}} {
		if f.from != f.to {
			out[f.name] = &Change{From: f.from, To: f.to}
		}
	}
	return out
}

// integrationEventID derives an integration event's id from the stored event that caused it,
// so a dispatch redone after a lost commit produces the same ids (and the Store skips them).
func integrationEventID(source uuid.UUID, typ string) uuid.UUID {
	return uuid.NewSHA1(source, []byte(typ))
}

// planner turns one batch of stored events into deliveries.
type planner struct {
	s            *Service
	ctx          context.Context
	feed         *jack.IntegrationFeed
	integrations []*jack.Integration
	states       map[string]leadState // known lead states, updated as the batch goes
	changed      map[string]string    // lead id → fingerprint to store
	leads        map[string]*jack.Lead
	summaries    map[string]string
	out          []*jack.IntegrationDelivery
}

// plan maps events to integration events and deliveries:
//   - lead_updated: lead.created for a lead not seen before and created after the first
//     integration; lead.updated when its status or qualification changed (a lead first seen
//     that was created earlier counts as changed); lead.qualified when its status became
//     qualified;
//   - sms_received: message.received; call_ended: call.completed with the call's summary.
//
// The first event about a new lead announces it (lead.created) before anything else about it.
func (s *Service) plan(ctx context.Context, f *jack.IntegrationFeed, events []*jack.Event, integrations []*jack.Integration) (jack.IntegrationDispatch, error) {
	p := &planner{s: s, ctx: ctx, feed: f, integrations: integrations, states: map[string]leadState{},
		changed: map[string]string{}, leads: map[string]*jack.Lead{}, summaries: map[string]string{}}
	var ids []string
	for _, e := range events {
		if e.LeadID != "" {
			ids = append(ids, e.LeadID)
		}
	}
	stored, err := s.store.IntegrationLeadStates(ctx, f.OrganizationID, ids)
	if err != nil {
		return jack.IntegrationDispatch{}, err
	}
	for id, fp := range stored {
		if st, ok := parseFingerprint(fp); ok {
			p.states[id] = st
		}
	}
	for k, e := range events {
		if err := p.event(e, events[k:]); err != nil {
			return jack.IntegrationDispatch{}, fmt.Errorf("event %s: %w", e.ID, err)
		}
	}
	return jack.IntegrationDispatch{From: f.After, To: events[len(events)-1].ID, Deliveries: p.out, LeadStates: p.changed}, nil
}

func (p *planner) event(e *jack.Event, rest []*jack.Event) error {
	if e.LeadID == "" {
		return nil
	}
	if _, known := p.states[e.LeadID]; !known && e.Type != jack.EventLeadUpdated {
		// Announce a new lead before anything else about it, with the snapshot of its first
		// lead_updated in this batch, else as it is stored now (a lead created through the API
		// has no event of its own: its first text or call announces it).
		l, err := p.firstSnapshot(e.LeadID, rest)
		if err != nil {
			return err
		}
		if l != nil {
			if err := p.lead(e, l, false); err != nil {
				return err
			}
		}
	}
	switch e.Type {
	case jack.EventLeadUpdated:
		var l jack.Lead
		if err := json.Unmarshal(e.Data, &l); err != nil || l.ID == "" {
			return nil // not a lead: nothing to compare
		}
		return p.lead(e, &l, true)
	case jack.EventSMSReceived:
		var m jack.Message
		if err := json.Unmarshal(e.Data, &m); err != nil {
			return nil
		}
		return p.emit(e, jack.IntegrationMessageReceived, EventData{Message: &m})
	case jack.EventCallEnded:
		var cs jack.CallSession
		if err := json.Unmarshal(e.Data, &cs); err != nil {
			return nil
		}
		return p.emit(e, jack.IntegrationCallCompleted, EventData{Call: &cs, Summary: callSummary(cs.VoiceData)})
	case jack.EventAppointmentBooked, jack.EventAppointmentUpdated:
		var a jack.Appointment
		if err := json.Unmarshal(e.Data, &a); err != nil || a.ID == uuid.Nil {
			return nil
		}
		typ := jack.IntegrationAppointmentBooked
		if e.Type == jack.EventAppointmentUpdated {
			typ = jack.IntegrationAppointmentUpdated
		}
		return p.emit(e, typ, EventData{Appointment: &a})
	}
	return nil
}

// firstSnapshot returns the lead of the first lead_updated about id in rest, else the stored
// lead (nil when it is gone).
func (p *planner) firstSnapshot(id string, rest []*jack.Event) (*jack.Lead, error) {
	for _, later := range rest {
		if later.Type == jack.EventLeadUpdated && later.LeadID == id {
			var l jack.Lead
			if json.Unmarshal(later.Data, &l) == nil && l.ID != "" {
				return &l, nil
			}
			break
		}
	}
	return p.findLead(id)
}

// lead compares l with what the feed knew of it and emits the lead events it calls for. A lead
// not seen before is announced (lead.created) when it was created after the organization's
// first integration; an older one is only noted, or, when l comes from a lead_updated event
// (changed is true), reported as lead.updated without the changes (its earlier state is unknown).
func (p *planner) lead(e *jack.Event, l *jack.Lead, changed bool) error {
	now := stateOf(l)
	old, known := p.states[l.ID]
	p.states[l.ID] = now
	p.changed[l.ID] = now.fingerprint()
	p.leads[l.ID] = l
	switch {
	case !known && !l.CreatedAt.Before(p.feed.Since):
		if err := p.emit(e, jack.IntegrationLeadCreated, EventData{Lead: l}); err != nil {
			return err
		}
		if now.Status == jack.ChaseQualified {
			return p.emit(e, jack.IntegrationLeadQualified, EventData{Lead: l})
		}
		return nil
	case !known && !changed, known && old == now:
		return nil
	}
	data := EventData{Lead: l}
	if known {
		data.Changes = changes(old, now)
	}
	if err := p.emit(e, jack.IntegrationLeadUpdated, data); err != nil {
		return err
	}
	if now.Status == jack.ChaseQualified && (!known || old.Status != jack.ChaseQualified) {
		return p.emit(e, jack.IntegrationLeadQualified, EventData{Lead: l})
	}
	return nil
}

// emit makes one integration event from e and a delivery of it to every integration that
// wants it. The lead and summary are filled from the Store when the event does not carry them.
func (p *planner) emit(e *jack.Event, typ string, data EventData) error {
	var wanted []*jack.Integration
	for _, i := range p.integrations {
		if i.Wants(typ) {
			wanted = append(wanted, i)
		}
	}
	if len(wanted) == 0 {
		return nil
	}
	if data.Lead == nil {
		l, err := p.findLead(e.LeadID)
		if err != nil {
			return err
		}
		data.Lead = l
	}
	if data.Summary == "" && data.Lead != nil {
		sum, err := p.summary(data.Lead.PhoneNumberNormalized)
		if err != nil {
			return err
		}
		data.Summary = sum
	}
	doc := Document{ID: integrationEventID(e.ID, typ), Type: typ, CreatedAt: e.Timestamp.UTC(), OrganizationID: e.OrganizationID, Data: data}
	body, err := json.Marshal(doc)
	if err != nil {
		return fmt.Errorf("encode %s: %w", typ, err)
	}
	for _, i := range wanted {
		p.out = append(p.out, &jack.IntegrationDelivery{ID: uuid.Must(uuid.NewV7()), IntegrationID: i.ID,
			EventID: doc.ID, EventType: typ, LeadID: e.LeadID, Payload: body})
	}
	return nil
}

// findLead returns the lead as stored now (nil when deleted meanwhile).
func (p *planner) findLead(id string) (*jack.Lead, error) {
	if l, ok := p.leads[id]; ok {
		return l, nil
	}
	l, err := p.s.store.FindLeadByID(p.ctx, p.feed.OrganizationID, id)
	if jack.ErrorCode(err) == jack.ENOTFOUND {
		l, err = nil, nil
	}
	if err != nil {
		return nil, err
	}
	p.leads[id] = l
	return l, nil
}

// summary returns the conversation's latest AI summary ("" when none).
func (p *planner) summary(phone string) (string, error) {
	if s, ok := p.summaries[phone]; ok {
		return s, nil
	}
	snap, err := p.s.store.LoadConversation(p.ctx, p.feed.OrganizationID, phone, 0)
	if err != nil {
		return "", err
	}
	s := ""
	if snap.Summary != nil {
		s = snap.Summary.Summary
	}
	p.summaries[phone] = s
	return s, nil
}

// callSummary reads ElevenLabs' transcript summary out of a call's analysis.
func callSummary(analysis json.RawMessage) string {
	var a struct {
		TranscriptSummary string `json:"transcript_summary"`
	}
	if len(analysis) == 0 || json.Unmarshal(analysis, &a) != nil {
		return ""
	}
	return strings.TrimSpace(a.TranscriptSummary)
}

// sendADF renders the event's lead as an ADF document and e-mails it.
func (s *Service) sendADF(ctx context.Context, i *jack.Integration, eventID, eventType string, payload []byte) Result {
	if s.cfg.Mailer == nil {
		return Result{Err: fmt.Errorf("SMTP is not configured (SMTP_URL)")}
	}
	var doc Document
	if err := json.Unmarshal(payload, &doc); err != nil || doc.Data.Lead == nil {
		return Result{Err: fmt.Errorf("the event has no lead to send")}
	}
	dealership := ""
	if org, err := s.store.FindOrganizationByID(ctx, i.OrganizationID); err == nil {
		dealership = org.Name
	}
	summary := doc.Data.Summary
	if doc.Data.Message != nil && summary == "" {
		summary = "Customer wrote: " + doc.Data.Message.Content
	}
	xml, err := ADF(Prospect{Lead: doc.Data.Lead, Dealership: dealership, Summary: summary, RequestDate: doc.CreatedAt,
		EventID: eventID, EventType: eventType})
	if err != nil {
		return Result{Err: err}
	}
	start := time.Now()
	err = s.cfg.Mailer.Send(ctx, Email{To: recipients(i.To), MessageID: eventID + "@jack",
		Subject: fmt.Sprintf("Lead %s: %s", strings.TrimPrefix(eventType, "lead."), doc.Data.Lead.CustomerName), Body: xml})
	return Result{Latency: time.Since(start), Err: err}
}
