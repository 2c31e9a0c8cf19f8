package jack_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/jack-auto/jack"
)

func TestNextContactTime(t *testing.T) {
	t.Parallel()
	w, err := jack.ParseContactWindow("08:00", "21:00")
	require.NoError(t, err)
	vancouver := "+16045550123" // America/Vancouver
	toronto := "+14165550123"   // America/Toronto
	utc := func(s string) time.Time { tm, err := time.Parse(time.RFC3339, s); require.NoError(t, err); return tm }

	for _, tc := range []struct {
		name, phone, now, want string
	}{
		// 2026-11-28 is standard time: Vancouver UTC-8, Toronto UTC-5.
		{"VancouverMorningTorontoNoon", vancouver, "2026-11-28T17:00:00Z", "2026-11-28T17:00:00Z"}, // 09:00 in Vancouver
		{"SameInstantToronto", toronto, "2026-11-28T17:00:00Z", "2026-11-28T17:00:00Z"},            // 12:00 in Toronto
		{"VancouverTooEarly", vancouver, "2026-11-28T14:30:00Z", "2026-11-28T16:00:00Z"},           // 06:30 → 08:00 local
		{"TorontoFineAtThatInstant", toronto, "2026-11-28T14:30:00Z", "2026-11-28T14:30:00Z"},      // 09:30 in Toronto
		{"TorontoTooLate", toronto, "2026-11-29T02:30:00Z", "2026-11-29T13:00:00Z"},                // 21:30 → 08:00 next day
		{"VancouverStillFine", vancouver, "2026-11-29T02:30:00Z", "2026-11-29T02:30:00Z"},          // 18:30 in Vancouver
		{"EndIsExclusive", vancouver, "2026-11-29T05:00:00Z", "2026-11-29T16:00:00Z"},              // 21:00 sharp
		{"StartIsInclusive", vancouver, "2026-11-28T16:00:00Z", "2026-11-28T16:00:00Z"},
		{"AcrossDSTEnd", toronto, "2026-11-01T02:00:00Z", "2026-11-01T13:00:00Z"}, // 22:00 EDT → 08:00 EST
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := w.NextContactTime(utc(tc.now), jack.CustomerZones(tc.phone, ""))
			require.Equal(t, utc(tc.want), got.UTC())
		})
	}

	t.Run("TollFreeUsesOrganizationZone", func(t *testing.T) {
		zones := jack.CustomerZones("+18005550123", "America/Toronto")
		require.Len(t, zones, 1)
		require.Equal(t, "America/Toronto", zones[0].String())
	})
	t.Run("TollFreeWithoutZoneProtectsEverywhere", func(t *testing.T) {
		zones := jack.CustomerZones("+18005550123", "")
		require.Greater(t, len(zones), 10)
		// 17:00Z is 09:00 in Vancouver but 07:00 in Honolulu: not allowed everywhere yet.
		next := w.NextContactTime(utc("2026-11-28T17:00:00Z"), zones)
		require.True(t, next.After(utc("2026-11-28T17:00:00Z")))
	})
	t.Run("CustomWindow", func(t *testing.T) {
		org := &jack.Organization{Settings: jack.OrganizationSettings{ContactHoursStart: "10:00", ContactHoursEnd: "18:00"}}
		got := org.ContactWindow().NextContactTime(utc("2026-11-28T17:00:00Z"), jack.CustomerZones(vancouver, ""))
		require.Equal(t, utc("2026-11-28T18:00:00Z"), got.UTC()) // 09:00 → 10:00 Vancouver
	})
	t.Run("WholeDay", func(t *testing.T) {
		all, err := jack.ParseContactWindow("00:00", "24:00")
		require.NoError(t, err)
		now := utc("2026-11-29T07:59:59Z") // 23:59:59 in Vancouver
		require.Equal(t, now, all.NextContactTime(now, jack.CustomerZones(vancouver, "")))
	})
	t.Run("InvalidWindow", func(t *testing.T) {
		_, err := jack.ParseContactWindow("21:00", "08:00")
		require.Equal(t, jack.EUNPROCESSABLE, jack.ErrorCode(err))
		_, err = jack.ParseContactWindow("8am", "21:00")
		require.Equal(t, jack.EUNPROCESSABLE, jack.ErrorCode(err))
		org := &jack.Organization{Name: "X", Settings: jack.OrganizationSettings{ContactHoursStart: "22:00", ContactHoursEnd: "07:00"}}
		require.Equal(t, jack.EUNPROCESSABLE, jack.ErrorCode(org.Validate()))
	})
	t.Run("Error", func(t *testing.T) {
		err := jack.QuietHoursError(utc("2026-11-28T16:00:00Z"))
		require.Equal(t, "quiet_hours", jack.ErrorReason(err))
		require.Equal(t, jack.ECONFLICT, jack.ErrorCode(err))
	})
}
