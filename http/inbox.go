package http

import (
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/gofiber/fiber/v2"
	"github.com/google/uuid"

	"github.com/jack-auto/jack"
)

// listInbox answers the caller's inbox page {"items":[{lead, lastMessage, unread,
// needsHuman}],"nextCursor":"..."}, newest activity first, filtered by status, assignee (mine,
// unassigned or a user id), source (a feed, or "none"), needsHuman and q (words searched in
// message bodies).
func (s *Server) listInbox(c *fiber.Ctx) error {
	p := principal(c)
	filter := jack.InboxFilter{UserID: p.UserID, Cursor: c.Query("cursor"), Status: c.Query("status"),
		Assignee: c.Query("assignee"), Source: strings.TrimSpace(c.Query("source"))}
	if filter.Status != "" && !slices.Contains(jack.ChaseStatuses, filter.Status) {
		return invalidQuery("status", "must be one of "+strings.Join(jack.ChaseStatuses, ", "))
	}
	if a := filter.Assignee; a != "" && a != jack.AssigneeMine && a != jack.AssigneeUnassigned {
		if _, err := uuid.Parse(a); err != nil {
			return invalidQuery("assignee", "must be mine, unassigned or a user id")
		}
	}
	if len(filter.Source) > 100 {
		return invalidQuery("source", "must be at most 100 characters")
	}
	if v := c.Query("needsHuman"); v != "" {
		b, err := strconv.ParseBool(v)
		if err != nil {
			return invalidQuery("needsHuman", "must be true or false")
		}
		filter.NeedsHuman = b
	}
	filter.Q = strings.TrimSpace(c.Query("q"))
	if len(filter.Q) > maxSearchLength {
		return invalidQuery("q", "must be at most "+strconv.Itoa(maxSearchLength)+" characters")
	}
	var err error
	if filter.Limit, err = queryLimit(c); err != nil {
		return err
	}
	page, err := s.store.FindInbox(c.UserContext(), p.OrganizationID, filter)
	if err != nil {
		return err
	}
	for _, it := range page.Items {
		presentLead(it.Lead)
	}
	return c.JSON(page)
}

// unreadCounts answers the caller's unread customer messages: {"leads":{id:n},"total":n}.
func (s *Server) unreadCounts(c *fiber.Ctx) error {
	p := principal(c)
	counts, err := s.store.UnreadCounts(c.UserContext(), p.OrganizationID, p.UserID)
	if err != nil {
		return err
	}
	total := 0
	for _, n := range counts {
		total += n
	}
	return c.JSON(fiber.Map{"leads": counts, "total": total})
}

// markRead marks the lead read for the caller up to its newest message; 204. Every tab and
// device of the caller reads the same state.
func (s *Server) markRead(c *fiber.Ctx) error {
	p := principal(c)
	if err := s.store.MarkRead(c.UserContext(), p.OrganizationID, p.UserID, c.Params("id")); err != nil {
		return err
	}
	return c.SendStatus(fiber.StatusNoContent)
}

// listNotes answers {"notes":[...]}: the lead's internal notes, oldest first.
func (s *Server) listNotes(c *fiber.Ctx) error {
	notes, err := s.store.FindNotes(c.UserContext(), principal(c).OrganizationID, c.Params("id"))
	if err != nil {
		return err
	}
	return c.JSON(fiber.Map{"notes": notes})
}

type noteRequest struct {
	Body string `json:"body"`
}

// createNote adds the caller's internal note to the lead; 201 with the note. A note is never
// sent to the customer.
func (s *Server) createNote(c *fiber.Ctx) error {
	var req noteRequest
	if err := decodeJSON(c, &req); err != nil {
		return err
	}
	body := strings.TrimSpace(req.Body)
	if body == "" || utf8.RuneCountInString(body) > jack.MaxNoteLength {
		return jack.ValidationError(map[string]string{"body": "must be 1 to " + strconv.Itoa(jack.MaxNoteLength) + " characters"})
	}
	p := principal(c)
	n := &jack.Note{LeadID: c.Params("id"), AuthorUserID: &p.UserID, Body: body}
	if err := s.store.CreateNote(c.UserContext(), p.OrganizationID, n); err != nil {
		return err
	}
	return c.Status(fiber.StatusCreated).JSON(n)
}

type reminderChangeRequest struct {
	Until *time.Time `json:"until"`
}

// cancelReminder cancels a pending follow-up; answers it. 409 when it already fired.
func (s *Server) cancelReminder(c *fiber.Ctx) error {
	return s.changeReminder(c, true, nil)
}

// snoozeReminder moves a pending follow-up to {"until": RFC 3339}, which must be in the
// future and within a year; answers it.
func (s *Server) snoozeReminder(c *fiber.Ctx) error {
	var req reminderChangeRequest
	if err := decodeJSON(c, &req); err != nil {
		return err
	}
	now := s.cfg.Now()
	if req.Until == nil || !req.Until.After(now) || req.Until.After(now.AddDate(1, 0, 0)) {
		return jack.ValidationError(map[string]string{"until": "must be a time in the coming year"})
	}
	until := req.Until.UTC()
	return s.changeReminder(c, false, &until)
}

func (s *Server) changeReminder(c *fiber.Ctx, cancel bool, until *time.Time) error {
	id, err := uuid.Parse(c.Params("id"))
	if err != nil {
		return jack.Errorf(jack.ENOTFOUND, "Follow-up not found.")
	}
	r, err := s.store.ChangeReminder(c.UserContext(), principal(c).OrganizationID, id, cancel, until)
	if err != nil {
		return err
	}
	return c.JSON(r)
}
