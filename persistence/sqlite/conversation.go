package sqlite

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/google/uuid"
	"github.com/jack-auto/jack"
	"github.com/jack-auto/jack/persistence"
)

var _ jack.ConversationTx = (*Tx)(nil)

// findMessages runs a message query and returns its rows (never nil).
func findMessages(ctx context.Context, tx *Tx, query string, args ...any) ([]*jack.Message, error) {
	rows, err := tx.query(ctx, `SELECT `+persistence.MessageColumns+` FROM conversations WHERE `+query, args...)
	if err != nil {
		return nil, fmt.Errorf("find messages: %w", err)
	}
	defer rows.Close()
	messages := []*jack.Message{}
	for rows.Next() {
		m, err := persistence.ScanMessage(rows)
		if err != nil {
			return nil, err
		}
		messages = append(messages, m)
	}
	return messages, formatError(rows.Err())
}

// LoadConversation returns the conversation of orgID with phone: its lead (nil when none), its
// last limit messages oldest first (50 when limit <= 0), its summary (nil when none) and counts.
func (s *Store) LoadConversation(ctx context.Context, orgID uuid.UUID, phone string, limit int) (*jack.ConversationSnapshot, error) {
	var snap *jack.ConversationSnapshot
	err := s.inReadTx(ctx, orgID, func(tx *Tx) (err error) {
		snap, err = loadConversation(ctx, tx, phone, limit)
		return err
	})
	return snap, err
}

func loadConversation(ctx context.Context, tx *Tx, phone string, limit int) (*jack.ConversationSnapshot, error) {
	snap := &jack.ConversationSnapshot{}
	lead, err := findLeadByPhone(ctx, tx, phone)
	if err != nil && jack.ErrorCode(err) != jack.ENOTFOUND {
		return nil, err
	}
	snap.Lead = lead

	if limit <= 0 {
		limit = persistence.DefaultMessageLimit
	}
	snap.Messages, err = findMessages(ctx, tx, `organization_id = ? AND phone_number_normalized = ?
		ORDER BY timestamp DESC, id DESC LIMIT ?`, tx.orgID.String(), phone, limit)
	if err != nil {
		return nil, err
	}
	slices.Reverse(snap.Messages)

	if err := tx.queryRow(ctx, `SELECT count(*), coalesce(sum(type = 'sms'), 0), coalesce(sum(type = 'voice'), 0)
		FROM conversations WHERE organization_id = ? AND phone_number_normalized = ?`, tx.orgID.String(), phone).
		Scan(&snap.TotalMessages, &snap.SMSMessages, &snap.VoiceMessages); err != nil {
		return nil, fmt.Errorf("count messages: %w", formatError(err))
	}

	snap.Summary, err = findSummary(ctx, tx, phone)
	if err != nil && jack.ErrorCode(err) != jack.ENOTFOUND {
		return nil, err
	}
	snap.LastCall, err = persistence.ScanCallSession(tx.queryRow(ctx, `SELECT `+persistence.CallSessionColumns+` FROM call_sessions
		WHERE organization_id = ? AND phone_number_normalized = ? AND ended_at IS NOT NULL
		ORDER BY ended_at DESC, id DESC LIMIT 1`, tx.orgID.String(), phone))
	if err != nil && jack.ErrorCode(err) != jack.ENOTFOUND {
		return nil, fmt.Errorf("last call: %w", err)
	}
	return snap, nil
}

func findSummary(ctx context.Context, tx *Tx, phone string) (*jack.Summary, error) {
	return persistence.ScanSummary(tx.queryRow(ctx, `SELECT `+persistence.SummaryColumns+` FROM conversation_summaries
		WHERE organization_id = ? AND phone_number_normalized = ?`, tx.orgID.String(), phone))
}

// UpsertSummary stores the summary of the conversation with s's phone, replacing the text, type
// and counts of the previous one (its id and created_at stay), and returns the stored row. Both
// times are the transaction's.
func (tx *Tx) UpsertSummary(ctx context.Context, s *jack.Summary) (*jack.Summary, error) {
	persistence.PrepareSummary(s, tx.orgID)
	stored, err := persistence.ScanSummary(tx.queryRow(ctx, `INSERT INTO conversation_summaries (`+persistence.SummaryColumns+`)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (organization_id, phone_number_normalized) DO UPDATE SET summary = excluded.summary,
			summary_type = excluded.summary_type, total_messages = excluded.total_messages,
			voice_messages = excluded.voice_messages, sms_messages = excluded.sms_messages,
			updated_at = excluded.updated_at
		RETURNING `+persistence.SummaryColumns,
		s.ID.String(), s.OrganizationID.String(), s.PhoneNumberNormalized, s.Summary, s.SummaryType,
		s.TotalMessages, s.VoiceMessages, s.SMSMessages, timeArg(tx.now), timeArg(tx.now)))
	if err != nil {
		return nil, fmt.Errorf("upsert summary: %w", err)
	}
	return stored, nil
}

