package proxy

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strings"
	"syscall"
	"time"
)

// ErrForbiddenAddress is returned when an upstream resolves to an address
// hlsgate must not reach (loopback, private, link-local, ...).
var ErrForbiddenAddress = errors.New("proxy: upstream address is not public")

// forbiddenPrefixes are the networks an upstream may not resolve to unless
// -allow-private-upstreams is set.
func forbiddenPrefixes() []netip.Prefix {
	var out []netip.Prefix
	for _, s := range []string{
		"0.0.0.0/8",       // "this network"
		"10.0.0.0/8",      // private
		"100.64.0.0/10",   // carrier-grade NAT
		"127.0.0.0/8",     // loopback
		"169.254.0.0/16",  // link-local, cloud metadata (169.254.169.254)
		"172.16.0.0/12",   // private
		"192.0.0.0/24",    // IETF protocol assignments
		"192.0.2.0/24",    // documentation
		"192.168.0.0/16",  // private
		"198.18.0.0/15",   // benchmarking
		"198.51.100.0/24", // documentation
		"203.0.113.0/24",  // documentation
		"224.0.0.0/4",     // multicast
		"240.0.0.0/4",     // reserved, broadcast
		"::/128",          // unspecified
		"::1/128",         // loopback
		"64:ff9b::/96",    // NAT64 can reach private IPv4
		"64:ff9b:1::/48",  // local-use NAT64
		"100::/64",        // discard
		"2001:db8::/32",   // documentation
		"fc00::/7",        // unique local, incl. fd00:ec2::254 (AWS metadata)
		"fe80::/10",       // link-local
		"ff00::/8",        // multicast
	} {
		out = append(out, netip.MustParsePrefix(s))
	}
	return out
}

// guard decides which upstream addresses may be dialled.
type guard struct {
	allowPrivate bool
	forbidden    []netip.Prefix
	resolver     *net.Resolver
}

func newGuard(allowPrivate bool) *guard {
	return &guard{allowPrivate: allowPrivate, forbidden: forbiddenPrefixes(), resolver: net.DefaultResolver}
}

// allowed reports whether a may be dialled.
func (g *guard) allowed(a netip.Addr) bool {
	if g.allowPrivate {
		return true
	}
	a = a.Unmap()
	if !a.IsValid() || a.IsUnspecified() || a.IsLoopback() || a.IsPrivate() || a.IsLinkLocalUnicast() || a.IsMulticast() {
		return false
	}
	for _, p := range g.forbidden {
		if p.Contains(a) {
			return false
		}
	}
	return true
}

// control runs in the dialer after DNS resolution, on the address actually
// dialled, so DNS rebinding cannot slip a private address past the check.
func (g *guard) control(network, address string, _ syscall.RawConn) error {
	ap, err := netip.ParseAddrPort(address)
	if err != nil {
		return fmt.Errorf("%w: %s", ErrForbiddenAddress, address)
	}
	if !g.allowed(ap.Addr()) {
		return fmt.Errorf("%w: %s", ErrForbiddenAddress, ap.Addr())
	}
	return nil
}

// CheckHost tells up front whether host is an upstream hlsgate may reach:
// an IP literal is checked as it is, a name is resolved (briefly) and every
// address checked. A name that does not resolve now is accepted: the dialer
// checks again on every connection.
func (h *Handler) CheckHost(ctx context.Context, host string) error {
	return h.guard.checkHost(ctx, host)
}

func (g *guard) checkHost(ctx context.Context, host string) error {
	const hint = " (set -allow-private-upstreams for LAN origins)"
	if a, err := netip.ParseAddr(host); err == nil {
		if !g.allowed(a) {
			return errors.New("host is a loopback, private, link-local or otherwise non-public address" + hint)
		}
		return nil
	}
	if g.allowPrivate {
		return nil
	}
	if strings.EqualFold(host, "localhost") || hasSuffixFold(host, ".localhost") {
		return errors.New("host is a loopback name" + hint)
	}
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	addrs, err := g.resolver.LookupNetIP(ctx, "ip", host)
	if err != nil {
		return nil
	}
	for _, a := range addrs {
		if !g.allowed(a) {
			return fmt.Errorf("host resolves to a non-public address %s%s", a, hint)
		}
	}
	return nil
}

func hasSuffixFold(s, suffix string) bool {
	return len(s) >= len(suffix) && strings.EqualFold(s[len(s)-len(suffix):], suffix)
}
