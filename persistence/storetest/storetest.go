// Package storetest is the conformance suite every jack.Store adapter runs (RunStore), one file
// per area, written against the jack.Store interface only. It also exports test-data helpers
// (MustCreateOrganization, MustCreateLead …) that other packages' tests reuse.
package storetest

import (
	"fmt"
	"math/rand/v2"
	"reflect"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jack-auto/jack"
	"github.com/stretchr/testify/require"
)

// Features declares what an adapter promises where adapters may differ; the suite adapts.
type Features struct {
	// TimePrecision is the precision of stored times: times are compared after truncating to it.
	// Defaults to time.Microsecond.
	TimePrecision time.Duration
	// SetClock sets the store's clock: every transaction begun after the call reads now once.
	// Nil when the adapter's clock cannot be set; cases that need a clock that steps back then
	// run on the real clock.
	SetClock func(store jack.Store, now func() time.Time)
	// InsertRawLead stores a lead of orgID with the given id and normalized phone as it is,
	// bypassing validation (the adapter's own transaction, so row-level security still holds):
	// the audit's invalid phones cannot come through the Store. Nil skips those cases.
	InsertRawLead func(t *testing.T, store jack.Store, orgID uuid.UUID, id, phone string)
}

// NewStoreFunc returns a fresh, migrated, empty Store for one test (closed in t.Cleanup).
type NewStoreFunc = func(t *testing.T) jack.Store

// RunStore runs the conformance suite against the adapter newStore makes. Every subtest calls
// t.Parallel() and gets its own store.
func RunStore(t *testing.T, f Features, newStore func(t *testing.T) jack.Store) {
	if f.TimePrecision <= 0 {
		f.TimePrecision = time.Microsecond
	}
	for _, area := range []struct {
		name string
		run  func(*testing.T, Features, NewStoreFunc)
	}{
		{"Organizations", testOrganizations},
		{"Users", testUsers},
		{"Sessions", testSessions},
		{"Leads", testLeads},
		{"PhoneNumbers", testPhoneNumbers},
		{"Conversations", testConversations},
		{"Fencing", testFencing},
		{"Events", testEvents},
		{"Calls", testCalls},
		{"Intake", testIntake},
		{"Reports", testReports},
		{"Reminders", testReminders},
		{"Integrations", testIntegrations},
		{"Appointments", testAppointments},
		{"Inbox", testInbox},
		{"ReminderUpkeep", testReminderUpkeep},
		{"Tenancy", testTenancy},
		{"Sends", testSends},
	} {
		t.Run(area.name, func(t *testing.T) {
			t.Parallel()
			area.run(t, f, newStore)
		})
	}
}

// now returns the current time at the adapter's precision, so a time written and read back
// compares equal.
func (f Features) now() time.Time { return time.Now().UTC().Truncate(f.TimePrecision) }

// phoneCounter hands out distinct customer and dealership numbers within a process.
var phoneCounter atomic.Int64

func init() { phoneCounter.Store(rand.Int64N(10000)) }

// areaCodes are North American area codes whose 555 numbers the phone library accepts as valid.
var areaCodes = []string{"604", "202", "415", "613"}

// NewPhone returns a valid E.164 number (+1 <area> 555 xxxx) not handed out before in this process.
func NewPhone() string {
	n := phoneCounter.Add(1) % int64(len(areaCodes)*10000)
	return fmt.Sprintf("+1%s555%04d", areaCodes[n/10000], n%10000)
}

// MustCreateOrganization creates an organization with a unique name and its owner (a unique
// email, password hash "x") and returns both.
func MustCreateOrganization(tb testing.TB, store jack.Store) (*jack.Organization, *jack.User) {
	tb.Helper()
	suffix := uuid.NewString()[:8]
	org := &jack.Organization{Name: "Dealership " + suffix}
	owner := &jack.User{
		Email:        "owner-" + uuid.NewString() + "@example.com",
		PasswordHash: "x",
		FullName:     "Owner " + suffix,
		Role:         jack.RoleOwner,
	}
	require.NoError(tb, store.CreateOrganization(tb.Context(), org, owner))
	return org, owner
}

// MustCreateUser creates a user of orgID with a unique email and the given role.
func MustCreateUser(tb testing.TB, store jack.Store, orgID uuid.UUID, role jack.Role) *jack.User {
	tb.Helper()
	u := &jack.User{
		Email:        "user-" + uuid.NewString() + "@example.com",
		PasswordHash: "x",
		FullName:     "Staff Member",
		Role:         role,
	}
	require.NoError(tb, store.CreateUser(tb.Context(), orgID, u))
	return u
}

