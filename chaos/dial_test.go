package chaos

import (
	"context"
	"net"
	"time"
)

// dialTCP connects to addr within ctx (and at most 5s).
func dialTCP(ctx context.Context, addr string) (net.Conn, error) {
	d := net.Dialer{Timeout: 5 * time.Second}
	return d.DialContext(ctx, "tcp", addr)
}
