package intake_test

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
	"unicode/utf8"

	"github.com/stretchr/testify/require"

	"github.com/jack-auto/jack"
	"github.com/jack-auto/jack/intake"
)

// checkRows holds what every parse promises, whatever the input: domain errors only, lines
// that increase, and text that is valid UTF-8 without NUL (Postgres refuses both).
func checkRows(t *testing.T, rows []intake.Row, err error) {
	if err != nil {
		require.Equal(t, jack.EUNPROCESSABLE, jack.ErrorCode(err), "file errors are domain errors: %v", err)
		require.Nil(t, rows)
		return
	}
	prev := 0
	for _, r := range rows {
		require.Greater(t, r.Line, prev)
		prev = r.Line
		if r.Err != nil {
			require.Equal(t, jack.EUNPROCESSABLE, jack.ErrorCode(r.Err), "row errors are domain errors: %v", r.Err)
			continue
		}
		require.NotEmpty(t, r.Lead.Lead.PhoneNumber, "a row without an error has a phone")
		l := r.Lead
		for _, s := range []string{l.Lead.CustomerName, l.Lead.PhoneNumber, l.Lead.Email, l.Lead.VehiclePreference,
			l.Lead.BudgetRange, l.Lead.CreditScoreRange, l.Lead.ChaseStatus, l.Source, l.ExternalID} {
			require.True(t, utf8.ValidString(s), "%q", s)
			require.NotContains(t, s, "\x00")
		}
	}
}

func FuzzParseCSV(f *testing.F) {
	for _, seed := range []string{
		"name,phone\nAlex,6045550123\n",
		"\ufeffCustomer Name;Phone Number;E-mail\r\n\"Doe; Jane\";604 555 0123;j@x.co\r\n",
		"first_name,last_name,cell,year,make,model\nJo,Smith,6045550123,2020,Toyota,RAV4\n",
		"id,phone,status\n1,,new\n2,6045550123,\"unterminated\n",
		"phone\n\x00\xff\xfe\n",
		"name\temail\nA\ta@b.co\n",
		"sep=;\nname;phone\nA;6045550123\n",
		"",
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		rows, err := intake.ParseCSV(bytes.NewReader(data))
		checkRows(t, rows, err)
	})
}

func FuzzParseADF(f *testing.F) {
	doc, err := os.ReadFile(filepath.Join("testdata", "three-prospects.adf.xml"))
	require.NoError(f, err)
	f.Add(doc)
	for _, seed := range []string{
		`<prospect><customer><contact><name part="full">A</name><phone type="cellphone">6045550123</phone></contact></customer></prospect>`,
		`<adf><prospect><customer><contact><phone>5 < 6</phone></contact></customer></prospect><prospect><customer>`,
		"<?xml version=\"1.0\" encoding=\"ISO-8859-1\"?><adf><prospect><customer><contact><name>Jos\xe9&nbsp;</name></contact></customer></prospect></adf>",
		`<!DOCTYPE adf [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;">]><adf><prospect><id>&b;</id></prospect></adf>`,
		`<html><prospect/></html>`,
		`not xml`,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		rows, err := intake.ParseADF(bytes.NewReader(data))
		checkRows(t, rows, err)
	})
}
