package http

import (
	"net/url"

	"github.com/jack-auto/jack"
)

// ParseInboundSMS exposes the inbound webhook's parsing to the fuzz test.
func ParseInboundSMS(body []byte) (jack.InboundSMS, url.Values, error) {
	params, err := parseTwilioForm(body)
	if err != nil {
		return jack.InboundSMS{}, nil, err
	}
	in, err := inboundSMSFromForm(params)
	return in, params, err
}

// RouteTable exposes the role × route matrix to TestRoleMatrix and TestOpenAPI_Roles.
func RouteTable(s *Server) []Route { return s.routeTable() }
