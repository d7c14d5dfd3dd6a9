package signer

import (
	"bytes"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"strings"
)

// Key sizes and limits.
const (
	// MinSecretLen is the shortest secret accepted: 256 bits, the HMAC-SHA256 output size.
	MinSecretLen = 32
	// MaxKeyIDLen bounds a key id; the id travels in every token, so it must stay short.
	MaxKeyIDLen = 8
)

// ErrInvalidKey reports a key or key ring that cannot be used: a bad id, a short
// or undecodable secret, duplicate ids or an empty ring. Its messages never
// contain key material.
var ErrInvalidKey = errors.New("signer: invalid key")

// Key is one signing key. ID is 1..8 characters of [A-Za-z0-9_-] and is
// written in clear into every token so verifiers can pick the key; Secret is at
// least [MinSecretLen] bytes and never leaves the process except through
// [Key.String].
type Key struct {
	ID     string
	Secret []byte
}

// GenerateKey returns a new key with the given id and a 32-byte secret from
// crypto/rand.
func GenerateKey(id string) (Key, error) {
	if err := checkKeyID(id); err != nil {
		return Key{}, fmt.Errorf("generate key: %w", err)
	}
	secret := make([]byte, MinSecretLen)
	// crypto/rand.Read never fails since Go 1.24 (it crashes the program
	// instead), so there is no error to handle.
	_, _ = rand.Read(secret)
	return Key{ID: id, Secret: secret}, nil
}

// ParseKey parses "id:base64secret" as printed by [Key.String]. The secret may
// use the standard or the URL base64 alphabet, with or without padding.
// Surrounding white space is ignored so a value read from a file or an
// environment variable with a trailing newline still parses. Errors wrap
// [ErrInvalidKey] and never echo the input.
func ParseKey(line string) (Key, error) {
	k, err := parseKey(strings.TrimSpace(line))
	if err != nil {
		return Key{}, fmt.Errorf("parse key: %w", err)
	}
	return k, nil
}

func parseKey(line string) (Key, error) {
	id, enc, ok := strings.Cut(line, ":")
	if !ok {
		return Key{}, fmt.Errorf("%w: want \"id:base64secret\"", ErrInvalidKey)
	}
	if err := checkKeyID(id); err != nil {
		return Key{}, err
	}
	secret, err := decodeSecret(enc)
	if err != nil {
		return Key{}, err
	}
	if len(secret) < MinSecretLen {
		return Key{}, fmt.Errorf("%w: secret of key %q is %d bytes, need at least %d",
			ErrInvalidKey, id, len(secret), MinSecretLen)
	}
	return Key{ID: id, Secret: secret}, nil
}

// decodeSecret accepts both base64 alphabets with optional padding, because
// keys are pasted from many tools. The decoder's own error names only an
// offset, but it is replaced anyway so no future message can quote the data.
func decodeSecret(enc string) ([]byte, error) {
	enc = strings.TrimRight(enc, "=")
	encoding := base64.RawStdEncoding
	if strings.ContainsAny(enc, "-_") {
		encoding = base64.RawURLEncoding
	}
	// The decoder skips '\r' and '\n'; a secret containing them is a paste
	// error, not a key.
	if strings.ContainsAny(enc, "\r\n") {
		return nil, fmt.Errorf("%w: secret is not valid base64", ErrInvalidKey)
	}
	secret, err := encoding.DecodeString(enc)
	if err != nil {
		return nil, fmt.Errorf("%w: secret is not valid base64", ErrInvalidKey)
	}
	return secret, nil
}

// checkKeyID never quotes a rejected id: a malformed line may have a secret
// where the id belongs.
func checkKeyID(id string) error {
	if id == "" || len(id) > MaxKeyIDLen {
		return fmt.Errorf("%w: key id must be 1 to %d characters", ErrInvalidKey, MaxKeyIDLen)
	}
	for i := 0; i < len(id); i++ {
		if !isKeyIDChar(id[i]) {
			return fmt.Errorf("%w: key id may only contain A-Z a-z 0-9 _ -", ErrInvalidKey)
		}
	}
	return nil
}

func isKeyIDChar(c byte) bool {
	return 'A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '_' || c == '-'
}

