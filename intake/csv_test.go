package intake_test

import (
	"io"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/jack-auto/jack"
	"github.com/jack-auto/jack/intake"
)

// parsedLead is the part of a row the table tests compare.
type parsedLead struct {
	Line                                  int
	Name, Phone, Email, Vehicle           string
	Budget, Credit, Status, Source, ExtID string
	ErrFields                             map[string]string
}

func summarize(tb testing.TB, rows []intake.Row) []parsedLead {
	tb.Helper()
	out := make([]parsedLead, len(rows))
	for i, r := range rows {
		l := r.Lead.Lead
		out[i] = parsedLead{Line: r.Line, Name: l.CustomerName, Phone: l.PhoneNumber, Email: l.Email,
			Vehicle: l.VehiclePreference, Budget: l.BudgetRange, Credit: l.CreditScoreRange, Status: l.ChaseStatus,
			Source: r.Lead.Source, ExtID: r.Lead.ExternalID}
		if r.Err != nil {
			e, ok := r.Err.(*jack.Error)
			require.True(tb, ok, "row errors are domain errors: %v", r.Err)
			out[i].ErrFields = e.Fields
			if e.Fields == nil {
				out[i].ErrFields = map[string]string{"": e.Message}
			}
		}
	}
	return out
}

func TestParseCSV(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		in   string
		want []parsedLead
	}{
		{
			name: "CommonHeaders",
			in: "Customer Name,Phone Number,E-mail,Vehicle of Interest,Budget,Credit Score,Status,Notes,Lead ID\n" +
				"Alex Doe,(604) 555-0123,Alex@Example.com,2021 Honda Civic,$20-25k,700+,Contacted,call after 5,L-1\n",
			want: []parsedLead{{Line: 2, Name: "Alex Doe", Phone: "(604) 555-0123", Email: "Alex@Example.com",
				Vehicle: "2021 Honda Civic", Budget: "$20-25k", Credit: "700+", Status: "contacted", Source: "csv", ExtID: "L-1"}},
		},
		{
			name: "FirstLastAndYearMakeModel",
			in:   "first_name,LAST_NAME,cell,year,make,model,trim\nJo,Smith,6045550123,2020,Toyota,RAV4,XLE\n",
			want: []parsedLead{{Line: 2, Name: "Jo Smith", Phone: "6045550123", Vehicle: "2020 Toyota RAV4 XLE", Source: "csv"}},
		},
		{
			name: "MobilePreferredOverPhone",
			in:   "name,phone,mobile\nA,6045550100,6045550199\nB,6045550100,\n",
			want: []parsedLead{
				{Line: 2, Name: "A", Phone: "6045550199", Source: "csv"},
				{Line: 3, Name: "B", Phone: "6045550100", Source: "csv"},
			},
		},
		{
			name: "BOMCRLFQuotesBlankLines",
			in: "\ufeffname,phone,notes\r\n\r\n\"Doe, Jane\",\"604 555 0123\",\"two\r\nlines\"\r\n,,\r\n" +
				"\"Bob \"\"Bobby\"\" Ray\",6045550124,5'10\"\r\n",
			want: []parsedLead{
				{Line: 3, Name: "Doe, Jane", Phone: "604 555 0123", Source: "csv"},
				{Line: 6, Name: `Bob "Bobby" Ray`, Phone: "6045550124", Source: "csv"},
			},
		},
		{
			name: "Semicolons",
			in:   "Name;Telephone;Email\nMüller, Hans;+49 30 1234567;hans@example.de\n",
			want: []parsedLead{{Line: 2, Name: "Müller, Hans", Phone: "+49 30 1234567", Email: "hans@example.de", Source: "csv"}},
		},
		{
			name: "ExcelSeparatorLine",
			in:   "sep=|\r\nname|phone\r\nAl, Jr|6045550123\r\n",
			want: []parsedLead{{Line: 3, Name: "Al, Jr", Phone: "6045550123", Source: "csv"}},
		},
		{
			name: "Tabs",
			in:   "name\tphone\nAl\t6045550123\n",
			want: []parsedLead{{Line: 2, Name: "Al", Phone: "6045550123", Source: "csv"}},
		},
		{
			name: "Windows1252",
			in:   "name,phone\nJos\xe9 \x93Pepe\x94,6045550123\n",
			want: []parsedLead{{Line: 2, Name: "José “Pepe”", Phone: "6045550123", Source: "csv"}},
		},
		{
			name: "RowWithoutPhone",
			in:   "name,phone,notes\nNo Phone,,has notes\nOK,6045550123,\n",
			want: []parsedLead{
				{Line: 2, Name: "No Phone", Source: "csv", ErrFields: map[string]string{"phoneNumber": "is required"}},
				{Line: 3, Name: "OK", Phone: "6045550123", Source: "csv"},
			},
		},
		{
			name: "ShortAndLongRows",
			in:   "name,phone,email\nShort,6045550123\nLong,6045550124,a@b.co,extra,cells\n",
			want: []parsedLead{
				{Line: 2, Name: "Short", Phone: "6045550123", Source: "csv"},
				{Line: 3, Name: "Long", Phone: "6045550124", Email: "a@b.co", Source: "csv"},
			},
		},
		{
			name: "HeaderOnly",
			in:   "name,phone\n",
			want: []parsedLead{},
		},
	} {
		t.Run(tc.name, func(t *testing.T) { requireParsed(t, intake.ParseCSV, tc.in, tc.want) })
	}
}

