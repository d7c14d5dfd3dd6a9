package proxy

import (
	"context"
	"errors"
	"net/netip"
	"testing"
)

func TestGuardAllowed(t *testing.T) {
	g := newGuard(false)
	for _, s := range []string{
		"127.0.0.1", "10.1.2.3", "172.16.0.1", "192.168.1.1", "169.254.169.254", "100.64.0.1", "0.0.0.0",
		"224.0.0.1", "255.255.255.255", "::1", "::", "fe80::1", "fd00:ec2::254", "fc00::1", "ff02::1",
		"::ffff:127.0.0.1", "::ffff:10.0.0.1", "64:ff9b::a00:1",
	} {
		if g.allowed(netip.MustParseAddr(s)) {
			t.Errorf("allowed(%s) = true, want false", s)
		}
	}
	for _, s := range []string{"93.184.216.34", "8.8.8.8", "2606:4700::1111"} {
		if !g.allowed(netip.MustParseAddr(s)) {
			t.Errorf("allowed(%s) = false, want true", s)
		}
	}
	if !newGuard(true).allowed(netip.MustParseAddr("127.0.0.1")) {
		t.Error("allowPrivate guard refused loopback")
	}
}

func TestGuardControl(t *testing.T) {
	g := newGuard(false)
	if err := g.control("tcp4", "127.0.0.1:80", nil); !errors.Is(err, ErrForbiddenAddress) {
		t.Errorf("control(127.0.0.1) = %v, want ErrForbiddenAddress", err)
	}
	if err := g.control("tcp6", "[::1]:80", nil); !errors.Is(err, ErrForbiddenAddress) {
		t.Errorf("control(::1) = %v, want ErrForbiddenAddress", err)
	}
	if err := g.control("tcp4", "8.8.8.8:443", nil); err != nil {
		t.Errorf("control(8.8.8.8) = %v", err)
	}
}

func TestCheckHost(t *testing.T) {
	g := newGuard(false)
	ctx := context.Background()
	for _, h := range []string{"127.0.0.1", "10.0.0.1", "169.254.169.254", "::1", "localhost", "LocalHost", "cam.localhost"} {
		if err := g.checkHost(ctx, h); err == nil {
			t.Errorf("checkHost(%s) = nil, want an error", h)
		}
	}
	if err := g.checkHost(ctx, "8.8.8.8"); err != nil {
		t.Errorf("checkHost(8.8.8.8) = %v", err)
	}
	if err := newGuard(true).checkHost(ctx, "127.0.0.1"); err != nil {
		t.Errorf("allowPrivate checkHost(127.0.0.1) = %v", err)
	}
}
