package actors

import (
	"context"

	"github.com/google/uuid"

	"github.com/jack-auto/jack"
)

// StartCall implements jack.Conversations.
func (e *Engine) StartCall(ctx context.Context, orgID uuid.UUID, call jack.InboundCall) (map[string]any, error) {
	return nil, jack.Errorf(jack.EUNAVAILABLE, "Voice is not available yet.")
}

// CompleteCall implements jack.Conversations.
func (e *Engine) CompleteCall(ctx context.Context, orgID uuid.UUID, phone string, t jack.CallTranscript) (*jack.CallSession, error) {
	return nil, jack.Errorf(jack.EUNAVAILABLE, "Voice is not available yet.")
}

// FailCall implements jack.Conversations.
func (e *Engine) FailCall(ctx context.Context, orgID uuid.UUID, phone string, f jack.CallFailure) (*jack.CallSession, error) {
	return nil, jack.Errorf(jack.EUNAVAILABLE, "Voice is not available yet.")
}

// Call implements jack.Conversations.
func (e *Engine) Call(ctx context.Context, orgID uuid.UUID, phone string) (*jack.CallSession, error) {
	return nil, jack.Errorf(jack.EUNAVAILABLE, "Voice is not available yet.")
}
