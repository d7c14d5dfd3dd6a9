package signer

import (
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"
)

// secret32 is a recognisable 32-byte secret: its encodings are searched for in
// error messages.
const secret32 = "0123456789abcdef0123456789ABCDEF"

func TestParseKey(t *testing.T) {
	std := base64.StdEncoding.EncodeToString([]byte(secret32))
	// A secret whose encoding contains '+' and '/' (standard) or '-' and '_' (URL).
	odd := bytes.Repeat([]byte{0xfb, 0xff, 0xbf}, 11)
	oddStd := base64.StdEncoding.EncodeToString(odd)
	oddURL := base64.RawURLEncoding.EncodeToString(odd)
	short := base64.StdEncoding.EncodeToString([]byte(secret32[:31]))
	tests := []struct {
		name    string
		in      string
		wantID  string
		want    []byte
		wantErr bool
	}{
		{"std padded", "k1:" + std, "k1", []byte(secret32), false},
		{"std unpadded", "k1:" + strings.TrimRight(std, "="), "k1", []byte(secret32), false},
		{"std alphabet specials", "A-z_9:" + oddStd, "A-z_9", odd, false},
		{"url alphabet", "k1:" + oddURL, "k1", odd, false},
		{"surrounding space", "  k1:" + std + "\n", "k1", []byte(secret32), false},
		{"eight-char id", "abcdefgh:" + std, "abcdefgh", []byte(secret32), false},
		{"long secret", "k1:" + base64.StdEncoding.EncodeToString(bytes.Repeat([]byte(secret32), 4)), "k1",
			bytes.Repeat([]byte(secret32), 4), false},

		{"empty", "", "", nil, true},
		{"no colon", std, "", nil, true},
		{"empty id", ":" + std, "", nil, true},
		{"nine-char id", "abcdefghi:" + std, "", nil, true},
		{"bad id char", "k.1:" + std, "", nil, true},
		{"space in id", "k 1:" + std, "", nil, true},
		{"short secret", "k1:" + short, "", nil, true},
		{"empty secret", "k1:", "", nil, true},
		{"bad base64", "k1:" + std[:10] + "!" + std[11:], "", nil, true},
		{"mixed alphabets", "k1:" + oddStd[:20] + strings.ReplaceAll(oddURL[20:], "_", "-"), "", nil, true},
		{"newline inside", "k1:" + std[:20] + "\n" + std[20:], "", nil, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			k, err := ParseKey(tt.in)
			if tt.wantErr {
				if err == nil {
					t.Fatalf("ParseKey = %+v, want error", k)
				}
				if !errors.Is(err, ErrInvalidKey) {
					t.Errorf("error %v does not wrap ErrInvalidKey", err)
				}
				assertNoSecret(t, err.Error(), tt.in)
				return
			}
			if err != nil {
				t.Fatalf("ParseKey: %v", err)
			}
			if k.ID != tt.wantID || !bytes.Equal(k.Secret, tt.want) {
				t.Errorf("ParseKey = %q %x, want %q %x", k.ID, k.Secret, tt.wantID, tt.want)
			}
			// String gives a line ParseKey reads back to the same key.
			back, err := ParseKey(k.String())
			if err != nil || back.ID != k.ID || !bytes.Equal(back.Secret, k.Secret) {
				t.Errorf("ParseKey(String()) = %v, %v", back, err)
			}
		})
	}
}

// assertNoSecret fails if msg contains the secret part of input (after the
// first ':') or any 8-character run of it.
func assertNoSecret(tb testing.TB, msg, input string) {
	tb.Helper()
	_, secret, ok := strings.Cut(strings.TrimSpace(input), ":")
	if !ok {
		secret = input
	}
	for i := 0; i+8 <= len(secret); i++ {
		if strings.Contains(msg, secret[i:i+8]) {
			tb.Errorf("error %q contains key material %q", msg, secret[i:i+8])
			return
		}
	}
}

