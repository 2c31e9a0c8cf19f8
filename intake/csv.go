package intake

import (
	"bytes"
	"encoding/csv"
	"errors"
	"io"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/jack-auto/jack"
)

// column is the lead field a CSV column holds.
type column int

const (
	colIgnored column = iota
	colName
	colFirst
	colLast
	colMobile // a mobile number is preferred to other phones: it can take texts
	colPhone
	colEmail
	colVehicle
	colYear
	colMake
	colModel
	colTrim
	colBudget
	colCredit
	colStatus
	colID
	colDate
)

// csvColumns maps header names, reduced to lower-case letters and digits (headerKey), to fields.
// Headers not listed (notes, address …) are ignored.
var csvColumns = map[string]column{
	"name": colName, "fullname": colName, "customername": colName, "customer": colName, "contactname": colName,
	"firstname": colFirst, "first": colFirst, "givenname": colFirst,
	"lastname": colLast, "last": colLast, "surname": colLast, "familyname": colLast,
	"mobile": colMobile, "mobilephone": colMobile, "mobilenumber": colMobile,
	"cell": colMobile, "cellphone": colMobile, "cellnumber": colMobile, "cellphonenumber": colMobile,
	"phone": colPhone, "phonenumber": colPhone, "telephone": colPhone, "telephonenumber": colPhone, "tel": colPhone,
	"email": colEmail, "emailaddress": colEmail,
	"vehicle": colVehicle, "vehicleinterest": colVehicle, "vehicleofinterest": colVehicle, "vehiclepreference": colVehicle,
	"year": colYear, "vehicleyear": colYear, "make": colMake, "vehiclemake": colMake,
	"model": colModel, "vehiclemodel": colModel, "trim": colTrim, "vehicletrim": colTrim,
	"budget": colBudget, "budgetrange": colBudget,
	"credit": colCredit, "creditscore": colCredit, "creditscorerange": colCredit,
	"status": colStatus, "chasestatus": colStatus, "leadstatus": colStatus,
	"id": colID, "leadid": colID, "externalid": colID,
	"lastactivity": colDate, "lastcontact": colDate, "lastcontacted": colDate, "date": colDate,
	"leaddate": colDate, "created": colDate, "createdat": colDate, "datecreated": colDate, "createddate": colDate,
}

// csvDateLayouts are the dates spreadsheets and CRM exports write (US month first, as the
// CRMs Jack's dealerships export from do).
var csvDateLayouts = []string{time.RFC3339, "2006-01-02 15:04:05", "2006-01-02 15:04", "2006-01-02",
	"1/2/2006 15:04:05", "1/2/2006 15:04", "1/2/2006 3:04 PM", "1/2/2006"}

// csvDate reads a date cell as UTC; zero when it is empty or not a date.
func csvDate(s string) time.Time { return parseDate(csvDateLayouts, s) }

// CSVSource is the feed source of CSV rows: with a row's id column, the de-duplication key.
const CSVSource = "csv"

// headerKey reduces a header to its lower-case letters and digits, so "Phone Number",
// "phone_number", "PHONE-NUMBER" and "E-mail" match their csvColumns entry.
func headerKey(h string) string {
	return strings.Map(func(r rune) rune {
		if unicode.IsLetter(r) || unicode.IsDigit(r) {
			return unicode.ToLower(r)
		}
		return -1
	}, h)
}

