package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/jack-auto/jack"
)

const auditUsage = `usage: jack audit [--json] [--show-phones]

Checks every organization's data in the configured database (DATABASE_URL, else the embedded one
under JACK_DATA_DIR), migrating it first: rows without an organization, active numbers that
cannot take AI calls (no ElevenLabs phone id), leads whose phone is not valid E.164, and, for
information, customer phones that several organizations share. Customer phones are masked unless
--show-phones (dealership numbers are shown: they are the business's public lines). Exits
non-zero when it finds a problem; shared customer phones alone are not one.
`

// errAuditProblems is the command's failure when the audit found problems (already reported).
var errAuditProblems = errors.New("the audit found problems")

// runAudit runs `jack audit`.
func runAudit(ctx context.Context, cfg Config, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("audit", auditUsage, stderr)
	asJSON := fs.Bool("json", false, "print the report as JSON")
	showPhones := fs.Bool("show-phones", false, "show customer phones in full")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("audit takes no arguments, not %q", fs.Arg(0))
	}
	store, err := openStore(ctx, cfg, NewLogger(cfg, stderr))
	if err != nil {
		return err
	}
	defer func() { _ = store.Close() }()
	report, err := store.Audit(ctx)
	if err != nil {
		return fmt.Errorf("audit: %w", err)
	}
	if !*showPhones {
		maskAudit(report)
	}
	if *asJSON {
		if err := writeJSON(stdout, report); err != nil {
			return err
		}
	} else {
		writeAudit(stdout, report)
	}
	if report.Problems() {
		return errAuditProblems
	}
	return nil
}

// maskAudit masks the customer phones of a report (jack.MaskPhone).
func maskAudit(r *jack.AuditReport) {
	for i := range r.SharedCustomerPhones {
		r.SharedCustomerPhones[i].Phone = jack.MaskPhone(r.SharedCustomerPhones[i].Phone)
	}
	for i := range r.InvalidLeadPhones {
		r.InvalidLeadPhones[i].Phone = jack.MaskPhone(r.InvalidLeadPhones[i].Phone)
	}
	for i := range r.OverdueReminders {
		r.OverdueReminders[i].Phone = jack.MaskPhone(r.OverdueReminders[i].Phone)
	}
}

// writeAudit prints the report for people: one section per check, problems first.
func writeAudit(w io.Writer, r *jack.AuditReport) {
	var orphans []string
	for _, table := range slices.Sorted(maps.Keys(r.RowsWithoutOrganization)) {
		if n := r.RowsWithoutOrganization[table]; n > 0 {
			orphans = append(orphans, fmt.Sprintf("  %s: %d", table, n))
		}
	}
	section(w, "Rows without an organization", len(orphans), orphans)

	lines := make([]string, len(r.NumbersWithoutVoice))
	for i, n := range r.NumbersWithoutVoice {
		lines[i] = fmt.Sprintf("  %s  organization %s", n.Phone, n.OrganizationID)
	}
	section(w, "Active numbers without an ElevenLabs phone id (no AI calls)", len(lines), lines)

	lines = make([]string, len(r.InvalidLeadPhones))
	for i, l := range r.InvalidLeadPhones {
		lines[i] = fmt.Sprintf("  %s  lead %s  organization %s", l.Phone, l.LeadID, l.OrganizationID)
	}
	section(w, "Leads whose phone is not valid E.164", len(lines), lines)

	lines = make([]string, len(r.OverdueReminders))
	for i, rr := range r.OverdueReminders {
		lines[i] = fmt.Sprintf("  %s  due %s  lead %s  organization %s", rr.Phone, rr.DueAt.UTC().Format(time.RFC3339), rr.LeadID, rr.OrganizationID)
	}
	section(w, "Follow-up reminders overdue by more than an hour (follow-ups stalled)", len(lines), lines)

	lines = make([]string, len(r.SharedCustomerPhones))
	for i, p := range r.SharedCustomerPhones {
		orgs := make([]string, len(p.Organizations))
		for j, id := range p.Organizations {
			orgs[j] = id.String()
		}
		lines[i] = fmt.Sprintf("  %s  organizations %s", p.Phone, strings.Join(orgs, ", "))
	}
	section(w, "Customer phones shared by several organizations (information)", len(lines), lines)

	if r.Problems() {
		fmt.Fprintln(w, "Result: problems found.")
	} else {
		fmt.Fprintln(w, "Result: no problems found.")
	}
}

// section prints a heading with its count ("none" for zero) and its lines.
func section(w io.Writer, title string, n int, lines []string) {
	count := "none"
	if n > 0 {
		count = fmt.Sprint(n)
	}
	fmt.Fprintf(w, "%s: %s\n", title, count)
	for _, l := range lines {
		fmt.Fprintln(w, l)
	}
}
