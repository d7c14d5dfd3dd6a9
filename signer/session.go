package signer

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
)

// SessionID is a random 128-bit login session id. Tokens carry it so one
// viewer's session can be revoked without touching anyone else's.
type SessionID [16]byte

// NewSessionID returns a session id from crypto/rand.
func NewSessionID() SessionID {
	var id SessionID
	// crypto/rand.Read never fails since Go 1.24.
	_, _ = rand.Read(id[:])
	return id
}

// String returns the id as 32 lower-case hex digits.
func (id SessionID) String() string { return hex.EncodeToString(id[:]) }

// IsZero reports whether id is the zero value, which no real session has.
func (id SessionID) IsZero() bool { return id == SessionID{} }

// ParseSessionID parses exactly 32 hex digits (either case).
func ParseSessionID(s string) (SessionID, error) {
	var id SessionID
	if len(s) != 2*len(id) {
		return SessionID{}, fmt.Errorf("parse session id: want %d hex digits, got %d characters", 2*len(id), len(s))
	}
	if _, err := hex.Decode(id[:], []byte(s)); err != nil {
		return SessionID{}, fmt.Errorf("parse session id: %w", err)
	}
	return id, nil
}

// MarshalText implements [encoding.TextMarshaler] (hex, as String).
func (id SessionID) MarshalText() ([]byte, error) {
	return []byte(id.String()), nil
}

// UnmarshalText implements [encoding.TextUnmarshaler] (as ParseSessionID).
func (id *SessionID) UnmarshalText(b []byte) error {
	v, err := ParseSessionID(string(b))
	if err != nil {
		return err
	}
	*id = v
	return nil
}
