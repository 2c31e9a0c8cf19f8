package main

import (
	"net/http"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestBrowser_Import drives the Import page at laptop and 375 px widths on Postgres: a file
// the server cannot read as a feed (a CSV without a phone column) is answered with its reason; a CSV creates one lead, updates
// another and skips a row with a bad phone, and the page shows the upload's progress and the
// report: the counts and the skipped row's line and reason.
func TestBrowser_Import(t *testing.T) {
	t.Parallel()
	for _, v := range viewports {
		t.Run(v.name, func(t *testing.T) {
			w := newWorkday(t, v.phone, v.width, v.height)
			w.owner.must("POST", "/api/leads", map[string]string{"customerName": "Maria Lopez", "phoneNumber": "+16045550142"}, http.StatusCreated, nil)
			choose := func(name, typ, content string) {
				w.js("choose "+name, `(i => { const dt = new DataTransfer(); dt.items.add(new File([`+jsString(t, content)+`], `+jsString(t, name)+`, { type: `+jsString(t, typ)+` }));
					i.files = dt.files; i.dispatchEvent(new Event("change", { bubbles: true })); })(document.querySelector("#import-file"))`)
			}

			w.js("open the import", `document.querySelector('.nav a[data-page="import"]').click()`)
			w.b.waitJS("the form", `!!document.querySelector("#import-file")`)

			choose("contacts.csv", "text/csv", "name,notes\nNo Phone,call back\n")
			w.js("import", `document.querySelector("#import-submit").click()`)
			w.b.waitJS("the reason", `(s => s.textContent.toLowerCase().includes("phone") && !s.textContent.startsWith("Uploading") && !s.textContent.startsWith("Importing"))(document.querySelector("#import-status"))`)
			require.Empty(t, evalJS[string](w.b, `document.querySelector("#import-result").textContent`), "no report for a refused file")

			choose("leads.csv", "text/csv", "name,phone,email\nNew Person,6045550160,\nMaria Lopez,6045550142,maria@example.com\nBad Phone,12,\n")
			w.js("import", `document.querySelector("#import-submit").click()`)
			w.b.waitJS("the report", `!!document.querySelector("#import-result .import-summary")`)
			count := func(cls string) string {
				return evalJS[string](w.b, `document.querySelector("#import-result .`+cls+` strong").textContent`)
			}
			require.Equal(t, "1", count("import-created"))
			require.Equal(t, "1", count("import-updated"))
			require.Equal(t, "1", count("import-skipped"))
			require.Equal(t, 100, evalJS[int](w.b, `document.querySelector("#import-progress").value`), "the upload finished")
			skipped := evalJS[string](w.b, `document.querySelector("#import-errors li").textContent`)
			require.Contains(t, skipped, "Line 4: ")
			require.Contains(t, skipped, "phoneNumber")

			require.Equal(t, "New Person", w.lead(t, "+16045550160").CustomerName)
			require.Equal(t, "maria@example.com", w.lead(t, "+16045550142").Email)
			w.requireClean(t, http.StatusUnprocessableEntity)
		})
	}
}
