package signer

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"net/netip"
	"testing"
	"time"
)

// testNow is the fixed clock every test uses.
func testNow() time.Time { return time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC) }

// realisticUA is about the length of a current desktop browser's User-Agent.
const realisticUA = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36"

// testKey returns a key whose secret is fill repeated: fixed, so tokens are
// reproducible across runs.
func testKey(tb testing.TB, id string, fill byte) Key {
	tb.Helper()
	return Key{ID: id, Secret: bytes.Repeat([]byte{fill}, MinSecretLen)}
}

func mustRing(tb testing.TB, keys ...Key) *KeyRing {
	tb.Helper()
	r, err := NewKeyRing(keys...)
	if err != nil {
		tb.Fatalf("NewKeyRing: %v", err)
	}
	return r
}

func testClaims(tb testing.TB) Claims {
	tb.Helper()
	return Claims{
		UserID:         42,
		SessionID:      SessionID{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16},
		StreamID:       7,
		SessionExpires: testNow().Add(24 * time.Hour),
		Expires:        testNow().Add(time.Minute),
	}
}

func testClient(tb testing.TB, ip string) Client {
	tb.Helper()
	return Client{IP: netip.MustParseAddr(ip), UserAgent: realisticUA}
}

// rawToken is a token's fields laid out by hand, independently of Sign, so
// tests can build tokens Sign never would (overlong varints, trailing bytes)
// that still carry a valid MAC.
type rawToken struct {
	version        byte
	keyID          string
	userID         []byte // encoded varint as it should appear
	sessionID      SessionID
	streamID       []byte
	ipHash, uaHash [8]byte
	sessExp, exp   []byte
	trailer        []byte // extra bytes before the MAC
}

func varint(v uint64) []byte { return binary.AppendUvarint(nil, v) }

// encode lays out the fields, MACs them with k's derived MAC key and encodes
// the result.
func (r rawToken) encode(tb testing.TB, k Key) string {
	tb.Helper()
	var b []byte
	b = append(b, r.version, byte(len(r.keyID)))
	b = append(b, r.keyID...)
	b = append(b, r.userID...)
	b = append(b, r.sessionID[:]...)
	b = append(b, r.streamID...)
	b = append(b, r.ipHash[:]...)
	b = append(b, r.uaHash[:]...)
	b = append(b, r.sessExp...)
	b = append(b, r.exp...)
	b = append(b, r.trailer...)
	m := hmac.New(sha256.New, k.Derive("token/mac/v1"))
	m.Write(b)
	b = m.Sum(b)[:len(b)+16]
	return base64.RawURLEncoding.EncodeToString(b)
}

// unboundRaw returns the raw fields Sign produces for testClaims with IP and
// UA binding off.
func unboundRaw(tb testing.TB, k Key) rawToken {
	tb.Helper()
	c := testClaims(tb)
	return rawToken{
		version:   1,
		keyID:     k.ID,
		userID:    varint(uint64(c.UserID)),
		sessionID: c.SessionID,
		streamID:  varint(uint64(c.StreamID)),
		sessExp:   varint(uint64(c.SessionExpires.Unix())),
		exp:       varint(uint64(c.Expires.Unix())),
	}
}

// mapRevocations is the in-memory set the server is expected to use.
type mapRevocations map[SessionID]struct{}

func (m mapRevocations) Revoked(id SessionID) bool {
	_, ok := m[id]
	return ok
}

func hexString(b []byte) string {
	const digits = "0123456789abcdef"
	out := make([]byte, 0, 2*len(b))
	for _, c := range b {
		out = append(out, digits[c>>4], digits[c&15])
	}
	return string(out)
}
