package signer

import (
	"fmt"
	"net/netip"
)

// BindIP says how much of the client address a token is bound to. The zero
// value is [BindIPExact], so an Options left unset fails closed (strictest)
// rather than open.
//
// In every mode an IPv6 address is compared by its /64: privacy addresses
// rotate inside it, and a /64 is what one subscriber gets. An IPv4-mapped IPv6
// address (::ffff:a.b.c.d) is treated as the IPv4 address it carries.
type BindIP uint8

const (
	// BindIPExact binds IPv4 clients to their exact address (IPv6 to the /64).
	BindIPExact BindIP = iota
	// BindIPPrefix binds IPv4 clients to their /24 (IPv6 to the /64), which
	// survives carrier-grade NAT pools that hand out neighbouring addresses.
	BindIPPrefix
	// BindIPOff does not bind tokens to the address: for mobile users who
	// roam between networks. The IP hash in the token is all zeros.
	BindIPOff
)

// ParseBindIP parses "exact", "prefix" or "off".
func ParseBindIP(s string) (BindIP, error) {
	switch s {
	case "exact":
		return BindIPExact, nil
	case "prefix":
		return BindIPPrefix, nil
	case "off":
		return BindIPOff, nil
	}
	return 0, fmt.Errorf("parse bind ip: %q is not one of exact, prefix, off", s)
}

// String returns the name ParseBindIP accepts.
func (b BindIP) String() string {
	switch b {
	case BindIPExact:
		return "exact"
	case BindIPPrefix:
		return "prefix"
	case BindIPOff:
		return "off"
	}
	return fmt.Sprintf("BindIP(%d)", uint8(b))
}

// ipHashInput writes the bytes hashed for ip under mode into dst and returns
// how many it wrote (at most 9), or 0 if the address is invalid. The first
// byte is the prefix length kept, so an exact IPv4 x.y.z.0 never hashes like
// the /24 x.y.z.0/24 and an IPv4 never like an IPv6 prefix.
func ipHashInput(dst []byte, ip netip.Addr, mode BindIP) int {
	ip = ip.Unmap()
	switch {
	case ip.Is4():
		a := ip.As4()
		if mode == BindIPPrefix {
			a[3] = 0
			dst[0] = 24
		} else {
			dst[0] = 32
		}
		return 1 + copy(dst[1:], a[:])
	case ip.Is6():
		// As16 drops the zone; the /64 is the first 8 bytes.
		a := ip.As16()
		dst[0] = 64
		return 1 + copy(dst[1:], a[:8])
	}
	return 0
}
