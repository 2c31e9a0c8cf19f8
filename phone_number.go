package jack

import (
	"time"

	"github.com/google/uuid"
)

// PhoneNumber is a number a dealership owns (the seed's organization_phone_numbers). Inbound SMS
// and calls find their organization by the number the customer dialed.
type PhoneNumber struct {
	ID              uuid.UUID `json:"id"`
	OrganizationID  uuid.UUID `json:"organizationId"`
	PhoneNumber     string    `json:"phoneNumber"`
	VoicePhoneID    string    `json:"elevenLabsPhoneId"`
	ProviderPhoneID string    `json:"twilioPhoneSid"`
	IsActive        bool      `json:"isActive"`
	CreatedAt       time.Time `json:"createdAt"`
}

// PhoneNumberUpdate holds the fields of a phone number that may change; nil means unchanged.
type PhoneNumberUpdate struct {
	VoicePhoneID *string
	IsActive     *bool
}
