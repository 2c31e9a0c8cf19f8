package offline

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"log/slog"

	"github.com/jack-auto/jack"
)

// Outbox is the SMS sender of the embedded default when no Twilio credentials are set. Nothing
// leaves the machine: a send is only logged (masked phones, the body at debug level only) and
// answered as Twilio would answer an accepted message, so the conversation carries on locally.
type Outbox struct {
	log *slog.Logger
}

var _ jack.SMSSender = (*Outbox)(nil)

// NewOutbox returns an outbox logging to log (nil discards).
func NewOutbox(log *slog.Logger) *Outbox {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Outbox{log: log}
}

// SendSMS sends nothing and returns a fresh random Twilio-shaped sid ("SM" + 32 hex digits) with
// status sent. Returns EPROVIDER, as Twilio would, when the recipient or the body is missing.
func (o *Outbox) SendSMS(ctx context.Context, msg jack.SMSRequest) (*jack.SMSResult, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if msg.To == "" || msg.Body == "" {
		return nil, jack.Errorf(jack.EPROVIDER, "A recipient and a message body are required.")
	}
	var b [16]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails (Go 1.24+)
	res := &jack.SMSResult{ProviderMessageID: "SM" + hex.EncodeToString(b[:]), Status: jack.StatusSent}
	o.log.InfoContext(ctx, "offline outbox: sms not sent (no Twilio credentials)",
		"message_sid", res.ProviderMessageID, "to", jack.MaskPhone(msg.To), "from", jack.MaskPhone(msg.From), "body_len", len(msg.Body))
	o.log.DebugContext(ctx, "offline outbox: sms body", "message_sid", res.ProviderMessageID, "body", msg.Body)
	return res, nil
}
