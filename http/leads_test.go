package http_test

import (
	"context"
	"net/http"
	"sync"
	"testing"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"
	"golang.org/x/crypto/bcrypt"

	"github.com/jack-auto/jack"
	jackhttp "github.com/jack-auto/jack/http"
)

// Staff changes reach the lead's conversation; a conversation that cannot be told does not
// fail the committed change.
func TestLeads_NotifyConversation(t *testing.T) {
	t.Parallel()
	type call struct {
		orgID   uuid.UUID
		phone   string
		deleted bool
	}
	var (
		mu    sync.Mutex
		calls []call
		fail  bool
	)
	conv := &fakeConversations{LeadChangedFunc: func(ctx context.Context, orgID uuid.UUID, phone string, deleted bool) error {
		mu.Lock()
		defer mu.Unlock()
		require.NotEmpty(t, jack.RequestIDFromContext(ctx), "the request's context")
		calls = append(calls, call{orgID, phone, deleted})
		if fail {
			return jack.Errorf(jack.EUNAVAILABLE, "grain unreachable")
		}
		return nil
	}}
	store := openSQLite(t)
	srv, err := jackhttp.NewServer(jackhttp.Config{JWTSecret: testSecret, BcryptCost: bcrypt.MinCost}, store, conv, nil, testLogger(t))
	require.NoError(t, err)
	s := serve(t, srv, store, nil)

	token, _, org := MustRegister(t, s.URL)
	lead := MustCreateLead(t, s.URL, token, "Nina Notify", testPhone(60))
	MustDo(t, s.URL, request{Method: "PATCH", Path: "/api/leads/" + lead.ID, Token: token, Body: map[string]string{"chaseStatus": "engaged"}}, http.StatusOK, nil)
	mu.Lock()
	fail = true
	mu.Unlock()
	MustDo(t, s.URL, request{Method: "DELETE", Path: "/api/leads/" + lead.ID, Token: token}, http.StatusNoContent, nil)

	mu.Lock()
	defer mu.Unlock()
	require.Equal(t, []call{{org.ID, testPhone(60), false}, {org.ID, testPhone(60), true}}, calls)
}
