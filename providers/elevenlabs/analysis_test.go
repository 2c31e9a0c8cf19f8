package elevenlabs_test

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/jack-auto/jack"
	"github.com/jack-auto/jack/providers/elevenlabs"
)

func TestParseCallAnalysis(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		raw  string
		want *jack.CallAnalysis
	}{
		{"Empty", ``, nil},
		{"Null", `null`, nil},
		{"NotAnObject", `[1,2]`, nil},
		{
			name: "ElevenLabs",
			raw: `{"call_successful":"success","transcript_summary":"Wants a Civic.",
				"evaluation_criteria_results":{"budget_discussed":{"criteria_id":"budget_discussed","result":"success","rationale":"…"},
					"appointment":{"criteria_id":"appointment","result":"failure","rationale":"…"}},
				"data_collection_results":{"vehicle":{"data_collection_id":"vehicle","value":"2021 Civic","rationale":"…"},
					"budget":{"data_collection_id":"budget","value":20000},"trade_in":{"value":false},"email":{"value":null}},
				"call_summary_title":"Civic inquiry"}`,
			want: &jack.CallAnalysis{Successful: "success",
				EvaluationResults: map[string]string{"budget_discussed": "success", "appointment": "failure"},
				DataCollected:     map[string]string{"vehicle": "2021 Civic", "budget": "20000", "trade_in": "false", "email": ""}},
		},
		{
			name: "OddShapes",
			raw: `{"call_successful":"MAYBE","evaluation_criteria_results":[{"criteria_id":"x","result":"Success"},{"result":"success"},7],
				"data_collection_results":"nope"}`,
			want: &jack.CallAnalysis{Successful: "unknown",
				EvaluationResults: map[string]string{"x": "success", "#1": "success"}, DataCollected: map[string]string{}},
		},
		{
			name: "MissingFields",
			raw:  `{"call_successful":"Failure"}`,
			want: &jack.CallAnalysis{Successful: "failure", EvaluationResults: map[string]string{}, DataCollected: map[string]string{}},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			require.Equal(t, tc.want, elevenlabs.ParseCallAnalysis(json.RawMessage(tc.raw)))
		})
	}
}
