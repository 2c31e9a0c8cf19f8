// Package intaketest holds the lead feeds of the import acceptance tests, so the HTTP and CLI
// tests import the same files: three leads, one new, one malformed and one already known.
package intaketest

import "fmt"

// Feed is a feed file of three leads and what importing it must report.
type Feed struct {
	Name        string // "ADF" or "CSV"
	ContentType string
	Body        string
	ErrorLine   int    // the malformed lead's line (CSV) or prospect index (ADF)
	NewName     string // the new lead's name, vehicle and email as stored
	NewVehicle  string
	NewEmail    string
	DupVehicle  string // the vehicle the known lead is updated to
}

// Feeds returns the ADF and the CSV feed. newPhone is a customer the organization does not know
// yet; dupPhone one it does (with another vehicle). Both are US numbers in national format,
// e.g. "(201) 555-0150", read in the organization's region.
func Feeds(newPhone, dupPhone string) []Feed {
	adf := fmt.Sprintf(`<?xml version="1.0" encoding="UTF-8"?>
<?ADF VERSION "1.0"?>
<adf>
  <prospect>
    <id sequence="1" source="leads.example">A-1</id>
    <requestdate>2024-03-30T15:30:20-08:00</requestdate>
    <vehicle interest="buy" status="new"><year>2021</year><make>Honda</make><model>Civic</model><trim>EX</trim></vehicle>
    <customer><contact>
      <name part="first">Alex</name><name part="last">Doe</name>
      <email>Alex@Example.com</email>
      <phone type="fax">%[1]s</phone>
      <phone type="cellphone">%[1]s</phone>
    </contact></customer>
    <provider><name part="full">CarsDirect</name></provider>
  </prospect>
  <prospect>
    <id source="leads.example">A-2</id>
    <customer><contact><name part="full">Broken Bob</name><phone>5 < 6</phone></contact></customer>
  </prospect>
  <prospect>
    <id source="leads.example">A-3</id>
    <vehicle interest="lease"><year>2024</year><make>Toyota</make><model>RAV4</model><trim>XLE</trim></vehicle>
    <vehicle interest="trade-in"><year>2012</year><make>Ford</make><model>Fiesta</model></vehicle>
    <customer><contact><name part="full">Dana Dupe</name><phone type="voice">%[2]s</phone></contact></customer>
    <provider><name part="full">CarsDirect</name></provider>
  </prospect>
</adf>
`, newPhone, dupPhone)
	csv := "\ufeffLead ID;First Name;Last Name;Mobile;E-mail;Vehicle of Interest;Notes\r\n" +
		fmt.Sprintf("C-1;Alex;Doe;%s;Alex@Example.com;2021 Honda Civic EX;\"call after 5; weekdays\"\r\n", newPhone) +
		"C-2;Broken;Bob;12345;;;\r\n" +
		fmt.Sprintf("C-3;Dana;Dupe;%s;;2024 Toyota RAV4 XLE;\r\n", dupPhone)
	common := Feed{NewName: "Alex Doe", NewVehicle: "2021 Honda Civic EX", NewEmail: "alex@example.com", DupVehicle: "2024 Toyota RAV4 XLE"}
	a, c := common, common
	a.Name, a.ContentType, a.Body, a.ErrorLine = "ADF", "application/xml", adf, 2
	c.Name, c.ContentType, c.Body, c.ErrorLine = "CSV", "text/csv", csv, 3
	return []Feed{a, c}
}
