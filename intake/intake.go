// Package intake reads dealership lead feeds (CSV exports and ADF/XML, the auto industry's lead
// format) into jack.ImportedLead rows with per-row errors, and imports them through the Store one
// row at a time. It is shared by `jack import leads` and POST /api/leads/import; parsing never
// touches the Store, and phones are normalized at import time, in the organization's region.
package intake

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"mime"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/google/uuid"
	"github.com/jack-auto/jack"
)

// Format is a feed's file format.
type Format string

// Feed formats.
const (
	FormatCSV Format = "csv"
	FormatADF Format = "adf"
)

// Row is one lead of a feed as parsed. Lead.PhoneNumber holds the phone as written in the feed;
// Import normalizes it in the organization's region (parsing does not know the region) and
// names a lead without a name after its phone. Err is the row's own problem (no phone, a
// prospect that is not well-formed XML): Import reports it and skips the row.
type Row struct {
	Line int // CSV: the file line the record starts on (the header is line 1); ADF: the prospect's index, from 1
	Lead jack.ImportedLead
	Err  error
}

// Report is what an import did: how many rows created, updated or left each lead, and the rows
// that could not be imported.
type Report struct {
	Created   int        `json:"created"`
	Updated   int        `json:"updated"`
	Unchanged int        `json:"unchanged"`
	Errors    []RowError `json:"errors"` // never nil
}

// RowError is why one row was not imported. Fields names the lead's invalid fields, with the
// API's field names (phoneNumber, email, customerName …).
type RowError struct {
	Line    int               `json:"line"`
	Message string            `json:"message"`
	Fields  map[string]string `json:"fields,omitempty"`
}

// Detect picks the format of a body: a CSV or XML content type decides; otherwise (none, text/plain,
// octet-stream, a form type from curl -d …) a document whose first character is '<' is ADF and
// anything else CSV.
func Detect(contentType string, head []byte) Format {
	mt, _, _ := mime.ParseMediaType(contentType)
	switch mt {
	case "text/csv", "application/csv", "text/comma-separated-values", "text/tab-separated-values", "application/vnd.ms-excel":
		return FormatCSV
	case "application/xml", "text/xml":
		return FormatADF
	}
	if strings.HasSuffix(mt, "+xml") {
		return FormatADF
	}
	if bytes.HasPrefix(bytes.TrimLeftFunc(stripBOM(head), unicode.IsSpace), []byte("<")) {
		return FormatADF
	}
	return FormatCSV
}

// Parse reads a feed of the given format; see ParseCSV and ParseADF.
func Parse(format Format, r io.Reader) ([]Row, error) {
	switch format {
	case FormatCSV:
		return ParseCSV(r)
	case FormatADF:
		return ParseADF(r)
	}
	return nil, jack.Errorf(jack.EINVALID, "Unknown feed format %q: use csv or adf.", format)
}

// LeadImporter stores one imported lead: jack.LeadStore's ImportLead.
type LeadImporter interface {
	ImportLead(ctx context.Context, orgID uuid.UUID, in jack.ImportedLead) (*jack.Lead, jack.ImportOutcome, error)
}

// Result is what importing one row did: the stored lead and the outcome, or the row's error.
type Result struct {
	Line    int
	Lead    *jack.Lead
	Outcome jack.ImportOutcome
	Err     error
}

// Import stores rows into org one by one (each row is its own transaction, so a re-import
// resumes an interrupted one and changes nothing already imported). Phones are normalized in
// the organization's region; a lead it creates starts with the AI paused when the organization
// turned AI on by default off; a lead without a name is named after its phone (jack.DisplayPhone); its last activity
// is the feed's date, jack.NoActivity when the feed has none (or a date later than now). When the file holds the same lead more than once (the same phone, or the
// same feed id), only the last is imported and the earlier ones are reported, so importing the
// file again changes nothing. progress, when not nil, is called after every row with the number
// of rows done. A row's own problem (parse error, invalid field, a conflict a retry did not
// resolve) goes into the report; anything else (the database is down, ctx ended) stops the
// import and is returned with the report so far.
func Import(ctx context.Context, store LeadImporter, org *jack.Organization, rows []Row, progress func(done int, r Result)) (Report, error) {
	report := Report{Errors: []RowError{}}
	now := time.Now()
	leads, errs := prepareAll(rows, org.Region(), now)
	for i, row := range rows {
		if err := ctx.Err(); err != nil {
			return report, err
		}
		res := Result{Line: row.Line, Err: errs[i]}
		if res.Err == nil {
			org.Settings.StartAI(&leads[i].Lead, now) // kept only by a lead the import creates
			res.Lead, res.Outcome, res.Err = importLead(ctx, store, org.ID, leads[i])
		}
		switch {
		case res.Err != nil && !isRowError(res.Err):
			return report, fmt.Errorf("import line %d: %w", row.Line, res.Err)
		case res.Err != nil:
			report.Errors = append(report.Errors, newRowError(row.Line, res.Err))
		case res.Outcome == jack.ImportCreated:
			report.Created++
		case res.Outcome == jack.ImportUpdated:
			report.Updated++
		default:
			report.Unchanged++
		}
		if progress != nil {
			progress(i+1, res)
		}
	}
	return report, nil
}

