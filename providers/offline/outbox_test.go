package offline

import (
	"bytes"
	"context"
	"log/slog"
	"regexp"
	"testing"

	"github.com/jack-auto/jack"
	"github.com/stretchr/testify/require"
)

func TestOutbox(t *testing.T) {
	t.Parallel()
	t.Run("OK", func(t *testing.T) {
		t.Parallel()
		var logs bytes.Buffer
		box := NewOutbox(slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelInfo})))
		msg := jack.SMSRequest{From: "+16045550100", To: "+16045550123", Body: "secret body text"}
		first, err := box.SendSMS(context.Background(), msg)
		require.NoError(t, err)
		require.Regexp(t, regexp.MustCompile(`^SM[0-9a-f]{32}$`), first.ProviderMessageID)
		require.Equal(t, jack.StatusSent, first.Status)
		second, err := box.SendSMS(context.Background(), msg)
		require.NoError(t, err)
		require.NotEqual(t, first.ProviderMessageID, second.ProviderMessageID)

		require.Contains(t, logs.String(), first.ProviderMessageID)
		require.Contains(t, logs.String(), jack.MaskPhone(msg.To))
		require.NotContains(t, logs.String(), msg.To)
		require.NotContains(t, logs.String(), msg.Body)
	})
	t.Run("NilLogger", func(t *testing.T) {
		t.Parallel()
		_, err := NewOutbox(nil).SendSMS(context.Background(), jack.SMSRequest{To: "+16045550123", Body: "hi"})
		require.NoError(t, err)
	})
	t.Run("ErrNoRecipient", func(t *testing.T) {
		t.Parallel()
		_, err := NewOutbox(nil).SendSMS(context.Background(), jack.SMSRequest{Body: "hi"})
		require.Equal(t, jack.EPROVIDER, jack.ErrorCode(err))
	})
	t.Run("Canceled", func(t *testing.T) {
		t.Parallel()
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		_, err := NewOutbox(nil).SendSMS(ctx, jack.SMSRequest{To: "+16045550123", Body: "hi"})
		require.ErrorIs(t, err, context.Canceled)
	})
}
