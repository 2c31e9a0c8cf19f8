package postgres

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/jack-auto/jack"
	"github.com/jack-auto/jack/persistence"
)

// LoadConversation returns the conversation of orgID with the customer phone: its lead (nil
// when none), its last limit messages ordered by (timestamp, id), its summary (nil when none)
// and its message counts by channel.
func (s *Store) LoadConversation(ctx context.Context, orgID uuid.UUID, phone string, limit int) (*jack.ConversationSnapshot, error) {
	if limit <= 0 {
		limit = persistence.DefaultMessageLimit
	}
	snap := &jack.ConversationSnapshot{Messages: []*jack.Message{}}
	err := s.inTx(ctx, orgID, func(tx *Tx) (err error) {
		if snap.Lead, err = tx.FindLeadByPhone(ctx, phone); jack.ErrorCode(err) == jack.ENOTFOUND {
			snap.Lead = nil
		} else if err != nil {
			return err
		}
		rows, err := tx.tx.Query(ctx, `SELECT `+persistence.MessageColumns+` FROM conversations
			WHERE organization_id = $1 AND phone_number_normalized = $2
			ORDER BY "timestamp" DESC, id DESC LIMIT $3`, tx.orgID, phone, limit)
		msgs, err := collect(rows, err, persistence.ScanMessage)
		if err != nil {
			return fmt.Errorf("load messages: %w", err)
		}
		slices.Reverse(msgs)
		snap.Messages = append(snap.Messages, msgs...)

		err = tx.tx.QueryRow(ctx, `SELECT count(*), count(*) FILTER (WHERE type = $3), count(*) FILTER (WHERE type = $4)
			FROM conversations WHERE organization_id = $1 AND phone_number_normalized = $2`,
			tx.orgID, phone, jack.ChannelSMS, jack.ChannelVoice).Scan(&snap.TotalMessages, &snap.SMSMessages, &snap.VoiceMessages)
		if err != nil {
			return fmt.Errorf("count messages: %w", err)
		}

		snap.Summary, err = persistence.ScanSummary(tx.tx.QueryRow(ctx, `SELECT `+persistence.SummaryColumns+` FROM conversation_summaries
			WHERE organization_id = $1 AND phone_number_normalized = $2`, tx.orgID, phone))
		if errors.Is(err, pgx.ErrNoRows) {
			snap.Summary, err = nil, nil
		}
		if err != nil {
			return err
		}
		snap.LastCall, err = persistence.ScanCallSession(tx.tx.QueryRow(ctx, `SELECT `+persistence.CallSessionColumns+` FROM call_sessions
			WHERE organization_id = $1 AND phone_number_normalized = $2 AND ended_at IS NOT NULL
			ORDER BY ended_at DESC, id DESC LIMIT 1`, tx.orgID, phone))
		if errors.Is(err, pgx.ErrNoRows) || jack.ErrorCode(err) == jack.ENOTFOUND {
			snap.LastCall, err = nil, nil
		}
		return err
	})
	if err != nil {
		return nil, err
	}
	return snap, nil
}

// InConversationTx runs fn through the group-commit writer (persistence.Writer, commitWrites): in a transaction
// shared with other conversations' writes, under orgID's row-level security, and returns once
// the commit is known.
func (s *Store) InConversationTx(ctx context.Context, orgID uuid.UUID, fn func(tx jack.ConversationTx) error) error {
	return s.writer.Submit(ctx, orgID, fn)
}

// ClaimConversation bumps the conversation's ownership epoch (1 for its first owner) and
// returns it. The row lock it takes waits for a write of the previous owner that is committing
// (its fence holds the row FOR SHARE).
func (s *Store) ClaimConversation(ctx context.Context, orgID uuid.UUID, phone, node string) (int64, error) {
	var epoch int64
	err := s.inTx(ctx, orgID, func(tx *Tx) error {
		return tx.tx.QueryRow(ctx, `INSERT INTO conversation_owners AS o
				(organization_id, phone_number_normalized, epoch, node, claimed_at)
			VALUES ($1, $2, 1, $3, $4)
			ON CONFLICT (organization_id, phone_number_normalized)
			DO UPDATE SET epoch = o.epoch + 1, node = EXCLUDED.node, claimed_at = EXCLUDED.claimed_at
			RETURNING epoch`, tx.orgID, phone, node, tx.now).Scan(&epoch)
	})
	if err != nil {
		return 0, fmt.Errorf("claim conversation: %w", err)
	}
	return epoch, nil
}

