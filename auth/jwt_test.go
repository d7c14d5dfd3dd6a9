package auth_test

import (
	"crypto/rand"
	"crypto/rsa"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/hlsgate/hlsgate/auth"
	"github.com/hlsgate/hlsgate/signer"
	"github.com/lestrrat-go/jwx/v2/jwa"
	"github.com/lestrrat-go/jwx/v2/jwk"
	"github.com/lestrrat-go/jwx/v2/jws"
	"github.com/lestrrat-go/jwx/v2/jwt"
)

func newTokens(tb testing.TB, ring *signer.KeyRing, issuer string, clock *fakeClock) *auth.Tokens {
	tb.Helper()
	tok, err := auth.NewTokens(ring, issuer, clock.Now)
	if err != nil {
		tb.Fatalf("NewTokens: %v", err)
	}
	return tok
}

func TestTokensRoundTrip(t *testing.T) {
	clock := newClock()
	tokens := newTokens(t, newRing(t, newKey(t, "k1")), "hlsgate", clock)
	want := auth.AccessClaims{UserID: 42, SessionID: signer.NewSessionID(), IssuedAt: t0, ExpiresAt: t0.Add(time.Hour)}
	s, err := tokens.Issue(want)
	if err != nil {
		t.Fatalf("Issue: %v", err)
	}
	got, err := tokens.Verify(s)
	if err != nil {
		t.Fatalf("Verify: %v", err)
	}
	if got.UserID != want.UserID || got.SessionID != want.SessionID || !got.IssuedAt.Equal(want.IssuedAt) || !got.ExpiresAt.Equal(want.ExpiresAt) {
		t.Errorf("Verify = %+v, want %+v", got, want)
	}

	// The header pins HS256 and names the key.
	msg, err := jws.Parse([]byte(s))
	if err != nil {
		t.Fatal(err)
	}
	h := msg.Signatures()[0].ProtectedHeaders()
	if h.Algorithm() != jwa.HS256 || h.KeyID() != "k1" {
		t.Errorf("header alg %q kid %q, want HS256 k1", h.Algorithm(), h.KeyID())
	}

	// Valid until the second before exp, not at exp.
	clock.Advance(time.Hour - time.Second)
	if _, err := tokens.Verify(s); err != nil {
		t.Errorf("a second before expiry: %v", err)
	}
	clock.Advance(time.Second)
	if _, err := tokens.Verify(s); !errors.Is(err, auth.ErrInvalidToken) {
		t.Errorf("at expiry: Verify = %v, want ErrInvalidToken", err)
	}
}

// TestTokensKeyRotation: every ring key verifies, the primary signs, and
// the JWT key is derived, not the ring secret itself.
func TestTokensKeyRotation(t *testing.T) {
	clock := newClock()
	k1, k2 := newKey(t, "k1"), newKey(t, "k2")
	old := newTokens(t, newRing(t, k1), "hlsgate", clock)
	rotating := newTokens(t, newRing(t, k2, k1), "hlsgate", clock)
	c := auth.AccessClaims{UserID: 1, SessionID: signer.NewSessionID(), IssuedAt: t0, ExpiresAt: t0.Add(time.Hour)}

	fromOld, err := old.Issue(c)
	if err != nil {
		t.Fatal(err)
	}
	fromNew, err := rotating.Issue(c)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := rotating.Verify(fromOld); err != nil {
		t.Errorf("a token of the old primary does not verify during rotation: %v", err)
	}
	if _, err := rotating.Verify(fromNew); err != nil {
		t.Errorf("a token of the new primary does not verify: %v", err)
	}
	if _, err := old.Verify(fromNew); !errors.Is(err, auth.ErrInvalidToken) {
		t.Errorf("a replica without k2 accepted a k2 token: %v", err)
	}
	msg, err := jws.Parse([]byte(fromNew))
	if err != nil {
		t.Fatal(err)
	}
	if kid := msg.Signatures()[0].ProtectedHeaders().KeyID(); kid != "k2" {
		t.Errorf("rotating ring signed with %q, want the primary k2", kid)
	}
}

