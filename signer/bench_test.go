package signer

import (
	"encoding/base64"
	"encoding/binary"
	"net/netip"
	"testing"
)

// benchSigner returns a signer as the proxy would configure it: prefix IP
// binding, UA binding and a revocation set of 10k sessions.
func benchSigner(tb testing.TB) (*Signer, Client) {
	tb.Helper()
	revoked := make(mapRevocations, 10_000)
	for i := range 10_000 {
		var id SessionID
		binary.BigEndian.PutUint64(id[8:], uint64(i)+1<<40)
		revoked[id] = struct{}{}
	}
	s := New(mustRing(tb, testKey(tb, "k2026-03", 0xa1), testKey(tb, "k2026-02", 0xb2)),
		Options{BindIP: BindIPPrefix, BindUA: true, Revocations: revoked})
	return s, Client{IP: netip.MustParseAddr("198.51.100.7"), UserAgent: realisticUA}
}

func benchClaims(tb testing.TB) Claims {
	tb.Helper()
	c := testClaims(tb)
	c.UserID, c.StreamID = 123_456_789, 987_654
	return c
}

func BenchmarkVerify(b *testing.B) {
	s, client := benchSigner(b)
	tok := s.Sign(benchClaims(b), client)
	now := testNow()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := s.Verify(tok, client, now); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkVerifyParallel(b *testing.B) {
	s, client := benchSigner(b)
	tok := s.Sign(benchClaims(b), client)
	now := testNow()
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := s.Verify(tok, client, now); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

// BenchmarkVerifyBadMAC is the cost of refusing a forged token: what a flood
// of junk requests costs.
func BenchmarkVerifyBadMAC(b *testing.B) {
	s, client := benchSigner(b)
	raw, err := base64.RawURLEncoding.DecodeString(s.Sign(benchClaims(b), client))
	if err != nil {
		b.Fatal(err)
	}
	raw[len(raw)-1] ^= 1 // last MAC byte
	forged := base64.RawURLEncoding.EncodeToString(raw)
	now := testNow()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := s.Verify(forged, client, now); err != ErrBadMAC {
			b.Fatalf("Verify(forged) = %v, want ErrBadMAC", err)
		}
	}
}

func BenchmarkSign(b *testing.B) {
	s, client := benchSigner(b)
	c := benchClaims(b)
	b.ReportAllocs()
	for b.Loop() {
		if s.Sign(c, client) == "" {
			b.Fatal("empty token")
		}
	}
}

// TestVerifyDoesNotAllocate pins the zero-allocation promise in Verify's doc,
// on success and on refusal (a flood of junk tokens must not load the GC).
func TestVerifyDoesNotAllocate(t *testing.T) {
	if raceEnabled {
		t.Skip("sync.Pool drops items at random under the race detector")
	}
	s, client := benchSigner(t)
	tok := s.Sign(benchClaims(t), client)
	now := testNow()
	tests := []struct {
		name  string
		token string
		want  error
	}{
		{"valid", tok, nil},
		{"bad mac", tok[:len(tok)-2] + "AA", ErrBadMAC},
		{"malformed", tok + "=", ErrMalformed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var err error
			allocs := testing.AllocsPerRun(100, func() {
				_, err = s.Verify(tt.token, client, now)
			})
			if err != tt.want {
				t.Fatalf("Verify = %v, want %v", err, tt.want)
			}
			if allocs != 0 {
				t.Errorf("Verify allocated %.1f times per call, want 0", allocs)
			}
		})
	}
}
