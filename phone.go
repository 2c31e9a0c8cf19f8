package jack

import (
	"strings"

	"github.com/nyaruka/phonenumbers"
)

// DefaultRegion is the phone region used for national-format numbers when an organization has not
// chosen another (ISO 3166-1 alpha-2).
const DefaultRegion = "US"

// NormalizePhone returns phone in E.164 (+16045550123). Numbers in national format are read in
// region (DefaultRegion when empty). Returns EUNPROCESSABLE when the input is not a valid number.
func NormalizePhone(phone, region string) (string, error) {
	raw := strings.TrimSpace(phone)
	if raw == "" {
		return "", Errorf(EUNPROCESSABLE, "Phone number is required.")
	}
	if len(raw) > 64 {
		return "", Errorf(EUNPROCESSABLE, "Phone number is too long.")
	}
	if region == "" {
		region = DefaultRegion
	}
	num, err := phonenumbers.Parse(raw, strings.ToUpper(region))
	if err != nil || !phonenumbers.IsValidNumber(num) {
		return "", Errorf(EUNPROCESSABLE, "%q is not a valid phone number.", raw)
	}
	return phonenumbers.Format(num, phonenumbers.E164), nil
}

// IsE164 reports whether phone is already a valid number in E.164 form.
func IsE164(phone string) bool {
	if !strings.HasPrefix(phone, "+") {
		return false
	}
	n, err := NormalizePhone(phone, "")
	return err == nil && n == phone
}

// ValidRegion reports whether region is a region code the phone library knows.
func ValidRegion(region string) bool {
	return phonenumbers.GetCountryCodeForRegion(strings.ToUpper(region)) != 0
}

// RegionOfPhone returns the region (ISO 3166-1 alpha-2) of an E.164 number, or "".
func RegionOfPhone(e164 string) string {
	num, err := phonenumbers.Parse(e164, "")
	if err != nil {
		return ""
	}
	return phonenumbers.GetRegionCodeForNumber(num)
}

// MaskPhone hides the middle of a phone number for logs: +16045550123 → +1604***0123.
// Anything too short to mask keeps only its last two characters.
func MaskPhone(phone string) string {
	if len(phone) >= 10 {
		return phone[:5] + "***" + phone[len(phone)-4:]
	}
	if len(phone) > 2 {
		return "***" + phone[len(phone)-2:]
	}
	return "***"
}

// DisplayPhone formats an E.164 number the way people in its country write it
// (+16045550123 → (604) 555-0123); anything unparseable is returned as is.
func DisplayPhone(e164 string) string {
	num, err := phonenumbers.Parse(e164, "")
	if err != nil {
		return e164
	}
	return phonenumbers.Format(num, phonenumbers.NATIONAL)
}
