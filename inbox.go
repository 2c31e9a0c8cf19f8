package jack

import (
	"context"
	"time"

	"github.com/google/uuid"
)

// The inbox is the lead list as staff work it: each conversation with its last message, how
// many customer texts the viewer has not read (kept per staff member on the server, so every
// tab and device agrees), and whether it needs a human.

// Inbox assignee filters besides a user's id.
const (
	AssigneeMine       = "mine"
	AssigneeUnassigned = "unassigned"
)

// SourceNone filters the inbox to leads that came from no feed (they texted or called in, or
// staff created them).
const SourceNone = "none"

// InboxFilter narrows the inbox of staff member UserID. Zero fields do not filter. The inbox
// is sorted by last activity, newest first.
type InboxFilter struct {
	UserID     uuid.UUID // whose read state, and who "mine" is
	Status     string    // chase status
	Assignee   string    // AssigneeMine, AssigneeUnassigned or a user id
	Source     string    // the feed a lead came from ("csv", an ADF provider) or SourceNone
	NeedsHuman bool      // only conversations that need a human (see InboxItem.NeedsHuman)
	Q          string    // in the name, phone or email, or every word in a message body (full-text)
	Cursor     string    // opaque, from the previous page's NextCursor
	Limit      int       // page size; defaults to 50, at most 200
}

// MessagePreview is the last message of a conversation as the inbox shows it.
type MessagePreview struct {
	Content   string    `json:"content"`
	SentBy    string    `json:"sentBy"`
	Timestamp time.Time `json:"timestamp"`
}

// InboxItem is one conversation of the inbox.
type InboxItem struct {
	Lead        *Lead           `json:"lead"`
	LastMessage *MessagePreview `json:"lastMessage"` // nil before the first message
	Unread      int             `json:"unread"`      // customer messages after the viewer's read mark
	// NeedsHuman: the customer wrote last and has not opted out, and either staff paused the AI
	// (so nobody answers unless a person does) or the customer asked for a person.
	NeedsHuman bool `json:"needsHuman"`
}

// InboxPage is one page of the inbox and the cursor of the next ("" at the end).
type InboxPage struct {
	Items      []*InboxItem `json:"items"`
	NextCursor string       `json:"nextCursor"`
}

// InboxStore keeps the inbox's read state and answers its queries.
type InboxStore interface {
	// FindInbox returns one page of orgID's inbox for filter.UserID; EINVALID for a malformed
	// cursor.
	FindInbox(ctx context.Context, orgID uuid.UUID, filter InboxFilter) (*InboxPage, error)
	// MarkRead marks leadID read for userID up to its newest message (never back); ENOTFOUND
	// if leadID is not a lead of orgID.
	MarkRead(ctx context.Context, orgID, userID uuid.UUID, leadID string) error
	// UnreadCounts returns, for userID, the number of unread customer messages of each of
	// orgID's leads that has any.
	UnreadCounts(ctx context.Context, orgID, userID uuid.UUID) (map[string]int, error)
}

// Note is a staff member's internal note on a lead: shown in its timeline, never sent.
type Note struct {
	ID           uuid.UUID  `json:"id"`
	LeadID       string     `json:"leadId"`
	AuthorUserID *uuid.UUID `json:"authorUserId"`
	Body         string     `json:"body"`
	CreatedAt    time.Time  `json:"createdAt"`
}

// MaxNoteLength bounds a note's body.
const MaxNoteLength = 4000

// NoteStore keeps staff's internal notes on leads.
type NoteStore interface {
	// CreateNote stores n (ID and CreatedAt filled when zero); ENOTFOUND if n.LeadID is not a
	// lead of orgID.
	CreateNote(ctx context.Context, orgID uuid.UUID, n *Note) error
	// FindNotes returns the lead's notes, oldest first (at most 500, the newest); ENOTFOUND if
	// leadID is not a lead of orgID.
	FindNotes(ctx context.Context, orgID uuid.UUID, leadID string) ([]*Note, error)
}

// FollowUpStore lets staff change a lead's scheduled follow-up.
type FollowUpStore interface {
	// ChangeReminder cancels a pending reminder of orgID (cancel) or moves it to dueAt (snooze)
	// and returns it. ENOTFOUND if id is not a reminder of orgID, ECONFLICT if it is no longer
	// pending (it fired or was canceled).
	ChangeReminder(ctx context.Context, orgID, id uuid.UUID, cancel bool, dueAt *time.Time) (*Reminder, error)
}
