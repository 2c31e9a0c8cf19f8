package http_test

import (
	"net/http"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/jack-auto/jack"
)

func TestListLeads_Score(t *testing.T) {
	t.Parallel()
	s := MustOpenServer(t, nil)
	token, _, org := MustRegister(t, s.URL)
	scored := func(name, phone string, score *float64) jack.Lead {
		lead := MustCreateLead(t, s.URL, token, name, phone)
		if score != nil {
			require.NoError(t, s.Store.InConversationTx(t.Context(), org.ID, func(tx jack.ConversationTx) error {
				_, err := tx.UpdateConversation(t.Context(), lead.ID, jack.ConversationChange{LeadQualityScore: score})
				return err
			}))
		}
		return lead
	}
	best, low := 72.5, 40.0
	top := scored("Top Lead", "(201) 555-0101", &best)
	unscored := scored("New Lead", "(201) 555-0102", nil)
	mid := scored("Mid Lead", "(201) 555-0103", &low)

	list := func(query string) []jack.Lead {
		var page struct{ Leads []jack.Lead }
		MustDo(t, s.URL, request{Method: "GET", Path: "/api/leads" + query, Token: token}, http.StatusOK, &page)
		return page.Leads
	}
	ids := func(leads []jack.Lead) []string {
		out := []string{}
		for _, l := range leads {
			out = append(out, l.ID)
		}
		return out
	}
	leads := list("?sort=score")
	require.Equal(t, []string{top.ID, mid.ID, unscored.ID}, ids(leads), "best first, unscored last")
	require.Equal(t, 72.5, *leads[0].LeadQualityScore)
	require.Nil(t, leads[2].LeadQualityScore)
	require.Equal(t, []string{top.ID}, ids(list("?minScore=50")))
	require.Equal(t, []string{top.ID, mid.ID}, ids(list("?minScore=40&sort=score")))
	require.Equal(t, []string{top.ID, mid.ID}, ids(list("?minScore=0&sort=score")), "a minimum leaves unscored leads out")

	for _, q := range []string{"?minScore=abc", "?minScore=-1", "?minScore=100.5", "?minScore=NaN", "?sort=best"} {
		MustFail(t, s.URL, request{Method: "GET", Path: "/api/leads" + q, Token: token}, http.StatusBadRequest, jack.EINVALID)
	}
	MustDo(t, s.URL, request{Method: "GET", Path: "/api/leads?minScore=100", Token: token}, http.StatusOK, nil)
}
