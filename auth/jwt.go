package auth

import (
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/hlsgate/hlsgate/signer"
	"github.com/lestrrat-go/jwx/v2/jwa"
	"github.com/lestrrat-go/jwx/v2/jwk"
	"github.com/lestrrat-go/jwx/v2/jws"
	"github.com/lestrrat-go/jwx/v2/jwt"
)

// jwtPurpose names the sub-key derived from each ring key for access
// tokens, so a JWT key never equals a stream-token key.
const jwtPurpose = "jwt/v1"

// ErrInvalidToken is returned for any access token that does not verify:
// malformed, wrong algorithm, unknown key, bad signature, wrong issuer or
// expired. The reason is kept in the wrapped error for logs.
var ErrInvalidToken = errors.New("auth: invalid access token")

// AccessClaims are the claims of an access token.
type AccessClaims struct {
	UserID    int64
	SessionID signer.SessionID
	IssuedAt  time.Time
	ExpiresAt time.Time
}

// Tokens issues and verifies HS256 access tokens. The algorithm is pinned:
// tokens with "alg":"none" or any other algorithm are refused.
type Tokens struct {
	issuer  string
	signKey jwk.Key
	verify  jwk.Set
	now     func() time.Time
}

// NewTokens derives one HS256 key per ring key (kid = ring key id) and
// signs with the primary one.
func NewTokens(ring *signer.KeyRing, issuer string, now func() time.Time) (*Tokens, error) {
	set := jwk.NewSet()
	var primary jwk.Key
	for i, k := range ring.Keys() {
		key, err := jwk.FromRaw(k.Derive(jwtPurpose))
		if err != nil {
			return nil, fmt.Errorf("auth: jwt key %q: %w", k.ID, err)
		}
		if err := key.Set(jwk.KeyIDKey, k.ID); err != nil {
			return nil, fmt.Errorf("auth: jwt key %q: %w", k.ID, err)
		}
		if err := key.Set(jwk.AlgorithmKey, jwa.HS256); err != nil {
			return nil, fmt.Errorf("auth: jwt key %q: %w", k.ID, err)
		}
		if err := set.AddKey(key); err != nil {
			return nil, fmt.Errorf("auth: jwt key %q: %w", k.ID, err)
		}
		if i == 0 {
			primary = key
		}
	}
	return &Tokens{issuer: issuer, signKey: primary, verify: set, now: now}, nil
}

// Issue returns a signed access token for the session.
func (t *Tokens) Issue(c AccessClaims) (string, error) {
	tok, err := jwt.NewBuilder().
		Subject(strconv.FormatInt(c.UserID, 10)).
		Issuer(t.issuer).
		IssuedAt(c.IssuedAt).
		Expiration(c.ExpiresAt).
		Claim("sid", c.SessionID.String()).
		Build()
	if err != nil {
		return "", fmt.Errorf("auth: build jwt: %w", err)
	}
	signed, err := jwt.Sign(tok, jwt.WithKey(jwa.HS256, t.signKey))
	if err != nil {
		return "", fmt.Errorf("auth: sign jwt: %w", err)
	}
	return string(signed), nil
}

// Verify checks an access token's signature, algorithm, issuer and expiry
// and returns its claims.
func (t *Tokens) Verify(token string) (AccessClaims, error) {
	tok, err := jwt.ParseString(token,
		jwt.WithKeySet(t.verify, jws.WithRequireKid(true), jws.WithInferAlgorithmFromKey(false), jws.WithUseDefault(false)),
		jwt.WithValidate(true),
		jwt.WithIssuer(t.issuer),
		jwt.WithRequiredClaim("sid"),
		jwt.WithRequiredClaim(jwt.SubjectKey),
		jwt.WithRequiredClaim(jwt.ExpirationKey),
		jwt.WithRequiredClaim(jwt.IssuedAtKey),
		jwt.WithClock(jwt.ClockFunc(t.now)),
	)
	if err != nil {
		return AccessClaims{}, fmt.Errorf("%w: %w", ErrInvalidToken, err)
	}
	uid, err := strconv.ParseInt(tok.Subject(), 10, 64)
	if err != nil || uid <= 0 {
		return AccessClaims{}, fmt.Errorf("%w: bad subject", ErrInvalidToken)
	}
	raw, _ := tok.Get("sid")
	s, ok := raw.(string)
	if !ok {
		return AccessClaims{}, fmt.Errorf("%w: bad sid", ErrInvalidToken)
	}
	sid, err := signer.ParseSessionID(s)
	if err != nil {
		return AccessClaims{}, fmt.Errorf("%w: bad sid", ErrInvalidToken)
	}
	return AccessClaims{UserID: uid, SessionID: sid, IssuedAt: tok.IssuedAt(), ExpiresAt: tok.Expiration()}, nil
}
