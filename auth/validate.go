package auth

import (
	"errors"
	"fmt"
	"strings"
)

// ValidateUsername says what is wrong with a username, if anything:
// 3 to 64 characters of ASCII letters, digits, '.', '_' and '-'.
func ValidateUsername(name string) error {
	if len(name) < 3 || len(name) > 64 {
		return fmt.Errorf("username must be 3 to 64 characters long, got %d", len(name))
	}
	for _, r := range name {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '.' || r == '_' || r == '-') {
			return errors.New("username may contain only letters, digits, '.', '_' and '-'")
		}
	}
	return nil
}

// ValidatePassword says what is wrong with a password, if anything: 8 to 72
// bytes (bcrypt's limit).
func ValidatePassword(pw string) error {
	if len(pw) < MinPasswordLen {
		return fmt.Errorf("password must be at least %d bytes long", MinPasswordLen)
	}
	if len(pw) > MaxPasswordLen {
		return fmt.Errorf("password must be at most %d bytes long (bcrypt's limit)", MaxPasswordLen)
	}
	return nil
}

func normalizeUsername(name string) string { return strings.ToLower(name) }
