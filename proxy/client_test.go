package proxy

import (
	"net/http/httptest"
	"net/netip"
	"testing"
)

func TestClientIP(t *testing.T) {
	trusted := []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("::1/128")}
	tests := []struct {
		name    string
		trusted []netip.Prefix
		remote  string
		xff     []string
		want    string
	}{
		{"peer when nothing trusted", nil, "203.0.113.9:5000", []string{"1.2.3.4"}, "203.0.113.9"},
		{"untrusted peer's XFF ignored", trusted, "203.0.113.9:5000", []string{"1.2.3.4"}, "203.0.113.9"},
		{"trusted peer: rightmost untrusted", trusted, "10.0.0.2:5000", []string{"6.6.6.6, 1.2.3.4, 10.0.0.7"}, "1.2.3.4"},
		{"spoofed leftmost entries ignored", trusted, "10.0.0.2:5000", []string{"9.9.9.9", "1.2.3.4"}, "1.2.3.4"},
		{"all trusted: leftmost", trusted, "10.0.0.2:5000", []string{"10.1.1.1, 10.2.2.2"}, "10.1.1.1"},
		{"garbage stops the walk", trusted, "10.0.0.2:5000", []string{"1.2.3.4, nonsense, 10.0.0.9"}, "10.0.0.9"},
		{"no XFF from trusted peer", trusted, "10.0.0.2:5000", nil, "10.0.0.2"},
		{"ipv6 peer", trusted, "[::1]:5000", []string{"2001:db8::5"}, "2001:db8::5"},
		{"ipv4-mapped peer unmapped", nil, "[::ffff:192.0.2.1]:80", nil, "192.0.2.1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest("GET", "/", nil)
			r.RemoteAddr = tt.remote
			for _, v := range tt.xff {
				r.Header.Add("X-Forwarded-For", v)
			}
			got := NewClientIPResolver(tt.trusted).ClientIP(r)
			if got.String() != tt.want {
				t.Errorf("ClientIP = %s, want %s", got, tt.want)
			}
		})
	}
}
