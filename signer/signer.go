package signer

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"hash"
	"net/netip"
	"sync"
	"time"
)

// Verification errors. Verify returns exactly one of these (unwrapped, so a
// flood of bad tokens costs no allocation); callers branch with errors.Is.
var (
	// ErrMalformed: the token is not a canonical v1 token (bad length,
	// alphabet, padding, varints, trailing bytes, version or key id length).
	ErrMalformed = errors.New("signer: malformed token")
	// ErrUnknownKey: the token names a key id that is not in the ring, e.g.
	// a key that was rotated out.
	ErrUnknownKey = errors.New("signer: unknown token key")
	// ErrBadMAC: the MAC does not match; the token was forged or altered.
	ErrBadMAC = errors.New("signer: bad token mac")
	// ErrExpired: the token, or the session it was minted for, has expired.
	ErrExpired = errors.New("signer: token expired")
	// ErrIPMismatch: the token is bound to another client address.
	ErrIPMismatch = errors.New("signer: token bound to another ip")
	// ErrUAMismatch: the token is bound to another User-Agent.
	ErrUAMismatch = errors.New("signer: token bound to another user agent")
	// ErrRevoked: the token's session has been revoked.
	ErrRevoked = errors.New("signer: session revoked")
)

// Sub-key purposes for [Key.Derive]. The "/v1" suffix lets a future format
// change keys without colliding with these.
const (
	purposeMAC = "token/mac/v1"
	purposeIP  = "token/ip/v1"
	purposeUA  = "token/ua/v1"
)

// Format constants.
const (
	formatVersion = 1
	macLen        = 16 // 128 bits: the floor for a truncated HMAC
	bindHashLen   = 8
	maxVarintLen  = 9 // 9*7 = 63 bits: every value in [0, MaxInt64], nothing more

	minRawLen = 1 + 1 + 1 + 1 + len(SessionID{}) + 1 + 2*bindHashLen + 1 + 1 + macLen
	maxRawLen = 1 + 1 + MaxKeyIDLen + maxVarintLen + len(SessionID{}) + maxVarintLen +
		2*bindHashLen + 2*maxVarintLen + macLen

	// MaxTokenLen is the longest token Verify considers; longer input is
	// refused before any decoding. Realistic tokens are about 104 characters.
	MaxTokenLen = (maxRawLen*8 + 5) / 6
	minTokenLen = (minRawLen*8 + 5) / 6

	// rawBufLen leaves room for the 10-byte varints Sign writes for negative
	// ids (which Verify then refuses).
	rawBufLen = maxRawLen + 4*(binary.MaxVarintLen64-maxVarintLen)
	// uaChunk is how much of a User-Agent is copied per hash write.
	uaChunk = 128
)

// RevocationChecker reports revoked sessions. Verify calls it on every
// request, so it must be cheap and must not do I/O: an in-memory set kept
// current by the caller.
type RevocationChecker interface {
	Revoked(id SessionID) bool
}

// Options configure a Signer. The zero value binds tokens to the exact client
// address, not to the User-Agent, allows no clock skew and revokes nothing.
type Options struct {
	// BindIP is how tokens are bound to the client address; see [BindIP].
	BindIP BindIP
	// BindUA binds tokens to the client's User-Agent string.
	BindUA bool
	// Leeway is the clock skew tolerated on expiry between replicas, small
	// (a few seconds). Zero means none.
	Leeway time.Duration
	// Revocations is consulted last, after everything else passed. Nil means
	// nothing is revoked.
	Revocations RevocationChecker
}

// Validate reports options New would refuse.
func (o Options) Validate() error {
	if o.BindIP > BindIPOff {
		return fmt.Errorf("signer options: unknown ip binding %d", uint8(o.BindIP))
	}
	if o.Leeway < 0 {
		return fmt.Errorf("signer options: negative leeway %v", o.Leeway)
	}
	return nil
}

// Claims are what a token asserts. UserID and StreamID must be >= 0: a token
// signed with a negative id never verifies (ErrMalformed).
type Claims struct {
	UserID    int64
	SessionID SessionID
	StreamID  int64
	// SessionExpires is the login session's own expiry. Tokens minted from
	// this one carry it forward, so re-minting can never outlive the session.
	SessionExpires time.Time
	// Expires is this token's expiry, at second precision.
	Expires time.Time
}

// Client is the requesting client as the server determined it (after any
// trusted-proxy handling of X-Forwarded-For).
type Client struct {
	IP        netip.Addr
	UserAgent string
}

// Signer signs and verifies tokens with one key ring and one set of options.
// It is safe for concurrent use.
type Signer struct {
	keys []*keyState // primary first
	opts Options
	b64  *base64URLTable
}

