package signer

import (
	"crypto/hmac"
	"math"
	"time"
)

// fields are a decoded token's parts, structurally valid but untrusted until
// the MAC has been checked.
type fields struct {
	keyID          []byte
	userID         uint64
	sessionID      SessionID
	streamID       uint64
	ipHash, uaHash []byte
	sessExp, exp   uint64
	payload, mac   []byte
}

// Verify checks token for client at time now and returns its claims. The
// checks run in this order, and the first failure is returned as one of the
// package's sentinel errors: canonical decoding (ErrMalformed), key id
// (ErrUnknownKey), MAC in constant time (ErrBadMAC), then, with the fields now
// trusted, expiry of the token and of its session with Options.Leeway
// (ErrExpired), IP binding (ErrIPMismatch), UA binding (ErrUAMismatch) and
// revocation (ErrRevoked). Claims are zero on error. Verify does not allocate.
func (s *Signer) Verify(token string, client Client, now time.Time) (Claims, error) {
	if len(token) < minTokenLen || len(token) > MaxTokenLen {
		return Claims{}, ErrMalformed
	}
	var buf [maxRawLen]byte
	n, ok := s.b64.decode(buf[:], token)
	if !ok {
		return Claims{}, ErrMalformed
	}
	f, ok := parseFields(buf[:n])
	if !ok {
		return Claims{}, ErrMalformed
	}
	var ks *keyState
	for _, k := range s.keys {
		if k.id == string(f.keyID) {
			ks = k
			break
		}
	}
	if ks == nil {
		return Claims{}, ErrUnknownKey
	}

	sc := ks.pool.Get().(*scratch)
	defer ks.pool.Put(sc)
	// Copy into pooled memory: writing the stack buffer through the hash
	// interface would make it escape to the heap.
	m := copy(sc.raw[:], f.payload)
	sc.mac.Reset()
	sc.mac.Write(sc.raw[:m])
	if !hmac.Equal(sc.mac.Sum(sc.sum[:0])[:macLen], f.mac) {
		return Claims{}, ErrBadMAC
	}

	if expired(now, min(f.exp, f.sessExp), s.opts.Leeway) {
		return Claims{}, ErrExpired
	}
	if s.opts.BindIP != BindIPOff {
		sum, ok := s.ipSum(sc, client.IP)
		if !ok || !hmac.Equal(sum, f.ipHash) {
			return Claims{}, ErrIPMismatch
		}
	}
	if s.opts.BindUA && !hmac.Equal(uaSum(sc, client.UserAgent), f.uaHash) {
		return Claims{}, ErrUAMismatch
	}
	if s.opts.Revocations != nil && s.opts.Revocations.Revoked(f.sessionID) {
		return Claims{}, ErrRevoked
	}
	// The varints are below 2^63 (parseFields), so the conversions are exact.
	return Claims{
		UserID:         int64(f.userID),
		SessionID:      f.sessionID,
		StreamID:       int64(f.streamID),
		SessionExpires: time.Unix(int64(f.sessExp), 0).UTC(),
		Expires:        time.Unix(int64(f.exp), 0).UTC(),
	}, nil
}

// base64URLTable maps each byte to its base64url value, or 0xff when it is
// not in the alphabet. It lives in the Signer (built by New) rather than in a
// package variable, which would be mutable package state.
type base64URLTable [256]byte

func newBase64URLTable() *base64URLTable {
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
	var t base64URLTable
	for i := range t {
		t[i] = 0xff
	}
	for i := range len(alphabet) {
		t[alphabet[i]] = byte(i)
	}
	return &t
}

// decode decodes unpadded base64url from s into dst, refusing every
// non-canonical spelling: characters outside the alphabet (including '=',
// '\r' and '\n', which encoding/base64 would skip), a length that leaves a
// lone 6-bit group, and non-zero unused bits in the last character. So each
// byte string has exactly one accepted encoding. dst must hold len(s)*6/8
// bytes. It works on whole quanta because Verify spends much of its
// non-hashing time here.
func (t *base64URLTable) decode(dst []byte, s string) (int, bool) {
	n := 0
	for len(s) >= 4 && len(dst)-n >= 3 {
		a, b, c, d := t[s[0]], t[s[1]], t[s[2]], t[s[3]]
		if (a|b|c|d)&0xc0 != 0 {
			return 0, false
		}
		v := uint32(a)<<18 | uint32(b)<<12 | uint32(c)<<6 | uint32(d)
		dst[n], dst[n+1], dst[n+2] = byte(v>>16), byte(v>>8), byte(v)
		n += 3
		s = s[4:]
	}
	switch len(s) {
	case 0:
		return n, true
	case 2:
		a, b := t[s[0]], t[s[1]]
		// 12 bits: one byte and 4 unused bits, which must be zero.
		if (a|b)&0xc0 != 0 || b&0x0f != 0 || len(dst)-n < 1 {
			return 0, false
		}
		dst[n] = a<<2 | b>>4
		return n + 1, true
	case 3:
		a, b, c := t[s[0]], t[s[1]], t[s[2]]
		// 18 bits: two bytes and 2 unused bits, which must be zero.
		if (a|b|c)&0xc0 != 0 || c&0x03 != 0 || len(dst)-n < 2 {
			return 0, false
		}
		dst[n], dst[n+1] = a<<2|b>>4, b<<4|c>>2
		return n + 2, true
	}
	// One character left (6 bits make no byte), or dst too small.
	return 0, false
}

