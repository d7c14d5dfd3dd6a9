package store

import (
	"context"
	"strings"
	"testing"
)

// Test-only access to internals, for the external store_test package.

// SchemaVersions returns the versions recorded in schema_version, ascending.
func (db *DB) SchemaVersions(ctx context.Context) ([]int, error) {
	var vs []int
	err := db.db.SelectContext(ctx, &vs, `SELECT version FROM schema_version ORDER BY version`)
	return vs, err
}

// PragmaInt reads an integer SQLite pragma.
func (db *DB) PragmaInt(ctx context.Context, name string) (int64, error) {
	var v int64
	err := db.db.GetContext(ctx, &v, `PRAGMA `+name)
	return v, err
}

// PragmaString reads a text SQLite pragma.
func (db *DB) PragmaString(ctx context.Context, name string) (string, error) {
	var v string
	err := db.db.GetContext(ctx, &v, `PRAGMA `+name)
	return v, err
}

// ExplainRevokedSince returns the query plan of RevokedSince's query as
// text. On PostgreSQL sequential scans are disabled for the query, so the
// plan shows whether the index can serve it at all (on a near-empty table
// the planner would rightly prefer a scan).
func (db *DB) ExplainRevokedSince(ctx context.Context) (string, error) {
	tx, err := db.db.BeginTxx(ctx, nil)
	if err != nil {
		return "", err
	}
	defer tx.Rollback()
	var lines []string
	if db.engine == EngineSQLite {
		var rows []struct {
			ID, Parent, NotUsed int64
			Detail              string
		}
		err = tx.SelectContext(ctx, &rows, `EXPLAIN QUERY PLAN `+revokedSinceQuery, 0, 0)
		for _, r := range rows {
			lines = append(lines, r.Detail)
		}
	} else {
		if _, err := tx.ExecContext(ctx, `SET LOCAL enable_seqscan = off`); err != nil {
			return "", err
		}
		err = tx.SelectContext(ctx, &lines, db.q(`EXPLAIN `+revokedSinceQuery), int64(0), int64(0))
	}
	return strings.Join(lines, "\n"), err
}

// LoginBucketCount counts the rows of login_attempts.
func (db *DB) LoginBucketCount(tb testing.TB) int {
	tb.Helper()
	var n int
	if err := db.db.GetContext(tb.Context(), &n, `SELECT count(*) FROM login_attempts`); err != nil {
		tb.Fatal(err)
	}
	return n
}

// DefaultIsolation reads PostgreSQL's default_transaction_isolation.
func (db *DB) DefaultIsolation(tb testing.TB) string {
	tb.Helper()
	var v string
	if err := db.db.GetContext(tb.Context(), &v, `SHOW default_transaction_isolation`); err != nil {
		tb.Fatal(err)
	}
	return v
}