// importLead stores one lead. A conflict (another import created the same lead between this
// one's lookup and insert) is retried once: the retry finds that lead.
func importLead(ctx context.Context, store LeadImporter, orgID uuid.UUID, in jack.ImportedLead) (*jack.Lead, jack.ImportOutcome, error) {
	lead, outcome, err := store.ImportLead(ctx, orgID, in)
	if jack.ErrorCode(err) == jack.ECONFLICT {
		lead, outcome, err = store.ImportLead(ctx, orgID, in)
	}
	return lead, outcome, err
}

// prepareAll prepares every row, and makes every row that a later row of the same lead (phone
// or feed id) supersedes an error: importing both would undo one with the other every time.
func prepareAll(rows []Row, region string, now time.Time) ([]jack.ImportedLead, []error) {
	leads, errs := make([]jack.ImportedLead, len(rows)), make([]error, len(rows))
	lastPhone, lastKey := map[string]int{}, map[[2]string]int{}
	for i, row := range rows {
		leads[i], errs[i] = prepare(row, region, now)
		if errs[i] == nil {
			lastPhone[leads[i].Lead.PhoneNumberNormalized] = i
			if leads[i].ExternalID != "" {
				lastKey[[2]string{leads[i].Source, leads[i].ExternalID}] = i
			}
		}
	}
	for i := range rows {
		if errs[i] != nil {
			continue
		}
		if j := lastPhone[leads[i].Lead.PhoneNumberNormalized]; j != i {
			errs[i] = superseded("phoneNumber", rows[j].Line)
		} else if j, ok := lastKey[[2]string{leads[i].Source, leads[i].ExternalID}]; ok && j != i {
			errs[i] = superseded("externalId", rows[j].Line)
		}
	}
	return leads, errs
}

func superseded(field string, line int) error {
	return &jack.Error{Code: jack.EUNPROCESSABLE, Message: fmt.Sprintf("The same lead comes again later in the file (%d): only the last is imported.", line),
		Fields: map[string]string{field: fmt.Sprintf("repeats at %d", line)}}
}

// prepare normalizes a parsed row's phone in region and fills the name.
func prepare(row Row, region string, now time.Time) (jack.ImportedLead, error) {
	if row.Err != nil {
		return jack.ImportedLead{}, row.Err
	}
	in := row.Lead
	phone, err := jack.NormalizePhone(in.Lead.PhoneNumber, region)
	if err != nil {
		return in, jack.ValidationError(map[string]string{"phoneNumber": "is not a valid phone number"})
	}
	in.Lead.PhoneNumber, in.Lead.PhoneNumberNormalized = phone, phone
	if in.Lead.CustomerName == "" {
		in.Lead.CustomerName = jack.DisplayPhone(phone)
	}
	if in.Lead.LastActivity.IsZero() || in.Lead.LastActivity.After(now) {
		// Not "now": an imported lead without a date of its own must not push the
		// conversations staff are working off the top of the list.
		in.Lead.LastActivity = jack.NoActivity
	}
	return in, nil
}

// isRowError reports whether err is about the row itself rather than the import.
func isRowError(err error) bool {
	switch jack.ErrorCode(err) {
	case jack.EUNPROCESSABLE, jack.EINVALID, jack.ECONFLICT, jack.ETOOLARGE:
		return true
	}
	return false
}

func newRowError(line int, err error) RowError {
	re := RowError{Line: line, Message: jack.ErrorMessage(err)}
	var e *jack.Error
	if errors.As(err, &e) && len(e.Fields) > 0 {
		re.Fields = e.Fields
	}
	return re
}

// fileError is a problem with the whole file: nothing can be imported from it.
func fileError(format string, args ...any) error {
	return jack.Errorf(jack.EUNPROCESSABLE, format, args...)
}

// missing is the row error of a lead without the required field.
func missing(field, problem string) error {
	return jack.ValidationError(map[string]string{field: problem})
}

var bom = []byte("\xef\xbb\xbf")

func stripBOM(b []byte) []byte { return bytes.TrimPrefix(b, bom) }

// readAll reads a feed as UTF-8 without a BOM. Feeds that are not valid UTF-8 are taken to be
// Windows-1252 (what Excel and older lead systems write), a superset of ISO-8859-1's text.
func readAll(r io.Reader) ([]byte, error) {
	data, err := io.ReadAll(r)
	if err != nil {
		return nil, fmt.Errorf("read feed: %w", err)
	}
	data = stripBOM(data)
	if !utf8.Valid(data) {
		data = decodeWindows1252(data)
	}
	return data, nil
}

// clean trims a feed value, collapses runs of white space (line breaks in quoted fields) into one
// space and drops control characters, which no lead field wants and Postgres refuses (NUL).
func clean(s string) string {
	s = strings.Map(func(r rune) rune {
		if unicode.IsControl(r) && !unicode.IsSpace(r) {
			return -1
		}
		return r
	}, strings.ToValidUTF8(s, "\uFFFD"))
	return strings.Join(strings.Fields(s), " ")
}

// joinNonEmpty joins the non-empty values with sep.
func joinNonEmpty(sep string, values ...string) string {
	var parts []string
	for _, v := range values {
		if v != "" {
			parts = append(parts, v)
		}
	}
	return strings.Join(parts, sep)
}

// plausiblePhone reports whether s has as many digits as a phone number can have; whether it is
// valid depends on the region, which Import knows.
func plausiblePhone(s string) bool {
	n := 0
	for _, r := range s {
		if r >= '0' && r <= '9' {
			n++
		}
	}
	return n >= 7 && n <= 17 && len(s) <= 64
}