// InOwnedConversationTx runs fn through the group-commit writer, fenced by owner: the batch
// checks right before its COMMIT that owner.Epoch still owns the conversation (commitWithEvents).
func (s *Store) InOwnedConversationTx(ctx context.Context, owner jack.ConversationOwner, fn func(tx jack.ConversationTx) error) error {
	return s.writer.SubmitOwned(ctx, owner, fn)
}

// FindMessages returns one page of a lead's timeline, oldest first; the first page holds the
// most recent messages and NextCursor leads back in time. ENOTFOUND if the lead is not orgID's,
// EINVALID for a malformed cursor.
func (s *Store) FindMessages(ctx context.Context, orgID uuid.UUID, filter jack.MessageFilter) (*jack.MessagePage, error) {
	limit := jack.PageLimit(filter.Limit, persistence.DefaultMessageLimit, persistence.MaxMessageLimit)
	var before *persistence.Cursor
	if filter.Cursor != "" {
		c, err := persistence.DecodeCursor(persistence.CursorMessages, filter.Cursor)
		if err != nil {
			return nil, err
		}
		if _, err := uuid.Parse(c.ID); err != nil { // message ids are uuids; the database would refuse it
			return nil, jack.Errorf(jack.EINVALID, "Invalid cursor.")
		}
		before = &c
	}
	page := &jack.MessagePage{Messages: []*jack.Message{}}
	err := s.inTx(ctx, orgID, func(tx *Tx) error {
		if _, err := findLeadByID(ctx, tx, filter.LeadID, false); err != nil {
			return err
		}
		q := `SELECT ` + persistence.MessageColumns + ` FROM conversations WHERE organization_id = $1 AND lead_id = $2`
		args := []any{tx.orgID, filter.LeadID, limit + 1}
		if before != nil {
			q += ` AND ("timestamp", id) < ($4, $5)`
			args = append(args, before.Time, before.ID)
		}
		rows, err := tx.tx.Query(ctx, q+` ORDER BY "timestamp" DESC, id DESC LIMIT $3`, args...)
		msgs, err := collect(rows, err, persistence.ScanMessage)
		if err != nil {
			return fmt.Errorf("find messages: %w", err)
		}
		if len(msgs) > limit {
			msgs = msgs[:limit]
			oldest := msgs[limit-1]
			page.NextCursor = persistence.EncodeCursor(persistence.CursorMessages,
				persistence.Cursor{Time: oldest.Timestamp, ID: oldest.ID.String()})
		}
		slices.Reverse(msgs)
		page.Messages = append(page.Messages, msgs...)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return page, nil
}

// FindMessage returns one message of orgID by id; ENOTFOUND if id is not a message of orgID.
func (s *Store) FindMessage(ctx context.Context, orgID uuid.UUID, id uuid.UUID) (*jack.Message, error) {
	var m *jack.Message
	err := s.inTx(ctx, orgID, func(tx *Tx) (err error) {
		m, err = persistence.ScanMessage(tx.tx.QueryRow(ctx, `SELECT `+persistence.MessageColumns+` FROM conversations
			WHERE organization_id = $1 AND id = $2`, tx.orgID, id))
		return orNotFound(err, "Message")
	})
	if err != nil {
		return nil, err
	}
	return m, nil
}

// EnsureLead inserts lead unless its phone already has one, and returns the stored lead and
// whether this call created it. A concurrent insert of the same phone waits on the unique index
// and then reads the winner's row.
func (tx *Tx) EnsureLead(ctx context.Context, lead *jack.Lead) (*jack.Lead, bool, error) {
	if err := prepareLead(ctx, tx, lead, false); err != nil {
		return nil, false, err
	}
	stored, err := insertLead(ctx, tx, lead, true)
	if err != nil {
		return nil, false, err
	}
	if stored != nil {
		return stored, true, nil
	}
	existing, err := tx.FindLeadByPhone(ctx, lead.PhoneNumberNormalized)
	if err != nil {
		return nil, false, fmt.Errorf("ensure lead: %w", err)
	}
	return existing, false, nil
}

// UpdateConversation applies ch to the lead's conversation fields in one UPDATE (counters add
// to the stored value, so concurrent writers never lose a message), bumps its version and
// returns it. ENOTFOUND if leadID is not the organization's, EUNPROCESSABLE for a score or
// sentiment the lead cannot hold.
func (tx *Tx) UpdateConversation(ctx context.Context, leadID string, ch jack.ConversationChange) (*jack.Lead, error) {
	if err := persistence.CheckConversationChange(ch); err != nil {
		return nil, err
	}
	var currentStep *string
	var completedSteps []string
	if p := ch.ScriptProgress; p != nil {
		currentStep, completedSteps = &p.CurrentStep, p.CompletedSteps
		if completedSteps == nil {
			completedSteps = []string{}
		}
	}
	lead, err := scanLead(tx.tx.QueryRow(ctx, `
		UPDATE leads SET
			total_conversations = total_conversations + $3,
			last_activity = COALESCE($4, last_activity),
			last_touchpoint = COALESCE($5, last_touchpoint),
			opted_out_at = CASE WHEN $6::boolean IS NULL THEN opted_out_at
				WHEN $6::boolean THEN COALESCE(opted_out_at, $7) ELSE NULL END,
			ai_paused_until = CASE WHEN $8::boolean THEN NULL ELSE COALESCE($9, ai_paused_until) END,
			chase_status = COALESCE($10, chase_status),
			vehicle_preference = COALESCE($11, vehicle_preference),
			budget_range = COALESCE($12, budget_range),
			credit_score_range = COALESCE($13, credit_score_range),
			script_progress_current_step = COALESCE($14, script_progress_current_step),
			script_progress_completed_steps = COALESCE($15, script_progress_completed_steps),
			lead_quality_score = COALESCE($16, lead_quality_score),
			sentiment = COALESCE($17, sentiment),
			version = version + 1,
			updated_at = $7
		WHERE organization_id = $1 AND id = $2
		RETURNING `+leadColumns,
		tx.orgID, leadID, ch.Messages, truncPtr(ch.Activity), truncPtr(ch.Touchpoint),
		ch.OptOut, tx.now, ch.ResumeAI, truncPtr(ch.AIPausedUntil), ch.ChaseStatus,
		ch.VehicleInterest, ch.BudgetRange, ch.CreditScoreRange, currentStep, completedStepsArg(completedSteps),
		ch.LeadQualityScore, ch.Sentiment))
	return lead, orNotFound(err, "Lead")
}

// completedStepsArg is nil (unchanged) for a nil slice, so "no change" is SQL NULL, not JSON null.
func completedStepsArg(steps []string) any {
	if steps == nil {
		return nil
	}
	return steps
}

// InsertMessage stores m unless a message with the same Twilio MessageSid or idempotency key
// exists; then it returns that message and false. Empty sids and keys are stored as NULL so
// they never collide.
func (tx *Tx) InsertMessage(ctx context.Context, m *jack.Message) (*jack.Message, bool, error) {
	if m.ID == uuid.Nil {
		m.ID = newID()
	}
	m.OrganizationID = tx.orgID
	m.Timestamp = orNow(m.Timestamp, tx.now)
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
	// Foreign keys ignore row-level security: the row goes in only when its lead is this
	// organization's (checked in the same statement, one round trip).
	stored, err := persistence.ScanMessage(tx.tx.QueryRow(ctx, `
		INSERT INTO conversations (id, organization_id, lead_id, phone_number_normalized, content, sent_by, type,
			"timestamp", twilio_message_sid, twilio_call_sid, elevenlabs_conversation_id, time_in_call_secs,
			message_status, error_code, error_message, idempotency_key, author_user_id, media)
		SELECT $1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18
		WHERE $3::varchar IS NULL OR EXISTS (SELECT 1 FROM leads WHERE organization_id = $2 AND id = $3)
		ON CONFLICT DO NOTHING
		RETURNING `+persistence.MessageColumns,
		m.ID, m.OrganizationID, nullText(m.LeadID), m.PhoneNumberNormalized, m.Content, m.SentBy, m.Type,
		m.Timestamp, nullText(m.ProviderMessageID), nullText(m.ProviderCallID), nullText(m.VoiceConversationID), m.TimeInCallSecs,
		m.Status, nullText(m.ErrorCode), nullText(m.ErrorMessage), nullText(m.IdempotencyKey), m.AuthorUserID, string(media)))
	if err == nil {
		return stored, true, nil
	}
	if !errors.Is(err, pgx.ErrNoRows) {
		return nil, false, fmt.Errorf("insert message: %w", err)
	}
	if m.LeadID != "" {
		if _, err := findLeadByID(ctx, tx, m.LeadID, false); err != nil {
			return nil, false, err
		}
	}
	// A unique key matched: read the row that holds it (committed by now, since the insert
	// waited for any concurrent writer of the same key).
	existing, err := persistence.ScanMessage(tx.tx.QueryRow(ctx, `SELECT `+persistence.MessageColumns+` FROM conversations
		WHERE organization_id = $1 AND (id = $2 OR twilio_message_sid = $3 OR idempotency_key = $4)
		ORDER BY "timestamp", id LIMIT 1`,
		tx.orgID, m.ID, nullText(m.ProviderMessageID), nullText(m.IdempotencyKey)))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, false, jack.Errorf(jack.ECONFLICT, "This message already exists.")
	}
	if err != nil {
		return nil, false, fmt.Errorf("find duplicate message: %w", err)
	}
	return existing, false, nil
}

// FindMessageByProviderID returns ENOTFOUND if no message of the organization has that Twilio
// MessageSid. The row stays locked (FOR UPDATE) until the transaction ends, so status callbacks
// for one message apply one at a time.
func (tx *Tx) FindMessageByProviderID(ctx context.Context, sid string) (*jack.Message, error) {
	if sid == "" {
		return nil, notFound("Message")
	}
	m, err := persistence.ScanMessage(tx.tx.QueryRow(ctx, `SELECT `+persistence.MessageColumns+` FROM conversations
		WHERE organization_id = $1 AND twilio_message_sid = $2 FOR UPDATE`, tx.orgID, sid))
	return m, orNotFound(err, "Message")
}

// UpdateMessageDelivery stores m's Twilio sid (kept when m has none), status and error fields.
// ENOTFOUND if m is not a message of the organization; ECONFLICT if another message holds the sid.
func (tx *Tx) UpdateMessageDelivery(ctx context.Context, m *jack.Message) error {
	tag, err := tx.tx.Exec(ctx, `
		UPDATE conversations SET twilio_message_sid = COALESCE($3, twilio_message_sid), message_status = $4,
			error_code = $5, error_message = $6
		WHERE organization_id = $1 AND id = $2`,
		tx.orgID, m.ID, nullText(m.ProviderMessageID), m.Status, nullText(m.ErrorCode), nullText(m.ErrorMessage))
	if err != nil {
		return fmt.Errorf("update message delivery: %w", err)
	}
	if tag.RowsAffected() == 0 {
		return notFound("Message")
	}
	return nil
}

// UpsertSummary stores the summary of the conversation with s's phone, replacing the text, type
// and counts of the previous one (its id and created_at stay), and returns the stored row. Both
// times are the transaction's.
func (tx *Tx) UpsertSummary(ctx context.Context, s *jack.Summary) (*jack.Summary, error) {
	persistence.PrepareSummary(s, tx.orgID)
	stored, err := persistence.ScanSummary(tx.tx.QueryRow(ctx, `
		INSERT INTO conversation_summaries (id, organization_id, phone_number_normalized, summary, summary_type,
			total_messages, voice_messages, sms_messages, created_at, updated_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $9)
		ON CONFLICT (organization_id, phone_number_normalized) DO UPDATE SET summary = EXCLUDED.summary,
			summary_type = EXCLUDED.summary_type, total_messages = EXCLUDED.total_messages,
			voice_messages = EXCLUDED.voice_messages, sms_messages = EXCLUDED.sms_messages,
			updated_at = EXCLUDED.updated_at
		RETURNING `+persistence.SummaryColumns,
		s.ID, s.OrganizationID, s.PhoneNumberNormalized, s.Summary, s.SummaryType,
		s.TotalMessages, s.VoiceMessages, s.SMSMessages, tx.now))
	if err != nil {
		return nil, fmt.Errorf("upsert summary: %w", err)
	}
	return stored, nil
}
