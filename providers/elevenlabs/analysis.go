package elevenlabs

import (
	"bytes"
	"encoding/json"
	"strconv"
	"strings"

	"github.com/jack-auto/jack"
)

// ParseCallAnalysis reads ElevenLabs' analysis object (call_successful,
// evaluation_criteria_results {id: {result}}, data_collection_results {id: {value}}), as stored
// from the post-call webhook. It tolerates missing fields, lists instead of maps and values of
// any JSON type (numbers and booleans become their JSON text, null an empty value); an unknown
// call_successful reads as unknown. It returns nil when raw is empty, null or not an object.
func ParseCallAnalysis(raw json.RawMessage) *jack.CallAnalysis {
	var top map[string]json.RawMessage
	if err := json.Unmarshal(raw, &top); err != nil || top == nil {
		return nil
	}
	a := &jack.CallAnalysis{Successful: jack.OutcomeUnknown, EvaluationResults: map[string]string{}, DataCollected: map[string]string{}}
	var successful string
	if json.Unmarshal(top["call_successful"], &successful) == nil {
		switch s := strings.ToLower(strings.TrimSpace(successful)); s {
		case jack.OutcomeSuccess, jack.OutcomeFailure:
			a.Successful = s
		}
	}
	for id, entry := range analysisEntries(top["evaluation_criteria_results"], "criteria_id") {
		a.EvaluationResults[id] = strings.ToLower(strings.TrimSpace(jsonText(entry["result"])))
	}
	for id, entry := range analysisEntries(top["data_collection_results"], "data_collection_id") {
		a.DataCollected[id] = jsonText(entry["value"])
	}
	return a
}

// analysisEntries reads {id: {...}} or [{idKey: id, ...}] into id → entry; anything else is empty.
func analysisEntries(raw json.RawMessage, idKey string) map[string]map[string]json.RawMessage {
	out := map[string]map[string]json.RawMessage{}
	var byID map[string]json.RawMessage
	if json.Unmarshal(raw, &byID) == nil {
		for id, v := range byID {
			var entry map[string]json.RawMessage
			if json.Unmarshal(v, &entry) == nil && entry != nil {
				out[id] = entry
			}
		}
		return out
	}
	var list []json.RawMessage
	if json.Unmarshal(raw, &list) == nil {
		for i, v := range list {
			var entry map[string]json.RawMessage
			if json.Unmarshal(v, &entry) != nil || entry == nil {
				continue
			}
			id := jsonText(entry[idKey])
			if id == "" {
				id = "#" + strconv.Itoa(i) // entries without an id still count, each once
			}
			out[id] = entry
		}
	}
	return out
}

// jsonText is a JSON value as text: a string's contents, "" for null or absent, otherwise the
// compact JSON (numbers, booleans, objects).
func jsonText(raw json.RawMessage) string {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || string(raw) == "null" {
		return ""
	}
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s
	}
	var buf bytes.Buffer
	if json.Compact(&buf, raw) != nil {
		return ""
	}
	return buf.String()
}
