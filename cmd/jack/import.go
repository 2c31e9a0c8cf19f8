package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/jack-auto/jack"
	"github.com/jack-auto/jack/intake"
)

const importUsage = `usage: jack import leads --org <organization id> [--format csv|adf] [--json] FILE

Imports a CSV or ADF/XML lead feed into an organization (the same rules as POST
/api/leads/import), into the configured database (DATABASE_URL, else the embedded one under
JACK_DATA_DIR), migrating it first. The format is --format, else the file's extension (.csv,
.xml, .adf), else its first bytes. A progress bar shows on a terminal. The report lists the rows
that could not be imported; they do not fail the command: it exits non-zero only when the file
cannot be read or is not a feed, or the database fails. Running servers learn of updated leads
when their conversations next load (the command does not reach their memory).
`

// runImport runs `jack import leads`.
func runImport(ctx context.Context, cfg Config, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] != "leads" {
		fmt.Fprint(stderr, importUsage)
		return errors.New("usage: jack import leads --org <organization id> FILE")
	}
	fs := newFlagSet("import leads", importUsage, stderr)
	org := fs.String("org", "", "the organization's id (UUID)")
	format := fs.String("format", "", "csv or adf (default: from the extension, else the content)")
	asJSON := fs.Bool("json", false, "print the report as JSON (the API's answer)")
	files, err := parseInterspersed(fs, args[1:])
	if err != nil {
		return err
	}
	if len(files) != 1 {
		return errors.New("import leads takes one FILE")
	}
	orgID, err := uuid.Parse(*org)
	if err != nil {
		return errors.New("--org must be an organization id (UUID)")
	}
	if *format != "" && *format != string(intake.FormatCSV) && *format != string(intake.FormatADF) {
		return fmt.Errorf("--format must be csv or adf, not %q", *format)
	}

	path := files[0]
	data, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("read feed: %w", err)
	}
	f := intake.Format(*format)
	if f == "" {
		f = intake.Detect(contentTypeOf(path), data)
	}
	rows, err := intake.Parse(f, bytes.NewReader(data))
	if err != nil {
		return fmt.Errorf("%s: %s", path, jack.ErrorMessage(err))
	}

	store, err := openStore(ctx, cfg, NewLogger(cfg, stderr))
	if err != nil {
		return err
	}
	defer func() { _ = store.Close() }()
	organization, err := store.FindOrganizationByID(ctx, orgID)
	if jack.ErrorCode(err) == jack.ENOTFOUND {
		return fmt.Errorf("organization %s does not exist", orgID)
	} else if err != nil {
		return err
	}

	bar := newProgressBar(stderr, len(rows), time.Now)
	report, err := intake.Import(ctx, store, organization, rows, func(done int, _ intake.Result) { bar.update(done) })
	bar.finish()
	if *asJSON {
		if encErr := writeJSON(stdout, report); encErr != nil {
			return encErr
		}
	} else {
		writeImportReport(stdout, path, organization.Name, f, report)
	}
	return err
}

// newFlagSet returns a command's flag set: errors and -h go to stderr, -h shows usage.
func newFlagSet(name, usage string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(stderr, usage) }
	return fs
}

// writeJSON prints v as indented JSON.
func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// parseInterspersed parses flags wherever they are among the arguments (FILE may come first)
// and returns the other arguments.
func parseInterspersed(fs *flag.FlagSet, args []string) ([]string, error) {
	var rest []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		if fs.NArg() == 0 {
			return rest, nil
		}
		rest = append(rest, fs.Arg(0))
		args = fs.Args()[1:]
	}
}

// contentTypeOf is the content type a feed's extension implies ("" when it implies none).
func contentTypeOf(path string) string {
	switch strings.ToLower(filepath.Ext(path)) {
	case ".csv", ".tsv", ".txt":
		return "text/csv"
	case ".xml", ".adf":
		return "application/xml"
	}
	return ""
}

// writeImportReport prints the counts and one line per row error.
func writeImportReport(w io.Writer, path, orgName string, f intake.Format, r intake.Report) {
	fmt.Fprintf(w, "Imported %s into %s: %d created, %d updated, %d unchanged, %d %s.\n",
		filepath.Base(path), orgName, r.Created, r.Updated, r.Unchanged, len(r.Errors), plural(len(r.Errors), "error", "errors"))
	where := "line"
	if f == intake.FormatADF {
		where = "prospect"
	}
	for _, e := range r.Errors {
		fmt.Fprintf(w, "  %s %d: %s", where, e.Line, e.Message)
		for _, field := range slices.Sorted(maps.Keys(e.Fields)) {
			fmt.Fprintf(w, " %s %s.", field, e.Fields[field])
		}
		fmt.Fprintln(w)
	}
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

// progressBar draws `[#####.....] 1234/5000` on a terminal, at most every progressInterval;
// elsewhere (a pipe, a log file, a test) it prints one summary line when done.
type progressBar struct {
	w        io.Writer
	terminal bool
	total    int
	now      func() time.Time
	start    time.Time
	drawn    time.Time
	done     int
}

const (
	progressWidth    = 30
	progressInterval = 100 * time.Millisecond
)

func newProgressBar(w io.Writer, total int, now func() time.Time) *progressBar {
	return &progressBar{w: w, terminal: isTerminal(w), total: total, now: now, start: now()}
}

func (p *progressBar) update(done int) {
	p.done = done
	if !p.terminal {
		return
	}
	if t := p.now(); done == p.total || t.Sub(p.drawn) >= progressInterval {
		p.drawn = t
		p.draw()
	}
}

func (p *progressBar) draw() {
	filled := progressWidth
	if p.total > 0 {
		filled = p.done * progressWidth / p.total
	}
	fmt.Fprintf(p.w, "\r[%s%s] %d/%d", strings.Repeat("#", filled), strings.Repeat(".", progressWidth-filled), p.done, p.total)
}

// finish ends the bar's line, or prints the summary line.
func (p *progressBar) finish() {
	if p.terminal {
		p.draw()
		fmt.Fprintln(p.w)
		return
	}
	fmt.Fprintf(p.w, "imported %d of %d %s in %s\n", p.done, p.total, plural(p.total, "row", "rows"),
		p.now().Sub(p.start).Round(time.Millisecond))
}

// isTerminal reports whether w is a terminal (a character device).
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	info, err := f.Stat()
	return err == nil && info.Mode()&os.ModeCharDevice != 0
}
