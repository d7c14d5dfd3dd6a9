package server_test

import (
	"bytes"
	"encoding/base64"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hlsgate/hlsgate/server"
	"github.com/hlsgate/hlsgate/signer"
)

func keyConfig(tb testing.TB, args []string, env map[string]string) server.Config {
	tb.Helper()
	c, err := server.LoadConfig(args, envMap(env), io.Discard)
	if err != nil {
		tb.Fatalf("LoadConfig: %v", err)
	}
	return c
}

func TestLoadKeysCreatesFileBesideSQLite(t *testing.T) {
	dir := t.TempDir()
	cfg := keyConfig(t, []string{"-db=sqlite:" + filepath.Join(dir, "hlsgate.db")}, nil)
	var logs bytes.Buffer
	log := slog.New(slog.NewTextHandler(&logs, nil))

	first, err := server.LoadKeys(cfg, log)
	if err != nil {
		t.Fatalf("first LoadKeys: %v", err)
	}
	path := filepath.Join(dir, server.DefaultKeyFile)
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatalf("key file: %v", err)
	}
	if perm := fi.Mode().Perm(); perm != 0o600 {
		t.Errorf("key file mode %o, want 600", perm)
	}
	if len(first.Primary().Secret) < signer.MinSecretLen {
		t.Errorf("generated secret is %d bytes", len(first.Primary().Secret))
	}
	if !strings.Contains(logs.String(), "created a new signing key ring") {
		t.Errorf("first start did not log the new key file: %s", logs.String())
	}
	secret := base64.StdEncoding.EncodeToString(first.Primary().Secret)
	if strings.Contains(logs.String(), secret) {
		t.Errorf("the log holds the secret")
	}

	logs.Reset()
	second, err := server.LoadKeys(cfg, log)
	if err != nil {
		t.Fatalf("second LoadKeys: %v", err)
	}
	if !bytes.Equal(first.Primary().Secret, second.Primary().Secret) || first.Primary().ID != second.Primary().ID {
		t.Errorf("second start made a new key instead of reusing the file")
	}
	if logs.Len() != 0 {
		t.Errorf("second start logged: %s", logs.String())
	}

	// A file others can read still works, with a warning.
	if err := os.Chmod(path, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := server.LoadKeys(cfg, log); err != nil {
		t.Fatalf("LoadKeys: %v", err)
	}
	if !strings.Contains(logs.String(), "chmod 600") {
		t.Errorf("no warning about a world-readable key file: %s", logs.String())
	}
}

func TestLoadKeys(t *testing.T) {
	long := base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{7}, 32))
	short := base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{7}, 16))
	dir := t.TempDir()
	write := func(name, text string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	goodFile := write("good.keys", "# comment\nk2:"+long+"\nk1:"+long+"\n")
	shortFile := write("short.keys", "k1:"+short+"\n")
	db := "sqlite:" + filepath.Join(dir, "hlsgate.db")

	for _, tc := range []struct {
		name    string
		args    []string
		env     map[string]string
		wantErr []string // empty: success
		wantID  string
	}{
		{"environment ring", []string{"-db=" + db}, map[string]string{"HLSGATE_SIGNING_KEYS": "k9:" + long}, nil, "k9"},
		{"environment beats file", []string{"-db=" + db, "-secret-file=" + goodFile}, map[string]string{"HLSGATE_SIGNING_KEYS": "k9:" + long}, nil, "k9"},
		{"secret file", []string{"-db=" + db, "-secret-file=" + goodFile}, nil, nil, "k2"},
		{"postgres with a secret file", []string{"-db=postgres://db/hls", "-secret-file=" + goodFile}, nil, nil, "k2"},
		{"postgres with an environment ring", []string{"-db=postgres://db/hls"}, map[string]string{"HLSGATE_SIGNING_KEYS": "k9:" + long}, nil, "k9"},
		{"short secret in the environment", []string{"-db=" + db}, map[string]string{"HLSGATE_SIGNING_KEYS": "k1:" + short}, []string{"HLSGATE_SIGNING_KEYS", "16 bytes", "at least 32"}, ""},
		{"short secret in a file", []string{"-db=" + db, "-secret-file=" + shortFile}, nil, []string{"-secret-file", "16 bytes", "at least 32"}, ""},
		{"missing secret file", []string{"-db=" + db, "-secret-file=" + filepath.Join(dir, "nope.keys")}, nil, []string{"-secret-file", "no such file"}, ""},
		{"postgres without keys", []string{"-db=postgres://user:pw@db/hls"}, nil, []string{"-secret-file or HLSGATE_SIGNING_KEYS is required with PostgreSQL"}, ""},
		{"sqlite in a missing directory", []string{"-db=sqlite:" + filepath.Join(dir, "nope", "hlsgate.db")}, nil, []string{"create key file"}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ring, err := server.LoadKeys(keyConfig(t, tc.args, tc.env), slog.New(slog.DiscardHandler))
			if len(tc.wantErr) > 0 {
				if err == nil {
					t.Fatalf("LoadKeys succeeded, want an error")
				}
				for _, w := range tc.wantErr {
					if !strings.Contains(err.Error(), w) {
						t.Errorf("error %q, want it to contain %q", err, w)
					}
				}
				if strings.Contains(err.Error(), short) || strings.Contains(err.Error(), "pw@") {
					t.Errorf("error %q holds a secret", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("LoadKeys: %v", err)
			}
			if got := ring.Primary().ID; got != tc.wantID {
				t.Errorf("primary key %q, want %q", got, tc.wantID)
			}
		})
	}
	if _, err := os.Stat(filepath.Join(dir, server.DefaultKeyFile)); err == nil {
		t.Errorf("a key file was created although a key ring was configured")
	}
}
