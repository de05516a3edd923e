package load

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strings"
)

// maxSourceAddrs bounds a parsed address list: more addresses than
// connections buy nothing.
const maxSourceAddrs = 1024

// LoopbackSources are the source addresses a run against a loopback broker
// spreads its connections over by default: 127.0.0.2–127.0.0.17. Each
// address has its own ephemeral ports toward the broker's address, so 16 of
// them hold far more connections than the 28,000 ports of one.
func LoopbackSources() []netip.Addr {
	addrs := make([]netip.Addr, 0, 16)
	for i := byte(2); i <= 17; i++ {
		addrs = append(addrs, netip.AddrFrom4([4]byte{127, 0, 0, i}))
	}
	return addrs
}

// AutoSources returns LoopbackSources when the broker address addr is an
// IPv4 loopback address (or "localhost"), and nil, letting the kernel
// choose, otherwise: binding 127.0.0.x cannot reach another host.
func AutoSources(addr string) []netip.Addr {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return nil
	}
	if host == "localhost" {
		return LoopbackSources()
	}
	ip, err := netip.ParseAddr(host)
	if err != nil || !ip.Is4() || !ip.IsLoopback() {
		return nil
	}
	return LoopbackSources()
}

// ParseSources parses a comma-separated list of addresses and inclusive
// IPv4 ranges, such as "127.0.0.2-127.0.0.17,10.0.0.5".
func ParseSources(spec string) ([]netip.Addr, error) {
	var addrs []netip.Addr
	for item := range strings.SplitSeq(spec, ",") {
		item = strings.TrimSpace(item)
		lo, hi, isRange := strings.Cut(item, "-")
		first, err := netip.ParseAddr(lo)
		if err != nil {
			return nil, fmt.Errorf("load: source address %q: %w", item, err)
		}
		last := first
		if isRange {
			if last, err = netip.ParseAddr(hi); err != nil {
				return nil, fmt.Errorf("load: source range %q: %w", item, err)
			}
			if !first.Is4() || !last.Is4() || last.Less(first) {
				return nil, fmt.Errorf("load: source range %q: want ascending IPv4 bounds", item)
			}
		}
		for a := first; ; a = a.Next() {
			if len(addrs) == maxSourceAddrs {
				return nil, fmt.Errorf("load: more than %d source addresses", maxSourceAddrs)
			}
			addrs = append(addrs, a)
			if a == last {
				break
			}
		}
	}
	if len(addrs) == 0 {
		return nil, errors.New("load: no source address")
	}
	return addrs, nil
}

// localAddr returns the address connection i binds to: the sources in
// turn, or nil (the kernel chooses) when there are none.
func localAddr(sources []netip.Addr, i int) net.Addr {
	if len(sources) == 0 {
		return nil
	}
	return net.TCPAddrFromAddrPort(netip.AddrPortFrom(sources[i%len(sources)], 0))
}
