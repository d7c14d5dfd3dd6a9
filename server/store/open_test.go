package store_test

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"

	"github.com/hlsgate/hlsgate/server/store"
	"github.com/hlsgate/hlsgate/server/store/storetest"
)

func TestOpenTwiceIsNoop(t *testing.T) {
	for _, engine := range storetest.Engines(t) {
		t.Run(engine, func(t *testing.T) {
			ctx := t.Context()
			dsn, schema := storetest.DSN(t, engine), storetest.Schema(t)
			db, err := store.Open(ctx, dsn, schema)
			if err != nil {
				t.Fatal(err)
			}
			if db.Engine() != engine {
				t.Errorf("Engine() = %q, want %q", db.Engine(), engine)
			}
			alice := mustUser(t, db, "alice")
			mustStream(t, db, alice.ID, "cam")
			if err := db.Close(); err != nil {
				t.Fatal(err)
			}

			db, err = store.Open(ctx, dsn, schema)
			if err != nil {
				t.Fatalf("second Open: %v", err)
			}
			defer db.Close()
			if err := db.Ping(ctx); err != nil {
				t.Fatal(err)
			}
			if u, err := db.UserByName(ctx, "alice"); err != nil || u != alice {
				t.Errorf("user after reopening = %+v, %v; want %+v", u, err, alice)
			}
			if list, err := db.ListStreams(ctx, alice.ID); err != nil || len(list) != 1 {
				t.Errorf("streams after reopening = %+v, %v; want one", list, err)
			}
			if vs, err := db.SchemaVersions(ctx); err != nil || !reflect.DeepEqual(vs, []int{1}) {
				t.Errorf("schema versions = %v, %v; want [1]", vs, err)
			}
		})
	}
}

// TestSchemaVersions upgrades a database to a made-up version 2 and then
// checks that the version-1 schema refuses it.
func TestSchemaVersions(t *testing.T) {
	for _, engine := range storetest.Engines(t) {
		t.Run(engine, func(t *testing.T) {
			ctx := t.Context()
			dsn, v1 := storetest.DSN(t, engine), storetest.Schema(t)
			if !strings.Contains(v1, "\n-- schema-version: 1\n") {
				t.Fatal("schema.sql does not declare version 1")
			}
			v2 := strings.Replace(v1, "-- schema-version: 1", "-- schema-version: 2", 1) +
				"\nCREATE TABLE IF NOT EXISTS added_in_v2 (id {{ID}});\n"

			db, err := store.Open(ctx, dsn, v1)
			if err != nil {
				t.Fatal(err)
			}
			db.Close()
			db, err = store.Open(ctx, dsn, v2)
			if err != nil {
				t.Fatalf("Open with version 2: %v", err)
			}
			vs, err := db.SchemaVersions(ctx)
			db.Close()
			if err != nil || !reflect.DeepEqual(vs, []int{1, 2}) {
				t.Fatalf("schema versions after upgrade = %v, %v; want [1 2]", vs, err)
			}

			db, err = store.Open(ctx, dsn, v1)
			if !errors.Is(err, store.ErrSchemaTooNew) {
				if db != nil {
					db.Close()
				}
				t.Fatalf("Open of a version-2 database with the version-1 schema: error = %v, want ErrSchemaTooNew", err)
			}
			if db != nil {
				t.Errorf("Open returned a DB along with an error")
			}
			if !strings.Contains(err.Error(), "version 2") {
				t.Errorf("error %q does not name the database's version", err)
			}
		})
	}
}

