package intake

import (
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"regexp"
	"strings"
	"time"

	"github.com/jack-auto/jack"
)

// ADFSource is the feed source of a prospect that names neither its provider nor its id's source.
const ADFSource = "adf"

// maxADFDepth bounds how deeply a prospect's elements may nest (real ones nest four deep).
const maxADFDepth = 32

// ParseADF reads an ADF/XML 1.0 document (<?ADF VERSION "1.0"?><adf><prospect>…</prospect></adf>),
// one row per prospect: the customer's name (part full, else first + last), phone (a cellphone,
// else a voice number; never fax or pager), email, the vehicle of interest ("2021 Honda Civic EX",
// from the first vehicle the customer wants to buy or lease; trade-ins are the customer's own car
// and are left out) and the request date (the lead's last activity). The de-duplication key is
// ExternalID "<id>@<id source>" with Source the provider's name (else the id's source, else "adf").
//
// Parsing is lenient: no XML declaration, unknown elements, surrounding white space, element,
// attribute and value case, HTML entities (&nbsp;), ISO-8859-1/Windows-1252 text, unclosed
// elements and a lone <prospect> root are all fine. A prospect without a usable phone, or one
// that is not well-formed XML, becomes a row error and the other prospects are kept. A document
// that is not XML, or whose root is neither <adf> nor <prospect>, is a file-level EUNPROCESSABLE
// error. Entities are never expanded beyond HTML's named ones, so entity bombs cannot grow it.
func ParseADF(r io.Reader) ([]Row, error) {
	data, err := readAll(r)
	if err != nil {
		return nil, err
	}
	data, err = toUTF8XML(data)
	if err != nil {
		return nil, err
	}
	trimmed := bytes.TrimSpace(data)
	if len(trimmed) == 0 {
		return nil, fileError("The document is empty.")
	}
	if trimmed[0] != '<' {
		return nil, fileError("The document is not XML.")
	}

	p := adfParser{data: data}
	if err := p.parse(); err != nil {
		return nil, err
	}
	return p.rows, nil
}

// adfParser walks a document prospect by prospect. After a syntax error it starts a new decoder
// at the next <prospect, so one broken prospect costs only itself.
type adfParser struct {
	data []byte
	base int // offset in data of the current decoder's input
	line int // the line of data[base], from 1
	dec  *xml.Decoder
	root string
	rows []Row
}

// prospectStart finds the next <prospect element (any case).
var prospectStart = regexp.MustCompile(`(?i)<prospect[\s/>]`)

func (p *adfParser) parse() error {
	p.line = 1
	p.restart(0)
	for {
		tok, err := p.dec.Token()
		if errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			if p.root == "" {
				return fileError("The document is not well-formed XML%s.", p.where(err))
			}
			if !p.resync(p.base + int(p.dec.InputOffset())) {
				break
			}
			continue
		}
		start, ok := tok.(xml.StartElement)
		if !ok {
			continue
		}
		name := strings.ToLower(start.Name.Local)
		if p.root == "" {
			if name != "adf" && name != "prospect" {
				return fileError("The document is not ADF: its root element is <%s>, not <adf>.", start.Name.Local)
			}
			p.root = name
		}
		if name != "prospect" {
			continue
		}
		at := p.base + int(p.dec.InputOffset())
		index := len(p.rows) + 1
		prospect, err := readElement(p.dec, start)
		if err != nil {
			p.rows = append(p.rows, Row{Line: index,
				Err: jack.Errorf(jack.EUNPROCESSABLE, "The prospect is not well-formed XML%s.", p.where(err))})
			if !p.resync(max(at, p.base+int(p.dec.InputOffset()))) {
				break
			}
			continue
		}
		p.rows = append(p.rows, prospectRow(index, prospect))
	}
	if p.root == "" {
		return fileError("The document has no <adf> or <prospect> element.")
	}
	return nil
}

