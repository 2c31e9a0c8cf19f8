package jack

import (
	"time"

	"github.com/google/uuid"
)

// Analytics summarizes one organization's activity over a period [From, To).
type Analytics struct {
	From     time.Time        `json:"from"`
	To       time.Time        `json:"to"`
	Messages MessageAnalytics `json:"messages"`
	Calls    CallAnalytics    `json:"calls"`
	Funnel   []FunnelStep     `json:"funnel"` // every chase status, in funnel order, zero counts included
	// MedianFirstResponseSeconds is the median time from a customer's message that opens a turn
	// (the previous message was the dealership's, or none) to the dealership's next message in the
	// same conversation; nil when no turn was answered in the period.
	MedianFirstResponseSeconds *float64      `json:"medianFirstResponseSeconds"`
	Leads                      LeadAnalytics `json:"leads"`
	// Appointments counts the appointments starting in the period (filled by AppointmentStats;
	// the Store's Analytics leaves it zero).
	Appointments AppointmentAnalytics `json:"appointments"`
}

// AppointmentAnalytics is what a dealership measures its assistant by: appointments set and
// whether customers showed up.
type AppointmentAnalytics struct {
	Set        int      `json:"set"`        // booked (cancelled ones left out)
	Cancelled  int      `json:"cancelled"`  //
	Shown      int      `json:"shown"`      // completed
	NoShow     int      `json:"noShow"`     //
	NoShowRate *float64 `json:"noShowRate"` // noShow / (shown + noShow); nil before any outcome
	ByAI       int      `json:"byAI"`       // set by the AI (SMS or voice)
	ByStaff    int      `json:"byStaff"`    // set by staff
}

// AppointmentStats summarizes appointments (those starting in the period).
func AppointmentStats(list []*Appointment) AppointmentAnalytics {
	var s AppointmentAnalytics
	for _, a := range list {
		if a.Status == AppointmentCancelled {
			s.Cancelled++
			continue
		}
		s.Set++
		switch a.Status {
		case AppointmentCompleted:
			s.Shown++
		case AppointmentNoShow:
			s.NoShow++
		}
		if a.Source == SourceStaff {
			s.ByStaff++
		} else {
			s.ByAI++
		}
	}
	if n := s.Shown + s.NoShow; n > 0 {
		r := float64(s.NoShow) / float64(n)
		s.NoShowRate = &r
	}
	return s
}

// MessageAnalytics counts messages by channel and by UTC day.
type MessageAnalytics struct {
	Total     int           `json:"total"`
	ByChannel ChannelCounts `json:"byChannel"`
	ByDay     []DayCounts   `json:"byDay"` // every day of the period, oldest first, zero days included
}

// ChannelCounts counts by channel.
type ChannelCounts struct {
	SMS   int `json:"sms"`
	Voice int `json:"voice"`
}

// DayCounts is one UTC day's messages by channel.
type DayCounts struct {
	Date  string `json:"date"` // YYYY-MM-DD
	SMS   int    `json:"sms"`
	Voice int    `json:"voice"`
}

// CallAnalytics summarizes call sessions started in the period.
type CallAnalytics struct {
	Total                  int          `json:"total"`
	Inbound                int          `json:"inbound"`
	Outbound               int          `json:"outbound"`
	TotalDurationSeconds   int          `json:"totalDurationSeconds"`
	AverageDurationSeconds float64      `json:"averageDurationSeconds"` // over calls with a duration
	Outcomes               CallOutcomes `json:"outcomes"`
}

// CallOutcomes counts calls by outcome; calls not yet ended count as unknown.
type CallOutcomes struct {
	Success int `json:"success"`
	Failure int `json:"failure"`
	Failed  int `json:"failed"` // never connected
	Unknown int `json:"unknown"`
}

// FunnelStep is how many of the organization's leads are at one chase status now.
type FunnelStep struct {
	ChaseStatus string `json:"chaseStatus"`
	Count       int    `json:"count"`
}

// LeadAnalytics counts the organization's leads now.
type LeadAnalytics struct {
	Total    int `json:"total"`
	New      int `json:"new"` // created in the period
	OptedOut int `json:"optedOut"`
}

// AuditReport is the cross-organization health check of `jack audit` (the seed's security audit).
type AuditReport struct {
	// RowsWithoutOrganization counts, per table, rows with no organization.
	RowsWithoutOrganization map[string]int64 `json:"rowsWithoutOrganization"`
	// SharedCustomerPhones lists customer phones that are leads of several organizations. Not an
	// error (two dealerships may share a customer) but worth knowing: routing by caller is off for them.
	SharedCustomerPhones []SharedPhone `json:"sharedCustomerPhones"`
	// NumbersWithoutVoice lists active numbers that cannot take AI calls.
	NumbersWithoutVoice []NumberRef `json:"numbersWithoutElevenLabs"`
	// InvalidLeadPhones lists leads whose normalized phone is not valid E.164.
	InvalidLeadPhones []LeadRef `json:"invalidLeadPhones"`
	// OverdueReminders lists pending follow-up reminders due more than ReminderOverdue before
	// the audit: no node has been firing them.
	OverdueReminders []ReminderRef `json:"overdueReminders"`
}

// ReminderOverdue is how late a pending reminder may be before the audit reports it.
const ReminderOverdue = time.Hour

// ReminderRef names an organization's pending reminder.
type ReminderRef struct {
	OrganizationID uuid.UUID `json:"organizationId"`
	LeadID         string    `json:"leadId"`
	Phone          string    `json:"phone"`
	DueAt          time.Time `json:"dueAt"`
}

// SharedPhone is a customer phone known to several organizations.
type SharedPhone struct {
	Phone         string      `json:"phone"`
	Organizations []uuid.UUID `json:"organizations"`
}

// NumberRef names an organization's number.
type NumberRef struct {
	OrganizationID uuid.UUID `json:"organizationId"`
	Phone          string    `json:"phone"`
}

// LeadRef names an organization's lead.
type LeadRef struct {
	OrganizationID uuid.UUID `json:"organizationId"`
	LeadID         string    `json:"leadId"`
	Phone          string    `json:"phone"`
}

// Problems reports whether the audit found something that needs fixing (shared customer phones
// are informational).
func (r *AuditReport) Problems() bool {
	for _, n := range r.RowsWithoutOrganization {
		if n > 0 {
			return true
		}
	}
	return len(r.NumbersWithoutVoice) > 0 || len(r.InvalidLeadPhones) > 0 || len(r.OverdueReminders) > 0
}
