package jack

import (
	"context"
	"time"

	"github.com/google/uuid"
)

// Store keeps everything durable. Every method that takes an orgID reads and writes only that
// organization's rows (and, on Postgres, runs in a transaction whose RLS setting is orgID), so
// another organization's record is simply ENOTFOUND. The few tenant-free lookups are named so.
// Adapters: persistence/postgres and persistence/sqlite; persistence/storetest checks both.
type Store interface {
	// Ping returns EUNAVAILABLE when the database does not answer.
	Ping(ctx context.Context) error
	// Close releases the connections.
	Close() error

	OrganizationStore
	UserStore
	LeadStore
	PhoneNumberStore
	ConversationStore
	EventStore
	ReportStore
	ReminderStore
	IntegrationStore
	AppointmentStore
	InboxStore
	NoteStore
	FollowUpStore
	SendStore
}

// SendStore finds outbound texts a crash left unresolved (actors/outbound.go reconciles them).
type SendStore interface {
	// UnsentMessages is tenant-free: up to limit outbound texts (SentByAgent) of every
	// organization whose status is still pending or sending and whose Timestamp is before
	// before, oldest first. limit <= 0 means 100.
	UnsentMessages(ctx context.Context, before time.Time, limit int) ([]*Message, error)
}

// OrganizationStore keeps dealerships.
type OrganizationStore interface {
	// CreateOrganization stores a new organization and its owner in one transaction.
	// Returns ECONFLICT if the owner's email is taken (emails are unique across organizations).
	CreateOrganization(ctx context.Context, org *Organization, owner *User) error
	// FindOrganizationByID returns ENOTFOUND if orgID does not exist.
	FindOrganizationByID(ctx context.Context, orgID uuid.UUID) (*Organization, error)
	// UpdateOrganization returns ENOTFOUND if orgID does not exist.
	UpdateOrganization(ctx context.Context, orgID uuid.UUID, upd OrganizationUpdate) (*Organization, error)
}

// UserStore keeps staff accounts.
type UserStore interface {
	// FindUserByEmail is tenant-free (login): returns ENOTFOUND if no user has the email.
	FindUserByEmail(ctx context.Context, email string) (*User, error)
	// FindUserByID returns ENOTFOUND if id is not a user of orgID.
	FindUserByID(ctx context.Context, orgID, id uuid.UUID) (*User, error)
	// FindUsers lists orgID's users, oldest first.
	FindUsers(ctx context.Context, orgID uuid.UUID) ([]*User, error)
	// CreateUser returns ECONFLICT if the email is taken.
	CreateUser(ctx context.Context, orgID uuid.UUID, u *User) error
	// UpdateUser applies upd to the user id of orgID and returns it; deactivating also revokes
	// every session of the user in the same transaction. Returns ENOTFOUND if id is not a user of
	// orgID, EUNPROCESSABLE for an unknown role, ECONFLICT (reason last_admin) when the change
	// would leave orgID without an active owner or admin.
	UpdateUser(ctx context.Context, orgID, id uuid.UUID, upd UserUpdate) (*User, error)
	// DeleteUser removes the user id of orgID with their sessions; their leads and messages
	// keep no author. ENOTFOUND if id is not a user of orgID, ECONFLICT (reason last_admin) when
	// they are the organization's last active owner or admin.
	DeleteUser(ctx context.Context, orgID, id uuid.UUID) error

	// CreateSession stores a new session of s.UserID in orgID (and drops that user's expired
	// ones). ENOTFOUND if the user is not an active user of orgID.
	CreateSession(ctx context.Context, orgID uuid.UUID, s *Session) error
	// FindSession returns the session id of orgID with its user's current role and state;
	// ENOTFOUND if there is none (a removed user's sessions are gone).
	FindSession(ctx context.Context, orgID, id uuid.UUID) (*Session, error)
	// RevokeSession revokes the session id of orgID (a second call changes nothing); ENOTFOUND
	// if there is none.
	RevokeSession(ctx context.Context, orgID, id uuid.UUID) error
	// RevokeUserSessions revokes every live session of the user of orgID except the one named
	// except (uuid.Nil for none) and says how many it revoked.
	RevokeUserSessions(ctx context.Context, orgID, userID, except uuid.UUID) (int, error)
}