// requireParsed parses in and requires the rows to be want.
func requireParsed(t *testing.T, parse func(io.Reader) ([]intake.Row, error), in string, want []parsedLead) {
	t.Helper()
	t.Parallel()
	rows, err := parse(strings.NewReader(in))
	require.NoError(t, err)
	require.Equal(t, want, append([]parsedLead{}, summarize(t, rows)...))
}

// A file that is not a feed of its format is a file-level EUNPROCESSABLE error.
func TestParse_FileErrors(t *testing.T) {
	t.Parallel()
	const noPhone = "The file has no phone column (phone, phone number, mobile, cell or telephone)."
	for _, tc := range []struct {
		name    string
		format  intake.Format
		in      string
		message string
	}{
		{"CSVEmpty", intake.FormatCSV, "", "The file is empty."},
		{"CSVBlank", intake.FormatCSV, " \r\n\n", "The file is empty."},
		{"CSVNoPhoneColumn", intake.FormatCSV, "name,email\nA,a@b.co\n", noPhone},
		{"CSVOfXML", intake.FormatCSV, "<adf><prospect/></adf>", noPhone},
		{"ADFEmpty", intake.FormatADF, "  \n", "The document is empty."},
		{"ADFOfCSV", intake.FormatADF, "name,phone\nA,6045550123\n", "The document is not XML."},
		{"ADFOfJSON", intake.FormatADF, `{"prospect":{}}`, "The document is not XML."},
		{"ADFOtherXML", intake.FormatADF, `<html><body><prospect/></body></html>`, "The document is not ADF: its root element is <html>, not <adf>."},
		{"ADFNoElement", intake.FormatADF, `<?xml version="1.0"?><!-- nothing -->`, "The document has no <adf> or <prospect> element."},
		{"ADFGarbage", intake.FormatADF, `<<<>>>`, "The document is not well-formed XML (line 1: expected element name after <)."},
		{"ADFEncoding", intake.FormatADF, `<?xml version="1.0" encoding="UTF-16"?><adf/>`, `The document's encoding "UTF-16" is not supported: use UTF-8 or ISO-8859-1.`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, err := intake.Parse(tc.format, strings.NewReader(tc.in))
			require.Equal(t, jack.EUNPROCESSABLE, jack.ErrorCode(err), "%v", err)
			require.Equal(t, tc.message, jack.ErrorMessage(err))
		})
	}
	_, err := intake.Parse("xls", strings.NewReader("a,b"))
	require.Equal(t, jack.EINVALID, jack.ErrorCode(err))
}

// A last-activity column is the lead's own date, in the forms CRM exports write; a cell that is
// not a date is no date.
func TestParseCSV_LastActivity(t *testing.T) {
	t.Parallel()
	rows, err := intake.ParseCSV(strings.NewReader("name,phone,Last Contact\nA,6045550101,2024-03-30\nB,6045550102,3/30/2024 2:15 PM\nC,6045550103,soon\n"))
	require.NoError(t, err)
	require.Len(t, rows, 3)
	require.Equal(t, time.Date(2024, 3, 30, 0, 0, 0, 0, time.UTC), rows[0].Lead.Lead.LastActivity)
	require.Equal(t, time.Date(2024, 3, 30, 14, 15, 0, 0, time.UTC), rows[1].Lead.Lead.LastActivity)
	require.True(t, rows[2].Lead.Lead.LastActivity.IsZero())
}
