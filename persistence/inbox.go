package persistence

import (
	"fmt"
	"strings"
	"time"
	"unicode"

	"github.com/google/uuid"

	"github.com/jack-auto/jack"
)

// InboxDialect is what the inbox query needs to know of an SQL dialect.
type InboxDialect struct {
	Lower  string // the case-folding function
	NoTime string // a literal earlier than every timestamp
	// FullText is the condition that message row c matches the search words (each already
	// free of the dialect's query syntax); arg adds an argument and returns its placeholder.
	FullText func(words []string, arg func(v any) string) string
}

// askForPerson are phrases of a customer asking to talk to a person, lower-case.
var askForPerson = []string{"human", "real person", "a person", "representative", "someone real", "speak to someone",
	"talk to someone", "speak to a", "talk to a", "call me", "manager", "salesperson", "stop the bot", "not a bot", "are you a bot"}

// InboxSQL returns the query of one inbox page of orgID at now: the lead columns, then the last
// message's content, sender and time, the viewer's unread count and whether it needs a human.
// Unread are the customer's messages after the viewer's read mark, or, for a lead the viewer
// never opened, after the viewer joined (a new team member inherits no backlog).
// arg adds a query argument and returns its placeholder; it is called in the order the
// placeholders appear. EINVALID for a malformed cursor or assignee.
func InboxSQL(d InboxDialect, leadColumns string, orgID uuid.UUID, f jack.InboxFilter, now time.Time, arg func(v any) string) (string, error) {
	last := func(col string) string {
		return `(SELECT c.` + col + ` FROM conversations c WHERE c.organization_id = leads.organization_id AND c.lead_id = leads.id
			ORDER BY c.timestamp DESC, c.id DESC LIMIT 1)`
	}
	needsHuman := func() string {
		// Built in text order: SQLite's ? placeholders bind by position.
		cond := `(leads.opted_out_at IS NULL AND ` + last("sent_by") + ` = ` + arg(jack.SentByCustomer) +
			` AND (leads.ai_paused_until > ` + arg(now)
		for _, p := range askForPerson {
			cond += ` OR ` + d.Lower + `(` + last("content") + `) LIKE ` + arg("%"+p+"%")
		}
		return cond + `))`
	}
	var q strings.Builder
	q.WriteString(`SELECT ` + leadColumns + `, COALESCE(` + last("content") + `, ''), COALESCE(` + last("sent_by") + `, ''), ` + last("timestamp") + `,
		(SELECT COUNT(*) FROM conversations c WHERE c.organization_id = leads.organization_id AND c.lead_id = leads.id
			AND c.sent_by = ` + arg(jack.SentByCustomer) + ` AND c.timestamp > COALESCE((SELECT r.read_at FROM lead_reads r
				WHERE r.organization_id = leads.organization_id AND r.user_id = ` + arg(f.UserID) + ` AND r.lead_id = leads.id),
				(SELECT u.created_at FROM user_profiles u WHERE u.organization_id = leads.organization_id AND u.id = ` + arg(f.UserID) + `), ` + d.NoTime + `)),
		CASE WHEN ` + needsHuman() + ` THEN 1 ELSE 0 END
		FROM leads WHERE leads.organization_id = ` + arg(orgID))
	where := func(cond string) { q.WriteString(" AND " + cond) }
	if f.Status != "" {
		where(`leads.chase_status = ` + arg(f.Status))
	}
	switch f.Assignee {
	case "":
	case jack.AssigneeMine:
		where(`leads.assigned_to = ` + arg(f.UserID))
	case jack.AssigneeUnassigned:
		where(`leads.assigned_to IS NULL`)
	default:
		id, err := uuid.Parse(f.Assignee)
		if err != nil {
			return "", jack.Errorf(jack.EINVALID, "The assignee must be mine, unassigned or a user id.")
		}
		where(`leads.assigned_to = ` + arg(id))
	}
	switch f.Source {
	case "":
	case jack.SourceNone:
		where(`leads.source IS NULL`)
	default:
		where(`leads.source = ` + arg(f.Source))
	}
	if f.NeedsHuman {
		where(needsHuman())
	}
	if q := strings.TrimSpace(f.Q); q != "" {
		// The lead's name, phone or email holds q, or its messages hold every word of q.
		cond := `(`
		for i, col := range []string{"leads.customer_name", "leads.phone_number_normalized", "COALESCE(leads.email, '')"} {
			if i > 0 {
				cond += ` OR `
			}
			cond += d.Lower + `(` + col + `) LIKE ` + arg(LikePattern(q)) + ` ESCAPE '\'`
		}
		if words := SearchWords(q); len(words) > 0 {
			cond += ` OR EXISTS (SELECT 1 FROM conversations c WHERE c.organization_id = leads.organization_id AND c.lead_id = leads.id AND ` +
				d.FullText(words, arg) + `)`
		}
		where(cond + `)`)
	}
	if f.Cursor != "" {
		c, err := DecodeCursor(CursorLeadsActivity, f.Cursor)
		if err != nil {
			return "", err
		}
		where(LeadAfter(CursorLeadsActivity, "last_activity", c, arg))
	}
	limit := jack.PageLimit(f.Limit, DefaultLeadLimit, MaxLeadLimit)
	fmt.Fprintf(&q, ` ORDER BY %s LIMIT %s`, LeadOrderBy(CursorLeadsActivity, "last_activity"), arg(limit+1))
	return q.String(), nil
}

// InboxPage turns the rows of InboxSQL into a page: one more row than the limit means there is
// a next page.
func InboxPage(items []*jack.InboxItem, f jack.InboxFilter) *jack.InboxPage {
	page := &jack.InboxPage{Items: items}
	if limit := jack.PageLimit(f.Limit, DefaultLeadLimit, MaxLeadLimit); len(items) > limit {
		page.Items = items[:limit]
		page.NextCursor = NextLeadCursor(CursorLeadsActivity, items[limit-1].Lead)
	}
	if page.Items == nil {
		page.Items = []*jack.InboxItem{}
	}
	return page
}

// SearchWords splits a search into its words (letters and digits), at most 10.
func SearchWords(q string) []string {
	words := strings.FieldsFunc(q, func(r rune) bool { return !unicode.IsLetter(r) && !unicode.IsDigit(r) })
	return words[:min(len(words), 10)]
}

// MaxNotes is how many of a lead's notes FindNotes returns (the newest).
const MaxNotes = 500

// PrepareNote fills a new note's id and time (at the stores' precision) when they are zero.
func PrepareNote(n *jack.Note, newID func() uuid.UUID, now func() time.Time) {
	if n.ID == uuid.Nil {
		n.ID = newID()
	}
	if n.CreatedAt.IsZero() {
		n.CreatedAt = now()
	}
	n.CreatedAt = Truncate(n.CreatedAt)
}

// ReminderGone is ChangeReminder's error for a reminder that is not pending: ECONFLICT when it
// exists (it fired or was canceled), else ENOTFOUND.
func ReminderGone(exists bool) error {
	if exists {
		return jack.Errorf(jack.ECONFLICT, "This follow-up is no longer scheduled (it was sent or canceled).")
	}
	return jack.Errorf(jack.ENOTFOUND, "Follow-up not found.")
}
