package auth_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/hlsgate/hlsgate/auth"
	"golang.org/x/crypto/bcrypt"
)

func TestPasswords(t *testing.T) {
	pw, err := auth.NewPasswords(bcrypt.MinCost)
	if err != nil {
		t.Fatalf("NewPasswords: %v", err)
	}
	h1, err := pw.Hash("correct horse")
	if err != nil {
		t.Fatalf("Hash: %v", err)
	}
	h2, err := pw.Hash("correct horse")
	if err != nil {
		t.Fatalf("Hash: %v", err)
	}
	if h1 == h2 {
		t.Errorf("two hashes of one password are equal: no salt")
	}
	if strings.Contains(h1, "correct horse") {
		t.Errorf("hash holds the password")
	}
	if cost, err := bcrypt.Cost([]byte(h1)); err != nil || cost != bcrypt.MinCost {
		t.Errorf("hash cost %d (%v), want %d", cost, err, bcrypt.MinCost)
	}

	for _, tc := range []struct {
		name, hash, password string
		ok                   bool
	}{
		{"right password", h1, "correct horse", true},
		{"right password, other hash", h2, "correct horse", true},
		{"wrong password", h1, "correct horsE", false},
		{"prefix", h1, "correct hors", false},
		{"empty password", h1, "", false},
		{"unknown user (empty hash)", "", "correct horse", false},
		{"unknown user with the dummy's password", "", "hlsgate-dummy-password", false},
		{"corrupt hash", "$2a$04$not-a-hash", "correct horse", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := pw.Check(tc.hash, tc.password)
			if tc.ok && err != nil {
				t.Errorf("Check = %v, want nil", err)
			}
			if !tc.ok && !errors.Is(err, auth.ErrBadCredentials) {
				t.Errorf("Check = %v, want ErrBadCredentials", err)
			}
		})
	}

	if _, err := pw.Hash(strings.Repeat("p", 73)); err == nil {
		t.Errorf("Hash of 73 bytes succeeded; bcrypt would silently ignore the tail")
	}
	if _, err := auth.NewPasswords(bcrypt.MaxCost + 1); err == nil {
		t.Errorf("NewPasswords(%d) succeeded", bcrypt.MaxCost+1)
	}
}
