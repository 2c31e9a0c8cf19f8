package actors

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/google/uuid"

	"github.com/jack-auto/jack"
)

// This file is jack.Conversations: each method turns a call into a Request for one grain.

// ReceiveSMS implements jack.Conversations.
func (e *Engine) ReceiveSMS(ctx context.Context, orgID uuid.UUID, in jack.InboundSMS) (*jack.Delivery, error) {
	msg := &InboundSMS{MessageSid: in.ProviderMessageID, From: in.From, To: in.To, Body: in.Body, OptOutType: in.OptOutType}
	for _, m := range in.Media {
		msg.Media = append(msg.Media, &Media{Url: m.URL, ContentType: m.ContentType})
	}
	reply, err := e.request(ctx, orgID, in.From, &Request{Body: &Request_InboundSms{InboundSms: msg}})
	if err != nil {
		return nil, err
	}
	return deliveryFrom(reply)
}

// SendSMS implements jack.Conversations. Without a caller's idempotency key one is made here,
// so the engine's own retry of a vanished request cannot send twice.
func (e *Engine) SendSMS(ctx context.Context, orgID uuid.UUID, out jack.OutboundSMS) (*jack.Delivery, error) {
	key := out.IdempotencyKey
	if key == "" {
		key = "auto:" + uuid.NewString()
	}
	req := &OutboundSMS{To: out.To, Body: out.Body, IdempotencyKey: key, MediaUrls: out.MediaURLs}
	if out.AuthorUserID != nil {
		req.AuthorUserId = out.AuthorUserID.String()
	}
	reply, err := e.request(ctx, orgID, out.To, &Request{Body: &Request_OutboundSms{OutboundSms: req}})
	if err != nil {
		return nil, err
	}
	return deliveryFrom(reply)
}

// UpdateSMSStatus implements jack.Conversations. The conversation is the customer's: the To of
// a status callback for an outbound text.
func (e *Engine) UpdateSMSStatus(ctx context.Context, orgID uuid.UUID, st jack.SMSStatus) error {
	reply, err := e.request(ctx, orgID, st.To, &Request{Body: &Request_SmsStatus{SmsStatus: &SMSStatus{
		MessageSid: st.ProviderMessageID, Status: st.Status, ErrorCode: st.ErrorCode, ErrorMessage: st.ErrorMessage,
	}}})
	if err != nil {
		return err
	}
	return replyError(reply)
}

// SetAIPaused implements jack.Conversations.
func (e *Engine) SetAIPaused(ctx context.Context, orgID uuid.UUID, phone string, paused bool) (*jack.Lead, error) {
	reply, err := e.request(ctx, orgID, phone, &Request{Body: &Request_SetAiPaused{SetAiPaused: &SetAIPaused{Paused: paused}}})
	if err != nil {
		return nil, err
	}
	if err := replyError(reply); err != nil {
		return nil, err
	}
	var lead jack.Lead
	if err := json.Unmarshal(reply.GetLead().GetLeadJson(), &lead); err != nil {
		return nil, fmt.Errorf("decode lead reply: %w", err)
	}
	return &lead, nil
}

// LeadChanged implements jack.Conversations.
func (e *Engine) LeadChanged(ctx context.Context, orgID uuid.UUID, phone string, deleted bool) error {
	reply, err := e.request(ctx, orgID, phone, &Request{Body: &Request_LeadChanged{LeadChanged: &LeadChanged{Deleted: deleted}}})
	if err != nil {
		return err
	}
	return replyError(reply)
}

func deliveryFrom(reply *Reply) (*jack.Delivery, error) {
	if err := replyError(reply); err != nil {
		return nil, err
	}
	d := reply.GetDelivery()
	if d == nil {
		return nil, fmt.Errorf("unexpected reply %T", reply.Body)
	}
	out := &jack.Delivery{Lead: &jack.Lead{}, Message: &jack.Message{}, Duplicate: d.Duplicate, Node: reply.Node}
	if err := json.Unmarshal(d.LeadJson, out.Lead); err != nil {
		return nil, fmt.Errorf("decode lead: %w", err)
	}
	if err := json.Unmarshal(d.MessageJson, out.Message); err != nil {
		return nil, fmt.Errorf("decode message: %w", err)
	}
	return out, nil
}

// Context implements jack.Conversations.
func (e *Engine) Context(ctx context.Context, orgID uuid.UUID, phone string) (map[string]any, error) {
	reply, err := e.request(ctx, orgID, phone, &Request{Body: &Request_GetContext{GetContext: &GetContext{}}})
	if err != nil {
		return nil, err
	}
	return contextFrom(reply)
}