// TestConcurrentOpen starts several processes' worth of Open on one fresh
// database at once. Without the advisory lock, PostgreSQL fails concurrent
// CREATE TABLE IF NOT EXISTS on its catalog's unique index; without BEGIN
// IMMEDIATE, SQLite fails the apply transaction's upgrade from read to
// write lock with "database is locked". Both were seen when removed.
func TestConcurrentOpen(t *testing.T) {
	for _, engine := range storetest.Engines(t) {
		t.Run(engine, func(t *testing.T) {
			const n = 6
			dsn, schema := storetest.DSN(t, engine), storetest.Schema(t)
			var wg sync.WaitGroup
			start := make(chan struct{})
			errs := make([]error, n)
			for i := range n {
				wg.Add(1)
				go func() {
					defer wg.Done()
					<-start
					db, err := store.Open(t.Context(), dsn, schema)
					if err == nil {
						err = db.Close()
					}
					errs[i] = err
				}()
			}
			close(start)
			wg.Wait()
			for i, err := range errs {
				if err != nil {
					t.Errorf("Open #%d: %v", i, err)
				}
			}
		})
	}
}

func TestSQLiteConnectionSettings(t *testing.T) {
	db := storetest.Open(t, store.EngineSQLite)
	ctx := t.Context()
	if mode, err := db.PragmaString(ctx, "journal_mode"); err != nil || mode != "wal" {
		t.Errorf("journal_mode = %q, %v; want wal", mode, err)
	}
	ints := []struct {
		pragma string
		want   int64
	}{
		{"foreign_keys", 1},
		{"busy_timeout", 5000},
	}
	for _, tt := range ints {
		t.Run(tt.pragma, func(t *testing.T) {
			if v, err := db.PragmaInt(ctx, tt.pragma); err != nil || v != tt.want {
				t.Errorf("%s = %d, %v; want %d", tt.pragma, v, err, tt.want)
			}
		})
	}
}

func TestOpenErrors(t *testing.T) {
	dir := t.TempDir()
	notDir := filepath.Join(dir, "file")
	if err := os.WriteFile(notDir, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	schema := storetest.Schema(t)
	tests := []struct {
		name    string
		dsn     string
		wantIn  string // in the error message
		wantErr error  // nil: only wantIn is checked
	}{
		{"empty", "", "empty database DSN", nil},
		{"unknown scheme", "mysql://root:hunter2@db/x", "unsupported database DSN", nil},
		{"no path", "sqlite:", "no path", nil},
		{"memory", "sqlite::memory:", "not supported", nil},
		{"file URI", "sqlite:file:x.db", "not supported", nil},
		{"options", "sqlite:" + filepath.Join(dir, "x.db?mode=ro"), "must not contain", nil},
		{"missing directory", "sqlite:" + filepath.Join(dir, "nope", "x.db"), "does not exist", nil},
		{"parent is a file", "sqlite:" + filepath.Join(notDir, "x.db"), "not a directory", nil},
		// Port 1 refuses connections: the error must be ErrUnavailable and
		// must not carry the password.
		{"postgres down", "postgres://u:hunter2@127.0.0.1:1/x?sslmode=disable&connect_timeout=5", "127.0.0.1", store.ErrUnavailable},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			db, err := store.Open(t.Context(), tt.dsn, schema)
			if err == nil {
				db.Close()
				t.Fatalf("Open(%q) succeeded", tt.dsn)
			}
			if !strings.Contains(err.Error(), tt.wantIn) {
				t.Errorf("error %q does not contain %q", err, tt.wantIn)
			}
			if tt.wantErr != nil && !errors.Is(err, tt.wantErr) {
				t.Errorf("error %v is not %v", err, tt.wantErr)
			}
			if strings.Contains(err.Error(), "hunter2") {
				t.Errorf("error leaks the password: %q", err)
			}
		})
	}
}

func TestOpenSQLiteDSNForms(t *testing.T) {
	dir := t.TempDir()
	for _, dsn := range []string{
		"sqlite:" + filepath.Join(dir, "a.db"),
		"sqlite://" + filepath.Join(dir, "b.db"), // sqlite:///abs/path
	} {
		t.Run(dsn, func(t *testing.T) {
			db, err := store.Open(t.Context(), dsn, storetest.Schema(t))
			if err != nil {
				t.Fatal(err)
			}
			db.Close()
		})
	}
	for _, name := range []string{"a.db", "b.db"} {
		if _, err := os.Stat(filepath.Join(dir, name)); err != nil {
			t.Errorf("database file: %v", err)
		}
	}
}