// LeadStore keeps the CRM side of leads. Conversation fields change through ConversationTx.
type LeadStore interface {
	// CreateLead returns ECONFLICT if orgID already has a lead with that phone.
	CreateLead(ctx context.Context, orgID uuid.UUID, lead *Lead) error
	// FindLeadByID returns ENOTFOUND if id is not a lead of orgID.
	FindLeadByID(ctx context.Context, orgID uuid.UUID, id string) (*Lead, error)
	// FindLeadByPhone returns ENOTFOUND if orgID has no lead with that E.164 phone.
	FindLeadByPhone(ctx context.Context, orgID uuid.UUID, phone string) (*Lead, error)
	// FindLeads returns one page of orgID's leads; EINVALID for a malformed cursor.
	FindLeads(ctx context.Context, orgID uuid.UUID, filter LeadFilter) (*LeadPage, error)
	// UpdateLead returns ENOTFOUND if id is not a lead of orgID, ECONFLICT if upd.Version is stale.
	UpdateLead(ctx context.Context, orgID uuid.UUID, id string, upd LeadUpdate) (*Lead, error)
	// DeleteLead removes the lead with its messages, call sessions and summary.
	// Returns ENOTFOUND if id is not a lead of orgID.
	DeleteLead(ctx context.Context, orgID uuid.UUID, id string) error
	// ImportLead stores a lead read from a feed: it finds an existing lead by (Source, ExternalID)
	// when ExternalID is set, else by phone; creates it when none; otherwise updates the fields the
	// feed provides (non-empty name, email, vehicle preference, budget; never the conversation
	// fields or chase status) and reports ImportUnchanged when nothing differs, so a re-import
	// changes nothing (version and updated_at untouched). Returns EUNPROCESSABLE for an invalid lead.
	ImportLead(ctx context.Context, orgID uuid.UUID, in ImportedLead) (*Lead, ImportOutcome, error)
}

// ReportStore answers the dashboards' and operators' questions.
type ReportStore interface {
	// Analytics summarizes orgID's activity in [from, to) (see jack.Analytics for every figure's meaning).
	Analytics(ctx context.Context, orgID uuid.UUID, from, to time.Time) (*Analytics, error)
	// Audit is tenant-free: the cross-organization health check of `jack audit`.
	Audit(ctx context.Context) (*AuditReport, error)
}

// ReminderStore keeps follow-up reminders (see jack.Reminder).
type ReminderStore interface {
	// ClaimDueReminders is tenant-free: it claims up to limit pending reminders whose DueAt is at
	// or before now and whose earlier claim, if any, has expired, for lease, and returns them
	// soonest first. A reminder claimed here is not returned to any other caller (on any node)
	// until now+lease. Firing it is the conversation grain's job (MarkReminderFired in its
	// transaction); an unfired claim simply expires and the reminder is claimed again.
	// EINVALID for a lease that is not positive; limit <= 0 means the adapter's default (100).
	ClaimDueReminders(ctx context.Context, now time.Time, lease time.Duration, limit int) ([]*Reminder, error)
	// FindReminders lists orgID's reminders of one phone ("" for all), newest first, at most 200.
	FindReminders(ctx context.Context, orgID uuid.UUID, phone string) ([]*Reminder, error)
	// DeleteRemindersBefore is tenant-free maintenance: it drops fired and canceled reminders
	// that fired (canceled ones: were created) before t, and says how many. Pending ones stay.
	DeleteRemindersBefore(ctx context.Context, t time.Time) (int64, error)
}

// PhoneNumberStore keeps the dealerships' own numbers.
type PhoneNumberStore interface {
	// OrganizationByPhoneNumber is tenant-free (webhook routing): the organization owning the
	// active number phone (E.164). Returns ENOTFOUND when no active number matches.
	OrganizationByPhoneNumber(ctx context.Context, phone string) (uuid.UUID, error)
	// OrganizationsByCustomerPhone is tenant-free: the organizations that have a lead with that
	// phone (the seed's fallback routing when the dialed number is unknown).
	OrganizationsByCustomerPhone(ctx context.Context, phone string) ([]uuid.UUID, error)
	// CreatePhoneNumber returns ECONFLICT if the number belongs to any organization already.
	CreatePhoneNumber(ctx context.Context, orgID uuid.UUID, pn *PhoneNumber) error
	// FindPhoneNumbers lists orgID's numbers, newest first.
	FindPhoneNumbers(ctx context.Context, orgID uuid.UUID) ([]*PhoneNumber, error)
	// ActivePhoneNumber returns the number orgID sends from: its default number when active,
	// otherwise its oldest active number. ENOTFOUND when it has none.
	ActivePhoneNumber(ctx context.Context, orgID uuid.UUID) (*PhoneNumber, error)
	// UpdatePhoneNumber returns ENOTFOUND if phone is not a number of orgID.
	UpdatePhoneNumber(ctx context.Context, orgID uuid.UUID, phone string, upd PhoneNumberUpdate) (*PhoneNumber, error)
}

