package signer

import (
	"encoding/base64"
	"errors"
	"testing"
	"time"
)

// fuzzFixture is the fixed world FuzzVerify runs in: a two-key ring, binding
// on, and the only tokens that were ever signed.
type fuzzFixture struct {
	signer *Signer
	client Client
	now    time.Time
	valid  map[string]bool
}

func newFuzzFixture(tb testing.TB) fuzzFixture {
	tb.Helper()
	k1, k0 := testKey(tb, "k1", 0xa1), testKey(tb, "k0", 0x0b)
	opts := Options{BindIP: BindIPPrefix, BindUA: true, Leeway: 5 * time.Second}
	fx := fuzzFixture{
		signer: New(mustRing(tb, k1, k0), opts),
		client: testClient(tb, "198.51.100.7"),
		now:    testNow(),
		valid:  map[string]bool{},
	}
	old := New(mustRing(tb, k0), opts) // the secondary key still verifies
	c := testClaims(tb)
	big := c
	big.UserID, big.StreamID = 1e9, 1<<62
	for _, tok := range []string{
		fx.signer.Sign(c, fx.client),
		fx.signer.Sign(big, fx.client),
		old.Sign(c, fx.client),
	} {
		fx.valid[tok] = true
	}
	return fx
}

// FuzzVerify checks that Verify never panics, only returns its sentinels, and
// accepts nothing but the exact tokens that were signed: no mutation,
// re-encoding or forgery of them.
func FuzzVerify(f *testing.F) {
	fx := newFuzzFixture(f)
	for tok := range fx.valid {
		f.Add(tok)
		raw, _ := base64.RawURLEncoding.DecodeString(tok)
		flipped := append([]byte(nil), raw...)
		flipped[len(flipped)/2] ^= 0x10
		f.Add(base64.RawURLEncoding.EncodeToString(flipped))
		f.Add(tok[:len(tok)-1])
		f.Add(tok + "A")
		f.Add(base64.URLEncoding.EncodeToString(raw)) // padded
	}
	sentinels := []error{ErrMalformed, ErrUnknownKey, ErrBadMAC, ErrExpired, ErrIPMismatch, ErrUAMismatch, ErrRevoked}
	f.Fuzz(func(t *testing.T, tok string) {
		c, err := fx.signer.Verify(tok, fx.client, fx.now)
		if err != nil {
			for _, s := range sentinels {
				if errors.Is(err, s) {
					return
				}
			}
			t.Fatalf("Verify(%q) = %v, not a sentinel", tok, err)
		}
		if !fx.valid[tok] {
			t.Fatalf("Verify accepted %q, which was never signed (claims %+v)", tok, c)
		}
	})
}

// TestFuzzSeedsAreValid makes sure the fixture really signs tokens that
// verify; otherwise FuzzVerify's acceptance check could never fire.
func TestFuzzSeedsAreValid(t *testing.T) {
	fx := newFuzzFixture(t)
	if len(fx.valid) != 3 {
		t.Fatalf("%d distinct valid tokens, want 3", len(fx.valid))
	}
	for tok := range fx.valid {
		if _, err := fx.signer.Verify(tok, fx.client, fx.now); err != nil {
			t.Errorf("Verify(%q) = %v", tok, err)
		}
	}
}
