package sqlite_test

import (
	"context"
	"testing"

	"github.com/google/uuid"
	"github.com/jack-auto/jack"
	"github.com/jack-auto/jack/persistence/sqlite/sqlitetest"
	"github.com/stretchr/testify/require"
)

func TestSmoke(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := sqlitetest.MustOpenStore(t)
	require.NoError(t, s.Ping(ctx))
	org := &jack.Organization{Name: "Acme"}
	owner := &jack.User{Email: "Owner@Example.com", PasswordHash: "x", Role: jack.RoleOwner}
	require.NoError(t, s.CreateOrganization(ctx, org, owner))
	u, err := s.FindUserByEmail(ctx, "OWNER@example.com ")
	require.NoError(t, err)
	require.Equal(t, owner.ID, u.ID)
	lead := jack.NewLead(org.ID, "Bob", "+16045550123", s.Now())
	require.NoError(t, s.CreateLead(ctx, org.ID, lead))
	got, err := s.FindLeadByID(ctx, org.ID, lead.ID)
	require.NoError(t, err)
	require.Equal(t, lead, got)
	_, err = s.FindLeadByID(ctx, uuid.New(), lead.ID)
	require.Equal(t, jack.ENOTFOUND, jack.ErrorCode(err))
}
