package jack

import (
	"time"

	"github.com/google/uuid"
)

// PhoneNumber is a number a dealership owns (the seed's organization_phone_numbers). Inbound SMS
// and calls find their organization by the number the customer dialed. ProviderPhoneID is the
// telephony provider's id of it (Twilio's PN… sid), empty when it was imported without one;
// VoicePhoneID the voice agent provider's (ElevenLabs' phone number id), empty until imported there.
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

// NumberPurchase is a number to buy from the telephony provider, with the webhooks its texts
// are delivered to (where its calls go is the provider adapter's configuration).
type NumberPurchase struct {
	PhoneNumber  string // E.164, as a search offered it
	SMSURL       string // incoming texts
	StatusURL    string // delivery status callbacks of texts sent from it
	FriendlyName string // a label in the provider's console
}

// BoughtNumber is a number the telephony provider sold.
type BoughtNumber struct {
	ProviderPhoneID string // the provider's id of it, to release it by
	PhoneNumber     string // E.164
}
