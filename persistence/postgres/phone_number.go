package postgres

import (
	"context"
	"fmt"

	"github.com/google/uuid"

	"github.com/jack-auto/jack"
	"github.com/jack-auto/jack/persistence"
)

// OrganizationByPhoneNumber is tenant-free (webhook routing), through the SECURITY DEFINER
// get_organization_by_phone_number. Returns ENOTFOUND when no active number matches.
func (s *Store) OrganizationByPhoneNumber(ctx context.Context, phone string) (uuid.UUID, error) {
	var orgID *uuid.UUID
	err := s.inTenantFreeTx(ctx, func(tx *Tx) error {
		return tx.tx.QueryRow(ctx, `SELECT get_organization_by_phone_number($1)`, phone).Scan(&orgID)
	})
	if err != nil {
		return uuid.Nil, fmt.Errorf("organization by phone number: %w", err)
	}
	if orgID == nil {
		return uuid.Nil, notFound("Phone number")
	}
	return *orgID, nil
}

// OrganizationsByCustomerPhone is tenant-free, through the SECURITY DEFINER
// get_organizations_by_customer_phone: the organizations with a lead of that phone.
func (s *Store) OrganizationsByCustomerPhone(ctx context.Context, phone string) ([]uuid.UUID, error) {
	return queryTenantFree(ctx, s, "organizations by customer phone", func(r persistence.Row) (id uuid.UUID, err error) { return id, r.Scan(&id) },
		`SELECT id FROM get_organizations_by_customer_phone($1) AS id`, phone)
}

// CreatePhoneNumber stores pn for orgID. Returns ECONFLICT if the number belongs to any
// organization already, ENOTFOUND if orgID does not exist.
func (s *Store) CreatePhoneNumber(ctx context.Context, orgID uuid.UUID, pn *jack.PhoneNumber) error {
	if pn.PhoneNumber == "" {
		return jack.ValidationError(map[string]string{"phoneNumber": "is required"})
	}
	return s.inTx(ctx, orgID, func(tx *Tx) error {
		if _, err := findOrganization(ctx, tx, false); err != nil {
			return err
		}
		if pn.ID == uuid.Nil {
			pn.ID = newID()
		}
		pn.OrganizationID = tx.orgID
		pn.CreatedAt = tx.now
		_, err := tx.tx.Exec(ctx, `
			INSERT INTO organization_phone_numbers (id, organization_id, phone_number, elevenlabs_phone_id, twilio_phone_sid, is_active, created_at)
			VALUES ($1, $2, $3, $4, $5, $6, $7)`,
			pn.ID, pn.OrganizationID, pn.PhoneNumber, nullText(pn.VoicePhoneID), pn.ProviderPhoneID, pn.IsActive, pn.CreatedAt)
		if err != nil {
			return fmt.Errorf("insert phone number: %w", err)
		}
		return nil
	})
}

// FindPhoneNumbers lists orgID's numbers, newest first.
func (s *Store) FindPhoneNumbers(ctx context.Context, orgID uuid.UUID) ([]*jack.PhoneNumber, error) {
	pns := []*jack.PhoneNumber{}
	err := s.inTx(ctx, orgID, func(tx *Tx) error {
		rows, err := tx.tx.Query(ctx, `SELECT `+persistence.PhoneNumberColumns+` FROM organization_phone_numbers
			WHERE organization_id = $1 ORDER BY created_at DESC, id DESC`, tx.orgID)
		found, err := collect(rows, err, persistence.ScanPhoneNumber)
		pns = append(pns, found...)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("find phone numbers: %w", err)
	}
	return pns, nil
}

// ActivePhoneNumber returns orgID's default number when active, otherwise its oldest active
// number. ENOTFOUND when it has none.
func (s *Store) ActivePhoneNumber(ctx context.Context, orgID uuid.UUID) (*jack.PhoneNumber, error) {
	var pn *jack.PhoneNumber
	err := s.inTx(ctx, orgID, func(tx *Tx) (err error) {
		pn, err = persistence.ScanPhoneNumber(tx.tx.QueryRow(ctx, `
			SELECT `+persistence.PhoneNumberColumns+` FROM organization_phone_numbers p
			WHERE p.organization_id = $1 AND p.is_active
			ORDER BY p.id = (SELECT default_phone_number_id FROM organizations WHERE id = $1) DESC NULLS LAST,
				p.created_at, p.id
			LIMIT 1`, tx.orgID))
		return orNotFound(err, "Active phone number")
	})
	return pn, err
}

// UpdatePhoneNumber returns ENOTFOUND if phone is not a number of orgID.
func (s *Store) UpdatePhoneNumber(ctx context.Context, orgID uuid.UUID, phone string, upd jack.PhoneNumberUpdate) (*jack.PhoneNumber, error) {
	var pn *jack.PhoneNumber
	err := s.inTx(ctx, orgID, func(tx *Tx) (err error) {
		var elevenLabsID *string
		if upd.VoicePhoneID != nil {
			elevenLabsID = nullText(*upd.VoicePhoneID)
		}
		pn, err = persistence.ScanPhoneNumber(tx.tx.QueryRow(ctx, `
			UPDATE organization_phone_numbers SET
				elevenlabs_phone_id = CASE WHEN $3 THEN $4 ELSE elevenlabs_phone_id END,
				is_active = COALESCE($5, is_active)
			WHERE organization_id = $1 AND phone_number = $2
			RETURNING `+persistence.PhoneNumberColumns,
			tx.orgID, phone, upd.VoicePhoneID != nil, elevenLabsID, upd.IsActive))
		return orNotFound(err, "Phone number")
	})
	return pn, err
}