// ConversationStore keeps conversations: what a grain loads on activation and the transaction it
// writes in. Only the conversation grain writes through ConversationTx.
type ConversationStore interface {
	// LoadConversation returns the conversation of orgID with the customer phone: its lead (nil
	// when none), its last limit messages oldest first, its summary (nil when none) and counts.
	LoadConversation(ctx context.Context, orgID uuid.UUID, phone string, limit int) (*ConversationSnapshot, error)
	// InConversationTx runs fn in a transaction of orgID and commits when fn returns nil; it
	// returns only once that commit is known. Adapters may commit several callers' fns in one
	// database transaction (group commit): fn may then run more than once (its writes are rolled
	// back and it is run again when another caller's fn failed in the same batch), so it must
	// not keep effects outside tx from a failed run; each caller gets only its own fn's error.
	// EUNAVAILABLE when the writer's queue is full (the caller should retry later).
	InConversationTx(ctx context.Context, orgID uuid.UUID, fn func(tx ConversationTx) error) error
	// ClaimConversation makes the caller (node, for diagnostics) the conversation's owner and
	// returns its ownership epoch: one more than the previous owner's. A write of the previous
	// owner that is committing finishes first; every later one with the old epoch is refused
	// (InOwnedConversationTx). A grain claims its conversation when it activates.
	ClaimConversation(ctx context.Context, orgID uuid.UUID, phone, node string) (int64, error)
	// InOwnedConversationTx is InConversationTx fenced by owner: fn's writes commit only if
	// owner.Epoch is still the conversation's epoch when the transaction commits, checked in that
	// transaction; otherwise nothing of them is stored and it returns jack.Fenced(). So an
	// activation that another one has replaced (a paused or partitioned node's) cannot change
	// the conversation.
	InOwnedConversationTx(ctx context.Context, owner ConversationOwner, fn func(tx ConversationTx) error) error
	// FindMessages returns one page of a lead's timeline; ENOTFOUND if the lead is not orgID's.
	FindMessages(ctx context.Context, orgID uuid.UUID, filter MessageFilter) (*MessagePage, error)
	// FindMessage returns one message of orgID by id (the media proxy's lookup); ENOTFOUND if
	// id is not a message of orgID.
	FindMessage(ctx context.Context, orgID uuid.UUID, id uuid.UUID) (*Message, error)
}

// EventStore keeps published events for replay to reconnecting dashboards. Each organization's
// events form a log numbered by Seq (1, 2, 3, …): the Store assigns the numbers when the write
// that carries the events commits, under a per-organization counter row updated in that same
// commit, so a number is visible only after every smaller one is, and an aborted write gives
// its numbers back. A reader that tails "Seq after the last one I saw" therefore never skips
// and never repeats an event, and a gap in what the Broker delivered is a lost message.
type EventStore interface {
	// FindEvents returns orgID's events after filter.AfterSeq (or filter.After), in Seq order.
	FindEvents(ctx context.Context, orgID uuid.UUID, filter EventFilter) ([]*Event, error)
	// DeleteEventsBefore is tenant-free maintenance: it drops events older than t and says how many.
	DeleteEventsBefore(ctx context.Context, t time.Time) (int64, error)
	// LastEventSeq returns orgID's greatest Seq (0 when it has no events): where a node's live
	// feed of the organization starts.
	LastEventSeq(ctx context.Context, orgID uuid.UUID) (int64, error)
	// EventSeq returns the Seq of orgID's event id, or when it is not kept (trimmed, or never
	// stored) of the latest kept event whose id is not greater; 0 when there is none.
	EventSeq(ctx context.Context, orgID uuid.UUID, id uuid.UUID) (int64, error)
}

// ConversationOwner is an activation's claim on a conversation (ConversationStore.ClaimConversation).
type ConversationOwner struct {
	OrgID uuid.UUID
	Phone string
	Epoch int64
}

// ConversationSnapshot is a conversation as a grain loads it on activation.
type ConversationSnapshot struct {
	Lead          *Lead
	Messages      []*Message // the most recent, oldest first
	Summary       *Summary
	LastCall      *CallSession // the latest finished call (its analysis feeds scoring); nil when none
	TotalMessages int          // every message of the conversation, both channels
	SMSMessages   int
	VoiceMessages int
}

