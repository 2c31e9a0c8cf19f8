package sqlite

import (
	"context"

	"github.com/google/uuid"
	"github.com/jack-auto/jack"
	"github.com/jack-auto/jack/persistence"
)

// ImportLead stores a lead read from a feed in one write transaction of orgID (see
// persistence.ImportLead for the rule); the single writer serializes concurrent imports.
// Returns EUNPROCESSABLE for an invalid lead.
func (s *Store) ImportLead(ctx context.Context, orgID uuid.UUID, in jack.ImportedLead) (*jack.Lead, jack.ImportOutcome, error) {
	var lead *jack.Lead
	var outcome jack.ImportOutcome
	err := s.inTx(ctx, orgID, func(tx *Tx) (err error) {
		lead, outcome, err = persistence.ImportLead(in, importSteps(ctx, tx))
		return err
	})
	if err != nil {
		return nil, "", err
	}
	return lead, outcome, nil
}

func importSteps(ctx context.Context, tx *Tx) persistence.ImportSteps {
	setKey := func(id, source, externalID string) error {
		src, ext := persistence.FeedKey(source, externalID)
		_, err := tx.exec(ctx, `UPDATE leads SET source = ?, external_id = ? WHERE organization_id = ? AND id = ?`,
			src, ext, tx.orgID.String(), id)
		return err
	}
	return persistence.ImportSteps{
		Prepare: func(lead *jack.Lead) error {
			prepareLead(tx, lead)
			return validateLead(ctx, tx, lead)
		},
		FindByKey: func(source, externalID string) (*jack.Lead, error) {
			lead, err := scanLead(tx.queryRow(ctx, `SELECT `+leadColumns+` FROM leads
				WHERE organization_id = ? AND source = ? AND external_id = ?`, tx.orgID.String(), source, externalID))
			return lead, notFound(err, "Lead")
		},
		FindByPhone: func(phone string) (*jack.Lead, bool, error) {
			lead, err := findLeadByPhone(ctx, tx, phone)
			if err != nil {
				return nil, false, err
			}
			var hasKey bool
			err = tx.queryRow(ctx, `SELECT external_id IS NOT NULL FROM leads WHERE organization_id = ? AND id = ?`,
				tx.orgID.String(), lead.ID).Scan(&hasKey)
			return lead, hasKey, formatError(err)
		},
		Create: func(lead *jack.Lead, source, externalID string) (*jack.Lead, error) {
			if err := insertLead(ctx, tx, lead, false); err != nil {
				return nil, err
			}
			if source == "" && externalID == "" {
				return lead, nil
			}
			return lead, setKey(lead.ID, source, externalID)
		},
		Update: func(lead *jack.Lead, withKey bool, source, externalID string) (*jack.Lead, error) {
			prev := lead.Version
			lead.Version, lead.UpdatedAt = prev+1, tx.now
			if err := writeLead(ctx, tx, lead, prev); err != nil {
				return nil, err
			}
			if !withKey {
				return lead, nil
			}
			return lead, setKey(lead.ID, source, externalID)
		},
	}
}
