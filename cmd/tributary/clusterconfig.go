package main

import (
	"fmt"
	"net/netip"
	"strings"
)

// joinAddrs returns the --join addresses, without blanks.
func (c Config) joinAddrs() []string {
	return splitList(c.Join)
}

// raftAdvertised is the cluster port address other nodes dial.
func (c Config) raftAdvertised() string {
	if c.AdvertiseRaft != "" {
		return c.AdvertiseRaft
	}
	return c.RaftAddr
}

// kafkaAdvertisedAddr is the Kafka address put in the node registry.
func (c Config) kafkaAdvertisedAddr() string {
	if c.AdvertiseKafka != "" {
		return c.AdvertiseKafka
	}
	return c.KafkaAddr
}

// proxyProtocolSources parses --proxy-protocol-from: CIDRs, or single
// addresses (taken as /32 or /128).
func (c Config) proxyProtocolSources() ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, s := range splitList(c.ProxyProtocolFrom) {
		if p, err := netip.ParsePrefix(s); err == nil {
			out = append(out, p.Masked())
			continue
		}
		a, err := netip.ParseAddr(s)
		if err != nil {
			return nil, fmt.Errorf("%q is neither a CIDR nor an IP address", s)
		}
		out = append(out, netip.PrefixFrom(a, a.BitLen()))
	}
	return out, nil
}

// splitList splits a comma-separated list, dropping blanks.
func splitList(s string) []string {
	var out []string
	for _, part := range strings.Split(s, ",") {
		if part = strings.TrimSpace(part); part != "" {
			out = append(out, part)
		}
	}
	return out
}