// ConversationTx is one transaction over one organization's conversations. Its methods are the
// grain's building blocks; the transaction commits only if the whole composition succeeds.
type ConversationTx interface {
	// Now is the transaction's clock reading (UTC), the same for every write in it.
	Now() time.Time
	// FindLeadByPhone returns ENOTFOUND if the organization has no lead with that phone.
	FindLeadByPhone(ctx context.Context, phone string) (*Lead, error)
	// EnsureLead inserts lead unless its phone already has one, and returns the stored lead and
	// whether it was created by this call (a concurrent activation may have created it first).
	EnsureLead(ctx context.Context, lead *Lead) (*Lead, bool, error)
	// UpdateConversation applies ch to the lead's conversation fields, bumps its version and
	// returns it. ENOTFOUND if leadID is not the organization's.
	UpdateConversation(ctx context.Context, leadID string, ch ConversationChange) (*Lead, error)
	// InsertMessage stores m unless a message with the same provider message id or idempotency key
	// exists; then it returns that message and false.
	InsertMessage(ctx context.Context, m *Message) (*Message, bool, error)
	// FindMessageByProviderID returns ENOTFOUND if no message has that provider message id. The row stays
	// locked until the transaction ends where the database supports it.
	FindMessageByProviderID(ctx context.Context, providerMessageID string) (*Message, error)
	// UpdateMessageDelivery stores m's provider message id, status and error fields.
	UpdateMessageDelivery(ctx context.Context, m *Message) error
	// InsertEvents stores events for replay with the transaction's writes. Each e gets the
	// organization, its Timestamp (Now when zero; retention reads it) and, when Nil, an ID; its
	// Seq is assigned at commit and set on e before InConversationTx returns, so the caller
	// publishes exactly what was stored.
	InsertEvents(ctx context.Context, events ...*Event) error

	// CreateCallSession stores cs unless the organization already has a call session with the
	// same voice conversation id or provider call id; then it returns that one and false.
	CreateCallSession(ctx context.Context, cs *CallSession) (*CallSession, bool, error)
	// FindCallSession returns the call session with the voice conversation id, or else
	// with the provider call id (either may be empty); ENOTFOUND when neither matches. The row
	// stays locked until the transaction ends where the database supports it.
	FindCallSession(ctx context.Context, conversationID, providerCallID string) (*CallSession, error)
	// UpdateCallSession stores cs's ids, end, duration, outcome, scores, next action and data.
	UpdateCallSession(ctx context.Context, cs *CallSession) error
	// UpsertSummary stores the conversation's summary (one per organization and phone),
	// replacing the previous one, and returns it.
	UpsertSummary(ctx context.Context, s *Summary) (*Summary, error)

	// ScheduleReminder makes r the conversation's (r.Phone's) one pending reminder: any other
	// pending reminder of that phone is canceled. r.ID, CreatedAt and Status are filled when empty;
	// r.Phone, when empty, is the lead's. ENOTFOUND if r.LeadID is not the organization's lead,
	// EINVALID without DueAt, with a negative Step, a Status other than pending or a Phone that
	// is not the lead's.
	ScheduleReminder(ctx context.Context, r *Reminder) error
	// CancelReminders cancels the phone's pending reminders and says how many.
	CancelReminders(ctx context.Context, phone string) (int, error)
	// FindPendingReminder returns the phone's pending reminder, locked until the transaction ends
	// where the database supports it; ENOTFOUND when none.
	FindPendingReminder(ctx context.Context, phone string) (*Reminder, error)
	// MarkReminderFired sets a pending reminder fired (fired_at = tx clock); ECONFLICT when it is
	// not pending any more (fired or canceled meanwhile), ENOTFOUND when unknown.
	MarkReminderFired(ctx context.Context, id uuid.UUID) error

	AppointmentTx
}

// ConversationChange is a change to a lead's conversation fields; zero fields change nothing.
// UpdateConversation returns EUNPROCESSABLE for a LeadQualityScore outside 0–100 or a Sentiment
// outside Sentiments.
type ConversationChange struct {
	Messages        int        // messages added: total_conversations += Messages
	Activity        *time.Time // last_activity
	Touchpoint      *time.Time // last_touchpoint: the dealership reached out
	OptOut          *bool      // true sets opted_out_at (kept when already set), false clears it
	AIPausedUntil   *time.Time // staff takeover until then
	ResumeAI        bool       // clears ai_paused_until
	ChaseStatus     *string
	VehicleInterest *string
	BudgetRange     *string
	// CreditScoreRange is how the customer describes their credit ("good", "600-650").
	CreditScoreRange *string
	LeadQualityScore *float64 // set by scoring after each inbound message and call
	Sentiment        *string
	ScriptProgress   *Progress
}
