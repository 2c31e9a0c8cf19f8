package elevenlabs

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"reflect"
	"time"

	"github.com/jack-auto/jack"
)

// outboundCall is the body of POST /v1/convai/twilio/outbound-call. The dynamic variables nest
// under conversation_initiation_client_data, which here takes no "type".
type outboundCall struct {
	AgentID            string          `json:"agent_id"`
	AgentPhoneNumberID string          `json:"agent_phone_number_id"`
	ToNumber           string          `json:"to_number"`
	ClientData         *initiationData `json:"conversation_initiation_client_data,omitempty"`
}

// initiationData is ConversationInitiationClientDataRequest: Type is set only on the socket.
type initiationData struct {
	Type             string          `json:"type,omitempty"`
	DynamicVariables map[string]any  `json:"dynamic_variables,omitempty"`
	Override         *configOverride `json:"conversation_config_override,omitempty"`
}

type configOverride struct {
	Agent        *agentOverride `json:"agent,omitempty"`
	Conversation struct {
		TextOnly bool `json:"text_only"`
	} `json:"conversation"`
}

// agentOverride replaces the agent's prompt (the dealership's instructions) for one
// conversation; the agent's security settings must allow it.
type agentOverride struct {
	Prompt struct {
		Prompt string `json:"prompt"`
	} `json:"prompt"`
}

// outboundCallResult is TwilioOutboundCallResponse; note callSid beside conversation_id.
type outboundCallResult struct {
	Success        bool    `json:"success"`
	Message        string  `json:"message"`
	ConversationID *string `json:"conversation_id"`
	CallSid        *string `json:"callSid"`
}

// StartCall asks ElevenLabs to call req.To from the phone number req.AgentPhoneNumberID with
// the client's agent and req.Variables as its dynamic variables. It returns once ElevenLabs
// accepted the call. Returns EPROVIDER with ElevenLabs' message when it refused (an HTTP error
// or success:false) or answered without a conversation id, and when it could not be reached.
// CallSid may be empty if ElevenLabs did not report one.
func (c *Client) StartCall(ctx context.Context, req jack.CallRequest) (*jack.CallStarted, error) {
	body := outboundCall{
		AgentID:            c.cfg.AgentID,
		AgentPhoneNumberID: req.VoicePhoneID,
		ToNumber:           req.To,
		ClientData:         &initiationData{DynamicVariables: DynamicVariables(req.Variables)},
	}
	var res outboundCallResult
	if err := c.call(ctx, "POST", "/v1/convai/twilio/outbound-call", nil, body, &res, "start the call"); err != nil {
		return nil, err
	}
	if !res.Success {
		return nil, fmt.Errorf("elevenlabs: outbound call: %w", &jack.Error{
			Code:    jack.EPROVIDER,
			Message: "ElevenLabs refused to start the call: " + cmp.Or(clip(res.Message), "no reason given"),
		})
	}
	if res.ConversationID == nil || *res.ConversationID == "" {
		return nil, fmt.Errorf("elevenlabs: outbound call: %w", unexpected(errors.New("accepted call has no conversation_id")))
	}
	started := &jack.CallStarted{ConversationID: *res.ConversationID}
	if res.CallSid != nil {
		started.ProviderCallID = *res.CallSid
	}
	c.log.InfoContext(ctx, "elevenlabs: call started", "conversation_id", started.ConversationID,
		"call_sid", started.ProviderCallID, "to", jack.MaskPhone(req.To))
	return started, nil
}

// DynamicVariables returns vars as ElevenLabs accepts them: every value a string, number or
// boolean. nil (and a nil pointer) becomes "", a pointer its target, a time its RFC 3339 form
// in UTC, a json.Number a number, NaN and infinities and every other type their fmt form.
func DynamicVariables(vars map[string]any) map[string]any {
	if vars == nil {
		return nil
	}
	out := make(map[string]any, len(vars))
	for k, v := range vars {
		out[k] = variableValue(v)
	}
	return out
}

func variableValue(v any) any {
	switch v := v.(type) {
	case nil:
		return ""
	case string, bool:
		return v
	case json.Number:
		if f, err := v.Float64(); err == nil && !math.IsInf(f, 0) {
			return v
		}
		return v.String()
	case time.Time:
		return v.UTC().Format(time.RFC3339)
	case fmt.Stringer:
		if rv := reflect.ValueOf(v); rv.Kind() == reflect.Pointer && rv.IsNil() {
			return ""
		}
		return v.String()
	case error:
		return v.Error()
	}
	rv := reflect.ValueOf(v)
	switch rv.Kind() {
	case reflect.Pointer, reflect.Interface:
		if rv.IsNil() {
			return ""
		}
		return variableValue(rv.Elem().Interface())
	case reflect.Bool:
		return rv.Bool()
	case reflect.String:
		return rv.String()
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return rv.Int()
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		return rv.Uint()
	case reflect.Float32, reflect.Float64:
		if f := rv.Float(); !math.IsNaN(f) && !math.IsInf(f, 0) {
			return f
		}
	}
	return fmt.Sprint(v)
}