// MustCreateLead creates a lead of orgID with the seed's defaults for phone (E.164).
func MustCreateLead(tb testing.TB, store jack.Store, orgID uuid.UUID, phone string) *jack.Lead {
	tb.Helper()
	lead := jack.NewLead(orgID, "Customer "+phone[len(phone)-4:], phone, time.Now().UTC().Truncate(time.Microsecond))
	require.NoError(tb, store.CreateLead(tb.Context(), orgID, lead))
	return lead
}

// MustUpdateConversation applies ch to the lead's conversation fields in a conversation
// transaction of orgID (the only way a lead quality score is written) and returns the lead.
func MustUpdateConversation(tb testing.TB, store jack.Store, orgID uuid.UUID, leadID string, ch jack.ConversationChange) *jack.Lead {
	tb.Helper()
	var lead *jack.Lead
	require.NoError(tb, store.InConversationTx(tb.Context(), orgID, func(tx jack.ConversationTx) (err error) {
		lead, err = tx.UpdateConversation(tb.Context(), leadID, ch)
		return err
	}))
	return lead
}

// MustCreatePhoneNumber creates a dealership number of orgID.
func MustCreatePhoneNumber(tb testing.TB, store jack.Store, orgID uuid.UUID, phone string, active bool) *jack.PhoneNumber {
	tb.Helper()
	pn := &jack.PhoneNumber{PhoneNumber: phone, ProviderPhoneID: "PN" + uuid.NewString()[:8], IsActive: active}
	require.NoError(tb, store.CreatePhoneNumber(tb.Context(), orgID, pn))
	return pn
}

// MustInsertMessage inserts m in a conversation transaction of orgID and returns the stored message.
func MustInsertMessage(tb testing.TB, store jack.Store, orgID uuid.UUID, m *jack.Message) *jack.Message {
	tb.Helper()
	var stored *jack.Message
	require.NoError(tb, store.InConversationTx(tb.Context(), orgID, func(tx jack.ConversationTx) (err error) {
		stored, _, err = tx.InsertMessage(tb.Context(), m)
		return err
	}))
	return stored
}

// NewMessage returns an SMS of lead from the customer at ts (no MessageSid).
func NewMessage(lead *jack.Lead, content string, ts time.Time) *jack.Message {
	return &jack.Message{
		LeadID:                lead.ID,
		PhoneNumberNormalized: lead.PhoneNumberNormalized,
		Content:               content,
		SentBy:                jack.SentByCustomer,
		Type:                  jack.ChannelSMS,
		Timestamp:             ts,
		Status:                jack.StatusReceived,
	}
}

// requireCode fails unless err carries the domain code.
func requireCode(tb testing.TB, code string, err error) {
	tb.Helper()
	require.Error(tb, err)
	require.Equal(tb, code, jack.ErrorCode(err), "error: %v", err)
}

// requireEqual compares want and got after normalizing every time in both (UTC, truncated to
// the adapter's precision). It normalizes in place.
func requireEqual(tb testing.TB, f Features, want, got any, msgAndArgs ...any) {
	tb.Helper()
	normalizeTimes(reflect.ValueOf(want), f.TimePrecision)
	normalizeTimes(reflect.ValueOf(got), f.TimePrecision)
	require.Equal(tb, want, got, msgAndArgs...)
}

var timeType = reflect.TypeFor[time.Time]()

func normalizeTimes(v reflect.Value, prec time.Duration) {
	switch v.Kind() {
	case reflect.Pointer, reflect.Interface:
		if !v.IsNil() {
			normalizeTimes(v.Elem(), prec)
		}
	case reflect.Slice:
		for i := range v.Len() {
			normalizeTimes(v.Index(i), prec)
		}
	case reflect.Struct:
		if v.Type() == timeType {
			if v.CanSet() {
				v.Set(reflect.ValueOf(v.Interface().(time.Time).UTC().Truncate(prec)))
			}
			return
		}
		for i := range v.NumField() {
			if v.Type().Field(i).IsExported() {
				normalizeTimes(v.Field(i), prec)
			}
		}
	}
}

// requireTimeEqual compares two times at the adapter's precision.
func requireTimeEqual(tb testing.TB, f Features, want, got time.Time, msgAndArgs ...any) {
	tb.Helper()
	require.Equal(tb, want.UTC().Truncate(f.TimePrecision), got.UTC().Truncate(f.TimePrecision), msgAndArgs...)
}

func ptr[T any](v T) *T { return &v }
