package twilio

import (
	"context"
	"net"
)

// SetResolver replaces how c resolves a media redirect's host.
func SetResolver(c *Client, resolve func(ctx context.Context, host string) ([]net.IPAddr, error)) {
	c.resolve = resolve
}
