package server_test

import (
	"crypto"
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/base64"
	"encoding/json"
	"hash"
	"maps"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"
)

// jwtKey is the HS256 key the server derives from the ring's primary key
// for access tokens (auth's jwtPurpose). The "hand-built control" case
// proves it right: were it wrong, that case would fail.
func (e *testEnv) jwtKey() []byte { return e.ring.Primary().Derive("jwt/v1") }

func b64(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

func b64JSON(tb testing.TB, v any) string {
	tb.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		tb.Fatal(err)
	}
	return b64(b)
}

// jwtClaims decodes the payload of a compact JWS without verifying it.
func jwtClaims(tb testing.TB, token string) map[string]any {
	tb.Helper()
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		tb.Fatalf("token has %d parts", len(parts))
	}
	raw, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		tb.Fatalf("payload: %v", err)
	}
	var c map[string]any
	if err := json.Unmarshal(raw, &c); err != nil {
		tb.Fatalf("payload: %v", err)
	}
	return c
}

// signHMAC builds a compact JWS by hand, signed with HMAC over h.
func signHMAC(tb testing.TB, h func() hash.Hash, key []byte, header, claims map[string]any) string {
	tb.Helper()
	in := b64JSON(tb, header) + "." + b64JSON(tb, claims)
	m := hmac.New(h, key)
	m.Write([]byte(in))
	return in + "." + b64(m.Sum(nil))
}

func with(m map[string]any, kv ...any) map[string]any {
	out := maps.Clone(m)
	for i := 0; i < len(kv); i += 2 {
		if kv[i+1] == nil {
			delete(out, kv[i].(string))
		} else {
			out[kv[i].(string)] = kv[i+1]
		}
	}
	return out
}

