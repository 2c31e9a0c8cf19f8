package twilio

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/twilio/twilio-go/client"
	openapi "github.com/twilio/twilio-go/rest/api/v2010"

	"github.com/jack-auto/jack"
)

var _ jack.SMSLookup = (*Client)(nil)

// lookupLimit bounds how many texts FindSMS reads (newest first, in pages of lookupPageSize).
// To and From narrow the list to one conversation's outbound texts, so this reaches back far
// further than any text a crash could have left unrecorded.
const (
	lookupLimit    = 200
	lookupPageSize = 50
)

// lookupSkew is how much earlier than SMSQuery.Since a matching text may have been created by
// Twilio's clock.
const lookupSkew = time.Minute

// FetchSMS returns Twilio's record of message sid (GET …/Messages/{Sid}.json). ENOTFOUND when
// Twilio has no such message, EPROVIDER when it cannot be asked.
func (c *Client) FetchSMS(ctx context.Context, sid string) (*jack.SMSRecord, error) {
	ctx, cancel := context.WithTimeout(ctx, c.cfg.Timeout)
	defer cancel()
	m, err := c.service(ctx).FetchMessage(sid, nil)
	if err != nil {
		var rest *client.TwilioRestError
		if errors.As(err, &rest) && rest.Status == 404 {
			return nil, fmt.Errorf("twilio: fetch message: %w: %w", jack.Errorf(jack.ENOTFOUND, "Twilio has no such message."), err)
		}
		return nil, fmt.Errorf("twilio: fetch message: %w", translateError(ctx, err))
	}
	r, err := record(m)
	if err != nil {
		return nil, fmt.Errorf("twilio: fetch message: %w", unexpected(err))
	}
	return r, nil
}

// FindSMS lists the account's messages from q.From to q.To (GET …/Messages.json, newest first,
// following next_page_uri) and returns those with body q.Body created at or after q.Since
// (less lookupSkew). It filters by To and From only: Twilio's DateSent filters leave out a
// message still queued (its date_sent is null), which is the very message a crash right after
// Twilio's accept leaves unrecorded, and the dates are days anyway.
func (c *Client) FindSMS(ctx context.Context, q jack.SMSQuery) ([]jack.SMSRecord, error) {
	ctx, cancel := context.WithTimeout(ctx, c.cfg.Timeout)
	defer cancel()
	params := &openapi.ListMessageParams{}
	params.SetTo(q.To).SetFrom(q.From).SetPageSize(lookupPageSize).SetLimit(lookupLimit)
	list, err := c.service(ctx).ListMessage(params)
	if err != nil {
		return nil, fmt.Errorf("twilio: list messages: %w", translateError(ctx, err))
	}
	since := q.Since.Add(-lookupSkew)
	var out []jack.SMSRecord
	for i := range list {
		r, err := record(&list[i])
		if err != nil {
			return nil, fmt.Errorf("twilio: list messages: %w", unexpected(err))
		}
		if r.Body == q.Body && !r.Created.Before(since) && r.To == q.To && r.From == q.From {
			out = append(out, *r)
		}
	}
	return out, nil
}

// record turns Twilio's message resource into a jack.SMSRecord.
func record(m *openapi.ApiV2010Message) (*jack.SMSRecord, error) {
	if deref(m.Sid) == "" {
		return nil, errors.New("message has no sid")
	}
	created, err := time.Parse(time.RFC1123Z, deref(m.DateCreated))
	if err != nil {
		return nil, fmt.Errorf("message %s: date_created: %w", *m.Sid, err)
	}
	r := &jack.SMSRecord{
		Sid: *m.Sid, Status: cmp.Or(deref(m.Status), jack.StatusQueued), From: deref(m.From), To: deref(m.To),
		Body: deref(m.Body), Created: created.UTC(), ErrorMessage: deref(m.ErrorMessage),
	}
	if m.ErrorCode != nil && *m.ErrorCode != 0 {
		r.ErrorCode = strconv.Itoa(*m.ErrorCode)
	}
	return r, nil
}