// restart decodes from data[off:].
func (p *adfParser) restart(off int) {
	p.line += bytes.Count(p.data[p.base:off], []byte("\n"))
	p.base = off
	p.dec = xml.NewDecoder(bytes.NewReader(p.data[off:]))
	p.dec.Strict = false
	p.dec.AutoClose = xml.HTMLAutoClose
	p.dec.Entity = xml.HTMLEntity
	// toUTF8XML converted the text already; any other declared encoding was refused there.
	p.dec.CharsetReader = func(_ string, in io.Reader) (io.Reader, error) { return in, nil }
}

// resync restarts at the first <prospect after off; false when there is none.
func (p *adfParser) resync(off int) bool {
	off = min(max(off, p.base+1), len(p.data))
	loc := prospectStart.FindIndex(p.data[off:])
	if loc == nil {
		return false
	}
	p.restart(off + loc[0])
	return true
}

// where describes a syntax error's position in the whole document: " (line 12: …)".
func (p *adfParser) where(err error) string {
	var se *xml.SyntaxError
	if !errors.As(err, &se) {
		return ""
	}
	return fmt.Sprintf(" (line %d: %s)", p.line+se.Line-1, se.Msg)
}

// xmlEncoding finds the encoding of an XML declaration.
var xmlEncoding = regexp.MustCompile(`^\s*<\?xml[^>]*?encoding\s*=\s*["']([^"']*)["']`)

// toUTF8XML returns the document as UTF-8. readAll already took text that is not UTF-8 for
// Windows-1252; a declared encoding must be UTF-8 or one of Windows-1252's subsets (any other
// is a file-level error), so the decoder need not convert anything.
func toUTF8XML(data []byte) ([]byte, error) {
	m := xmlEncoding.FindSubmatch(data)
	if m == nil {
		return data, nil
	}
	label := strings.ToLower(strings.TrimSpace(string(m[1])))
	if label == "utf-8" || label == "utf8" || label == "" || isLatin(label) {
		return data, nil
	}
	return nil, fileError("The document's encoding %q is not supported: use UTF-8 or ISO-8859-1.", m[1])
}

// element is an XML element with lower-cased names and its own text.
type element struct {
	name     string
	attrs    map[string]string
	children []*element
	text     strings.Builder
}

// readElement reads the rest of start's element into a tree.
func readElement(dec *xml.Decoder, start xml.StartElement) (*element, error) {
	root := newElement(start)
	stack := []*element{root}
	for len(stack) > 0 {
		tok, err := dec.Token()
		if errors.Is(err, io.EOF) {
			return nil, io.ErrUnexpectedEOF
		} else if err != nil {
			return nil, err
		}
		top := stack[len(stack)-1]
		switch t := tok.(type) {
		case xml.StartElement:
			if len(stack) >= maxADFDepth {
				return nil, errors.New("elements nest too deeply")
			}
			e := newElement(t)
			top.children = append(top.children, e)
			stack = append(stack, e)
		case xml.EndElement:
			stack = stack[:len(stack)-1]
		case xml.CharData:
			top.text.Write(t)
		}
	}
	return root, nil
}

func newElement(start xml.StartElement) *element {
	e := &element{name: strings.ToLower(start.Name.Local), attrs: make(map[string]string, len(start.Attr))}
	for _, a := range start.Attr {
		e.attrs[strings.ToLower(a.Name.Local)] = clean(a.Value)
	}
	return e
}

// child returns the first child named name, or nil.
func (e *element) child(name string) *element {
	if e == nil {
		return nil
	}
	for _, c := range e.children {
		if c.name == name {
			return c
		}
	}
	return nil
}

// all returns the children named name.
func (e *element) all(name string) []*element {
	if e == nil {
		return nil
	}
	var out []*element
	for _, c := range e.children {
		if c.name == name {
			out = append(out, c)
		}
	}
	return out
}

// value returns the cleaned text of the first child named name ("" when none).
func (e *element) value(name string) string {
	if c := e.child(name); c != nil {
		return c.value0()
	}
	return ""
}

func (e *element) value0() string { return clean(e.text.String()) }

// attr returns an attribute's value in lower case ("" when missing).
func (e *element) attr(name string) string { return strings.ToLower(e.attrs[name]) }

