package crm_test

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/jack-auto/jack"
	"github.com/jack-auto/jack/crm"
	"github.com/jack-auto/jack/intake"
)

// Whatever a lead holds, the ADF Jack writes reads back through Jack's own importer.
func TestADFRoundTrip(t *testing.T) {
	for _, tc := range []struct {
		name, customer, email, vehicle, wantVehicle string
	}{
		{"Plain", "Alex Doe", "alex@example.com", "2021 Honda Civic EX", "2021 Honda Civic EX"},
		{"Markup", `Tom & "Jerry" <Smith>`, "tom+jerry@example.com", "F-150 <Lariat> & tow pkg", "F-150 <Lariat> & tow pkg"},
		{"Accents", "Émile Noël-Çelik", "", "Škoda Octavia", "Škoda Octavia"},
		{"SpacesFolded", "  Ana   Ruiz ", "", " 2019   Toyota  RAV4 ", "2019 Toyota RAV4"},
		{"NoVehicle", "Sam", "sam@example.com", "", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			lead := jack.NewLead(uuid.New(), tc.customer, "+16045550123", time.Now().UTC())
			lead.Email, lead.VehiclePreference, lead.BudgetRange = tc.email, tc.vehicle, "$20k & up"
			at := time.Date(2026, 12, 6, 21, 30, 0, 0, time.UTC)
			doc, err := crm.ADF(crm.Prospect{Lead: lead, Dealership: "Premium Auto & Sons", Summary: "Wants <a> quote",
				RequestDate: at, EventID: "evt-1", EventType: jack.IntegrationLeadCreated})
			require.NoError(t, err)
			rows, err := intake.ParseADF(bytes.NewReader(doc))
			require.NoError(t, err, "%s", doc)
			require.Len(t, rows, 1)
			require.NoError(t, rows[0].Err)
			got := rows[0].Lead
			require.Equal(t, jack.Lead{CustomerName: strings.Join(strings.Fields(tc.customer), " "), Email: tc.email, PhoneNumber: "+16045550123",
				VehiclePreference: tc.wantVehicle, LastActivity: at}, got.Lead)
			require.Equal(t, "Jack", got.Source)
			require.Equal(t, "evt-1@Jack", got.ExternalID)
			require.Contains(t, string(doc), "<vendorname>Premium Auto &amp; Sons</vendorname>")
			require.Contains(t, string(doc), "Summary: Wants &lt;a&gt; quote")
		})
	}
}