// InConversationTx runs fn through the group-commit writer (persistence.Writer, commitWrites),
// in a write transaction shared with other conversations' writes, and returns once the commit
// is known. SQLite has a single writer: other writes wait until the batch commits, so fn must
// stay short and must not call the Store's own write methods (they would wait for the
// connection fn holds).
func (s *Store) InConversationTx(ctx context.Context, orgID uuid.UUID, fn func(tx jack.ConversationTx) error) error {
	return s.writer.Submit(ctx, orgID, fn)
}

// ClaimConversation bumps the conversation's ownership epoch (1 for its first owner) and
// returns it.
func (s *Store) ClaimConversation(ctx context.Context, orgID uuid.UUID, phone, node string) (int64, error) {
	var epoch int64
	err := s.inTx(ctx, orgID, func(tx *Tx) error {
		return tx.queryRow(ctx, `INSERT INTO conversation_owners (organization_id, phone_number_normalized, epoch, node, claimed_at)
			VALUES (?, ?, 1, ?, ?)
			ON CONFLICT (organization_id, phone_number_normalized)
			DO UPDATE SET epoch = conversation_owners.epoch + 1, node = excluded.node, claimed_at = excluded.claimed_at
			RETURNING epoch`, tx.orgID.String(), phone, node, timeArg(tx.now)).Scan(&epoch)
	})
	if err != nil {
		return 0, fmt.Errorf("claim conversation: %w", formatError(err))
	}
	return epoch, nil
}

// InOwnedConversationTx runs fn through the group-commit writer, fenced by owner: the writer
// checks the epoch before fn runs, in the same transaction (commitWrites).
func (s *Store) InOwnedConversationTx(ctx context.Context, owner jack.ConversationOwner, fn func(tx jack.ConversationTx) error) error {
	return s.writer.SubmitOwned(ctx, owner, fn)
}

// FindMessages returns one page of a lead's timeline, oldest first; the next page holds older
// messages. ENOTFOUND if the lead is not orgID's, EINVALID for a malformed cursor.
func (s *Store) FindMessages(ctx context.Context, orgID uuid.UUID, filter jack.MessageFilter) (*jack.MessagePage, error) {
	var page *jack.MessagePage
	err := s.inReadTx(ctx, orgID, func(tx *Tx) (err error) {
		page, err = findMessagePage(ctx, tx, filter)
		return err
	})
	return page, err
}

// FindMessage returns one message of orgID by id; ENOTFOUND if id is not a message of orgID.
func (s *Store) FindMessage(ctx context.Context, orgID uuid.UUID, id uuid.UUID) (*jack.Message, error) {
	var found []*jack.Message
	err := s.inReadTx(ctx, orgID, func(tx *Tx) (err error) {
		found, err = findMessages(ctx, tx, `organization_id = ? AND id = ?`, tx.orgID.String(), id.String())
		return err
	})
	if err != nil {
		return nil, err
	} else if len(found) == 0 {
		return nil, jack.Errorf(jack.ENOTFOUND, "Message not found.")
	}
	return found[0], nil
}

func findMessagePage(ctx context.Context, tx *Tx, filter jack.MessageFilter) (*jack.MessagePage, error) {
	if _, err := findLeadByID(ctx, tx, filter.LeadID); err != nil {
		return nil, err
	}
	query, args := `organization_id = ? AND lead_id = ?`, []any{tx.orgID.String(), filter.LeadID}
	if filter.Cursor != "" {
		c, err := persistence.DecodeCursor(persistence.CursorMessages, filter.Cursor)
		if err != nil {
			return nil, err
		}
		query, args = query+` AND (timestamp, id) < (?, ?)`, append(args, timeArg(c.Time), c.ID)
	}
	limit := jack.PageLimit(filter.Limit, persistence.DefaultMessageLimit, persistence.MaxMessageLimit)
	messages, err := findMessages(ctx, tx, query+` ORDER BY timestamp DESC, id DESC LIMIT ?`, append(args, limit+1)...)
	if err != nil {
		return nil, err
	}
	page := &jack.MessagePage{Messages: messages}
	if len(messages) > limit {
		page.Messages = messages[:limit]
		oldest := page.Messages[limit-1]
		page.NextCursor = persistence.EncodeCursor(persistence.CursorMessages, persistence.Cursor{Time: oldest.Timestamp, ID: oldest.ID.String()})
	}
	slices.Reverse(page.Messages)
	return page, nil
}

// Now is the transaction's clock reading (UTC, microseconds), the same for every write in it.
func (tx *Tx) Now() time.Time { return tx.now }

// FindLeadByPhone returns ENOTFOUND if the organization has no lead with that phone.
func (tx *Tx) FindLeadByPhone(ctx context.Context, phone string) (*jack.Lead, error) {
	return findLeadByPhone(ctx, tx, phone)
}

// EnsureLead inserts lead unless its phone already has one, and returns the stored lead and
// whether this call created it.
func (tx *Tx) EnsureLead(ctx context.Context, lead *jack.Lead) (*jack.Lead, bool, error) {
	prepareLead(tx, lead)
	err := insertLead(ctx, tx, lead, true)
	if err == errDuplicate {
		existing, err := findLeadByPhone(ctx, tx, lead.PhoneNumberNormalized)
		return existing, false, err
	} else if err != nil {
		return nil, false, err
	}
	return lead, true, nil
}