// ParseCSV reads a CSV export with a header row. Header names are matched case-, space- and
// underscore-insensitively: name | full name | customer name, or first name + last name;
// phone | phone number | mobile | cell | telephone (a mobile column is preferred); email | e-mail;
// vehicle | vehicle interest | vehicle of interest, or year + make + model (+ trim); budget;
// credit | credit score; status (a chase status); last activity | last contact | date | created
// (the lead's own last activity, e.g. 2024-03-30 or 3/30/2024); id | lead id | external id (the row's
// ExternalID, with Source "csv"). Other columns (notes …) are ignored. The delimiter is Excel's
// "sep=" first line, else sniffed from the header (comma, semicolon or tab); a BOM, CRLF line ends, quoted fields, blank lines
// and rows of empty cells are fine. A file without a phone column is a file-level
// EUNPROCESSABLE error; a row without a phone is a row error.
func ParseCSV(r io.Reader) ([]Row, error) {
	data, err := readAll(r)
	if err != nil {
		return nil, err
	}
	if len(bytes.TrimSpace(data)) == 0 {
		return nil, fileError("The file is empty.")
	}
	comma, skipped := excelSeparator(data)
	if skipped > 0 {
		data = data[skipped:]
	} else {
		comma = sniffDelimiter(data)
	}
	lineOffset := min(skipped, 1) // the sep= line
	cr := csv.NewReader(bytes.NewReader(data))
	cr.Comma = comma
	cr.FieldsPerRecord = -1
	cr.LazyQuotes = true // 5'10" and stray quotes in exports from hand-kept spreadsheets

	header, err := cr.Read()
	if err != nil {
		return nil, fileError("The file's header row cannot be read.")
	}
	cols := make([]column, len(header))
	hasPhone := false
	for i, h := range header {
		cols[i] = csvColumns[headerKey(h)]
		hasPhone = hasPhone || cols[i] == colMobile || cols[i] == colPhone
	}
	if !hasPhone {
		return nil, fileError("The file has no phone column (phone, phone number, mobile, cell or telephone).")
	}

	var rows []Row
	for {
		record, err := cr.Read()
		if errors.Is(err, io.EOF) {
			return rows, nil
		}
		var perr *csv.ParseError
		if errors.As(err, &perr) {
			rows = append(rows, Row{Line: perr.StartLine + lineOffset, Err: jack.Errorf(jack.EUNPROCESSABLE, "The row cannot be read as CSV.")})
			continue
		} else if err != nil {
			return nil, fileError("The file cannot be read as CSV.")
		}
		if hasText(record) {
			line, _ := cr.FieldPos(0)
			rows = append(rows, csvRow(line+lineOffset, cols, record))
		}
	}
}

// csvRow turns a record into a row.
func csvRow(line int, cols []column, record []string) Row {
	values := map[column][]string{}
	for i, v := range record {
		if i < len(cols) && cols[i] != colIgnored {
			values[cols[i]] = append(values[cols[i]], clean(v))
		}
	}
	get := func(cs ...column) string {
		for _, c := range cs {
			for _, v := range values[c] {
				if v != "" {
					return v
				}
			}
		}
		return ""
	}
	lead := jack.Lead{
		CustomerName:      get(colName),
		PhoneNumber:       get(colMobile, colPhone),
		Email:             get(colEmail),
		VehiclePreference: get(colVehicle),
		BudgetRange:       get(colBudget),
		CreditScoreRange:  get(colCredit),
		ChaseStatus:       strings.ToLower(get(colStatus)),
		LastActivity:      csvDate(get(colDate)),
	}
	if lead.CustomerName == "" {
		lead.CustomerName = joinNonEmpty(" ", get(colFirst), get(colLast))
	}
	if lead.VehiclePreference == "" {
		lead.VehiclePreference = joinNonEmpty(" ", get(colYear), get(colMake), get(colModel), get(colTrim))
	}
	row := Row{Line: line, Lead: jack.ImportedLead{Lead: lead, Source: CSVSource, ExternalID: get(colID)}}
	if lead.PhoneNumber == "" {
		row.Err = missing("phoneNumber", "is required")
	}
	return row
}

// hasText reports whether any cell of a record holds more than white space: spreadsheets leave
// rows of empty cells, which are not leads.
func hasText(record []string) bool {
	for _, v := range record {
		if clean(v) != "" {
			return true
		}
	}
	return false
}

// excelSeparator reads the "sep=;" line Excel writes first to name the delimiter: the delimiter
// and the length of the line, or 0 when there is none.
func excelSeparator(data []byte) (rune, int) {
	first, _, _ := bytes.Cut(data, []byte("\n"))
	line := bytes.TrimSpace(first)
	if len(line) != 5 || !bytes.EqualFold(line[:4], []byte("sep=")) || line[4] == '"' || line[4] >= utf8.RuneSelf {
		return 0, 0
	}
	return rune(line[4]), min(len(first)+1, len(data))
}

// sniffDelimiter returns the comma, semicolon or tab that occurs most often outside quotes on the
// first non-blank line (the header); a comma when none does.
func sniffDelimiter(data []byte) rune {
	counts := map[rune]int{}
	inQuotes, seen := false, false
	for _, c := range string(data) {
		switch {
		case c == '"':
			inQuotes = !inQuotes
		case inQuotes:
		case c == '\n' || c == '\r':
			if seen {
				return mostFrequent(counts)
			}
		case c == ',' || c == ';' || c == '\t':
			counts[c]++
			seen = true
		case !unicode.IsSpace(c):
			seen = true
		}
	}
	return mostFrequent(counts)
}

func mostFrequent(counts map[rune]int) rune {
	best := ','
	for _, c := range []rune{';', '\t'} {
		if counts[c] > counts[best] {
			best = c
		}
	}
	return best
}
