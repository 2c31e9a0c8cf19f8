package http

import (
	"net/netip"
	"strings"

	"github.com/gofiber/fiber/v2"
)

// trustedProxies is the parsed Config.TrustedProxies.
type trustedProxies []netip.Prefix

// parseTrustedProxies reads IPs and CIDRs; an IP is a one-address prefix.
func parseTrustedProxies(list []string) (trustedProxies, error) {
	var out trustedProxies
	for _, raw := range list {
		raw = strings.TrimSpace(raw)
		if raw == "" {
			continue
		}
		if p, err := netip.ParsePrefix(raw); err == nil {
			out = append(out, p.Masked())
			continue
		}
		a, err := netip.ParseAddr(raw)
		if err != nil {
			return nil, err
		}
		a = a.Unmap()
		out = append(out, netip.PrefixFrom(a, a.BitLen()))
	}
	return out, nil
}

func (t trustedProxies) contains(a netip.Addr) bool {
	a = a.Unmap()
	for _, p := range t {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// clientIP is the address a request came from: the socket's peer, unless the peer is a trusted
// proxy; then the proxy header (X-Forwarded-For) is read from the right, skipping trusted
// proxies, and the first other address is the client. Entries left of it were written by the
// client and are never believed.
func (s *Server) clientIP(c *fiber.Ctx) string {
	peer, ok := netip.AddrFromSlice(c.Context().RemoteIP())
	if !ok {
		return c.Context().RemoteIP().String()
	}
	peer = peer.Unmap()
	if len(s.proxies) == 0 || !s.proxies.contains(peer) {
		return peer.String()
	}
	hops := strings.Split(c.Get(s.cfg.ProxyHeader), ",")
	client := peer
	for i := len(hops) - 1; i >= 0; i-- {
		a, err := netip.ParseAddr(strings.TrimSpace(hops[i]))
		if err != nil {
			break // a garbled hop: trust nothing further left
		}
		client = a.Unmap()
		if !s.proxies.contains(client) {
			break
		}
	}
	return client.String()
}
