// Package storetest gives tests a fresh, empty store.DB per test on each
// engine: SQLite in a temporary directory, and PostgreSQL in a new schema of
// the database named by HLSGATE_TEST_POSTGRES_DSN, dropped when the test
// ends.
//
// PostgreSQL tests skip, with a message, when HLSGATE_TEST_POSTGRES_DSN is
// unset, and fail instead when HLSGATE_TEST_REQUIRE_POSTGRES=1 (as in CI), so
// a CI run can never pass by silently skipping them.
//
// It is a non-test package so that tests of other packages (server, auth)
// can use it; it must not be imported by non-test code.
package storetest

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"errors"
	"net/url"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/hlsgate/hlsgate/server/store"
)

// Environment variables read by this package.
const (
	// EnvPostgresDSN names a PostgreSQL database tests may create schemas
	// in, e.g. postgres://postgres@127.0.0.1:5432/test?sslmode=disable.
	EnvPostgresDSN = "HLSGATE_TEST_POSTGRES_DSN"
	// EnvRequirePostgres, set to 1, turns a missing EnvPostgresDSN from a
	// skip into a failure.
	EnvRequirePostgres = "HLSGATE_TEST_REQUIRE_POSTGRES"
)

// openTimeout bounds opening a test database, so a hung PostgreSQL fails
// the test instead of stalling it until the global test timeout.
const openTimeout = 30 * time.Second

// Engines returns the engines every store-backed test should run on:
// store.EngineSQLite and store.EnginePostgres. Run each as a subtest and
// call Open inside it, so an unavailable PostgreSQL shows up as a named
// skip. It fails tb at once when PostgreSQL is required but not configured.
func Engines(tb testing.TB) []string {
	tb.Helper()
	if os.Getenv(EnvRequirePostgres) == "1" && os.Getenv(EnvPostgresDSN) == "" {
		tb.Fatalf("%s=1 but %s is unset", EnvRequirePostgres, EnvPostgresDSN)
	}
	return []string{store.EngineSQLite, store.EnginePostgres}
}

// Open returns a fresh database for engine with schema.sql applied, closed
// (and on PostgreSQL dropped) when the test ends.
func Open(tb testing.TB, engine string) *store.DB {
	tb.Helper()
	dsn := DSN(tb, engine)
	ctx, cancel := context.WithTimeout(context.Background(), openTimeout)
	defer cancel()
	db, err := store.Open(ctx, dsn, Schema(tb))
	if err != nil {
		tb.Fatalf("storetest: %v", err)
	}
	// Registered after DSN's cleanup, so it runs first: close, then drop.
	tb.Cleanup(func() {
		if err := db.Close(); err != nil {
			tb.Errorf("storetest: %v", err)
		}
	})
	return db
}

// DSN returns the DSN of a fresh, empty database for engine, with nothing
// applied yet: for tests of store.Open itself. On PostgreSQL it is a new
// schema, dropped with everything in it when the test ends.
func DSN(tb testing.TB, engine string) string {
	tb.Helper()
	switch engine {
	case store.EngineSQLite:
		return "sqlite:" + filepath.Join(tb.TempDir(), "hlsgate.db")
	case store.EnginePostgres:
		return postgresDSN(tb)
	default:
		tb.Fatalf("storetest: unknown engine %q", engine)
		return ""
	}
}

func postgresDSN(tb testing.TB) string {
	tb.Helper()
	base := os.Getenv(EnvPostgresDSN)
	if base == "" {
		if os.Getenv(EnvRequirePostgres) == "1" {
			tb.Fatalf("storetest: %s=1 but %s is unset", EnvRequirePostgres, EnvPostgresDSN)
		}
		tb.Skipf("PostgreSQL not configured: set %s (e.g. postgres://postgres@127.0.0.1:5432/test?sslmode=disable) to run this test on PostgreSQL", EnvPostgresDSN)
	}
	u, err := url.Parse(base)
	if err != nil {
		// url's error would contain the DSN, password included.
		tb.Fatalf("storetest: %s is not a URL: %s", EnvPostgresDSN, store.RedactDSN(base))
	}
	admin, err := sql.Open("pgx", base)
	if err != nil {
		tb.Fatalf("storetest: open %s: %v", store.RedactDSN(base), err)
	}
	name := "test_" + randomHex(tb, 8)
	ctx, cancel := context.WithTimeout(context.Background(), openTimeout)
	defer cancel()
	// The name is generated hex, so quoting it is enough; DDL takes no
	// parameters.
	if _, err := admin.ExecContext(ctx, `CREATE SCHEMA "`+name+`"`); err != nil {
		admin.Close()
		tb.Fatalf("storetest: create schema on %s: %v", store.RedactDSN(base), err)
	}
	tb.Cleanup(func() {
		defer admin.Close()
		ctx, cancel := context.WithTimeout(context.Background(), openTimeout)
		defer cancel()
		if _, err := admin.ExecContext(ctx, `DROP SCHEMA "`+name+`" CASCADE`); err != nil {
			tb.Errorf("storetest: drop schema %s: %v", name, err)
		}
	})
	// pgx passes unknown URL parameters to the server as run-time
	// parameters, so every pooled connection starts in the new schema.
	q := u.Query()
	q.Set("search_path", name)
	u.RawQuery = q.Encode()
	return u.String()
}

// Schema returns the text of schema.sql from the module root, found by
// walking up from the working directory (a package directory under go
// test) to the directory holding go.mod.
func Schema(tb testing.TB) string {
	tb.Helper()
	dir, err := os.Getwd()
	if err != nil {
		tb.Fatalf("storetest: %v", err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			b, err := os.ReadFile(filepath.Join(dir, "schema.sql"))
			if err != nil {
				tb.Fatalf("storetest: %v", err)
			}
			return string(b)
		} else if !errors.Is(err, os.ErrNotExist) {
			tb.Fatalf("storetest: %v", err)
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			tb.Fatalf("storetest: no go.mod above the working directory")
		}
		dir = parent
	}
}

func randomHex(tb testing.TB, n int) string {
	tb.Helper()
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		tb.Fatalf("storetest: %v", err)
	}
	return hex.EncodeToString(b)
}
