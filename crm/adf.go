package crm

import (
	"bytes"
	"encoding/xml"
	"fmt"
	"regexp"
	"strings"
	"time"

	"github.com/jack-auto/jack"
)

// Prospect is what an ADF document says about one lead: the customer, the vehicle of interest,
// the dealership (vendor) and what Jack learned (comments).
type Prospect struct {
	Lead        *jack.Lead
	Dealership  string
	Summary     string // the AI's summary of the conversation
	RequestDate time.Time
	EventID     string // the integration event id, as the prospect's <id source="Jack">
	EventType   string
}

// adf is the ADF 1.0 document Jack writes (the subset CRMs read).
type adf struct {
	XMLName  xml.Name    `xml:"adf"`
	Prospect adfProspect `xml:"prospect"`
}

type adfProspect struct {
	Status      string      `xml:"status,attr"`
	ID          adfID       `xml:"id"`
	RequestDate string      `xml:"requestdate"`
	Vehicle     *adfVehicle `xml:"vehicle,omitempty"`
	Customer    adfCustomer `xml:"customer"`
	Vendor      adfVendor   `xml:"vendor"`
	Provider    adfProvider `xml:"provider"`
}

type adfID struct {
	Sequence string `xml:"sequence,attr"`
	Source   string `xml:"source,attr"`
	Value    string `xml:",chardata"`
}

type adfVehicle struct {
	Interest string `xml:"interest,attr"`
	Status   string `xml:"status,attr,omitempty"` // new or used: Jack does not know
	Year     string `xml:"year,omitempty"`
	Make     string `xml:"make,omitempty"`
	Model    string `xml:"model,omitempty"`
}

type adfCustomer struct {
	Contact  adfContact  `xml:"contact"`
	Comments *adfComment `xml:"comments,omitempty"`
}

// adfComment is text with its line breaks kept as they are (encoding/xml would write &#xA;),
// so a CRM shows one fact a line.
type adfComment struct {
	Text string `xml:",innerxml"`
}

func newComment(text string) *adfComment {
	if text == "" {
		return nil
	}
	var b bytes.Buffer
	_ = xml.EscapeText(&b, []byte(text))
	return &adfComment{Text: strings.ReplaceAll(b.String(), "&#xA;", "\n")}
}

type adfContact struct {
	Name  []adfName  `xml:"name"`
	Email string     `xml:"email,omitempty"`
	Phone []adfPhone `xml:"phone"`
}

type adfName struct {
	Part  string `xml:"part,attr"`
	Value string `xml:",chardata"`
}

type adfPhone struct {
	Type  string `xml:"type,attr"`
	Value string `xml:",chardata"`
}

type adfVendor struct {
	VendorName string `xml:"vendorname"`
}

type adfProvider struct {
	Name string `xml:"name"`
	URL  string `xml:"url,omitempty"`
}

// yearPrefix splits "2021 Honda Civic EX" into a model year and the rest.
var yearPrefix = regexp.MustCompile(`^((?:19|20)\d\d)\s+(.+)$`)

// ADF returns the ADF 1.0 XML of p: <?ADF VERSION "1.0"?>, one <prospect> with the request date,
// the customer's name, phone, e-mail and the comments (summary, qualification, status), the
// vehicle of interest (interest="buy") from the lead's vehicle preference, the dealership as
// vendor and Jack as provider. intake.ParseADF reads it back.
func ADF(p Prospect) ([]byte, error) {
	l := p.Lead
	doc := adf{Prospect: adfProspect{
		Status:      "new",
		ID:          adfID{Sequence: "1", Source: "Jack", Value: p.EventID},
		RequestDate: p.RequestDate.UTC().Format(time.RFC3339),
		Customer: adfCustomer{
			Contact:  adfContact{Email: l.Email, Phone: []adfPhone{{Type: "cellphone", Value: l.PhoneNumberNormalized}}},
			Comments: newComment(comments(p)),
		},
		Vendor:   adfVendor{VendorName: p.Dealership},
		Provider: adfProvider{Name: "Jack"},
	}}
	if l.CustomerName != "" {
		doc.Prospect.Customer.Contact.Name = []adfName{{Part: "full", Value: l.CustomerName}}
	}
	if v := strings.Join(strings.Fields(l.VehiclePreference), " "); v != "" {
		veh := &adfVehicle{Interest: "buy", Model: v}
		if m := yearPrefix.FindStringSubmatch(v); m != nil {
			veh.Year, veh.Model = m[1], m[2]
		}
		doc.Prospect.Vehicle = veh
	}
	var buf bytes.Buffer
	buf.WriteString(xml.Header)
	buf.WriteString("<?ADF VERSION \"1.0\"?>\n")
	enc := xml.NewEncoder(&buf)
	enc.Indent("", "  ")
	if err := enc.Encode(doc); err != nil {
		return nil, fmt.Errorf("encode adf: %w", err)
	}
	buf.WriteByte('\n')
	return buf.Bytes(), nil
}

// comments is the prospect's free text: what the AI learned, one fact a line.
func comments(p Prospect) string {
	l := p.Lead
	var lines []string
	add := func(label, v string) {
		if v = strings.TrimSpace(v); v != "" && v != "unknown" {
			lines = append(lines, label+": "+v)
		}
	}
	add("Summary", p.Summary)
	add("Status", l.ChaseStatus)
	add("Vehicle interest", l.VehiclePreference)
	add("Budget", l.BudgetRange)
	add("Credit", l.CreditScoreRange)
	add("Funding readiness", l.FundingReadiness)
	if l.LeadQualityScore != nil {
		add("Lead score", fmt.Sprintf("%.0f/100", *l.LeadQualityScore))
	}
	add("Event", p.EventType)
	return strings.Join(lines, "\n")
}
