package wire

import (
	"errors"
	"fmt"
	"net"
)

// validateAddr checks that addr is host:port with a decimal port in
// 0..65535. The host may be empty (every interface) or a name; it is
// resolved at bind time, not here.
func validateAddr(addr string) error {
	if addr == "" {
		return errors.New("empty address")
	}
	_, port, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("%q is not host:port: %w", addr, err)
	}
	if !isDecimalPort(port) {
		return fmt.Errorf("%q has an invalid port %q (want 0-65535)", addr, port)
	}
	return nil
}

// isDecimalPort reports whether p is a decimal number in 0..65535. Service
// names ("http") are rejected: a port in a config file should mean the same
// on every machine, whatever its /etc/services says.
func isDecimalPort(p string) bool {
	if p == "" || len(p) > 5 {
		return false
	}
	n := 0
	for _, c := range p {
		if c < '0' || c > '9' {
			return false
		}
		n = n*10 + int(c-'0')
	}
	return n <= 65535
}