func TestAccessTokenForgeries(t *testing.T) {
	eachEngine(t, func(t *testing.T, engine string) {
		e := newEnv(t, engine)
		real := e.user(t, "alice")
		bobToken := e.user(t, "bob")
		claims := jwtClaims(t, real)
		bobID := jwtClaims(t, bobToken)["sub"]
		header := map[string]any{"alg": "HS256", "kid": "k1", "typ": "JWT"}
		key := e.jwtKey()

		// The control: a token built by hand from the same header, claims
		// and key is accepted, so every rejection below is due to the one
		// thing each case changes.
		e.do(t, http.MethodGet, "/api/streams", signHMAC(t, sha256.New, key, header, claims), nil).want(t, http.StatusOK)
		e.do(t, http.MethodGet, "/api/streams", real, nil).want(t, http.StatusOK)

		wrongKey := make([]byte, 32)
		_, _ = rand.Read(wrongKey)
		rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
		if err != nil {
			t.Fatal(err)
		}
		rs256 := func() string {
			in := b64JSON(t, with(header, "alg", "RS256")) + "." + b64JSON(t, claims)
			sum := sha256.Sum256([]byte(in))
			sig, err := rsa.SignPKCS1v15(rand.Reader, rsaKey, crypto.SHA256, sum[:])
			if err != nil {
				t.Fatal(err)
			}
			return in + "." + b64(sig)
		}()
		parts := strings.Split(real, ".")
		edited := parts[0] + "." + b64JSON(t, with(claims, "sub", bobID)) + "." + parts[2]
		extended := parts[0] + "." + b64JSON(t, with(claims, "exp", claims["exp"].(float64)+86400)) + "." + parts[2]
		randomSID := strings.Repeat("ab", 16)

		for _, tc := range []struct {
			name, authorization string
		}{
			{"alg none", "Bearer " + b64JSON(t, with(header, "alg", "none")) + "." + b64JSON(t, claims) + "."},
			{"alg none with the real signature", "Bearer " + b64JSON(t, with(header, "alg", "none")) + "." + parts[1] + "." + parts[2]},
			{"alg None", "Bearer " + b64JSON(t, with(header, "alg", "None")) + "." + b64JSON(t, claims) + "."},
			{"HS256 with a wrong key", "Bearer " + signHMAC(t, sha256.New, wrongKey, header, claims)},
			{"HS512 with the right key", "Bearer " + signHMAC(t, sha512.New, key, with(header, "alg", "HS512"), claims)},
			{"HS384 with the right key", "Bearer " + signHMAC(t, sha512.New384, key, with(header, "alg", "HS384"), claims)},
			{"RS256", "Bearer " + rs256},
			{"sub edited, not re-signed", "Bearer " + edited},
			{"exp edited, not re-signed", "Bearer " + extended},
			{"sub of another user, re-signed", "Bearer " + signHMAC(t, sha256.New, key, header, with(claims, "sub", bobID))},
			{"unknown session, re-signed", "Bearer " + signHMAC(t, sha256.New, key, header, with(claims, "sid", randomSID))},
			{"sid missing", "Bearer " + signHMAC(t, sha256.New, key, header, with(claims, "sid", nil))},
			{"sub missing", "Bearer " + signHMAC(t, sha256.New, key, header, with(claims, "sub", nil))},
			{"exp missing", "Bearer " + signHMAC(t, sha256.New, key, header, with(claims, "exp", nil))},
			{"sub not a number", "Bearer " + signHMAC(t, sha256.New, key, header, with(claims, "sub", "alice"))},
			{"wrong issuer", "Bearer " + signHMAC(t, sha256.New, key, header, with(claims, "iss", "evil"))},
			{"no issuer", "Bearer " + signHMAC(t, sha256.New, key, header, with(claims, "iss", nil))},
			{"issued in the future", "Bearer " + signHMAC(t, sha256.New, key, header, with(claims, "iat", float64(t0.Add(time.Hour).Unix())))},
			{"expired, re-signed", "Bearer " + signHMAC(t, sha256.New, key, header, with(claims, "exp", float64(t0.Add(-time.Second).Unix())))},
			{"missing kid", "Bearer " + signHMAC(t, sha256.New, key, with(header, "kid", nil), claims)},
			{"unknown kid", "Bearer " + signHMAC(t, sha256.New, key, with(header, "kid", "k2"), claims)},
			{"signature stripped", "Bearer " + parts[0] + "." + parts[1] + "."},
			{"garbage", "Bearer garbage"},
			{"garbage with dots", "Bearer a.b.c"},
			{"token only", real},
			{"empty bearer", "Bearer "},
			{"missing header", ""},
			{"Basic scheme", "Basic " + base64.StdEncoding.EncodeToString([]byte("alice:"+testPassword))},
			{"Basic scheme carrying the JWT", "Basic " + real},
		} {
			t.Run(tc.name, func(t *testing.T) {
				req := e.newRequest(t, http.MethodGet, "/api/streams", nil)
				if tc.authorization != "" {
					req.Header.Set("Authorization", tc.authorization)
				}
				r := e.send(t, req).want(t, http.StatusUnauthorized)
				if got := r.Header.Get("WWW-Authenticate"); !strings.HasPrefix(got, "Bearer ") {
					t.Errorf("WWW-Authenticate %q, want a Bearer challenge", got)
				}
			})
		}

		// The scheme is case-insensitive (RFC 9110 §11.1).
		req := e.newRequest(t, http.MethodGet, "/api/streams", nil)
		req.Header.Set("Authorization", "bearer "+real)
		e.send(t, req).want(t, http.StatusOK)

		// The real token expires with its session.
		e.clock.Advance(e.cfg.SessionTTL - time.Second)
		e.do(t, http.MethodGet, "/api/streams", real, nil).want(t, http.StatusOK)
		e.clock.Advance(time.Second)
		e.do(t, http.MethodGet, "/api/streams", real, nil).want(t, http.StatusUnauthorized)
		// Re-signing with a later exp does not revive it: the session in
		// the database has ended too.
		later := with(claims, "exp", float64(e.clock.Now().Add(time.Hour).Unix()))
		e.do(t, http.MethodGet, "/api/streams", signHMAC(t, sha256.New, key, header, later), nil).want(t, http.StatusUnauthorized)
		if sub, _ := strconv.ParseInt(claims["sub"].(string), 10, 64); sub <= 0 {
			t.Errorf("sub %v is not a positive user id", claims["sub"])
		}
	})
}
