package auth

import (
	"errors"
	"fmt"

	"golang.org/x/crypto/bcrypt"
)

// Password length limits. bcrypt ignores input past 72 bytes, so longer
// passwords are refused rather than silently truncated.
const (
	MinPasswordLen = 8
	MaxPasswordLen = 72
)

// ErrBadCredentials is returned for an unknown user, a disabled user or a
// wrong password alike, so callers cannot tell them apart.
var ErrBadCredentials = errors.New("auth: invalid username or password")

// Passwords hashes and checks passwords with bcrypt.
type Passwords struct {
	cost  int
	dummy []byte // a real hash compared against for unknown users, so both paths take as long
}

// NewPasswords returns a hasher with the given bcrypt cost
// (bcrypt.DefaultCost in production, bcrypt.MinCost in tests).
func NewPasswords(cost int) (*Passwords, error) {
	dummy, err := bcrypt.GenerateFromPassword([]byte("hlsgate-dummy-password"), cost)
	if err != nil {
		return nil, fmt.Errorf("auth: dummy hash: %w", err)
	}
	return &Passwords{cost: cost, dummy: dummy}, nil
}

// Hash returns the bcrypt hash of password.
func (p *Passwords) Hash(password string) (string, error) {
	h, err := bcrypt.GenerateFromPassword([]byte(password), p.cost)
	if err != nil {
		return "", fmt.Errorf("auth: hash password: %w", err)
	}
	return string(h), nil
}

// Check compares password with hash. An empty hash stands for an unknown
// user: the comparison still runs, against a dummy hash, and fails.
func (p *Passwords) Check(hash, password string) error {
	if hash == "" {
		_ = bcrypt.CompareHashAndPassword(p.dummy, []byte(password))
		return ErrBadCredentials
	}
	if err := bcrypt.CompareHashAndPassword([]byte(hash), []byte(password)); err != nil {
		return ErrBadCredentials
	}
	return nil
}