func TestParseKeyRing(t *testing.T) {
	line := func(id string, fill byte) string {
		return id + ":" + base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{fill}, 32))
	}
	tests := []struct {
		name     string
		in       string
		wantIDs  []string
		wantLine string // in the error
	}{
		{"one", line("k1", 1), []string{"k1"}, ""},
		{"primary first", line("k2", 2) + "\n" + line("k1", 1) + "\n", []string{"k2", "k1"}, ""},
		{"comments and blanks", "# rotated 2026-03\n\n  " + line("k2", 2) + "  \r\n# old:\n" + line("k1", 1),
			[]string{"k2", "k1"}, ""},
		{"empty", "", nil, "no keys"},
		{"only comments", "# nothing\n\n", nil, "no keys"},
		{"duplicate id", line("k1", 1) + "\n\n" + line("k1", 2), nil, "line 3"},
		{"short secret", line("k1", 1) + "\nk2:" + base64.StdEncoding.EncodeToString([]byte(secret32[:16])), nil, "line 2"},
		{"bad base64", "k1:" + secret32 + "!!!!", nil, "line 1"},
		{"bad id chars", "\n#\nk/1:" + base64.StdEncoding.EncodeToString([]byte(secret32)), nil, "line 3"},
		{"secret without id", base64.StdEncoding.EncodeToString([]byte(secret32)), nil, "line 1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := ParseKeyRing(tt.in)
			if tt.wantIDs == nil {
				if err == nil {
					t.Fatalf("ParseKeyRing = %v, want error", r)
				}
				if !errors.Is(err, ErrInvalidKey) || !strings.Contains(err.Error(), tt.wantLine) {
					t.Errorf("error %q: want ErrInvalidKey naming %q", err, tt.wantLine)
				}
				for _, l := range strings.Split(tt.in, "\n") {
					assertNoSecret(t, err.Error(), l)
				}
				return
			}
			if err != nil {
				t.Fatalf("ParseKeyRing: %v", err)
			}
			var ids []string
			for _, k := range r.Keys() {
				ids = append(ids, k.ID)
			}
			if fmt.Sprint(ids) != fmt.Sprint(tt.wantIDs) || r.Primary().ID != tt.wantIDs[0] {
				t.Errorf("ids = %v, primary %s; want %v", ids, r.Primary().ID, tt.wantIDs)
			}
		})
	}
}

func TestNewKeyRing(t *testing.T) {
	k1, k2 := testKey(t, "k1", 1), testKey(t, "k2", 2)
	tests := []struct {
		name    string
		keys    []Key
		wantErr bool
	}{
		{"one", []Key{k1}, false},
		{"two", []Key{k1, k2}, false},
		{"none", nil, true},
		{"duplicate", []Key{k1, k2, testKey(t, "k1", 3)}, true},
		{"short secret", []Key{{ID: "k1", Secret: make([]byte, 31)}}, true},
		{"bad id", []Key{{ID: "k:1", Secret: make([]byte, 32)}}, true},
		{"empty id", []Key{{Secret: make([]byte, 32)}}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := NewKeyRing(tt.keys...)
			if (err != nil) != tt.wantErr {
				t.Fatalf("NewKeyRing = %v, want error %v", err, tt.wantErr)
			}
			if err != nil && !errors.Is(err, ErrInvalidKey) {
				t.Errorf("error %v does not wrap ErrInvalidKey", err)
			}
		})
	}
}

func TestKeyRingImmutable(t *testing.T) {
	keys := []Key{testKey(t, "k1", 1), testKey(t, "k2", 2)}
	r := mustRing(t, keys...)
	keys[0].Secret[0] ^= 0xff
	keys[1].ID = "zz"
	r.Keys()[0].Secret[1] ^= 0xff
	r.Primary().Secret[2] ^= 0xff
	got, ok := r.Lookup("k1")
	if !ok {
		t.Fatal("k1 missing")
	}
	got.Secret[3] ^= 0xff
	want := testKey(t, "k1", 1)
	if p := r.Primary(); p.ID != "k1" || !bytes.Equal(p.Secret, want.Secret) {
		t.Errorf("primary changed through an alias: %x", p.Secret)
	}
	if _, ok := r.Lookup("k2"); !ok {
		t.Error("k2 missing after the caller renamed its copy")
	}
	if _, ok := r.Lookup("k3"); ok {
		t.Error("Lookup(k3) found a key")
	}
}

func TestKeysDoNotLeakWhenLogged(t *testing.T) {
	k := Key{ID: "k1", Secret: []byte(secret32)}
	r := mustRing(t, k)
	enc := base64.StdEncoding.EncodeToString(k.Secret)
	var logged bytes.Buffer
	slog.New(slog.NewTextHandler(&logged, nil)).Info("loaded", "key", k, "ring", r)
	for _, s := range []string{logged.String(), fmt.Sprint(r), fmt.Sprintf("%v %+v", r, r)} {
		if strings.Contains(s, enc) || strings.Contains(s, secret32) {
			t.Errorf("secret in %q", s)
		}
		if !strings.Contains(s, "k1") {
			t.Errorf("key id missing from %q", s)
		}
	}
	if got := k.String(); got != "k1:"+enc {
		t.Errorf("String = %q, want %q", got, "k1:"+enc)
	}
}

func TestGenerateKey(t *testing.T) {
	a, err := GenerateKey("new")
	if err != nil {
		t.Fatal(err)
	}
	b, err := GenerateKey("new")
	if err != nil {
		t.Fatal(err)
	}
	if len(a.Secret) != 32 || a.ID != "new" || bytes.Equal(a.Secret, b.Secret) {
		t.Errorf("GenerateKey = %q %x, then %x", a.ID, a.Secret, b.Secret)
	}
	if back, err := ParseKey(a.String()); err != nil || !bytes.Equal(back.Secret, a.Secret) {
		t.Errorf("ParseKey(String()) = %v, %v", back, err)
	}
	for _, bad := range []string{"", "toolongid", "a b"} {
		if _, err := GenerateKey(bad); !errors.Is(err, ErrInvalidKey) {
			t.Errorf("GenerateKey(%q) = %v, want ErrInvalidKey", bad, err)
		}
	}
}
