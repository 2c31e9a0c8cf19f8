package persistence

import (
	"fmt"

	"github.com/jack-auto/jack"
)

// ImportSteps are one adapter's building blocks of ImportLead, all inside one transaction of
// the organization.
type ImportSteps struct {
	// Prepare fills the lead's defaults and validates it (EUNPROCESSABLE), as CreateLead does.
	Prepare func(lead *jack.Lead) error
	// FindByKey returns the lead holding the feed key, locked where the database supports it;
	// ENOTFOUND when none.
	FindByKey func(source, externalID string) (*jack.Lead, error)
	// FindByPhone returns the lead with the phone, locked where the database supports it, and
	// whether it has a feed key already; ENOTFOUND when none.
	FindByPhone func(phone string) (*jack.Lead, bool, error)
	// Create inserts the prepared lead with its feed key (externalID "" stores none).
	Create func(lead *jack.Lead, source, externalID string) (*jack.Lead, error)
	// Update stores the lead's imported fields (name, email, vehicle preference, budget), with
	// setKey also the feed key, bumps its version and updated_at, and returns it.
	Update func(lead *jack.Lead, setKey bool, source, externalID string) (*jack.Lead, error)
}

// ImportLead runs jack.LeadStore.ImportLead with an adapter's steps: it validates the lead,
// finds the existing one by feed key, else by phone, and creates, updates or leaves it. A lead
// found by phone that has no feed key yet takes the imported one, so the next import finds it
// by key. The phone never changes: it is the conversation's identity.
func ImportLead(in jack.ImportedLead, steps ImportSteps) (*jack.Lead, jack.ImportOutcome, error) {
	if err := checkFeedKey(in); err != nil {
		return nil, "", err
	}
	lead := in.Lead
	if err := steps.Prepare(&lead); err != nil {
		return nil, "", err
	}
	existing, hasKey, err := findImported(in, lead.PhoneNumberNormalized, steps)
	if jack.ErrorCode(err) == jack.ENOTFOUND {
		created, err := steps.Create(&lead, in.Source, in.ExternalID)
		if err != nil {
			return nil, "", fmt.Errorf("create imported lead: %w", err)
		}
		return created, jack.ImportCreated, nil
	} else if err != nil {
		return nil, "", fmt.Errorf("find imported lead: %w", err)
	}
	setKey := in.ExternalID != "" && !hasKey
	if !MergeImported(existing, &lead) && !setKey {
		return existing, jack.ImportUnchanged, nil
	}
	updated, err := steps.Update(existing, setKey, in.Source, in.ExternalID)
	if err != nil {
		return nil, "", fmt.Errorf("update imported lead: %w", err)
	}
	return updated, jack.ImportUpdated, nil
}

// findImported returns the lead an import is about and whether it has a feed key.
func findImported(in jack.ImportedLead, phone string, steps ImportSteps) (*jack.Lead, bool, error) {
	if in.ExternalID != "" {
		lead, err := steps.FindByKey(in.Source, in.ExternalID)
		if jack.ErrorCode(err) != jack.ENOTFOUND {
			return lead, true, err
		}
	}
	return steps.FindByPhone(phone)
}

// checkFeedKey returns EUNPROCESSABLE for a feed key the columns cannot hold.
func checkFeedKey(in jack.ImportedLead) error {
	fields := map[string]string{}
	if len(in.Source) > 100 {
		fields["source"] = "is too long"
	}
	if len(in.ExternalID) > 255 {
		fields["externalId"] = "is too long"
	}
	return jack.ValidationError(fields)
}

// MergeImported copies onto existing the fields a feed provides (non-empty name, email, vehicle
// preference, budget) and reports whether any differed. imported's email is normalized.
func MergeImported(existing, imported *jack.Lead) bool {
	changed := false
	merge := func(dst *string, v string) {
		if v != "" && *dst != v {
			*dst, changed = v, true
		}
	}
	merge(&existing.CustomerName, imported.CustomerName)
	merge(&existing.Email, imported.Email)
	merge(&existing.VehiclePreference, imported.VehiclePreference)
	merge(&existing.BudgetRange, imported.BudgetRange)
	return changed
}

// FeedKey returns what leads.source and leads.external_id store for a feed key (nil is NULL):
// with an external id the source is stored even when empty, so the unique index on
// (organization_id, source, external_id) holds; without one, an empty source is NULL.
func FeedKey(source, externalID string) (src, ext *string) {
	if externalID == "" {
		if source == "" {
			return nil, nil
		}
		return &source, nil
	}
	return &source, &externalID
}
