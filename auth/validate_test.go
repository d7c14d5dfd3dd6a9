package auth_test

import (
	"strings"
	"testing"

	"github.com/hlsgate/hlsgate/auth"
)

func TestValidateUsername(t *testing.T) {
	for _, tc := range []struct {
		name string
		in   string
		want string // "" means valid; otherwise part of the message
	}{
		{"shortest", "abc", ""},
		{"longest", strings.Repeat("a", 64), ""},
		{"every allowed kind", "Az09._-", ""},
		{"empty", "", "3 to 64 characters"},
		{"too short", "ab", "3 to 64 characters long, got 2"},
		{"too long", strings.Repeat("a", 65), "3 to 64 characters long, got 65"},
		{"space", "a b c", "only letters, digits"},
		{"at sign", "a@b.c", "only letters, digits"},
		{"slash", "a/b", "only letters, digits"},
		{"colon", "a:b", "only letters, digits"},
		{"NUL", "ab\x00c", "only letters, digits"},
		{"newline", "abc\n", "only letters, digits"},
		{"non-ASCII letter", "jürgen", "only letters, digits"},
		{"Cyrillic look-alike", "аdmin", "only letters, digits"}, // first letter is U+0430
		{"invalid UTF-8", "ab\xff", "only letters, digits"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := auth.ValidateUsername(tc.in)
			switch {
			case tc.want == "" && err != nil:
				t.Errorf("ValidateUsername(%q) = %v, want nil", tc.in, err)
			case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
				t.Errorf("ValidateUsername(%q) = %v, want an error containing %q", tc.in, err, tc.want)
			}
		})
	}
}

func TestValidatePassword(t *testing.T) {
	for _, tc := range []struct {
		name string
		in   string
		want string
	}{
		{"8 bytes", "12345678", ""},
		{"72 bytes", strings.Repeat("p", 72), ""},
		{"multi-byte, 8 bytes", "éééé", ""},
		{"empty", "", "at least 8 bytes"},
		{"7 bytes", "1234567", "at least 8 bytes"},
		{"73 bytes", strings.Repeat("p", 73), "at most 72 bytes"},
		{"multi-byte, 74 bytes", strings.Repeat("é", 37), "at most 72 bytes"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := auth.ValidatePassword(tc.in)
			switch {
			case tc.want == "" && err != nil:
				t.Errorf("ValidatePassword = %v, want nil", err)
			case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
				t.Errorf("ValidatePassword = %v, want an error containing %q", err, tc.want)
			}
			if err != nil && len(tc.in) > 0 && strings.Contains(err.Error(), tc.in) {
				t.Errorf("error %q quotes the password", err)
			}
		})
	}
}
