package jack_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/jack-auto/jack"
)

func TestNormalizePhone(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, in, region, want string
		ok                     bool
	}{
		{"E164", "+16045550123", "", "+16045550123", true},
		{"NationalUS", "(201) 555-0123", "", "+12015550123", true},
		{"NationalWithDots", "201.555.0123", "US", "+12015550123", true},
		{"CanadaByDefaultRegion", "604-555-0123", "CA", "+16045550123", true},
		{"UK", "020 7946 0018", "GB", "+442079460018", true},
		{"LowercaseRegion", "07911 123456", "gb", "+447911123456", true},
		{"InternationalPrefix", "+44 20 7946 0018", "US", "+442079460018", true},
		{"Spaces", "  +1 604 555 0123 ", "", "+16045550123", true},
		{"Empty", "", "", "", false},
		{"Letters", "call me", "", "", false},
		{"TooShort", "12345", "", "", false},
		{"InvalidNumber", "+15551234567", "", "", false},
		{"TooLong", "+1604555012345678901234567890123456789012345678901234567890123456789", "", "", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := jack.NormalizePhone(tc.in, tc.region)
			if !tc.ok {
				require.Equal(t, jack.EUNPROCESSABLE, jack.ErrorCode(err))
				return
			}
			require.NoError(t, err)
			require.Equal(t, tc.want, got)
			require.True(t, jack.IsE164(got))
		})
	}
}

func TestMaskPhone(t *testing.T) {
	t.Parallel()
	require.Equal(t, "+1604***0123", jack.MaskPhone("+16045550123"))
	require.Equal(t, "***89", jack.MaskPhone("123456789"))
	require.Equal(t, "***", jack.MaskPhone("1"))
}

func TestDisplayPhone(t *testing.T) {
	t.Parallel()
	require.Equal(t, "(604) 555-0123", jack.DisplayPhone("+16045550123"))
	require.Equal(t, "garbage", jack.DisplayPhone("garbage"))
}

// FuzzNormalizePhone: any input yields a valid E.164 number that normalizes to itself, or
// EUNPROCESSABLE; never a panic.
func FuzzNormalizePhone(f *testing.F) {
	for _, s := range []string{"+16045550123", "(201) 555-0123", "020 7946 0018", "+44 20 7946 0018", "", "++", "+1 (604) 555-0123 ext. 55", "٠١٢٣"} {
		f.Add(s, "US")
	}
	f.Add("07911 123456", "GB")
	f.Add("1234", "ZZ")
	f.Fuzz(func(t *testing.T, in, region string) {
		got, err := jack.NormalizePhone(in, region)
		if err != nil {
			require.Equal(t, jack.EUNPROCESSABLE, jack.ErrorCode(err))
			return
		}
		again, err := jack.NormalizePhone(got, "")
		require.NoError(t, err)
		require.Equal(t, got, again, "E.164 is a fixed point")
		require.True(t, jack.IsE164(got))
	})
}