// parseFields splits a decoded token. It checks structure only (version, key
// id length, minimal varints below 2^63, exact total length); nothing in the
// result is trusted yet.
func parseFields(b []byte) (fields, bool) {
	var f fields
	if len(b) < minRawLen || b[0] != formatVersion {
		return f, false
	}
	idLen := int(b[1])
	if idLen < 1 || idLen > MaxKeyIDLen || len(b) < 2+idLen {
		return f, false
	}
	f.keyID = b[2 : 2+idLen]
	p := 2 + idLen
	var ok bool
	if f.userID, p, ok = uvarint(b, p); !ok {
		return f, false
	}
	if len(b)-p < len(f.sessionID) {
		return f, false
	}
	p += copy(f.sessionID[:], b[p:])
	if f.streamID, p, ok = uvarint(b, p); !ok {
		return f, false
	}
	if len(b)-p < 2*bindHashLen {
		return f, false
	}
	f.ipHash = b[p : p+bindHashLen]
	f.uaHash = b[p+bindHashLen : p+2*bindHashLen]
	p += 2 * bindHashLen
	if f.sessExp, p, ok = uvarint(b, p); !ok {
		return f, false
	}
	if f.exp, p, ok = uvarint(b, p); !ok {
		return f, false
	}
	// Exactly a MAC must remain: no trailing bytes, no short MAC.
	if len(b)-p != macLen {
		return f, false
	}
	f.payload, f.mac = b[:p], b[p:]
	return f, true
}

// uvarint reads a minimally encoded uvarint of at most 9 bytes (so the value
// is below 2^63 and fits an int64) from b at p and returns it with the new
// position. encoding/binary accepts overlong forms such as 0x80 0x00, which
// would give one value two spellings.
func uvarint(b []byte, p int) (uint64, int, bool) {
	var v uint64
	for i := 0; i < maxVarintLen && p+i < len(b); i++ {
		c := b[p+i]
		v |= uint64(c&0x7f) << (7 * i)
		if c < 0x80 {
			if c == 0 && i > 0 {
				return 0, p, false
			}
			return v, p + i + 1, true
		}
	}
	return 0, p, false
}

// expired reports whether now is later than exp (unix seconds) plus leeway.
// It works in integers: time.Unix overflows for exp near 2^63, which would
// turn a far-future expiry into a past one.
func expired(now time.Time, exp uint64, leeway time.Duration) bool {
	sec := now.Unix()
	if sec < 0 || uint64(sec) < exp {
		return false // now is before exp, and leeway is never negative
	}
	past := uint64(sec) - exp // whole seconds since exp
	if past >= uint64(math.MaxInt64/int64(time.Second)) {
		return true // beyond any Duration, so beyond any leeway
	}
	return time.Duration(past)*time.Second+time.Duration(now.Nanosecond()) > leeway
}

// unixSeconds truncates t to whole seconds since 1970, clamping earlier times
// (including the zero time.Time) to 0.
func unixSeconds(t time.Time) uint64 {
	return uint64(max(t.Unix(), 0))
}

// ExpiryBucket returns now+ttl rounded up to the next multiple of bucket since
// the Unix epoch (a time already on a boundary stays). Signing with it makes
// every reload of a live playlist within one bucket produce identical token
// URIs, which LL-HLS needs (a PRELOAD-HINT URI must equal the later PART URI)
// and which lets caches see repeated URIs. A bucket below one second counts as
// one second, since tokens carry whole seconds. now+ttl must lie between the
// years 1678 and 2262, the range of UnixNano.
func ExpiryBucket(now time.Time, ttl, bucket time.Duration) time.Time {
	bucket = max(bucket, time.Second)
	t := now.Add(ttl)
	ns, b := t.UnixNano(), bucket.Nanoseconds()
	r := ns % b
	if r < 0 {
		r += b
	}
	if r != 0 {
		ns += b - r
	}
	return time.Unix(0, ns).UTC()
}
