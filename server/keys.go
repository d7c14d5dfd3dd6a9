package server

import (
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"

	"github.com/hlsgate/hlsgate/signer"
)

// DefaultKeyFile is the name of the key ring created beside a SQLite
// database when no key ring is configured.
const DefaultKeyFile = "hlsgate.keys"

// LoadKeys returns the signing key ring: from HLSGATE_SIGNING_KEYS, else
// from -secret-file, else (single node on SQLite only) from a file beside
// the database, created with one strong random key on first start.
func LoadKeys(cfg Config, log *slog.Logger) (*signer.KeyRing, error) {
	if cfg.SigningKeys != "" {
		ring, err := signer.ParseKeyRing(cfg.SigningKeys)
		if err != nil {
			return nil, fmt.Errorf("HLSGATE_SIGNING_KEYS: %w", err)
		}
		return ring, nil
	}
	path := cfg.SecretFile
	if path == "" {
		dbPath, ok := strings.CutPrefix(cfg.DB, "sqlite:")
		if !ok {
			return nil, errors.New("-secret-file or HLSGATE_SIGNING_KEYS is required with PostgreSQL: every replica must share the same keys (make one with `hlsgate keygen`)")
		}
		path = filepath.Join(filepath.Dir(dbPath), DefaultKeyFile)
		if err := createKeyFile(path); err == nil {
			log.Warn("created a new signing key ring; replicas must all use this same file (-secret-file)", "path", path)
		} else if !errors.Is(err, fs.ErrExist) {
			return nil, err
		}
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("-secret-file: %w", err)
	}
	if fi, err := os.Stat(path); err == nil && fi.Mode().Perm()&0o077 != 0 {
		log.Warn("signing key file is readable by other users; chmod 600 it", "path", path)
	}
	ring, err := signer.ParseKeyRing(string(b))
	if err != nil {
		return nil, fmt.Errorf("-secret-file %s: %w", path, err)
	}
	return ring, nil
}

// createKeyFile writes a new one-key ring to path with mode 0600. It fails
// with fs.ErrExist when the file is already there, so a restart reuses it.
func createKeyFile(path string) error {
	k, err := signer.GenerateKey("k1")
	if err != nil {
		return err
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return fmt.Errorf("create key file: %w", err)
	}
	if _, err := fmt.Fprintf(f, "# hlsgate signing keys: id:base64key, first line signs. Keep secret; share with every replica.\n%s\n", k.String()); err != nil {
		f.Close()
		os.Remove(path)
		return fmt.Errorf("write key file: %w", err)
	}
	if err := f.Close(); err != nil {
		os.Remove(path)
		return fmt.Errorf("write key file: %w", err)
	}
	return nil
}
