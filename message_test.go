package jack_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/jack-auto/jack"
)

func TestClassifyKeyword(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		body, optOutType string
		want             jack.Keyword
	}{
		{"STOP", "", jack.KeywordStop},
		{" sToP\n", "", jack.KeywordStop},
		{"unsubscribe", "", jack.KeywordStop},
		{"stopall", "", jack.KeywordStop},
		{"cancel", "", jack.KeywordStop},
		{"end", "", jack.KeywordStop},
		{"quit", "", jack.KeywordStop},
		{"revoke", "", jack.KeywordStop},
		{"optout", "", jack.KeywordStop},
		{"STOP PLEASE", "", jack.KeywordNone},
		{"please stop", "", jack.KeywordNone},
		{"start", "", jack.KeywordStart},
		{"YES", "", jack.KeywordStart},
		{"unstop", "", jack.KeywordStart},
		{"help", "", jack.KeywordHelp},
		{"INFO", "", jack.KeywordHelp},
		{"Is the Civic available?", "", jack.KeywordNone},
		{"", "", jack.KeywordNone},
		{"arrêt", "STOP", jack.KeywordStop}, // Advanced Opt-Out classified it
		{"whatever", "start", jack.KeywordStart},
		{"STOP", "HELP", jack.KeywordHelp},
	} {
		t.Run(tc.body+"/"+tc.optOutType, func(t *testing.T) {
			require.Equal(t, tc.want, jack.ClassifyKeyword(tc.body, tc.optOutType))
		})
	}
}

func TestStatusAdvances(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		from, to string
		want     bool
	}{
		{jack.StatusPending, jack.StatusQueued, true},
		{jack.StatusQueued, jack.StatusSent, true},
		{jack.StatusSent, jack.StatusDelivered, true},
		{jack.StatusDelivered, jack.StatusSent, false},
		{jack.StatusDelivered, jack.StatusQueued, false},
		{jack.StatusDelivered, jack.StatusFailed, false},
		{jack.StatusFailed, jack.StatusDelivered, false},
		{jack.StatusUndelivered, jack.StatusSent, false},
		{jack.StatusDelivered, jack.StatusRead, true},
		{jack.StatusSent, jack.StatusSent, false},
		{jack.StatusSent, "bogus", false},
		{jack.StatusQueued, jack.StatusUndelivered, true},
	} {
		t.Run(tc.from+"->"+tc.to, func(t *testing.T) {
			require.Equal(t, tc.want, jack.StatusAdvances(tc.from, tc.to))
		})
	}
}

func TestConversationIdentity(t *testing.T) {
	t.Parallel()
	id := jack.ConversationIdentity([16]byte{1}, "+16045550123")
	org, phone, err := jack.ParseConversationIdentity(id)
	require.NoError(t, err)
	require.Equal(t, [16]byte{1}, [16]byte(org))
	require.Equal(t, "+16045550123", phone)
	_, _, err = jack.ParseConversationIdentity("nope")
	require.Error(t, err)
}

func TestErrors(t *testing.T) {
	t.Parallel()
	err := jack.ReasonErrorf(jack.ECONFLICT, "opted_out", "The customer opted out.")
	wrapped := errorsJoin(err)
	require.Equal(t, jack.ECONFLICT, jack.ErrorCode(wrapped))
	require.Equal(t, "opted_out", jack.ErrorReason(wrapped))
	require.Equal(t, "The customer opted out.", jack.ErrorMessage(wrapped))
	plain := errorsJoin(nil)
	require.Equal(t, jack.EINTERNAL, jack.ErrorCode(plain))
	require.Equal(t, "Internal error.", jack.ErrorMessage(plain))
	require.NoError(t, jack.ValidationError(nil))
}
