package store

import (
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
)

// sqliteOptions are set on every SQLite connection through go-sqlite3's DSN
// parameters, so each pooled connection gets them, not just the first:
//   - WAL lets readers run beside the one writer (and implies synchronous=NORMAL);
//   - foreign keys are off by default in SQLite and must be enabled per connection;
//   - busy_timeout makes a writer wait up to 5 s for the lock instead of failing at once;
//   - txlock=immediate makes BEGIN take the write lock up front, so a transaction that
//     reads and then writes cannot fail with SQLITE_BUSY when upgrading its lock.
const sqliteOptions = "_journal_mode=WAL&_foreign_keys=on&_busy_timeout=5000&_txlock=immediate"

// parseDSN maps an hlsgate DSN to an engine, a database/sql driver name and
// the DSN that driver expects. Its errors never contain a password.
func parseDSN(dsn string) (engine, driverName, driverDSN string, err error) {
	switch {
	case strings.HasPrefix(dsn, "postgres://"), strings.HasPrefix(dsn, "postgresql://"):
		return EnginePostgres, "pgx", dsn, nil
	case strings.HasPrefix(dsn, "sqlite:"):
		path := strings.TrimPrefix(dsn, "sqlite:")
		path = strings.TrimPrefix(path, "//")
		if err := checkSQLitePath(path); err != nil {
			return "", "", "", err
		}
		return EngineSQLite, "sqlite3", path + "?" + sqliteOptions, nil
	case dsn == "":
		return "", "", "", errors.New("empty database DSN: want sqlite:PATH or postgres://...")
	default:
		return "", "", "", fmt.Errorf("unsupported database DSN %q: want sqlite:PATH or postgres://...", RedactDSN(dsn))
	}
}

// checkSQLitePath rejects SQLite paths that go-sqlite3 would interpret in a
// surprising way, and paths whose directory does not exist (SQLite's own
// error for that is the opaque "unable to open database file").
func checkSQLitePath(path string) error {
	switch {
	case path == "":
		return errors.New("sqlite DSN has no path: want sqlite:PATH")
	case path == ":memory:" || strings.HasPrefix(path, "file:"):
		return fmt.Errorf("sqlite path %q is not supported: give a file path", path)
	case strings.ContainsAny(path, "?#"):
		// go-sqlite3 reads everything after '?' as its own options, which this
		// package sets itself.
		return fmt.Errorf("sqlite path %q must not contain '?' or '#'", path)
	}
	dir := filepath.Dir(path)
	fi, err := os.Stat(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("sqlite database directory %q does not exist; create it first: %w", dir, err)
	}
	if err != nil {
		return fmt.Errorf("sqlite database directory %q: %w", dir, err)
	}
	if !fi.IsDir() {
		return fmt.Errorf("sqlite database directory %q is not a directory", dir)
	}
	return nil
}

// Patterns for DSNs that net/url cannot parse: key=value connection strings
// ("host=db password=secret") and broken URLs with user:password@.
var (
	keywordPasswordRE = regexp.MustCompile(`(?i)\b((?:ssl)?password)\s*=\s*('(?:[^'\\]|\\.)*'|\S*)`)
	userinfoRE        = regexp.MustCompile(`(://[^:/@]*):[^@]*@`)
	queryPasswordRE   = regexp.MustCompile(`(^|&)((?:ssl)?password)=[^&]*`)
)

// RedactDSN returns dsn with any password replaced by "xxxxx", for logs and
// error messages. It handles URLs (user:password@ and a password= query
// parameter) and, as a fallback, key=value connection strings. SQLite DSNs
// carry no secrets and are returned unchanged.
func RedactDSN(dsn string) string {
	if strings.HasPrefix(dsn, "sqlite:") {
		return dsn
	}
	u, err := url.Parse(dsn)
	if err != nil || u.Scheme == "" || u.Opaque != "" {
		s := keywordPasswordRE.ReplaceAllString(dsn, "${1}=xxxxx")
		return userinfoRE.ReplaceAllString(s, "${1}:xxxxx@")
	}
	// Edit RawQuery in place rather than re-encoding url.Values, so the
	// parameters keep their order and the logged DSN still reads as written.
	u.RawQuery = queryPasswordRE.ReplaceAllString(u.RawQuery, "${1}${2}=xxxxx")
	return u.Redacted()
}