// prospectRow maps a prospect to a row.
func prospectRow(index int, p *element) Row {
	contact := p.child("customer").child("contact")
	lead := jack.Lead{
		CustomerName:      adfName(contact),
		Email:             adfEmail(contact),
		VehiclePreference: adfVehicle(p),
		LastActivity:      adfDate(p.value("requestdate")),
	}
	phone, found := adfPhone(contact)
	lead.PhoneNumber = phone
	source, id := adfKey(p)
	row := Row{Line: index, Lead: jack.ImportedLead{Lead: lead, Source: source, ExternalID: id}}
	switch {
	case phone == "" && found:
		row.Err = missing("phoneNumber", "is not a valid phone number")
	case phone == "":
		row.Err = missing("phoneNumber", "is required")
	}
	return row
}

// adfName is the contact's full name, else first + last.
func adfName(contact *element) string {
	parts := map[string]string{}
	for _, n := range contact.all("name") {
		part := n.attr("part")
		if part == "" {
			part = "full"
		}
		if v := n.value0(); v != "" && parts[part] == "" {
			parts[part] = v
		}
	}
	if parts["full"] != "" {
		return parts["full"]
	}
	return joinNonEmpty(" ", parts["first"], parts["last"])
}

func adfEmail(contact *element) string {
	for _, e := range contact.all("email") {
		if v := e.value0(); v != "" {
			return v
		}
	}
	return ""
}

// phoneRank orders phone types: a cellphone takes texts; a voice number (ADF's default type)
// may; fax and pager numbers never reach the customer.
func phoneRank(kind string) int {
	switch kind {
	case "cellphone", "cell", "mobile":
		return 0
	case "voice", "", "home", "work":
		return 1
	case "fax", "pager":
		return -1
	}
	return 2
}

// adfPhone returns the best plausible phone of the contact, and whether it had any phone text
// at all (so "no phone" and "no usable phone" read differently).
func adfPhone(contact *element) (string, bool) {
	best, bestRank, found := "", 99, false
	for _, ph := range contact.all("phone") {
		v := ph.value0()
		rank := phoneRank(ph.attr("type"))
		if v == "" || rank < 0 {
			continue
		}
		found = true
		if plausiblePhone(v) && rank < bestRank {
			best, bestRank = v, rank
		}
	}
	return best, found
}

// adfVehicle describes the first vehicle the customer wants ("2021 Honda Civic EX"). A vehicle
// without interest is one to buy (ADF's default); sell and trade-in vehicles are the customer's.
func adfVehicle(p *element) string {
	for _, v := range p.all("vehicle") {
		switch v.attr("interest") {
		case "trade-in", "tradein", "sell":
			continue
		}
		if d := joinNonEmpty(" ", v.value("year"), v.value("make"), v.value("model"), v.value("trim")); d != "" {
			return d
		}
	}
	return ""
}

// adfKey returns the prospect's de-duplication key: the first non-empty <id> as "id@source",
// and as Source the provider's name, else the id's source, else "adf".
func adfKey(p *element) (source, externalID string) {
	idSource := ""
	for _, e := range p.all("id") {
		if v := e.value0(); v != "" {
			idSource = e.attrs["source"]
			externalID = v
			if idSource != "" {
				externalID = v + "@" + idSource
			}
			break
		}
	}
	provider := p.child("provider")
	name := provider.value("name")
	if name == "" {
		name = adfName(provider.child("contact"))
	}
	switch {
	case name != "":
		return name, externalID
	case idSource != "":
		return idSource, externalID
	}
	return ADFSource, externalID
}

// adfDateLayouts are the request date forms seen in ADF feeds (ISO 8601 with and without zone).
var adfDateLayouts = []string{
	time.RFC3339, "2006-01-02T15:04:05-0700", "2006-01-02T15:04:05", "2006-01-02 15:04:05",
	"2006-01-02T15:04", "2006-01-02",
}

// adfDate reads a request date (UTC); the zero time when missing or unreadable.
func adfDate(s string) time.Time { return parseDate(adfDateLayouts, s) }

// parseDate reads s in the first of layouts that fits, as UTC; the zero time when none does.
func parseDate(layouts []string, s string) time.Time {
	for _, layout := range layouts {
		if t, err := time.Parse(layout, s); err == nil {
			return t.UTC()
		}
	}
	return time.Time{}
}
