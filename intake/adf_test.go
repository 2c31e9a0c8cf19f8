package intake_test

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/jack-auto/jack/intake"
)

// A full ADF 1.0 document as lead providers send it.
func TestParseADF_Document(t *testing.T) {
	t.Parallel()
	f, err := os.Open(filepath.Join("testdata", "three-prospects.adf.xml"))
	require.NoError(t, err)
	defer f.Close()
	rows, err := intake.ParseADF(f)
	require.NoError(t, err)
	require.Equal(t, []parsedLead{
		{Line: 1, Name: "Alex Doe", Phone: "604-555-0199", Email: "alex@example.com", Vehicle: "2021 Honda Civic EX",
			Source: "CarsDirect", ExtID: "A-100@CarsDirect"},
		{Line: 2, Name: "Jamie Roe", Phone: "(604) 555-0123", Vehicle: "2020 Toyota RAV4",
			Source: "AutoTrader", ExtID: "77@leads.example"},
		{Line: 3, Name: "Nobody Phone", Source: "adf", ExtID: "9", ErrFields: map[string]string{"phoneNumber": "is not a valid phone number"}},
	}, summarize(t, rows))
	require.Equal(t, time.Date(2024, 3, 30, 23, 30, 20, 0, time.UTC), rows[0].Lead.Lead.LastActivity)
}

func TestParseADF(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		in   string
		want []parsedLead
	}{
		{
			name: "LoneProspectNoDeclarationCaseAndEntities",
			in: ` <PROSPECT><Customer><Contact><Name Part="FULL">Ren&eacute;e&nbsp;O&apos;Neil</Name>
				<Phone TYPE="Fax">6045550100</Phone><Phone type="CellPhone" time="evening"> 604.555.0111 </Phone>
				<unknown><deep>x</deep></unknown></Contact></Customer></PROSPECT>`,
			want: []parsedLead{{Line: 1, Name: "Renée O'Neil", Phone: "604.555.0111", Source: "adf"}},
		},
		{
			name: "VoiceWhenNoCellphoneNeverFaxOrPager",
			in: `<adf><prospect><customer><contact><name part="first">Ann</name><name part="last">Lee</name>
				<phone type="pager">6045550101</phone><phone>6045550102</phone></contact></customer></prospect></adf>`,
			want: []parsedLead{{Line: 1, Name: "Ann Lee", Phone: "6045550102", Source: "adf"}},
		},
		{
			name: "OnlyFax",
			in:   `<adf><prospect><customer><contact><name>Fax Only</name><phone type="fax">6045550101</phone></contact></customer></prospect></adf>`,
			want: []parsedLead{{Line: 1, Name: "Fax Only", Source: "adf", ErrFields: map[string]string{"phoneNumber": "is required"}}},
		},
		{
			name: "TradeInIgnoredLeaseKept",
			in: `<adf><prospect><id source="Dealer.com">1</id><vehicle interest="trade-in"><year>2010</year><make>Ford</make><model>Focus</model></vehicle>
				<vehicle interest="LEASE" status="New"><year>2024</year><make>Kia</make><model>EV6</model></vehicle>
				<customer><contact><name>T</name><phone>6045550103</phone></contact></customer></prospect></adf>`,
			want: []parsedLead{{Line: 1, Name: "T", Phone: "6045550103", Vehicle: "2024 Kia EV6", Source: "Dealer.com", ExtID: "1@Dealer.com"}},
		},
		{
			name: "BrokenProspectKeepsOthers",
			in: `<adf><prospect><customer><contact><name>One</name><phone>6045550104</phone></contact></customer></prospect>
				<prospect><customer><contact><name>Two</name><phone>5 < 6</phone></contact></customer></prospect>
				<prospect><customer><contact><name>Three</name><phone>6045550105</phone></contact></customer></prospect></adf>`,
			want: []parsedLead{
				{Line: 1, Name: "One", Phone: "6045550104", Source: "adf"},
				{Line: 2, ErrFields: map[string]string{"": "The prospect is not well-formed XML (line 2: expected element name after <)."}},
				{Line: 3, Name: "Three", Phone: "6045550105", Source: "adf"},
			},
		},
		{
			name: "TruncatedLastProspect",
			in:   `<adf><prospect><customer><contact><name>One</name><phone>6045550104</phone></contact></customer></prospect><prospect><customer>`,
			want: []parsedLead{
				{Line: 1, Name: "One", Phone: "6045550104", Source: "adf"},
				{Line: 2, ErrFields: map[string]string{"": "The prospect is not well-formed XML (line 1: unexpected EOF)."}},
			},
		},
		{
			name: "Latin1Declared",
			in:   "<?xml version=\"1.0\" encoding=\"ISO-8859-1\"?><adf><prospect><customer><contact><name>Jos\xe9</name><phone>6045550106</phone></contact></customer></prospect></adf>",
			want: []parsedLead{{Line: 1, Name: "José", Phone: "6045550106", Source: "adf"}},
		},
		{
			name: "EmptyADF",
			in:   `<?ADF VERSION "1.0"?><adf></adf>`,
			want: []parsedLead{},
		},
	} {
		t.Run(tc.name, func(t *testing.T) { requireParsed(t, intake.ParseADF, tc.in, tc.want) })
	}
}

func TestDetect(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, contentType, head string
		want                    intake.Format
	}{
		{"CSVType", "text/csv; charset=utf-8", "<adf>", intake.FormatCSV},
		{"XMLType", "application/xml", "name,phone", intake.FormatADF},
		{"TextXML", "text/xml", "", intake.FormatADF},
		{"ADFPlusXML", "application/adf+xml", "", intake.FormatADF},
		{"SniffXML", "", "\ufeff\r\n  <?xml version=\"1.0\"?>", intake.FormatADF},
		{"SniffFormFromCurl", "application/x-www-form-urlencoded", "<adf>", intake.FormatADF},
		{"SniffCSV", "application/octet-stream", "name,phone", intake.FormatCSV},
		{"Nothing", "", "", intake.FormatCSV},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			require.Equal(t, tc.want, intake.Detect(tc.contentType, []byte(tc.head)))
		})
	}
}