// UpdateConversation applies ch to the lead's conversation fields and bumps its version.
// ENOTFOUND if leadID is not the organization's, EUNPROCESSABLE for a score or sentiment the
// lead cannot hold.
func (tx *Tx) UpdateConversation(ctx context.Context, leadID string, ch jack.ConversationChange) (*jack.Lead, error) {
	if err := persistence.CheckConversationChange(ch); err != nil {
		return nil, err
	}
	lead, err := findLeadByID(ctx, tx, leadID)
	if err != nil {
		return nil, err
	}
	prev := lead.Version
	persistence.ApplyConversationChange(lead, ch, tx.now)
	if err := writeLead(ctx, tx, lead, prev); err != nil {
		return nil, err
	}
	return lead, nil
}

// InsertMessage stores m unless a message with the same Twilio MessageSid or idempotency key
// exists in the organization; then it returns that message and false.
func (tx *Tx) InsertMessage(ctx context.Context, m *jack.Message) (*jack.Message, bool, error) {
	if m.ID == uuid.Nil {
		m.ID = uuid.Must(uuid.NewV7())
	}
	m.OrganizationID = tx.orgID
	if m.Timestamp.IsZero() {
		m.Timestamp = tx.now
	}
	m.Timestamp = persistence.Truncate(m.Timestamp)
	if m.Type == "" {
		m.Type = jack.ChannelSMS
	}
	if m.Status == "" {
		m.Status = jack.StatusSent
	}
	media, err := persistence.MediaJSON(m.Media)
	if err != nil {
		return nil, false, err
	}
	res, err := tx.exec(ctx, `INSERT INTO conversations (`+persistence.MessageColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT DO NOTHING`,
		m.ID.String(), m.OrganizationID.String(), nullStringArg(m.LeadID), m.PhoneNumberNormalized, m.Content, m.SentBy, m.Type,
		timeArg(m.Timestamp), nullStringArg(m.ProviderMessageID), nullStringArg(m.ProviderCallID),
		nullStringArg(m.VoiceConversationID), m.TimeInCallSecs, m.Status, nullStringArg(m.ErrorCode),
		nullStringArg(m.ErrorMessage), nullStringArg(m.IdempotencyKey), nullUUIDArg(m.AuthorUserID), string(media))
	if err != nil {
		return nil, false, fmt.Errorf("insert message: %w", err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return nil, false, err
	} else if n == 1 {
		m.Media = persistence.MediaOrNil(m.Media)
		return m, true, nil
	}
	existing, err := findDuplicateMessage(ctx, tx, m)
	if err != nil {
		return nil, false, fmt.Errorf("find duplicate message: %w", err)
	}
	return existing, false, nil
}

// findDuplicateMessage returns the stored message that made an insert of m a no-op.
func findDuplicateMessage(ctx context.Context, tx *Tx, m *jack.Message) (*jack.Message, error) {
	for _, key := range []struct{ column, value string }{
		{"twilio_message_sid", m.ProviderMessageID},
		{"idempotency_key", m.IdempotencyKey},
		{"id", m.ID.String()},
	} {
		if key.value == "" {
			continue
		}
		found, err := findMessages(ctx, tx, `organization_id = ? AND `+key.column+` = ?`, tx.orgID.String(), key.value)
		if err != nil {
			return nil, err
		}
		if len(found) > 0 {
			return found[0], nil
		}
	}
	return nil, jack.Errorf(jack.ECONFLICT, "This message conflicts with a stored one.")
}

// FindMessageByProviderID returns ENOTFOUND if no message of the organization has that MessageSid.
// SQLite locks the whole database for the write transaction, so the row stays put until it ends.
func (tx *Tx) FindMessageByProviderID(ctx context.Context, sid string) (*jack.Message, error) {
	if sid == "" {
		return nil, jack.Errorf(jack.ENOTFOUND, "Message not found.")
	}
	found, err := findMessages(ctx, tx, `organization_id = ? AND twilio_message_sid = ?`, tx.orgID.String(), sid)
	if err != nil {
		return nil, err
	} else if len(found) == 0 {
		return nil, jack.Errorf(jack.ENOTFOUND, "Message not found.")
	}
	return found[0], nil
}

// UpdateMessageDelivery stores m's Twilio sid, status and error fields. ENOTFOUND if m is not a
// message of the organization, ECONFLICT if another message has the sid.
func (tx *Tx) UpdateMessageDelivery(ctx context.Context, m *jack.Message) error {
	res, err := tx.exec(ctx, `UPDATE conversations SET twilio_message_sid = ?, message_status = ?, error_code = ?, error_message = ?
		WHERE organization_id = ? AND id = ?`,
		nullStringArg(m.ProviderMessageID), m.Status, nullStringArg(m.ErrorCode), nullStringArg(m.ErrorMessage),
		tx.orgID.String(), m.ID.String())
	if err != nil {
		return fmt.Errorf("update message delivery: %w", err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return err
	} else if n == 0 {
		return jack.Errorf(jack.ENOTFOUND, "Message not found.")
	}
	return nil
}