// String returns "id:base64secret" (standard alphabet, padded): the line
// `hlsgate keygen` prints and [ParseKey] reads. It contains the secret; use the
// key's [Key.LogValue] (slog does so automatically) when logging.
func (k Key) String() string {
	return k.ID + ":" + base64.StdEncoding.EncodeToString(k.Secret)
}

// LogValue implements [slog.LogValuer] so a Key handed to a logger shows its id
// only.
func (k Key) LogValue() slog.Value {
	return slog.GroupValue(slog.String("id", k.ID))
}

// Derive returns HMAC-SHA256(Secret, "hlsgate/"+purpose): a 32-byte sub-key
// for one purpose. Distinct purposes (the JWT key uses "jwt/v1", tokens use
// "token/mac/v1", "token/ip/v1" and "token/ua/v1") give independent keys, so
// a leak or misuse of one never exposes another.
func (k Key) Derive(purpose string) []byte {
	m := hmac.New(sha256.New, k.Secret)
	m.Write([]byte("hlsgate/" + purpose))
	return m.Sum(nil)
}

func (k Key) clone() Key {
	return Key{ID: k.ID, Secret: bytes.Clone(k.Secret)}
}

// KeyRing holds the keys a deployment accepts. The first key is the primary:
// it signs. Every key verifies. Rotation is: add the new key second (all
// replicas learn it), promote it to first, then drop the old one once its
// tokens have expired. A KeyRing is immutable after construction and safe for
// concurrent use; it copies secrets in and out so callers cannot alter it.
type KeyRing struct {
	keys []Key
}

// NewKeyRing builds a ring whose primary is keys[0]. It fails, wrapping
// [ErrInvalidKey], when keys is empty, an id is malformed or repeated, or a
// secret is shorter than [MinSecretLen].
func NewKeyRing(keys ...Key) (*KeyRing, error) {
	if len(keys) == 0 {
		return nil, fmt.Errorf("new key ring: %w: no keys", ErrInvalidKey)
	}
	r := &KeyRing{keys: make([]Key, 0, len(keys))}
	for i, k := range keys {
		if err := r.add(k); err != nil {
			return nil, fmt.Errorf("new key ring: key %d: %w", i+1, err)
		}
	}
	return r, nil
}

func (r *KeyRing) add(k Key) error {
	if err := checkKeyID(k.ID); err != nil {
		return err
	}
	if len(k.Secret) < MinSecretLen {
		return fmt.Errorf("%w: secret of key %q is %d bytes, need at least %d",
			ErrInvalidKey, k.ID, len(k.Secret), MinSecretLen)
	}
	if _, dup := r.Lookup(k.ID); dup {
		return fmt.Errorf("%w: duplicate key id %q", ErrInvalidKey, k.ID)
	}
	r.keys = append(r.keys, k.clone())
	return nil
}

// ParseKeyRing reads one "id:base64secret" per line (see [ParseKey]); the first
// key is the primary. Blank lines and lines starting with '#' are ignored.
// Errors wrap [ErrInvalidKey], name the line number and never echo key
// material.
func ParseKeyRing(text string) (*KeyRing, error) {
	r := &KeyRing{}
	for n, line := range strings.Split(text, "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		k, err := parseKey(line)
		if err == nil {
			err = r.add(k)
		}
		if err != nil {
			return nil, fmt.Errorf("parse key ring: line %d: %w", n+1, err)
		}
	}
	if len(r.keys) == 0 {
		return nil, fmt.Errorf("parse key ring: %w: no keys", ErrInvalidKey)
	}
	return r, nil
}

// Primary returns a copy of the signing key.
func (r *KeyRing) Primary() Key { return r.keys[0].clone() }

// Keys returns copies of all keys, primary first.
func (r *KeyRing) Keys() []Key {
	out := make([]Key, len(r.keys))
	for i, k := range r.keys {
		out[i] = k.clone()
	}
	return out
}

// Lookup returns a copy of the key with the given id.
func (r *KeyRing) Lookup(id string) (Key, bool) {
	for _, k := range r.keys {
		if k.ID == id {
			return k.clone(), true
		}
	}
	return Key{}, false
}

// String lists the key ids, primary first, and no secrets, so a ring that
// reaches a log or a %v verb leaks nothing.
func (r *KeyRing) String() string {
	ids := make([]string, len(r.keys))
	for i, k := range r.keys {
		ids[i] = k.ID
	}
	return "KeyRing[" + strings.Join(ids, " ") + "]"
}
