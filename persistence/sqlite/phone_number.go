package sqlite

import (
	"context"
	"fmt"

	"github.com/google/uuid"
	"github.com/jack-auto/jack"
	"github.com/jack-auto/jack/persistence"
)

func findPhoneNumbers(ctx context.Context, tx *Tx) ([]*jack.PhoneNumber, error) {
	rows, err := tx.query(ctx, `SELECT `+persistence.PhoneNumberColumns+` FROM organization_phone_numbers
		WHERE organization_id = ? ORDER BY created_at DESC, id DESC`, tx.orgID.String())
	if err != nil {
		return nil, fmt.Errorf("find phone numbers: %w", err)
	}
	defer rows.Close()
	numbers := []*jack.PhoneNumber{}
	for rows.Next() {
		pn, err := persistence.ScanPhoneNumber(rows)
		if err != nil {
			return nil, err
		}
		numbers = append(numbers, pn)
	}
	return numbers, formatError(rows.Err())
}

// OrganizationByPhoneNumber is tenant-free (webhook routing): the organization owning the active
// number phone. ENOTFOUND when no active number matches.
func (s *Store) OrganizationByPhoneNumber(ctx context.Context, phone string) (uuid.UUID, error) {
	var orgID uuid.UUID
	err := s.inReadTx(ctx, uuid.Nil, func(tx *Tx) error {
		err := tx.queryRow(ctx, `SELECT organization_id FROM organization_phone_numbers WHERE phone_number = ? AND is_active = 1`,
			phone).Scan(&orgID)
		return notFound(formatError(err), "Phone number")
	})
	return orgID, err
}

// OrganizationsByCustomerPhone is tenant-free: the organizations with a lead of that phone.
func (s *Store) OrganizationsByCustomerPhone(ctx context.Context, phone string) ([]uuid.UUID, error) {
	ids := []uuid.UUID{}
	err := s.inReadTx(ctx, uuid.Nil, func(tx *Tx) error {
		rows, err := tx.query(ctx, `SELECT DISTINCT organization_id FROM leads WHERE phone_number_normalized = ? ORDER BY organization_id`, phone)
		if err != nil {
			return fmt.Errorf("organizations by customer phone: %w", err)
		}
		defer rows.Close()
		for rows.Next() {
			var id uuid.UUID
			if err := rows.Scan(&id); err != nil {
				return err
			}
			ids = append(ids, id)
		}
		return formatError(rows.Err())
	})
	return ids, err
}

// CreatePhoneNumber adds pn to orgID, assigning a missing id and the creation time. ECONFLICT if
// the number belongs to any organization already.
func (s *Store) CreatePhoneNumber(ctx context.Context, orgID uuid.UUID, pn *jack.PhoneNumber) error {
	return s.inTx(ctx, orgID, func(tx *Tx) error {
		if _, err := findOrganization(ctx, tx); err != nil {
			return err
		}
		return createPhoneNumber(ctx, tx, pn)
	})
}

func createPhoneNumber(ctx context.Context, tx *Tx, pn *jack.PhoneNumber) error {
	if pn.ID == uuid.Nil {
		pn.ID = uuid.Must(uuid.NewV7())
	}
	pn.OrganizationID = tx.orgID
	pn.CreatedAt = tx.now
	if pn.PhoneNumber == "" {
		return jack.ValidationError(map[string]string{"phoneNumber": "is required"})
	}
	if _, err := tx.exec(ctx, `INSERT INTO organization_phone_numbers (`+persistence.PhoneNumberColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?)`,
		pn.ID.String(), pn.OrganizationID.String(), pn.PhoneNumber, nullStringArg(pn.VoicePhoneID), pn.ProviderPhoneID,
		boolArg(pn.IsActive), timeArg(pn.CreatedAt)); err != nil {
		return fmt.Errorf("insert phone number: %w", err)
	}
	return nil
}

// FindPhoneNumbers lists orgID's numbers, newest first.
func (s *Store) FindPhoneNumbers(ctx context.Context, orgID uuid.UUID) ([]*jack.PhoneNumber, error) {
	var numbers []*jack.PhoneNumber
	err := s.inReadTx(ctx, orgID, func(tx *Tx) (err error) {
		numbers, err = findPhoneNumbers(ctx, tx)
		return err
	})
	return numbers, err
}

// ActivePhoneNumber returns orgID's default number when active, otherwise its oldest active one.
// ENOTFOUND when it has none.
func (s *Store) ActivePhoneNumber(ctx context.Context, orgID uuid.UUID) (*jack.PhoneNumber, error) {
	var pn *jack.PhoneNumber
	err := s.inReadTx(ctx, orgID, func(tx *Tx) (err error) {
		pn, err = persistence.ScanPhoneNumber(tx.queryRow(ctx, `SELECT `+persistence.PhoneNumberColumns+` FROM organization_phone_numbers p
			WHERE p.organization_id = ? AND p.is_active = 1
			ORDER BY p.id IS (SELECT default_phone_number_id FROM organizations WHERE id = p.organization_id) DESC,
				p.created_at, p.id
			LIMIT 1`, tx.orgID.String()))
		return notFound(err, "Active phone number")
	})
	return pn, err
}

// UpdatePhoneNumber returns ENOTFOUND if phone is not a number of orgID.
func (s *Store) UpdatePhoneNumber(ctx context.Context, orgID uuid.UUID, phone string, upd jack.PhoneNumberUpdate) (*jack.PhoneNumber, error) {
	var pn *jack.PhoneNumber
	err := s.inTx(ctx, orgID, func(tx *Tx) (err error) {
		pn, err = updatePhoneNumber(ctx, tx, phone, upd)
		return err
	})
	return pn, err
}

func updatePhoneNumber(ctx context.Context, tx *Tx, phone string, upd jack.PhoneNumberUpdate) (*jack.PhoneNumber, error) {
	pn, err := persistence.ScanPhoneNumber(tx.queryRow(ctx, `SELECT `+persistence.PhoneNumberColumns+` FROM organization_phone_numbers
		WHERE organization_id = ? AND phone_number = ?`, tx.orgID.String(), phone))
	if err != nil {
		return nil, notFound(err, "Phone number")
	}
	if upd.VoicePhoneID != nil {
		pn.VoicePhoneID = *upd.VoicePhoneID
	}
	if upd.IsActive != nil {
		pn.IsActive = *upd.IsActive
	}
	if _, err := tx.exec(ctx, `UPDATE organization_phone_numbers SET elevenlabs_phone_id = ?, is_active = ?
		WHERE organization_id = ? AND id = ?`, nullStringArg(pn.VoicePhoneID), boolArg(pn.IsActive), tx.orgID.String(), pn.ID.String()); err != nil {
		return nil, fmt.Errorf("update phone number: %w", err)
	}
	return pn, nil
}
