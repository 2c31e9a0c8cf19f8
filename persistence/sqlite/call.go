package sqlite

import (
	"context"
	"fmt"

	"github.com/jack-auto/jack"
	"github.com/jack-auto/jack/persistence"
)

// CreateCallSession stores cs unless the organization already has a call session with the same
// ElevenLabs conversation id or Twilio call sid (empty ones are stored as NULL and match
// nothing); then it returns that one and false. ENOTFOUND if cs.LeadID is set and not a lead of
// the organization, EINVALID if cs.VoiceData is not JSON.
func (tx *Tx) CreateCallSession(ctx context.Context, cs *jack.CallSession) (*jack.CallSession, bool, error) {
	persistence.PrepareCallSession(cs, tx.orgID, tx.now)
	data, err := persistence.CallSessionData(cs.VoiceData)
	if err != nil {
		return nil, false, err
	}
	if err := checkLead(ctx, tx, cs.LeadID); err != nil {
		return nil, false, err
	}
	stored, err := persistence.ScanCallSession(tx.queryRow(ctx, `INSERT INTO call_sessions (`+persistence.CallSessionColumns+`)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT DO NOTHING RETURNING `+persistence.CallSessionColumns,
		cs.ID.String(), cs.OrganizationID.String(), nullStringArg(cs.LeadID), nullStringArg(cs.VoiceConversationID),
		nullStringArg(cs.ProviderCallID), nullStringArg(cs.PhoneNumberNormalized), cs.Direction, timeArg(cs.StartedAt),
		nullTimeArg(cs.EndedAt), cs.DurationSeconds, nullStringArg(cs.CallOutcome), nullStringArg(cs.TerminationReason),
		cs.SentimentScore, cs.LeadQualityScore, nullStringArg(cs.NextAction), string(data)))
	if err == nil {
		return stored, true, nil
	}
	if jack.ErrorCode(err) != jack.ENOTFOUND { // no row back: a unique key matched
		return nil, false, fmt.Errorf("create call session: %w", err)
	}
	return persistence.DuplicateCallSession(cs, func(conversationID, callSid string) (*jack.CallSession, error) {
		return tx.FindCallSession(ctx, conversationID, callSid)
	})
}

// FindCallSession returns the organization's call session with the ElevenLabs conversation id,
// or else with the Twilio call sid; ENOTFOUND when neither matches (or both are empty). SQLite
// locks the whole database for the write transaction, so the row stays put until it ends.
func (tx *Tx) FindCallSession(ctx context.Context, conversationID, callSid string) (*jack.CallSession, error) {
	for _, key := range persistence.CallSessionKeys(conversationID, callSid) {
		cs, err := persistence.ScanCallSession(tx.queryRow(ctx, `SELECT `+persistence.CallSessionColumns+` FROM call_sessions
			WHERE organization_id = ? AND `+key.Column+` = ?`, tx.orgID.String(), key.Value))
		if err == nil {
			return cs, nil
		}
		if jack.ErrorCode(err) != jack.ENOTFOUND {
			return nil, fmt.Errorf("find call session: %w", err)
		}
	}
	return nil, jack.Errorf(jack.ENOTFOUND, "Call session not found.")
}

// UpdateCallSession stores cs's ids, lead, end, duration, outcome, termination reason, scores,
// next action and data ('{}' when empty; EINVALID when not JSON). ENOTFOUND if cs is not a call
// session of the organization or cs.LeadID not its lead; ECONFLICT if another call session
// holds either id.
func (tx *Tx) UpdateCallSession(ctx context.Context, cs *jack.CallSession) error {
	data, err := persistence.CallSessionData(cs.VoiceData)
	if err != nil {
		return err
	}
	if err := checkLead(ctx, tx, cs.LeadID); err != nil {
		return err
	}
	res, err := tx.exec(ctx, `UPDATE call_sessions SET elevenlabs_conversation_id = ?, twilio_call_sid = ?, lead_id = ?,
			ended_at = ?, duration_seconds = ?, call_outcome = ?, termination_reason = ?, sentiment_score = ?,
			lead_quality_score = ?, next_action = ?, elevenlabs_data = ?
		WHERE organization_id = ? AND id = ?`,
		nullStringArg(cs.VoiceConversationID), nullStringArg(cs.ProviderCallID), nullStringArg(cs.LeadID),
		nullTimeArg(cs.EndedAt), cs.DurationSeconds, nullStringArg(cs.CallOutcome), nullStringArg(cs.TerminationReason),
		cs.SentimentScore, cs.LeadQualityScore, nullStringArg(cs.NextAction), string(data),
		tx.orgID.String(), cs.ID.String())
	if err != nil {
		return fmt.Errorf("update call session: %w", err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return err
	} else if n == 0 {
		return jack.Errorf(jack.ENOTFOUND, "Call session not found.")
	}
	return nil
}

// checkLead returns ENOTFOUND unless leadID is empty or a lead of the organization: lead ids
// are unique across organizations, so the foreign key alone would accept another's lead.
func checkLead(ctx context.Context, tx *Tx, leadID string) error {
	if leadID == "" {
		return nil
	}
	_, err := findLeadByID(ctx, tx, leadID)
	return err
}
