package postgres

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/jack-auto/jack"
	"github.com/jack-auto/jack/persistence"
)

// CreateCallSession stores cs unless the organization already has a call session with the same
// ElevenLabs conversation id or Twilio call sid (empty ones are stored as NULL and match
// nothing); then it returns that one, locked, and false. A concurrent insert of the same call
// waits on the unique index and then reads the winner's row. ENOTFOUND if cs.LeadID is set and
// not a lead of the organization.
func (tx *Tx) CreateCallSession(ctx context.Context, cs *jack.CallSession) (*jack.CallSession, bool, error) {
	persistence.PrepareCallSession(cs, tx.orgID, tx.now)
	data, err := persistence.CallSessionData(cs.VoiceData)
	if err != nil {
		return nil, false, err
	}
	// The lead check (foreign keys ignore row-level security) is in the statement: one round trip.
	stored, err := persistence.ScanCallSession(tx.tx.QueryRow(ctx, `
		INSERT INTO call_sessions (id, organization_id, lead_id, elevenlabs_conversation_id, twilio_call_sid,
			phone_number_normalized, direction, started_at, ended_at, duration_seconds, call_outcome,
			termination_reason, sentiment_score, lead_quality_score, next_action, elevenlabs_data)
		SELECT $1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16
		WHERE $3::varchar IS NULL OR EXISTS (SELECT 1 FROM leads WHERE organization_id = $2 AND id = $3)
		ON CONFLICT DO NOTHING
		RETURNING `+persistence.CallSessionColumns,
		cs.ID, cs.OrganizationID, nullText(cs.LeadID), nullText(cs.VoiceConversationID), nullText(cs.ProviderCallID),
		nullText(cs.PhoneNumberNormalized), cs.Direction, cs.StartedAt, truncPtr(cs.EndedAt), cs.DurationSeconds,
		nullText(cs.CallOutcome), nullText(cs.TerminationReason), cs.SentimentScore, cs.LeadQualityScore,
		nullText(cs.NextAction), data))
	if err == nil {
		return stored, true, nil
	}
	if !errors.Is(err, pgx.ErrNoRows) {
		return nil, false, fmt.Errorf("create call session: %w", err)
	}
	if err := tx.checkLead(ctx, cs.LeadID); err != nil {
		return nil, false, err
	}
	return persistence.DuplicateCallSession(cs, func(conversationID, callSid string) (*jack.CallSession, error) {
		return tx.FindCallSession(ctx, conversationID, callSid)
	})
}

// FindCallSession returns the organization's call session with the ElevenLabs conversation id,
// or else with the Twilio call sid; ENOTFOUND when neither matches (or both are empty). The row
// stays locked (FOR UPDATE) until the transaction ends, so webhooks about one call apply one at
// a time.
func (tx *Tx) FindCallSession(ctx context.Context, conversationID, callSid string) (*jack.CallSession, error) {
	for _, key := range persistence.CallSessionKeys(conversationID, callSid) {
		cs, err := persistence.ScanCallSession(tx.tx.QueryRow(ctx, `SELECT `+persistence.CallSessionColumns+` FROM call_sessions
			WHERE organization_id = $1 AND `+key.Column+` = $2 FOR UPDATE`, tx.orgID, key.Value))
		if err == nil {
			return cs, nil
		}
		if !errors.Is(err, pgx.ErrNoRows) {
			return nil, fmt.Errorf("find call session: %w", err)
		}
	}
	return nil, notFound("Call session")
}

// UpdateCallSession stores cs's ids, lead, end, duration, outcome, termination reason, scores,
// next action and data ('{}' when empty; EINVALID when not JSON). ENOTFOUND if cs is not a call session of the
// organization or cs.LeadID not its lead; ECONFLICT if another call session holds either id.
func (tx *Tx) UpdateCallSession(ctx context.Context, cs *jack.CallSession) error {
	data, err := persistence.CallSessionData(cs.VoiceData)
	if err != nil {
		return err
	}
	if err := tx.checkLead(ctx, cs.LeadID); err != nil {
		return err
	}
	tag, err := tx.tx.Exec(ctx, `
		UPDATE call_sessions SET elevenlabs_conversation_id = $3, twilio_call_sid = $4, lead_id = $5,
			ended_at = $6, duration_seconds = $7, call_outcome = $8, termination_reason = $9,
			sentiment_score = $10, lead_quality_score = $11, next_action = $12, elevenlabs_data = $13
		WHERE organization_id = $1 AND id = $2`,
		tx.orgID, cs.ID, nullText(cs.VoiceConversationID), nullText(cs.ProviderCallID), nullText(cs.LeadID),
		truncPtr(cs.EndedAt), cs.DurationSeconds, nullText(cs.CallOutcome), nullText(cs.TerminationReason),
		cs.SentimentScore, cs.LeadQualityScore, nullText(cs.NextAction), data)
	if err != nil {
		return fmt.Errorf("update call session: %w", err)
	}
	if tag.RowsAffected() == 0 {
		return notFound("Call session")
	}
	return nil
}

// checkLead returns ENOTFOUND unless leadID is empty or a lead of the organization: foreign
// keys ignore row-level security, so they alone would accept another organization's lead.
func (tx *Tx) checkLead(ctx context.Context, leadID string) error {
	if leadID == "" {
		return nil
	}
	_, err := findLeadByID(ctx, tx, leadID, false)
	return err
}
