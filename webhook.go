package jack

// WebhookRequest is a provider's webhook as Jack received it, for the provider's adapter to
// verify and decode.
type WebhookRequest struct {
	URL    string                   // the public URL it was sent to (SERVER_URL + path and query), which providers sign
	Header func(name string) string // the request's headers
	Body   []byte
}

// CallEvent is what the voice provider reports after a call: a finished call's transcript or a
// call that could not start (neither for reports Jack does not keep, such as audio).
type CallEvent struct {
	Type       string // the provider's name of the report, for logs
	Transcript *CallTranscript
	Failure    *CallFailure
	// Routes are the (dealership number, customer number) pairs the report names, E.164, most
	// likely first; the organization is the one owning the dealership number.
	Routes []CallRoute
	// Variables are the dynamic variables the call was started with, as the provider echoes
	// them back (a fallback route: organization_id and phone_number_normalized).
	Variables map[string]any
}

// CallRoute is one reading of which conversation a call belongs to.
type CallRoute struct {
	DealershipNumber string
	CustomerNumber   string
}
