package jack

// ImportedLead is one lead read from a feed (CSV row or ADF prospect) before it is stored.
type ImportedLead struct {
	Lead       Lead   // CRM fields; PhoneNumberNormalized set
	Source     string // the feed's provider (ADF provider name, "csv"), with ExternalID the dedupe key
	ExternalID string // the feed's own id (ADF id@source); "" to dedupe by phone only
}

// ImportOutcome is what importing one lead did.
type ImportOutcome string

// Import outcomes.
const (
	ImportCreated   ImportOutcome = "created"
	ImportUpdated   ImportOutcome = "updated"
	ImportUnchanged ImportOutcome = "unchanged"
)
