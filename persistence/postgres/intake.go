package postgres

import (
	"context"
	"fmt"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/jack-auto/jack"
	"github.com/jack-auto/jack/persistence"
)

// ImportLead stores a lead read from a feed in one transaction of orgID (see
// persistence.ImportLead for the rule): the lead it finds is locked until the transaction
// ends, so concurrent imports of one lead apply one after the other. Returns EUNPROCESSABLE
// for an invalid lead, ECONFLICT when a concurrent import created the same lead first.
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
	return persistence.ImportSteps{
		Prepare: func(lead *jack.Lead) error { return prepareLead(ctx, tx, lead, true) },
		FindByKey: func(source, externalID string) (*jack.Lead, error) {
			lead, err := scanLead(tx.tx.QueryRow(ctx, `SELECT `+leadColumns+` FROM leads
				WHERE organization_id = $1 AND source = $2 AND external_id = $3 FOR UPDATE`, tx.orgID, source, externalID))
			return lead, orNotFound(err, "Lead")
		},
		FindByPhone: func(phone string) (*jack.Lead, bool, error) {
			var hasKey bool
			lead, err := scanLead(withExtra(tx.tx.QueryRow(ctx, `SELECT `+leadColumns+`, external_id IS NOT NULL FROM leads
				WHERE organization_id = $1 AND phone_number_normalized = $2 FOR UPDATE`, tx.orgID, phone), &hasKey))
			return lead, hasKey, orNotFound(err, "Lead")
		},
		Create: func(lead *jack.Lead, source, externalID string) (*jack.Lead, error) {
			stored, err := insertLead(ctx, tx, lead, false)
			if err != nil {
				return nil, err
			}
			if src, ext := persistence.FeedKey(source, externalID); src != nil {
				_, err = tx.tx.Exec(ctx, `UPDATE leads SET source = $3, external_id = $4 WHERE organization_id = $1 AND id = $2`,
					tx.orgID, stored.ID, src, ext)
			}
			return stored, err
		},
		Update: func(l *jack.Lead, setKey bool, source, externalID string) (*jack.Lead, error) {
			src, ext := persistence.FeedKey(source, externalID)
			stored, err := scanLead(tx.tx.QueryRow(ctx, `
				UPDATE leads SET customer_name = $3, email = $4, vehicle_preference = $5, budget_range = $6,
					source = CASE WHEN $7 THEN $8 ELSE source END,
					external_id = CASE WHEN $7 THEN $9 ELSE external_id END,
					version = version + 1, updated_at = $10
				WHERE organization_id = $1 AND id = $2
				RETURNING `+leadColumns,
				tx.orgID, l.ID, l.CustomerName, nullText(l.Email), nullText(l.VehiclePreference), nullText(l.BudgetRange),
				setKey, src, ext, tx.now))
			if err != nil {
				return nil, fmt.Errorf("update lead: %w", err)
			}
			return stored, nil
		},
	}
}

// extraRow scans a row whose columns are a scanner's plus a few more, into extra.
type extraRow struct {
	row   pgx.Row
	extra []any
}

func withExtra(row pgx.Row, extra ...any) pgx.Row { return extraRow{row, extra} }

func (r extraRow) Scan(dest ...any) error { return r.row.Scan(append(dest, r.extra...)...) }