// keyState holds pooled hash states for one key: the derived sub-keys' HMAC
// ipad/opad are computed once per pooled object, and Reset reuses them, so a
// request pays no key setup and no allocation.
type keyState struct {
	id   string
	pool sync.Pool // of *scratch
}

// scratch is the per-call working memory. Hash writes go through an interface,
// so the compiler would move any stack buffer passed to them to the heap; the
// pooled buffers avoid that.
type scratch struct {
	mac, ip, ua hash.Hash
	raw         [rawBufLen]byte
	sum         [sha256.Size]byte
	tmp         [uaChunk]byte
	out         [(rawBufLen*8 + 5) / 6]byte
}

// New returns a Signer that signs with ring's primary key and verifies with
// any key in it. It panics if ring is nil or opts fail [Options.Validate]:
// both are programming errors, caught when the configuration is loaded.
func New(ring *KeyRing, opts Options) *Signer {
	if ring == nil {
		panic("signer: New called with a nil key ring")
	}
	if err := opts.Validate(); err != nil {
		panic("signer: New: " + err.Error())
	}
	s := &Signer{opts: opts, b64: newBase64URLTable()}
	for _, k := range ring.keys {
		macKey, ipKey, uaKey := k.Derive(purposeMAC), k.Derive(purposeIP), k.Derive(purposeUA)
		ks := &keyState{id: k.ID}
		ks.pool.New = func() any {
			return &scratch{
				mac: hmac.New(sha256.New, macKey),
				ip:  hmac.New(sha256.New, ipKey),
				ua:  hmac.New(sha256.New, uaKey),
			}
		}
		s.keys = append(s.keys, ks)
	}
	return s
}

// Sign returns the token for c bound to client. Expires and SessionExpires are
// truncated to whole seconds; Expires is capped at SessionExpires, and times
// before 1970 become 1970 (so such a token is already expired). The same
// inputs always give the same string.
func (s *Signer) Sign(c Claims, client Client) string {
	ks := s.keys[0]
	sc := ks.pool.Get().(*scratch)
	defer ks.pool.Put(sc)

	sessExp := unixSeconds(c.SessionExpires)
	exp := min(unixSeconds(c.Expires), sessExp)

	b := sc.raw[:0]
	b = append(b, formatVersion, byte(len(ks.id)))
	b = append(b, ks.id...)
	// A negative id becomes a 10-byte varint here, which Verify refuses.
	b = binary.AppendUvarint(b, uint64(c.UserID))
	b = append(b, c.SessionID[:]...)
	b = binary.AppendUvarint(b, uint64(c.StreamID))
	// An unbound field is zeros. So is the IP field for an invalid address
	// when binding is on; a real address hashes to zeros with probability
	// 2^-64, so such a token fails every IP check.
	ipSum, ipOK := []byte(nil), false
	if s.opts.BindIP != BindIPOff {
		ipSum, ipOK = s.ipSum(sc, client.IP)
	}
	if ipOK {
		b = append(b, ipSum...)
	} else {
		b = appendZeros(b)
	}
	if s.opts.BindUA {
		b = append(b, uaSum(sc, client.UserAgent)...)
	} else {
		b = appendZeros(b)
	}
	b = binary.AppendUvarint(b, sessExp)
	b = binary.AppendUvarint(b, exp)
	sc.mac.Reset()
	sc.mac.Write(b)
	b = append(b, sc.mac.Sum(sc.sum[:0])[:macLen]...)

	n := base64.RawURLEncoding.EncodedLen(len(b))
	base64.RawURLEncoding.Encode(sc.out[:n], b)
	return string(sc.out[:n])
}

// ipSum returns the keyed hash of client address ip as bound under the
// signer's mode, or false when ip is invalid. The result aliases sc.sum.
func (s *Signer) ipSum(sc *scratch, ip netip.Addr) ([]byte, bool) {
	n := ipHashInput(sc.tmp[:], ip, s.opts.BindIP)
	if n == 0 {
		return nil, false
	}
	sc.ip.Reset()
	sc.ip.Write(sc.tmp[:n])
	return sc.ip.Sum(sc.sum[:0])[:bindHashLen], true
}

// uaSum returns the keyed hash of a User-Agent. The string is copied through
// sc.tmp in chunks because converting it to []byte for the interface call
// would allocate. The result aliases sc.sum.
func uaSum(sc *scratch, ua string) []byte {
	sc.ua.Reset()
	for len(ua) > 0 {
		n := copy(sc.tmp[:], ua)
		sc.ua.Write(sc.tmp[:n])
		ua = ua[n:]
	}
	return sc.ua.Sum(sc.sum[:0])[:bindHashLen]
}

// appendZeros appends an unbound hash field. The compiler turns this append
// of make into a clear without allocating.
func appendZeros(b []byte) []byte {
	return append(b, make([]byte, bindHashLen)...)
}