func TestTokensRejectForgeries(t *testing.T) {
	clock := newClock()
	k1 := newKey(t, "k1")
	tokens := newTokens(t, newRing(t, k1), "hlsgate", clock)
	sid := signer.NewSessionID()

	derived := k1.Derive("jwt/v1")
	wrong := make([]byte, 32)
	_, _ = rand.Read(wrong)
	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}

	claims := func(edit func(b *jwt.Builder) *jwt.Builder) jwt.Token {
		b := jwt.NewBuilder().Subject("42").Issuer("hlsgate").IssuedAt(t0).Expiration(t0.Add(time.Hour)).Claim("sid", sid.String())
		if edit != nil {
			b = edit(b)
		}
		tok, err := b.Build()
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}
	sign := func(tok jwt.Token, alg jwa.SignatureAlgorithm, key any, kid string) string {
		hdr := jws.NewHeaders()
		if kid != "" {
			_ = hdr.Set(jws.KeyIDKey, kid)
		}
		b, err := jwt.Sign(tok, jwt.WithKey(alg, key, jws.WithProtectedHeaders(hdr)))
		if err != nil {
			t.Fatalf("sign %s: %v", alg, err)
		}
		return string(b)
	}
	without := func(name string) jwt.Token {
		tok := claims(nil)
		if err := tok.Remove(name); err != nil {
			t.Fatal(err)
		}
		return tok
	}
	with := func(name string, v any) jwt.Token {
		tok := claims(nil)
		if err := tok.Set(name, v); err != nil {
			t.Fatal(err)
		}
		return tok
	}

	// The control: the same construction with the right key, algorithm and
	// kid verifies, so each failure below is due to what the case changes.
	if _, err := tokens.Verify(sign(claims(nil), jwa.HS256, derived, "k1")); err != nil {
		t.Fatalf("hand-built valid token: %v", err)
	}

	noneTok := func() string {
		payload, err := jwt.NewSerializer().Serialize(claims(nil))
		if err != nil {
			t.Fatal(err)
		}
		hdr := jws.NewHeaders()
		_ = hdr.Set(jws.KeyIDKey, "k1")
		b, err := jws.Sign(payload, jws.WithInsecureNoSignature(jws.WithProtectedHeaders(hdr)))
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}()
	valid := sign(claims(nil), jwa.HS256, derived, "k1")
	parts := strings.Split(valid, ".")
	otherPayload := strings.Split(sign(with(jwt.SubjectKey, "43"), jwa.HS256, derived, "k1"), ".")[1]

	for _, tc := range []struct {
		name  string
		token string
	}{
		{"alg none", noneTok},
		{"HS256 with the raw ring secret", sign(claims(nil), jwa.HS256, k1.Secret, "k1")},
		{"HS256 with a wrong key", sign(claims(nil), jwa.HS256, wrong, "k1")},
		{"HS384 with the right key", sign(claims(nil), jwa.HS384, derived, "k1")},
		{"HS512 with the right key", sign(claims(nil), jwa.HS512, derived, "k1")},
		{"RS256", sign(claims(nil), jwa.RS256, rsaKey, "k1")},
		{"payload swapped, signature kept", parts[0] + "." + otherPayload + "." + parts[2]},
		{"signature stripped", parts[0] + "." + parts[1] + "."},
		{"no kid", sign(claims(nil), jwa.HS256, derived, "")},
		{"unknown kid", sign(claims(nil), jwa.HS256, derived, "k9")},
		{"wrong issuer", sign(with(jwt.IssuerKey, "evil"), jwa.HS256, derived, "k1")},
		{"no issuer", sign(without(jwt.IssuerKey), jwa.HS256, derived, "k1")},
		{"no sid", sign(without("sid"), jwa.HS256, derived, "k1")},
		{"sid not hex", sign(with("sid", "zz"), jwa.HS256, derived, "k1")},
		{"sid a number", sign(with("sid", 7), jwa.HS256, derived, "k1")},
		{"no sub", sign(without(jwt.SubjectKey), jwa.HS256, derived, "k1")},
		{"sub zero", sign(with(jwt.SubjectKey, "0"), jwa.HS256, derived, "k1")},
		{"sub negative", sign(with(jwt.SubjectKey, "-1"), jwa.HS256, derived, "k1")},
		{"sub a name", sign(with(jwt.SubjectKey, "alice"), jwa.HS256, derived, "k1")},
		{"no exp", sign(without(jwt.ExpirationKey), jwa.HS256, derived, "k1")},
		{"no iat", sign(without(jwt.IssuedAtKey), jwa.HS256, derived, "k1")},
		{"expired", sign(with(jwt.ExpirationKey, t0.Add(-time.Second)), jwa.HS256, derived, "k1")},
		{"issued in the future", sign(with(jwt.IssuedAtKey, t0.Add(time.Minute)), jwa.HS256, derived, "k1")},
		{"not yet valid", sign(with(jwt.NotBeforeKey, t0.Add(time.Minute)), jwa.HS256, derived, "k1")},
		{"empty", ""},
		{"garbage", "garbage"},
		{"three garbage parts", "a.b.c"},
		{"JSON serialization", `{"payload":"e30","signatures":[]}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := tokens.Verify(tc.token)
			if !errors.Is(err, auth.ErrInvalidToken) {
				t.Errorf("Verify = %+v, %v; want ErrInvalidToken", c, err)
			}
		})
	}
}

func TestNewTokensKeys(t *testing.T) {
	// A jwk built from the derived key verifies the server's tokens: the
	// derivation is what the server uses.
	k := newKey(t, "k1")
	clock := newClock()
	tokens := newTokens(t, newRing(t, k), "hlsgate", clock)
	s, err := tokens.Issue(auth.AccessClaims{UserID: 3, SessionID: signer.NewSessionID(), IssuedAt: t0, ExpiresAt: t0.Add(time.Minute)})
	if err != nil {
		t.Fatal(err)
	}
	key, err := jwk.FromRaw(k.Derive("jwt/v1"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := jws.Verify([]byte(s), jws.WithKey(jwa.HS256, key)); err != nil {
		t.Errorf("the token does not verify with the derived key: %v", err)
	}
	if _, err := jws.Verify([]byte(s), jws.WithKey(jwa.HS256, k.Secret)); err == nil {
		t.Errorf("the token verifies with the raw ring secret; the JWT key must be derived")
	}
}
